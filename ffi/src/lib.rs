//! toxide-ffi: c-toxcore's C API on toxide, built as `libtoxcore.so`
//! with the SONAME of Debian's libtoxcore.so.2 (c-toxcore 0.2.18), so that
//! existing Tox clients (toxic, qTox, bots) load it in place of c-toxcore
//! without being rebuilt (`LD_LIBRARY_PATH`). It is the only crate where
//! `unsafe` is allowed: every C pointer is checked and dereferenced here,
//! and a panic never crosses into C (the `guard` module).
//!
//! The declarations are our own, written from tox.h's, toxencryptsave.h's
//! and toxav.h's documented ABI; C programs compile against the headers
//! they have. `tests/abi.rs`, `tests/encryptsave.rs` and `tests/av.rs`
//! check them against Debian's headers with C programs, and
//! `tests/tox_peer.rs` runs the project's c-toxcore test peer, unchanged,
//! on this library against the same peer on c-toxcore.
//!
//! - `instance`: `tox_new`, `tox_kill`, `tox_iterate` and
//!   `tox_iteration_interval`, the save, bootstrapping: a `Tox *` is
//!   toxide's stack under the synchronous driver
//!   ([`toxide::sync_driver`]), which owns non-blocking sockets and no
//!   thread;
//! - `callbacks`: the `tox_callback_*` registrations, called from
//!   `tox_iterate` as c-toxcore calls them;
//! - `self_info`, `friend`, `file`, `conference`: the `tox_self_*`,
//!   `tox_friend_*`, `tox_file_*` and `tox_conference_*` calls;
//! - [`version`], [`limits`], [`options`], [`hash`]: what needs no
//!   instance (versions, sizes, `struct Tox_Options`, `tox_hash`);
//! - [`types`]: every enum of tox.h, toxencryptsave.h and toxav.h, and
//!   the opaque types;
//! - [`encryptsave`]: all of toxencryptsave.h (passphrase-sealed saves),
//!   on toxide-messenger's container;
//! - [`av`]: every function of toxav.h, so clients built with A/V load;
//!   a session keeps its callbacks, but every call fails as the header
//!   documents (calls are not built yet).
//!
//! Not here: audio and video calls, a TCP relay inside a client
//! (`tcp_port`), the log callback's lines, and `tox_events.h`.

pub mod av;
pub mod callbacks;
mod cbuf;
pub mod conference;
pub mod encryptsave;
pub mod file;
pub mod friend;
mod guard;
pub mod hash;
pub mod instance;
pub mod limits;
pub mod options;
pub mod self_info;
pub mod types;
mod values;
pub mod version;
