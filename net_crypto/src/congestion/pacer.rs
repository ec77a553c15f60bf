//! Spacing packets out at the pacing rate.
//!
//! A packet may leave once the pacer's clock has caught up with `now`.
//! Each packet moves the clock on by `1 / rate`. The clock may lag `now`
//! by at most [`PACING_BURST`], so a driver that wakes late (tokio's
//! timers tick in whole milliseconds) catches up with a short burst
//! instead of losing the time, and an idle sender never saves up more
//! than that.

use std::time::{Duration, Instant};

/// The most sending time a late or idle sender may make up at once.
pub(crate) const PACING_BURST: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Default)]
pub(crate) struct Pacer {
    /// When the next packet may leave; `None` before the first.
    next: Option<Instant>,
}

impl Pacer {
    /// Whether a packet may leave at `now`.
    pub(crate) fn ready(&self, now: Instant) -> bool {
        self.next.is_none_or(|next| next <= now)
    }

    /// When the next packet may leave (never before `now`).
    pub(crate) fn next(&self, now: Instant) -> Instant {
        self.next.map_or(now, |next| next.max(now))
    }

    /// A packet left at `now` while pacing at `rate` packets per second.
    pub(crate) fn on_sent(&mut self, now: Instant, rate: f64) {
        let floor = now.checked_sub(PACING_BURST).unwrap_or(now);
        let from = self.next.map_or(floor, |next| next.max(floor));
        let gap = Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::ZERO);
        self.next = Some(from.checked_add(gap).unwrap_or(from));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_packets_and_allows_a_short_catch_up_burst() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut p = Pacer::default();
        assert!(p.ready(t0));
        // 10 000 packets/s: 100 µs apart, with up to 1 ms of credit.
        let mut sent = 0;
        while p.ready(t0) {
            p.on_sent(t0, 10_000.0);
            sent += 1;
        }
        assert_eq!(sent, 11);
        assert!(!p.ready(t0));
        assert!(p.next(t0) > t0);
        assert!(p.ready(t0 + Duration::from_micros(100)));
        // A long pause earns no more than the burst.
        let later = t0 + Duration::from_secs(5);
        let mut sent = 0;
        while p.ready(later) {
            p.on_sent(later, 10_000.0);
            sent += 1;
        }
        assert_eq!(sent, 11);
    }

    #[test]
    fn absurd_rates_do_not_panic() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300] {
            p.on_sent(t0, rate);
        }
        let _ = p.next(t0);
    }
}
