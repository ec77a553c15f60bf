//! The drop-in promise, proven by c-toxcore's own test peer: the same
//! unmodified `tox_peer` program (toxide-interop's `c/tox_peer.c`, built
//! against Debian's tox.h and linked against `libtoxcore.so.2`) runs once
//! on this crate's `libtoxcore.so` — the loader finds it first through
//! `LD_LIBRARY_PATH` — and once on Debian's c-toxcore 0.2.18, and the two
//! talk through a private tox-bootstrapd on 127.0.0.1.
//!
//! Every case runs in both roles at once, on two threads sharing the
//! bootstrap node: peer A on toxide's library and B on c-toxcore's, and
//! A on c-toxcore's and B on toxide's. The cases: a friend request
//! accepted, then messages both ways (the longest one, an action,
//! multi-byte UTF-8) with their read receipts; names, status messages and
//! user status; a file sent A→B arriving byte for byte; a conference A
//! founds, titles and invites B to, with messages both ways; and A saved,
//! killed and restarted from its save on its UDP port, its friend coming
//! back online on both sides.
//!
//! Each peer's `/proc/<pid>/maps` is read after it starts, so the test
//! fails — rather than passes on c-toxcore twice — if the loader took
//! Debian's library for the side meant to run on toxide's, or the other
//! way round.
//!
//! Needs what toxide-interop needs (a C compiler, libtoxcore-dev,
//! libsodium-dev, pkg-config) and Debian's tox-bootstrapd.
#![cfg(target_os = "linux")]
// Test helpers: a failed step is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[allow(
    dead_code,
    unused_imports,
    reason = "the helpers for compiled C checks, and their re-exports, are the other tests'"
)]
mod common;

use std::any::Any;
use std::time::Duration;

use rand::Rng;
use toxcore::limits::MAX_MESSAGE_LENGTH;
use toxide_core::PublicKey;
use toxide_interop::{Bootstrapd, CPeer, Event, PeerOptions, TempDir, longest_message, unescape};

use common::peer::{Library, spawn_on};

/// From start to a friend connection: c-toxcore needs about 10 s on
/// loopback (its onion announcements come first).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// One message, receipt, name or conference event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);
/// A 300 KiB file on loopback (a few seconds between c-toxcore peers).
const FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// The two role assignments every case runs in.
const ROLES: [(Library, Library); 2] = [
    (Library::Toxide, Library::CToxcore),
    (Library::CToxcore, Library::Toxide),
];

/// Starts `tox_peer` as `label` on `on`'s library (with `options` for the
/// rest), checking that the library it mapped is that one.
fn spawn(label: &str, on: Library, options: PeerOptions) -> CPeer {
    spawn_on(label, on, options).unwrap_or_else(|e| panic!("{e}"))
}

/// Where peers bootstrap: a tox-bootstrapd's port on 127.0.0.1 and its
/// key, for the role threads to share (the daemon's handle stays on the
/// test's thread).
#[derive(Debug, Clone, Copy)]
struct Node {
    port: u16,
    key: PublicKey,
}

/// Runs `case` in both role assignments at once, on two threads sharing
/// one tox-bootstrapd, and fails with every role's failure.
///
/// Two more c-toxcore peers stay in that network for the whole case: when
/// the faster role ends, its peers die, and without them the slower role
/// would be left in a network of three (the daemon and its own pair)
/// whose lists and onion paths still name the dead peers. A toxide peer
/// was then seen to go unannounced long enough that c-toxcore's friend
/// request missed the 60 s bound (twice in CI-like runs; see the issue
/// note): a shrinking toy network, not what these cases test.
fn in_both_roles(case: impl Fn(Node, Library, Library) + Sync) {
    let bootstrapd = Bootstrapd::spawn().unwrap();
    let node = Node {
        port: bootstrapd.port(),
        key: *bootstrapd.public_key(),
    };
    let _bystanders: Vec<CPeer> = (0..2)
        .map(|i| {
            let mut peer = spawn(
                &format!("bystander-{i}"),
                Library::CToxcore,
                PeerOptions::default(),
            );
            peer.bootstrap(node.port, &node.key).unwrap();
            peer
        })
        .collect();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = ROLES
            .iter()
            .map(|&(a, b)| {
                let case = &case;
                (a, b, scope.spawn(move || case(node, a, b)))
            })
            .collect();
        runs.into_iter()
            .filter_map(|(a, b, run)| {
                let failure = run.join().err()?;
                Some(format!("A on {a}, B on {b}: {}", panic_text(&*failure)))
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n\n"),
        bootstrapd.context()
    );
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

/// Peers A and B on their libraries, both bootstrapped to `node`.
fn spawn_pair(node: Node, a_on: Library, b_on: Library) -> (CPeer, CPeer) {
    let mut a = spawn("peer-a", a_on, PeerOptions::default());
    let mut b = spawn("peer-b", b_on, PeerOptions::default());
    a.bootstrap(node.port, &node.key).unwrap();
    b.bootstrap(node.port, &node.key).unwrap();
    (a, b)
}

/// A asks B with `request`, B sees exactly that from A's key and accepts,
/// and each reports the other online: `(A's number for B, B's for A)`.
fn befriend(a: &mut CPeer, b: &mut CPeer, request: &str) -> (u32, u32) {
    let a_friend_b = a.add_friend(b.tox_id(), request).unwrap();
    let (from, text) = b.wait_friend_request(CONNECT_TIMEOUT).unwrap();
    assert_eq!((&from, text.as_str()), (a.public_key(), request));
    let b_friend_a = b.add_friend_norequest(&from).unwrap();
    a.wait_friend_online(a_friend_b, CONNECT_TIMEOUT).unwrap();
    b.wait_friend_online(b_friend_a, CONNECT_TIMEOUT).unwrap();
    (a_friend_b, b_friend_a)
}

/// `from` sends `to` a message, the longest message, an action and
/// multi-byte UTF-8; `to` gets them in order, intact and with their
/// kinds, and `from` gets a read receipt for each.
fn chat(from: &mut CPeer, from_friend: u32, to: &mut CPeer, to_friend: u32) {
    let who = from.label().to_owned();
    let longest = longest_message(&format!("from {who}:"), MAX_MESSAGE_LENGTH as usize);
    let sent = [
        Event::Message {
            friend: to_friend,
            text: format!("hello from {who}"),
        },
        Event::Message {
            friend: to_friend,
            text: longest,
        },
        Event::Action {
            friend: to_friend,
            text: "waves ✓".to_owned(),
        },
        Event::Message {
            friend: to_friend,
            text: "ünïcödé: 日本語, 🦀, ¿çà va?".to_owned(),
        },
    ];
    let mut ids = Vec::new();
    for event in &sent {
        ids.push(match event {
            Event::Action { text, .. } => from.send_action(from_friend, text).unwrap(),
            Event::Message { text, .. } => from.send_message(from_friend, text).unwrap(),
            other => unreachable!("{other:?}"),
        });
    }
    for expected in &sent {
        let got = to
            .wait_event(
                |e| {
                    matches!(e, Event::Message { friend, .. } | Event::Action { friend, .. }
                        if *friend == to_friend)
                },
                EVENT_TIMEOUT,
            )
            .unwrap();
        assert_eq!(&got, expected, "{} from {who}", to.label());
    }
    for message_id in ids {
        let receipt = Event::Receipt {
            friend: from_friend,
            message_id,
        };
        from.wait_event(|e| *e == receipt, EVENT_TIMEOUT)
            .unwrap_or_else(|e| panic!("no read receipt for message {message_id}: {e}"));
    }
}

#[test]
fn friends_chat_both_ways_with_read_receipts() {
    in_both_roles(|node, a_on, b_on| {
        let (mut a, mut b) = spawn_pair(node, a_on, b_on);
        let (a_friend_b, b_friend_a) = befriend(&mut a, &mut b, "friends? \\ ünïcödé ✓");
        chat(&mut a, a_friend_b, &mut b, b_friend_a);
        chat(&mut b, b_friend_a, &mut a, a_friend_b);
    });
}

#[test]
fn names_status_messages_and_user_status_reach_the_friend() {
    in_both_roles(|node, a_on, b_on| {
        let (mut a, mut b) = spawn_pair(node, a_on, b_on);
        // A's are set before the friend connection (pushed on
        // connecting), B's after it (sent at once).
        a.set_name("Alice ✓").unwrap();
        a.set_status_message("on toxide or not, who can tell?")
            .unwrap();
        let (a_friend_b, b_friend_a) = befriend(&mut a, &mut b, "hi");
        b.wait_event(
            |e| matches!(e, Event::FriendName { friend, name } if *friend == b_friend_a && name == "Alice ✓"),
            EVENT_TIMEOUT,
        )
        .unwrap();
        b.wait_event(
            |e| {
                matches!(e, Event::FriendStatusMessage { friend, text }
                if *friend == b_friend_a && text == "on toxide or not, who can tell?")
            },
            EVENT_TIMEOUT,
        )
        .unwrap();
        b.set_name("Bob 🦀").unwrap();
        b.set_status_message("away for a bit").unwrap();
        b.set_status(1).unwrap();
        a.wait_event(
            |e| matches!(e, Event::FriendName { friend, name } if *friend == a_friend_b && name == "Bob 🦀"),
            EVENT_TIMEOUT,
        )
        .unwrap();
        a.wait_event(
            |e| {
                matches!(e, Event::FriendStatusMessage { friend, text }
                if *friend == a_friend_b && text == "away for a bit")
            },
            EVENT_TIMEOUT,
        )
        .unwrap();
        a.wait_event(
            |e| matches!(e, Event::FriendStatus { friend, status: 1 } if *friend == a_friend_b),
            EVENT_TIMEOUT,
        )
        .unwrap();
        // Each still reports its own as set.
        assert_eq!(a.self_name().unwrap(), "Alice ✓");
        assert_eq!(b.self_status_message().unwrap(), "away for a bit");
    });
}

#[test]
fn a_file_sent_a_to_b_arrives_intact() {
    in_both_roles(|node, a_on, b_on| {
        let (mut a, mut b) = spawn_pair(node, a_on, b_on);
        let (a_friend_b, b_friend_a) = befriend(&mut a, &mut b, "a file for you");
        let mut data = vec![0u8; 300 * 1024];
        rand::rng().fill_bytes(&mut data);
        let source = a.work_dir().join("payload.bin");
        std::fs::write(&source, &data).unwrap();
        let a_file = a.send_file(a_friend_b, &source).unwrap();

        let got = b.receive_file(FILE_TIMEOUT).unwrap();
        assert_eq!(
            (got.friend, got.size, got.name.as_str(), got.bytes),
            (
                b_friend_a,
                data.len() as u64,
                "payload.bin",
                data.len() as u64
            )
        );
        assert_eq!(got.path, b.recv_dir().join("payload.bin"));
        let copy = std::fs::read(&got.path).unwrap();
        assert!(
            copy == data,
            "{} differs from what A sent",
            got.path.display()
        );
        let sent = Event::FileSent {
            friend: a_friend_b,
            file: a_file,
        };
        a.wait_event(|e| *e == sent, FILE_TIMEOUT).unwrap();
    });
}

#[test]
fn a_conference_founded_by_a_is_joined_by_b() {
    in_both_roles(|node, a_on, b_on| {
        let (mut a, mut b) = spawn_pair(node, a_on, b_on);
        let (a_friend_b, b_friend_a) = befriend(&mut a, &mut b, "conference?");
        let ours = a.conference_new().unwrap();
        a.conference_set_title(ours, "A's room ✓").unwrap();
        a.conference_invite(ours, a_friend_b).unwrap();

        // tox_peer joins every text conference it is invited to.
        let joined = b
            .wait_event(
                |e| {
                    matches!(
                        e,
                        Event::ConferenceJoined { .. } | Event::ConferenceJoinFailed { .. }
                    )
                },
                EVENT_TIMEOUT,
            )
            .unwrap();
        let Event::ConferenceJoined {
            conference: theirs,
            friend,
        } = joined
        else {
            panic!("B could not join: {joined:?}")
        };
        assert_eq!(friend, b_friend_a);
        for (peer, conference) in [(&mut a, ours), (&mut b, theirs)] {
            peer.wait_event(
                |e| {
                    *e == Event::ConferencePeers {
                        conference,
                        count: 2,
                    }
                },
                EVENT_TIMEOUT,
            )
            .unwrap();
        }
        let title = b
            .wait_for(format!("CONFERENCE_TITLE {theirs} "), EVENT_TIMEOUT)
            .unwrap();
        // `CONFERENCE_TITLE <conference> <peer> <title>`
        assert_eq!(
            title.splitn(4, ' ').nth(3).map(unescape).as_deref(),
            Some("A's room ✓"),
            "{title}"
        );

        a.conference_send(ours, "hello B, ünïcödé ✓").unwrap();
        b.wait_event(
            |e| {
                matches!(e, Event::ConferenceMessage { conference, text, .. }
                if *conference == theirs && text == "hello B, ünïcödé ✓")
            },
            EVENT_TIMEOUT,
        )
        .unwrap();
        b.conference_send(theirs, "hello A 🦀").unwrap();
        a.wait_event(
            |e| {
                matches!(e, Event::ConferenceMessage { conference, text, .. }
                if *conference == ours && text == "hello A 🦀")
            },
            EVENT_TIMEOUT,
        )
        .unwrap();
        assert_eq!(b.conference_peers(theirs).unwrap(), 2);
    });
}

#[test]
fn a_restarted_from_its_save_gets_its_friend_back() {
    in_both_roles(|node, a_on, b_on| {
        let (mut a, mut b) = spawn_pair(node, a_on, b_on);
        let (a_friend_b, b_friend_a) = befriend(&mut a, &mut b, "remember me");
        a.set_name("saved A").unwrap();

        // A saves and is killed (no tox_kill, no goodbye to B), then
        // starts again from the save at once: with the same profile on
        // the same port (a new key on a used port would confuse
        // c-toxcore's DHT; the same key is welcome back), and a new DHT
        // key, as on every start.
        let saves = TempDir::new("tox_peer-save").unwrap();
        let profile = saves.path().join("a.tox");
        a.save(&profile).unwrap();
        let (id, port) = (*a.tox_id(), a.udp_port());
        drop(a);
        let mut a = spawn(
            "peer-a-restarted",
            a_on,
            PeerOptions {
                udp_port: Some(port),
                savedata: Some(profile),
                ..PeerOptions::default()
            },
        );
        assert_eq!(a.tox_id(), &id);
        assert_eq!(a.self_name().unwrap(), "saved A");
        assert_eq!(a.friend_list().unwrap(), [*b.public_key()]);
        a.bootstrap(node.port, &node.key).unwrap();
        // B sees the old session die (by its timeout, or when it learns
        // A's new DHT key) and the new one come up.
        b.wait_friend_offline(b_friend_a, CONNECT_TIMEOUT).unwrap();
        b.wait_friend_online(b_friend_a, CONNECT_TIMEOUT).unwrap();
        a.wait_friend_online(a_friend_b, CONNECT_TIMEOUT).unwrap();

        let id = a.send_message(a_friend_b, "back from my save").unwrap();
        assert_eq!(
            b.wait_message(EVENT_TIMEOUT).unwrap(),
            (b_friend_a, "back from my save".to_owned())
        );
        let receipt = Event::Receipt {
            friend: a_friend_b,
            message_id: id,
        };
        a.wait_event(|e| *e == receipt, EVENT_TIMEOUT).unwrap();
        b.send_message(b_friend_a, "welcome back").unwrap();
        assert_eq!(
            a.wait_message(EVENT_TIMEOUT).unwrap(),
            (a_friend_b, "welcome back".to_owned())
        );
    });
}
