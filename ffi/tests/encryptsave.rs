//! toxencryptsave.h against Debian's c-toxcore 0.2.18: one C program of
//! ours (`tests/c/encryptsave_check.c`), compiled against the installed
//! header and built twice, linked once against the `libtoxcore.so` this
//! test was built with and once against Debian's. Both builds run the same
//! checks (sizes against the header's macros; wrong passphrase, short
//! data, bad magic and NULL arguments giving the header's codes; salts;
//! keys), so each expectation is c-toxcore's own behaviour too. Then each
//! seals a message into files and the other opens them: data sealed by
//! toxide opens in c-toxcore and the reverse, by passphrase and by key.
//!
//! Needs a C compiler and libtoxcore-dev (header and `libtoxcore.so`).
#![cfg(target_os = "linux")]
// Test helpers: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{assert_enums_match, library, library_dir, run_bounded, tagged_lines};
use toxcore::types::ENCRYPTSAVE_ENUMS;

const TOXENCRYPTSAVE_H: &str = "/usr/include/tox/toxencryptsave.h";
const CHECK_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/encryptsave_check.c");

/// The two builds of the C program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Build {
    /// Linked against the library under test.
    Toxide,
    /// Linked against Debian's c-toxcore.
    Debian,
}

impl Build {
    fn name(self) -> &'static str {
        match self {
            Build::Toxide => "toxide",
            Build::Debian => "debian",
        }
    }
}

/// What one run printed.
#[derive(Debug)]
struct Run {
    stdout: String,
}

impl Run {
    fn lines(&self, tag: &str) -> Vec<Vec<&str>> {
        tagged_lines(&self.stdout, tag)
    }
}

/// The four runs: each build seals, then each opens the other's files.
struct Runs {
    write: BTreeMap<&'static str, Run>,
    read: BTreeMap<&'static str, Run>,
}

/// `toxide_encryptsave_enums.h`: an X-macro line per enum and constant we
/// declare, for the C program to print with the header's values.
fn enums_header() -> String {
    let mut text = String::from(
        "/* Written by ffi/tests/encryptsave.rs from toxcore::types::ENCRYPTSAVE_ENUMS. */\n",
    );
    for e in ENCRYPTSAVE_ENUMS {
        text.push_str(&format!("TOXIDE_ENUM({})\n", e.name));
        for (name, _) in e.constants {
            text.push_str(&format!("TOXIDE_CONST({name})\n"));
        }
    }
    text
}

/// Compiles the program for `build` into `dir`.
fn compile(dir: &Path, build: Build) -> PathBuf {
    let exe = dir.join(format!("encryptsave_check_{}", build.name()));
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let mut command = Command::new(&compiler);
    command
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(dir)
        .arg(CHECK_C)
        .arg("-o")
        .arg(&exe);
    if build == Build::Toxide {
        command.arg("-L").arg(dir.join("toxide"));
    }
    command.arg("-ltoxcore");
    let (status, _, stderr) = run_bounded(&mut command);
    assert!(
        status.success(),
        "compiling {CHECK_C} for {build:?} with {compiler} failed ({status}); it needs \
         libtoxcore-dev:\n{stderr}"
    );
    exe
}

/// Runs `exe mode prefix`; the toxide build finds only the library under
/// test, the Debian build only the system's.
fn run(dir: &Path, exe: &Path, build: Build, mode: &str, prefix: &Path) -> Run {
    let mut command = Command::new(exe);
    command.arg(mode).arg(prefix).env_remove("LD_LIBRARY_PATH");
    if build == Build::Toxide {
        command.env("LD_LIBRARY_PATH", dir.join("toxide"));
    }
    let (status, stdout, stderr) = run_bounded(&mut command);
    let failures: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("FAIL"))
        .collect();
    assert!(
        status.success() && failures.is_empty() && stdout.contains("DONE"),
        "encryptsave_check {mode} on {build:?} failed ({status}):\n{}\nstderr:\n{stderr}",
        failures.join("\n"),
    );
    Run { stdout }
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("encryptsave_check");
        let _ = std::fs::remove_dir_all(&dir);
        library_dir(&dir.join("toxide"));
        std::fs::write(dir.join("toxide_encryptsave_enums.h"), enums_header()).unwrap();

        let builds = [Build::Toxide, Build::Debian];
        let exes = builds.map(|build| compile(&dir, build));
        let prefix = |build: Build| dir.join(format!("sealed_by_{}", build.name()));
        let mut write = BTreeMap::new();
        for (build, exe) in builds.iter().zip(&exes) {
            let out = run(&dir, exe, *build, "write", &prefix(*build));
            write.insert(build.name(), out);
        }
        // Each opens what the other sealed.
        let mut read = BTreeMap::new();
        for ((build, exe), other) in builds.iter().zip(&exes).zip(builds.iter().rev()) {
            let out = run(&dir, exe, *build, "read", &prefix(*other));
            read.insert(build.name(), out);
        }
        Runs { write, read }
    })
}

#[test]
fn both_builds_pass_and_open_each_others_data() {
    let runs = runs();
    for run in runs.write.values().chain(runs.read.values()) {
        let done = run.lines("DONE");
        assert_eq!(done.len(), 1, "{}", run.stdout);
        assert!(done[0][0].parse::<u32>().unwrap() > 80, "{:?}", done[0]);
        assert_eq!(done[0][1], "0", "{}", run.stdout);
    }
}

#[test]
fn each_build_ran_on_its_own_library() {
    let runs = runs();
    let loaded = |run: &Run| {
        let lib = run.lines("LIB");
        assert_eq!(lib.len(), 1, "{}", run.stdout);
        std::fs::canonicalize(lib[0][0]).unwrap()
    };
    let ours = std::fs::canonicalize(library()).unwrap();
    for build in ["toxide", "debian"] {
        for run in [&runs.write[build], &runs.read[build]] {
            assert_eq!(loaded(run) == ours, build == "toxide", "{}", run.stdout);
        }
    }
}

#[test]
fn every_enum_is_the_headers() {
    let run = &runs().write["toxide"];
    assert_enums_match(ENCRYPTSAVE_ENUMS, TOXENCRYPTSAVE_H, &run.stdout);
}
