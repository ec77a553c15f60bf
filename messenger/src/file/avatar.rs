//! Our avatar, as Tox clients exchange it (tox.h `TOX_FILE_KIND_AVATAR`;
//! qTox and toxic follow the same convention).
//!
//! An avatar is an ordinary file transfer of kind
//! [`FILEKIND_AVATAR`](crate::packet::FILEKIND_AVATAR) whose file id is
//! the SHA-256 of the image, so a receiver that holds an image with that
//! hash already refuses the offer before a byte moves; an offer of size 0
//! says "no avatar". c-toxcore leaves avatars to its clients: they keep
//! the image outside the save file and offer it to each friend that comes
//! online and to every online friend when it changes. The messenger does
//! that here, and answers the chunk requests of those transfers from the
//! image it holds, so the application only ever calls
//! [`Messenger::set_avatar`](crate::messenger::Messenger::set_avatar).

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::packet::FILE_ID_LENGTH;

/// The largest avatar we offer. c-toxcore sets no limit, but its clients
/// refuse larger ones (qTox and toxic both cancel avatar offers over
/// 64 KiB), so a bigger image would never arrive.
pub const MAX_AVATAR_SIZE: usize = 64 * 1024;

/// The file id of an avatar: the SHA-256 of the image (what c-toxcore's
/// `tox_hash` gives, and what clients compare to the image they hold).
pub fn avatar_hash(image: &[u8]) -> [u8; FILE_ID_LENGTH] {
    Sha256::digest(image).into()
}

/// The image we offer as our avatar; empty means "no avatar" (offered
/// with size 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Avatar {
    pub(crate) image: Bytes,
    pub(crate) hash: [u8; FILE_ID_LENGTH],
}

impl Avatar {
    pub(crate) fn new(image: Bytes) -> Self {
        let hash = avatar_hash(&image);
        Self { image, hash }
    }
}
