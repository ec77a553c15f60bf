//! toxav.h against Debian's c-toxcore 0.2.18 header: a C program of ours
//! (`tests/c/av_check.c`), compiled against the installed header and
//! linked against the `libtoxcore.so` this test was built with, calls
//! every function toxav.h declares and checks the "calls are not
//! supported yet" behaviour (sessions keep their Tox and callbacks, calls
//! and frames fail with the documented codes, no callback fires), and
//! prints the header's enum values for the Rust side to compare. The
//! library must export every function toxav.h declares: Debian's clients
//! bind all their symbols at load time. When valgrind is installed the
//! program also runs under it, which proves `toxav_kill` frees and that
//! nothing reads through the dummy `Tox *`.
//!
//! Needs a C compiler, binutils and libtoxcore-dev's headers (the header
//! only: nothing links c-toxcore).
#![cfg(target_os = "linux")]
// Test helpers: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{
    assert_enums_match, compile_check, declared_functions, library, library_dir, run_bounded,
    tagged_lines,
};
use toxcore::types::TOXAV_ENUMS;

const TOXAV_H: &str = "/usr/include/tox/toxav.h";
const CHECK_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/av_check.c");

/// The built program and what its plain run printed.
struct CheckRun {
    dir: PathBuf,
    exe: PathBuf,
    stdout: String,
}

/// `toxide_av_enums.h`: an X-macro line per enum and constant we declare,
/// for the C program to print with the header's values (a name the
/// header lacks fails the compilation).
fn enums_header() -> String {
    let mut text =
        String::from("/* Written by ffi/tests/av.rs from toxcore::types::TOXAV_ENUMS. */\n");
    for e in TOXAV_ENUMS {
        text.push_str(&format!("TOXIDE_ENUM({})\n", e.name));
        for (name, _) in e.constants {
            text.push_str(&format!("TOXIDE_CONST({name})\n"));
        }
    }
    text
}

/// Builds the program once for all tests, in a fresh folder where
/// `libtoxcore.so` and `libtoxcore.so.2` point at the library under test,
/// and runs it there.
fn check_run() -> &'static CheckRun {
    static RUN: OnceLock<CheckRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("av_check");
        library_dir(&dir);
        std::fs::write(dir.join("toxide_av_enums.h"), enums_header()).unwrap();

        let exe = compile_check(&dir, CHECK_C, "av_check", TOXAV_H);

        let (status, stdout, stderr) = run_bounded(Command::new(&exe).env("LD_LIBRARY_PATH", &dir));
        assert_passed("av_check", status.success(), &stdout, &stderr);
        CheckRun { dir, exe, stdout }
    })
}

/// The run exited cleanly, printed no FAIL line and a DONE line with a
/// plausible number of checks and no failure.
fn assert_passed(what: &str, success: bool, stdout: &str, stderr: &str) {
    let failures: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("FAIL"))
        .collect();
    // `DONE <checks> <failures>`, once.
    let done: Vec<u32> = tagged_lines(stdout, "DONE")
        .into_iter()
        .flatten()
        .map(|word| word.parse().unwrap())
        .collect();
    assert!(
        success && failures.is_empty() && matches!(done[..], [checks, 0] if checks > 60),
        "{what} failed:\n{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        failures.join("\n"),
    );
}

#[test]
fn the_c_program_passes_against_our_library() {
    let run = check_run();
    // It ran on toxide, not on the system's c-toxcore.
    let loaded = tagged_lines(&run.stdout, "LIB");
    assert_eq!(loaded.len(), 1, "{}", run.stdout);
    assert_eq!(
        std::fs::canonicalize(loaded[0][0]).unwrap(),
        std::fs::canonicalize(library()).unwrap()
    );
}

#[test]
fn every_enum_is_the_headers() {
    assert_enums_match(TOXAV_ENUMS, TOXAV_H, &check_run().stdout);
}

#[test]
fn it_exports_every_function_toxav_h_declares() {
    let declared = declared_functions(TOXAV_H);
    // The header's 28 functions, among them the old A/V conference ones
    // toxic links.
    assert_eq!(declared.len(), 28, "{declared:?}");
    for name in [
        "toxav_new",
        "toxav_audio_iterate",
        "toxav_callback_video_receive_frame",
        "toxav_add_av_groupchat",
        "toxav_groupchat_av_enabled",
    ] {
        assert!(declared.contains(name), "{name}: {declared:?}");
    }
    let (status, symbols, stderr) = run_bounded(
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(library()),
    );
    assert!(status.success(), "nm: {status}\n{stderr}");
    // Functions, in the text section.
    let exported: BTreeSet<String> = symbols
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words.len() == 3 && words[1] == "T").then(|| words[2].to_owned())
        })
        .collect();
    let missing: Vec<&String> = declared.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "toxav.h functions not exported: {missing:?}"
    );
}

#[test]
fn valgrind_finds_no_leak_or_bad_access() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind is not installed: skipped");
        return;
    }
    let run = check_run();
    let (status, stdout, stderr) = run_bounded(
        Command::new("valgrind")
            .args([
                "--error-exitcode=99",
                "--leak-check=full",
                "--show-leak-kinds=definite",
                "--errors-for-leak-kinds=definite",
            ])
            .arg(&run.exe)
            .env("LD_LIBRARY_PATH", &run.dir),
    );
    assert_passed(
        "av_check under valgrind",
        status.success(),
        &stdout,
        &stderr,
    );
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors"),
        "valgrind:\n{stderr}"
    );
}
