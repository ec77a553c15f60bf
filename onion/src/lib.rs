//! The Tox onion: how a client announces itself and finds friends without
//! telling the network who looks for whom (spec "Onion", checklist L3).
//!
//! A client wraps a request in three layers for three random relays A, B
//! and C; C delivers it to an announce node D. Each relay adds an encrypted
//! return layer only it can open, so D's answer travels back without D or
//! any relay learning more than its neighbours.
//!
//! - [`packet`]: every onion packet of c-toxcore 0.2.18 (and the 0x87/0x88
//!   announce pair of later releases), sizes checked before cryptography.
//! - [`relay`]: the relay every node runs (layers 0–2 out, 3–1 back).
//! - [`announce`]: the announce store and its request/data handling.
//! - [`server`]: both behind one sans-IO state machine in the DHT's shape,
//!   which is what a bootstrap node and every client serve to the network.
//! - [`path`]: a client's three-hop path and how it wraps a request.
//! - [`client`]: the onion client (announcing us, searching friends, DHT-PK
//!   and friend requests through onion data).
//!
//! The layer sits on the DHT: the server borrows it for the close nodes
//! its announce responses list, the client for path nodes, its own DHT key
//! and the DHT route of DHT-PK announcements. Both receive it as an
//! argument of each call, never as a stored handle.
//!
//! Like the DHT, nothing here owns a socket, a clock or a task: time and
//! randomness are the caller's.

pub mod announce;
pub mod client;
pub mod constants;
pub mod packet;
pub mod path;
pub mod relay;
pub mod server;

pub use client::{ClientConfig, ClientEvent, OnionClient};
pub use packet::{OnionPacketError, Packet};
pub use server::{OnionServer, ServerConfig, ServerStats};
