//! Custom packets: clients' own protocols over a friend's session.
//!
//! Checklist M13, M14 (and M16 for the AV ids); c-toxcore
//! `send_custom_lossless_packet`, `m_send_custom_lossy_packet`,
//! `handle_custom_lossless_packet` and `m_handle_lossy_packet` in
//! `Messenger.c`, `tox_friend_send_lossless_packet`,
//! `tox_friend_send_lossy_packet` and their callbacks in `tox.c`.
//!
//! | bytes    | field                                         |
//! |----------|-----------------------------------------------|
//! | 1        | id: 160–191 lossless; 192–198, 200–254 lossy  |
//! | 0..=1372 | data                                          |
//!
//! The whole packet, id included, is at most [`MAX_CUSTOM_PACKET_SIZE`]
//! (1373) bytes, and the id may be all of it. How c-toxcore 0.2.18 routes
//! them:
//! - Lossless 160–191 ([`CustomLossless`]): to the client's lossless
//!   callback, id and data together. (`tox_friend_send_lossless_packet`
//!   also sends 69, but that arrives as [`Msi`](super::Msi).)
//! - Lossy: `tox_friend_send_lossy_packet` takes any of 192–254
//!   ([`CustomLossy`]), but the receiver gives 192–199 to the per-friend
//!   AV handlers (192 RTP audio, 193 RTP video, 196 bandwidth reports) and
//!   only 200–254 to the client's lossy callback. 199 is the conference's
//!   lossy packet and decodes as a
//!   [`ConferencePacket`](super::ConferencePacket), so it is not a custom
//!   lossy id here.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{
    MAX_CUSTOM_PACKET_SIZE, PACKET_ID_LOSSY_CONFERENCE, PACKET_ID_RANGE_LOSSLESS_CUSTOM_END,
    PACKET_ID_RANGE_LOSSLESS_CUSTOM_START, PACKET_ID_RANGE_LOSSY_AV_END, PACKET_ID_RANGE_LOSSY_END,
    PACKET_ID_RANGE_LOSSY_START, PacketError,
};

/// Whether `id` is a custom lossless id (160–191).
const fn is_custom_lossless(id: u8) -> bool {
    id >= PACKET_ID_RANGE_LOSSLESS_CUSTOM_START && id <= PACKET_ID_RANGE_LOSSLESS_CUSTOM_END
}

/// Whether `id` is a lossy id a client may send that is not the
/// conference's (192–198, 200–254).
const fn is_custom_lossy(id: u8) -> bool {
    id >= PACKET_ID_RANGE_LOSSY_START
        && id <= PACKET_ID_RANGE_LOSSY_END
        && id != PACKET_ID_LOSSY_CONFERENCE
}

/// A custom lossless packet, built with [`CustomLossless::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomLossless {
    id: u8,
    data: Vec<u8>,
}

impl CustomLossless {
    /// A packet with id `id` (160–191) and `data` (at most 1372 bytes).
    pub fn new(id: u8, data: Vec<u8>) -> Result<Self, PacketError> {
        if !is_custom_lossless(id) {
            return Err(PacketError::IdOutOfRange {
                what: "custom lossless packet",
                id,
            });
        }
        super::check_len(
            "custom packet data",
            data.len(),
            0,
            MAX_CUSTOM_PACKET_SIZE - 1,
        )?;
        Ok(Self { id, data })
    }

    /// The packet id, 160–191.
    pub const fn id(&self) -> u8 {
        self.id
    }

    /// The bytes after the id (the client callback gets id and data).
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

impl Encode for CustomLossless {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.id);
        buf.put_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        1 + self.data.len()
    }
}

impl Decode for CustomLossless {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (id, data) = read_custom(reader, "custom lossless packet", is_custom_lossless)?;
        Ok(Self { id, data })
    }
}

/// Reads a custom packet: an id in the range `in_range` accepts, then
/// the rest as data.
fn read_custom(
    reader: &mut Reader<'_>,
    what: &'static str,
    in_range: fn(u8) -> bool,
) -> Result<(u8, Vec<u8>), DecodeError> {
    reader.expect_remaining(what, 1, MAX_CUSTOM_PACKET_SIZE)?;
    let id = reader.u8(what)?;
    if !in_range(id) {
        return Err(DecodeError::InvalidValue {
            what,
            value: u64::from(id),
        });
    }
    Ok((id, reader.rest().to_vec()))
}

/// A custom lossy packet, built with [`CustomLossy::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomLossy {
    id: u8,
    data: Vec<u8>,
}

impl CustomLossy {
    /// A packet with id `id` (192–198 or 200–254) and `data` (at most
    /// 1372 bytes).
    pub fn new(id: u8, data: Vec<u8>) -> Result<Self, PacketError> {
        if !is_custom_lossy(id) {
            return Err(PacketError::IdOutOfRange {
                what: "custom lossy packet",
                id,
            });
        }
        super::check_len(
            "custom packet data",
            data.len(),
            0,
            MAX_CUSTOM_PACKET_SIZE - 1,
        )?;
        Ok(Self { id, data })
    }

    /// The packet id: 192–198 or 200–254.
    pub const fn id(&self) -> u8 {
        self.id
    }

    /// Whether a c-toxcore receiver hands this packet to its AV handlers
    /// (ids 192–199) rather than to the client's lossy callback (200–254).
    pub const fn is_av(&self) -> bool {
        self.id <= PACKET_ID_RANGE_LOSSY_AV_END
    }

    /// The bytes after the id.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

impl Encode for CustomLossy {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.id);
        buf.put_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        1 + self.data.len()
    }
}

impl Decode for CustomLossy {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (id, data) = read_custom(reader, "custom lossy packet", is_custom_lossy)?;
        Ok(Self { id, data })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn data() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..MAX_CUSTOM_PACKET_SIZE)
    }

    pub(in super::super) fn arb_lossless() -> impl Strategy<Value = CustomLossless> {
        (160..=191u8, data()).prop_map(|(id, data)| CustomLossless::new(id, data).unwrap())
    }

    pub(in super::super) fn arb_lossy() -> impl Strategy<Value = CustomLossy> {
        (prop_oneof![192..=198u8, 200..=254u8], data())
            .prop_map(|(id, data)| CustomLossy::new(id, data).unwrap())
    }

    #[test]
    fn id_ranges() {
        for id in 0..=255u8 {
            assert_eq!(
                CustomLossless::new(id, vec![]).is_ok(),
                (160..=191).contains(&id),
                "{id}"
            );
            assert_eq!(
                CustomLossy::new(id, vec![]).is_ok(),
                (192..=254).contains(&id) && id != 199,
                "{id}"
            );
            assert_eq!(
                CustomLossless::from_bytes(&[id]).is_ok(),
                (160..=191).contains(&id)
            );
            assert_eq!(
                CustomLossy::from_bytes(&[id]).is_ok(),
                (192..=254).contains(&id) && id != 199
            );
        }
        assert!(CustomLossy::new(192, vec![]).unwrap().is_av());
        assert!(CustomLossy::new(198, vec![]).unwrap().is_av());
        assert!(!CustomLossy::new(200, vec![]).unwrap().is_av());
    }

    #[test]
    fn length_boundaries_1373_and_1374() {
        let full = CustomLossless::new(160, vec![1; 1372]).unwrap();
        assert_eq!(full.to_bytes().len(), 1373);
        assert!(CustomLossless::new(160, vec![1; 1373]).is_err());
        assert!(CustomLossy::new(254, vec![1; 1373]).is_err());
        let mut long = vec![254u8; 1374];
        assert!(CustomLossy::from_bytes(&long).is_err());
        long.pop();
        assert!(CustomLossy::from_bytes(&long).is_ok());
    }

    proptest! {
        #[test]
        fn round_trip(lossless in arb_lossless(), lossy in arb_lossy()) {
            prop_assert_eq!(CustomLossless::from_bytes(&lossless.to_bytes()), Ok(lossless));
            prop_assert_eq!(CustomLossy::from_bytes(&lossy.to_bytes()), Ok(lossy));
        }
    }
}
