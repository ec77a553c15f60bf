//! How a packet reaches a peer, and what the layer asks the driver to send.
//!
//! A session is not bound to one transport (checklist N15): c-toxcore sends
//! over direct UDP while something arrived that way within 8 s
//! ([`UDP_DIRECT_TIMEOUT`]), and over the peer's TCP relays otherwise,
//! without resetting the session's numbering. So the layer names a
//! [`Path`] for every datagram and keeps its sequence state in the session,
//! not in the path. Which relay carries a [`Path::Tcp`] packet, and whether
//! as routed data or out of band, is the relay layer's choice (c-toxcore
//! `TCP_connection.c` decides it there too): net_crypto only knows that the
//! peer can be reached through relays. The type is non-exhaustive so that
//! drivers route what they do not know to nowhere rather than fail to
//! compile when a transport is added.

use std::net::SocketAddr;
use std::time::Duration;

use toxide_core::PublicKey;

/// How long direct UDP counts as working after the last packet that
/// arrived over it (c-toxcore `UDP_DIRECT_TIMEOUT`): past it, data goes
/// through the TCP relays if the peer is reachable there.
pub const UDP_DIRECT_TIMEOUT: Duration = Duration::from_secs(8);

/// One way to a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Path {
    /// A UDP datagram straight to this address.
    Udp(SocketAddr),
    /// Through our TCP relays, to (or from) the peer with this DHT key:
    /// relays authenticate their clients by DHT key (checklist R1), so the
    /// key names the peer as an address would.
    Tcp(PublicKey),
}

/// A datagram the layer wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Which way.
    pub path: Path,
    /// The whole datagram, packet id first.
    pub payload: Vec<u8>,
}
