//! What enters the close list and the search lists (checklist D6, D7).
//!
//! A node is stored only after it answered a request we sent
//! ([`Dht::add_to_lists`]); a node we merely hear of is asked first
//! ([`Dht::consider_node`]).

use std::net::SocketAddr;
use std::time::Instant;

use toxide_core::{PackedNode, PublicKey};

use super::{Dht, Event};
use crate::constants::{CLOSE_TO_BOOTSTRAP, SEARCH_TO_BOOTSTRAP};
use crate::search::queue_closest;

impl Dht {
    /// A node answered one of our requests from `addr`: it may enter our
    /// lists (c-toxcore `addto_lists`).
    pub(super) fn add_to_lists(&mut self, now: Instant, pk: PublicKey, addr: SocketAddr) {
        let new = self.close.get(&pk).is_none();
        if self.close.heard_from(pk, addr, now) && new {
            self.close_schedule.learned();
        }
        for search in self.searches.values_mut() {
            let new = search.clients.iter().all(|c| c.public_key != pk);
            if search.heard_from(pk, addr, now) && new {
                search.schedule.learned();
            }
            if search.target == pk && search.reported != Some(addr) {
                search.reported = Some(addr);
                self.events.push_back(Event::Found {
                    public_key: pk,
                    addr,
                });
            }
        }
    }

    /// A node in our lists sent us a request from an address we know it
    /// at: that counts as hearing from it there, so our own liveness
    /// check of it waits (see [`crate::refresh`]).
    ///
    /// The request is authenticated (its box opened with the sender's
    /// key) but not fresh: a captured request replayed from the node's own
    /// address would keep a dead node looking alive for as long as the
    /// replays go on. Such a node is simply one that fails as an onion
    /// path or a search hop; a node that can replay from that address
    /// could as well drop our traffic to it.
    pub(super) fn heard_request(&mut self, now: Instant, pk: &PublicKey, addr: SocketAddr) {
        if let Some(client) = self.close.get_mut(pk) {
            client.heard_request(addr, now);
        }
        for search in self.searches.values_mut() {
            if let Some(client) = search.clients.iter_mut().find(|c| c.public_key == *pk) {
                client.heard_request(addr, now);
            }
        }
    }

    /// A node we heard of from a third party: ask it for nodes if it would
    /// improve one of our lists (c-toxcore `ping_node_from_getnodes_ok`).
    pub(super) fn consider_node(&mut self, now: Instant, node: PackedNode) {
        if node.public_key == self.keys.public {
            return;
        }
        let in_close = self
            .close
            .get(&node.public_key)
            .and_then(|c| c.assoc_for(&node.addr))
            .is_some_and(|a| !a.is_bad(now));
        if !in_close && self.close.can_add(&node.public_key, now) {
            let own = self.keys.public;
            queue_closest(&mut self.close_to_bootstrap, node, &own, CLOSE_TO_BOOTSTRAP);
        }
        for search in self.searches.values_mut() {
            let known = search.clients.iter().any(|c| {
                c.public_key == node.public_key
                    && c.assoc_for(&node.addr).is_some_and(|a| !a.is_bad(now))
            });
            if !known && search.would_store(&node.public_key, now) {
                search.queue_bootstrap(node, SEARCH_TO_BOOTSTRAP);
            }
        }
    }

    /// `reporter` told us where `node` is. If `node` is a key we search
    /// for, that report feeds hole punching (c-toxcore `returnedip_ports`).
    pub(super) fn note_returned_addr(
        &mut self,
        now: Instant,
        node: &PackedNode,
        reporter: &PublicKey,
    ) {
        let list = if node.public_key == self.keys.public {
            self.close.get_mut(reporter)
        } else {
            self.searches
                .get_mut(&node.public_key)
                .and_then(|s| s.clients.iter_mut().find(|c| c.public_key == *reporter))
        };
        if let Some(client) = list {
            // The reporter is known at the address we asked it on; record
            // the report on every live association.
            for assoc in client.assocs_mut() {
                assoc.returned = Some((node.addr, now));
            }
        }
    }
}
