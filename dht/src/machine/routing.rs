//! Routed DHT requests (0x20, checklist D10) and what travels in them
//! towards friends: DHT-PK announcements (D16), NAT pings (D11) and the
//! hole punching they trigger (D12).

use std::net::SocketAddr;
use std::time::Instant;

use rand::Rng;
use toxide_core::{Nonce, PublicKey};

use super::{Dht, Event, Transmit};
use crate::constants::{BAD_NODE_TIMEOUT, PUNCH_INTERVAL, PUNCH_RESET_TIME, SEARCH_LIST_SIZE};
use crate::nat;
use crate::packet::{DhtPacketError, DhtRequest, DhtRequestPayload};

impl Dht {
    /// Sends `payload` (a type-156 DHT-PK announcement) to the node with DHT
    /// key `receiver` through the nodes that know it. Returns how many
    /// copies went out.
    pub fn send_dht_pk(&mut self, now: Instant, receiver: PublicKey, data: Vec<u8>) -> usize {
        self.route_to_friend(now, receiver, &DhtRequestPayload::DhtPk(data), false)
    }

    /// A DHT request for us is opened; one for a node in our close list is
    /// forwarded unchanged; any other is dropped.
    pub(super) fn on_dht_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        raw: &[u8],
        p: &DhtRequest,
    ) -> Result<(), DhtPacketError> {
        if p.receiver_pk != self.keys.public {
            // Forward unchanged, but only to a node in our close list
            // (c-toxcore `route_packet`): we are not an open relay.
            let target = self
                .close
                .get(&p.receiver_pk)
                .and_then(|c| c.assocs().find(|a| !a.is_dead(now)).map(|a| a.addr));
            match target {
                Some(addr) if self.allowed(now, from) => {
                    self.transmits.push_back(Transmit {
                        destination: addr,
                        payload: raw.to_vec(),
                    });
                    self.stats.sent += 1;
                    self.stats.requests_routed += 1;
                }
                Some(_) => {}
                None => self.stats.dropped_unroutable += 1,
            }
            return Ok(());
        }
        if self.is_reflection(&p.sender_pk) || !self.has_budget(now, from) {
            return Ok(());
        }
        let Some(shared) = self.shared_incoming(now, &p.sender_pk) else {
            return Ok(());
        };
        let payload = p.open(&shared)?;
        self.charge(now, from);
        match payload {
            DhtRequestPayload::DhtPk(data) => self.events.push_back(Event::DhtPkRequest {
                sender: p.sender_pk,
                source: from,
                data,
            }),
            DhtRequestPayload::NatPingRequest { id } => {
                // Only friends may make us answer (and so reveal we are
                // online): checklist D11.
                match self.searches.get_mut(&p.sender_pk) {
                    Some(search) => {
                        search.nat.ping_received = Some(now);
                        self.route_to_friend(
                            now,
                            p.sender_pk,
                            &DhtRequestPayload::NatPingResponse { id },
                            true,
                        );
                    }
                    None => self.stats.dropped_nat_ping_stranger += 1,
                }
            }
            DhtRequestPayload::NatPingResponse { id } => {
                let rng = &mut self.rng;
                match self.searches.get_mut(&p.sender_pk) {
                    Some(search) if search.nat.ping_id == id && id != 0 => {
                        search.nat.ping_id = rng.next_u64();
                        search.nat.punch_pending = true;
                    }
                    Some(_) => self.stats.dropped_unsolicited += 1,
                    None => self.stats.dropped_nat_ping_stranger += 1,
                }
            }
        }
        Ok(())
    }

    /// Sends a DHT request to `friend` via the nodes in its search list that
    /// report knowing it: all of them, or one at random if `one`
    /// (c-toxcore `route_to_friend` / `routeone_to_friend`).
    pub(super) fn route_to_friend(
        &mut self,
        now: Instant,
        friend: PublicKey,
        payload: &DhtRequestPayload,
        one: bool,
    ) -> usize {
        let Some(search) = self.searches.get(&friend) else {
            return 0;
        };
        let mut relays: Vec<SocketAddr> = search
            .clients
            .iter()
            .filter_map(|c| {
                c.assocs()
                    .find(|a| {
                        !a.is_bad(now)
                            && a.returned.is_some_and(|(_, t)| {
                                now.saturating_duration_since(t) < BAD_NODE_TIMEOUT
                            })
                    })
                    .map(|a| a.addr)
            })
            .collect();
        if one && relays.len() > 1 {
            let pick = (self.rng.next_u32() as usize) % relays.len();
            relays = relays.get(pick).copied().into_iter().collect();
        }
        let Some(shared) = self.shared(&friend) else {
            return 0;
        };
        let mut sent = 0;
        for addr in relays {
            let nonce = Nonce::random(&mut self.rng);
            if let Ok(packet) = DhtRequest::new(&shared, friend, self.keys.public, nonce, payload) {
                self.push(addr, &packet);
                sent += 1;
            }
        }
        sent
    }

    /// Per tick: NAT-pings friends that half their list reports but that
    /// have not answered us, and punches holes towards those that pinged
    /// back (c-toxcore `do_NAT`).
    pub(super) fn do_nat(&mut self, now: Instant) {
        if !self.config.hole_punching {
            return;
        }
        let mut nat_pings = Vec::new();
        let mut punches = Vec::new();
        for search in self.searches.values_mut() {
            if search.found_addr(now).is_some() {
                continue;
            }
            let reports = search.reported_addrs(now);
            if reports.len() < SEARCH_LIST_SIZE / 2 {
                continue;
            }
            let nat = &mut search.nat;
            if nat
                .ping_sent
                .is_none_or(|t| now.saturating_duration_since(t) > PUNCH_INTERVAL)
            {
                if nat.ping_id == 0 {
                    nat.ping_id = self.rng.next_u64() | 1;
                }
                nat.ping_sent = Some(now);
                nat_pings.push((search.target, nat.ping_id));
            }
            let recent_peer_ping = nat
                .ping_received
                .is_some_and(|t| now.saturating_duration_since(t) <= PUNCH_INTERVAL * 2);
            let punch_due = nat
                .punched
                .is_none_or(|t| now.saturating_duration_since(t) > PUNCH_INTERVAL);
            if nat.punch_pending && punch_due && recent_peer_ping {
                let Some(ip) = nat::common_ip(&reports, SEARCH_LIST_SIZE / 2) else {
                    continue;
                };
                if nat
                    .punched
                    .is_none_or(|t| now.saturating_duration_since(t) > PUNCH_RESET_TIME)
                {
                    nat.reset_guessing();
                }
                let ports = nat::punch_ports(nat, &nat::ports_for(&reports, ip));
                nat.punched = Some(now);
                nat.punch_pending = false;
                for port in ports {
                    punches.push((SocketAddr::new(ip, port), search.target));
                }
            }
        }
        for (target, id) in nat_pings {
            self.route_to_friend(
                now,
                target,
                &DhtRequestPayload::NatPingRequest { id },
                false,
            );
        }
        for (addr, pk) in punches {
            self.send_ping(now, addr, pk);
        }
    }
}
