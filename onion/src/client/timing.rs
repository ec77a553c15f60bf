//! c-toxcore's notion of "timed out", on our clock.
//!
//! `mono_time_is_timeout(t, secs)` is `t + secs <= now`, and a timestamp of
//! zero (never) is always timed out. We keep "never" as `None`.

use std::time::{Duration, Instant};

/// Whether `secs` have passed since `since` (always, if never).
pub(crate) fn expired(since: Option<Instant>, secs: u64, now: Instant) -> bool {
    match since {
        None => true,
        Some(t) => now.saturating_duration_since(t) >= Duration::from_secs(secs),
    }
}
