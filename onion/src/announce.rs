//! The announce service: who is announced here, and the answers to
//! announce and data requests (c-toxcore `onion_announce.c`).
//!
//! A client announces its real key to the nodes whose DHT keys are closest
//! to it; each stores the key with the return path of the request, so a
//! friend who finds the node can have onion data delivered down that path
//! without anyone learning the client's address. Entries last
//! [`ANNOUNCE_TIMEOUT_SECS`]; when the store is full, a key closer to our
//! DHT key displaces the farthest one, so the network's announces settle
//! on the nodes nearest to them.
//!
//! Storing needs a ping id the node handed out to the same sender key and
//! from the same address (the exit hop) within the last one or two
//! windows: the client must round-trip once before it is stored, which
//! stops a blind flood from filling the store.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide_core::{Encode, IpPort, PackedNode, PublicKey, TimedAuth, TransportProtocol};
use toxide_dht::distance::replace_farthest;

use crate::constants::{ANNOUNCE_MAX_ENTRIES, ANNOUNCE_TIMEOUT_SECS, PING_ID_SIZE};
use crate::packet::{AnnounceRequestPayload, AnnounceStatus, OnionReturn3};

/// One announced client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceEntry {
    /// The announced real key.
    pub public_key: PublicKey,
    /// The key its friends encrypt onion data to.
    pub data_pk: PublicKey,
    /// The exit hop its announce came through.
    pub return_addr: SocketAddr,
    /// The return path to the client through that exit.
    pub onion_return: OnionReturn3,
    /// When it was (re-)announced.
    pub announced_at: Instant,
}

/// The announced clients, at most [`ANNOUNCE_MAX_ENTRIES`].
#[derive(Debug)]
pub struct AnnounceStore {
    own_pk: PublicKey,
    entries: Vec<AnnounceEntry>,
    capacity: usize,
}

fn timeout() -> Duration {
    Duration::from_secs(ANNOUNCE_TIMEOUT_SECS)
}

impl AnnounceStore {
    /// An empty store for a node whose DHT key is `own_pk`, with
    /// c-toxcore's capacity.
    pub fn new(own_pk: PublicKey) -> Self {
        Self::with_capacity(own_pk, ANNOUNCE_MAX_ENTRIES)
    }

    /// An empty store of another size (tests, small devices).
    pub fn with_capacity(own_pk: PublicKey, capacity: usize) -> Self {
        Self {
            own_pk,
            entries: Vec::new(),
            capacity: capacity.max(1),
        }
    }

    fn is_live(entry: &AnnounceEntry, now: Instant) -> bool {
        now.saturating_duration_since(entry.announced_at) < timeout()
    }

    /// The live entry for `public_key`.
    pub fn find(&self, now: Instant, public_key: &PublicKey) -> Option<&AnnounceEntry> {
        self.entries
            .iter()
            .find(|e| e.public_key == *public_key && Self::is_live(e, now))
    }

    /// Live entries.
    pub fn len(&self, now: Instant) -> usize {
        self.entries
            .iter()
            .filter(|e| Self::is_live(e, now))
            .count()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self, now: Instant) -> bool {
        self.len(now) == 0
    }

    /// Stores or refreshes `entry`; `false` if the store is full of live
    /// entries all closer to us than it.
    pub fn add(&mut self, now: Instant, entry: AnnounceEntry) -> bool {
        let slot = self
            .entries
            .iter()
            .position(|e| e.public_key == entry.public_key && Self::is_live(e, now))
            .or_else(|| self.entries.iter().position(|e| !Self::is_live(e, now)));
        if let Some(slot) = slot.and_then(|i| self.entries.get_mut(i)) {
            *slot = entry;
            return true;
        }
        if self.entries.len() < self.capacity {
            self.entries.push(entry);
            return true;
        }
        replace_farthest(&mut self.entries, entry, &self.own_pk, |e| &e.public_key)
    }
}

/// The data a ping id is bound to: the sender's key and the address the
/// request came from (c-toxcore binds the same two).
fn ping_id_data(sender: &PublicKey, from: SocketAddr) -> Vec<u8> {
    let mut data = sender.as_bytes().to_vec();
    IpPort::new(TransportProtocol::Udp, from).encode(&mut data);
    data
}

/// The announce service's decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceAnswer {
    /// What to tell the requester.
    pub status: AnnounceStatus,
    /// Whether this request stored (or refreshed) the sender.
    pub stored: bool,
}

/// Decides an announce request: stores the sender if its ping id is valid,
/// otherwise only looks the searched key up (c-toxcore
/// `handle_announce_request_common`).
#[allow(clippy::too_many_arguments)]
pub fn answer(
    store: &mut AnnounceStore,
    auth: &TimedAuth,
    now: Instant,
    secs: u64,
    from: SocketAddr,
    sender_pk: PublicKey,
    request: &AnnounceRequestPayload,
    onion_return: OnionReturn3,
) -> AnnounceAnswer {
    let bound = ping_id_data(&sender_pk, from);
    let ping_id: [u8; PING_ID_SIZE] = auth.create(secs, &bound);
    let mut stored = false;
    let entry = if auth.verify(secs, &bound, &request.ping_id) {
        stored = store.add(
            now,
            AnnounceEntry {
                public_key: sender_pk,
                data_pk: request.data_pk,
                return_addr: from,
                onion_return,
                announced_at: now,
            },
        );
        store.find(now, &sender_pk)
    } else {
        store.find(now, &request.search_pk)
    };
    let status = match entry {
        None => AnnounceStatus::NotStored(ping_id),
        Some(e) if e.public_key == sender_pk => {
            if e.data_pk == request.data_pk {
                AnnounceStatus::Stored(ping_id)
            } else {
                AnnounceStatus::NotStored(ping_id)
            }
        }
        Some(e) => AnnounceStatus::Found(e.data_pk),
    };
    AnnounceAnswer { status, stored }
}

/// The nodes an announce response lists: the closest known to the
/// searched key, LAN addresses only for LAN requesters.
pub trait CloseNodes {
    /// Up to four nodes closest to `target`.
    fn close_nodes(&self, now: Instant, target: &PublicKey, include_lan: bool) -> Vec<PackedNode>;
}

impl CloseNodes for toxide_dht::Dht {
    fn close_nodes(&self, now: Instant, target: &PublicKey, include_lan: bool) -> Vec<PackedNode> {
        self.closest_nodes(
            now,
            target,
            crate::constants::ANNOUNCE_MAX_NODES,
            include_lan,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn entry(pk: u8, at: Instant) -> AnnounceEntry {
        AnnounceEntry {
            public_key: PublicKey::new([pk; 32]),
            data_pk: PublicKey::new([pk ^ 0xff; 32]),
            return_addr: "127.0.0.1:1".parse().unwrap(),
            onion_return: OnionReturn3::from_array([0; crate::constants::RETURN_3_SIZE]),
            announced_at: at,
        }
    }

    #[test]
    fn full_store_keeps_the_closest_keys() {
        let now = Instant::now();
        // Own key 0x00…: smaller first bytes are closer.
        let mut store = AnnounceStore::with_capacity(PublicKey::new([0; 32]), 3);
        for pk in [0x40, 0x20, 0x80] {
            assert!(store.add(now, entry(pk, now)));
        }
        assert!(
            !store.add(now, entry(0x90, now)),
            "farther than all: refused"
        );
        assert!(store.add(now, entry(0x10, now)), "closer: displaces 0x80");
        assert!(store.find(now, &PublicKey::new([0x80; 32])).is_none());
        assert!(store.find(now, &PublicKey::new([0x10; 32])).is_some());
        assert_eq!(store.len(now), 3);
    }

    #[test]
    fn entries_expire_and_free_their_slot() {
        let start = Instant::now();
        let mut store = AnnounceStore::with_capacity(PublicKey::new([0; 32]), 1);
        assert!(store.add(start, entry(0x01, start)));
        let later = start + Duration::from_secs(ANNOUNCE_TIMEOUT_SECS);
        assert!(store.find(later, &PublicKey::new([0x01; 32])).is_none());
        assert!(
            store.add(later, entry(0xf0, later)),
            "expired slot is reused"
        );
    }

    #[test]
    fn storing_needs_a_ping_id_from_the_same_key_and_address() {
        let now = Instant::now();
        let auth = TimedAuth::generate(&mut ChaCha20Rng::seed_from_u64(1), ANNOUNCE_TIMEOUT_SECS);
        let mut store = AnnounceStore::new(PublicKey::new([0; 32]));
        let me = PublicKey::new([7; 32]);
        let exit: SocketAddr = "127.0.0.1:5".parse().unwrap();
        let ret = OnionReturn3::from_array([0; crate::constants::RETURN_3_SIZE]);
        let mut request = AnnounceRequestPayload {
            ping_id: [0; 32],
            search_pk: me,
            data_pk: PublicKey::new([8; 32]),
            sendback: [0; 8],
        };
        let first = answer(&mut store, &auth, now, 100, exit, me, &request, ret);
        let AnnounceStatus::NotStored(ping_id) = first.status else {
            panic!("first contact must not store: {first:?}");
        };
        assert!(!first.stored);
        // From another exit the ping id is worthless.
        request.ping_id = ping_id;
        let other_exit: SocketAddr = "127.0.0.1:6".parse().unwrap();
        let wrong = answer(&mut store, &auth, now, 100, other_exit, me, &request, ret);
        assert!(!wrong.stored);
        let second = answer(&mut store, &auth, now, 101, exit, me, &request, ret);
        assert!(second.stored);
        assert!(matches!(second.status, AnnounceStatus::Stored(_)));
        // A searcher with a temporary key finds the data key.
        let searcher = PublicKey::new([9; 32]);
        let search = AnnounceRequestPayload {
            ping_id: [0; 32],
            search_pk: me,
            data_pk: PublicKey::new([0; 32]),
            sendback: [1; 8],
        };
        let found = answer(
            &mut store, &auth, now, 102, other_exit, searcher, &search, ret,
        );
        assert_eq!(found.status, AnnounceStatus::Found(PublicKey::new([8; 32])));
        // Re-announcing with another data key reports "not stored".
        request.data_pk = PublicKey::new([3; 32]);
        request.ping_id = [0; 32];
        let stale = answer(&mut store, &auth, now, 103, exit, me, &request, ret);
        assert!(matches!(stale.status, AnnounceStatus::NotStored(_)));
    }
}
