//! The close list: the nodes nearest our own DHT key, in k-buckets
//! (c-toxcore `close_clientlist`, checklist D6).
//!
//! Bucket `i` holds nodes whose key shares exactly `i` leading bits with
//! ours (the last bucket also the longer prefixes), at most
//! [`BUCKET_SIZE`] each. Like c-toxcore, a live node is never evicted: a
//! slot is reused only once every address of its node has gone bad. That
//! keeps long-lived nodes, which are the most likely to stay.

use std::net::SocketAddr;
use std::time::Instant;

use toxide_core::PublicKey;

use crate::client::Client;
use crate::constants::{BUCKET_SIZE, CLOSE_BUCKETS};
use crate::distance::{bucket_index, compare};

/// The k-buckets around our key. Buckets are allocated as they fill, so a
/// node in a small network costs little memory.
#[derive(Debug, Clone)]
pub struct CloseList {
    own: PublicKey,
    buckets: Vec<Vec<Client>>,
}

impl CloseList {
    /// An empty list around `own`.
    pub fn new(own: PublicKey) -> Self {
        Self {
            own,
            buckets: vec![Vec::new(); CLOSE_BUCKETS],
        }
    }

    fn bucket(&self, pk: &PublicKey) -> Option<&Vec<Client>> {
        self.buckets.get(bucket_index(&self.own, pk, CLOSE_BUCKETS))
    }

    fn bucket_mut(&mut self, pk: &PublicKey) -> Option<&mut Vec<Client>> {
        self.buckets
            .get_mut(bucket_index(&self.own, pk, CLOSE_BUCKETS))
    }

    /// The entry for `pk`.
    pub fn get(&self, pk: &PublicKey) -> Option<&Client> {
        self.bucket(pk)?.iter().find(|c| c.public_key == *pk)
    }

    /// The entry for `pk`, mutably.
    pub fn get_mut(&mut self, pk: &PublicKey) -> Option<&mut Client> {
        self.bucket_mut(pk)?
            .iter_mut()
            .find(|c| c.public_key == *pk)
    }

    /// Whether `pk` would get a slot now (c-toxcore
    /// `node_addable_to_close_list`): its bucket has room or a bad node.
    pub fn can_add(&self, pk: &PublicKey, now: Instant) -> bool {
        *pk != self.own
            && self
                .bucket(pk)
                .is_some_and(|b| b.len() < BUCKET_SIZE || b.iter().any(|c| c.is_bad(now)))
    }

    /// Records that `pk` answered from `addr`. A known key is refreshed; a
    /// known address with a new key (the node restarted with a fresh DHT
    /// key) replaces the old entry; anything else takes a free or bad slot
    /// if its bucket has one. Returns whether the node is now in the list.
    pub fn heard_from(&mut self, pk: PublicKey, addr: SocketAddr, now: Instant) -> bool {
        if pk == self.own {
            return false;
        }
        if let Some(client) = self.get_mut(&pk) {
            client.heard_from(addr, now);
            return true;
        }
        // A stale key at this address is removed outright rather than kept
        // with a blanked address, so the new key starts clean (c-toxcore
        // keeps the slot and zeroes the address it just refreshed, which
        // ctoxcore-observed.md links to failed reconnections).
        for bucket in &mut self.buckets {
            bucket.retain(|c| !c.has_addr(&addr));
        }
        let Some(bucket) = self.bucket_mut(&pk) else {
            return false;
        };
        if bucket.len() < BUCKET_SIZE {
            bucket.push(Client::new(pk, addr, now));
            return true;
        }
        match bucket.iter_mut().find(|c| c.is_bad(now)) {
            Some(slot) => {
                slot.reset(pk, addr, now);
                true
            }
            None => false,
        }
    }

    /// The keys of the `n` good entries nearest our own key, nearest
    /// first. Buckets are walked from the longest shared prefix down, so
    /// only the few nearest buckets are looked at.
    pub fn nearest(&self, n: usize, now: Instant) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = Vec::new();
        for bucket in self.buckets.iter().rev() {
            if keys.len() >= n {
                break;
            }
            keys.extend(
                bucket
                    .iter()
                    .filter(|c| !c.is_bad(now))
                    .map(|c| c.public_key),
            );
        }
        keys.sort_by(|a, b| compare(&self.own, a, b));
        keys.truncate(n);
        keys
    }

    /// Every entry.
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.buckets.iter().flatten()
    }

    /// Every entry, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Client> {
        self.buckets.iter_mut().flatten()
    }

    /// Number of entries, good or bad.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(Vec::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::BAD_NODE_TIMEOUT;
    use std::time::Duration;

    fn key(first: u8, last: u8) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes[0] = first;
        bytes[31] = last;
        PublicKey::new(bytes)
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[test]
    fn full_bucket_keeps_live_nodes_and_reuses_bad_ones() {
        let now = Instant::now();
        let mut list = CloseList::new(key(0, 0));
        // All of these share no leading bit with key 0x00.. → bucket 0.
        for i in 0..8u8 {
            assert!(list.heard_from(key(0x80, i), addr(u16::from(i) + 1), now));
        }
        assert!(!list.can_add(&key(0x80, 99), now));
        assert!(!list.heard_from(key(0x80, 99), addr(100), now));
        let later = now + BAD_NODE_TIMEOUT + Duration::from_secs(1);
        assert!(list.can_add(&key(0x80, 99), later));
        assert!(list.heard_from(key(0x80, 99), addr(100), later));
        assert_eq!(list.len(), 8);
        assert!(list.get(&key(0x80, 99)).is_some());
    }

    #[test]
    fn new_key_at_known_address_replaces_the_old_one() {
        let now = Instant::now();
        let mut list = CloseList::new(key(0, 0));
        list.heard_from(key(0x80, 1), addr(1), now);
        list.heard_from(key(0x40, 2), addr(1), now);
        assert!(list.get(&key(0x80, 1)).is_none());
        let client = list.get(&key(0x40, 2)).unwrap();
        assert_eq!(client.v4.unwrap().addr, addr(1));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn nearest_are_the_good_entries_closest_to_our_key() {
        let now = Instant::now();
        let mut list = CloseList::new(key(0, 0));
        for (i, first) in [0x80u8, 0x40, 0x20, 0x10, 0x08, 0x04]
            .into_iter()
            .enumerate()
        {
            list.heard_from(key(first, 1), addr(i as u16 + 1), now);
        }
        assert_eq!(
            list.nearest(3, now),
            vec![key(0x04, 1), key(0x08, 1), key(0x10, 1)]
        );
        // A node gone bad is not among them.
        let later = now + BAD_NODE_TIMEOUT;
        list.heard_from(key(0x08, 1), addr(5), later);
        list.heard_from(key(0x20, 1), addr(3), later);
        assert_eq!(list.nearest(2, later), vec![key(0x08, 1), key(0x20, 1)]);
    }

    #[test]
    fn own_key_is_never_stored() {
        let mut list = CloseList::new(key(1, 1));
        assert!(!list.heard_from(key(1, 1), addr(1), Instant::now()));
        assert!(list.is_empty());
    }
}
