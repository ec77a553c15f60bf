//! The `Tox` API's operations on a bare [`Stack`], for every driver.
//!
//! [`Tox`](super::Tox) runs each of these inside its tokio driver task;
//! the C API (crate `toxide-ffi`) runs them from `tox_*` calls on the
//! stack of its synchronous driver ([`crate::sync_driver`]). Keeping them
//! here gives both the same rules: which friend add is an error, what a
//! name change reaches, what a save holds. After an operation the caller
//! lets what the stack queued go out (its driver's flush).

use std::time::Instant;

use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey, ToxId};
use toxide_messenger::messenger::{FriendNumber, MessengerError};
use toxide_messenger::save::{PassKey, SaveData};
use toxide_onion::client::FriendError;

use super::{FriendInfo, ToxError, profile};
use crate::Stack;

pub use profile::Kept;

/// A profile ready to start: who we are, and the save it came from.
#[derive(Debug)]
pub struct Profile {
    /// The long-term key pair.
    pub keys: KeyPair,
    /// The nospam of our Tox ID.
    pub nospam: NoSpam,
    /// The key of an encrypted save (or of a passphrase given for a new
    /// profile): saves are encrypted with it.
    pub pass_key: Option<PassKey>,
    /// The save loaded, to put into the stack once it runs
    /// ([`restore`]).
    pub save: Option<SaveData>,
    /// What the save holds that the stack does not use.
    pub kept: Kept,
}

impl Profile {
    /// Reads `savedata` (c-toxcore's format, plain or encrypted with
    /// toxencryptsave; `None`: a new profile). An encrypted save needs
    /// `passphrase`; a passphrase given for a plain save or a new profile
    /// encrypts every later save.
    pub fn load(savedata: Option<&[u8]>, passphrase: Option<&[u8]>) -> Result<Self, ToxError> {
        let mut pass_key = None;
        let save = match savedata {
            Some(bytes) if toxide_messenger::save::is_encrypted(bytes) => {
                let passphrase = passphrase.ok_or(ToxError::PassphraseNeeded)?;
                let salt = toxide_messenger::save::toxencryptsave::salt_of(bytes)?;
                let key = PassKey::derive_with_salt(passphrase, salt)?;
                let plain = key.decrypt(bytes)?;
                pass_key = Some(key);
                Some(SaveData::load(&plain)?)
            }
            Some(bytes) => Some(SaveData::load(bytes)?),
            None => None,
        };
        if pass_key.is_none() {
            if let Some(passphrase) = passphrase {
                pass_key = Some(PassKey::derive(passphrase, &mut rand::rng())?);
            }
        }
        let (keys, nospam) = match &save {
            Some(save) => (save.keys.clone(), save.nospam),
            None => {
                let mut rng = rand::rng();
                (KeyPair::generate(&mut rng), NoSpam::random(&mut rng))
            }
        };
        let kept = save.as_ref().map(Kept::of).unwrap_or_default();
        Ok(Self {
            keys,
            nospam,
            pass_key,
            save,
            kept,
        })
    }
}

/// Puts a loaded save into a fresh stack and starts joining the network
/// through `bootstrap`.
pub fn restore(stack: &mut Stack, now: Instant, save: Option<&SaveData>, bootstrap: &[PackedNode]) {
    if let Some(save) = save {
        profile::restore(stack, now, save);
    }
    for &node in bootstrap {
        stack.bootstrap(now, node);
    }
    // The loaded conferences ask for their peers' connections.
    stack.flush(now);
}

/// The save of the stack now, in c-toxcore's format, unencrypted;
/// friends online now are recorded as last seen at `unix_now`.
pub fn savedata(
    stack: &mut Stack,
    keys: &KeyPair,
    nospam: NoSpam,
    kept: &Kept,
    unix_now: u64,
) -> Vec<u8> {
    if let Some(m) = &mut stack.messenger {
        let online: Vec<FriendNumber> = m.friend_numbers().filter(|&n| m.is_online(n)).collect();
        for n in online {
            m.set_last_seen(n, unix_now);
        }
    }
    profile::snapshot(stack, keys, nospam, kept).to_bytes()
}

/// The seconds since 1970 now (0 before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Sends a friend request to the owner of `id`; their friend number.
///
/// As in c-toxcore: a friend confirmed or asked with the same nospam is
/// [`ToxError::AlreadyFriend`]; one still asked under another nospam gets
/// the request again under the new one ([`ToxError::NospamUpdated`]).
pub fn add_friend(
    stack: &mut Stack,
    now: Instant,
    id: &ToxId,
    message: &[u8],
) -> Result<FriendNumber, ToxError> {
    let known = stack.messenger.as_ref().and_then(|m| {
        let number = m.friend_number(&id.public_key)?;
        Some((number, m.friend_record(number)?.request))
    });
    match known {
        Some((number, Some(request))) if request.nospam != id.nospam => {
            stack.send_friend_request(now, id, &request.message)?;
            Err(ToxError::NospamUpdated(number))
        }
        Some((number, _)) => Err(ToxError::AlreadyFriend(number)),
        None => {
            stack.send_friend_request(now, id, message)?;
            friend_number(stack, &id.public_key)
        }
    }
}

/// Adds a friend without a request (accepting theirs); their number.
pub fn add_friend_norequest(
    stack: &mut Stack,
    public_key: PublicKey,
) -> Result<FriendNumber, ToxError> {
    stack.add_friend(public_key)?;
    friend_number(stack, &public_key)
}

/// Removes friend `friend`; a live session ends with a kill packet.
/// Returns their key.
pub fn delete_friend(stack: &mut Stack, friend: FriendNumber) -> Result<PublicKey, ToxError> {
    let key = stack
        .messenger
        .as_ref()
        .and_then(|m| m.friend_key(friend))
        .ok_or(MessengerError::NoFriend(friend))?;
    stack.remove_friend(&key);
    Ok(key)
}

/// Changes the nospam of our Tox ID: requests quoting the old one are
/// dropped from now on.
pub fn set_nospam(stack: &mut Stack, nospam: NoSpam) {
    if let Some(client) = &mut stack.client {
        client.set_nospam(nospam);
    }
    if let Some(messenger) = &mut stack.messenger {
        messenger.set_nospam(nospam);
    }
}

/// Sets our name (at most 128 bytes) for friends and conferences.
pub fn set_name(stack: &mut Stack, now: Instant, name: Vec<u8>) -> Result<(), ToxError> {
    stack
        .with_messenger(now, |m, s| m.set_name(name.clone(), s))
        .unwrap_or(Ok(()))?;
    // Conferences hear our name too (c-toxcore `send_name_all_groups`).
    if let Some(conferences) = &mut stack.conferences {
        conferences.set_name(now, &name);
    }
    stack.flush(now);
    Ok(())
}

/// What we know of friend `friend`.
pub fn friend_info(
    stack: &Stack,
    now: Instant,
    friend: FriendNumber,
) -> Result<FriendInfo, ToxError> {
    let m = stack
        .messenger
        .as_ref()
        .ok_or(MessengerError::NoFriend(friend))?;
    let public_key = m
        .friend_key(friend)
        .ok_or(MessengerError::NoFriend(friend))?;
    Ok(FriendInfo {
        number: friend,
        public_key,
        connection: stack.friend_connection_kind(now, friend),
        name: m.friend_name(friend).unwrap_or_default().to_vec(),
        status_message: m.friend_status_message(friend).unwrap_or_default().to_vec(),
        status: m.friend_status(friend).unwrap_or_default(),
        typing: m.friend_typing(friend).unwrap_or_default(),
    })
}

/// The number of the friend with key `key`.
fn friend_number(stack: &Stack, key: &PublicKey) -> Result<FriendNumber, ToxError> {
    stack
        .messenger
        .as_ref()
        .and_then(|m| m.friend_number(key))
        .ok_or(ToxError::Friend(FriendError::NotFound))
}
