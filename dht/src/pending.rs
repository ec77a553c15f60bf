//! Requests we sent and are waiting on (c-toxcore's ping arrays).
//!
//! A response is accepted only if it echoes the id of a request we sent,
//! comes from the key and the address that request went to, and arrives
//! within [`REQUEST_TIMEOUT`]. Each id is accepted once. This is what keeps
//! forged or replayed responses from planting nodes in our lists.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use toxide_core::{CryptoRng, PublicKey};

use crate::constants::{MAX_PENDING_REQUESTS, REQUEST_TIMEOUT};

#[derive(Debug, Clone, Copy)]
struct Entry {
    public_key: PublicKey,
    addr: SocketAddr,
    sent: Instant,
}

/// Outstanding requests of one kind, bounded in number and age.
#[derive(Debug, Clone, Default)]
pub struct PendingRequests {
    entries: HashMap<u64, Entry>,
    order: VecDeque<u64>,
}

impl PendingRequests {
    /// Remembers a request to `public_key` at `addr` and returns its fresh,
    /// unguessable, non-zero id. The oldest request is forgotten when
    /// [`MAX_PENDING_REQUESTS`] are outstanding.
    pub fn insert<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: Instant,
        public_key: PublicKey,
        addr: SocketAddr,
    ) -> u64 {
        self.expire(now);
        while self.entries.len() >= MAX_PENDING_REQUESTS {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        let id = loop {
            let id = rng.next_u64();
            if id != 0 && !self.entries.contains_key(&id) {
                break id;
            }
        };
        self.entries.insert(
            id,
            Entry {
                public_key,
                addr,
                sent: now,
            },
        );
        self.order.push_back(id);
        id
    }

    /// Whether `id` answers a live request to `public_key` at `addr`;
    /// consumes it if so.
    pub fn take(
        &mut self,
        now: Instant,
        id: u64,
        public_key: &PublicKey,
        addr: &SocketAddr,
    ) -> bool {
        let Some(entry) = self.entries.get(&id) else {
            return false;
        };
        let fresh = now.saturating_duration_since(entry.sent) < REQUEST_TIMEOUT;
        if fresh && entry.public_key == *public_key && entry.addr == *addr {
            self.entries.remove(&id);
            true
        } else {
            false
        }
    }

    /// Whether a live request went to `public_key` at `addr`: a response
    /// from anyone else is dropped before the Diffie-Hellman that opening
    /// it would cost. (The id is inside the box, so this is the most that
    /// can be checked first.)
    pub fn awaits(&self, now: Instant, public_key: &PublicKey, addr: &SocketAddr) -> bool {
        self.entries.values().any(|e| {
            e.public_key == *public_key
                && e.addr == *addr
                && now.saturating_duration_since(e.sent) < REQUEST_TIMEOUT
        })
    }

    /// Forgets requests older than [`REQUEST_TIMEOUT`].
    pub fn expire(&mut self, now: Instant) {
        while let Some(&oldest) = self.order.front() {
            match self.entries.get(&oldest) {
                Some(e) if now.saturating_duration_since(e.sent) < REQUEST_TIMEOUT => break,
                _ => {
                    self.order.pop_front();
                    self.entries.remove(&oldest);
                }
            }
        }
    }

    /// Requests outstanding.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are outstanding.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::time::Duration;

    #[test]
    fn accepts_only_matching_fresh_responses_once() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let now = Instant::now();
        let pk = PublicKey::new([1; 32]);
        let addr: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let mut p = PendingRequests::default();
        let id = p.insert(&mut rng, now, pk, addr);
        assert!(
            !p.take(now, id, &PublicKey::new([2; 32]), &addr),
            "wrong key"
        );
        assert!(
            !p.take(now, id, &pk, &"10.0.0.1:2".parse().unwrap()),
            "wrong address"
        );
        assert!(!p.take(now, id ^ 1, &pk, &addr), "wrong id");
        assert!(p.awaits(now, &pk, &addr));
        assert!(!p.awaits(now, &PublicKey::new([2; 32]), &addr));
        assert!(!p.awaits(now + REQUEST_TIMEOUT, &pk, &addr));
        assert!(p.take(now, id, &pk, &addr));
        assert!(!p.awaits(now, &pk, &addr), "answered");
        assert!(!p.take(now, id, &pk, &addr), "replay");

        let id = p.insert(&mut rng, now, pk, addr);
        assert!(!p.take(now + REQUEST_TIMEOUT, id, &pk, &addr), "too late");
    }

    #[test]
    fn bounded() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let now = Instant::now();
        let mut p = PendingRequests::default();
        let addr: SocketAddr = "10.0.0.1:1".parse().unwrap();
        for _ in 0..(MAX_PENDING_REQUESTS + 10) {
            p.insert(&mut rng, now, PublicKey::new([1; 32]), addr);
        }
        assert_eq!(p.len(), MAX_PENDING_REQUESTS);
        p.expire(now + Duration::from_secs(6));
        assert!(p.is_empty());
    }
}
