//! toxide-node's DHT against real c-toxcore 0.2.18 on 127.0.0.1.
//!
//! The node runs in-process (the same composition the binary runs, built
//! by `toxide_node::driver_config`) so the test can read its close list.
//! c-toxcore peers whose only bootstrap node is toxide-node must get into
//! its close list and, through it, find each other; toxide-node must join
//! a network through Debian's tox-bootstrapd and through a plain c-toxcore
//! client; and a node restarted with a new key on its old port must be
//! served again by c-toxcore peers that knew the old key there. The tests
//! need the `tox_peer` helper (built by toxide-interop) and
//! /usr/bin/tox-bootstrapd.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::RawClient;
use common::inprocess::{loopback, runtime, start_node, start_node_at};
use tokio::runtime::Runtime;
use toxide::driver::{Driver, DriverConfig, DriverHandle};
use toxide_core::{KeyPair, PackedNode, PublicKey};
use toxide_interop::{Bootstrapd, CPeer, PeerOptions, fresh_udp_port};

/// c-toxcore's DHT needs a few seconds on loopback; the brief allows ~20 s.
const JOIN_TIMEOUT: Duration = Duration::from_secs(25);

fn peer(label: &str) -> CPeer {
    CPeer::spawn(PeerOptions {
        label: Some(label.to_owned()),
        ..PeerOptions::default()
    })
    .unwrap()
}

/// Waits (bounded) until `handle`'s close list holds every `(key, addr)`.
fn wait_close_list(
    rt: &Runtime,
    handle: &DriverHandle,
    want: &[(PublicKey, SocketAddr)],
    what: &str,
) -> Duration {
    let started = Instant::now();
    let found = common::wait_for(JOIN_TIMEOUT, || {
        let nodes = rt.block_on(handle.close_nodes()).unwrap();
        want.iter()
            .all(|(pk, addr)| nodes.iter().any(|n| n.public_key == *pk && n.addr == *addr))
            .then_some(())
    });
    if found.is_none() {
        let nodes = rt.block_on(handle.close_nodes()).unwrap();
        let stats = rt.block_on(handle.stats()).unwrap();
        panic!(
            "{what}: close list {nodes:?} lacks some of {want:?} after {JOIN_TIMEOUT:?}; stats {stats:?}"
        );
    }
    started.elapsed()
}

#[test]
fn ctoxcore_peers_join_through_toxide_node_and_find_each_other() {
    let started = Instant::now();
    let rt = runtime();
    let node = start_node(&rt, Vec::new());
    let node_port = node.local_addr().port();

    let mut peers: Vec<CPeer> = ["peer-a", "peer-b", "peer-c"]
        .iter()
        .map(|l| peer(l))
        .collect();
    for p in &mut peers {
        p.bootstrap(node_port, &node.public_key()).unwrap();
    }
    let want: Vec<(PublicKey, SocketAddr)> = peers
        .iter()
        .map(|p| (*p.dht_key(), loopback(p.udp_port())))
        .collect();
    let joined = wait_close_list(&rt, &node, &want, "toxide-node");
    eprintln!("c-toxcore peers in toxide-node's close list after {joined:?}");

    // A toxide client that knows only the node finds the c-toxcore peers
    // through it, and they answer its requests (else they would not be in
    // its close list).
    let client = rt
        .block_on(Driver::spawn(DriverConfig::new([loopback(0)])))
        .unwrap();
    rt.block_on(client.bootstrap(PackedNode::udp(loopback(node_port), node.public_key())))
        .unwrap();
    let client_joined = wait_close_list(&rt, &client, &want, "toxide client");
    eprintln!("c-toxcore peers in the toxide client's close list after {client_joined:?}");

    // The c-toxcore peers learned each other through toxide-node: asked
    // for the nodes closest to B's key, A names B (and C names A).
    let mut raw = RawClient::new();
    for (asked, searched) in [(0, 1), (1, 2), (2, 0)] {
        let (asked_pk, asked_addr) = want[asked];
        let (searched_pk, searched_addr) = want[searched];
        let listed = common::wait_for(JOIN_TIMEOUT, || {
            let nodes = raw.nodes(asked_addr, asked_pk, searched_pk)?;
            nodes
                .iter()
                .any(|n| n.public_key == searched_pk && n.addr == searched_addr)
                .then_some(nodes)
        });
        assert!(
            listed.is_some(),
            "{} never listed {}; its log:\n{}",
            peers[asked].label(),
            peers[searched].label(),
            peers[asked].context()
        );
    }

    let stats = rt.block_on(node.stats()).unwrap();
    eprintln!("toxide-node counters: {stats:?}");
    assert_eq!(stats.recv_errors, 0);
    assert_eq!(
        stats.dht.dropped_malformed, 0,
        "c-toxcore sent nothing we could not parse"
    );
    assert_eq!(stats.dht.dropped_undecryptable, 0);
    rt.block_on(client.shutdown());
    rt.block_on(node.shutdown());
    assert!(rt.block_on(node.stats()).is_err(), "stopped");
    eprintln!("whole test: {:?}", started.elapsed());
}

#[test]
fn toxide_node_joins_through_tox_bootstrapd() {
    let started = Instant::now();
    let rt = runtime();
    let bootstrapd = Bootstrapd::spawn().unwrap();
    let bootstrapd_addr = loopback(bootstrapd.port());
    let bootstrapd_key = *bootstrapd.public_key();

    // What tox-bootstrapd 0.2.18 answers to bootstrap info, the scheme
    // BOOTSTRAP_INFO_VERSION follows: 1AAABBBCCC = 1 000 002 018.
    let mut raw = RawClient::new();
    let info = raw.bootstrap_info(bootstrapd_addr).unwrap_or_else(|| {
        panic!(
            "no bootstrap info from tox-bootstrapd\n{}",
            bootstrapd.context()
        )
    });
    eprintln!(
        "tox-bootstrapd: version {} motd {:?}",
        info.version(),
        info.motd()
    );
    assert_eq!(info.version(), 1_000_002_018);

    let node = start_node(&rt, vec![PackedNode::udp(bootstrapd_addr, bootstrapd_key)]);
    let joined = wait_close_list(
        &rt,
        &node,
        &[(bootstrapd_key, bootstrapd_addr)],
        "toxide-node",
    );
    eprintln!("tox-bootstrapd in toxide-node's close list after {joined:?}");

    // And the other way round: tox-bootstrapd now hands toxide-node out.
    let node_key = node.public_key();
    let node_addr = node.local_addr();
    let listed = common::wait_for(JOIN_TIMEOUT, || {
        let nodes = raw.nodes(bootstrapd_addr, bootstrapd_key, node_key)?;
        nodes
            .iter()
            .any(|n| n.public_key == node_key && n.addr == node_addr)
            .then_some(())
    });
    assert!(
        listed.is_some(),
        "tox-bootstrapd never listed toxide-node\n{}",
        bootstrapd.context()
    );
    rt.block_on(node.shutdown());
    eprintln!("whole test: {:?}", started.elapsed());
}

/// The peer's DHT key and address.
fn entry(peer: &CPeer) -> (PublicKey, SocketAddr) {
    (*peer.dht_key(), loopback(peer.udp_port()))
}

/// Whether `peer` (asked by `raw`, bounded) names `pk` at `addr` among the
/// nodes closest to `pk`: `pk` is a good node in one of its lists.
fn lists(
    raw: &mut RawClient,
    peer: (PublicKey, SocketAddr),
    pk: PublicKey,
    addr: SocketAddr,
) -> bool {
    raw.nodes(peer.1, peer.0, pk)
        .is_some_and(|nodes| nodes.iter().any(|n| n.public_key == pk && n.addr == addr))
}

#[test]
fn toxide_node_bootstraps_from_a_ctoxcore_peer() {
    let started = Instant::now();
    let rt = runtime();
    // A plain c-toxcore client (not tox-bootstrapd) as the only bootstrap
    // node.
    let first = peer("first-peer");
    let (first_key, first_addr) = entry(&first);
    let node = start_node(&rt, vec![PackedNode::udp(first_addr, first_key)]);
    let joined = wait_close_list(&rt, &node, &[(first_key, first_addr)], "toxide-node");
    eprintln!("the c-toxcore peer in toxide-node's close list after {joined:?}");

    // A second c-toxcore peer that knows only the first: toxide-node
    // learns it through the network, and it answers toxide-node.
    let mut second = peer("second-peer");
    second.bootstrap(first.udp_port(), &first_key).unwrap();
    let second_entry = entry(&second);
    let learned = wait_close_list(&rt, &node, &[second_entry], "toxide-node");
    eprintln!("the second c-toxcore peer in toxide-node's close list after {learned:?}");

    // And both c-toxcore peers hand toxide-node out.
    let mut raw = RawClient::new();
    let (node_key, node_addr) = (node.public_key(), node.local_addr());
    for (label, asked) in [
        ("first-peer", (first_key, first_addr)),
        ("second-peer", second_entry),
    ] {
        let listed = common::wait_for(JOIN_TIMEOUT, || {
            lists(&mut raw, asked, node_key, node_addr).then_some(())
        });
        assert!(listed.is_some(), "{label} never listed toxide-node");
    }

    // c-toxcore's empty nodes responses (sent while it knows no node) are
    // counted on their own; nothing it sends is malformed to us.
    let stats = rt.block_on(node.stats()).unwrap();
    eprintln!("toxide-node counters: {:?}", stats.dht);
    assert_eq!(stats.dht.dropped_undecryptable, 0);
    assert_eq!(stats.dht.dropped_malformed, 0, "{:?}", stats.dht);
    rt.block_on(node.shutdown());
    eprintln!("whole test: {:?}", started.elapsed());
}

/// How long the peers that knew the old key are watched for listing the
/// new one: a dozen of their 1 s DHT rounds and several 2 s ping rounds.
const RELIST_WINDOW: Duration = Duration::from_secs(12);

/// The regression ctoxcore-observed.md asks for: a bootstrap node restarted
/// on its port with a new DHT key (K1 → K2) must be served again by the
/// c-toxcore peers that knew K1 there.
///
/// What c-toxcore 0.2.18 does, seen here and read in `DHT.c`: packets for
/// K1 keep arriving at the port and are dropped (undecryptable); the peers
/// answer K2's requests at once (toxide-node has them back in its close
/// list within 0.25 s); a peer that never knew K1 at the port lists K2
/// within 3–4 s. Whether a peer that had K1 at the port hands K2 out is a
/// coin toss: in 17 runs, 18 of 34 such peers listed K2 (within 12 s, or
/// never in a 150 s window). The likely mechanism: where K1 sat in one of
/// its lists, `client_or_ip_port_in_list` writes K2 over K1's key and
/// zeroes the address it just matched, and `update_client` then refuses to
/// put a LAN address (127.0.0.1) over the zeroed one (which is not LAN), so
/// on loopback that entry never gets an address again; K2 is handed out
/// only if it also entered a list (its search lists for random keys) that
/// did not hold K1. The test asserts the first three and prints the last.
#[test]
fn toxide_node_restarted_with_a_new_key_on_its_port_is_served_again() {
    let started = Instant::now();
    let rt = runtime();
    let port = fresh_udp_port().unwrap();
    let node_addr = loopback(port);
    let mut raw = RawClient::new();

    // Run 1: K1 on port P; two c-toxcore peers bootstrap from it, list it
    // and, through it, each other (so the network survives its restart).
    let first_keys = KeyPair::generate(&mut rand::rng());
    let first_key = first_keys.public;
    let node = start_node_at(&rt, port, first_keys, Vec::new());
    let mut peers: Vec<CPeer> = ["peer-a", "peer-b"].iter().map(|l| peer(l)).collect();
    for p in &mut peers {
        p.bootstrap(port, &first_key).unwrap();
    }
    let want: Vec<(PublicKey, SocketAddr)> = peers.iter().map(entry).collect();
    wait_close_list(&rt, &node, &want, "toxide-node (first key)");
    for (asked, listed, what) in [
        (
            want[0],
            (first_key, node_addr),
            "peer-a lists the first key",
        ),
        (
            want[1],
            (first_key, node_addr),
            "peer-b lists the first key",
        ),
        (want[0], want[1], "peer-a lists peer-b"),
        (want[1], want[0], "peer-b lists peer-a"),
    ] {
        let ok = common::wait_for(JOIN_TIMEOUT, || {
            lists(&mut raw, asked, listed.0, listed.1).then_some(())
        });
        assert!(ok.is_some(), "never: {what}");
    }
    rt.block_on(node.shutdown());
    eprintln!("run 1 done after {:?}", started.elapsed());

    // Run 2: a new key K2 on the same port, bootstrapping from both peers
    // (as an operator's configured or saved nodes would).
    let second_keys = KeyPair::generate(&mut rand::rng());
    let second_key = second_keys.public;
    let restarted_at = Instant::now();
    let node = start_node_at(
        &rt,
        port,
        second_keys,
        want.iter()
            .map(|&(pk, addr)| PackedNode::udp(addr, pk))
            .collect(),
    );
    assert_eq!(node.local_addr(), node_addr);
    // Only an answer to our request puts a node in our close list.
    let served = wait_close_list(&rt, &node, &want, "toxide-node (second key)");
    eprintln!("both c-toxcore peers answer the second key after {served:?}");

    // A c-toxcore peer new to the port takes K2 there normally: it learns
    // of toxide-node when toxide-node, told of it by peer-a, asks it.
    let mut fresh = peer("peer-c");
    fresh.bootstrap(peers[0].udp_port(), &want[0].0).unwrap();
    let fresh_entry = entry(&fresh);
    wait_close_list(&rt, &node, &[fresh_entry], "toxide-node (second key)");
    let fresh_lists = common::wait_for(JOIN_TIMEOUT, || {
        lists(&mut raw, fresh_entry, second_key, node_addr).then_some(())
    });
    assert!(
        fresh_lists.is_some(),
        "peer-c, new to the port, never listed the second key; its log:\n{}",
        fresh.context()
    );
    eprintln!(
        "peer-c lists the second key {:?} after the restart",
        restarted_at.elapsed()
    );

    // The peers that knew K1 at P: printed, not asserted (see above).
    let mut relisted = [false; 2];
    let deadline = Instant::now() + RELIST_WINDOW;
    while Instant::now() < deadline && !relisted.iter().all(|&r| r) {
        for (r, &asked) in relisted.iter_mut().zip(&want) {
            *r = *r || lists(&mut raw, asked, second_key, node_addr);
        }
        raw.serve_for(Duration::from_millis(500));
    }
    eprintln!(
        "within {RELIST_WINDOW:?}: peer-a lists the second key: {}, peer-b: {}",
        relisted[0], relisted[1]
    );

    let stats = rt.block_on(node.stats()).unwrap();
    eprintln!("toxide-node counters after the restart: {:?}", stats.dht);
    assert!(
        stats.dht.dropped_undecryptable > 0,
        "packets for the old key reached the new one and were dropped"
    );
    // All three still answer it.
    let nodes = rt.block_on(node.close_nodes()).unwrap();
    for (pk, addr) in want.iter().chain([&fresh_entry]) {
        assert!(
            nodes.iter().any(|n| n.public_key == *pk && n.addr == *addr),
            "{addr} left the close list"
        );
    }
    rt.block_on(node.shutdown());
    eprintln!("whole test: {:?}", started.elapsed());
}
