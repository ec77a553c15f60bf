//! The relay server, sans-IO (checklist R3–R11, R14; c-toxcore
//! `TCP_server.c`).
//!
//! The driver accepts sockets and hands each to [`RelayServer::accept`],
//! which names it with a [`ConnHandle`]; bytes read go to
//! [`RelayServer::handle_bytes`], [`RelayServer::poll_write`] says what to
//! write to one socket (pull only what the socket takes: the queue limits
//! are what stop a slow reader from costing memory),
//! [`RelayServer::poll_event`] reports connections to close and onion
//! requests for the onion layer, and [`RelayServer::poll_timeout`] /
//! [`RelayServer::handle_timeout`] run deadlines and pings.
//!
//! The routing table follows c-toxcore's: each confirmed client has 240
//! links (ids 16–255 on the wire). A routing request reserves a link for a
//! key; when two clients have each reserved one for the other, both links
//! go online and both get a connect notification; data on one comes out
//! of the other under the receiver's id. When a client frees a link or
//! leaves, the peer's link goes back to offline with a disconnect
//! notification.
//!
//! Limits c-toxcore lacks or keeps implicitly: a cap on all connections
//! ([`ServerConfig::max_connections`], new sockets refused), a cap on
//! handshakes in progress (the oldest is evicted, as c-toxcore's ring of
//! 256 does), a deadline on each handshake stage, and per-connection
//! queues: data-class frames (routed data, OOB, onion responses) to a full
//! queue are dropped as c-toxcore drops them on a full socket, and a
//! client whose control queue fills (it asks and does not read) is
//! closed.

mod connection;

pub use connection::{ConnectionStats, Request, ServerConnection};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::time::Instant;

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use thiserror::Error;
use toxide_core::{KeyPair, Nonce, PublicKey};

use crate::constants::{MAX_FRAME_PAYLOAD, MAX_INCOMING_CONNECTIONS, NUM_CLIENT_CONNECTIONS};
use crate::error::CloseReason;
use crate::packet::{
    ConnectNotification, ConnectionId, Data, DisconnectNotification, OnionResponse, OobRecv,
    RoutingResponse,
};
use crate::queue::QueueLimits;

/// A connection's name on the relay: unique for the relay's lifetime, so a
/// late onion response for a closed connection can never reach a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnHandle(u64);

impl ConnHandle {
    /// The number behind the handle (for the onion sendback and logs).
    pub fn get(self) -> u64 {
        self.0
    }

    /// The handle with this number (as read back from an onion sendback).
    pub fn from_u64(n: u64) -> Self {
        Self(n)
    }
}

/// The relay's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Sockets the relay holds at once, confirmed or not.
    pub max_connections: usize,
    /// Connections in the handshake or unconfirmed at once.
    pub max_unconfirmed: usize,
    /// Per-connection queue limits.
    pub queue: QueueLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_unconfirmed: MAX_INCOMING_CONNECTIONS,
            queue: QueueLimits::default(),
        }
    }
}

/// What the driver must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// Close this socket (if the driver has not already); the handle is
    /// gone.
    Closed {
        /// The connection.
        conn: ConnHandle,
        /// Why.
        reason: CloseReason,
    },
    /// A client asks the relay to send an onion request on as hop A; the
    /// answer goes back through [`RelayServer::send_onion_response`] with
    /// `from`.
    OnionRequest {
        /// The client's connection.
        from: ConnHandle,
        /// The second layer's nonce.
        nonce: Nonce,
        /// Address, key and sealed layers.
        payload: Bytes,
    },
}

/// The relay refused a new socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("relay full ({0} connections)")]
pub struct AcceptError(pub usize);

/// Counters for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Sockets accepted.
    pub accepted: u64,
    /// Sockets refused at [`ServerConfig::max_connections`].
    pub refused: u64,
    /// Connections confirmed.
    pub confirmed: u64,
    /// Connections closed, for any reason.
    pub closed: u64,
    /// Closed because the client did not read its control queue.
    pub closed_slow_reader: u64,
    /// Links that went online (counted once per pair).
    pub links_connected: u64,
    /// Data frames routed.
    pub data_routed: u64,
    /// Data frames dropped: link offline or the peer's queue full.
    pub data_dropped: u64,
    /// OOB packets delivered.
    pub oob_delivered: u64,
    /// OOB packets dropped: destination absent or its queue full.
    pub oob_dropped: u64,
    /// Onion requests handed to the onion layer.
    pub onion_requests: u64,
    /// Onion responses queued.
    pub onion_responses: u64,
    /// Onion responses dropped: connection gone or queue full.
    pub onion_responses_dropped: u64,
    /// Forward requests (recognised, not served).
    pub forward_requests_ignored: u64,
    /// Disconnect notifications for free links (ignored).
    pub ignored_disconnects: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Free,
    Offline(PublicKey),
    Online {
        pk: PublicKey,
        peer: ConnHandle,
        peer_id: ConnectionId,
    },
}

#[derive(Debug)]
struct Entry {
    conn: ServerConnection,
    /// Links by index (id 16 is index 0), grown as they are granted: past
    /// its end every link is free. A full table of 240 is 11.5 KiB, which
    /// every idle client would otherwise hold (115 MB for 10,000).
    links: Vec<Link>,
}

/// A TCP relay's protocol state: every connection and the routing table.
#[derive(Debug)]
pub struct RelayServer {
    keys: KeyPair,
    config: ServerConfig,
    rng: ChaCha20Rng,
    conns: BTreeMap<ConnHandle, Entry>,
    by_pk: HashMap<PublicKey, ConnHandle>,
    pending: VecDeque<ConnHandle>,
    next_handle: u64,
    write_cursor: Option<ConnHandle>,
    events: VecDeque<ServerEvent>,
    stats: ServerStats,
}

impl RelayServer {
    /// A relay with long-term key pair `keys` (c-toxcore relays use their
    /// DHT key, which is what clients know them by). The seed drives the
    /// temporary keys, nonces and ping ids.
    pub fn new(keys: KeyPair, config: ServerConfig, seed: [u8; 32]) -> Self {
        Self {
            keys,
            config,
            rng: ChaCha20Rng::from_seed(seed),
            conns: BTreeMap::new(),
            by_pk: HashMap::new(),
            pending: VecDeque::new(),
            next_handle: 0,
            write_cursor: None,
            events: VecDeque::new(),
            stats: ServerStats::default(),
        }
    }

    /// The relay's public key.
    pub fn public_key(&self) -> PublicKey {
        self.keys.public
    }

    /// The counters.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// Open connections, confirmed or not.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The confirmed connection of the client with DHT key `pk`.
    pub fn connection_of(&self, pk: &PublicKey) -> Option<ConnHandle> {
        self.by_pk.get(pk).copied()
    }

    /// The client key of a connection whose handshake opened.
    pub fn client_pk(&self, conn: ConnHandle) -> Option<PublicKey> {
        self.conns.get(&conn)?.conn.client_pk()
    }

    /// A new socket. Refused when [`ServerConfig::max_connections`] are
    /// open; when [`ServerConfig::max_unconfirmed`] handshakes are in
    /// progress the oldest of them is closed to make room.
    pub fn accept(&mut self, now: Instant) -> Result<ConnHandle, AcceptError> {
        if self.conns.len() >= self.config.max_connections {
            self.stats.refused += 1;
            return Err(AcceptError(self.conns.len()));
        }
        while self.pending.len() >= self.config.max_unconfirmed.max(1) {
            let Some(oldest) = self.pending.pop_front() else {
                break;
            };
            self.close(oldest, CloseReason::Evicted);
        }
        let handle = ConnHandle(self.next_handle);
        self.next_handle += 1;
        self.conns.insert(
            handle,
            Entry {
                conn: ServerConnection::new(now, self.config.queue),
                links: Vec::new(),
            },
        );
        self.pending.push_back(handle);
        self.stats.accepted += 1;
        Ok(handle)
    }

    /// Bytes read from `conn`'s socket.
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnHandle, bytes: &[u8]) {
        let mut requests = Vec::new();
        let result = {
            let Some(entry) = self.conns.get_mut(&conn) else {
                return;
            };
            entry
                .conn
                .handle_bytes(now, &mut self.rng, &self.keys, bytes, &mut requests)
        };
        for request in requests {
            if !self.conns.contains_key(&conn) {
                return;
            }
            if let Err(reason) = self.handle_request(conn, request) {
                self.close(conn, reason);
                return;
            }
        }
        if let Err(reason) = result {
            self.close(conn, reason);
        }
    }

    /// The socket of `conn` ended (EOF or error).
    pub fn connection_lost(&mut self, conn: ConnHandle) {
        self.close(conn, CloseReason::Lost);
    }

    /// Bytes to write to `conn`'s socket. Call while its socket is
    /// writable and this returns bytes.
    pub fn poll_write(&mut self, conn: ConnHandle) -> Option<Bytes> {
        self.conns.get_mut(&conn)?.conn.poll_write()
    }

    /// Whether `conn` has bytes to write.
    pub fn has_pending_write(&self, conn: ConnHandle) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|e| e.conn.has_pending_write())
    }

    /// Bytes for any connection, round robin: for drivers (and tests) that
    /// write everything at once. Drivers with real sockets should prefer
    /// [`RelayServer::poll_write`] per writable socket.
    pub fn poll_transmit(&mut self) -> Option<(ConnHandle, Bytes)> {
        let start = self.write_cursor.map_or(Bound::Unbounded, Bound::Excluded);
        let next = self
            .conns
            .range((start, Bound::Unbounded))
            .chain(self.conns.range(..))
            .find(|(_, e)| e.conn.has_pending_write())
            .map(|(h, _)| *h)?;
        self.write_cursor = Some(next);
        let bytes = self.poll_write(next)?;
        Some((next, bytes))
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline of any connection.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|e| e.conn.poll_timeout())
            .min()
    }

    /// Runs every connection's deadlines and pings.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut dead = Vec::new();
        for (handle, entry) in &mut self.conns {
            if entry.conn.poll_timeout().is_some_and(|t| t <= now) {
                if let Err(reason) = entry.conn.handle_timeout(now, &mut self.rng) {
                    dead.push((*handle, reason));
                }
            }
        }
        for (handle, reason) in dead {
            self.close(handle, reason);
        }
    }

    /// Sends what came back along `to`'s onion path. `false` if the
    /// connection is gone, unconfirmed, or its queue is full (dropped).
    pub fn send_onion_response(&mut self, to: ConnHandle, data: Bytes) -> bool {
        let ok = data.len() < MAX_FRAME_PAYLOAD
            && !data.is_empty()
            && self.conns.get_mut(&to).is_some_and(|e| {
                e.conn.is_confirmed() && e.conn.push_data(None, &OnionResponse { data }).is_ok()
            });
        if ok {
            self.stats.onion_responses += 1;
        } else {
            self.stats.onion_responses_dropped += 1;
        }
        ok
    }

    /// Closes `conn` from the relay's side (e.g. operator action).
    pub fn close_connection(&mut self, conn: ConnHandle) {
        self.close(conn, CloseReason::Local);
    }

    fn handle_request(&mut self, conn: ConnHandle, request: Request) -> Result<(), CloseReason> {
        match request {
            Request::Handshaked { .. } => Ok(()),
            Request::Confirmed { client_pk } => {
                self.pending.retain(|h| *h != conn);
                if let Some(old) = self.by_pk.insert(client_pk, conn) {
                    if old != conn {
                        // `close` unregisters a key only from its own
                        // connection, so the new one stays registered.
                        self.close(old, CloseReason::Replaced);
                    }
                }
                self.stats.confirmed += 1;
                Ok(())
            }
            Request::Route(pk) => self.route(conn, pk),
            Request::Disconnect(id) => {
                self.free_link(conn, id);
                Ok(())
            }
            Request::Oob { destination, data } => {
                let sender = self.client_pk(conn).unwrap_or(PublicKey::new([0; 32]));
                let delivered = self.by_pk.get(&destination).copied().is_some_and(|dest| {
                    self.conns
                        .get_mut(&dest)
                        .is_some_and(|e| e.conn.push_data(None, &OobRecv { sender, data }).is_ok())
                });
                if delivered {
                    self.stats.oob_delivered += 1;
                } else {
                    self.stats.oob_dropped += 1;
                }
                Ok(())
            }
            Request::Onion { nonce, payload } => {
                self.stats.onion_requests += 1;
                self.events.push_back(ServerEvent::OnionRequest {
                    from: conn,
                    nonce,
                    payload,
                });
                Ok(())
            }
            Request::Forward(_) => {
                self.stats.forward_requests_ignored += 1;
                Ok(())
            }
            Request::Data(id, data) => self.route_data(conn, id, data),
        }
    }

    fn link(&self, conn: ConnHandle, id: ConnectionId) -> Option<Link> {
        let links = &self.conns.get(&conn)?.links;
        (id.index() < NUM_CLIENT_CONNECTIONS)
            .then(|| links.get(id.index()).copied().unwrap_or(Link::Free))
    }

    fn set_link(&mut self, conn: ConnHandle, id: ConnectionId, link: Link) {
        let index = id.index();
        let Some(entry) = self.conns.get_mut(&conn) else {
            return;
        };
        if index >= NUM_CLIENT_CONNECTIONS {
            return;
        }
        if entry.links.len() <= index {
            entry.links.resize(index + 1, Link::Free);
        }
        if let Some(slot) = entry.links.get_mut(index) {
            *slot = link;
        }
    }

    /// Queues a control frame for `conn`; a full control queue closes it.
    fn control(&mut self, conn: ConnHandle, packet: &impl toxide_core::Encode) {
        let full = self
            .conns
            .get_mut(&conn)
            .is_some_and(|e| e.conn.push_control(packet).is_err());
        if full {
            self.stats.closed_slow_reader += 1;
            self.close(conn, CloseReason::SlowReader);
        }
    }

    fn route(&mut self, conn: ConnHandle, pk: PublicKey) -> Result<(), CloseReason> {
        let Some(own) = self.client_pk(conn) else {
            return Ok(());
        };
        let Some(entry) = self.conns.get(&conn) else {
            return Ok(());
        };
        let existing = entry.links.iter().position(|l| match l {
            Link::Offline(p) | Link::Online { pk: p, .. } => *p == pk,
            Link::Free => false,
        });
        let free = entry
            .links
            .iter()
            .position(|l| *l == Link::Free)
            .or_else(|| (entry.links.len() < NUM_CLIENT_CONNECTIONS).then_some(entry.links.len()));
        let granted = if own == pk {
            None
        } else if let Some(i) = existing {
            // Asked again: the same id, nothing else changes (c-toxcore).
            let id = ConnectionId::from_index(i);
            self.control(
                conn,
                &RoutingResponse {
                    connection_id: id,
                    pk,
                },
            );
            return Ok(());
        } else {
            free.and_then(ConnectionId::from_index)
        };
        self.control(
            conn,
            &RoutingResponse {
                connection_id: granted,
                pk,
            },
        );
        let Some(id) = granted else {
            return Ok(());
        };
        if !self.conns.contains_key(&conn) {
            return Ok(());
        }
        self.set_link(conn, id, Link::Offline(pk));
        // Has the peer already asked for us?
        let Some(peer) = self.by_pk.get(&pk).copied() else {
            return Ok(());
        };
        let peer_index = self
            .conns
            .get(&peer)
            .and_then(|e| e.links.iter().position(|l| *l == Link::Offline(own)));
        let Some(peer_id) = peer_index.and_then(ConnectionId::from_index) else {
            return Ok(());
        };
        self.set_link(conn, id, Link::Online { pk, peer, peer_id });
        self.set_link(
            peer,
            peer_id,
            Link::Online {
                pk: own,
                peer: conn,
                peer_id: id,
            },
        );
        self.stats.links_connected += 1;
        self.control(conn, &ConnectNotification { connection_id: id });
        self.control(
            peer,
            &ConnectNotification {
                connection_id: peer_id,
            },
        );
        Ok(())
    }

    /// `conn` frees link `id`: the peer's side goes offline and is told.
    fn free_link(&mut self, conn: ConnHandle, id: ConnectionId) {
        match self.link(conn, id) {
            None | Some(Link::Free) => self.stats.ignored_disconnects += 1,
            Some(Link::Offline(_)) => self.set_link(conn, id, Link::Free),
            Some(Link::Online { peer, peer_id, .. }) => {
                self.set_link(conn, id, Link::Free);
                self.peer_went_offline(peer, peer_id);
            }
        }
        if let Some(e) = self.conns.get_mut(&conn) {
            e.conn.purge_link(id);
        }
    }

    fn peer_went_offline(&mut self, peer: ConnHandle, peer_id: ConnectionId) {
        if let Some(Link::Online { pk, .. }) = self.link(peer, peer_id) {
            self.set_link(peer, peer_id, Link::Offline(pk));
            if let Some(e) = self.conns.get_mut(&peer) {
                e.conn.purge_link(peer_id);
            }
            self.control(
                peer,
                &DisconnectNotification {
                    connection_id: peer_id,
                },
            );
        }
    }

    fn route_data(
        &mut self,
        conn: ConnHandle,
        id: ConnectionId,
        data: Bytes,
    ) -> Result<(), CloseReason> {
        match self.link(conn, id) {
            // c-toxcore drops a client that sends on a link it never had.
            None | Some(Link::Free) => Err(CloseReason::Unexpected(id.wire())),
            Some(Link::Offline(_)) => {
                self.stats.data_dropped += 1;
                Ok(())
            }
            Some(Link::Online { peer, peer_id, .. }) => {
                let packet = Data {
                    connection_id: peer_id,
                    data,
                };
                let sent = self
                    .conns
                    .get_mut(&peer)
                    .is_some_and(|e| e.conn.push_data(Some(peer_id), &packet).is_ok());
                if sent {
                    self.stats.data_routed += 1;
                } else {
                    self.stats.data_dropped += 1;
                }
                Ok(())
            }
        }
    }

    /// Removes `conn`: its online links' peers are told, its key is
    /// unregistered (if a newer connection has not taken it), and the
    /// driver is told to close the socket. A peer that overflows on the
    /// notification is closed after this entry is gone, so the recursion
    /// never meets a half-removed entry.
    fn close(&mut self, conn: ConnHandle, reason: CloseReason) {
        let Some(mut entry) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(pk) = entry.conn.client_pk() {
            if self.by_pk.get(&pk) == Some(&conn) {
                self.by_pk.remove(&pk);
            }
        }
        entry.conn.close();
        self.pending.retain(|h| *h != conn);
        self.stats.closed += 1;
        self.events.push_back(ServerEvent::Closed { conn, reason });
        for link in entry.links {
            if let Link::Online { peer, peer_id, .. } = link {
                self.peer_went_offline(peer, peer_id);
            }
        }
    }
}
