//! The ABI against Debian's tox.h (c-toxcore 0.2.18): a C program of ours
//! (`tests/c/abi_check.c`), compiled against the installed header and
//! linked against the `libtoxcore.so` this test was built with, checks the
//! library's behaviour from C and prints the header's layout and enum
//! values, which are compared here with the Rust side. The shared object
//! itself is checked with binutils: its SONAME, and that it exports
//! nothing tox.h, toxencryptsave.h or toxav.h does not declare
//! (toxencryptsave's behaviour is `tests/encryptsave.rs`'s, toxav's
//! `tests/av.rs`'s).
//!
//! Needs a C compiler, binutils and libtoxcore-dev's headers (the header
//! only: nothing links c-toxcore).
#![cfg(target_os = "linux")]
// Test helpers: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;

mod common;

use common::{
    assert_enums_match, compile_check, declared_functions, library, library_dir, run_bounded,
    tagged_lines,
};
use toxcore::options::ToxOptions;
use toxcore::types::C_ENUMS;

/// Debian's header, which `<tox/tox.h>` finds on the default include path.
const TOX_H: &str = "/usr/include/tox/tox.h";
/// Its companion for passphrase-sealed saves, also served by libtoxcore.
const TOXENCRYPTSAVE_H: &str = "/usr/include/tox/toxencryptsave.h";
/// The audio/video API, also served by libtoxcore.
const TOXAV_H: &str = "/usr/include/tox/toxav.h";
const ABI_CHECK_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/abi_check.c");

/// What the C program printed, and where it was built.
struct CheckRun {
    dir: PathBuf,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl CheckRun {
    /// The words after `tag` on each line that starts with it.
    fn lines(&self, tag: &str) -> Vec<Vec<&str>> {
        tagged_lines(&self.stdout, tag)
    }
}

/// Builds and runs the C program once for all tests: in a fresh folder,
/// with `libtoxcore.so` (for the linker) and `libtoxcore.so.2` (the
/// SONAME, for the loader) pointing at the library under test, so the
/// system's c-toxcore cannot be picked up instead.
fn check_run() -> &'static CheckRun {
    static RUN: OnceLock<CheckRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abi_check");
        library_dir(&dir);
        std::fs::write(dir.join("toxide_enums.h"), enums_header()).unwrap();

        let exe = compile_check(&dir, ABI_CHECK_C, "abi_check", TOX_H);

        let (status, stdout, stderr) = run_bounded(Command::new(&exe).env("LD_LIBRARY_PATH", &dir));
        assert!(
            stdout.lines().any(|line| line.starts_with("DONE")),
            "abi_check did not run to the end ({status}):\n{stderr}"
        );
        CheckRun {
            dir,
            status,
            stdout,
            stderr,
        }
    })
}

/// `toxide_enums.h`: an X-macro line per enum and constant we declare,
/// for the C program to print with the header's values (a name the
/// header lacks fails the compilation).
fn enums_header() -> String {
    let mut text =
        String::from("/* Written by ffi/tests/abi.rs from toxcore::types::C_ENUMS. */\n");
    for e in C_ENUMS {
        text.push_str(&format!("TOXIDE_ENUM({})\n", e.name));
        for (name, _) in e.constants {
            text.push_str(&format!("TOXIDE_CONST({name})\n"));
        }
    }
    text
}

fn tool_output(tool: &str, args: &[&str], file: &Path) -> String {
    let (status, stdout, stderr) = run_bounded(Command::new(tool).args(args).arg(file));
    assert!(status.success(), "{tool} {file:?}: {status}\n{stderr}");
    stdout
}

#[test]
fn the_c_program_passes_against_our_library() {
    let run = check_run();
    let failures: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("FAIL") || line.starts_with("DONE"))
        .collect();
    assert!(
        run.status.success() && failures.len() == 1,
        "abi_check failed ({}):\n{}\nstderr:\n{}",
        run.status,
        failures.join("\n"),
        run.stderr
    );
    let done = run.lines("DONE");
    assert_eq!(done.len(), 1, "{}", run.stdout);
    assert!(done[0][0].parse::<u32>().unwrap() > 100, "{:?}", done[0]);

    // It ran on toxide, not on the system's c-toxcore.
    let loaded = run.lines("LIB");
    assert_eq!(loaded.len(), 1, "{}", run.stdout);
    assert_eq!(
        std::fs::canonicalize(loaded[0][0]).unwrap(),
        std::fs::canonicalize(library()).unwrap()
    );
}

#[test]
fn tox_options_has_the_headers_layout() {
    let header: BTreeMap<&str, usize> = check_run()
        .lines("LAYOUT")
        .into_iter()
        .map(|words| (words[0], words[1].parse().unwrap()))
        .collect();
    let ours: BTreeMap<&str, usize> = [
        ("sizeof", size_of::<ToxOptions>()),
        ("alignof", align_of::<ToxOptions>()),
        ("ipv6_enabled", offset_of!(ToxOptions, ipv6_enabled)),
        ("udp_enabled", offset_of!(ToxOptions, udp_enabled)),
        (
            "local_discovery_enabled",
            offset_of!(ToxOptions, local_discovery_enabled),
        ),
        (
            "dht_announcements_enabled",
            offset_of!(ToxOptions, dht_announcements_enabled),
        ),
        ("proxy_type", offset_of!(ToxOptions, proxy_type)),
        ("proxy_host", offset_of!(ToxOptions, proxy_host)),
        ("proxy_port", offset_of!(ToxOptions, proxy_port)),
        ("start_port", offset_of!(ToxOptions, start_port)),
        ("end_port", offset_of!(ToxOptions, end_port)),
        ("tcp_port", offset_of!(ToxOptions, tcp_port)),
        (
            "hole_punching_enabled",
            offset_of!(ToxOptions, hole_punching_enabled),
        ),
        ("savedata_type", offset_of!(ToxOptions, savedata_type)),
        ("savedata_data", offset_of!(ToxOptions, savedata_data)),
        ("savedata_length", offset_of!(ToxOptions, savedata_length)),
        ("log_callback", offset_of!(ToxOptions, log_callback)),
        ("log_user_data", offset_of!(ToxOptions, log_user_data)),
        (
            "experimental_thread_safety",
            offset_of!(ToxOptions, experimental_thread_safety),
        ),
        ("operating_system", offset_of!(ToxOptions, operating_system)),
    ]
    .into_iter()
    .collect();
    assert_eq!(ours, header);
}

#[test]
fn every_enum_is_the_headers() {
    // The same enums and constants, in the same order, as tox.h declares,
    // with the header's values and sizes as the C compiler sees them.
    assert_enums_match(C_ENUMS, TOX_H, &check_run().stdout);
}

#[test]
fn the_library_is_libtoxcore_so_2() {
    let soname = tool_output("readelf", &["-d"], &library());
    assert!(
        soname.contains("Library soname: [libtoxcore.so.2]"),
        "{soname}"
    );
    // A program linked against it records the name Debian's clients have.
    let run = check_run();
    let needed = tool_output("readelf", &["-d"], &run.dir.join("abi_check"));
    assert!(
        needed.contains("Shared library: [libtoxcore.so.2]"),
        "{needed}"
    );
}

#[test]
fn it_exports_only_functions_the_headers_declare() {
    // The three headers libtoxcore.so.2 serves; toxav.h's functions are
    // all there (`tests/av.rs` checks that every one is).
    let declared: BTreeSet<String> = [TOX_H, TOXENCRYPTSAVE_H, TOXAV_H]
        .into_iter()
        .flat_map(declared_functions)
        .collect();
    assert!(declared.contains("tox_new"), "{declared:?}");
    assert!(declared.contains("toxav_new"), "{declared:?}");
    let symbols = tool_output("nm", &["-D", "--defined-only"], &library());
    let exported: BTreeSet<String> = symbols
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .map(str::to_owned)
        .collect();
    let undeclared: Vec<&String> = exported.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "not in tox.h, toxencryptsave.h or toxav.h: {undeclared:?}"
    );
    assert!(exported.contains("tox_options_default"), "{symbols}");
    assert!(exported.contains("tox_pass_encrypt"), "{symbols}");
    assert!(exported.contains("toxav_new"), "{symbols}");
}

/// Debian's toxic (installed by scripts/test) loads with immediate
/// binding, so every `tox_*`/`toxav_*` symbol it takes from libtoxcore
/// must be ours, or it does not start at all (117 symbols in 0.11.1).
#[test]
fn every_symbol_toxic_needs_is_exported() {
    let toxic = Path::new("/usr/bin/toxic");
    assert!(
        toxic.is_file(),
        "Debian's toxic is missing: apt-get install toxic (scripts/test does)"
    );
    let needed: BTreeSet<String> = tool_output("nm", &["-D", "--undefined-only"], toxic)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|name| name.starts_with("tox_") || name.starts_with("toxav_"))
        .map(str::to_owned)
        .collect();
    assert!(needed.len() > 100, "{needed:?}");
    let exported: BTreeSet<String> = tool_output("nm", &["-D", "--defined-only"], &library())
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .map(str::to_owned)
        .collect();
    let missing: Vec<&String> = needed.difference(&exported).collect();
    assert!(missing.is_empty(), "toxic needs, we lack: {missing:?}");
}
