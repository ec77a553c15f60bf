//! Why a connection ended, shared by both sides.

use thiserror::Error;
use toxide_core::DecodeError;

use crate::frame::FrameError;
use crate::handshake::HandshakeError;

/// Why a relay connection was closed. Carries field names and sizes,
/// never the peer's bytes (a relay logs these for every dropped client).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CloseReason {
    /// The handshake did not finish within `TCP_CONNECTION_TIMEOUT`; on a
    /// relay, also a client that never sent its first frame.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The handshake was malformed or did not open.
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// A frame was too long or did not open.
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    /// A frame opened but its payload is malformed.
    #[error("bad packet: {0}")]
    Packet(#[from] DecodeError),
    /// A packet this side never accepts from the other (c-toxcore drops
    /// the connection for these too), or data on a link never opened.
    #[error("unexpected packet id {0}")]
    Unexpected(u8),
    /// A ping went unanswered for `TCP_PING_TIMEOUT`.
    #[error("ping timed out")]
    PingTimeout,
    /// The peer does not read what is sent to it: its control queue
    /// overflowed (relay side).
    #[error("peer does not read its queue")]
    SlowReader,
    /// The same client connected again; the older connection goes (relay
    /// side, as c-toxcore's `add_accepted`).
    #[error("replaced by a newer connection of the same client")]
    Replaced,
    /// Too many handshakes in progress; the oldest goes (relay side).
    #[error("evicted: too many unconfirmed connections")]
    Evicted,
    /// The socket ended (reported by the driver).
    #[error("connection lost")]
    Lost,
    /// Closed by our own side.
    #[error("closed locally")]
    Local,
}
