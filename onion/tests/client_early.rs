//! The onion client's early schedule on an in-memory onion network: eight
//! onion servers (relays and announce nodes) and clients whose datagrams
//! take 1 ms a hop, on a virtual clock that jumps to the next delivery or
//! wake-up. Time reaches the clients only through `now` arguments.
//!
//! Two friends must learn each other's DHT keys through the onion within
//! half a second of starting (c-toxcore's schedule takes ~8 s), also when
//! both restart and the announce nodes still hold their old
//! announcements; a client whose friend never appears must fall back to
//! c-toxcore's once-a-second schedule after a bounded burst.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey};
use toxide_dht::{Config, Dht};
use toxide_onion::announce::CloseNodes;
use toxide_onion::{ClientConfig, ClientEvent, OnionClient, OnionServer, ServerConfig};

const HOP: Duration = Duration::from_millis(1);
const SERVERS: u16 = 8;

/// Every server knows every other one.
struct Nodes(Vec<PackedNode>);

impl CloseNodes for Nodes {
    fn close_nodes(&self, _: Instant, _: &PublicKey, _: bool) -> Vec<PackedNode> {
        self.0.iter().take(4).copied().collect()
    }
}

/// A client and what it did.
struct Peer {
    addr: SocketAddr,
    real: PublicKey,
    dht_pk: PublicKey,
    client: OnionClient,
    dht: Dht,
    online: bool,
    /// Events with their times.
    events: Vec<(Instant, ClientEvent)>,
    /// Onion packets it sent (0x80), with their times.
    sent: Vec<Instant>,
    /// Its wake-ups.
    wakeups: Vec<Instant>,
}

/// A datagram in flight: when it arrives, a tie-breaking sequence
/// number, from, to, the bytes.
type Flight = (Instant, u64, SocketAddr, SocketAddr, Vec<u8>);

struct Net {
    now: Instant,
    start: Instant,
    servers: HashMap<SocketAddr, OnionServer>,
    nodes: Nodes,
    peers: Vec<Peer>,
    queue: BinaryHeap<Reverse<Flight>>,
    seq: u64,
    rng: ChaCha20Rng,
}

impl Net {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let now = Instant::now();
        let mut servers = HashMap::new();
        let mut nodes = Vec::new();
        for i in 0..SERVERS {
            let keys = KeyPair::generate(&mut rng);
            let addr: SocketAddr = format!("127.0.0.1:{}", 40_000 + i).parse().unwrap();
            nodes.push(PackedNode::udp(addr, keys.public));
            let mut seed = [0u8; 32];
            rand::Rng::fill_bytes(&mut rng, &mut seed);
            let config = ServerConfig { rate_limit: None };
            servers.insert(addr, OnionServer::new(config, keys, now, seed));
        }
        Self {
            now,
            start: now,
            servers,
            nodes: Nodes(nodes),
            peers: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            rng,
        }
    }

    /// Starts a client for `real` searching `friends`; its index.
    fn start(&mut self, real: &KeyPair, friends: &[PublicKey]) -> usize {
        let dht_keys = KeyPair::generate(&mut self.rng);
        let mut seeds = [[0u8; 32]; 2];
        for seed in &mut seeds {
            rand::Rng::fill_bytes(&mut self.rng, seed);
        }
        let dht = Dht::with_keys(Config::default(), self.now, seeds[0], dht_keys.clone());
        let config = ClientConfig {
            // UNIX-like seconds: a restart's announcements look newer.
            no_replay_base: 1_000_000 + (self.now - self.start).as_secs(),
        };
        let mut client = OnionClient::new(
            config,
            real.clone(),
            NoSpam([1, 2, 3, 4]),
            dht_keys.clone(),
            self.now,
            seeds[1],
        );
        for node in &self.nodes.0 {
            client.add_bootstrap_node(*node);
        }
        for friend in friends {
            client.add_friend(*friend).unwrap();
        }
        let index = self.peers.len();
        let addr: SocketAddr = format!("127.0.0.1:{}", 50_000 + index).parse().unwrap();
        self.peers.push(Peer {
            addr,
            real: real.public,
            dht_pk: dht_keys.public,
            client,
            dht,
            online: true,
            events: Vec::new(),
            sent: Vec::new(),
            wakeups: Vec::new(),
        });
        index
    }

    fn push(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        self.seq += 1;
        self.queue
            .push(Reverse((self.now + HOP, self.seq, from, to, bytes)));
    }

    /// Collects what peer `i` wants sent (its DHT's datagrams go nowhere:
    /// there is no DHT here).
    fn flush_peer(&mut self, i: usize) {
        let now = self.now;
        let peer = &mut self.peers[i];
        let from = peer.addr;
        let mut out = Vec::new();
        while let Some(t) = peer.client.poll_transmit() {
            peer.sent.push(now);
            out.push((t.destination, t.payload));
        }
        while peer.dht.poll_transmit().is_some() {}
        while let Some(event) = peer.client.poll_event() {
            peer.events.push((now, event));
        }
        for (to, bytes) in out {
            self.push(from, to, bytes);
        }
    }

    fn run_until(&mut self, until: Instant) {
        for _ in 0..10_000_000 {
            let delivery = self.queue.peek().map(|Reverse(d)| d.0);
            let timer = self
                .peers
                .iter()
                .enumerate()
                .filter(|(_, p)| p.online)
                .filter_map(|(i, p)| p.client.poll_timeout().map(|t| (t.max(self.now), i)))
                .min();
            let next = match (delivery, timer) {
                (Some(d), Some((t, _))) => d.min(t),
                (Some(d), None) => d,
                (None, Some((t, _))) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = next;
            if delivery == Some(next) {
                let Reverse((_, _, from, to, bytes)) = self.queue.pop().unwrap();
                self.deliver(from, to, &bytes);
            } else if let Some((_, i)) = timer {
                let now = self.now;
                let peer = &mut self.peers[i];
                peer.wakeups.push(now);
                peer.client.handle_timeout(now, &mut peer.dht);
                self.flush_peer(i);
            }
        }
        self.now = self.now.max(until);
    }

    fn deliver(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let now = self.now;
        if let Some(server) = self.servers.get_mut(&to) {
            server.handle_datagram(now, from, bytes, &self.nodes);
            let mut out = Vec::new();
            while let Some(t) = server.poll_transmit() {
                out.push((t.destination, t.payload));
            }
            for (dest, payload) in out {
                self.push(to, dest, payload);
            }
            return;
        }
        if let Some(i) = self.peers.iter().position(|p| p.addr == to && p.online) {
            let peer = &mut self.peers[i];
            peer.client.handle_datagram(now, from, bytes, &mut peer.dht);
            self.flush_peer(i);
        }
    }

    /// When peer `i` learned `friend`'s DHT key `dht_pk`, as time since
    /// `since`.
    fn learned(&self, i: usize, friend: usize, since: Instant) -> Option<Duration> {
        let (real, dht_pk) = (self.peers[friend].real, self.peers[friend].dht_pk);
        self.peers[i].events.iter().find_map(|(t, e)| match e {
            ClientEvent::FriendDhtPk {
                friend, dht_pk: k, ..
            } if *friend == real && *k == dht_pk => Some(*t - since),
            _ => None,
        })
    }

    /// Onion packets peer `i` sent in `[from, to)` after the start.
    fn sent(&self, i: usize, from: Duration, to: Duration) -> usize {
        let (a, b) = (self.start + from, self.start + to);
        self.peers[i]
            .sent
            .iter()
            .filter(|t| **t >= a && **t < b)
            .count()
    }
}

#[test]
fn friends_learn_each_others_dht_keys_within_half_a_second() {
    for seed in 0..8 {
        let mut net = Net::new(seed);
        let mut rng = ChaCha20Rng::seed_from_u64(100 + seed);
        let (alice, bob) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
        let a = net.start(&alice, &[bob.public]);
        let b = net.start(&bob, &[alice.public]);
        let start = net.now;
        net.run_until(start + Duration::from_secs(5));
        let (ab, ba) = (net.learned(a, b, start), net.learned(b, a, start));
        eprintln!("seed {seed}: Alice learned Bob's key after {ab:?}, Bob Alice's after {ba:?}");
        for learned in [ab, ba] {
            assert!(
                learned.is_some_and(|t| t < Duration::from_millis(500)),
                "seed {seed}: {learned:?}"
            );
        }
        // Being announced is still c-toxcore's three runs.
        let connected = net.peers[a]
            .events
            .iter()
            .find_map(|(t, e)| (*e == ClientEvent::Connected(true)).then_some(*t - start));
        assert!(
            connected.is_some_and(|t| t <= Duration::from_secs(3)),
            "{connected:?}"
        );
    }
}

#[test]
fn both_restarted_with_their_old_announcements_still_stored() {
    for seed in 0..8 {
        let mut net = Net::new(seed);
        let mut rng = ChaCha20Rng::seed_from_u64(200 + seed);
        let (alice, bob) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
        let a = net.start(&alice, &[bob.public]);
        let b = net.start(&bob, &[alice.public]);
        net.run_until(net.start + Duration::from_secs(20));
        assert!(net.learned(a, b, net.start).is_some());
        net.peers[a].online = false;
        net.peers[b].online = false;
        // Their announcements stay stored for minutes; the new instances
        // have new data keys, DHT keys and addresses.
        let restart = net.now;
        let a2 = net.start(&alice, &[bob.public]);
        let b2 = net.start(&bob, &[alice.public]);
        net.run_until(restart + Duration::from_secs(5));
        let (ab, ba) = (net.learned(a2, b2, restart), net.learned(b2, a2, restart));
        eprintln!(
            "seed {seed}: after the restart, Alice learned Bob's key after {ab:?}, Bob Alice's after {ba:?}"
        );
        for learned in [ab, ba] {
            assert!(
                learned.is_some_and(|t| t < Duration::from_millis(600)),
                "seed {seed}: {learned:?}"
            );
        }
    }
}

#[test]
fn a_friend_who_never_comes_costs_a_bounded_burst_then_ctoxcores_schedule() {
    let mut net = Net::new(7);
    let mut rng = ChaCha20Rng::seed_from_u64(300);
    let (alice, bob) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
    let a = net.start(&alice, &[bob.public]);
    net.run_until(net.start + Duration::from_secs(130));
    let secs = Duration::from_secs;
    let early = net.sent(a, secs(0), secs(5));
    let settled = net.sent(a, secs(70), secs(130));
    let wakeups_early = net.peers[a]
        .wakeups
        .iter()
        .filter(|t| **t < net.start + secs(5))
        .count();
    let wakeups_settled = net.peers[a]
        .wakeups
        .iter()
        .filter(|t| **t >= net.start + secs(70))
        .count();
    eprintln!(
        "first 5 s: {early} onion packets, {wakeups_early} wake-ups; one settled minute: \
         {settled} onion packets, {wakeups_settled} wake-ups"
    );
    // Early: announce bursts and follow-ups to 8 nodes, 4 search rounds
    // of at most 8 nodes, each answer's closer nodes asked once.
    assert!(early <= 120, "{early}");
    // Settled: the once-a-second run, nothing more.
    assert!(wakeups_settled <= 61, "{wakeups_settled}");
    // c-toxcore's schedule for this: announcing to 8 stored nodes every
    // 15 s (then 120 s) and searching a missing friend's 8 nodes every
    // 3 s, then less often.
    assert!(settled <= 8 * 4 + 8 * 20, "{settled}");
}

#[test]
fn a_friend_named_by_a_node_is_asked_at_once_and_once() {
    let mut net = Net::new(11);
    let mut rng = ChaCha20Rng::seed_from_u64(400);
    let (alice, bob) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
    let a = net.start(&alice, &[bob.public]);
    let b = net.start(&bob, &[alice.public]);
    net.run_until(net.start + Duration::from_secs(1));
    assert!(net.learned(a, b, net.start).is_some());
    let now = net.now;
    let bob_dht = net.peers[b].dht_pk;
    let somewhere: SocketAddr = "127.0.0.1:51000".parse().unwrap();
    let peer = &mut net.peers[a];
    while peer.dht.poll_transmit().is_some() {}
    let asked = |node: PackedNode, peer: &mut Peer| {
        peer.client.handle_node_learned(now, node, &mut peer.dht);
        let mut to = Vec::new();
        while let Some(t) = peer.dht.poll_transmit() {
            to.push((t.destination, t.payload[0]));
        }
        to
    };
    // A node names Bob's DHT key: Alice's DHT asks it (a nodes request).
    let bob_node = PackedNode::udp(somewhere, bob_dht);
    assert_eq!(asked(bob_node, peer), [(somewhere, 0x02)]);
    // Named again within the second: nothing more.
    assert!(asked(bob_node, peer).is_empty());
    // Anyone else is the DHT's business.
    let stranger = PackedNode::udp(somewhere, KeyPair::generate(&mut rng).public);
    assert!(asked(stranger, peer).is_empty());
}
