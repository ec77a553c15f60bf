//! [`SaveData`]: everything a client keeps between runs, read from and
//! written to c-toxcore's save format (checklist V1–V10; spec "State
//! Format"; c-toxcore `tox_get_savedata`, `tox_load`, `messenger_save`,
//! the state plugins of `Messenger.c`).
//!
//! A load takes what c-toxcore 0.2.18's `tox_new` would take from the same
//! bytes, and fails where it fails (see [`SaveError`]); sections may come
//! in any order. Where c-toxcore quietly ignores a section's content, so
//! does this reader, the same way:
//!
//! | section                | ignored when                                 |
//! |------------------------|----------------------------------------------|
//! | 2 DHT                  | its node list does not parse (`dht_load`'s result is unchecked) |
//! | 3 friends              | per record: see [`friend`](super::friend); also our own key and a key already listed |
//! | 4 name                 | empty or over 128 bytes                      |
//! | 5 status message       | empty or over 1007 bytes                     |
//! | 6 status               | not 1 byte, or 3 and up                      |
//! | 10 relays, 11 path nodes | see [`nodes`](super::nodes)               |
//!
//! A repeated section replaces the earlier one, except friends and
//! conferences, which add up (c-toxcore adds the friends of every friends
//! section). Sections of other types are kept as they are and written back
//! before the end (c-toxcore skips them; 0.2.19 and later write a type 7
//! for NGC groups, which keeping carries through a round trip here).
//!
//! Writing follows `tox_get_savedata`: sections 1, 2, 3, 4, 5, 6, 10, 11,
//! 20, then the kept unknown ones, then 255, each present even when empty.
//! So a file c-toxcore wrote comes back byte for byte, without the zero
//! padding c-toxcore leaves after the end section.

use bytes::BufMut;
use toxide_core::{
    Decode, Encode, KeyPair, NoSpam, PackedNode, PublicKey, Reader, SecretKey, ToxId,
};
use toxide_dht::DhtState;
use zeroize::Zeroizing;

use super::error::SaveError;
use super::friend::{FRIEND_RECORD_SIZE, SavedFriend};
use super::nodes::{self, MAX_SAVED_PATH_NODES, MAX_SAVED_TCP_RELAYS};
use super::profile::{MAX_NAME_LENGTH, MAX_STATUS_MESSAGE_LENGTH, Name, StatusMessage, UserStatus};
use super::section::{
    self, SECTION_CONFERENCES, SECTION_DHT, SECTION_EOF, SECTION_FRIENDS, SECTION_NAME,
    SECTION_NOSPAM_KEYS, SECTION_PATH_NODES, SECTION_STATUS, SECTION_STATUS_MESSAGE,
    SECTION_TCP_RELAYS,
};

/// Size of the nospam-and-keys section: nospam, public key, secret key.
pub const NOSPAM_KEYS_SIZE: usize = 4 + 32 + 32;

/// The section types [`SaveData`] reads into fields of its own.
const KNOWN_SECTIONS: [u16; 10] = [
    SECTION_NOSPAM_KEYS,
    SECTION_DHT,
    SECTION_FRIENDS,
    SECTION_NAME,
    SECTION_STATUS_MESSAGE,
    SECTION_STATUS,
    SECTION_TCP_RELAYS,
    SECTION_PATH_NODES,
    SECTION_CONFERENCES,
    SECTION_EOF,
];

/// A section of a type this version does not read, kept to be written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    /// The section type.
    pub kind: u16,
    /// The body, as found.
    pub body: Vec<u8>,
}

/// A client's saved state: identity, friends, profile and the nodes to
/// reconnect through.
#[derive(Debug, Clone)]
pub struct SaveData {
    /// The long-term key pair (section 1). Must be a matching pair, as
    /// [`KeyPair::generate`] and [`KeyPair::from_secret`] make them:
    /// c-toxcore refuses a save whose public key is not the secret key's.
    pub keys: KeyPair,
    /// The nospam of our Tox ID (section 1). The file holds it as a
    /// little-endian word of c-toxcore's host-order value, which on the
    /// little-endian hosts c-toxcore runs on is the 4 ID bytes in order.
    pub nospam: NoSpam,
    /// DHT nodes to bootstrap from (section 2).
    pub dht: DhtState,
    /// The friend list, in friend-number order (section 3).
    pub friends: Vec<SavedFriend>,
    /// Our name (section 4).
    pub name: Name,
    /// Our status message (section 5).
    pub status_message: StatusMessage,
    /// Our user status (section 6).
    pub user_status: UserStatus,
    /// TCP relays to reconnect through (section 10). At most
    /// [`MAX_SAVED_TCP_RELAYS`] are written, as c-toxcore loads no more.
    pub tcp_relays: Vec<PackedNode>,
    /// Nodes for onion paths (section 11). At most
    /// [`MAX_SAVED_PATH_NODES`] UDP nodes are written, as c-toxcore loads
    /// no more and no TCP ones.
    pub path_nodes: Vec<PackedNode>,
    /// The conferences section's body (section 20), uninterpreted here:
    /// [`SavedConferences`](crate::conference::SavedConferences) reads
    /// and writes it.
    pub conferences: Vec<u8>,
    /// Sections of other types, in the order found. Types listed above
    /// are not written from here: their fields are.
    pub unknown_sections: Vec<RawSection>,
}

impl SaveData {
    /// A new profile: this identity, and nothing else yet.
    pub fn new(keys: KeyPair, nospam: NoSpam) -> Self {
        Self {
            keys,
            nospam,
            dht: DhtState::default(),
            friends: Vec::new(),
            name: Name::default(),
            status_message: StatusMessage::default(),
            user_status: UserStatus::None,
            tcp_relays: Vec::new(),
            path_nodes: Vec::new(),
            conferences: Vec::new(),
            unknown_sections: Vec::new(),
        }
    }

    /// The Tox ID this profile hands out.
    pub fn tox_id(&self) -> ToxId {
        ToxId::new(self.keys.public, self.nospam)
    }

    /// Reads a plain (not encrypted) save.
    pub fn load(bytes: &[u8]) -> Result<Self, SaveError> {
        if super::toxencryptsave::is_encrypted(bytes) {
            return Err(SaveError::Encrypted);
        }
        let mut identity = None;
        let mut dht = DhtState::default();
        let mut friends = Vec::new();
        let mut name = Name::default();
        let mut status_message = StatusMessage::default();
        let mut user_status = UserStatus::None;
        let mut tcp_relays = Vec::new();
        let mut path_nodes = Vec::new();
        let mut conferences = Vec::new();
        let mut unknown_sections = Vec::new();

        for s in section::split(bytes)? {
            let body = s.body;
            match s.kind {
                SECTION_NOSPAM_KEYS => identity = Some(load_nospam_keys(body)?),
                SECTION_DHT => {
                    if let Ok(state) = DhtState::from_bytes(body) {
                        dht = state;
                    }
                }
                SECTION_FRIENDS => load_friends(body, &mut friends)?,
                SECTION_NAME if (1..=MAX_NAME_LENGTH).contains(&body.len()) => {
                    name = Name::new(body).unwrap_or_default();
                }
                SECTION_STATUS_MESSAGE if (1..=MAX_STATUS_MESSAGE_LENGTH).contains(&body.len()) => {
                    status_message = StatusMessage::new(body).unwrap_or_default();
                }
                SECTION_STATUS => {
                    let byte = match body {
                        [byte] => Some(*byte),
                        _ => None,
                    };
                    if let Some(status) = byte.and_then(UserStatus::from_u8) {
                        user_status = status;
                    }
                }
                SECTION_TCP_RELAYS if !body.is_empty() => {
                    tcp_relays = nodes::decode(body, MAX_SAVED_TCP_RELAYS, true);
                }
                SECTION_PATH_NODES if !body.is_empty() => {
                    path_nodes = nodes::decode(body, MAX_SAVED_PATH_NODES, false);
                }
                SECTION_CONFERENCES => conferences.extend_from_slice(body),
                kind if KNOWN_SECTIONS.contains(&kind) => {}
                kind => unknown_sections.push(RawSection {
                    kind,
                    body: body.to_vec(),
                }),
            }
        }

        let (nospam, keys) = identity.ok_or(SaveError::MissingKeys)?;
        // c-toxcore refuses a save whose conferences do not load
        // (`conferences_load` fails the whole state load).
        <crate::conference::SavedConferences as toxide_core::Decode>::from_bytes(&conferences)
            .map_err(SaveError::Conferences)?;
        // c-toxcore does not add itself, nor a key twice.
        let mut seen: Vec<PublicKey> = vec![keys.public];
        friends.retain(|f: &SavedFriend| {
            let fresh = !seen.contains(f.public_key());
            seen.push(*f.public_key());
            fresh
        });
        Ok(Self {
            keys,
            nospam,
            dht,
            friends,
            name,
            status_message,
            user_status,
            tcp_relays,
            path_nodes,
            conferences,
            unknown_sections,
        })
    }

    /// Writes the save as c-toxcore 0.2.18 does.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    fn tcp_relays_saved(&self) -> Vec<PackedNode> {
        nodes::saved(&self.tcp_relays, MAX_SAVED_TCP_RELAYS, true)
    }

    fn path_nodes_saved(&self) -> Vec<PackedNode> {
        nodes::saved(&self.path_nodes, MAX_SAVED_PATH_NODES, false)
    }

    fn unknown_saved(&self) -> impl Iterator<Item = &RawSection> {
        self.unknown_sections
            .iter()
            .filter(|s| !KNOWN_SECTIONS.contains(&s.kind))
    }

    fn encode(&self, buf: &mut impl BufMut) {
        section::put_header(buf);

        section::put_section_header(buf, SECTION_NOSPAM_KEYS, NOSPAM_KEYS_SIZE);
        buf.put_slice(&self.nospam.0);
        self.keys.public.encode(buf);
        buf.put_slice(self.keys.secret.to_bytes().as_ref());

        section::put_section_header(buf, SECTION_DHT, self.dht.encoded_len());
        self.dht.encode(buf);

        section::put_section_header(
            buf,
            SECTION_FRIENDS,
            self.friends.len().saturating_mul(FRIEND_RECORD_SIZE),
        );
        for friend in &self.friends {
            friend.encode(buf);
        }

        section::put_section(buf, SECTION_NAME, self.name.as_bytes());
        section::put_section(buf, SECTION_STATUS_MESSAGE, self.status_message.as_bytes());
        section::put_section(buf, SECTION_STATUS, &[self.user_status.to_u8()]);

        let relays = self.tcp_relays_saved();
        section::put_section_header(buf, SECTION_TCP_RELAYS, nodes::encoded_len(&relays));
        nodes::encode(&relays, buf);
        let path_nodes = self.path_nodes_saved();
        section::put_section_header(buf, SECTION_PATH_NODES, nodes::encoded_len(&path_nodes));
        nodes::encode(&path_nodes, buf);

        section::put_section(buf, SECTION_CONFERENCES, &self.conferences);
        for raw in self.unknown_saved() {
            section::put_section(buf, raw.kind, &raw.body);
        }
        section::put_section(buf, SECTION_EOF, &[]);
    }

    fn encoded_len(&self) -> usize {
        let header = section::SECTION_HEADER_SIZE;
        section::HEADER_SIZE
            + header
            + NOSPAM_KEYS_SIZE
            + header
            + self.dht.encoded_len()
            + header
            + self.friends.len() * FRIEND_RECORD_SIZE
            + header
            + self.name.as_bytes().len()
            + header
            + self.status_message.as_bytes().len()
            + header
            + 1
            + header
            + nodes::encoded_len(&self.tcp_relays_saved())
            + header
            + nodes::encoded_len(&self.path_nodes_saved())
            + header
            + self.conferences.len()
            + self
                .unknown_saved()
                .map(|s| header + s.body.len())
                .sum::<usize>()
            + header
    }
}

/// Two saves are equal when they hold the same things, secret key included.
impl PartialEq for SaveData {
    fn eq(&self, other: &Self) -> bool {
        self.keys.public == other.keys.public
            && *self.keys.secret.to_bytes() == *other.keys.secret.to_bytes()
            && self.nospam == other.nospam
            && self.dht == other.dht
            && self.friends == other.friends
            && self.name == other.name
            && self.status_message == other.status_message
            && self.user_status == other.user_status
            && self.tcp_relays == other.tcp_relays
            && self.path_nodes == other.path_nodes
            && self.conferences == other.conferences
            && self.unknown_sections == other.unknown_sections
    }
}

impl Eq for SaveData {}

/// Section 1 (`load_nospam_keys`): exactly 68 bytes, and the public key
/// must be the secret key's.
fn load_nospam_keys(body: &[u8]) -> Result<(NoSpam, KeyPair), SaveError> {
    let wrong_length = |_: toxide_core::DecodeError| SaveError::KeysLength { len: body.len() };
    if body.len() != NOSPAM_KEYS_SIZE {
        return Err(SaveError::KeysLength { len: body.len() });
    }
    let mut reader = Reader::new(body);
    let nospam = NoSpam(reader.array("nospam").map_err(wrong_length)?);
    let public: [u8; 32] = reader.array("public key").map_err(wrong_length)?;
    let secret = Zeroizing::new(reader.array::<32>("secret key").map_err(wrong_length)?);
    let keys = KeyPair::from_secret(SecretKey::from_bytes(*secret));
    if *keys.public.as_bytes() != public {
        return Err(SaveError::KeyMismatch);
    }
    Ok((nospam, keys))
}

/// Section 3 (`friends_list_load`): whole records only.
fn load_friends(body: &[u8], friends: &mut Vec<SavedFriend>) -> Result<(), SaveError> {
    let wrong_length = || SaveError::FriendsLength { len: body.len() };
    if body.len() % FRIEND_RECORD_SIZE != 0 {
        return Err(wrong_length());
    }
    let mut reader = Reader::new(body);
    while !reader.is_empty() {
        if let Some(friend) = SavedFriend::decode(&mut reader).map_err(|_| wrong_length())? {
            friends.push(friend);
        }
    }
    Ok(())
}
