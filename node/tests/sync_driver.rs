//! The synchronous driver ([`toxide::sync_driver::SyncDriver`], the C
//! API's) without UDP: two clients whose only way out is toxide-node's
//! TCP relay (the binary, loopback), directly and through Debian's
//! microsocks (SOCKS5) and tinyproxy (HTTP CONNECT). The clients know
//! each other's keys (as from a save), so this is the relay sockets'
//! test: non-blocking connect, proxy exchange, bytes both ways, and not
//! one UDP datagram. Every wait is bounded.

// Test harness: a failed step is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
#[allow(dead_code)]
#[path = "../../tests/support/sync_peers.rs"]
mod sync_peers;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use toxide::driver::proxy::ProxyConfig;
use toxide::sync_driver::SyncDriver;
use toxide_interop::ProxyProgram;

use common::binary::start_node_with_relay;
use sync_peers::{Peers, client_config};

/// How long the session may take to come up over the relay.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a message may take.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

fn chat_over_the_relay(proxy: Option<ProxyConfig>) {
    let node = start_node_with_relay();
    let relay = SocketAddr::from((Ipv4Addr::LOCALHOST, node.tcp_ports[0]));
    let drivers = (0..2)
        .map(|_| {
            let mut config = client_config();
            config.udp = false;
            config.tcp_relays = vec![(relay, node.public_key)];
            config.proxy = proxy;
            let driver = SyncDriver::bind(config).unwrap();
            assert!(driver.local_addrs().is_empty());
            driver
        })
        .collect();
    let mut peers = Peers::new(drivers);
    let start = Instant::now();
    for (me, other) in [(0, 1), (1, 0)] {
        let (real, dht) = (peers.real_pk(other), peers.drivers[other].public_key());
        let driver = &mut peers.drivers[me];
        driver.stack().add_friend(real).unwrap();
        driver
            .stack()
            .connect_friend(Instant::now(), real, dht)
            .unwrap();
        driver.flush(Instant::now());
    }
    let (alice_pk, bob_pk) = (peers.real_pk(0), peers.real_pk(1));
    let bob = peers.friend_number(0, &bob_pk);
    let alice = peers.friend_number(1, &alice_pk);
    peers.wait_online(0, bob, CONNECT_TIMEOUT);
    peers.wait_online(1, alice, CONNECT_TIMEOUT);
    let online = start.elapsed();
    let there = peers.message(0, 1, "hello bob", MESSAGE_TIMEOUT);
    let back = peers.message(1, 0, "hello alice", MESSAGE_TIMEOUT);
    for driver in &mut peers.drivers {
        let stats = driver.stats();
        assert_eq!(stats.datagrams_sent, 0, "no UDP at all: {stats:?}");
        assert_eq!(stats.datagrams_received, 0);
        assert!(stats.relays.established >= 1, "{:?}", stats.relays);
        assert!(stats.relays.sent_routed > 0, "{:?}", stats.relays);
        driver.shutdown(Instant::now());
    }
    eprintln!("online after {online:?}; message there {there:?}, back {back:?}");
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn sync_clients_without_udp_chat_through_toxide_node_relay() {
    chat_over_the_relay(None);
}

#[test]
fn sync_clients_reach_the_relay_through_a_socks5_proxy() {
    let (_proxy, config) = common::proxy(ProxyProgram::Microsocks);
    chat_over_the_relay(Some(config));
}

#[test]
fn sync_clients_reach_the_relay_through_an_http_connect_proxy() {
    let (_proxy, config) = common::proxy(ProxyProgram::Tinyproxy);
    chat_over_the_relay(Some(config));
}
