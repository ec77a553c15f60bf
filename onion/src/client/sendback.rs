//! Sendbacks: what an announce response answers (c-toxcore's announce
//! ping array, 256 slots, 10 s).
//!
//! The 8-byte sendback in an announce request comes back verbatim in the
//! response. Ours is a random id naming a pending request, so a response
//! is accepted only once, only within 10 s, and only for a request we sent
//! to that node; the node key also says which key opens the response.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use toxide_core::{CryptoRng, PublicKey};

use super::timing::expired;

/// Pending requests remembered (`ANNOUNCE_ARRAY_SIZE`).
const CAPACITY: usize = 256;
/// Seconds a response may take (`ANNOUNCE_TIMEOUT`).
const TIMEOUT: u64 = 10;

/// Whom an announce request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Announcing ourselves.
    Us,
    /// Searching for the friend with this real key.
    Friend(PublicKey),
}

/// A request waiting for its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Whom it was for.
    pub target: Target,
    /// The announce node asked.
    pub node_pk: PublicKey,
    /// Its address.
    pub node_addr: SocketAddr,
    /// The path it went out on.
    pub path_num: u32,
}

/// The pending requests.
#[derive(Debug, Default)]
pub struct Sendbacks {
    pending: VecDeque<(u64, Instant, Pending)>,
}

impl Sendbacks {
    /// Remembers `pending` and returns the sendback to put in the request.
    pub fn add<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        pending: Pending,
    ) -> [u8; 8] {
        let id = rng.next_u64().max(1);
        if self.pending.len() >= CAPACITY {
            self.pending.pop_front();
        }
        self.pending.push_back((id, now, pending));
        id.to_be_bytes()
    }

    /// The request `sendback` answers, if it is pending and fresh; it is
    /// forgotten either way.
    pub fn take(&mut self, now: Instant, sendback: [u8; 8]) -> Option<Pending> {
        let id = u64::from_be_bytes(sendback);
        let index = self.pending.iter().position(|(i, _, _)| *i == id)?;
        let (_, sent, pending) = self.pending.remove(index)?;
        (!expired(Some(sent), TIMEOUT, now)).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::time::Duration;

    fn pending() -> Pending {
        Pending {
            target: Target::Us,
            node_pk: PublicKey::new([1; 32]),
            node_addr: "127.0.0.1:1".parse().unwrap(),
            path_num: 7,
        }
    }

    #[test]
    fn a_sendback_is_good_once_and_for_ten_seconds() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut sendbacks = Sendbacks::default();
        let now = Instant::now();
        let a = sendbacks.add(now, &mut rng, pending());
        assert_eq!(sendbacks.take(now, a), Some(pending()));
        assert_eq!(sendbacks.take(now, a), None);
        let b = sendbacks.add(now, &mut rng, pending());
        assert_eq!(sendbacks.take(now + Duration::from_secs(10), b), None);
        assert_eq!(sendbacks.take(now, [0; 8]), None);
    }
}
