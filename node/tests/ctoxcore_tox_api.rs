//! The `Tox` API against real c-toxcore 0.2.18 on 127.0.0.1: toxide's
//! application-facing handle ([`Tox`], [`ToxEvents`]) on one side, a
//! `tox_peer` on the other, toxide-node instances as the only bootstrap
//! nodes.
//!
//! Proven on the wire:
//! - friend requests both ways (`Tox::add_friend` accepted by c-toxcore's
//!   `tox_friend_add_norequest`; c-toxcore's `tox_friend_add` seen as
//!   [`ToxEvent::FriendRequest`] and accepted), each side reporting the
//!   other online;
//! - messages and actions both ways, up to the 1372-byte maximum and in
//!   multi-byte UTF-8, with read receipts both ways;
//! - name, status message, user status and typing, pushed on connecting
//!   and changed later, both ways;
//! - a session that carries nothing for a minute stays up on both sides
//!   (alive packets every 8 s against the 32 s timeout);
//! - restarts from saves: toxide's own (encrypted with a passphrase) and
//!   c-toxcore's, each followed by the friend going offline and coming
//!   back online under the same numbers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use toxide::driver::DriverHandle;
use toxide::messenger::messenger::MessengerError;
use toxide::messenger::packet::{MessageKind, UserStatus};
use toxide::tox::{ToxError, ToxEvent};
use toxide_interop::{CPeer, Connection, Event as PeerEvent, TempDir};

use common::inprocess::{longest_message, peer_message, runtime, spawn_peer, start_nodes};
use common::toxide::{CONNECT_TIMEOUT, EVENT_TIMEOUT, Toxide, both_online, peer_asks, toxide_asks};

/// How long the idle session is left alone: nearly twice the 32 s timeout.
const IDLE: Duration = Duration::from_secs(60);

fn peer_receipt(peer: &mut CPeer, number: u32, id: u32) {
    peer.wait_event(
        |e| {
            *e == PeerEvent::Receipt {
                friend: number,
                message_id: id,
            }
        },
        EVENT_TIMEOUT,
    )
    .unwrap();
}

/// One message each way, each read.
fn chat_both_ways(toxide: &mut Toxide, friend: u32, peer: &mut CPeer, number: u32, tag: &str) {
    let to_peer = format!("{tag}: from toxide");
    let id = toxide.send(friend, MessageKind::Normal, &to_peer);
    assert_eq!(
        peer_message(peer, number, EVENT_TIMEOUT).unwrap(),
        (MessageKind::Normal, to_peer)
    );
    toxide.receipt(friend, id);
    let to_toxide = format!("{tag}: from c-toxcore");
    let id = peer.send_message(number, &to_toxide).unwrap();
    assert_eq!(
        toxide.message(friend),
        (MessageKind::Normal, to_toxide.into_bytes())
    );
    peer_receipt(peer, number, id);
}

/// Whether the peer reported friend `number` offline in `lines`.
fn went_offline(lines: &[String], number: u32) -> bool {
    lines.iter().any(|l| {
        PeerEvent::parse(l)
            == PeerEvent::FriendConnection {
                friend: number,
                status: Connection::None,
            }
    })
}

fn shutdown(rt: &Runtime, nodes: Vec<DriverHandle>) {
    for node in nodes {
        rt.block_on(node.shutdown());
    }
}

#[test]
fn friend_requests_both_ways_then_chat_with_read_receipts() {
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut asked = spawn_peer("asked-by-toxide", &nodes[1], None);
    let mut asking = spawn_peer("asking-toxide", &nodes[2], None);

    // One request each way; numbers are handed out in adding order.
    let (a, a_number) = toxide_asks(&mut toxide, &mut asked, "toxide here, add me");
    let (b, b_number) = peer_asks(&mut toxide, &mut asking, "c-toxcore here ✓ ünï");
    assert_eq!((a, b), (0, 1));
    assert_eq!((a_number, b_number), (0, 0));
    both_online(&mut toxide, a, &mut asked, a_number);
    both_online(&mut toxide, b, &mut asking, b_number);
    assert_eq!(toxide.block(toxide.tox.friends()).unwrap(), [a, b]);
    let info = toxide.block(toxide.tox.friend(a)).unwrap();
    assert_eq!(info.public_key, *asked.public_key());
    let info = toxide.block(toxide.tox.friend(b)).unwrap();
    assert_eq!(info.public_key, *asking.public_key());
    assert_eq!(asked.friend_list().unwrap(), [toxide.tox.public_key()]);
    assert_eq!(asking.friend_list().unwrap(), [toxide.tox.public_key()]);
    eprintln!("requests both ways, all online: {:?}", started.elapsed());

    // toxide → c-toxcore: a message, the longest one (mostly multi-byte
    // UTF-8) and an action, in order, each with its read receipt.
    let sent = [
        (MessageKind::Normal, "hello c-toxcore".to_owned()),
        (MessageKind::Normal, longest_message("from toxide:")),
        (MessageKind::Action, "waves 👋".to_owned()),
    ];
    let ids: Vec<u32> = sent
        .iter()
        .map(|(kind, text)| toxide.send(a, *kind, text))
        .collect();
    for expected in &sent {
        assert_eq!(
            peer_message(&mut asked, a_number, EVENT_TIMEOUT).unwrap(),
            *expected
        );
    }
    for &id in &ids {
        toxide.receipt(a, id);
    }
    // One byte too many is refused before anything is sent.
    let too_long = format!("{}x", longest_message(""));
    let refused = toxide.block(toxide.tox.send_message(a, MessageKind::Normal, too_long));
    assert!(
        matches!(refused, Err(ToxError::Messenger(MessengerError::Packet(_)))),
        "{refused:?}"
    );

    // c-toxcore → toxide: the same kinds, and c-toxcore's receipts from
    // toxide's acknowledgements.
    let sent = [
        (MessageKind::Normal, "hello toxide".to_owned()),
        (MessageKind::Normal, longest_message("from c-toxcore:")),
        (MessageKind::Action, "nods ✓".to_owned()),
    ];
    let mut ids = Vec::new();
    for (kind, text) in &sent {
        let id = match kind {
            MessageKind::Normal => asked.send_message(a_number, text),
            MessageKind::Action => asked.send_action(a_number, text),
        };
        ids.push(id.unwrap());
    }
    for (kind, text) in &sent {
        assert_eq!(toxide.message(a), (*kind, text.as_bytes().to_vec()));
    }
    for &id in &ids {
        peer_receipt(&mut asked, a_number, id);
    }

    // The friend who asked chats too.
    chat_both_ways(&mut toxide, b, &mut asking, b_number, "second friend");
    assert!(
        !toxide.history.iter().any(|e| matches!(
            e,
            ToxEvent::FriendConnection {
                connection: toxide::Connection::None,
                ..
            }
        )),
        "{:#?}",
        toxide.history
    );
    eprintln!("chat with receipts done: {:?}", started.elapsed());

    toxide.block(toxide.tox.shutdown());
    asked.quit().unwrap();
    asking.quit().unwrap();
    shutdown(&rt, nodes);
}

#[test]
fn names_status_messages_user_statuses_and_typing_both_ways() {
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, 2);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut peer = spawn_peer("profile-peer", &nodes[1], None);

    // Set before befriending: pushed when the session comes up.
    toxide.block(toxide.tox.set_name("toxide ✓")).unwrap();
    toxide
        .block(toxide.tox.set_status_message("testing the Tox API"))
        .unwrap();
    toxide
        .block(toxide.tox.set_status(UserStatus::Away))
        .unwrap();
    peer.set_name("c-toxcore ünï").unwrap();
    peer.set_status_message("running 0.2.18").unwrap();
    peer.set_status(2).unwrap();
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "profiles");
    both_online(&mut toxide, friend, &mut peer, number);

    let name = toxide.wait("the friend's name", EVENT_TIMEOUT, |e| match e {
        ToxEvent::FriendName { friend: f, name } if *f == friend && !name.is_empty() => {
            Some(name.clone())
        }
        _ => None,
    });
    assert_eq!(name, "c-toxcore ünï".as_bytes());
    toxide.wait("the friend's status message", EVENT_TIMEOUT, |e| {
        (*e == ToxEvent::FriendStatusMessage {
            friend,
            text: b"running 0.2.18".to_vec(),
        })
        .then_some(())
    });
    toxide.wait("the friend's status", EVENT_TIMEOUT, |e| {
        (*e == ToxEvent::FriendStatus {
            friend,
            status: UserStatus::Busy,
        })
        .then_some(())
    });
    let peer_sees = |peer: &mut CPeer, expected: PeerEvent| {
        peer.wait_event(|e| *e == expected, EVENT_TIMEOUT)
            .unwrap_or_else(|e| panic!("c-toxcore never saw {expected:?}: {e}"));
    };
    peer_sees(
        &mut peer,
        PeerEvent::FriendName {
            friend: number,
            name: "toxide ✓".into(),
        },
    );
    peer_sees(
        &mut peer,
        PeerEvent::FriendStatusMessage {
            friend: number,
            text: "testing the Tox API".into(),
        },
    );
    peer_sees(
        &mut peer,
        PeerEvent::FriendStatus {
            friend: number,
            status: UserStatus::Away.to_u8(),
        },
    );
    eprintln!("profiles pushed on connecting: {:?}", started.elapsed());

    // toxide changes everything while online; c-toxcore sees each change.
    toxide
        .block(toxide.tox.set_name("toxide, renamed"))
        .unwrap();
    peer_sees(
        &mut peer,
        PeerEvent::FriendName {
            friend: number,
            name: "toxide, renamed".into(),
        },
    );
    toxide
        .block(toxide.tox.set_status_message("out to lunch \\o/ 🍜"))
        .unwrap();
    peer_sees(
        &mut peer,
        PeerEvent::FriendStatusMessage {
            friend: number,
            text: "out to lunch \\o/ 🍜".into(),
        },
    );
    toxide
        .block(toxide.tox.set_status(UserStatus::Busy))
        .unwrap();
    peer_sees(
        &mut peer,
        PeerEvent::FriendStatus {
            friend: number,
            status: UserStatus::Busy.to_u8(),
        },
    );
    toxide.block(toxide.tox.set_typing(friend, true)).unwrap();
    peer_sees(
        &mut peer,
        PeerEvent::FriendTyping {
            friend: number,
            typing: true,
        },
    );
    // "Not typing" was pushed on connecting too: only a newer one counts.
    peer.take_unclaimed_events();
    toxide.block(toxide.tox.set_typing(friend, false)).unwrap();
    peer_sees(
        &mut peer,
        PeerEvent::FriendTyping {
            friend: number,
            typing: false,
        },
    );

    // c-toxcore changes everything; toxide sees each change.
    peer.set_name("c-toxcore, renamed").unwrap();
    toxide.wait("the new name", EVENT_TIMEOUT, |e| {
        (*e == ToxEvent::FriendName {
            friend,
            name: b"c-toxcore, renamed".to_vec(),
        })
        .then_some(())
    });
    peer.set_status_message("back in 5 ✓").unwrap();
    toxide.wait("the new status message", EVENT_TIMEOUT, |e| {
        (*e == ToxEvent::FriendStatusMessage {
            friend,
            text: "back in 5 ✓".as_bytes().to_vec(),
        })
        .then_some(())
    });
    peer.set_status(1).unwrap();
    toxide.wait("the new status", EVENT_TIMEOUT, |e| {
        (*e == ToxEvent::FriendStatus {
            friend,
            status: UserStatus::Away,
        })
        .then_some(())
    });
    peer.set_typing(number, true).unwrap();
    toxide.wait("typing", EVENT_TIMEOUT, |e| {
        (*e == ToxEvent::FriendTyping {
            friend,
            typing: true,
        })
        .then_some(())
    });
    assert!(toxide.block(toxide.tox.friend(friend)).unwrap().typing);
    toxide.forget(|e| matches!(e, ToxEvent::FriendTyping { .. }));
    peer.set_typing(number, false).unwrap();
    toxide.wait("typing stopped", EVENT_TIMEOUT, |e| {
        (*e == ToxEvent::FriendTyping {
            friend,
            typing: false,
        })
        .then_some(())
    });

    // What toxide keeps of its friend is the last of each.
    let info = toxide.block(toxide.tox.friend(friend)).unwrap();
    assert_eq!(info.public_key, *peer.public_key());
    assert!(info.connection.is_connected());
    assert_eq!(info.name, b"c-toxcore, renamed");
    assert_eq!(info.status_message, "back in 5 ✓".as_bytes());
    assert_eq!(info.status, UserStatus::Away);
    assert!(!info.typing);
    assert_eq!(toxide.block(toxide.tox.name()).unwrap(), b"toxide, renamed");
    eprintln!("profile changes both ways: {:?}", started.elapsed());

    toxide.block(toxide.tox.shutdown());
    peer.quit().unwrap();
    shutdown(&rt, nodes);
}

#[test]
fn a_session_left_idle_for_a_minute_stays_up() {
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, 2);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut peer = spawn_peer("idle-peer", &nodes[1], None);
    let (friend, number) = peer_asks(&mut toxide, &mut peer, "idle with me");
    both_online(&mut toxide, friend, &mut peer, number);
    chat_both_ways(&mut toxide, friend, &mut peer, number, "before");
    eprintln!("connected: {:?}", started.elapsed());

    // Nothing is sent for a minute: only alive packets keep the session.
    let mark = toxide.history.len();
    let earlier = peer.take_unclaimed_events();
    assert!(!went_offline(&earlier, number), "{earlier:#?}");
    let idle_from = Instant::now();
    toxide.idle(IDLE);
    assert!(idle_from.elapsed() >= IDLE);
    assert_ne!(
        peer.send_command(&format!("friend-connection {number}"))
            .unwrap(),
        "none",
        "c-toxcore lost the session"
    );
    assert!(
        toxide
            .block(toxide.tox.friend(friend))
            .unwrap()
            .connection
            .is_connected()
    );

    chat_both_ways(&mut toxide, friend, &mut peer, number, "after a minute");
    let during = &toxide.history[mark..];
    assert!(
        !during
            .iter()
            .any(|e| matches!(e, ToxEvent::FriendConnection { .. })),
        "toxide's view of the friend changed while idle: {during:#?}"
    );
    let lines = peer.take_unclaimed_events();
    assert!(
        !lines.iter().any(|l| l.starts_with("FRIEND_CONNECTION ")),
        "c-toxcore's view of toxide changed while idle: {lines:#?}"
    );
    eprintln!("idle minute survived: {:?}", started.elapsed());

    toxide.block(toxide.tox.shutdown());
    peer.quit().unwrap();
    shutdown(&rt, nodes);
}

#[test]
fn both_sides_restart_from_their_saves_and_reconnect() {
    const PASSPHRASE: &str = "correct horse battery staple";
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let dir = TempDir::new("tox-api-saves").unwrap();
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b.passphrase(PASSPHRASE));
    toxide.block(toxide.tox.set_name("toxide, saved")).unwrap();
    let mut peer = spawn_peer("saving-peer", &nodes[1], None);
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "save me");
    both_online(&mut toxide, friend, &mut peer, number);
    eprintln!("connected: {:?}", started.elapsed());

    // (a) toxide saves (encrypted) and quits: c-toxcore sees it go.
    let path = dir.path().join("toxide.tox");
    toxide.block(toxide.tox.save_to(&path)).unwrap();
    let saved = std::fs::read(&path).unwrap();
    assert!(toxide::messenger::save::is_encrypted(&saved));
    // c-toxcore's toxencryptsave opens it with the passphrase.
    let plain = peer.pass_decrypt(PASSPHRASE.as_bytes(), &saved).unwrap();
    assert!(plain.is_some_and(|p| !p.is_empty()));
    let address = toxide.tox.address();
    toxide.block(toxide.tox.shutdown());
    drop(toxide);
    peer.wait_friend_offline(number, EVENT_TIMEOUT).unwrap();
    // What came before the restart must not answer the waits after it.
    peer.take_unclaimed_events();

    // Restarted from the save: same address, same friend under the same
    // number, and the session comes back with the name pushed again.
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b.savedata(saved).passphrase(PASSPHRASE));
    assert_eq!(toxide.tox.address(), address);
    assert_eq!(toxide.block(toxide.tox.friends()).unwrap(), [friend]);
    let info = toxide.block(toxide.tox.friend(friend)).unwrap();
    assert_eq!(info.public_key, *peer.public_key());
    assert!(!info.connection.is_connected());
    assert_eq!(toxide.block(toxide.tox.name()).unwrap(), b"toxide, saved");
    both_online(&mut toxide, friend, &mut peer, number);
    peer.wait_event(
        |e| {
            *e == PeerEvent::FriendName {
                friend: number,
                name: "toxide, saved".into(),
            }
        },
        EVENT_TIMEOUT,
    )
    .unwrap();
    chat_both_ways(&mut toxide, friend, &mut peer, number, "toxide restarted");
    eprintln!("toxide restarted from its save: {:?}", started.elapsed());

    // (b) c-toxcore saves and quits: toxide sees it go, then come back
    // from its save (same key, same friend list) under the same number.
    let peer_path = dir.path().join("c-toxcore.tox");
    peer.save(&peer_path).unwrap();
    let peer_key = *peer.public_key();
    peer.quit().unwrap();
    toxide.connection(friend, false, EVENT_TIMEOUT);
    let mut peer = spawn_peer("restored-peer", &nodes[2], Some(&peer_path));
    assert_eq!(*peer.public_key(), peer_key);
    assert_eq!(peer.friend_list().unwrap(), [toxide.tox.public_key()]);
    toxide.connection(friend, true, CONNECT_TIMEOUT);
    peer.wait_friend_online(number, CONNECT_TIMEOUT).unwrap();
    chat_both_ways(
        &mut toxide,
        friend,
        &mut peer,
        number,
        "c-toxcore restarted",
    );
    assert_eq!(toxide.block(toxide.tox.friends()).unwrap(), [friend]);
    eprintln!("c-toxcore restarted from its save: {:?}", started.elapsed());

    toxide.block(toxide.tox.shutdown());
    peer.quit().unwrap();
    shutdown(&rt, nodes);
}
