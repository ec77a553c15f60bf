//! toxencryptsave.h: data (a save, above all) sealed under a passphrase,
//! on toxide-messenger's `save::toxencryptsave`, which has c-toxcore's
//! byte layout and key derivation. This module only checks and copies the
//! C buffers and maps the errors to the header's codes, in c-toxcore
//! 0.2.18's order: for decryption the length is checked before the
//! pointers, then the magic, then the key.
//!
//! `Tox_Pass_Key` is a [`PassKey`] boxed on the Rust heap; C holds the
//! pointer, and `tox_pass_key_free` drops the box, which wipes the key
//! bytes (they are `Zeroizing`).
//!
//! One deliberate difference: `tox_is_data_encrypted(NULL)` is false here,
//! where c-toxcore reads through the NULL pointer.

#![allow(
    unsafe_code,
    reason = "exports C symbols and reads and writes C buffers and key pointers"
)]

use std::ptr;

use toxide_messenger::save::toxencryptsave::{
    self as tes, ENCRYPTION_EXTRA_LENGTH, KEY_SIZE, MAGIC, PassError, PassKey, SALT_SIZE,
};

use crate::cbuf::{input, outcome, output};
use crate::guard::{guard, guard_with_error};
use crate::types::{ErrDecryption, ErrEncryption, ErrGetSalt, ErrKeyDerivation};

/// `TOX_PASS_SALT_LENGTH`.
pub const PASS_SALT_LENGTH: u32 = SALT_SIZE as u32;
/// `TOX_PASS_KEY_LENGTH`.
pub const PASS_KEY_LENGTH: u32 = KEY_SIZE as u32;
/// `TOX_PASS_ENCRYPTION_EXTRA_LENGTH`: magic, salt, nonce and MAC.
pub const PASS_ENCRYPTION_EXTRA_LENGTH: u32 = ENCRYPTION_EXTRA_LENGTH as u32;

/// toxencryptsave.h's `Tox_Pass_Key`, opaque to C: a derived key and its
/// salt. Made by the `tox_pass_key_derive*` functions, freed by
/// [`tox_pass_key_free`].
#[derive(Debug)]
pub struct ToxPassKey(PassKey);

/// [`PASS_SALT_LENGTH`], for C.
#[unsafe(no_mangle)]
pub extern "C" fn tox_pass_salt_length() -> u32 {
    guard(PASS_SALT_LENGTH, || PASS_SALT_LENGTH)
}

/// [`PASS_KEY_LENGTH`], for C.
#[unsafe(no_mangle)]
pub extern "C" fn tox_pass_key_length() -> u32 {
    guard(PASS_KEY_LENGTH, || PASS_KEY_LENGTH)
}

/// [`PASS_ENCRYPTION_EXTRA_LENGTH`], for C.
#[unsafe(no_mangle)]
pub extern "C" fn tox_pass_encryption_extra_length() -> u32 {
    guard(PASS_ENCRYPTION_EXTRA_LENGTH, || {
        PASS_ENCRYPTION_EXTRA_LENGTH
    })
}

fn decryption_error(error: PassError) -> ErrDecryption {
    match error {
        PassError::TooShort { .. } => ErrDecryption::InvalidLength,
        PassError::NotEncrypted => ErrDecryption::BadFormat,
        PassError::KeyDerivation => ErrDecryption::KeyDerivationFailed,
        PassError::WrongPassphrase | PassError::OtherSalt | PassError::EmptyPlaintext => {
            ErrDecryption::Failed
        }
    }
}

/// Encrypts `plaintext[..plaintext_len]` under the passphrase with a fresh
/// salt and nonce into `ciphertext`, which must have
/// `plaintext_len + TOX_PASS_ENCRYPTION_EXTRA_LENGTH` bytes. Empty
/// plaintext is `TOX_ERR_ENCRYPTION_NULL`, as in c-toxcore; a NULL
/// passphrase of length 0 is the empty passphrase.
///
/// # Safety
/// Each pointer is NULL or valid for its length (`ciphertext` for
/// writing, and not overlapping the inputs); `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_pass_encrypt(
    plaintext: *const u8,
    plaintext_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    ciphertext: *mut u8,
    error: *mut ErrEncryption,
) -> bool {
    let body = || {
        // SAFETY: the inputs are valid for their lengths by contract.
        let (passphrase, plain) = unsafe {
            (
                input(passphrase, passphrase_len),
                input(plaintext, plaintext_len),
            )
        };
        let (Some(passphrase), Some(plain)) = (passphrase, plain) else {
            return (false, ErrEncryption::Null);
        };
        if plain.is_empty() || ciphertext.is_null() {
            return (false, ErrEncryption::Null);
        }
        let result = PassKey::derive(passphrase, &mut rand::rng())
            .map_err(|_| ErrEncryption::KeyDerivationFailed)
            .and_then(|key| {
                let sealed = key
                    .encrypt(plain, &mut rand::rng())
                    .map_err(|_| ErrEncryption::Failed)?;
                // SAFETY: not NULL, and the caller promises room for
                // the plaintext and the overhead, which `sealed` is.
                unsafe { output(ciphertext, &sealed) };
                Ok(())
            });
        outcome(ErrEncryption::Ok, result)
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrEncryption::Failed), body) }
}

/// Decrypts `ciphertext[..ciphertext_len]` under the passphrase into
/// `plaintext`, which must have `ciphertext_len -
/// TOX_PASS_ENCRYPTION_EXTRA_LENGTH` bytes. As in c-toxcore, data not
/// longer than the overhead is `INVALID_LENGTH` whatever the pointers, and
/// a NULL passphrase is `NULL` even with length 0.
///
/// # Safety
/// Each pointer is NULL or valid for its length (`plaintext` for writing,
/// and not overlapping the inputs); `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_pass_decrypt(
    ciphertext: *const u8,
    ciphertext_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    plaintext: *mut u8,
    error: *mut ErrDecryption,
) -> bool {
    let body = || {
        if ciphertext_len <= ENCRYPTION_EXTRA_LENGTH {
            return (false, ErrDecryption::InvalidLength);
        }
        if ciphertext.is_null() || passphrase.is_null() || plaintext.is_null() {
            return (false, ErrDecryption::Null);
        }
        // SAFETY: neither is NULL, and both are valid for their
        // lengths by contract.
        let (data, passphrase) = unsafe {
            (
                std::slice::from_raw_parts(ciphertext, ciphertext_len),
                input(passphrase, passphrase_len).unwrap_or_default(),
            )
        };
        let result = tes::pass_decrypt(passphrase, data)
            .map_err(decryption_error)
            .map(|plain| {
                // SAFETY: not NULL, and the caller promises room for the
                // data less the overhead, which `plain` is.
                unsafe { output(plaintext, &plain) };
            });
        outcome(ErrDecryption::Ok, result)
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrDecryption::Failed), body) }
}

/// Frees a key from the `tox_pass_key_derive*` functions, wiping it.
/// NULL is allowed.
///
/// # Safety
/// `key` is NULL or a key those functions returned, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_pass_key_free(key: *mut ToxPassKey) {
    guard((), || {
        if !key.is_null() {
            // SAFETY: made by `Box::into_raw` in `new_key` and not freed
            // yet, by the contract; dropping it zeroises the key bytes.
            drop(unsafe { Box::from_raw(key) });
        }
    });
}

/// `key` on the heap for C, with its code.
fn new_key(key: Result<PassKey, PassError>) -> (*mut ToxPassKey, ErrKeyDerivation) {
    match key {
        Ok(key) => (
            Box::into_raw(Box::new(ToxPassKey(key))),
            ErrKeyDerivation::Ok,
        ),
        Err(_) => (ptr::null_mut(), ErrKeyDerivation::Failed),
    }
}

/// Derives a key from the passphrase with a fresh random salt; free it
/// with [`tox_pass_key_free`]. NULL on failure.
///
/// # Safety
/// `passphrase` is NULL or has `passphrase_len` readable bytes; `error` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_pass_key_derive(
    passphrase: *const u8,
    passphrase_len: usize,
    error: *mut ErrKeyDerivation,
) -> *mut ToxPassKey {
    let body = || {
        // SAFETY: valid for its length by contract.
        let Some(passphrase) = (unsafe { input(passphrase, passphrase_len) }) else {
            return (ptr::null_mut(), ErrKeyDerivation::Null);
        };
        new_key(PassKey::derive(passphrase, &mut rand::rng()))
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (ptr::null_mut(), ErrKeyDerivation::Failed), body) }
}

/// Derives the key for the passphrase and the `TOX_PASS_SALT_LENGTH` bytes
/// at `salt` (e.g. from [`tox_get_salt`]); free it with
/// [`tox_pass_key_free`]. NULL on failure.
///
/// # Safety
/// `passphrase` is NULL or has `passphrase_len` readable bytes, `salt` is
/// NULL or has `TOX_PASS_SALT_LENGTH`; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_pass_key_derive_with_salt(
    passphrase: *const u8,
    passphrase_len: usize,
    salt: *const u8,
    error: *mut ErrKeyDerivation,
) -> *mut ToxPassKey {
    let body = || {
        // SAFETY: valid for its length by contract.
        let passphrase = unsafe { input(passphrase, passphrase_len) };
        let (Some(passphrase), false) = (passphrase, salt.is_null()) else {
            return (ptr::null_mut(), ErrKeyDerivation::Null);
        };
        // SAFETY: not NULL, and SALT_SIZE readable bytes by contract;
        // `read_unaligned` as a byte array has no alignment anyway.
        let salt = unsafe { salt.cast::<[u8; SALT_SIZE]>().read_unaligned() };
        new_key(PassKey::derive_with_salt(passphrase, salt))
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (ptr::null_mut(), ErrKeyDerivation::Failed), body) }
}

/// Encrypts `plaintext[..plaintext_len]` under `key` with a fresh nonce
/// into `ciphertext`, which must have `plaintext_len +
/// TOX_PASS_ENCRYPTION_EXTRA_LENGTH` bytes. Empty plaintext is
/// `TOX_ERR_ENCRYPTION_NULL`, as in c-toxcore.
///
/// # Safety
/// `key` is NULL or a live key from this library; the buffers are NULL or
/// valid for their lengths (`ciphertext` for writing, not overlapping);
/// `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_pass_key_encrypt(
    key: *const ToxPassKey,
    plaintext: *const u8,
    plaintext_len: usize,
    ciphertext: *mut u8,
    error: *mut ErrEncryption,
) -> bool {
    let body = || {
        if plaintext_len == 0 || plaintext.is_null() || ciphertext.is_null() {
            return (false, ErrEncryption::Null);
        }
        // SAFETY: NULL or a live key of ours, by contract.
        let Some(ToxPassKey(key)) = (unsafe { key.as_ref() }) else {
            return (false, ErrEncryption::Null);
        };
        // SAFETY: not NULL, and readable for its length by contract.
        let plain = unsafe { std::slice::from_raw_parts(plaintext, plaintext_len) };
        let result = key
            .encrypt(plain, &mut rand::rng())
            .map_err(|_| ErrEncryption::Failed)
            .map(|sealed| {
                // SAFETY: not NULL, and the caller promises room for
                // the plaintext and the overhead, which `sealed` is.
                unsafe { output(ciphertext, &sealed) };
            });
        outcome(ErrEncryption::Ok, result)
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrEncryption::Failed), body) }
}

/// Decrypts `ciphertext[..ciphertext_len]` with `key` into `plaintext`,
/// which must have `ciphertext_len - TOX_PASS_ENCRYPTION_EXTRA_LENGTH`
/// bytes. As in c-toxcore the salt in the data is not compared with the
/// key's (it only matters for deriving): a key is simply tried.
///
/// # Safety
/// `key` is NULL or a live key from this library; the buffers are NULL or
/// valid for their lengths (`plaintext` for writing, not overlapping);
/// `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_pass_key_decrypt(
    key: *const ToxPassKey,
    ciphertext: *const u8,
    ciphertext_len: usize,
    plaintext: *mut u8,
    error: *mut ErrDecryption,
) -> bool {
    let body = || {
        if ciphertext_len <= ENCRYPTION_EXTRA_LENGTH {
            return (false, ErrDecryption::InvalidLength);
        }
        if ciphertext.is_null() || plaintext.is_null() {
            return (false, ErrDecryption::Null);
        }
        // SAFETY: NULL or a live key of ours, by contract.
        let Some(ToxPassKey(key)) = (unsafe { key.as_ref() }) else {
            return (false, ErrDecryption::Null);
        };
        // SAFETY: not NULL, and readable for its length by contract.
        let data = unsafe { std::slice::from_raw_parts(ciphertext, ciphertext_len) };
        // SAFETY: `plaintext` is not NULL and, by contract, has room for
        // the data less the overhead, apart from the data.
        let result = unsafe { key_decrypt(key, data, plaintext) };
        outcome(ErrDecryption::Ok, result)
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrDecryption::Failed), body) }
}

/// [`PassKey::decrypt`], which insists on the key's own salt, with the
/// data's salt replaced by the key's first when they differ, so that as in
/// c-toxcore only the key decides.
///
/// # Safety
/// `plaintext` is not NULL and has `data.len() - ENCRYPTION_EXTRA_LENGTH`
/// writable bytes, not overlapping `data`.
unsafe fn key_decrypt(key: &PassKey, data: &[u8], plaintext: *mut u8) -> Result<(), ErrDecryption> {
    let salt = tes::salt_of(data).map_err(decryption_error)?;
    let plain = if &salt == key.salt() {
        key.decrypt(data)
    } else {
        let mut resalted = data.to_vec();
        if let Some(field) = resalted
            .get_mut(MAGIC.len()..)
            .and_then(|rest| rest.first_chunk_mut::<SALT_SIZE>())
        {
            *field = *key.salt();
        }
        key.decrypt(&resalted)
    }
    .map_err(decryption_error)?;
    // SAFETY: forwarded from this function's contract; `plain` is the
    // data less the overhead.
    unsafe { output(plaintext, &plain) };
    Ok(())
}

/// Copies the salt of encrypted data to `salt` (`TOX_PASS_SALT_LENGTH`
/// bytes), to derive its key with [`tox_pass_key_derive_with_salt`].
///
/// # Safety
/// `ciphertext` is NULL or has at least the magic's 8 readable bytes, and
/// the 32 of the salt after them when they are the magic (encrypted data
/// has); `salt` is NULL or has `TOX_PASS_SALT_LENGTH` writable bytes;
/// `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_get_salt(
    ciphertext: *const u8,
    salt: *mut u8,
    error: *mut ErrGetSalt,
) -> bool {
    let body = || {
        if ciphertext.is_null() || salt.is_null() {
            return (false, ErrGetSalt::Null);
        }
        // SAFETY: not NULL, with the magic's bytes readable by contract.
        let magic = unsafe { std::slice::from_raw_parts(ciphertext, MAGIC.len()) };
        if !tes::is_encrypted(magic) {
            return (false, ErrGetSalt::BadFormat);
        }
        // SAFETY: it starts with the magic, so by contract the salt
        // follows.
        let head = unsafe { std::slice::from_raw_parts(ciphertext, MAGIC.len() + SALT_SIZE) };
        match tes::salt_of(head) {
            Ok(bytes) => {
                // SAFETY: not NULL, SALT_SIZE writable bytes by contract.
                unsafe { output(salt, &bytes) };
                (true, ErrGetSalt::Ok)
            }
            Err(_) => (false, ErrGetSalt::BadFormat),
        }
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrGetSalt::BadFormat), body) }
}

/// Whether `data` starts with toxencryptsave's magic. False for NULL
/// (c-toxcore would read through it).
///
/// # Safety
/// `data` is NULL or has at least the magic's 8 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_is_data_encrypted(data: *const u8) -> bool {
    guard(false, || {
        // SAFETY: NULL is checked; otherwise 8 readable bytes by contract.
        !data.is_null()
            && tes::is_encrypted(unsafe { std::slice::from_raw_parts(data, MAGIC.len()) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &[u8] = b"a save file";
    const PASS: &[u8] = b"hunter2";

    fn encrypt() -> Vec<u8> {
        let mut sealed = vec![0; PLAIN.len() + ENCRYPTION_EXTRA_LENGTH];
        let mut code = ErrEncryption::Failed;
        // SAFETY: every buffer has its length; `code` is writable.
        let ok = unsafe {
            tox_pass_encrypt(
                PLAIN.as_ptr(),
                PLAIN.len(),
                PASS.as_ptr(),
                PASS.len(),
                sealed.as_mut_ptr(),
                &raw mut code,
            )
        };
        assert!(ok);
        assert_eq!(code, ErrEncryption::Ok);
        sealed
    }

    #[test]
    fn a_key_opens_data_whatever_salt_it_carries() {
        let sealed = encrypt();
        let mut salt = [0; SALT_SIZE];
        let mut code = ErrGetSalt::Null;
        // SAFETY: encrypted data and a salt-sized buffer.
        assert!(unsafe { tox_get_salt(sealed.as_ptr(), salt.as_mut_ptr(), &raw mut code) });
        assert_eq!(code, ErrGetSalt::Ok);
        assert_eq!(sealed.get(8..40), Some(&salt[..]));

        let mut code = ErrKeyDerivation::Failed;
        // SAFETY: a passphrase of its length, the salt, a writable code.
        let key = unsafe {
            tox_pass_key_derive_with_salt(PASS.as_ptr(), PASS.len(), salt.as_ptr(), &raw mut code)
        };
        assert!(!key.is_null());
        assert_eq!(code, ErrKeyDerivation::Ok);

        // Another salt in the data: c-toxcore ignores it, so do we.
        let mut altered = sealed.clone();
        if let Some(byte) = altered.get_mut(8) {
            *byte ^= 1;
        }
        for data in [&sealed, &altered] {
            let mut plain = vec![0; PLAIN.len()];
            let mut code = ErrDecryption::Null;
            // SAFETY: `key` is live; the buffers have their lengths.
            let ok = unsafe {
                tox_pass_key_decrypt(
                    key,
                    data.as_ptr(),
                    data.len(),
                    plain.as_mut_ptr(),
                    &raw mut code,
                )
            };
            assert!(ok, "{code:?}");
            assert_eq!(plain, PLAIN);
        }
        // SAFETY: `key` came from this library and is freed once; NULL is
        // allowed.
        unsafe {
            tox_pass_key_free(key);
            tox_pass_key_free(ptr::null_mut());
        }
    }

    #[test]
    fn null_and_short_inputs_have_c_toxcores_codes() {
        let sealed = encrypt();
        let mut plain = vec![0; PLAIN.len()];
        let mut code = ErrDecryption::Ok;
        // SAFETY: NULL ciphertext with a short length is checked first.
        let ok = unsafe {
            tox_pass_decrypt(
                ptr::null(),
                80,
                PASS.as_ptr(),
                7,
                plain.as_mut_ptr(),
                &raw mut code,
            )
        };
        assert!(!ok);
        assert_eq!(code, ErrDecryption::InvalidLength);
        // SAFETY: a NULL passphrase is checked before use.
        let ok = unsafe {
            tox_pass_decrypt(
                sealed.as_ptr(),
                sealed.len(),
                ptr::null(),
                0,
                plain.as_mut_ptr(),
                &raw mut code,
            )
        };
        assert!(!ok);
        assert_eq!(code, ErrDecryption::Null);
        // SAFETY: NULL is checked.
        assert!(!unsafe { tox_is_data_encrypted(ptr::null()) });
        // SAFETY: at least 8 readable bytes.
        assert!(unsafe { tox_is_data_encrypted(sealed.as_ptr()) });
    }
}
