//! Conferences through the `Tox` API on 127.0.0.1: three toxide clients
//! and a bootstrap node. Alice and Bob are friends, Bob and Carol are
//! friends, Alice and Carol are not: Alice starts a conference and invites
//! Bob, Bob invites Carol, and Alice and Carol then reach each other over
//! a friend connection held for the conference alone (checklist F1).
//! Messages, the title and names cross every way; Carol leaves and the
//! others see her go; Alice restarts from her save and is back in the
//! conference under the same number.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use toxide::messenger::packet::MessageKind;
use toxide::tox::{ConferenceNumber, Tox, ToxEvent, ToxEvents};

use common::{STEP, builder, node, wait};

/// Makes `a` and `b` friends (b accepts a's request) and waits until both
/// see the other online; returns (b's number at a, a's number at b).
async fn befriend(
    a: &Tox,
    a_events: &mut ToxEvents,
    b: &Tox,
    b_events: &mut ToxEvents,
) -> (u32, u32) {
    let b_at_a = a.add_friend(b.address(), b"conference test").await.unwrap();
    let from = wait(b_events, "friend request", |e| match e {
        ToxEvent::FriendRequest { public_key, .. } => Some(public_key),
        _ => None,
    })
    .await;
    let a_at_b = b.add_friend_norequest(from).await.unwrap();
    for (events, who) in [(a_events, b_at_a), (b_events, a_at_b)] {
        wait(events, "friend online", |e| {
            matches!(e, ToxEvent::FriendConnection { friend, connection }
                if friend == who && connection.is_connected())
            .then_some(())
        })
        .await;
    }
    (b_at_a, a_at_b)
}

/// `who` joins the conference `from` invites it to; its number there.
async fn accept_invite(who: &Tox, events: &mut ToxEvents) -> ConferenceNumber {
    let (friend, invite) = wait(events, "conference invite", |e| match e {
        ToxEvent::ConferenceInvite { friend, invite } => Some((friend, invite)),
        _ => None,
    })
    .await;
    let number = who.conference_join(friend, invite).await.unwrap();
    wait(events, "conference connected", |e| match e {
        ToxEvent::ConferenceConnected { conference } if conference == number => Some(()),
        _ => None,
    })
    .await;
    number
}

/// The next conference message in `conference` from `from`.
async fn message(
    events: &mut ToxEvents,
    conference: ConferenceNumber,
    from: &Tox,
) -> (MessageKind, Vec<u8>) {
    let author = from.public_key();
    wait(events, "conference message", |e| match e {
        ToxEvent::ConferenceMessage {
            conference: c,
            peer_key,
            kind,
            text,
            ..
        } if c == conference && peer_key == author => Some((kind, text)),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_share_a_conference_through_a_friend_of_friends() {
    let node = node().await;
    let (alice, mut alice_events) = builder(&node).spawn().await.unwrap();
    let (bob, mut bob_events) = builder(&node).spawn().await.unwrap();
    let (carol, mut carol_events) = builder(&node).spawn().await.unwrap();
    alice.set_name("Alice").await.unwrap();
    bob.set_name("Bob").await.unwrap();
    carol.set_name("Carol").await.unwrap();
    let (bob_at_alice, _) = befriend(&alice, &mut alice_events, &bob, &mut bob_events).await;
    let (carol_at_bob, _) = befriend(&bob, &mut bob_events, &carol, &mut carol_events).await;

    let at_alice = alice.conference_new().await.unwrap();
    assert_eq!(at_alice, ConferenceNumber(0));
    alice
        .conference_set_title(at_alice, "toxide test")
        .await
        .unwrap();
    alice
        .conference_invite(bob_at_alice, at_alice)
        .await
        .unwrap();
    let at_bob = accept_invite(&bob, &mut bob_events).await;
    bob.conference_invite(carol_at_bob, at_bob).await.unwrap();
    let at_carol = accept_invite(&carol, &mut carol_events).await;

    // Everyone in everyone's peer list, with names and the title.
    for (tox, conference) in [(&alice, at_alice), (&bob, at_bob), (&carol, at_carol)] {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let info = tox.conference(conference).await.unwrap();
            let mut names: Vec<Vec<u8>> = info.peers.iter().map(|p| p.name.clone()).collect();
            names.sort();
            if names == [b"Alice".to_vec(), b"Bob".to_vec(), b"Carol".to_vec()]
                && info.title == b"toxide test"
            {
                assert!(info.connected);
                assert_eq!(info.peers.iter().filter(|p| p.is_ours).count(), 1);
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "peer list never complete: {info:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Alice and Carol are not friends, yet hear each other directly or
    // through Bob.
    alice
        .conference_send(at_alice, MessageKind::Normal, "hello from Alice")
        .await
        .unwrap();
    for (events, conference) in [(&mut bob_events, at_bob), (&mut carol_events, at_carol)] {
        assert_eq!(
            message(events, conference, &alice).await,
            (MessageKind::Normal, b"hello from Alice".to_vec())
        );
    }
    carol
        .conference_send(at_carol, MessageKind::Action, "waves")
        .await
        .unwrap();
    assert_eq!(
        message(&mut alice_events, at_alice, &carol).await,
        (MessageKind::Action, b"waves".to_vec())
    );
    assert!(
        alice.friends().await.unwrap().len() == 1,
        "Carol is no friend of Alice"
    );

    // A new name reaches the others.
    carol.set_name("Carol R.").await.unwrap();
    let name = wait(&mut alice_events, "peer name", |e| match e {
        ToxEvent::ConferencePeerName { peer_key, name, .. } if peer_key == carol.public_key() => {
            Some(name)
        }
        _ => None,
    })
    .await;
    assert_eq!(name, b"Carol R.");

    // Carol leaves: Alice's peer list shrinks to two.
    carol.conference_delete(at_carol).await.unwrap();
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let info = alice.conference(at_alice).await.unwrap();
        if info.peers.len() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Carol never left: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Alice restarts from her save: the conference is back under the same
    // number, and Bob hears her again.
    let saved = alice.savedata().await.unwrap();
    alice.shutdown().await;
    let (alice, alice_events) = builder(&node).savedata(saved).spawn().await.unwrap();
    assert_eq!(alice.conference_list().await.unwrap(), [at_alice]);
    assert_eq!(
        alice.conference(at_alice).await.unwrap().title,
        b"toxide test"
    );
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        // Sending fails until Alice is connected in the conference again.
        if alice
            .conference_send(at_alice, MessageKind::Normal, "back again")
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never back in the conference"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        message(&mut bob_events, at_bob, &alice).await,
        (MessageKind::Normal, b"back again".to_vec())
    );
    drop(alice_events);
}
