//! File transfers through the `Tox` API, toxide to toxide on 127.0.0.1
//! (a bootstrap node and two clients, as tests/tox_api.rs): sizes around
//! the chunk size, a stream, pause and resume, cancel and refuse from
//! either side, resuming with a seek, a slow reader that keeps memory
//! bounded while chat keeps flowing, two transfers at once, a friend
//! going offline mid-transfer, and avatars (offered on coming online and
//! on every change, file id the image's SHA-256). Every wait is bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use toxide::Bytes;
use toxide::driver::{Driver, DriverConfig, DriverHandle};
use toxide::messenger::file::{Control, FileError, MAX_AVATAR_SIZE, avatar_hash};
use toxide::messenger::packet::{FILEKIND_AVATAR, FILEKIND_DATA, MessageKind};
use toxide::tox::ToxError;
use toxide::tox::{FileEnded, FileReceiver, IncomingFile, OutgoingFile, Tox, ToxBuilder, ToxEvent};

const STEP: Duration = Duration::from_secs(60);

/// Bounded: every await in these tests goes through here.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {STEP:?}"))
}

struct Pair {
    node: DriverHandle,
    alice: Tox,
    bob: Tox,
    alice_events: mpsc::UnboundedReceiver<ToxEvent>,
    bob_events: mpsc::UnboundedReceiver<ToxEvent>,
}

/// Forwards an instance's events so that it never waits for the test.
fn drain(mut events: toxide::tox::ToxEvents) -> mpsc::UnboundedReceiver<ToxEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    rx
}

async fn wait<T>(
    events: &mut mpsc::UnboundedReceiver<ToxEvent>,
    mut want: impl FnMut(ToxEvent) -> Option<T>,
) -> T {
    within("event", async {
        loop {
            let event = events.recv().await.expect("the instance stopped");
            if let Some(value) = want(event) {
                return value;
            }
        }
    })
    .await
}

/// Alice and Bob, friends (number 0 for each other) and online.
async fn pair() -> Pair {
    pair_with_avatar(None).await
}

/// As [`pair`], Alice setting `avatar` before she has any friend.
async fn pair_with_avatar(avatar: Option<Bytes>) -> Pair {
    let mut config = DriverConfig::new([SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]);
    config.onion = Some(toxide::onion::ServerConfig::default());
    let node = Driver::spawn(config).await.unwrap();
    let builder = || {
        ToxBuilder::new()
            .bind_ip(Ipv4Addr::LOCALHOST.into())
            .port(0)
            .bootstrap(node.local_addr(), node.public_key())
    };
    let (alice, alice_events) = builder().spawn().await.unwrap();
    let (bob, bob_events) = builder().spawn().await.unwrap();
    if avatar.is_some() {
        alice.set_avatar(avatar).await.unwrap();
    }
    let (mut alice_events, mut bob_events) = (drain(alice_events), drain(bob_events));
    assert_eq!(alice.add_friend(bob.address(), b"files").await.unwrap(), 0);
    let from = wait(&mut bob_events, |e| match e {
        ToxEvent::FriendRequest { public_key, .. } => Some(public_key),
        _ => None,
    })
    .await;
    assert_eq!(bob.add_friend_norequest(from).await.unwrap(), 0);
    for events in [&mut alice_events, &mut bob_events] {
        wait(events, |e| {
            matches!(e, ToxEvent::FriendConnection { connection, .. } if connection.is_connected())
                .then_some(())
        })
        .await;
    }
    Pair {
        node,
        alice,
        bob,
        alice_events,
        bob_events,
    }
}

impl Pair {
    async fn shutdown(self) {
        self.alice.shutdown().await;
        self.bob.shutdown().await;
        self.node.shutdown().await;
    }
}

async fn offer(events: &mut mpsc::UnboundedReceiver<ToxEvent>) -> IncomingFile {
    wait(events, |e| match e {
        ToxEvent::FileOffer(offer) => Some(offer),
        _ => None,
    })
    .await
}

/// Everything the receiver yields, and how it ended.
async fn read_all(receiver: &mut FileReceiver) -> (Vec<u8>, Result<(), FileEnded>) {
    let mut got = Vec::new();
    loop {
        match within("file data", receiver.next()).await {
            None => return (got, Ok(())),
            Some(Ok(bytes)) => got.extend_from_slice(&bytes),
            Some(Err(why)) => return (got, Err(why)),
        }
    }
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// A full chunk: a source fed by hand delivers up to the last whole one.
const CHUNK: usize = 1371;

/// Reads from `receiver` until at least `at` bytes are in `got`.
async fn read_until(receiver: &mut FileReceiver, got: &mut Vec<u8>, at: usize) {
    while got.len() < at {
        let chunk = within("file data", receiver.next()).await;
        got.extend_from_slice(&chunk.expect("more data").expect("no error"));
    }
}

#[tokio::test]
async fn files_of_every_size_arrive_whole_and_the_sender_hears_of_it() {
    let mut p = pair().await;
    for (i, len) in [0usize, 1, 1371, 1372, 3 * 1024 * 1024 + 17]
        .into_iter()
        .enumerate()
    {
        let data = pattern(len, i as u32);
        let started = Instant::now();
        let sent = p
            .alice
            .send_file(
                0,
                FILEKIND_DATA,
                Some(len as u64),
                Some([i as u8; 32]),
                format!("file-{len}"),
                std::io::Cursor::new(data.clone()),
            )
            .await
            .unwrap();
        let offered = offer(&mut p.bob_events).await;
        assert_eq!(offered.size(), Some(len as u64));
        assert_eq!(offered.file_id(), [i as u8; 32]);
        assert_eq!(offered.name(), format!("file-{len}").as_bytes());
        assert_eq!(offered.kind(), FILEKIND_DATA);
        let mut receiver = offered.accept().await.unwrap();
        let (got, end) = read_all(&mut receiver).await;
        assert!(end.is_ok(), "{len}: {end:?}");
        assert!(got == data, "{len} bytes: content differs");
        within("sender's end", sent.finished()).await.unwrap();
        let progress = sent.progress();
        assert_eq!(progress.position, len as u64);
        assert!(matches!(progress.ended, Some(Ok(()))));
        assert_eq!(receiver.progress().position, len as u64);
        println!(
            "{len} bytes in {:.3} s ({:.1} MB/s)",
            started.elapsed().as_secs_f64(),
            progress.rate / 1e6
        );
    }
    p.shutdown().await;
}

#[tokio::test]
async fn a_stream_of_unknown_size_ends_where_its_source_does() {
    let mut p = pair().await;
    // Not a multiple of the chunk size, then one (ended by an empty chunk).
    for len in [100_000usize, 1371 * 3] {
        let data = pattern(len, 7);
        let sent = p
            .alice
            .send_file(
                0,
                FILEKIND_DATA,
                None,
                None,
                "stream",
                std::io::Cursor::new(data.clone()),
            )
            .await
            .unwrap();
        let offered = offer(&mut p.bob_events).await;
        assert_eq!(offered.size(), None);
        let mut receiver = offered.accept().await.unwrap();
        let (got, end) = read_all(&mut receiver).await;
        assert!(end.is_ok(), "{end:?}");
        assert!(got == data, "{len}: content differs");
        within("sender's end", sent.finished()).await.unwrap();
    }
    p.shutdown().await;
}

/// A source the test feeds by hand, so that data flows only when told.
fn fed_source() -> (tokio::io::DuplexStream, tokio::io::DuplexStream) {
    tokio::io::duplex(256 * 1024)
}

/// A transfer under way: Alice offers `data` (fed by hand) as `name`
/// with file id `id`, Bob accepts, the first `fed` bytes are fed and at
/// least `read_to` of them read.
struct Running {
    sent: OutgoingFile,
    receiver: FileReceiver,
    feed: tokio::io::DuplexStream,
    got: Vec<u8>,
}

async fn running(
    p: &mut Pair,
    data: &[u8],
    name: &str,
    id: Option<[u8; 32]>,
    fed: usize,
    read_to: usize,
) -> Running {
    let (mut feed, source) = fed_source();
    let sent = p
        .alice
        .send_file(0, FILEKIND_DATA, Some(data.len() as u64), id, name, source)
        .await
        .unwrap();
    let mut receiver = offer(&mut p.bob_events).await.accept().await.unwrap();
    within("feed", feed.write_all(&data[..fed])).await.unwrap();
    let mut got = Vec::new();
    read_until(&mut receiver, &mut got, read_to).await;
    Running {
        sent,
        receiver,
        feed,
        got,
    }
}

/// The position stays put for a while: the transfer is really paused.
async fn stays_at(receiver: &mut FileReceiver, got: &mut Vec<u8>) {
    let before = got.len();
    let _ = tokio::time::timeout(Duration::from_millis(400), async {
        while let Some(Ok(bytes)) = receiver.next().await {
            got.extend_from_slice(&bytes);
        }
    })
    .await;
    assert_eq!(got.len(), before, "no data while paused");
}

#[tokio::test]
async fn either_side_pauses_and_resumes() {
    let mut p = pair().await;
    let data = pattern(400_000, 3);
    // The sender pauses after a first part; the receiver hears of it.
    let Running {
        sent,
        mut receiver,
        mut feed,
        mut got,
    } = running(&mut p, &data, "paused", None, 100_000, 100_000 - CHUNK).await;
    sent.pause().await.unwrap();
    assert!(sent.progress().paused_by_us);
    wait(&mut p.bob_events, |e| {
        matches!(
            e,
            ToxEvent::FileControl {
                control: Control::Pause,
                ..
            }
        )
        .then_some(())
    })
    .await;
    assert!(receiver.progress().paused_by_friend);
    within("feed", feed.write_all(&data[100_000..200_000]))
        .await
        .unwrap();
    stays_at(&mut receiver, &mut got).await;
    assert!(
        receiver.resume().await.is_err(),
        "only the sender lifts its pause"
    );
    sent.resume().await.unwrap();
    read_until(&mut receiver, &mut got, 200_000 - CHUNK).await;

    // The receiver pauses; the sender hears of it.
    receiver.pause().await.unwrap();
    within("the sender sees the pause", async {
        while !sent.progress().paused_by_friend {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    within("feed", feed.write_all(&data[200_000..]))
        .await
        .unwrap();
    stays_at(&mut receiver, &mut got).await;
    receiver.resume().await.unwrap();
    let (rest, end) = read_all(&mut receiver).await;
    got.extend_from_slice(&rest);
    assert!(end.is_ok(), "{end:?}");
    assert!(got == data, "content differs");
    within("sender's end", sent.finished()).await.unwrap();
    p.shutdown().await;
}

#[tokio::test]
async fn either_side_cancels_or_refuses() {
    let mut p = pair().await;
    let data = pattern(300_000, 5);

    // The sender cancels mid-way.
    let Running {
        sent,
        mut receiver,
        feed: _feed,
        got: _got,
    } = running(&mut p, &data, "a", None, 50_000, 50_000 - CHUNK).await;
    sent.cancel().await.unwrap();
    assert!(matches!(
        within("end", sent.finished()).await,
        Err(FileEnded::Cancelled)
    ));
    let (_, end) = read_all(&mut receiver).await;
    assert!(matches!(end, Err(FileEnded::CancelledByFriend)), "{end:?}");

    // The receiver cancels mid-way.
    let Running {
        sent,
        mut receiver,
        feed: _feed,
        got: _got,
    } = running(&mut p, &data, "b", None, 50_000, 50_000 - CHUNK).await;
    receiver.cancel().await.unwrap();
    let (_, end) = read_all(&mut receiver).await;
    assert!(matches!(end, Err(FileEnded::Cancelled)), "{end:?}");
    let end = within("end", sent.finished()).await;
    assert!(matches!(end, Err(FileEnded::CancelledByFriend)), "{end:?}");

    // The receiver refuses an offer; the sender also sees it as an event.
    let sent = p
        .alice
        .send_file(
            0,
            FILEKIND_DATA,
            Some(10),
            None,
            "c",
            std::io::Cursor::new(vec![1; 10]),
        )
        .await
        .unwrap();
    offer(&mut p.bob_events).await.cancel().await.unwrap();
    let end = within("end", sent.finished()).await;
    assert!(matches!(end, Err(FileEnded::CancelledByFriend)), "{end:?}");
    let file = sent.file();
    wait(&mut p.alice_events, |e| {
        matches!(e, ToxEvent::FileControl { file: f, control: Control::Kill, .. } if f == file)
            .then_some(())
    })
    .await;
    p.shutdown().await;
}

#[tokio::test]
async fn a_file_received_in_part_resumes_with_a_seek_and_the_same_id() {
    let mut p = pair().await;
    let data = pattern(500_000, 11);
    let id = [42; 32];
    let Running {
        sent: first,
        mut receiver,
        feed: _feed,
        got: mut have,
    } = running(&mut p, &data, "big", Some(id), 200_000, 150_000).await;
    receiver.cancel().await.unwrap();
    let (rest, _) = read_all(&mut receiver).await;
    have.extend_from_slice(&rest);
    assert!(within("end", first.finished()).await.is_err());
    assert!(have.len() < data.len() && have[..] == data[..have.len()]);

    // Offered again with the same id: Bob asks for the rest only.
    let second = p
        .alice
        .send_file(
            0,
            FILEKIND_DATA,
            Some(data.len() as u64),
            Some(id),
            "big",
            std::io::Cursor::new(data.clone()),
        )
        .await
        .unwrap();
    let offered = offer(&mut p.bob_events).await;
    assert_eq!(offered.file_id(), id);
    offered.seek(have.len() as u64).await.unwrap();
    let mut receiver = offered.accept().await.unwrap();
    assert_eq!(receiver.progress().position, have.len() as u64);
    let (rest, end) = read_all(&mut receiver).await;
    assert!(end.is_ok(), "{end:?}");
    assert_eq!(rest.len(), data.len() - have.len(), "only the rest came");
    have.extend_from_slice(&rest);
    assert!(have == data, "content differs");
    within("end", second.finished()).await.unwrap();
    p.shutdown().await;
}

#[tokio::test]
async fn a_slow_reader_keeps_memory_bounded_while_chat_flows() {
    let mut p = pair().await;
    let data = pattern(4 * 1024 * 1024, 13);
    let sent = p
        .alice
        .send_file(
            0,
            FILEKIND_DATA,
            Some(data.len() as u64),
            None,
            "slow",
            std::io::Cursor::new(data.clone()),
        )
        .await
        .unwrap();
    let mut receiver = offer(&mut p.bob_events).await.accept().await.unwrap();

    // Chat alongside: Alice sends a message every 50 ms; Bob times them.
    let alice = p.alice.clone();
    let mut bob_events = p.bob_events;
    let chat = tokio::spawn(async move {
        let mut latencies = Vec::new();
        for i in 0..30u32 {
            let at = Instant::now();
            alice
                .send_message(0, MessageKind::Normal, format!("message {i}"))
                .await
                .unwrap();
            let text = wait(&mut bob_events, |e| match e {
                ToxEvent::Message { text, .. } => Some(text),
                _ => None,
            })
            .await;
            assert_eq!(text, format!("message {i}").as_bytes());
            latencies.push(at.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        latencies
    });

    // Bob reads 16 KiB every 10 ms at most: about 1.6 MB/s.
    let mut got = Vec::with_capacity(data.len());
    let mut peak = 0;
    let mut paused_for_us = false;
    let started = Instant::now();
    loop {
        peak = peak.max(receiver.unread_bytes());
        paused_for_us |= receiver.progress().paused_by_us;
        match within("file data", receiver.next()).await {
            None => break,
            Some(Ok(bytes)) => {
                let before = got.len() / 16_384;
                got.extend_from_slice(&bytes);
                if got.len() / 16_384 != before {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            Some(Err(why)) => panic!("{why}"),
        }
    }
    assert!(got == data, "content differs");
    within("end", sent.finished()).await.unwrap();
    let latencies = within("chat", chat).await.unwrap();
    let worst = latencies.iter().max().unwrap();
    println!(
        "slow reader: {:.1} s, peak buffered {peak} bytes, paused for the reader: {paused_for_us}, worst chat latency {worst:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        paused_for_us,
        "the reader was slow enough to pause the sender"
    );
    // The high-water mark (256 KiB) plus what was in flight when the
    // pause left: a fraction of the file.
    assert!(peak < 1024 * 1024, "peak buffered {peak}");
    assert!(
        *worst < Duration::from_millis(500),
        "chat latency {latencies:?}"
    );
    p.alice.shutdown().await;
    p.bob.shutdown().await;
    p.node.shutdown().await;
}

#[tokio::test]
async fn two_transfers_to_one_friend_share_the_session() {
    let mut p = pair().await;
    let one = pattern(2 * 1024 * 1024, 1);
    let two = pattern(2 * 1024 * 1024, 2);
    let first = p
        .alice
        .send_file(
            0,
            FILEKIND_DATA,
            Some(one.len() as u64),
            None,
            "one",
            std::io::Cursor::new(one.clone()),
        )
        .await
        .unwrap();
    let second = p
        .alice
        .send_file(
            0,
            FILEKIND_DATA,
            Some(two.len() as u64),
            None,
            "two",
            std::io::Cursor::new(two.clone()),
        )
        .await
        .unwrap();
    assert_ne!(first.file(), second.file());
    let a = offer(&mut p.bob_events).await;
    let b = offer(&mut p.bob_events).await;
    let (a, b) = (a.accept().await.unwrap(), b.accept().await.unwrap());
    // Read both at once.
    let read = |mut r: FileReceiver| async move {
        let (got, end) = read_all(&mut r).await;
        (got, end, r)
    };
    let (ra, rb) = tokio::join!(tokio::spawn(read(a)), tokio::spawn(read(b)));
    let ((got_a, end_a, _), (got_b, end_b, _)) = (ra.unwrap(), rb.unwrap());
    assert!(end_a.is_ok() && end_b.is_ok(), "{end_a:?} {end_b:?}");
    assert!(got_a == one, "first differs");
    assert!(got_b == two, "second differs");
    within("end", first.finished()).await.unwrap();
    within("end", second.finished()).await.unwrap();
    // Fair turns: the two finished close together.
    let (ended_a, ended_b) = (first.progress(), second.progress());
    println!(
        "rates: {:.1} and {:.1} MB/s",
        ended_a.rate / 1e6,
        ended_b.rate / 1e6
    );
    let ratio = ended_a.rate / ended_b.rate;
    assert!(
        (0.5..2.0).contains(&ratio),
        "rates {} {}",
        ended_a.rate,
        ended_b.rate
    );
    p.shutdown().await;
}

#[tokio::test]
async fn a_friend_going_offline_ends_both_sides_with_an_error() {
    let mut p = pair().await;
    let data = pattern(300_000, 9);
    let Running {
        sent,
        mut receiver,
        feed: _feed,
        got: _got,
    } = running(&mut p, &data, "cut", None, 100_000, 100_000 - CHUNK).await;

    // Bob goes: Alice's handle ends (her friend went offline), and so
    // does Bob's receiver (his instance shut down).
    p.bob.shutdown().await;
    let end = within("sender's end", sent.finished()).await;
    assert!(matches!(end, Err(FileEnded::FriendOffline)), "{end:?}");
    let (_, end) = read_all(&mut receiver).await;
    assert!(matches!(end, Err(FileEnded::Closed)), "{end:?}");
    wait(&mut p.alice_events, |e| {
        matches!(e, ToxEvent::FileBroken { .. }).then_some(())
    })
    .await;
    p.alice.shutdown().await;
    p.node.shutdown().await;
}

#[tokio::test]
async fn dropping_the_receiver_or_deleting_the_friend_ends_the_transfer() {
    let mut p = pair().await;
    let data = pattern(300_000, 21);

    // A receiver dropped mid-way cancels: the sender hears of it.
    let Running {
        sent,
        receiver,
        feed: _feed,
        got: _got,
    } = running(&mut p, &data, "dropped", None, 50_000, 50_000 - CHUNK).await;
    drop(receiver);
    let end = within("end", sent.finished()).await;
    assert!(matches!(end, Err(FileEnded::CancelledByFriend)), "{end:?}");

    // Alice deletes Bob mid-transfer: her handle ends at once, and Bob's
    // receiver sees her go offline.
    let Running {
        sent,
        mut receiver,
        feed: _feed,
        got: _got,
    } = running(&mut p, &data, "deleted", None, 50_000, 50_000 - CHUNK).await;
    p.alice.delete_friend(0).await.unwrap();
    let end = within("end", sent.finished()).await;
    assert!(matches!(end, Err(FileEnded::FriendRemoved)), "{end:?}");
    let (_, end) = read_all(&mut receiver).await;
    assert!(matches!(end, Err(FileEnded::FriendOffline)), "{end:?}");
    p.shutdown().await;
}

/// Alice's avatar reaches Bob when he comes online and whenever it
/// changes: an offer of kind avatar, no name, file id the SHA-256 of the
/// image; a change cancels the older offer still under way; "no avatar"
/// is an offer of size 0. Alice's application hears nothing of these
/// transfers, which her instance runs itself.
#[tokio::test]
async fn avatars_go_to_friends_coming_online_and_on_every_change() {
    let first = pattern(5000, 1);
    let mut p = pair_with_avatar(Some(Bytes::from(first.clone()))).await;
    assert_eq!(
        p.alice.avatar().await.unwrap(),
        Some(Bytes::from(first.clone()))
    );

    // Offered as Bob came online.
    let offered = offer(&mut p.bob_events).await;
    assert!(offered.is_avatar());
    assert_eq!(offered.kind(), FILEKIND_AVATAR);
    assert_eq!(offered.file_id(), avatar_hash(&first));
    assert_eq!(offered.size(), Some(5000));
    assert_eq!(offered.name(), b"");
    let mut receiver = offered.accept().await.unwrap();
    let (got, end) = read_all(&mut receiver).await;
    assert!(end.is_ok() && got == first, "{end:?}, {} bytes", got.len());

    // A new one while the old is still on offer: the old is cancelled.
    let second = pattern(3000, 2);
    let third = pattern(MAX_AVATAR_SIZE, 3);
    p.alice
        .set_avatar(Some(Bytes::from(second.clone())))
        .await
        .unwrap();
    let stale = offer(&mut p.bob_events).await;
    assert_eq!(stale.file_id(), avatar_hash(&second));
    p.alice
        .set_avatar(Some(Bytes::from(third.clone())))
        .await
        .unwrap();
    let stale_file = stale.file();
    wait(&mut p.bob_events, |e| {
        (e == ToxEvent::FileControl {
            friend: 0,
            file: stale_file,
            control: Control::Kill,
        })
        .then_some(())
    })
    .await;
    let offered = offer(&mut p.bob_events).await;
    assert!(offered.is_avatar());
    assert_eq!(offered.file_id(), avatar_hash(&third));
    let mut receiver = offered.accept().await.unwrap();
    let (got, end) = read_all(&mut receiver).await;
    assert!(end.is_ok() && got == third, "{end:?}, {} bytes", got.len());

    // Bob has this one already: he refuses the next offer of it.
    p.alice
        .set_avatar(Some(Bytes::from(third.clone())))
        .await
        .unwrap();
    let again = offer(&mut p.bob_events).await;
    assert_eq!(again.file_id(), avatar_hash(&third));
    again.cancel().await.unwrap();

    // No avatar.
    p.alice.set_avatar(None).await.unwrap();
    let none = offer(&mut p.bob_events).await;
    assert!(none.is_avatar());
    assert_eq!(none.size(), Some(0));
    assert_eq!(none.file_id(), avatar_hash(b""));
    assert_eq!(p.alice.avatar().await.unwrap(), None);
    none.cancel().await.unwrap();

    // Too large for clients to take.
    let too_large = p
        .alice
        .set_avatar(Some(Bytes::from(vec![0; MAX_AVATAR_SIZE + 1])))
        .await;
    assert!(
        matches!(too_large, Err(ToxError::File(FileError::AvatarTooLarge(_)))),
        "{too_large:?}"
    );

    // Chat still crosses, and nothing of the avatar transfers reached
    // Alice's application before it.
    p.bob
        .send_message(0, MessageKind::Normal, "thanks")
        .await
        .unwrap();
    wait(&mut p.alice_events, |e| match e {
        ToxEvent::Message { .. } => Some(()),
        ToxEvent::FileControl { .. } | ToxEvent::FileBroken { .. } | ToxEvent::FileOffer(_) => {
            panic!("Alice's application heard of a file: {e:?}")
        }
        _ => None,
    })
    .await;
    p.shutdown().await;
}

/// A handle whose transfer ended names only that transfer: once its slot
/// carries the next file, the old handles' commands are refused and the
/// new file is untouched.
#[tokio::test]
async fn a_finished_transfers_handles_never_touch_the_next_file_in_its_slot() {
    let mut p = pair().await;
    let send = |seed: u32| {
        let data = pattern(50_000, seed);
        p.alice.send_file(
            0,
            FILEKIND_DATA,
            Some(data.len() as u64),
            None,
            "f",
            std::io::Cursor::new(data),
        )
    };
    let first = send(1).await.unwrap();
    let offered = offer(&mut p.bob_events).await;
    let stale_offer = offered.clone();
    let mut first_received = offered.accept().await.unwrap();
    let (got, end) = read_all(&mut first_received).await;
    assert!(end.is_ok() && got == pattern(50_000, 1));
    within("the first file's end", first.finished())
        .await
        .unwrap();

    let second = send(2).await.unwrap();
    assert_eq!(second.file(), first.file(), "the slot is reused");
    let next = offer(&mut p.bob_events).await;
    assert_eq!(next.file(), stale_offer.file(), "the slot is reused");
    // Every handle of the first transfer is refused.
    assert!(first.pause().await.is_err());
    assert!(first.cancel().await.is_err());
    assert!(first_received.pause().await.is_err());
    assert!(first_received.cancel().await.is_err());
    assert!(stale_offer.seek(10).await.is_err());
    assert!(stale_offer.accept().await.is_err());
    // The second file was neither paused nor cancelled by any of that.
    let mut receiver = next.accept().await.unwrap();
    let (got, end) = read_all(&mut receiver).await;
    assert!(end.is_ok(), "{end:?}");
    assert!(got == pattern(50_000, 2), "the second file arrived whole");
    within("the second file's end", second.finished())
        .await
        .unwrap();
    p.shutdown().await;
}
