//! The client side of TCP relays (checklist R13, c-toxcore
//! `TCP_connection.c`): the relays a client keeps connections to, which
//! peers it asks each of them to link it with, and which relay a packet
//! for a peer leaves by. Sans-IO like every layer: the driver opens and
//! closes the sockets this module asks for ([`RelayCommand`]) and moves
//! their bytes; each connection's protocol is a
//! [`toxide_relay::ClientConnection`].
//!
//! The policy is c-toxcore's, reduced to what a client with a handful of
//! relays needs. Every established relay is asked for a link to every peer
//! we want (a friend's DHT key while it is fresh), up to
//! [`MAX_PEER_LINKS`] relays per peer, since a link opens only when both
//! sides ask on the same relay (R5), and the peer learns our relays from
//! our DHT-PK announcements. A peer reached directly over UDP
//! ([`Relays::set_direct`]) gives its links up, as c-toxcore puts a
//! direct friend's relay connections to sleep, and asks again as soon as
//! UDP stops working. A relay left without links for [`SLEEP_AFTER`]
//! sleeps (its connection closes and is not retried) while more than
//! [`KEPT_RELAYS`] are up, as c-toxcore's `kill_nonused_tcp` does; a
//! sleeping relay wakes when a peer without a direct path has fewer than
//! [`KEPT_RELAYS`] links. A packet goes as routed data on the
//! first relay where the link is online, otherwise out of band on every
//! relay where the peer is registered (`send_packet_tcp_connection`), or
//! on the relay its last out-of-band packet came by (how a cookie request
//! from a peer we never asked for is answered). A connection that ends is
//! opened again after [`RECONNECT_DELAY`], doubled for each attempt in a
//! row that ended before its handshake, up to [`MAX_RECONNECT_DELAY`]: a
//! relay that is gone for good (saved relays outlive their nodes) costs a
//! connection attempt every few minutes, not every five seconds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, PackedNode, PublicKey, TransportProtocol};
use toxide_relay::{ClientConfig, ClientConnection, ClientEvent, ConnectionId, QueueLimits};

/// The most relays kept (ours and those friends named): c-toxcore aims for
/// 3 per friend and at most 6 (`MAX_FRIEND_TCP_CONNECTIONS`).
pub const MAX_RELAYS: usize = 8;

/// The most relays asked for a link to one peer (c-toxcore
/// `MAX_FRIEND_TCP_CONNECTIONS`).
pub const MAX_PEER_LINKS: usize = 6;

/// Relay connections kept up even when no link uses them (c-toxcore
/// `RECOMMENDED_FRIEND_TCP_CONNECTIONS`): our DHT-PK announcements name
/// them, and a friend whose UDP fails finds us there at once.
pub const KEPT_RELAYS: usize = 3;

/// How long a relay connection stays up without links before it may
/// sleep (c-toxcore `TCP_CONNECTION_ANNOUNCE_TIMEOUT`).
pub const SLEEP_AFTER: Duration = Duration::from_secs(10);

/// How long after a relay connection ended (or failed) it is opened
/// again; c-toxcore retries sleeping relays on a similar scale.
pub const RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// The longest wait between attempts at a relay that keeps failing.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(300);

/// A client's relay connections queue up to 256 KiB of data each (the
/// relay's default is 64 KiB): a relayed net_crypto session paces out
/// bursts of a millisecond or two between the driver's writes, about
/// 100 KB at 50 MB/s, and what does not fit is lost and resent. A client
/// keeps at most [`MAX_RELAYS`] connections, and the queue only grows
/// while it is used.
const CLIENT_CONFIG: ClientConfig = ClientConfig {
    queue: QueueLimits {
        max_control_frames: 256,
        max_data_bytes: 256 * 1024,
    },
};

/// The wait before the next attempt after `failures` in a row.
fn reconnect_delay(failures: u32) -> Duration {
    RECONNECT_DELAY
        .saturating_mul(1 << failures.min(16))
        .min(MAX_RECONNECT_DELAY)
}

/// Peers whose last out-of-band relay is remembered; beyond it the table
/// is cleared, so a flood of senders cannot grow it.
const MAX_OOB_SENDERS: usize = 1024;

/// A relay's index in [`Relays`], stable for the instance's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelayId(pub usize);

/// What the driver must do with sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayCommand {
    /// Open a TCP connection to `addr` for this session of `relay`; its
    /// bytes come from [`Relays::poll_write`], and what it reads goes to
    /// [`Relays::handle_bytes`] with the same session.
    Connect {
        /// Which relay.
        relay: RelayId,
        /// This connection attempt (a later one has a higher number).
        session: u64,
        /// Where.
        addr: SocketAddr,
    },
    /// Close the socket of this session.
    Close {
        /// Which relay.
        relay: RelayId,
        /// Which attempt.
        session: u64,
    },
}

/// What the relays tell the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEvent {
    /// A packet from the peer with this DHT key (routed or out of band).
    Packet {
        /// The peer's DHT key, as the relay authenticated it.
        from: PublicKey,
        /// The packet, id first.
        data: Bytes,
    },
    /// An onion response that came back through relay `relay`.
    Onion {
        /// Which relay.
        relay: RelayId,
        /// The response, id first.
        data: Bytes,
    },
    /// Links or connections changed: who is reachable, and which relays
    /// we are connected to, may differ now.
    Changed,
}

/// Counters for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Connections that finished their handshake.
    pub established: u64,
    /// Connections that ended.
    pub closed: u64,
    /// Packets sent as routed data.
    pub sent_routed: u64,
    /// Packets sent out of band (once per relay).
    pub sent_oob: u64,
    /// Onion requests sent with a relay as hop A.
    pub sent_onion: u64,
    /// Onion responses that came back through a relay.
    pub received_onion: u64,
    /// Packets for peers no relay reaches, or refused by full queues.
    pub unsent: u64,
    /// Packets received (routed and out of band).
    pub received: u64,
}

/// Where a link to one peer stands on one relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Routing request sent, no answer yet.
    Requested,
    /// The relay gave an id; the peer has not asked for us (yet).
    Registered(ConnectionId),
    /// Both asked: routed data flows.
    Online(ConnectionId),
}

#[derive(Debug)]
struct Relay {
    node: PackedNode,
    session: u64,
    /// The connection while one is open or opening.
    conn: Option<ClientConnection>,
    /// When to open a new one after the last ended.
    retry_at: Option<Instant>,
    /// Connections ended since the last handshake that finished.
    failures: u32,
    links: HashMap<PublicKey, Link>,
    /// When the current connection's handshake finished.
    established_at: Option<Instant>,
    /// Closed on purpose while nothing used it: not retried until woken.
    sleeping: bool,
}

impl Relay {
    fn is_established(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(ClientConnection::is_established)
    }
}

/// Every relay connection of a client.
#[derive(Debug)]
pub struct Relays {
    keys: KeyPair,
    rng: ChaCha20Rng,
    relays: Vec<Relay>,
    wanted: HashSet<PublicKey>,
    /// Wanted peers reached directly over UDP: no links meanwhile.
    direct: HashSet<PublicKey>,
    oob_from: HashMap<PublicKey, RelayId>,
    next_session: u64,
    commands: VecDeque<RelayCommand>,
    events: VecDeque<RelayEvent>,
    stats: RelayStats,
}

impl Relays {
    /// The relays of a client with DHT key pair `keys` (relays know us by
    /// it); `seed` drives every connection's randomness.
    pub fn new(keys: KeyPair, seed: [u8; 32]) -> Self {
        Self {
            keys,
            rng: ChaCha20Rng::from_seed(seed),
            relays: Vec::new(),
            wanted: HashSet::new(),
            direct: HashSet::new(),
            oob_from: HashMap::new(),
            next_session: 0,
            commands: VecDeque::new(),
            events: VecDeque::new(),
            stats: RelayStats::default(),
        }
    }

    /// How many relays are kept.
    pub fn count(&self) -> usize {
        self.relays.len()
    }

    /// The counters.
    pub fn stats(&self) -> RelayStats {
        self.stats
    }

    /// Keeps a connection to the relay at `addr` with key `pk` (nothing if
    /// it is known already, or [`MAX_RELAYS`] are); `None` then.
    pub fn add(&mut self, now: Instant, addr: SocketAddr, pk: PublicKey) -> Option<RelayId> {
        if self.relays.iter().any(|r| r.node.public_key == pk) || self.relays.len() >= MAX_RELAYS {
            return None;
        }
        let id = RelayId(self.relays.len());
        self.relays.push(Relay {
            node: PackedNode::new(TransportProtocol::Tcp, addr, pk),
            session: 0,
            conn: None,
            retry_at: None,
            failures: 0,
            links: HashMap::new(),
            established_at: None,
            sleeping: false,
        });
        self.connect(now, id);
        Some(id)
    }

    /// A relay the peer with DHT key `peer` is on (its announcement or
    /// share-relays packet named it): kept as [`Relays::add`] does, and
    /// woken if it sleeps while the peer has no direct path, so both ask
    /// the same relay for each other (c-toxcore `add_tcp_relay_peer`).
    pub fn add_for_peer(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        pk: PublicKey,
        peer: &PublicKey,
    ) {
        if self.add(now, addr, pk).is_some() {
            return;
        }
        let needed = self.wanted.contains(peer) && !self.direct.contains(peer);
        let asleep = self
            .relays
            .iter()
            .position(|r| r.node.public_key == pk && r.sleeping);
        if let (true, Some(i)) = (needed, asleep) {
            self.connect(now, RelayId(i));
        }
    }

    fn connect(&mut self, now: Instant, id: RelayId) {
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        let session = self.next_session;
        let Some(relay) = self.relays.get_mut(id.0) else {
            return;
        };
        relay.retry_at = None;
        relay.sleeping = false;
        relay.established_at = None;
        relay.links.clear();
        match ClientConnection::new(now, &self.keys, relay.node.public_key, CLIENT_CONFIG, seed) {
            Ok(conn) => {
                self.next_session += 1;
                relay.session = session;
                relay.conn = Some(conn);
                self.commands.push_back(RelayCommand::Connect {
                    relay: id,
                    session,
                    addr: relay.node.addr,
                });
            }
            // A low-order relay key: never usable.
            Err(_) => relay.retry_at = None,
        }
    }

    /// Whether any relay connection is up.
    pub fn has_connected(&self) -> bool {
        self.relays.iter().any(Relay::is_established)
    }

    /// The relays we are connected to, as a DHT-PK announcement names
    /// them (c-toxcore `tcp_copy_connected_relays`).
    pub fn connected(&self) -> Vec<PackedNode> {
        self.relays
            .iter()
            .filter(|r| r.is_established())
            .map(|r| r.node)
            .collect()
    }

    /// Asks the relays for a link to the peer with DHT key `peer`.
    pub fn want(&mut self, now: Instant, peer: PublicKey) {
        if self.wanted.insert(peer) {
            self.request_links(now, peer);
        }
    }

    /// Gives up the links to `peer`.
    pub fn unwant(&mut self, peer: &PublicKey) {
        if self.wanted.remove(peer) {
            self.direct.remove(peer);
            self.release_links(peer);
        }
    }

    /// Whether a wanted `peer` is reached directly over UDP now: its links
    /// are given up while it is, and asked for again when it stops being.
    pub fn set_direct(&mut self, now: Instant, peer: PublicKey, direct: bool) {
        if !self.wanted.contains(&peer) {
            return;
        }
        if direct {
            if self.direct.insert(peer) {
                self.release_links(&peer);
            }
        } else if self.direct.remove(&peer) {
            self.request_links(now, peer);
        }
    }

    /// Asks established relays for a link to `peer` up to
    /// [`MAX_PEER_LINKS`], and wakes sleeping relays while fewer than
    /// [`KEPT_RELAYS`] links to it are online (c-toxcore counts
    /// `online_tcp_connection_from_conn`).
    fn request_links(&mut self, now: Instant, peer: PublicKey) {
        let mut links = self.links_to(&peer);
        for relay in &mut self.relays {
            if links >= MAX_PEER_LINKS {
                break;
            }
            if request(relay, peer) {
                links += 1;
            }
        }
        let online = self
            .relays
            .iter()
            .filter(|r| matches!(r.links.get(&peer), Some(Link::Online(_))))
            .count();
        let asleep: Vec<usize> = self
            .relays
            .iter()
            .enumerate()
            .filter(|(_, r)| r.sleeping)
            .map(|(i, _)| i)
            .take(KEPT_RELAYS.saturating_sub(online))
            .collect();
        for i in asleep {
            self.connect(now, RelayId(i));
        }
    }

    /// How many relays hold (or were asked for) a link to `peer`.
    pub fn links_to(&self, peer: &PublicKey) -> usize {
        self.relays
            .iter()
            .filter(|r| r.links.contains_key(peer))
            .count()
    }

    /// Ends every link to `peer`.
    fn release_links(&mut self, peer: &PublicKey) {
        for relay in &mut self.relays {
            let link = relay.links.remove(peer);
            if let (Some(conn), Some(Link::Registered(id) | Link::Online(id))) =
                (&mut relay.conn, link)
            {
                let _ = conn.disconnect(id);
            }
        }
        self.events.push_back(RelayEvent::Changed);
    }

    /// Whether a packet for `peer` has a way out: a link (registered or
    /// online) on a connected relay, or the relay its last out-of-band
    /// packet came by.
    pub fn is_reachable(&self, peer: &PublicKey) -> bool {
        self.relays
            .iter()
            .any(|r| r.is_established() && r.links.get(peer).is_some_and(|l| *l != Link::Requested))
            || self
                .oob_from
                .get(peer)
                .and_then(|id| self.relays.get(id.0))
                .is_some_and(Relay::is_established)
    }

    /// Sends a packet to `peer` (see the module doc for the choice of
    /// relay); `false` if no relay took it.
    pub fn send(&mut self, peer: &PublicKey, data: Bytes) -> bool {
        for relay in &mut self.relays {
            if let (Some(Link::Online(id)), Some(conn)) = (relay.links.get(peer), &mut relay.conn) {
                if conn.send_data(*id, data.clone()).is_ok() {
                    self.stats.sent_routed += 1;
                    return true;
                }
            }
        }
        let mut sent = false;
        for relay in &mut self.relays {
            if let (Some(Link::Registered(_)), Some(conn)) =
                (relay.links.get(peer), &mut relay.conn)
            {
                if conn.send_oob(*peer, data.clone()).is_ok() {
                    self.stats.sent_oob += 1;
                    sent = true;
                }
            }
        }
        if !sent {
            let relay = self
                .oob_from
                .get(peer)
                .and_then(|id| self.relays.get_mut(id.0));
            if let Some(conn) = relay.and_then(|r| r.conn.as_mut()) {
                if conn.send_oob(*peer, data).is_ok() {
                    self.stats.sent_oob += 1;
                    sent = true;
                }
            }
        }
        if !sent {
            self.stats.unsent += 1;
        }
        sent
    }

    /// Sends an onion request (the frame body: nonce, then B's address,
    /// key and sealed layers) through the relay with key `relay` as hop A
    /// (checklist R9); `false` if not connected to it or its queue is full.
    pub fn send_onion(&mut self, relay: &PublicKey, request: Bytes) -> bool {
        let sent = self
            .relays
            .iter_mut()
            .find(|r| r.node.public_key == *relay)
            .and_then(|r| r.conn.as_mut())
            .is_some_and(|c| c.send_onion(request).is_ok());
        if sent {
            self.stats.sent_onion += 1;
        } else {
            self.stats.unsent += 1;
        }
        sent
    }

    /// The address of `relay`.
    pub fn addr(&self, relay: RelayId) -> Option<SocketAddr> {
        self.relays.get(relay.0).map(|r| r.node.addr)
    }

    /// The next socket command.
    pub fn poll_command(&mut self) -> Option<RelayCommand> {
        self.commands.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// Bytes to write to `relay`'s socket of `session`.
    pub fn poll_write(&mut self, relay: RelayId, session: u64) -> Option<Bytes> {
        let relay = self.relays.get_mut(relay.0)?;
        if relay.session != session {
            return None;
        }
        relay.conn.as_mut()?.poll_write()
    }

    /// The relays that may have bytes to write, with their sessions.
    pub fn open_sessions(&self) -> impl Iterator<Item = (RelayId, u64)> + '_ {
        self.relays
            .iter()
            .enumerate()
            .filter(|(_, r)| r.conn.is_some())
            .map(|(i, r)| (RelayId(i), r.session))
    }

    /// Bytes read from `relay`'s socket of `session`.
    pub fn handle_bytes(&mut self, now: Instant, relay: RelayId, session: u64, bytes: &[u8]) {
        let Some(r) = self.relays.get_mut(relay.0) else {
            return;
        };
        if r.session != session {
            return;
        }
        if let Some(conn) = &mut r.conn {
            conn.handle_bytes(now, bytes);
        }
        self.drain(now, relay);
    }

    /// `relay`'s socket of `session` ended (or never connected).
    pub fn handle_closed(&mut self, now: Instant, relay: RelayId, session: u64) {
        let Some(r) = self.relays.get_mut(relay.0) else {
            return;
        };
        if r.session != session {
            return;
        }
        if let Some(conn) = &mut r.conn {
            conn.connection_lost();
        }
        self.drain(now, relay);
    }

    /// When [`Relays::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let connections = self
            .relays
            .iter()
            .filter_map(|r| match &r.conn {
                Some(conn) => conn.poll_timeout(),
                None => r.retry_at,
            })
            .min();
        let sleep = (self.established() > KEPT_RELAYS)
            .then(|| {
                self.relays
                    .iter()
                    .filter(|r| r.links.is_empty())
                    .filter_map(|r| r.established_at)
                    .min()
                    .map(|at| at + SLEEP_AFTER)
            })
            .flatten();
        connections.into_iter().chain(sleep).min()
    }

    /// How many relay connections are up.
    pub fn established(&self) -> usize {
        self.relays.iter().filter(|r| r.is_established()).count()
    }

    /// Puts relays that have had no link for [`SLEEP_AFTER`] to sleep,
    /// while more than [`KEPT_RELAYS`] are up.
    fn sleep_unused(&mut self, now: Instant) {
        let mut excess = self.established().saturating_sub(KEPT_RELAYS);
        for (i, relay) in self.relays.iter_mut().enumerate() {
            if excess == 0 {
                break;
            }
            let idle_since = relay.established_at.filter(|_| relay.links.is_empty());
            if idle_since.is_none_or(|at| now.saturating_duration_since(at) < SLEEP_AFTER) {
                continue;
            }
            tracing::debug!(relay = %relay.node.addr, "TCP relay unused: sleeping");
            relay.conn = None;
            relay.established_at = None;
            relay.retry_at = None;
            relay.sleeping = true;
            self.commands.push_back(RelayCommand::Close {
                relay: RelayId(i),
                session: relay.session,
            });
            self.events.push_back(RelayEvent::Changed);
            excess -= 1;
        }
    }

    /// Runs keepalives, handshake deadlines and reconnections.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.relays.len() {
            let id = RelayId(i);
            let Some(relay) = self.relays.get_mut(i) else {
                continue;
            };
            match &mut relay.conn {
                Some(conn) => {
                    if conn.poll_timeout().is_some_and(|t| t <= now) {
                        conn.handle_timeout(now);
                    }
                    self.drain(now, id);
                }
                None => {
                    if relay.retry_at.is_some_and(|t| t <= now) {
                        self.connect(now, id);
                    }
                }
            }
        }
        self.sleep_unused(now);
    }

    /// Turns one connection's events into link state and our events.
    fn drain(&mut self, now: Instant, id: RelayId) {
        let Some(relay) = self.relays.get_mut(id.0) else {
            return;
        };
        let mut changed = false;
        let mut established = false;
        while let Some(event) = relay.conn.as_mut().and_then(ClientConnection::poll_event) {
            match event {
                ClientEvent::Established => {
                    self.stats.established += 1;
                    relay.failures = 0;
                    relay.established_at = Some(now);
                    established = true;
                    changed = true;
                }
                ClientEvent::RoutingResponse { pk, connection_id } => {
                    match (connection_id, self.wanted.contains(&pk)) {
                        (Some(link), true) => {
                            relay.links.insert(pk, Link::Registered(link));
                            changed = true;
                        }
                        (Some(link), false) => {
                            if let Some(conn) = &mut relay.conn {
                                let _ = conn.disconnect(link);
                            }
                        }
                        (None, _) => {
                            relay.links.remove(&pk);
                        }
                    }
                }
                ClientEvent::Connected(link) => {
                    set_link(relay, link, Link::Online(link));
                    changed = true;
                }
                ClientEvent::Disconnected(link) => {
                    set_link(relay, link, Link::Registered(link));
                    changed = true;
                }
                ClientEvent::Data(link, data) => {
                    if let Some(from) = relay.conn.as_ref().and_then(|c| c.link_pk(link)) {
                        self.stats.received += 1;
                        self.events.push_back(RelayEvent::Packet { from, data });
                    }
                }
                ClientEvent::Oob(from, data) => {
                    if self.oob_from.len() >= MAX_OOB_SENDERS && !self.oob_from.contains_key(&from)
                    {
                        self.oob_from.clear();
                    }
                    if self.oob_from.insert(from, id) != Some(id) {
                        changed = true;
                    }
                    self.stats.received += 1;
                    self.events.push_back(RelayEvent::Packet { from, data });
                }
                ClientEvent::OnionResponse(data) => {
                    self.stats.received_onion += 1;
                    self.events.push_back(RelayEvent::Onion { relay: id, data });
                }
                ClientEvent::Closed(reason) => {
                    tracing::debug!(relay = %relay.node.addr, %reason, "TCP relay connection ended");
                    self.stats.closed += 1;
                    relay.conn = None;
                    relay.links.clear();
                    relay.established_at = None;
                    relay.retry_at = Some(now + reconnect_delay(relay.failures));
                    relay.failures = relay.failures.saturating_add(1);
                    self.commands.push_back(RelayCommand::Close {
                        relay: id,
                        session: relay.session,
                    });
                    changed = true;
                }
            }
        }
        if established {
            self.request_wanted(id);
        }
        if changed {
            self.events.push_back(RelayEvent::Changed);
        }
    }

    /// Asks a relay that just came up for links to the wanted peers
    /// without a direct path that have fewer than [`MAX_PEER_LINKS`].
    fn request_wanted(&mut self, id: RelayId) {
        let peers: Vec<PublicKey> = self
            .wanted
            .difference(&self.direct)
            .filter(|peer| self.links_to(peer) < MAX_PEER_LINKS)
            .copied()
            .collect();
        if let Some(relay) = self.relays.get_mut(id.0) {
            for peer in peers {
                request(relay, peer);
            }
        }
    }
}

/// Asks `relay` (if connected and not asked yet) for a link to `peer`;
/// whether it did now.
fn request(relay: &mut Relay, peer: PublicKey) -> bool {
    if !relay.is_established() || relay.links.contains_key(&peer) {
        return false;
    }
    let asked = relay
        .conn
        .as_mut()
        .is_some_and(|conn| conn.route_request(peer).is_ok());
    if asked {
        relay.links.insert(peer, Link::Requested);
    }
    asked
}

/// Sets the state of the link with id `link`, whoever it is for.
fn set_link(relay: &mut Relay, link: ConnectionId, state: Link) {
    let Some(pk) = relay.conn.as_ref().and_then(|c| c.link_pk(link)) else {
        return;
    };
    if let Some(entry) = relay.links.get_mut(&pk) {
        *entry = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next connect command, if any.
    fn connect(relays: &mut Relays) -> Option<(RelayId, u64)> {
        while let Some(command) = relays.poll_command() {
            if let RelayCommand::Connect { relay, session, .. } = command {
                return Some((relay, session));
            }
        }
        None
    }

    /// A relay that never answers is tried after 5 s, then 10, 20, 40 …
    /// up to 5 minutes apart.
    #[test]
    fn a_relay_that_keeps_failing_is_tried_less_and_less_often() {
        let mut t = Instant::now();
        let keys = KeyPair::generate(&mut rand::rng());
        let mut relays = Relays::new(keys, [7; 32]);
        let relay_pk = KeyPair::generate(&mut rand::rng()).public;
        let addr = SocketAddr::from(([127, 0, 0, 1], 33445));
        assert!(relays.add(t, addr, relay_pk).is_some());
        let mut attempt = connect(&mut relays).expect("connects at once");
        let mut waits = Vec::new();
        for _ in 0..9 {
            relays.handle_closed(t, attempt.0, attempt.1);
            let retry = relays.poll_timeout().expect("a retry is due");
            let wait = retry.saturating_duration_since(t);
            relays.handle_timeout(retry - Duration::from_millis(1));
            assert!(connect(&mut relays).is_none(), "not before {wait:?}");
            relays.handle_timeout(retry);
            attempt = connect(&mut relays).expect("tried again");
            waits.push(wait.as_secs());
            t = retry;
        }
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }
}
