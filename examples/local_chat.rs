//! A whole Tox network on loopback, through the `Tox` API: a bootstrap
//! node and two clients who befriend and chat. Alice sends Bob a friend
//! request (it travels the onion); Bob accepts; their DHT keys cross, the
//! DHT finds their addresses, a net_crypto session opens, each says ONLINE
//! and pushes its name, and they talk: messages, read receipts, and a few
//! timed round trips. Every step prints the time since start.
//!
//! Run: `cargo run --release --example local_chat`
//!
//! Everything binds 127.0.0.1 and every wait is bounded; LAN discovery is
//! off, as in every example.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use toxide::driver::{Driver, DriverConfig};
use toxide::messenger::packet::MessageKind;
use toxide::onion::ServerConfig;
use toxide::tox::{ToxBuilder, ToxEvent, ToxEvents};

/// c-toxcore needs ~8 s to announce a client; allow plenty.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Timed message round trips at the end.
const ROUND_TRIPS: usize = 20;

type Error = Box<dyn std::error::Error>;

/// The next event `want` takes a value from, or an error after [`TIMEOUT`].
async fn wait<T>(
    events: &mut ToxEvents,
    what: &str,
    mut want: impl FnMut(ToxEvent) -> Option<T>,
) -> Result<T, Error> {
    let found = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.recv().await {
            if let Some(value) = want(event) {
                return Some(value);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(value)) => Ok(value),
        _ => Err(format!("no {what} within {TIMEOUT:?}").into()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let step = |what: &str| println!("[{:6.2} s] {what}", started.elapsed().as_secs_f64());

    let mut config = DriverConfig::new([SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]);
    config.onion = Some(ServerConfig::default());
    let node = Driver::spawn(config).await?;
    step(&format!("bootstrap node on {}", node.local_addr()));

    let client = || {
        ToxBuilder::new()
            .bind_ip(Ipv4Addr::LOCALHOST.into())
            .port(0)
            .bootstrap(node.local_addr(), node.public_key())
            .spawn()
    };
    let (alice, mut alice_events) = client().await?;
    let (bob, mut bob_events) = client().await?;
    alice.set_name("Alice").await?;
    bob.set_name("Bob").await?;
    step(&format!("Alice {}", alice.address()));
    step(&format!("Bob   {}", bob.address()));

    let bob_number = alice
        .add_friend(bob.address(), b"Hi Bob, it's Alice")
        .await?;
    step("Alice sent Bob a friend request");
    let (alice_key, message) = wait(&mut bob_events, "friend request", |e| match e {
        ToxEvent::FriendRequest {
            public_key,
            message,
        } => Some((public_key, message)),
        _ => None,
    })
    .await?;
    step(&format!(
        "Bob got it: \"{}\"; accepts",
        String::from_utf8_lossy(&message)
    ));
    let alice_number = bob.add_friend_norequest(alice_key).await?;

    wait(&mut alice_events, "Bob online", |e| {
        matches!(e, ToxEvent::FriendConnection { online: true, .. }).then_some(())
    })
    .await?;
    step("Alice sees Bob online");
    wait(&mut bob_events, "Alice online", |e| {
        matches!(e, ToxEvent::FriendConnection { online: true, .. }).then_some(())
    })
    .await?;
    step("Bob sees Alice online");

    let id = alice
        .send_message(bob_number, MessageKind::Normal, "Hello Bob!")
        .await?;
    let text = wait(&mut bob_events, "message", |e| match e {
        ToxEvent::Message { text, .. } => Some(text),
        _ => None,
    })
    .await?;
    step(&format!(
        "Bob: Alice says \"{}\"",
        String::from_utf8_lossy(&text)
    ));
    wait(&mut alice_events, "read receipt", |e| {
        matches!(e, ToxEvent::ReadReceipt { message_id, .. } if message_id == id).then_some(())
    })
    .await?;
    step("Alice: Bob has read it");
    bob.send_message(alice_number, MessageKind::Action, "waves back")
        .await?;
    let text = wait(&mut alice_events, "action", |e| match e {
        ToxEvent::Message { text, .. } => Some(text),
        _ => None,
    })
    .await?;
    step(&format!("Alice: * Bob {}", String::from_utf8_lossy(&text)));

    // Round trips: Alice sends, Bob's application answers, Alice times it.
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS {
        let sent = Instant::now();
        alice
            .send_message(bob_number, MessageKind::Normal, format!("ping {i}"))
            .await?;
        let text = wait(&mut bob_events, "ping", |e| match e {
            ToxEvent::Message { text, .. } => Some(text),
            _ => None,
        })
        .await?;
        bob.send_message(alice_number, MessageKind::Normal, text)
            .await?;
        wait(&mut alice_events, "pong", |e| {
            matches!(e, ToxEvent::Message { .. }).then_some(())
        })
        .await?;
        times.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let max = times.last().copied().unwrap_or_default();
    step(&format!(
        "{ROUND_TRIPS} message round trips (application to application): median {median:.3} ms, max {max:.3} ms"
    ));

    alice.shutdown().await;
    wait(&mut bob_events, "Alice offline", |e| {
        matches!(e, ToxEvent::FriendConnection { online: false, .. }).then_some(())
    })
    .await?;
    step("Alice quit; Bob sees her offline at once");
    bob.shutdown().await;
    node.shutdown().await;
    Ok(())
}
