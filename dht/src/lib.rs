//! The Tox DHT: the layer that finds peers and keeps a node reachable.
//!
//! It sits directly on `toxide-core` (keys, boxes, nonces, packed nodes) and
//! under everything else: the onion uses DHT nodes as its paths and relays,
//! net_crypto learns a friend's address from it, and the node binary serves
//! it to the network. Like every toxide layer it does no I/O: callers hand it
//! received datagrams and take the datagrams it wants sent.
//!
//! This crate currently holds the packet layer ([`packet`]): every UDP
//! packet c-toxcore 0.2.18's DHT sends or answers, with the exact lengths
//! c-toxcore enforces, checked before any cryptography is done. The state
//! machine (close list, search lists, ping arrays, NAT punching) is built on
//! top of it ([`machine`], split by protocol concept). [`state`] holds the
//! DHT section of a save file: the nodes a restart reconnects through.
//! Wire facts follow c-toxcore 0.2.18 where it and the Tox spec disagree
//! (see `shared/protocol-checklist.md`, layer L2).

pub mod packet;

pub mod client;
pub mod close_list;
pub mod constants;
pub mod distance;
pub mod lan;
pub mod machine;
pub mod nat;
pub mod pending;
pub mod rate_limit;
pub mod refresh;
pub mod search;
pub mod shared_keys;
pub mod state;
pub mod stats;

pub use machine::{Config, Dht, Event, Transmit};
pub use rate_limit::RateLimit;
pub use state::DhtState;
pub use stats::Stats;

pub use packet::{DhtPacketError, Packet};
