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
//! What that guarantees: a key used again before half the capacity of
//! *other* new keys came in is still cached. That is the figure to size a
//! cache by, because the worst pattern is also the common one under load:
//! many clients each asking in turn (round robin over `n` keys hits every
//! time while `n` is at most half the capacity, and misses almost every
//! time once `n` is well above the capacity). A client's DHT talks to a few
//! hundred peers and keeps c-toxcore's 1,024
//! ([`crate::constants::SHARED_KEY_CACHE_SIZE`]); a public bootstrap node
//! hears from thousands of clients and is given more
//! ([`crate::Config::shared_key_cache`]).
//!
//! Keys computed for received packets are cached on their second sight,
//! not their first ([`SharedKeyCache::get_incoming`]): the first time only
//! a 4-byte fingerprint is kept, in a fixed table. A flood of one-shot
//! keys (each costs a scalar multiplication under the budget below, and
//! spoofed sources cost the flooder nothing) then neither grows the cache
//! nor pushes out the keys of clients that come back, which without this
//! a budget of 4,000 new keys a second did every two seconds even in a
//! 16,384-key cache. A client that comes back pays one scalar
//! multiplication more, once, from the budget like any new key (the scan
//! resistance of 2Q or TinyLFU's doorkeeper, in its simplest form).
//!
//! Memory: an entry is its 32-byte peer key and an 8-byte pointer in a
//! hash table slot (plus one control byte, at a load of 7/16 to 7/8: 47 to
//! 93 bytes) and the key's own allocation ([`SharedKey`] is an `Arc` of the
//! 32-byte cipher key: 48 bytes, 64 with the allocator's header), so about
//! 110 to 160 bytes per cached key; [`SharedKeyCache::BYTES_PER_ENTRY`] is
//! the upper figure. The fingerprints take 4 bytes per key of capacity
//! (in buckets of eight, rounded up to a power of two), allocated on the
//! first miss. Tables grow as keys come and the older generation is
//! freed whole, so an idle node holds little.
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
    /// Keys computed so far (misses that cost a scalar multiplication).
    computed: u64,
    /// Fingerprints of keys computed once for a received packet and not
    /// cached yet, one per slot ([`Self::seen_before`]); empty until the
    /// first such miss.
    seen_once: Vec<[u32; SEEN_BUCKET]>,
}

/// Fingerprints per bucket of [`SharedKeyCache::seen_before`].
const SEEN_BUCKET: usize = 8;

impl SharedKeyCache {
    /// Bytes one cached key costs at most (see the module notes): what
    /// sizing a cache for a memory budget divides by.
    pub const BYTES_PER_ENTRY: usize = 160;

    /// An empty cache holding at most `capacity` keys (at least two).
    pub fn new(capacity: usize) -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
            generation: (capacity / 2).max(1),
            budget: None,
            computed: 0,
            seen_once: Vec::new(),
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
            None => {
                let key = SharedKey::new(peer, ours)?;
                self.computed += 1;
                Ok(self.insert(peer, key))
            }
        }
    }

    /// The shared key with `peer` for a packet it sent us: computed if not
    /// cached and the budget allows, and cached if `peer` missed once
    /// before (see the module notes).
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
        let key = SharedKey::new(peer, ours)?;
        self.computed += 1;
        if self.seen_before(peer) {
            Ok(self.insert(peer, key))
        } else {
            Ok(key)
        }
    }

    /// Whether `peer` missed before (and its fingerprint is still held);
    /// remembers it if not. Fingerprints sit in buckets of eight, newest
    /// first: one is forgotten only after eight others came into its
    /// bucket, so clients asking in turn are not kept out by another key
    /// that keeps taking their slot (as many clients as the table holds
    /// fingerprints, two per bucket on average: well under 1% of them
    /// share a bucket with eight others and keep missing; with single
    /// slots it was a fifth). The bucket and the tag are bytes of the key itself:
    /// public keys are uniformly random, so they spread evenly, and the
    /// result is the same in every run (the simulator replays from a
    /// seed). Whoever grinds keys into a client's bucket only costs that
    /// client more scalar multiplications, as a flood of new keys would.
    fn seen_before(&mut self, peer: &PublicKey) -> bool {
        if self.seen_once.is_empty() {
            let buckets = (self.capacity() / SEEN_BUCKET).max(1).next_power_of_two();
            self.seen_once = vec![[0; SEEN_BUCKET]; buckets];
        }
        let bytes = peer.as_bytes();
        let word = |at: usize| {
            bytes
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_le_bytes)
        };
        // Tag 0 marks an empty place, so a key whose tag is 0 counts as 1.
        let (index, tag) = (word(0) as usize, word(4).max(1));
        let mask = self.seen_once.len() - 1;
        let Some(bucket) = self.seen_once.get_mut(index & mask) else {
            return true;
        };
        if let Some(held) = bucket.iter_mut().find(|held| **held == tag) {
            *held = 0;
            return true;
        }
        bucket.rotate_right(1);
        if let Some(newest) = bucket.first_mut() {
            *newest = tag;
        }
        false
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

    /// Keys computed since the cache was made: every miss that cost a
    /// scalar multiplication.
    pub fn computed(&self) -> u64 {
        self.computed
    }

    /// Most keys held at once.
    pub fn capacity(&self) -> usize {
        self.generation * 2
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

    /// Distinct peers asking in turn, as many clients of a busy node do.
    fn round_robin(
        cache: &mut SharedKeyCache,
        peers: &[PublicKey],
        ours: &SecretKey,
        rounds: usize,
    ) {
        for _ in 0..rounds {
            for peer in peers {
                cache.get(peer, ours).unwrap();
                assert!(cache.len() <= cache.capacity(), "{}", cache.len());
            }
        }
    }

    fn peers(rng: &mut ChaCha20Rng, n: usize) -> Vec<PublicKey> {
        (0..n).map(|_| KeyPair::generate(rng).public).collect()
    }

    #[test]
    fn peers_in_turn_hit_while_at_most_half_the_capacity() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let ours = KeyPair::generate(&mut rng);
        let mut cache = SharedKeyCache::new(64);
        let peers = peers(&mut rng, 32);
        round_robin(&mut cache, &peers, &ours.secret, 10);
        assert_eq!(cache.computed(), 32, "each key computed once");
        assert_eq!(cache.len(), 32);
    }

    #[test]
    fn peers_in_turn_beyond_the_capacity_miss_every_time() {
        // The cliff the node's larger cache is for: round robin over more
        // keys than fit costs a scalar multiplication per request.
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let ours = KeyPair::generate(&mut rng);
        let mut cache = SharedKeyCache::new(64);
        let peers = peers(&mut rng, 80);
        round_robin(&mut cache, &peers, &ours.secret, 10);
        assert!(cache.computed() >= 780, "{}", cache.computed());
        assert!(cache.len() <= 64);
    }

    #[test]
    fn node_sized_cache_holds_thousands_of_clients_in_turn() {
        // 4,096 clients plus the node's own contacts, as in the flood
        // benchmark's largest case: after the first round, all hits.
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let ours = KeyPair::generate(&mut rng);
        let mut cache = SharedKeyCache::new(16_384);
        let peers = peers(&mut rng, 4_096 + 64);
        round_robin(&mut cache, &peers, &ours.secret, 3);
        assert_eq!(cache.computed(), 4_160);
        // c-toxcore's size, for contrast, computes nearly every time.
        let mut small = SharedKeyCache::new(1_024);
        round_robin(&mut small, &peers, &ours.secret, 3);
        assert!(small.computed() > 3 * 4_000, "{}", small.computed());
    }

    #[test]
    fn random_use_never_exceeds_the_capacity() {
        use rand::Rng as _;
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let ours = KeyPair::generate(&mut rng);
        let peers = peers(&mut rng, 300);
        let mut cache = SharedKeyCache::with_budget(100, 1e9);
        let now = std::time::Instant::now();
        for _ in 0..3_000 {
            let peer = &peers[rng.next_u32() as usize % peers.len()];
            cache.get_incoming(now, peer, &ours.secret).unwrap();
            assert!(cache.len() <= 100);
        }
        assert!(cache.computed() >= 300 && cache.computed() < 3_000);
    }

    #[test]
    fn received_keys_are_cached_on_second_sight() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let ours = KeyPair::generate(&mut rng);
        let now = std::time::Instant::now();
        let mut cache = SharedKeyCache::new(16_384);
        // Clients asking in turn: two rounds of misses, then all hits.
        let clients = peers(&mut rng, 4_096);
        for _ in 0..4 {
            for pk in &clients {
                cache.get_incoming(now, pk, &ours.secret).unwrap();
            }
        }
        // Well under 1% of the clients share a bucket of fingerprints
        // with eight others and keep missing.
        let computed = cache.computed();
        assert!(computed < 2 * 4_096 + 2 * 40, "{computed}");
        for pk in &clients {
            cache.get_incoming(now, pk, &ours.secret).unwrap();
        }
        assert!(cache.computed() - computed < 40, "{}", cache.computed());
        let cached = cache.len();
        let computed = cache.computed();
        // A flood of one-shot keys is computed but neither cached nor
        // pushing the clients out.
        for pk in peers(&mut rng, 20_000) {
            cache.get_incoming(now, &pk, &ours.secret).unwrap();
        }
        assert_eq!(cache.len(), cached);
        let after_flood = cache.computed();
        assert_eq!(after_flood, computed + 20_000);
        for pk in &clients {
            cache.get_incoming(now, pk, &ours.secret).unwrap();
        }
        assert!(cache.computed() - after_flood < 40);
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
