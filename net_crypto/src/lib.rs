//! Tox net_crypto: the encrypted session between two friends that carries
//! everything a messenger sends (spec "Net crypto", checklist L4).
//!
//! Two parties that know each other's long-term ("real") key and DHT key
//! trade cookies (stateless on the responder's side), then handshakes that
//! each carry a fresh session key; from then on data packets are sealed
//! under the session keys with a 16-bit nonce on the wire, and lossless
//! packets are numbered, acknowledged and re-requested.
//!
//! - [`packet`]: the wire packets (cookie request/response, cookie,
//!   handshake, data) and the plaintext framing inside data packets.
//! - [`lossless`]: the send and receive windows, request packets and the
//!   acknowledgement point the messenger builds receipts on.
//! - [`congestion`]: when bulk data may leave (a BBR-style controller).
//! - `connection`: the handshake as typed states (cookie requesting,
//!   handshake sent, not confirmed, established).
//! - `session`: one established session's data plane.
//! - [`layer`]: [`NetCrypto`], every connection of an instance, the
//!   stateless cookie responder and the dispatch of datagrams.
//! - [`path`]: how a packet reaches a peer ([`Path`]); today direct UDP,
//!   with room for TCP relays.
//!
//! Like every protocol crate here, nothing owns a socket, a clock or a
//! task: time and randomness are the caller's.

pub mod congestion;
pub(crate) mod connection;
pub mod layer;
pub mod lossless;
pub mod packet;
pub mod path;
pub(crate) mod session;

pub use layer::{CloseReason, ConnectionId, Event, NetCrypto, SendPacketError, Stats, Status};
pub use path::{Path, Transmit};
