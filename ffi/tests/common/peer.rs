//! Running c-toxcore's test peer (`tox_peer`, unmodified) on one
//! `libtoxcore.so.2` or the other, and proving from `/proc/<pid>/maps`
//! which one it loaded: for the tox_peer test (through `common/mod.rs`)
//! and the C API benchmark (`benches/c_api.rs`, which includes this file
//! by path).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use toxide_interop::{CPeer, PeerOptions};

use super::library::{library, library_dir};

/// Which `libtoxcore.so.2` a `tox_peer` loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Library {
    /// This crate's cdylib, found through `LD_LIBRARY_PATH`.
    Toxide,
    /// Debian's c-toxcore, found where the system keeps it.
    CToxcore,
}

impl fmt::Display for Library {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Toxide => "toxide",
            Self::CToxcore => "c-toxcore",
        })
    }
}

/// A directory named `toxide` (so peers' labels end in `@toxide`) where
/// the loader finds the library under test as `libtoxcore.so.2`; made
/// once per run of the test or benchmark program, under its own name.
fn toxide_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(env!("CARGO_CRATE_NAME"))
            .join("toxide");
        library_dir(&dir);
        dir
    })
}

/// Starts `tox_peer` as `label` on `on`'s library (with `options` for the
/// rest), and checks that the library it mapped is that one.
pub(crate) fn spawn_on(label: &str, on: Library, options: PeerOptions) -> Result<CPeer, String> {
    let library_dir = match on {
        Library::Toxide => Some(toxide_dir().to_path_buf()),
        Library::CToxcore => None,
    };
    let peer = CPeer::spawn(PeerOptions {
        label: Some(label.to_owned()),
        library_dir,
        ..options
    })
    .map_err(|e| format!("{label} on {on} did not start: {e}"))?;
    check_runs_on(&peer, on)?;
    Ok(peer)
}

/// The peer's process has toxide's library mapped if and only if it is
/// meant to run on it, and some libtoxcore in any case.
fn check_runs_on(peer: &CPeer, on: Library) -> Result<(), String> {
    let mapped = peer
        .mapped_libtoxcore()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} has no libtoxcore mapped", peer.label()))?;
    let ours = std::fs::canonicalize(library()).map_err(|e| e.to_string())?;
    if (mapped == ours) == (on == Library::Toxide) {
        Ok(())
    } else {
        Err(format!(
            "{} should run on {on} but mapped {} (toxide's is {})",
            peer.label(),
            mapped.display(),
            ours.display()
        ))
    }
}
