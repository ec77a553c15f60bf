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

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub mod convergence;
mod dht_node;
pub mod onion_node;

pub use convergence::{Figures, Scenario};
pub use dht_node::DhtNode;
pub use onion_node::{FriendFigures, FriendScenario, OnionNode};

/// A sans-IO state machine the simulator can run.
pub trait Node {
    /// A datagram arrived.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]);
    /// Time passed.
    fn handle_timeout(&mut self, now: Instant);
    /// When the node next wants [`Node::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;
}

/// How links behave.
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    /// One-way latency before jitter.
    pub latency: Duration,
    /// Up to this much extra latency, uniformly; datagrams overtake each
    /// other when it exceeds their spacing.
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(10),
            loss: 0.0,
        }
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
        let index = self.nodes.len() - 1;
        self.reschedule(index);
        index
    }

    /// Records the node's next wake-up in the timer heap. Stale heap
    /// entries are skipped when popped, so nothing needs removing.
    fn reschedule(&mut self, index: usize) {
        let next = self.nodes.get(index).and_then(Node::poll_timeout);
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
        while let Some((to, bytes)) = node.poll_transmit() {
            self.stats.sent += 1;
            if self.rng.random::<f64>() < self.link.loss {
                self.stats.lost += 1;
                continue;
            }
            let Some(to) = Self::index_of(&to) else {
                self.stats.undeliverable += 1;
                continue;
            };
            let jitter_ns = self.link.jitter.as_nanos() as u64;
            let jitter = if jitter_ns == 0 {
                0
            } else {
                self.rng.random_range(0..jitter_ns)
            };
            self.seq += 1;
            self.queue.push(Reverse(Delivery {
                at: self.now + self.link.latency + Duration::from_nanos(jitter),
                seq: self.seq,
                to,
                from,
                bytes,
            }));
        }
    }

    /// Runs until virtual time `until`. Returns how many steps ran.
    pub fn run_until(&mut self, until: Instant) -> u64 {
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
        steps
    }

    /// Lets every node flush what it queued outside the run loop (e.g.
    /// after a `bootstrap` call).
    pub fn flush(&mut self, index: usize) {
        self.collect_transmits(index);
    }
}
