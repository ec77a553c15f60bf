//! The net_crypto layer of one Tox instance: every connection, the
//! stateless cookie responder, and the dispatch of datagrams to them,
//! shaped like the DHT (quinn-proto's `Endpoint`): datagrams and time in,
//! [`Transmit`]s and [`Event`]s out.
//!
//! Routing follows c-toxcore (`udp_handle_packet`, `tcp_data_callback`,
//! `tcp_oob_callback`): cookie requests are answered for anyone,
//! statelessly, the way they came; any other packet goes to the connection
//! bound to the address it came from, or, through a TCP relay
//! ([`Path::Tcp`]), to the connection with the sender's DHT key (the relay
//! authenticated it); from an unknown address
//! only a handshake is considered, and only from a peer we expect
//! ([`NetCrypto::accept_from`] or [`NetCrypto::connect`]). A handshake
//! names its sender's real key inside our own cookie, which opens without
//! a Diffie-Hellman, so a handshake from anyone else is refused before
//! any public-key work.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{Encode, KeyPair, Nonce, PublicKey, SymmetricKey};
use toxide_dht::rate_limit::{RateLimit, RateLimiter};
use toxide_dht::shared_keys::{IncomingKeyError, SharedKeyCache};

use crate::connection::{CookieRequesting, HandshakeSent, Keys, NotConfirmed, State};
use crate::lossless::{Priority, SendError};
use crate::packet::{
    Cookie, CookieContents, CookieRequest, CookieResponse, CookieResponsePayload, CryptoData,
    CryptoHandshake, HandshakePayload, NetCryptoPacketError, Packet, PacketIdKind,
};
use crate::path::{Path, Transmit, UDP_DIRECT_TIMEOUT};
use crate::session::{DataError, Received};

/// Data packets shorter than this are also tried over UDP while data goes
/// through relays (c-toxcore's figure in `send_packet_to`).
const UDP_PROBE_MAX_LEN: usize = 96;

/// Shared keys with other nodes' DHT keys cached for cookie requests.
const COOKIE_SHARED_KEYS: usize = 256;

/// A connection's handle, stable for its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u32);

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent a kill packet (it deleted us or went offline).
    Killed,
    /// The cookie or handshake went unanswered
    /// ([`crate::packet::MAX_NUM_SENDPACKET_TRIES`] sends).
    TimedOut,
    /// The peer came back with a new DHT key (it restarted); a new
    /// connection follows if its handshake was acceptable.
    PeerRestarted,
}

/// What the layer tells the layer above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An expected peer opened a connection to us.
    Accepted {
        /// The new connection.
        id: ConnectionId,
        /// The peer's long-term key.
        real_pk: PublicKey,
        /// The peer's DHT key, from our cookie.
        dht_pk: PublicKey,
    },
    /// The first data packet arrived: the session is up.
    Established {
        /// Which connection.
        id: ConnectionId,
    },
    /// The connection is gone; its id will not be used again.
    Closed {
        /// Which connection.
        id: ConnectionId,
        /// The peer's long-term key.
        real_pk: PublicKey,
        /// Why.
        reason: CloseReason,
    },
    /// A lossless packet, in order (packet id first).
    Lossless {
        /// Which connection.
        id: ConnectionId,
        /// Packet id, then data.
        data: Bytes,
    },
    /// A lossy packet (packet id first); may repeat or go missing.
    Lossy {
        /// Which connection.
        id: ConnectionId,
        /// Packet id, then data.
        data: Bytes,
    },
    /// The peer has every lossless packet numbered below `buffer_start`:
    /// what read receipts and file completion are built on.
    Acked {
        /// Which connection.
        id: ConnectionId,
        /// The new acknowledgement point.
        buffer_start: u32,
    },
    /// A valid handshake named another DHT key for this peer, before the
    /// session was up (c-toxcore's `dht_pk_callback`): the peer may have
    /// restarted; the layer above decides.
    PeerDhtKey {
        /// Which connection.
        id: ConnectionId,
        /// The DHT key the handshake named.
        dht_pk: PublicKey,
    },
}

/// Where a connection stands, for the layer above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Handshaking.
    Connecting,
    /// Session keys known, waiting for the first data packet.
    NotConfirmed,
    /// Data flows.
    Established,
}

/// Why a packet could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendPacketError {
    /// No such connection.
    #[error("no such connection")]
    NoConnection,
    /// The session is not up yet.
    #[error("the connection is not established")]
    NotEstablished,
    /// The packet id is not in the lossless (16–191) or lossy (192–254)
    /// range this call needs.
    #[error("packet id {0} is not allowed here")]
    WrongPacketId(u8),
    /// Empty or over 1373 bytes, or the queue is full.
    #[error(transparent)]
    Queue(#[from] SendError),
}

/// What the layer did and dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to the layer.
    pub received: u64,
    /// Cookie requests answered.
    pub cookie_requests_answered: u64,
    /// Connections that reached [`Status::Established`].
    pub established: u64,
    /// Dropped: wrong size or id.
    pub dropped_malformed: u64,
    /// Dropped: a box did not open.
    pub dropped_undecryptable: u64,
    /// Dropped: not a handshake, from an address with no connection.
    pub dropped_unknown_source: u64,
    /// Dropped: a handshake from a peer nobody expects.
    pub dropped_unexpected_peer: u64,
    /// Dropped: a cookie too old, or not ours.
    pub dropped_bad_cookie: u64,
    /// Dropped: a packet the connection's state has no use for.
    pub dropped_wrong_state: u64,
    /// Dropped: the source host exceeded its budget.
    pub dropped_rate_limited: u64,
    /// Dropped: no budget left to compute a new shared key.
    pub dropped_key_budget: u64,
    /// Dropped: a low-order key.
    pub dropped_low_order_key: u64,
    /// Dropped: a data packet with a bad acknowledgement, number or id.
    pub dropped_bad_data: u64,
}

#[derive(Debug)]
struct Connection {
    keys: Keys,
    state: State,
    /// The peer's direct address, if known.
    udp: Option<SocketAddr>,
    /// When a packet of the connection last arrived over UDP and was
    /// accepted (c-toxcore `direct_lastrecv_time`).
    udp_recv: Option<Instant>,
    /// Whether the peer can be reached through our TCP relays (the stack
    /// says so, or the peer's packets came that way).
    tcp: bool,
    /// When a data packet last went over UDP as a probe while data goes
    /// through relays.
    udp_probe_at: Option<Instant>,
}

impl Connection {
    fn new(keys: Keys, state: State) -> Self {
        Self {
            keys,
            state,
            udp: None,
            udp_recv: None,
            tcp: false,
            udp_probe_at: None,
        }
    }

    /// Whether direct UDP works: something arrived over it within
    /// [`UDP_DIRECT_TIMEOUT`] (c-toxcore `crypto_connection_status`).
    fn udp_alive(&self, now: Instant) -> bool {
        self.udp.is_some()
            && self
                .udp_recv
                .is_some_and(|t| now.saturating_duration_since(t) < UDP_DIRECT_TIMEOUT)
    }

    /// While data goes through relays, a small packet (under
    /// [`UDP_PROBE_MAX_LEN`]) is also sent over UDP every half
    /// [`UDP_DIRECT_TIMEOUT`], if an address is known: when it gets
    /// through, the peer answers over UDP and the session moves back to
    /// the direct path (c-toxcore `send_packet_to`).
    fn udp_probe(&mut self, now: Instant, path: Path, len: usize) -> Option<Path> {
        let addr = self.udp?;
        let due = self
            .udp_probe_at
            .is_none_or(|t| now.saturating_duration_since(t) >= UDP_DIRECT_TIMEOUT / 2);
        if !matches!(path, Path::Tcp(_)) || len >= UDP_PROBE_MAX_LEN || !due {
            return None;
        }
        self.udp_probe_at = Some(now);
        Some(Path::Udp(addr))
    }

    /// Whether anything can be sent at all.
    fn has_route(&self) -> bool {
        self.udp.is_some() || self.tcp
    }

    /// Where data goes (c-toxcore `send_packet_to`): direct UDP while it
    /// works, else the relays if the peer is there, else UDP anyway (the
    /// only way there is; before relays this was the only rule).
    fn data_path(&self, now: Instant) -> Option<Path> {
        let udp = self.udp.map(Path::Udp);
        if self.udp_alive(now) {
            udp
        } else if self.tcp {
            Some(Path::Tcp(self.keys.dht_pk))
        } else {
            udp
        }
    }

    /// Where cookie requests and handshakes go: as data, but while data
    /// goes through relays they also go over UDP if an address is known,
    /// which is how a direct path is found again (checklist N15).
    fn handshake_paths(&self, now: Instant) -> [Option<Path>; 2] {
        let udp = self.udp.map(Path::Udp);
        if self.udp_alive(now) || !self.tcp {
            [udp, None]
        } else {
            [udp, Some(Path::Tcp(self.keys.dht_pk))]
        }
    }
}

/// The net_crypto layer.
#[derive(Debug)]
pub struct NetCrypto {
    real: KeyPair,
    dht: KeyPair,
    cookie_key: SymmetricKey,
    rng: ChaCha20Rng,
    start: Instant,
    /// The latest time an input brought: what calls without a clock
    /// ([`NetCrypto::kill`]) choose a path by.
    clock: Instant,
    dht_keys: SharedKeyCache,
    limiter: Option<RateLimiter>,
    /// Ordered, so timers and sending visit connections in the same order
    /// every run (a seed replays a simulation exactly).
    connections: BTreeMap<ConnectionId, Connection>,
    by_real: HashMap<PublicKey, ConnectionId>,
    by_addr: HashMap<SocketAddr, ConnectionId>,
    /// Connections by the peer's DHT key: what packets from the relays
    /// ([`Path::Tcp`]) are matched on.
    by_dht: HashMap<PublicKey, ConnectionId>,
    accepted: HashSet<PublicKey>,
    next_id: u32,
    /// Where [`NetCrypto::poll_transmit`] resumes, so sessions share the
    /// link in turn.
    cursor: u32,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl NetCrypto {
    /// The layer of an instance with long-term keys `real` and DHT keys
    /// `dht`; `rate_limit` budgets cookie requests per host (and new DHT
    /// shared keys globally), as the DHT budgets its requests; `seed`
    /// drives all randomness.
    pub fn new(
        real: KeyPair,
        dht: KeyPair,
        rate_limit: Option<RateLimit>,
        now: Instant,
        seed: [u8; 32],
    ) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        Self {
            real,
            dht,
            cookie_key: SymmetricKey::generate(&mut rng),
            rng,
            start: now,
            clock: now,
            dht_keys: match rate_limit {
                Some(limit) => {
                    SharedKeyCache::with_budget(COOKIE_SHARED_KEYS, limit.new_keys_per_second)
                }
                None => SharedKeyCache::new(COOKIE_SHARED_KEYS),
            },
            limiter: rate_limit.map(RateLimiter::new),
            connections: BTreeMap::new(),
            by_real: HashMap::new(),
            by_addr: HashMap::new(),
            by_dht: HashMap::new(),
            accepted: HashSet::new(),
            next_id: 0,
            cursor: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Our long-term key.
    pub fn public_key(&self) -> PublicKey {
        self.real.public
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Seconds on the layer's clock: cookies carry them.
    fn secs(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs()
    }

    // ----- what the layer above asks -----------------------------------

    /// Accepts connections opened by `real_pk` (a friend).
    pub fn accept_from(&mut self, real_pk: PublicKey) {
        self.accepted.insert(real_pk);
    }

    /// Stops accepting connections from `real_pk`; an existing one stays
    /// until [`NetCrypto::kill`].
    pub fn refuse(&mut self, real_pk: &PublicKey) {
        self.accepted.remove(real_pk);
    }

    /// Opens a connection to the peer with long-term key `real_pk` whose
    /// DHT key is `dht_pk` (or returns the one that exists). Nothing is
    /// sent until [`NetCrypto::set_direct_addr`] gives a way there.
    /// `None` if a key is a low-order point.
    pub fn connect(&mut self, real_pk: PublicKey, dht_pk: PublicKey) -> Option<ConnectionId> {
        if let Some(id) = self.by_real.get(&real_pk) {
            return Some(*id);
        }
        let keys = Keys::new(&mut self.rng, &self.real, real_pk, dht_pk)?;
        let requesting = CookieRequesting::new(&mut self.rng, &self.real.public, &self.dht, &keys)?;
        self.accepted.insert(real_pk);
        Some(self.insert(keys, State::CookieRequesting(requesting), None))
    }

    fn insert(&mut self, keys: Keys, state: State, path: Option<Path>) -> ConnectionId {
        let id = ConnectionId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.by_real.insert(keys.real_pk, id);
        self.by_dht.insert(keys.dht_pk, id);
        self.connections.insert(id, Connection::new(keys, state));
        if let Some(path) = path {
            self.set_path(id, path);
        }
        id
    }

    /// The peer of `id` is reachable directly at `addr` (the DHT found
    /// it): packets go there, and packets from there are the peer's.
    pub fn set_direct_addr(&mut self, id: ConnectionId, addr: SocketAddr) {
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        if let Some(old) = conn.udp.replace(addr) {
            if old != addr {
                conn.udp_recv = None;
                self.by_addr.remove(&old);
            }
        }
        self.by_addr.insert(addr, id);
    }

    /// Whether the peer of `id` can be reached through our TCP relays
    /// (the relay layer has a link or a registration for its DHT key on
    /// one of them): while direct UDP does not work, packets go there.
    pub fn set_tcp(&mut self, id: ConnectionId, reachable: bool) {
        if let Some(conn) = self.connections.get_mut(&id) {
            conn.tcp = reachable;
        }
    }

    /// Whether `id`'s packets have come over UDP lately, so data goes
    /// direct (c-toxcore's `direct_connected`): its relay links may sleep.
    pub fn is_direct(&self, now: Instant, id: ConnectionId) -> bool {
        self.connections
            .get(&id)
            .is_some_and(|conn| conn.udp_alive(now))
    }

    /// The way data to `id` leaves now (see [`Path`]), if any.
    pub fn data_path(&self, now: Instant, id: ConnectionId) -> Option<Path> {
        self.connections.get(&id)?.data_path(now)
    }

    /// Where `id` stands, if it exists.
    pub fn status(&self, id: ConnectionId) -> Option<Status> {
        Some(match self.connections.get(&id)?.state {
            State::CookieRequesting(_) | State::HandshakeSent(_) => Status::Connecting,
            State::NotConfirmed(_) => Status::NotConfirmed,
            State::Established(_) => Status::Established,
        })
    }

    /// The connection to `real_pk`, if any.
    pub fn connection_to(&self, real_pk: &PublicKey) -> Option<ConnectionId> {
        self.by_real.get(real_pk).copied()
    }

    /// Sends a lossless packet (id 16–191 first): it is numbered now and
    /// leaves before any bulk data; returns its number, which a later
    /// [`Event::Acked`] passing it confirms (read receipts).
    pub fn send_lossless(&mut self, id: ConnectionId, data: Bytes) -> Result<u32, SendPacketError> {
        let session = self.established_session(id, &data, false)?;
        Ok(session.push_control(data)?)
    }

    /// Queues bulk lossless data (file chunks): it leaves as congestion
    /// control allows, after control packets.
    pub fn send_bulk(&mut self, id: ConnectionId, data: Bytes) -> Result<(), SendPacketError> {
        let session = self.established_session(id, &data, false)?;
        Ok(session.queue_lossless(Priority::Bulk, data)?)
    }

    /// Room for bulk packets on `id` now (0 if none or no session).
    pub fn bulk_space(&self, id: ConnectionId) -> usize {
        self.connections
            .get(&id)
            .and_then(|c| c.state.session())
            .map_or(0, |s| s.free_space(Priority::Bulk))
    }

    /// Bulk packets queued on `id` by [`NetCrypto::send_bulk`] and not
    /// numbered yet (0 if none or no session). They are numbered first
    /// in, first out, so a caller that counts its own bulk sends knows
    /// from this which of them have a number by now.
    pub fn bulk_waiting(&self, id: ConnectionId) -> usize {
        self.connections
            .get(&id)
            .and_then(|c| c.state.session())
            .map_or(0, |s| s.bulk_waiting())
    }

    /// The number the next lossless packet on `id` will get: every packet
    /// numbered so far, bulk included, is below it. Once a caller's last
    /// bulk packet has a number ([`NetCrypto::bulk_waiting`]), an
    /// [`Event::Acked`] whose `buffer_start` reaches this confirms it
    /// arrived (how the messenger knows a file was received whole).
    /// `None` without a session.
    pub fn next_number(&self, id: ConnectionId) -> Option<u32> {
        self.connections
            .get(&id)?
            .state
            .session()
            .map(|s| s.next_number())
    }

    /// Sends a lossy packet (id 192–254 first) at once.
    pub fn send_lossy(&mut self, id: ConnectionId, data: &[u8]) -> Result<(), SendPacketError> {
        let bytes = Bytes::copy_from_slice(data);
        self.established_session(id, &bytes, true)?;
        let Some(conn) = self.connections.get_mut(&id) else {
            return Err(SendPacketError::NoConnection);
        };
        let path = conn.data_path(self.clock);
        let (Some(path), Some(session)) = (path, conn.state.session_mut()) else {
            return Err(SendPacketError::NotEstablished);
        };
        if let Some(payload) = session.seal_lossy(data) {
            self.transmits.push_back(Transmit { path, payload });
        }
        Ok(())
    }

    fn established_session(
        &mut self,
        id: ConnectionId,
        data: &Bytes,
        lossy: bool,
    ) -> Result<&mut crate::session::Session, SendPacketError> {
        let packet_id = data.first().copied().unwrap_or(0);
        let kind = PacketIdKind::of(packet_id);
        let allowed = if lossy {
            matches!(kind, PacketIdKind::LossyAv | PacketIdKind::CustomLossy)
        } else {
            kind.is_lossless()
        };
        if !allowed {
            return Err(SendPacketError::WrongPacketId(packet_id));
        }
        match self.connections.get_mut(&id) {
            None => Err(SendPacketError::NoConnection),
            Some(conn) => match &mut conn.state {
                State::Established(session) => Ok(session),
                _ => Err(SendPacketError::NotEstablished),
            },
        }
    }

    /// Ends a connection: a kill packet tells the peer at once (N12).
    pub fn kill(&mut self, id: ConnectionId) {
        let now = self.clock;
        let Some(mut conn) = self.remove(id) else {
            return;
        };
        if let (Some(path), Some(session)) = (conn.data_path(now), conn.state.session_mut()) {
            if let Some(payload) = session.seal_kill() {
                self.transmits.push_back(Transmit { path, payload });
            }
        }
    }

    fn remove(&mut self, id: ConnectionId) -> Option<Connection> {
        let conn = self.connections.remove(&id)?;
        self.by_real.remove(&conn.keys.real_pk);
        if self.by_dht.get(&conn.keys.dht_pk) == Some(&id) {
            self.by_dht.remove(&conn.keys.dht_pk);
        }
        if let Some(addr) = conn.udp {
            if self.by_addr.get(&addr) == Some(&id) {
                self.by_addr.remove(&addr);
            }
        }
        Some(conn)
    }

    fn close(&mut self, id: ConnectionId, reason: CloseReason) {
        if let Some(conn) = self.remove(id) {
            self.events.push_back(Event::Closed {
                id,
                real_pk: conn.keys.real_pk,
                reason,
            });
        }
    }

    // ----- input ----------------------------------------------------------

    /// Handles one datagram whose first byte is a net_crypto id
    /// ([`crate::packet::PACKET_IDS`]) that came by `path`.
    pub fn handle_datagram(&mut self, now: Instant, path: Path, bytes: &[u8]) {
        self.stats.received += 1;
        self.clock = self.clock.max(now);
        let packet = match Packet::decode(bytes) {
            Ok(packet) => packet,
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        if let Packet::CookieRequest(request) = packet {
            return self.on_cookie_request(now, path, &request);
        }
        let known = match path {
            Path::Udp(from) => self.by_addr.get(&from),
            Path::Tcp(dht_pk) => self.by_dht.get(&dht_pk),
        };
        let Some(&id) = known else {
            match packet {
                Packet::CryptoHandshake(handshake) => self.on_new_handshake(now, path, &handshake),
                _ => self.stats.dropped_unknown_source += 1,
            }
            return;
        };
        let accepted = match packet {
            Packet::CookieResponse(response) => self.on_cookie_response(now, id, &response),
            Packet::CryptoHandshake(handshake) => self.on_handshake(now, id, path, &handshake),
            Packet::CryptoData(data) => self.on_data(now, id, &data),
            Packet::CookieRequest(_) => false,
        };
        if accepted {
            self.arrived(now, id, path);
        }
    }

    /// A packet of `id` that came by `path` was accepted: UDP counts as
    /// working from now ([`UDP_DIRECT_TIMEOUT`]), and a peer whose packets
    /// come through relays can be answered there.
    fn arrived(&mut self, now: Instant, id: ConnectionId, path: Path) {
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        match path {
            Path::Udp(from) if conn.udp == Some(from) => conn.udp_recv = Some(now),
            Path::Udp(_) => {}
            Path::Tcp(_) => conn.tcp = true,
        }
    }

    fn count(&mut self, error: &NetCryptoPacketError) {
        let stats = &mut self.stats;
        let counter = match error {
            NetCryptoPacketError::Crypto(toxide_core::CryptoError::LowOrderKey) => {
                &mut stats.dropped_low_order_key
            }
            NetCryptoPacketError::Crypto(_) => &mut stats.dropped_undecryptable,
            NetCryptoPacketError::CookieExpired => &mut stats.dropped_bad_cookie,
            _ => &mut stats.dropped_malformed,
        };
        *counter += 1;
    }

    /// Stateless: a cookie binding the requester's real and DHT keys to
    /// now, under our secret key, sent back the way the request came.
    ///
    /// Requests through a relay are not rate limited per host: the relay
    /// authenticated their sender, and its own queues bound them.
    fn on_cookie_request(&mut self, now: Instant, path: Path, request: &CookieRequest) {
        let from = match path {
            Path::Udp(from) => Some(from),
            Path::Tcp(_) => None,
        };
        if let (Some(limiter), Some(from)) = (&mut self.limiter, &from) {
            if !limiter.has_budget(now, from) {
                self.stats.dropped_rate_limited += 1;
                return;
            }
        }
        let shared = match self
            .dht_keys
            .get_incoming(now, &request.sender_dht_pk, &self.dht.secret)
        {
            Ok(shared) => shared,
            Err(IncomingKeyError::OverBudget) => {
                self.stats.dropped_key_budget += 1;
                return;
            }
            Err(IncomingKeyError::Crypto(_)) => {
                self.stats.dropped_low_order_key += 1;
                return;
            }
        };
        let payload = match request.open(&shared) {
            Ok(payload) => payload,
            Err(error) => return self.count(&error),
        };
        if let (Some(limiter), Some(from)) = (&mut self.limiter, &from) {
            limiter.charge(now, from);
        }
        let contents = CookieContents {
            time: self.secs(now),
            real_pk: payload.real_pk,
            dht_pk: request.sender_dht_pk,
        };
        let cookie =
            crate::packet::Cookie::seal(&self.cookie_key, Nonce::random(&mut self.rng), &contents);
        let response = CookieResponse::new(
            &shared,
            Nonce::random(&mut self.rng),
            &CookieResponsePayload {
                cookie,
                echo_id: payload.echo_id,
            },
        );
        self.stats.cookie_requests_answered += 1;
        self.transmits.push_back(Transmit {
            path,
            payload: response.to_bytes(),
        });
    }

    fn on_cookie_response(
        &mut self,
        now: Instant,
        id: ConnectionId,
        response: &CookieResponse,
    ) -> bool {
        let secs = self.secs(now);
        let Some(conn) = self.connections.get_mut(&id) else {
            return false;
        };
        let State::CookieRequesting(requesting) = &conn.state else {
            self.stats.dropped_wrong_state += 1;
            return false;
        };
        match requesting.on_cookie_response(
            &mut self.rng,
            &self.cookie_key,
            now,
            secs,
            &conn.keys,
            response,
        ) {
            Ok(sent) => {
                conn.state = State::HandshakeSent(sent);
                true
            }
            Err(error) => {
                self.count(&error);
                false
            }
        }
    }

    /// Opens a handshake: our cookie first (symmetric, cheap), then, only
    /// for an expected peer, the box under the real keys.
    fn open_handshake(
        &mut self,
        now: Instant,
        handshake: &CryptoHandshake,
    ) -> Option<(CookieContents, HandshakePayload, Option<Keys>)> {
        let contents = match handshake
            .cookie
            .open_fresh(&self.cookie_key, self.secs(now))
        {
            Ok(contents) => contents,
            Err(_) => {
                self.stats.dropped_bad_cookie += 1;
                return None;
            }
        };
        let existing = self.by_real.get(&contents.real_pk).copied();
        if existing.is_none() && !self.accepted.contains(&contents.real_pk) {
            self.stats.dropped_unexpected_peer += 1;
            return None;
        }
        let (payload, fresh_keys) = match existing.and_then(|id| self.connections.get(&id)) {
            Some(conn) => (handshake.open(&conn.keys.shared_real), None),
            None => {
                let Some(keys) =
                    Keys::new(&mut self.rng, &self.real, contents.real_pk, contents.dht_pk)
                else {
                    self.stats.dropped_low_order_key += 1;
                    return None;
                };
                (handshake.open(&keys.shared_real), Some(keys))
            }
        };
        match payload {
            Ok(payload) => Some((contents, payload, fresh_keys)),
            Err(error) => {
                self.count(&error);
                None
            }
        }
    }

    /// A handshake from an address no connection is bound to
    /// (c-toxcore `handle_new_connection_handshake`).
    fn on_new_handshake(&mut self, now: Instant, path: Path, handshake: &CryptoHandshake) {
        let Some((contents, payload, fresh_keys)) = self.open_handshake(now, handshake) else {
            return;
        };
        if let Some(&id) = self.by_real.get(&contents.real_pk) {
            let same_dht = self
                .connections
                .get(&id)
                .is_some_and(|c| c.keys.dht_pk == contents.dht_pk);
            if !same_dht {
                self.close(id, CloseReason::PeerRestarted);
                return self.accept(now, path, contents, &payload, None);
            }
            // The peer we are opening to answered from a new address.
            return self.adopt(now, id, path, &payload, &handshake.cookie);
        }
        self.accept(now, path, contents, &payload, fresh_keys);
    }

    /// An expected peer's handshake without a connection: answer it and
    /// wait for data.
    fn accept(
        &mut self,
        now: Instant,
        path: Path,
        contents: CookieContents,
        payload: &HandshakePayload,
        keys: Option<Keys>,
    ) {
        let keys = match keys {
            Some(keys) => keys,
            None => match Keys::new(&mut self.rng, &self.real, contents.real_pk, contents.dht_pk) {
                Some(keys) => keys,
                None => return,
            },
        };
        let secs = self.secs(now);
        let Some(state) =
            NotConfirmed::accept(&mut self.rng, &self.cookie_key, now, secs, &keys, payload)
        else {
            self.stats.dropped_low_order_key += 1;
            return;
        };
        let id = self.insert(keys, State::NotConfirmed(state), Some(path));
        self.events.push_back(Event::Accepted {
            id,
            real_pk: contents.real_pk,
            dht_pk: contents.dht_pk,
        });
        self.flush_resend(now, id);
    }

    /// A handshake for a connection of ours that is still handshaking.
    fn adopt(
        &mut self,
        now: Instant,
        id: ConnectionId,
        path: Path,
        payload: &HandshakePayload,
        answered: &Cookie,
    ) {
        self.set_path(id, path);
        self.advance(now, id, payload, answered);
    }

    fn set_path(&mut self, id: ConnectionId, path: Path) {
        match path {
            Path::Udp(addr) => self.set_direct_addr(id, addr),
            Path::Tcp(_) => self.set_tcp(id, true),
        }
    }

    /// A handshake from the address of connection `id`
    /// (c-toxcore `handle_packet_crypto_hs`).
    fn on_handshake(
        &mut self,
        now: Instant,
        id: ConnectionId,
        path: Path,
        handshake: &CryptoHandshake,
    ) -> bool {
        let Some((contents, payload, _)) = self.open_handshake(now, handshake) else {
            return false;
        };
        let Some(conn) = self.connections.get(&id) else {
            return false;
        };
        if contents.real_pk != conn.keys.real_pk {
            // Another peer at this address: treat it as a new one.
            self.on_new_handshake(now, path, handshake);
            return false;
        }
        if contents.dht_pk != conn.keys.dht_pk {
            if matches!(conn.state, State::Established(_)) {
                // The peer restarted: the old session is over.
                self.close(id, CloseReason::PeerRestarted);
                self.accept(now, path, contents, &payload, None);
                return false;
            }
            self.events.push_back(Event::PeerDhtKey {
                id,
                dht_pk: contents.dht_pk,
            });
            return false;
        }
        self.advance(now, id, &payload, &handshake.cookie);
        true
    }

    /// Moves a handshaking connection on with the peer's handshake, which
    /// returned our cookie `answered`.
    fn advance(
        &mut self,
        now: Instant,
        id: ConnectionId,
        payload: &HandshakePayload,
        answered: &Cookie,
    ) {
        let secs = self.secs(now);
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        let state = std::mem::replace(
            &mut conn.state,
            State::HandshakeSent(HandshakeSent::placeholder()),
        );
        conn.state = match state {
            State::CookieRequesting(requesting) => match requesting.on_handshake(
                &mut self.rng,
                &self.cookie_key,
                now,
                secs,
                &conn.keys,
                payload,
            ) {
                Some(next) => State::NotConfirmed(next),
                None => State::CookieRequesting(requesting),
            },
            State::HandshakeSent(sent) => {
                match sent.on_handshake(now, &conn.keys, payload, answered) {
                    Ok(next) => State::NotConfirmed(next),
                    Err(sent) => State::HandshakeSent(sent),
                }
            }
            State::NotConfirmed(waiting) => {
                State::NotConfirmed(waiting.on_handshake(now, &conn.keys, payload))
            }
            established @ State::Established(_) => {
                self.stats.dropped_wrong_state += 1;
                established
            }
        };
        self.flush_resend(now, id);
    }

    fn on_data(&mut self, now: Instant, id: ConnectionId, packet: &CryptoData) -> bool {
        let Some(conn) = self.connections.get_mut(&id) else {
            return false;
        };
        let Some(session) = conn.state.session_mut() else {
            self.stats.dropped_wrong_state += 1;
            return false;
        };
        let received = match session.receive(now, packet, true) {
            Ok(received) => received,
            Err(DataError::Packet(error)) => {
                self.count(&error);
                return false;
            }
            Err(_) => {
                self.stats.dropped_bad_data += 1;
                return false;
            }
        };
        if let State::NotConfirmed(_) = conn.state {
            if !matches!(received, Received::Killed) {
                let state = std::mem::replace(
                    &mut conn.state,
                    State::HandshakeSent(HandshakeSent::placeholder()),
                );
                if let State::NotConfirmed(waiting) = state {
                    conn.state = State::Established(waiting.confirm(now));
                }
                self.stats.established += 1;
                self.events.push_back(Event::Established { id });
            }
        }
        match received {
            Received::Killed => self.close(id, CloseReason::Killed),
            Received::Data {
                lossless,
                lossy,
                acked,
            } => {
                if let Some(buffer_start) = acked {
                    self.events.push_back(Event::Acked { id, buffer_start });
                }
                for data in lossless {
                    self.events.push_back(Event::Lossless { id, data });
                }
                if let Some(data) = lossy {
                    self.events.push_back(Event::Lossy { id, data });
                }
            }
        }
        true
    }

    // ----- time and output ------------------------------------------------

    /// Sends the state's resent packet if it is due.
    fn flush_resend(&mut self, now: Instant, id: ConnectionId) {
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        let [first, second] = conn.handshake_paths(now);
        let Some(first) = first.or(second) else {
            return;
        };
        let second = second.filter(|p| *p != first);
        if let Some(payload) = conn.state.resend_mut().and_then(|r| r.poll(now)) {
            if let Some(path) = second {
                self.transmits.push_back(Transmit {
                    path,
                    payload: payload.clone(),
                });
            }
            self.transmits.push_back(Transmit {
                path: first,
                payload,
            });
        }
    }

    /// Resends cookie requests and handshakes every second and drops
    /// connections whose handshake went unanswered (c-toxcore
    /// `kill_timedout`, `send_crypto_packets`).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = self.clock.max(now);
        let ids: Vec<ConnectionId> = self.connections.keys().copied().collect();
        for id in ids {
            let exhausted = self
                .connections
                .get(&id)
                .and_then(|c| c.state.resend())
                .is_some_and(|r| r.exhausted());
            if exhausted {
                self.close(id, CloseReason::TimedOut);
                continue;
            }
            if let Some(session) = self
                .connections
                .get_mut(&id)
                .and_then(|c| c.state.session_mut())
            {
                session.handle_timeout(now);
            }
            self.flush_resend(now, id);
        }
    }

    /// When [`NetCrypto::handle_timeout`] or [`NetCrypto::poll_transmit`]
    /// next has work without new input.
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.connections
            .values()
            .filter(|c| c.has_route())
            .filter_map(|c| match (&c.state, c.state.resend()) {
                (_, Some(resend)) => {
                    let session = c.state.session().and_then(|s| s.poll_timeout(now));
                    Some(session.map_or(resend.next_due(now), |s| s.min(resend.next_due(now))))
                }
                (State::Established(session), None) => session.poll_timeout(now),
                _ => None,
            })
            .min()
    }

    /// The next datagram to send: handshake traffic first, then the
    /// sessions' data in turn.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        self.clock = self.clock.max(now);
        if let Some(transmit) = self.transmits.pop_front() {
            return Some(transmit);
        }
        let ids: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, c)| c.state.session().is_some() && c.has_route())
            .map(|(id, _)| *id)
            .collect();
        let start = ids.partition_point(|id| id.0 < self.cursor);
        for id in ids.iter().skip(start).chain(ids.iter().take(start)) {
            let Some(conn) = self.connections.get_mut(id) else {
                continue;
            };
            let (Some(path), Some(session)) = (conn.data_path(now), conn.state.session_mut())
            else {
                continue;
            };
            session.set_relayed(matches!(path, Path::Tcp(_)));
            if let Some(payload) = session.poll_transmit(now) {
                self.cursor = id.0.wrapping_add(1);
                if let Some(probe) = conn.udp_probe(now, path, payload.len()) {
                    self.transmits.push_back(Transmit {
                        path: probe,
                        payload: payload.clone(),
                    });
                }
                return Some(Transmit { path, payload });
            }
        }
        None
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The round-trip estimate requested resends on `id` wait for: what
    /// the handshake measured once established (1 s if it measured
    /// nothing), lowered by data samples since. `None` before the
    /// session keys are known.
    pub fn rtt(&self, id: ConnectionId) -> Option<Duration> {
        self.connections.get(&id)?.state.session().map(|s| s.rtt())
    }

    /// The peer's acknowledgement point on `id`.
    pub fn acked(&self, id: ConnectionId) -> Option<u32> {
        self.connections
            .get(&id)?
            .state
            .session()
            .map(|s| s.acked())
    }
}
