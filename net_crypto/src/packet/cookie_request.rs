//! Cookie request (0x18): "give me a cookie so I can send you a handshake".
//!
//! The first packet of every session attempt (checklist N1; spec "Net
//! crypto", cookie request; c-toxcore `create_cookie_request` and
//! `handle_cookie_request` in `net_crypto.c`). Wire layout, exactly
//! [`COOKIE_REQUEST_LENGTH`] = 145 bytes:
//!
//! | bytes   | field                                                   |
//! |---------|---------------------------------------------------------|
//! | 1       | `0x18`                                                  |
//! | 32      | the sender's DHT public key                             |
//! | 24      | nonce, random per packet                                |
//! | 72 + 16 | `crypto_box(sender DHT sk × receiver DHT pk; payload)`  |
//!
//! | payload bytes | field                                             |
//! |---------------|---------------------------------------------------|
//! | 32            | the sender's real (long-term) public key          |
//! | 32            | zeros: padding left by an older protocol version  |
//! | 8             | echo id, repeated by the response                 |
//!
//! The box is keyed with DHT keys so that the responder can answer with
//! one (cached) DHT shared key and no state: it learns the requester's DHT
//! key from the header and its real key from the payload, and puts both in
//! the cookie it returns.

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PublicKey, Reader, SharedKey,
};

use super::{
    COOKIE_REQUEST_LENGTH, COOKIE_REQUEST_PLAIN_LENGTH, NET_PACKET_COOKIE_REQUEST,
    NetCryptoPacketError,
};

/// A cookie request as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieRequest {
    /// The sender's DHT key: half of the box key, and the DHT key the
    /// cookie will name.
    pub sender_dht_pk: PublicKey,
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The sealed payload (88 bytes once decoded).
    pub sealed: Vec<u8>,
}

impl CookieRequest {
    /// Seals `payload` with the DHT shared key of `sender_dht_pk`'s secret
    /// and the receiver's DHT key.
    pub fn new(
        shared: &SharedKey,
        sender_dht_pk: PublicKey,
        nonce: Nonce,
        payload: &CookieRequestPayload,
    ) -> Self {
        Self {
            sender_dht_pk,
            nonce,
            sealed: shared.encrypt(&nonce, &payload.to_bytes()),
        }
    }

    /// Opens the payload with the DHT shared key of the sender's DHT key
    /// and our DHT secret key; the response is sealed with the same key.
    pub fn open(&self, shared: &SharedKey) -> Result<CookieRequestPayload, NetCryptoPacketError> {
        super::open_payload(shared.decrypt(&self.nonce, &self.sealed))
    }
}

impl Encode for CookieRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(NET_PACKET_COOKIE_REQUEST);
        self.sender_dht_pk.encode(buf);
        self.nonce.encode(buf);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        1 + PUBLIC_KEY_SIZE + NONCE_SIZE + self.sealed.len()
    }
}

impl Decode for CookieRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "cookie request";
        reader.expect_remaining(NAME, COOKIE_REQUEST_LENGTH, COOKIE_REQUEST_LENGTH)?;
        reader.expect_u8(NAME, NET_PACKET_COOKIE_REQUEST)?;
        Ok(Self {
            sender_dht_pk: PublicKey::decode(reader)?,
            nonce: Nonce::decode(reader)?,
            sealed: reader.rest().to_vec(),
        })
    }
}

/// What a cookie request carries inside its box.
///
/// The 32 padding bytes are written as zeros and **ignored** when read,
/// whatever they hold: c-toxcore 0.2.18's `handle_cookie_request` copies
/// only the real key and the echo id out of the plaintext, so refusing
/// non-zero padding would make us drop requests the reference answers, for
/// no gain (the box already authenticates them). Hence a decoded payload
/// re-encodes with zero padding, not necessarily byte for byte.
///
/// The echo id is an opaque 8-byte token: c-toxcore writes a random `u64`
/// in host byte order and compares the echo with what it sent. We hold the
/// 8 bytes as a `u64` read big-endian, so a peer's id is echoed byte for
/// byte, and only our own ids are interpreted, by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CookieRequestPayload {
    /// The requester's real (long-term) key: the cookie will name it.
    pub real_pk: PublicKey,
    /// The token the response must echo.
    pub echo_id: u64,
}

impl Encode for CookieRequestPayload {
    fn encode(&self, buf: &mut impl BufMut) {
        self.real_pk.encode(buf);
        buf.put_bytes(0, PUBLIC_KEY_SIZE);
        buf.put_u64(self.echo_id);
    }

    fn encoded_len(&self) -> usize {
        COOKIE_REQUEST_PLAIN_LENGTH
    }
}

impl Decode for CookieRequestPayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "cookie request payload",
            COOKIE_REQUEST_PLAIN_LENGTH,
            COOKIE_REQUEST_PLAIN_LENGTH,
        )?;
        let real_pk = PublicKey::decode(reader)?;
        reader.take("cookie request padding", PUBLIC_KEY_SIZE)?;
        Ok(Self {
            real_pk,
            echo_id: reader.u64_be("echo id")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::CryptoError;
    use toxide_core::testing::{PEERS, arb_nonce, arb_pk, garbage};

    fn sample() -> CookieRequest {
        CookieRequest::new(
            &PEERS.alice_bob,
            PEERS.alice.public,
            Nonce::new([7; 24]),
            &CookieRequestPayload {
                real_pk: PublicKey::new([9; 32]),
                echo_id: 0x0102_0304_0506_0708,
            },
        )
    }

    #[test]
    fn layout_is_145_bytes_with_zero_padding() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), 145);
        assert_eq!(bytes[0], 0x18);
        assert_eq!(&bytes[1..33], PEERS.alice.public.as_bytes());
        assert_eq!(&bytes[33..57], &[7; 24]);
        let plain = PEERS
            .bob_alice
            .decrypt(&Nonce::new([7; 24]), &bytes[57..])
            .unwrap();
        assert_eq!(plain.len(), 72);
        assert_eq!(&plain[..32], &[9; 32]);
        assert_eq!(&plain[32..64], &[0; 32]);
        assert_eq!(&plain[64..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn nonzero_padding_is_ignored_like_ctoxcore() {
        let mut plain = vec![9; 32];
        plain.extend_from_slice(&[0xaa; 32]);
        plain.extend_from_slice(&5u64.to_be_bytes());
        assert_eq!(
            CookieRequestPayload::from_bytes(&plain),
            Ok(CookieRequestPayload {
                real_pk: PublicKey::new([9; 32]),
                echo_id: 5
            })
        );
    }

    #[test]
    fn other_lengths_are_refused_before_crypto() {
        let bytes = sample().to_bytes();
        for len in [0, 1, 57, 144] {
            assert!(matches!(
                CookieRequest::from_bytes(&bytes[..len]),
                Err(DecodeError::BadLength {
                    min: 145,
                    max: 145,
                    ..
                })
            ));
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            CookieRequest::from_bytes(&long),
            Err(DecodeError::BadLength { len: 146, .. })
        ));
        let mut wrong_id = bytes;
        wrong_id[0] = 0x19;
        assert!(CookieRequest::from_bytes(&wrong_id).is_err());
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

    proptest! {
        #[test]
        fn seal_open_and_encode_decode_round_trip(
            real_pk in arb_pk(), echo_id in any::<u64>(), pk in arb_pk(), nonce in arb_nonce(),
        ) {
            let payload = CookieRequestPayload { real_pk, echo_id };
            let packet = CookieRequest::new(&PEERS.alice_bob, pk, nonce, &payload);
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), COOKIE_REQUEST_LENGTH);
            let decoded = CookieRequest::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.bob_alice), Ok(payload));
            prop_assert_eq!(CookieRequestPayload::from_bytes(&payload.to_bytes()), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(200)) {
            if let Ok(packet) = CookieRequest::from_bytes(&bytes) {
                prop_assert_eq!(bytes.len(), COOKIE_REQUEST_LENGTH);
                prop_assert!(packet.open(&PEERS.bob_alice).is_err());
            }
            let _ = CookieRequestPayload::from_bytes(&bytes);
        }
    }
}
