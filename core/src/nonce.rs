//! 24-byte nonces.
//!
//! Stateless packets (DHT, onion, cookies) carry a fresh random nonce each.
//! Sessions (net_crypto, the TCP relay) count: each side announces a base
//! nonce and then adds one per packet. Tox counts **big-endian** over all 24
//! bytes, which is *not* libsodium's `sodium_increment` (little-endian); a
//! session that counted the libsodium way would fail after the first packet.

use std::fmt;

use bytes::BufMut;

use crate::CryptoRng;
use crate::codec::{Decode, DecodeError, Encode, Reader};

/// Size of a nonce.
pub const NONCE_SIZE: usize = 24;

/// A 24-byte XSalsa20 nonce, read as a big-endian number when counted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Nonce([u8; NONCE_SIZE]);

impl Nonce {
    /// Wraps 24 bytes.
    pub const fn new(bytes: [u8; NONCE_SIZE]) -> Self {
        Self(bytes)
    }

    /// A nonce from the caller's RNG, for stateless packets.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; NONCE_SIZE];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The nonce's bytes.
    pub const fn as_bytes(&self) -> &[u8; NONCE_SIZE] {
        &self.0
    }

    /// Adds one, wrapping from all-ones to zero (c-toxcore's
    /// `increment_nonce`).
    pub fn increment(&mut self) {
        self.increment_by(1);
    }

    /// Adds `n`, wrapping modulo 2^192 (c-toxcore's
    /// `increment_nonce_number`). net_crypto uses it to jump the receive
    /// nonce forward by the 16-bit difference carried in each data packet.
    pub fn increment_by(&mut self, n: u32) {
        let mut carry = u64::from(n);
        for byte in self.0.iter_mut().rev() {
            if carry == 0 {
                break;
            }
            let sum = u64::from(*byte) + (carry & 0xff);
            *byte = sum as u8;
            carry = (carry >> 8) + (sum >> 8);
        }
    }

    /// The nonce `n` steps after this one.
    #[must_use]
    pub fn plus(mut self, n: u32) -> Self {
        self.increment_by(n);
        self
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nonce(")?;
        crate::hex::write_upper(f, &self.0)?;
        f.write_str(")")
    }
}

impl Encode for Nonce {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }
    fn encoded_len(&self) -> usize {
        NONCE_SIZE
    }
}

impl Decode for Nonce {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.array("nonce").map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The nonce as a number, split into a high u64 and a low u128, so the
    /// reference arithmetic below is independent of the byte loop.
    fn split(n: &Nonce) -> (u64, u128) {
        let b = n.as_bytes();
        let hi = u64::from_be_bytes(b[..8].try_into().unwrap());
        let lo = u128::from_be_bytes(b[8..].try_into().unwrap());
        (hi, lo)
    }

    fn reference_add(n: &Nonce, k: u32) -> Nonce {
        let (hi, lo) = split(n);
        let (lo, overflow) = lo.overflowing_add(u128::from(k));
        let hi = hi.wrapping_add(u64::from(overflow));
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&hi.to_be_bytes());
        out[8..].copy_from_slice(&lo.to_be_bytes());
        Nonce(out)
    }

    #[test]
    fn increment_is_big_endian() {
        let mut n = Nonce::default();
        n.increment();
        let mut expected = [0u8; 24];
        expected[23] = 1;
        assert_eq!(n, Nonce(expected));
    }

    #[test]
    fn increment_carries_across_all_bytes() {
        let mut n = Nonce([0xff; 24]);
        n.increment();
        assert_eq!(n, Nonce([0; 24]), "wraps modulo 2^192");

        let mut bytes = [0u8; 24];
        bytes[20..].copy_from_slice(&[0x00, 0xff, 0xff, 0xff]);
        let mut n = Nonce(bytes);
        n.increment();
        assert_eq!(&n.as_bytes()[20..], &[0x01, 0x00, 0x00, 0x00]);
    }

    #[test]
    fn increment_by_adds_a_u32_with_carry() {
        let mut bytes = [0u8; 24];
        bytes[19..].copy_from_slice(&[0x00, 0xff, 0xff, 0xff, 0xff]);
        let mut n = Nonce(bytes);
        n.increment_by(0xffff_ffff);
        assert_eq!(&n.as_bytes()[19..], &[0x01, 0xff, 0xff, 0xff, 0xfe]);
    }

    proptest! {
        #[test]
        fn increment_by_matches_wide_arithmetic(bytes in any::<[u8; 24]>(), k in any::<u32>()) {
            let n = Nonce(bytes);
            prop_assert_eq!(n.plus(k), reference_add(&n, k));
        }

        #[test]
        fn increment_by_is_repeated_increment(bytes in any::<[u8; 24]>(), k in 0u32..300) {
            let mut stepped = Nonce(bytes);
            for _ in 0..k {
                stepped.increment();
            }
            prop_assert_eq!(stepped, Nonce(bytes).plus(k));
        }

        #[test]
        fn nonce_round_trips(bytes in any::<[u8; 24]>()) {
            let n = Nonce(bytes);
            prop_assert_eq!(<Nonce as Decode>::from_bytes(&n.to_bytes()), Ok(n));
        }
    }
}
