//! One connection as the relay sees it (checklist R1–R4, R7; c-toxcore
//! `TCP_server.c`: `read_connection_handshake`, `do_unconfirmed`,
//! `handle_TCP_packet`, `do_TCP_confirmed`).
//!
//! Three stages: waiting for the 128-byte client handshake, "unconfirmed"
//! after answering it (until a first frame opens, R3), and confirmed.
//! Pings and pongs are handled here; every other packet a client may send
//! becomes a [`Request`] for the relay's routing logic
//! ([`super::RelayServer`]) to act on. Packets only a relay sends are a
//! protocol error, as in c-toxcore.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use toxide_core::{CryptoRng, Decode, Encode, KeyPair, Nonce, PublicKey};

use crate::constants::{TCP_CLIENT_HANDSHAKE_SIZE, TCP_CONNECTION_TIMEOUT, TCP_PING_FREQUENCY};
use crate::error::CloseReason;
use crate::frame::{FrameOpener, FrameSealer};
use crate::handshake::{self, HandshakeError};
use crate::keepalive::Keepalive;
use crate::packet::{ClientHandshake, ConnectionId, Packet};
use crate::queue::{Full, QueueLimits, SendQueue};

/// What a client asked of the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The handshake opened: the client is `client_pk` (not yet
    /// confirmed).
    Handshaked {
        /// The client's DHT key.
        client_pk: PublicKey,
    },
    /// A first frame opened: the client holds the session (R3). Comes
    /// before the requests of that frame.
    Confirmed {
        /// The client's DHT key.
        client_pk: PublicKey,
    },
    /// A link to `pk`, please (R5).
    Route(PublicKey),
    /// Forget this link (R6).
    Disconnect(ConnectionId),
    /// Deliver out-of-band (R8).
    Oob {
        /// The destination's DHT key.
        destination: PublicKey,
        /// 1..=1024 bytes.
        data: Bytes,
    },
    /// Send this onion request on as hop A (R9).
    Onion {
        /// The second layer's nonce.
        nonce: Nonce,
        /// Address, key and sealed layers.
        payload: Bytes,
    },
    /// A forward request (R10): recognised, not served.
    Forward(Bytes),
    /// Route to the peer on this link (R11).
    Data(ConnectionId, Bytes),
}

#[derive(Debug)]
enum Stage {
    AwaitingHandshake {
        deadline: Instant,
    },
    Unconfirmed {
        client_pk: PublicKey,
        sealer: FrameSealer,
        opener: FrameOpener,
        deadline: Instant,
    },
    Confirmed {
        client_pk: PublicKey,
        sealer: FrameSealer,
        opener: FrameOpener,
        keepalive: Keepalive,
    },
    Closed,
}

/// Counters of one connection, summed by the relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Frames opened.
    pub frames_received: u64,
    /// Frames sealed and handed to the driver.
    pub frames_sent: u64,
    /// Pongs matching no ping of ours.
    pub unmatched_pongs: u64,
    /// Connect notifications from the client (ignored, as c-toxcore).
    pub ignored_notifications: u64,
}

/// The relay's side of one client connection.
#[derive(Debug)]
pub struct ServerConnection {
    stage: Stage,
    inbuf: BytesMut,
    queue: SendQueue,
    stats: ConnectionStats,
}

impl ServerConnection {
    /// A freshly accepted socket; the handshake must arrive and the first
    /// frame follow within `TCP_CONNECTION_TIMEOUT` each.
    pub fn new(now: Instant, limits: QueueLimits) -> Self {
        Self {
            stage: Stage::AwaitingHandshake {
                deadline: now + TCP_CONNECTION_TIMEOUT,
            },
            inbuf: BytesMut::new(),
            queue: SendQueue::new(limits),
            stats: ConnectionStats::default(),
        }
    }

    /// The client's key, once its handshake opened.
    pub fn client_pk(&self) -> Option<PublicKey> {
        match &self.stage {
            Stage::Unconfirmed { client_pk, .. } | Stage::Confirmed { client_pk, .. } => {
                Some(*client_pk)
            }
            _ => None,
        }
    }

    /// Whether the client sent a valid frame.
    pub fn is_confirmed(&self) -> bool {
        matches!(self.stage, Stage::Confirmed { .. })
    }

    /// The counters.
    pub fn stats(&self) -> ConnectionStats {
        self.stats
    }

    /// Bytes from the client: appends what they asked for to `out`. An
    /// error means the connection must be closed (requests before it in
    /// `out` are valid).
    pub fn handle_bytes<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        keys: &KeyPair,
        bytes: &[u8],
        out: &mut Vec<Request>,
    ) -> Result<(), CloseReason> {
        if matches!(self.stage, Stage::Closed) {
            return Ok(());
        }
        self.inbuf.extend_from_slice(bytes);
        if let Stage::AwaitingHandshake { .. } = self.stage {
            if self.inbuf.len() < TCP_CLIENT_HANDSHAKE_SIZE {
                return Ok(());
            }
            let hello = self.inbuf.split_to(TCP_CLIENT_HANDSHAKE_SIZE);
            let hello = ClientHandshake::from_bytes(&hello)
                .map_err(|e| CloseReason::Handshake(HandshakeError::Open(e.into())))
                .inspect_err(|_| self.stage = Stage::Closed)?;
            let accepted = handshake::accept(rng, keys, &hello).inspect_err(|_| {
                self.stage = Stage::Closed;
            })?;
            self.queue.set_preamble(accepted.reply.to_bytes());
            self.stage = Stage::Unconfirmed {
                client_pk: accepted.client_pk,
                sealer: accepted.channel.sealer,
                opener: accepted.channel.opener,
                deadline: now + TCP_CONNECTION_TIMEOUT,
            };
            out.push(Request::Handshaked {
                client_pk: accepted.client_pk,
            });
        }
        let result = self.read_frames(now, out);
        if result.is_err() {
            self.close();
        }
        result
    }

    fn read_frames(&mut self, now: Instant, out: &mut Vec<Request>) -> Result<(), CloseReason> {
        loop {
            let opener = match &mut self.stage {
                Stage::Unconfirmed { opener, .. } | Stage::Confirmed { opener, .. } => opener,
                _ => return Ok(()),
            };
            let Some(plain) = opener.open_next(&mut self.inbuf)? else {
                return Ok(());
            };
            self.stats.frames_received += 1;
            self.confirm(now, out);
            self.handle_frame(&plain, out)?;
        }
    }

    fn confirm(&mut self, now: Instant, out: &mut Vec<Request>) {
        if !matches!(self.stage, Stage::Unconfirmed { .. }) {
            return;
        }
        if let Stage::Unconfirmed {
            client_pk,
            sealer,
            opener,
            ..
        } = std::mem::replace(&mut self.stage, Stage::Closed)
        {
            self.stage = Stage::Confirmed {
                client_pk,
                sealer,
                opener,
                keepalive: Keepalive::new(now + TCP_PING_FREQUENCY),
            };
            out.push(Request::Confirmed { client_pk });
        }
    }

    fn handle_frame(&mut self, plain: &[u8], out: &mut Vec<Request>) -> Result<(), CloseReason> {
        match Packet::from_bytes(plain)? {
            Packet::Ping(p) => self.queue.set_pong(p.ping_id),
            Packet::Pong(p) => {
                if let Stage::Confirmed { keepalive, .. } = &mut self.stage {
                    if !keepalive.on_pong(p.ping_id) {
                        self.stats.unmatched_pongs += 1;
                    }
                }
            }
            Packet::ConnectNotification(_) => self.stats.ignored_notifications += 1,
            Packet::RoutingRequest(r) => out.push(Request::Route(r.pk)),
            Packet::DisconnectNotification(d) => out.push(Request::Disconnect(d.connection_id)),
            Packet::OobSend(o) => out.push(Request::Oob {
                destination: o.destination,
                data: o.data,
            }),
            Packet::OnionRequest(o) => out.push(Request::Onion {
                nonce: o.nonce,
                payload: o.payload,
            }),
            Packet::ForwardRequest(f) => out.push(Request::Forward(f.data)),
            Packet::Data(d) => out.push(Request::Data(d.connection_id, d.data)),
            p @ (Packet::RoutingResponse(_)
            | Packet::OobRecv(_)
            | Packet::OnionResponse(_)
            | Packet::Forwarding(_)) => return Err(CloseReason::Unexpected(p.id())),
        }
        Ok(())
    }

    /// Queues a control frame; `Err` means the client does not read and
    /// must be closed ([`CloseReason::SlowReader`]).
    pub(crate) fn push_control(&mut self, packet: &impl Encode) -> Result<(), Full> {
        self.queue.push_control(packet)
    }

    /// Queues a data-class frame; `Err` means it was dropped.
    pub(crate) fn push_data(
        &mut self,
        link: Option<ConnectionId>,
        packet: &impl Encode,
    ) -> Result<(), Full> {
        self.queue.push_data(link, packet)
    }

    pub(crate) fn purge_link(&mut self, link: ConnectionId) {
        self.queue.purge_link(link);
    }

    /// Whether [`ServerConnection::poll_write`] would return bytes.
    pub fn has_pending_write(&self) -> bool {
        match &self.stage {
            Stage::Closed => false,
            Stage::AwaitingHandshake { .. } => false,
            Stage::Unconfirmed { .. } | Stage::Confirmed { .. } => self.queue.has_pending(true),
        }
    }

    /// Bytes waiting to be written.
    pub fn queued_bytes(&self) -> usize {
        self.queue.queued_bytes()
    }

    /// The next bytes to write to the client.
    pub fn poll_write(&mut self) -> Option<Bytes> {
        let sealer = match &mut self.stage {
            Stage::Unconfirmed { sealer, .. } | Stage::Confirmed { sealer, .. } => sealer,
            _ => return None,
        };
        let (bytes, frames) = self.queue.poll(Some(sealer))?;
        self.stats.frames_sent += frames;
        Some(bytes)
    }

    /// When [`ServerConnection::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.stage {
            Stage::AwaitingHandshake { deadline } | Stage::Unconfirmed { deadline, .. } => {
                Some(*deadline)
            }
            Stage::Confirmed { keepalive, .. } => Some(keepalive.poll_timeout()),
            Stage::Closed => None,
        }
    }

    /// Deadlines and pings; an error means close.
    pub fn handle_timeout<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
    ) -> Result<(), CloseReason> {
        let result = match &mut self.stage {
            Stage::AwaitingHandshake { deadline } | Stage::Unconfirmed { deadline, .. } => {
                if now >= *deadline {
                    Err(CloseReason::HandshakeTimeout)
                } else {
                    Ok(())
                }
            }
            Stage::Confirmed { keepalive, .. } => match keepalive.handle_timeout(now, rng) {
                Ok(Some(ping_id)) => {
                    self.queue.set_ping(ping_id);
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(_) => Err(CloseReason::PingTimeout),
            },
            Stage::Closed => Ok(()),
        };
        if result.is_err() {
            self.close();
        }
        result
    }

    /// Drops all state; nothing more is read or written.
    pub fn close(&mut self) {
        self.stage = Stage::Closed;
        self.inbuf = BytesMut::new();
        self.queue = SendQueue::new(QueueLimits::default());
    }
}
