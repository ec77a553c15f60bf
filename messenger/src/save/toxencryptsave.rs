//! toxencryptsave: a save (or any data) sealed under a passphrase
//! (checklist V11–V13; c-toxcore `toxencryptsave/toxencryptsave.c`).
//!
//! | bytes | field                                                  |
//! |-------|--------------------------------------------------------|
//! | 8     | magic `"toxEsave"`                                     |
//! | 32    | salt of the key derivation                             |
//! | 24    | nonce                                                  |
//! | n+16  | `secretbox` (XSalsa20-Poly1305): MAC, then ciphertext  |
//!
//! The key is scrypt of **SHA-256(passphrase)**, not of the passphrase,
//! with the salt above, as libsodium's `crypto_pwhash_scryptsalsa208sha256`
//! computes it for c-toxcore's limits: opslimit twice
//! `OPSLIMIT_INTERACTIVE` (2 × 524 288) and memlimit `MEMLIMIT_INTERACTIVE`
//! (16 MiB). libsodium turns those into scrypt's parameters itself
//! (`pickparams`): as opslimit is not below memlimit / 32, r = 8, N is the
//! smallest power of two above memlimit / (128 r) / 2 = 8192, so 2^14, and
//! p = (opslimit / 4 / N) / r = 2. Deriving costs 16 MiB and some
//! tens of milliseconds, which is why [`PassKey`] exists: a client derives
//! once and encrypts every later save with it (c-toxcore `Tox_Pass_Key`).
//!
//! c-toxcore refuses to encrypt empty data, and to decrypt anything not
//! longer than the 80 bytes of overhead; so does this module.

use rand::CryptoRng;
use sha2::{Digest, Sha256};
use thiserror::Error;
use toxide_core::{NONCE_SIZE, Nonce, SymmetricKey};
use zeroize::Zeroizing;

/// The first bytes of encrypted data (`TOX_ENC_SAVE_MAGIC_NUMBER`).
pub const MAGIC: &[u8; 8] = b"toxEsave";
/// Size of the key-derivation salt (`TOX_PASS_SALT_LENGTH`).
pub const SALT_SIZE: usize = 32;
/// Size of the derived key (`TOX_PASS_KEY_LENGTH`).
pub const KEY_SIZE: usize = 32;
/// What encryption adds: magic, salt, nonce and MAC
/// (`TOX_PASS_ENCRYPTION_EXTRA_LENGTH`).
pub const ENCRYPTION_EXTRA_LENGTH: usize = MAGIC.len() + SALT_SIZE + NONCE_SIZE + MAC_SIZE;

const MAC_SIZE: usize = toxide_core::MAC_SIZE;
/// scrypt's log2 N, r and p for libsodium's opslimit 1 048 576 and
/// memlimit 16 MiB (see the module documentation).
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 2;

/// Why encrypted data could not be made or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PassError {
    /// Nothing to encrypt: c-toxcore refuses it, and could not open the
    /// result.
    #[error("cannot encrypt empty data")]
    EmptyPlaintext,
    /// Not longer than the 80 bytes of overhead.
    #[error(
        "encrypted data of {len} bytes is too short: it needs more than {ENCRYPTION_EXTRA_LENGTH}"
    )]
    TooShort {
        /// Its length.
        len: usize,
    },
    /// Does not start with `"toxEsave"`.
    #[error("not toxencryptsave data: it does not start with \"toxEsave\"")]
    NotEncrypted,
    /// The MAC did not verify.
    #[error("wrong passphrase (or the encrypted data was altered)")]
    WrongPassphrase,
    /// A [`PassKey`] derived with another salt than the data's: derive one
    /// with [`salt_of`] the data. (c-toxcore tries the key anyway and
    /// reports a failed decryption.)
    #[error("the key was derived with another salt than this data's")]
    OtherSalt,
    /// scrypt refused its parameters; cannot happen with the fixed ones.
    #[error("key derivation failed")]
    KeyDerivation,
}

/// Whether `data` is toxencryptsave data (`tox_is_data_encrypted`: the
/// magic alone is checked).
pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// The salt encrypted data was made with (`tox_get_salt`), to derive the
/// matching [`PassKey`] once for several files made with one key.
pub fn salt_of(data: &[u8]) -> Result<[u8; SALT_SIZE], PassError> {
    let rest = data.strip_prefix(MAGIC).ok_or(PassError::NotEncrypted)?;
    rest.first_chunk::<SALT_SIZE>()
        .copied()
        .ok_or(PassError::TooShort { len: data.len() })
}

/// A key derived from a passphrase and a salt (c-toxcore `Tox_Pass_Key`).
///
/// Deriving is deliberately slow; keep the key to encrypt each new save.
/// The key bytes are wiped on drop and never printed.
#[derive(Clone)]
pub struct PassKey {
    salt: [u8; SALT_SIZE],
    key: Zeroizing<[u8; KEY_SIZE]>,
}

impl std::fmt::Debug for PassKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassKey")
            .field("salt", &self.salt)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl PassKey {
    /// Derives a key with a fresh random salt (`tox_pass_key_derive`).
    pub fn derive<R: CryptoRng + ?Sized>(
        passphrase: &[u8],
        rng: &mut R,
    ) -> Result<Self, PassError> {
        let mut salt = [0u8; SALT_SIZE];
        rng.fill_bytes(&mut salt);
        Self::derive_with_salt(passphrase, salt)
    }

    /// Derives the key for `salt` (`tox_pass_key_derive_with_salt`), e.g.
    /// the [`salt_of`] a file to open.
    pub fn derive_with_salt(passphrase: &[u8], salt: [u8; SALT_SIZE]) -> Result<Self, PassError> {
        let hashed = Zeroizing::new(<[u8; 32]>::from(Sha256::digest(passphrase)));
        let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)
            .map_err(|_| PassError::KeyDerivation)?;
        let mut key = Zeroizing::new([0u8; KEY_SIZE]);
        scrypt::scrypt(hashed.as_ref(), &salt, &params, key.as_mut())
            .map_err(|_| PassError::KeyDerivation)?;
        Ok(Self { salt, key })
    }

    /// The salt this key was derived with; encrypted data carries it.
    pub fn salt(&self) -> &[u8; SALT_SIZE] {
        &self.salt
    }

    /// Encrypts `plain` under this key with a fresh random nonce
    /// (`tox_pass_key_encrypt`); the result is
    /// [`ENCRYPTION_EXTRA_LENGTH`] bytes longer.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &self,
        plain: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, PassError> {
        if plain.is_empty() {
            return Err(PassError::EmptyPlaintext);
        }
        let nonce = Nonce::random(rng);
        let sealed = SymmetricKey::from_bytes(&self.key).encrypt(&nonce, plain);
        let mut out = Vec::with_capacity(ENCRYPTION_EXTRA_LENGTH + plain.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(nonce.as_bytes());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts data made with this key (`tox_pass_key_decrypt`).
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, PassError> {
        let parts = split(data)?;
        if parts.salt != &self.salt {
            return Err(PassError::OtherSalt);
        }
        SymmetricKey::from_bytes(&self.key)
            .decrypt(&Nonce::new(*parts.nonce), parts.sealed)
            .map_err(|_| PassError::WrongPassphrase)
    }
}

/// The parts of encrypted data.
struct Parts<'a> {
    salt: &'a [u8; SALT_SIZE],
    nonce: &'a [u8; NONCE_SIZE],
    sealed: &'a [u8],
}

/// Splits encrypted data, checked as c-toxcore checks it: length first,
/// then the magic.
fn split(data: &[u8]) -> Result<Parts<'_>, PassError> {
    if data.len() <= ENCRYPTION_EXTRA_LENGTH {
        return Err(PassError::TooShort { len: data.len() });
    }
    let rest = data.strip_prefix(MAGIC).ok_or(PassError::NotEncrypted)?;
    let (salt, rest) = rest
        .split_first_chunk::<SALT_SIZE>()
        .ok_or(PassError::TooShort { len: data.len() })?;
    let (nonce, sealed) = rest
        .split_first_chunk::<NONCE_SIZE>()
        .ok_or(PassError::TooShort { len: data.len() })?;
    Ok(Parts {
        salt,
        nonce,
        sealed,
    })
}

/// Encrypts `plain` under `passphrase` with a fresh salt and nonce
/// (`tox_pass_encrypt`). Derives a key each call: a client that saves
/// often should keep a [`PassKey`] instead.
pub fn pass_encrypt<R: CryptoRng + ?Sized>(
    passphrase: &[u8],
    plain: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, PassError> {
    if plain.is_empty() {
        return Err(PassError::EmptyPlaintext);
    }
    PassKey::derive(passphrase, rng)?.encrypt(plain, rng)
}

/// Decrypts data encrypted under `passphrase` (`tox_pass_decrypt`). The
/// format is checked before the slow key derivation.
pub fn pass_decrypt(passphrase: &[u8], data: &[u8]) -> Result<Vec<u8>, PassError> {
    let salt = *split(data)?.salt;
    PassKey::derive_with_salt(passphrase, salt)?.decrypt(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// libsodium's `crypto_pwhash_scryptsalsa208sha256` with c-toxcore's
    /// limits, of SHA-256("correct horse") and the salt 0, 1, …, 31.
    #[test]
    fn key_matches_libsodium() {
        let salt: [u8; 32] = std::array::from_fn(|i| i as u8);
        let key = PassKey::derive_with_salt(b"correct horse", salt).unwrap();
        assert_eq!(
            key.key.to_vec(),
            hex("bfb7fc9ff9e637bd224d0fc28062949320280fe25965858146840da37fd9a2f5")
        );
    }

    #[test]
    fn round_trip_and_layout() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let sealed = pass_encrypt(b"pw", b"save data", &mut rng).unwrap();
        assert_eq!(sealed.len(), ENCRYPTION_EXTRA_LENGTH + 9);
        assert!(is_encrypted(&sealed));
        assert_eq!(&sealed[..8], b"toxEsave");
        let salt = salt_of(&sealed).unwrap();
        assert_eq!(&sealed[8..40], &salt);
        assert_eq!(pass_decrypt(b"pw", &sealed).unwrap(), b"save data");

        let key = PassKey::derive_with_salt(b"pw", salt).unwrap();
        assert_eq!(key.decrypt(&sealed).unwrap(), b"save data");
        let again = key.encrypt(b"later save", &mut rng).unwrap();
        assert_eq!(salt_of(&again).unwrap(), salt);
        assert_eq!(pass_decrypt(b"pw", &again).unwrap(), b"later save");
    }

    #[test]
    fn wrong_passphrase_and_bad_data_are_told_apart() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let key = PassKey::derive(b"right", &mut rng).unwrap();
        let sealed = key.encrypt(b"x", &mut rng).unwrap();
        assert_eq!(
            pass_decrypt(b"wrong", &sealed),
            Err(PassError::WrongPassphrase)
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key.decrypt(&altered), Err(PassError::WrongPassphrase));
        assert_eq!(
            key.decrypt(&sealed[..80]),
            Err(PassError::TooShort { len: 80 })
        );
        let mut no_magic = sealed.clone();
        no_magic[0] = b'T';
        assert_eq!(key.decrypt(&no_magic), Err(PassError::NotEncrypted));
        assert!(!is_encrypted(&no_magic));
        let other = PassKey::derive(b"right", &mut rng).unwrap();
        assert_eq!(other.decrypt(&sealed), Err(PassError::OtherSalt));
        assert_eq!(key.encrypt(b"", &mut rng), Err(PassError::EmptyPlaintext));
        assert_eq!(salt_of(b"toxEsave"), Err(PassError::TooShort { len: 8 }));
        assert_eq!(salt_of(b"plain"), Err(PassError::NotEncrypted));
    }

    #[test]
    fn debug_hides_the_key() {
        let key = PassKey::derive_with_salt(b"", [0; 32]).unwrap();
        assert!(format!("{key:?}").contains("<redacted>"));
    }
}
