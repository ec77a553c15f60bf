//! toxide clients without UDP (`ToxBuilder::udp(false)`) whose only way
//! out is toxide-node's TCP relay (the binary, with `--tcp-address
//! 127.0.0.1:0`), loopback only, every wait bounded.
//!
//! - Two toxide clients that know each other's long-term and DHT keys (as
//!   from a save): the onion is not involved, so this proves the relay
//!   client of the stack and driver (R1–R11, R13) and net_crypto over
//!   relays (N15): session and messages both ways over the routed link,
//!   and not one UDP datagram sent.
//! - A toxide client and a c-toxcore peer, both without UDP, each asking
//!   the other: the friend request and DHT-PK announcements go through
//!   the onion with the relay as hop A (O16), the session through the
//!   relay, messages both ways; through toxide-node's relay and through
//!   tox-bootstrapd's.
//! - Two toxide clients without UDP that befriend through the onion over
//!   the relay, as the c-toxcore case but toxide on both ends.
//! - toxide without UDP reaching its relay only through a SOCKS5 or HTTP
//!   CONNECT proxy (Debian's microsocks, tinyproxy), and never around a
//!   proxy that is not there.
// Test harness: a failed step is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use toxide::messenger::packet::MessageKind;
use toxide::tox::{Connection, Tox, ToxBuilder, ToxEvent, ToxEvents};

use toxide::PublicKey;
use toxide::driver::proxy::{ProxyConfig, ProxyKind};
use toxide_interop::{Bootstrapd, BootstrapdOptions, CPeer, PeerOptions, ProxyProgram};

use common::binary::{NodeProcess, start_node_with_relay};
use common::inprocess::runtime;
use common::toxide::{Toxide, both_online, peer_asks, toxide_asks};

/// How long the session may take to come up (c-toxcore needs ~9 s over a
/// relay; ours has no onion to wait for).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a message may take.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits for the first event `want` accepts, skipping others.
async fn wait_for<T>(
    events: &mut ToxEvents,
    what: &str,
    timeout: Duration,
    mut want: impl FnMut(&ToxEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => {
                if let Some(found) = want(&event) {
                    return found;
                }
            }
            Ok(None) => panic!("{what}: the instance stopped"),
            Err(_) => panic!("{what}: nothing within {timeout:?}"),
        }
    }
}

async fn client(relay: SocketAddr, node: &NodeProcess) -> (Tox, ToxEvents) {
    ToxBuilder::new()
        .bind_ip(Ipv4Addr::LOCALHOST.into())
        .udp(false)
        .tcp_relay(relay, node.public_key)
        .spawn()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxide_clients_without_udp_chat_through_toxide_node_relay() {
    let node = start_node_with_relay();
    let relay = SocketAddr::from((Ipv4Addr::LOCALHOST, node.tcp_ports[0]));
    let (alice, mut alice_events) = client(relay, &node).await;
    let (bob, mut bob_events) = client(relay, &node).await;
    let start = Instant::now();
    let bob_number = alice.add_friend_norequest(bob.public_key()).await.unwrap();
    let alice_number = bob.add_friend_norequest(alice.public_key()).await.unwrap();
    for (me, other) in [(&alice, &bob), (&bob, &alice)] {
        let (real, dht) = (other.public_key(), other.dht_key());
        me.driver()
            .call(move |stack, now, _| stack.connect_friend(now, real, dht))
            .await
            .unwrap()
            .unwrap();
    }
    let want_online = |number| {
        move |e: &ToxEvent| {
            // UDP is off: the relay is the only way.
            matches!(e, ToxEvent::FriendConnection { friend, connection } if *friend == number && *connection == Connection::Tcp)
                .then_some(())
        }
    };
    wait_for(
        &mut alice_events,
        "alice sees bob online",
        CONNECT_TIMEOUT,
        want_online(bob_number),
    )
    .await;
    wait_for(
        &mut bob_events,
        "bob sees alice online",
        CONNECT_TIMEOUT,
        want_online(alice_number),
    )
    .await;
    let connect = start.elapsed();

    let sent = Instant::now();
    alice
        .send_message(bob_number, MessageKind::Normal, "hello bob")
        .await
        .unwrap();
    let text = wait_for(&mut bob_events, "bob gets", MESSAGE_TIMEOUT, |e| match e {
        ToxEvent::Message { text, .. } => Some(text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(text, b"hello bob");
    bob.send_message(alice_number, MessageKind::Normal, "hello alice")
        .await
        .unwrap();
    let text = wait_for(
        &mut alice_events,
        "alice gets",
        MESSAGE_TIMEOUT,
        |e| match e {
            ToxEvent::Message { text, .. } => Some(text.clone()),
            _ => None,
        },
    )
    .await;
    assert_eq!(text, b"hello alice");
    let round_trip = sent.elapsed();

    for tox in [&alice, &bob] {
        let stats = tox.driver().stats().await.unwrap();
        assert_eq!(stats.datagrams_sent, 0, "no UDP at all: {stats:?}");
        assert_eq!(stats.datagrams_received, 0);
        assert!(stats.udp_disabled_drops > 0 || stats.dht.sent == 0);
        assert!(stats.relays.established >= 1, "{:?}", stats.relays);
        assert!(stats.relays.sent_routed > 0, "{:?}", stats.relays);
        eprintln!("relays: {:?}", stats.relays);
    }
    eprintln!("connect {connect:?}, message round trip {round_trip:?}");
    alice.shutdown().await;
    bob.shutdown().await;
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}

/// A node with a TCP relay: its UDP port (the first onion path node), its
/// relay port and its key.
#[derive(Debug, Clone, Copy)]
struct Relay {
    udp: u16,
    tcp: u16,
    pk: PublicKey,
}

impl Relay {
    fn of_node(node: &NodeProcess) -> Self {
        Self {
            udp: node.ports[0],
            tcp: node.tcp_ports[0],
            pk: node.public_key,
        }
    }

    fn of_bootstrapd(node: &Bootstrapd) -> Self {
        Self {
            udp: node.port(),
            tcp: node.tcp_port().unwrap(),
            pk: *node.public_key(),
        }
    }
}

/// A toxide client without UDP: the relay is its only way out, and the
/// relay's node (its UDP address, which the relay reaches) its first onion
/// path node, as c-toxcore builds paths without UDP.
fn toxide_without_udp(rt: &tokio::runtime::Runtime, relay: Relay) -> Toxide {
    toxide_without_udp_through(rt, relay, None)
}

/// [`toxide_without_udp`], its relay connections through `proxy` if any.
fn toxide_without_udp_through(
    rt: &tokio::runtime::Runtime,
    relay: Relay,
    proxy: Option<ProxyConfig>,
) -> Toxide {
    let mut builder = ToxBuilder::new()
        .bind_ip(Ipv4Addr::LOCALHOST.into())
        .udp(false)
        .bootstrap(SocketAddr::from((Ipv4Addr::LOCALHOST, relay.udp)), relay.pk)
        .tcp_relay(SocketAddr::from((Ipv4Addr::LOCALHOST, relay.tcp)), relay.pk);
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    let (tox, events) = rt.block_on(builder.spawn()).unwrap();
    Toxide {
        rt: rt.handle().clone(),
        tox,
        events,
        backlog: Default::default(),
        history: Vec::new(),
    }
}

/// A c-toxcore peer without UDP whose only relay is `relay`.
fn ctoxcore_without_udp(relay: Relay) -> CPeer {
    let mut peer = CPeer::spawn(PeerOptions {
        label: Some("c-toxcore".to_owned()),
        no_udp: true,
        ..PeerOptions::default()
    })
    .unwrap();
    peer.bootstrap(relay.udp, &relay.pk).unwrap();
    peer.send_command(&format!(
        "add-tcp-relay 127.0.0.1 {} {}",
        relay.tcp, relay.pk
    ))
    .unwrap();
    peer
}

fn chat(toxide: &mut Toxide, friend: u32, peer: &mut CPeer, number: u32) -> Duration {
    let sent = Instant::now();
    toxide.send(friend, MessageKind::Normal, "from toxide over the relay");
    let got = common::inprocess::peer_message(peer, number, Duration::from_secs(20)).unwrap();
    assert_eq!(got.1, "from toxide over the relay");
    peer.send_message(number, "from c-toxcore over the relay")
        .unwrap();
    assert_eq!(
        toxide.message(friend).1,
        b"from c-toxcore over the relay".to_vec()
    );
    sent.elapsed()
}

/// Not one UDP datagram left, and the onion went through the relay.
fn no_udp_sent(toxide: &Toxide) {
    let stats = toxide.block(toxide.tox.driver().stats()).unwrap();
    assert_eq!(stats.datagrams_sent, 0, "no UDP at all: {stats:?}");
    assert!(stats.relays.sent_onion > 0, "{:?}", stats.relays);
    assert!(stats.relays.received_onion > 0, "{:?}", stats.relays);
    eprintln!("toxide relays: {:?}", stats.relays);
}

/// toxide and c-toxcore, both without UDP, befriend through `relay` (the
/// c-toxcore peer asks if `peer_asks_first`) and chat.
fn befriend_ctoxcore(relay: Relay, peer_asks_first: bool, label: &str) {
    befriend_ctoxcore_through(relay, None, peer_asks_first, label);
}

/// [`befriend_ctoxcore`], toxide's relay connection through `proxy`.
fn befriend_ctoxcore_through(
    relay: Relay,
    proxy: Option<ProxyConfig>,
    peer_asks_first: bool,
    label: &str,
) {
    let rt = runtime();
    let start = Instant::now();
    let mut toxide = toxide_without_udp_through(&rt, relay, proxy);
    let mut peer = ctoxcore_without_udp(relay);
    let (friend, number) = if peer_asks_first {
        peer_asks(&mut toxide, &mut peer, "over the relay, please")
    } else {
        toxide_asks(&mut toxide, &mut peer, "over the relay, please")
    };
    let request_at = start.elapsed();
    both_online(&mut toxide, friend, &mut peer, number);
    let online_at = start.elapsed();
    let round_trip = chat(&mut toxide, friend, &mut peer, number);
    no_udp_sent(&toxide);
    eprintln!(
        "{label}: request at {request_at:?}, online at {online_at:?}, round trip {round_trip:?}"
    );
    rt.block_on(toxide.tox.shutdown());
}

#[test]
fn ctoxcore_asks_toxide_without_udp_through_toxide_node_relay() {
    let node = start_node_with_relay();
    befriend_ctoxcore(
        Relay::of_node(&node),
        true,
        "c-toxcore asks, toxide-node relay",
    );
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn toxide_without_udp_asks_ctoxcore_through_toxide_node_relay() {
    let node = start_node_with_relay();
    befriend_ctoxcore(
        Relay::of_node(&node),
        false,
        "toxide asks, toxide-node relay",
    );
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn toxide_without_udp_and_ctoxcore_through_tox_bootstrapd_relay() {
    let node = Bootstrapd::spawn_with(BootstrapdOptions {
        tcp_relay: true,
        ..BootstrapdOptions::default()
    })
    .unwrap();
    let relay = Relay::of_bootstrapd(&node);
    befriend_ctoxcore(relay, false, "toxide asks, tox-bootstrapd relay");
    befriend_ctoxcore(relay, true, "c-toxcore asks, tox-bootstrapd relay");
}

/// Two toxide clients without UDP, strangers at first: the request and
/// both DHT-PK announcements cross the onion through the relay.
#[test]
fn toxide_clients_without_udp_befriend_through_the_onion_over_toxide_node_relay() {
    let node = start_node_with_relay();
    let relay = Relay::of_node(&node);
    let rt = runtime();
    let start = Instant::now();
    let mut alice = toxide_without_udp(&rt, relay);
    let mut bob = toxide_without_udp(&rt, relay);
    let bob_number = alice
        .block(alice.tox.add_friend(bob.tox.address(), b"over the relay"))
        .unwrap();
    let from = bob.wait(
        "a friend request",
        common::toxide::CONNECT_TIMEOUT,
        |e| match e {
            ToxEvent::FriendRequest { public_key, .. } => Some(*public_key),
            _ => None,
        },
    );
    assert_eq!(from, alice.tox.public_key());
    let request_at = start.elapsed();
    let alice_number = bob.block(bob.tox.add_friend_norequest(from)).unwrap();
    alice.connection(bob_number, true, common::toxide::CONNECT_TIMEOUT);
    bob.connection(alice_number, true, common::toxide::CONNECT_TIMEOUT);
    let online_at = start.elapsed();
    alice.send(bob_number, MessageKind::Normal, "hi bob");
    assert_eq!(bob.message(alice_number).1, b"hi bob".to_vec());
    bob.send(alice_number, MessageKind::Normal, "hi alice");
    assert_eq!(alice.message(bob_number).1, b"hi alice".to_vec());
    for toxide in [&alice, &bob] {
        no_udp_sent(toxide);
    }
    eprintln!("two toxide clients: request at {request_at:?}, online at {online_at:?}");
    rt.block_on(alice.tox.shutdown());
    rt.block_on(bob.tox.shutdown());
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}

/// The mixed case: toxide has UDP and the relay, c-toxcore only the relay.
/// Our onion goes over UDP, c-toxcore's through the relay; our DHT-PK
/// announcements name the relay, and the session can only go through it.
#[test]
fn toxide_with_udp_reaches_ctoxcore_without_through_toxide_node_relay() {
    let node = start_node_with_relay();
    let relay = Relay::of_node(&node);
    let rt = runtime();
    let start = Instant::now();
    let (tox, events) = rt
        .block_on(
            ToxBuilder::new()
                .bind_ip(Ipv4Addr::LOCALHOST.into())
                .port(0)
                .bootstrap(SocketAddr::from((Ipv4Addr::LOCALHOST, relay.udp)), relay.pk)
                .tcp_relay(SocketAddr::from((Ipv4Addr::LOCALHOST, relay.tcp)), relay.pk)
                .spawn(),
        )
        .unwrap();
    let mut toxide = Toxide {
        rt: rt.handle().clone(),
        tox,
        events,
        backlog: Default::default(),
        history: Vec::new(),
    };
    let mut peer = ctoxcore_without_udp(relay);
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "from a UDP client");
    both_online(&mut toxide, friend, &mut peer, number);
    let online_at = start.elapsed();
    let round_trip = chat(&mut toxide, friend, &mut peer, number);
    let stats = toxide.block(toxide.tox.driver().stats()).unwrap();
    assert!(stats.datagrams_sent > 0, "our onion went over UDP");
    assert!(stats.relays.sent_routed > 0, "{:?}", stats.relays);
    eprintln!(
        "UDP toxide, TCP-only c-toxcore: online at {online_at:?}, round trip {round_trip:?}, {:?}",
        stats.relays
    );
    rt.block_on(toxide.tox.shutdown());
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}

/// toxide without UDP whose relay connection goes through a SOCKS5 proxy
/// (Debian's microsocks) and through an HTTP CONNECT proxy (tinyproxy):
/// befriends and chats with c-toxcore without UDP. With a proxy that is
/// not there, the relay is never reached: the client does not go around
/// its proxy.
#[test]
fn toxide_without_udp_reaches_ctoxcore_through_a_proxy_to_toxide_node_relay() {
    let node = start_node_with_relay();
    let relay = Relay::of_node(&node);
    for program in [ProxyProgram::Microsocks, ProxyProgram::Tinyproxy] {
        let (_proxy, config) = common::proxy(program);
        befriend_ctoxcore_through(relay, Some(config), true, &format!("{program:?}"));
    }
    let rt = runtime();
    let gone = ProxyConfig {
        kind: ProxyKind::Socks5,
        addr: SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            toxide_interop::fresh_tcp_port().unwrap(),
        )),
    };
    let toxide = toxide_without_udp_through(&rt, relay, Some(gone));
    std::thread::sleep(Duration::from_secs(2));
    let stats = toxide.block(toxide.tox.driver().stats()).unwrap();
    assert_eq!(stats.relays.established, 0, "{:?}", stats.relays);
    assert!(
        stats.relays.closed > 0,
        "the relay was tried: {:?}",
        stats.relays
    );
    rt.block_on(toxide.tox.shutdown());
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}

/// The relays a client was connected to go into its save (section 0x0A,
/// as c-toxcore writes them), and a client started from that save
/// reconnects to them without being told: without UDP that is its only
/// way back.
#[test]
fn saved_relays_are_reconnected_after_a_restart() {
    let node = start_node_with_relay();
    let relay = Relay::of_node(&node);
    let rt = runtime();
    let established = |toxide: &Toxide| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let stats = toxide.block(toxide.tox.driver().stats()).unwrap();
            if stats.relays.established > 0 {
                return;
            }
            assert!(Instant::now() < deadline, "no relay: {:?}", stats.relays);
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let first = toxide_without_udp(&rt, relay);
    established(&first);
    let save = rt.block_on(first.tox.savedata()).unwrap();
    rt.block_on(first.tox.shutdown());
    let parsed = toxide::messenger::save::SaveData::load(&save).unwrap();
    assert_eq!(parsed.tcp_relays.len(), 1, "{:?}", parsed.tcp_relays);
    assert_eq!(parsed.tcp_relays[0].public_key, relay.pk);
    assert_eq!(parsed.tcp_relays[0].addr.port(), relay.tcp);

    let (tox, events) = rt
        .block_on(
            ToxBuilder::new()
                .savedata(save)
                .bind_ip(Ipv4Addr::LOCALHOST.into())
                .udp(false)
                .spawn(),
        )
        .unwrap();
    let again = Toxide {
        rt: rt.handle().clone(),
        tox,
        events,
        backlog: Default::default(),
        history: Vec::new(),
    };
    established(&again);
    rt.block_on(again.tox.shutdown());
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
}
