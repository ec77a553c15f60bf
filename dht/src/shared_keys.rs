//! A bounded cache of precomputed shared keys.
//!
//! Each packet from or to a node needs `DH(our DHT key, its key)`, one
//! scalar multiplication: by far the largest cost of handling a DHT packet
//! (checklist K10). Nodes talk to the same peers over and over, so the key
//! is computed once and reused.
//!
//! Eviction is by generations rather than exact LRU: keys live in a current
//! and a previous table; a hit in the previous table moves the key forward,
//! and when the current table holds half the capacity it becomes the
//! previous one (dropping the older). Every operation is O(1), where an
//! exact LRU scan cost a pass over the whole cache per miss (18% of a
//! 10,000-node simulation's time); keys in use survive either way.

use std::collections::HashMap;

use toxide_core::{PublicKey, SecretKey, SharedKey};

/// Shared keys by peer key, at most `capacity` of them.
#[derive(Debug)]
pub struct SharedKeyCache {
    current: HashMap<PublicKey, SharedKey>,
    previous: HashMap<PublicKey, SharedKey>,
    /// Keys per generation: half the capacity.
    generation: usize,
}

impl SharedKeyCache {
    /// An empty cache holding at most `capacity` keys (at least two).
    pub fn new(capacity: usize) -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
            generation: (capacity / 2).max(1),
        }
    }

    /// The shared key with `peer`, computed if not cached.
    pub fn get(&mut self, peer: &PublicKey, ours: &SecretKey) -> SharedKey {
        if let Some(key) = self.current.get(peer) {
            return key.clone();
        }
        let key = self
            .previous
            .remove(peer)
            .unwrap_or_else(|| SharedKey::new(peer, ours));
        if self.current.len() >= self.generation {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(*peer, key.clone());
        key
    }

    /// Keys cached.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty() && self.previous.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use toxide_core::KeyPair;

    #[test]
    fn bounded_and_keeps_keys_in_use() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let ours = KeyPair::generate(&mut rng);
        let hot = KeyPair::generate(&mut rng).public;
        let mut cache = SharedKeyCache::new(8);
        let first = cache.get(&hot, &ours.secret);
        for _ in 0..100 {
            let cold = KeyPair::generate(&mut rng).public;
            cache.get(&cold, &ours.secret);
            // The hot key is used between every two cold ones: it stays
            // cached, and the cache never grows past its capacity.
            cache.get(&hot, &ours.secret);
            assert!(cache.current.contains_key(&hot) || cache.previous.contains_key(&hot));
            assert!(cache.len() <= 8, "{}", cache.len());
        }
        let direct = SharedKey::new(&hot, &ours.secret);
        let nonce = toxide_core::Nonce::new([1; 24]);
        assert_eq!(first.encrypt(&nonce, b"x"), direct.encrypt(&nonce, b"x"));
    }
}
