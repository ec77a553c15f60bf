//! The cookie: a responder's proof, handed to a would-be peer in a cookie
//! response and returned in that peer's handshake, that it has recently
//! heard from that peer (checklist N3; spec "Net crypto", cookie; c-toxcore
//! `create_cookie` and `open_cookie` in `net_crypto.c`).
//!
//! Wire layout, exactly [`COOKIE_LENGTH`] = 112 bytes:
//!
//! | bytes  | field                                            |
//! |--------|--------------------------------------------------|
//! | 24     | nonce, random per cookie                          |
//! | 72 + 16| `secretbox(creator's symmetric key; contents)`    |
//!
//! | contents bytes | field                                    |
//! |----------------|------------------------------------------|
//! | 8              | creation time, u64 big-endian seconds     |
//! | 32             | the peer's real public key                |
//! | 32             | the peer's DHT public key                 |
//!
//! Only the cookie's creator ever opens it, under a key nobody else knows,
//! so the responder keeps no state per request and the time format is
//! private: c-toxcore writes its monotonic time in host byte order; we
//! write big-endian seconds of whatever clock the caller gives, and only
//! ever compare them with the same clock.

use std::fmt;

use bytes::BufMut;
use sha2::{Digest, Sha512};
use toxide_core::{
    Decode, DecodeError, Encode, NONCE_SIZE, Nonce, PublicKey, Reader, SymmetricKey,
};

use super::{
    COOKIE_CONTENTS_LENGTH, COOKIE_LENGTH, COOKIE_TIMEOUT, CRYPTO_SHA512_SIZE, NetCryptoPacketError,
};

/// What a cookie attests: when, and for which peer keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CookieContents {
    /// When the cookie was made, in seconds of the creator's clock.
    pub time: u64,
    /// The peer's long-term ("real") key.
    pub real_pk: PublicKey,
    /// The peer's DHT key.
    pub dht_pk: PublicKey,
}

impl CookieContents {
    /// Whether a cookie made at [`time`](Self::time) is still valid at
    /// `now_secs`: at most [`COOKIE_TIMEOUT`] seconds old and not from the
    /// future (c-toxcore `open_cookie` refuses `time + 15 < now` and
    /// `now < time`).
    pub fn is_fresh(&self, now_secs: u64) -> bool {
        self.time <= now_secs && now_secs <= self.time.saturating_add(COOKIE_TIMEOUT)
    }
}

impl Encode for CookieContents {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u64(self.time);
        self.real_pk.encode(buf);
        self.dht_pk.encode(buf);
    }

    fn encoded_len(&self) -> usize {
        COOKIE_CONTENTS_LENGTH
    }
}

impl Decode for CookieContents {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "cookie contents",
            COOKIE_CONTENTS_LENGTH,
            COOKIE_CONTENTS_LENGTH,
        )?;
        Ok(Self {
            time: reader.u64_be("cookie time")?,
            real_pk: PublicKey::decode(reader)?,
            dht_pk: PublicKey::decode(reader)?,
        })
    }
}

/// A sealed cookie, as it travels: 112 opaque bytes to everyone but its
/// creator.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cookie([u8; COOKIE_LENGTH]);

impl Cookie {
    /// Wraps 112 bytes received from a peer.
    pub const fn from_array(bytes: [u8; COOKIE_LENGTH]) -> Self {
        Self(bytes)
    }

    /// The cookie's bytes, as hashed by a handshake.
    pub const fn as_bytes(&self) -> &[u8; COOKIE_LENGTH] {
        &self.0
    }

    /// SHA-512 of the cookie's 112 bytes: what a handshake answering this
    /// cookie carries (checklist N4), proving its sender received it.
    pub fn sha512(&self) -> [u8; CRYPTO_SHA512_SIZE] {
        Sha512::digest(self.0).into()
    }

    /// Seals `contents` under our cookie key. `nonce` must be fresh (the
    /// caller's RNG), as for any secretbox.
    pub fn seal(key: &SymmetricKey, nonce: Nonce, contents: &CookieContents) -> Self {
        let sealed = key.encrypt(&nonce, &contents.to_bytes());
        let mut bytes = [0u8; COOKIE_LENGTH];
        // Nonce then sealed contents fill the array exactly (24 + 88).
        for (out, byte) in bytes
            .iter_mut()
            .zip(nonce.as_bytes().iter().chain(sealed.iter()))
        {
            *out = *byte;
        }
        Self(bytes)
    }

    /// Opens a cookie we made. Fails unless it opens under `key`; does not
    /// look at the time (see [`Cookie::open_fresh`]).
    pub fn open(&self, key: &SymmetricKey) -> Result<CookieContents, NetCryptoPacketError> {
        let (nonce, sealed) = self.0.split_at(NONCE_SIZE);
        let nonce = Nonce::decode(&mut Reader::new(nonce))?;
        super::open_payload(key.decrypt(&nonce, sealed))
    }

    /// Opens a cookie we made and checks it is fresh at `now_secs` (same
    /// clock as when it was sealed): what a handshake's receiver does
    /// first (checklist N4).
    pub fn open_fresh(
        &self,
        key: &SymmetricKey,
        now_secs: u64,
    ) -> Result<CookieContents, NetCryptoPacketError> {
        let contents = self.open(key)?;
        if contents.is_fresh(now_secs) {
            Ok(contents)
        } else {
            Err(NetCryptoPacketError::CookieExpired)
        }
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(")?;
        for byte in self.0.iter().take(8) {
            write!(f, "{byte:02X}")?;
        }
        f.write_str("…)")
    }
}

impl Encode for Cookie {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    fn encoded_len(&self) -> usize {
        COOKIE_LENGTH
    }
}

impl Decode for Cookie {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.array("cookie").map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::{arb_nonce, arb_pk, garbage};

    fn key() -> SymmetricKey {
        SymmetricKey::from_bytes(&[0x42; 32])
    }

    fn contents(time: u64) -> CookieContents {
        CookieContents {
            time,
            real_pk: PublicKey::new([1; 32]),
            dht_pk: PublicKey::new([2; 32]),
        }
    }

    #[test]
    fn layout_is_nonce_then_secretbox_of_be_time_and_keys() {
        let cookie = Cookie::seal(
            &key(),
            Nonce::new([7; 24]),
            &contents(0x0102_0304_0506_0708),
        );
        let bytes = cookie.to_bytes();
        assert_eq!(bytes.len(), 112);
        assert_eq!(&bytes[..24], &[7; 24]);
        let plain = key().decrypt(&Nonce::new([7; 24]), &bytes[24..]).unwrap();
        assert_eq!(&plain[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&plain[8..40], &[1; 32]);
        assert_eq!(&plain[40..], &[2; 32]);
    }

    #[test]
    fn freshness_is_fifteen_seconds_inclusive() {
        let c = contents(100);
        assert!(!c.is_fresh(99), "from the future");
        assert!(c.is_fresh(100));
        assert!(c.is_fresh(115));
        assert!(!c.is_fresh(116));
        assert!(contents(u64::MAX).is_fresh(u64::MAX), "no overflow");

        let cookie = Cookie::seal(&key(), Nonce::new([1; 24]), &c);
        assert_eq!(cookie.open_fresh(&key(), 110), Ok(c));
        assert_eq!(
            cookie.open_fresh(&key(), 116),
            Err(NetCryptoPacketError::CookieExpired)
        );
    }

    #[test]
    fn wrong_key_and_tampering_fail() {
        let cookie = Cookie::seal(&key(), Nonce::new([1; 24]), &contents(5));
        assert!(matches!(
            cookie.open(&SymmetricKey::from_bytes(&[0x43; 32])),
            Err(NetCryptoPacketError::Crypto(_))
        ));
        for i in [0, 23, 24, 111] {
            let mut bytes = *cookie.as_bytes();
            bytes[i] ^= 1;
            assert!(matches!(
                Cookie::from_array(bytes).open(&key()),
                Err(NetCryptoPacketError::Crypto(_))
            ));
        }
    }

    #[test]
    fn exact_size_only() {
        let bytes = Cookie::seal(&key(), Nonce::new([1; 24]), &contents(5)).to_bytes();
        assert!(Cookie::from_bytes(&bytes[..111]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(Cookie::from_bytes(&long).is_err());
        assert!(Cookie::from_bytes(&bytes).is_ok());
        assert!(CookieContents::from_bytes(&[0; 71]).is_err());
        assert!(CookieContents::from_bytes(&[0; 73]).is_err());
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(time in any::<u64>(), real_pk in arb_pk(), dht_pk in arb_pk(), nonce in arb_nonce()) {
            let c = CookieContents { time, real_pk, dht_pk };
            let cookie = Cookie::seal(&key(), nonce, &c);
            let decoded = Cookie::from_bytes(&cookie.to_bytes()).unwrap();
            prop_assert_eq!(&decoded, &cookie);
            prop_assert_eq!(decoded.open(&key()), Ok(c));
            prop_assert_eq!(CookieContents::from_bytes(&c.to_bytes()), Ok(c));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(200)) {
            if let Ok(cookie) = Cookie::from_bytes(&bytes) {
                prop_assert_eq!(bytes.len(), COOKIE_LENGTH);
                prop_assert!(cookie.open(&key()).is_err());
            }
            let _ = CookieContents::from_bytes(&bytes);
        }
    }
}
