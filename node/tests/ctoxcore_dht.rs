//! toxide-node's DHT against real c-toxcore 0.2.18 on 127.0.0.1.
//!
//! The node runs in-process (the same composition the binary runs, built
//! by `toxide_node::driver_config`) so the test can read its close list.
//! c-toxcore peers whose only bootstrap node is toxide-node must get into
//! its close list and, through it, find each other; toxide-node must join
//! a network through Debian's tox-bootstrapd. The tests need the
//! `tox_peer` helper (built by toxide-interop) and /usr/bin/tox-bootstrapd.

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
use tokio::runtime::Runtime;
use toxide::driver::{DhtDriver, DhtHandle, DriverConfig};
use toxide_core::{KeyPair, PackedNode, PublicKey};
use toxide_interop::{Bootstrapd, CPeer, PeerOptions};
use toxide_node::cli::Cli;
use toxide_node::config::Settings;

/// c-toxcore's DHT needs a few seconds on loopback; the brief allows ~20 s.
const JOIN_TIMEOUT: Duration = Duration::from_secs(25);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// toxide-node as the binary configures it, on a fresh loopback port.
fn start_node(rt: &Runtime, bootstrap: Vec<PackedNode>) -> DhtHandle {
    let cli = Cli {
        udp_address: vec![loopback(0)],
        ..Cli::default()
    };
    let mut settings = Settings::resolve(&cli, None).unwrap();
    settings.bootstrap_nodes = bootstrap;
    let keys = KeyPair::generate(&mut rand::rng());
    let config = toxide_node::driver_config(&settings, keys);
    let handle = rt.block_on(DhtDriver::spawn(config)).unwrap();
    for node in &settings.bootstrap_nodes {
        rt.block_on(handle.bootstrap(*node)).unwrap();
    }
    handle
}

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
    handle: &DhtHandle,
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
        .block_on(DhtDriver::spawn(DriverConfig::new([loopback(0)])))
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
