//! One connection's handshake as typed states (checklist N5), so an
//! invalid transition cannot be written: each state is a type, and a
//! packet that means nothing in a state is a method it does not have.
//!
//! ```text
//!  connect()                    handshake (valid, same DHT key)
//!     │                     ┌──────────────────────────────────┐
//!     ▼                     │                                  ▼
//!  CookieRequesting ──cookie response──▶ HandshakeSent ──handshake──▶ NotConfirmed ──data──▶ Established
//!   (cookie request            (our handshake                  (session keys known,     (data flows)
//!    every 1 s, 8 tries)        every 1 s, 8 tries)             handshake every 1 s)
//! ```
//!
//! A peer that opens towards us first skips to `NotConfirmed` through
//! [`NotConfirmed::accept`]. Both sides opening at once converge: each
//! answers the other's handshake from `HandshakeSent` (or
//! `CookieRequesting`) and the two sessions are the same session, since
//! each side keeps the session key it announced. The resend schedule and
//! its limit are c-toxcore's (`CRYPTO_SEND_PACKET_INTERVAL`,
//! `MAX_NUM_SENDPACKET_TRIES`, `kill_timedout`).

use std::time::Instant;

use toxide_core::{CryptoRng, Encode, KeyPair, Nonce, PublicKey, SharedKey, SymmetricKey};

use crate::packet::{
    CRYPTO_SEND_PACKET_INTERVAL, Cookie, CookieContents, CookieRequest, CookieRequestPayload,
    CookieResponse, CryptoHandshake, HandshakePayload, MAX_NUM_SENDPACKET_TRIES,
    NetCryptoPacketError,
};
use crate::session::Session;

/// A packet resent every second until the state moves on (c-toxcore's
/// "temp packet").
#[derive(Debug, Clone)]
pub(crate) struct Resend {
    packet: Vec<u8>,
    sent: u32,
    last_sent: Option<Instant>,
}

impl Resend {
    fn new(packet: Vec<u8>) -> Self {
        Self {
            packet,
            sent: 0,
            last_sent: None,
        }
    }

    /// Nothing to resend: stands in while a state is moved out of its
    /// connection.
    pub(crate) fn empty() -> Self {
        Self::new(Vec::new())
    }

    /// The packet if it is due now (first send, or a second since the
    /// last); counts the send.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<Vec<u8>> {
        let due = self
            .last_sent
            .is_none_or(|t| now.saturating_duration_since(t) > CRYPTO_SEND_PACKET_INTERVAL);
        due.then(|| {
            self.sent += 1;
            self.last_sent = Some(now);
            self.packet.clone()
        })
    }

    /// When the packet is next due.
    pub(crate) fn next_due(&self, now: Instant) -> Instant {
        self.last_sent.map_or(now, |t| {
            t + CRYPTO_SEND_PACKET_INTERVAL + std::time::Duration::from_millis(1)
        })
    }

    /// Whether it went out [`MAX_NUM_SENDPACKET_TRIES`] times unanswered.
    pub(crate) fn exhausted(&self) -> bool {
        self.sent >= MAX_NUM_SENDPACKET_TRIES
    }
}

/// What both sides of a connection are: the peer, our keys for the
/// session, and the key the handshakes are sealed with.
#[derive(Debug)]
pub(crate) struct Keys {
    /// The peer's long-term key.
    pub(crate) real_pk: PublicKey,
    /// The peer's DHT key as we know it.
    pub(crate) dht_pk: PublicKey,
    /// Our real key × the peer's real key: seals handshakes.
    pub(crate) shared_real: SharedKey,
    /// Our session key pair for this connection (fresh per connection).
    pub(crate) session: KeyPair,
    /// Our base nonce for data packets.
    pub(crate) base_nonce: Nonce,
}

impl Keys {
    /// Fresh session keys for a connection to `real_pk`; `None` if the
    /// peer's real key is a low-order point.
    pub(crate) fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        our_real: &KeyPair,
        real_pk: PublicKey,
        dht_pk: PublicKey,
    ) -> Option<Self> {
        Some(Self {
            shared_real: SharedKey::new(&real_pk, &our_real.secret).ok()?,
            real_pk,
            dht_pk,
            session: KeyPair::generate(rng),
            base_nonce: Nonce::random(rng),
        })
    }

    /// Our handshake answering `answered` (a cookie the peer made): it
    /// carries our session key and base nonce, and a cookie of ours for
    /// the peer to answer with.
    pub(crate) fn handshake<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        cookie_key: &SymmetricKey,
        now_secs: u64,
        answered: &Cookie,
    ) -> Vec<u8> {
        let ours = Cookie::seal(
            cookie_key,
            Nonce::random(rng),
            &CookieContents {
                time: now_secs,
                real_pk: self.real_pk,
                dht_pk: self.dht_pk,
            },
        );
        let payload =
            HandshakePayload::answering(answered, self.base_nonce, self.session.public, ours);
        CryptoHandshake::new(
            &self.shared_real,
            answered.clone(),
            Nonce::random(rng),
            &payload,
        )
        .to_bytes()
    }

    /// The session the peer's handshake payload describes.
    fn session(&self, now: Instant, peer: &HandshakePayload) -> Option<Session> {
        Session::new(
            now,
            &self.session,
            self.base_nonce,
            &peer.session_pk,
            peer.base_nonce,
        )
    }
}

/// We asked for a cookie and wait for it.
#[derive(Debug)]
pub(crate) struct CookieRequesting {
    echo_id: u64,
    /// Our DHT key × the peer's DHT key: the cookie response opens with it.
    dht_shared: SharedKey,
    pub(crate) resend: Resend,
}

impl CookieRequesting {
    /// Starts asking the peer with DHT key `keys.dht_pk` for a cookie.
    /// `None` if that key is a low-order point.
    pub(crate) fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        our_real: &PublicKey,
        our_dht: &KeyPair,
        keys: &Keys,
    ) -> Option<Self> {
        let dht_shared = SharedKey::new(&keys.dht_pk, &our_dht.secret).ok()?;
        let echo_id = rng.next_u64();
        let request = CookieRequest::new(
            &dht_shared,
            our_dht.public,
            Nonce::random(rng),
            &CookieRequestPayload {
                real_pk: *our_real,
                echo_id,
            },
        );
        Some(Self {
            echo_id,
            dht_shared,
            resend: Resend::new(request.to_bytes()),
        })
    }

    /// The peer's cookie arrived: send our handshake answering it.
    pub(crate) fn on_cookie_response<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        cookie_key: &SymmetricKey,
        now_secs: u64,
        keys: &Keys,
        response: &CookieResponse,
    ) -> Result<HandshakeSent, NetCryptoPacketError> {
        let payload = response.open(&self.dht_shared)?;
        if payload.echo_id != self.echo_id {
            return Err(NetCryptoPacketError::EchoMismatch);
        }
        Ok(HandshakeSent {
            resend: Resend::new(keys.handshake(rng, cookie_key, now_secs, &payload.cookie)),
        })
    }

    /// The peer's handshake arrived before its cookie (it opened towards
    /// us too): answer it and go straight to [`NotConfirmed`].
    pub(crate) fn on_handshake<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        cookie_key: &SymmetricKey,
        now: Instant,
        now_secs: u64,
        keys: &Keys,
        peer: &HandshakePayload,
    ) -> Option<NotConfirmed> {
        let handshake = keys.handshake(rng, cookie_key, now_secs, &peer.cookie);
        Some(NotConfirmed {
            session: Box::new(keys.session(now, peer)?),
            resend: Resend::new(handshake),
        })
    }
}

/// Our handshake is out; we wait for the peer's.
#[derive(Debug)]
pub(crate) struct HandshakeSent {
    pub(crate) resend: Resend,
}

impl HandshakeSent {
    /// The peer's handshake arrived: the session keys are known. Ours
    /// keeps going out until data arrives.
    pub(crate) fn on_handshake(
        self,
        now: Instant,
        keys: &Keys,
        peer: &HandshakePayload,
    ) -> Result<NotConfirmed, Self> {
        match keys.session(now, peer) {
            Some(session) => Ok(NotConfirmed {
                session: Box::new(session),
                resend: self.resend,
            }),
            None => Err(self),
        }
    }
}

/// Both handshakes made; the first data packet confirms the session.
#[derive(Debug)]
pub(crate) struct NotConfirmed {
    pub(crate) session: Box<Session>,
    pub(crate) resend: Resend,
}

impl NotConfirmed {
    /// A handshake from a peer we had no connection with (or whose
    /// connection we just dropped): answer it at once.
    pub(crate) fn accept<R: CryptoRng + ?Sized>(
        rng: &mut R,
        cookie_key: &SymmetricKey,
        now: Instant,
        now_secs: u64,
        keys: &Keys,
        peer: &HandshakePayload,
    ) -> Option<Self> {
        Some(Self {
            session: Box::new(keys.session(now, peer)?),
            resend: Resend::new(keys.handshake(rng, cookie_key, now_secs, &peer.cookie)),
        })
    }

    /// The peer sent its handshake again, perhaps with a new session key
    /// (it restarted its side): take the new keys, keep ours.
    pub(crate) fn on_handshake(self, now: Instant, keys: &Keys, peer: &HandshakePayload) -> Self {
        match keys.session(now, peer) {
            Some(session) => Self {
                session: Box::new(session),
                resend: self.resend,
            },
            None => self,
        }
    }

    /// Data arrived: the session is established.
    pub(crate) fn confirm(self) -> Box<Session> {
        self.session
    }
}

/// Where a connection stands.
#[derive(Debug)]
pub(crate) enum State {
    /// Waiting for the peer's cookie.
    CookieRequesting(CookieRequesting),
    /// Waiting for the peer's handshake.
    HandshakeSent(HandshakeSent),
    /// Waiting for the first data packet.
    NotConfirmed(NotConfirmed),
    /// Data flows.
    Established(Box<Session>),
}

impl State {
    /// The packet resent every second in this state, if any.
    pub(crate) fn resend_mut(&mut self) -> Option<&mut Resend> {
        match self {
            Self::CookieRequesting(s) => Some(&mut s.resend),
            Self::HandshakeSent(s) => Some(&mut s.resend),
            Self::NotConfirmed(s) => Some(&mut s.resend),
            Self::Established(_) => None,
        }
    }

    /// The resent packet (read-only).
    pub(crate) fn resend(&self) -> Option<&Resend> {
        match self {
            Self::CookieRequesting(s) => Some(&s.resend),
            Self::HandshakeSent(s) => Some(&s.resend),
            Self::NotConfirmed(s) => Some(&s.resend),
            Self::Established(_) => None,
        }
    }

    /// The session, once the peer's session key is known.
    pub(crate) fn session_mut(&mut self) -> Option<&mut Session> {
        match self {
            Self::NotConfirmed(s) => Some(&mut s.session),
            Self::Established(s) => Some(s),
            Self::CookieRequesting(_) | Self::HandshakeSent(_) => None,
        }
    }

    /// The session (read-only).
    pub(crate) fn session(&self) -> Option<&Session> {
        match self {
            Self::NotConfirmed(s) => Some(&s.session),
            Self::Established(s) => Some(s),
            Self::CookieRequesting(_) | Self::HandshakeSent(_) => None,
        }
    }
}
