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
//!
//! Keys for packets others sent us are computed only within an optional
//! global budget ([`SharedKeyCache::with_budget`]): a miss is the costly
//! part of handling a packet before its box opens, so a flood of fresh
//! keys, from any number of spoofed sources, is held to a bounded share
//! of a core (see [`crate::rate_limit`]). Keys for packets we send are
//! computed regardless.

use std::collections::HashMap;
use std::time::Instant;

use toxide_core::{CryptoError, PublicKey, SecretKey, SharedKey};

use crate::rate_limit::TokenBucket;

/// Why no key was had for a packet we received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IncomingKeyError {
    /// The key is not cached and the budget for computing new ones is
    /// spent for now.
    #[error("no budget left for a new shared key")]
    OverBudget,
    /// The sender's key is unusable (a low-order point).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Shared keys by peer key, at most `capacity` of them.
#[derive(Debug)]
pub struct SharedKeyCache {
    current: HashMap<PublicKey, SharedKey>,
    previous: HashMap<PublicKey, SharedKey>,
    /// Keys per generation: half the capacity.
    generation: usize,
    /// New keys for received packets, across all senders.
    budget: Option<TokenBucket>,
}

impl SharedKeyCache {
    /// An empty cache holding at most `capacity` keys (at least two).
    pub fn new(capacity: usize) -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
            generation: (capacity / 2).max(1),
            budget: None,
        }
    }

    /// An empty cache that computes keys for received packets at most
    /// `per_second` times a second (bursts of as many).
    pub fn with_budget(capacity: usize, per_second: f64) -> Self {
        Self {
            budget: Some(TokenBucket::new(per_second, per_second)),
            ..Self::new(capacity)
        }
    }

    /// The shared key with `peer` for a packet we send: computed if not
    /// cached, whatever the budget.
    pub fn get(&mut self, peer: &PublicKey, ours: &SecretKey) -> Result<SharedKey, CryptoError> {
        match self.lookup(peer) {
            Some(key) => Ok(key),
            None => SharedKey::new(peer, ours).map(|key| self.insert(peer, key)),
        }
    }

    /// The shared key with `peer` for a packet it sent us: computed if not
    /// cached and the budget allows.
    pub fn get_incoming(
        &mut self,
        now: Instant,
        peer: &PublicKey,
        ours: &SecretKey,
    ) -> Result<SharedKey, IncomingKeyError> {
        if let Some(key) = self.lookup(peer) {
            return Ok(key);
        }
        if peer.is_low_order() {
            return Err(CryptoError::LowOrderKey.into());
        }
        if let Some(budget) = &mut self.budget {
            if !budget.take(now) {
                return Err(IncomingKeyError::OverBudget);
            }
        }
        Ok(self.insert(peer, SharedKey::new(peer, ours)?))
    }

    /// A cached key, moved to the current generation.
    fn lookup(&mut self, peer: &PublicKey) -> Option<SharedKey> {
        if let Some(key) = self.current.get(peer) {
            return Some(key.clone());
        }
        let key = self.previous.remove(peer)?;
        Some(self.insert(peer, key))
    }

    fn insert(&mut self, peer: &PublicKey, key: SharedKey) -> SharedKey {
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
        let first = cache.get(&hot, &ours.secret).unwrap();
        for _ in 0..100 {
            let cold = KeyPair::generate(&mut rng).public;
            cache.get(&cold, &ours.secret).unwrap();
            // The hot key is used between every two cold ones: it stays
            // cached, and the cache never grows past its capacity.
            cache.get(&hot, &ours.secret).unwrap();
            assert!(cache.current.contains_key(&hot) || cache.previous.contains_key(&hot));
            assert!(cache.len() <= 8, "{}", cache.len());
        }
        let direct = SharedKey::new(&hot, &ours.secret).unwrap();
        let nonce = toxide_core::Nonce::new([1; 24]);
        assert_eq!(first.encrypt(&nonce, b"x"), direct.encrypt(&nonce, b"x"));
    }

    #[test]
    fn new_keys_for_received_packets_are_budgeted() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let ours = KeyPair::generate(&mut rng);
        let mut cache = SharedKeyCache::with_budget(64, 10.0);
        let now = std::time::Instant::now();
        let known = KeyPair::generate(&mut rng).public;
        cache.get(&known, &ours.secret).unwrap();
        let fresh: Vec<_> = (0..20)
            .map(|_| KeyPair::generate(&mut rng).public)
            .collect();
        let computed = fresh
            .iter()
            .filter(|pk| cache.get_incoming(now, pk, &ours.secret).is_ok())
            .count();
        assert_eq!(computed, 10, "a burst of the budget");
        assert!(
            cache.get_incoming(now, &known, &ours.secret).is_ok(),
            "cached keys cost nothing"
        );
        assert_eq!(
            cache.get_incoming(now, &fresh[19], &ours.secret).err(),
            Some(IncomingKeyError::OverBudget)
        );
        assert!(
            cache
                .get_incoming(
                    now + std::time::Duration::from_millis(150),
                    &fresh[19],
                    &ours.secret
                )
                .is_ok()
        );
        assert_eq!(
            cache
                .get_incoming(
                    now + std::time::Duration::from_secs(9),
                    &PublicKey::new([0; 32]),
                    &ours.secret
                )
                .err(),
            Some(IncomingKeyError::Crypto(CryptoError::LowOrderKey))
        );
    }
}
