//! The onion client: announcing ourselves, searching for friends, and
//! exchanging DHT keys and friend requests with them through the onion
//! (c-toxcore `onion_client.c`, checklist O11–O15).
//!
//! Once a second (as c-toxcore's `do_onion_client`) the client
//! - keeps up to 12 announce nodes closest to our real key, announcing our
//!   real key and a data key to them every 3 s until stored, then every
//!   15 s (120 s on paths that proved stable);
//! - once announced on enough of them, searches every friend's real key
//!   with a per-friend temporary key: 8 nodes per friend, asked every 3 s
//!   for the first five rounds and then exponentially less often;
//! - sends each friend our DHT key (with a few nodes near us) through the
//!   onion every 30 s and through the DHT every 20 s, and any friend
//!   request we owe them.
//!
//! That is c-toxcore's steady state, kept as it is. Its start is slow
//! (~9.5 s to reconnect two friends, all timers), so toxide adds an early
//! schedule on top: announcing from the first run, follow-ups and DHT-PK
//! announcements as soon as the answers that make them possible arrive,
//! and a few quick search rounds per friend; each bounded and over within
//! seconds (see `client/early.rs` for what, and why it still
//! interoperates).
//!
//! Responses are only accepted for requests we sent (see [`Sendbacks`]) and
//! confirm the path they came back on; friends' DHT-PK announcements only
//! from friends and only with a growing `no_replay`; friend requests only
//! with our nospam, from strangers, once per sender among the last 32.

mod early;

mod friend;
mod nodes;
mod paths;
mod sendback;
mod timing;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{
    CryptoRng, Decode, Encode, FriendRequestPayload, KeyPair, NoSpam, Nonce, PackedNode, PublicKey,
    RecentRequests, SharedKey, ToxId, TransportProtocol,
};
use toxide_dht::lan::is_lan;
use toxide_dht::rate_limit::TokenBucket;
use toxide_dht::{Dht, Transmit};

pub use early::EarlyFriend;
use early::{EARLY_ADDR_ASK_NODES, EarlyAnnounce};
pub use friend::{FRIEND_REQUEST_TIMEOUT, Friend, MAX_ONION_CLIENTS, OutgoingRequest};
pub use nodes::{AnnounceNode, Heard, NodeList, PathNodes, Pinged, RecentPings};
pub use paths::PathSet;
pub use sendback::{Pending, Sendbacks, Target};
use timing::expired;

use crate::constants::ANNOUNCE_MAX_NODES;
use crate::packet::{
    AnnounceRequest, AnnounceRequestPayload, AnnounceResponse, AnnounceStatus, AnnounceVersion,
    DHT_PK_TYPE, DhtPkAnnounce, FRIEND_REQUEST_TYPE, FriendRequest, MAX_ONION_DATA_PAYLOAD,
    OnionDataRequest, OnionDataResponse, OnionPacketError, drop_counter, open_inner, seal_inner,
};
use crate::path::{FirstHop, OnionPath};

/// Our announce nodes (`MAX_ONION_CLIENTS_ANNOUNCE`).
pub const MAX_ONION_CLIENTS_ANNOUNCE: usize = 12;
/// Seconds between runs: c-toxcore's client runs at most once a second
/// (the early schedule wakes it more often in the first seconds).
const RUN_INTERVAL: Duration = Duration::from_secs(1);
/// The runs of "announced" needed before we count as connected
/// (`ONION_CONNECTION_SECONDS`). c-toxcore also waits that long after its
/// first run before announcing at all; toxide announces from the first
/// run (see [`early`]).
const ONION_CONNECTION_SECONDS: u64 = 3;
/// Seconds of being disconnected after which friend searches restart
/// from the fast schedule (`ONION_CONNECTED_TIMEOUT`).
const ONION_CONNECTED_TIMEOUT: u64 = 10;
/// Seconds without any response before we count as offline
/// (`ONION_OFFLINE_TIMEOUT`).
const ONION_OFFLINE_TIMEOUT: u64 = nodes::NODE_TIMEOUT * (nodes::NODE_MAX_PINGS as u64 + 2);
/// Announce intervals (`ANNOUNCE_INTERVAL_*`, `TIME_TO_STABLE`).
const ANNOUNCE_INTERVAL_NOT_ANNOUNCED: u64 = 3;
const ANNOUNCE_INTERVAL_ANNOUNCED: u64 = nodes::NODE_TIMEOUT;
const TIME_TO_STABLE: u64 = nodes::NODE_TIMEOUT * 6;
/// A stable node is announced to every 240 s, where c-toxcore does every
/// 120 s (`ANNOUNCE_INTERVAL_STABLE`): the node keeps us for 300 s
/// (`ONION_ANNOUNCE_TIMEOUT`), and an unanswered announce is retried every
/// 15 s (the node is no longer steady), three times before the entry
/// lapses. Half of an idle client's own onion traffic.
const ANNOUNCE_INTERVAL_STABLE: u64 = 240;
/// When nothing was announced for this long, the first node in the list
/// is announced to anyway (`ONION_NODE_PING_INTERVAL`, 15 s in c-toxcore):
/// it keeps the paths and [`ONION_OFFLINE_TIMEOUT`] (75 s) fed. 30 s
/// still leaves two misses before we would count as offline.
const ANNOUNCE_KEEPALIVE: u64 = 30;
/// Seconds before node lists are refilled from the path nodes anyway
/// (`ANNOUNCE_POPULATE_TIMEOUT`).
const ANNOUNCE_POPULATE_TIMEOUT: u64 = 600;
/// Friend search schedule (`ANNOUNCE_FRIEND_*`, `MAX_RUN_COUNT_EXPONENT`).
const ANNOUNCE_FRIEND_NEW_INTERVAL: u64 = 3;
const ANNOUNCE_FRIEND_RUN_COUNT_BEGINNING: u32 = 5;
const ANNOUNCE_FRIEND_MAX_INTERVAL: u64 = 3600;
const MAX_RUN_COUNT_EXPONENT: u32 = 12;
/// DHT-PK announcement intervals (`ONION_DHTPK_SEND_INTERVAL`,
/// `DHT_DHTPK_SEND_INTERVAL`).
const ONION_DHTPK_SEND_INTERVAL: u64 = 30;
const DHT_DHTPK_SEND_INTERVAL: u64 = 20;
/// DHT nodes fed to the path pool per run (`MAX_FRIEND_CLIENTS`).
const POPULATE_NODES: usize = 8;

/// How an [`OnionClient`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Seconds on a clock that never goes back across restarts (the
    /// driver passes UNIX time), so a friend accepts our DHT-PK
    /// announcements after a restart: they must carry a growing
    /// `no_replay`, and the client adds its own elapsed seconds to this.
    pub no_replay_base: u64,
}

/// What the client tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A stranger sent a friend request with our nospam.
    FriendRequest {
        /// Their real key.
        public_key: PublicKey,
        /// Their message, as sent.
        message: Vec<u8>,
    },
    /// A friend told us their (new) DHT key; the client already searches
    /// for it in the DHT.
    FriendDhtPk {
        /// The friend's real key.
        friend: PublicKey,
        /// Their DHT key.
        dht_pk: PublicKey,
        /// TCP relays they named (for the relay layer).
        tcp_relays: Vec<PackedNode>,
    },
    /// We became reachable through the onion (announced), or stopped
    /// being.
    Connected(bool),
}

/// Why a friend could not be added or asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FriendError {
    /// That is our own key.
    #[error("that is our own key")]
    OwnKey,
    /// Empty, or longer than reaches a 0.2.18 receiver.
    #[error("friend request message of {len} bytes is outside 1..={max}")]
    MessageSize {
        /// The length asked for.
        len: usize,
        /// The longest that arrives.
        max: usize,
    },
    /// No friend with that key.
    #[error("no such friend")]
    NotFound,
    /// The key is a low-order point: nothing can be shared with it.
    #[error("friend key is a low-order point")]
    LowOrderKey,
}

/// Onion data responses opened per second at most (bursts of as many).
/// Each costs two Diffie-Hellmans on keys never seen before (the sender's
/// fresh temporary key, then its real key), and their source cannot be
/// checked first; honest traffic is a few per minute per friend.
const DATA_RESPONSES_PER_SECOND: f64 = 100.0;

/// The longest friend-request message that reaches a 0.2.18 receiver
/// through the onion (checklist F4: 943).
pub const MAX_FRIEND_REQUEST_MESSAGE: usize = MAX_ONION_DATA_PAYLOAD - 1 - 4;

/// What the client did and dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Announce requests sent (ours and friend searches).
    pub announce_requests_sent: u64,
    /// Announce responses accepted.
    pub announce_responses: u64,
    /// Onion data packets sent.
    pub data_sent: u64,
    /// Onion data packets accepted.
    pub data_received: u64,
    /// Friends' DHT-PK announcements accepted from onion data.
    pub dht_pk_via_onion: u64,
    /// Friends' DHT-PK announcements accepted from the DHT route.
    pub dht_pk_via_dht: u64,
    /// Dropped: malformed or wrong-sized.
    pub dropped_malformed: u64,
    /// Dropped: a box did not open.
    pub dropped_undecryptable: u64,
    /// Dropped: a response to no pending request of ours.
    pub dropped_unsolicited: u64,
    /// Dropped: DHT-PK from a stranger or replayed.
    pub dropped_dht_pk: u64,
    /// Dropped: a friend request with a wrong nospam.
    pub dropped_wrong_nospam: u64,
    /// Dropped: a friend request repeated, or from a friend.
    pub dropped_repeated_request: u64,
    /// Dropped: onion data of a type nobody handles.
    pub dropped_unknown_data: u64,
    /// Dropped: onion data beyond 100 a second (`DATA_RESPONSES_PER_SECOND`).
    pub dropped_rate_limited: u64,
}

/// The onion client of one Tox instance.
#[derive(Debug)]
pub struct OnionClient {
    config: ClientConfig,
    real: KeyPair,
    /// Our DHT key pair: hop A of every path sees it (it sees our address
    /// anyway), as c-toxcore's paths do.
    dht_keys: KeyPair,
    nospam: NoSpam,
    /// The key friends encrypt onion data to (regenerated every start, as
    /// c-toxcore's `temp_public_key`).
    data_keys: KeyPair,
    rng: ChaCha20Rng,
    start: Instant,
    last_run: Option<Instant>,
    early_announce: EarlyAnnounce,
    self_paths: PathSet,
    friend_paths: PathSet,
    path_nodes: PathNodes,
    bootstrap_nodes: PathNodes,
    /// The TCP relays we are connected to, named first in our DHT-PK
    /// announcements so friends without a direct path ask the same relays
    /// for a link to us (c-toxcore `send_dhtpk_announce`).
    tcp_relays: Vec<PackedNode>,
    /// Whether every path starts at one of [`OnionClient::tcp_relays`]
    /// (no UDP at all).
    tcp_only: bool,
    /// Whether the DHT had a good node at the last run: without one, new
    /// paths start at a TCP relay if we have any, as c-toxcore's do
    /// while it is not `dht_non_lan_connected` (UDP may be blocked
    /// although it is on).
    dht_connected: bool,
    /// Onion requests for a TCP relay as hop A: the relay's key and the
    /// frame body.
    tcp_transmits: VecDeque<(PublicKey, Vec<u8>)>,
    announce_list: NodeList,
    recent: RecentPings,
    last_announce: Option<Instant>,
    last_populated: Option<Instant>,
    last_packet_recv: Option<Instant>,
    last_time_connected: Option<Instant>,
    onion_connected: u64,
    reported_connected: bool,
    sendbacks: Sendbacks,
    friends: Vec<Friend>,
    received_requests: RecentRequests,
    /// Budget of onion data responses to open.
    data_budget: TokenBucket,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ClientEvent>,
    stats: ClientStats,
}

impl OnionClient {
    /// A client for the long-term keys `real` with `nospam`, beside a DHT
    /// whose key pair is `dht_keys`; `seed` drives all its randomness.
    pub fn new(
        config: ClientConfig,
        real: KeyPair,
        nospam: NoSpam,
        dht_keys: KeyPair,
        now: Instant,
        seed: [u8; 32],
    ) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        Self {
            config,
            announce_list: NodeList::new(real.public, MAX_ONION_CLIENTS_ANNOUNCE),
            data_keys: KeyPair::generate(&mut rng),
            real,
            nospam,
            dht_keys,
            rng,
            start: now,
            last_run: None,
            early_announce: EarlyAnnounce::default(),
            self_paths: PathSet::default(),
            friend_paths: PathSet::default(),
            path_nodes: PathNodes::default(),
            bootstrap_nodes: PathNodes::default(),
            tcp_relays: Vec::new(),
            tcp_only: false,
            dht_connected: false,
            tcp_transmits: VecDeque::new(),
            recent: RecentPings::default(),
            last_announce: None,
            last_populated: None,
            last_packet_recv: None,
            last_time_connected: None,
            onion_connected: 0,
            reported_connected: false,
            sendbacks: Sendbacks::default(),
            friends: Vec::new(),
            received_requests: RecentRequests::default(),
            data_budget: TokenBucket::new(DATA_RESPONSES_PER_SECOND, DATA_RESPONSES_PER_SECOND),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: ClientStats::default(),
        }
    }

    /// Our real key.
    pub fn public_key(&self) -> PublicKey {
        self.real.public
    }

    /// The Tox ID to give people.
    pub fn tox_id(&self) -> ToxId {
        ToxId::new(self.real.public, self.nospam)
    }

    /// Our nospam.
    pub fn nospam(&self) -> NoSpam {
        self.nospam
    }

    /// Changes the nospam: requests made with the old one are refused.
    pub fn set_nospam(&mut self, nospam: NoSpam) {
        self.nospam = nospam;
    }

    /// The counters so far.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// Whether we are announced (c-toxcore's onion connection status).
    pub fn is_connected(&self) -> bool {
        self.onion_connected >= ONION_CONNECTION_SECONDS
    }

    /// Announce nodes currently storing us.
    pub fn announced_on(&self, now: Instant) -> usize {
        self.announce_list
            .alive(now)
            .filter(|n| n.is_stored != 0)
            .count()
    }

    /// A node to build paths from before the DHT has any (c-toxcore adds
    /// every bootstrap node).
    pub fn add_bootstrap_node(&mut self, node: PackedNode) {
        self.bootstrap_nodes.add(node);
    }

    /// The TCP relays we are connected to now; up to half of each DHT-PK
    /// announcement's nodes are taken from them.
    pub fn set_tcp_relays(&mut self, relays: Vec<PackedNode>) {
        self.tcp_relays = relays;
    }

    /// Starts every new path at a TCP relay we are connected to (checklist
    /// O16): for a client without UDP, whose relays are its only way out.
    pub fn set_tcp_only(&mut self, tcp_only: bool) {
        self.tcp_only = tcp_only;
    }

    /// Whether new paths start at a TCP relay: always without UDP, and
    /// while the DHT is not connected if we have relays.
    fn relay_first_hop(&self) -> bool {
        self.tcp_only || (!self.dht_connected && !self.tcp_relays.is_empty())
    }

    /// The next onion request for a TCP relay: the relay's key and the
    /// body of the request frame.
    pub fn poll_tcp_transmit(&mut self) -> Option<(PublicKey, Vec<u8>)> {
        self.tcp_transmits.pop_front()
    }

    /// A node the DHT learned: a candidate path node.
    pub fn add_path_node(&mut self, node: PackedNode) {
        self.path_nodes.add(node);
    }

    /// Starts searching for `real_pk` (nothing if already a friend).
    pub fn add_friend(&mut self, real_pk: PublicKey) -> Result<(), FriendError> {
        if real_pk == self.real.public {
            return Err(FriendError::OwnKey);
        }
        if friend_position(&self.friends, &real_pk).is_none() {
            let friend = Friend::new(&mut self.rng, &self.real, real_pk)
                .map_err(|_| FriendError::LowOrderKey)?;
            self.friends.push(friend);
        }
        Ok(())
    }

    /// Stops searching for `real_pk` and forgets it; its DHT search is
    /// the caller's to stop (the returned DHT key, if one was known).
    pub fn remove_friend(&mut self, real_pk: &PublicKey) -> Option<PublicKey> {
        // A removed friend may ask again (c-toxcore `m_delfriend` calls
        // `remove_request_received`).
        self.received_requests.forget(real_pk);
        let index = friend_position(&self.friends, real_pk)?;
        let friend = self.friends.swap_remove(index);
        friend.dht_pk
    }

    /// Friends' real keys.
    pub fn friends(&self) -> impl Iterator<Item = &PublicKey> {
        self.friends.iter().map(|f| &f.real_pk)
    }

    /// The friend's DHT key, once they told us.
    pub fn friend_dht_pk(&self, real_pk: &PublicKey) -> Option<PublicKey> {
        friend_position(&self.friends, real_pk)
            .and_then(|i| self.friends.get(i))
            .and_then(|f| f.dht_pk)
    }

    /// Marks a friend connected (searching stops and requests are no
    /// longer sent) or disconnected (searching resumes, with a new early
    /// schedule if they were online: they may have restarted).
    pub fn set_friend_online(&mut self, real_pk: &PublicKey, online: bool) {
        if let Some(friend) = find_friend_mut(&mut self.friends, real_pk) {
            if friend.is_online && !online {
                friend.early.restart();
            }
            friend.is_online = online;
            if online {
                friend.request = None;
            }
        }
    }

    /// Adds the owner of `id` as a friend and keeps sending them a friend
    /// request with `message` until they come online (or are removed).
    pub fn send_friend_request(
        &mut self,
        now: Instant,
        id: &ToxId,
        message: &[u8],
    ) -> Result<(), FriendError> {
        if message.is_empty() || message.len() > MAX_FRIEND_REQUEST_MESSAGE {
            return Err(FriendError::MessageSize {
                len: message.len(),
                max: MAX_FRIEND_REQUEST_MESSAGE,
            });
        }
        self.add_friend(id.public_key)?;
        let friend =
            find_friend_mut(&mut self.friends, &id.public_key).ok_or(FriendError::NotFound)?;
        friend.request = Some(OutgoingRequest {
            nospam: id.nospam,
            message: message.to_vec(),
            next_send: now,
            backoff: FRIEND_REQUEST_TIMEOUT,
        });
        Ok(())
    }

    /// When [`Self::handle_timeout`] wants to run next: the next
    /// once-a-second run, or sooner what the early schedule has due (an
    /// instant in the past means at once).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let run = self.last_run.map_or(self.start, |t| t + RUN_INTERVAL);
        let early = self
            .friends
            .iter()
            .filter(|f| !f.is_online)
            .filter_map(|f| {
                // "At once" must not be in the future: the start is not.
                f.early.next_wakeup(self.start, f.dht_pk.is_some())
            });
        early
            .chain(self.early_announce.next(self.start))
            .chain(Some(run))
            .min()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Handles an announce response (0x84/0x88) or onion data response
    /// (0x86) addressed to us.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8], dht: &mut Dht) {
        match bytes.first() {
            Some(0x84 | 0x88) => self.handle_announce_response(now, from, bytes, dht),
            Some(0x86) => self.handle_data_response(now, bytes, dht),
            _ => self.stats.dropped_malformed += 1,
        }
    }

    /// A node another node named in a nodes response
    /// ([`toxide_dht::Event::NodeLearned`]). If it is a friend's DHT key
    /// whose address the DHT has not found yet, and the friend is
    /// offline, it is asked at once: its answer is what the DHT counts as
    /// finding it (and the session can start), where the DHT itself asks
    /// a node it heard of only at its next tick, up to a second later
    /// (c-toxcore does within one `do_dht`, ~50 ms). Once per address and
    /// second per friend.
    pub fn handle_node_learned(&mut self, now: Instant, node: PackedNode, dht: &mut Dht) {
        if node.protocol != TransportProtocol::Udp {
            return;
        }
        let Some(friend) = self
            .friends
            .iter_mut()
            .find(|f| !f.is_online && f.dht_pk == Some(node.public_key))
        else {
            return;
        };
        let asked_lately = friend
            .last_node_learned
            .is_some_and(|(addr, t)| addr == node.addr && !expired(Some(t), 1, now));
        if asked_lately || dht.found_addr(now, &node.public_key).is_some() {
            return;
        }
        friend.last_node_learned = Some((node.addr, now));
        dht.request_nodes(now, node, node.public_key);
    }

    /// Handles a DHT-PK announcement that came through the DHT
    /// ([`toxide_dht::Event::DhtPkRequest`]): `[real pk][nonce][box]`.
    pub fn handle_dht_pk_request(
        &mut self,
        now: Instant,
        sender_dht_pk: PublicKey,
        data: &[u8],
        dht: &mut Dht,
    ) {
        let mut reader = toxide_core::Reader::new(data);
        let (Ok(real_pk), Ok(nonce)) = (PublicKey::decode(&mut reader), Nonce::decode(&mut reader))
        else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let Some(friend) = find_friend(&self.friends, &real_pk) else {
            self.stats.dropped_dht_pk += 1;
            return;
        };
        let Ok(plain) = friend.shared_real.decrypt(&nonce, reader.rest()) else {
            self.stats.dropped_undecryptable += 1;
            return;
        };
        match DhtPkAnnounce::from_bytes(&plain) {
            // The DHT sender must be the key announced (c-toxcore checks).
            Ok(announce) if announce.dht_pk == sender_dht_pk => {
                if self.accept_dht_pk(now, real_pk, announce, dht) {
                    self.stats.dht_pk_via_dht += 1;
                }
            }
            Ok(_) => self.stats.dropped_dht_pk += 1,
            Err(_) => self.stats.dropped_malformed += 1,
        }
    }

    fn count_drop(&mut self, error: &OnionPacketError) {
        let stats = &mut self.stats;
        *drop_counter(
            error,
            &mut stats.dropped_undecryptable,
            &mut stats.dropped_malformed,
        ) += 1;
    }

    fn handle_announce_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        dht: &mut Dht,
    ) {
        let Ok(response) = AnnounceResponse::from_bytes(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let Some(pending) = self.sendbacks.take(now, response.sendback) else {
            self.stats.dropped_unsolicited += 1;
            return;
        };
        let secret = match pending.target {
            Target::Us => &self.real.secret,
            Target::Friend(pk) => match find_friend(&self.friends, &pk) {
                Some(friend) => &friend.temp.secret,
                None => {
                    self.stats.dropped_unsolicited += 1;
                    return;
                }
            },
        };
        let payload = match SharedKey::new(&pending.node_pk, secret)
            .map_err(OnionPacketError::from)
            .and_then(|shared| response.open(&shared))
        {
            Ok(payload) => payload,
            Err(error) => return self.count_drop(&error),
        };
        self.stats.announce_responses += 1;
        let paths = match pending.target {
            Target::Us => &mut self.self_paths,
            Target::Friend(_) => &mut self.friend_paths,
        };
        let path_used = match paths.confirm(now, pending.path_num) {
            Some(relays) => {
                // A TCP relay as hop A is no node for B or C.
                for relay in relays {
                    if relay.protocol == TransportProtocol::Udp {
                        self.path_nodes.add(relay);
                    }
                }
                pending.path_num
            }
            None => u32::MAX,
        };
        let (mut is_stored, key) = match payload.status {
            AnnounceStatus::NotStored(ping_id) => (0, ping_id),
            AnnounceStatus::Found(data_pk) => (1, *data_pk.as_bytes()),
            AnnounceStatus::Stored(ping_id) => (2, ping_id),
        };
        let node = PackedNode::udp(pending.node_addr, pending.node_pk);
        let list = match pending.target {
            Target::Us => {
                self.early_announce.heard();
                // "Found" for our own key counts only if it is our data key.
                if is_stored == 1 && key != *self.data_keys.public.as_bytes() {
                    is_stored = 0;
                }
                &mut self.announce_list
            }
            Target::Friend(pk) => {
                if is_stored >= 2 {
                    return;
                }
                match find_friend_mut(&mut self.friends, &pk) {
                    Some(friend) => &mut friend.clients,
                    None => return,
                }
            }
        };
        let before = list
            .get(now, &node.public_key)
            .map(|n| (n.last_pinged, n.data_pk));
        let heard = Heard {
            node,
            is_stored,
            key,
            path_used,
        };
        if list.heard(now, heard) {
            self.path_nodes.add(node);
            match pending.target {
                // A node new to the list gets the follow-up with its ping
                // id at once while we are not announced (c-toxcore waits
                // two runs); back on the path the answer came on, whose
                // exit the ping id is bound to.
                Target::Us => {
                    let is_new = before.is_none_or(|(pinged, _)| pinged == Pinged::Never);
                    if is_new && is_stored == 0 && !self.is_connected() {
                        self.announce_follow_up(now, node, key, path_used);
                    }
                }
                // A data key we have not sent to: the friend is reachable
                // there (maybe just restarted); tell them our DHT key now.
                Target::Friend(pk) => {
                    let new_key = before.is_none_or(|(_, data_pk)| data_pk.as_bytes() != &key);
                    if is_stored == 1 && new_key {
                        self.friend_reachable(now, &pk, dht);
                    }
                }
            }
        }
        let lan_ok = is_lan(from.ip());
        for candidate in payload.nodes {
            if candidate.protocol != TransportProtocol::Udp
                || (!lan_ok && is_lan(candidate.addr.ip()))
            {
                continue;
            }
            let (list, recent) = match pending.target {
                Target::Us => (&mut self.announce_list, &mut self.recent),
                Target::Friend(pk) => match find_friend_mut(&mut self.friends, &pk) {
                    Some(friend) => (&mut friend.clients, &mut friend.recent),
                    None => return,
                },
            };
            if list.wants(now, &candidate.public_key)
                && recent.good_to_ping(now, &candidate.public_key)
            {
                self.send_announce_request(now, pending.target, candidate, None, None);
            }
        }
        self.last_packet_recv = Some(now);
    }

    fn handle_data_response(&mut self, now: Instant, bytes: &[u8], dht: &mut Dht) {
        let Ok(response) = OnionDataResponse::from_bytes(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if !self.data_budget.take(now) {
            self.stats.dropped_rate_limited += 1;
            return;
        }
        let opened = SharedKey::new(&response.temporary_pk, &self.data_keys.secret)
            .and_then(|shared| shared.decrypt(&response.nonce, &response.sealed))
            .map_err(OnionPacketError::from)
            .and_then(|inner| open_inner(&response.nonce, &self.real.secret, &inner));
        let (sender, plain) = match opened {
            Ok(opened) => opened,
            Err(error) => return self.count_drop(&error),
        };
        self.stats.data_received += 1;
        match plain.first() {
            Some(&DHT_PK_TYPE) => match DhtPkAnnounce::from_bytes(&plain) {
                Ok(announce) => {
                    if self.accept_dht_pk(now, sender, announce, dht) {
                        self.stats.dht_pk_via_onion += 1;
                    }
                }
                Err(_) => self.stats.dropped_malformed += 1,
            },
            Some(&FRIEND_REQUEST_TYPE) => match FriendRequest::from_bytes(&plain) {
                Ok(request) => self.accept_friend_request(sender, request),
                Err(_) => self.stats.dropped_malformed += 1,
            },
            _ => self.stats.dropped_unknown_data += 1,
        }
    }

    /// Takes a friend's DHT-PK announcement; `false` if it was dropped
    /// (a stranger's, or not newer than the last).
    fn accept_dht_pk(
        &mut self,
        now: Instant,
        sender: PublicKey,
        announce: DhtPkAnnounce,
        dht: &mut Dht,
    ) -> bool {
        let Some(friend) = find_friend_mut(&mut self.friends, &sender) else {
            self.stats.dropped_dht_pk += 1;
            return false;
        };
        if announce.no_replay <= friend.last_no_replay {
            self.stats.dropped_dht_pk += 1;
            return false;
        }
        friend.last_no_replay = announce.no_replay;
        if friend.dht_pk != Some(announce.dht_pk) {
            // A friend we cannot reach with a new DHT key has (re)started:
            // its announce nodes may hold a new data key, so search again
            // soon, and answer with ours once it is found.
            if !friend.is_online {
                friend.early.restart();
                // The nodes named below are asked for it now.
                friend.early.addr_asked(now, false);
            }
            if let Some(old) = friend.dht_pk.replace(announce.dht_pk) {
                dht.stop_search(&old);
            }
            dht.search(announce.dht_pk);
        }
        let mut tcp_relays = Vec::new();
        for node in announce.nodes {
            match node.protocol {
                TransportProtocol::Udp => dht.request_nodes(now, node, announce.dht_pk),
                TransportProtocol::Tcp => tcp_relays.push(node),
            }
        }
        self.events.push_back(ClientEvent::FriendDhtPk {
            friend: sender,
            dht_pk: announce.dht_pk,
            tcp_relays,
        });
        true
    }

    fn accept_friend_request(&mut self, sender: PublicKey, FriendRequest(request): FriendRequest) {
        if request.nospam != self.nospam {
            self.stats.dropped_wrong_nospam += 1;
            return;
        }
        if self.received_requests.contains(&sender)
            || friend_position(&self.friends, &sender).is_some()
        {
            self.stats.dropped_repeated_request += 1;
            return;
        }
        self.received_requests.remember(sender);
        self.events.push_back(ClientEvent::FriendRequest {
            public_key: sender,
            message: request.message,
        });
    }

    /// Sends an announce request to `node` for `target` through a path of
    /// the target's set (c-toxcore `client_send_announce_request`).
    fn send_announce_request(
        &mut self,
        now: Instant,
        target: Target,
        node: PackedNode,
        ping_id: Option<[u8; 32]>,
        path_num: Option<u32>,
    ) -> bool {
        let dht_connected = !self.path_nodes.is_empty();
        let relay_first = self.relay_first_hop();
        let (paths, pool) = match target {
            Target::Us => (&mut self.self_paths, &self.path_nodes),
            Target::Friend(_) => (&mut self.friend_paths, &self.path_nodes),
        };
        let relays = relay_first.then_some(self.tcp_relays.as_slice());
        let bootstrap = &self.bootstrap_nodes;
        let dht_keys = &self.dht_keys;
        let Some((path_num, path)) =
            paths.use_path(now, &mut self.rng, dht_keys, path_num, |rng| {
                let three = if dht_connected {
                    pool.random_three(rng)
                } else {
                    bootstrap.random_three(rng)
                };
                tcp_first_hop(rng, three?, relays)
            })
        else {
            return false;
        };
        let path = path.clone();
        let sendback = self.sendbacks.add(
            now,
            &mut self.rng,
            Pending {
                target,
                node_pk: node.public_key,
                node_addr: node.addr,
                path_num,
            },
        );
        let ping_id = ping_id.unwrap_or([0; 32]);
        let nonce = Nonce::random(&mut self.rng);
        let (secret, sender) = match target {
            Target::Us => (&self.real.secret, self.real.public),
            Target::Friend(pk) => match find_friend(&self.friends, &pk) {
                Some(friend) => (&friend.temp.secret, friend.temp.public),
                None => return false,
            },
        };
        let Ok(shared) = SharedKey::new(&node.public_key, secret) else {
            return false;
        };
        let request = match target {
            Target::Us => AnnounceRequest::new(
                AnnounceVersion::Old,
                &shared,
                sender,
                nonce,
                &AnnounceRequestPayload {
                    ping_id,
                    search_pk: self.real.public,
                    data_pk: self.data_keys.public,
                    sendback,
                },
            ),
            Target::Friend(pk) => AnnounceRequest::new(
                AnnounceVersion::Old,
                &shared,
                sender,
                nonce,
                &AnnounceRequestPayload {
                    ping_id,
                    search_pk: pk,
                    data_pk: PublicKey::new([0; 32]),
                    sendback,
                },
            ),
        };
        let sent = self.send_on_path(&path, node.addr, &request.to_bytes());
        if sent {
            self.stats.announce_requests_sent += 1;
        }
        sent
    }

    /// Wraps `data` for `destination` on `path` and queues it for hop A,
    /// over UDP or to a TCP relay.
    fn send_on_path(&mut self, path: &OnionPath, destination: SocketAddr, data: &[u8]) -> bool {
        match path.wrap_any(&mut self.rng, destination, data) {
            Ok(FirstHop::Udp(first_hop, packet)) => {
                self.transmits.push_back(Transmit {
                    destination: first_hop,
                    payload: packet.to_bytes(),
                });
                true
            }
            Ok(FirstHop::Tcp { relay, request }) => {
                self.tcp_transmits.push_back((relay, request));
                true
            }
            Err(_) => false,
        }
    }

    /// Sends `data` to a friend through every announce node that knows
    /// them (c-toxcore `send_onion_data`), except those whose data key for
    /// the friend is in `skip`; the data keys it went to, one per packet.
    fn send_onion_data(
        &mut self,
        now: Instant,
        friend_pk: &PublicKey,
        data: &[u8],
        skip: &[PublicKey],
    ) -> Vec<PublicKey> {
        let Some(friend) = find_friend(&self.friends, friend_pk) else {
            return Vec::new();
        };
        if data.is_empty() || data.len() > MAX_ONION_DATA_PAYLOAD {
            return Vec::new();
        }
        let alive: Vec<&AnnounceNode> = friend.clients.alive(now).collect();
        let good: Vec<(SocketAddr, PublicKey)> = alive
            .iter()
            .filter(|n| n.is_stored != 0)
            .map(|n| (n.addr, n.data_pk))
            .collect();
        // c-toxcore wants a quarter of the live nodes to agree (and at
        // least one node).
        if alive.is_empty() || good.len() < (alive.len() - 1) / 4 + 1 {
            return Vec::new();
        }
        let nonce = Nonce::random(&mut self.rng);
        let inner = seal_inner(&nonce, &self.real.public, &friend.shared_real, data);
        let mut sent = Vec::new();
        for (addr, data_pk) in good.into_iter().filter(|(_, k)| !skip.contains(k)) {
            let relays = self.relay_first_hop().then_some(self.tcp_relays.as_slice());
            let pool = &self.path_nodes;
            let Some((_, path)) =
                self.friend_paths
                    .use_path(now, &mut self.rng, &self.dht_keys, None, |rng| {
                        let three = pool.random_three(rng)?;
                        tcp_first_hop(rng, three, relays)
                    })
            else {
                continue;
            };
            let path = path.clone();
            let temp = KeyPair::generate(&mut self.rng);
            let Ok(shared) = SharedKey::new(&data_pk, &temp.secret) else {
                continue;
            };
            let request = OnionDataRequest {
                destination_pk: *friend_pk,
                nonce,
                temporary_pk: temp.public,
                sealed: shared.encrypt(&nonce, &inner),
            };
            if self.send_on_path(&path, addr, &request.to_bytes()) {
                sent.push(data_pk);
            }
        }
        self.stats.data_sent += sent.len() as u64;
        sent
    }

    /// Our DHT-PK announcement: our DHT key and the nodes closest to it
    /// (c-toxcore `send_dhtpk_announce`).
    fn dht_pk_announce(&self, now: Instant, dht: &Dht) -> DhtPkAnnounce {
        let secs = now.saturating_duration_since(self.start).as_secs();
        let mut nodes: Vec<PackedNode> = self
            .tcp_relays
            .iter()
            .take(ANNOUNCE_MAX_NODES / 2)
            .copied()
            .collect();
        let room = ANNOUNCE_MAX_NODES - nodes.len();
        nodes.extend(dht.closest_nodes(now, &dht.public_key(), room, true));
        DhtPkAnnounce {
            no_replay: self.config.no_replay_base.saturating_add(secs),
            dht_pk: dht.public_key(),
            nodes,
        }
    }

    /// Our DHT-PK announcement for a friend through the DHT route
    /// (c-toxcore `send_dhtpk_announce`); the number of packets sent.
    fn send_dht_pk_via_dht(&mut self, now: Instant, friend_pk: &PublicKey, dht: &mut Dht) -> usize {
        let data = self.dht_pk_announce(now, dht).to_bytes();
        let Some(friend) = find_friend(&self.friends, friend_pk) else {
            return 0;
        };
        let Some(friend_dht) = friend.dht_pk else {
            return 0;
        };
        let nonce = Nonce::random(&mut self.rng);
        let mut wrapped = self.real.public.as_bytes().to_vec();
        wrapped.extend_from_slice(nonce.as_bytes());
        wrapped.extend_from_slice(&friend.shared_real.encrypt(&nonce, &data));
        dht.send_dht_pk(now, friend_dht, wrapped)
    }

    /// Runs the once-a-second work if it is due (c-toxcore
    /// `do_onion_client`), then what the early schedule has due.
    pub fn handle_timeout(&mut self, now: Instant, dht: &mut Dht) {
        if self.last_run.is_none_or(|t| now >= t + RUN_INTERVAL) {
            self.run(now, dht);
        }
        self.run_early(now, dht);
    }

    /// The once-a-second work (c-toxcore `do_onion_client`, announcing
    /// from the first run rather than 3 s after it).
    fn run(&mut self, now: Instant, dht: &mut Dht) {
        self.dht_connected = dht.is_connected(now);
        self.populate_path_nodes(now, dht);
        self.do_announce(now);
        if self.onion_is_connected(now) {
            if expired(self.last_time_connected, ONION_CONNECTED_TIMEOUT, now) {
                for friend in &mut self.friends {
                    friend.run_count = 0;
                }
            }
            self.last_time_connected = Some(now);
            if self.onion_connected < ONION_CONNECTION_SECONDS * 2 {
                self.onion_connected += 1;
            }
        } else {
            self.onion_connected = self.onion_connected.saturating_sub(1);
        }
        if self.is_connected() != self.reported_connected {
            self.reported_connected = self.is_connected();
            self.events
                .push_back(ClientEvent::Connected(self.reported_connected));
        }
        if self.is_connected() {
            let friends: Vec<PublicKey> = self.friends.iter().map(|f| f.real_pk).collect();
            for pk in friends {
                self.do_friend(now, &pk, dht);
            }
        }
        self.do_friend_requests(now);
        self.last_run = Some(now);
    }

    /// The early schedule's work that is due (see [`early`]): announce
    /// bursts until the first answer, and friends' quick search rounds
    /// and DHT-PK resends.
    fn run_early(&mut self, now: Instant, dht: &mut Dht) {
        if self.early_announce.due(self.start, now) {
            self.populate_path_nodes(now, dht);
            let sent = self.announce_burst(now);
            self.early_announce.burst(now, sent);
        }
        let due: Vec<(PublicKey, bool, bool, Option<PublicKey>)> = self
            .friends
            .iter()
            .filter(|f| !f.is_online)
            .map(|f| {
                let ask = f.dht_pk.filter(|_| f.early.addr_ask_due(now, true));
                (
                    f.real_pk,
                    f.early.round_due(now),
                    f.early.dht_pk_due(now),
                    ask,
                )
            })
            .filter(|(_, round, dht_pk, ask)| *round || *dht_pk || ask.is_some())
            .collect();
        if due.is_empty() {
            return;
        }
        if self.path_nodes.is_empty() {
            self.populate_path_nodes(now, dht);
        }
        for (pk, round, dht_pk, ask) in due {
            if let Some(friend_dht) = ask {
                let found = dht.found_addr(now, &friend_dht).is_some();
                if !found {
                    for node in dht.closest_nodes(now, &friend_dht, EARLY_ADDR_ASK_NODES, true) {
                        dht.request_nodes(now, node, friend_dht);
                    }
                }
                if let Some(friend) = find_friend_mut(&mut self.friends, &pk) {
                    friend.early.addr_asked(now, true);
                    if found {
                        friend.early.addr_found();
                    }
                }
            }
            if round {
                let sent = self.early_search_round(now, &pk);
                if let Some(friend) = find_friend_mut(&mut self.friends, &pk) {
                    friend.early.round(now, sent);
                }
            }
            if dht_pk {
                self.send_dht_pk_onion(now, &pk, false, dht);
                if let Some(friend) = find_friend_mut(&mut self.friends, &pk) {
                    friend.early.resent(now);
                }
            }
        }
        self.do_friend_requests(now);
    }

    /// Announce requests to up to six random path nodes (or bootstrap
    /// nodes while there are none), each once and none already in our
    /// list (c-toxcore asks those again, though they are announced to on
    /// their own schedule: in a small network, every second); how many
    /// went out.
    fn announce_burst(&mut self, now: Instant) -> usize {
        let pool = if self.path_nodes.is_empty() {
            &self.bootstrap_nodes
        } else {
            &self.path_nodes
        };
        let mut picks = pool.random_distinct(&mut self.rng, MAX_ONION_CLIENTS_ANNOUNCE / 2);
        picks.retain(|p| self.announce_list.get(now, &p.public_key).is_none());
        picks
            .into_iter()
            .filter(|node| self.send_announce_request(now, Target::Us, *node, None, None))
            .count()
    }

    /// A node new to our list answered our first request without storing
    /// us: announce again at once with the ping id it gave, on the path
    /// its answer came back on.
    fn announce_follow_up(&mut self, now: Instant, node: PackedNode, ping_id: [u8; 32], path: u32) {
        if self.send_announce_request(now, Target::Us, node, Some(ping_id), Some(path)) {
            self.announce_list.mark_pinged(now, &node.public_key);
            self.last_announce = Some(now);
        }
    }

    /// One early search round for a friend: every live node of its list
    /// is asked again and, while the list is at most half full, up to
    /// eight random path nodes too (each node once); how many went out.
    fn early_search_round(&mut self, now: Instant, friend_pk: &PublicKey) -> usize {
        let Some(friend) = find_friend(&self.friends, friend_pk) else {
            return 0;
        };
        let mut asked: Vec<PackedNode> = friend
            .clients
            .alive(now)
            .filter(|n| n.pings_since_last_response < nodes::NODE_MAX_PINGS)
            .map(|n| PackedNode::udp(n.addr, n.public_key))
            .collect();
        if friend.clients.alive(now).count() <= MAX_ONION_CLIENTS / 2 {
            let pool = if self.path_nodes.is_empty() {
                &self.bootstrap_nodes
            } else {
                &self.path_nodes
            };
            for pick in pool.random_distinct(&mut self.rng, MAX_ONION_CLIENTS) {
                if !asked.iter().any(|n| n.public_key == pick.public_key) {
                    asked.push(pick);
                }
            }
        }
        let target = Target::Friend(*friend_pk);
        let mut sent = 0;
        for node in asked {
            if self.send_announce_request(now, target, node, None, None) {
                sent += 1;
                if let Some(friend) = find_friend_mut(&mut self.friends, friend_pk) {
                    friend.clients.mark_pinged(now, &node.public_key);
                }
            }
        }
        sent
    }

    /// One of a friend's announce nodes named a data key of theirs:
    /// the friend is reachable there, maybe just (re)started. Our DHT-PK
    /// announcement goes now through the nodes with data keys it has not
    /// gone to yet, and the friend request we owe them if due.
    fn friend_reachable(&mut self, now: Instant, friend_pk: &PublicKey, dht: &mut Dht) {
        if find_friend(&self.friends, friend_pk).is_none_or(|f| f.is_online) {
            return;
        }
        self.send_dht_pk_onion(now, friend_pk, true, dht);
        self.do_friend_requests(now);
    }

    /// Our DHT-PK announcement to a friend through the onion, through
    /// every announce node that knows them (only those with data keys it
    /// has not gone to yet if `new_keys_only`), and the bookkeeping of a
    /// send; the number of packets sent.
    fn send_dht_pk_onion(
        &mut self,
        now: Instant,
        friend_pk: &PublicKey,
        new_keys_only: bool,
        dht: &mut Dht,
    ) -> usize {
        let announce = self.dht_pk_announce(now, dht);
        let skip = match find_friend(&self.friends, friend_pk) {
            Some(friend) if new_keys_only => friend.dht_pk_sent_to.clone(),
            Some(_) => Vec::new(),
            None => return 0,
        };
        let keys = self.send_onion_data(now, friend_pk, &announce.to_bytes(), &skip);
        let Some(friend) = find_friend_mut(&mut self.friends, friend_pk) else {
            return 0;
        };
        if !keys.is_empty() {
            // Sends to new data keys only add to c-toxcore's schedule
            // (through every node, every 30 s); they do not move it.
            if !new_keys_only {
                friend.last_dht_pk_onion_sent = Some(now);
            }
            friend.early.dht_pk_sent(now);
        }
        for key in &keys {
            if !friend.dht_pk_sent_to.contains(key) {
                if friend.dht_pk_sent_to.len() >= MAX_ONION_CLIENTS {
                    friend.dht_pk_sent_to.remove(0);
                }
                friend.dht_pk_sent_to.push(*key);
            }
        }
        keys.len()
    }

    /// Feeds random DHT nodes to the path pool (c-toxcore
    /// `populate_path_nodes`).
    fn populate_path_nodes(&mut self, now: Instant, dht: &Dht) {
        let good: Vec<PackedNode> = dht
            .close_list()
            .iter()
            .filter_map(|c| c.best_good(now))
            .collect();
        if good.is_empty() {
            return;
        }
        for _ in 0..POPULATE_NODES.min(good.len()) {
            let i = (rand::Rng::next_u32(&mut self.rng) as usize) % good.len();
            if let Some(node) = good.get(i) {
                self.path_nodes.add(*node);
            }
        }
    }

    /// Keeps us announced (c-toxcore `do_announce`).
    fn do_announce(&mut self, now: Instant) {
        let mut count = 0;
        let mut to_send = Vec::new();
        // c-toxcore updates this inside the loop: when nothing was
        // announced for a keep-alive interval, the first node due by that rule
        // goes, and the rest wait for their own interval. Reading it once
        // before the loop would announce to every node each 15 s.
        let mut last_announce = self.last_announce;
        for node in self.announce_list.alive_mut(now) {
            count += 1;
            if node.last_pinged == Pinged::Never {
                node.last_pinged = Pinged::LongAgo;
                continue;
            }
            if node.pings_since_last_response >= nodes::NODE_MAX_PINGS {
                continue;
            }
            let mut interval = ANNOUNCE_INTERVAL_NOT_ANNOUNCED;
            if node.is_stored != 0 && self.self_paths.exists(now, node.path_used) {
                interval = ANNOUNCE_INTERVAL_ANNOUNCED;
                let node_steady = expired(Some(node.added_time), TIME_TO_STABLE, now)
                    && !(node.pings_since_last_response > 0
                        && expired(node.last_pinged.as_time(), nodes::NODE_TIMEOUT, now));
                if node_steady
                    && self.self_paths.is_stable(
                        now,
                        node.path_used,
                        TIME_TO_STABLE,
                        paths::PATH_TIMEOUT,
                    )
                {
                    interval = ANNOUNCE_INTERVAL_STABLE;
                }
            }
            if expired(node.last_pinged.as_time(), interval, now)
                || expired(last_announce, ANNOUNCE_KEEPALIVE, now)
            {
                // Last chance for a long-lived node: try a random path.
                let path = if node.pings_since_last_response == nodes::NODE_MAX_PINGS - 1
                    && expired(Some(node.added_time), TIME_TO_STABLE, now)
                {
                    None
                } else {
                    Some(node.path_used)
                };
                // Optimistically counted as sent, as the next node's check
                // must see it (as in `do_friend`).
                last_announce = Some(now);
                to_send.push((
                    PackedNode::udp(node.addr, node.public_key),
                    node.ping_id,
                    path,
                ));
            }
        }
        for (node, ping_id, path) in to_send {
            if self.send_announce_request(now, Target::Us, node, Some(ping_id), path) {
                self.announce_list.mark_pinged(now, &node.public_key);
                self.last_announce = Some(now);
            }
        }
        if count == MAX_ONION_CLIENTS_ANNOUNCE {
            self.last_populated = Some(now);
            return;
        }
        if count <= MAX_ONION_CLIENTS_ANNOUNCE / 2
            || expired(self.last_populated, ANNOUNCE_POPULATE_TIMEOUT, now)
        {
            let sent = self.announce_burst(now);
            // The early bursts count this one.
            self.early_announce.burst(now, sent);
        }
    }

    /// Whether we count as announced (c-toxcore `onion_isconnected`).
    fn onion_is_connected(&mut self, now: Instant) -> bool {
        if expired(self.last_packet_recv, ONION_OFFLINE_TIMEOUT, now) || self.path_nodes.is_empty()
        {
            self.last_populated = None;
            return false;
        }
        let num = self.announce_list.alive(now).count();
        let announced = self
            .announce_list
            .alive(now)
            .filter(|n| n.is_stored != 0)
            .count();
        let pnodes = self.path_nodes.added().min(MAX_ONION_CLIENTS_ANNOUNCE);
        if num != 0 && announced != 0 && num / 2 <= announced && pnodes / 2 <= num {
            return true;
        }
        self.last_populated = None;
        false
    }

    /// Searches for one friend and sends them our DHT key (c-toxcore
    /// `do_friend`).
    fn do_friend(&mut self, now: Instant, friend_pk: &PublicKey, dht: &mut Dht) {
        let Some(friend) = find_friend(&self.friends, friend_pk) else {
            return;
        };
        if friend.is_online {
            return;
        }
        let friend_is_new = friend.run_count <= ANNOUNCE_FRIEND_RUN_COUNT_BEGINNING;
        let interval = if friend_is_new {
            ANNOUNCE_FRIEND_NEW_INTERVAL
        } else {
            let exponent = friend
                .run_count
                .saturating_sub(2)
                .min(MAX_RUN_COUNT_EXPONENT);
            (1u64 << exponent).clamp(ANNOUNCE_FRIEND_NEW_INTERVAL, ANNOUNCE_FRIEND_MAX_INTERVAL)
        };
        if expired(
            friend.last_dht_pk_onion_sent,
            ONION_DHTPK_SEND_INTERVAL,
            now,
        ) {
            self.send_dht_pk_onion(now, friend_pk, false, dht);
        }
        let due_dht = self
            .friends
            .iter()
            .find(|f| f.real_pk == *friend_pk)
            .is_some_and(|f| expired(f.last_dht_pk_dht_sent, DHT_DHTPK_SEND_INTERVAL, now));
        if due_dht && self.send_dht_pk_via_dht(now, friend_pk, dht) >= 1 {
            if let Some(f) = find_friend_mut(&mut self.friends, friend_pk) {
                f.last_dht_pk_dht_sent = Some(now);
            }
        }
        let Some(friend) = find_friend_mut(&mut self.friends, friend_pk) else {
            return;
        };
        let mut count = 0;
        let mut to_ask = Vec::new();
        let spacing = interval / (MAX_ONION_CLIENTS as u64 / 2);
        let mut time_last_pinged = friend.time_last_pinged;
        for node in friend.clients.alive_mut(now) {
            count += 1;
            if node.last_pinged == Pinged::Never {
                node.last_pinged = Pinged::At(now);
                continue;
            }
            if node.pings_since_last_response >= nodes::NODE_MAX_PINGS
                || !expired(time_last_pinged, spacing, now)
                || !expired(node.last_pinged.as_time(), interval, now)
            {
                continue;
            }
            to_ask.push(PackedNode::udp(node.addr, node.public_key));
            // Optimistically counted as sent, as the next node's spacing
            // check must see it (c-toxcore updates in the loop).
            time_last_pinged = Some(now);
        }
        let target = Target::Friend(*friend_pk);
        for node in to_ask {
            if self.send_announce_request(now, target, node, None, None) {
                if let Some(friend) = find_friend_mut(&mut self.friends, friend_pk) {
                    friend.clients.mark_pinged(now, &node.public_key);
                    friend.time_last_pinged = Some(now);
                    friend.pings += 1;
                    if friend.pings % (MAX_ONION_CLIENTS as u32 / 2) == 0 {
                        friend.run_count += 1;
                    }
                }
            }
        }
        let Some(friend) = find_friend_mut(&mut self.friends, friend_pk) else {
            return;
        };
        if count == MAX_ONION_CLIENTS {
            if !friend_is_new {
                friend.last_populated = Some(now);
            }
            return;
        }
        if count <= MAX_ONION_CLIENTS / 2
            || expired(friend.last_populated, ANNOUNCE_POPULATE_TIMEOUT, now)
        {
            let n = self.path_nodes.len().min(nodes::MAX_PATH_NODES / 4);
            if n == 0 {
                return;
            }
            friend.last_populated = Some(now);
            // A node already in the list is asked on its own schedule.
            let mut picks = self.path_nodes.random_distinct(&mut self.rng, n);
            picks.retain(|p| friend.clients.get(now, &p.public_key).is_none());
            for node in picks {
                self.send_announce_request(now, target, node, None, None);
            }
        }
    }

    /// Sends the friend requests that are due (c-toxcore's Messenger
    /// resends them with a doubling timeout until the friend connects).
    fn do_friend_requests(&mut self, now: Instant) {
        let due: Vec<(PublicKey, Vec<u8>)> = self
            .friends
            .iter()
            .filter_map(|f| {
                let request = f.request.as_ref().filter(|r| now >= r.next_send)?;
                let packet = FriendRequest(FriendRequestPayload {
                    nospam: request.nospam,
                    message: request.message.clone(),
                });
                Some((f.real_pk, packet.to_bytes()))
            })
            .collect();
        for (pk, packet) in due {
            if !self.send_onion_data(now, &pk, &packet, &[]).is_empty() {
                if let Some(request) =
                    find_friend_mut(&mut self.friends, &pk).and_then(|f| f.request.as_mut())
                {
                    request.next_send = now + request.backoff;
                    request.backoff = request.backoff.saturating_mul(2);
                }
            }
        }
    }
}

/// The friend with real key `real_pk`. Free functions rather than methods
/// so that they borrow the friend list alone, next to other fields.
fn find_friend<'a>(friends: &'a [Friend], real_pk: &PublicKey) -> Option<&'a Friend> {
    friends.iter().find(|f| f.real_pk == *real_pk)
}

/// [`find_friend`], mutably.
fn find_friend_mut<'a>(friends: &'a mut [Friend], real_pk: &PublicKey) -> Option<&'a mut Friend> {
    friends.iter_mut().find(|f| f.real_pk == *real_pk)
}

/// Where the friend with real key `real_pk` is in the list.
fn friend_position(friends: &[Friend], real_pk: &PublicKey) -> Option<usize> {
    friends.iter().position(|f| f.real_pk == *real_pk)
}

/// The path nodes with hop A replaced by a random one of `relays` when
/// paths must start at a TCP relay (c-toxcore `random_nodes_path_onion`
/// without a DHT connection); `None` if there is none to start at.
fn tcp_first_hop<R: CryptoRng + ?Sized>(
    rng: &mut R,
    nodes: [PackedNode; 3],
    relays: Option<&[PackedNode]>,
) -> Option<[PackedNode; 3]> {
    let Some(relays) = relays else {
        return Some(nodes);
    };
    let count = u32::try_from(relays.len()).ok().filter(|n| *n > 0)?;
    let relay = *relays.get((rng.next_u32() % count) as usize)?;
    let [_, b, c] = nodes;
    Some([relay, b, c])
}
