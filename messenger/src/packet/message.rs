//! Message (64) and action (65): a chat message to one friend.
//!
//! Checklist M7; spec "Messenger", `MESSAGE` and `ACTION`; c-toxcore
//! `m_send_message_generic` and `m_handle_packet` in `Messenger.c`,
//! `TOX_MESSAGE_TYPE` in `tox.h`.
//!
//! | bytes    | field                                      |
//! |----------|--------------------------------------------|
//! | 1        | `0x40` normal, `0x41` action ("/me")       |
//! | 1..=1372 | text ([`MAX_MESSAGE_LENGTH`])              |
//!
//! The id is `PACKET_ID_MESSAGE + type`, and the receiver recovers the
//! type the same way; the two ids share one handler. An empty message is
//! dropped by the receiver, so it is neither built nor decoded; 1372 bytes
//! is all a data packet holds after the id, and c-toxcore does not split
//! longer messages (clients do). Read receipts are not packets: a message
//! counts as received when net_crypto's acknowledgements pass its packet
//! number (checklist M8).

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{MAX_MESSAGE_LENGTH, PACKET_ID_ACTION, PACKET_ID_MESSAGE, PacketError};

/// Which of the two message packets (`TOX_MESSAGE_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageKind {
    /// An ordinary message (`TOX_MESSAGE_TYPE_NORMAL`, id 64).
    #[default]
    Normal,
    /// An action, "/me …" (`TOX_MESSAGE_TYPE_ACTION`, id 65).
    Action,
}

impl MessageKind {
    /// The packet id of this kind.
    pub const fn packet_id(self) -> u8 {
        match self {
            Self::Normal => PACKET_ID_MESSAGE,
            Self::Action => PACKET_ID_ACTION,
        }
    }
}

/// A message or action packet, built with [`Message::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    kind: MessageKind,
    text: Vec<u8>,
}

impl Message {
    /// A message of `kind` carrying `text`.
    ///
    /// Refuses empty text and text over [`MAX_MESSAGE_LENGTH`]: c-toxcore
    /// drops the first and cannot carry the second.
    pub fn new(kind: MessageKind, text: Vec<u8>) -> Result<Self, PacketError> {
        super::check_len("message", text.len(), 1, MAX_MESSAGE_LENGTH)?;
        Ok(Self { kind, text })
    }

    /// Normal message or action.
    pub const fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The text, as sent (never empty; not checked for UTF-8).
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The text, by value.
    pub fn into_text(self) -> Vec<u8> {
        self.text
    }
}

impl Encode for Message {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.kind.packet_id());
        buf.put_slice(&self.text);
    }

    fn encoded_len(&self) -> usize {
        1 + self.text.len()
    }
}

impl Decode for Message {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "message";
        reader.expect_remaining(NAME, 2, 1 + MAX_MESSAGE_LENGTH)?;
        let kind = match reader.u8(NAME)? {
            PACKET_ID_MESSAGE => MessageKind::Normal,
            PACKET_ID_ACTION => MessageKind::Action,
            other => {
                return Err(DecodeError::InvalidValue {
                    what: NAME,
                    value: u64::from(other),
                });
            }
        };
        Ok(Self {
            kind,
            text: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb() -> impl Strategy<Value = Message> {
        (
            prop_oneof![Just(MessageKind::Normal), Just(MessageKind::Action)],
            proptest::collection::vec(any::<u8>(), 1..=MAX_MESSAGE_LENGTH),
        )
            .prop_map(|(kind, text)| Message::new(kind, text).unwrap())
    }

    #[test]
    fn ids_64_and_65() {
        let normal = Message::new(MessageKind::Normal, b"hi".to_vec()).unwrap();
        let action = Message::new(MessageKind::Action, b"waves".to_vec()).unwrap();
        assert_eq!(normal.to_bytes(), b"\x40hi");
        assert_eq!(action.to_bytes(), b"\x41waves");
        assert_eq!(Message::from_bytes(b"\x41waves"), Ok(action));
        assert!(Message::from_bytes(b"\x42x").is_err());
    }

    #[test]
    fn length_boundaries_1_1372_1373() {
        assert!(Message::new(MessageKind::Normal, vec![]).is_err());
        assert!(Message::from_bytes(&[64]).is_err());
        assert!(Message::from_bytes(&[64, b'x']).is_ok());
        let max = Message::new(MessageKind::Normal, vec![b'x'; 1372]).unwrap();
        let bytes = max.to_bytes();
        assert_eq!(bytes.len(), 1373);
        assert_eq!(Message::from_bytes(&bytes), Ok(max));
        assert_eq!(
            Message::new(MessageKind::Action, vec![b'x'; 1373]),
            Err(PacketError::Unsendable {
                what: "message",
                len: 1373,
                min: 1,
                max: 1372
            })
        );
        let mut long = bytes;
        long.push(b'x');
        assert!(Message::from_bytes(&long).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(Message::from_bytes(&packet.to_bytes()), Ok(packet));
        }
    }
}
