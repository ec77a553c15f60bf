//! The controller: a BBR model of the path (bottleneck bandwidth, minimum
//! round trip, acknowledgement aggregation) and the state machine that
//! probes it. See the module doc of [`super`] for why this shape.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::filter::MaxFilter;
use super::pacer::Pacer;
use super::sampler::{Feedback, Judge, Sampler};
use super::{CRYPTO_MIN_QUEUE_LENGTH, Mode};
use crate::lossless::{CRYPTO_PACKET_MIN_RATE, RequestOutcome, SendBuffer};
use crate::packet::{CRYPTO_PACKET_BUFFER_SIZE, CRYPTO_SEND_PACKET_INTERVAL};

/// Startup's pacing and window gain, 2/ln 2: the smallest that doubles the
/// delivery rate every round trip.
const STARTUP_GAIN: f64 = 2.885;
/// Drain's pacing gain: undoes one round of Startup's queue.
const DRAIN_GAIN: f64 = 1.0 / STARTUP_GAIN;
/// The window in "bandwidth-delay products plus aggregation" outside
/// Startup and Drain.
const CWND_GAIN: f64 = 2.0;
/// Pacing gain while probing for more bandwidth.
const PROBE_UP_GAIN: f64 = 1.25;
/// Pacing gain while draining the queue a probe built.
const PROBE_DOWN_GAIN: f64 = 0.75;
/// ProbeRTT's pacing gain: the queue drains at half the bottleneck rate
/// while packets keep flowing, so the receiver's requests still time the
/// newest packets (a window cut would leave them waiting for the next
/// request and inflate every sample).
const PROBE_RTT_GAIN: f64 = 0.5;
/// How long ProbeRTT measures (and two rounds) once the queue drained.
const PROBE_RTT_DURATION: Duration = Duration::from_millis(200);
/// ProbeRTT ends after this long even if the queue never seemed to drain.
const MAX_PROBE_RTT: Duration = Duration::from_secs(1);
/// A minimum RTT not seen again for this long is re-measured (ProbeRTT).
const MIN_RTT_WINDOW: Duration = Duration::from_secs(10);
/// Rounds the aggregation filter remembers.
const EXTRA_ACKED_WINDOW_ROUNDS: u64 = 10;
/// Startup also ends once a round's best round trip is this much above the
/// minimum at least (see `startup_queue_too_long`)…
const STARTUP_QUEUE_MIN: Duration = Duration::from_millis(4);
/// …and at most this much.
const STARTUP_QUEUE_MAX: Duration = Duration::from_millis(16);
/// Startup ends when the bandwidth grew less than this factor…
const FULL_BW_GROWTH: f64 = 1.25;
/// …over this many rounds.
const FULL_BW_ROUNDS: u32 = 3;
/// A probe ends after this many rounds at most.
const MAX_PROBE_ROUNDS: u64 = 8;
/// The drain after a probe ends after this many rounds at most.
const MAX_DOWN_ROUNDS: u64 = 3;
/// Cruising lasts this long at least between probes…
const CRUISE_MIN: Duration = Duration::from_millis(1000);
/// …plus up to this much more, different for every session so that
/// sessions sharing a link take turns (BBRv2 waits 2–3 s).
const CRUISE_SPREAD_MS: u64 = 1000;
/// A round losing more than this fraction of its packets…
const LOSS_THRESHOLD: f64 = 0.02;
/// …and at least this many, lost too much.
const LOSS_MIN_PACKETS: u32 = 8;
/// `inflight_hi` after a probe lost too much, as a fraction of what was in
/// flight when the losses began.
const LOSS_BETA: f64 = 0.85;
/// Packets of our own a cruising session aims to keep in the bottleneck
/// queue (FAST TCP's `α`): enough to keep the link busy, the same for every
/// session so that they converge to equal rates (less, down to 2, where
/// half the bandwidth-delay product is less).
const QUEUE_TARGET: f64 = 16.0;
/// Round trips up to this long count as the path's own when cruising. On
/// loopback or a LAN the path takes tens of microseconds and the rest is
/// the two hosts: a receiver decrypting a batch of 64 datagrams, threads
/// waiting for a core. Taken for a queue, that delay would hold the rate
/// far below what the hosts can do (FAST's rule keeps the queue at a few
/// packets), and half a bandwidth-delay product would size the target at
/// one or two packets. Paths of a millisecond and more are unchanged.
const HOST_DELAY: Duration = Duration::from_millis(1);
/// The same through TCP relays ([`Congestion::set_relayed`]): there every
/// packet crosses three hosts' TCP stacks and the relay's batching, which
/// take a few milliseconds on a loaded machine without any queue the
/// session built. Over a loopback relay toxide-node moved 43–60 MB/s with
/// [`HOST_DELAY`] and 67–71 MB/s with this (`--bench relay`); the relay's
/// own limits still drop what overflows, which counts as loss.
const RELAYED_HOST_DELAY: Duration = Duration::from_millis(4);
/// How far a cruising round moves towards that target (FAST's `γ`).
const FAST_GAMMA: f64 = 0.5;
/// A cruising round that lost too much slows down to this fraction.
const CRUISE_LOSS_BETA: f64 = 0.9;
/// Rounds whose best round trip stands in for one from behind a hole.
const RECENT_RTT_ROUNDS: usize = 8;
/// Added to two round trips before an unreported packet stops counting in
/// flight.
const STALE_MARGIN: Duration = Duration::from_millis(100);
/// Pace a little under the estimate so that a queue does not creep up.
const PACING_MARGIN: f64 = 0.99;
/// The round trip assumed for the first window's pacing.
const INITIAL_RTT: Duration = Duration::from_millis(10);
/// Drain gives up after this many rounds (a lossy path may never show the
/// in-flight data down to one bandwidth-delay product).
const MAX_DRAIN_ROUNDS: u64 = 5;

/// Where ProbeBW is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Pacing at [`PROBE_DOWN_GAIN`] until the probe's queue is gone.
    Down,
    /// Pacing at the operating rate, steered towards a few packets queued
    /// (see `steer_cruise`).
    Cruise,
    /// Pacing at [`PROBE_UP_GAIN`] × the operating rate, which follows the
    /// delivery rate up while it keeps growing.
    Up,
}

/// A sender-side congestion controller for one session's lossless stream
/// (checklist N13). See the [module doc](super).
#[derive(Debug, Clone)]
pub struct Congestion {
    sampler: Sampler,
    pacer: Pacer,
    mode: Mode,
    phase: Phase,

    round: u64,
    next_round_delivered: u64,
    round_start: bool,

    /// Largest delivery rate of the previous and the current probe cycle
    /// (BBRv2's `bw_hi`), packets per second.
    bw_hi: [f64; 2],
    /// The rate ProbeBW paces around, packets per second: raised by probes
    /// that find more, steered while cruising (see `steer_cruise`).
    operating_bw: Option<f64>,
    full_bw: f64,
    full_bw_rounds: u32,
    filled_pipe: bool,

    min_rtt: Option<Duration>,
    min_rtt_stamp: Instant,
    latest_rtt: Option<Duration>,
    /// An upper bound on the round trip before the first sample.
    rtt_hint: Option<Duration>,
    /// When the first packet left.
    first_sent: Option<Instant>,
    probe_rtt_min: Option<Duration>,
    /// When (and in which round) ProbeRTT saw the queue drained.
    probe_rtt_drained: Option<(Instant, u64)>,

    extra_acked: MaxFilter,
    ack_epoch_start: Instant,
    ack_epoch_acked: u64,

    /// This round so far: packets delivered and lost, the most in flight
    /// when a lost packet was sent and at all, the smallest round trip and
    /// the largest delivery rate sampled.
    round_delivered: u32,
    round_lost: u32,
    round_lost_in_flight: u32,
    round_max_in_flight: u32,
    round_min_rtt: Option<Duration>,
    /// Whether a round trip sampled this round came from behind a hole
    /// (see `Feedback::rtt_behind_hole`).
    round_rtt_behind_hole: bool,
    round_max_bw: f64,
    /// The most data in flight a probe may put out: set where a probe
    /// started to lose too much (BBRv2's `inflight_hi`).
    inflight_hi: Option<u32>,

    /// Round and time the current mode or phase began.
    mode_round: u64,
    mode_stamp: Instant,
    /// Probing starts again at this time.
    cruise_until: Instant,
    /// When the current round began.
    round_stamp: Instant,
    /// The best round trip of each of the last few rounds.
    recent_rtts: VecDeque<Duration>,

    pacing_gain: f64,
    cwnd_gain: f64,
    pacing_rate: f64,
    cwnd: u32,
    /// Round trips up to this long count as the path's own when cruising.
    host_delay: Duration,
}

impl Congestion {
    /// A controller for a session starting at `now`: Startup, a window of
    /// [`CRYPTO_MIN_QUEUE_LENGTH`] packets.
    pub fn new(now: Instant) -> Self {
        Self {
            sampler: Sampler::new(now),
            pacer: Pacer::default(),
            mode: Mode::Startup,
            phase: Phase::Cruise,
            round: 0,
            next_round_delivered: 0,
            round_start: false,
            bw_hi: [0.0; 2],
            operating_bw: None,
            full_bw: 0.0,
            full_bw_rounds: 0,
            filled_pipe: false,
            min_rtt: None,
            min_rtt_stamp: now,
            latest_rtt: None,
            rtt_hint: None,
            first_sent: None,
            probe_rtt_min: None,
            probe_rtt_drained: None,
            extra_acked: MaxFilter::new(EXTRA_ACKED_WINDOW_ROUNDS),
            ack_epoch_start: now,
            ack_epoch_acked: 0,
            round_delivered: 0,
            round_lost: 0,
            round_lost_in_flight: 0,
            round_max_in_flight: 0,
            round_min_rtt: None,
            round_rtt_behind_hole: false,
            round_max_bw: 0.0,
            inflight_hi: None,
            mode_round: 0,
            mode_stamp: now,
            cruise_until: now,
            round_stamp: now,
            recent_rtts: VecDeque::new(),
            pacing_gain: STARTUP_GAIN,
            cwnd_gain: STARTUP_GAIN,
            pacing_rate: STARTUP_GAIN * f64::from(CRYPTO_MIN_QUEUE_LENGTH)
                / INITIAL_RTT.as_secs_f64(),
            cwnd: CRYPTO_MIN_QUEUE_LENGTH,
            host_delay: HOST_DELAY,
        }
    }

    /// Whether the session's data goes through TCP relays now (it may
    /// move either way at any time): relayed paths get more room for the
    /// hosts' own delay ([`RELAYED_HOST_DELAY`]).
    pub fn set_relayed(&mut self, relayed: bool) {
        self.host_delay = if relayed {
            RELAYED_HOST_DELAY
        } else {
            HOST_DELAY
        };
    }

    /// Lossless packet `number` (new, or a `resend`) left at `now`.
    /// `app_limited`: nothing else was waiting to be sent, so the rate the
    /// peer sees next says little about the path. Call it for every
    /// lossless packet, control packets included.
    pub fn on_sent(&mut self, now: Instant, number: u32, resend: bool, app_limited: bool) {
        self.first_sent.get_or_insert(now);
        self.sampler.on_sent(now, number, resend, app_limited);
        self.pacer.on_sent(now, self.pacing_rate);
        self.round_max_in_flight = self.round_max_in_flight.max(self.sampler.in_flight());
    }

    /// The peer's feedback, read back from `buffer` after the session
    /// applied it: call after [`SendBuffer::acknowledge`] for every data
    /// packet received, and for a request packet after
    /// [`SendBuffer::handle_request`] too, passing its outcome.
    pub fn on_feedback(
        &mut self,
        now: Instant,
        buffer: &SendBuffer,
        request: Option<&RequestOutcome>,
    ) {
        let held = |number: u32| buffer.get(number).is_some();
        let judge = Judge {
            reorder_window: self.reorder_window(),
            stale_after: self.stale_after(),
        };
        if request.is_some() && self.latest_rtt.is_none() && self.rtt_hint.is_none() {
            // The first request without a round-trip sample (the first
            // packet went missing, so it shows nothing received): it still
            // answers some packet, so the round trip is at most this.
            self.rtt_hint = self
                .first_sent
                .map(|sent| now.saturating_duration_since(sent));
        }
        let walk = request.map(|_| (&held as &dyn Fn(u32) -> bool, judge));
        let fb = self.sampler.on_feedback(now, buffer.buffer_start(), walk);
        self.update(now, &fb);
    }

    /// Time-driven upkeep, for when [`Congestion::poll_timeout`] passes
    /// (calling it at any other time does no harm): packets unreported for
    /// too long stop counting in flight, which may open the window.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|at| at <= now) {
            self.sampler.expire(now, self.stale_after());
        }
    }

    /// When [`Congestion::handle_timeout`] has something to do, while
    /// packets are in flight.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let at = self.sampler.next_expiry(self.stale_after())?;
        Some(at.checked_add(Duration::from_nanos(1)).unwrap_or(at))
    }

    /// Whether one more bulk packet may leave at `now`: the window has room
    /// and the pacer allows it.
    pub fn can_send(&self, now: Instant) -> bool {
        self.sampler.in_flight() < self.cwnd && self.pacer.ready(now)
    }

    /// Whether a resend (of a packet the peer asked for again) may leave
    /// at `now`: only the pacer decides. The window limits new data; a
    /// resend replaces a packet already counted in flight, and waiting for
    /// the window could wait for the very packet that unblocks it (a
    /// request shows nothing received past a missing packet until it
    /// arrives).
    pub fn can_resend(&self, now: Instant) -> bool {
        self.pacer.ready(now)
    }

    /// When [`Congestion::can_send`] turns true by itself (never before
    /// `now`), for the session's `poll_timeout` while bulk data waits;
    /// `None` while the window is full, which only feedback reopens.
    pub fn next_send_time(&self, now: Instant) -> Option<Instant> {
        (self.sampler.in_flight() < self.cwnd).then(|| self.pacer.next(now))
    }

    /// When [`Congestion::can_resend`] turns true (never before `now`).
    pub fn next_resend_time(&self, now: Instant) -> Instant {
        self.pacer.next(now)
    }

    /// Packets per second the pacer allows (never below
    /// [`CRYPTO_PACKET_MIN_RATE`]).
    pub const fn pacing_rate(&self) -> f64 {
        self.pacing_rate
    }

    /// The in-flight cap, packets.
    pub const fn window(&self) -> u32 {
        self.cwnd
    }

    /// Packets sent and not yet delivered or lost, as far as the feedback
    /// shows.
    pub const fn in_flight(&self) -> u32 {
        self.sampler.in_flight()
    }

    /// How old a requested packet's last send must be before it is sent
    /// again: `floor` (the session's estimate, the minimum round trip, as
    /// c-toxcore uses) or the largest of the recent rounds' round trips,
    /// whichever is longer. Behind a queue the minimum is too short: a
    /// receiver asking again before our resend could reach it would get
    /// the packet twice, and a receiver that asks every few milliseconds
    /// (see `RequestSchedule`) asks many times a round trip.
    pub fn resend_after(&self, floor: Duration) -> Duration {
        self.recent_rtts
            .iter()
            .copied()
            .max()
            .map_or(floor, |r| r.max(floor))
    }

    /// The state machine's mode.
    pub const fn mode(&self) -> Mode {
        self.mode
    }

    /// The bandwidth the model works with, packets per second (0 before
    /// the first sample).
    pub fn bandwidth(&self) -> f64 {
        self.bw()
    }

    /// The minimum round trip seen recently, once sampled.
    pub const fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// Packets delivered and packets declared lost so far.
    pub const fn counts(&self) -> (u64, u64) {
        (self.sampler.delivered(), self.sampler.lost())
    }

    fn update(&mut self, now: Instant, fb: &Feedback) {
        if fb.delivered == 0 && fb.lost == 0 {
            return;
        }
        self.round_delivered = self.round_delivered.saturating_add(fb.delivered);
        self.round_lost = self.round_lost.saturating_add(fb.lost);
        self.round_lost_in_flight = self.round_lost_in_flight.max(fb.lost_in_flight);
        if let Some(rtt) = fb.rtt {
            self.round_min_rtt = Some(self.round_min_rtt.map_or(rtt, |r| r.min(rtt)));
            self.round_rtt_behind_hole |= fb.rtt_behind_hole;
        }
        self.update_round(fb);
        let loss_too_high = self.round_start && self.loss_too_high();
        if self.round_start {
            if let Some(rtt) = self.round_min_rtt {
                if self.recent_rtts.len() >= RECENT_RTT_ROUNDS {
                    self.recent_rtts.pop_front();
                }
                self.recent_rtts.push_back(rtt);
            }
        }
        self.update_bw(fb);
        self.update_ack_aggregation(now, fb.delivered);
        self.update_min_rtt(now, fb.rtt);
        self.update_mode(now, fb, loss_too_high);
        self.set_pacing_rate();
        self.set_cwnd(fb.delivered);
        if self.round_start {
            self.round_delivered = 0;
            self.round_lost = 0;
            self.round_lost_in_flight = 0;
            self.round_max_in_flight = self.sampler.in_flight();
            self.round_min_rtt = None;
            self.round_rtt_behind_hole = false;
            self.round_max_bw = 0.0;
        }
    }

    fn update_round(&mut self, fb: &Feedback) {
        self.round_start = false;
        if let Some(sample) = fb.sample {
            if sample.prior_delivered >= self.next_round_delivered {
                self.next_round_delivered = self.sampler.delivered();
                self.round += 1;
                self.round_start = true;
            }
        }
    }

    fn loss_too_high(&self) -> bool {
        let total = f64::from(self.round_lost) + f64::from(self.round_delivered);
        self.round_lost >= LOSS_MIN_PACKETS && f64::from(self.round_lost) > LOSS_THRESHOLD * total
    }

    fn max_bw(&self) -> f64 {
        self.bw_hi[0].max(self.bw_hi[1])
    }

    /// The bandwidth the model works with: the operating rate in ProbeBW
    /// and ProbeRTT, the largest delivery rate seen before.
    fn bw(&self) -> f64 {
        let hi = self.max_bw();
        match (self.mode, self.operating_bw) {
            (Mode::ProbeBw | Mode::ProbeRtt, Some(lo)) => lo,
            _ => hi,
        }
    }

    fn update_bw(&mut self, fb: &Feedback) {
        let Some(sample) = fb.sample else { return };
        let Some(rate) = sample.rate() else { return };
        // Shorter than a round trip: an acknowledgement burst, not a rate.
        if self.min_rtt.is_some_and(|m| sample.interval < m) {
            return;
        }
        self.round_max_bw = self.round_max_bw.max(rate);
        if !sample.app_limited || rate >= self.max_bw() {
            self.bw_hi[1] = self.bw_hi[1].max(rate);
            if self.mode == Mode::ProbeBw && self.phase == Phase::Up {
                // A probe raises the operating rate as it finds more.
                self.operating_bw = Some(self.operating_bw.map_or(rate, |lo| lo.max(rate)));
            }
        }
    }

    /// BBR's estimate of acknowledgement aggregation: how far delivery ran
    /// ahead of the bandwidth estimate since the last time it did not. With
    /// request packets 50–1000 ms apart this is about one request
    /// interval's worth of packets, which the window must cover on top of
    /// the bandwidth-delay product.
    fn update_ack_aggregation(&mut self, now: Instant, acked: u32) {
        let bw = self.bw();
        if acked == 0 || bw <= 0.0 {
            return;
        }
        let mut expected = bw
            * now
                .saturating_duration_since(self.ack_epoch_start)
                .as_secs_f64();
        if self.ack_epoch_acked as f64 <= expected || self.ack_epoch_acked >= 1 << 20 {
            self.ack_epoch_acked = 0;
            self.ack_epoch_start = now;
            expected = 0.0;
        }
        self.ack_epoch_acked = self.ack_epoch_acked.saturating_add(u64::from(acked));
        let extra = (self.ack_epoch_acked as f64 - expected)
            .min(f64::from(self.cwnd))
            .min(bw * CRYPTO_SEND_PACKET_INTERVAL.as_secs_f64());
        self.extra_acked.update(self.round, extra);
    }

    fn update_min_rtt(&mut self, now: Instant, rtt: Option<Duration>) {
        let Some(rtt) = rtt else { return };
        self.latest_rtt = Some(rtt);
        if self.mode == Mode::ProbeRtt {
            self.probe_rtt_min = Some(self.probe_rtt_min.map_or(rtt, |m| m.min(rtt)));
        }
        if self.min_rtt.is_none_or(|m| rtt <= m) {
            self.min_rtt = Some(rtt);
            self.min_rtt_stamp = now;
        }
    }

    fn update_mode(&mut self, now: Instant, fb: &Feedback, loss_too_high: bool) {
        match self.mode {
            Mode::Startup => {
                self.check_full_bw(fb);
                if loss_too_high || self.startup_queue_too_long() {
                    self.filled_pipe = true;
                }
                if self.filled_pipe {
                    self.enter(now, Mode::Drain);
                }
            }
            Mode::Drain => {
                let drained = f64::from(self.sampler.in_flight()) <= self.target_in_flight(1.0)
                    || self.queue_looks_empty(fb.rtt)
                    || self.round >= self.mode_round.saturating_add(MAX_DRAIN_ROUNDS);
                if drained {
                    self.enter_probe_bw(now);
                }
            }
            Mode::ProbeBw => self.update_probe_bw(now, fb, loss_too_high),
            Mode::ProbeRtt => {
                // Measure for PROBE_RTT_DURATION and two rounds once the
                // queue has drained (BBR waits for its 4-packet window), but
                // give up draining after MAX_PROBE_RTT.
                let drained = f64::from(self.sampler.in_flight()) <= self.target_in_flight(1.0)
                    || self.queue_looks_empty(fb.rtt);
                if self.probe_rtt_drained.is_none() && drained {
                    self.probe_rtt_drained = Some((now, self.round));
                }
                let measured = self.probe_rtt_drained.is_some_and(|(at, round)| {
                    now.saturating_duration_since(at) >= PROBE_RTT_DURATION
                        && self.round >= round.saturating_add(2)
                });
                let given_up = now.saturating_duration_since(self.mode_stamp) >= MAX_PROBE_RTT;
                if measured || given_up {
                    // The old minimum expired: what this probe saw is the
                    // path's round trip now.
                    if let Some(m) = self.probe_rtt_min {
                        self.min_rtt = Some(m);
                    }
                    self.min_rtt_stamp = now;
                    if self.filled_pipe {
                        self.enter_probe_bw(now);
                    } else {
                        self.enter(now, Mode::Startup);
                    }
                }
            }
        }
        let expired = now.saturating_duration_since(self.min_rtt_stamp) >= MIN_RTT_WINDOW;
        if self.mode != Mode::ProbeRtt && self.min_rtt.is_some() && expired {
            self.probe_rtt_min = None;
            self.probe_rtt_drained = None;
            self.enter(now, Mode::ProbeRtt);
        }
    }

    /// At the end of a round in Startup: whether the round's best round
    /// trip stood a queue above the path's minimum (HyStart++'s delay
    /// test: min RTT / 8, clamped to [`STARTUP_QUEUE_MIN`, `STARTUP_QUEUE_MAX`]).
    /// BBR's own test waits for the bandwidth to stop growing for three
    /// rounds, and where the bottleneck is the receiver's CPU (loopback,
    /// a fast LAN) those rounds fill its socket buffer: chat messages sent
    /// during a file's first quarter second waited 10–40 ms behind it. The
    /// round's best sample, not a single one, keeps jitter from ending
    /// Startup early; a sample from behind a hole is not a queue.
    fn startup_queue_too_long(&self) -> bool {
        let (true, Some(round), Some(min)) = (self.round_start, self.round_min_rtt, self.min_rtt)
        else {
            return false;
        };
        let allowance = (min / 8).clamp(STARTUP_QUEUE_MIN, STARTUP_QUEUE_MAX);
        !self.round_rtt_behind_hole && round >= min + allowance
    }

    /// At the end of a round in Startup: the pipe is full once the
    /// bandwidth has grown less than 25 % for three rounds.
    fn check_full_bw(&mut self, fb: &Feedback) {
        let app_limited = fb.sample.is_none_or(|s| s.app_limited);
        if self.filled_pipe || !self.round_start || app_limited {
            return;
        }
        // A round that lost packets delivered less than it could (what
        // came behind the hole is reported only once it is filled): it
        // says nothing about the pipe being full.
        if self.round_lost > 0 || self.round_rtt_behind_hole {
            return;
        }
        let bw = self.max_bw();
        if bw >= self.full_bw * FULL_BW_GROWTH {
            self.full_bw = bw;
            self.full_bw_rounds = 0;
            return;
        }
        self.full_bw_rounds += 1;
        if self.full_bw_rounds >= FULL_BW_ROUNDS {
            self.filled_pipe = true;
        }
    }

    fn update_probe_bw(&mut self, now: Instant, fb: &Feedback, loss_too_high: bool) {
        let rounds = self.round.saturating_sub(self.mode_round);
        let in_flight = f64::from(self.sampler.in_flight());
        match self.phase {
            Phase::Up => {
                if loss_too_high {
                    // Our own probe overflowed the queue: never again put
                    // more in flight than when the losses began.
                    // Never below what the current rate needs, though: a
                    // random loss can strike anywhere in the window.
                    let at_loss = f64::from(self.round_lost_in_flight);
                    let hi = self
                        .inflight_hi
                        .map_or(at_loss, |hi| f64::from(hi).min(at_loss));
                    let needed = self.target_in_flight(1.0) + self.extra_acked.get();
                    self.set_inflight_hi((LOSS_BETA * hi).max(needed));
                    self.enter_phase(now, Phase::Down);
                    return;
                }
                // Probe on while the path shows no queue: the rate follows
                // what gets delivered up by a quarter a round, so a probe
                // takes whatever is free within a few rounds, however small
                // the session. Stop once a queue shows: in the newest round
                // trip (unless it came from behind a hole, see
                // `Feedback::rtt_behind_hole`) or in a whole round's best.
                let queued_now = !fb.rtt_behind_hole && self.is_queued(fb.rtt);
                if self.round_start {
                    self.grow_inflight_hi();
                }
                let queued = queued_now || (self.round_start && self.is_queued(self.round_rtt()));
                if rounds >= 1 && (queued || rounds >= MAX_PROBE_ROUNDS) {
                    self.enter_phase(now, Phase::Down);
                }
            }
            Phase::Down => {
                let drained = in_flight <= self.target_in_flight(1.0)
                    || self.queue_looks_empty(fb.rtt)
                    || rounds >= MAX_DOWN_ROUNDS;
                if rounds >= 1 && drained {
                    self.enter_cruise(now);
                }
            }
            Phase::Cruise => {
                if self.round_start {
                    self.steer_cruise(now, loss_too_high);
                }
                if now >= self.cruise_until {
                    self.start_probe(now);
                }
            }
        }
    }

    /// At the end of a cruising round, steers the operating rate towards
    /// keeping [`QUEUE_TARGET`] of our own packets in the bottleneck queue
    /// (FAST TCP's rule, in rates): `rate += γ (α − rate × queueing delay) / round`.
    ///
    /// Every session on a queue sees the same queueing delay, so the one
    /// sending more has more packets queued and slows down more, while any
    /// session below `α` packets grows by the same absolute step: shares
    /// converge (AIMD-like), and the queue stays at a few packets per
    /// session however deep the buffer. A round that lost too much (a
    /// buffer shallower than `α` per session) instead slows down by
    /// [`CRUISE_LOSS_BETA`]; occasional random losses barely matter.
    fn steer_cruise(&mut self, now: Instant, loss_too_high: bool) {
        let round_time = now
            .saturating_duration_since(self.round_stamp)
            .as_secs_f64();
        self.round_stamp = now;
        // The queueing delay: this round's round trip over the minimum.
        let rtt = self.round_rtt();
        let (Some(min), Some(rtt)) = (self.min_rtt, rtt) else {
            return;
        };
        if self.round_max_bw <= 0.0 || round_time <= 0.0 {
            return;
        }
        let lo = self.operating_bw.unwrap_or_else(|| self.max_bw());
        if loss_too_high {
            self.operating_bw = Some((CRUISE_LOSS_BETA * lo).max(CRYPTO_PACKET_MIN_RATE));
            return;
        }
        let base = min.max(self.host_delay);
        let delay = rtt.saturating_sub(base).as_secs_f64();
        let queued = lo * delay;
        // On a path whose whole bandwidth-delay product is a few packets
        // (a slow link), its buffer may be too: aim lower there.
        let target = (self.max_bw() * base.as_secs_f64() / 2.0).clamp(2.0, QUEUE_TARGET);
        let step = FAST_GAMMA * (target - queued) / round_time;
        // At most halve in a round; never above what a probe would send.
        let next = (lo + step)
            .max(lo / 2.0)
            .min(PROBE_UP_GAIN * self.max_bw())
            .max(CRYPTO_PACKET_MIN_RATE);
        self.operating_bw = Some(next);
    }

    /// The round trip of the round ending: its best sample, or, when that
    /// came from behind a hole (see `Feedback::rtt_behind_hole`), the best
    /// of the last few rounds.
    fn round_rtt(&self) -> Option<Duration> {
        if self.round_rtt_behind_hole {
            self.recent_rtts.iter().min().copied()
        } else {
            self.round_min_rtt
        }
    }

    /// Whether round trip `rtt` shows a queue.
    fn is_queued(&self, rtt: Option<Duration>) -> bool {
        match (rtt, self.min_rtt) {
            (Some(rtt), Some(min)) => rtt > min.saturating_add(standing_queue_threshold(min)),
            _ => false,
        }
    }

    /// While probing, raises the loss bound by an eighth after a round that
    /// it held back: the probe may find that the losses are gone.
    fn grow_inflight_hi(&mut self) {
        let Some(hi) = self.inflight_hi else { return };
        if self.round_max_in_flight < hi.saturating_sub(1) {
            return;
        }
        self.inflight_hi = Some(hi.saturating_add(hi / 8 + 1).min(CRYPTO_PACKET_BUFFER_SIZE));
    }

    fn set_inflight_hi(&mut self, packets: f64) {
        let hi = (packets as u32).clamp(CRYPTO_MIN_QUEUE_LENGTH, CRYPTO_PACKET_BUFFER_SIZE);
        self.inflight_hi = Some(hi);
    }

    fn start_probe(&mut self, now: Instant) {
        // A new probe cycle: the ceiling keeps this cycle's and the last.
        self.bw_hi = [self.bw_hi[1], 0.0];
        let rate = self.operating_bw.unwrap_or_else(|| self.max_bw());
        self.bw_hi[1] = rate;
        self.operating_bw = Some(rate);
        self.enter_phase(now, Phase::Up);
    }

    fn enter_probe_bw(&mut self, now: Instant) {
        self.enter(now, Mode::ProbeBw);
        self.recent_rtts.clear();
        if self.operating_bw.is_none() {
            // Straight out of Startup, which may have stopped early (a
            // queue that overflowed on its bursts): probe at once.
            self.operating_bw = Some(self.max_bw());
            self.start_probe(now);
        } else {
            self.enter_cruise(now);
        }
    }

    fn enter_cruise(&mut self, now: Instant) {
        self.enter_phase(now, Phase::Cruise);
        self.round_stamp = now;
        self.cruise_until = now.checked_add(self.cruise_wait()).unwrap_or(now);
    }

    /// How long to cruise before the next probe: BBR draws it at random; a
    /// hash of our own counters will do, and differs between sessions.
    fn cruise_wait(&self) -> Duration {
        let spread = splitmix(self.sampler.delivered() ^ self.round.rotate_left(32))
            % CRUISE_SPREAD_MS.max(1);
        CRUISE_MIN.saturating_add(Duration::from_millis(spread))
    }

    fn enter_phase(&mut self, now: Instant, phase: Phase) {
        self.phase = phase;
        self.mode_round = self.round;
        self.mode_stamp = now;
    }

    fn enter(&mut self, now: Instant, mode: Mode) {
        self.mode = mode;
        self.mode_round = self.round;
        self.mode_stamp = now;
    }

    /// Whether the newest round trip is back near the minimum: no queue.
    fn queue_looks_empty(&self, rtt: Option<Duration>) -> bool {
        match (rtt, self.min_rtt) {
            (Some(rtt), Some(min)) => {
                rtt <= min
                    .saturating_add(min / 8)
                    .saturating_add(Duration::from_micros(200))
            }
            _ => false,
        }
    }

    /// `gain` bandwidth-delay products, packets (0 before a model).
    fn target_in_flight(&self, gain: f64) -> f64 {
        match self.min_rtt {
            Some(rtt) => gain * self.bw() * rtt.as_secs_f64(),
            None => 0.0,
        }
    }

    fn set_pacing_rate(&mut self) {
        self.pacing_gain = match (self.mode, self.phase) {
            (Mode::Startup, _) => STARTUP_GAIN,
            (Mode::Drain, _) => DRAIN_GAIN,
            (Mode::ProbeBw, Phase::Up) => PROBE_UP_GAIN,
            (Mode::ProbeBw, Phase::Down) => PROBE_DOWN_GAIN,
            (Mode::ProbeBw, Phase::Cruise) => 1.0,
            (Mode::ProbeRtt, _) => PROBE_RTT_GAIN,
        };
        self.cwnd_gain = match self.mode {
            Mode::Startup | Mode::Drain => STARTUP_GAIN,
            Mode::ProbeBw | Mode::ProbeRtt => CWND_GAIN,
        };
        let bw = self.bw();
        if bw > 0.0 {
            let rate = self.pacing_gain * bw * PACING_MARGIN;
            if self.filled_pipe || rate > self.pacing_rate {
                self.pacing_rate = rate;
            }
        }
        self.pacing_rate = self.pacing_rate.max(CRYPTO_PACKET_MIN_RATE);
    }

    fn set_cwnd(&mut self, acked: u32) {
        let cwnd = f64::from(self.cwnd);
        let grown = cwnd + f64::from(acked);
        let next = if self.min_rtt.is_none() || self.bw() <= 0.0 {
            cwnd
        } else {
            let target = self.cwnd_gain * (self.target_in_flight(1.0) + self.extra_acked.get());
            if self.filled_pipe {
                grown.min(target)
            } else if cwnd < target {
                grown
            } else {
                cwnd
            }
        };
        let mut cwnd = (next as u32).max(CRYPTO_MIN_QUEUE_LENGTH);
        if let Some(hi) = self.inflight_hi {
            if self.mode != Mode::Startup {
                cwnd = cwnd.min(hi);
            }
        }
        self.cwnd = cwnd.min(CRYPTO_PACKET_BUFFER_SIZE);
    }

    /// RACK's reordering window: a quarter of the minimum round trip.
    fn reorder_window(&self) -> Duration {
        self.min_rtt.map_or(Duration::from_millis(1), |m| m / 4)
    }

    /// An unreported packet stops counting in flight after two of the
    /// latest round trips (which include the wait for the receiver's next
    /// request) and a little more. It was most likely delivered behind a
    /// missing one (a request shows nothing past the last missing packet)
    /// or lost at the tail; either way, keeping it in flight would hold
    /// the window shut, the receiver would see no packets, slow its
    /// requests to one a second, and the session would stall.
    fn stale_after(&self) -> Duration {
        let rtt = self
            .min_rtt
            .max(self.latest_rtt)
            .or(self.rtt_hint)
            .unwrap_or(CRYPTO_SEND_PACKET_INTERVAL);
        rtt.saturating_mul(2).saturating_add(STALE_MARGIN)
    }
}

/// Queueing delay that counts as a queue when probing: a quarter of the
/// minimum round trip, at least 2 ms so that pacing bursts (up to 1 ms of
/// sending, see `pacer`) do not count, and at most 10 ms.
fn standing_queue_threshold(min_rtt: Duration) -> Duration {
    (min_rtt / 4).clamp(Duration::from_millis(2), Duration::from_millis(10))
}

/// A 64-bit mixing function (splitmix64's finaliser).
const fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
