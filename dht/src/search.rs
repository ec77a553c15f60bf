//! Search lists: the nodes nearest a key we are looking for (c-toxcore
//! `DHT_Friend`, checklist D7).
//!
//! The key is usually a friend's DHT key, learned through the onion; two
//! random keys are searched as well so that every node keeps walking
//! parts of the network it would otherwise never see. A friend counts as
//! found only when the friend itself answers one of our requests: a third
//! party merely reporting its address is not proof.

use std::cmp::Ordering;
use std::net::SocketAddr;
use std::time::Instant;

use toxide_core::{PackedNode, PublicKey};

use crate::client::Client;
use crate::constants::SEARCH_LIST_SIZE;
use crate::distance::{compare, replace_farthest};
use crate::nat::NatState;
use crate::refresh::RefreshSchedule;

/// The nodes closest to one searched key.
#[derive(Debug, Clone)]
pub struct SearchList {
    /// The key searched for.
    pub target: PublicKey,
    /// At most [`SEARCH_LIST_SIZE`] nodes near it.
    pub clients: Vec<Client>,
    /// Nodes heard of, to ask at the next tick.
    pub to_bootstrap: Vec<PackedNode>,
    /// When this list's nodes were last asked for more nodes.
    pub schedule: RefreshSchedule,
    /// Users of this search: it ends when the last one lets go.
    pub locks: u32,
    /// The address last reported for the target, so a change is reported
    /// once.
    pub reported: Option<SocketAddr>,
    /// Hole-punching state towards the target.
    pub nat: NatState,
}

impl SearchList {
    /// A new search for `target`.
    pub fn new(target: PublicKey) -> Self {
        Self {
            target,
            clients: Vec::new(),
            to_bootstrap: Vec::new(),
            schedule: RefreshSchedule::default(),
            locks: 1,
            reported: None,
            nat: NatState::default(),
        }
    }

    fn worst_index(&self, now: Instant) -> Option<usize> {
        let target = self.target;
        self.clients
            .iter()
            .enumerate()
            .max_by(|(_, a), (_, b)| match (a.is_bad(now), b.is_bad(now)) {
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => compare(&target, &a.public_key, &b.public_key),
            })
            .map(|(i, _)| i)
    }

    /// Whether `pk` would be stored: the list has room, a bad node, or a
    /// node farther from the target than `pk` (c-toxcore `store_node_ok`).
    pub fn would_store(&self, pk: &PublicKey, now: Instant) -> bool {
        if self.clients.len() < SEARCH_LIST_SIZE {
            return true;
        }
        self.worst_index(now)
            .and_then(|i| self.clients.get(i))
            .is_some_and(|w| {
                w.is_bad(now) || compare(&self.target, pk, &w.public_key) == Ordering::Less
            })
    }

    /// Records that `pk` answered from `addr` (c-toxcore `replace_all`).
    /// Returns whether the node is in the list afterwards.
    pub fn heard_from(&mut self, pk: PublicKey, addr: SocketAddr, now: Instant) -> bool {
        if let Some(client) = self.clients.iter_mut().find(|c| c.public_key == pk) {
            client.heard_from(addr, now);
            return true;
        }
        self.clients.retain(|c| !c.has_addr(&addr));
        if !self.would_store(&pk, now) {
            return false;
        }
        if self.clients.len() < SEARCH_LIST_SIZE {
            self.clients.push(Client::new(pk, addr, now));
        } else if let Some(slot) = self.worst_index(now).and_then(|i| self.clients.get_mut(i)) {
            slot.reset(pk, addr, now);
        }
        true
    }

    /// Queues a node heard of for a nodes request, keeping the ones closest
    /// to the target.
    pub fn queue_bootstrap(&mut self, node: PackedNode, max: usize) {
        queue_closest(&mut self.to_bootstrap, node, &self.target, max);
    }

    /// The target's own verified address, if it has answered us.
    pub fn found_addr(&self, now: Instant) -> Option<SocketAddr> {
        let client = self.clients.iter().find(|c| c.public_key == self.target)?;
        client.assocs().find(|a| !a.is_bad(now)).map(|a| a.addr)
    }

    /// Addresses other nodes report for the target, one per reporting node
    /// (c-toxcore `friend_iplist`): the input to hole punching.
    pub fn reported_addrs(&self, now: Instant) -> Vec<SocketAddr> {
        self.clients
            .iter()
            .filter_map(|c| {
                c.assocs()
                    .filter(|a| !a.is_bad(now))
                    .find_map(|a| a.returned.map(|(addr, _)| addr))
            })
            .collect()
    }
}

/// Inserts `node` into `list` unless present; when full, keeps the
/// `max` closest to `target` (c-toxcore `add_to_list`).
pub fn queue_closest(list: &mut Vec<PackedNode>, node: PackedNode, target: &PublicKey, max: usize) {
    if list.iter().any(|n| n.public_key == node.public_key) {
        return;
    }
    if list.len() < max {
        list.push(node);
        return;
    }
    replace_farthest(list, node, target, |n| &n.public_key);
}

#[cfg(test)]
mod tests {
    use super::*;

    use toxide_core::testing::key_first as key;

    #[test]
    fn keeps_the_closest_nodes() {
        let now = Instant::now();
        let mut list = SearchList::new(key(0));
        for i in 0..8u8 {
            assert!(list.heard_from(
                key(0x80 + i),
                SocketAddr::from(([10, 0, 0, 1], u16::from(i) + 1)),
                now
            ));
        }
        // Closer than all: replaces the farthest (0x87).
        assert!(list.heard_from(key(1), SocketAddr::from(([10, 0, 0, 2], 1)), now));
        assert!(list.clients.iter().all(|c| c.public_key != key(0x87)));
        // Farther than all: refused.
        assert!(!list.heard_from(key(0xff), SocketAddr::from(([10, 0, 0, 3], 1)), now));
    }

    #[test]
    fn target_found_only_from_its_own_answer() {
        let now = Instant::now();
        let mut list = SearchList::new(key(5));
        list.heard_from(key(6), SocketAddr::from(([10, 0, 0, 1], 1)), now);
        assert_eq!(list.found_addr(now), None);
        let addr = SocketAddr::from(([10, 0, 0, 5], 5));
        list.heard_from(key(5), addr, now);
        assert_eq!(list.found_addr(now), Some(addr));
    }

    #[test]
    fn queue_keeps_closest() {
        let mut q = Vec::new();
        let node = |k| PackedNode::udp(SocketAddr::from(([1, 1, 1, 1], 1)), key(k));
        for k in [9, 8, 7] {
            queue_closest(&mut q, node(k), &key(0), 2);
        }
        let keys: Vec<_> = q.iter().map(|n| n.public_key).collect();
        assert!(keys.contains(&key(7)) && keys.contains(&key(8)));
    }
}
