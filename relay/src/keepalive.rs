//! Pings on schedule and the pong deadline (checklist R7; c-toxcore
//! `do_confirmed_TCP` in `TCP_client.c`, `do_TCP_confirmed` in
//! `TCP_server.c`): a ping every [`TCP_PING_FREQUENCY`], and the
//! connection is dead when the pong is [`TCP_PING_TIMEOUT`] late.

use std::time::Instant;

use thiserror::Error;
use toxide_core::CryptoRng;

use crate::constants::{TCP_PING_FREQUENCY, TCP_PING_TIMEOUT};

/// The peer did not answer a ping in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("ping unanswered for {TCP_PING_TIMEOUT:?}")]
pub(crate) struct PingTimeout;

#[derive(Debug, Clone)]
pub(crate) struct Keepalive {
    next_ping: Instant,
    outstanding: Option<(u64, Instant)>,
}

impl Keepalive {
    /// The first ping goes at `first_ping`: at once for a client (as
    /// c-toxcore's, whose first ping also confirms it to the relay), one
    /// period after confirmation for a relay.
    pub(crate) fn new(first_ping: Instant) -> Self {
        Self {
            next_ping: first_ping,
            outstanding: None,
        }
    }

    pub(crate) fn poll_timeout(&self) -> Instant {
        match self.outstanding {
            Some((_, sent)) => self.next_ping.min(sent + TCP_PING_TIMEOUT),
            None => self.next_ping,
        }
    }

    /// A ping id to send now, if one is due; an error if the last one went
    /// unanswered.
    pub(crate) fn handle_timeout<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
    ) -> Result<Option<u64>, PingTimeout> {
        if let Some((_, sent)) = self.outstanding {
            if now >= sent + TCP_PING_TIMEOUT {
                return Err(PingTimeout);
            }
        }
        if now < self.next_ping {
            return Ok(None);
        }
        let ping_id = rng.next_u64().max(1);
        self.outstanding = Some((ping_id, now));
        self.next_ping = now + TCP_PING_FREQUENCY;
        Ok(Some(ping_id))
    }

    /// Whether `ping_id` answered our outstanding ping.
    pub(crate) fn on_pong(&mut self, ping_id: u64) -> bool {
        match self.outstanding {
            Some((id, _)) if id == ping_id => {
                self.outstanding = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::time::Duration;

    #[test]
    fn schedule_and_timeout() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut k = Keepalive::new(t0);
        let id = k.handle_timeout(t0, &mut rng).unwrap().unwrap();
        assert_ne!(id, 0);
        assert_eq!(k.poll_timeout(), t0 + TCP_PING_TIMEOUT);
        assert!(!k.on_pong(id ^ 1));
        assert!(k.on_pong(id));
        assert_eq!(k.poll_timeout(), t0 + TCP_PING_FREQUENCY);
        assert_eq!(
            k.handle_timeout(t0 + Duration::from_secs(29), &mut rng),
            Ok(None)
        );
        let t1 = t0 + TCP_PING_FREQUENCY;
        assert!(k.handle_timeout(t1, &mut rng).unwrap().is_some());
        assert_eq!(
            k.handle_timeout(t1 + Duration::from_millis(9999), &mut rng),
            Ok(None)
        );
        assert_eq!(
            k.handle_timeout(t1 + TCP_PING_TIMEOUT, &mut rng),
            Err(PingTimeout)
        );
    }
}
