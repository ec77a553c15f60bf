//! The round-trip estimate a sender gates resends on (checklist N14;
//! c-toxcore 0.2.18 `rtt_time`, sampled at the end of
//! `handle_data_packet_core` in `net_crypto.c`).
//!
//! c-toxcore starts at [`DEFAULT_PING_CONNECTION`] (1 s) and only ever
//! lowers the estimate: after each data packet it handled, it takes the
//! time since the latest send among the packets that packet showed to have
//! arrived — the packet at the old send `buffer_start` when the
//! acknowledgement moved, and every packet a request released — and keeps
//! the minimum. Over TCP it does not use the estimate for requests at all
//! but a fixed [`DEFAULT_TCP_PING_CONNECTION`] (500 ms).
//!
//! We start lower when we can: by the time a session is established its
//! handshake has already timed a round trip over the same path (cookie
//! request to response, handshake to the reply proving it arrived; see
//! `connection`), so the session starts from that ([`Rtt::seeded`]) and
//! a packet lost in its first second is resent after one round trip, not
//! after 1 s. The estimate only decides when we resend what the peer
//! requested; nothing of it goes on the wire, so interop is unchanged.

use std::time::{Duration, Instant};

/// The estimate before any sample (`DEFAULT_PING_CONNECTION`, 1000 ms).
pub const DEFAULT_PING_CONNECTION: Duration = Duration::from_millis(1000);

/// What requests received over a TCP relay are judged with
/// (`DEFAULT_TCP_PING_CONNECTION`, 500 ms).
pub const DEFAULT_TCP_PING_CONNECTION: Duration = Duration::from_millis(500);

/// Minimum-filtered round-trip time of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtt {
    current: Duration,
}

impl Default for Rtt {
    fn default() -> Self {
        Self::new()
    }
}

impl Rtt {
    /// Starts at [`DEFAULT_PING_CONNECTION`].
    pub const fn new() -> Self {
        Self {
            current: DEFAULT_PING_CONNECTION,
        }
    }

    /// Starts at `sample`, a round trip the handshake measured, or at
    /// [`DEFAULT_PING_CONNECTION`] if that is lower: a slow handshake
    /// (a peer answering late) never makes resends wait longer than
    /// c-toxcore would.
    pub fn seeded(sample: Duration) -> Self {
        Self {
            current: sample.min(DEFAULT_PING_CONNECTION),
        }
    }

    /// The current estimate.
    pub const fn get(&self) -> Duration {
        self.current
    }

    /// Takes one sample: `sent` is the latest send time among the packets
    /// the peer has just shown it received (see the module doc), `None`
    /// when there was none. Returns the estimate.
    pub fn sample(&mut self, now: Instant, sent: Option<Instant>) -> Duration {
        if let Some(sent) = sent {
            self.current = self.current.min(now.saturating_duration_since(sent));
        }
        self.current
    }

    /// The age a requested packet's last send must exceed before it is
    /// sent again: the estimate for a request that came directly over
    /// UDP, [`DEFAULT_TCP_PING_CONNECTION`] for one through a TCP relay.
    pub const fn resend_after(&self, over_udp: bool) -> Duration {
        if over_udp {
            self.current
        } else {
            DEFAULT_TCP_PING_CONNECTION
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_minimum_of_samples() {
        let t = Instant::now();
        let mut rtt = Rtt::new();
        assert_eq!(rtt.get(), Duration::from_secs(1));
        assert_eq!(
            rtt.sample(t + Duration::from_millis(300), Some(t)),
            Duration::from_millis(300)
        );
        assert_eq!(
            rtt.sample(t + Duration::from_millis(900), Some(t)),
            Duration::from_millis(300)
        );
        assert_eq!(
            rtt.sample(t + Duration::from_millis(900), None),
            Duration::from_millis(300)
        );
        assert_eq!(
            rtt.sample(
                t + Duration::from_millis(920),
                Some(t + Duration::from_millis(900))
            ),
            Duration::from_millis(20)
        );
        assert_eq!(rtt.resend_after(true), Duration::from_millis(20));
        assert_eq!(rtt.resend_after(false), Duration::from_millis(500));
    }

    #[test]
    fn a_seed_starts_the_estimate_and_samples_still_lower_it() {
        let t = Instant::now();
        let mut rtt = Rtt::seeded(Duration::from_millis(80));
        assert_eq!(rtt.get(), Duration::from_millis(80));
        assert_eq!(rtt.resend_after(true), Duration::from_millis(80));
        assert_eq!(
            rtt.sample(t + Duration::from_millis(200), Some(t)),
            Duration::from_millis(80)
        );
        assert_eq!(
            rtt.sample(t + Duration::from_millis(60), Some(t)),
            Duration::from_millis(60)
        );
    }

    #[test]
    fn a_seed_never_starts_above_the_default() {
        assert_eq!(Rtt::seeded(Duration::from_secs(3)), Rtt::new());
        assert_eq!(Rtt::seeded(DEFAULT_PING_CONNECTION), Rtt::new());
        assert_eq!(Rtt::seeded(Duration::ZERO).get(), Duration::ZERO);
    }

    #[test]
    fn a_send_time_in_the_future_samples_zero_not_a_panic() {
        let t = Instant::now();
        let mut rtt = Rtt::new();
        assert_eq!(
            rtt.sample(t, Some(t + Duration::from_secs(5))),
            Duration::ZERO
        );
    }
}
