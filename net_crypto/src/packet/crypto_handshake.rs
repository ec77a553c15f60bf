//! Crypto handshake (0x1a): a session key and base nonce, sent in answer
//! to a cookie, authenticated by the long-term keys.
//!
//! Checklist N4; spec "Net crypto", handshake packet; c-toxcore
//! `create_crypto_handshake` and `handle_crypto_handshake` in
//! `net_crypto.c`. Wire layout, exactly [`HANDSHAKE_PACKET_LENGTH`] = 385
//! bytes:
//!
//! | bytes     | field                                                  |
//! |-----------|--------------------------------------------------------|
//! | 1         | `0x1a`                                                 |
//! | 112       | the [`Cookie`] the receiver gave us (we answer it)      |
//! | 24        | nonce, random per packet                               |
//! | 232 + 16  | `crypto_box(our real sk × peer real pk; payload)`      |
//!
//! | payload bytes | field                                             |
//! |---------------|---------------------------------------------------|
//! | 24            | our base nonce: the peer seals to us from here up  |
//! | 32            | our session public key, fresh per session          |
//! | 64            | SHA-512 of the 112 cookie bytes above              |
//! | 112           | a cookie of ours for the peer, so it can answer    |
//!
//! A receiver (checklist N4) refuses the packet unless, in this order: the
//! length is exact ([`Decode`]); the outer cookie opens under its cookie
//! key and is fresh ([`Cookie::open_fresh`]), which proves the sender
//! recently got a cookie response from it; the real key the cookie names
//! is a friend or the peer it expects; the box opens under the shared key
//! of that real key ([`CryptoHandshake::open`]); and the hash matches the
//! outer cookie (checked by `open`). The DHT key in the cookie may be the
//! first news of a friend's new DHT key.
//!
//! Only the static-static DH of the real keys authenticates the sender,
//! which is why a stolen secret key allows impersonating anyone *to* its
//! owner (checklist S1, c-toxcore issue #426); interop requires this
//! legacy design.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, NONCE_SIZE, Nonce, PublicKey, Reader, SharedKey};

use super::{
    COOKIE_LENGTH, CRYPTO_SHA512_SIZE, Cookie, HANDSHAKE_PACKET_LENGTH, HANDSHAKE_PLAIN_LENGTH,
    NET_PACKET_CRYPTO_HS, NetCryptoPacketError,
};

/// A crypto handshake as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoHandshake {
    /// The receiver's cookie, returned to it.
    pub cookie: Cookie,
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The sealed payload (248 bytes once decoded).
    pub sealed: Vec<u8>,
}

impl CryptoHandshake {
    /// Seals `payload` with the shared key of our real secret key and the
    /// peer's real public key, behind the peer's `cookie`. `payload` should
    /// answer that cookie ([`HandshakePayload::answering`]).
    pub fn new(
        shared_real: &SharedKey,
        cookie: Cookie,
        nonce: Nonce,
        payload: &HandshakePayload,
    ) -> Self {
        Self {
            cookie,
            nonce,
            sealed: shared_real.encrypt(&nonce, &payload.to_bytes()),
        }
    }

    /// Opens the payload with the shared key of the real key the cookie
    /// named and our real secret key, and checks that it answers this
    /// packet's cookie ([`NetCryptoPacketError::CookieHashMismatch`]
    /// otherwise). Open the cookie first: see the module documentation.
    pub fn open(&self, shared_real: &SharedKey) -> Result<HandshakePayload, NetCryptoPacketError> {
        let payload: HandshakePayload =
            super::open_payload(shared_real.decrypt(&self.nonce, &self.sealed))?;
        if payload.answers(&self.cookie) {
            Ok(payload)
        } else {
            Err(NetCryptoPacketError::CookieHashMismatch)
        }
    }
}

impl Encode for CryptoHandshake {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(NET_PACKET_CRYPTO_HS);
        self.cookie.encode(buf);
        self.nonce.encode(buf);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        1 + COOKIE_LENGTH + NONCE_SIZE + self.sealed.len()
    }
}

impl Decode for CryptoHandshake {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "crypto handshake";
        reader.expect_remaining(NAME, HANDSHAKE_PACKET_LENGTH, HANDSHAKE_PACKET_LENGTH)?;
        reader.expect_u8(NAME, NET_PACKET_CRYPTO_HS)?;
        Ok(Self {
            cookie: Cookie::decode(reader)?,
            nonce: Nonce::decode(reader)?,
            sealed: reader.rest().to_vec(),
        })
    }
}

/// What a handshake carries inside its box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakePayload {
    /// The sender's base nonce: the receiver seals its data packets to the
    /// sender with this nonce, then +1, +2… (checklist N6).
    pub base_nonce: Nonce,
    /// The sender's session key; the session shared key is its DH with the
    /// receiver's session secret key.
    pub session_pk: PublicKey,
    /// SHA-512 of the cookie the handshake answers.
    pub cookie_hash: [u8; CRYPTO_SHA512_SIZE],
    /// A cookie of the sender's for the receiver, which the receiver
    /// returns in its own handshake if it has not sent one yet.
    pub cookie: Cookie,
}

impl HandshakePayload {
    /// A payload answering `answered` (the cookie the peer gave us):
    /// computes its hash.
    pub fn answering(
        answered: &Cookie,
        base_nonce: Nonce,
        session_pk: PublicKey,
        cookie: Cookie,
    ) -> Self {
        Self {
            base_nonce,
            session_pk,
            cookie_hash: answered.sha512(),
            cookie,
        }
    }

    /// Whether [`cookie_hash`](Self::cookie_hash) is the SHA-512 of
    /// `cookie`. The comparison does not stop at the first difference (as
    /// c-toxcore's `crypto_sha512_eq`), although both sides of it are
    /// known to the sender anyway.
    pub fn answers(&self, cookie: &Cookie) -> bool {
        let expected = cookie.sha512();
        expected
            .iter()
            .zip(self.cookie_hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Encode for HandshakePayload {
    fn encode(&self, buf: &mut impl BufMut) {
        self.base_nonce.encode(buf);
        self.session_pk.encode(buf);
        buf.put_slice(&self.cookie_hash);
        self.cookie.encode(buf);
    }

    fn encoded_len(&self) -> usize {
        HANDSHAKE_PLAIN_LENGTH
    }
}

impl Decode for HandshakePayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "handshake payload",
            HANDSHAKE_PLAIN_LENGTH,
            HANDSHAKE_PLAIN_LENGTH,
        )?;
        Ok(Self {
            base_nonce: Nonce::decode(reader)?,
            session_pk: PublicKey::decode(reader)?,
            cookie_hash: reader.array("cookie hash")?,
            cookie: Cookie::decode(reader)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::CookieContents;
    use proptest::prelude::*;
    use sha2::{Digest, Sha512};
    use toxide_core::testing::{PEERS, arb_nonce, arb_pk, garbage};
    use toxide_core::{CryptoError, SymmetricKey};

    fn cookie(seed: u8) -> Cookie {
        Cookie::seal(
            &SymmetricKey::from_bytes(&[seed; 32]),
            Nonce::new([seed; 24]),
            &CookieContents {
                time: u64::from(seed),
                real_pk: PublicKey::new([seed; 32]),
                dht_pk: PublicKey::new([seed ^ 0xff; 32]),
            },
        )
    }

    fn payload() -> HandshakePayload {
        HandshakePayload::answering(
            &cookie(1),
            Nonce::new([5; 24]),
            PublicKey::new([6; 32]),
            cookie(2),
        )
    }

    fn sample() -> CryptoHandshake {
        CryptoHandshake::new(&PEERS.alice_bob, cookie(1), Nonce::new([7; 24]), &payload())
    }

    #[test]
    fn layout_is_385_bytes() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), 385);
        assert_eq!(bytes[0], 0x1a);
        assert_eq!(&bytes[1..113], cookie(1).as_bytes());
        assert_eq!(&bytes[113..137], &[7; 24]);
        let plain = PEERS
            .bob_alice
            .decrypt(&Nonce::new([7; 24]), &bytes[137..])
            .unwrap();
        assert_eq!(plain.len(), 232);
        assert_eq!(&plain[..24], &[5; 24]);
        assert_eq!(&plain[24..56], &[6; 32]);
        assert_eq!(&plain[56..120], Sha512::digest(&bytes[1..113]).as_slice());
        assert_eq!(&plain[120..], cookie(2).as_bytes());
    }

    #[test]
    fn bob_opens_what_alice_sealed() {
        let opened = CryptoHandshake::from_bytes(&sample().to_bytes())
            .unwrap()
            .open(&PEERS.bob_alice)
            .unwrap();
        assert_eq!(opened, payload());
        assert!(opened.answers(&cookie(1)));
        assert!(!opened.answers(&cookie(2)));
    }

    #[test]
    fn a_handshake_behind_another_cookie_is_refused() {
        // The box is valid but answers cookie(1); swap the outer cookie.
        let mut packet = sample();
        packet.cookie = cookie(3);
        assert_eq!(
            packet.open(&PEERS.bob_alice),
            Err(NetCryptoPacketError::CookieHashMismatch)
        );
    }

    #[test]
    fn wrong_key_does_not_open() {
        assert_eq!(
            sample().open(&PEERS.eve_bob),
            Err(NetCryptoPacketError::Crypto(
                CryptoError::AuthenticationFailed
            ))
        );
    }

    #[test]
    fn other_lengths_are_refused_before_crypto() {
        let bytes = sample().to_bytes();
        for len in [0, 1, 113, 137, 384] {
            assert!(matches!(
                CryptoHandshake::from_bytes(&bytes[..len]),
                Err(DecodeError::BadLength {
                    min: 385,
                    max: 385,
                    ..
                })
            ));
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(CryptoHandshake::from_bytes(&long).is_err());
        let mut wrong_id = bytes;
        wrong_id[0] = 0x1b;
        assert!(CryptoHandshake::from_bytes(&wrong_id).is_err());
        assert!(HandshakePayload::from_bytes(&[0; 231]).is_err());
        assert!(HandshakePayload::from_bytes(&[0; 233]).is_err());
    }

    proptest! {
        #[test]
        fn seal_open_and_encode_decode_round_trip(
            base_nonce in arb_nonce(), session_pk in arb_pk(), nonce in arb_nonce(),
            a in any::<u8>(), b in any::<u8>(),
        ) {
            let payload = HandshakePayload::answering(&cookie(a), base_nonce, session_pk, cookie(b));
            let packet = CryptoHandshake::new(&PEERS.alice_bob, cookie(a), nonce, &payload);
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), HANDSHAKE_PACKET_LENGTH);
            let decoded = CryptoHandshake::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.bob_alice), Ok(payload.clone()));
            prop_assert_eq!(HandshakePayload::from_bytes(&payload.to_bytes()), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(500)) {
            if let Ok(packet) = CryptoHandshake::from_bytes(&bytes) {
                prop_assert_eq!(bytes.len(), HANDSHAKE_PACKET_LENGTH);
                prop_assert!(packet.open(&PEERS.bob_alice).is_err());
            }
            if let Ok(payload) = HandshakePayload::from_bytes(&bytes) {
                prop_assert_eq!(payload.to_bytes(), bytes);
            }
        }
    }
}
