//! A deterministic network in one process, for testing toxide's sans-IO
//! layers at scale.
//!
//! Every node is a state machine that takes datagrams and time and emits
//! datagrams ([`Node`]). The simulator owns a virtual clock that jumps to
//! the next thing that happens (a delivery or a node's timer), so hours of
//! network time pass in seconds. Links have latency with jitter (which
//! also reorders), loss, and nodes can go offline and come back (churn).
//! All randomness, the nodes' included, derives from one seed: a failing
//! run replays exactly.
//!
//! For transport tests (congestion control, retransmission) links can also
//! be slow, reorder and duplicate; see [`LinkConfig`] and [`Uplink`]. The
//! model is a per-node uplink: every datagram a node sends is serialised at
//! the node's capacity behind a drop-tail queue, then crosses the network
//! with latency, jitter, loss, reordering and duplication. Off by default,
//! and when off no random number is drawn for it, so every seed reproduces
//! the runs made before these features existed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub mod convergence;
mod dht_node;
pub mod onion_node;
pub mod session_node;
pub mod stack_node;

pub use convergence::{Figures, Scenario};
pub use dht_node::DhtNode;
pub use onion_node::{FriendFigures, FriendScenario, OnionNode};
pub use session_node::SessionNode;
pub use stack_node::{StackNode, stack_network};

/// A sans-IO state machine the simulator can run.
pub trait Node {
    /// A datagram arrived.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]);
    /// Time passed.
    fn handle_timeout(&mut self, now: Instant);
    /// When the node next wants [`Node::handle_timeout`] (or can send
    /// again: paced sessions wait for their time).
    fn poll_timeout(&self, now: Instant) -> Option<Instant>;
    /// The next datagram to send now.
    fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)>;
}

/// How links behave.
///
/// A datagram a node sends first joins its sender's [`Uplink`] (if any),
/// which may drop it (queue full) or delay it (serialisation behind what
/// is queued); then it is lost with probability `loss`; otherwise it
/// arrives `latency` plus jitter (plus, for a `reorder` share, up to
/// `reorder_delay` more) after it left the uplink, and for a `duplicate`
/// share a second copy arrives too, with its own jitter and reordering.
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    /// One-way latency before jitter.
    pub latency: Duration,
    /// Up to this much extra latency, uniformly; datagrams overtake each
    /// other when it exceeds their spacing.
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Every node's uplink; `None`: infinitely fast, no queue.
    pub uplink: Option<Uplink>,
    /// Probability that a datagram is held back by up to `reorder_delay`
    /// more (uniformly), so that later ones overtake it: reordering apart
    /// from jitter, which a fast stream needs to keep its spacing.
    pub reorder: f64,
    /// The most a reordered datagram is held back.
    pub reorder_delay: Duration,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(10),
            loss: 0.0,
            uplink: None,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            duplicate: 0.0,
        }
    }
}

/// A node's link to the network: a drop-tail queue served at `capacity`.
///
/// Why one per node rather than a bottleneck per directed pair: the link a
/// home user's sessions contend for is their own uplink, and a session's
/// congestion controller only sees what its own node's queue does to its
/// packets. Sessions of one node to many peers share the node's uplink;
/// sessions of different nodes never contend, which keeps the model
/// simple and its results easy to read. Only the sending side is
/// modelled; downlinks are infinitely fast.
///
/// A datagram of `n` bytes (the UDP payload; IP and UDP headers are not
/// counted) occupies the uplink for `n / capacity` seconds, starting when
/// the previous one is done. It is dropped on arrival at the queue if
/// the bytes not yet fully sent (the datagram being sent included) plus
/// its own would exceed `queue_bytes`, or the datagrams not yet fully
/// sent would exceed `queue_packets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uplink {
    /// Bytes per second (at least 1).
    pub capacity: u64,
    /// Most bytes queued, the datagram being sent included.
    pub queue_bytes: u64,
    /// Most datagrams queued, the one being sent included.
    pub queue_packets: usize,
}

impl Uplink {
    /// An uplink of `bits_per_second` whose queue holds `queue_bytes`
    /// (any number of datagrams).
    pub fn new(bits_per_second: u64, queue_bytes: u64) -> Self {
        Self {
            capacity: (bits_per_second / 8).max(1),
            queue_bytes,
            queue_packets: usize::MAX,
        }
    }

    /// How long `len` bytes occupy the uplink, rounded up to the
    /// nanosecond so that back-to-back datagrams never exceed capacity.
    fn serialisation(&self, len: usize) -> Duration {
        let nanos = (len as u128 * 1_000_000_000).div_ceil(u128::from(self.capacity.max(1)));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// What one node's uplink holds: when each queued datagram will have left
/// and its size, oldest first.
#[derive(Debug, Default)]
struct UplinkQueue {
    leaving: VecDeque<(Instant, u64)>,
    bytes: u64,
}

impl UplinkQueue {
    /// Forgets what has left by `now`.
    fn drain(&mut self, now: Instant) {
        while let Some(&(done, len)) = self.leaving.front() {
            if done > now {
                break;
            }
            self.leaving.pop_front();
            self.bytes = self.bytes.saturating_sub(len);
        }
    }

    /// Queues `len` bytes at `now`; returns when they will have left, or
    /// `None` if the queue is full (drop-tail).
    fn admit(&mut self, uplink: &Uplink, now: Instant, len: usize) -> Option<Instant> {
        self.drain(now);
        let bytes = len as u64;
        if self.bytes.saturating_add(bytes) > uplink.queue_bytes
            || self.leaving.len() >= uplink.queue_packets
        {
            return None;
        }
        let begin = self.leaving.back().map_or(now, |&(done, _)| done.max(now));
        let done = begin + uplink.serialisation(len);
        self.leaving.push_back((done, bytes));
        self.bytes = self.bytes.saturating_add(bytes);
        Some(done)
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Instant,
    seq: u64,
    to: usize,
    from: SocketAddr,
    bytes: Vec<u8>,
}

/// Counters of what the network carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams sent by nodes.
    pub sent: u64,
    /// Datagrams delivered.
    pub delivered: u64,
    /// Lost to link loss.
    pub lost: u64,
    /// Dropped because the destination was offline or unknown.
    pub undeliverable: u64,
    /// Dropped because the sender's uplink queue was full.
    pub queue_dropped: u64,
    /// Datagrams delivered a second time ([`LinkConfig::duplicate`]).
    pub duplicated: u64,
    /// Datagrams held back to be overtaken ([`LinkConfig::reorder`]).
    pub reordered: u64,
}

/// [`Network::run_until_bounded`] ran out of steps before the virtual
/// clock reached its goal: a node that keeps asking to be woken at the
/// same instant would otherwise hang the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepBudgetExceeded {
    /// The virtual time reached.
    pub at: Instant,
    /// Steps run.
    pub steps: u64,
}

/// The simulated network.
#[derive(Debug)]
pub struct Network<N> {
    nodes: Vec<N>,
    online: Vec<bool>,
    link: LinkConfig,
    rng: ChaCha20Rng,
    start: Instant,
    now: Instant,
    queue: BinaryHeap<Reverse<Delivery>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    scheduled: Vec<Option<Instant>>,
    /// Each node's uplink queue (empty unless [`LinkConfig::uplink`]).
    uplinks: Vec<UplinkQueue>,
    seq: u64,
    stats: NetStats,
}

impl<N: Node> Network<N> {
    /// An empty network whose clock starts at `start`.
    pub fn new(link: LinkConfig, start: Instant, seed: u64) -> Self {
        Self {
            nodes: Vec::new(),
            online: Vec::new(),
            link,
            rng: ChaCha20Rng::seed_from_u64(seed),
            start,
            now: start,
            queue: BinaryHeap::new(),
            timers: BinaryHeap::new(),
            scheduled: Vec::new(),
            uplinks: Vec::new(),
            seq: 0,
            stats: NetStats::default(),
        }
    }

    /// The address of node `index`: one IPv4 address per node, port 33445.
    pub fn addr(index: usize) -> SocketAddr {
        let i = u32::try_from(index).unwrap_or(u32::MAX);
        // 10.0.0.0/8 is plenty; the simulator never touches real sockets.
        let ip = Ipv4Addr::from(0x0a00_0000 | (i + 1));
        SocketAddr::new(IpAddr::V4(ip), 33445)
    }

    fn index_of(addr: &SocketAddr) -> Option<usize> {
        match addr.ip() {
            IpAddr::V4(v4) if addr.port() == 33445 => {
                let n = u32::from(v4);
                (n >> 24 == 10 && n & 0x00ff_ffff != 0).then(|| (n & 0x00ff_ffff) as usize - 1)
            }
            _ => None,
        }
    }

    /// Adds a node; returns its index.
    pub fn add(&mut self, node: N) -> usize {
        self.nodes.push(node);
        self.online.push(true);
        self.scheduled.push(None);
        self.uplinks.push(UplinkQueue::default());
        let index = self.nodes.len() - 1;
        self.reschedule(index);
        index
    }

    /// Records the node's next wake-up in the timer heap. Stale heap
    /// entries are skipped when popped, so nothing needs removing.
    fn reschedule(&mut self, index: usize) {
        let now = self.now;
        let next = self.nodes.get(index).and_then(|n| n.poll_timeout(now));
        if let Some(slot) = self.scheduled.get_mut(index) {
            if *slot != next {
                *slot = next;
                if let Some(t) = next {
                    self.timers.push(Reverse((t, index)));
                }
            }
        }
    }

    /// A fresh 32-byte seed for a node, from the network's seed.
    pub fn node_seed(&mut self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        seed
    }

    /// The nodes.
    pub fn nodes(&self) -> &[N] {
        &self.nodes
    }

    /// One node, mutably.
    pub fn node_mut(&mut self, index: usize) -> Option<&mut N> {
        self.nodes.get_mut(index)
    }

    /// Takes a node off the network or puts it back. An offline node
    /// neither receives nor runs; datagrams to it are lost.
    pub fn set_online(&mut self, index: usize, online: bool) {
        if let Some(slot) = self.online.get_mut(index) {
            *slot = online;
        }
        if online {
            if let Some(slot) = self.scheduled.get_mut(index) {
                *slot = None;
            }
            self.reschedule(index);
        }
    }

    /// Whether a node is online.
    pub fn is_online(&self, index: usize) -> bool {
        self.online.get(index).copied().unwrap_or(false)
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// What the network has carried.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// How links behave now.
    pub fn link(&self) -> LinkConfig {
        self.link
    }

    /// Changes how links behave from now on (datagrams already on their
    /// way keep their arrival times; queued bytes stay queued).
    pub fn set_link(&mut self, link: LinkConfig) {
        self.link = link;
    }

    /// A random number from the network's RNG (for churn schedules).
    pub fn random_f64(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    fn collect_transmits(&mut self, index: usize) {
        self.reschedule(index);
        let from = Self::addr(index);
        let Some(node) = self.nodes.get_mut(index) else {
            return;
        };
        let now = self.now;
        while let Some((to, bytes)) = node.poll_transmit(now) {
            self.stats.sent += 1;
            // The uplink comes first and draws no random number, so with
            // it off the draws below are those of every earlier run.
            let left = match (&self.link.uplink, self.uplinks.get_mut(index)) {
                (Some(uplink), Some(queue)) => match queue.admit(uplink, now, bytes.len()) {
                    Some(done) => done,
                    None => {
                        self.stats.queue_dropped += 1;
                        continue;
                    }
                },
                _ => now,
            };
            if self.rng.random::<f64>() < self.link.loss {
                self.stats.lost += 1;
                continue;
            }
            let Some(to) = Self::index_of(&to) else {
                self.stats.undeliverable += 1;
                continue;
            };
            let duplicate =
                self.link.duplicate > 0.0 && self.rng.random::<f64>() < self.link.duplicate;
            if duplicate {
                self.stats.duplicated += 1;
                let at = left + extra_delay(&self.link, &mut self.rng, &mut self.stats);
                self.seq += 1;
                self.queue.push(Reverse(Delivery {
                    at,
                    seq: self.seq,
                    to,
                    from,
                    bytes: bytes.clone(),
                }));
            }
            let at = left + extra_delay(&self.link, &mut self.rng, &mut self.stats);
            self.seq += 1;
            self.queue.push(Reverse(Delivery {
                at,
                seq: self.seq,
                to,
                from,
                bytes,
            }));
        }
        // Sending may have moved the node's next wake-up (a paced session
        // waits for its next slot once it has sent what it could).
        self.reschedule(index);
    }

    /// Runs until virtual time `until`. Returns how many steps ran.
    pub fn run_until(&mut self, until: Instant) -> u64 {
        match self.run_until_bounded(until, u64::MAX) {
            Ok(steps) => steps,
            Err(stalled) => stalled.steps,
        }
    }

    /// Runs until virtual time `until`, or until `max_steps` deliveries
    /// and wake-ups have run: then the clock stays where it got to and the
    /// error says where (a test's guard against a node that asks to be
    /// woken at the same instant forever).
    pub fn run_until_bounded(
        &mut self,
        until: Instant,
        max_steps: u64,
    ) -> Result<u64, StepBudgetExceeded> {
        let mut steps = 0;
        loop {
            // The earliest live timer: drop entries superseded by a later
            // reschedule and those of offline nodes.
            let timer = loop {
                match self.timers.peek() {
                    Some(Reverse((t, i))) => {
                        let (t, i) = (*t, *i);
                        if self.scheduled.get(i).copied().flatten() == Some(t) && self.is_online(i)
                        {
                            break Some((t, i));
                        }
                        self.timers.pop();
                    }
                    None => break None,
                }
            };
            let delivery = self.queue.peek().map(|Reverse(d)| d.at);
            let next = match (timer, delivery) {
                (Some((t, _)), Some(d)) => t.min(d),
                (Some((t, _)), None) => t,
                (None, Some(d)) => d,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            if steps >= max_steps {
                return Err(StepBudgetExceeded {
                    at: self.now,
                    steps,
                });
            }
            self.now = self.now.max(next);
            steps += 1;
            if delivery.is_some_and(|d| d <= next) {
                if let Some(Reverse(d)) = self.queue.pop() {
                    if self.is_online(d.to) {
                        if let Some(node) = self.nodes.get_mut(d.to) {
                            node.handle_datagram(self.now, d.from, &d.bytes);
                            self.stats.delivered += 1;
                        }
                        self.collect_transmits(d.to);
                    } else {
                        self.stats.undeliverable += 1;
                    }
                }
            } else if let Some((_, i)) = timer {
                self.timers.pop();
                if let Some(slot) = self.scheduled.get_mut(i) {
                    *slot = None;
                }
                if let Some(node) = self.nodes.get_mut(i) {
                    node.handle_timeout(self.now);
                }
                self.collect_transmits(i);
            }
        }
        self.now = self.now.max(until);
        Ok(steps)
    }

    /// Lets every node flush what it queued outside the run loop (e.g.
    /// after a `bootstrap` call).
    pub fn flush(&mut self, index: usize) {
        self.collect_transmits(index);
    }
}

/// Latency, jitter, and for the `reorder` share a hold-back, for one
/// datagram; draws nothing for what is off.
fn extra_delay(link: &LinkConfig, rng: &mut ChaCha20Rng, stats: &mut NetStats) -> Duration {
    let jitter_ns = link.jitter.as_nanos() as u64;
    let jitter = if jitter_ns == 0 {
        0
    } else {
        rng.random_range(0..jitter_ns)
    };
    let mut delay = link.latency + Duration::from_nanos(jitter);
    if link.reorder > 0.0 && rng.random::<f64>() < link.reorder {
        stats.reordered += 1;
        let hold_ns = link.reorder_delay.as_nanos() as u64;
        if hold_ns > 0 {
            delay += Duration::from_nanos(rng.random_range(0..hold_ns));
        }
    }
    delay
}
