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
//!
//! The handshake also measures the path, and the session's round-trip
//! estimate starts from that ([`crate::lossless::Rtt::seeded`]). A sample
//! runs from a packet of ours to the first authenticated packet that could
//! not exist before the peer got it: the cookie response echoing our
//! request's id (initiator), the peer's handshake returning the cookie our
//! handshake carried, or the first data packet, sealed to the session key
//! only our handshake announced. A peer can delay these, never hasten
//! them, so a sample is never below the real round trip. The smallest
//! sample seeds the session when it is established.

use std::time::{Duration, Instant};

use toxide_core::{
    CryptoRng, Encode, KeyPair, NONCE_SIZE, Nonce, PublicKey, SharedKey, SymmetricKey,
};

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

    /// The round trip to `now`, when a packet proving the peer got this
    /// one arrives. Only if it went out exactly once: every resend is the
    /// same bytes (the same echo id, the same cookie), so an answer after
    /// a resend may be to any copy and the sample is skipped (Karn's rule)
    /// rather than guessed.
    pub(crate) fn round_trip(&self, now: Instant) -> Option<Duration> {
        let sent = self.last_sent.filter(|_| self.sent == 1)?;
        Some(now.saturating_duration_since(sent))
    }
}

/// The smaller of two optional round-trip samples.
fn min_sample(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    a.into_iter().chain(b).min()
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
    /// the peer to answer with, whose nonce is returned too (a handshake
    /// returning that cookie proves the peer got this one).
    pub(crate) fn handshake<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        cookie_key: &SymmetricKey,
        now_secs: u64,
        answered: &Cookie,
    ) -> (Vec<u8>, Nonce) {
        let cookie_nonce = Nonce::random(rng);
        let ours = Cookie::seal(
            cookie_key,
            cookie_nonce,
            &CookieContents {
                time: now_secs,
                real_pk: self.real_pk,
                dht_pk: self.dht_pk,
            },
        );
        let payload =
            HandshakePayload::answering(answered, self.base_nonce, self.session.public, ours);
        let packet = CryptoHandshake::new(
            &self.shared_real,
            answered.clone(),
            Nonce::random(rng),
            &payload,
        );
        (packet.to_bytes(), cookie_nonce)
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

    /// The peer's cookie arrived: send our handshake answering it. The
    /// response opened and echoed our id, so it samples the round trip
    /// (unless the request was resent: see [`Resend::round_trip`]).
    pub(crate) fn on_cookie_response<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        cookie_key: &SymmetricKey,
        now: Instant,
        now_secs: u64,
        keys: &Keys,
        response: &CookieResponse,
    ) -> Result<HandshakeSent, NetCryptoPacketError> {
        let payload = response.open(&self.dht_shared)?;
        if payload.echo_id != self.echo_id {
            return Err(NetCryptoPacketError::EchoMismatch);
        }
        let (handshake, ours) = keys.handshake(rng, cookie_key, now_secs, &payload.cookie);
        Ok(HandshakeSent {
            resend: Resend::new(handshake),
            ours,
            rtt: self.resend.round_trip(now),
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
        // Nothing we measured applies: answered as a stranger's handshake.
        NotConfirmed::accept(rng, cookie_key, now, now_secs, keys, peer)
    }
}

/// Our handshake is out; we wait for the peer's.
#[derive(Debug)]
pub(crate) struct HandshakeSent {
    pub(crate) resend: Resend,
    /// The nonce of the cookie our handshake carries. A handshake returning
    /// that cookie answers ours (in a simultaneous open the peer's may
    /// not); the nonce is random per cookie, and the returned cookie has
    /// opened under our key, so the nonce is enough to recognise it.
    ours: Nonce,
    /// The cookie exchange's round trip, if it gave one.
    rtt: Option<Duration>,
}

impl HandshakeSent {
    /// A state to stand in for a moment while the real one is moved out
    /// of its connection (never seen outside the layer's transitions).
    pub(crate) fn placeholder() -> Self {
        Self {
            resend: Resend::empty(),
            ours: Nonce::new([0; NONCE_SIZE]),
            rtt: None,
        }
    }

    /// The peer's handshake arrived (it returns the cookie `answered`):
    /// the session keys are known. Ours keeps going out until data
    /// arrives.
    pub(crate) fn on_handshake(
        self,
        now: Instant,
        keys: &Keys,
        peer: &HandshakePayload,
        answered: &Cookie,
    ) -> Result<NotConfirmed, Self> {
        let Some(session) = keys.session(now, peer) else {
            return Err(self);
        };
        let reply = answered
            .as_bytes()
            .starts_with(self.ours.as_bytes())
            .then(|| self.resend.round_trip(now))
            .flatten();
        Ok(NotConfirmed {
            session: Box::new(session),
            rtt: min_sample(self.rtt, reply),
            resend: self.resend,
        })
    }
}

/// Both handshakes made; the first data packet confirms the session.
#[derive(Debug)]
pub(crate) struct NotConfirmed {
    pub(crate) session: Box<Session>,
    pub(crate) resend: Resend,
    /// The smallest round trip the handshake measured so far.
    rtt: Option<Duration>,
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
        let (handshake, _) = keys.handshake(rng, cookie_key, now_secs, &peer.cookie);
        Some(Self {
            session: Box::new(keys.session(now, peer)?),
            resend: Resend::new(handshake),
            rtt: None,
        })
    }

    /// The peer sent its handshake again, perhaps with a new session key
    /// (it restarted its side): take the new keys, keep ours.
    pub(crate) fn on_handshake(self, now: Instant, keys: &Keys, peer: &HandshakePayload) -> Self {
        match keys.session(now, peer) {
            Some(session) => Self {
                session: Box::new(session),
                ..self
            },
            None => self,
        }
    }

    /// Data arrived at `now`: the session is established. The packet was
    /// sealed to the session key only our handshake carried, so it also
    /// closes a round trip; the smallest sample seeds the estimate.
    pub(crate) fn confirm(self, now: Instant) -> Box<Session> {
        let mut session = self.session;
        if let Some(rtt) = min_sample(self.rtt, self.resend.round_trip(now)) {
            session.seed_rtt(rtt);
        }
        session
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_packet_sent_once_times_the_round_trip() {
        let t = Instant::now();
        let mut resend = Resend::new(vec![1]);
        assert_eq!(resend.round_trip(t), None, "not sent yet");
        assert!(resend.poll(t).is_some());
        assert_eq!(
            resend.round_trip(t + Duration::from_millis(80)),
            Some(Duration::from_millis(80))
        );
    }

    #[test]
    fn a_resent_packet_gives_no_sample() {
        let t = Instant::now();
        let mut resend = Resend::new(vec![1]);
        assert!(resend.poll(t).is_some());
        let again = t + Duration::from_millis(1001);
        assert!(resend.poll(again).is_some());
        // The answer could be to either copy: 1081 ms or 80 ms.
        assert_eq!(resend.round_trip(again + Duration::from_millis(80)), None);
    }
}
