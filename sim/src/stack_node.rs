//! Whole clients on the simulator: the same [`Stack`] the tokio driver
//! runs (DHT, onion server and client, net_crypto, messenger), with a
//! record of what each sent and when it woke, so tests and examples can
//! ask what a client costs and when its friends came and went.

use std::net::SocketAddr;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide::messenger::messenger::Event as MessengerEvent;
use toxide::stack::{Stack, StackEvent};
use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey};
use toxide_dht::{Config, Dht};
use toxide_net_crypto::NetCrypto;
use toxide_onion::{ClientConfig, ClientEvent, OnionClient, OnionServer, ServerConfig};

use crate::{LinkConfig, Network, Node};

/// One datagram a node sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// When.
    pub at: Instant,
    /// To whom.
    pub to: SocketAddr,
    /// Its first byte (the packet id).
    pub id: u8,
    /// Its length.
    pub len: usize,
}

/// A full client (or, without onion client and net_crypto, a bootstrap
/// node) and what it did.
#[derive(Debug)]
pub struct StackNode {
    /// The layers.
    pub stack: Stack,
    /// Long-term key (the DHT key on a bootstrap node).
    pub real: PublicKey,
    /// DHT key.
    pub dht: PublicKey,
    /// Every datagram sent.
    pub sent: Vec<Sent>,
    /// Times the node was woken by its timer.
    pub wakeups: Vec<Instant>,
    /// (time, online) for each friend connection status change.
    pub status: Vec<(Instant, bool)>,
    /// When the onion brought news of a friend's DHT key.
    pub news: Vec<Instant>,
}

impl StackNode {
    /// A node for a built stack, with nothing recorded yet.
    pub fn new(built: BuiltStack) -> Self {
        Self {
            stack: built.stack,
            real: built.real,
            dht: built.dht,
            sent: Vec::new(),
            wakeups: Vec::new(),
            status: Vec::new(),
            news: Vec::new(),
        }
    }

    /// Since when the friend has been online, if it is now.
    pub fn online_since(&self) -> Option<Instant> {
        match self.status.last() {
            Some(&(at, true)) => Some(at),
            _ => None,
        }
    }

    fn drain(&mut self, now: Instant) {
        while let Some(event) = self.stack.poll_event() {
            match event {
                StackEvent::Messenger(MessengerEvent::ConnectionStatus { online, .. }) => {
                    self.status.push((now, online));
                }
                StackEvent::Onion(ClientEvent::FriendDhtPk { .. }) => self.news.push(now),
                _ => {}
            }
        }
    }

    /// Datagrams and bytes sent in `[from, to)`.
    pub fn sent_between(&self, from: Instant, to: Instant) -> (usize, usize) {
        self.sent
            .iter()
            .filter(|s| s.at >= from && s.at < to)
            .fold((0, 0), |(n, b), s| (n + 1, b + s.len))
    }

    /// Timer wake-ups in `[from, to)`.
    pub fn wakeups_between(&self, from: Instant, to: Instant) -> usize {
        self.wakeups
            .iter()
            .filter(|&&t| t >= from && t < to)
            .count()
    }
}

impl Node for StackNode {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stack.handle_datagram(now, from, bytes);
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.wakeups.push(now);
        self.stack.handle_timeout(now);
        self.drain(now);
    }

    fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.stack.poll_timeout(now)
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        let transmit = self.stack.poll_transmit(now)?;
        self.sent.push(Sent {
            at: now,
            to: transmit.destination,
            id: transmit.payload.first().copied().unwrap_or(0),
            len: transmit.payload.len(),
        });
        Some((transmit.destination, transmit.payload))
    }
}

/// A stack and its keys, drawn from one node seed.
#[derive(Debug)]
pub struct BuiltStack {
    /// The layers.
    pub stack: Stack,
    /// Long-term key.
    pub real: PublicKey,
    /// DHT key.
    pub dht: PublicKey,
}

/// Builds a node's stack from its seed: keys first, then each layer's
/// seed, always in the same order (so the same seed gives the same node
/// whatever layers it gets). Every node serves the DHT and the onion;
/// `client` adds the onion client, `sessions` net_crypto and with it the
/// messenger.
pub fn build_stack(seed: [u8; 32], start: Instant, client: bool, sessions: bool) -> BuiltStack {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let dht_keys = KeyPair::generate(&mut rng);
    let real = KeyPair::generate(&mut rng);
    let nospam = NoSpam::random(&mut rng);
    let layers = Layers {
        client: client.then_some(0),
        sessions,
    };
    assemble(&mut rng, start, dht_keys, real, nospam, layers)
}

/// A full client (onion client, sessions, messenger) for a long-term
/// identity kept across restarts, as a save file keeps it: each start
/// draws a fresh DHT key and layer seeds from `seed`. `no_replay_base` is
/// what the driver passes as UNIX seconds (a restart must pass more than
/// the last run did).
pub fn build_client(
    seed: [u8; 32],
    start: Instant,
    real: KeyPair,
    nospam: NoSpam,
    no_replay_base: u64,
) -> BuiltStack {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let dht_keys = KeyPair::generate(&mut rng);
    let layers = Layers {
        client: Some(no_replay_base),
        sessions: true,
    };
    assemble(&mut rng, start, dht_keys, real, nospam, layers)
}

/// Which layers a stack gets besides the DHT and the onion server.
struct Layers {
    /// The onion client, with its no-replay base.
    client: Option<u64>,
    /// net_crypto and the messenger.
    sessions: bool,
}

/// The layers, each seeded from `rng` in a fixed order.
fn assemble(
    rng: &mut ChaCha20Rng,
    start: Instant,
    dht_keys: KeyPair,
    real: KeyPair,
    nospam: NoSpam,
    layers: Layers,
) -> BuiltStack {
    let [dht_seed, server_seed, client_seed, crypto_seed] = [(); 4].map(|()| {
        let mut s = [0u8; 32];
        rand::Rng::fill_bytes(rng, &mut s);
        s
    });
    let dht = Dht::with_keys(Config::default(), start, dht_seed, dht_keys.clone());
    let server = OnionServer::new(
        ServerConfig::default(),
        dht_keys.clone(),
        start,
        server_seed,
    );
    let client = layers.client.map(|no_replay_base| {
        OnionClient::new(
            ClientConfig { no_replay_base },
            real.clone(),
            nospam,
            dht_keys.clone(),
            start,
            client_seed,
        )
    });
    let net_crypto = layers
        .sessions
        .then(|| NetCrypto::new(real.clone(), dht_keys.clone(), None, start, crypto_seed));
    BuiltStack {
        stack: Stack::new(dht, Some(server), client, net_crypto),
        real: real.public,
        dht: dht_keys.public,
    }
}

/// `nodes` nodes of which the first `bootstraps` serve the DHT and the
/// onion only and the rest are full clients, each client bootstrapped
/// from every bootstrap node. Keys and layer seeds come from the
/// network's seed.
pub fn stack_network(
    nodes: usize,
    bootstraps: usize,
    link: LinkConfig,
    start: Instant,
    seed: u64,
) -> Network<StackNode> {
    let mut net: Network<StackNode> = Network::new(link, start, seed);
    for i in 0..nodes {
        let client = i >= bootstraps;
        let built = build_stack(net.node_seed(), start, client, client);
        net.add(StackNode::new(built));
    }
    let boot: Vec<PackedNode> = net
        .nodes()
        .iter()
        .take(bootstraps)
        .enumerate()
        .map(|(b, node)| PackedNode::udp(Network::<StackNode>::addr(b), node.dht))
        .collect();
    for i in 0..nodes {
        let Some(node) = net.node_mut(i) else {
            continue;
        };
        for &b in &boot {
            if b.public_key == node.dht {
                continue;
            }
            node.stack.dht.bootstrap(start, b);
            if let Some(client) = node.stack.client.as_mut() {
                client.add_bootstrap_node(b);
            }
        }
        net.flush(i);
    }
    net
}
