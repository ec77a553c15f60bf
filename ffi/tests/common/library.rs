//! Where the library under test is, and a directory where the linker and
//! the loader find it as `libtoxcore`: for the tests (through
//! `common/mod.rs`) and for the C API benchmark (`benches/c_api.rs`,
//! which includes this file by path).

use std::path::{Path, PathBuf};

/// The library under test: the cdylib cargo built beside this test (or
/// benchmark) from
/// the same compilation as the rlib it links (a library's crate types are
/// built together, into `deps/`), so the C program and the Rust side of
/// the comparison are one build. No nested `cargo build`: under `cargo
/// test --workspace` its different feature resolution would rebuild the
/// crate and overwrite the shared, unhashed file name.
pub(crate) fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.with_file_name("libtoxcore.so");
    assert!(
        lib.is_file(),
        "{} was not built beside {}",
        lib.display(),
        exe.display()
    );
    lib
}

/// Makes `dir` afresh (whatever was there is removed) as a directory
/// where the linker (`-L dir -ltoxcore`) and the loader
/// (`LD_LIBRARY_PATH=dir`, which looks for the SONAME `libtoxcore.so.2`)
/// find the [`library`] under test instead of the system's c-toxcore:
/// `libtoxcore.so` and `libtoxcore.so.2` link to it.
pub(crate) fn library_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let lib = library();
    for name in ["libtoxcore.so", "libtoxcore.so.2"] {
        std::os::unix::fs::symlink(&lib, dir.join(name)).unwrap();
    }
}
