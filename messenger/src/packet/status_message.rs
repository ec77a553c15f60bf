//! Status message (49): the sender's status text.
//!
//! Checklist M4; spec "Messenger", `STATUSMESSAGE`; c-toxcore
//! `send_statusmessage` and `m_handle_packet` in `Messenger.c`.
//!
//! | bytes     | field                                        |
//! |-----------|----------------------------------------------|
//! | 1         | `0x31`                                       |
//! | 0..=1007  | text ([`MAX_STATUSMESSAGE_LENGTH`])          |
//!
//! Sent on every (re)connection and on every change. Empty text is valid;
//! longer text is ignored by the receiver, so it is neither built nor
//! decoded here.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{MAX_STATUSMESSAGE_LENGTH, PACKET_ID_STATUSMESSAGE, PacketError};

/// A status message packet, built with [`StatusMessage::new`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusMessage {
    text: Vec<u8>,
}

impl StatusMessage {
    /// A packet carrying `text`; refuses text over
    /// [`MAX_STATUSMESSAGE_LENGTH`].
    pub fn new(text: Vec<u8>) -> Result<Self, PacketError> {
        super::check_len("status message", text.len(), 0, MAX_STATUSMESSAGE_LENGTH)?;
        Ok(Self { text })
    }

    /// The text, as sent (not checked for UTF-8).
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The text, by value.
    pub fn into_text(self) -> Vec<u8> {
        self.text
    }
}

impl Encode for StatusMessage {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_STATUSMESSAGE);
        buf.put_slice(&self.text);
    }

    fn encoded_len(&self) -> usize {
        1 + self.text.len()
    }
}

impl Decode for StatusMessage {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "status message";
        reader.expect_remaining(NAME, 1, 1 + MAX_STATUSMESSAGE_LENGTH)?;
        reader.expect_u8(NAME, PACKET_ID_STATUSMESSAGE)?;
        Ok(Self {
            text: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb() -> impl Strategy<Value = StatusMessage> {
        proptest::collection::vec(any::<u8>(), 0..=MAX_STATUSMESSAGE_LENGTH)
            .prop_map(|text| StatusMessage::new(text).unwrap())
    }

    #[test]
    fn length_boundaries_1007_and_1008() {
        assert_eq!(
            StatusMessage::from_bytes(&[49]),
            Ok(StatusMessage::default())
        );
        let max = StatusMessage::new(vec![b's'; 1007]).unwrap();
        let bytes = max.to_bytes();
        assert_eq!(bytes[0], 49);
        assert_eq!(StatusMessage::from_bytes(&bytes), Ok(max));
        assert!(matches!(
            StatusMessage::new(vec![b's'; 1008]),
            Err(PacketError::Unsendable { len: 1008, .. })
        ));
        let mut long = bytes;
        long.push(b's');
        assert!(StatusMessage::from_bytes(&long).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(StatusMessage::from_bytes(&packet.to_bytes()), Ok(packet));
        }
    }
}
