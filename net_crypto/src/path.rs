//! How a packet reaches a peer, and what the layer asks the driver to send.
//!
//! A session is not bound to one transport (checklist N15): c-toxcore sends
//! over direct UDP while something arrived that way within 8 s, and over the
//! peer's TCP relays otherwise, without resetting the session's numbering.
//! So the layer names a [`Path`] for every datagram and keeps its sequence
//! state in the session, not in the path. Today the only path is direct
//! UDP; the TCP relay issue adds a variant for "relay R, connection C",
//! which is why the type is non-exhaustive: drivers must route what they
//! do not know to nowhere rather than fail to compile later.

use std::net::SocketAddr;

/// One way to a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Path {
    /// A UDP datagram straight to this address.
    Udp(SocketAddr),
}

/// A datagram the layer wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Which way.
    pub path: Path,
    /// The whole datagram, packet id first.
    pub payload: Vec<u8>,
}
