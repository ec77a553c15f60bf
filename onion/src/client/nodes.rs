//! The node lists of the onion client: announce nodes (for us and per
//! friend), the pool of path nodes, and the "recently asked" memory.

use std::net::SocketAddr;
use std::time::Instant;

use toxide_core::{CryptoRng, PackedNode, PublicKey};
use toxide_dht::distance::compare;

use super::timing::expired;

/// A node's "not answering" limit (`ONION_NODE_MAX_PINGS`).
pub(crate) const NODE_MAX_PINGS: u32 = 3;
/// Seconds after the last ping before an unanswering node is dropped
/// (`ONION_NODE_TIMEOUT` = `ONION_NODE_PING_INTERVAL`).
pub(crate) const NODE_TIMEOUT: u64 = 15;
/// Path nodes kept (`MAX_PATH_NODES`).
pub(crate) const MAX_PATH_NODES: usize = 32;
/// Nodes remembered as recently asked (`MAX_STORED_PINGED_NODES`).
const MAX_STORED_PINGED_NODES: usize = 9;
/// Seconds before asking the same node again (`MIN_NODE_PING_TIME`).
const MIN_NODE_PING_TIME: u64 = 10;

/// When we last sent an announce request to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinged {
    /// Just added: the first run skips it (c-toxcore's `last_pinged == 0`).
    Never,
    /// Treated as long ago (c-toxcore's `last_pinged = 1`).
    LongAgo,
    /// At this time.
    At(Instant),
}

impl Pinged {
    pub(crate) fn as_time(self) -> Option<Instant> {
        match self {
            Self::At(t) => Some(t),
            Self::Never | Self::LongAgo => None,
        }
    }
}

/// An announce node in a list (c-toxcore `Onion_Node`).
#[derive(Debug, Clone)]
pub struct AnnounceNode {
    /// Its DHT key.
    pub public_key: PublicKey,
    /// Its address.
    pub addr: SocketAddr,
    /// The ping id it gave us (to send back when announcing).
    pub ping_id: [u8; 32],
    /// For friend searches: the friend's data key it reported.
    pub data_pk: PublicKey,
    /// 0: nothing stored; 1: (friend list) it knows the friend; 2: (our
    /// list) we are stored there.
    pub is_stored: u8,
    /// Last response.
    pub timestamp: Instant,
    /// Last request.
    pub last_pinged: Pinged,
    /// Requests since the last response.
    pub pings_since_last_response: u32,
    /// When it entered the list.
    pub added_time: Instant,
    /// The path number its last response came back on.
    pub path_used: u32,
}

impl AnnounceNode {
    /// c-toxcore's `onion_node_timed_out`.
    pub fn timed_out(&self, now: Instant) -> bool {
        self.pings_since_last_response >= NODE_MAX_PINGS
            && expired(self.last_pinged.as_time(), NODE_TIMEOUT, now)
    }
}

/// A fixed-size list of the announce nodes closest to a reference key.
#[derive(Debug)]
pub struct NodeList {
    reference: PublicKey,
    slots: Vec<Option<AnnounceNode>>,
}

/// What an announce response said about us or a friend.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    /// The responding node.
    pub node: PackedNode,
    /// 0, 1 or 2 (see [`AnnounceNode::is_stored`]).
    pub is_stored: u8,
    /// The ping id (0, 2) or data key (1).
    pub key: [u8; 32],
    /// The path the response came back on.
    pub path_used: u32,
}

impl NodeList {
    /// An empty list of `len` slots around `reference`.
    pub fn new(reference: PublicKey, len: usize) -> Self {
        Self {
            reference,
            slots: vec![None; len],
        }
    }

    fn dead(slot: &Option<AnnounceNode>, now: Instant) -> bool {
        slot.as_ref().is_none_or(|n| n.timed_out(now))
    }

    /// Dead slots first, then the farthest live node to the closest.
    fn sort(&mut self, now: Instant) {
        let reference = self.reference;
        self.slots
            .sort_by(|a, b| match (Self::dead(a, now), Self::dead(b, now)) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                (false, false) => match (a, b) {
                    (Some(a), Some(b)) => compare(&reference, &b.public_key, &a.public_key),
                    _ => std::cmp::Ordering::Equal,
                },
            });
    }

    fn contains(&self, pk: &PublicKey) -> bool {
        self.slots.iter().flatten().any(|n| n.public_key == *pk)
    }

    /// Whether slot `i` (after sorting) may be replaced by `pk`.
    fn replaceable(&self, now: Instant, i: usize, pk: &PublicKey) -> bool {
        match self.slots.get(i) {
            None => false,
            Some(slot) => {
                Self::dead(slot, now)
                    || slot
                        .as_ref()
                        .is_some_and(|n| compare(&self.reference, pk, &n.public_key).is_lt())
            }
        }
    }

    /// Records a response (c-toxcore `client_add_to_list`); `true` if the
    /// node is in the list afterwards.
    pub fn heard(&mut self, now: Instant, heard: Heard) -> bool {
        self.sort(now);
        let pk = heard.node.public_key;
        let existing = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|n| n.public_key == pk));
        let index = match existing {
            Some(i) => i,
            None if self.replaceable(now, 0, &pk) => 0,
            None => return false,
        };
        let Some(slot) = self.slots.get_mut(index) else {
            return false;
        };
        let kept = existing.and_then(|_| slot.take());
        let (last_pinged, added_time, ping_id, data_pk) = match &kept {
            Some(old) => (old.last_pinged, old.added_time, old.ping_id, old.data_pk),
            None => (Pinged::Never, now, [0; 32], PublicKey::new([0; 32])),
        };
        let (ping_id, data_pk) = if heard.is_stored == 1 {
            (ping_id, PublicKey::new(heard.key))
        } else {
            (heard.key, data_pk)
        };
        *slot = Some(AnnounceNode {
            public_key: pk,
            addr: heard.node.addr,
            ping_id,
            data_pk,
            is_stored: heard.is_stored,
            timestamp: now,
            last_pinged,
            pings_since_last_response: 0,
            added_time,
            path_used: heard.path_used,
        });
        true
    }

    /// Whether a node named in a response is worth asking: closer than one
    /// of the two worst entries (or one of them is dead) and not already
    /// listed (c-toxcore `client_ping_nodes`).
    pub fn wants(&mut self, now: Instant, pk: &PublicKey) -> bool {
        self.sort(now);
        (self.replaceable(now, 0, pk) || self.replaceable(now, 1, pk)) && !self.contains(pk)
    }

    /// Records an announce request just sent to `pk`.
    pub fn mark_pinged(&mut self, now: Instant, pk: &PublicKey) {
        if let Some(node) = self.alive_mut(now).find(|n| n.public_key == *pk) {
            node.last_pinged = Pinged::At(now);
            node.pings_since_last_response += 1;
        }
    }

    /// The live node with key `pk`.
    pub fn get(&self, now: Instant, pk: &PublicKey) -> Option<&AnnounceNode> {
        self.alive(now).find(|n| n.public_key == *pk)
    }

    /// Live nodes.
    pub fn alive(&self, now: Instant) -> impl Iterator<Item = &AnnounceNode> {
        self.slots
            .iter()
            .flatten()
            .filter(move |n| !n.timed_out(now))
    }

    /// Live nodes, mutably.
    pub fn alive_mut(&mut self, now: Instant) -> impl Iterator<Item = &mut AnnounceNode> {
        self.slots
            .iter_mut()
            .flatten()
            .filter(move |n| !n.timed_out(now))
    }

    /// The list's size.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// A ring of nodes to build paths from (c-toxcore `path_nodes`).
#[derive(Debug, Default)]
pub struct PathNodes {
    nodes: Vec<PackedNode>,
    /// Additions ever made (c-toxcore's `path_nodes_index`); modulo the
    /// capacity it is also the slot the next addition overwrites.
    added: usize,
}

impl PathNodes {
    /// Adds a UDP node unless its key is already there; overwrites the
    /// oldest when full.
    pub fn add(&mut self, node: PackedNode) {
        if node.protocol != toxide_core::TransportProtocol::Udp
            || self.nodes.iter().any(|n| n.public_key == node.public_key)
        {
            return;
        }
        if self.nodes.len() < MAX_PATH_NODES {
            self.nodes.push(node);
        } else if let Some(slot) = self.nodes.get_mut(self.added % MAX_PATH_NODES) {
            *slot = node;
        }
        self.added = self.added.saturating_add(1);
    }

    /// Nodes held.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Additions ever made.
    pub fn added(&self) -> usize {
        self.added
    }

    /// A uniformly random node.
    pub fn random<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Option<PackedNode> {
        if self.nodes.is_empty() {
            return None;
        }
        let i = (rng.next_u32() as usize) % self.nodes.len();
        self.nodes.get(i).copied()
    }

    /// Up to `count` random nodes, each at most once: `count` draws with
    /// the repeats left out (c-toxcore keeps them and asks a node twice).
    pub fn random_distinct<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        count: usize,
    ) -> Vec<PackedNode> {
        let mut picks: Vec<PackedNode> = Vec::with_capacity(count);
        for _ in 0..count {
            if let Some(node) = self.random(rng) {
                if !picks.iter().any(|p| p.public_key == node.public_key) {
                    picks.push(node);
                }
            }
        }
        picks
    }

    /// Three random nodes, repeats allowed (as c-toxcore draws them).
    pub fn random_three<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Option<[PackedNode; 3]> {
        Some([self.random(rng)?, self.random(rng)?, self.random(rng)?])
    }
}

/// Nodes recently sent an unsolicited announce request, so a node named in
/// many responses is asked once per 10 s (c-toxcore `good_to_ping`).
#[derive(Debug, Default)]
pub struct RecentPings {
    entries: Vec<(PublicKey, Instant)>,
    next: usize,
}

impl RecentPings {
    /// `true` (and remembers `pk`) unless it was asked in the last 10 s.
    pub fn good_to_ping(&mut self, now: Instant, pk: &PublicKey) -> bool {
        if self
            .entries
            .iter()
            .any(|(p, t)| p == pk && !expired(Some(*t), MIN_NODE_PING_TIME, now))
        {
            return false;
        }
        if self.entries.len() < MAX_STORED_PINGED_NODES {
            self.entries.push((*pk, now));
        } else if let Some(slot) = self.entries.get_mut(self.next % MAX_STORED_PINGED_NODES) {
            *slot = (*pk, now);
        }
        self.next = (self.next + 1) % MAX_STORED_PINGED_NODES;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn heard(first: u8, stored: u8) -> Heard {
        Heard {
            node: PackedNode::udp(
                ([127, 0, 0, 1], u16::from(first)).into(),
                PublicKey::new([first; 32]),
            ),
            is_stored: stored,
            key: [first; 32],
            path_used: 0,
        }
    }

    #[test]
    fn a_full_list_keeps_the_closest() {
        let now = Instant::now();
        let mut list = NodeList::new(PublicKey::new([0; 32]), 2);
        assert!(list.heard(now, heard(0x40, 0)));
        assert!(list.heard(now, heard(0x20, 0)));
        assert!(!list.wants(now, &PublicKey::new([0x80; 32])));
        assert!(list.wants(now, &PublicKey::new([0x10; 32])));
        assert!(!list.heard(now, heard(0x80, 0)));
        assert!(list.heard(now, heard(0x10, 2)));
        let keys: Vec<_> = list
            .alive(now)
            .map(|n| n.public_key.as_bytes()[0])
            .collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains(&0x10) && keys.contains(&0x20));
    }

    #[test]
    fn stored_data_keys_and_ping_ids_go_to_their_fields() {
        let now = Instant::now();
        let mut list = NodeList::new(PublicKey::new([0; 32]), 4);
        list.heard(now, heard(1, 0));
        let mut found = heard(1, 1);
        found.key = [9; 32];
        list.heard(now, found);
        let node = list.alive(now).next().unwrap();
        assert_eq!(node.ping_id, [1; 32]);
        assert_eq!(node.data_pk, PublicKey::new([9; 32]));
        assert_eq!(node.is_stored, 1);
    }

    #[test]
    fn unanswering_nodes_time_out() {
        let now = Instant::now();
        let mut list = NodeList::new(PublicKey::new([0; 32]), 4);
        list.heard(now, heard(1, 0));
        for node in list.alive_mut(now) {
            node.pings_since_last_response = NODE_MAX_PINGS;
            node.last_pinged = Pinged::At(now);
        }
        assert_eq!(list.alive(now + Duration::from_secs(14)).count(), 1);
        assert_eq!(list.alive(now + Duration::from_secs(15)).count(), 0);
    }

    #[test]
    fn nodes_are_asked_once_per_ten_seconds() {
        let now = Instant::now();
        let mut recent = RecentPings::default();
        let pk = PublicKey::new([1; 32]);
        assert!(recent.good_to_ping(now, &pk));
        assert!(!recent.good_to_ping(now + Duration::from_secs(9), &pk));
        assert!(recent.good_to_ping(now + Duration::from_secs(10), &pk));
    }

    #[test]
    fn path_nodes_are_a_bounded_ring_without_duplicates() {
        let mut nodes = PathNodes::default();
        for i in 0..40u8 {
            nodes.add(heard(i, 0).node);
            nodes.add(heard(i, 0).node);
        }
        assert_eq!(nodes.len(), MAX_PATH_NODES);
        assert_eq!(nodes.added(), 40);
    }
}
