//! NaCl boxes: `crypto_box` with a precomputed key, and `secretbox`.
//!
//! c-toxcore never uses the one-shot `crypto_box`: it precomputes the shared
//! key of a peer once (`crypto_box_beforenm`) and then seals every packet
//! with it (`crypto_box_afternm`). Both are XSalsa20-Poly1305 under a 32-byte
//! key, the same cipher as `secretbox`, which Tox uses with random keys for
//! cookies and onion return paths. The ciphertext layout is NaCl's:
//! `[MAC 16][encrypted plaintext]`.
//!
//! A shared key is refused when the peer's public key is a low-order point
//! (all zeros, one, and the few others of order dividing 8): X25519 then
//! yields the all-zero secret whatever our key, so anyone could open and
//! forge such boxes. libsodium's `crypto_box_beforenm` refuses these keys,
//! so c-toxcore never opens such a packet, and neither do we.

use std::fmt;
use std::sync::Arc;

use crypto_box::aead::{
    AeadInPlace, KeyInit,
    consts::{U10, U24},
    generic_array::GenericArray,
};
use thiserror::Error;
use xsalsa20poly1305::XSalsa20Poly1305;
use zeroize::Zeroizing;

use crate::CryptoRng;
use crate::keys::{PublicKey, SecretKey};
use crate::nonce::Nonce;

/// Size of the Poly1305 authenticator every box adds.
pub const MAC_SIZE: usize = 16;

/// The public keys of low order on Curve25519 and its twist, as libsodium
/// lists them (`has_small_order`): 0, 1, two points of order 8, and p − 1,
/// p, p + 1 (non-canonical encodings of small-order points). Each also
/// counts with its top bit set, which X25519 ignores. [`SharedKey::new`]
/// refuses all of them; tests and the libsodium agreement test use the list.
pub const LOW_ORDER_KEYS: [[u8; 32]; 7] = {
    let mut p_minus_1 = [0xff; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut p = p_minus_1;
    p[0] = 0xed;
    let mut p_plus_1 = p_minus_1;
    p_plus_1[0] = 0xee;
    let mut one = [0; 32];
    one[0] = 1;
    [
        [0; 32],
        one,
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
        [
            0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
            0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
            0xd0, 0x9f, 0x11, 0x57,
        ],
        p_minus_1,
        p,
        p_plus_1,
    ]
};

/// Why a box could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// Too short to hold a MAC and at least one byte. c-toxcore refuses
    /// these too (it never sends an empty plaintext), so refusing them here
    /// keeps both ends agreeing on what a valid packet is.
    #[error("ciphertext of {len} bytes is too short (needs more than {MAC_SIZE})")]
    TooShort {
        /// Length of the ciphertext.
        len: usize,
    },
    /// The MAC did not verify: wrong key, wrong nonce or altered bytes.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The peer's public key is a low-order point: the Diffie-Hellman
    /// result is all zeros and the "shared" key public knowledge.
    #[error("peer public key is a low-order point (non-contributory X25519)")]
    LowOrderKey,
}

/// The precomputed key for talking to one peer (`crypto_box_beforenm`).
///
/// The same key serves both directions, which is why every Tox request and
/// response carries a distinct type byte inside the box: without it a box
/// could be reflected back at its sender.
///
/// Cloning is cheap (a reference count): caches hand the key out per packet.
#[derive(Clone)]
pub struct SharedKey(Arc<XSalsa20Poly1305>);

impl SharedKey {
    /// X25519 between `our_secret` and `their_public`, then HSalsa20, as
    /// libsodium's `crypto_box_beforenm` does, including its refusal of a
    /// non-contributory (all-zero) result. This is the expensive step
    /// (one scalar multiplication); layers cache the result per peer.
    ///
    /// The scalar multiplication is x25519-dalek's rather than the one
    /// inside `crypto_box::SalsaBox::new`, because only x25519-dalek
    /// reports a non-contributory result.
    pub fn new(their_public: &PublicKey, our_secret: &SecretKey) -> Result<Self, CryptoError> {
        if their_public.is_low_order() {
            return Err(CryptoError::LowOrderKey);
        }
        Self::derive(their_public, our_secret)
    }

    /// The Diffie-Hellman and HSalsa20 behind [`SharedKey::new`], whose
    /// own zero check is what stands if the list of low-order points ever
    /// misses one.
    fn derive(their_public: &PublicKey, our_secret: &SecretKey) -> Result<Self, CryptoError> {
        let theirs = x25519_dalek::PublicKey::from(*their_public.as_bytes());
        let dh = our_secret.diffie_hellman(&theirs);
        if !dh.was_contributory() {
            return Err(CryptoError::LowOrderKey);
        }
        let key = Zeroizing::new(salsa20::hsalsa::<U10>(
            GenericArray::from_slice(dh.as_bytes()),
            &GenericArray::default(),
        ));
        Ok(Self(Arc::new(XSalsa20Poly1305::new(&key))))
    }

    /// The key anyone derives with a low-order peer key: HSalsa20 of the
    /// all-zero X25519 result. Only for tests that forge such packets.
    #[cfg(feature = "testing")]
    pub(crate) fn low_order_forgery() -> Self {
        let key = salsa20::hsalsa::<U10>(&GenericArray::default(), &GenericArray::default());
        Self(Arc::new(XSalsa20Poly1305::new(&key)))
    }

    /// Seals `plaintext`: returns `[MAC][ciphertext]`, 16 bytes longer.
    pub fn encrypt(&self, nonce: &Nonce, plaintext: &[u8]) -> Vec<u8> {
        seal(&*self.0, nonce, plaintext)
    }

    /// Opens `[MAC][ciphertext]`.
    pub fn decrypt(&self, nonce: &Nonce, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&*self.0, nonce, ciphertext)
    }
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedKey(<redacted>)")
    }
}

/// A random symmetric key for `secretbox`: cookies, onion return paths and
/// anything else only its creator will open.
#[derive(Clone)]
pub struct SymmetricKey(XSalsa20Poly1305);

impl SymmetricKey {
    /// A fresh key from the caller's RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(&bytes)
    }

    /// A key from 32 known bytes (e.g. one derived from a passphrase).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(XSalsa20Poly1305::new(GenericArray::from_slice(bytes)))
    }

    /// Seals `plaintext`: returns `[MAC][ciphertext]`.
    pub fn encrypt(&self, nonce: &Nonce, plaintext: &[u8]) -> Vec<u8> {
        seal(&self.0, nonce, plaintext)
    }

    /// Opens `[MAC][ciphertext]`.
    pub fn decrypt(&self, nonce: &Nonce, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&self.0, nonce, ciphertext)
    }
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymmetricKey(<redacted>)")
    }
}

fn seal<C: AeadInPlace<NonceSize = U24>>(cipher: &C, nonce: &Nonce, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAC_SIZE + plaintext.len());
    out.extend_from_slice(&[0u8; MAC_SIZE]);
    out.extend_from_slice(plaintext);
    let (mac, body) = out.split_at_mut(MAC_SIZE);
    // XSalsa20-Poly1305 fails only when given associated data, and we give
    // none, so the error arm is unreachable; it leaves a zero MAC that no
    // receiver would accept rather than panicking.
    if let Ok(tag) = cipher.encrypt_in_place_detached(nonce_ref(nonce), b"", body) {
        mac.copy_from_slice(&tag);
    }
    out
}

fn open<C: AeadInPlace<NonceSize = U24>>(
    cipher: &C,
    nonce: &Nonce,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let Some((mac, body)) = ciphertext
        .split_at_checked(MAC_SIZE)
        .filter(|(_, body)| !body.is_empty())
    else {
        return Err(CryptoError::TooShort {
            len: ciphertext.len(),
        });
    };
    let mut plain = body.to_vec();
    cipher
        .decrypt_in_place_detached(
            nonce_ref(nonce),
            b"",
            &mut plain,
            GenericArray::from_slice(mac),
        )
        .map_err(|_| CryptoError::AuthenticationFailed)?;
    Ok(plain)
}

fn nonce_ref(nonce: &Nonce) -> &GenericArray<u8, U24> {
    GenericArray::from_slice(nonce.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn pairs() -> (KeyPair, KeyPair) {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng))
    }

    #[test]
    fn shared_key_is_symmetric() {
        let (a, b) = pairs();
        let nonce = Nonce::new([3; 24]);
        let ab = SharedKey::new(&b.public, &a.secret).unwrap();
        let ba = SharedKey::new(&a.public, &b.secret).unwrap();
        let sealed = ab.encrypt(&nonce, b"hello");
        assert_eq!(sealed.len(), 5 + MAC_SIZE);
        assert_eq!(ba.decrypt(&nonce, &sealed).unwrap(), b"hello");
    }

    #[test]
    fn nacl_box_test_vector() {
        // The crypto_box test vector from NaCl (tests/box.c): Alice's secret
        // key, Bob's public key, the shared nonce and the first bytes of the
        // 131-byte message and its box.
        let alice_sk = crate::hex::decode_array::<32>(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        )
        .unwrap();
        let bob_pk =
            PublicKey::from_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
                .unwrap();
        let nonce = Nonce::new(
            crate::hex::decode_array("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37").unwrap(),
        );
        let msg = crate::hex::decode_array::<32>(
            "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc",
        )
        .unwrap();
        let key = SharedKey::new(&bob_pk, &SecretKey::from_bytes(alice_sk)).unwrap();
        let sealed = key.encrypt(&nonce, &msg);
        // NaCl's box output for the full message starts with these 16 bytes
        // of ciphertext after the MAC; the keystream does not depend on the
        // message length, so the prefix matches for a prefix of the message.
        let expected_ct_prefix =
            crate::hex::decode_array::<16>("8e993b9f48681273c29650ba32fc76ce").unwrap();
        assert_eq!(&sealed[MAC_SIZE..MAC_SIZE + 16], &expected_ct_prefix);
    }

    #[test]
    fn tampering_is_detected() {
        let (a, b) = pairs();
        let key = SharedKey::new(&b.public, &a.secret).unwrap();
        let nonce = Nonce::new([9; 24]);
        let mut sealed = key.encrypt(&nonce, b"data");
        sealed[MAC_SIZE] ^= 1;
        assert_eq!(
            key.decrypt(&nonce, &sealed),
            Err(CryptoError::AuthenticationFailed)
        );
        let other = Nonce::new([8; 24]);
        sealed[MAC_SIZE] ^= 1;
        assert_eq!(
            key.decrypt(&other, &sealed),
            Err(CryptoError::AuthenticationFailed)
        );
    }

    #[test]
    fn low_order_keys_are_refused() {
        let (a, _) = pairs();
        for mut key in LOW_ORDER_KEYS {
            for _top_bit in 0..2 {
                let pk = PublicKey::new(key);
                assert!(pk.is_low_order());
                // Both the cheap list test and the Diffie-Hellman's own
                // zero check refuse it.
                for result in [
                    SharedKey::new(&pk, &a.secret),
                    SharedKey::derive(&pk, &a.secret),
                ] {
                    assert_eq!(result.err(), Some(CryptoError::LowOrderKey), "{key:02x?}");
                }
                key[31] ^= 0x80;
            }
        }
        assert!(!a.public.is_low_order());
    }

    #[test]
    fn short_input_is_refused_like_ctoxcore() {
        let key = SymmetricKey::from_bytes(&[1; 32]);
        let nonce = Nonce::default();
        assert_eq!(
            key.decrypt(&nonce, &[0; 16]),
            Err(CryptoError::TooShort { len: 16 })
        );
        assert_eq!(
            key.decrypt(&nonce, &[]),
            Err(CryptoError::TooShort { len: 0 })
        );
    }

    proptest! {
        #[test]
        fn secretbox_round_trips(key in any::<[u8; 32]>(), nonce in any::<[u8; 24]>(),
                                 data in proptest::collection::vec(any::<u8>(), 1..2048)) {
            let key = SymmetricKey::from_bytes(&key);
            let nonce = Nonce::new(nonce);
            prop_assert_eq!(key.decrypt(&nonce, &key.encrypt(&nonce, &data)), Ok(data));
        }

        #[test]
        fn decrypt_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let key = SymmetricKey::from_bytes(&[7; 32]);
            prop_assert!(key.decrypt(&Nonce::default(), &data).is_err());
        }
    }
}
