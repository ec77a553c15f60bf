//! Lossy conference packets (packet 199): group audio, relayed without
//! retransmission.
//!
//! Checklist G9; spec "Group" (lossy message packets); c-toxcore
//! `send_group_lossy_packet`, `send_lossy_all_connections` and
//! `handle_lossy` in `group.c`, `GROUP_AUDIO_PACKET_ID` in
//! `toxav/groupav.c`.
//!
//! | bytes | field                                                   |
//! |-------|---------------------------------------------------------|
//! | 2     | the receiver's group number                             |
//! | 2     | the author's peer number                                |
//! | 2     | the author's lossy message number                       |
//! | 1     | id: which handler (192 is group audio)                  |
//! | rest  | data, at most [`MAX_LOSSY_DATA_LEN`]                     |
//!
//! The message number is 16 bits and has its own counter; receivers drop
//! a number they saw among the author's last 256 (`MAX_LOSSY_COUNT`) and
//! relay the rest to their two closest connections. c-toxcore needs the id
//! byte (`handle_lossy` wants 8 bytes with the packet id) but not data,
//! and passes anything after the id to the handler registered for it.
//! It accepts lossy packets only in AV conferences: that is state, left to
//! the receiver.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::id::{GroupNumber, PeerNumber};
use crate::packet::{MAX_CRYPTO_DATA_SIZE, PacketError, check_len};

/// The id ToxAV's group audio uses inside lossy conference packets
/// (`GROUP_AUDIO_PACKET_ID`).
pub const GROUP_AUDIO_PACKET_ID: u8 = 192;
/// Size of the header after the packet id: group number, peer number,
/// message number, id.
pub const LOSSY_HEADER_LEN: usize = 2 + 2 + 2 + 1;
/// The most data one lossy packet carries after its header: 1365 bytes.
pub const MAX_LOSSY_DATA_LEN: usize = MAX_CRYPTO_DATA_SIZE - 1 - LOSSY_HEADER_LEN;

/// A lossy conference packet (after the packet id), built with
/// [`LossyPacket::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LossyPacket {
    /// The receiver's number for the conference (a relay changes only
    /// this).
    pub group_number: GroupNumber,
    /// The author's peer number.
    pub peer_number: PeerNumber,
    /// The author's lossy message number.
    pub message_number: u16,
    /// Which handler the data is for ([`GROUP_AUDIO_PACKET_ID`]).
    pub message_id: u8,
    data: Vec<u8>,
}

impl LossyPacket {
    /// A packet carrying `data`; refuses more than [`MAX_LOSSY_DATA_LEN`]
    /// bytes, which would not fit a data packet.
    pub fn new(
        group_number: GroupNumber,
        peer_number: PeerNumber,
        message_number: u16,
        message_id: u8,
        data: Vec<u8>,
    ) -> Result<Self, PacketError> {
        check_len("conference lossy data", data.len(), 0, MAX_LOSSY_DATA_LEN)?;
        Ok(Self {
            group_number,
            peer_number,
            message_number,
            message_id,
            data,
        })
    }

    /// The data for the handler.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

impl Encode for LossyPacket {
    fn encode(&self, buf: &mut impl BufMut) {
        self.group_number.encode(buf);
        self.peer_number.encode(buf);
        buf.put_u16(self.message_number);
        buf.put_u8(self.message_id);
        buf.put_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        LOSSY_HEADER_LEN + self.data.len()
    }
}

impl Decode for LossyPacket {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "conference lossy packet",
            LOSSY_HEADER_LEN,
            MAX_CRYPTO_DATA_SIZE - 1,
        )?;
        Ok(Self {
            group_number: GroupNumber::decode(reader)?,
            peer_number: PeerNumber::decode(reader)?,
            message_number: reader.u16_be("conference lossy message number")?,
            message_id: reader.u8("conference lossy id")?,
            data: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    pub(in super::super) fn arb() -> impl Strategy<Value = LossyPacket> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_LOSSY_DATA_LEN),
        )
            .prop_map(|(g, p, n, id, data)| {
                LossyPacket::new(GroupNumber(g), PeerNumber(p), n, id, data).unwrap()
            })
    }

    #[test]
    fn bytes_and_limits() {
        let packet = LossyPacket::new(
            GroupNumber(0x0102),
            PeerNumber(0x0304),
            0x0506,
            GROUP_AUDIO_PACKET_ID,
            b"pcm".to_vec(),
        )
        .unwrap();
        let bytes = b"\x01\x02\x03\x04\x05\x06\xc0pcm";
        assert_eq!(packet.to_bytes(), bytes);
        assert_eq!(LossyPacket::from_bytes(bytes), Ok(packet));
        assert!(LossyPacket::from_bytes(&bytes[..7]).is_ok());
        assert!(LossyPacket::from_bytes(&bytes[..6]).is_err());
        let longest = LossyPacket::new(GroupNumber(0), PeerNumber(0), 0, 192, vec![0; 1365]);
        assert_eq!(1 + longest.unwrap().to_bytes().len(), MAX_CRYPTO_DATA_SIZE);
        assert!(LossyPacket::new(GroupNumber(0), PeerNumber(0), 0, 192, vec![0; 1366]).is_err());
        assert!(LossyPacket::from_bytes(&[0; 1373]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(LossyPacket::from_bytes(&packet.to_bytes()), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1400)) {
            if let Ok(packet) = LossyPacket::from_bytes(&bytes) {
                prop_assert_eq!(packet.to_bytes(), bytes);
            }
        }
    }
}
