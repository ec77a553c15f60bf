//! The save format from hand-built bytes: what c-toxcore 0.2.18 accepts,
//! refuses and ignores, section by section (checklist V1–V10).

// Fixture helpers run outside #[test] functions, where clippy.toml's
// test allowances do not reach.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::testing::{node_v4, node_v6};
use toxide_core::{Encode, KeyPair, NoSpam, PackedNode, PublicKey, TransportProtocol};
use toxide_dht::DhtState;
use toxide_messenger::save::section::*;
use toxide_messenger::save::{
    ConfirmedFriend, FRIEND_RECORD_SIZE, FriendRequestMessage, Name, RawSection, RequestedFriend,
    SaveData, SaveError, SavedFriend, StatusMessage, UserStatus, pass_encrypt,
};

fn keys(seed: u64) -> KeyPair {
    KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

fn section(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&STATE_COOKIE_TYPE.to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn nospam_keys(nospam: [u8; 4], keys: &KeyPair) -> Vec<u8> {
    let mut body = nospam.to_vec();
    body.extend_from_slice(keys.public.as_bytes());
    body.extend_from_slice(keys.secret.to_bytes().as_ref());
    section(SECTION_NOSPAM_KEYS, &body)
}

fn file(sections: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0];
    out.extend_from_slice(&STATE_COOKIE_GLOBAL.to_le_bytes());
    for s in sections {
        out.extend_from_slice(s);
    }
    out
}

fn confirmed(byte: u8) -> SavedFriend {
    SavedFriend::Confirmed(ConfirmedFriend::new(PublicKey::new([byte; 32])))
}

fn requested(byte: u8) -> SavedFriend {
    SavedFriend::Requested(RequestedFriend {
        public_key: PublicKey::new([byte; 32]),
        nospam: NoSpam([9, 8, 7, 6]),
        message: FriendRequestMessage::new("add me").unwrap(),
        request_sent: false,
    })
}

fn full_save() -> SaveData {
    let mut save = SaveData::new(keys(1), NoSpam([0x12, 0x34, 0x56, 0x78]));
    save.dht = DhtState::new(vec![node_v4(1), node_v6(2)]).unwrap();
    save.friends = vec![requested(0x21), confirmed(0x22)];
    save.name = Name::new("Alice").unwrap();
    save.status_message = StatusMessage::new("here").unwrap();
    save.user_status = UserStatus::Away;
    save.tcp_relays = vec![PackedNode::new(
        TransportProtocol::Tcp,
        "192.0.2.7:443".parse().unwrap(),
        PublicKey::new([7; 32]),
    )];
    save.path_nodes = vec![node_v4(3)];
    save.conferences = vec![1, 2, 3];
    save.unknown_sections = vec![RawSection {
        kind: 7,
        body: b"ngc".to_vec(),
    }];
    save
}

/// The order and framing `tox_get_savedata` writes: 1, 2, 3, 4, 5, 6, 10,
/// 11, 20, (kept unknown ones), 255.
#[test]
fn sections_are_written_in_c_toxcores_order() {
    let save = full_save();
    let bytes = save.to_bytes();
    assert_eq!(&bytes[..8], &[0, 0, 0, 0, 0x1f, 0x1b, 0xed, 0x15]);
    let mut kinds = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        kinds.push(u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]));
        assert_eq!(&bytes[at + 6..at + 8], &[0xce, 0x01]);
        at += 8 + len;
    }
    assert_eq!(at, bytes.len());
    assert_eq!(kinds, [1, 2, 3, 4, 5, 6, 10, 11, 20, 7, 255]);
    assert_eq!(SaveData::load(&bytes), Ok(save));
}

/// Section 1 holds the nospam bytes as they appear in the Tox ID.
#[test]
fn nospam_keys_layout() {
    let save = SaveData::new(keys(2), NoSpam([0xaa, 0xbb, 0xcc, 0xdd]));
    let bytes = save.to_bytes();
    assert_eq!(&bytes[8..16], &[68, 0, 0, 0, 1, 0, 0xce, 0x01]);
    assert_eq!(&bytes[16..20], &[0xaa, 0xbb, 0xcc, 0xdd]);
    assert_eq!(&bytes[20..52], save.keys.public.as_bytes());
    assert_eq!(&bytes[52..84], save.keys.secret.to_bytes().as_ref());
    assert_eq!(save.tox_id().nospam, NoSpam([0xaa, 0xbb, 0xcc, 0xdd]));
}

#[test]
fn any_section_order_loads() {
    let k = keys(3);
    let bytes = file(&[
        section(SECTION_NAME, b"late name"),
        section(SECTION_STATUS, &[2]),
        nospam_keys([1, 2, 3, 4], &k),
        section(SECTION_EOF, &[]),
    ]);
    let save = SaveData::load(&bytes).unwrap();
    assert_eq!(save.name.as_bytes(), b"late name");
    assert_eq!(save.user_status, UserStatus::Busy);
    assert_eq!(save.keys.public, k.public);
    assert_eq!(save.nospam, NoSpam([1, 2, 3, 4]));
}

#[test]
fn keys_are_required_and_checked() {
    let k = keys(4);
    assert_eq!(
        SaveData::load(&file(&[section(SECTION_NAME, b"x")])),
        Err(SaveError::MissingKeys)
    );
    let mut wrong = nospam_keys([0; 4], &k);
    wrong[8 + 4] ^= 1; // first byte of the public key
    assert_eq!(SaveData::load(&file(&[wrong])), Err(SaveError::KeyMismatch));
    let mut short = nospam_keys([0; 4], &k);
    short.pop();
    short[0] = 67;
    assert_eq!(
        SaveData::load(&file(&[short])),
        Err(SaveError::KeysLength { len: 67 })
    );
}

#[test]
fn the_friends_section_must_hold_whole_records() {
    let k = keys(5);
    let body = vec![0u8; FRIEND_RECORD_SIZE + 1];
    assert_eq!(
        SaveData::load(&file(&[
            nospam_keys([0; 4], &k),
            section(SECTION_FRIENDS, &body)
        ])),
        Err(SaveError::FriendsLength {
            len: FRIEND_RECORD_SIZE + 1
        })
    );
    // Empty slots (status 0) are skipped, as c-toxcore skips them.
    let body = vec![0u8; FRIEND_RECORD_SIZE * 2];
    let save = SaveData::load(&file(&[
        nospam_keys([0; 4], &k),
        section(SECTION_FRIENDS, &body),
    ]))
    .unwrap();
    assert!(save.friends.is_empty());
}

/// A conferences section that does not read fails the whole load, as
/// c-toxcore's `conferences_load` does: here one saved conference whose
/// title length (byte 45) claims more than the 128 bytes c-toxcore keeps.
#[test]
fn an_unreadable_conferences_section_refuses_the_save() {
    let k = keys(7);
    let mut body = vec![0u8; 46];
    body[45] = 200;
    body.extend_from_slice(&[b't'; 200]);
    let loaded = SaveData::load(&file(&[
        nospam_keys([0; 4], &k),
        section(SECTION_CONFERENCES, &body),
    ]));
    assert!(
        matches!(loaded, Err(SaveError::Conferences(_))),
        "{loaded:?}"
    );
    // No conference at all (an empty section) is fine.
    let save = SaveData::load(&file(&[
        nospam_keys([0; 4], &k),
        section(SECTION_CONFERENCES, &[]),
    ]))
    .unwrap();
    assert!(save.conferences.is_empty());
}

#[test]
fn ourselves_and_repeated_keys_are_not_friends() {
    let mut save = SaveData::new(keys(6), NoSpam::default());
    let me = SavedFriend::Confirmed(ConfirmedFriend::new(save.keys.public));
    save.friends = vec![confirmed(1), me, requested(1), requested(2)];
    let loaded = SaveData::load(&save.to_bytes()).unwrap();
    assert_eq!(loaded.friends, [confirmed(1), requested(2)]);
}

#[test]
fn friends_sections_add_up_and_other_sections_replace() {
    let k = keys(7);
    let bytes = file(&[
        nospam_keys([0; 4], &k),
        section(SECTION_FRIENDS, &confirmed(1).to_bytes()),
        section(SECTION_NAME, b"first"),
        section(SECTION_FRIENDS, &confirmed(2).to_bytes()),
        section(SECTION_NAME, b"second"),
        section(SECTION_CONFERENCES, b"ab"),
        section(SECTION_CONFERENCES, b"cd"),
    ]);
    let save = SaveData::load(&bytes).unwrap();
    assert_eq!(save.friends, [confirmed(1), confirmed(2)]);
    assert_eq!(save.name.as_bytes(), b"second");
    assert_eq!(save.conferences, b"abcd");
}

/// What `load_name`, `load_status_message` and `load_status` ignore.
#[test]
fn profile_values_c_toxcore_ignores_are_ignored() {
    let k = keys(8);
    let bytes = file(&[
        nospam_keys([0; 4], &k),
        section(SECTION_NAME, b"kept"),
        section(SECTION_NAME, b""),
        section(SECTION_NAME, &[b'n'; 129]),
        section(SECTION_STATUS_MESSAGE, &[b's'; 1008]),
        section(SECTION_STATUS, &[1]),
        section(SECTION_STATUS, &[3]),
        section(SECTION_STATUS, &[2, 2]),
    ]);
    let save = SaveData::load(&bytes).unwrap();
    assert_eq!(save.name.as_bytes(), b"kept");
    assert_eq!(save.status_message, StatusMessage::default());
    assert_eq!(save.user_status, UserStatus::Away);
}

/// The node caches: a malformed list loads nothing and fails nothing.
#[test]
fn malformed_node_sections_load_no_nodes() {
    let k = keys(9);
    let bytes = file(&[
        nospam_keys([0; 4], &k),
        section(SECTION_DHT, b"not a DHT state"),
        section(SECTION_TCP_RELAYS, &[2, 1, 2]),
        section(SECTION_PATH_NODES, &[0xff; 39]),
    ]);
    let save = SaveData::load(&bytes).unwrap();
    assert_eq!(save.dht, DhtState::default());
    assert!(save.tcp_relays.is_empty());
    assert!(save.path_nodes.is_empty());
}

#[test]
fn unknown_sections_are_kept_and_written_back() {
    let k = keys(10);
    let bytes = file(&[
        nospam_keys([0; 4], &k),
        section(7, b"groups of 0.2.19"),
        section(300, b""),
        section(SECTION_EOF, &[]),
    ]);
    let save = SaveData::load(&bytes).unwrap();
    assert_eq!(
        save.unknown_sections,
        [
            RawSection {
                kind: 7,
                body: b"groups of 0.2.19".to_vec()
            },
            RawSection {
                kind: 300,
                body: Vec::new()
            }
        ]
    );
    assert_eq!(SaveData::load(&save.to_bytes()), Ok(save));
}

/// c-toxcore pads its save with zeros after the end section.
#[test]
fn zero_padding_after_the_end_is_ignored() {
    let save = full_save();
    let mut bytes = save.to_bytes();
    bytes.extend_from_slice(&[0; 816]);
    assert_eq!(SaveData::load(&bytes), Ok(save));
}

#[test]
fn an_encrypted_save_is_named_as_such() {
    let plain = full_save().to_bytes();
    let sealed = pass_encrypt(b"pw", &plain, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    assert_eq!(SaveData::load(&sealed), Err(SaveError::Encrypted));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = full_save().to_bytes();
    for len in 0..bytes.len() {
        // Cutting exactly at a section boundary before the end section
        // leaves a valid save without it; any other cut must fail.
        if let Ok(save) = SaveData::load(&bytes[..len]) {
            assert!(len >= 8 + 8 + 68, "a save without keys loaded at {len}");
            let again = SaveData::load(&save.to_bytes()).unwrap();
            assert_eq!(again, save);
        }
    }
}

#[test]
fn texts_refuse_what_c_toxcore_drops() {
    assert!(FriendRequestMessage::new("").is_err());
    assert!(FriendRequestMessage::new(vec![0; 1017]).is_err());
    assert!(Name::new(vec![0; 129]).is_err());
    assert!(StatusMessage::new(vec![0; 1008]).is_err());
}

#[test]
fn encoded_length_is_exact() {
    let save = full_save();
    let bytes = save.to_bytes();
    assert_eq!(bytes.len(), bytes.capacity());
    assert_eq!(
        SavedFriend::Confirmed(ConfirmedFriend::new(PublicKey::new([1; 32]))).encoded_len(),
        FRIEND_RECORD_SIZE
    );
}
