//! toxide: a Tox messenger library.
//!
//! This façade crate is what applications depend on. It re-exports the
//! protocol layers and (as they land) hosts the `Tox` handle and the tokio
//! driver that runs the sans-IO layer state machines on real sockets.
//! Today it offers the shared foundation: keys, boxes, nonces, the codec,
//! packed nodes and Tox IDs.

pub use toxide_core as core;
pub use toxide_core::{KeyPair, NoSpam, PublicKey, SecretKey, ToxId, ToxIdError};

pub mod driver;
