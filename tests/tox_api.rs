//! The `Tox` API end to end on 127.0.0.1: two toxide clients and a
//! bootstrap node (a driver serving DHT and onion), a friend request,
//! chat with receipts, names, a save encrypted with a passphrase, and a
//! restart from it that finds the friend again under the same number.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use toxide::messenger::packet::MessageKind;
use toxide::tox::{Connection, Tox, ToxError, ToxEvent, ToxEvents};

use common::{builder, node, wait};

async fn online(events: &mut ToxEvents, who: u32) {
    wait(events, "an event", |e| {
        matches!(e, ToxEvent::FriendConnection { friend, connection } if friend == who && connection == Connection::Udp)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn two_clients_befriend_chat_save_and_reconnect_after_a_restart() {
    let node = node().await;
    let (alice, mut alice_events) = builder(&node)
        .passphrase("correct horse")
        .spawn()
        .await
        .unwrap();
    let (bob, mut bob_events) = builder(&node).spawn().await.unwrap();
    // Both reach the network over UDP (no relay is configured).
    for events in [&mut alice_events, &mut bob_events] {
        let connection = wait(events, "an event", |e| match e {
            ToxEvent::SelfConnection { connection } => Some(connection),
            _ => None,
        })
        .await;
        assert_eq!(connection, Connection::Udp);
    }
    assert_eq!(bob.self_connection().await.unwrap(), Connection::Udp);
    alice.set_name("Alice").await.unwrap();
    bob.set_name("Bob").await.unwrap();

    // Alice asks, Bob accepts: both get number 0 for the other.
    let bob_in_alice = alice
        .add_friend(bob.address(), b"hi Bob, it's Alice")
        .await
        .unwrap();
    assert_eq!(bob_in_alice, 0);
    let (from, message) = wait(&mut bob_events, "an event", |e| match e {
        ToxEvent::FriendRequest {
            public_key,
            message,
        } => Some((public_key, message)),
        _ => None,
    })
    .await;
    assert_eq!(
        (from, message.as_slice()),
        (alice.public_key(), &b"hi Bob, it's Alice"[..])
    );
    let alice_in_bob = bob.add_friend_norequest(from).await.unwrap();
    assert_eq!(alice_in_bob, 0);
    online(&mut alice_events, bob_in_alice).await;
    online(&mut bob_events, alice_in_bob).await;

    // Names arrive with the connection; a message comes back as read.
    let name = wait(&mut alice_events, "an event", |e| match e {
        ToxEvent::FriendName { name, .. } if !name.is_empty() => Some(name),
        _ => None,
    })
    .await;
    assert_eq!(name, b"Bob");
    let id = alice
        .send_message(bob_in_alice, MessageKind::Normal, "hello Bob")
        .await
        .unwrap();
    let got = wait(&mut bob_events, "an event", |e| match e {
        ToxEvent::Message { friend, kind, text } => Some((friend, kind, text)),
        _ => None,
    })
    .await;
    assert_eq!(
        got,
        (alice_in_bob, MessageKind::Normal, b"hello Bob".to_vec())
    );
    let read = wait(&mut alice_events, "an event", |e| match e {
        ToxEvent::ReadReceipt { message_id, .. } => Some(message_id),
        _ => None,
    })
    .await;
    assert_eq!(read, id);
    let info = alice.friend(bob_in_alice).await.unwrap();
    assert_eq!(info.connection, Connection::Udp);
    assert_eq!(
        (info.public_key, info.name.as_slice()),
        (bob.public_key(), &b"Bob"[..])
    );
    assert!(matches!(
        alice.send_message(7, MessageKind::Normal, "nobody").await,
        Err(ToxError::Messenger(_))
    ));
    // Adding a friend twice, or ourselves, is an error (c-toxcore's codes).
    assert!(matches!(
        alice.add_friend(bob.address(), b"again").await,
        Err(ToxError::AlreadyFriend(0))
    ));
    assert!(matches!(
        alice.add_friend(alice.address(), b"me").await,
        Err(ToxError::Friend(_))
    ));

    // Alice saves (encrypted), quits; Bob sees her go at once.
    let dir = std::env::temp_dir().join(format!("toxide-tox-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("alice.tox");
    alice.save_to(&path).await.unwrap();
    let saved = std::fs::read(&path).unwrap();
    assert!(toxide::messenger::save::is_encrypted(&saved));
    let address = alice.address();
    alice.shutdown().await;
    wait(&mut bob_events, "an event", |e| {
        matches!(
            e,
            ToxEvent::FriendConnection {
                connection: toxide::Connection::None,
                ..
            }
        )
        .then_some(())
    })
    .await;

    // A wrong passphrase is refused; the file is untouched.
    let wrong = builder(&node)
        .savedata(saved.clone())
        .passphrase("wrong")
        .spawn()
        .await;
    assert!(matches!(wrong, Err(ToxError::Passphrase(_))), "{wrong:?}");
    assert_eq!(std::fs::read(&path).unwrap(), saved);

    // Restarted from the save: same address, same friend, same number,
    // and Bob's session comes back.
    let restarted = std::time::Instant::now();
    let (alice, mut alice_events) = builder(&node)
        .savedata(saved)
        .passphrase("correct horse")
        .spawn()
        .await
        .unwrap();
    assert_eq!(alice.address(), address);
    assert_eq!(alice.friends().await.unwrap(), [bob_in_alice]);
    assert_eq!(alice.friend(bob_in_alice).await.unwrap().name, b"Bob");
    assert_eq!(alice.name().await.unwrap(), b"Alice");
    online(&mut alice_events, bob_in_alice).await;
    println!(
        "restarted from the save: friend online after {:.2} s",
        restarted.elapsed().as_secs_f64()
    );
    online(&mut bob_events, alice_in_bob).await;
    alice
        .send_message(bob_in_alice, MessageKind::Action, "is back")
        .await
        .unwrap();
    let got = wait(&mut bob_events, "an event", |e| match e {
        ToxEvent::Message { kind, text, .. } => Some((kind, text)),
        _ => None,
    })
    .await;
    assert_eq!(got, (MessageKind::Action, b"is back".to_vec()));

    let _ = std::fs::remove_dir_all(&dir);
    bob.shutdown().await;
    alice.shutdown().await;
    node.shutdown().await;
    let _: &Tox = &alice;
}

#[tokio::test]
async fn adding_again_follows_ctoxcore_and_nospam_changes_the_address() {
    let node = node().await;
    let (tox, _events) = builder(&node).spawn().await.unwrap();
    let stranger = toxide::KeyPair::generate(&mut rand::rng()).public;
    let first = toxide::ToxId::new(stranger, toxide::NoSpam([1, 2, 3, 4]));
    let second = toxide::ToxId::new(stranger, toxide::NoSpam([5, 6, 7, 8]));
    assert_eq!(tox.add_friend(first, b"hello").await.unwrap(), 0);
    assert!(matches!(
        tox.add_friend(second, b"hello").await,
        Err(ToxError::NospamUpdated(0))
    ));
    assert!(matches!(
        tox.add_friend(second, b"hello").await,
        Err(ToxError::AlreadyFriend(0))
    ));
    assert_eq!(tox.friends().await.unwrap(), [0], "no duplicate");
    // The saved request quotes the new nospam.
    let save = toxide::messenger::save::SaveData::load(&tox.savedata().await.unwrap()).unwrap();
    match save.friends.as_slice() {
        [toxide::messenger::save::SavedFriend::Requested(f)] => {
            assert_eq!(f.nospam, second.nospam);
            assert_eq!(f.message.as_bytes(), b"hello");
        }
        other => panic!("{other:?}"),
    }
    let before = tox.address();
    tox.set_nospam(toxide::NoSpam([9, 9, 9, 9])).await.unwrap();
    assert_eq!(tox.address().public_key, before.public_key);
    assert_eq!(tox.address().nospam, toxide::NoSpam([9, 9, 9, 9]));
    let save = toxide::messenger::save::SaveData::load(&tox.savedata().await.unwrap()).unwrap();
    assert_eq!(save.nospam, toxide::NoSpam([9, 9, 9, 9]));
    tox.shutdown().await;
    node.shutdown().await;
}
