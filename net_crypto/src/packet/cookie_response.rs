//! Cookie response (0x19): the cookie a handshake must carry, and the echo
//! id that ties it to our request.
//!
//! Checklist N2; spec "Net crypto", cookie response; c-toxcore
//! `create_cookie_response` and `handle_cookie_response` in
//! `net_crypto.c`. Wire layout, exactly [`COOKIE_RESPONSE_LENGTH`] = 161
//! bytes:
//!
//! | bytes    | field                                                 |
//! |----------|-------------------------------------------------------|
//! | 1        | `0x19`                                                |
//! | 24       | nonce, random per packet                              |
//! | 120 + 16 | `crypto_box(the request's DHT shared key; payload)`   |
//!
//! | payload bytes | field                                            |
//! |---------------|--------------------------------------------------|
//! | 112           | [`Cookie`] naming the requester's real and DHT keys |
//! | 8             | the request's echo id, byte for byte             |
//!
//! No sender key travels: the responder reuses the key it opened the
//! request with (one DH for both), and the requester knows it already. The
//! requester accepts only a response whose echo id is the one it sent.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, NONCE_SIZE, Nonce, Reader, SharedKey};

use super::{
    COOKIE_RESPONSE_LENGTH, COOKIE_RESPONSE_PLAIN_LENGTH, Cookie, NET_PACKET_COOKIE_RESPONSE,
    NetCryptoPacketError,
};

/// A cookie response as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieResponse {
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The sealed payload (136 bytes once decoded).
    pub sealed: Vec<u8>,
}

impl CookieResponse {
    /// Seals `payload` with the key the request was opened with.
    pub fn new(shared: &SharedKey, nonce: Nonce, payload: &CookieResponsePayload) -> Self {
        Self {
            nonce,
            sealed: shared.encrypt(&nonce, &payload.to_bytes()),
        }
    }

    /// Opens the payload with the DHT shared key our request was sealed
    /// with.
    pub fn open(&self, shared: &SharedKey) -> Result<CookieResponsePayload, NetCryptoPacketError> {
        super::open_payload(shared.decrypt(&self.nonce, &self.sealed))
    }
}

impl Encode for CookieResponse {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(NET_PACKET_COOKIE_RESPONSE);
        self.nonce.encode(buf);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        1 + NONCE_SIZE + self.sealed.len()
    }
}

impl Decode for CookieResponse {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "cookie response";
        reader.expect_remaining(NAME, COOKIE_RESPONSE_LENGTH, COOKIE_RESPONSE_LENGTH)?;
        reader.expect_u8(NAME, NET_PACKET_COOKIE_RESPONSE)?;
        Ok(Self {
            nonce: Nonce::decode(reader)?,
            sealed: reader.rest().to_vec(),
        })
    }
}

/// What a cookie response carries inside its box.
///
/// The echo id is held as in
/// [`CookieRequestPayload`](super::CookieRequestPayload): 8 bytes read
/// big-endian, echoed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieResponsePayload {
    /// The cookie to put in our handshake.
    pub cookie: Cookie,
    /// The echo id of the request this answers.
    pub echo_id: u64,
}

impl Encode for CookieResponsePayload {
    fn encode(&self, buf: &mut impl BufMut) {
        self.cookie.encode(buf);
        buf.put_u64(self.echo_id);
    }

    fn encoded_len(&self) -> usize {
        COOKIE_RESPONSE_PLAIN_LENGTH
    }
}

impl Decode for CookieResponsePayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "cookie response payload",
            COOKIE_RESPONSE_PLAIN_LENGTH,
            COOKIE_RESPONSE_PLAIN_LENGTH,
        )?;
        Ok(Self {
            cookie: Cookie::decode(reader)?,
            echo_id: reader.u64_be("echo id")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::COOKIE_LENGTH;
    use proptest::prelude::*;
    use toxide_core::CryptoError;
    use toxide_core::testing::{PEERS, arb_nonce, garbage};

    fn payload(echo_id: u64) -> CookieResponsePayload {
        CookieResponsePayload {
            cookie: Cookie::from_array([3; COOKIE_LENGTH]),
            echo_id,
        }
    }

    fn sample() -> CookieResponse {
        CookieResponse::new(
            &PEERS.bob_alice,
            Nonce::new([7; 24]),
            &payload(0x0102_0304_0506_0708),
        )
    }

    #[test]
    fn layout_is_161_bytes() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), 161);
        assert_eq!(bytes[0], 0x19);
        assert_eq!(&bytes[1..25], &[7; 24]);
        let plain = PEERS
            .alice_bob
            .decrypt(&Nonce::new([7; 24]), &bytes[25..])
            .unwrap();
        assert_eq!(plain.len(), 120);
        assert_eq!(&plain[..112], &[3; 112]);
        assert_eq!(&plain[112..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn other_lengths_are_refused_before_crypto() {
        let bytes = sample().to_bytes();
        for len in [0, 1, 25, 160] {
            assert!(matches!(
                CookieResponse::from_bytes(&bytes[..len]),
                Err(DecodeError::BadLength {
                    min: 161,
                    max: 161,
                    ..
                })
            ));
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(CookieResponse::from_bytes(&long).is_err());
        let mut wrong_id = bytes;
        wrong_id[0] = 0x18;
        assert!(CookieResponse::from_bytes(&wrong_id).is_err());
        assert!(CookieResponsePayload::from_bytes(&[0; 119]).is_err());
        assert!(CookieResponsePayload::from_bytes(&[0; 121]).is_err());
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
            cookie in any::<[u8; 32]>(), echo_id in any::<u64>(), nonce in arb_nonce(),
        ) {
            // Any 112 bytes make a cookie to its receiver: build them from
            // a shorter array repeated.
            let mut bytes = [0u8; COOKIE_LENGTH];
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = cookie[i % 32] ^ (i as u8);
            }
            let payload = CookieResponsePayload { cookie: Cookie::from_array(bytes), echo_id };
            let packet = CookieResponse::new(&PEERS.bob_alice, nonce, &payload);
            let wire = packet.to_bytes();
            prop_assert_eq!(wire.len(), COOKIE_RESPONSE_LENGTH);
            let decoded = CookieResponse::from_bytes(&wire).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.alice_bob), Ok(payload.clone()));
            prop_assert_eq!(CookieResponsePayload::from_bytes(&payload.to_bytes()), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(200)) {
            if let Ok(packet) = CookieResponse::from_bytes(&bytes) {
                prop_assert_eq!(bytes.len(), COOKIE_RESPONSE_LENGTH);
                prop_assert!(packet.open(&PEERS.alice_bob).is_err());
            }
            if let Ok(payload) = CookieResponsePayload::from_bytes(&bytes) {
                prop_assert_eq!(payload.to_bytes(), bytes);
            }
        }
    }
}
