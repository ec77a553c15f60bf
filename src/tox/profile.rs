//! Between a running stack and c-toxcore's save format.
//!
//! Loading gives the messenger its profile and friends (numbers in file
//! order, as c-toxcore numbers them), makes every friend wanted again
//! (unanswered requests are sent again, as c-toxcore does) and hands the
//! DHT the saved nodes to ask, and the conferences their saved state.
//! Saving reads the same back. What the save holds that no layer keeps
//! (path nodes, which only seed the onion client's bootstrap pool;
//! sections of later versions; relays while none is connected) is written
//! back as it was loaded, so a save passed through toxide loses nothing.

use std::time::Instant;

use toxide_core::{Decode, Encode, KeyPair, NoSpam, ToxId};
use toxide_dht::DhtState;
use toxide_messenger::conference::SavedConferences;
use toxide_messenger::messenger::{FriendRecord, SentRequest};
use toxide_messenger::save::{
    ConfirmedFriend, FriendRequestMessage, Name, RawSection, RequestedFriend, SaveData,
    SavedFriend, StatusMessage,
};

use crate::Stack;

/// What a save holds that the stack does not use yet (or, for relays,
/// what to save while no relay is connected).
#[derive(Debug, Clone, Default)]
pub struct Kept {
    tcp_relays: Vec<toxide_core::PackedNode>,
    path_nodes: Vec<toxide_core::PackedNode>,
    unknown_sections: Vec<RawSection>,
}

impl Kept {
    pub(crate) fn of(save: &SaveData) -> Self {
        Self {
            tcp_relays: save.tcp_relays.clone(),
            path_nodes: save.path_nodes.clone(),
            unknown_sections: save.unknown_sections.clone(),
        }
    }
}

/// Puts a loaded save into a fresh stack.
pub(crate) fn restore(stack: &mut Stack, now: Instant, save: &SaveData) {
    if let Some(conferences) = &mut stack.conferences {
        // `SaveData::load` refused a section that does not read.
        if let Ok(saved) = SavedConferences::from_bytes(&save.conferences) {
            conferences.load(now, saved);
        }
        conferences.set_name(now, save.name.as_bytes());
    }
    if let Some(messenger) = &mut stack.messenger {
        // The save's name and status message were checked when loaded.
        let _ = messenger.restore_profile(
            save.name.as_bytes().to_vec(),
            save.status_message.as_bytes().to_vec(),
            save.user_status,
        );
    }
    for friend in &save.friends {
        let (public_key, record) = match friend {
            SavedFriend::Confirmed(f) => (
                f.public_key,
                FriendRecord {
                    name: f.name.as_bytes().to_vec(),
                    status_message: f.status_message.as_bytes().to_vec(),
                    status: f.user_status,
                    last_seen: f.last_seen,
                    request: None,
                },
            ),
            SavedFriend::Requested(f) => (
                f.public_key,
                FriendRecord {
                    request: Some(SentRequest {
                        nospam: f.nospam,
                        message: f.message.as_bytes().to_vec(),
                    }),
                    ..FriendRecord::default()
                },
            ),
        };
        let request = record.request.clone();
        if let Some(messenger) = &mut stack.messenger {
            let _ = messenger.restore_friend(public_key, record);
        }
        // A friend the layers refuse (our own key, a low-order key) stays
        // in the list, offline, as c-toxcore keeps what it cannot reach.
        let _ = match request {
            Some(r) => {
                stack.send_friend_request(now, &ToxId::new(public_key, r.nospam), &r.message)
            }
            None => stack.add_friend(public_key),
        };
    }
    stack.dht.load_nodes(save.dht.nodes().iter().copied());
    // Relays the last run was connected to, as c-toxcore reconnects to
    // its saved ones (`load_tcp_relays`).
    for relay in &save.tcp_relays {
        stack.add_tcp_relay(now, relay.addr, relay.public_key);
    }
    // Saved path nodes are bootstrap path nodes, as `tox_bootstrap`'s are
    // (c-toxcore `load_path_nodes` calls `onion_add_bs_path_node`): used
    // only until the DHT gives live ones. In the live pool, nodes that no
    // longer answer would go into paths, and count towards the path nodes
    // that `onion_isconnected` wants half as many announce nodes for.
    if let Some(client) = &mut stack.client {
        for node in &save.path_nodes {
            client.add_bootstrap_node(*node);
        }
    }
}

/// The save for the stack's current state.
pub(crate) fn snapshot(stack: &Stack, keys: &KeyPair, nospam: NoSpam, kept: &Kept) -> SaveData {
    let mut save = SaveData::new(keys.clone(), nospam);
    save.dht = DhtState::new(stack.dht.saved_nodes()).unwrap_or_default();
    if let Some(messenger) = &stack.messenger {
        save.name = Name::new(messenger.name().to_vec()).unwrap_or_default();
        save.status_message =
            StatusMessage::new(messenger.status_message().to_vec()).unwrap_or_default();
        save.user_status = messenger.status();
        for number in messenger.friend_numbers() {
            let (Some(public_key), Some(record)) = (
                messenger.friend_key(number),
                messenger.friend_record(number),
            ) else {
                continue;
            };
            let friend = match record.request {
                Some(request) => {
                    let Ok(message) = FriendRequestMessage::new(request.message) else {
                        continue;
                    };
                    SavedFriend::Requested(RequestedFriend {
                        public_key,
                        nospam: request.nospam,
                        message,
                        request_sent: true,
                    })
                }
                None => SavedFriend::Confirmed(ConfirmedFriend {
                    name: Name::new(record.name).unwrap_or_default(),
                    status_message: StatusMessage::new(record.status_message).unwrap_or_default(),
                    user_status: record.status,
                    last_seen: record.last_seen,
                    ..ConfirmedFriend::new(public_key)
                }),
            };
            save.friends.push(friend);
        }
    }
    // The relays connected now, or, with none, the ones loaded (a save
    // made while offline keeps what the last run knew).
    let connected = stack
        .relays
        .as_ref()
        .map(|r| r.connected())
        .unwrap_or_default();
    save.tcp_relays = if connected.is_empty() {
        kept.tcp_relays.clone()
    } else {
        connected
    };
    save.path_nodes = kept.path_nodes.clone();
    if let Some(conferences) = &stack.conferences {
        save.conferences = conferences.save().to_bytes();
    }
    save.unknown_sections = kept.unknown_sections.clone();
    save
}
