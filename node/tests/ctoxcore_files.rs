//! File transfers between toxide's `Tox` API and c-toxcore 0.2.18 (the C
//! test peer over Debian's libtoxcore), both directions, over toxide-node
//! instances on 127.0.0.1: the sizes at the edges of a chunk (0, 1, 1371,
//! 1372 bytes), a 1 MiB file, and a stream of unknown size. Contents are
//! compared byte for byte; each sender must hear that the receiver has
//! everything (c-toxcore's FILE_SENT, toxide's `finished()`). Then pause,
//! resume and cancel from either side, and a seek before accepting from
//! either side; avatars both ways; a 64 MiB file each way and four files
//! at once each way (contents checked, rates printed); and a friend going
//! offline mid-transfer, either side, ending the transfers on both.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide::Bytes;
use toxide::messenger::file::{Control, avatar_hash};
use toxide::messenger::packet::FILEKIND_DATA;
use toxide::tox::{FileEnded, FileReceiver, IncomingFile, OutgoingFile, ToxEvent};
use toxide_interop::{CPeer, Error, Event as PeerEvent, PeerOptions};

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
    peer_done_within(peer, file, EVENT_TIMEOUT)
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

// ---- Large, concurrent, broken and c-toxcore-seeked transfers ----

const MIB: usize = 1024 * 1024;

/// Bound on one large transfer as a whole (64 MiB, or four files at
/// once); the data itself must never stall for `EVENT_TIMEOUT`.
const BULK_TIMEOUT: Duration = Duration::from_secs(180);

/// The c-toxcore peer's FILE_DONE for its file `file`, within `timeout`.
fn peer_done_within(peer: &mut CPeer, file: u32, timeout: Duration) -> (u64, String) {
    let PeerEvent::FileDone { bytes, path, .. } = peer
        .wait_event(
            |e| matches!(e, PeerEvent::FileDone { file: f, .. } if *f == file),
            timeout,
        )
        .unwrap()
    else {
        unreachable!()
    };
    (bytes, path)
}

/// Panics unless the file at `path` holds exactly `data` (compared a
/// mebibyte at a time).
fn assert_file_is(path: &str, data: &[u8], what: &str) {
    use std::io::Read;
    let mut file = std::fs::File::open(path).expect("the received file opens");
    let len = file.metadata().expect("its size").len();
    assert_eq!(len, data.len() as u64, "{what}: size");
    let mut block = vec![0u8; MIB];
    for (i, expected) in data.chunks(MIB).enumerate() {
        let got = &mut block[..expected.len()];
        file.read_exact(got).expect("the received file reads");
        assert!(got == expected, "{what} differs in mebibyte {i}");
    }
}

/// Panics unless `bytes`, arrived at offset `at`, are what `expected`
/// holds there.
fn check_chunk(expected: &[u8], at: usize, bytes: &[u8], what: &str) {
    assert!(
        expected.get(at..at + bytes.len()) == Some(bytes),
        "{what}: {} bytes at {at} differ from the source",
        bytes.len()
    );
}

/// Reads a receiver to its end, checking each chunk where it lands (no
/// copy kept); the bytes read. Panics on a mismatch, an error, or
/// `EVENT_TIMEOUT` without data.
fn read_checked(toxide: &Toxide, receiver: &mut FileReceiver, expected: &[u8]) -> usize {
    toxide.block(async {
        let mut at = 0;
        loop {
            match tokio::time::timeout(EVENT_TIMEOUT, receiver.next()).await {
                Err(_) => panic!("no file data within {EVENT_TIMEOUT:?} at {at}"),
                Ok(None) => return at,
                Ok(Some(Ok(bytes))) => {
                    check_chunk(expected, at, &bytes, "received file");
                    at += bytes.len();
                }
                Ok(Some(Err(why))) => panic!("the transfer ended at {at}: {why}"),
            }
        }
    })
}

fn rate(what: &str, bytes: usize, took: Duration) {
    eprintln!(
        "{what}: {} MiB in {took:.2?}, {:.1} MiB/s",
        bytes / MIB,
        bytes as f64 / MIB as f64 / took.as_secs_f64()
    );
}

/// Large and concurrent transfers, over one friendship (setting one up
/// costs seconds): a 64 MiB file each way, then four at once each way.
/// Elapsed times and rates are printed.
#[test]
fn a_64_mib_file_and_four_at_once_cross_each_way_intact() {
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut peer = spawn_peer("big", &nodes[1], None);
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "big files?");
    both_online(&mut toxide, friend, &mut peer, number);
    a_64_mib_file_each_way(&mut toxide, friend, &mut peer, number);
    four_files_at_once_each_way(&mut toxide, friend, &mut peer, number);
    shutdown(&rt, &toxide, nodes);
}

/// 64 MiB each way, every byte checked where it lands: the C peer's file
/// against the source, toxide's stream chunk by chunk as it arrives.
fn a_64_mib_file_each_way(toxide: &mut Toxide, friend: u32, peer: &mut CPeer, number: u32) {
    const BIG: usize = 64 * MIB;
    let data = Bytes::from(content(BIG, 500));

    // toxide → c-toxcore: done once c-toxcore has the last chunk and
    // toxide its acknowledgement.
    let started = Instant::now();
    let sent = toxide
        .block(toxide.tox.send_file(
            friend,
            FILEKIND_DATA,
            Some(BIG as u64),
            None,
            "big-to-ctoxcore.bin",
            std::io::Cursor::new(data.clone()),
        ))
        .unwrap();
    let (file, size, _) = peer_offer(peer);
    assert_eq!(size, BIG as u64);
    let (bytes, path) = peer_done_within(peer, file, BULK_TIMEOUT);
    assert_eq!(bytes, BIG as u64);
    let finished = ended(toxide, &sent);
    assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    rate("64 MiB toxide → c-toxcore", BIG, started.elapsed());
    assert_file_is(&path, &data, "64 MiB file at c-toxcore");
    std::fs::remove_file(&path).unwrap();

    // c-toxcore → toxide: done once toxide's stream ends and c-toxcore
    // hears that toxide has it all.
    let source = peer.work_dir().join("big-to-toxide.bin");
    std::fs::write(&source, &data).unwrap();
    let started = Instant::now();
    let file = peer.send_file(number, &source).unwrap();
    let incoming = offer(toxide);
    assert_eq!(incoming.size(), Some(BIG as u64));
    let mut receiver = toxide.block(incoming.accept()).unwrap();
    assert_eq!(read_checked(toxide, &mut receiver, &data), BIG);
    peer_sent(peer, number, file);
    rate("64 MiB c-toxcore → toxide", BIG, started.elapsed());
    std::fs::remove_file(&source).unwrap();
}

/// The index `i` in a file name `together-<i>.bin`.
fn together_index(name: &str) -> usize {
    name.strip_prefix("together-")
        .and_then(|n| n.strip_suffix(".bin"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not one of the files: {name}"))
}

/// Four files of 4 MiB at once to one friend, each way: all complete
/// with their own content, and they share the session rather than queue
/// behind each other. toxide sends them in turn, a chunk each: when the
/// first one is over, every other one is past half way. c-toxcore
/// favours its lower slots, but each file toxide receives has data
/// before the first one is over.
fn four_files_at_once_each_way(toxide: &mut Toxide, friend: u32, peer: &mut CPeer, number: u32) {
    const FILES: usize = 4;
    const EACH: usize = 4 * MIB;
    let data: Vec<Bytes> = (0..FILES)
        .map(|i| Bytes::from(content(EACH, 600 + i as u64)))
        .collect();

    // toxide → c-toxcore.
    let started = Instant::now();
    let sent: Vec<OutgoingFile> = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            toxide
                .block(toxide.tox.send_file(
                    friend,
                    FILEKIND_DATA,
                    Some(EACH as u64),
                    None,
                    format!("together-{i}.bin"),
                    std::io::Cursor::new(d.clone()),
                ))
                .unwrap()
        })
        .collect();
    let offers: Vec<(u32, usize)> = (0..FILES)
        .map(|_| {
            let (file, size, name) = peer_offer(peer);
            assert_eq!(size, EACH as u64);
            (file, together_index(&name))
        })
        .collect();
    let (first, at_first_end) = toxide.block(async {
        let each = sent.iter().map(|s| Box::pin(s.finished()));
        let (result, first, _) =
            tokio::time::timeout(BULK_TIMEOUT, futures::future::select_all(each))
                .await
                .expect("a file finishes");
        assert!(result.is_ok(), "file {first}: {result:?}");
        let positions: Vec<u64> = sent.iter().map(|s| s.progress().position).collect();
        (first, positions)
    });
    eprintln!("toxide → c-toxcore: file {first} over first; sent then: {at_first_end:?}");
    assert!(
        at_first_end.iter().all(|&p| p >= EACH as u64 / 2),
        "the files did not go together: {at_first_end:?}"
    );
    for &(file, i) in &offers {
        let (bytes, path) = peer_done_within(peer, file, BULK_TIMEOUT);
        assert_eq!(bytes, EACH as u64);
        assert_file_is(&path, &data[i], &format!("together-{i}.bin at c-toxcore"));
    }
    for (i, s) in sent.iter().enumerate() {
        let finished = ended(toxide, s);
        assert!(matches!(finished, Ok(Ok(()))), "file {i}: {finished:?}");
    }
    rate(
        "4 × 4 MiB toxide → c-toxcore",
        FILES * EACH,
        started.elapsed(),
    );

    // c-toxcore → toxide, read by toxide all at once.
    let started = Instant::now();
    let peer_files: Vec<u32> = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let source = peer.work_dir().join(format!("together-{i}.bin"));
            std::fs::write(&source, d).unwrap();
            peer.send_file(number, &source).unwrap()
        })
        .collect();
    let receivers: Vec<(usize, FileReceiver)> = (0..FILES)
        .map(|_| {
            let incoming = offer(toxide);
            let i = together_index(&String::from_utf8_lossy(incoming.name()));
            (i, toxide.block(incoming.accept()).unwrap())
        })
        .collect();
    let (got, at_first_end) = toxide.block(async {
        // Each stream's items tagged with its file, then its end.
        let tagged = receivers.into_iter().map(|(i, receiver)| {
            receiver
                .map(move |item| (i, Some(item)))
                .chain(futures::stream::iter([(i, None)]))
        });
        let mut all = futures::stream::select_all(tagged);
        let mut got = [0usize; FILES];
        let mut at_first_end = None;
        let mut over = 0;
        while over < FILES {
            let next = tokio::time::timeout(EVENT_TIMEOUT, all.next()).await;
            let Ok(Some((i, item))) = next else {
                panic!("no file data within {EVENT_TIMEOUT:?}; got {got:?}");
            };
            match item {
                Some(Ok(bytes)) => {
                    check_chunk(&data[i], got[i], &bytes, &format!("together-{i}.bin"));
                    got[i] += bytes.len();
                }
                Some(Err(why)) => panic!("file {i} ended at {}: {why}", got[i]),
                None => {
                    over += 1;
                    at_first_end.get_or_insert(got);
                }
            }
        }
        (got, at_first_end.unwrap_or_default())
    });
    eprintln!("c-toxcore → toxide: received when the first was over: {at_first_end:?}");
    assert_eq!(got, [EACH; FILES]);
    // c-toxcore's sender serves its files in slot order from the first
    // on every pass and stops at the congestion limit, so lower slots go
    // faster; but none waits for another to finish.
    assert!(
        at_first_end.iter().all(|&n| n > 0),
        "a file waited for another: {at_first_end:?}"
    );
    for file in peer_files {
        peer_sent(peer, number, file);
    }
    rate(
        "4 × 4 MiB c-toxcore → toxide",
        FILES * EACH,
        started.elapsed(),
    );
}

/// The byte toxide's endless-looking source repeats.
const FILL: u8 = 0x5A;

/// One transfer each way, under way: toxide's (a 1 GiB run of [`FILL`]
/// that never completes here) and c-toxcore's (the file at `source`,
/// holding `data`, checked as it arrives).
struct BothWays {
    sent: OutgoingFile,
    /// Its number at c-toxcore.
    sent_there: u32,
    receiver: FileReceiver,
    /// Its number at c-toxcore.
    received_there: u32,
    /// Bytes read from `receiver` so far.
    got: usize,
}

impl BothWays {
    const SENT_SIZE: u64 = 1 << 30;

    /// Data each way before the break.
    const UNDER_WAY: usize = 256 * 1024;

    /// Starts both and returns once [`Self::UNDER_WAY`] bytes have crossed
    /// each way.
    fn start(
        toxide: &mut Toxide,
        friend: u32,
        peer: &mut CPeer,
        number: u32,
        source: &std::path::Path,
        data: &[u8],
    ) -> Self {
        use tokio::io::AsyncReadExt;
        let sent = toxide
            .block(toxide.tox.send_file(
                friend,
                FILEKIND_DATA,
                Some(Self::SENT_SIZE),
                None,
                "broken-to-ctoxcore.bin",
                tokio::io::repeat(FILL).take(Self::SENT_SIZE),
            ))
            .unwrap();
        let (sent_there, ..) = peer_offer(peer);
        let received_there = peer.send_file(number, source).unwrap();
        let incoming = offer(toxide);
        let receiver = toxide.block(incoming.accept()).unwrap();
        let mut both = Self {
            sent,
            sent_there,
            receiver,
            received_there,
            got: 0,
        };
        let deadline = Instant::now() + EVENT_TIMEOUT;
        while both.got < Self::UNDER_WAY || both.sent.progress().position < Self::UNDER_WAY as u64 {
            assert!(
                Instant::now() < deadline,
                "no transfer under way within {EVENT_TIMEOUT:?}: got {}, sent {:?}",
                both.got,
                both.sent.progress()
            );
            let next = toxide.block(async {
                tokio::time::timeout(Duration::from_millis(20), both.receiver.next()).await
            });
            match next {
                Err(_) => {}
                Ok(Some(Ok(bytes))) => {
                    check_chunk(data, both.got, &bytes, "broken-to-toxide.bin");
                    both.got += bytes.len();
                }
                Ok(other) => panic!("the transfer ended at {}: {other:?}", both.got),
            }
        }
        assert!(both.got < data.len(), "the file was over before the break");
        both
    }

    /// Reads what arrived before the end, then how the receiver ended.
    fn receiver_end(&mut self, toxide: &Toxide, data: &[u8]) -> FileEnded {
        toxide.block(async {
            loop {
                match tokio::time::timeout(EVENT_TIMEOUT, self.receiver.next()).await {
                    Err(_) => panic!("the receiver hangs at {}", self.got),
                    Ok(None) => panic!("the receiver ended as if whole at {}", self.got),
                    Ok(Some(Ok(bytes))) => {
                        check_chunk(data, self.got, &bytes, "broken-to-toxide.bin");
                        self.got += bytes.len();
                    }
                    Ok(Some(Err(why))) => return why,
                }
            }
        })
    }
}

/// The C peer's FILE_BROKEN for its file `file`: whether incoming, and
/// the bytes it had moved.
fn peer_broken(peer: &mut CPeer, file: u32) -> (bool, u64) {
    let PeerEvent::FileBroken {
        incoming, bytes, ..
    } = peer
        .wait_event(
            |e| matches!(e, PeerEvent::FileBroken { file: f, .. } if *f == file),
            EVENT_TIMEOUT,
        )
        .unwrap()
    else {
        unreachable!()
    };
    (incoming, bytes)
}

/// A friend going offline in the middle of big transfers both ways ends
/// them on both sides, and nothing hangs.
///
/// toxide goes away first (shut down: its kill packet reaches c-toxcore
/// at once): toxide's own handles end with `Closed`; c-toxcore drops both
/// transfers without a callback, which the C peer reports as FILE_BROKEN
/// (what it had moved; the partial file on its disk is sound). Restarted
/// from its save, toxide is back online and c-toxcore has forgotten both
/// file numbers (`tox_file_control` answers NOT_FOUND), and reuses its
/// sending slot for the next file.
///
/// Then c-toxcore goes away (`tox_kill`) in the middle of the next two:
/// toxide's outgoing handle and its receiver both end with
/// `FileEnded::FriendOffline`, each with a `FileBroken` event.
#[test]
fn a_friend_going_offline_mid_transfer_ends_it_on_both_sides() {
    const NOT_FOUND: &str = "ERR file-control 3"; // TOX_ERR_FILE_CONTROL_NOT_FOUND
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut peer = spawn_peer("offline", &nodes[1], None);
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "going away?");
    both_online(&mut toxide, friend, &mut peer, number);
    let data = content(32 * MIB, 700);
    let source = peer.work_dir().join("broken-to-toxide.bin");
    std::fs::write(&source, &data).unwrap();

    // (a) toxide goes away.
    let mut both = BothWays::start(&mut toxide, friend, &mut peer, number, &source, &data);
    let saved = toxide.block(toxide.tox.savedata()).unwrap();
    toxide.block(toxide.tox.shutdown());
    let finished = ended(&toxide, &both.sent);
    assert!(
        matches!(finished, Ok(Err(FileEnded::Closed))),
        "{finished:?}"
    );
    let why = both.receiver_end(&toxide, &data);
    assert!(matches!(why, FileEnded::Closed), "{why:?}");
    peer.wait_friend_offline(number, EVENT_TIMEOUT).unwrap();
    let (incoming, received) = peer_broken(&mut peer, both.sent_there);
    assert!(incoming);
    assert!(received > 0 && received < BothWays::SENT_SIZE, "{received}");
    let partial = std::fs::read(peer.recv_dir().join("broken-to-ctoxcore.bin")).unwrap();
    assert_eq!(partial.len() as u64, received);
    assert!(
        partial.iter().all(|&b| b == FILL),
        "the partial file differs"
    );
    let (incoming, handed) = peer_broken(&mut peer, both.received_there);
    assert!(!incoming);
    assert!(
        handed >= both.got as u64 && handed < data.len() as u64,
        "c-toxcore handed over {handed}, toxide got {}",
        both.got
    );
    eprintln!("toxide went away: c-toxcore had received {received} and handed over {handed} bytes");
    let stale = peer.take_unclaimed_events();
    assert!(
        !stale
            .iter()
            .any(|l| l.starts_with("FILE_DONE") || l.starts_with("FILE_SENT")),
        "{stale:#?}"
    );
    let old = [both.sent_there, both.received_there];
    drop(both);
    drop(toxide);

    // toxide is back: c-toxcore knows neither transfer any more.
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b.savedata(saved));
    both_online(&mut toxide, friend, &mut peer, number);
    for file in old {
        let refused = peer.file_control(number, file, "cancel");
        assert!(
            matches!(&refused, Err(Error::Command { reply, .. }) if reply == NOT_FOUND),
            "file {file}: {refused:?}"
        );
    }

    // (b) c-toxcore goes away, in the middle of the next two; its sending
    // slot was free again.
    let mut both = BothWays::start(&mut toxide, friend, &mut peer, number, &source, &data);
    assert_eq!(both.received_there, old[1]);
    peer.quit().unwrap();
    toxide.connection(friend, false, EVENT_TIMEOUT);
    let finished = ended(&toxide, &both.sent);
    assert!(
        matches!(finished, Ok(Err(FileEnded::FriendOffline))),
        "{finished:?}"
    );
    let why = both.receiver_end(&toxide, &data);
    assert!(matches!(why, FileEnded::FriendOffline), "{why:?}");
    for file in [both.sent.file(), both.receiver.file()] {
        toxide.wait("the transfer broken", EVENT_TIMEOUT, |e| {
            (*e == ToxEvent::FileBroken { friend, file }).then_some(())
        });
    }
    eprintln!(
        "c-toxcore went away: toxide had sent {} and received {} bytes",
        both.sent.progress().position,
        both.got
    );

    shutdown(&rt, &toxide, nodes);
}

/// c-toxcore resumes a file toxide sends: it holds the first part
/// already, seeks past it (not on a chunk boundary) before accepting, and
/// toxide sends only the rest — had it sent from the start, c-toxcore
/// would have written those bytes at the seek position and the file would
/// differ.
#[test]
fn ctoxcore_seeks_before_accepting_and_toxide_sends_only_the_rest() {
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut peer = CPeer::spawn(PeerOptions {
        label: Some("seeking".into()),
        manual_files: true,
        ..PeerOptions::default()
    })
    .unwrap();
    peer.bootstrap(nodes[1].local_addr().port(), &nodes[1].public_key())
        .unwrap();
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "resume?");
    both_online(&mut toxide, friend, &mut peer, number);

    let data = content(MIB + 777, 800);
    let half = data.len() / 2 + 123;
    let name = "resumed-by-ctoxcore.bin";
    // What c-toxcore kept of an earlier try (it writes into it).
    std::fs::write(peer.recv_dir().join(name), &data[..half]).unwrap();
    let sent = toxide
        .block(toxide.tox.send_file(
            friend,
            FILEKIND_DATA,
            Some(data.len() as u64),
            None,
            name,
            std::io::Cursor::new(data.clone()),
        ))
        .unwrap();
    let (file, size, _) = peer_offer(&mut peer);
    assert_eq!(size, data.len() as u64);
    peer.file_seek(number, file, half as u64).unwrap();
    peer.file_control(number, file, "resume").unwrap();
    // The C peer counts from the seek.
    let (bytes, path) = peer_done(&mut peer, file);
    assert_eq!(bytes, data.len() as u64);
    assert_file_is(&path, &data, "the resumed file");
    let finished = ended(&toxide, &sent);
    assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    assert_eq!(sent.progress().position, data.len() as u64);

    shutdown(&rt, &toxide, nodes);
}
