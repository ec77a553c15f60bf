//! Nodes requests and responses (0x02/0x04, checklist D3–D5): how a node
//! asks for, and hands out, the nodes closest to a key.

use std::net::SocketAddr;
use std::time::Instant;

use toxide_core::{Nonce, PackedNode, PublicKey};

use super::{Dht, Event};
use crate::lan::is_lan;
use crate::packet::{
    DhtPacketError, NodesRequest, NodesRequestPayload, NodesResponse, NodesResponsePayload,
};

impl Dht {
    /// Answers with up to four good nodes closest to the searched key, and
    /// queues the requester to be pinged (c-toxcore `handle_getnodes`).
    pub(super) fn on_nodes_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &NodesRequest,
    ) -> Result<(), DhtPacketError> {
        if self.is_reflection(&p.sender_pk) || !self.has_budget(now, from) {
            return Ok(());
        }
        let Some(shared) = self.shared_incoming(now, &p.sender_pk) else {
            return Ok(());
        };
        let request = p.open(&shared)?;
        self.charge(now, from);
        self.heard_request(now, &p.sender_pk, from);
        let nodes = self.closest_nodes(
            now,
            &request.search_pk,
            toxide_core::packed_node::MAX_SENT_NODES,
            is_lan(from.ip()),
        );
        // c-toxcore drops responses without nodes, so none is sent.
        if let Ok(payload) = NodesResponsePayload::new(nodes, request.request_id) {
            let nonce = Nonce::random(&mut self.rng);
            let response = NodesResponse::new(&shared, self.keys.public, nonce, &payload);
            self.push(from, &response);
            self.stats.nodes_requests_answered += 1;
        }
        self.queue_ping(now, PackedNode::udp(from, p.sender_pk));
        Ok(())
    }

    /// A nodes request we sent was answered: its sender may enter our
    /// lists, and the nodes it names are considered (c-toxcore
    /// `handle_sendnodes_core`).
    pub(super) fn on_nodes_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &NodesResponse,
    ) -> Result<(), DhtPacketError> {
        if self.is_reflection(&p.sender_pk) {
            return Ok(());
        }
        if !self.nodes_requests.awaits(now, &p.sender_pk, &from) {
            self.stats.dropped_unsolicited += 1;
            return Ok(());
        }
        let Some(shared) = self.shared_incoming(now, &p.sender_pk) else {
            return Ok(());
        };
        let payload = p.open(&shared)?;
        if !self
            .nodes_requests
            .take(now, payload.request_id(), &p.sender_pk, &from)
        {
            self.stats.dropped_unsolicited += 1;
            return Ok(());
        }
        self.add_to_lists(now, p.sender_pk, from);
        for node in payload.into_nodes() {
            self.consider_node(now, node);
            self.note_returned_addr(now, &node, &p.sender_pk);
            self.events.push_back(Event::NodeLearned(node));
        }
        Ok(())
    }

    /// Asks `node` for the nodes closest to `search_pk` (c-toxcore
    /// `dht_getnodes`): how a friend's DHT-PK announcement, which names
    /// nodes near the friend, leads the search to them. The node is not
    /// trusted or listed until it answers.
    pub fn request_nodes(&mut self, now: Instant, node: PackedNode, search_pk: PublicKey) {
        self.send_nodes_request(now, node.addr, node.public_key, search_pk);
    }

    /// Asks the node `pk` at `addr` for the nodes closest to `search_pk`,
    /// and remembers the request id its answer must carry.
    pub(super) fn send_nodes_request(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        pk: PublicKey,
        search_pk: PublicKey,
    ) {
        if pk == self.keys.public {
            return;
        }
        let Some(shared) = self.shared(&pk) else {
            return;
        };
        let request_id = self.nodes_requests.insert(&mut self.rng, now, pk, addr);
        let nonce = Nonce::random(&mut self.rng);
        let packet = NodesRequest::new(
            &shared,
            self.keys.public,
            nonce,
            &NodesRequestPayload {
                search_pk,
                request_id,
            },
        );
        self.push(addr, &packet);
    }
}
