//! toxide: a peer-to-peer, end-to-end encrypted messenger library that
//! speaks the Tox protocol on the wire, interoperating with c-toxcore
//! 0.2.18 clients (qTox, toxic, uTox).
//!
//! Most applications need only [`tox`]: [`ToxBuilder`] starts a client (a
//! new profile or a save, plain or encrypted), [`Tox`] adds friends, sends
//! messages and saves, and [`ToxEvents`] streams what happened.
//!
//! ```no_run
//! use toxide::tox::{ToxBuilder, ToxEvent};
//!
//! # async fn run() -> Result<(), toxide::ToxError> {
//! let node_key = "F404ABAA1C99A9D37D61AB54898F56793E1DEF8BD46B1038B9D822E8460FAB67".parse().unwrap();
//! let (tox, mut events) = ToxBuilder::new()
//!     .bootstrap("127.0.0.1:33445".parse().unwrap(), node_key)
//!     .spawn()
//!     .await?;
//! println!("add me: {}", tox.address());
//! while let Some(event) = events.recv().await {
//!     match event {
//!         ToxEvent::FriendRequest { public_key, .. } => {
//!             tox.add_friend_norequest(public_key).await?;
//!         }
//!         ToxEvent::Message { friend, kind, text } => {
//!             tox.send_message(friend, kind, text).await?;
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Underneath, every protocol layer is its own sans-IO crate, re-exported
//! here ([`core`], [`dht`], [`onion`], [`net_crypto`], [`relay`],
//! [`messenger`]);
//! [`Stack`] composes them into one state machine and [`driver`] runs it
//! on tokio sockets and timers. The same stack runs in the deterministic
//! simulator (`toxide-sim`).

#![warn(missing_docs)]

pub use toxide_core as core;
pub use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey, SecretKey, ToxId, ToxIdError};
pub use toxide_dht as dht;
pub use toxide_messenger as messenger;
pub use toxide_net_crypto as net_crypto;
pub use toxide_onion as onion;
pub use toxide_relay as relay;

pub mod driver;
pub mod stack;
pub mod sync_driver;
pub mod tox;

pub use bytes::Bytes;
pub use driver::{ClientIdentity, Driver, DriverConfig, DriverHandle};
pub use stack::{Connection, Stack, StackEvent};
pub use tox::{Tox, ToxBuilder, ToxError, ToxEvent, ToxEvents};
pub use toxide_onion::ClientEvent;
