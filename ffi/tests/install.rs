//! README's instructions for C users, followed to the letter: install the
//! library with `scripts/install-c-api` into a fresh prefix, build a C
//! program against Debian's tox.h with `pkg-config --cflags --libs
//! toxide-toxcore`, and run it without LD_LIBRARY_PATH: it must start
//! instances, save and reload, and the loader must have taken toxide's
//! installed library (the pkg-config file's rpath), not Debian's.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(
    dead_code,
    unused_imports,
    reason = "the helpers for header and enum checks are the other tests'"
)]
mod common;

use std::path::Path;
use std::process::Command;

use common::{library, run_bounded, tagged_lines};

const CHECK_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/install_check.c");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/install-c-api");

#[test]
fn an_installed_library_is_found_through_pkg_config_and_its_rpath() {
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-c-api");
    let _ = std::fs::remove_dir_all(&prefix);
    let (status, out, err) = run_bounded(
        Command::new(SCRIPT)
            .arg("--prefix")
            .arg(&prefix)
            .arg("--lib")
            .arg(library()),
    );
    assert!(status.success(), "install failed: {out}{err}");
    let installed = prefix.join("lib/toxide/libtoxcore.so.2");
    assert!(installed.is_file(), "{out}");

    let (status, flags, err) = run_bounded(
        Command::new("pkg-config")
            .args(["--cflags", "--libs", "toxide-toxcore"])
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")),
    );
    assert!(status.success(), "pkg-config: {err}");
    assert!(flags.contains("-ltoxcore"), "{flags}");

    let program = prefix.join("install_check");
    let include = Path::new(CHECK_C).parent().unwrap();
    let (status, out, err) = run_bounded(
        Command::new("cc")
            .arg("-std=c11")
            .arg("-Wall")
            .arg("-Werror")
            .arg("-I")
            .arg(include)
            .arg(CHECK_C)
            .arg("-o")
            .arg(&program)
            .args(flags.split_whitespace()),
    );
    assert!(status.success(), "cc: {out}{err}");

    let (status, out, err) = run_bounded(Command::new(&program).env_remove("LD_LIBRARY_PATH"));
    let done = tagged_lines(&out, "DONE");
    assert!(
        matches!(done.as_slice(), [counts] if counts.get(1) == Some(&"0") && counts.first() != Some(&"0")),
        "checks failed: {out}{err}"
    );
    assert!(status.success(), "{out}{err}");
    let mapped: Vec<_> = tagged_lines(&out, "MAPPED")
        .into_iter()
        .map(|line| line.first().map(|p| p.to_string()).unwrap_or_default())
        .collect();
    assert!(!mapped.is_empty(), "no libtoxcore mapped: {out}");
    let installed = installed.canonicalize().unwrap();
    for path in &mapped {
        assert_eq!(
            Path::new(path).canonicalize().unwrap(),
            installed,
            "the loader took another libtoxcore: {out}"
        );
    }
}
