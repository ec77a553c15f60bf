//! toxide's net_crypto against real c-toxcore 0.2.18 on 127.0.0.1, through
//! toxide-node infrastructure only (as the onion tests).
//!
//! A toxide client and a c-toxcore peer become friends; a session opens
//! (whoever starts first: c-toxcore opens as soon as its DHT finds us, and
//! so do we), c-toxcore's own messenger packets (ONLINE, then its name
//! once we are online to it) arrive in order, c-toxcore reports us online
//! once we send ONLINE, a stream of custom lossless packets from toxide
//! reaches c-toxcore complete and in order, and when the c-toxcore peer
//! quits its kill packet ends the session; restarted from its profile (same
//! long-term key, new DHT key and port) it gets a new session. Each side
//! opens as soon as it can, so a second test makes toxide only accept, to
//! prove the session c-toxcore opens on its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::broadcast;
use toxide::StackEvent;
use toxide::driver::DriverHandle;
use toxide::net_crypto::{CloseReason, Event};
use toxide_core::PublicKey;
use toxide_interop::{Event as PeerEvent, TempDir};
use toxide_onion::ClientEvent;

use common::inprocess::{runtime, spawn_peer, start_client, start_nodes};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(90);
const PACKET_TIMEOUT: Duration = Duration::from_secs(20);
const NODES: usize = 3;
/// Messenger packet ids (checklist M1, M2).
const PACKET_ID_ONLINE: u8 = 24;
const PACKET_ID_NICKNAME: u8 = 48;
/// A custom lossless packet id (160–191), delivered to the C API as is.
const CUSTOM_LOSSLESS: u8 = 160;

/// Waits (bounded) for the next stack event `want` accepts.
fn wait_event(
    rt: &Runtime,
    events: &mut broadcast::Receiver<StackEvent>,
    timeout: Duration,
    mut want: impl FnMut(&StackEvent) -> bool,
) -> Option<StackEvent> {
    let deadline = tokio::time::Instant::now() + timeout;
    rt.block_on(async {
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Ok(event)) if want(&event) => return Some(event),
                Ok(Ok(_)) => {}
            }
        }
    })
}

fn session_event(event: &StackEvent, peer: &PublicKey) -> Option<Event> {
    match event {
        StackEvent::Session { friend, event } if friend == peer => Some(event.clone()),
        _ => None,
    }
}

/// Waits for the session with `peer` to come up; whether we accepted it
/// (c-toxcore opened first) or opened it ourselves.
fn wait_established(
    rt: &Runtime,
    events: &mut broadcast::Receiver<StackEvent>,
    peer: &PublicKey,
    client: &DriverHandle,
) -> bool {
    let mut accepted = false;
    let up = wait_event(rt, events, CONNECT_TIMEOUT, |e| {
        match session_event(e, peer) {
            Some(Event::Accepted { .. }) => {
                accepted = true;
                false
            }
            Some(Event::Established { .. }) => true,
            _ => false,
        }
    });
    assert!(
        up.is_some(),
        "no session with c-toxcore: {:#?}",
        rt.block_on(client.stats()).unwrap()
    );
    accepted
}

fn opener(accepted: bool) -> &'static str {
    if accepted {
        "c-toxcore opened it"
    } else {
        "toxide opened it"
    }
}

#[test]
fn sessions_with_ctoxcore_carry_messenger_packets_and_streams_and_survive_a_restart() {
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, NODES);
    let (client, mut events) = start_client(&rt, &nodes[0]);
    let our_id = client.tox_id().unwrap();
    let dir = TempDir::new("ctoxcore-net-crypto").unwrap();
    let profile = dir.path().join("peer.tox");

    let mut peer = spawn_peer("peer", &nodes[1], None);
    peer.send_command("set-name c-toxcore peer").unwrap();
    let peer_pk = *peer.public_key();
    let friend = peer.add_friend(&our_id, "session test").unwrap();
    let request = wait_event(&rt, &mut events, CONNECT_TIMEOUT, |e| {
        matches!(e, StackEvent::Onion(ClientEvent::FriendRequest { .. }))
    });
    assert!(request.is_some(), "no friend request from c-toxcore");
    rt.block_on(client.add_friend(peer_pk)).unwrap().unwrap();

    let accepted = wait_established(&rt, &mut events, &peer_pk, &client);
    let established_after = started.elapsed();

    // c-toxcore's first packet on a new session is ONLINE.
    let first = wait_event(&rt, &mut events, PACKET_TIMEOUT, |e| {
        matches!(session_event(e, &peer_pk), Some(Event::Lossless { .. }))
    });
    let Some(StackEvent::Session {
        event: Event::Lossless { data, .. },
        ..
    }) = first
    else {
        panic!("no packet from c-toxcore on the session");
    };
    assert_eq!(data.first(), Some(&PACKET_ID_ONLINE), "{data:?}");

    // Our ONLINE makes c-toxcore report us online, and send its name.
    rt.block_on(client.send_lossless(peer_pk, toxide::Bytes::from_static(&[PACKET_ID_ONLINE])))
        .unwrap()
        .unwrap();
    peer.wait_friend_online(friend, PACKET_TIMEOUT).unwrap();
    let name = wait_event(
        &rt,
        &mut events,
        PACKET_TIMEOUT,
        |e| matches!(session_event(e, &peer_pk), Some(Event::Lossless { data, .. }) if data.first() == Some(&PACKET_ID_NICKNAME)),
    );
    let Some(StackEvent::Session {
        event: Event::Lossless { data, .. },
        ..
    }) = name
    else {
        panic!("c-toxcore never sent its name");
    };
    assert_eq!(&data[1..], b"c-toxcore peer");

    // A stream of custom lossless packets reaches c-toxcore complete and
    // in order.
    const STREAM: u32 = 300;
    for i in 0..STREAM {
        let mut packet = vec![CUSTOM_LOSSLESS];
        packet.extend_from_slice(&i.to_be_bytes());
        packet.extend_from_slice(&[0x5a; 200]);
        rt.block_on(client.send_lossless(peer_pk, toxide::Bytes::from(packet)))
            .unwrap()
            .unwrap();
    }
    for i in 0..STREAM {
        let event = peer
            .wait_event(
                |e: &PeerEvent| matches!(e, PeerEvent::Lossless { .. }),
                PACKET_TIMEOUT,
            )
            .unwrap_or_else(|e| panic!("packet {i}: {e}"));
        let PeerEvent::Lossless { friend: f, data } = event else {
            unreachable!()
        };
        assert_eq!(f, friend);
        assert_eq!(data.len(), 205);
        assert_eq!(data[0], CUSTOM_LOSSLESS);
        assert_eq!(
            u32::from_be_bytes(data[1..5].try_into().unwrap()),
            i,
            "in order"
        );
    }
    let streamed_after = started.elapsed();

    // The peer quits: its kill packet ends our session at once.
    peer.save(&profile).unwrap();
    let old_dht = *peer.dht_key();
    peer.quit().unwrap();
    let closed = wait_event(&rt, &mut events, PACKET_TIMEOUT, |e| {
        matches!(session_event(e, &peer_pk), Some(Event::Closed { .. }))
    });
    let Some(StackEvent::Session {
        event: Event::Closed { reason, .. },
        ..
    }) = closed
    else {
        panic!("the session outlived the peer");
    };
    assert_eq!(reason, CloseReason::Killed);

    // Restarted from its profile: same long-term key, new DHT key.
    let mut peer = spawn_peer("peer-restarted", &nodes[2], Some(&profile));
    assert_eq!(*peer.public_key(), peer_pk);
    assert_ne!(*peer.dht_key(), old_dht);
    let accepted_again = wait_established(&rt, &mut events, &peer_pk, &client);
    rt.block_on(client.send_lossless(peer_pk, toxide::Bytes::from_static(&[PACKET_ID_ONLINE])))
        .unwrap()
        .unwrap();
    peer.wait_friend_online(0, CONNECT_TIMEOUT).unwrap();
    let restarted_after = started.elapsed();

    let stats = rt.block_on(client.stats()).unwrap();
    assert_eq!(
        stats.net_crypto.dropped_malformed, 0,
        "{:?}",
        stats.net_crypto
    );
    eprintln!(
        "session up after {established_after:?} ({}), {STREAM} packets streamed by \
         {streamed_after:?}, new session after restart by {restarted_after:?} ({}); stats {stats:?}",
        opener(accepted),
        opener(accepted_again),
    );
    for node in &nodes {
        rt.block_on(node.shutdown());
    }
}

#[test]
fn a_session_ctoxcore_opens_is_accepted() {
    let rt = runtime();
    let nodes = start_nodes(&rt, NODES);
    let (client, mut events) = start_client(&rt, &nodes[0]);
    // We only accept: the session that comes up is c-toxcore's.
    rt.block_on(client.call(|stack, _, _| stack.open_sessions = false))
        .unwrap();
    let our_id = client.tox_id().unwrap();
    let mut peer = spawn_peer("opener", &nodes[1], None);
    let peer_pk = *peer.public_key();
    let friend = peer.add_friend(&our_id, "open to me").unwrap();
    let request = wait_event(&rt, &mut events, CONNECT_TIMEOUT, |e| {
        matches!(e, StackEvent::Onion(ClientEvent::FriendRequest { .. }))
    });
    assert!(request.is_some(), "no friend request from c-toxcore");
    rt.block_on(client.add_friend(peer_pk)).unwrap().unwrap();
    let accepted = wait_established(&rt, &mut events, &peer_pk, &client);
    assert!(accepted, "the session was not c-toxcore's");
    rt.block_on(client.send_lossless(peer_pk, toxide::Bytes::from_static(&[PACKET_ID_ONLINE])))
        .unwrap()
        .unwrap();
    peer.wait_friend_online(friend, PACKET_TIMEOUT).unwrap();
    let stats = rt.block_on(client.stats()).unwrap().net_crypto;
    assert!(stats.cookie_requests_answered >= 1, "{stats:?}");
    assert_eq!(stats.dropped_malformed, 0, "{stats:?}");
    for node in &nodes {
        rt.block_on(node.shutdown());
    }
}
