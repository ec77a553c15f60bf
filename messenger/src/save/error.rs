//! Why a save file could not be loaded, or a value not saved.

use thiserror::Error;

/// Why [`SaveData::load`](super::SaveData::load) refused the data.
///
/// Each of these is a case where c-toxcore 0.2.18's `tox_new` fails too
/// (its `state_load` or a section loader returns an error), plus
/// [`Encrypted`](Self::Encrypted) and [`MissingKeys`](Self::MissingKeys),
/// which it would not report but which leave nothing worth loading.
/// Offsets count from the start of the data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SaveError {
    /// The data is a toxencryptsave container, not a plain save.
    #[error("the save is encrypted (toxEsave): decrypt it with its passphrase first")]
    Encrypted,
    /// Shorter than the 8-byte header.
    #[error("not a Tox save: {len} bytes, shorter than the 8-byte header")]
    TooShort {
        /// Length of the data.
        len: usize,
    },
    /// The header is not a zero word and `STATE_COOKIE_GLOBAL`.
    #[error("not a Tox save: the header is not 00000000 1f1bed15")]
    BadHeader,
    /// A section claims more bytes than the data has left.
    #[error("section at byte {offset} (type {kind}) claims {len} bytes, only {available} are left")]
    SectionTruncated {
        /// Where its header starts.
        offset: usize,
        /// Its type.
        kind: u16,
        /// The length its header claims.
        len: u32,
        /// The bytes left after its header.
        available: usize,
    },
    /// A section header without `STATE_COOKIE_TYPE`: the framing is lost.
    #[error("section at byte {offset} has cookie {cookie:#06x}, expected 0x01ce")]
    BadSectionCookie {
        /// Where its header starts.
        offset: usize,
        /// The cookie found.
        cookie: u16,
    },
    /// 1 to 7 bytes after the last section, with no end-of-file section.
    #[error("{extra} bytes after the last section, too few for a section header")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The end-of-file section has a body.
    #[error("the end-of-file section has {len} bytes, it must be empty")]
    EofNotEmpty {
        /// The length its header claims.
        len: u32,
    },
    /// The nospam-and-keys section is not 68 bytes.
    #[error("the keys section has {len} bytes, it must have 68")]
    KeysLength {
        /// Its length.
        len: usize,
    },
    /// The saved public key is not the one of the saved secret key.
    #[error("the saved public key does not belong to the saved secret key")]
    KeyMismatch,
    /// No nospam-and-keys section: a save without an identity.
    #[error("no keys section (type 1): the save holds no identity")]
    MissingKeys,
    /// The conferences section (20) does not read.
    #[error("the conferences section does not read: {0}")]
    Conferences(toxide_core::DecodeError),
    /// The friends section is not a whole number of records.
    #[error("the friends section has {len} bytes, not a multiple of the 2216-byte record")]
    FriendsLength {
        /// Its length.
        len: usize,
    },
}

/// Why a text cannot be saved as given: c-toxcore would drop it on load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TextError {
    /// Longer than c-toxcore keeps.
    #[error("{what} of {len} bytes is longer than the {max} bytes c-toxcore keeps")]
    TooLong {
        /// Which text.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// Empty where c-toxcore needs at least one byte.
    #[error("{what} must not be empty")]
    Empty {
        /// Which text.
        what: &'static str,
    },
}
