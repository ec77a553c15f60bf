//! What a data packet carries inside its box: two counters, padding, and
//! one packet (checklist N7; spec "Net crypto", data in the encrypted
//! packets; c-toxcore `send_data_packet_helper` and
//! `handle_data_packet_core` in `net_crypto.c`).
//!
//! | bytes | field                                                          |
//! |-------|----------------------------------------------------------------|
//! | 4     | `buffer_start`, u32 BE: every lossless packet below it arrived  |
//! | 4     | packet number, u32 BE (lossless); the sender's `buffer_end` otherwise |
//! | p     | zeros ([`PACKET_ID_PADDING`])                                   |
//! | 1     | packet id (never 0)                                             |
//! | n     | data                                                            |
//!
//! The sender pads with `p = (1373 − (1 + n)) mod 8` zeros
//! ([`MAX_CRYPTO_DATA_SIZE`], [`CRYPTO_MAX_PADDING`]), which hides the exact
//! length of short packets. The receiver does not compute `p`: it skips
//! every zero byte after the counters and takes the first non-zero byte as
//! the id, so any amount of padding is accepted, and a plaintext that is
//! all zeros after the counters is malformed. `1 + n` is at most 1373, the
//! most that fits a 1400-byte packet with the counters, the 16-bit nonce
//! field and the MAC.
//!
//! The padding is therefore not kept: a decoded plaintext re-encodes with
//! the sender-side padding, which is what c-toxcore sends.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{
    CRYPTO_MAX_PADDING, MAX_CRYPTO_DATA_SIZE, MAX_DATA_DATA_PACKET_SIZE, NetCryptoPacketError,
    PACKET_ID_PADDING,
};

/// The two counters in front of every data payload.
const COUNTERS_SIZE: usize = 8;

/// The plaintext of a data packet. Its payload (packet id and data) is
/// never empty, never starts with 0 and is at most [`MAX_CRYPTO_DATA_SIZE`]
/// bytes: [`DataPlaintext::new`] and the decoder both enforce it, so every
/// value encodes to something a c-toxcore receiver accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataPlaintext {
    buffer_start: u32,
    packet_number: u32,
    payload: Vec<u8>,
}

impl DataPlaintext {
    /// A plaintext carrying `payload` (packet id first, then data).
    ///
    /// Refuses an empty payload or one over [`MAX_CRYPTO_DATA_SIZE`]
    /// ([`NetCryptoPacketError::Unsendable`], as c-toxcore's
    /// `send_data_packet_helper` refuses them) and one starting with the
    /// padding id 0 ([`NetCryptoPacketError::PaddingPacketId`]), which the
    /// receiver would skip.
    pub fn new(
        buffer_start: u32,
        packet_number: u32,
        payload: Vec<u8>,
    ) -> Result<Self, NetCryptoPacketError> {
        if payload.is_empty() || payload.len() > MAX_CRYPTO_DATA_SIZE {
            return Err(NetCryptoPacketError::Unsendable {
                what: "data payload",
                len: payload.len(),
                min: 1,
                max: MAX_CRYPTO_DATA_SIZE,
            });
        }
        if payload.first() == Some(&PACKET_ID_PADDING) {
            return Err(NetCryptoPacketError::PaddingPacketId);
        }
        Ok(Self {
            buffer_start,
            packet_number,
            payload,
        })
    }

    /// The sender's receive-window start: every lossless packet numbered
    /// below it has arrived (checklist N9).
    pub const fn buffer_start(&self) -> u32 {
        self.buffer_start
    }

    /// The packet's number if it is lossless; otherwise the sender's next
    /// lossless number (checklist N11).
    pub const fn packet_number(&self) -> u32 {
        self.packet_number
    }

    /// Packet id and data.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, taken out.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// The packet id (first payload byte; never 0).
    pub fn packet_id(&self) -> u8 {
        self.payload.first().copied().unwrap_or(PACKET_ID_PADDING)
    }

    /// The data after the packet id.
    pub fn data(&self) -> &[u8] {
        self.payload.get(1..).unwrap_or_default()
    }

    /// The zeros a sender puts before a payload of `payload_len` bytes:
    /// `(1373 − payload_len) mod 8` (0 for lengths over 1373, which are
    /// never sent).
    pub const fn padding_len(payload_len: usize) -> usize {
        MAX_CRYPTO_DATA_SIZE.saturating_sub(payload_len) % CRYPTO_MAX_PADDING
    }
}

impl Encode for DataPlaintext {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u32(self.buffer_start);
        buf.put_u32(self.packet_number);
        buf.put_bytes(PACKET_ID_PADDING, Self::padding_len(self.payload.len()));
        buf.put_slice(&self.payload);
    }

    fn encoded_len(&self) -> usize {
        COUNTERS_SIZE + Self::padding_len(self.payload.len()) + self.payload.len()
    }
}

impl Decode for DataPlaintext {
    /// Reads a whole plaintext (it has no length field: it ends where the
    /// box ends). At least one byte after the counters (c-toxcore:
    /// `len <= 8` is dropped), at most [`MAX_DATA_DATA_PACKET_SIZE`].
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "data plaintext",
            COUNTERS_SIZE + 1,
            MAX_DATA_DATA_PACKET_SIZE,
        )?;
        let buffer_start = reader.u32_be("buffer start")?;
        let packet_number = reader.u32_be("packet number")?;
        let rest = reader.rest();
        let start = rest
            .iter()
            .position(|&byte| byte != PACKET_ID_PADDING)
            .ok_or(DecodeError::InvalidValue {
                what: "data plaintext packet id (all padding)",
                value: u64::from(PACKET_ID_PADDING),
            })?;
        let payload = rest.get(start..).unwrap_or_default();
        // Implied by the length bound (1381 − 8), but stated: no payload
        // over what a sender may put in one packet is ever handed on.
        if payload.len() > MAX_CRYPTO_DATA_SIZE {
            return Err(DecodeError::BadLength {
                what: "data payload",
                len: payload.len(),
                min: 1,
                max: MAX_CRYPTO_DATA_SIZE,
            });
        }
        Ok(Self {
            buffer_start,
            packet_number,
            payload: payload.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{PACKET_ID_KILL, PACKET_ID_REQUEST};
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    fn arb_payload() -> impl Strategy<Value = Vec<u8>> {
        (
            1u8..=255,
            proptest::collection::vec(any::<u8>(), 0..MAX_CRYPTO_DATA_SIZE),
        )
            .prop_map(|(id, mut data)| {
                data.insert(0, id);
                data
            })
    }

    #[test]
    fn layout_matches_send_data_packet_helper() {
        // A one-byte kill packet: (1373 − 1) % 8 = 4 zeros.
        let p = DataPlaintext::new(0x0102_0304, 0x0506_0708, vec![PACKET_ID_KILL]).unwrap();
        assert_eq!(
            p.to_bytes(),
            [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, PACKET_ID_KILL]
        );
        assert_eq!(p.packet_id(), PACKET_ID_KILL);
        assert!(p.data().is_empty());
    }

    #[test]
    fn padding_counts_down_from_1373() {
        assert_eq!(DataPlaintext::padding_len(1373), 0);
        assert_eq!(DataPlaintext::padding_len(1372), 1);
        assert_eq!(DataPlaintext::padding_len(1366), 7);
        assert_eq!(DataPlaintext::padding_len(1365), 0);
        assert_eq!(DataPlaintext::padding_len(1), 4);
        // The largest plaintexts just fit a 1400-byte packet.
        for len in 1..=MAX_CRYPTO_DATA_SIZE {
            assert!(8 + DataPlaintext::padding_len(len) + len <= MAX_DATA_DATA_PACKET_SIZE);
        }
    }

    #[test]
    fn sender_side_limits() {
        assert!(matches!(
            DataPlaintext::new(0, 0, vec![]),
            Err(NetCryptoPacketError::Unsendable { len: 0, .. })
        ));
        assert!(matches!(
            DataPlaintext::new(0, 0, vec![16; 1374]),
            Err(NetCryptoPacketError::Unsendable { len: 1374, .. })
        ));
        assert!(DataPlaintext::new(0, 0, vec![16; 1373]).is_ok());
        assert_eq!(
            DataPlaintext::new(0, 0, vec![0, 16]),
            Err(NetCryptoPacketError::PaddingPacketId)
        );
    }

    #[test]
    fn receiver_skips_any_padding_and_refuses_all_zeros() {
        let mut bytes = vec![0, 0, 0, 1, 0, 0, 0, 2];
        bytes.extend_from_slice(&[0; 100]);
        assert!(matches!(
            DataPlaintext::from_bytes(&bytes),
            Err(DecodeError::InvalidValue { value: 0, .. })
        ));
        bytes.extend_from_slice(&[PACKET_ID_REQUEST, 0, 9]);
        let p = DataPlaintext::from_bytes(&bytes).unwrap();
        assert_eq!((p.buffer_start(), p.packet_number()), (1, 2));
        assert_eq!(p.payload(), [PACKET_ID_REQUEST, 0, 9]);
        assert_eq!(p.data(), [0, 9]);
        // No padding at all is fine too.
        assert_eq!(
            DataPlaintext::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 200])
                .unwrap()
                .payload(),
            [200]
        );
    }

    #[test]
    fn lengths_outside_a_packet_are_refused() {
        for len in 0..=8 {
            assert!(matches!(
                DataPlaintext::from_bytes(&vec![1; len]),
                Err(DecodeError::BadLength { .. })
            ));
        }
        assert!(DataPlaintext::from_bytes(&[1; MAX_DATA_DATA_PACKET_SIZE]).is_ok());
        assert!(matches!(
            DataPlaintext::from_bytes(&[1; MAX_DATA_DATA_PACKET_SIZE + 1]),
            Err(DecodeError::BadLength { len: 1382, .. })
        ));
        let mut max = vec![0; 8];
        max.extend_from_slice(&[16; MAX_CRYPTO_DATA_SIZE]);
        assert!(DataPlaintext::from_bytes(&max).is_ok());
    }

    proptest! {
        #[test]
        fn round_trip(buffer_start in any::<u32>(), number in any::<u32>(), payload in arb_payload()) {
            let p = DataPlaintext::new(buffer_start, number, payload.clone()).unwrap();
            let bytes = p.to_bytes();
            prop_assert_eq!(bytes.len(), p.encoded_len());
            prop_assert!(bytes.len() <= MAX_DATA_DATA_PACKET_SIZE);
            prop_assert_eq!(bytes.len() - 8 - payload.len(), DataPlaintext::padding_len(payload.len()));
            let decoded = DataPlaintext::from_bytes(&bytes).unwrap();
            prop_assert_eq!(decoded.payload(), &payload[..]);
            prop_assert_eq!(decoded, p);
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1500)) {
            if let Ok(p) = DataPlaintext::from_bytes(&bytes) {
                prop_assert!(p.packet_id() != 0);
                prop_assert!(p.payload().len() <= MAX_CRYPTO_DATA_SIZE);
                prop_assert!(bytes.ends_with(p.payload()));
                prop_assert_eq!(DataPlaintext::from_bytes(&p.to_bytes()), Ok(p));
            }
        }
    }
}
