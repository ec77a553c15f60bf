//! Save files and toxencryptsave against real c-toxcore 0.2.18 (Debian's
//! libtoxcore): what c-toxcore saves, toxide loads and writes back byte for
//! byte; what toxide saves, c-toxcore starts from; and data sealed by
//! either side opens on the other (checklist V1–V12).

use std::fs;
use std::net::SocketAddr;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey, ToxId};
use toxide_dht::DhtState;
use toxide_interop::{CPeer, TempDir};
use toxide_messenger::save::toxencryptsave::salt_of;
use toxide_messenger::save::{
    ConfirmedFriend, FriendRequestMessage, Name, PassError, PassKey, RequestedFriend, SaveData,
    SavedFriend, StatusMessage, UserStatus, pass_decrypt, pass_encrypt,
};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn peer(label: &str, savedata: Option<std::path::PathBuf>) -> Result<CPeer> {
    Ok(CPeer::spawn_labelled(label, savedata)?)
}

/// The bytes c-toxcore's `tox_get_savedata` wrote for `peer`.
fn c_save(peer: &mut CPeer) -> Result<Vec<u8>> {
    let path = peer.work_dir().join("c-save.tox");
    peer.save(&path)?;
    Ok(fs::read(&path)?)
}

/// (a) A c-toxcore profile with a name, a status message, a friend added
/// by Tox ID with a request and one added without: toxide reads the same
/// identity, friends and profile, and writes the same bytes back.
#[test]
fn toxide_loads_what_c_toxcore_saves() -> Result {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5a7e);
    let asked = KeyPair::generate(&mut rng);
    let asked_id = ToxId::new(asked.public, NoSpam([0xca, 0xfe, 0x00, 0x01]));
    let accepted = KeyPair::generate(&mut rng);

    let mut c = peer("c-saver", None)?;
    c.set_name("C peer")?;
    c.set_status_message("saved by c-toxcore")?;
    assert_eq!(c.add_friend(&asked_id, "please add me")?, 0);
    assert_eq!(c.add_friend_norequest(&accepted.public)?, 1);
    let bytes = c_save(&mut c)?;

    let save = SaveData::load(&bytes)?;
    assert_eq!(&save.tox_id(), c.tox_id());
    assert_eq!(&save.keys.public, c.public_key());
    assert_eq!(save.nospam, c.tox_id().nospam);
    assert_eq!(save.name.as_bytes(), b"C peer");
    assert_eq!(save.status_message.as_bytes(), b"saved by c-toxcore");
    assert_eq!(save.user_status, UserStatus::None);
    let [
        SavedFriend::Requested(first),
        SavedFriend::Confirmed(second),
    ] = save.friends.as_slice()
    else {
        panic!(
            "expected a requested and a confirmed friend: {:?}",
            save.friends
        );
    };
    assert_eq!(first.public_key, asked.public);
    assert_eq!(first.nospam, asked_id.nospam);
    assert_eq!(first.message.as_bytes(), b"please add me");
    assert_eq!(second, &ConfirmedFriend::new(accepted.public));

    // toxide's serialisation loads back equal, and is c-toxcore's to the
    // byte: c-toxcore only adds zero padding after the end section.
    let ours = save.to_bytes();
    assert_eq!(SaveData::load(&ours)?, save);
    assert!(
        bytes.starts_with(&ours),
        "toxide wrote other bytes than c-toxcore"
    );
    assert!(bytes[ours.len()..].iter().all(|&b| b == 0));
    c.quit()?;
    Ok(())
}

/// (b) A profile toxide writes: c-toxcore starts from it with the same Tox
/// ID, name, status message and friends, and saves it back unchanged.
#[test]
fn c_toxcore_starts_from_what_toxide_saves() -> Result {
    let mut rng = ChaCha20Rng::seed_from_u64(0xb0b);
    let dir = TempDir::new("save-interop")?;
    let friend_a = KeyPair::generate(&mut rng).public;
    let friend_b = KeyPair::generate(&mut rng).public;
    let mut save = SaveData::new(KeyPair::generate(&mut rng), NoSpam::random(&mut rng));
    save.name = Name::new("toxide")?;
    save.status_message = StatusMessage::new("written by toxide")?;
    save.user_status = UserStatus::Busy;
    save.friends = vec![
        SavedFriend::Confirmed(ConfirmedFriend {
            public_key: friend_a,
            name: Name::new("Alice")?,
            status_message: StatusMessage::new("away for lunch")?,
            user_status: UserStatus::Away,
            last_seen: 1_700_000_000,
        }),
        SavedFriend::Requested(RequestedFriend {
            public_key: friend_b,
            nospam: NoSpam([1, 2, 3, 4]),
            message: FriendRequestMessage::new("hello from toxide")?,
            request_sent: true,
        }),
    ];
    // Loopback addresses only: c-toxcore asks these nodes for peers.
    let nobody = |port: u16, key: u8| {
        PackedNode::udp(
            SocketAddr::from(([127, 0, 0, 1], port)),
            PublicKey::new([key; 32]),
        )
    };
    save.dht = DhtState::new(vec![nobody(9, 0x31), nobody(9, 0x32)])?;
    let path = dir.path().join("toxide.tox");
    std::fs::write(&path, save.to_bytes())?;

    let mut c = peer("c-loader", Some(path))?;
    assert_eq!(c.tox_id(), &save.tox_id());
    assert_eq!(c.address()?, save.tox_id());
    assert_eq!(c.friend_list()?, [friend_a, friend_b]);
    assert_eq!(c.self_name()?, "toxide");
    assert_eq!(c.self_status_message()?, "written by toxide");

    // c-toxcore re-adds a requested friend as "added" (status 1): it sends
    // the request again. Everything else comes back as written.
    let back = SaveData::load(&c_save(&mut c)?)?;
    let mut expected = save.clone();
    if let Some(SavedFriend::Requested(f)) = expected.friends.get_mut(1) {
        f.request_sent = false;
    }
    assert_eq!(back, expected);
    c.quit()?;
    Ok(())
}

/// (c) toxencryptsave: c-toxcore's sealed data opens in toxide and toxide's
/// in c-toxcore, empty and non-ASCII passphrases included; a wrong
/// passphrase fails on both sides.
#[test]
fn toxencryptsave_is_byte_compatible() -> Result {
    let mut rng = ChaCha20Rng::seed_from_u64(0xe5a7e);
    let mut c = peer("c-encryptsave", None)?;
    let plain = c_save(&mut c)?;

    for passphrase in [
        &b"correct horse battery staple"[..],
        b"",
        "pässwörd ✓".as_bytes(),
    ] {
        // c-toxcore seals, toxide opens: one-shot and with a derived key.
        let sealed_by_c = c.pass_encrypt(passphrase, &plain)?;
        assert_eq!(sealed_by_c.len(), plain.len() + 80);
        assert!(toxide_messenger::save::is_encrypted(&sealed_by_c));
        assert_eq!(pass_decrypt(passphrase, &sealed_by_c)?, plain);
        let key = PassKey::derive_with_salt(passphrase, salt_of(&sealed_by_c)?)?;
        assert_eq!(key.decrypt(&sealed_by_c)?, plain);
        assert_eq!(
            pass_decrypt(b"not it", &sealed_by_c),
            Err(PassError::WrongPassphrase)
        );

        // toxide seals, c-toxcore opens.
        let sealed_by_toxide = pass_encrypt(passphrase, &plain, &mut rng)?;
        assert_eq!(
            c.pass_decrypt(passphrase, &sealed_by_toxide)?,
            Some(plain.clone())
        );
        assert_eq!(c.pass_decrypt(b"not it", &sealed_by_toxide)?, None);
        let again = key.encrypt(&plain, &mut rng)?;
        assert_eq!(c.pass_decrypt(passphrase, &again)?, Some(plain.clone()));
    }

    // The decrypted c-toxcore save is the same profile.
    let sealed = c.pass_encrypt(b"pw", &plain)?;
    let save = SaveData::load(&pass_decrypt(b"pw", &sealed)?)?;
    assert_eq!(&save.tox_id(), c.tox_id());
    c.quit()?;
    Ok(())
}
