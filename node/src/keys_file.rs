//! The node's long-lived DHT key pair: tox-bootstrapd's keys file, or a
//! secret key from the environment.
//!
//! A bootstrap node keeps its DHT key across restarts because node lists
//! publish it next to the address; clients that bootstrap from the node
//! must know it in advance. The keys file is tox-bootstrapd's format
//! (`manage_keys` in `other/bootstrap_daemon/src/tox-bootstrapd.c`), so an
//! operator can move a node between the two daemons and keep its identity:
//!
//! | bytes | field          |
//! |-------|----------------|
//! | 32    | DHT public key |
//! | 32    | DHT secret key |
//!
//! The secret key is never taken from the command line, where other users
//! can read it in the process list; [`SECRET_KEY_ENV`] is the alternative
//! to a file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use toxide_core::{KeyPair, PUBLIC_KEY_SIZE, PublicKey, SECRET_KEY_SIZE, SecretKey};
use zeroize::Zeroizing;

/// Size of a keys file: public key, then secret key.
pub const KEYS_FILE_SIZE: usize = PUBLIC_KEY_SIZE + SECRET_KEY_SIZE;

/// Environment variable that may hold the secret key as 64 hex digits.
pub const SECRET_KEY_ENV: &str = "TOXIDE_NODE_SECRET_KEY";

/// Why the node's keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file exists but could not be read.
    #[error("cannot read keys file {}: {source}", path.display())]
    Read {
        /// The keys file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file is not 64 bytes long.
    #[error(
        "keys file {} is {len} bytes long; a keys file is {KEYS_FILE_SIZE} bytes (public key, then secret key)",
        path.display()
    )]
    Size {
        /// The keys file.
        path: PathBuf,
        /// How long it is (or at least how much was read).
        len: usize,
    },
    /// The stored public key is not the secret key's.
    #[error("keys file {}: its public key does not belong to its secret key", path.display())]
    Mismatch {
        /// The keys file.
        path: PathBuf,
    },
    /// A new file could not be written.
    #[error("cannot create keys file {}: {source}", path.display())]
    Create {
        /// The keys file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The environment variable is not 64 hex digits. Its value is not
    /// repeated: it is meant to be secret.
    #[error("{SECRET_KEY_ENV} must hold exactly 64 hex digits (a 32-byte secret key)")]
    BadHex,
}

/// Where the node's key pair came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysOrigin {
    /// Read from an existing keys file.
    Loaded {
        /// The file can be read by other users than its owner.
        loose_permissions: bool,
    },
    /// Generated and written to a new keys file.
    Created,
}

/// Reads the keys file at `path`, or creates it (mode 0600) with a fresh
/// key pair if it does not exist.
pub fn load_or_create(path: &Path) -> Result<(KeyPair, KeysOrigin), KeysError> {
    match File::open(path) {
        Ok(file) => load_from(path, file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let keys = KeyPair::generate(&mut rand::rng());
            match create(path, &keys) {
                Ok(()) => Ok((keys, KeysOrigin::Created)),
                // Someone created it in between: use theirs.
                Err(KeysError::Create { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    load(path)
                }
                Err(e) => Err(e),
            }
        }
        Err(source) => Err(KeysError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads an existing keys file.
pub fn load(path: &Path) -> Result<(KeyPair, KeysOrigin), KeysError> {
    let file = File::open(path).map_err(|source| KeysError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_from(path, file)
}

fn load_from(path: &Path, file: File) -> Result<(KeyPair, KeysOrigin), KeysError> {
    let read_error = |source| KeysError::Read {
        path: path.to_owned(),
        source,
    };
    let loose_permissions = loose_permissions(&file).map_err(read_error)?;
    // One byte more than needed tells a long file from a right one.
    let mut bytes = Zeroizing::new(Vec::with_capacity(KEYS_FILE_SIZE + 1));
    file.take(KEYS_FILE_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let size_error = || KeysError::Size {
        path: path.to_owned(),
        len: bytes.len(),
    };
    let (Some(public), Some(secret), None) = (
        bytes.get(..PUBLIC_KEY_SIZE),
        bytes.get(PUBLIC_KEY_SIZE..KEYS_FILE_SIZE),
        bytes.get(KEYS_FILE_SIZE),
    ) else {
        return Err(size_error());
    };
    let public: [u8; PUBLIC_KEY_SIZE] = public.try_into().map_err(|_| size_error())?;
    let mut secret_bytes = Zeroizing::new([0u8; SECRET_KEY_SIZE]);
    secret_bytes.copy_from_slice(secret);
    let keys = KeyPair::from_secret(SecretKey::from_bytes(*secret_bytes));
    if keys.public != PublicKey::new(public) {
        return Err(KeysError::Mismatch {
            path: path.to_owned(),
        });
    }
    Ok((keys, KeysOrigin::Loaded { loose_permissions }))
}

#[cfg(unix)]
fn loose_permissions(file: &File) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    Ok(file.metadata()?.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn loose_permissions(_file: &File) -> io::Result<bool> {
    Ok(false)
}

/// Writes `keys` to a new file at `path`, readable by its owner only.
/// Fails if the file exists; a partly written file is removed.
pub fn create(path: &Path, keys: &KeyPair) -> Result<(), KeysError> {
    let create_error = |source| KeysError::Create {
        path: path.to_owned(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(create_error)?;
    let mut bytes = Zeroizing::new([0u8; KEYS_FILE_SIZE]);
    let (public, secret) = bytes.split_at_mut(PUBLIC_KEY_SIZE);
    public.copy_from_slice(keys.public.as_bytes());
    secret.copy_from_slice(keys.secret.to_bytes().as_slice());
    let written = file
        .write_all(bytes.as_slice())
        .and_then(|()| file.sync_all());
    if let Err(source) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(create_error(source));
    }
    Ok(())
}

/// The key pair for a secret key given as 64 hex digits (either case;
/// surrounding whitespace ignored).
pub fn from_hex_secret(text: &str) -> Result<KeyPair, KeysError> {
    let text = text.trim();
    if text.len() != 2 * SECRET_KEY_SIZE {
        return Err(KeysError::BadHex);
    }
    let mut secret = Zeroizing::new([0u8; SECRET_KEY_SIZE]);
    for (byte, pair) in secret.iter_mut().zip(text.as_bytes().chunks(2)) {
        let digit = |c: u8| char::from(c).to_digit(16).ok_or(KeysError::BadHex);
        let (Some(&high), Some(&low)) = (pair.first(), pair.get(1)) else {
            return Err(KeysError::BadHex);
        };
        // Two hex digits make at most 255.
        *byte = u8::try_from(digit(high)? * 16 + digit(low)?).map_err(|_| KeysError::BadHex)?;
    }
    Ok(KeyPair::from_secret(SecretKey::from_bytes(*secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("toxide-node-keys-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("keys")
    }

    #[test]
    fn created_file_reloads_to_the_same_keys() {
        let path = temp_path("reload");
        let (keys, origin) = load_or_create(&path).unwrap();
        assert_eq!(origin, KeysOrigin::Created);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), KEYS_FILE_SIZE);
        assert_eq!(&bytes[..32], keys.public.as_bytes());
        let (again, origin) = load_or_create(&path).unwrap();
        assert_eq!(again.public, keys.public);
        assert_eq!(
            origin,
            KeysOrigin::Loaded {
                loose_permissions: false
            }
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn wrong_size_and_mismatched_files_are_refused() {
        let path = temp_path("bad");
        std::fs::write(&path, [0u8; 63]).unwrap();
        assert!(matches!(load(&path), Err(KeysError::Size { len: 63, .. })));
        std::fs::write(&path, [0u8; 65]).unwrap();
        assert!(matches!(load(&path), Err(KeysError::Size { len: 65, .. })));
        let mut bytes = [7u8; 64];
        bytes[0] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(load(&path), Err(KeysError::Mismatch { .. })));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn reads_a_tox_bootstrapd_style_file() {
        let keys = KeyPair::from_secret(SecretKey::from_bytes([0x11; 32]));
        let path = temp_path("bootstrapd");
        let mut bytes = keys.public.as_bytes().to_vec();
        bytes.extend_from_slice(&[0x11; 32]);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(load(&path).unwrap().0.public, keys.public);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn hex_secret() {
        let keys = from_hex_secret(&"aB".repeat(32)).unwrap();
        assert_eq!(keys.public, SecretKey::from_bytes([0xab; 32]).public_key());
        assert!(matches!(
            from_hex_secret(&"ab".repeat(31)),
            Err(KeysError::BadHex)
        ));
        assert!(matches!(
            from_hex_secret(&"zz".repeat(32)),
            Err(KeysError::BadHex)
        ));
        assert!(matches!(
            from_hex_secret(&"é".repeat(32)),
            Err(KeysError::BadHex)
        ));
    }
}
