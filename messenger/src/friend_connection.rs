//! The liveness of friend connections (checklist F2; spec "Friend
//! connection"; c-toxcore `friend_connection.c`, `send_ping` and the
//! timeout in `do_friend_connections`).
//!
//! A friend connection is the session to one peer, whoever holds it: a
//! Messenger friend, a conference peer that is not a friend (F1), or both.
//! Its liveness belongs to the connection, not to any holder: an alive
//! packet (16) leaves every [`FRIEND_PING_INTERVAL`] on every live
//! session, and a session over which nothing arrived for
//! [`FRIEND_CONNECTION_TIMEOUT`] is dead (how a peer that vanished
//! without a kill packet is noticed). c-toxcore counts only alive packets
//! as news; every packet counts here, which only keeps a busy session
//! alive longer than its peer's silence alone would (the peer pings every
//! 8 s whatever else it sends).
//!
//! [`Keepalive`] keeps the two timers per live session and says whom to
//! ping and whom to drop; the composition above sends and kills.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use toxide_core::PublicKey;

/// How often an alive packet leaves on a live session
/// (`FRIEND_PING_INTERVAL`, 8 s).
pub const FRIEND_PING_INTERVAL: Duration = Duration::from_secs(8);

/// A session silent this long is dead (`FRIEND_CONNECTION_TIMEOUT`,
/// 4 × the ping interval).
pub const FRIEND_CONNECTION_TIMEOUT: Duration = Duration::from_secs(32);

#[derive(Debug, Clone, Copy)]
struct Timers {
    /// When the peer last sent anything.
    received: Instant,
    /// When we last sent an alive packet.
    alive_sent: Instant,
}

impl Timers {
    fn next(self) -> Instant {
        (self.alive_sent + FRIEND_PING_INTERVAL).min(self.received + FRIEND_CONNECTION_TIMEOUT)
    }
}

/// What [`Keepalive::handle_timeout`] found due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Due {
    /// Sessions to send an alive packet on.
    pub ping: Vec<PublicKey>,
    /// Sessions silent for [`FRIEND_CONNECTION_TIMEOUT`]: kill them and
    /// tell their holders they are down. They are forgotten here.
    pub dead: Vec<PublicKey>,
}

/// The alive timers of every live session, by the peer's long-term key.
#[derive(Debug, Clone, Default)]
pub struct Keepalive {
    sessions: HashMap<PublicKey, Timers>,
    timed_out: u64,
}

impl Keepalive {
    /// No session yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `peer`'s session is up: the clocks start now.
    pub fn session_up(&mut self, now: Instant, peer: PublicKey) {
        self.sessions.insert(
            peer,
            Timers {
                received: now,
                alive_sent: now,
            },
        );
    }

    /// `peer`'s session is gone.
    pub fn session_down(&mut self, peer: &PublicKey) {
        self.sessions.remove(peer);
    }

    /// Something arrived over `peer`'s session.
    pub fn received(&mut self, now: Instant, peer: &PublicKey) {
        if let Some(timers) = self.sessions.get_mut(peer) {
            timers.received = now;
        }
    }

    /// Sessions killed for silence so far.
    pub fn timed_out(&self) -> u64 {
        self.timed_out
    }

    /// When [`Keepalive::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sessions.values().map(|t| t.next()).min()
    }

    /// The pings and deaths due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Due {
        let mut due = Due::default();
        for (peer, timers) in &mut self.sessions {
            if now.saturating_duration_since(timers.received) >= FRIEND_CONNECTION_TIMEOUT {
                due.dead.push(*peer);
            } else if now.saturating_duration_since(timers.alive_sent) >= FRIEND_PING_INTERVAL {
                timers.alive_sent = now;
                due.ping.push(*peer);
            }
        }
        for peer in &due.dead {
            self.sessions.remove(peer);
            self.timed_out += 1;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use toxide_core::KeyPair;

    #[test]
    fn alive_packets_and_the_silence_timeout() {
        let t0 = Instant::now();
        let peer = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1)).public;
        let mut keepalive = Keepalive::new();
        assert_eq!(keepalive.poll_timeout(), None);
        keepalive.session_up(t0, peer);
        assert_eq!(keepalive.poll_timeout(), Some(t0 + FRIEND_PING_INTERVAL));
        let due = keepalive.handle_timeout(t0 + FRIEND_PING_INTERVAL);
        assert_eq!(due.ping, [peer]);
        assert!(due.dead.is_empty());
        // The peer's packets keep the session; silence ends it.
        keepalive.received(t0 + Duration::from_secs(20), &peer);
        assert!(
            keepalive
                .handle_timeout(t0 + Duration::from_secs(51))
                .dead
                .is_empty()
        );
        let due = keepalive.handle_timeout(t0 + Duration::from_secs(52));
        assert_eq!(due.dead, [peer]);
        assert_eq!(keepalive.timed_out(), 1);
        assert_eq!(
            keepalive.poll_timeout(),
            None,
            "no timers without a session"
        );
    }

    #[test]
    fn a_session_that_went_down_is_not_pinged() {
        let t0 = Instant::now();
        let peer = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1)).public;
        let mut keepalive = Keepalive::new();
        keepalive.session_up(t0, peer);
        keepalive.session_down(&peer);
        assert_eq!(keepalive.poll_timeout(), None);
        assert_eq!(
            keepalive.handle_timeout(t0 + FRIEND_CONNECTION_TIMEOUT),
            Due::default()
        );
    }
}
