//! Conference messages (packet 99): what one member says to everyone,
//! relayed from connection to connection.
//!
//! Checklist G7; spec "Group" (message packets, message ids); c-toxcore
//! `send_message_group`, `handle_message_packet_group` and the
//! `group_*_send` helpers in `group.c`.
//!
//! | bytes | field                                                    |
//! |-------|----------------------------------------------------------|
//! | 2     | the receiver's group number (the only field a relay changes) |
//! | 2     | the author's peer number                                 |
//! | 4     | the author's message number, one more for each message   |
//! | 1     | message id                                               |
//! | rest  | body, by id, at most [`MAX_GROUP_MESSAGE_DATA_LEN`]      |
//!
//! | id | [`MessageBody`]  | body                                    | c-toxcore accepts  |
//! |----|------------------|-----------------------------------------|--------------------|
//! | 0  | `Ping`           | none                                    | any bytes, ignored |
//! | 16 | `NewPeer`        | `[peer no 2][real pk 32][temp pk 32]`   | exactly 66         |
//! | 17 | `KillPeer`       | `[peer no 2]`, the author's own         | exactly 2          |
//! | 18 | `FreezePeer`     | `[peer no 2]`, the author's own         | exactly 2          |
//! | 48 | `Name`           | the author's name                       | 0..=128            |
//! | 49 | `Title`          | the new title                           | 1..=128            |
//! | 64 | `Message`        | text                                    | 1..=1363           |
//! | 65 | `Action`         | text ("/me")                            | 1..=1363           |
//!
//! The limits are c-toxcore 0.2.18's: `MAX_GROUP_MESSAGE_DATA_LEN` is
//! `MAX_CRYPTO_DATA_SIZE - (1 + MIN_MESSAGE_PACKET_LEN)` = 1373 − 10, the
//! room left after the packet id and this header; names and titles are
//! held to `MAX_NAME_LENGTH` by `setnick` and `settitle`. A body outside
//! them, an unknown id, or a kill or freeze naming another peer than the
//! author is neither acted on nor relayed by c-toxcore, and is refused
//! here; c-toxcore does count it against the author's duplicate window
//! first, which a receiver wanting that detail can do from the header.
//! Bytes after a ping are ignored (so such a ping re-encodes shorter).
//! c-toxcore passes a title's length through a `uint8_t` (`settitle`), so
//! an over-long title would be cut to its length modulo 256 there; none
//! is ever sent, and we refuse it.
//!
//! Kill and freeze carry a peer number, but c-toxcore acts only when it is
//! the author's own (a member can only remove itself), so
//! [`MessageBody::KillPeer`] and [`MessageBody::FreezePeer`] have no field:
//! the encoder repeats the author's number, the decoder checks it.
//! Senders skip message number 0 when the counter wraps.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, PUBLIC_KEY_SIZE, PublicKey, Reader};

use super::id::{GroupNumber, PeerNumber};
use super::text::{PeerName, Title};
use crate::packet::{
    MAX_CRYPTO_DATA_SIZE, PACKET_ID_ACTION, PACKET_ID_MESSAGE, PacketError, check_len,
};

/// Message id of [`MessageBody::Ping`] (`GROUP_MESSAGE_PING_ID`).
pub const GROUP_MESSAGE_PING_ID: u8 = 0;
/// Message id of [`MessageBody::NewPeer`] (`GROUP_MESSAGE_NEW_PEER_ID`).
pub const GROUP_MESSAGE_NEW_PEER_ID: u8 = 16;
/// Message id of [`MessageBody::KillPeer`] (`GROUP_MESSAGE_KILL_PEER_ID`).
pub const GROUP_MESSAGE_KILL_PEER_ID: u8 = 17;
/// Message id of [`MessageBody::FreezePeer`]
/// (`GROUP_MESSAGE_FREEZE_PEER_ID`).
pub const GROUP_MESSAGE_FREEZE_PEER_ID: u8 = 18;
/// Message id of [`MessageBody::Name`] (`GROUP_MESSAGE_NAME_ID`).
pub const GROUP_MESSAGE_NAME_ID: u8 = 48;
/// Message id of [`MessageBody::Title`] (`GROUP_MESSAGE_TITLE_ID`).
pub const GROUP_MESSAGE_TITLE_ID: u8 = 49;
/// Size of a new-peer body (`GROUP_MESSAGE_NEW_PEER_LENGTH`).
pub const GROUP_MESSAGE_NEW_PEER_LENGTH: usize = 2 + 2 * PUBLIC_KEY_SIZE;
/// Size of a kill- or freeze-peer body (`GROUP_MESSAGE_KILL_PEER_LENGTH`).
pub const GROUP_MESSAGE_KILL_PEER_LENGTH: usize = 2;
/// Size of the header after the packet id: group number, peer number,
/// message number, message id (`MIN_MESSAGE_PACKET_LEN`).
pub const MIN_MESSAGE_PACKET_LEN: usize = 2 + 2 + 4 + 1;
/// The longest body (`MAX_GROUP_MESSAGE_DATA_LEN`): 1363 bytes.
pub const MAX_GROUP_MESSAGE_DATA_LEN: usize = MAX_CRYPTO_DATA_SIZE - (1 + MIN_MESSAGE_PACKET_LEN);

/// The text of a chat message or action: 1 to
/// [`MAX_GROUP_MESSAGE_DATA_LEN`] bytes (c-toxcore drops an empty one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChatText(Vec<u8>);

impl ChatText {
    /// The text, if c-toxcore would send and show it.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, PacketError> {
        let bytes = bytes.into();
        check_len(
            "conference message",
            bytes.len(),
            1,
            MAX_GROUP_MESSAGE_DATA_LEN,
        )?;
        Ok(Self(bytes))
    }

    /// The bytes of the text (not checked for UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn read(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::BadLength {
                what: "conference message",
                len: 0,
                min: 1,
                max: MAX_GROUP_MESSAGE_DATA_LEN,
            });
        }
        Ok(Self(bytes.to_vec()))
    }
}

/// What a conference message says, by message id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageBody {
    /// 0: still here (every 20 s, `GROUP_PING_INTERVAL`).
    Ping,
    /// 16: someone joined; add them with this DHT key.
    NewPeer {
        /// The newcomer's peer number.
        peer_number: PeerNumber,
        /// The newcomer's long-term key.
        real_pk: PublicKey,
        /// The newcomer's DHT key.
        temp_pk: PublicKey,
    },
    /// 17: the author leaves for good.
    KillPeer,
    /// 18: the author leaves for now and may rejoin.
    FreezePeer,
    /// 48: the author's name.
    Name(PeerName),
    /// 49: the conference's new title.
    Title(Title),
    /// 64: a chat message.
    Message(ChatText),
    /// 65: an action ("/me").
    Action(ChatText),
}

impl MessageBody {
    /// The message id.
    pub const fn message_id(&self) -> u8 {
        match self {
            Self::Ping => GROUP_MESSAGE_PING_ID,
            Self::NewPeer { .. } => GROUP_MESSAGE_NEW_PEER_ID,
            Self::KillPeer => GROUP_MESSAGE_KILL_PEER_ID,
            Self::FreezePeer => GROUP_MESSAGE_FREEZE_PEER_ID,
            Self::Name(_) => GROUP_MESSAGE_NAME_ID,
            Self::Title(_) => GROUP_MESSAGE_TITLE_ID,
            Self::Message(_) => PACKET_ID_MESSAGE,
            Self::Action(_) => PACKET_ID_ACTION,
        }
    }

    fn data_len(&self) -> usize {
        match self {
            Self::Ping => 0,
            Self::NewPeer { .. } => GROUP_MESSAGE_NEW_PEER_LENGTH,
            Self::KillPeer | Self::FreezePeer => GROUP_MESSAGE_KILL_PEER_LENGTH,
            Self::Name(name) => name.len(),
            Self::Title(title) => title.len(),
            Self::Message(text) | Self::Action(text) => text.as_bytes().len(),
        }
    }

    /// Reads the body of message `id` by `author`, as
    /// `handle_message_packet_group` would act on it.
    fn read(id: u8, author: PeerNumber, data: &[u8]) -> Result<Self, DecodeError> {
        let exact = |len: usize| -> Result<Reader<'_>, DecodeError> {
            let reader = Reader::new(data);
            reader.expect_remaining("conference message body", len, len)?;
            Ok(reader)
        };
        Ok(match id {
            GROUP_MESSAGE_PING_ID => Self::Ping,
            GROUP_MESSAGE_NEW_PEER_ID => {
                let mut reader = exact(GROUP_MESSAGE_NEW_PEER_LENGTH)?;
                Self::NewPeer {
                    peer_number: PeerNumber::decode(&mut reader)?,
                    real_pk: PublicKey::decode(&mut reader)?,
                    temp_pk: PublicKey::decode(&mut reader)?,
                }
            }
            GROUP_MESSAGE_KILL_PEER_ID | GROUP_MESSAGE_FREEZE_PEER_ID => {
                let named = PeerNumber::decode(&mut exact(GROUP_MESSAGE_KILL_PEER_LENGTH)?)?;
                if named != author {
                    return Err(DecodeError::InvalidValue {
                        what: "conference kill/freeze peer number",
                        value: u64::from(named.0),
                    });
                }
                if id == GROUP_MESSAGE_KILL_PEER_ID {
                    Self::KillPeer
                } else {
                    Self::FreezePeer
                }
            }
            GROUP_MESSAGE_NAME_ID => Self::Name(PeerName::read(data)?),
            GROUP_MESSAGE_TITLE_ID => Self::Title(Title::read(data)?),
            PACKET_ID_MESSAGE => Self::Message(ChatText::read(data)?),
            PACKET_ID_ACTION => Self::Action(ChatText::read(data)?),
            other => {
                return Err(DecodeError::InvalidValue {
                    what: "conference message id",
                    value: u64::from(other),
                });
            }
        })
    }
}

/// A conference message packet (after the packet id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessagePacket {
    /// The receiver's number for the conference.
    pub group_number: GroupNumber,
    /// The author's peer number.
    pub peer_number: PeerNumber,
    /// The author's message number: receivers keep the 8 highest per
    /// author to drop duplicates.
    pub message_number: u32,
    /// What it says.
    pub body: MessageBody,
}

impl Encode for MessagePacket {
    fn encode(&self, buf: &mut impl BufMut) {
        self.group_number.encode(buf);
        self.peer_number.encode(buf);
        buf.put_u32(self.message_number);
        buf.put_u8(self.body.message_id());
        match &self.body {
            MessageBody::Ping => {}
            MessageBody::NewPeer {
                peer_number,
                real_pk,
                temp_pk,
            } => {
                peer_number.encode(buf);
                real_pk.encode(buf);
                temp_pk.encode(buf);
            }
            MessageBody::KillPeer | MessageBody::FreezePeer => self.peer_number.encode(buf),
            MessageBody::Name(name) => buf.put_slice(name.as_bytes()),
            MessageBody::Title(title) => buf.put_slice(title.as_bytes()),
            MessageBody::Message(text) | MessageBody::Action(text) => {
                buf.put_slice(text.as_bytes());
            }
        }
    }

    fn encoded_len(&self) -> usize {
        MIN_MESSAGE_PACKET_LEN + self.body.data_len()
    }
}

impl Decode for MessagePacket {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "conference message packet",
            MIN_MESSAGE_PACKET_LEN,
            MAX_CRYPTO_DATA_SIZE - 1,
        )?;
        let group_number = GroupNumber::decode(reader)?;
        let peer_number = PeerNumber::decode(reader)?;
        let message_number = reader.u32_be("conference message number")?;
        let id = reader.u8("conference message id")?;
        let body = MessageBody::read(id, peer_number, reader.rest())?;
        Ok(Self {
            group_number,
            peer_number,
            message_number,
            body,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::text::tests::{arb_name, arb_title};
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::{arb_pk, garbage};

    fn arb_text() -> impl Strategy<Value = ChatText> {
        proptest::collection::vec(any::<u8>(), 1..=MAX_GROUP_MESSAGE_DATA_LEN)
            .prop_map(|b| ChatText::new(b).unwrap())
    }

    pub(in super::super) fn arb() -> impl Strategy<Value = MessagePacket> {
        let body = prop_oneof![
            Just(MessageBody::Ping),
            (any::<u16>(), arb_pk(), arb_pk()).prop_map(|(n, real_pk, temp_pk)| {
                MessageBody::NewPeer {
                    peer_number: PeerNumber(n),
                    real_pk,
                    temp_pk,
                }
            }),
            Just(MessageBody::KillPeer),
            Just(MessageBody::FreezePeer),
            arb_name().prop_map(MessageBody::Name),
            arb_title().prop_map(MessageBody::Title),
            arb_text().prop_map(MessageBody::Message),
            arb_text().prop_map(MessageBody::Action),
        ];
        (any::<u16>(), any::<u16>(), any::<u32>(), body).prop_map(|(g, p, n, body)| MessagePacket {
            group_number: GroupNumber(g),
            peer_number: PeerNumber(p),
            message_number: n,
            body,
        })
    }

    fn packet(body: MessageBody) -> MessagePacket {
        MessagePacket {
            group_number: GroupNumber(0x0102),
            peer_number: PeerNumber(0x0304),
            message_number: 0x0506_0708,
            body,
        }
    }

    const HEADER: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];

    fn bytes(id: u8, body: &[u8]) -> Vec<u8> {
        let mut out = HEADER.to_vec();
        out.push(id);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn header_and_bodies_byte_by_byte() {
        let mut new_peer = vec![0xbe, 0xef];
        new_peer.extend_from_slice(&[0x11; 32]);
        new_peer.extend_from_slice(&[0x22; 32]);
        let cases = [
            (MessageBody::Ping, bytes(0, &[])),
            (
                MessageBody::NewPeer {
                    peer_number: PeerNumber(0xbeef),
                    real_pk: PublicKey::new([0x11; 32]),
                    temp_pk: PublicKey::new([0x22; 32]),
                },
                bytes(16, &new_peer),
            ),
            (MessageBody::KillPeer, bytes(17, &[0x03, 0x04])),
            (MessageBody::FreezePeer, bytes(18, &[0x03, 0x04])),
            (
                MessageBody::Name(PeerName::new("Bo").unwrap()),
                bytes(48, b"Bo"),
            ),
            (MessageBody::Name(PeerName::default()), bytes(48, b"")),
            (
                MessageBody::Title(Title::new("T").unwrap()),
                bytes(49, b"T"),
            ),
            (
                MessageBody::Message(ChatText::new("hi").unwrap()),
                bytes(64, b"hi"),
            ),
            (
                MessageBody::Action(ChatText::new("waves").unwrap()),
                bytes(65, b"waves"),
            ),
        ];
        for (body, expected) in cases {
            let packet = packet(body);
            assert_eq!(packet.to_bytes(), expected, "{packet:?}");
            assert_eq!(MessagePacket::from_bytes(&expected), Ok(packet));
        }
    }

    #[test]
    fn what_c_toxcore_drops_is_refused() {
        for refused in [
            bytes(16, &[0; 65]),
            bytes(17, &[0x03]),
            bytes(17, &[0x03, 0x05]),
            bytes(18, &[0x00, 0x00]),
            bytes(48, &[b'n'; 129]),
            bytes(49, b""),
            bytes(49, &[b't'; 129]),
            bytes(64, b""),
            bytes(65, b""),
            bytes(1, b""),
            bytes(66, b"x"),
            HEADER.to_vec(),
        ] {
            assert!(MessagePacket::from_bytes(&refused).is_err(), "{refused:?}");
        }
        // A ping's surplus is ignored.
        assert_eq!(
            MessagePacket::from_bytes(&bytes(0, b"extra")),
            Ok(packet(MessageBody::Ping))
        );
    }

    #[test]
    fn longest_message_fills_a_data_packet() {
        let text = ChatText::new(vec![b'x'; 1363]).unwrap();
        let long = packet(MessageBody::Message(text));
        assert_eq!(1 + long.to_bytes().len(), MAX_CRYPTO_DATA_SIZE);
        assert!(ChatText::new(vec![b'x'; 1364]).is_err());
        assert!(ChatText::new("").is_err());
        let mut too_long = bytes(64, &[b'x'; 1364]);
        assert!(MessagePacket::from_bytes(&too_long).is_err());
        too_long.pop();
        assert!(MessagePacket::from_bytes(&too_long).is_ok());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert!(bytes.len() < MAX_CRYPTO_DATA_SIZE);
            prop_assert_eq!(MessagePacket::from_bytes(&bytes), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1400)) {
            if let Ok(packet) = MessagePacket::from_bytes(&bytes) {
                prop_assert_eq!(MessagePacket::from_bytes(&packet.to_bytes()), Ok(packet));
            }
        }

        #[test]
        fn every_id_with_garbage_never_panics(id in any::<u8>(), tail in garbage(200)) {
            let bytes = bytes(id, &tail);
            if let Ok(packet) = MessagePacket::from_bytes(&bytes) {
                prop_assert_eq!(packet.body.message_id(), id);
                prop_assert_eq!(MessagePacket::from_bytes(&packet.to_bytes()), Ok(packet));
            }
        }
    }
}
