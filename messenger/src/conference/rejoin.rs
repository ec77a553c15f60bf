//! Rejoin (packet 100): "I am back" to a peer that holds us frozen.
//!
//! Checklist G8; spec "Group" (timeouts and reconnection, rejoin packet);
//! c-toxcore `try_send_rejoin` and `handle_packet_rejoin` in `group.c`.
//!
//! | bytes | field            |
//! |-------|------------------|
//! | 33    | [`ConferenceId`] |
//!
//! The only conference packet without a group number: the sender does not
//! know the receiver's number for the conference yet, so the id names it.
//! c-toxcore sends it on a new friend connection to a peer it has frozen,
//! and the receiver unfreezes the sender and answers with a peer online
//! packet. c-toxcore reads the first 33 bytes and ignores any more
//! (`length < 1 + GROUP_ID_LENGTH` is its only check); so do we, and such a
//! packet re-encodes to the 33 bytes c-toxcore sends.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::id::{CONFERENCE_ID_SIZE, ConferenceId};

/// A rejoin packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RejoinPacket {
    /// The conference the sender comes back to.
    pub id: ConferenceId,
}

impl Encode for RejoinPacket {
    fn encode(&self, buf: &mut impl BufMut) {
        self.id.encode(buf);
    }

    fn encoded_len(&self) -> usize {
        CONFERENCE_ID_SIZE
    }
}

impl Decode for RejoinPacket {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let id = ConferenceId::decode(reader)?;
        reader.rest();
        Ok(Self { id })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::id::ConferenceType;
    use super::super::id::tests::arb_id;
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    pub(in super::super) fn arb() -> impl Strategy<Value = RejoinPacket> {
        arb_id().prop_map(|id| RejoinPacket { id })
    }

    #[test]
    fn bytes_are_the_conference_id() {
        let packet = RejoinPacket {
            id: ConferenceId {
                conference_type: ConferenceType::Text,
                id: [0x42; 32],
            },
        };
        let mut bytes = vec![0x00];
        bytes.extend_from_slice(&[0x42; 32]);
        assert_eq!(packet.to_bytes(), bytes);
        assert_eq!(RejoinPacket::from_bytes(&bytes), Ok(packet));
        assert!(RejoinPacket::from_bytes(&bytes[..32]).is_err());
        // Surplus bytes are ignored, as c-toxcore ignores them.
        bytes.extend_from_slice(b"more");
        assert_eq!(RejoinPacket::from_bytes(&bytes), Ok(packet));
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(RejoinPacket::from_bytes(&packet.to_bytes()), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(80)) {
            if let Ok(packet) = RejoinPacket::from_bytes(&bytes) {
                prop_assert_eq!(packet.to_bytes(), bytes[..33].to_vec());
            }
        }
    }
}
