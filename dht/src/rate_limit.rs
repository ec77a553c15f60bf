//! Per-source budgets for requests we answer.
//!
//! Answering costs us a Diffie-Hellman (if the key is new) and a reply;
//! without a budget one sender could make a node spend all its CPU and
//! bandwidth on it. Each source address gets a token bucket; the table of
//! sources is bounded so a flood from many addresses cannot grow memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

/// How many requests a source may make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: f64,
    /// Sources tracked at once; beyond it the table is cleared, which
    /// errs towards answering rather than towards memory growth.
    pub max_sources: usize,
}

impl Default for RateLimit {
    /// Far above what an honest c-toxcore peer sends a single node (a few
    /// requests per second at most during bootstrap).
    fn default() -> Self {
        Self {
            per_second: 50.0,
            burst: 100.0,
            max_sources: 65_536,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by source address.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: HashMap<SocketAddr, Bucket>,
}

impl RateLimiter {
    /// A limiter with no history.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Whether `source` may make one more request now; spends a token.
    pub fn allow(&mut self, now: Instant, source: SocketAddr) -> bool {
        if self.buckets.len() >= self.limit.max_sources && !self.buckets.contains_key(&source) {
            self.buckets.clear();
        }
        let limit = self.limit;
        let bucket = self.buckets.entry(source).or_insert(Bucket {
            tokens: limit.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(limit.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let limit = RateLimit {
            per_second: 10.0,
            burst: 3.0,
            max_sources: 4,
        };
        let mut rl = RateLimiter::new(limit);
        let now = Instant::now();
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        assert!((0..3).all(|_| rl.allow(now, a)));
        assert!(!rl.allow(now, a));
        assert!(
            rl.allow(now, "10.0.0.2:1".parse().unwrap()),
            "others unaffected"
        );
        assert!(rl.allow(now + Duration::from_millis(100), a));
    }
}
