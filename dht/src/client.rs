//! What the DHT remembers about one node (c-toxcore `Client_data`).
//!
//! A node can be reachable over IPv4 and IPv6 at once, and the two are
//! tracked apart (checklist D6, D15): a node's IPv6 address going quiet must
//! not make its IPv4 address look dead, and the reply to a request goes out
//! over the family it came in on.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide_core::{PackedNode, PublicKey};

use crate::constants::{BAD_NODE_GRACE, KILL_NODE_GRACE, REFRESH_AFTER, STABLE_AFTER};
#[cfg(doc)]
use crate::constants::{BAD_NODE_TIMEOUT, KILL_NODE_TIMEOUT};

/// One address of a node and what we know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assoc {
    /// Where the node answered from.
    pub addr: SocketAddr,
    /// When it last answered one of our requests or sent one of its own;
    /// `None` once cleared.
    pub last_seen: Option<Instant>,
    /// When it last sent us a request from this address.
    pub asked_us: Option<Instant>,
    /// When we last sent it a nodes request as a liveness check.
    pub last_pinged: Option<Instant>,
    /// The address this node reports for the key its list is about (a
    /// searched friend, or ourselves for the close list) and when it did.
    pub returned: Option<(SocketAddr, Instant)>,
    /// Since when the node has been good here without a break: set when
    /// it is first heard, and again when it is heard after going bad.
    pub since: Instant,
    /// How much silence this entry is allowed before it is asked whether
    /// it is alive: [`REFRESH_AFTER`] unless its list put it on the slower
    /// tier (see [`crate::refresh`]). Its bad and dead deadlines follow
    /// it, [`BAD_NODE_GRACE`] and [`KILL_NODE_GRACE`] later.
    pub refresh_after: Duration,
}

impl Assoc {
    fn fresh(addr: SocketAddr, now: Instant) -> Self {
        Self {
            addr,
            last_seen: Some(now),
            last_pinged: None,
            asked_us: None,
            returned: None,
            since: now,
            refresh_after: REFRESH_AFTER,
        }
    }

    fn older_than(&self, now: Instant, age: Duration) -> bool {
        self.last_seen
            .is_none_or(|seen| now.saturating_duration_since(seen) >= age)
    }

    /// How long the node has been silent (forever if cleared).
    pub fn silence(&self, now: Instant) -> Duration {
        self.last_seen
            .map_or(Duration::MAX, |seen| now.saturating_duration_since(seen))
    }

    /// Not heard from for [`BAD_NODE_GRACE`] past its refresh deadline
    /// (at [`REFRESH_AFTER`], c-toxcore's [`BAD_NODE_TIMEOUT`] of 122 s):
    /// not handed out to others, and its slot may be reused.
    pub fn is_bad(&self, now: Instant) -> bool {
        self.older_than(now, self.refresh_after.saturating_add(BAD_NODE_GRACE))
    }

    /// Not heard from for [`KILL_NODE_GRACE`] past its refresh deadline
    /// (at [`REFRESH_AFTER`], c-toxcore's [`KILL_NODE_TIMEOUT`] of 182 s):
    /// no longer pinged.
    pub fn is_dead(&self, now: Instant) -> bool {
        self.older_than(now, self.refresh_after.saturating_add(KILL_NODE_GRACE))
    }

    /// Good without a break for [`STABLE_AFTER`] by its last word: a node
    /// that has stayed this long is likely to stay longer (the uptime of
    /// DHT nodes is heavy-tailed), so its list may check it less often.
    pub fn is_stable(&self) -> bool {
        self.last_seen
            .is_some_and(|seen| seen.saturating_duration_since(self.since) >= STABLE_AFTER)
    }

    /// Heard from just now: a node that had gone bad starts a new run of
    /// liveness, on the short tier.
    fn heard(&mut self, now: Instant) {
        if self.is_bad(now) {
            self.since = now;
            self.refresh_after = REFRESH_AFTER;
        }
        self.last_seen = Some(now);
    }

    /// Puts a known node back as bad-but-alive, to be asked again at once
    /// (c-toxcore `do_Close` when every node timed out).
    pub fn revive(&mut self, now: Instant) {
        if self.last_seen.is_some() {
            self.refresh_after = REFRESH_AFTER;
            self.last_seen = now.checked_sub(REFRESH_AFTER + BAD_NODE_GRACE);
            self.since = now;
        }
    }
}

/// A node in one of the DHT's lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The node's DHT key.
    pub public_key: PublicKey,
    /// Its IPv4 address, if known.
    pub v4: Option<Assoc>,
    /// Its IPv6 address, if known.
    pub v6: Option<Assoc>,
}

impl Client {
    /// A node that just answered from `addr`.
    pub fn new(public_key: PublicKey, addr: SocketAddr, now: Instant) -> Self {
        let mut client = Self {
            public_key,
            v4: None,
            v6: None,
        };
        client.reset(public_key, addr, now);
        client
    }

    /// Reuses this slot for a (possibly different) key heard at `addr`,
    /// forgetting everything known before (c-toxcore
    /// `update_client_with_reset`).
    pub fn reset(&mut self, public_key: PublicKey, addr: SocketAddr, now: Instant) {
        self.public_key = public_key;
        let assoc = Some(Assoc::fresh(addr, now));
        if addr.is_ipv4() {
            (self.v4, self.v6) = (assoc, None);
        } else {
            (self.v4, self.v6) = (None, assoc);
        }
    }

    /// The slot for the family of `addr`.
    pub fn assoc_for_mut(&mut self, addr: &SocketAddr) -> &mut Option<Assoc> {
        if addr.is_ipv4() {
            &mut self.v4
        } else {
            &mut self.v6
        }
    }

    /// The slot for the family of `addr`.
    pub fn assoc_for(&self, addr: &SocketAddr) -> Option<&Assoc> {
        if addr.is_ipv4() {
            self.v4.as_ref()
        } else {
            self.v6.as_ref()
        }
    }

    /// The node answered from `addr` just now.
    pub fn heard_from(&mut self, addr: SocketAddr, now: Instant) {
        let slot = self.assoc_for_mut(&addr);
        match slot {
            Some(assoc) if assoc.addr == addr => assoc.heard(now),
            _ => *slot = Some(Assoc::fresh(addr, now)),
        }
    }

    /// The node sent us a request from `addr`, whose box opened with its
    /// key: it is alive there, as much as if it had answered. Only an
    /// address already known counts (a request adds no node: c-toxcore
    /// asks first, and so do we). Returns whether one was known.
    pub fn heard_request(&mut self, addr: SocketAddr, now: Instant) -> bool {
        match self.assoc_for_mut(&addr) {
            Some(assoc) if assoc.addr == addr => {
                assoc.heard(now);
                assoc.asked_us = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Both addresses, IPv6 first as c-toxcore iterates them.
    pub fn assocs(&self) -> impl Iterator<Item = &Assoc> {
        self.v6.iter().chain(self.v4.iter())
    }

    /// Both addresses, mutably.
    pub fn assocs_mut(&mut self) -> impl Iterator<Item = &mut Assoc> {
        self.v6.iter_mut().chain(self.v4.iter_mut())
    }

    /// Every address this node has answered us from, as a node to contact,
    /// with when it last answered there.
    pub fn heard_addrs(&self) -> impl Iterator<Item = (Instant, PackedNode)> + '_ {
        self.assocs().filter_map(|a| {
            a.last_seen
                .map(|seen| (seen, PackedNode::udp(a.addr, self.public_key)))
        })
    }

    /// Every address has gone bad: the slot may be reused.
    pub fn is_bad(&self, now: Instant) -> bool {
        self.assocs().all(|a| a.is_bad(now))
    }

    /// Whether `addr` is one of this node's addresses.
    pub fn has_addr(&self, addr: &SocketAddr) -> bool {
        self.assocs().any(|a| a.addr == *addr)
    }

    /// The address to hand out for this node: the more recently heard one,
    /// if it is still good (c-toxcore `get_close_nodes_inner`).
    pub fn best_good(&self, now: Instant) -> Option<PackedNode> {
        let best = match (&self.v4, &self.v6) {
            (Some(a), Some(b)) => {
                if a.last_seen >= b.last_seen {
                    a
                } else {
                    b
                }
            }
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return None,
        };
        (!best.is_bad(now)).then(|| PackedNode::udp(best.addr, self.public_key))
    }
}
