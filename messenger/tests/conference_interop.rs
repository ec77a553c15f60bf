//! The conferences save section (state section 20) against real c-toxcore
//! 0.2.18 (Debian's libtoxcore): what c-toxcore saves, toxide reads and
//! writes back byte for byte, and what toxide writes, c-toxcore loads
//! (checklist G12, V8).

use std::fs;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{Decode, Encode, KeyPair, NoSpam, PublicKey};
use toxide_interop::{Bootstrapd, CPeer, Event, TempDir, escape, hex_decode};
use toxide_messenger::conference::{
    ConferenceId, ConferenceType, GROUP_ID_LENGTH, PeerName, PeerNumber, SAVED_CONF_SIZE_CONSTANT,
    SavedConference, SavedConferences, SavedPeer, Title, saved_lossy_message_number,
    saved_message_number,
};
use toxide_messenger::save::SaveData;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// c-toxcore needs ~10 s from start to a friend connection on loopback.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const CONFERENCE_TIMEOUT: Duration = Duration::from_secs(30);

fn peer(label: &str, savedata: Option<std::path::PathBuf>) -> Result<CPeer> {
    Ok(CPeer::spawn_labelled(label, savedata)?)
}

/// The profile c-toxcore's `tox_get_savedata` writes for `peer`.
fn c_save(peer: &mut CPeer) -> Result<SaveData> {
    let path = peer.work_dir().join("c-save.tox");
    peer.save(&path)?;
    Ok(SaveData::load(&fs::read(&path)?)?)
}

/// The conferences of a c-toxcore save, checked to re-encode to the bytes
/// c-toxcore wrote.
fn conferences(save: &SaveData) -> Result<Vec<SavedConference>> {
    let section = SavedConferences::from_bytes(&save.conferences)?;
    assert_eq!(
        section.to_bytes(),
        save.conferences,
        "toxide re-encodes the conferences section to other bytes than c-toxcore's"
    );
    Ok(section.0)
}

/// `tox_conference_get_id` of conference `conference`.
fn conference_id(peer: &mut CPeer, conference: u32) -> Result<[u8; GROUP_ID_LENGTH]> {
    let hex = peer.send_command(&format!("conference-id {conference}"))?;
    let bytes = hex_decode(&hex).ok_or("conference-id: not hex")?;
    Ok(bytes.as_slice().try_into()?)
}

/// (a) One c-toxcore peer founds a conference and titles it: its save
/// holds that conference as the founder (peer 0, no other peer), with the
/// message numbers saved ahead, and toxide writes the same bytes back.
#[test]
fn toxide_reads_a_conference_c_toxcore_saved() -> Result {
    let mut c = peer("c-founder", None)?;
    c.set_name("Founder")?;
    let conference: u32 = c.send_command("conference-new")?.parse()?;
    c.send_command(&format!(
        "conference-title {conference} {}",
        escape("toxide ⇄ c-toxcore")
    ))?;
    let id = conference_id(&mut c, conference)?;

    let save = c_save(&mut c)?;
    let [saved] = conferences(&save)?
        .try_into()
        .map_err(|v| format!("{v:?}"))?;
    assert_eq!(
        saved,
        SavedConference {
            id: ConferenceId {
                conference_type: ConferenceType::Text,
                id,
            },
            // Nothing sent yet: the live numbers are 0.
            message_number: saved_message_number(0),
            lossy_message_number: saved_lossy_message_number(0),
            peer_number: PeerNumber(0),
            title: Some(Title::new("toxide ⇄ c-toxcore")?),
            peers: vec![],
        }
    );
    assert_eq!(save.conferences.len(), SAVED_CONF_SIZE_CONSTANT + 20);
    c.quit()?;
    Ok(())
}

/// (b) A conference section toxide writes, with a frozen peer, loads in
/// c-toxcore: it reports the id and saves the conference back unchanged
/// but for the message numbers, which it moves ahead again.
#[test]
fn c_toxcore_loads_a_conference_toxide_saved() -> Result {
    let dir = TempDir::new("conference-save")?;
    let mut rng = ChaCha20Rng::seed_from_u64(0xc0f5);
    let mut save = SaveData::new(KeyPair::generate(&mut rng), NoSpam([1, 2, 3, 4]));
    let written = SavedConference {
        id: ConferenceId {
            conference_type: ConferenceType::Text,
            id: [0x3c; GROUP_ID_LENGTH],
        },
        message_number: 70_000,
        lossy_message_number: 9_000,
        peer_number: PeerNumber(0x1234),
        title: Some(Title::new("written by toxide")?),
        peers: vec![SavedPeer {
            real_pk: KeyPair::generate(&mut rng).public,
            temp_pk: PublicKey::new([0x5d; 32]),
            peer_number: PeerNumber(0x0777),
            last_active: 1_700_000_000,
            name: PeerName::new("Frozen Fred")?,
        }],
    };
    save.conferences = SavedConferences(vec![written.clone()]).to_bytes();
    let path = dir.path().join("toxide.tox");
    fs::write(&path, save.to_bytes())?;

    let mut c = peer("c-conference-loader", Some(path))?;
    assert_eq!(conference_id(&mut c, 0)?, written.id.id);
    assert_eq!(c.send_command("conference-peers 0")?, "1");

    let back = c_save(&mut c)?;
    let [again] = conferences(&back)?
        .try_into()
        .map_err(|v| format!("{v:?}"))?;
    assert_eq!(
        again,
        SavedConference {
            message_number: saved_message_number(written.message_number),
            lossy_message_number: saved_lossy_message_number(written.lossy_message_number),
            ..written
        }
    );
    c.quit()?;
    Ok(())
}

/// (c) Two c-toxcore peers in one conference: each one's save lists the
/// other with its long-term key, DHT key, name and the peer number the
/// other saved as its own.
#[test]
fn saved_peers_are_the_other_members() -> Result {
    let node = Bootstrapd::spawn()?;
    let mut a = peer("c-alice", None)?;
    let mut b = peer("c-bob", None)?;
    a.set_name("Alice")?;
    b.set_name("Bob")?;
    a.bootstrap_to(&node)?;
    b.bootstrap_to(&node)?;
    let a_friend_b = a.add_friend(b.tox_id(), "conference")?;
    let (a_key, _) = b.wait_friend_request(CONNECT_TIMEOUT)?;
    b.add_friend_norequest(&a_key)?;
    a.wait_friend_online(a_friend_b, CONNECT_TIMEOUT)?;

    let conference: u32 = a.send_command("conference-new")?.parse()?;
    a.send_command(&format!("conference-title {conference} {}", escape("Both")))?;
    a.send_command(&format!("conference-invite {conference} {a_friend_b}"))?;
    let Event::ConferenceJoined {
        conference: b_conference,
        ..
    } = b.wait_event(
        |e| matches!(e, Event::ConferenceJoined { .. }),
        CONFERENCE_TIMEOUT,
    )?
    else {
        unreachable!()
    };
    for c in [&mut a, &mut b] {
        c.wait_event(
            |e| matches!(e, Event::ConferencePeers { count: 2, .. }),
            CONFERENCE_TIMEOUT,
        )?;
    }
    let id = conference_id(&mut a, conference)?;
    assert_eq!(conference_id(&mut b, b_conference)?, id);

    // Names and the title follow the peer list in their own messages:
    // save until both sides have them.
    let deadline = Instant::now() + CONFERENCE_TIMEOUT;
    let (a_saved, b_saved) = loop {
        let a_saved = conferences(&c_save(&mut a)?)?;
        let b_saved = conferences(&c_save(&mut b)?)?;
        let named = |s: &[SavedConference]| {
            s.first().is_some_and(|c| {
                c.title.is_some() && c.peers.first().is_some_and(|p| !p.name.is_empty())
            })
        };
        if named(&a_saved) && named(&b_saved) {
            break (a_saved, b_saved);
        }
        assert!(
            Instant::now() < deadline,
            "names never arrived: {a_saved:?} {b_saved:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let ([a_conf], [b_conf]) = (a_saved.as_slice(), b_saved.as_slice()) else {
        panic!("one conference each: {a_saved:?} {b_saved:?}");
    };
    for conf in [a_conf, b_conf] {
        assert_eq!(conf.id.id, id);
        assert_eq!(conf.id.conference_type, ConferenceType::Text);
        assert_eq!(conf.title, Some(Title::new("Both")?));
        assert!(conf.message_number >= saved_message_number(0));
    }
    assert_eq!(a_conf.peer_number, PeerNumber(0), "the founder is peer 0");
    let [bob] = a_conf.peers.as_slice() else {
        panic!("Alice saves Bob only: {:?}", a_conf.peers);
    };
    let [alice] = b_conf.peers.as_slice() else {
        panic!("Bob saves Alice only: {:?}", b_conf.peers);
    };
    assert_eq!(&bob.real_pk, b.public_key());
    assert_eq!(&bob.temp_pk, b.dht_key());
    assert_eq!(bob.peer_number, b_conf.peer_number);
    assert_eq!(bob.name.as_bytes(), b"Bob");
    assert_eq!(&alice.real_pk, a.public_key());
    assert_eq!(&alice.temp_pk, a.dht_key());
    assert_eq!(alice.peer_number, PeerNumber(0));
    assert_eq!(alice.name.as_bytes(), b"Alice");
    a.quit()?;
    b.quit()?;
    Ok(())
}
