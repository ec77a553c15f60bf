//! Hex text for keys and Tox IDs: uppercase out (as c-toxcore clients show
//! them), either case in.

use std::fmt;

/// Writes `bytes` as uppercase hex.
pub(crate) fn write_upper(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02X}")?;
    }
    Ok(())
}

/// Fills `out` from exactly `2 * out.len()` hex digits.
///
/// On failure returns the character position of the first character that is
/// not a hex digit; the caller has already checked the length.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Result<(), usize> {
    let digits = text.as_bytes();
    for (i, (byte, pair)) in out.iter_mut().zip(digits.chunks(2)).enumerate() {
        let mut value = 0u8;
        for (j, &c) in pair.iter().enumerate() {
            let nibble = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(2 * i + j),
            };
            value = (value << 4) | nibble;
        }
        *byte = value;
    }
    Ok(())
}

/// Decodes a fixed-size value from exactly `2 * N` hex digits.
pub(crate) fn decode_array<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    if text.len() != 2 * N {
        return Err(HexError::Length {
            expected: 2 * N,
            found: text.len(),
        });
    }
    let mut out = [0u8; N];
    decode_into(text, &mut out).map_err(|position| HexError::Digit { position })?;
    Ok(out)
}

/// Why a hex string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// Wrong number of characters.
    #[error("expected {expected} hex characters, found {found}")]
    Length {
        /// Characters required.
        expected: usize,
        /// Characters given.
        found: usize,
    },
    /// A character that is not a hex digit.
    #[error("character {position} is not a hex digit")]
    Digit {
        /// Zero-based character index.
        position: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_either_case() {
        assert_eq!(decode_array::<2>("aBcD"), Ok([0xab, 0xcd]));
    }

    #[test]
    fn reports_position_and_length() {
        assert_eq!(
            decode_array::<2>("abcg"),
            Err(HexError::Digit { position: 3 })
        );
        assert_eq!(
            decode_array::<2>("abc"),
            Err(HexError::Length {
                expected: 4,
                found: 3
            })
        );
        // Multi-byte UTF-8 has the right byte length but no hex digits.
        assert_eq!(decode_array::<1>("é"), Err(HexError::Digit { position: 0 }));
    }
}
