//! toxide-node's onion service against real c-toxcore 0.2.18 on 127.0.0.1.
//!
//! Two c-toxcore peers whose only infrastructure is a handful of toxide-node
//! instances (no tox-bootstrapd, no other c-toxcore node) must build onion
//! paths through them, announce to them, find each other through them and
//! become friends. The nodes run in-process, configured exactly as the
//! binary configures them, so the test can read their onion counters and
//! check that the friendship really went through toxide's relays and
//! announce stores.

// Test code: a failed unwrap is a failed test.
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
use toxide::driver::{DriverHandle, DriverStats, next_onion_event};
use toxide_core::{NoSpam, ToxId};

use common::inprocess::{runtime, spawn_peer, start_client, start_nodes};
use toxide::StackEvent;
use toxide_onion::ClientEvent;

/// c-toxcore reaches a friend connection in ~10 s on loopback through
/// tox-bootstrapd (see shared/ctoxcore-observed.md); allow generously.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(90);
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(20);
/// toxide-node instances: enough that most path hops and announce nodes
/// are toxide rather than the peers themselves.
const NODES: usize = 4;

fn stats(rt: &Runtime, nodes: &[DriverHandle]) -> Vec<DriverStats> {
    nodes
        .iter()
        .map(|n| rt.block_on(n.stats()).unwrap())
        .collect()
}

#[test]
fn ctoxcore_peers_befriend_through_toxide_nodes_only() {
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, NODES);

    // Each peer knows a different toxide node, and nothing else.
    let mut a = spawn_peer("peer-a", &nodes[1], None);
    let mut b = spawn_peer("peer-b", &nodes[2], None);

    let request_text = "friend request through toxide's onion";
    let a_friend_b = a.add_friend(b.tox_id(), request_text).unwrap();
    let (public_key, message) = b.wait_friend_request(CONNECT_TIMEOUT).unwrap_or_else(|e| {
        panic!(
            "{e}\nonion stats: {:#?}\n{}\n{}",
            stats(&rt, &nodes),
            a.context(),
            b.context()
        )
    });
    let request_after = started.elapsed();
    assert_eq!(&public_key, a.public_key());
    assert_eq!(message, request_text);
    let b_friend_a = b.add_friend_norequest(&public_key).unwrap();
    a.wait_friend_online(a_friend_b, CONNECT_TIMEOUT).unwrap();
    b.wait_friend_online(b_friend_a, CONNECT_TIMEOUT).unwrap();
    let online_after = started.elapsed();

    let text = "hello over a path of toxide relays";
    a.send_message(a_friend_b, text).unwrap();
    let received = b.wait_message(MESSAGE_TIMEOUT).unwrap();
    assert_eq!(received, (b_friend_a, text.to_owned()));
    let reply = "and back";
    b.send_message(b_friend_a, reply).unwrap();
    let received = a.wait_message(MESSAGE_TIMEOUT).unwrap();
    assert_eq!(received, (a_friend_b, reply.to_owned()));

    // The friendship went through toxide: its nodes relayed onion
    // requests and responses, stored announces and delivered onion data.
    let all = stats(&rt, &nodes);
    let onion: Vec<_> = all.iter().map(|s| &s.onion).collect();
    let sum = |f: fn(&toxide_onion::ServerStats) -> u64| onion.iter().map(|s| f(s)).sum::<u64>();
    eprintln!(
        "friend request after {request_after:?}, friends online after {online_after:?}; \
         toxide onion totals: relayed {} requests / {} responses, {} announces answered \
         ({} stored), {} data delivered, drops: malformed {} undecryptable {} bad return {} \
         filtered {} not announced {}",
        sum(|s| s.requests_relayed),
        sum(|s| s.responses_relayed),
        sum(|s| s.announces_answered),
        sum(|s| s.announces_stored),
        sum(|s| s.data_delivered),
        sum(|s| s.dropped_malformed),
        sum(|s| s.dropped_undecryptable),
        sum(|s| s.dropped_bad_return),
        sum(|s| s.dropped_filtered),
        sum(|s| s.dropped_not_announced),
    );
    assert!(sum(|s| s.requests_relayed) > 0, "{onion:#?}");
    assert!(sum(|s| s.responses_relayed) > 0, "{onion:#?}");
    assert!(sum(|s| s.announces_stored) > 0, "{onion:#?}");
    assert!(sum(|s| s.data_delivered) > 0, "{onion:#?}");
    assert_eq!(
        sum(|s| s.dropped_malformed),
        0,
        "c-toxcore sent something we misparse: {onion:#?}"
    );
    for node in &nodes {
        rt.block_on(node.shutdown());
    }
}

/// Waits (bounded) for an onion event matching `want`.
fn wait_onion_event(
    rt: &Runtime,
    events: &mut broadcast::Receiver<StackEvent>,
    timeout: Duration,
    want: impl FnMut(&ClientEvent) -> bool,
) -> Option<ClientEvent> {
    rt.block_on(next_onion_event(events, Instant::now() + timeout, want))
}

#[test]
fn friend_requests_and_dht_keys_cross_between_toxide_and_ctoxcore() {
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, NODES);
    let (client, mut events) = start_client(&rt, &nodes[0]);
    let our_id: ToxId = client.tox_id().unwrap();

    let mut peer = spawn_peer("peer", &nodes[1], None);

    // Our client announces itself through the toxide nodes.
    let announced = common::wait_for(CONNECT_TIMEOUT, || {
        rt.block_on(client.is_onion_connected())
            .unwrap()
            .then_some(())
    });
    assert!(
        announced.is_some(),
        "toxide client never announced: {:#?}",
        rt.block_on(client.stats()).unwrap()
    );
    let announced_after = started.elapsed();

    // c-toxcore → toxide: the request arrives with its text.
    let text = "c-toxcore asks toxide";
    peer.add_friend(&our_id, text).unwrap();
    let got = wait_onion_event(&rt, &mut events, CONNECT_TIMEOUT, |e| {
        matches!(e, ClientEvent::FriendRequest { .. })
    });
    let stats_now = || rt.block_on(client.stats()).unwrap();
    let Some(ClientEvent::FriendRequest {
        public_key,
        message,
    }) = got
    else {
        panic!(
            "no friend request from c-toxcore: {:#?}\n{}",
            stats_now(),
            peer.context()
        );
    };
    let request_after = started.elapsed();
    assert_eq!(&public_key, peer.public_key());
    assert_eq!(message, text.as_bytes());

    // Accepting means searching for them: c-toxcore, which has us as a
    // friend, sends us its DHT key through the onion.
    rt.block_on(client.add_friend(public_key)).unwrap().unwrap();
    let peer_dht = *peer.dht_key();
    let got = wait_onion_event(
        &rt,
        &mut events,
        CONNECT_TIMEOUT,
        |e| matches!(e, ClientEvent::FriendDhtPk { friend, .. } if *friend == public_key),
    );
    let Some(ClientEvent::FriendDhtPk { dht_pk, .. }) = got else {
        panic!("c-toxcore never sent us its DHT key: {:#?}", stats_now());
    };
    assert_eq!(dht_pk, peer_dht);
    let dht_pk_after = started.elapsed();

    // toxide → c-toxcore: a second c-toxcore peer gets our request.
    let mut other = spawn_peer("other", &nodes[2], None);
    // A peer that is not our friend: a friend's request would come over
    // the session c-toxcore opens to a friend (packet id 18), not the onion.
    let mut stranger = spawn_peer("stranger", &nodes[3], None);
    let hello = "toxide asks c-toxcore";
    rt.block_on(client.send_friend_request(*other.tox_id(), hello.as_bytes().to_vec()))
        .unwrap()
        .unwrap();
    let request = other
        .wait_friend_request(CONNECT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}: {:#?}", stats_now()));
    assert_eq!(request, (our_id.public_key, hello.to_owned()));
    let sent_after = started.elapsed();

    // A request with the wrong nospam is dropped: counted, never reported.
    let wrong = ToxId::new(
        our_id.public_key,
        NoSpam::from_u32(our_id.nospam.to_u32() ^ 1),
    );
    stranger.add_friend(&wrong, "wrong nospam").unwrap();
    let dropped = common::wait_for(CONNECT_TIMEOUT, || {
        (stats_now().client.dropped_wrong_nospam > 0).then_some(())
    });
    assert!(
        dropped.is_some(),
        "the wrong-nospam request never arrived: {:#?}",
        stats_now()
    );
    let leaked = wait_onion_event(
        &rt,
        &mut events,
        Duration::from_secs(2),
        |e| matches!(e, ClientEvent::FriendRequest { public_key, .. } if public_key == stranger.public_key()),
    );
    assert_eq!(leaked, None, "a wrong-nospam request was reported");
    eprintln!(
        "toxide client announced after {announced_after:?}; c-toxcore request reached toxide after \
         {request_after:?}; c-toxcore's DHT key known after {dht_pk_after:?}; toxide's request \
         reached c-toxcore after {sent_after:?}; client stats {:?}",
        stats_now().client
    );
}
