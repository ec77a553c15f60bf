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
//!
//! One [`Dht`] type, its work split by protocol concept:
//!
//! | module      | concept (checklist L2)                                        |
//! |-------------|---------------------------------------------------------------|
//! | `ping`      | ping request/response (D2) and the queue of nodes to ping (D8) |
//! | `nodes`     | nodes request/response (D3–D5)                                |
//! | `lists`     | what enters the close and search lists (D6, D7)               |
//! | `routing`   | routed DHT requests (D10), NAT pings and hole punching (D11, D12) |
//! | `info`      | LAN discovery (D13) and bootstrap info (D14)                  |
//! | `timers`    | the once-a-tick work: list refresh, re-bootstrapping (D8, D9) |
//! | `saved`     | the node list kept across restarts (D9)                       |

mod info;
mod lists;
mod nodes;
mod ping;
mod routing;
mod saved;
mod timers;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{Encode, KeyPair, PackedNode, PublicKey};

use crate::close_list::CloseList;
use crate::constants::{FAKE_FRIEND_NUMBER, SHARED_KEY_CACHE_SIZE};
use crate::distance::compare;
use crate::lan::{LanSchedule, is_lan};
use crate::packet::{DhtPacketError, EMPTY_NODES_RESPONSE_SIZE, NodesResponse, Packet};
use crate::pending::PendingRequests;
use crate::rate_limit::{RateLimit, RateLimiter};
use crate::refresh::RefreshSchedule;
use crate::search::{SearchList, queue_closest};
use crate::shared_keys::{IncomingKeyError, SharedKeyCache};
use crate::stats::Stats;

/// How a DHT instance behaves; the defaults are a client's.
#[derive(Debug, Clone)]
pub struct Config {
    /// LAN discovery (checklist D13): accept its packets (from LAN
    /// addresses only) and announce ourselves to the LAN every 10 s (see
    /// [`crate::lan`]). Off unless asked for.
    pub lan_discovery: bool,
    /// Answer bootstrap-info requests with this version and message of the
    /// day; only bootstrap nodes do.
    pub bootstrap_info: Option<(u32, Vec<u8>)>,
    /// Budget per source for requests we answer; `None` answers everything.
    pub rate_limit: Option<RateLimit>,
    /// Punch holes towards friends behind NATs.
    pub hole_punching: bool,
    /// Shared keys cached at most (see [`crate::shared_keys`]: a key
    /// stays cached while fewer than half this many other new keys came
    /// in since its last use). A client keeps c-toxcore's 1,024; a public
    /// node, which hears from thousands of clients in turn, needs more, or
    /// every request costs it a scalar multiplication.
    pub shared_key_cache: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            lan_discovery: false,
            bootstrap_info: None,
            rate_limit: None,
            hole_punching: false,
            shared_key_cache: SHARED_KEY_CACHE_SIZE,
        }
    }
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
    /// The random keys searched for network health (their lists are saved
    /// with the close list, as c-toxcore saves its fake friends').
    fake_searches: Vec<PublicKey>,
    /// Nodes from a save file, asked in turns until we are connected
    /// (c-toxcore `loaded_nodes_list`).
    loaded: Vec<PackedNode>,
    loaded_index: usize,
    bootstrap_nodes: Vec<PackedNode>,
    last_bootstrap: Option<Instant>,
    to_ping: Vec<PackedNode>,
    last_to_ping: Option<Instant>,
    pings: PendingRequests,
    nodes_requests: PendingRequests,
    shared_keys: SharedKeyCache,
    rate_limiter: Option<RateLimiter>,
    next_tick: Instant,
    /// When our LAN discovery rounds go out, and to which ports.
    lan: LanSchedule,
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
        let shared_keys = match config.rate_limit {
            Some(limit) => {
                SharedKeyCache::with_budget(config.shared_key_cache, limit.new_keys_per_second)
            }
            None => SharedKeyCache::new(config.shared_key_cache),
        };
        let mut dht = Self {
            config,
            close: CloseList::new(keys.public),
            keys,
            rng,
            close_to_bootstrap: Vec::new(),
            close_schedule: RefreshSchedule::default(),
            searches: BTreeMap::new(),
            fake_searches: Vec::new(),
            loaded: Vec::new(),
            loaded_index: 0,
            bootstrap_nodes: Vec::new(),
            last_bootstrap: None,
            to_ping: Vec::new(),
            last_to_ping: None,
            pings: PendingRequests::default(),
            nodes_requests: PendingRequests::default(),
            shared_keys,
            rate_limiter,
            next_tick: now,
            lan: LanSchedule::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        };
        // Searching for random keys keeps far parts of the network in
        // view, which is what lets this node answer for them.
        for _ in 0..FAKE_FRIEND_NUMBER {
            let fake = KeyPair::generate(&mut dht.rng).public;
            dht.searches.insert(fake, SearchList::new(fake));
            dht.fake_searches.push(fake);
        }
        dht
    }

    /// Our DHT public key.
    pub fn public_key(&self) -> PublicKey {
        self.keys.public
    }

    /// Tells the DHT the UDP ports its sockets are bound to, which only
    /// the driver knows (port 0 becomes a real port at `bind`). LAN
    /// discovery then also announces on those of them c-toxcore's port
    /// sweep never reaches, so nodes sharing a non-default port find each
    /// other; without it, it announces on c-toxcore's ports only.
    pub fn set_local_ports(&mut self, ports: impl IntoIterator<Item = u16>) {
        self.lan.set_local_ports(ports);
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

    // ----- input -----------------------------------------------------------

    /// Handles one datagram whose first byte is a DHT packet id.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.received += 1;
        let packet = match Packet::decode(bytes) {
            Ok(packet) => packet,
            // c-toxcore answers with an empty nodes response (82 bytes, no
            // node) while it knows nobody; that is not junk, and c-toxcore
            // itself drops such responses unread.
            Err(_)
                if bytes.first() == Some(&NodesResponse::ID)
                    && bytes.len() == EMPTY_NODES_RESPONSE_SIZE =>
            {
                self.stats.dropped_empty_nodes_response += 1;
                return;
            }
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
            Packet::LanDiscovery(p) => self.on_lan_discovery(now, from, &p),
            Packet::BootstrapInfoRequest(_) => self.on_bootstrap_info_request(now, from),
            Packet::BootstrapInfoResponse(_) => self.on_bootstrap_info_response(),
        };
        if let Err(err) = result {
            match err {
                DhtPacketError::Crypto(_) => self.stats.dropped_undecryptable += 1,
                _ => self.stats.dropped_malformed += 1,
            }
        }
    }

    /// Whether the host of `from` has budget left for a request; counts
    /// the drop if not. Spends nothing: [`Dht::charge`] does, once the
    /// request's box has opened, so junk spoofed from an address cannot
    /// spend its budget.
    fn has_budget(&mut self, now: Instant, from: SocketAddr) -> bool {
        let ok = self
            .rate_limiter
            .as_mut()
            .is_none_or(|rl| rl.has_budget(now, &from));
        if !ok {
            self.stats.dropped_rate_limited += 1;
        }
        ok
    }

    /// Charges the host of `from` for a request that proved genuine.
    fn charge(&mut self, now: Instant, from: SocketAddr) {
        if let Some(rl) = &mut self.rate_limiter {
            rl.charge(now, &from);
        }
    }

    /// [`Dht::has_budget`] and [`Dht::charge`] at once, for work that needs
    /// no box opened first.
    fn allowed(&mut self, now: Instant, from: SocketAddr) -> bool {
        let ok = self
            .rate_limiter
            .as_mut()
            .is_none_or(|rl| rl.allow(now, &from));
        if !ok {
            self.stats.dropped_rate_limited += 1;
        }
        ok
    }

    /// Whether a packet claims our own key as its sender (our own packet
    /// reflected back, or a forgery); counts the drop if so.
    fn is_reflection(&mut self, pk: &PublicKey) -> bool {
        let own = *pk == self.keys.public;
        if own {
            self.stats.dropped_from_self += 1;
        }
        own
    }

    /// The key shared with `pk`, for a packet we send; `None` (counted) if
    /// `pk` is a low-order point no secret can be shared with.
    fn shared(&mut self, pk: &PublicKey) -> Option<toxide_core::SharedKey> {
        let key = self.shared_keys.get(pk, &self.keys.secret).ok();
        self.stats.shared_keys_computed = self.shared_keys.computed();
        if key.is_none() {
            self.stats.dropped_low_order_key += 1;
        }
        key
    }

    /// The key shared with the sender `pk` of a packet we received, within
    /// the global budget for new keys; `None` (counted) if over budget or
    /// if `pk` is a low-order point.
    fn shared_incoming(&mut self, now: Instant, pk: &PublicKey) -> Option<toxide_core::SharedKey> {
        let result = self.shared_keys.get_incoming(now, pk, &self.keys.secret);
        self.stats.shared_keys_computed = self.shared_keys.computed();
        match result {
            Ok(key) => Some(key),
            Err(IncomingKeyError::OverBudget) => {
                self.stats.dropped_key_budget += 1;
                None
            }
            Err(IncomingKeyError::Crypto(_)) => {
                self.stats.dropped_low_order_key += 1;
                None
            }
        }
    }

    // ----- output ------------------------------------------------------------

    /// Queues `packet` for `destination`.
    fn push(&mut self, destination: SocketAddr, packet: &impl Encode) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            destination,
            payload: packet.to_bytes(),
        });
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
