//! File transfers between toxide's `Tox` API and c-toxcore 0.2.18 (the C
//! test peer over Debian's libtoxcore), both directions, over toxide-node
//! instances on 127.0.0.1: the sizes at the edges of a chunk (0, 1, 1371,
//! 1372 bytes), a 1 MiB file, and a stream of unknown size. Contents are
//! compared byte for byte; each sender must hear that the receiver has
//! everything (c-toxcore's FILE_SENT, toxide's `finished()`). Then pause,
//! resume and cancel from either side, and a seek before accepting; and
//! avatars both ways.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use futures::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide::Bytes;
use toxide::messenger::file::{Control, avatar_hash};
use toxide::messenger::packet::FILEKIND_DATA;
use toxide::tox::{FileEnded, FileReceiver, IncomingFile, OutgoingFile, ToxEvent};
use toxide_interop::{CPeer, Event as PeerEvent};

use common::inprocess::{runtime, spawn_peer, start_nodes};
use common::toxide::{EVENT_TIMEOUT, Toxide, both_online, toxide_asks};

/// Sizes around one chunk (1371 bytes), and a larger file.
const SIZES: [usize; 5] = [0, 1, 1371, 1372, 1024 * 1024];

fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut data = vec![0u8; len];
    ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

/// Everything a receiver yields; panics if it ends with an error or
/// takes longer than `EVENT_TIMEOUT` between chunks.
fn read_all(toxide: &Toxide, receiver: &mut FileReceiver) -> Vec<u8> {
    toxide.block(async {
        let mut got = Vec::new();
        loop {
            match tokio::time::timeout(EVENT_TIMEOUT, receiver.next()).await {
                Err(_) => panic!("no file data within {EVENT_TIMEOUT:?} at {}", got.len()),
                Ok(None) => return got,
                Ok(Some(Ok(bytes))) => got.extend_from_slice(&bytes),
                Ok(Some(Err(why))) => panic!("the transfer ended at {}: {why}", got.len()),
            }
        }
    })
}

fn offer(toxide: &mut Toxide) -> IncomingFile {
    toxide.wait("a file offer", EVENT_TIMEOUT, |e| match e {
        ToxEvent::FileOffer(offer) => Some(offer.clone()),
        _ => None,
    })
}

/// The c-toxcore peer's FILE_DONE for its file `file`: bytes and path.
fn peer_done(peer: &mut CPeer, file: u32) -> (u64, String) {
    let PeerEvent::FileDone { bytes, path, .. } = peer
        .wait_event(
            |e| matches!(e, PeerEvent::FileDone { file: f, .. } if *f == file),
            EVENT_TIMEOUT,
        )
        .unwrap()
    else {
        unreachable!()
    };
    (bytes, path)
}

/// The c-toxcore peer's next offer: its file number, size and name.
fn peer_offer(peer: &mut CPeer) -> (u32, u64, String) {
    let PeerEvent::FileRecv {
        file, size, name, ..
    } = peer
        .wait_event(|e| matches!(e, PeerEvent::FileRecv { .. }), EVENT_TIMEOUT)
        .unwrap()
    else {
        unreachable!()
    };
    (file, size, name)
}

/// The c-toxcore peer hears that toxide has all of its file `file`.
fn peer_sent(peer: &mut CPeer, number: u32, file: u32) {
    peer.wait_event(
        |e| {
            *e == PeerEvent::FileSent {
                friend: number,
                file,
            }
        },
        EVENT_TIMEOUT,
    )
    .unwrap();
}

/// How toxide's transfer `sent` ended, or `Err` if not within
/// `EVENT_TIMEOUT`.
fn ended(
    toxide: &Toxide,
    sent: &OutgoingFile,
) -> Result<Result<(), FileEnded>, tokio::time::error::Elapsed> {
    toxide.block(async { tokio::time::timeout(EVENT_TIMEOUT, sent.finished()).await })
}

fn shutdown(
    rt: &tokio::runtime::Runtime,
    toxide: &Toxide,
    nodes: Vec<toxide::driver::DriverHandle>,
) {
    toxide.block(toxide.tox.shutdown());
    for node in nodes {
        rt.block_on(node.shutdown());
    }
}

#[test]
fn files_cross_both_ways_between_toxide_and_ctoxcore() {
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut peer = spawn_peer("files", &nodes[1], None);
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "files?");
    both_online(&mut toxide, friend, &mut peer, number);

    // toxide → c-toxcore (which accepts at once into its receive folder).
    for (i, &len) in SIZES.iter().enumerate() {
        let data = content(len, i as u64);
        let name = format!("to-ctoxcore-{len}.bin");
        let sent = toxide
            .block(toxide.tox.send_file(
                friend,
                FILEKIND_DATA,
                Some(len as u64),
                None,
                name.clone(),
                std::io::Cursor::new(data.clone()),
            ))
            .unwrap();
        let (file, size, got_name) = peer_offer(&mut peer);
        assert_eq!((size, got_name.as_str()), (len as u64, name.as_str()));
        let (bytes, path) = peer_done(&mut peer, file);
        assert_eq!(bytes, len as u64);
        assert!(std::fs::read(&path).unwrap() == data, "{name} differs");
        let finished = ended(&toxide, &sent);
        assert!(matches!(finished, Ok(Ok(()))), "{name}: {finished:?}");
    }

    // A stream of unknown size, toxide → c-toxcore.
    let data = content(50_000, 10);
    toxide
        .block(toxide.tox.send_file(
            friend,
            FILEKIND_DATA,
            None,
            None,
            "stream-to-ctoxcore",
            std::io::Cursor::new(data.clone()),
        ))
        .unwrap();
    let (file, size, _) = peer_offer(&mut peer);
    assert_eq!(size, u64::MAX);
    let (bytes, path) = peer_done(&mut peer, file);
    assert_eq!(bytes, data.len() as u64);
    assert!(std::fs::read(&path).unwrap() == data, "stream differs");

    // c-toxcore → toxide.
    for (i, &len) in SIZES.iter().enumerate() {
        let data = content(len, 100 + i as u64);
        let name = format!("to-toxide-{len}.bin");
        let source = peer.work_dir().join(&name);
        std::fs::write(&source, &data).unwrap();
        let file = peer.send_file(number, &source).unwrap();
        let incoming = offer(&mut toxide);
        assert_eq!(
            (incoming.friend(), incoming.size(), incoming.name()),
            (friend, Some(len as u64), name.as_bytes())
        );
        let mut receiver = toxide.block(incoming.accept()).unwrap();
        let got = read_all(&toxide, &mut receiver);
        assert!(got == data, "{name} differs ({} bytes)", got.len());
        peer_sent(&mut peer, number, file);
    }

    // A stream of unknown size, c-toxcore → toxide.
    let data = content(50_000, 200);
    let source = peer.work_dir().join("stream-to-toxide");
    std::fs::write(&source, &data).unwrap();
    peer.send_stream(number, &source).unwrap();
    let incoming = offer(&mut toxide);
    assert_eq!(incoming.size(), None);
    let mut receiver = toxide.block(incoming.accept()).unwrap();
    let got = read_all(&toxide, &mut receiver);
    assert!(got == data, "stream differs ({} bytes)", got.len());

    shutdown(&rt, &toxide, nodes);
}

/// The c-toxcore peer's next FILE_CONTROL `word` about its file `file`.
fn peer_control(peer: &mut CPeer, file: u32, word: &str) {
    peer.wait_event(
        |e| matches!(e, PeerEvent::FileControl { file: f, control, .. } if *f == file && control == word),
        EVENT_TIMEOUT,
    )
    .unwrap();
}

/// Pause, resume, cancel and seek, each side doing them to the other:
/// toxide's controls must reach c-toxcore's callbacks, and c-toxcore's
/// must end or hold toxide's handles.
#[test]
fn pauses_cancels_and_seeks_cross_between_toxide_and_ctoxcore() {
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut peer = spawn_peer("controls", &nodes[1], None);
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "controls?");
    both_online(&mut toxide, friend, &mut peer, number);

    // toxide sends from a source it feeds by hand: it pauses, c-toxcore
    // hears it; it resumes; c-toxcore pauses and resumes in turn; the
    // file completes.
    let data = content(200_000, 300);
    let (mut feed, source) = tokio::io::duplex(256 * 1024);
    let sent = toxide
        .block(toxide.tox.send_file(
            friend,
            FILEKIND_DATA,
            Some(data.len() as u64),
            None,
            "paused",
            source,
        ))
        .unwrap();
    let (file, ..) = peer_offer(&mut peer);
    toxide.block(async {
        use tokio::io::AsyncWriteExt;
        feed.write_all(&data[..50_000]).await.unwrap();
    });
    // Pausing needs the transfer accepted (as in c-toxcore): c-toxcore
    // accepts at once, and its accept is on its way.
    toxide.block(async {
        let accepted = async {
            while !sent.progress().accepted {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(EVENT_TIMEOUT, accepted).await.unwrap();
    });
    toxide.block(sent.pause()).unwrap();
    peer_control(&mut peer, file, "pause");
    toxide.block(sent.resume()).unwrap();
    peer_control(&mut peer, file, "resume");
    peer.file_control(number, file, "pause").unwrap();
    toxide.wait("c-toxcore's pause", EVENT_TIMEOUT, |e| {
        matches!(
            e,
            ToxEvent::FileControl {
                control: Control::Pause,
                ..
            }
        )
        .then_some(())
    });
    peer.file_control(number, file, "resume").unwrap();
    toxide.wait("c-toxcore's resume", EVENT_TIMEOUT, |e| {
        matches!(
            e,
            ToxEvent::FileControl {
                control: Control::Accept,
                ..
            }
        )
        .then_some(())
    });
    toxide.block(async {
        use tokio::io::AsyncWriteExt;
        feed.write_all(&data[50_000..]).await.unwrap();
    });
    let (bytes, path) = peer_done(&mut peer, file);
    assert_eq!(bytes, data.len() as u64);
    assert!(std::fs::read(&path).unwrap() == data, "paused file differs");
    let finished = ended(&toxide, &sent);
    assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");

    // c-toxcore cancels what toxide sends: toxide's handle says so.
    let (_feed, source) = tokio::io::duplex(1024);
    let sent = toxide
        .block(toxide.tox.send_file(
            friend,
            FILEKIND_DATA,
            Some(100_000),
            None,
            "cancelled-by-ctoxcore",
            source,
        ))
        .unwrap();
    let (file, ..) = peer_offer(&mut peer);
    peer.file_control(number, file, "cancel").unwrap();
    let finished = ended(&toxide, &sent);
    assert!(
        matches!(finished, Ok(Err(FileEnded::CancelledByFriend))),
        "{finished:?}"
    );

    // toxide cancels what c-toxcore sends, after the first data.
    let data = content(4 * 1024 * 1024, 301);
    let source = peer.work_dir().join("cancelled-by-toxide");
    std::fs::write(&source, &data).unwrap();
    let file = peer.send_file(number, &source).unwrap();
    let incoming = offer(&mut toxide);
    let mut receiver = toxide.block(incoming.accept()).unwrap();
    let first = toxide.block(async { tokio::time::timeout(EVENT_TIMEOUT, receiver.next()).await });
    assert!(matches!(first, Ok(Some(Ok(_)))), "{first:?}");
    toxide.block(receiver.cancel()).unwrap();
    peer_control(&mut peer, file, "cancel");

    // toxide resumes a half-received file: it seeks before accepting and
    // gets only the rest.
    let data = content(30_000, 302);
    let source = peer.work_dir().join("resumed");
    std::fs::write(&source, &data).unwrap();
    let file = peer.send_file(number, &source).unwrap();
    let incoming = offer(&mut toxide);
    toxide.block(incoming.seek(12_000)).unwrap();
    let mut receiver = toxide.block(incoming.accept()).unwrap();
    let rest = read_all(&toxide, &mut receiver);
    assert!(
        rest == data[12_000..],
        "resumed part differs ({} bytes)",
        rest.len()
    );
    peer_sent(&mut peer, number, file);

    shutdown(&rt, &toxide, nodes);
}

/// The c-toxcore peer's FILE_META for its incoming file `file`: kind and
/// file id (hex, upper case).
fn peer_meta(peer: &mut CPeer, file: u32) -> (u32, String) {
    let PeerEvent::FileMeta { kind, file_id, .. } = peer
        .wait_event(
            |e| matches!(e, PeerEvent::FileMeta { file: f, .. } if *f == file),
            EVENT_TIMEOUT,
        )
        .unwrap()
    else {
        unreachable!()
    };
    (kind, file_id.to_uppercase())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Avatars between toxide and c-toxcore. toxide's, set before the friend
/// is online, reaches c-toxcore when it comes online, and again when it
/// changes: kind 1 (TOX_FILE_KIND_AVATAR), file id the image's SHA-256,
/// the bytes whole; "no avatar" is kind 1 with size 0. c-toxcore's
/// avatar (`tox_hash` as file id) reaches the `Tox` API as an avatar
/// offer with that id, and its "no avatar" as one of size 0.
#[test]
fn avatars_cross_between_toxide_and_ctoxcore() {
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let first = content(20_000, 400);
    toxide
        .block(toxide.tox.set_avatar(Some(Bytes::from(first.clone()))))
        .unwrap();
    let mut peer = spawn_peer("avatars", &nodes[1], None);
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "avatars?");
    both_online(&mut toxide, friend, &mut peer, number);

    // Offered as c-toxcore came online (it accepts every offer).
    for image in [first, content(3000, 401)] {
        if image.len() == 3000 {
            toxide
                .block(toxide.tox.set_avatar(Some(Bytes::from(image.clone()))))
                .unwrap();
        }
        let (file, size, _) = peer_offer(&mut peer);
        assert_eq!(size, image.len() as u64);
        assert_eq!(peer_meta(&mut peer, file), (1, hex(&avatar_hash(&image))));
        let (bytes, path) = peer_done(&mut peer, file);
        assert_eq!(bytes, image.len() as u64);
        assert!(std::fs::read(&path).unwrap() == image, "avatar differs");
    }
    toxide.block(toxide.tox.set_avatar(None)).unwrap();
    let (file, size, _) = peer_offer(&mut peer);
    assert_eq!(size, 0);
    assert_eq!(peer_meta(&mut peer, file).0, 1);
    // No file control or offer of these reached toxide's application.
    assert!(
        !toxide
            .history
            .iter()
            .chain(&toxide.backlog)
            .any(|e| matches!(
                e,
                ToxEvent::FileControl { .. } | ToxEvent::FileOffer(_) | ToxEvent::FileBroken { .. }
            )),
        "{:#?}",
        toxide.history
    );

    // c-toxcore → toxide.
    let image = content(9000, 402);
    let source = peer.work_dir().join("avatar.png");
    std::fs::write(&source, &image).unwrap();
    let file = peer.send_avatar(number, Some(&source)).unwrap();
    let incoming = offer(&mut toxide);
    assert!(incoming.is_avatar());
    assert_eq!(incoming.file_id(), avatar_hash(&image));
    assert_eq!(incoming.size(), Some(image.len() as u64));
    let mut receiver = toxide.block(incoming.accept()).unwrap();
    let got = read_all(&toxide, &mut receiver);
    assert!(
        got == image,
        "c-toxcore's avatar differs ({} bytes)",
        got.len()
    );
    peer_sent(&mut peer, number, file);
    peer.send_avatar(number, None).unwrap();
    let none = offer(&mut toxide);
    assert!(none.is_avatar());
    assert_eq!(none.size(), Some(0));
    toxide.block(none.cancel()).unwrap();

    shutdown(&rt, &toxide, nodes);
}
