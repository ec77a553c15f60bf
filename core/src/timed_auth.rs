//! Time-windowed authenticators: tokens a node hands out and later accepts
//! back without remembering them.
//!
//! The onion announce service gives every requester a 32-byte "ping id"
//! that must come back in the next request (checklist O8). It has to be
//! unforgeable, bound to the requester (key and address), and expire on its
//! own. c-toxcore 0.2.18 computes it as an HMAC over the time window number
//! and the bound data (`timed_auth.c`); only its creator ever checks it, so
//! any unforgeable 32-byte MAC interoperates. Ours is HMAC-SHA-256 over
//! `[window u64 BE][data]` under a random key that never leaves the node.
//!
//! A token made in window `w` verifies in `w` and `w + 1`, so its life is
//! between one and two periods, as in c-toxcore.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::CryptoRng;

/// Size of a token (c-toxcore `TIMED_AUTH_SIZE`).
pub const TIMED_AUTH_SIZE: usize = 32;

/// A key for making and checking [`TIMED_AUTH_SIZE`]-byte tokens.
pub struct TimedAuth {
    key: Zeroizing<[u8; 32]>,
    /// The window length in seconds.
    period: u64,
}

impl TimedAuth {
    /// A fresh random key; tokens live `period_secs` to twice that.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, period_secs: u64) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(key.as_mut());
        Self {
            key,
            period: period_secs.max(1),
        }
    }

    /// The token for `data` at `secs` (seconds on the caller's clock).
    pub fn create(&self, secs: u64, data: &[u8]) -> [u8; TIMED_AUTH_SIZE] {
        let mut out = [0u8; TIMED_AUTH_SIZE];
        out.copy_from_slice(&self.mac(secs / self.period, data).finalize().into_bytes());
        out
    }

    /// Whether `token` was made for `data` in this window or the previous
    /// one. The comparison is constant-time.
    pub fn verify(&self, secs: u64, data: &[u8], token: &[u8; TIMED_AUTH_SIZE]) -> bool {
        let window = secs / self.period;
        [Some(window), window.checked_sub(1)]
            .into_iter()
            .flatten()
            .any(|w| self.mac(w, data).verify_slice(token).is_ok())
    }

    fn mac(&self, window: u64, data: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail; the fallback
        // only satisfies the type (and would make every check fail).
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_ref())
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(&window.to_be_bytes());
        mac.update(data);
        mac
    }
}

impl std::fmt::Debug for TimedAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedAuth")
            .field("key", &"<redacted>")
            .field("period", &self.period)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn auth() -> TimedAuth {
        TimedAuth::generate(&mut ChaCha20Rng::seed_from_u64(7), 300)
    }

    #[test]
    fn a_token_lives_one_to_two_windows() {
        let auth = auth();
        let token = auth.create(1_000, b"pk and address");
        // Made in window 3 (900..1200): valid through window 4.
        assert!(auth.verify(1_000, b"pk and address", &token));
        assert!(auth.verify(1_199, b"pk and address", &token));
        assert!(auth.verify(1_499, b"pk and address", &token));
        assert!(!auth.verify(1_500, b"pk and address", &token));
        // Not valid before it was made either.
        assert!(!auth.verify(899, b"pk and address", &token));
    }

    #[test]
    fn a_token_is_bound_to_its_data_and_key() {
        let auth = auth();
        let token = auth.create(10, b"alice");
        assert!(!auth.verify(10, b"alicf", &token));
        let other = TimedAuth::generate(&mut ChaCha20Rng::seed_from_u64(8), 300);
        assert!(!other.verify(10, b"alice", &token));
        let mut forged = token;
        forged[0] ^= 1;
        assert!(!auth.verify(10, b"alice", &forged));
    }

    #[test]
    fn window_zero_has_no_previous_window() {
        let auth = auth();
        let token = auth.create(0, b"x");
        assert!(auth.verify(299, b"x", &token));
        assert!(!auth.verify(600, b"x", &token));
    }
}
