//! What the peer's feedback says about each packet we sent: which were
//! delivered, which were lost, how many are still in flight, and the
//! delivery-rate and round-trip samples the controller's model is built
//! from.
//!
//! One record per packet number from the oldest unacknowledged one, kept
//! beside the [`SendBuffer`](crate::lossless::SendBuffer) and aligned with
//! it by number. The peer's feedback reaches us in two forms (checklist
//! N9, N10), both read back from the send buffer after the session applied
//! them:
//!
//! - its receive `buffer_start` (every data packet): everything below it
//!   was delivered — a cumulative acknowledgement;
//! - its request packets: a packet the buffer no longer holds although it
//!   lies above `buffer_start` was shown as received (a selective
//!   acknowledgement); one still held below a released one was shown as
//!   missing.
//!
//! Delivery rate follows draft-cheng-iccrg-delivery-rate-estimation: each
//! packet remembers, when sent, how much had been delivered and when; the
//! newest packet of an acknowledgement then yields "packets delivered over
//! the longer of the send and the acknowledgement interval", which neither
//! bursts of acknowledgements (request packets arrive in clumps 50–1000 ms
//! apart) nor bursts of sends can inflate.
//!
//! Losses are declared RACK-style (RFC 8985): a packet is lost once the
//! peer reported it missing and a packet sent more than a reordering window
//! after it has been delivered. Packets past the end of a request body are
//! not reported either way (a request stops at the last missing packet),
//! so a delivered tail may look in flight until the next acknowledgement;
//! a packet that stays unreported for longer than the caller's
//! `stale_after` stops counting in flight without counting as a loss.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::packet::CRYPTO_PACKET_BUFFER_SIZE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Numbered but never reported sent (a gap in the caller's calls).
    Unsent,
    InFlight,
    /// Declared lost; back in flight when resent.
    Lost,
    /// Unreported for too long; out of the in-flight count.
    Stale,
    Delivered,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    state: State,
    /// Last transmission.
    sent: Instant,
    /// Transmitted more than once: its round-trip samples are ambiguous
    /// (Karn's rule).
    resent: bool,
    /// Our delivered count when it was sent.
    delivered: u64,
    /// When that count last grew, as of its sending.
    delivered_time: Instant,
    /// Send time of the newest packet delivered, as of its sending.
    first_sent: Instant,
    app_limited: bool,
    /// Packets in flight just after it was sent.
    in_flight: u32,
}

/// One delivery-rate sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateSample {
    /// Packets delivered over `interval`.
    pub(crate) delivered: u64,
    pub(crate) interval: Duration,
    /// Our delivered count when the sample's packet was sent (round
    /// counting).
    pub(crate) prior_delivered: u64,
    /// The sender had nothing more to send when the packet left, so the
    /// rate says little about the path.
    pub(crate) app_limited: bool,
}

impl RateSample {
    /// Packets per second, if the interval is not empty.
    pub(crate) fn rate(&self) -> Option<f64> {
        let secs = self.interval.as_secs_f64();
        (secs > 0.0).then(|| self.delivered as f64 / secs)
    }
}

/// What one piece of feedback changed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Feedback {
    /// Packets newly delivered.
    pub(crate) delivered: u32,
    /// Packets newly declared lost.
    pub(crate) lost: u32,
    pub(crate) sample: Option<RateSample>,
    /// Round-trip time of the newest packet delivered that was sent only
    /// once.
    pub(crate) rtt: Option<Duration>,
    /// Whether that sample may overstate the round trip because packets
    /// waited, unreported, behind a missing one: some were shown delivered
    /// by a request past the cumulative acknowledgement (a request stops at
    /// the last missing packet, so the newest packet it shows may have
    /// arrived well before the request was sent), or the acknowledgement
    /// jumped over a hole just filled.
    pub(crate) rtt_behind_hole: bool,
    /// The most data in flight when any of the packets now declared lost
    /// was sent: where the path started dropping.
    pub(crate) lost_in_flight: u32,
}

/// How a walk over a request's report judges the packets it left in
/// flight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Judge {
    /// Reordering tolerated before a missing packet counts as lost.
    pub(crate) reorder_window: Duration,
    /// Unreported for longer than this: no longer in flight.
    pub(crate) stale_after: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Newest {
    sent: Instant,
    resent: bool,
    prior_delivered: u64,
    prior_time: Instant,
    send_elapsed: Duration,
    app_limited: bool,
}

/// The per-packet records and the counters the rate samples use.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    /// Number of `records.front()`.
    base: u32,
    /// Sequence index of `records.front()` (never wraps).
    base_seq: u64,
    records: VecDeque<Record>,
    in_flight: u32,
    delivered: u64,
    delivered_time: Instant,
    first_sent: Instant,
    /// While non-zero: the delivered count at which the current
    /// application-limited stretch ends.
    app_limited_until: u64,
    /// Send time of the newest packet ever delivered (RACK).
    newest_delivered_sent: Option<Instant>,
    /// One past the highest sequence index a request showed received:
    /// below it, a packet still held was reported missing.
    reported_end: u64,
    lost_total: u64,
}

impl Sampler {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            base: 0,
            base_seq: 0,
            records: VecDeque::new(),
            in_flight: 0,
            delivered: 0,
            delivered_time: now,
            first_sent: now,
            app_limited_until: 0,
            newest_delivered_sent: None,
            reported_end: 0,
            lost_total: 0,
        }
    }

    /// Packets sent and neither delivered, lost nor stale.
    pub(crate) const fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Packets delivered so far.
    pub(crate) const fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Packets declared lost so far.
    pub(crate) const fn lost(&self) -> u64 {
        self.lost_total
    }

    /// Records that packet `number` left at `now` (a resend if it went
    /// out before). `app_limited`: nothing else was waiting.
    pub(crate) fn on_sent(&mut self, now: Instant, number: u32, resend: bool, app_limited: bool) {
        if self.records.is_empty() {
            self.base = number;
        }
        let off = number.wrapping_sub(self.base);
        if off >= 1 << 31 {
            // Behind the window: already acknowledged, nothing to track.
            return;
        }
        if off > CRYPTO_PACKET_BUFFER_SIZE.saturating_mul(2) {
            // The caller's numbering jumped (a new session?): start over.
            self.records.clear();
            self.in_flight = 0;
            self.base = number;
            return self.on_sent(now, number, resend, app_limited);
        }
        if self.in_flight == 0 {
            self.first_sent = now;
            self.delivered_time = now;
        }
        while self.records.len() <= index(off) {
            self.records.push_back(Record {
                state: State::Unsent,
                sent: now,
                resent: false,
                delivered: 0,
                delivered_time: now,
                first_sent: now,
                app_limited: false,
                in_flight: 0,
            });
        }
        let snapshot = (self.delivered, self.delivered_time, self.first_sent);
        let Some(rec) = self.records.get_mut(index(off)) else {
            return;
        };
        match rec.state {
            State::Delivered => return,
            State::InFlight => {}
            State::Unsent | State::Lost | State::Stale => self.in_flight += 1,
        }
        rec.resent = resend || rec.state != State::Unsent;
        rec.state = State::InFlight;
        rec.sent = now;
        (rec.delivered, rec.delivered_time, rec.first_sent) = snapshot;
        if app_limited {
            self.app_limited_until = self
                .delivered
                .saturating_add(u64::from(self.in_flight))
                .max(1);
        }
        rec.app_limited = self.app_limited_until != 0;
        rec.in_flight = self.in_flight;
    }

    /// Applies feedback read back from the send buffer: `buffer_start`
    /// (its oldest unacknowledged number) and, when the feedback was a
    /// request packet, which numbers it still holds (`walk`: `is_held`).
    pub(crate) fn on_feedback(
        &mut self,
        now: Instant,
        buffer_start: u32,
        walk: Option<(&dyn Fn(u32) -> bool, Judge)>,
    ) -> Feedback {
        let mut fb = Feedback::default();
        let mut newest: Option<Newest> = None;
        // Cumulative: everything below buffer_start.
        let advance = buffer_start.wrapping_sub(self.base);
        if advance < 1 << 31 {
            let mut filled_hole = false;
            for _ in 0..index(advance).min(self.records.len()) {
                if let Some(rec) = self.records.pop_front() {
                    filled_hole |= rec.resent || matches!(rec.state, State::Lost | State::Stale);
                    self.deliver(now, rec, false, &mut fb, &mut newest);
                }
            }
            // The acknowledgement jumped over a hole just filled: what it
            // covers waited behind the hole, the round trips overstate.
            fb.rtt_behind_hole |= filled_hole;
            self.base = buffer_start;
            self.base_seq = self.base_seq.saturating_add(u64::from(advance));
            if self.records.capacity() > 64 && self.records.len() < self.records.capacity() / 4 {
                self.records.shrink_to(self.records.len().saturating_mul(2));
            }
        }
        if let Some((is_held, judge)) = walk {
            self.walk(now, is_held, judge, &mut fb, &mut newest);
        }
        if fb.delivered > 0 {
            self.delivered_time = now;
        }
        if self.app_limited_until != 0 && self.delivered > self.app_limited_until {
            self.app_limited_until = 0;
        }
        if let Some(n) = newest {
            self.first_sent = n.sent;
            let ack_elapsed = now.saturating_duration_since(n.prior_time);
            fb.sample = Some(RateSample {
                delivered: self.delivered.saturating_sub(n.prior_delivered),
                interval: ack_elapsed.max(n.send_elapsed),
                prior_delivered: n.prior_delivered,
                app_limited: n.app_limited,
            });
        }
        fb
    }

    /// Stops counting in flight every packet sent more than `stale_after`
    /// before `now` and still unreported.
    pub(crate) fn expire(&mut self, now: Instant, stale_after: Duration) {
        for rec in &mut self.records {
            if rec.state == State::InFlight && now.saturating_duration_since(rec.sent) > stale_after
            {
                rec.state = State::Stale;
                self.in_flight = self.in_flight.saturating_sub(1);
            }
        }
    }

    /// When the oldest packet in flight goes stale (roughly: the first one
    /// in number order, whose last send is usually the oldest).
    pub(crate) fn next_expiry(&self, stale_after: Duration) -> Option<Instant> {
        let rec = self.records.iter().find(|r| r.state == State::InFlight)?;
        rec.sent.checked_add(stale_after)
    }

    fn walk(
        &mut self,
        now: Instant,
        is_held: &dyn Fn(u32) -> bool,
        judge: Judge,
        fb: &mut Feedback,
        newest: &mut Option<Newest>,
    ) {
        // Released by the request: delivered.
        let mut reported_end = self.reported_end;
        for i in 0..self.records.len() {
            let Some(&rec) = self.records.get(i) else {
                break;
            };
            let number = self.base.wrapping_add(count(i));
            if matches!(rec.state, State::InFlight | State::Lost | State::Stale) && !is_held(number)
            {
                self.deliver(now, rec, true, fb, newest);
                if let Some(r) = self.records.get_mut(i) {
                    r.state = State::Delivered;
                }
                reported_end = reported_end.max(self.base_seq.saturating_add(i as u64 + 1));
            }
        }
        self.reported_end = reported_end;
        // Reported missing and overtaken: lost. Unreported for too long:
        // stale.
        let overtaken = self
            .newest_delivered_sent
            .and_then(|t| t.checked_sub(judge.reorder_window));
        for (i, rec) in self.records.iter_mut().enumerate() {
            if rec.state != State::InFlight {
                continue;
            }
            let reported = self.base_seq.saturating_add(i as u64) < self.reported_end;
            if reported && overtaken.is_some_and(|t| rec.sent < t) {
                rec.state = State::Lost;
                self.in_flight = self.in_flight.saturating_sub(1);
                self.lost_total += 1;
                fb.lost += 1;
                fb.lost_in_flight = fb.lost_in_flight.max(rec.in_flight);
            } else if now.saturating_duration_since(rec.sent) > judge.stale_after {
                rec.state = State::Stale;
                self.in_flight = self.in_flight.saturating_sub(1);
            }
        }
    }

    fn deliver(
        &mut self,
        now: Instant,
        rec: Record,
        released: bool,
        fb: &mut Feedback,
        newest: &mut Option<Newest>,
    ) {
        match rec.state {
            State::Unsent | State::Delivered => return,
            State::InFlight => self.in_flight = self.in_flight.saturating_sub(1),
            State::Lost | State::Stale => {}
        }
        self.delivered += 1;
        fb.delivered += 1;
        self.newest_delivered_sent = self.newest_delivered_sent.max(Some(rec.sent));
        if !rec.resent {
            let rtt = now.saturating_duration_since(rec.sent);
            if fb.rtt.is_none_or(|r| rtt < r) {
                fb.rtt = Some(rtt);
                fb.rtt_behind_hole |= released;
            }
        }
        // The sample's packet: the newest sent, but a first transmission
        // over any resend. A resend leaves right after the request that
        // asked for it, so its snapshot is recent while the delivered count
        // it would measure includes packets that arrived long before but
        // were reported only now (past the end of the previous request).
        let is_newest = newest.is_none_or(|n| {
            (n.resent && !rec.resent)
                || (n.resent == rec.resent
                    && (rec.sent > n.sent
                        || (rec.sent == n.sent && rec.delivered >= n.prior_delivered)))
        });
        if is_newest {
            *newest = Some(Newest {
                sent: rec.sent,
                resent: rec.resent,
                prior_delivered: rec.delivered,
                prior_time: rec.delivered_time,
                send_elapsed: rec.sent.saturating_duration_since(rec.first_sent),
                app_limited: rec.app_limited,
            });
        }
    }
}

fn index(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const JUDGE: Judge = Judge {
        reorder_window: Duration::from_millis(5),
        stale_after: Duration::from_secs(1),
    };

    #[test]
    fn cumulative_ack_delivers_and_samples_the_rate() {
        let t0 = Instant::now();
        let mut s = Sampler::new(t0);
        for n in 0..10 {
            s.on_sent(t0 + ms(n.into()), n, false, false);
        }
        assert_eq!(s.in_flight(), 10);
        let fb = s.on_feedback(t0 + ms(50), 10, None);
        assert_eq!((fb.delivered, fb.lost, s.in_flight()), (10, 0, 0));
        // Newest packet: sent at 9 ms, acknowledged at 50 ms.
        assert_eq!(fb.rtt, Some(ms(41)));
        let sample = fb.sample.unwrap();
        assert_eq!((sample.delivered, sample.interval), (10, ms(50)));
        assert!((sample.rate().unwrap() - 200.0).abs() < 1e-9);
        // Stale or repeated acknowledgements change nothing.
        assert_eq!(s.on_feedback(t0 + ms(60), 10, None), Feedback::default());
        assert_eq!(s.on_feedback(t0 + ms(60), 3, None), Feedback::default());
    }

    #[test]
    fn a_request_releases_and_declares_the_overtaken_lost() {
        let t0 = Instant::now();
        let mut s = Sampler::new(t0);
        for n in 0..10u32 {
            s.on_sent(t0 + ms(u64::from(n) * 10), n, false, false);
        }
        // The peer has 0 (cumulative) and 2..=5; 1 is missing, 6..10 are
        // past the request's end.
        let held = |n: u32| n == 1 || n >= 6;
        let fb = s.on_feedback(t0 + ms(100), 1, Some((&held, JUDGE)));
        assert_eq!((fb.delivered, fb.lost), (5, 1));
        assert_eq!(s.in_flight(), 4);
        // The resend goes back in flight and carries no RTT sample.
        s.on_sent(t0 + ms(110), 1, true, false);
        assert_eq!(s.in_flight(), 5);
        let fb = s.on_feedback(t0 + ms(150), 6, Some((&|n: u32| n >= 6, JUDGE)));
        assert_eq!((fb.delivered, fb.lost), (1, 0));
        assert_eq!(fb.rtt, None);
        assert_eq!(s.lost(), 1);
    }

    #[test]
    fn unreported_packets_go_stale_without_counting_as_lost() {
        let t0 = Instant::now();
        let mut s = Sampler::new(t0);
        s.on_sent(t0, 0, false, false);
        s.on_sent(t0, 1, false, false);
        let fb = s.on_feedback(t0 + ms(1500), 1, Some((&|n: u32| n >= 1, JUDGE)));
        assert_eq!((fb.delivered, fb.lost, s.in_flight()), (1, 0, 0));
        // Delivered after all: counted once.
        let fb = s.on_feedback(t0 + ms(1600), 2, None);
        assert_eq!(fb.delivered, 1);
        assert_eq!(s.delivered(), 2);
    }

    #[test]
    fn app_limited_marks_last_until_delivered() {
        let t0 = Instant::now();
        let mut s = Sampler::new(t0);
        s.on_sent(t0, u32::MAX, false, true);
        s.on_sent(t0, 0, false, false);
        let fb = s.on_feedback(t0 + ms(20), 1, None);
        assert!(fb.sample.unwrap().app_limited);
        s.on_sent(t0 + ms(20), 1, false, false);
        let fb = s.on_feedback(t0 + ms(40), 2, None);
        assert!(!fb.sample.unwrap().app_limited);
    }

    #[test]
    fn odd_numbers_do_not_panic() {
        let t0 = Instant::now();
        let mut s = Sampler::new(t0);
        s.on_sent(t0, 5, false, false);
        s.on_sent(t0, 3, false, false);
        s.on_sent(t0, 9, false, false);
        assert_eq!(s.in_flight(), 2);
        s.on_sent(t0, 5 + 3 * CRYPTO_PACKET_BUFFER_SIZE, false, false);
        assert_eq!(s.in_flight(), 1);
        let fb = s.on_feedback(t0, 0, Some((&|_| false, JUDGE)));
        assert_eq!(fb.delivered, 1);
        assert_eq!(s.in_flight(), 0);
    }
}
