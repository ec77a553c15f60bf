//! One client connection to a TCP relay, sans-IO (checklist R1–R11;
//! c-toxcore `TCP_client.c`).
//!
//! The driver opens a TCP socket to the relay, creates a
//! [`ClientConnection`], and then loops: bytes read go to
//! [`ClientConnection::handle_bytes`], [`ClientConnection::poll_write`]
//! says what to write, [`ClientConnection::poll_timeout`] when to call
//! [`ClientConnection::handle_timeout`], and [`ClientConnection::poll_event`]
//! what happened. The handshake goes out first; commands given before it
//! finishes are queued (they are sealed only when bytes are polled).
//!
//! Each of the relay's 240 links (connection ids 16–255) is free,
//! "offline" (the relay gave us an id for a key, the peer has not asked
//! for us yet) or "online" (both asked: data flows). Routing responses for
//! keys we did not ask for are ignored (R5), data on links that are not
//! online is dropped, and packets only a client sends are a protocol error
//! that closes the connection, as in c-toxcore.

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use thiserror::Error;
use toxide_core::{Decode, Encode, KeyPair, PublicKey};

use crate::constants::{
    MAX_FRAME_PAYLOAD, MIN_ONION_REQUEST_FRAME, NUM_CLIENT_CONNECTIONS, TCP_CONNECTION_TIMEOUT,
    TCP_MAX_OOB_DATA_LENGTH, TCP_SERVER_HANDSHAKE_SIZE,
};
use crate::error::CloseReason;
use crate::frame::{FrameOpener, FrameSealer};
use crate::handshake::{ExpectServerHandshake, HandshakeError};
use crate::keepalive::Keepalive;
use crate::packet::{
    ConnectionId, Data, DisconnectNotification, OnionRequest, OobSend, Packet, RoutingRequest,
    ServerHandshake,
};
use crate::queue::{QueueLimits, SendQueue};

/// A client connection's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// How much may wait to be written.
    pub queue: QueueLimits,
}

/// What the relay told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The handshake finished: the relay knows us (and learns we got its
    /// answer from the first frame, a ping, which is already queued).
    Established,
    /// The answer to [`ClientConnection::route_request`]: the id the relay
    /// assigned to `pk`, or `None` if it refused.
    RoutingResponse {
        /// The peer's DHT key.
        pk: PublicKey,
        /// Its link, if granted.
        connection_id: Option<ConnectionId>,
    },
    /// The peer on this link asked for us too: data may flow.
    Connected(ConnectionId),
    /// The peer on this link went away (the link stays reserved; ask
    /// again or [`ClientConnection::disconnect`] it).
    Disconnected(ConnectionId),
    /// A routed packet from the peer on this link.
    Data(ConnectionId, Bytes),
    /// An out-of-band packet from the peer with this DHT key.
    Oob(PublicKey, Bytes),
    /// An onion response that came back through this relay.
    OnionResponse(Bytes),
    /// The connection is over; the driver closes the socket. Nothing
    /// follows.
    Closed(CloseReason),
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendError {
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// The link is not online (no connect notification, or disconnected).
    #[error("link {0} is not online")]
    NotConnected(ConnectionId),
    /// The link was never assigned by the relay (disconnecting it would
    /// make a c-toxcore relay drop us).
    #[error("link {0} is not assigned")]
    UnknownLink(ConnectionId),
    /// The payload is empty or too long for this packet.
    #[error("payload of {len} bytes outside 1..={max}")]
    BadLength {
        /// The payload's length.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// The queue for this kind of frame is at its limit
    /// ([`QueueLimits`]): the driver is not writing fast enough. Retry
    /// after [`ClientConnection::poll_write`] drained it.
    #[error("send queue full")]
    QueueFull,
}

/// Counters for diagnostics; nothing here is logged per packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Frames opened.
    pub frames_received: u64,
    /// Frames sealed and handed to the driver.
    pub frames_sent: u64,
    /// Pings sent.
    pub pings_sent: u64,
    /// Pongs that answered our outstanding ping (what shows a relay
    /// answers pings at all).
    pub pongs: u64,
    /// Pongs whose id matched no ping of ours.
    pub unmatched_pongs: u64,
    /// Routing responses for keys we did not ask for, or ids in use.
    pub ignored_routing_responses: u64,
    /// Connect/disconnect notifications for links in the wrong state.
    pub ignored_notifications: u64,
    /// Data frames on links that are not online.
    pub dropped_data: u64,
    /// Forwarding packets (recognised, not acted on).
    pub ignored_forwarding: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Free,
    Offline(PublicKey),
    Online(PublicKey),
}

#[derive(Debug)]
enum State {
    Handshaking {
        expect: ExpectServerHandshake,
        deadline: Instant,
    },
    Established {
        sealer: FrameSealer,
        opener: FrameOpener,
        keepalive: Keepalive,
    },
    Closed,
}

/// One connection to one relay.
#[derive(Debug)]
pub struct ClientConnection {
    server_pk: PublicKey,
    state: State,
    rng: ChaCha20Rng,
    queue: SendQueue,
    inbuf: BytesMut,
    events: VecDeque<ClientEvent>,
    links: Vec<Link>,
    requested: HashSet<PublicKey>,
    stats: ClientStats,
    /// Set once [`ClientEvent::Closed`] is queued (the state may read
    /// `Closed` a moment earlier, while a handshake step consumes it).
    closed: bool,
}

impl ClientConnection {
    /// Starts a connection to the relay `server_pk` as the client with DHT
    /// key pair `ours`: the client handshake is the first thing
    /// [`ClientConnection::poll_write`] returns. The seed drives the
    /// temporary key, the base nonce and the ping ids.
    pub fn new(
        now: Instant,
        ours: &KeyPair,
        server_pk: PublicKey,
        config: ClientConfig,
        seed: [u8; 32],
    ) -> Result<Self, HandshakeError> {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (expect, hello) = ExpectServerHandshake::start(&mut rng, ours, &server_pk)?;
        let mut queue = SendQueue::new(config.queue);
        queue.set_preamble(hello.to_bytes());
        Ok(Self {
            server_pk,
            state: State::Handshaking {
                expect,
                deadline: now + TCP_CONNECTION_TIMEOUT,
            },
            rng,
            queue,
            inbuf: BytesMut::new(),
            events: VecDeque::new(),
            links: vec![Link::Free; NUM_CLIENT_CONNECTIONS],
            requested: HashSet::new(),
            stats: ClientStats::default(),
            closed: false,
        })
    }

    /// The relay's public key.
    pub fn server_pk(&self) -> PublicKey {
        self.server_pk
    }

    /// Whether the handshake has finished and the connection is open.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established { .. })
    }

    /// Whether the connection is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The counters.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// The peer key of a link the relay assigned, online or not.
    pub fn link_pk(&self, id: ConnectionId) -> Option<PublicKey> {
        match self.links.get(id.index()) {
            Some(Link::Offline(pk) | Link::Online(pk)) => Some(*pk),
            _ => None,
        }
    }

    /// Whether data may be sent on `id`.
    pub fn is_online(&self, id: ConnectionId) -> bool {
        matches!(self.links.get(id.index()), Some(Link::Online(_)))
    }

    /// Bytes the relay sent us.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if self.is_closed() {
            return;
        }
        self.inbuf.extend_from_slice(bytes);
        if let State::Handshaking { .. } = self.state {
            if self.inbuf.len() < TCP_SERVER_HANDSHAKE_SIZE {
                return;
            }
            let reply = self.inbuf.split_to(TCP_SERVER_HANDSHAKE_SIZE);
            if let Err(reason) = self.finish_handshake(now, &reply) {
                self.close(reason);
                return;
            }
        }
        loop {
            let State::Established { opener, .. } = &mut self.state else {
                return;
            };
            match opener.open_next(&mut self.inbuf) {
                Ok(Some(plain)) => {
                    self.stats.frames_received += 1;
                    if let Err(reason) = self.handle_frame(&plain) {
                        self.close(reason);
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.close(e.into());
                    return;
                }
            }
        }
    }

    fn finish_handshake(&mut self, now: Instant, reply: &[u8]) -> Result<(), CloseReason> {
        let State::Handshaking { .. } = self.state else {
            return Ok(());
        };
        let reply = ServerHandshake::from_bytes(reply)
            .map_err(|e| CloseReason::Handshake(HandshakeError::Open(e.into())))?;
        let State::Handshaking { expect, .. } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return Ok(());
        };
        let channel = expect.finish(&reply)?;
        let mut keepalive = Keepalive::new(now);
        // The first ping goes at once: it confirms us to the relay (R3).
        if let Ok(Some(ping_id)) = keepalive.handle_timeout(now, &mut self.rng) {
            self.queue.set_ping(ping_id);
            self.stats.pings_sent += 1;
        }
        self.state = State::Established {
            sealer: channel.sealer,
            opener: channel.opener,
            keepalive,
        };
        self.events.push_back(ClientEvent::Established);
        Ok(())
    }

    fn handle_frame(&mut self, plain: &[u8]) -> Result<(), CloseReason> {
        let packet = Packet::from_bytes(plain)?;
        match packet {
            Packet::RoutingResponse(r) => {
                if !self.requested.remove(&r.pk) {
                    self.stats.ignored_routing_responses += 1;
                    return Ok(());
                }
                if let Some(id) = r.connection_id {
                    match self.links.get_mut(id.index()) {
                        Some(link @ Link::Free) => *link = Link::Offline(r.pk),
                        _ => {
                            self.stats.ignored_routing_responses += 1;
                            return Ok(());
                        }
                    }
                }
                self.events.push_back(ClientEvent::RoutingResponse {
                    pk: r.pk,
                    connection_id: r.connection_id,
                });
            }
            Packet::ConnectNotification(n) => {
                let id = n.connection_id;
                match self.links.get_mut(id.index()) {
                    Some(link @ Link::Offline(_)) => {
                        if let Link::Offline(pk) = *link {
                            *link = Link::Online(pk);
                        }
                        self.events.push_back(ClientEvent::Connected(id));
                    }
                    _ => self.stats.ignored_notifications += 1,
                }
            }
            Packet::DisconnectNotification(n) => {
                let id = n.connection_id;
                match self.links.get_mut(id.index()) {
                    Some(link @ Link::Online(_)) => {
                        if let Link::Online(pk) = *link {
                            *link = Link::Offline(pk);
                        }
                        self.queue.purge_link(id);
                        self.events.push_back(ClientEvent::Disconnected(id));
                    }
                    _ => self.stats.ignored_notifications += 1,
                }
            }
            Packet::Ping(p) => self.queue.set_pong(p.ping_id),
            Packet::Pong(p) => {
                if let State::Established { keepalive, .. } = &mut self.state {
                    if keepalive.on_pong(p.ping_id) {
                        self.stats.pongs += 1;
                    } else {
                        self.stats.unmatched_pongs += 1;
                    }
                }
            }
            Packet::OobRecv(o) => self.events.push_back(ClientEvent::Oob(o.sender, o.data)),
            Packet::OnionResponse(o) => self.events.push_back(ClientEvent::OnionResponse(o.data)),
            Packet::Forwarding(_) => self.stats.ignored_forwarding += 1,
            Packet::Data(d) => {
                if self.is_online(d.connection_id) {
                    self.events
                        .push_back(ClientEvent::Data(d.connection_id, d.data));
                } else {
                    self.stats.dropped_data += 1;
                }
            }
            p @ (Packet::RoutingRequest(_)
            | Packet::OobSend(_)
            | Packet::OnionRequest(_)
            | Packet::ForwardRequest(_)) => return Err(CloseReason::Unexpected(p.id())),
        }
        Ok(())
    }

    /// Bytes to write to the socket, if any. Call until `None` whenever
    /// the socket is writable; what is not polled stays queued (and
    /// counts against the queue limits).
    pub fn poll_write(&mut self) -> Option<Bytes> {
        let sealer = match &mut self.state {
            State::Closed => return None,
            State::Handshaking { .. } => None,
            State::Established { sealer, .. } => Some(sealer),
        };
        let (bytes, frames) = self.queue.poll(sealer)?;
        self.stats.frames_sent += frames;
        Some(bytes)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`ClientConnection::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Handshaking { deadline, .. } => Some(*deadline),
            State::Established { keepalive, .. } => Some(keepalive.poll_timeout()),
            State::Closed => None,
        }
    }

    /// Runs the handshake deadline and the ping schedule.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Handshaking { deadline, .. } => {
                if now >= *deadline {
                    self.close(CloseReason::HandshakeTimeout);
                }
            }
            State::Established { keepalive, .. } => {
                match keepalive.handle_timeout(now, &mut self.rng) {
                    Ok(Some(ping_id)) => {
                        self.queue.set_ping(ping_id);
                        self.stats.pings_sent += 1;
                    }
                    Ok(None) => {}
                    Err(_) => self.close(CloseReason::PingTimeout),
                }
            }
            State::Closed => {}
        }
    }

    /// Ends the connection from our side.
    pub fn close_local(&mut self) {
        self.close(CloseReason::Local);
    }

    /// Tells the connection its socket ended.
    pub fn connection_lost(&mut self) {
        self.close(CloseReason::Lost);
    }

    fn close(&mut self, reason: CloseReason) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.state = State::Closed;
        self.queue = SendQueue::new(QueueLimits::default());
        self.inbuf = BytesMut::new();
        self.events.push_back(ClientEvent::Closed(reason));
    }

    fn check_open(&self) -> Result<(), SendError> {
        if self.is_closed() {
            Err(SendError::Closed)
        } else {
            Ok(())
        }
    }

    /// Asks the relay for a link to the peer with DHT key `pk`; the answer
    /// comes as [`ClientEvent::RoutingResponse`].
    pub fn route_request(&mut self, pk: PublicKey) -> Result<(), SendError> {
        self.check_open()?;
        self.queue
            .push_control(&RoutingRequest { pk })
            .map_err(|_| SendError::QueueFull)?;
        self.requested.insert(pk);
        Ok(())
    }

    /// Frees link `id` (online or not) and tells the relay, which tells
    /// the peer. Data still queued for the link is dropped: sent after
    /// the notification, it would name an id the relay no longer knows.
    pub fn disconnect(&mut self, id: ConnectionId) -> Result<(), SendError> {
        self.check_open()?;
        let Some(link) = self.links.get_mut(id.index()) else {
            return Err(SendError::UnknownLink(id));
        };
        if *link == Link::Free {
            return Err(SendError::UnknownLink(id));
        }
        self.queue
            .push_control(&DisconnectNotification { connection_id: id })
            .map_err(|_| SendError::QueueFull)?;
        *link = Link::Free;
        self.queue.purge_link(id);
        Ok(())
    }

    /// Sends a packet to the peer on online link `id`. Fails with
    /// [`SendError::QueueFull`] when the data queue holds
    /// [`QueueLimits::max_data_bytes`] already.
    pub fn send_data(&mut self, id: ConnectionId, data: Bytes) -> Result<(), SendError> {
        self.check_open()?;
        check_len(data.len(), MAX_FRAME_PAYLOAD - 1)?;
        if !self.is_online(id) {
            return Err(SendError::NotConnected(id));
        }
        self.queue
            .push_data(
                Some(id),
                &Data {
                    connection_id: id,
                    data,
                },
            )
            .map_err(|_| SendError::QueueFull)
    }

    /// Sends an out-of-band packet (1..=1024 bytes) to the client with DHT
    /// key `pk`, if it is connected to this relay (otherwise the relay
    /// drops it silently).
    pub fn send_oob(&mut self, pk: PublicKey, data: Bytes) -> Result<(), SendError> {
        self.check_open()?;
        check_len(data.len(), TCP_MAX_OOB_DATA_LENGTH)?;
        self.queue
            .push_data(
                None,
                &OobSend {
                    destination: pk,
                    data,
                },
            )
            .map_err(|_| SendError::QueueFull)
    }

    /// Sends an onion request for the relay to forward as hop A. `request`
    /// is the frame body after its id: the nonce, then B's address, the
    /// key and the sealed layers (checklist O16).
    pub fn send_onion(&mut self, request: Bytes) -> Result<(), SendError> {
        self.check_open()?;
        let min = MIN_ONION_REQUEST_FRAME - 1;
        let max = MAX_FRAME_PAYLOAD - 1;
        if request.len() < min || request.len() > max {
            return Err(SendError::BadLength {
                len: request.len(),
                max,
            });
        }
        let mut reader = toxide_core::Reader::new(&request);
        let nonce = toxide_core::Nonce::decode(&mut reader).map_err(|_| SendError::BadLength {
            len: request.len(),
            max,
        })?;
        let packet = OnionRequest {
            nonce,
            payload: request.slice(toxide_core::NONCE_SIZE..),
        };
        self.queue
            .push_data(None, &packet)
            .map_err(|_| SendError::QueueFull)
    }
}

fn check_len(len: usize, max: usize) -> Result<(), SendError> {
    if len == 0 || len > max {
        Err(SendError::BadLength { len, max })
    } else {
        Ok(())
    }
}
