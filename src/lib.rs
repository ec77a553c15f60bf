//! toxide: a Tox messenger library.
//!
//! This façade crate is what applications depend on. It re-exports the
//! protocol layers and hosts the tokio [`driver`] that runs their sans-IO
//! state machines on real sockets: today the DHT and the onion (relay,
//! announce service and, for a client, announcing itself, finding friends
//! and friend requests). The `Tox` handle joins it with net_crypto and the
//! messenger layer.

pub use toxide_core as core;
pub use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey, SecretKey, ToxId, ToxIdError};
pub use toxide_dht as dht;
pub use toxide_messenger as messenger;
pub use toxide_net_crypto as net_crypto;
pub use toxide_onion as onion;

pub mod driver;
pub mod stack;
pub mod tox;

pub use bytes::Bytes;
pub use driver::{ClientIdentity, Driver, DriverConfig, DriverHandle};
pub use stack::{Stack, StackEvent};
pub use tox::{Tox, ToxBuilder, ToxError, ToxEvent, ToxEvents};
pub use toxide_onion::ClientEvent;
