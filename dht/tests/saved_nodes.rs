//! Saving and loading the DHT's node list (checklist D9): what is saved,
//! that a fresh DHT reaches the network through it, and that loaded nodes
//! are only asked, never trusted.

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide_core::{Decode, Encode, PackedNode, PublicKey};
use toxide_dht::packet::{NODES_REQUEST_SIZE, Packet};
use toxide_dht::state::MAX_SAVED_DHT_NODES;
use toxide_dht::{Config, Dht, DhtState};

/// Public (non-LAN) addresses, so "connected beyond the LAN" can happen.
fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([203, 0, 113, i as u8 + 1], 33445))
}

fn pump(nodes: &mut [Dht], now: &mut Instant, rounds: usize, step: Duration) -> Vec<SocketAddr> {
    common::pump(nodes, now, rounds, step, addr)
}

fn network(now: Instant, n: u8, seed: u8) -> Vec<Dht> {
    let mut nodes: Vec<Dht> = (0..n)
        .map(|i| Dht::new(Config::default(), now, [seed + i; 32]))
        .collect();
    let boot = PackedNode::udp(addr(0), nodes[0].public_key());
    for node in &mut nodes[1..] {
        node.bootstrap(now, boot);
    }
    nodes
}

#[test]
fn saved_nodes_are_the_verified_ones_and_survive_the_file_format() {
    let mut now = Instant::now();
    let mut nodes = network(now, 4, 1);
    pump(&mut nodes, &mut now, 10, Duration::from_secs(1));
    let saved = nodes[3].saved_nodes();
    let mut expected: Vec<PackedNode> = (0..3)
        .map(|i| PackedNode::udp(addr(i), nodes[i].public_key()))
        .collect();
    let mut got = saved.clone();
    expected.sort_by_key(|n| n.addr);
    got.sort_by_key(|n| n.addr);
    assert_eq!(got, expected);
    let bytes = DhtState::new(saved.clone()).unwrap().to_bytes();
    assert_eq!(DhtState::from_bytes(&bytes).unwrap().nodes(), &saved[..]);
}

#[test]
fn a_fresh_dht_reaches_the_network_through_saved_nodes() {
    let mut now = Instant::now();
    let mut nodes = network(now, 4, 10);
    pump(&mut nodes, &mut now, 10, Duration::from_secs(1));
    let file = DhtState::new(nodes[3].saved_nodes()).unwrap().to_bytes();

    // Node 3 restarts: new DHT key, same address, no bootstrap node given.
    let mut restarted = Dht::new(Config::default(), now, [99; 32]);
    let bogus = PackedNode::udp(addr(50), PublicKey::new([7; 32]));
    let mut loaded = DhtState::from_bytes(&file).unwrap().into_nodes();
    loaded.push(bogus);
    restarted.load_nodes(loaded.clone());
    assert!(restarted.close_list().is_empty(), "loading trusts nobody");
    assert_eq!(
        restarted.saved_nodes(),
        loaded,
        "loaded nodes are kept until they are replaced by a connection"
    );
    nodes[3] = restarted;

    let elsewhere = pump(&mut nodes, &mut now, 10, Duration::from_secs(1));
    let new_pk = nodes[3].public_key();
    assert!(nodes[3].is_connected(now));
    for i in 0..3 {
        assert!(nodes[3].close_list().get(&nodes[i].public_key()).is_some());
        assert!(
            nodes[i].close_list().get(&new_pk).is_some(),
            "node {i} lacks the restarted node"
        );
    }
    // The silent loaded node was asked, but only until we were connected,
    // never stored, and is no longer saved.
    let asked = elsewhere.iter().filter(|&&a| a == bogus.addr).count();
    assert!((1..=3).contains(&asked), "asked {asked} times");
    assert!(nodes[3].close_list().get(&bogus.public_key).is_none());
    assert!(!nodes[3].saved_nodes().contains(&bogus));
    let later = pump(&mut nodes, &mut now, 10, Duration::from_secs(1));
    assert!(!later.contains(&bogus.addr));
}

#[test]
fn a_loaded_node_with_a_wrong_key_never_enters_a_list() {
    let mut now = Instant::now();
    let mut nodes = network(now, 2, 20);
    pump(&mut nodes, &mut now, 5, Duration::from_secs(1));
    // A "saved" entry naming node 0's address with someone else's key:
    // node 0 cannot open the request, so it never answers.
    let mut fresh = Dht::new(Config::default(), now, [98; 32]);
    let forged = PackedNode::udp(addr(0), PublicKey::new([5; 32]));
    fresh.load_nodes([forged]);
    nodes.push(fresh);
    let _ = pump(&mut nodes, &mut now, 5, Duration::from_secs(1));
    assert!(nodes[2].close_list().is_empty());
    assert!(!nodes[2].is_connected(now));
    assert!(nodes[0].stats().dropped_undecryptable >= 1);
}

#[test]
fn loaded_nodes_are_asked_eight_a_tick_in_turns() {
    let mut now = Instant::now();
    let mut dht = Dht::new(Config::default(), now, [30; 32]);
    let own = PackedNode::udp(addr(0), dht.public_key());
    let loaded: Vec<PackedNode> = (1..=20)
        .map(|i| PackedNode::udp(addr(i), PublicKey::new([i as u8; 32])))
        .chain([own])
        .collect();
    dht.load_nodes(loaded.clone());
    let mut asked = Vec::new();
    for tick in 0..5 {
        dht.handle_timeout(now);
        let round: Vec<SocketAddr> = std::iter::from_fn(|| dht.poll_transmit())
            .map(|t| {
                let Ok(Packet::NodesRequest(_)) = Packet::decode(&t.payload) else {
                    panic!("not a nodes request");
                };
                assert_eq!(t.payload.len(), NODES_REQUEST_SIZE);
                t.destination
            })
            .collect();
        assert_eq!(round.len(), 8, "tick {tick}");
        asked.extend(round);
        now += Duration::from_secs(1);
    }
    // Our own key is dropped on load; the other 20 are asked in order,
    // wrapping around.
    let expected: Vec<SocketAddr> = (0..40).map(|k| addr(k % 20 + 1)).collect();
    assert_eq!(asked, expected);
    assert!(!dht.saved_nodes().contains(&own));
}

#[test]
fn at_most_max_saved_nodes_are_loaded() {
    let now = Instant::now();
    let mut dht = Dht::new(Config::default(), now, [40; 32]);
    let many = (0..MAX_SAVED_DHT_NODES + 10).map(|i| {
        PackedNode::udp(
            SocketAddr::from(([198, 51, (i / 250) as u8, (i % 250) as u8 + 1], 1)),
            PublicKey::new([(i % 256) as u8; 32]),
        )
    });
    dht.load_nodes(many);
    let saved = dht.saved_nodes();
    assert!(saved.len() <= MAX_SAVED_DHT_NODES);
    assert!(DhtState::new(saved).is_ok(), "always fits the file format");
}
