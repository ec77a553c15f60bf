//! A deterministic discrete-event model of sessions over one bottleneck:
//! virtual time in nanoseconds, one seeded RNG, no sockets.
//!
//! Each flow is a sender (a bulk [`SendQueue`] fed by an application,
//! [`SendBuffer`], [`Rtt`], its own [`RequestSchedule`] and a
//! [`Congestion`]) and a receiver ([`ReceiveBuffer`] and
//! [`RequestSchedule`], sending request packets that carry its
//! `buffer_start`), wired as a session wires them (lossless/mod.rs).
//! Sender → receiver traffic crosses a shared bottleneck: a drop-tail
//! queue of `queue` bytes served at `capacity` bytes/s, then `one_way` of
//! propagation. Receiver → sender traffic (request packets only) has
//! propagation delay and no bottleneck. Both directions can lose,
//! reorder (extra delay for some packets) and duplicate.
//!
//! A data packet occupies [`WIRE`] bytes of the link (a full-size
//! encrypted data packet) and carries [`PAYLOAD`] bytes of payload; in
//! memory it only holds its flow and index, which the receiver checks:
//! every payload must come out exactly once and in order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::congestion::Congestion;
use crate::lossless::{Priority, ReceiveBuffer, RequestSchedule, Rtt, SendBuffer, SendQueue};
use crate::packet::MAX_CRYPTO_DATA_SIZE;

/// Bytes a full data packet occupies on the link.
pub(super) const WIRE: u64 = 1400;
/// Payload bytes it carries (packet id and data).
pub(super) const PAYLOAD: u64 = MAX_CRYPTO_DATA_SIZE as u64;
/// Overhead of a data packet around its payload (id, nonce, MAC, the two
/// u32 fields): what a request packet costs on top of its body.
const HEADER: u64 = WIRE - PAYLOAD;
/// Width of the goodput and queueing-delay histograms.
pub(super) const BIN: Duration = Duration::from_millis(10);

/// The link between the senders and the receivers.
#[derive(Debug, Clone)]
pub(super) struct Path {
    /// Bottleneck rate, bytes per second.
    pub(super) capacity: f64,
    /// Drop-tail queue in front of the bottleneck, bytes.
    pub(super) queue: u64,
    /// Propagation delay each way.
    pub(super) one_way: Duration,
    /// Probability a packet is lost, each direction.
    pub(super) loss: f64,
    /// Probability a packet is delayed by up to `jitter` more.
    pub(super) reorder: f64,
    pub(super) jitter: Duration,
    /// Probability a packet arrives twice.
    pub(super) duplicate: f64,
}

impl Path {
    /// A clean link of `mbit` Mbit/s and `rtt` round trip whose queue holds
    /// `bdps` bandwidth-delay products.
    pub(super) fn clean(mbit: f64, rtt: Duration, bdps: f64) -> Self {
        let capacity = mbit * 1e6 / 8.0;
        Self {
            capacity,
            queue: (capacity * rtt.as_secs_f64() * bdps) as u64,
            one_way: rtt / 2,
            loss: 0.0,
            reorder: 0.0,
            jitter: Duration::ZERO,
            duplicate: 0.0,
        }
    }
}

/// One session's transfer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flow {
    /// When it starts.
    pub(super) start: Duration,
    /// Packets to send; `None`: always more.
    pub(super) packets: Option<u64>,
}

/// What a flow did.
#[derive(Debug, Clone, Default)]
pub(super) struct FlowReport {
    /// In-order deliveries per [`BIN`].
    pub(super) bins: Vec<u64>,
    pub(super) delivered: u64,
    /// Copies the receiver dropped as duplicates.
    pub(super) duplicates: u64,
    /// Payloads out of order or repeated (must stay 0).
    pub(super) order_errors: u64,
    pub(super) sent: u64,
    pub(super) resent: u64,
    /// When every packet was delivered and acknowledged.
    pub(super) done_at: Option<Duration>,
    pub(super) max_window: u32,
    /// Packets the sender's buffer still held at the end.
    pub(super) unacknowledged: u32,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub(super) struct Report {
    pub(super) flows: Vec<FlowReport>,
    /// Sum of queueing delays (ns) and packet count per [`BIN`], by
    /// enqueue time.
    pub(super) queue_delay: Vec<(u128, u64)>,
    pub(super) queue_drops: u64,
    /// Data packets dropped by the full queue, per [`BIN`].
    pub(super) drop_bins: Vec<u64>,
    /// Data packets offered to the queue, per [`BIN`].
    pub(super) offered_bins: Vec<u64>,
    pub(super) random_drops: u64,
    pub(super) capacity: f64,
    /// Virtual time simulated.
    pub(super) elapsed: Duration,
}

fn bin_of(t: Duration) -> usize {
    (t.as_nanos() / BIN.as_nanos()) as usize
}

fn bins_between(from: Duration, to: Duration) -> std::ops::Range<usize> {
    bin_of(from)..bin_of(to)
}

impl Report {
    /// Payload bytes per second flow `i` delivered in order over
    /// `[from, to)` (whole bins).
    pub(super) fn goodput(&self, i: usize, from: Duration, to: Duration) -> f64 {
        let bins = bins_between(from, to);
        let secs = (bins.len() as f64) * BIN.as_secs_f64();
        let packets: u64 = bins
            .filter_map(|b| self.flows[i].bins.get(b))
            .copied()
            .sum();
        packets as f64 * PAYLOAD as f64 / secs
    }

    /// Share of the bottleneck's capacity spent on packets delivered in
    /// order (all flows) over `[from, to)`.
    pub(super) fn utilisation(&self, from: Duration, to: Duration) -> f64 {
        let payload: f64 = (0..self.flows.len())
            .map(|i| self.goodput(i, from, to))
            .sum();
        payload / PAYLOAD as f64 * WIRE as f64 / self.capacity
    }

    /// End of the first `window` in which all flows together delivered at
    /// least `share` of the capacity.
    pub(super) fn reaches(&self, share: f64, window: Duration) -> Option<Duration> {
        let width = bin_of(window);
        let n = self.flows.iter().map(|f| f.bins.len()).max()?;
        let total: Vec<u64> = (0..n)
            .map(|b| self.flows.iter().filter_map(|f| f.bins.get(b)).sum())
            .collect();
        let need = share * self.capacity * window.as_secs_f64() / WIRE as f64;
        let mut sum = 0u64;
        for (b, &v) in total.iter().enumerate() {
            sum += v;
            if b >= width {
                sum -= total[b - width];
            }
            if b + 1 >= width && sum as f64 >= need {
                return Some(BIN * (b as u32 + 1));
            }
        }
        None
    }

    /// First time a `window` of flow `i` carried `rate` payload bytes/s.
    pub(super) fn reaches_goodput(
        &self,
        i: usize,
        rate: f64,
        window: Duration,
    ) -> Option<Duration> {
        let width = bin_of(window);
        let bins = &self.flows[i].bins;
        let need = rate * window.as_secs_f64() / PAYLOAD as f64;
        let mut sum = 0u64;
        for b in 0..bins.len() {
            sum += bins[b];
            if b >= width {
                sum -= bins[b - width];
            }
            if b + 1 >= width && sum as f64 >= need {
                return Some(BIN * (b as u32 + 1));
            }
        }
        None
    }

    /// Share of the data packets offered to the bottleneck queue during
    /// `[from, to)` that it dropped.
    pub(super) fn queue_drop_rate(&self, from: Duration, to: Duration) -> f64 {
        let sum =
            |bins: &Vec<u64>| -> u64 { bins_between(from, to).filter_map(|b| bins.get(b)).sum() };
        sum(&self.drop_bins) as f64 / sum(&self.offered_bins).max(1) as f64
    }

    /// Mean queueing delay of the packets that entered the queue during
    /// `[from, to)`.
    pub(super) fn mean_queue_delay(&self, from: Duration, to: Duration) -> Duration {
        let (sum, n) = bins_between(from, to)
            .filter_map(|b| self.queue_delay.get(b))
            .fold((0u128, 0u64), |(s, n), &(bs, bn)| (s + bs, n + bn));
        if n == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos((sum / u128::from(n)) as u64)
    }
}

#[derive(Debug, Clone)]
enum Body {
    Data(Bytes),
    Request(Vec<u8>),
}

/// A data packet's plaintext as far as this layer cares.
#[derive(Debug, Clone)]
struct Wire {
    buffer_start: u32,
    number: u32,
    body: Body,
}

impl Wire {
    fn size(&self) -> u64 {
        match &self.body {
            Body::Data(_) => WIRE,
            Body::Request(body) => HEADER + 1 + body.len() as u64,
        }
    }
}

#[derive(Debug)]
enum Event {
    ToReceiver(usize, Wire),
    ToSender(usize, Wire),
    WakeSender(usize),
    WakeReceiver(usize),
}

#[derive(Debug)]
struct Item {
    at: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    /// Reversed: the heap pops the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct Sender {
    queue: SendQueue,
    send: SendBuffer,
    recv: ReceiveBuffer,
    rtt: Rtt,
    schedule: RequestSchedule,
    cc: Congestion,
    established: bool,
    produced: u64,
    wake: Option<u64>,
}

struct Receiver {
    send: SendBuffer,
    recv: ReceiveBuffer,
    schedule: RequestSchedule,
    established: bool,
    next_index: u64,
    wake: Option<u64>,
}

struct Sim<'a> {
    path: &'a Path,
    flows: &'a [Flow],
    t0: Instant,
    now: u64,
    seq: u64,
    events: BinaryHeap<Item>,
    rng: ChaCha8Rng,
    busy_until: u64,
    senders: Vec<Sender>,
    receivers: Vec<Receiver>,
    report: Report,
}

fn bump(bins: &mut Vec<u64>, b: usize) {
    if bins.len() <= b {
        bins.resize(b + 1, 0);
    }
    bins[b] += 1;
}

fn payload(flow: usize, index: u64) -> Bytes {
    let mut p = vec![82, flow as u8];
    p.extend_from_slice(&index.to_be_bytes());
    Bytes::from(p)
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

/// Runs `flows` over `path` for `duration` of virtual time, or until every
/// flow has a size and finished.
pub(super) fn run(path: &Path, flows: &[Flow], duration: Duration, seed: u64) -> Report {
    let t0 = Instant::now();
    let mut sim = Sim {
        path,
        flows,
        t0,
        now: 0,
        seq: 0,
        events: BinaryHeap::new(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        busy_until: 0,
        senders: Vec::new(),
        receivers: Vec::new(),
        report: Report {
            capacity: path.capacity,
            flows: vec![FlowReport::default(); flows.len()],
            ..Report::default()
        },
    };
    for (i, flow) in flows.iter().enumerate() {
        sim.senders.push(Sender {
            queue: SendQueue::default(),
            send: SendBuffer::new(),
            recv: ReceiveBuffer::new(),
            rtt: Rtt::new(),
            schedule: RequestSchedule::new(),
            cc: Congestion::new(t0 + flow.start),
            established: false,
            produced: 0,
            wake: None,
        });
        sim.receivers.push(Receiver {
            send: SendBuffer::new(),
            recv: ReceiveBuffer::new(),
            schedule: RequestSchedule::new(),
            established: false,
            next_index: 0,
            wake: None,
        });
        let at = nanos(flow.start);
        sim.wake_sender(i, at);
        sim.wake_receiver(i, at);
    }
    let end = nanos(duration);
    while let Some(item) = sim.events.pop() {
        if item.at > end {
            break;
        }
        sim.now = item.at;
        match item.event {
            Event::ToReceiver(i, wire) => sim.receiver_gets(i, wire),
            Event::ToSender(i, wire) => sim.sender_gets(i, wire),
            Event::WakeSender(i) => {
                if sim.senders[i].wake == Some(item.at) {
                    sim.senders[i].wake = None;
                    sim.sender_work(i);
                }
            }
            Event::WakeReceiver(i) => {
                if sim.receivers[i].wake == Some(item.at) {
                    sim.receivers[i].wake = None;
                    sim.receiver_work(i);
                }
            }
        }
        if sim.all_done() {
            break;
        }
    }
    sim.report.elapsed = Duration::from_nanos(sim.now);
    for (i, s) in sim.senders.iter().enumerate() {
        sim.report.flows[i].unacknowledged = s.send.in_flight();
    }
    sim.report
}

impl Sim<'_> {
    fn instant(&self) -> Instant {
        self.t0 + Duration::from_nanos(self.now)
    }

    fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.events.push(Item {
            at,
            seq: self.seq,
            event,
        });
    }

    fn wake_sender(&mut self, i: usize, at: u64) {
        let s = &mut self.senders[i];
        if s.wake.is_none_or(|w| at < w) {
            s.wake = Some(at);
            self.push(at, Event::WakeSender(i));
        }
    }

    fn wake_receiver(&mut self, i: usize, at: u64) {
        let r = &mut self.receivers[i];
        if r.wake.is_none_or(|w| at < w) {
            r.wake = Some(at);
            self.push(at, Event::WakeReceiver(i));
        }
    }

    fn all_done(&self) -> bool {
        self.flows.iter().all(|f| f.packets.is_some())
            && self.report.flows.iter().all(|f| f.done_at.is_some())
    }

    fn started(&self, i: usize) -> bool {
        self.now >= nanos(self.flows[i].start)
    }

    /// The random part of a hop: lost, or the extra delays of its copies.
    fn fate(&mut self) -> Vec<u64> {
        let p = self.path;
        let mut copies = vec![0];
        if p.duplicate > 0.0 && self.rng.random_bool(p.duplicate) {
            copies.push(0);
        }
        let mut out = Vec::new();
        for mut extra in copies {
            if p.loss > 0.0 && self.rng.random_bool(p.loss) {
                self.report.random_drops += 1;
                continue;
            }
            if p.reorder > 0.0 && self.rng.random_bool(p.reorder) {
                extra += self.rng.random_range(0..=nanos(p.jitter));
            }
            out.push(extra);
        }
        out
    }

    /// Sender → receiver: through the bottleneck.
    fn forward(&mut self, i: usize, wire: Wire) {
        let size = wire.size();
        let backlog = self.busy_until.saturating_sub(self.now) as f64 * self.path.capacity / 1e9;
        let data = matches!(wire.body, Body::Data(_));
        let b = bin_of(Duration::from_nanos(self.now));
        if data {
            bump(&mut self.report.offered_bins, b);
        }
        if backlog + size as f64 > self.path.queue as f64 {
            self.report.queue_drops += 1;
            if data {
                bump(&mut self.report.drop_bins, b);
            }
            return;
        }
        let start = self.busy_until.max(self.now);
        self.busy_until = start + (size as f64 * 1e9 / self.path.capacity).round() as u64;
        if matches!(wire.body, Body::Data(_)) {
            let b = bin_of(Duration::from_nanos(self.now));
            if self.report.queue_delay.len() <= b {
                self.report.queue_delay.resize(b + 1, (0, 0));
            }
            let slot = &mut self.report.queue_delay[b];
            slot.0 += u128::from(start - self.now);
            slot.1 += 1;
        }
        let arrive = self.busy_until + nanos(self.path.one_way);
        for extra in self.fate() {
            self.push(arrive + extra, Event::ToReceiver(i, wire.clone()));
        }
    }

    /// Receiver → sender: propagation only.
    fn reverse(&mut self, i: usize, wire: Wire) {
        let arrive = self.now + nanos(self.path.one_way);
        for extra in self.fate() {
            self.push(arrive + extra, Event::ToSender(i, wire.clone()));
        }
    }

    fn refill(&mut self, i: usize) {
        let limit = self.flows[i].packets;
        let s = &mut self.senders[i];
        while s.queue.free_space(Priority::Bulk) > 0 && limit.is_none_or(|n| s.produced < n) {
            if s.queue
                .push(Priority::Bulk, payload(i, s.produced))
                .is_err()
            {
                break;
            }
            s.produced += 1;
        }
    }

    fn sender_work(&mut self, i: usize) {
        if !self.started(i) {
            return;
        }
        let now = self.instant();
        self.refill(i);
        let s = &mut self.senders[i];
        s.cc.handle_timeout(now);
        if s.schedule.poll(now, s.established, s.recv.window_len()) {
            let wire = Wire {
                buffer_start: s.recv.buffer_start(),
                number: s.send.buffer_end(),
                body: Body::Request(s.recv.request_body()),
            };
            self.forward(i, wire);
        }
        loop {
            let s = &mut self.senders[i];
            // Resends need only the pacer; new data the window too.
            let resend = s.send.next_to_send().is_some_and(|o| o.resend);
            if !(if resend {
                s.cc.can_resend(now)
            } else {
                s.cc.can_send(now)
            }) {
                break;
            }
            if s.send.waiting() == 0 && s.queue.number_next(&mut s.send, true).is_none() {
                break;
            }
            let Some(out) = s.send.poll_transmit(now) else {
                break;
            };
            self.refill(i);
            let s = &mut self.senders[i];
            let app_limited = s.send.waiting() == 0 && s.queue.is_empty();
            s.cc.on_sent(now, out.number, out.resend, app_limited);
            let window = s.cc.window();
            let wire = Wire {
                buffer_start: s.recv.buffer_start(),
                number: out.number,
                body: Body::Data(out.data),
            };
            let report = &mut self.report.flows[i];
            report.sent += 1;
            report.resent += u64::from(out.resend);
            report.max_window = report.max_window.max(window);
            self.forward(i, wire);
        }
        let s = &self.senders[i];
        let mut next = s.schedule.poll_timeout(s.established, s.recv.window_len());
        let resend = s.send.next_to_send().is_some_and(|o| o.resend);
        let wake = if resend {
            Some(s.cc.next_resend_time(now))
        } else if s.send.waiting() > 0 || !s.queue.is_empty() {
            s.cc.next_send_time(now)
        } else {
            None
        };
        for t in [wake, s.cc.poll_timeout()].into_iter().flatten() {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        if let Some(t) = next {
            let at = nanos(t.saturating_duration_since(self.t0)).max(self.now);
            self.wake_sender(i, at);
        }
    }

    fn sender_gets(&mut self, i: usize, wire: Wire) {
        let now = self.instant();
        let s = &mut self.senders[i];
        let Ok(ack) = s.send.acknowledge(wire.buffer_start) else {
            return;
        };
        s.established = true;
        match wire.body {
            Body::Request(body) => {
                let outcome =
                    s.send
                        .handle_request(now, s.cc.resend_after(s.rtt.resend_after(true)), &body);
                s.rtt
                    .sample(now, ack.oldest_sent.max(outcome.newest_released_sent));
                s.recv.set_buffer_end(wire.number);
                s.cc.on_feedback(now, &s.send, Some(&outcome));
            }
            Body::Data(_) => {
                s.rtt.sample(now, ack.oldest_sent);
                s.cc.on_feedback(now, &s.send, None);
            }
        }
        if s.send.in_flight() == 0
            && self.report.flows[i].done_at.is_none()
            && self.flows[i].packets == Some(self.report.flows[i].delivered)
        {
            self.report.flows[i].done_at = Some(Duration::from_nanos(self.now));
        }
        self.sender_work(i);
    }

    fn receiver_work(&mut self, i: usize) {
        if !self.started(i) {
            return;
        }
        let now = self.instant();
        let r = &mut self.receivers[i];
        if r.schedule.poll(now, r.established, r.recv.window_len()) {
            let wire = Wire {
                buffer_start: r.recv.buffer_start(),
                number: r.send.buffer_end(),
                body: Body::Request(r.recv.request_body()),
            };
            self.reverse(i, wire);
        }
        let r = &self.receivers[i];
        if let Some(t) = r.schedule.poll_timeout(r.established, r.recv.window_len()) {
            let at = nanos(t.saturating_duration_since(self.t0)).max(self.now);
            self.wake_receiver(i, at);
        }
    }

    fn receiver_gets(&mut self, i: usize, wire: Wire) {
        let now = self.instant();
        let bin = bin_of(Duration::from_nanos(self.now));
        let r = &mut self.receivers[i];
        let report = &mut self.report.flows[i];
        if r.send.acknowledge(wire.buffer_start).is_err() {
            return;
        }
        match wire.body {
            Body::Data(data) => {
                if r.recv.insert(wire.number, data).is_err() {
                    report.duplicates += 1;
                } else {
                    r.established = true;
                    r.schedule.packet_received(now);
                    while let Some((_, data)) = r.recv.pop_in_order() {
                        if data != payload(i, r.next_index) {
                            report.order_errors += 1;
                        }
                        r.next_index += 1;
                        report.delivered += 1;
                        if report.bins.len() <= bin {
                            report.bins.resize(bin + 1, 0);
                        }
                        report.bins[bin] += 1;
                    }
                }
            }
            Body::Request(_) => {
                r.recv.set_buffer_end(wire.number);
            }
        }
        self.receiver_work(i);
    }
}
