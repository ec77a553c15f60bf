//! The onion client against one in-memory onion server that plays every
//! role (a tiny network's paths repeat nodes, as c-toxcore's do): a
//! client announces, is stored, and replayed or forged responses are
//! dropped and counted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide::stack::Stack;
use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey};
use toxide_dht::{Config, Dht};
use toxide_onion::announce::CloseNodes;
use toxide_onion::{ClientConfig, OnionClient, OnionServer, ServerConfig};

struct NoNodes;

impl CloseNodes for NoNodes {
    fn close_nodes(&self, _: Instant, _: &PublicKey, _: bool) -> Vec<PackedNode> {
        Vec::new()
    }
}

const SERVER: &str = "127.0.0.1:40000";
const CLIENT: &str = "127.0.0.1:40001";

struct World {
    now: Instant,
    server: OnionServer,
    server_node: PackedNode,
    client: Stack,
    /// Every datagram that reached the client.
    to_client: Vec<Vec<u8>>,
}

impl World {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(77);
        let now = Instant::now();
        let server_keys = KeyPair::generate(&mut rng);
        let server_node = PackedNode::udp(SERVER.parse().unwrap(), server_keys.public);
        let server = OnionServer::new(ServerConfig { rate_limit: None }, server_keys, now, [1; 32]);
        let dht_keys = KeyPair::generate(&mut rng);
        let real = KeyPair::generate(&mut rng);
        let dht = Dht::with_keys(Config::default(), now, [2; 32], dht_keys.clone());
        let mut client = OnionClient::new(
            ClientConfig { no_replay_base: 0 },
            real,
            NoSpam::random(&mut rng),
            dht_keys,
            now,
            [3; 32],
        );
        client.add_bootstrap_node(server_node);
        Self {
            now,
            server,
            server_node,
            client: Stack::new(dht, None, Some(client), None),
            to_client: Vec::new(),
        }
    }

    /// Moves datagrams until none is left (the server talks to itself
    /// along the path; DHT traffic to it is dropped). Bounded.
    fn settle(&mut self) {
        let server: SocketAddr = SERVER.parse().unwrap();
        let client: SocketAddr = CLIENT.parse().unwrap();
        let mut queue: Vec<(SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
        for _ in 0..10_000 {
            while let Some(t) = self.client.poll_transmit(self.now) {
                queue.push((client, t.destination, t.payload));
            }
            while let Some(t) = self.server.poll_transmit() {
                queue.push((server, t.destination, t.payload));
            }
            let Some((from, to, bytes)) = queue.pop() else {
                return;
            };
            if to == client {
                self.to_client.push(bytes.clone());
                self.client.handle_datagram(self.now, from, &bytes);
            } else if to == server && bytes.first().is_some_and(|b| *b >= 0x80) {
                self.server
                    .handle_datagram(self.now, from, &bytes, &NoNodes);
            }
        }
        panic!("datagrams kept coming");
    }

    fn tick(&mut self, secs: u64) {
        for _ in 0..secs {
            self.now += Duration::from_secs(1);
            self.client.handle_timeout(self.now);
            self.settle();
        }
    }

    fn client(&self) -> &OnionClient {
        self.client.client.as_ref().unwrap()
    }
}

#[test]
fn a_client_gets_announced_and_replays_are_dropped() {
    let mut world = World::new();
    world.tick(12);
    let stats = world.client().stats().clone();
    assert!(stats.announce_responses >= 2, "{stats:?}");
    assert!(
        world
            .server
            .is_announced(world.now, &world.client().public_key())
    );
    assert!(world.client().announced_on(world.now) >= 1);
    assert_eq!(world.server_node.public_key, world.server.public_key());

    // Every response the client accepted, delivered again: each sendback
    // was single-use, so all are dropped as unsolicited.
    let seen = world.to_client.clone();
    let before = world.client().stats().clone();
    let from: SocketAddr = SERVER.parse().unwrap();
    for bytes in &seen {
        world.client.handle_datagram(world.now, from, bytes);
    }
    let after = world.client().stats().clone();
    assert_eq!(after.announce_responses, before.announce_responses);
    assert_eq!(
        after.dropped_unsolicited - before.dropped_unsolicited,
        seen.iter().filter(|b| b[0] == 0x84).count() as u64
    );

    // A forged response (a flipped ciphertext byte under a fresh
    // sendback) is dropped too: it is not a pending request's.
    let mut forged = seen.iter().find(|b| b[0] == 0x84).unwrap().clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    world.client.handle_datagram(world.now, from, &forged);
    assert_eq!(
        world.client().stats().announce_responses,
        before.announce_responses
    );
}

#[test]
fn a_client_without_any_node_stays_quiet_and_unannounced() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let now = Instant::now();
    let dht_keys = KeyPair::generate(&mut rng);
    let dht = Dht::with_keys(Config::default(), now, [2; 32], dht_keys.clone());
    let client = OnionClient::new(
        ClientConfig { no_replay_base: 0 },
        KeyPair::generate(&mut rng),
        NoSpam::random(&mut rng),
        dht_keys,
        now,
        [3; 32],
    );
    let mut stack = Stack::new(dht, None, Some(client), None);
    for s in 1..30 {
        stack.handle_timeout(now + Duration::from_secs(s));
        assert!(stack.poll_transmit(now).is_none());
    }
    assert!(!stack.client.as_ref().unwrap().is_connected());
}
