//! The binary codec every packet type is written with.
//!
//! Tox puts integers on the wire big-endian and frames almost nothing: a
//! handler knows each field's size from the packet id and the remaining
//! length. So decoding is a cursor ([`Reader`]) that hands out exact-size
//! pieces and fails with a [`DecodeError`] naming the field that was short or
//! invalid. Nothing here trusts a length field read from the wire: a count is
//! checked against the bytes actually present before anything is allocated.
//!
//! Encoding writes into any [`bytes::BufMut`], so a caller may reuse one
//! buffer for many packets.

use bytes::BufMut;
use thiserror::Error;

/// Why a byte string could not be decoded.
///
/// Carries names of fields and sizes, never the peer's bytes: a public node
/// logs these at debug level for every bad datagram, and copying attacker data
/// into logs would make it a log-flooding target.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("{what}: needs {needed} bytes, only {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A field's value is not one the protocol allows.
    #[error("{what}: invalid value {value}")]
    InvalidValue {
        /// The field being read.
        what: &'static str,
        /// The offending value (small integers only: ids, counts, tags).
        value: u64,
    },
    /// A packet had bytes left over where its format ends.
    #[error("{what}: {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// The packet being read.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// The total length is outside what the packet kind allows.
    #[error("{what}: length {len} outside {min}..={max}")]
    BadLength {
        /// The packet being read.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The smallest allowed length.
        min: usize,
        /// The largest allowed length.
        max: usize,
    },
}

/// A type with a fixed wire encoding.
pub trait Encode {
    /// Appends the wire form of `self` to `buf`.
    fn encode(&self, buf: &mut impl BufMut);

    /// The number of bytes [`Encode::encode`] writes.
    fn encoded_len(&self) -> usize;

    /// The wire form in a fresh vector of exactly the right size.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// A type that can be read from the wire.
pub trait Decode: Sized {
    /// Reads one value from the cursor, consuming exactly its bytes.
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes a whole byte string, refusing trailing bytes.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let value = Self::decode(&mut reader)?;
        reader.finish(std::any::type_name::<Self>())?;
        Ok(value)
    }
}

/// A cursor over received bytes. Every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, what: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(DecodeError::Truncated {
                what,
                needed: n,
                available: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(what, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    /// Reads one byte and fails unless it is `expected`: packet ids and
    /// fixed type bytes.
    pub fn expect_u8(&mut self, what: &'static str, expected: u8) -> Result<(), DecodeError> {
        let found = self.u8(what)?;
        if found == expected {
            Ok(())
        } else {
            Err(DecodeError::InvalidValue {
                what,
                value: u64::from(found),
            })
        }
    }

    /// A big-endian `u16`.
    pub fn u16_be(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `u32`.
    pub fn u32_be(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `u64`.
    pub fn u64_be(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// Fails unless everything has been read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                what,
                extra: self.rest.len(),
            })
        }
    }

    /// Fails unless the bytes left are within `min..=max`. Packet decoders
    /// call this first, so a wrong-sized datagram is refused before any
    /// expensive work (a Diffie-Hellman, an allocation) is done on it.
    pub fn expect_remaining(
        &self,
        what: &'static str,
        min: usize,
        max: usize,
    ) -> Result<(), DecodeError> {
        let len = self.rest.len();
        if len < min || len > max {
            Err(DecodeError::BadLength {
                what,
                len,
                min,
                max,
            })
        } else {
            Ok(())
        }
    }

    /// Reads `count` values, having first checked that `count` is at most
    /// `max`. The count usually comes from the wire; checking it before the
    /// loop means a forged count can neither allocate much nor loop long.
    pub fn items<T: Decode>(
        &mut self,
        what: &'static str,
        count: usize,
        max: usize,
    ) -> Result<Vec<T>, DecodeError> {
        if count > max {
            return Err(DecodeError::InvalidValue {
                what,
                value: count as u64,
            });
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(T::decode(self)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers_are_big_endian() {
        let bytes = [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
            0x0f,
        ];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("a").unwrap(), 0x01);
        assert_eq!(r.u16_be("b").unwrap(), 0x0203);
        assert_eq!(r.u32_be("c").unwrap(), 0x0405_0607);
        assert_eq!(r.u64_be("d").unwrap(), 0x0809_0a0b_0c0d_0e0f);
        assert!(r.is_empty());
    }

    #[test]
    fn truncation_names_the_field() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(
            r.u32_be("ping id"),
            Err(DecodeError::Truncated {
                what: "ping id",
                needed: 4,
                available: 3
            })
        );
        // A failed read consumes nothing.
        assert_eq!(r.remaining(), 3);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let r = Reader::new(&[0]);
        assert_eq!(
            r.finish("x"),
            Err(DecodeError::TrailingBytes {
                what: "x",
                extra: 1
            })
        );
    }

    #[test]
    fn forged_counts_are_refused_before_allocating() {
        let mut r = Reader::new(&[]);
        let err = r
            .items::<crate::PublicKey>("nodes", usize::MAX, 4)
            .unwrap_err();
        assert_eq!(
            err,
            DecodeError::InvalidValue {
                what: "nodes",
                value: usize::MAX as u64
            }
        );
    }

    #[test]
    fn length_check_reports_bounds() {
        assert!(
            Reader::new(&[0; 82])
                .expect_remaining("ping", 82, 82)
                .is_ok()
        );
        assert_eq!(
            Reader::new(&[0; 81]).expect_remaining("ping", 82, 82),
            Err(DecodeError::BadLength {
                what: "ping",
                len: 81,
                min: 82,
                max: 82
            })
        );
    }

    proptest! {
        #[test]
        fn reads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), n in 0usize..100) {
            let mut r = Reader::new(&bytes);
            let _ = r.take("t", n);
            let _ = r.u64_be("u");
            let _ = r.array::<33>("a");
            let _ = r.items::<crate::PublicKey>("k", n, 8);
            prop_assert!(r.remaining() <= bytes.len());
        }
    }
}
