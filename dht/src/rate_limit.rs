//! Budgets for the work a node does for others.
//!
//! Answering a request costs a Diffie-Hellman (if the sender's key is new),
//! a box to open and a reply; without a budget one sender could make a
//! node spend all its CPU and bandwidth on it. Two budgets share the work:
//!
//! - **Per host, after the box opens** ([`RateLimiter`]). A budget belongs
//!   to a host, not to an address and port: an IPv4 address, or an IPv6
//!   /64 (what one subscriber is handed), so rotating source ports or the
//!   low 64 bits of an IPv6 address buys nothing. A request is charged only
//!   once its box has opened under the sender's key, so junk spoofed from a
//!   victim's address cannot spend the victim's budget; a host already out
//!   of budget is refused before any cryptography. The table of hosts is
//!   bounded and forgets the least recently seen host when full, so a
//!   flood from many hosts neither grows memory nor resets the budgets of
//!   the hosts that are being limited.
//! - **Globally, before the box opens** ([`TokenBucket`] in
//!   [`crate::shared_keys::SharedKeyCache`]): what happens before a box
//!   opens is dominated by X25519 on keys not cached, so those are budgeted
//!   across all senders. Spoofed floods of fresh keys then cost a bounded
//!   share of a core; peers whose keys are cached are not affected.
//!
//! The default per-host budget is sized from c-toxcore 0.2.18 clients
//! measured against toxide-node (see [`RateLimit::default`]).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use toxide_core::packed_node::canonical_ip;

/// How many requests a host may make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second per host.
    pub per_second: f64,
    /// Requests a host may make in a burst.
    pub burst: f64,
    /// Hosts tracked at once; beyond it the least recently seen one is
    /// forgotten (and starts again with a full burst if it comes back).
    pub max_hosts: usize,
    /// Shared keys computed per second for received packets whose
    /// sender's key is not cached, across all hosts (bursts of as many).
    pub new_keys_per_second: f64,
}

impl Default for RateLimit {
    /// 200 requests per second per host, bursts of 400. Measured with
    /// `node/examples/client_load.rs`: a c-toxcore 0.2.18 client whose
    /// only bootstrap node this is, in a network of four clients (the
    /// worst case: every request and every onion hop lands on this one
    /// node), makes 4.9 requests a second of it once settled, 9.6 over
    /// its first 10 s and 40 in its busiest second. So one address behind
    /// a NAT carries some 40 such clients at once, ten starting in the
    /// same second; in a real network a client spreads its requests over
    /// hundreds of nodes and a host carries far more. A single flooding
    /// host is held to 200 answers a second.
    ///
    /// 4,000 new keys a second cost about a fifth of a core here
    /// (x25519-dalek, 52 µs each), several times what a busy public node's
    /// honest traffic needs with its key cache.
    fn default() -> Self {
        Self {
            per_second: 200.0,
            burst: 400.0,
            max_hosts: 65_536,
            new_keys_per_second: 4_000.0,
        }
    }
}

/// Whom a budget belongs to: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 address (IPv4-mapped IPv6 counts as IPv4).
    V4(u32),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl Host {
    /// The host `addr` belongs to.
    pub fn of(addr: &SocketAddr) -> Self {
        match canonical_ip(addr.ip()) {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                // The shift leaves exactly the upper 64 bits.
                Self::V6(u64::try_from(bits >> 64).unwrap_or(u64::MAX))
            }
        }
    }
}

/// A token bucket: `per_second` tokens a second up to `burst`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    updated: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            per_second,
            burst,
            tokens: burst,
            updated: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(updated) = self.updated {
            let elapsed = now.saturating_duration_since(updated).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        }
        self.updated = Some(now);
    }

    /// Whether a token is left now, without spending it.
    pub fn has_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Spends a token if one is left; whether one was.
    pub fn take(&mut self, now: Instant) -> bool {
        let ok = self.has_token(now);
        if ok {
            self.tokens -= 1.0;
        }
        ok
    }

    /// Spends a token even if none is left (the work was done already);
    /// the debt is paid back from the refill.
    pub fn charge(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens - 1.0).max(-self.burst);
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    bucket: TokenBucket,
    /// Key of this host in the recency index.
    seen: u64,
}

/// Token buckets by host, least recently seen forgotten first.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limit: RateLimit,
    hosts: HashMap<Host, Entry>,
    /// Hosts by the tick they were last charged at: the first is the one
    /// to forget.
    recency: BTreeMap<u64, Host>,
    tick: u64,
}

impl RateLimiter {
    /// A limiter with no history.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            hosts: HashMap::new(),
            recency: BTreeMap::new(),
            tick: 0,
        }
    }

    /// Whether the host of `source` has budget left now. Spends nothing:
    /// call [`RateLimiter::charge`] once the request proved genuine.
    pub fn has_budget(&mut self, now: Instant, source: &SocketAddr) -> bool {
        self.hosts
            .get_mut(&Host::of(source))
            .is_none_or(|entry| entry.bucket.has_token(now))
    }

    /// Charges the host of `source` one request.
    pub fn charge(&mut self, now: Instant, source: &SocketAddr) {
        let host = Host::of(source);
        self.tick += 1;
        let tick = self.tick;
        if let Some(entry) = self.hosts.get_mut(&host) {
            self.recency.remove(&entry.seen);
            entry.seen = tick;
            entry.bucket.charge(now);
            self.recency.insert(tick, host);
            return;
        }
        while self.hosts.len() >= self.limit.max_hosts.max(1) {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.hosts.remove(&oldest);
        }
        let mut bucket = TokenBucket::new(self.limit.per_second, self.limit.burst);
        bucket.charge(now);
        self.hosts.insert(host, Entry { bucket, seen: tick });
        self.recency.insert(tick, host);
    }

    /// [`RateLimiter::has_budget`] and [`RateLimiter::charge`] at once, for
    /// work that needs no cryptography to prove its sender.
    pub fn allow(&mut self, now: Instant, source: &SocketAddr) -> bool {
        let ok = self.has_budget(now, source);
        if ok {
            self.charge(now, source);
        }
        ok
    }

    /// Hosts tracked.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether no host is tracked.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limit(max_hosts: usize) -> RateLimit {
        RateLimit {
            per_second: 10.0,
            burst: 3.0,
            max_hosts,
            new_keys_per_second: 1.0,
        }
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn burst_then_refill() {
        let mut rl = RateLimiter::new(limit(4));
        let now = Instant::now();
        let a = addr("10.0.0.1:1");
        assert!((0..3).all(|_| rl.allow(now, &a)));
        assert!(!rl.allow(now, &a));
        assert!(rl.allow(now, &addr("10.0.0.2:1")), "others unaffected");
        assert!(rl.allow(now + Duration::from_millis(100), &a));
    }

    #[test]
    fn rotating_ports_shares_one_budget() {
        // Before: every port had its own bucket with a full burst.
        let mut rl = RateLimiter::new(limit(1024));
        let now = Instant::now();
        let allowed = (1..=100u16)
            .filter(|port| rl.allow(now, &SocketAddr::new("192.0.2.7".parse().unwrap(), *port)))
            .count();
        assert_eq!(allowed, 3);
        assert_eq!(rl.len(), 1);
    }

    #[test]
    fn ipv6_hosts_are_slash_64() {
        let mut rl = RateLimiter::new(limit(1024));
        let now = Instant::now();
        let same_64 = (0..100u16)
            .filter(|i| rl.allow(now, &addr(&format!("[2001:db8:1:2::{i:x}]:33445"))))
            .count();
        assert_eq!(same_64, 3);
        assert!(rl.allow(now, &addr("[2001:db8:1:3::1]:33445")), "next /64");
        assert_eq!(
            Host::of(&addr("[::ffff:192.0.2.1]:1")),
            Host::of(&addr("192.0.2.1:2")),
            "IPv4-mapped IPv6 is the IPv4 host"
        );
    }

    #[test]
    fn full_table_forgets_the_least_recent_host_not_all() {
        // Before: a full table was cleared, refilling the budget of the
        // host being limited whenever enough other hosts showed up.
        let mut rl = RateLimiter::new(limit(4));
        let now = Instant::now();
        let flooder = addr("192.0.2.1:1");
        for _ in 0..3 {
            assert!(rl.allow(now, &flooder));
        }
        assert!(!rl.allow(now, &flooder));
        for i in 2..=4 {
            rl.charge(now, &addr(&format!("192.0.2.{i}:1")));
        }
        // The flooder is refused, which does not refresh its entry; new
        // hosts push out the least recent ones, the flooder first...
        rl.charge(now, &addr("192.0.2.5:1"));
        assert_eq!(rl.len(), 4);
        assert!(rl.allow(now, &flooder), "forgotten, so a fresh burst");
        // ...but a host charged recently is kept with its spent budget.
        let mut rl = RateLimiter::new(limit(4));
        for _ in 0..3 {
            assert!(rl.allow(now, &flooder));
        }
        for i in 2..=3 {
            rl.charge(now, &addr(&format!("192.0.2.{i}:1")));
        }
        rl.charge(now, &flooder);
        rl.charge(now, &addr("192.0.2.4:1"));
        rl.charge(now, &addr("192.0.2.5:1"));
        assert_eq!(rl.len(), 4);
        assert!(!rl.has_budget(now, &flooder), "still limited");
    }

    #[test]
    fn checking_spends_nothing() {
        let mut rl = RateLimiter::new(limit(4));
        let now = Instant::now();
        let a = addr("10.0.0.1:1");
        for _ in 0..100 {
            assert!(rl.has_budget(now, &a));
        }
        assert!(rl.is_empty());
    }

    #[test]
    fn token_bucket_charges_into_debt() {
        let mut bucket = TokenBucket::new(10.0, 2.0);
        let now = Instant::now();
        for _ in 0..10 {
            bucket.charge(now);
        }
        assert!(!bucket.has_token(now));
        // Debt is capped at one burst: 2 below zero plus 1 needed = 0.3 s.
        assert!(!bucket.has_token(now + Duration::from_millis(250)));
        assert!(bucket.has_token(now + Duration::from_millis(310)));
        let mut bucket = TokenBucket::new(10.0, 2.0);
        assert!(bucket.take(now) && bucket.take(now) && !bucket.take(now));
    }
}
