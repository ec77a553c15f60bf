//! Conformance harness: real c-toxcore 0.2.18 next to toxide.
//!
//! toxide's unit and simulator tests prove the layers agree with themselves;
//! this crate proves they agree with the implementation every Tox client on
//! the network runs. It starts, with fresh ports and temporary directories
//! so tests can run in parallel, and on loopback only (or inside a network
//! namespace the test created, for LAN discovery):
//!
//! - [`CPeer`]: one c-toxcore instance (`c/tox_peer.c`, linked against the
//!   system's libtoxcore through the public `tox.h` only, or run on another
//!   `libtoxcore.so.2` such as toxide's with [`PeerOptions::library_dir`]),
//!   driven by a line protocol: commands in, `OK`/`ERR` replies and
//!   [`Event`] lines out;
//! - [`Bootstrapd`]: Debian's `tox-bootstrapd` as a private bootstrap node
//!   and, on request, TCP relay;
//! - [`ProxyProcess`]: Debian's `microsocks` or `tinyproxy` on a fresh
//!   port, for relay connections through a proxy;
//! - [`Sodium`]: libsodium (`c/sodium_vectors.c`) as the reference for
//!   byte-exact crypto.
//!
//! Every wait is bounded; errors carry the helper's recent output. Nothing
//! here is used by the protocol crates themselves: it is test support only.

mod bootstrapd;
mod error;
mod event;
pub mod measure;
mod peer;
mod process;
mod proxy;
mod sodium;

pub use bootstrapd::{Bootstrapd, BootstrapdOptions, DEFAULT_BOOTSTRAPD, bootstrapd_config};
pub use error::{Error, Result};
pub use event::{Connection, Event, escape, unescape};
pub use peer::{
    CPeer, PeerOptions, REPLY_TIMEOUT, ReceivedFile, STARTUP_TIMEOUT, TOX_PEER_BIN, longest_message,
};
pub use process::{
    LineMatcher, TempDir, fresh_tcp_port, fresh_udp_port, hex_decode, hex_encode,
    mapped_libtoxcore, running_as_root,
};
pub use proxy::{ProxyProcess, ProxyProgram};
pub use sodium::{SODIUM_VECTORS_BIN, Sodium};

/// A benchmark's numeric flag: the value after `name` on the command line
/// (`--mb 200`), or `default` when it is absent or not a number.
pub fn bench_arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
