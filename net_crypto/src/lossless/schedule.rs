//! When to send the next request packet (checklist N10; c-toxcore 0.2.18
//! `send_crypto_packets` in `net_crypto.c`).
//!
//! A session that is past the handshake sends one at least every
//! [`CRYPTO_SEND_PACKET_INTERVAL`] (1 s). Once established, while lossless
//! packets arrive faster than [`CRYPTO_PACKET_MIN_RATE`] per second
//! (measured over windows of [`PACKET_COUNTER_AVERAGE_INTERVAL`]), it
//! sends them more often, every
//!
//! ```text
//! min( 12.5 ms × (rate + 1) / (window + 1),  4 / rate × 1000 ms + 50 ms )
//! ```
//!
//! clamped to 50–1000 ms, where `rate` is packets per second and `window`
//! the receive window's length (holes included). The constant 12.5 is
//! c-toxcore's `REQUEST_PACKETS_COMPARE_CONSTANT` (0.125 × 100); the spec
//! says 50 — the code is what the network runs (checklist: SPEC≠CODE).
//!
//! Ours also asks sooner while packets are missing: one round trip (at
//! least [`MIN_HOLE_REQUEST_INTERVAL`]) after the last request rather than
//! the 50 ms and more above. A lost chat message sent during a file then
//! comes back in a few round trips instead of waiting for the next
//! scheduled request. This is receiver behaviour only: any sender,
//! c-toxcore's included, answers each request it gets, and a resend still
//! waits until the packet's last send is a round trip old, so a packet
//! that is merely late is not sent twice.
//!
//! An idle session asks less: once nothing has arrived since the last
//! request and nothing is missing, a request would only say what the peer
//! already knows, so the next one waits [`IDLE_REQUEST_INTERVAL`] (3 s)
//! instead of 1 s. Only once a lossless packet has arrived, though: the
//! peer sends those only when its side is established, and until then our
//! requests are what establishes it (a peer still waiting for our first
//! data packet would otherwise wait three times as long for each try). It still serves as the keep-alive c-toxcore needs:
//! c-toxcore counts the direct UDP path as up while something arrived on
//! it within `UDP_DIRECT_TIMEOUT` (8 s), and 3 s leaves room for two lost
//! requests. The first lossless packet to arrive makes the 1-second
//! interval apply again, counted from the last request, so it is acked
//! at once if that was over a second ago: read receipts are no slower
//! than c-toxcore's.
//!
//! A fast stream on a short path is acknowledged promptly: once
//! [`ACK_BATCH`] packets have arrived since the last request, the next goes
//! [`ACK_RTTS`] round trips after it (at least [`ACK_MIN_GAP`]) if that is
//! sooner than the interval above. c-toxcore's schedule gives its sender
//! one acknowledgement per 50 ms at best; on loopback or a LAN, where the
//! round trip is well under a millisecond, every round trip a sender
//! measures is then mostly our waiting, which it cannot tell from a
//! queue, and it can change its rate only once per 50 ms. On paths of
//! several milliseconds and more the 50 ms are a few round trips, and the
//! schedule stays c-toxcore's. Any sender, c-toxcore's included, simply
//! handles more requests: one per [`ACK_BATCH`] packets at most, a few
//! percent of the data's packets and far less of its bytes.
//!
//! c-toxcore compares whole milliseconds with `>`; here a request is due
//! once the interval has fully elapsed (`>=`) so that a driver waking at
//! [`RequestSchedule::poll_timeout`] finds it due. The difference is under
//! a millisecond.

use std::time::{Duration, Instant};

use crate::packet::CRYPTO_SEND_PACKET_INTERVAL;

/// The window over which the receive rate is measured, and the shortest
/// request interval (`PACKET_COUNTER_AVERAGE_INTERVAL`, 50 ms).
pub const PACKET_COUNTER_AVERAGE_INTERVAL: Duration = Duration::from_millis(50);

/// Milliseconds between requests at a receive window of one second's
/// worth of packets (`REQUEST_PACKETS_COMPARE_CONSTANT`, 0.125 × 100).
pub const REQUEST_PACKETS_COMPARE_CONSTANT: f64 = 0.125 * 100.0;

/// Packets per second below which only the 1-second requests go out
/// (`CRYPTO_PACKET_MIN_RATE`).
pub const CRYPTO_PACKET_MIN_RATE: f64 = 4.0;

/// The interval between requests of an established session that has
/// received nothing since its last request and misses nothing.
pub const IDLE_REQUEST_INTERVAL: Duration = Duration::from_secs(3);

/// The shortest interval between requests while packets are missing.
pub const MIN_HOLE_REQUEST_INTERVAL: Duration = Duration::from_millis(2);

/// Lossless packets arrived since the last request that make the next one
/// due early (see the module doc).
pub const ACK_BATCH: u32 = 32;

/// The shortest interval between requests that acknowledge a batch.
pub const ACK_MIN_GAP: Duration = Duration::from_millis(1);

/// Round trips between requests that acknowledge a batch.
pub const ACK_RTTS: u32 = 8;

/// The request-packet timer of one session, with the receive-rate meter it
/// depends on.
#[derive(Debug, Clone, Default)]
pub struct RequestSchedule {
    last_sent: Option<Instant>,
    /// While packets are missing: the interval to ask again at.
    hole_interval: Option<Duration>,
    /// The session's round-trip estimate, as last told.
    rtt: Option<Duration>,
    /// A lossless packet arrived since the last request.
    news: bool,
    /// Lossless packets stored since the last request.
    unacked: u32,
    /// A lossless packet has arrived: the peer is established.
    peer_established: bool,
    counter: u32,
    counter_since: Option<Instant>,
    recv_rate: f64,
}

impl RequestSchedule {
    /// A schedule whose first request is due at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a lossless packet stored in the receive window (c-toxcore's
    /// `packet_counter`).
    pub fn packet_received(&mut self, now: Instant) {
        if self.counter == 0 && self.recv_rate == 0.0 {
            // The meter was idle and may not have been polled since: start
            // a fresh window rather than average over the silence.
            self.counter_since = Some(now);
        }
        self.counter = self.counter.saturating_add(1);
        self.unacked = self.unacked.saturating_add(1);
        self.news = true;
        self.peer_established = true;
    }

    /// Lossless packets received per second over the last measured window.
    pub const fn recv_rate(&self) -> f64 {
        self.recv_rate
    }

    /// Tells the schedule whether packets are missing from the receive
    /// window, and the round-trip estimate to ask again after if so.
    pub fn set_missing(&mut self, missing: bool, rtt: Duration) {
        self.hole_interval = missing.then(|| rtt.max(MIN_HOLE_REQUEST_INTERVAL));
        self.rtt = Some(rtt);
    }

    /// The current interval between requests.
    pub fn interval(&self, established: bool, window_len: u32) -> Duration {
        let mut interval = self.regular_interval(established, window_len);
        if established {
            if let Some(hole) = self.hole_interval {
                interval = interval.min(hole);
            }
            if let Some(rtt) = self.rtt.filter(|_| self.unacked >= ACK_BATCH) {
                interval = interval.min(rtt.saturating_mul(ACK_RTTS).max(ACK_MIN_GAP));
            }
        }
        interval
    }

    /// c-toxcore's interval (see the module doc).
    fn regular_interval(&self, established: bool, window_len: u32) -> Duration {
        if !established {
            return CRYPTO_SEND_PACKET_INTERVAL;
        }
        if self.recv_rate <= CRYPTO_PACKET_MIN_RATE {
            return if self.news || self.hole_interval.is_some() || !self.peer_established {
                CRYPTO_SEND_PACKET_INTERVAL
            } else {
                IDLE_REQUEST_INTERVAL
            };
        }
        let rate = self.recv_rate;
        let by_queue =
            REQUEST_PACKETS_COMPARE_CONSTANT / ((f64::from(window_len) + 1.0) / (rate + 1.0));
        let by_rate = CRYPTO_PACKET_MIN_RATE / rate * millis(CRYPTO_SEND_PACKET_INTERVAL)
            + millis(PACKET_COUNTER_AVERAGE_INTERVAL);
        let ms = by_queue.min(by_rate).clamp(
            millis(PACKET_COUNTER_AVERAGE_INTERVAL),
            millis(CRYPTO_SEND_PACKET_INTERVAL),
        );
        Duration::from_secs_f64(ms / 1000.0)
    }

    /// Whether to send a request packet now; if so it counts as sent at
    /// `now`. `established`: a data packet has arrived (before that only
    /// the 1-second requests go out and the rate is not measured);
    /// `window_len`: [`super::ReceiveBuffer::window_len`].
    pub fn poll(&mut self, now: Instant, established: bool, window_len: u32) -> bool {
        let interval = self.interval(established, window_len);
        let due = self
            .last_sent
            .is_none_or(|last| now.saturating_duration_since(last) >= interval);
        if due {
            self.last_sent = Some(now);
            self.news = false;
            self.unacked = 0;
        }
        if established {
            self.measure(now);
        }
        due
    }

    /// When [`RequestSchedule::poll`] next has something to do. `None`
    /// before the first poll, which is always due.
    pub fn poll_timeout(&self, established: bool, window_len: u32) -> Option<Instant> {
        let last = self.last_sent?;
        let request = last + self.interval(established, window_len);
        let measure = match self.counter_since {
            Some(since) if established && (self.counter > 0 || self.recv_rate > 0.0) => {
                Some(since + PACKET_COUNTER_AVERAGE_INTERVAL)
            }
            _ => None,
        };
        Some(measure.map_or(request, |m| m.min(request)))
    }

    fn measure(&mut self, now: Instant) {
        let Some(since) = self.counter_since else {
            self.counter_since = Some(now);
            self.counter = 0;
            return;
        };
        let dt = now.saturating_duration_since(since);
        if dt >= PACKET_COUNTER_AVERAGE_INTERVAL {
            self.recv_rate = f64::from(self.counter) / dt.as_secs_f64();
            self.counter = 0;
            self.counter_since = Some(now);
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_fast_stream_is_acknowledged_every_batch() {
        let t = Instant::now();
        let mut s = RequestSchedule::new();
        assert!(s.poll(t, true, 0));
        s.set_missing(false, Duration::from_micros(50));
        for _ in 0..ACK_BATCH - 1 {
            s.packet_received(t);
        }
        // Fewer than a batch: c-toxcore's interval (the rate is not
        // measured yet, so a second).
        assert_eq!(s.interval(true, 0), ms(1000));
        s.packet_received(t);
        assert_eq!(s.interval(true, 0), ACK_MIN_GAP);
        assert_eq!(s.poll_timeout(true, 0), Some(t + ACK_MIN_GAP));
        assert!(!s.poll(t, true, 0));
        assert!(s.poll(t + ACK_MIN_GAP, true, 0));
        // The request acknowledged the batch: back to the usual interval.
        assert!(s.interval(true, 0) >= PACKET_COUNTER_AVERAGE_INTERVAL);
        // Not before the handshake is over, whatever arrived.
        for _ in 0..ACK_BATCH {
            s.packet_received(t);
        }
        assert_eq!(s.interval(false, 0), CRYPTO_SEND_PACKET_INTERVAL);
        // Every 8 round trips: 16 ms on a 2-ms path, 160 ms on a 20-ms
        // one, where c-toxcore's schedule (50 ms once the rate is
        // measured) comes sooner.
        s.set_missing(false, ms(2));
        assert_eq!(s.interval(true, 0), ms(16));
        s.set_missing(false, ms(20));
        assert_eq!(s.interval(true, 0), ms(160));
    }

    #[test]
    fn once_a_second_when_idle() {
        let t = Instant::now();
        let mut s = RequestSchedule::new();
        assert!(s.poll(t, false, 0));
        assert!(!s.poll(t + ms(999), false, 0));
        assert_eq!(s.poll_timeout(false, 0), Some(t + ms(1000)));
        assert!(s.poll(t + ms(1000), false, 0));
        // Established with something received: once a second.
        s.packet_received(t + ms(1200));
        assert!(!s.poll(t + ms(1500), true, 0));
        assert!(s.poll(t + ms(2000), true, 0));
    }

    #[test]
    fn every_three_seconds_when_nothing_arrives() {
        let t = Instant::now();
        let mut s = RequestSchedule::new();
        assert!(s.poll(t, true, 0));
        // The peer has sent no lossless packet: it may still wait for our
        // first data packet, so once a second.
        assert_eq!(s.interval(true, 0), ms(1000));
        s.packet_received(t);
        assert!(s.poll(t + ms(1000), true, 0));
        assert_eq!(s.interval(true, 0), IDLE_REQUEST_INTERVAL);
        assert!(!s.poll(t + ms(3999), true, 0));
        assert!(s.poll(t + ms(4000), true, 0));
        // A packet arrives 1.5 s later: the 1-second interval applies
        // again, counted from the last request, so the ack goes at once.
        s.packet_received(t + ms(5500));
        assert_eq!(s.interval(true, 0), ms(1000));
        assert!(s.poll(t + ms(5500), true, 0));
        // Nothing new since: back to 3 s.
        assert_eq!(s.interval(true, 0), IDLE_REQUEST_INTERVAL);
        assert!(!s.poll(t + ms(8499), true, 0));
        // Something missing keeps the short interval.
        s.set_missing(true, ms(10));
        assert_eq!(s.interval(true, 0), ms(10));
        s.set_missing(true, ms(5000));
        assert_eq!(s.interval(true, 0), ms(1000));
    }

    #[test]
    fn faster_while_packets_pour_in() {
        let t = Instant::now();
        let mut s = RequestSchedule::new();
        assert!(s.poll(t, true, 0));
        // 100 packets in 100 ms: 1000 packets/s.
        for i in 0..100 {
            s.packet_received(t + ms(i));
        }
        s.poll(t + ms(100), true, 0);
        assert!((s.recv_rate() - 1000.0).abs() < 1.0);
        // by_queue = 12.5 × 1001 / (window + 1); by_rate = 4 + 50 = 54 ms.
        let close = |d: Duration, want: f64| (d.as_secs_f64() * 1000.0 - want).abs() < 0.01;
        assert!(close(s.interval(true, 10_000), 50.0));
        assert!(close(s.interval(true, 0), 54.0));
        assert!(close(s.interval(true, 220), 54.0));
        assert!(close(s.interval(true, 240), 12.5 * 1001.0 / 241.0));
        assert_eq!(s.interval(false, 240), ms(1000));
        assert!(s.poll(t + ms(160), true, 10_000));
    }

    #[test]
    fn slow_rates_keep_the_one_second_interval() {
        let t = Instant::now();
        let mut s = RequestSchedule::new();
        s.poll(t, true, 0);
        s.packet_received(t);
        s.poll(t + ms(1000), true, 0);
        assert!(s.recv_rate() <= CRYPTO_PACKET_MIN_RATE);
        // Nothing arrived since that request: the idle interval.
        assert_eq!(s.interval(true, 5), IDLE_REQUEST_INTERVAL);
        s.packet_received(t + ms(1100));
        assert_eq!(s.interval(true, 5), ms(1000));
        // Missing packets: asked for again after a round trip, not sooner
        // than the floor, and never later than the regular schedule.
        s.set_missing(true, ms(30));
        assert_eq!(s.interval(true, 5), ms(30));
        s.set_missing(true, Duration::from_micros(100));
        assert_eq!(s.interval(true, 5), MIN_HOLE_REQUEST_INTERVAL);
        s.set_missing(true, ms(5000));
        assert_eq!(s.interval(true, 5), ms(1000));
        assert_eq!(s.interval(false, 5), ms(1000));
        s.set_missing(false, ms(30));
        assert_eq!(s.interval(true, 5), ms(1000));
    }

    #[test]
    fn the_meter_sleeps_when_nothing_arrives() {
        let t = Instant::now();
        let mut s = RequestSchedule::new();
        s.poll(t, true, 0);
        assert_eq!(s.poll_timeout(true, 0), Some(t + ms(1000)));
        s.packet_received(t + ms(10));
        assert_eq!(s.poll_timeout(true, 0), Some(t + ms(60)));
    }
}
