//! X25519 keys.
//!
//! Tox uses two kinds of key pair with the same types: the long-term ("real")
//! key that is a user's identity and goes into the Tox ID, and the DHT key
//! that is regenerated at every start and never saved. Keeping one type for
//! both is what c-toxcore does; the layer that holds a key names which it is.

use std::fmt;
use std::str::FromStr;

use bytes::BufMut;
use zeroize::Zeroizing;

use crate::CryptoRng;
use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::hex::{self, HexError};

/// Size of an X25519 public key.
pub const PUBLIC_KEY_SIZE: usize = 32;
/// Size of an X25519 secret key.
pub const SECRET_KEY_SIZE: usize = 32;

/// An X25519 public key as it travels on the wire.
///
/// Ordered and hashable so it can key maps; Kademlia distance is computed
/// from its bytes by the DHT layer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; PUBLIC_KEY_SIZE]);

impl PublicKey {
    /// Wraps 32 bytes. Any 32 bytes are a valid Curve25519 u-coordinate.
    pub const fn new(bytes: [u8; PUBLIC_KEY_SIZE]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.0
    }

    /// Whether this is one of the low-order points
    /// ([`crate::crypto::LOW_ORDER_KEYS`], top bit ignored as X25519 does)
    /// with which no secret can be shared. A cheap test before any
    /// Diffie-Hellman; [`crate::SharedKey::new`] checks the result too.
    pub fn is_low_order(&self) -> bool {
        let (last, head) = match self.0.split_last() {
            Some((last, head)) => (last & 0x7f, head),
            None => return false,
        };
        crate::crypto::LOW_ORDER_KEYS
            .iter()
            .any(|key| key.split_last() == Some((&last, head)))
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, HexError> {
        hex::decode_array(text).map(Self)
    }
}

impl fmt::Display for PublicKey {
    /// Uppercase hex, as Tox clients and tox-bootstrapd print keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::write_upper(f, &self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = HexError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

impl Encode for PublicKey {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }
    fn encoded_len(&self) -> usize {
        PUBLIC_KEY_SIZE
    }
}

impl Decode for PublicKey {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.array("public key").map(Self)
    }
}

/// An X25519 secret key. Wiped from memory when dropped; `Debug` never
/// prints it.
#[derive(Clone)]
pub struct SecretKey(crypto_box::SecretKey);

impl SecretKey {
    /// A fresh secret key from the caller's RNG: 32 random bytes, as
    /// libsodium's `crypto_box_keypair` draws them (clamping happens inside
    /// every scalar multiplication).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; SECRET_KEY_SIZE]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(*bytes)
    }

    /// Wraps 32 secret bytes, e.g. read from a key file.
    pub fn from_bytes(bytes: [u8; SECRET_KEY_SIZE]) -> Self {
        Self(crypto_box::SecretKey::from_bytes(bytes))
    }

    /// A copy of the secret bytes, wiped when the copy is dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; SECRET_KEY_SIZE]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key (X25519 base-point multiplication).
    pub fn public_key(&self) -> PublicKey {
        let secret = x25519_dalek::StaticSecret::from(self.0.to_bytes());
        PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes())
    }

    /// X25519 with `their_public` (the caller checks the result is
    /// contributory).
    pub(crate) fn diffie_hellman(
        &self,
        their_public: &x25519_dalek::PublicKey,
    ) -> x25519_dalek::SharedSecret {
        x25519_dalek::StaticSecret::from(self.0.to_bytes()).diffie_hellman(their_public)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A public key with its secret key.
#[derive(Clone, Debug)]
pub struct KeyPair {
    /// The public half, safe to share.
    pub public: PublicKey,
    /// The secret half.
    pub secret: SecretKey,
}

impl KeyPair {
    /// A fresh key pair from the caller's RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_secret(SecretKey::generate(rng))
    }

    /// The pair for a known secret key.
    pub fn from_secret(secret: SecretKey) -> Self {
        Self {
            public: secret.public_key(),
            secret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn secret_key_debug_is_redacted() {
        let key = SecretKey::from_bytes([0x42; 32]);
        let shown = format!("{key:?} {:?}", KeyPair::from_secret(key.clone()));
        assert!(!shown.contains("4242424242"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn rfc7748_public_key() {
        // RFC 7748 section 6.1, Alice's key pair.
        let sk = hex::decode_array::<32>(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        )
        .unwrap();
        let pk = SecretKey::from_bytes(sk).public_key();
        assert_eq!(
            pk,
            PublicKey::from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
                .unwrap()
        );
    }

    #[test]
    fn generation_follows_the_injected_rng() {
        let a = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(7));
        let b = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(7));
        let c = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(8));
        assert_eq!(a.public, b.public);
        assert_ne!(a.public, c.public);
        assert_eq!(*a.secret.to_bytes(), *b.secret.to_bytes());
    }

    proptest! {
        #[test]
        fn public_key_round_trips(bytes in any::<[u8; 32]>()) {
            let pk = PublicKey::new(bytes);
            prop_assert_eq!(<PublicKey as Decode>::from_bytes(&pk.to_bytes()), Ok(pk));
            prop_assert_eq!(pk.to_string().parse::<PublicKey>(), Ok(pk));
        }

        #[test]
        fn public_key_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let result = <PublicKey as Decode>::from_bytes(&bytes);
            prop_assert_eq!(result.is_ok(), bytes.len() == 32);
        }
    }
}
