//! The Tox ID a user gives to friends: `[real public key 32][nospam 4][checksum 2]`.
//!
//! The nospam lets a user stop unwanted friend requests by changing it: a
//! request must quote the current nospam to be delivered. The checksum
//! catches typing mistakes: byte 0 is the XOR of the even-indexed bytes of
//! key and nospam, byte 1 of the odd-indexed ones (c-toxcore
//! `data_checksum`). Shown as 76 uppercase hex characters.

use std::fmt;
use std::str::FromStr;

use bytes::BufMut;
use thiserror::Error;

use crate::CryptoRng;
use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::hex::{self, HexError};
use crate::keys::{PUBLIC_KEY_SIZE, PublicKey};

/// Size of a binary Tox ID.
pub const TOX_ID_SIZE: usize = PUBLIC_KEY_SIZE + 4 + 2;

/// The 4 nospam bytes, kept in wire order.
///
/// tox.h exposes the nospam as a `uint32_t`; that number is these bytes read
/// big-endian ([`NoSpam::to_u32`]), which is what `tox_self_get_nospam`
/// returns.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NoSpam(pub [u8; 4]);

impl NoSpam {
    /// A random nospam, as a new profile gets.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 4];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The nospam as tox.h's `uint32_t`.
    pub fn from_u32(value: u32) -> Self {
        Self(value.to_be_bytes())
    }

    /// The nospam as tox.h's `uint32_t`.
    pub fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }
}

impl fmt::Debug for NoSpam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoSpam({self})")
    }
}

impl fmt::Display for NoSpam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::write_upper(f, &self.0)
    }
}

/// Why a Tox ID was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ToxIdError {
    /// Not 76 characters (or 38 bytes).
    #[error("a Tox ID has {expected} characters, this one has {found}")]
    Length {
        /// The required length.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A character that is not a hex digit.
    #[error("character {position} of the Tox ID is not a hex digit")]
    Hex {
        /// Zero-based position.
        position: usize,
    },
    /// The checksum does not match: most likely a typing or copying mistake.
    #[error("Tox ID checksum mismatch (expected {expected:04X}, found {found:04X})")]
    Checksum {
        /// The checksum computed from key and nospam.
        expected: u16,
        /// The checksum in the ID.
        found: u16,
    },
}

/// A Tox ID: what one user gives another to become friends.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ToxId {
    /// The user's long-term ("real") public key.
    pub public_key: PublicKey,
    /// The current nospam.
    pub nospam: NoSpam,
}

impl ToxId {
    /// The ID for a key and nospam.
    pub fn new(public_key: PublicKey, nospam: NoSpam) -> Self {
        Self { public_key, nospam }
    }

    /// The two checksum bytes.
    pub fn checksum(&self) -> [u8; 2] {
        let mut sum = [0u8; 2];
        let bytes = self
            .public_key
            .as_bytes()
            .iter()
            .chain(self.nospam.0.iter());
        for (i, b) in bytes.enumerate() {
            if let Some(slot) = sum.get_mut(i % 2) {
                *slot ^= b;
            }
        }
        sum
    }

    /// Parses 38 binary bytes, checking the checksum.
    pub fn from_binary(bytes: &[u8]) -> Result<Self, ToxIdError> {
        let mut reader = Reader::new(bytes);
        match (
            reader.array::<PUBLIC_KEY_SIZE>("key"),
            reader.array::<4>("nospam"),
            reader.array::<2>("sum"),
        ) {
            (Ok(key), Ok(nospam), Ok(found)) if reader.is_empty() => {
                let id = Self::new(PublicKey::new(key), NoSpam(nospam));
                let expected = id.checksum();
                if expected == found {
                    Ok(id)
                } else {
                    Err(ToxIdError::Checksum {
                        expected: u16::from_be_bytes(expected),
                        found: u16::from_be_bytes(found),
                    })
                }
            }
            _ => Err(ToxIdError::Length {
                expected: TOX_ID_SIZE,
                found: bytes.len(),
            }),
        }
    }
}

impl fmt::Display for ToxId {
    /// 76 uppercase hex characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::write_upper(f, &self.to_bytes())
    }
}

impl fmt::Debug for ToxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ToxId({self})")
    }
}

impl FromStr for ToxId {
    type Err = ToxIdError;

    /// Parses 76 hex characters in either case. Surrounding whitespace is
    /// not accepted: callers trim user input themselves.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode_array::<TOX_ID_SIZE>(text).map_err(|e| match e {
            HexError::Length { expected, found } => ToxIdError::Length { expected, found },
            HexError::Digit { position } => ToxIdError::Hex { position },
        })?;
        Self::from_binary(&bytes)
    }
}

impl Encode for ToxId {
    fn encode(&self, buf: &mut impl BufMut) {
        self.public_key.encode(buf);
        buf.put_slice(&self.nospam.0);
        buf.put_slice(&self.checksum());
    }
    fn encoded_len(&self) -> usize {
        TOX_ID_SIZE
    }
}

impl Decode for ToxId {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes = reader.take("tox id", TOX_ID_SIZE)?;
        Self::from_binary(bytes).map_err(|_| DecodeError::InvalidValue {
            what: "tox id checksum",
            value: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> ToxId {
        ToxId::new(PublicKey::new([0x11; 32]), NoSpam([1, 2, 3, 4]))
    }

    #[test]
    fn checksum_xors_even_and_odd_bytes() {
        // 32 bytes of 0x11 cancel out in each half; the nospam leaves 1^3 and 2^4.
        assert_eq!(sample().checksum(), [1 ^ 3, 2 ^ 4]);
    }

    #[test]
    fn displays_76_uppercase_hex_characters() {
        let text = sample().to_string();
        assert_eq!(text.len(), 76);
        assert!(text.ends_with("010203040206"), "{text}");
        assert_eq!(text, text.to_uppercase());
    }

    #[test]
    fn parses_either_case() {
        let text = sample().to_string();
        assert_eq!(text.to_lowercase().parse::<ToxId>(), Ok(sample()));
    }

    #[test]
    fn distinct_errors() {
        let text = sample().to_string();
        assert_eq!(
            text[..75].parse::<ToxId>(),
            Err(ToxIdError::Length {
                expected: 76,
                found: 75
            })
        );
        let mut bad_hex = text.clone();
        bad_hex.replace_range(10..11, "x");
        assert_eq!(
            bad_hex.parse::<ToxId>(),
            Err(ToxIdError::Hex { position: 10 })
        );
        let mut bad_sum = text.clone();
        bad_sum.replace_range(75..76, "7");
        assert_eq!(
            bad_sum.parse::<ToxId>(),
            Err(ToxIdError::Checksum {
                expected: 0x0206,
                found: 0x0207
            })
        );
    }

    #[test]
    fn nospam_u32_is_big_endian_of_wire_bytes() {
        assert_eq!(NoSpam([1, 2, 3, 4]).to_u32(), 0x0102_0304);
        assert_eq!(NoSpam::from_u32(0x0102_0304), NoSpam([1, 2, 3, 4]));
    }

    proptest! {
        #[test]
        fn tox_id_round_trips(key in any::<[u8; 32]>(), nospam in any::<[u8; 4]>()) {
            let id = ToxId::new(PublicKey::new(key), NoSpam(nospam));
            prop_assert_eq!(id.to_string().parse::<ToxId>(), Ok(id));
            prop_assert_eq!(<ToxId as Decode>::from_bytes(&id.to_bytes()), Ok(id));
        }

        #[test]
        fn tox_id_parse_never_panics(text in ".{0,90}") {
            let _ = text.parse::<ToxId>();
        }

        #[test]
        fn corrupted_ids_are_refused(key in any::<[u8; 32]>(), pos in 0usize..38, flip in 1u8..=255) {
            let id = ToxId::new(PublicKey::new(key), NoSpam([9, 8, 7, 6]));
            let mut bytes = id.to_bytes();
            bytes[pos] ^= flip;
            prop_assert!(ToxId::from_binary(&bytes).is_err());
        }
    }
}
