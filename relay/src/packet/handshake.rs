//! The two handshakes that open a relay connection, sent before any frame
//! (checklist R1, R2; spec "TCP server", handshake; c-toxcore
//! `generate_handshake` and `handle_handshake` in `TCP_client.c`,
//! `handle_TCP_handshake` in `TCP_server.c`).
//!
//! Client → relay, exactly [`TCP_CLIENT_HANDSHAKE_SIZE`] = 128 bytes:
//!
//! | bytes   | field                                                       |
//! |---------|-------------------------------------------------------------|
//! | 32      | the client's DHT public key (its identity on the relay)     |
//! | 24      | nonce, random                                               |
//! | 56 + 16 | `crypto_box(client DHT sk × relay pk; HandshakePayload)`    |
//!
//! Relay → client, exactly [`TCP_SERVER_HANDSHAKE_SIZE`] = 96 bytes:
//!
//! | bytes   | field                                                       |
//! |---------|-------------------------------------------------------------|
//! | 24      | nonce, random                                               |
//! | 56 + 16 | `crypto_box(relay sk × client DHT pk; HandshakePayload)`    |
//!
//! Both boxes use the long-term shared key; each side's payload names a
//! temporary public key and the base nonce of the frames it will send. The
//! session key is the shared key of the two temporary keys.

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PublicKey, Reader, SharedKey,
};

use super::OpenError;
use crate::constants::{
    TCP_CLIENT_HANDSHAKE_SIZE, TCP_HANDSHAKE_PLAIN_SIZE, TCP_SERVER_HANDSHAKE_SIZE,
};

/// What either handshake carries inside its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakePayload {
    /// The sender's temporary public key for this connection.
    pub temp_pk: PublicKey,
    /// The nonce of the sender's first frame; each later frame adds one.
    pub base_nonce: Nonce,
}

impl Encode for HandshakePayload {
    fn encode(&self, buf: &mut impl BufMut) {
        self.temp_pk.encode(buf);
        self.base_nonce.encode(buf);
    }
    fn encoded_len(&self) -> usize {
        TCP_HANDSHAKE_PLAIN_SIZE
    }
}

impl Decode for HandshakePayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "tcp handshake payload",
            TCP_HANDSHAKE_PLAIN_SIZE,
            TCP_HANDSHAKE_PLAIN_SIZE,
        )?;
        Ok(Self {
            temp_pk: PublicKey::decode(reader)?,
            base_nonce: Nonce::decode(reader)?,
        })
    }
}

fn open(shared: &SharedKey, nonce: &Nonce, sealed: &[u8]) -> Result<HandshakePayload, OpenError> {
    let plain = shared.decrypt(nonce, sealed)?;
    Ok(HandshakePayload::from_bytes(&plain)?)
}

/// R1: the client's handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    /// The client's DHT public key.
    pub client_pk: PublicKey,
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The sealed [`HandshakePayload`] (72 bytes).
    pub sealed: Vec<u8>,
}

impl ClientHandshake {
    /// Seals `payload` under the long-term key of the client's DHT secret
    /// key and the relay's public key.
    pub fn new(
        shared: &SharedKey,
        client_pk: PublicKey,
        nonce: Nonce,
        payload: &HandshakePayload,
    ) -> Self {
        Self {
            client_pk,
            nonce,
            sealed: shared.encrypt(&nonce, &payload.to_bytes()),
        }
    }

    /// Opens the payload with the long-term key of the relay's secret key
    /// and [`ClientHandshake::client_pk`].
    pub fn open(&self, shared: &SharedKey) -> Result<HandshakePayload, OpenError> {
        open(shared, &self.nonce, &self.sealed)
    }
}

impl Encode for ClientHandshake {
    fn encode(&self, buf: &mut impl BufMut) {
        self.client_pk.encode(buf);
        self.nonce.encode(buf);
        buf.put_slice(&self.sealed);
    }
    fn encoded_len(&self) -> usize {
        PUBLIC_KEY_SIZE + NONCE_SIZE + self.sealed.len()
    }
}

impl Decode for ClientHandshake {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "tcp client handshake",
            TCP_CLIENT_HANDSHAKE_SIZE,
            TCP_CLIENT_HANDSHAKE_SIZE,
        )?;
        Ok(Self {
            client_pk: PublicKey::decode(reader)?,
            nonce: Nonce::decode(reader)?,
            sealed: reader
                .take(
                    "sealed handshake",
                    TCP_CLIENT_HANDSHAKE_SIZE - PUBLIC_KEY_SIZE - NONCE_SIZE,
                )?
                .to_vec(),
        })
    }
}

/// R2: the relay's handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHandshake {
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The sealed [`HandshakePayload`] (72 bytes).
    pub sealed: Vec<u8>,
}

impl ServerHandshake {
    /// Seals `payload` under the long-term key of the relay's secret key
    /// and the client's DHT key.
    pub fn new(shared: &SharedKey, nonce: Nonce, payload: &HandshakePayload) -> Self {
        Self {
            nonce,
            sealed: shared.encrypt(&nonce, &payload.to_bytes()),
        }
    }

    /// Opens the payload with the key the client's handshake was sealed
    /// with.
    pub fn open(&self, shared: &SharedKey) -> Result<HandshakePayload, OpenError> {
        open(shared, &self.nonce, &self.sealed)
    }
}

impl Encode for ServerHandshake {
    fn encode(&self, buf: &mut impl BufMut) {
        self.nonce.encode(buf);
        buf.put_slice(&self.sealed);
    }
    fn encoded_len(&self) -> usize {
        NONCE_SIZE + self.sealed.len()
    }
}

impl Decode for ServerHandshake {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "tcp server handshake",
            TCP_SERVER_HANDSHAKE_SIZE,
            TCP_SERVER_HANDSHAKE_SIZE,
        )?;
        Ok(Self {
            nonce: Nonce::decode(reader)?,
            sealed: reader
                .take("sealed handshake", TCP_SERVER_HANDSHAKE_SIZE - NONCE_SIZE)?
                .to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::CryptoError;
    use toxide_core::testing::{PEERS, arb_nonce, arb_pk, garbage};

    #[test]
    fn sizes_match_ctoxcore() {
        let p = &*PEERS;
        let payload = HandshakePayload {
            temp_pk: p.bob.public,
            base_nonce: Nonce::new([7; 24]),
        };
        let hello =
            ClientHandshake::new(&p.alice_bob, p.alice.public, Nonce::new([1; 24]), &payload);
        assert_eq!(hello.to_bytes().len(), 128);
        let reply = ServerHandshake::new(&p.bob_alice, Nonce::new([2; 24]), &payload);
        assert_eq!(reply.to_bytes().len(), 96);
        assert_eq!(hello.open(&p.bob_alice), Ok(payload));
        assert_eq!(reply.open(&p.alice_bob), Ok(payload));
    }

    #[test]
    fn wrong_key_and_tampering_are_refused() {
        let p = &*PEERS;
        let payload = HandshakePayload {
            temp_pk: p.bob.public,
            base_nonce: Nonce::new([7; 24]),
        };
        let mut hello =
            ClientHandshake::new(&p.alice_bob, p.alice.public, Nonce::new([1; 24]), &payload);
        assert_eq!(
            hello.open(&p.eve_bob),
            Err(OpenError::Crypto(CryptoError::AuthenticationFailed))
        );
        hello.sealed[5] ^= 1;
        assert!(hello.open(&p.bob_alice).is_err());
    }

    #[test]
    fn wrong_sizes_are_refused() {
        for len in [0, 95, 97, 127, 129] {
            assert!(ServerHandshake::from_bytes(&vec![0; len]).is_err(), "{len}");
            assert!(ClientHandshake::from_bytes(&vec![0; len]).is_err(), "{len}");
        }
        assert!(ServerHandshake::from_bytes(&[0; 96]).is_ok());
        assert!(ClientHandshake::from_bytes(&[0; 128]).is_ok());
    }

    proptest! {
        #[test]
        fn client_handshake_round_trips(pk in arb_pk(), nonce in arb_nonce(), sealed in any::<[u8; 72]>()) {
            let h = ClientHandshake { client_pk: pk, nonce, sealed: sealed.to_vec() };
            prop_assert_eq!(ClientHandshake::from_bytes(&h.to_bytes()), Ok(h));
        }

        #[test]
        fn server_handshake_round_trips(nonce in arb_nonce(), sealed in any::<[u8; 72]>()) {
            let h = ServerHandshake { nonce, sealed: sealed.to_vec() };
            prop_assert_eq!(ServerHandshake::from_bytes(&h.to_bytes()), Ok(h));
        }

        #[test]
        fn payload_round_trips(temp_pk in arb_pk(), base_nonce in arb_nonce()) {
            let p = HandshakePayload { temp_pk, base_nonce };
            prop_assert_eq!(HandshakePayload::from_bytes(&p.to_bytes()), Ok(p));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(200)) {
            let _ = ClientHandshake::from_bytes(&bytes);
            let _ = ServerHandshake::from_bytes(&bytes);
            let _ = HandshakePayload::from_bytes(&bytes);
        }
    }
}
