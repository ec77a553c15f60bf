//! The two texts a conference keeps besides messages: each member's name
//! and the conference title.
//!
//! Spec "Group" (both limited to 128 bytes, like every name in Tox);
//! c-toxcore `setnick` and `settitle` in `group.c`, `MAX_NAME_LENGTH`.
//!
//! They differ at the bottom: a peer may have an empty name (c-toxcore's
//! `setnick` takes length 0, and a joiner's name is empty until its name
//! message arrives), but `settitle` refuses an empty title. Both are bytes,
//! not `String`: c-toxcore checks no UTF-8.

use toxide_core::DecodeError;

use crate::packet::{MAX_NAME_LENGTH, PacketError, check_len};

/// Defines a text of `$min` to [`MAX_NAME_LENGTH`] bytes: the two types
/// below differ only in their least length and their name in errors.
macro_rules! bounded_text {
    ($(#[$attr:meta])* $name:ident, $what:literal, $min:literal) => {
        $(#[$attr])*
        pub struct $name(Vec<u8>);

        impl $name {
            /// The text, if c-toxcore would keep it.
            pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, PacketError> {
                let bytes = bytes.into();
                check_len($what, bytes.len(), $min, MAX_NAME_LENGTH)?;
                Ok(Self(bytes))
            }

            /// Its bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// Its length; at most 128, so it fits the one-byte length
            /// fields.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Whether it is empty (a name not set yet; never a title).
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The length byte the peer response and the save put before
            /// it.
            pub(super) fn len_u8(&self) -> u8 {
                u8::try_from(self.0.len()).unwrap_or(u8::MAX)
            }

            /// The text read from a packet or save, as a decoding error
            /// when its length is out of bounds.
            pub(super) fn read(bytes: &[u8]) -> Result<Self, DecodeError> {
                bounded($what, bytes, $min).map(Self)
            }
        }
    };
}

bounded_text!(
    /// A member's name: 0 to [`MAX_NAME_LENGTH`] bytes.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
    PeerName,
    "conference peer name",
    0
);

bounded_text!(
    /// A conference title: 1 to [`MAX_NAME_LENGTH`] bytes.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    Title,
    "conference title",
    1
);

fn bounded(what: &'static str, bytes: &[u8], min: usize) -> Result<Vec<u8>, DecodeError> {
    if (min..=MAX_NAME_LENGTH).contains(&bytes.len()) {
        Ok(bytes.to_vec())
    } else {
        Err(DecodeError::BadLength {
            what,
            len: bytes.len(),
            min,
            max: MAX_NAME_LENGTH,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb_name() -> impl Strategy<Value = PeerName> {
        proptest::collection::vec(any::<u8>(), 0..=MAX_NAME_LENGTH)
            .prop_map(|b| PeerName::new(b).unwrap())
    }

    pub(in super::super) fn arb_title() -> impl Strategy<Value = Title> {
        proptest::collection::vec(any::<u8>(), 1..=MAX_NAME_LENGTH)
            .prop_map(|b| Title::new(b).unwrap())
    }

    #[test]
    fn limits_are_setnick_and_settitle() {
        assert!(PeerName::new("").is_ok());
        assert!(PeerName::new(vec![b'n'; 128]).is_ok());
        assert!(PeerName::new(vec![b'n'; 129]).is_err());
        assert!(PeerName::read(&[b'n'; 129]).is_err());
        assert_eq!(
            Title::new(""),
            Err(PacketError::Unsendable {
                what: "conference title",
                len: 0,
                min: 1,
                max: 128
            })
        );
        assert!(Title::new(vec![b't'; 128]).is_ok());
        assert!(Title::new(vec![b't'; 129]).is_err());
        assert!(Title::read(b"").is_err());
        assert_eq!(Title::read(b"x").map(|t| t.len_u8()), Ok(1));
    }
}
