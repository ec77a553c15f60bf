//! The DHT and onion stack as a simulated node, and the friend-finding
//! scenario run on it.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide::stack::{Stack, StackEvent};
use toxide_core::{PackedNode, PublicKey};
use toxide_onion::ClientEvent;

use crate::{LinkConfig, NetStats, Network, Node};

/// A [`Stack`] that keeps the onion events it emits, with their times.
#[derive(Debug)]
pub struct OnionNode {
    /// The layers.
    pub stack: Stack,
    /// Onion client events so far, with the virtual time they happened.
    pub events: Vec<(Instant, ClientEvent)>,
}

impl OnionNode {
    /// Wraps a stack.
    pub fn new(stack: Stack) -> Self {
        Self {
            stack,
            events: Vec::new(),
        }
    }

    fn drain(&mut self, now: Instant) {
        while let Some(event) = self.stack.poll_event() {
            if let StackEvent::Onion(event) = event {
                self.events.push((now, event));
            }
        }
    }

    /// When this node's client first counted as announced.
    pub fn announced(&self) -> Option<Instant> {
        self.events
            .iter()
            .find_map(|(t, e)| (*e == ClientEvent::Connected(true)).then_some(*t))
    }

    /// When this node first learned `friend`'s DHT key as `dht_pk`.
    pub fn learned(&self, friend: &PublicKey, dht_pk: &PublicKey) -> Option<Instant> {
        self.events.iter().find_map(|(t, e)| match e {
            ClientEvent::FriendDhtPk {
                friend: f,
                dht_pk: k,
                ..
            } if f == friend && k == dht_pk => Some(*t),
            _ => None,
        })
    }
}

impl Node for OnionNode {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stack.handle_datagram(now, from, bytes);
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack.handle_timeout(now);
        self.drain(now);
    }

    fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.stack.poll_timeout(now)
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.stack
            .poll_transmit(now)
            .map(|t| (t.destination, t.payload))
    }
}

/// Friends finding each other: `nodes` nodes (node 0 a bootstrap node
/// without a client, the rest full clients) of which the first
/// `2 × pairs` clients are friends in pairs, added on both sides at the
/// start, as after a restart of two profiles that know each other.
#[derive(Debug, Clone, Copy)]
pub struct FriendScenario {
    /// Nodes, the bootstrap node included.
    pub nodes: usize,
    /// Pairs of friends.
    pub pairs: usize,
    /// Link behaviour.
    pub link: LinkConfig,
    /// Virtual seconds to wait at most.
    pub limit: Duration,
    /// Seed of all randomness.
    pub seed: u64,
}

/// One side of a pair of friends: its node and its keys.
#[derive(Debug, Clone, Copy)]
struct Side {
    index: usize,
    real: PublicKey,
    dht: PublicKey,
}

/// What a [`FriendScenario`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FriendFigures {
    /// Sides (two per pair) that learned their friend's DHT key.
    pub learned: usize,
    /// Sides in all.
    pub sides: usize,
    /// Virtual seconds until the median client counted as announced.
    pub announced_median_secs: f64,
    /// DHT-PK announcements accepted through the onion, and through the
    /// DHT route, by all clients.
    pub dht_pk_via: (u64, u64),
    /// Virtual seconds until the median side learned it.
    pub median_secs: f64,
    /// Virtual seconds until the last side learned it (or the limit).
    pub last_secs: f64,
    /// What the network carried until then.
    pub net: NetStats,
    /// Datagrams sent per node per minute until then.
    pub per_node_minute: f64,
}

impl fmt::Display for FriendFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "clients announced after {:.1} s (median); {}/{} sides learned their friend's \
             DHT key, median {:.1} s, last {:.1} s (virtual; DHT-PK accepted {} times via \
             onion, {} via DHT); {} datagrams sent ({} lost), {:.0} per node per minute",
            self.announced_median_secs,
            self.learned,
            self.sides,
            self.median_secs,
            self.last_secs,
            self.dht_pk_via.0,
            self.dht_pk_via.1,
            self.net.sent,
            self.net.lost,
            self.per_node_minute
        )
    }
}

impl FriendScenario {
    /// Builds, runs and measures.
    pub fn figures(&self) -> FriendFigures {
        let start = Instant::now();
        let mut net: Network<OnionNode> = Network::new(self.link, start, self.seed);
        let mut identities = Vec::new();
        for i in 0..self.nodes {
            let built = crate::stack_node::build_stack(net.node_seed(), start, i > 0, false);
            identities.push(Side {
                index: i,
                real: built.real,
                dht: built.dht,
            });
            net.add(OnionNode::new(built.stack));
        }
        let Some(bootstrap_pk) = identities.first().map(|s| s.dht) else {
            return self.measure(&net, &[], start);
        };
        let bootstrap = PackedNode::udp(Network::<OnionNode>::addr(0), bootstrap_pk);
        let mut pairs = Vec::new();
        for p in 0..self.pairs {
            let (a, b) = (1 + 2 * p, 2 + 2 * p);
            if let (Some(&ia), Some(&ib)) = (identities.get(a), identities.get(b)) {
                pairs.push((ia, ib));
            }
        }
        for i in 1..self.nodes {
            if let Some(node) = net.node_mut(i) {
                node.stack.dht.bootstrap(start, bootstrap);
                if let Some(client) = &mut node.stack.client {
                    client.add_bootstrap_node(bootstrap);
                }
            }
            net.flush(i);
        }
        for &(a, b) in &pairs {
            for (me, friend) in [(a, b), (b, a)] {
                if let Some(client) = net.node_mut(me.index).and_then(|n| n.stack.client.as_mut()) {
                    let _ = client.add_friend(friend.real);
                }
            }
        }
        let mut elapsed = Duration::ZERO;
        while elapsed < self.limit {
            elapsed += Duration::from_secs(1);
            net.run_until(start + elapsed);
            if self.sides_learned(&net, &pairs).len() == 2 * pairs.len() {
                break;
            }
        }
        self.measure(&net, &pairs, start)
    }

    fn sides_learned(&self, net: &Network<OnionNode>, pairs: &[(Side, Side)]) -> Vec<Instant> {
        let mut times = Vec::new();
        for &(a, b) in pairs {
            for (me, friend) in [(a, b), (b, a)] {
                if let Some(t) = net
                    .nodes()
                    .get(me.index)
                    .and_then(|n| n.learned(&friend.real, &friend.dht))
                {
                    times.push(t);
                }
            }
        }
        times
    }

    fn measure(
        &self,
        net: &Network<OnionNode>,
        pairs: &[(Side, Side)],
        start: Instant,
    ) -> FriendFigures {
        let mut secs: Vec<f64> = self
            .sides_learned(net, pairs)
            .iter()
            .map(|t| t.saturating_duration_since(start).as_secs_f64())
            .collect();
        secs.sort_by(f64::total_cmp);
        let mut announced: Vec<f64> = net
            .nodes()
            .iter()
            .filter_map(OnionNode::announced)
            .map(|t| t.saturating_duration_since(start).as_secs_f64())
            .collect();
        announced.sort_by(f64::total_cmp);
        let dht_pk_via = net
            .nodes()
            .iter()
            .filter_map(|n| n.stack.client.as_ref())
            .fold((0, 0), |(o, d), c| {
                (o + c.stats().dht_pk_via_onion, d + c.stats().dht_pk_via_dht)
            });
        let elapsed = net.elapsed().as_secs_f64().max(1.0);
        let stats = net.stats();
        FriendFigures {
            learned: secs.len(),
            sides: 2 * pairs.len(),
            announced_median_secs: announced
                .get(announced.len() / 2)
                .copied()
                .unwrap_or(f64::NAN),
            dht_pk_via,
            median_secs: secs.get(secs.len() / 2).copied().unwrap_or(f64::NAN),
            last_secs: secs.last().copied().unwrap_or(elapsed),
            net: stats,
            per_node_minute: stats.sent as f64 / self.nodes.max(1) as f64 / (elapsed / 60.0),
        }
    }
}
