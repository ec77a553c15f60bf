//! Ping requests and responses (0x00/0x01, checklist D2) and the queue of
//! nodes waiting to be pinged (c-toxcore `ping.c`, D8).
//!
//! A ping is how a node we only heard of gets a chance to enter the close
//! list: it must answer a request we sent, so an address nobody controls
//! never gets in.

use std::net::SocketAddr;
use std::time::Instant;

use toxide_core::{Nonce, PackedNode, PublicKey};

use super::Dht;
use crate::constants::{MAX_TO_PING, TIME_TO_PING};
use crate::packet::{
    DhtPacketError, PingRequest, PingRequestPayload, PingResponse, PingResponsePayload,
};
use crate::search::queue_closest;

impl Dht {
    /// Answers a ping, and queues its sender to be pinged back.
    pub(super) fn on_ping_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &PingRequest,
    ) -> Result<(), DhtPacketError> {
        if self.is_reflection(&p.sender_pk) || !self.has_budget(now, from) {
            return Ok(());
        }
        let Some(shared) = self.shared_incoming(now, &p.sender_pk) else {
            return Ok(());
        };
        let payload = p.open(&shared)?;
        self.charge(now, from);
        self.heard_request(now, &p.sender_pk, from);
        let nonce = Nonce::random(&mut self.rng);
        let response = PingResponse::new(
            &shared,
            self.keys.public,
            nonce,
            &PingResponsePayload {
                ping_id: payload.ping_id,
            },
        );
        self.push(from, &response);
        self.stats.pings_answered += 1;
        self.queue_ping(now, PackedNode::udp(from, p.sender_pk));
        Ok(())
    }

    /// A ping we sent was answered: its sender may enter our lists.
    pub(super) fn on_ping_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &PingResponse,
    ) -> Result<(), DhtPacketError> {
        if self.is_reflection(&p.sender_pk) {
            return Ok(());
        }
        if !self.pings.awaits(now, &p.sender_pk, &from) {
            self.stats.dropped_unsolicited += 1;
            return Ok(());
        }
        let Some(shared) = self.shared_incoming(now, &p.sender_pk) else {
            return Ok(());
        };
        let payload = p.open(&shared)?;
        if !self.pings.take(now, payload.ping_id, &p.sender_pk, &from) {
            self.stats.dropped_unsolicited += 1;
            return Ok(());
        }
        self.add_to_lists(now, p.sender_pk, from);
        Ok(())
    }

    /// Queues an unknown node to be pinged (c-toxcore `ping_add`). A node
    /// we are searching for and have not found is pinged at once.
    pub(super) fn queue_ping(&mut self, now: Instant, node: PackedNode) {
        if node.public_key == self.keys.public || !self.close.can_add(&node.public_key, now) {
            return;
        }
        let known = self
            .close
            .get(&node.public_key)
            .and_then(|c| c.assoc_for(&node.addr))
            .is_some_and(|a| a.addr == node.addr && !a.is_bad(now));
        if known {
            return;
        }
        if self
            .searches
            .get(&node.public_key)
            .is_some_and(|s| s.found_addr(now).is_none())
        {
            self.send_ping(now, node.addr, node.public_key);
            return;
        }
        let own = self.keys.public;
        queue_closest(&mut self.to_ping, node, &own, MAX_TO_PING);
    }

    /// Pings the queued nodes that would still get a slot, at most once per
    /// [`TIME_TO_PING`] (c-toxcore `ping_iterate`).
    pub(super) fn do_to_ping(&mut self, now: Instant) {
        if self.to_ping.is_empty()
            || self
                .last_to_ping
                .is_some_and(|t| now.saturating_duration_since(t) < TIME_TO_PING)
        {
            return;
        }
        for node in std::mem::take(&mut self.to_ping) {
            if self.close.can_add(&node.public_key, now) {
                self.send_ping(now, node.addr, node.public_key);
            }
        }
        self.last_to_ping = Some(now);
    }

    /// Sends a ping request and remembers its id.
    pub(super) fn send_ping(&mut self, now: Instant, addr: SocketAddr, pk: PublicKey) {
        if pk == self.keys.public {
            return;
        }
        let Some(shared) = self.shared(&pk) else {
            return;
        };
        let ping_id = self.pings.insert(&mut self.rng, now, pk, addr);
        let nonce = Nonce::random(&mut self.rng);
        let packet = PingRequest::new(
            &shared,
            self.keys.public,
            nonce,
            &PingRequestPayload { ping_id },
        );
        self.push(addr, &packet);
    }
}
