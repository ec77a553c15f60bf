//! Peer online (packet 97): "I want this conference connection too".
//!
//! Checklist G5; spec "Group" (peer online packet); c-toxcore
//! `send_packet_online` and `handle_packet_online` in `group.c`.
//!
//! | bytes | field                                               |
//! |-------|-----------------------------------------------------|
//! | 2     | the sender's group number for the conference        |
//! | 33    | [`ConferenceId`]                                    |
//!
//! Exactly 35 bytes after the packet id (`ONLINE_PACKET_DATA_SIZE`);
//! c-toxcore drops any other length. A conference connection counts only
//! once both sides have sent one; the receiver learns from it which group
//! number to address the sender with, and, on its first connection to the
//! conference, asks for the peer list.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::id::{CONFERENCE_ID_SIZE, ConferenceId, GroupNumber};

/// Size of a peer online packet after the id (`ONLINE_PACKET_DATA_SIZE`).
pub const ONLINE_PACKET_DATA_SIZE: usize = 2 + CONFERENCE_ID_SIZE;

/// A peer online packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OnlinePacket {
    /// The sender's number for the conference.
    pub group_number: GroupNumber,
    /// The conference; the receiver ignores the packet unless it is in it.
    pub id: ConferenceId,
}

impl Encode for OnlinePacket {
    fn encode(&self, buf: &mut impl BufMut) {
        self.group_number.encode(buf);
        self.id.encode(buf);
    }

    fn encoded_len(&self) -> usize {
        ONLINE_PACKET_DATA_SIZE
    }
}

impl Decode for OnlinePacket {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "conference online packet",
            ONLINE_PACKET_DATA_SIZE,
            ONLINE_PACKET_DATA_SIZE,
        )?;
        Ok(Self {
            group_number: GroupNumber::decode(reader)?,
            id: ConferenceId::decode(reader)?,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::id::ConferenceType;
    use super::super::id::tests::arb_id;
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    pub(in super::super) fn arb() -> impl Strategy<Value = OnlinePacket> {
        (any::<u16>(), arb_id()).prop_map(|(g, id)| OnlinePacket {
            group_number: GroupNumber(g),
            id,
        })
    }

    #[test]
    fn bytes_are_group_number_type_id() {
        let packet = OnlinePacket {
            group_number: GroupNumber(0x0a0b),
            id: ConferenceId {
                conference_type: ConferenceType::Av,
                id: [0x5c; 32],
            },
        };
        let mut bytes = vec![0x0a, 0x0b, 0x01];
        bytes.extend_from_slice(&[0x5c; 32]);
        assert_eq!(packet.to_bytes(), bytes);
        assert_eq!(OnlinePacket::from_bytes(&bytes), Ok(packet));
        bytes.push(0);
        assert!(OnlinePacket::from_bytes(&bytes).is_err());
        assert!(OnlinePacket::from_bytes(&bytes[..34]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(OnlinePacket::from_bytes(&packet.to_bytes()), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(40)) {
            if let Ok(packet) = OnlinePacket::from_bytes(&bytes) {
                prop_assert_eq!(packet.to_bytes(), bytes);
            }
        }
    }
}
