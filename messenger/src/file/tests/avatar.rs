//! Our avatar: offered by the messenger itself on coming online and on
//! every change, its chunks supplied from the image it holds, its events
//! kept from the application; the friend sees an ordinary avatar offer
//! whose file id is the image's SHA-256.

use super::*;
use crate::packet::FILEKIND_AVATAR;

fn avatar_offers(log: &[Event]) -> Vec<(FileNumber, u64, [u8; 32])> {
    log.iter()
        .filter_map(|e| match e {
            Event::FileReceive {
                file,
                kind: FILEKIND_AVATAR,
                size,
                file_id,
                name,
                ..
            } => {
                assert!(name.is_empty(), "avatars go without a name");
                Some((*file, *size, *file_id))
            }
            _ => None,
        })
        .collect()
}

/// Whether the application was told anything of a file.
fn file_events(log: &[Event]) -> Vec<&Event> {
    log.iter()
        .filter(|e| {
            matches!(
                e,
                Event::FileChunkRequest { .. }
                    | Event::FileControl { .. }
                    | Event::FileBroken { .. }
                    | Event::FileReceive { .. }
                    | Event::FileChunk { .. }
            )
        })
        .collect()
}

impl Pair {
    /// Both sessions go down and come up again.
    fn reconnect(&mut self) {
        self.a.m.session_down(&key(2));
        self.b.m.session_down(&key(1));
        self.run();
        self.a.m.session_up(&key(2), &mut self.a.link);
        self.b.m.session_up(&key(1), &mut self.b.link);
    }
}

#[test]
fn the_hash_is_sha256() {
    // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
    assert_eq!(
        avatar_hash(b"abc")[..4],
        [0xba, 0x78, 0x16, 0xbf],
        "SHA-256, as c-toxcore's tox_hash"
    );
}

#[test]
fn a_friend_coming_online_is_offered_the_avatar_and_gets_it_whole() {
    let mut pair = Pair::new(4);
    // Nothing is offered before the application sets an avatar.
    pair.reconnect();
    pair.run();
    assert!(avatar_offers(&pair.b.app.log).is_empty());

    let image = content(5000, 9);
    pair.a.m.session_down(&key(2));
    pair.b.m.session_down(&key(1));
    pair.run();
    // Set while the friend is offline: offered when it comes online.
    pair.a
        .m
        .set_avatar(Some(Bytes::from(image.clone())), &mut pair.a.link)
        .unwrap();
    assert_eq!(pair.a.m.avatar().map(|a| a.to_vec()), Some(image.clone()));
    pair.a.app.log.clear();
    pair.b.app.log.clear();
    pair.a.m.session_up(&key(2), &mut pair.a.link);
    pair.b.m.session_up(&key(1), &mut pair.b.link);
    pair.run();
    let offers = avatar_offers(&pair.b.app.log);
    assert_eq!(
        offers,
        [(FileNumber::Incoming(0), 5000, avatar_hash(&image))]
    );
    assert_eq!(pair.b.app.received[&FileNumber::Incoming(0)], image);
    assert_eq!(pair.b.app.ended, [(FileNumber::Incoming(0), 5000)]);
    assert!(
        file_events(&pair.a.app.log).is_empty(),
        "the application hears nothing of the avatar it did not send: {:?}",
        pair.a.app.log
    );
    assert_eq!(pair.a.m.file_info(0, FileNumber::Outgoing(0)), None);

    // Every time it comes online again.
    pair.b.app.received.clear();
    pair.b.app.ended.clear();
    pair.reconnect();
    pair.run();
    assert_eq!(pair.b.app.received[&FileNumber::Incoming(0)], image);
}

#[test]
fn a_new_avatar_replaces_the_offer_under_way() {
    let mut pair = Pair::new(4);
    pair.b.app.accept = false;
    let first = content(3000, 1);
    let second = content(2000, 2);
    pair.a
        .m
        .set_avatar(Some(Bytes::from(first.clone())), &mut pair.a.link)
        .unwrap();
    pair.run();
    assert_eq!(
        avatar_offers(&pair.b.app.log),
        [(FileNumber::Incoming(0), 3000, avatar_hash(&first))]
    );
    pair.b.app.log.clear();
    pair.a
        .m
        .set_avatar(Some(Bytes::from(second.clone())), &mut pair.a.link)
        .unwrap();
    pair.run();
    // The old offer is cancelled, the new one made in the next slot (the
    // old one waits until the friend has our kill).
    assert_eq!(
        pair.b.app.log.first(),
        Some(&Event::FileControl {
            friend: 0,
            file: FileNumber::Incoming(0),
            control: Control::Kill
        })
    );
    assert_eq!(
        avatar_offers(&pair.b.app.log),
        [(FileNumber::Incoming(1), 2000, avatar_hash(&second))]
    );
    pair.b
        .m
        .file_control(
            0,
            FileNumber::Incoming(1),
            Control::Accept,
            &mut pair.b.link,
        )
        .unwrap();
    pair.run();
    assert_eq!(pair.b.app.received[&FileNumber::Incoming(1)], second);

    // No avatar: an offer of size 0 with the hash of nothing.
    pair.b.app.log.clear();
    pair.a.m.set_avatar(None, &mut pair.a.link).unwrap();
    pair.run();
    assert_eq!(
        avatar_offers(&pair.b.app.log),
        [(FileNumber::Incoming(0), 0, avatar_hash(b""))]
    );
    assert!(
        file_events(&pair.a.app.log).is_empty(),
        "{:?}",
        pair.a.app.log
    );
}

#[test]
fn a_friend_refusing_the_avatar_ends_it_quietly() {
    let mut pair = Pair::new(4);
    pair.b.app.accept = false;
    pair.a
        .m
        .set_avatar(Some(Bytes::from(content(100, 3))), &mut pair.a.link)
        .unwrap();
    pair.run();
    // It has that image already.
    pair.b
        .m
        .file_control(0, FileNumber::Incoming(0), Control::Kill, &mut pair.b.link)
        .unwrap();
    pair.run();
    assert!(
        file_events(&pair.a.app.log).is_empty(),
        "{:?}",
        pair.a.app.log
    );
    assert_eq!(pair.a.m.file_info(0, FileNumber::Outgoing(0)), None);
    // A file of the application's takes the slot and is its own.
    pair.b.app.accept = true;
    let file = offer(&mut pair, content(4000, 4), false);
    assert_eq!(file, FileNumber::Outgoing(0));
    pair.run();
    assert_eq!(pair.a.app.sent, [file]);
}

#[test]
fn the_avatar_and_the_applications_files_keep_apart() {
    let mut pair = Pair::new(3);
    let data = content(20_000, 5);
    let file = offer(&mut pair, data.clone(), false);
    let image = content(9000, 6);
    pair.a
        .m
        .set_avatar(Some(Bytes::from(image.clone())), &mut pair.a.link)
        .unwrap();
    pair.run();
    assert_eq!(pair.b.app.received[&FileNumber::Incoming(0)], data);
    assert_eq!(pair.b.app.received[&FileNumber::Incoming(1)], image);
    assert_eq!(pair.a.app.sent, [file]);
    assert!(
        pair.a.app.log.iter().all(|e| match e {
            Event::FileChunkRequest { file: f, .. } | Event::FileControl { file: f, .. } =>
                *f == file,
            _ => true,
        }),
        "only the application's file is reported: {:?}",
        pair.a.app.log
    );

    // Going offline mid-avatar: only the application's transfers are
    // reported broken.
    pair.b.app.accept = false;
    let file = offer(&mut pair, content(100, 7), false);
    pair.a
        .m
        .set_avatar(Some(Bytes::from(content(50, 8))), &mut pair.a.link)
        .unwrap();
    pair.run();
    pair.a.app.log.clear();
    pair.a.m.session_down(&key(2));
    pair.a.handle_events();
    let broken: Vec<_> = pair
        .a
        .app
        .log
        .iter()
        .filter(|e| matches!(e, Event::FileBroken { .. }))
        .collect();
    assert_eq!(broken, [&Event::FileBroken { friend: 0, file }]);
}

#[test]
fn an_avatar_too_large_for_clients_is_refused() {
    let mut pair = Pair::new(4);
    let big = Bytes::from(vec![0; MAX_AVATAR_SIZE + 1]);
    assert_eq!(
        pair.a.m.set_avatar(Some(big), &mut pair.a.link),
        Err(FileError::AvatarTooLarge(MAX_AVATAR_SIZE + 1))
    );
    assert_eq!(pair.a.m.avatar(), None);
    let largest = Bytes::from(content(MAX_AVATAR_SIZE, 1));
    pair.a
        .m
        .set_avatar(Some(largest.clone()), &mut pair.a.link)
        .unwrap();
    pair.run();
    assert_eq!(
        pair.b.app.received[&FileNumber::Incoming(0)],
        largest.to_vec()
    );
}
