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

    let got = a.receive_file(FILE_TIMEOUT).unwrap();
    assert_eq!(
        (got.friend, got.size, got.name.as_str(), got.bytes),
        (
            a_friend_b,
            data.len() as u64,
            "payload.bin",
            data.len() as u64
        )
    );
    assert_eq!(got.path, a.recv_dir().join("payload.bin"));
    let copy = std::fs::read(&got.path).unwrap();
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

/// The C peer's next offer on `b`: its file number, size and name, then its
/// kind and file id (the FILE_META line that follows it).
fn offer(b: &mut CPeer) -> toxide_interop::Result<(u32, u64, String, u32, String)> {
    let Event::FileRecv {
        file, size, name, ..
    } = b.wait_event(|e| matches!(e, Event::FileRecv { .. }), FILE_TIMEOUT)?
    else {
        unreachable!()
    };
    let Event::FileMeta { kind, file_id, .. } = b.wait_event(
        |e| matches!(e, Event::FileMeta { file: f, .. } if *f == file),
        FILE_TIMEOUT,
    )?
    else {
        unreachable!()
    };
    Ok((file, size, name, kind, file_id))
}

fn done(peer: &mut CPeer, file: u32) -> toxide_interop::Result<(u64, String)> {
    let Event::FileDone { bytes, path, .. } = peer.wait_event(
        |e| matches!(e, Event::FileDone { file: f, .. } if *f == file),
        FILE_TIMEOUT,
    )?
    else {
        unreachable!()
    };
    Ok((bytes, path))
}

fn control(peer: &mut CPeer, file: u32, word: &str) -> toxide_interop::Result<Event> {
    peer.wait_event(
        |e| matches!(e, Event::FileControl { file: f, control, .. } if *f == file && control == word),
        FILE_TIMEOUT,
    )
}

/// The harness's file commands against c-toxcore itself, so that toxide's
/// file interop tests stand on checked ground: a stream of unknown size,
/// an avatar (its file id is the SHA-256 of the image), an offer left
/// waiting and then cancelled by the receiver, a half-received file
/// resumed by seeking, and a transfer paused and resumed by the receiver.
#[test]
fn the_harness_drives_streams_avatars_seeks_pauses_and_cancels() {
    use sha2::Digest;
    let node = Bootstrapd::spawn().unwrap();
    let options = PeerOptions {
        manual_files: true,
        ..PeerOptions::default()
    };
    let (mut a, mut b, a_friend_b, b_friend_a) = friends(&node, &options).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x0f12e);
    let mut bytes = |n: usize| {
        let mut data = vec![0u8; n];
        rng.fill_bytes(&mut data);
        data
    };

    // A stream: size unknown, ended by the short chunk at the end.
    let data = bytes(5000);
    let source = a.work_dir().join("stream.bin");
    std::fs::write(&source, &data).unwrap();
    let sent = a.send_stream(a_friend_b, &source).unwrap();
    let (file, size, name, kind, _) = offer(&mut b).unwrap();
    assert_eq!((size, name.as_str(), kind), (u64::MAX, "stream.bin", 0));
    b.file_control(b_friend_a, file, "resume").unwrap();
    let (got, path) = done(&mut b, file).unwrap();
    assert_eq!(got, 5000);
    assert!(std::fs::read(&path).unwrap() == data, "stream differs");
    a.wait_event(
        |e| {
            *e == Event::FileSent {
                friend: a_friend_b,
                file: sent,
            }
        },
        FILE_TIMEOUT,
    )
    .unwrap();

    // An avatar: kind 1, file id = SHA-256 of the image.
    let image = bytes(700);
    let source = a.work_dir().join("avatar.png");
    std::fs::write(&source, &image).unwrap();
    let avatar = a.send_avatar(a_friend_b, Some(&source)).unwrap();
    let (file, size, _, kind, file_id) = offer(&mut b).unwrap();
    assert_eq!((size, kind), (700, 1));
    let expected: String = sha2::Sha256::digest(&image)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(file_id.to_uppercase(), expected);
    b.file_control(b_friend_a, file, "cancel").unwrap();
    control(&mut a, avatar, "cancel").unwrap();

    // A waiting offer cancelled by the receiver before accepting.
    let source = a.work_dir().join("refused.bin");
    std::fs::write(&source, bytes(3000)).unwrap();
    let refused = a.send_file(a_friend_b, &source).unwrap();
    let (file, ..) = offer(&mut b).unwrap();
    b.file_control(b_friend_a, file, "cancel").unwrap();
    control(&mut a, refused, "cancel").unwrap();

    // Resume by seeking: B holds the first 4000 bytes already.
    let data = bytes(10_000);
    let source = a.work_dir().join("half.bin");
    std::fs::write(&source, &data).unwrap();
    std::fs::write(b.recv_dir().join("half.bin"), &data[..4000]).unwrap();
    a.send_file(a_friend_b, &source).unwrap();
    let (file, size, ..) = offer(&mut b).unwrap();
    assert_eq!(size, 10_000);
    b.file_seek(b_friend_a, file, 4000).unwrap();
    b.file_control(b_friend_a, file, "resume").unwrap();
    let (got, path) = done(&mut b, file).unwrap();
    assert_eq!(got, 10_000);
    assert!(
        std::fs::read(&path).unwrap() == data,
        "resumed file differs"
    );

    // Paused and resumed by the receiver mid-way.
    let data = bytes(3 * 1024 * 1024);
    let source = a.work_dir().join("paused.bin");
    std::fs::write(&source, &data).unwrap();
    let big = a.send_file(a_friend_b, &source).unwrap();
    let (file, ..) = offer(&mut b).unwrap();
    b.file_control(b_friend_a, file, "resume").unwrap();
    b.file_control(b_friend_a, file, "pause").unwrap();
    control(&mut a, big, "pause").unwrap();
    b.file_control(b_friend_a, file, "resume").unwrap();
    control(&mut a, big, "resume").unwrap();
    let (got, path) = done(&mut b, file).unwrap();
    assert_eq!(got, data.len() as u64);
    assert!(std::fs::read(&path).unwrap() == data, "paused file differs");
}
