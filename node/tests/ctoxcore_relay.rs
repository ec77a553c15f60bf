//! The TCP relay against c-toxcore 0.2.18 on the wire (checklist R1–R11,
//! R14), loopback only, every wait bounded:
//!
//! - our relay client (`toxide_relay::ClientConnection` over a std socket)
//!   against tox-bootstrapd's relay: handshake, ping/pong, two of our
//!   clients routed to each other, data both ways, OOB, disconnect
//!   notification;
//! - the same scenario against toxide-node's relay (the binary, with
//!   `--tcp-address 127.0.0.1:0`), so both relays meet the same client;
//! - two real c-toxcore peers without UDP whose only way in is
//!   toxide-node's relay: they befriend and chat, which needs our relay's
//!   routing, OOB and onion over TCP against c-toxcore's client.
// Test harness: a failed step is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use toxide_core::PublicKey;
use toxide_interop::Event as PeerEvent;
use toxide_interop::{Bootstrapd, BootstrapdOptions, CPeer, Connection, PeerOptions};
use toxide_relay::{ClientEvent, ConnectionId};

use common::binary::{NodeProcess, start_node_with_relay};
use common::relay_client::{RelayClient, STEP_TIMEOUT};

/// How long two c-toxcore peers may take to befriend over a relay
/// (c-toxcore alone needs ~9 s over tox-bootstrapd's relay).
const FRIEND_TIMEOUT: Duration = Duration::from_secs(90);

/// Figures of one run, printed for the report.
#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Figures {
    handshake: Duration,
    route: Duration,
    data_round_trip: Duration,
}

/// Two of our clients through the relay at `port` with key `relay_pk`:
/// handshake and ping/pong, routing both ways, data both ways, OOB, and
/// the disconnect notification when one side frees its link.
fn exercise_relay(port: u16, relay_pk: PublicKey) -> Figures {
    let start = Instant::now();
    let mut a = RelayClient::connect(port, relay_pk, 1);
    let mut b = RelayClient::connect(port, relay_pk, 2);
    a.wait("handshake (a)", |e| {
        (*e == ClientEvent::Established).then_some(())
    });
    b.wait("handshake (b)", |e| {
        (*e == ClientEvent::Established).then_some(())
    });
    let handshake = start.elapsed();
    // The first frame of each is a ping, which the relay must answer.
    a.pump_until("pong (a)", |c| c.conn.stats().pongs >= 1);
    b.pump_until("pong (b)", |c| c.conn.stats().pongs >= 1);
    assert_eq!(a.conn.stats().unmatched_pongs, 0);

    let start = Instant::now();
    a.conn.route_request(b.keys.public).unwrap();
    let b_pk = b.keys.public;
    let a_id = a.wait("routing response (a)", |e| match e {
        ClientEvent::RoutingResponse {
            pk,
            connection_id: Some(id),
        } if *pk == b_pk => Some(*id),
        _ => None,
    });
    b.conn.route_request(a.keys.public).unwrap();
    let a_pk = a.keys.public;
    let b_id = b.wait("routing response (b)", |e| match e {
        ClientEvent::RoutingResponse {
            pk,
            connection_id: Some(id),
        } if *pk == a_pk => Some(*id),
        _ => None,
    });
    let connected =
        |id: ConnectionId| move |e: &ClientEvent| (*e == ClientEvent::Connected(id)).then_some(());
    b.wait("connect notification (b)", connected(b_id));
    a.wait("connect notification (a)", connected(a_id));
    let route = start.elapsed();

    // Routed data both ways, as net_crypto packets would go.
    let start = Instant::now();
    let ping = Bytes::from_static(b"\x1b routed from a to b");
    a.conn.send_data(a_id, ping.clone()).unwrap();
    a.flush();
    b.wait("data (b)", |e| {
        (*e == ClientEvent::Data(b_id, ping.clone())).then_some(())
    });
    let pong = Bytes::from(vec![0x1b; 1200]);
    b.conn.send_data(b_id, pong.clone()).unwrap();
    b.flush();
    a.wait("data (a)", |e| {
        (*e == ClientEvent::Data(a_id, pong.clone())).then_some(())
    });
    let data_round_trip = start.elapsed();

    // Out of band: to any client of the relay by key.
    let oob = Bytes::from_static(b"\x18 cookie request sized");
    a.conn.send_oob(b_pk, oob.clone()).unwrap();
    a.flush();
    b.wait("OOB (b)", |e| {
        (*e == ClientEvent::Oob(a_pk, oob.clone())).then_some(())
    });
    b.conn.send_oob(a_pk, oob.clone()).unwrap();
    b.flush();
    a.wait("OOB (a)", |e| {
        (*e == ClientEvent::Oob(b_pk, oob.clone())).then_some(())
    });

    // a frees its link: b is told, and its link is offline.
    a.conn.disconnect(a_id).unwrap();
    a.flush();
    b.wait("disconnect notification (b)", |e| {
        (*e == ClientEvent::Disconnected(b_id)).then_some(())
    });
    assert!(!b.conn.is_online(b_id));
    assert!(
        a.events
            .iter()
            .all(|e| !matches!(e, ClientEvent::Closed(_))),
        "{:?}",
        a.events
    );
    assert!(
        b.events
            .iter()
            .all(|e| !matches!(e, ClientEvent::Closed(_))),
        "{:?}",
        b.events
    );
    Figures {
        handshake,
        route,
        data_round_trip,
    }
}

#[test]
fn our_client_through_tox_bootstrapd_relay() {
    let node = Bootstrapd::spawn_with(BootstrapdOptions {
        tcp_relay: true,
        ..BootstrapdOptions::default()
    })
    .unwrap();
    let figures = exercise_relay(node.tcp_port().unwrap(), *node.public_key());
    eprintln!("tox-bootstrapd relay: {figures:?}");
}

#[test]
fn our_client_through_toxide_node_relay() {
    let node = start_node_with_relay();
    let figures = exercise_relay(node.tcp_ports[0], node.public_key);
    eprintln!("toxide-node relay: {figures:?}");
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}

/// A c-toxcore peer whose only relay is the node's; without UDP
/// (`no_udp`) the relay is its only way in.
fn relay_peer(label: &str, node: &NodeProcess, no_udp: bool) -> CPeer {
    let mut peer = CPeer::spawn(PeerOptions {
        label: Some(label.to_owned()),
        no_udp,
        ..PeerOptions::default()
    })
    .unwrap();
    // The UDP bootstrap gives the onion its first path nodes (c-toxcore
    // builds paths from bootstrap nodes even without UDP); the relay is the
    // only way to reach them.
    peer.bootstrap(node.ports[0], &node.public_key).unwrap();
    peer.send_command(&format!(
        "add-tcp-relay 127.0.0.1 {} {}",
        node.tcp_ports[0], node.public_key
    ))
    .unwrap();
    peer
}

#[test]
fn ctoxcore_peers_befriend_chat_and_send_a_file_through_toxide_node_relay() {
    befriend_through_node_relay(false);
}

/// The mixed case: bob has UDP (and the node's relay), alice has only the
/// relay, so bob must reach her through it as c-toxcore peers do.
#[test]
fn ctoxcore_peer_with_udp_reaches_one_without_through_toxide_node_relay() {
    befriend_through_node_relay(true);
}

/// Alice (no UDP) befriends bob (UDP if `bob_udp`) through toxide-node's
/// relay, chat, and alice sends bob a file.
fn befriend_through_node_relay(bob_udp: bool) {
    let node = start_node_with_relay();
    let start = Instant::now();
    let mut alice = relay_peer("alice", &node, true);
    let mut bob = relay_peer("bob", &node, !bob_udp);
    let bob_id = *bob.tox_id();
    let alice_pk = *alice.public_key();

    let friend = alice.add_friend(&bob_id, "via toxide's relay").unwrap();
    let request = bob
        .wait_event(
            |e| matches!(e, PeerEvent::FriendRequest { public_key, .. } if *public_key == alice_pk),
            FRIEND_TIMEOUT,
        )
        .unwrap_or_else(|e| {
            panic!(
                "no friend request through the relay's onion: {e}\nalice: {}\nbob: {}\nnode: {}",
                alice.context(),
                bob.context(),
                node.stderr()
            )
        });
    let request_at = start.elapsed();
    assert_eq!(
        request,
        PeerEvent::FriendRequest {
            public_key: alice_pk,
            message: "via toxide's relay".to_owned()
        }
    );
    let back = bob.add_friend_norequest(&alice_pk).unwrap();

    let online = |friend: u32| move |e: &PeerEvent| matches!(e, PeerEvent::FriendConnection { friend: f, status } if *f == friend && *status == Connection::Tcp);
    for (peer, number) in [(&mut alice, friend), (&mut bob, back)] {
        peer.wait_event(online(number), FRIEND_TIMEOUT)
            .unwrap_or_else(|e| {
                panic!(
                    "{} never saw its friend online over TCP: {e}\n{}\nnode: {}",
                    peer.label(),
                    peer.context(),
                    node.stderr()
                )
            });
    }
    let connected_at = start.elapsed();

    let sent = Instant::now();
    alice
        .send_message(friend, "hello over toxide's relay")
        .unwrap();
    bob.wait_event(
        |e| {
            *e == PeerEvent::Message {
                friend: back,
                text: "hello over toxide's relay".into(),
            }
        },
        STEP_TIMEOUT,
    )
    .unwrap();
    bob.send_message(back, "and back").unwrap();
    alice
        .wait_event(
            |e| {
                *e == PeerEvent::Message {
                    friend,
                    text: "and back".into(),
                }
            },
            STEP_TIMEOUT,
        )
        .unwrap();
    let round_trip = sent.elapsed();
    eprintln!(
        "c-toxcore over toxide-node's relay (bob UDP: {bob_udp}): friend request at {request_at:?}, \
         both online at {connected_at:?}, message round trip {round_trip:?}"
    );
    // A file too, through the relay only: 300 kB, checked byte for byte.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let source = alice.work_dir().join("through-the-relay.bin");
    std::fs::write(&source, &data).unwrap();
    let file = alice.send_file(friend, &source).unwrap();
    let done = bob
        .wait_event(
            |e| matches!(e, PeerEvent::FileDone { friend: f, .. } if *f == back),
            FRIEND_TIMEOUT,
        )
        .unwrap();
    let PeerEvent::FileDone { bytes, path, .. } = done else {
        unreachable!("the matcher takes FILE_DONE only")
    };
    assert_eq!(bytes, data.len() as u64);
    assert!(std::fs::read(&path).unwrap() == data, "the file differs");
    alice
        .wait_event(
            |e| matches!(e, PeerEvent::FileSent { friend: f, file: n } if *f == friend && *n == file),
            STEP_TIMEOUT,
        )
        .unwrap();
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
    // Without UDP the peers reached the onion only through the relay:
    // requests went in as frame 8 and responses came back as frame 9, and
    // the two were linked by routing. The final counters list only what
    // is not zero.
    for counter in [
        "relay.onion_requests ",
        "relay.links_connected ",
        "relay.onion_responses ",
        "onion.tcp_requests_relayed ",
        "onion.tcp_responses ",
    ] {
        assert!(stderr.contains(counter), "{counter} is zero:\n{stderr}");
    }
}
