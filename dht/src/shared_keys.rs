//! A bounded cache of precomputed shared keys.
//!
//! Each packet from or to a node needs `DH(our DHT key, its key)`, one
//! scalar multiplication: by far the largest cost of handling a DHT packet
//! (checklist K10). Nodes talk to the same peers over and over, so the key
//! is computed once and reused.

use std::collections::HashMap;
use std::time::Instant;

use toxide_core::{PublicKey, SecretKey, SharedKey};

/// Shared keys by peer key, at most `capacity` of them.
#[derive(Debug)]
pub struct SharedKeyCache {
    keys: HashMap<PublicKey, (SharedKey, Instant)>,
    capacity: usize,
}

impl SharedKeyCache {
    /// An empty cache.
    pub fn new(capacity: usize) -> Self {
        Self {
            keys: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The shared key with `peer`, computed if not cached. When full, the
    /// least recently used key makes room.
    pub fn get(&mut self, now: Instant, peer: &PublicKey, ours: &SecretKey) -> SharedKey {
        if let Some((key, used)) = self.keys.get_mut(peer) {
            *used = now;
            return key.clone();
        }
        if self.keys.len() >= self.capacity {
            let oldest = self
                .keys
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(pk, _)| *pk);
            if let Some(pk) = oldest {
                self.keys.remove(&pk);
            }
        }
        let key = SharedKey::new(peer, ours);
        self.keys.insert(*peer, (key.clone(), now));
        key
    }

    /// Keys cached.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
