//! What a user shows friends: name, status message and user status
//! (checklist V6, M3–M5; c-toxcore `MAX_NAME_LENGTH`,
//! `MAX_STATUSMESSAGE_LENGTH`, `Userstatus`).
//!
//! The texts are bytes (c-toxcore does not check UTF-8) with c-toxcore's
//! limits built in, so that everything saved is what c-toxcore loads: it
//! silently drops a longer name or status message (`setname`,
//! `m_set_statusmessage`, `setfriendname`).

use super::error::TextError;

/// The longest name c-toxcore keeps (`MAX_NAME_LENGTH`).
pub const MAX_NAME_LENGTH: usize = 128;
/// The longest status message c-toxcore keeps (`MAX_STATUSMESSAGE_LENGTH`).
pub const MAX_STATUS_MESSAGE_LENGTH: usize = 1007;

/// Checks `bytes` against `min..=max` before it becomes a text.
pub(super) fn bounded(
    what: &'static str,
    bytes: Vec<u8>,
    min: usize,
    max: usize,
) -> Result<Vec<u8>, TextError> {
    if bytes.len() > max {
        Err(TextError::TooLong {
            what,
            len: bytes.len(),
            max,
        })
    } else if bytes.len() < min {
        Err(TextError::Empty { what })
    } else {
        Ok(bytes)
    }
}

/// A user's or friend's name: at most [`MAX_NAME_LENGTH`] bytes, maybe
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Name(Vec<u8>);

impl Name {
    /// The name, if it is short enough.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, TextError> {
        bounded("name", bytes.into(), 0, MAX_NAME_LENGTH).map(Self)
    }

    /// The bytes of the name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A status message: at most [`MAX_STATUS_MESSAGE_LENGTH`] bytes, maybe
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct StatusMessage(Vec<u8>);

impl StatusMessage {
    /// The message, if it is short enough.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, TextError> {
        bounded("status message", bytes.into(), 0, MAX_STATUS_MESSAGE_LENGTH).map(Self)
    }

    /// The bytes of the message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The user status as saved: the byte the messenger packet carries
/// (one type, so the two cannot drift apart).
pub use crate::packet::UserStatus;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_c_toxcores() {
        assert!(Name::new(vec![b'n'; 128]).is_ok());
        assert_eq!(
            Name::new(vec![b'n'; 129]),
            Err(TextError::TooLong {
                what: "name",
                len: 129,
                max: 128
            })
        );
        assert!(StatusMessage::new(vec![b's'; 1007]).is_ok());
        assert!(StatusMessage::new(vec![b's'; 1008]).is_err());
        assert_eq!(Name::new(""), Ok(Name::default()));
    }

    #[test]
    fn user_status_bytes() {
        for status in [UserStatus::None, UserStatus::Away, UserStatus::Busy] {
            assert_eq!(UserStatus::from_u8(status.to_u8()), Some(status));
        }
        assert_eq!(UserStatus::from_u8(3), None);
    }
}
