//! The DHT's once-a-tick work (c-toxcore `do_dht`, checklist D8, D9):
//! expiring requests, asking saved nodes, refreshing the close and search lists, pinging
//! queued nodes, hole punching, re-bootstrapping and (c-toxcore's
//! `do_friend_connections`, D13) LAN discovery.

use std::time::{Duration, Instant};

use toxide_core::PublicKey;

use super::Dht;
use crate::constants::{NEAR_FRESH, SEARCH_LIST_SIZE, TICK};
use crate::refresh::{Policy, refresh};

impl Dht {
    /// When [`Dht::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_tick)
    }

    /// Runs the periodic work that is due: liveness checks, nodes requests,
    /// queued pings, hole punching, re-bootstrapping, LAN discovery.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_tick {
            return;
        }
        self.next_tick = now + TICK;
        self.pings.expire(now);
        self.nodes_requests.expire(now);
        self.do_loaded(now);
        self.do_close(now);
        self.do_searches(now);
        self.do_nat(now);
        self.do_to_ping(now);
        self.do_rebootstrap(now);
        self.do_lan_discovery(now);
    }

    /// Asks the nodes heard of for the close list, and refreshes the close
    /// list (c-toxcore `do_Close`).
    fn do_close(&mut self, now: Instant) {
        let own = self.keys.public;
        for node in std::mem::take(&mut self.close_to_bootstrap) {
            self.send_nodes_request(now, node.addr, node.public_key, own);
        }
        let near = self.close.nearest(NEAR_FRESH, now);
        let policy = Policy {
            keep_fresh: &near,
            eager: false,
        };
        let round = refresh(
            self.close.iter_mut(),
            &mut self.close_schedule,
            policy,
            now,
            &mut self.rng,
        );
        for (addr, pk) in round.requests {
            self.send_nodes_request(now, addr, pk, own);
        }
        if round.alive == 0 {
            // Everything timed out: we are cut off, or were. Mark the known
            // nodes bad-but-alive so they are tried again instead of
            // forgotten (c-toxcore `do_Close`).
            for client in self.close.iter_mut() {
                for assoc in client.assocs_mut() {
                    assoc.revive(now);
                }
            }
        }
    }

    /// Refreshes every search list, seeding new ones from the close list
    /// (c-toxcore `do_dht_friends`).
    fn do_searches(&mut self, now: Instant) {
        let mut requests = Vec::new();
        for search in self.searches.values_mut() {
            let target = search.target;
            for node in std::mem::take(&mut search.to_bootstrap) {
                requests.push((node.addr, node.public_key, target));
            }
            // A friend's list keeps c-toxcore's pace until the friend
            // answers us: its nodes are how we find the friend, and route
            // our DHT-PK announcements and NAT pings to it. Once found,
            // the friend itself stays on the short tier (its going quiet
            // must show within c-toxcore's 122 s, which makes the list
            // eager again), the nodes around it may slow down.
            let eager = !self.fake_searches.contains(&target) && search.found_addr(now).is_none();
            let policy = Policy {
                keep_fresh: std::slice::from_ref(&target),
                eager,
            };
            let round = refresh(
                search.clients.iter_mut(),
                &mut search.schedule,
                policy,
                now,
                &mut self.rng,
            );
            requests.extend(
                round
                    .requests
                    .into_iter()
                    .map(|(addr, pk)| (addr, pk, target)),
            );
        }
        // A new search has no nodes of its own yet: seed it from the close
        // list's nodes nearest the target.
        let empty: Vec<PublicKey> = self
            .searches
            .values()
            .filter(|s| s.clients.is_empty())
            .map(|s| s.target)
            .collect();
        for target in empty {
            for node in self.closest_nodes(now, &target, SEARCH_LIST_SIZE / 2, true) {
                requests.push((node.addr, node.public_key, target));
            }
        }
        for (addr, pk, target) in requests {
            self.send_nodes_request(now, addr, pk, target);
        }
    }

    /// While no node is good, asks the bootstrap nodes again every few
    /// seconds.
    fn do_rebootstrap(&mut self, now: Instant) {
        const RETRY: Duration = Duration::from_secs(5);
        if self.is_connected(now)
            || self.bootstrap_nodes.is_empty()
            || self
                .last_bootstrap
                .is_some_and(|t| now.saturating_duration_since(t) < RETRY)
        {
            return;
        }
        self.last_bootstrap = Some(now);
        let own = self.keys.public;
        for node in self.bootstrap_nodes.clone() {
            self.send_nodes_request(now, node.addr, node.public_key, own);
        }
    }
}
