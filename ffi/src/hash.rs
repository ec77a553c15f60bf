//! `tox_hash`: the SHA-256 clients use for avatar file ids (an avatar's id
//! is its hash, so a peer can skip an avatar it already has).

#![allow(
    unsafe_code,
    reason = "exports a C symbol and reads and writes C buffers"
)]

use sha2::{Digest, Sha256};

use crate::guard::guard;
use crate::limits::HASH_LENGTH;

/// Writes SHA-256 of `data[..length]` to `hash`. False when `hash` is NULL
/// or `data` is NULL with a non-zero length, as in c-toxcore.
///
/// # Safety
/// `hash` is NULL or has [`HASH_LENGTH`] writable bytes; `data` is NULL or
/// has `length` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_hash(hash: *mut u8, data: *const u8, length: usize) -> bool {
    guard(false, || {
        if hash.is_null() || (data.is_null() && length != 0) {
            return false;
        }
        let digest = if length == 0 {
            Sha256::digest([])
        } else {
            // SAFETY: `data` is not NULL and the caller promises `length`
            // readable bytes; the slice is gone before `hash` is written.
            Sha256::digest(unsafe { std::slice::from_raw_parts(data, length) })
        };
        debug_assert_eq!(digest.len(), HASH_LENGTH as usize);
        // SAFETY: `hash` is not NULL and the caller promises HASH_LENGTH
        // writable bytes; `digest` is our own buffer, so they do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(digest.as_ptr(), hash, digest.len()) };
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_with_c_toxcore_null_rules() {
        let mut hash = [0_u8; 32];
        // SAFETY: a 32-byte buffer and a 3-byte input.
        assert!(unsafe { tox_hash(hash.as_mut_ptr(), b"abc".as_ptr(), 3) });
        assert_eq!(hash[..4], [0xba, 0x78, 0x16, 0xbf]);
        // SAFETY: NULL data with length 0 is allowed.
        assert!(unsafe { tox_hash(hash.as_mut_ptr(), std::ptr::null(), 0) });
        assert_eq!(hash[..4], [0xe3, 0xb0, 0xc4, 0x42]);
        // SAFETY: NULL pointers are checked before use.
        assert!(!unsafe { tox_hash(hash.as_mut_ptr(), std::ptr::null(), 1) });
        // SAFETY: as above.
        assert!(!unsafe { tox_hash(std::ptr::null_mut(), b"abc".as_ptr(), 3) });
    }
}
