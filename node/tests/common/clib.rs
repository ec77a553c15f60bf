//! Debian's unmodified C clients on our drop-in `libtoxcore.so.2` (the
//! `toxide-ffi` cdylib): which library file a client must run on, and
//! which it has mapped.

use std::path::{Path, PathBuf};

/// Debian's c-toxcore, which the clients load when not told otherwise.
pub(crate) const SYSTEM_LIBRARY: &str = "/usr/lib/x86_64-linux-gnu/libtoxcore.so.2";

/// The library a client must run on: our cdylib, as cargo built it beside
/// this test (node's dev-dependency `toxide-ffi`: a dependency's crate
/// types are built together, into `deps/`), or with `system_env` set
/// Debian's (a comparison when a step fails on ours); symbolic links
/// resolved, as `/proc/<pid>/maps` names it.
pub(crate) fn library_under_test(system_env: &str) -> PathBuf {
    if std::env::var_os(system_env).is_some() {
        return Path::new(SYSTEM_LIBRARY).canonicalize().unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let lib = exe.with_file_name("libtoxcore.so");
    assert!(
        lib.is_file(),
        "{} was not built beside {} (node's dev-dependency toxide-ffi builds it)",
        lib.display(),
        exe.display()
    );
    lib.canonicalize().unwrap()
}

/// A directory whose `libtoxcore.so.2` links to `library`: the client's
/// `LD_LIBRARY_PATH`.
pub(crate) fn library_dir(dir: &Path, library: &Path) -> PathBuf {
    let lib_dir = dir.join("lib");
    std::fs::create_dir_all(&lib_dir).unwrap();
    std::os::unix::fs::symlink(library, lib_dir.join("libtoxcore.so.2")).unwrap();
    lib_dir
}
