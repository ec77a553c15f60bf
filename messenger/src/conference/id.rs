//! What names a conference and its members on the wire: the conference id
//! and the group and peer numbers.
//!
//! Checklist G1; spec "Group" (group chat identifier, group number, peer
//! number); c-toxcore `Groupchat_Type` in `group.h`, `get_group_num` and
//! `GROUP_ID_LENGTH` in `group.c`.
//!
//! | bytes | field                                 |
//! |-------|---------------------------------------|
//! | 1     | type: 0 text, 1 audio/video           |
//! | 32    | id, random, chosen by the founder     |
//!
//! The 33 bytes travel together in invites, online and rejoin packets and
//! in the save file: c-toxcore looks a conference up by both
//! (`get_group_num`), so the same 32 bytes with another type are another
//! conference.
//!
//! The group number is not global: it is the *sender's* index of the
//! conference, so each side of a connection tells the other which number
//! to put in the packets it sends back. Peer numbers are the conference's
//! own: the inviter draws a random free one for each joiner, the founder
//! is 0 (`add_groupchat`).

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

/// Size of a conference's random id (`GROUP_ID_LENGTH`,
/// `TOX_CONFERENCE_ID_SIZE`).
pub const GROUP_ID_LENGTH: usize = 32;
/// Size of a [`ConferenceId`] on the wire: type byte and id.
pub const CONFERENCE_ID_SIZE: usize = 1 + GROUP_ID_LENGTH;

/// What a conference carries (`Groupchat_Type`, `TOX_CONFERENCE_TYPE`).
///
/// c-toxcore 0.2.18 creates only these two, and refuses to join any other
/// (`join_groupchat` checks the type the client expects); a byte outside
/// them is refused here, on the wire and in a save.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConferenceType {
    /// Text only (`GROUPCHAT_TYPE_TEXT`, 0).
    #[default]
    Text,
    /// Text and group audio over lossy packets (`GROUPCHAT_TYPE_AV`, 1).
    Av,
}

impl ConferenceType {
    /// The type byte.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Text => 0,
            Self::Av => 1,
        }
    }

    /// The type a byte stands for, if any.
    pub const fn from_u8(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Text),
            1 => Some(Self::Av),
            _ => None,
        }
    }
}

/// A conference's identity: its type and 32-byte id (the spec's "group chat
/// identifier", checklist G1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConferenceId {
    /// Text or audio/video.
    pub conference_type: ConferenceType,
    /// The random id (`tox_conference_get_id` hands out these 32 bytes).
    pub id: [u8; GROUP_ID_LENGTH],
}

impl Encode for ConferenceId {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.conference_type.to_u8());
        buf.put_slice(&self.id);
    }

    fn encoded_len(&self) -> usize {
        CONFERENCE_ID_SIZE
    }
}

impl Decode for ConferenceId {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "conference type";
        let byte = reader.u8(NAME)?;
        let conference_type = ConferenceType::from_u8(byte).ok_or(DecodeError::InvalidValue {
            what: NAME,
            value: u64::from(byte),
        })?;
        Ok(Self {
            conference_type,
            id: reader.array("conference id")?,
        })
    }
}

/// The index a peer gives one of its conferences; packets addressed to that
/// peer carry it (big-endian on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GroupNumber(pub u16);

/// A member's number within a conference; relayed messages carry their
/// author's (big-endian on the wire, little-endian in the save).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PeerNumber(pub u16);

impl Encode for GroupNumber {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.0);
    }

    fn encoded_len(&self) -> usize {
        2
    }
}

impl Decode for GroupNumber {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.u16_be("group number").map(Self)
    }
}

impl Encode for PeerNumber {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.0);
    }

    fn encoded_len(&self) -> usize {
        2
    }
}

impl Decode for PeerNumber {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.u16_be("peer number").map(Self)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb_id() -> impl Strategy<Value = ConferenceId> {
        (any::<bool>(), any::<[u8; GROUP_ID_LENGTH]>()).prop_map(|(av, id)| ConferenceId {
            conference_type: if av {
                ConferenceType::Av
            } else {
                ConferenceType::Text
            },
            id,
        })
    }

    #[test]
    fn type_byte_then_id() {
        let id = ConferenceId {
            conference_type: ConferenceType::Av,
            id: [0xab; 32],
        };
        let mut bytes = vec![1];
        bytes.extend_from_slice(&[0xab; 32]);
        assert_eq!(id.to_bytes(), bytes);
        assert_eq!(ConferenceId::from_bytes(&bytes), Ok(id));
        bytes[0] = 2;
        assert_eq!(
            ConferenceId::from_bytes(&bytes),
            Err(DecodeError::InvalidValue {
                what: "conference type",
                value: 2
            })
        );
        assert!(ConferenceId::from_bytes(&bytes[..32]).is_err());
    }

    #[test]
    fn numbers_are_big_endian() {
        assert_eq!(GroupNumber(0x0102).to_bytes(), [1, 2]);
        assert_eq!(
            PeerNumber::from_bytes(&[0xbe, 0xef]),
            Ok(PeerNumber(0xbeef))
        );
    }

    proptest! {
        #[test]
        fn round_trips(id in arb_id()) {
            prop_assert_eq!(ConferenceId::from_bytes(&id.to_bytes()), Ok(id));
        }

        #[test]
        fn garbage_never_panics(bytes in toxide_core::testing::garbage(40)) {
            if let Ok(id) = ConferenceId::from_bytes(&bytes) {
                prop_assert_eq!(id.to_bytes(), bytes);
            }
        }
    }
}
