//! A whole Tox network on loopback: a bootstrap node and two clients who
//! chat. Alice sends Bob a friend request through the onion; Bob accepts;
//! each learns the other's DHT key, the DHT finds their addresses, and a
//! net_crypto session opens between them; over it they say they are
//! online and exchange messages, as Tox messenger packets (ONLINE, then
//! MESSAGE: packet id 64 and the text). The messenger layer that will do
//! this for an application (names, receipts, files) comes next; this is
//! the wire underneath it.
//!
//! Run: `cargo run --release --example local_chat`
//!
//! Everything binds 127.0.0.1 and every wait is bounded; LAN discovery is
//! off, as in every example.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use toxide::driver::{DriverConfig, next_onion_event};
use toxide::net_crypto::Event;
use toxide::onion::ServerConfig;
use toxide::{
    Bytes, ClientEvent, ClientIdentity, Driver, DriverHandle, KeyPair, NoSpam, PackedNode,
    PublicKey, StackEvent,
};

/// Messenger packet ids (checklist M1, M3).
const PACKET_ID_ONLINE: u8 = 24;
const PACKET_ID_MESSAGE: u8 = 64;

/// c-toxcore needs ~8 s to announce a client; allow plenty.
const TIMEOUT: Duration = Duration::from_secs(60);

type Error = Box<dyn std::error::Error>;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A client: DHT, the onion service every node gives the network, and the
/// onion client for `keys`.
async fn client(keys: KeyPair, node: PackedNode) -> Result<DriverHandle, Error> {
    let mut config = DriverConfig::new([loopback()]);
    config.onion = Some(ServerConfig::default());
    config.client = Some(ClientIdentity {
        keys,
        nospam: NoSpam::random(&mut rand::rng()),
    });
    let handle = Driver::spawn(config).await?;
    handle.bootstrap(node).await?;
    Ok(handle)
}

/// The next onion event `want` accepts, or an error after [`TIMEOUT`].
async fn next(
    events: &mut broadcast::Receiver<StackEvent>,
    started: Instant,
    want: impl FnMut(&ClientEvent) -> bool,
) -> Result<ClientEvent, Error> {
    next_onion_event(events, started + TIMEOUT, want)
        .await
        .ok_or_else(|| "timed out (or a driver stopped)".into())
}

/// The next session event from `friend` that `want` accepts, or an error
/// after [`TIMEOUT`].
async fn session_event(
    events: &mut broadcast::Receiver<StackEvent>,
    started: Instant,
    friend: PublicKey,
    mut want: impl FnMut(&Event) -> bool,
) -> Result<Event, Error> {
    let deadline = tokio::time::Instant::from_std(started + TIMEOUT);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => {
                return Err("timed out waiting for the session (or a driver stopped)".into());
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Ok(StackEvent::Session { friend: f, event })) if f == friend && want(&event) => {
                return Ok(event);
            }
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    // The bootstrap node: what toxide-node runs (DHT and onion service).
    let mut node_config = DriverConfig::new([loopback()]);
    node_config.onion = Some(ServerConfig::default());
    let node = Driver::spawn(node_config).await?;
    let node_entry = PackedNode::udp(node.local_addr(), node.public_key());
    println!(
        "bootstrap node {} at {}",
        node.public_key(),
        node.local_addr()
    );

    let mut rng = rand::rng();
    let (alice_keys, bob_keys) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
    let (alice_pk, bob_pk) = (alice_keys.public, bob_keys.public);
    let alice = client(alice_keys, node_entry).await?;
    let bob = client(bob_keys, node_entry).await?;
    let (mut alice_events, mut bob_events) = (alice.subscribe(), bob.subscribe());
    let bob_id = bob.tox_id().ok_or("bob has no Tox ID")?;
    println!("alice {alice_pk}\nbob   {bob_id}");

    alice
        .send_friend_request(bob_id, b"Hi Bob, it's Alice".to_vec())
        .await??;
    let request = next(&mut bob_events, started, |e| {
        matches!(e, ClientEvent::FriendRequest { .. })
    })
    .await?;
    if let ClientEvent::FriendRequest {
        public_key,
        message,
    } = request
    {
        println!(
            "{:>5.1} s  bob got a friend request from {public_key}: {:?}",
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&message)
        );
        bob.add_friend(public_key).await??;
    }

    for (who, events, friend) in [
        ("bob", &mut bob_events, alice_pk),
        ("alice", &mut alice_events, bob_pk),
    ] {
        let learned = next(
            events,
            started,
            |e| matches!(e, ClientEvent::FriendDhtPk { friend: f, .. } if *f == friend),
        )
        .await?;
        if let ClientEvent::FriendDhtPk { dht_pk, .. } = learned {
            println!(
                "{:>5.1} s  {who} knows its friend's DHT key {dht_pk}",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Each side's session with the other comes up; both say "online".
    for (who, events, handle, friend) in [
        ("alice", &mut alice_events, &alice, bob_pk),
        ("bob", &mut bob_events, &bob, alice_pk),
    ] {
        session_event(events, started, friend, |e| {
            matches!(e, Event::Established { .. })
        })
        .await?;
        println!(
            "{:>5.1} s  {who}'s encrypted session with its friend is up",
            started.elapsed().as_secs_f64()
        );
        handle
            .send_lossless(friend, Bytes::from_static(&[PACKET_ID_ONLINE]))
            .await??;
    }
    for (from, to, sender, to_events, from_pk, to_pk, text) in [
        (
            "alice",
            "bob",
            &alice,
            &mut bob_events,
            alice_pk,
            bob_pk,
            "Hi Bob!",
        ),
        (
            "bob",
            "alice",
            &bob,
            &mut alice_events,
            bob_pk,
            alice_pk,
            "Hi Alice, got it.",
        ),
    ] {
        let mut packet = vec![PACKET_ID_MESSAGE];
        packet.extend_from_slice(text.as_bytes());
        let sent = Instant::now();
        sender.send_lossless(to_pk, Bytes::from(packet)).await??;
        let got = session_event(to_events, started, from_pk, |e| {
            matches!(e, Event::Lossless { data, .. } if data.first() == Some(&PACKET_ID_MESSAGE))
        })
        .await?;
        if let Event::Lossless { data, .. } = got {
            println!(
                "{:>5.1} s  {from} -> {to}: {:?} ({:.2} ms)",
                started.elapsed().as_secs_f64(),
                String::from_utf8_lossy(data.get(1..).unwrap_or_default()),
                sent.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    for handle in [&alice, &bob, &node] {
        handle.shutdown().await;
    }
    Ok(())
}
