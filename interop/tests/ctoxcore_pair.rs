//! The harness itself works: two c-toxcore peers that know only a private
//! tox-bootstrapd find each other, become friends, exchange a message and a
//! file. If this fails, interop failures elsewhere say nothing about toxide.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide_interop::{Bootstrapd, BootstrapdOptions, CPeer, Connection, Event, PeerOptions};

/// c-toxcore needs ~10 s from start to a friend connection on loopback.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(15);
const FILE_TIMEOUT: Duration = Duration::from_secs(60);

fn peer(label: &str) -> toxide_interop::Result<CPeer> {
    CPeer::spawn(PeerOptions {
        label: Some(label.to_owned()),
        ..PeerOptions::default()
    })
}

/// Two peers bootstrapped to `node` that became friends (A asked, B accepted)
/// and are connected: `(a, b, a's number for b, b's number for a)`.
fn friends(
    node: &Bootstrapd,
    options: &PeerOptions,
) -> toxide_interop::Result<(CPeer, CPeer, u32, u32)> {
    let mut a = CPeer::spawn(PeerOptions {
        label: Some("peer-a".to_owned()),
        ..options.clone()
    })?;
    let mut b = CPeer::spawn(PeerOptions {
        label: Some("peer-b".to_owned()),
        ..options.clone()
    })?;
    a.bootstrap_to(node)?;
    b.bootstrap_to(node)?;
    let a_friend_b = a.add_friend(b.tox_id(), "hi")?;
    let (public_key, _) = b.wait_friend_request(CONNECT_TIMEOUT)?;
    let b_friend_a = b.add_friend_norequest(&public_key)?;
    a.wait_friend_online(a_friend_b, CONNECT_TIMEOUT)?;
    b.wait_friend_online(b_friend_a, CONNECT_TIMEOUT)?;
    Ok((a, b, a_friend_b, b_friend_a))
}

#[test]
fn two_ctoxcore_peers_befriend_message_and_transfer_a_file() {
    let started = Instant::now();
    let node = Bootstrapd::spawn().unwrap();
    let mut a = peer("peer-a").unwrap();
    let mut b = peer("peer-b").unwrap();
    a.bootstrap_to(&node).unwrap();
    b.bootstrap_to(&node).unwrap();

    // A asks; B sees the request text exactly and accepts.
    let request_text = "toxide interop: hello, B \\ ünïcode\nsecond line";
    let a_friend_b = a.add_friend(b.tox_id(), request_text).unwrap();
    let (public_key, message) = b
        .wait_friend_request(CONNECT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n{}", node.context()));
    assert_eq!(&public_key, a.public_key());
    assert_eq!(message, request_text);
    let b_friend_a = b.add_friend_norequest(&public_key).unwrap();

    let a_online = a.wait_friend_online(a_friend_b, CONNECT_TIMEOUT).unwrap();
    let b_online = b.wait_friend_online(b_friend_a, CONNECT_TIMEOUT).unwrap();
    let connected_after = started.elapsed();
    eprintln!("friends connected after {connected_after:?}: A {a_online:?}, B {b_online:?}");

    // A message arrives exactly.
    let text = "the quick brown fox \t jumps over the lazy dog ✓";
    let id = a.send_message(a_friend_b, text).unwrap();
    let received = b.wait_message(MESSAGE_TIMEOUT).unwrap();
    assert_eq!(received, (b_friend_a, text.to_owned()));
    a.wait_event(
        |e| {
            *e == Event::Receipt {
                friend: a_friend_b,
                message_id: id,
            }
        },
        MESSAGE_TIMEOUT,
    )
    .unwrap();

    // B sends A 300 KB of random bytes; A's copy is identical.
    let mut data = vec![0u8; 300 * 1024];
    ChaCha20Rng::seed_from_u64(0x0f11e).fill_bytes(&mut data);
    let source = b.work_dir().join("payload.bin");
    std::fs::write(&source, &data).unwrap();
    let file_started = Instant::now();
    let file = b.send_file(b_friend_a, &source).unwrap();

    let offer = a
        .wait_event(|e| matches!(e, Event::FileRecv { .. }), FILE_TIMEOUT)
        .unwrap();
    let Event::FileRecv {
        friend,
        file: a_file,
        size,
        name,
    } = offer
    else {
        unreachable!()
    };
    assert_eq!(
        (friend, size, name.as_str()),
        (a_friend_b, data.len() as u64, "payload.bin")
    );
    let done = a
        .wait_event(
            |e| matches!(e, Event::FileDone { file, .. } if *file == a_file),
            FILE_TIMEOUT,
        )
        .unwrap();
    let Event::FileDone { bytes, path, .. } = done else {
        unreachable!()
    };
    assert_eq!(bytes, data.len() as u64);
    assert_eq!(path, a.recv_dir().join("payload.bin").display().to_string());
    let copy = std::fs::read(&path).unwrap();
    assert!(copy == data, "received file differs from the one sent");
    b.wait_event(
        |e| {
            *e == Event::FileSent {
                friend: b_friend_a,
                file,
            }
        },
        FILE_TIMEOUT,
    )
    .unwrap();
    eprintln!(
        "300 KiB file transferred in {:?}; whole test {:?}",
        file_started.elapsed(),
        started.elapsed()
    );

    // Self status on loopback is reported as TCP by c-toxcore; only check online.
    for peer in [&mut a, &mut b] {
        let status = peer.send_command("self-connection").unwrap();
        assert_ne!(status, "none", "{}", peer.label());
    }
    assert!(matches!(
        a_online,
        Event::FriendConnection {
            status: Connection::Udp,
            ..
        }
    ));
}

#[test]
fn conference_invite_is_joined_and_carries_messages() {
    let node = Bootstrapd::spawn().unwrap();
    let (mut a, mut b, a_friend_b, _) = friends(&node, &PeerOptions::default()).unwrap();

    let conference: u32 = a.send_command("conference-new").unwrap().parse().unwrap();
    a.send_command(&format!("conference-invite {conference} {a_friend_b}"))
        .unwrap();
    let joined = b
        .wait_event(
            |e| matches!(e, Event::ConferenceJoined { .. }),
            MESSAGE_TIMEOUT,
        )
        .unwrap();
    let Event::ConferenceJoined {
        conference: b_conf, ..
    } = joined
    else {
        unreachable!()
    };
    // Both ends see two peers once the group connection is up.
    for peer in [&mut a, &mut b] {
        peer.wait_event(
            |e| matches!(e, Event::ConferencePeers { count: 2, .. }),
            MESSAGE_TIMEOUT,
        )
        .unwrap();
    }
    a.send_command(&format!("conference-send {conference} hello group"))
        .unwrap();
    let message = b
        .wait_event(
            |e| matches!(e, Event::ConferenceMessage { conference, .. } if *conference == b_conf),
            MESSAGE_TIMEOUT,
        )
        .unwrap();
    assert!(
        matches!(message, Event::ConferenceMessage { ref text, .. } if text == "hello group"),
        "{message:?}"
    );
}

#[test]
fn peers_without_udp_connect_through_the_bootstrapd_tcp_relay() {
    let node = Bootstrapd::spawn_with(BootstrapdOptions {
        tcp_relay: true,
        ..BootstrapdOptions::default()
    })
    .unwrap();
    let options = PeerOptions {
        no_udp: true,
        ..PeerOptions::default()
    };
    let (mut a, mut b, a_friend_b, b_friend_a) = friends(&node, &options).unwrap();
    for (peer, friend) in [(&mut a, a_friend_b), (&mut b, b_friend_a)] {
        let status = peer
            .send_command(&format!("friend-connection {friend}"))
            .unwrap();
        assert_eq!(status, "tcp", "{}", peer.label());
    }
    a.send_message(a_friend_b, "over the relay").unwrap();
    let got = b
        .wait_event(|e| matches!(e, Event::Message { .. }), MESSAGE_TIMEOUT)
        .unwrap();
    assert_eq!(
        got,
        Event::Message {
            friend: b_friend_a,
            text: "over the relay".to_owned()
        }
    );
}

#[test]
fn saved_profile_restarts_with_the_same_identity_and_friends() {
    let mut a = peer("peer-a").unwrap();
    let b = peer("peer-b").unwrap();
    let friend = a.add_friend(b.tox_id(), "hi").unwrap();
    let profile = b.work_dir().join("a.tox");
    a.save(&profile).unwrap();
    let id = *a.tox_id();
    a.quit().unwrap();

    let mut again = CPeer::spawn(PeerOptions {
        savedata: Some(profile),
        ..PeerOptions::default()
    })
    .unwrap();
    assert_eq!(again.tox_id(), &id);
    assert_eq!(
        again
            .send_command(&format!("friend-connection {friend}"))
            .unwrap(),
        "none"
    );
}
