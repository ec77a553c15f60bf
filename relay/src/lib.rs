//! The Tox TCP relay (spec "TCP client", "TCP server"; checklist L5): how
//! peers that cannot use UDP reach each other and the onion.
//!
//! A client opens a TCP connection to a relay (any node running one),
//! authenticates with its DHT key, and from then on speaks in encrypted
//! frames. Through the relay it can ask for a link to another client's DHT
//! key (both must ask), route net_crypto packets over that link, send
//! small out-of-band packets to any client of the relay, and use the relay
//! as the first hop of its onion paths. In the stack the relay sits beside
//! the DHT and the onion under net_crypto, which carries sessions over
//! either UDP or a relay link.
//!
//! - [`packet`]: the handshakes and every frame payload of c-toxcore
//!   0.2.18, sizes checked before anything is copied.
//! - [`frame`]: the length-prefixed encrypted frames with their counted
//!   nonces, and a decoder that takes the stream in any pieces.
//! - [`handshake`]: the handshake as typed steps, both sides.
//! - [`client`]: [`ClientConnection`], one connection to one relay.
//! - [`server`]: [`RelayServer`], the relay's connections and routing
//!   table, built on [`server::ServerConnection`].
//! - [`proxy`]: the SOCKS5 and HTTP `CONNECT` exchanges that open a
//!   tunnel to a relay through a proxy.
//!
//! Like every protocol crate here, nothing owns a socket, a clock or a
//! task: bytes, time and randomness are the caller's, and every queue is
//! bounded.

pub mod client;
pub mod constants;
mod error;
pub mod frame;
pub mod handshake;
mod keepalive;
pub mod packet;
pub mod proxy;
mod queue;
pub mod server;

pub use client::{ClientConfig, ClientConnection, ClientEvent, ClientStats, SendError};
pub use error::CloseReason;
pub use frame::{FrameDecoder, FrameError, FrameOpener, FrameSealer};
pub use packet::{ConnectionId, Packet};
pub use queue::QueueLimits;
pub use server::{AcceptError, ConnHandle, RelayServer, ServerConfig, ServerEvent, ServerStats};
