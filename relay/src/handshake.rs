//! The handshake as typed steps (checklist R1–R3; spec "TCP server";
//! c-toxcore `generate_handshake`/`handle_handshake` in `TCP_client.c`,
//! `handle_TCP_handshake` in `TCP_server.c`).
//!
//! The client draws a temporary key pair and a base nonce, seals them
//! under its long-term (DHT) key for the relay ([`ExpectServerHandshake::start`]);
//! the relay opens that, draws its own and answers ([`accept`]); the
//! client opens the answer ([`ExpectServerHandshake::finish`]). Both then
//! hold a [`Channel`] keyed with the shared key of the two temporary keys,
//! each direction counting from its sender's base nonce. The long-term
//! keys only authenticate the exchange; a recorded stream stays sealed
//! after they leak.
//!
//! The relay learns the client's identity from the handshake alone, but
//! keeps the connection "unconfirmed" until a first frame opens (R3):
//! that proves the client got the answer and holds the temporary key,
//! which a peer replaying someone's handshake does not.

use thiserror::Error;
use toxide_core::{CryptoError, CryptoRng, KeyPair, Nonce, PublicKey, SharedKey};

use crate::frame::{Channel, FrameOpener, FrameSealer};
use crate::packet::{ClientHandshake, HandshakePayload, OpenError, ServerHandshake};

/// Why a handshake failed (the connection is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// A long-term or temporary public key is a low-order point.
    #[error("low-order public key in the handshake")]
    LowOrderKey,
    /// The handshake box did not open or was malformed.
    #[error("handshake did not open: {0}")]
    Open(#[from] OpenError),
}

fn shared(their: &PublicKey, ours: &KeyPair) -> Result<SharedKey, HandshakeError> {
    SharedKey::new(their, &ours.secret).map_err(|e| match e {
        CryptoError::LowOrderKey => HandshakeError::LowOrderKey,
        other => HandshakeError::Open(OpenError::Crypto(other)),
    })
}

/// The client after sending its handshake: waits for the relay's.
#[derive(Debug)]
pub struct ExpectServerHandshake {
    long_term: SharedKey,
    temp: KeyPair,
    base_nonce: Nonce,
}

impl ExpectServerHandshake {
    /// Builds the client handshake for the relay `server_pk`, as the
    /// client whose DHT key pair is `ours`.
    pub fn start<R: CryptoRng + ?Sized>(
        rng: &mut R,
        ours: &KeyPair,
        server_pk: &PublicKey,
    ) -> Result<(Self, ClientHandshake), HandshakeError> {
        let long_term = shared(server_pk, ours)?;
        let temp = KeyPair::generate(rng);
        let base_nonce = Nonce::random(rng);
        let payload = HandshakePayload {
            temp_pk: temp.public,
            base_nonce,
        };
        let hello = ClientHandshake::new(&long_term, ours.public, Nonce::random(rng), &payload);
        Ok((
            Self {
                long_term,
                temp,
                base_nonce,
            },
            hello,
        ))
    }

    /// Opens the relay's answer: the session.
    pub fn finish(self, reply: &ServerHandshake) -> Result<Channel, HandshakeError> {
        let theirs = reply.open(&self.long_term)?;
        let session = shared(&theirs.temp_pk, &self.temp)?;
        Ok(Channel {
            sealer: FrameSealer::new(session.clone(), self.base_nonce),
            opener: FrameOpener::new(session, theirs.base_nonce),
        })
    }
}

/// What the relay gets from a valid client handshake.
#[derive(Debug)]
pub struct Accepted {
    /// The client's DHT public key: its identity on this relay.
    pub client_pk: PublicKey,
    /// The answer to write before any frame.
    pub reply: ServerHandshake,
    /// The session.
    pub channel: Channel,
}

/// The relay's side: opens a client handshake with the relay's key pair
/// and answers it.
pub fn accept<R: CryptoRng + ?Sized>(
    rng: &mut R,
    server: &KeyPair,
    hello: &ClientHandshake,
) -> Result<Accepted, HandshakeError> {
    let long_term = shared(&hello.client_pk, server)?;
    let theirs = hello.open(&long_term)?;
    let temp = KeyPair::generate(rng);
    let base_nonce = Nonce::random(rng);
    let session = shared(&theirs.temp_pk, &temp)?;
    let payload = HandshakePayload {
        temp_pk: temp.public,
        base_nonce,
    };
    Ok(Accepted {
        client_pk: hello.client_pk,
        reply: ServerHandshake::new(&long_term, Nonce::random(rng), &payload),
        channel: Channel {
            sealer: FrameSealer::new(session.clone(), base_nonce),
            opener: FrameOpener::new(session, theirs.base_nonce),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameDecoder;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use toxide_core::{Decode, Encode};

    fn keys(seed: u64) -> KeyPair {
        KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(seed))
    }

    #[test]
    fn both_sides_derive_one_session() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (client, server) = (keys(1), keys(2));
        let (expect, hello) =
            ExpectServerHandshake::start(&mut rng, &client, &server.public).unwrap();
        let hello = ClientHandshake::from_bytes(&hello.to_bytes()).unwrap();
        let accepted = accept(&mut rng, &server, &hello).unwrap();
        assert_eq!(accepted.client_pk, client.public);
        let reply = ServerHandshake::from_bytes(&accepted.reply.to_bytes()).unwrap();
        let mut c = expect.finish(&reply).unwrap();
        let mut s = accepted.channel;
        let mut at_server = FrameDecoder::new(s.opener.clone(), &c.sealer.seal(b"ping").unwrap());
        assert_eq!(at_server.next_frame().unwrap(), Some(b"ping".to_vec()));
        let mut at_client = FrameDecoder::new(c.opener.clone(), &s.sealer.seal(b"pong").unwrap());
        assert_eq!(at_client.next_frame().unwrap(), Some(b"pong".to_vec()));
        // The directions use different base nonces.
        assert_ne!(c.sealer.next_nonce(), s.sealer.next_nonce());
    }

    #[test]
    fn wrong_relay_key_fails() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (client, server, other) = (keys(1), keys(2), keys(3));
        let (_, hello) = ExpectServerHandshake::start(&mut rng, &client, &other.public).unwrap();
        assert!(matches!(
            accept(&mut rng, &server, &hello),
            Err(HandshakeError::Open(_))
        ));
    }

    #[test]
    fn forged_reply_fails() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (client, server) = (keys(1), keys(2));
        let (expect, hello) =
            ExpectServerHandshake::start(&mut rng, &client, &server.public).unwrap();
        let mut reply = accept(&mut rng, &server, &hello).unwrap().reply;
        reply.sealed[0] ^= 1;
        assert!(expect.finish(&reply).is_err());
    }

    #[test]
    fn low_order_keys_are_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let client = keys(1);
        assert_eq!(
            ExpectServerHandshake::start(&mut rng, &client, &PublicKey::new([0; 32])).err(),
            Some(HandshakeError::LowOrderKey)
        );
        let server = keys(2);
        let hello = ClientHandshake {
            client_pk: PublicKey::new([0; 32]),
            nonce: Nonce::default(),
            sealed: vec![0; 72],
        };
        assert_eq!(
            accept(&mut rng, &server, &hello).err(),
            Some(HandshakeError::LowOrderKey)
        );
    }
}
