//! The DHT state machine against itself, on a hand-driven in-memory
//! network: what enters the lists, what is answered, what is dropped.

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{Encode, KeyPair, Nonce, PackedNode, SharedKey};
use toxide_dht::packet::{DhtRequest, DhtRequestPayload, PingResponse, PingResponsePayload};
use toxide_dht::{Config, Dht, Event, RateLimit};

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i as u8 + 1], 33445))
}

fn pump(nodes: &mut [Dht], now: &mut Instant, rounds: usize, step: Duration) -> Vec<SocketAddr> {
    common::pump(nodes, now, rounds, step, addr)
}

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

#[test]
fn bootstrapped_nodes_know_each_other() {
    let mut now = Instant::now();
    let mut nodes: Vec<Dht> = (0..3)
        .map(|i| Dht::new(Config::default(), now, seed(i)))
        .collect();
    let boot = PackedNode::udp(addr(0), nodes[0].public_key());
    nodes[1].bootstrap(now, boot);
    nodes[2].bootstrap(now, boot);
    pump(&mut nodes, &mut now, 10, Duration::from_secs(1));
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                let pk = nodes[j].public_key();
                assert!(
                    nodes[i].close_list().get(&pk).is_some(),
                    "node {i} lacks node {j}"
                );
            }
        }
        assert!(nodes[i].is_connected(now));
        assert_eq!(nodes[i].stats().dropped_unsolicited, 0);
    }
}

#[test]
fn search_reports_the_target_once_it_answers() {
    let mut now = Instant::now();
    let mut nodes: Vec<Dht> = (0..4)
        .map(|i| Dht::new(Config::default(), now, seed(10 + i)))
        .collect();
    let boot = PackedNode::udp(addr(0), nodes[0].public_key());
    for node in &mut nodes[1..] {
        node.bootstrap(now, boot);
    }
    let target = nodes[3].public_key();
    nodes[1].search(target);
    pump(&mut nodes, &mut now, 15, Duration::from_secs(1));
    assert_eq!(nodes[1].found_addr(now, &target), Some(addr(3)));
    let found: Vec<_> = std::iter::from_fn(|| nodes[1].poll_event())
        .filter(|e| matches!(e, Event::Found { .. }))
        .collect();
    assert_eq!(
        found,
        vec![Event::Found {
            public_key: target,
            addr: addr(3)
        }]
    );
}

#[test]
fn forged_responses_are_dropped_and_counted() {
    let now = Instant::now();
    let mut dht = Dht::new(Config::default(), now, seed(20));
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let stranger = KeyPair::generate(&mut rng);
    let shared = SharedKey::new(&dht.public_key(), &stranger.secret).unwrap();
    let forged = PingResponse::new(
        &shared,
        stranger.public,
        Nonce::random(&mut rng),
        &PingResponsePayload { ping_id: 42 },
    );
    dht.handle_datagram(now, addr(9), &forged.to_bytes());
    assert_eq!(dht.stats().dropped_unsolicited, 1);
    assert!(dht.close_list().is_empty());

    dht.handle_datagram(now, addr(9), &[0x01, 1, 2, 3]);
    assert_eq!(dht.stats().dropped_malformed, 1);
}

#[test]
fn requests_beyond_the_budget_are_dropped() {
    let mut now = Instant::now();
    let config = Config {
        rate_limit: Some(RateLimit {
            per_second: 1.0,
            burst: 2.0,
            max_hosts: 16,
            new_keys_per_second: 100.0,
        }),
        ..Config::default()
    };
    let mut nodes = vec![
        Dht::new(config, now, seed(30)),
        Dht::new(Config::default(), now, seed(31)),
    ];
    let boot = PackedNode::udp(addr(0), nodes[0].public_key());
    for _ in 0..5 {
        nodes[1].bootstrap(now, boot);
    }
    pump(&mut nodes, &mut now, 1, Duration::from_millis(1));
    assert!(nodes[0].stats().dropped_rate_limited >= 3);
}

#[test]
fn nat_pings_from_strangers_are_ignored() {
    let now = Instant::now();
    let mut dht = Dht::new(
        Config {
            hole_punching: true,
            ..Config::default()
        },
        now,
        seed(40),
    );
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let stranger = KeyPair::generate(&mut rng);
    let shared = SharedKey::new(&dht.public_key(), &stranger.secret).unwrap();
    let ping = DhtRequest::new(
        &shared,
        dht.public_key(),
        stranger.public,
        Nonce::random(&mut rng),
        &DhtRequestPayload::NatPingRequest { id: 7 },
    )
    .unwrap();
    dht.handle_datagram(now, addr(5), &ping.to_bytes());
    assert_eq!(dht.stats().dropped_nat_ping_stranger, 1);
    assert!(
        dht.poll_transmit().is_none(),
        "no answer reveals we are online"
    );
}

#[test]
fn dht_requests_are_routed_only_to_close_nodes() {
    let mut now = Instant::now();
    let mut nodes: Vec<Dht> = (0..2)
        .map(|i| Dht::new(Config::default(), now, seed(50 + i)))
        .collect();
    let boot = PackedNode::udp(addr(0), nodes[0].public_key());
    nodes[1].bootstrap(now, boot);
    pump(&mut nodes, &mut now, 5, Duration::from_secs(1));
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let sender = KeyPair::generate(&mut rng);
    let make = |receiver| {
        let shared = SharedKey::new(&receiver, &sender.secret).unwrap();
        DhtRequest::new(
            &shared,
            receiver,
            sender.public,
            Nonce::random(&mut ChaCha20Rng::seed_from_u64(1)),
            &DhtRequestPayload::DhtPk(vec![1; 100]),
        )
        .unwrap()
        .to_bytes()
    };
    // For node 1, which node 0 knows: forwarded unchanged.
    let known = make(nodes[1].public_key());
    nodes[0].handle_datagram(now, addr(7), &known);
    let t = nodes[0].poll_transmit().expect("forwarded");
    assert_eq!((t.destination, t.payload), (addr(1), known));
    // For a stranger: dropped.
    nodes[0].handle_datagram(now, addr(7), &make(KeyPair::generate(&mut rng).public));
    assert!(nodes[0].poll_transmit().is_none());
    assert_eq!(nodes[0].stats().dropped_unroutable, 1);
    // Addressed to node 1 itself: handed up as a DHT-PK event.
    let to_node1 = make(nodes[1].public_key());
    nodes[1].handle_datagram(now, addr(0), &to_node1);
    let event = std::iter::from_fn(|| nodes[1].poll_event())
        .find(|e| matches!(e, Event::DhtPkRequest { .. }));
    assert_eq!(
        event,
        Some(Event::DhtPkRequest {
            sender: sender.public,
            source: addr(0),
            data: vec![1; 100]
        })
    );
}

#[test]
fn bootstrap_info_only_when_configured() {
    let now = Instant::now();
    let mut request = vec![0xf0];
    request.resize(78, 0);
    let mut client = Dht::new(Config::default(), now, seed(60));
    client.handle_datagram(now, addr(1), &request);
    assert!(client.poll_transmit().is_none());
    assert_eq!(client.stats().dropped_unserved, 1);

    let config = Config {
        bootstrap_info: Some((1_000_001, b"hello".to_vec())),
        ..Config::default()
    };
    let mut node = Dht::new(config, now, seed(61));
    node.handle_datagram(now, addr(1), &request);
    let reply = node.poll_transmit().unwrap();
    assert_eq!(reply.payload[0], 0xf0);
    assert_eq!(&reply.payload[1..5], &1_000_001u32.to_be_bytes());
    assert!(reply.payload[5..].starts_with(b"hello"));
}

#[test]
fn empty_nodes_responses_are_counted_apart_from_junk() {
    // c-toxcore answers with no node while its lists are empty: 82 bytes.
    let now = Instant::now();
    let mut dht = Dht::new(Config::default(), now, seed(40));
    let mut empty = vec![0x04];
    empty.resize(toxide_dht::packet::EMPTY_NODES_RESPONSE_SIZE, 0);
    dht.handle_datagram(now, addr(1), &empty);
    dht.handle_datagram(now, addr(1), &[0x04; 83]);
    assert_eq!(dht.stats().dropped_empty_nodes_response, 1);
    assert_eq!(dht.stats().dropped_malformed, 1);
}
