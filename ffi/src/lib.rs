//! toxide-ffi: c-toxcore's C API on toxide, built as `libtoxcore.so`
//! with the SONAME of Debian's libtoxcore.so.2 (c-toxcore 0.2.18), so that
//! existing Tox clients (toxic, qTox, bots) load it in place of c-toxcore
//! without being rebuilt (`LD_LIBRARY_PATH`). It will sit on top of the
//! whole stack, running it under a synchronous driver; for now it needs
//! none of it. It is the only crate where `unsafe` is allowed: every C
//! pointer is checked and dereferenced here, and a panic never crosses
//! into C (the `guard` module).
//!
//! The declarations are our own, written from tox.h's, toxencryptsave.h's
//! and toxav.h's documented ABI; C programs compile against the headers
//! they have. `tests/abi.rs`, `tests/encryptsave.rs` and `tests/av.rs`
//! check them against Debian's headers with C programs.
//!
//! What is here is the part of the ABI that needs no running instance:
//! - [`version`]: the `tox_version_*` functions;
//! - [`limits`]: the size and length getters (`tox_public_key_size` …);
//! - [`options`]: `struct Tox_Options` with `tox_options_new`/`_free`/
//!   `_default` and every accessor;
//! - [`hash`]: the SHA-256 of `tox_hash`;
//! - [`types`]: every enum of tox.h, toxencryptsave.h and toxav.h, and
//!   the opaque types;
//! - [`encryptsave`]: all of toxencryptsave.h (passphrase-sealed saves),
//!   on toxide-messenger's container;
//! - [`av`]: every function of toxav.h, so clients built with A/V load;
//!   a session keeps its callbacks, but every call fails as the header
//!   documents (calls are not built yet).
//!
//! Not here yet: `tox_new`, `tox_iterate` and everything else that takes a
//! `Tox *` (they need the synchronous driver), audio and video calls
//! themselves, and `tox_events.h`.

pub mod av;
pub mod encryptsave;
mod guard;
pub mod hash;
pub mod limits;
pub mod options;
pub mod types;
pub mod version;
