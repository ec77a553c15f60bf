//! The synchronous driver ([`toxide::sync_driver::SyncDriver`]) on real
//! loopback sockets, turned as a C program turns `tox_iterate`: two
//! clients befriend each other through the onion via a bootstrap node
//! (a tokio `Driver`) and chat; a flood leaves work for the next turn
//! (interval zero); idle and busy intervals follow the policy. Every wait
//! is bounded.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[allow(dead_code)] // the Tox API tests' helpers; only `node` is used here
mod common;
#[allow(dead_code)]
#[path = "support/sync_peers.rs"]
mod sync_peers;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use toxide::PackedNode;
use toxide::driver::DriverConfig;
use toxide::onion::ClientEvent;
use toxide::stack::StackEvent;
use toxide::sync_driver::pace::{BUSY_INTERVAL, RECENT_INTERVAL};
use toxide::sync_driver::{MAX_DATAGRAMS, SyncDriver};

use sync_peers::{Peers, client_config};

/// Bound on any one step (a friend request, a connection, a message).
const STEP: Duration = Duration::from_secs(60);

#[test]
fn two_sync_clients_befriend_through_the_onion_and_chat() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let node = rt.block_on(common::node());
    let bootstrap = PackedNode::udp(node.local_addr(), node.public_key());
    let mut drivers = Vec::new();
    for _ in 0..2 {
        let mut driver = SyncDriver::bind(client_config()).unwrap();
        assert_eq!(driver.local_addrs().len(), 1);
        assert_ne!(driver.local_addrs()[0].port(), 0);
        driver.stack().bootstrap(Instant::now(), bootstrap);
        driver.flush(Instant::now());
        drivers.push(driver);
    }
    let mut peers = Peers::new(drivers);
    let (alice_pk, bob_id) = (peers.real_pk(0), peers.drivers[1].tox_id().unwrap());
    let alice = &mut peers.drivers[0];
    alice
        .stack()
        .send_friend_request(Instant::now(), &bob_id, b"hello from sync")
        .unwrap();
    alice.flush(Instant::now());
    let (from, message) = peers.wait(1, "the friend request", STEP, |e| match e {
        StackEvent::Onion(ClientEvent::FriendRequest {
            public_key,
            message,
        }) => Some((*public_key, message.clone())),
        _ => None,
    });
    assert_eq!(
        (from, message.as_slice()),
        (alice_pk, &b"hello from sync"[..])
    );
    // Right after the request was handed out, the caller is told to come
    // back at once.
    assert!(peers.drivers[1].iteration_interval(Instant::now()) <= BUSY_INTERVAL);
    peers.drivers[1].stack().add_friend(from).unwrap();
    peers.drivers[1].flush(Instant::now());
    let bob_number = peers.friend_number(0, &bob_id.public_key);
    let alice_number = peers.friend_number(1, &alice_pk);
    peers.wait_online(0, bob_number, STEP);
    peers.wait_online(1, alice_number, STEP);
    let there = peers.message(0, 1, "hello bob", STEP);
    let back = peers.message(1, 0, "hello alice", STEP);
    eprintln!("message there {there:?}, back {back:?}");
    // The turns of a chat sleep no longer than the recent-traffic cap.
    assert!(
        peers
            .sleeps
            .iter()
            .rev()
            .take(3)
            .all(|s| *s <= RECENT_INTERVAL)
    );
    for driver in &mut peers.drivers {
        let stats = driver.stats();
        assert!(
            stats.datagrams_received > 0 && stats.datagrams_sent > 0,
            "{stats:?}"
        );
        assert!(stats.net_crypto != Default::default(), "{stats:?}");
        driver.shutdown(Instant::now());
        // What ending queued (the friend going offline) is handed out
        // once; then nothing moves.
        driver.iterate(Instant::now());
        assert!(driver.iterate(Instant::now()).is_empty());
    }
    rt.block_on(node.shutdown());
}

/// A flood larger than one turn's budget: the turn stops at the budget,
/// says to come back at once, and the next turn reads the rest.
#[test]
fn a_flood_is_read_over_turns_and_the_interval_says_so() {
    let mut driver = SyncDriver::bind(DriverConfig::new([SocketAddr::from((
        Ipv4Addr::LOCALHOST,
        0,
    ))]))
    .unwrap();
    let to = driver.local_addrs()[0];
    let flood = MAX_DATAGRAMS + MAX_DATAGRAMS / 2;
    let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    for _ in 0..flood {
        // No layer takes id 0xfe: counted as unhandled.
        sender.send_to(&[0xfe; 8], to).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    driver.iterate(Instant::now());
    // The budget is checked per batch (recvmmsg reads up to 32 at once).
    let first = driver.stats().datagrams_received;
    assert!(
        (MAX_DATAGRAMS as u64..flood as u64).contains(&first),
        "{first}"
    );
    assert_eq!(driver.iteration_interval(Instant::now()), Duration::ZERO);
    driver.iterate(Instant::now());
    let stats = driver.stats();
    assert_eq!(stats.datagrams_received, flood as u64);
    assert_eq!(stats.unhandled, flood as u64);
    assert!(driver.iteration_interval(Instant::now()) > Duration::ZERO);
}

/// Idle: the caller may sleep until the stack's next timer, far longer
/// than c-toxcore's 50 ms; after the application changes the stack
/// (flush), short.
#[test]
fn idle_sleeps_long_and_activity_short() {
    let mut driver = SyncDriver::bind(client_config()).unwrap();
    let start = Instant::now();
    driver.iterate(start);
    let mut longest = Duration::ZERO;
    for _ in 0..20 {
        let now = Instant::now();
        driver.iterate(now);
        let sleep = driver.iteration_interval(now);
        longest = longest.max(sleep);
        std::thread::sleep(sleep.min(Duration::from_millis(100)));
    }
    assert!(
        longest > Duration::from_millis(50),
        "idle sleeps at most {longest:?}"
    );
    driver.flush(Instant::now());
    assert!(driver.iteration_interval(Instant::now()) <= BUSY_INTERVAL);
}
