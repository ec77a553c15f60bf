//! A whole Tox network on loopback, through the `Tox` API: a bootstrap
//! node and two clients who befriend and chat. Alice sends Bob a friend
//! request (it travels the onion); Bob accepts; their DHT keys cross, the
//! DHT finds their addresses, a net_crypto session opens, each says ONLINE
//! and pushes its name, and they talk: messages, read receipts, and a few
//! timed round trips. Then Alice sets an avatar, which her instance offers
//! Bob by itself (he checks its SHA-256 file id), and sends him 8 MiB of
//! generated data, which Bob checks byte for byte as it streams in; last,
//! she starts a conference, invites Bob, and he speaks in it. Every step
//! prints the time since start.
//!
//! Run: `cargo run --release --example local_chat`
//!
//! Everything binds 127.0.0.1 and every wait is bounded; LAN discovery is
//! off, as in every example.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use toxide::Bytes;
use toxide::driver::{Driver, DriverConfig};
use toxide::messenger::file::avatar_hash;
use toxide::messenger::packet::{FILEKIND_DATA, MessageKind};
use toxide::onion::ServerConfig;
use toxide::tox::{FileReceiver, ToxBuilder, ToxEvent, ToxEvents};

/// c-toxcore needs ~8 s to announce a client; allow plenty.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Timed message round trips at the end.
const ROUND_TRIPS: usize = 20;
/// The file Alice sends Bob.
const FILE_SIZE: u64 = 8 * 1024 * 1024;

/// Byte `i` of the generated file: the receiver recomputes it, so
/// neither side holds the whole file.
fn file_byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// The generated file as an `AsyncRead` for `send_file`: bytes are made
/// as they are read.
struct GeneratedFile {
    at: u64,
}

impl tokio::io::AsyncRead for GeneratedFile {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let left = FILE_SIZE - self.at;
        let n = left.min(buf.remaining() as u64);
        let start = self.at;
        let bytes: Vec<u8> = (start..start + n).map(file_byte).collect();
        buf.put_slice(&bytes);
        self.at += n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// Reads a received file to its end, checking every byte against
/// [`file_byte`]; returns how many arrived and whether all matched.
async fn check_file(receiver: &mut FileReceiver) -> Result<(u64, bool), Error> {
    let mut at = 0u64;
    let mut same = true;
    let read = tokio::time::timeout(TIMEOUT, async {
        while let Some(chunk) = receiver.next().await {
            for &byte in chunk?.iter() {
                same &= byte == file_byte(at);
                at += 1;
            }
        }
        Ok::<_, Error>(())
    })
    .await;
    match read {
        Ok(result) => result.map(|()| (at, same)),
        Err(_) => Err(format!("the file did not arrive within {TIMEOUT:?}").into()),
    }
}

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
        matches!(e, ToxEvent::FriendConnection { connection, .. } if connection.is_connected())
            .then_some(())
    })
    .await?;
    step("Alice sees Bob online");
    wait(&mut bob_events, "Alice online", |e| {
        matches!(e, ToxEvent::FriendConnection { connection, .. } if connection.is_connected())
            .then_some(())
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

    // An avatar: Alice sets it, her instance offers it to Bob, whose
    // application knows it by its file id (the image's SHA-256).
    let image: Vec<u8> = (0..4096u64).map(|i| file_byte(i * 3)).collect();
    alice.set_avatar(Some(Bytes::from(image.clone()))).await?;
    let offer = wait(&mut bob_events, "avatar", |e| match e {
        ToxEvent::FileOffer(offer) if offer.is_avatar() => Some(offer),
        _ => None,
    })
    .await?;
    let hash_ok = offer.file_id() == avatar_hash(&image);
    let mut receiver = offer.accept().await?;
    let mut got = Vec::new();
    while let Some(chunk) = tokio::time::timeout(TIMEOUT, receiver.next()).await? {
        got.extend_from_slice(&chunk?);
    }
    step(&format!(
        "Bob got Alice's avatar: {} bytes, file id {} its SHA-256, content {}",
        got.len(),
        if hash_ok { "is" } else { "is NOT" },
        if got == image {
            "identical"
        } else {
            "DIFFERENT"
        }
    ));

    // A file: 8 MiB of generated data, streamed through both sides.
    let sent_at = Instant::now();
    let sending = alice
        .send_file(
            bob_number,
            FILEKIND_DATA,
            Some(FILE_SIZE),
            None,
            "generated.bin",
            GeneratedFile { at: 0 },
        )
        .await?;
    let offer = wait(&mut bob_events, "file offer", |e| match e {
        ToxEvent::FileOffer(offer) if !offer.is_avatar() => Some(offer),
        _ => None,
    })
    .await?;
    let mut receiver = offer.accept().await?;
    let (bytes, same) = check_file(&mut receiver).await?;
    let received = sent_at.elapsed().as_secs_f64();
    tokio::time::timeout(TIMEOUT, sending.finished()).await??;
    step(&format!(
        "Bob got \"generated.bin\": {bytes} bytes in {received:.3} s ({:.1} MiB/s), {}; Alice heard it arrived",
        bytes as f64 / received / (1024.0 * 1024.0),
        if same && bytes == FILE_SIZE {
            "every byte as sent"
        } else {
            "CONTENT DIFFERS"
        }
    ));
    if !same || bytes != FILE_SIZE || !hash_ok || got != image {
        return Err("a file arrived other than it was sent".into());
    }

    // A conference: Alice starts one and invites Bob, who joins; he
    // speaks in it and she hears him.
    let conference = alice.conference_new().await?;
    alice
        .conference_set_title(conference, "Alice and Bob")
        .await?;
    alice.conference_invite(bob_number, conference).await?;
    let (friend, invite) = wait(&mut bob_events, "conference invite", |e| match e {
        ToxEvent::ConferenceInvite { friend, invite } => Some((friend, invite)),
        _ => None,
    })
    .await?;
    let joined = bob.conference_join(friend, invite).await?;
    wait(&mut bob_events, "conference connected", |e| {
        matches!(e, ToxEvent::ConferenceConnected { conference } if conference == joined)
            .then_some(())
    })
    .await?;
    let title = bob.conference(joined).await?.title;
    step(&format!(
        "Bob joined Alice's conference \"{}\"",
        String::from_utf8_lossy(&title)
    ));
    bob.conference_send(joined, MessageKind::Normal, "Hello, conference!")
        .await?;
    let bob_key = bob.public_key();
    let text = wait(&mut alice_events, "conference message", |e| match e {
        ToxEvent::ConferenceMessage { peer_key, text, .. } if peer_key == bob_key => Some(text),
        _ => None,
    })
    .await?;
    step(&format!(
        "Alice: Bob says \"{}\" in the conference",
        String::from_utf8_lossy(&text)
    ));

    alice.shutdown().await;
    wait(&mut bob_events, "Alice offline", |e| {
        matches!(
            e,
            ToxEvent::FriendConnection {
                connection: toxide::Connection::None,
                ..
            }
        )
        .then_some(())
    })
    .await?;
    step("Alice quit; Bob sees her offline at once");
    bob.shutdown().await;
    node.shutdown().await;
    Ok(())
}
