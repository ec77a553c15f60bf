//! The DHT state machine.
//!
//! Shaped like quinn-proto's `Connection`: the caller feeds it received
//! datagrams ([`Dht::handle_datagram`]) and the passage of time
//! ([`Dht::handle_timeout`]), and drains what it wants sent
//! ([`Dht::poll_transmit`]) and what it learned ([`Dht::poll_event`]). It owns
//! no socket, no clock and no task, and its randomness comes from a seed, so
//! a simulated network of thousands of nodes replays exactly.
//!
//! The behaviour follows c-toxcore 0.2.18 (`DHT.c`, `ping.c`): nodes enter
//! our lists only by answering a request we sent; nodes we merely hear of
//! are queued and asked first; each list is refreshed by nodes requests on
//! c-toxcore's timers.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide_core::{Encode, KeyPair, Nonce, PackedNode, PublicKey};

use crate::close_list::CloseList;
use crate::constants::{
    BAD_NODE_TIMEOUT, CLOSE_TO_BOOTSTRAP, FAKE_FRIEND_NUMBER, MAX_TO_PING, PUNCH_INTERVAL,
    PUNCH_RESET_TIME, SEARCH_LIST_SIZE, SEARCH_TO_BOOTSTRAP, SHARED_KEY_CACHE_SIZE, TICK,
    TIME_TO_PING,
};
use crate::distance::compare;
use crate::lan::is_lan;
use crate::nat;
use crate::packet::{
    BootstrapInfoResponse, DhtPacketError, DhtRequest, DhtRequestPayload, NodesRequest,
    NodesRequestPayload, NodesResponse, NodesResponsePayload, Packet, PingRequest,
    PingRequestPayload, PingResponse, PingResponsePayload,
};
use crate::pending::PendingRequests;
use crate::rate_limit::{RateLimit, RateLimiter};
use crate::refresh::{RefreshSchedule, refresh};
use crate::search::{SearchList, queue_closest};
use crate::shared_keys::SharedKeyCache;
use crate::stats::Stats;

/// How a DHT instance behaves; the defaults are a client's.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Accept LAN discovery packets (from LAN addresses only). Sending them
    /// is the driver's business; both are off unless asked for.
    pub lan_discovery: bool,
    /// Answer bootstrap-info requests with this version and message of the
    /// day; only bootstrap nodes do.
    pub bootstrap_info: Option<(u32, Vec<u8>)>,
    /// Budget per source for requests we answer; `None` answers everything.
    pub rate_limit: Option<RateLimit>,
    /// Punch holes towards friends behind NATs.
    pub hole_punching: bool,
}

/// A datagram the DHT wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The whole datagram.
    pub payload: Vec<u8>,
}

/// Something the DHT learned that layers above care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A searched key answered us from this address (new or changed).
    Found {
        /// The searched DHT key.
        public_key: PublicKey,
        /// Where it answered from.
        addr: SocketAddr,
    },
    /// A DHT request of type 156 (a DHT-PK announcement) addressed to us,
    /// for the onion layer to open.
    DhtPkRequest {
        /// Its sender's DHT key.
        sender: PublicKey,
        /// Where it arrived from.
        source: SocketAddr,
        /// The announcement: `[real pk][nonce][box]`.
        data: Vec<u8>,
    },
    /// A node another node told us about (the onion layer builds paths from
    /// these, as c-toxcore's `get_nodes_response` callback feeds it).
    NodeLearned(PackedNode),
}

/// The DHT of one node.
#[derive(Debug)]
pub struct Dht {
    config: Config,
    keys: KeyPair,
    rng: ChaCha20Rng,
    close: CloseList,
    close_to_bootstrap: Vec<PackedNode>,
    close_schedule: RefreshSchedule,
    searches: BTreeMap<PublicKey, SearchList>,
    bootstrap_nodes: Vec<PackedNode>,
    last_bootstrap: Option<Instant>,
    to_ping: Vec<PackedNode>,
    last_to_ping: Option<Instant>,
    pings: PendingRequests,
    nodes_requests: PendingRequests,
    shared_keys: SharedKeyCache,
    rate_limiter: Option<RateLimiter>,
    next_tick: Instant,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Dht {
    /// A DHT with a fresh DHT key pair, all randomness drawn from `seed`.
    pub fn new(config: Config, now: Instant, seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let keys = KeyPair::generate(&mut rng);
        Self::with_rng_and_keys(config, now, rng, keys)
    }

    /// A DHT with a given key pair, other randomness drawn from `seed`.
    ///
    /// Clients take a fresh DHT key each start ([`Dht::new`]); a bootstrap
    /// node keeps one across restarts, because the key is what node lists
    /// publish next to its address.
    pub fn with_keys(config: Config, now: Instant, seed: [u8; 32], keys: KeyPair) -> Self {
        Self::with_rng_and_keys(config, now, ChaCha20Rng::from_seed(seed), keys)
    }

    /// Shared by both constructors; `new` draws its keys from the seeded
    /// stream first, so a seed replays exactly as before `with_keys` existed.
    fn with_rng_and_keys(config: Config, now: Instant, rng: ChaCha20Rng, keys: KeyPair) -> Self {
        let rate_limiter = config.rate_limit.map(RateLimiter::new);
        let mut dht = Self {
            config,
            close: CloseList::new(keys.public),
            keys,
            rng,
            close_to_bootstrap: Vec::new(),
            close_schedule: RefreshSchedule::default(),
            searches: BTreeMap::new(),
            bootstrap_nodes: Vec::new(),
            last_bootstrap: None,
            to_ping: Vec::new(),
            last_to_ping: None,
            pings: PendingRequests::default(),
            nodes_requests: PendingRequests::default(),
            shared_keys: SharedKeyCache::new(SHARED_KEY_CACHE_SIZE),
            rate_limiter,
            next_tick: now,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        };
        // Searching for random keys keeps far parts of the network in
        // view, which is what lets this node answer for them.
        for _ in 0..FAKE_FRIEND_NUMBER {
            let fake = KeyPair::generate(&mut dht.rng).public;
            dht.searches.insert(fake, SearchList::new(fake));
        }
        dht
    }

    /// Our DHT public key.
    pub fn public_key(&self) -> PublicKey {
        self.keys.public
    }

    /// What has been counted so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The close list (read-only; for saving, tests and status output).
    pub fn close_list(&self) -> &CloseList {
        &self.close
    }

    /// Whether any node in the close list is good: we are part of the DHT.
    pub fn is_connected(&self, now: Instant) -> bool {
        self.close.iter().any(|c| !c.is_bad(now))
    }

    /// Starts joining the network through `node`: asks it for the nodes
    /// closest to us now, and again while we have no good node.
    pub fn bootstrap(&mut self, now: Instant, node: PackedNode) {
        if node.public_key == self.keys.public {
            return;
        }
        if !self.bootstrap_nodes.contains(&node) {
            self.bootstrap_nodes.push(node);
        }
        let own = self.keys.public;
        self.send_nodes_request(now, node.addr, node.public_key, own);
    }

    /// Starts (or joins) a search for `public_key`, usually a friend's DHT
    /// key. Each call must be matched by one [`Dht::stop_search`].
    pub fn search(&mut self, public_key: PublicKey) {
        self.searches
            .entry(public_key)
            .and_modify(|s| s.locks += 1)
            .or_insert_with(|| SearchList::new(public_key));
    }

    /// Ends one user's interest in a search.
    pub fn stop_search(&mut self, public_key: &PublicKey) {
        if let Some(search) = self.searches.get_mut(public_key) {
            search.locks = search.locks.saturating_sub(1);
            if search.locks == 0 {
                self.searches.remove(public_key);
            }
        }
    }

    /// The verified address of a searched key, if it has answered us.
    pub fn found_addr(&self, now: Instant, public_key: &PublicKey) -> Option<SocketAddr> {
        self.searches.get(public_key)?.found_addr(now)
    }

    /// Up to `count` good nodes closest to `target` from all our lists,
    /// closest first. LAN addresses are left out unless `include_lan`.
    pub fn closest_nodes(
        &self,
        now: Instant,
        target: &PublicKey,
        count: usize,
        include_lan: bool,
    ) -> Vec<PackedNode> {
        let mut out: Vec<PackedNode> = Vec::new();
        let candidates = self
            .close
            .iter()
            .chain(self.searches.values().flat_map(|s| s.clients.iter()));
        for client in candidates {
            let Some(node) = client.best_good(now) else {
                continue;
            };
            if !include_lan && is_lan(node.addr.ip()) {
                continue;
            }
            queue_closest(&mut out, node, target, count);
        }
        out.sort_by(|a, b| compare(target, &a.public_key, &b.public_key));
        out
    }

    /// Sends `payload` (a type-156 DHT-PK announcement) to the node with DHT
    /// key `receiver` through the nodes that know it. Returns how many
    /// copies went out.
    pub fn send_dht_pk(&mut self, now: Instant, receiver: PublicKey, data: Vec<u8>) -> usize {
        self.route_to_friend(now, receiver, &DhtRequestPayload::DhtPk(data), false)
    }

    // ----- input -----------------------------------------------------------

    /// Handles one datagram whose first byte is a DHT packet id.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.received += 1;
        let packet = match Packet::decode(bytes) {
            Ok(packet) => packet,
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        let result = match packet {
            Packet::PingRequest(p) => self.on_ping_request(now, from, &p),
            Packet::PingResponse(p) => self.on_ping_response(now, from, &p),
            Packet::NodesRequest(p) => self.on_nodes_request(now, from, &p),
            Packet::NodesResponse(p) => self.on_nodes_response(now, from, &p),
            Packet::DhtRequest(p) => self.on_dht_request(now, from, bytes, &p),
            Packet::LanDiscovery(p) => {
                if self.config.lan_discovery && is_lan(from.ip()) {
                    self.send_nodes_request(now, from, p.public_key, self.keys.public);
                } else {
                    self.stats.dropped_lan_discovery += 1;
                }
                Ok(())
            }
            Packet::BootstrapInfoRequest(_) => self.on_bootstrap_info_request(now, from),
            Packet::BootstrapInfoResponse(_) => {
                self.stats.dropped_unserved += 1;
                Ok(())
            }
        };
        if let Err(err) = result {
            match err {
                DhtPacketError::Crypto(_) => self.stats.dropped_undecryptable += 1,
                _ => self.stats.dropped_malformed += 1,
            }
        }
    }

    fn allowed(&mut self, now: Instant, from: SocketAddr) -> bool {
        let ok = self
            .rate_limiter
            .as_mut()
            .is_none_or(|rl| rl.allow(now, from));
        if !ok {
            self.stats.dropped_rate_limited += 1;
        }
        ok
    }

    fn is_reflection(&mut self, pk: &PublicKey) -> bool {
        let own = *pk == self.keys.public;
        if own {
            self.stats.dropped_from_self += 1;
        }
        own
    }

    fn shared(&mut self, now: Instant, pk: &PublicKey) -> toxide_core::SharedKey {
        self.shared_keys.get(now, pk, &self.keys.secret)
    }

    fn on_ping_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &PingRequest,
    ) -> Result<(), DhtPacketError> {
        if self.is_reflection(&p.sender_pk) || !self.allowed(now, from) {
            return Ok(());
        }
        let shared = self.shared(now, &p.sender_pk);
        let payload = p.open(&shared)?;
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

    fn on_ping_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &PingResponse,
    ) -> Result<(), DhtPacketError> {
        if self.is_reflection(&p.sender_pk) {
            return Ok(());
        }
        let shared = self.shared(now, &p.sender_pk);
        let payload = p.open(&shared)?;
        if !self.pings.take(now, payload.ping_id, &p.sender_pk, &from) {
            self.stats.dropped_unsolicited += 1;
            return Ok(());
        }
        self.add_to_lists(now, p.sender_pk, from);
        Ok(())
    }

    fn on_nodes_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &NodesRequest,
    ) -> Result<(), DhtPacketError> {
        if self.is_reflection(&p.sender_pk) || !self.allowed(now, from) {
            return Ok(());
        }
        let shared = self.shared(now, &p.sender_pk);
        let request = p.open(&shared)?;
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

    fn on_nodes_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &NodesResponse,
    ) -> Result<(), DhtPacketError> {
        if self.is_reflection(&p.sender_pk) {
            return Ok(());
        }
        let shared = self.shared(now, &p.sender_pk);
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

    fn on_dht_request(
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
        if self.is_reflection(&p.sender_pk) {
            return Ok(());
        }
        let shared = self.shared(now, &p.sender_pk);
        match p.open(&shared)? {
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

    fn on_bootstrap_info_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
    ) -> Result<(), DhtPacketError> {
        let Some((version, motd)) = self.config.bootstrap_info.clone() else {
            self.stats.dropped_unserved += 1;
            return Ok(());
        };
        if !self.allowed(now, from) {
            return Ok(());
        }
        let response = BootstrapInfoResponse::new(version, motd)?;
        self.push(from, &response);
        Ok(())
    }

    // ----- list maintenance ----------------------------------------------

    /// A node answered one of our requests from `addr`: it may enter our
    /// lists (c-toxcore `addto_lists`).
    fn add_to_lists(&mut self, now: Instant, pk: PublicKey, addr: SocketAddr) {
        self.close.heard_from(pk, addr, now);
        for search in self.searches.values_mut() {
            search.heard_from(pk, addr, now);
            if search.target == pk && search.reported != Some(addr) {
                search.reported = Some(addr);
                self.events.push_back(Event::Found {
                    public_key: pk,
                    addr,
                });
            }
        }
    }

    /// A node we heard of from a third party: ask it for nodes if it would
    /// improve one of our lists (c-toxcore `ping_node_from_getnodes_ok`).
    fn consider_node(&mut self, now: Instant, node: PackedNode) {
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
    fn note_returned_addr(&mut self, now: Instant, node: &PackedNode, reporter: &PublicKey) {
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

    /// Queues an unknown node to be pinged (c-toxcore `ping_add`). A node
    /// we are searching for and have not found is pinged at once.
    fn queue_ping(&mut self, now: Instant, node: PackedNode) {
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

    // ----- timers ----------------------------------------------------------

    /// When [`Dht::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_tick)
    }

    /// Runs the periodic work that is due: liveness checks, nodes requests,
    /// queued pings, hole punching, re-bootstrapping.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_tick {
            return;
        }
        self.next_tick = now + TICK;
        self.pings.expire(now);
        self.nodes_requests.expire(now);
        self.do_close(now);
        self.do_searches(now);
        self.do_nat(now);
        self.do_to_ping(now);
        self.do_rebootstrap(now);
    }

    fn do_close(&mut self, now: Instant) {
        let own = self.keys.public;
        for node in std::mem::take(&mut self.close_to_bootstrap) {
            self.send_nodes_request(now, node.addr, node.public_key, own);
        }
        let round = refresh(
            self.close.iter_mut(),
            &mut self.close_schedule,
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
            let revive = now.checked_sub(BAD_NODE_TIMEOUT);
            for client in self.close.iter_mut() {
                for assoc in client.assocs_mut() {
                    if assoc.last_seen.is_some() {
                        assoc.last_seen = revive;
                    }
                }
            }
        }
    }

    fn do_searches(&mut self, now: Instant) {
        let mut requests = Vec::new();
        for search in self.searches.values_mut() {
            let target = search.target;
            for node in std::mem::take(&mut search.to_bootstrap) {
                requests.push((node.addr, node.public_key, target));
            }
            let round = refresh(
                search.clients.iter_mut(),
                &mut search.schedule,
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

    fn do_nat(&mut self, now: Instant) {
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

    fn do_to_ping(&mut self, now: Instant) {
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

    // ----- output ------------------------------------------------------------

    fn push(&mut self, destination: SocketAddr, packet: &impl Encode) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            destination,
            payload: packet.to_bytes(),
        });
    }

    fn send_ping(&mut self, now: Instant, addr: SocketAddr, pk: PublicKey) {
        if pk == self.keys.public {
            return;
        }
        let ping_id = self.pings.insert(&mut self.rng, now, pk, addr);
        let shared = self.shared(now, &pk);
        let nonce = Nonce::random(&mut self.rng);
        let packet = PingRequest::new(
            &shared,
            self.keys.public,
            nonce,
            &PingRequestPayload { ping_id },
        );
        self.push(addr, &packet);
    }

    fn send_nodes_request(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        pk: PublicKey,
        search_pk: PublicKey,
    ) {
        if pk == self.keys.public {
            return;
        }
        let request_id = self.nodes_requests.insert(&mut self.rng, now, pk, addr);
        let shared = self.shared(now, &pk);
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

    /// Sends a DHT request to `friend` via the nodes in its search list that
    /// report knowing it: all of them, or one at random if `one`
    /// (c-toxcore `route_to_friend` / `routeone_to_friend`).
    fn route_to_friend(
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
        let shared = self.shared(now, &friend);
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

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
