//! What the tests that run C programs against the library share: where
//! the library is ([`library`]), running `tox_peer` on one library or the
//! other ([`peer`]), running a tool with a time bound, and reading
//! Debian's headers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

// Shared with the C API benchmark (benches/c_api.rs), which includes
// these files by path.
pub(crate) mod library;
#[allow(dead_code, reason = "only the tests that run tox_peer use it")]
pub(crate) mod peer;

pub(crate) use library::{library, library_dir};

/// Bound on compiling or running one tool (all take well under a second).
pub(crate) const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `command` to completion within [`TOOL_TIMEOUT`] (killing it
/// then): status, stdout, stderr.
pub(crate) fn run_bounded(command: &mut Command) -> (ExitStatus, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + TOOL_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} took over {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (status, stdout.join().unwrap(), stderr.join().unwrap())
}

/// The header at `path` without its comments.
pub(crate) fn header_code(path: &str) -> String {
    let src =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path} (libtoxcore-dev): {e}"));
    let mut code = String::new();
    let mut rest = src.as_str();
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                code.push_str(&rest[..b]);
                let end = rest[b..].find("*/").expect("unterminated comment");
                rest = &rest[b + end + 2..];
            }
            (_, Some(l)) => {
                code.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |end| &rest[l + end..]);
            }
            _ => {
                code.push_str(rest);
                return code;
            }
        }
    }
}

/// The name of every function the header at `path` declares: the
/// identifier before the first `(` of each declaration that is not a
/// `typedef` (which keeps callback types out) nor a preprocessor line.
#[allow(dead_code, reason = "abi.rs and av.rs use it, encryptsave.rs does not")]
pub(crate) fn declared_functions(path: &str) -> std::collections::BTreeSet<String> {
    let code = header_code(path);
    // Preprocessor lines, with their `\` continuations, declare nothing.
    let mut declarations = String::new();
    let mut continued = false;
    for line in code.lines() {
        let directive = continued || line.trim_start().starts_with('#');
        continued = directive && line.trim_end().ends_with('\\');
        if !directive {
            declarations.push_str(line);
            declarations.push('\n');
        }
    }
    declarations
        .split([';', '{', '}'])
        .map(str::trim)
        .filter(|statement| !statement.starts_with("typedef"))
        .filter_map(|statement| {
            let before = statement[..statement.find('(')?].trim_end();
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            Some(before[start..].to_owned())
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Every `enum Tag { ... }` in the header at `path`: its tag and constants in order.
pub(crate) fn header_enums(path: &str) -> Vec<(String, Vec<String>)> {
    let code = header_code(path);
    let mut enums = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("enum ") {
        rest = &rest[at + "enum ".len()..];
        let tag: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = rest[tag.len()..].trim_start();
        if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').unwrap();
            // A constant may carry its value (`NAME = 4`); the C
            // compiler's value is what gets compared, so keep the name.
            let constants = body[..end]
                .split(',')
                .map(|c| c.split('=').next().unwrap_or_default().trim())
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            enums.push((tag, constants));
        }
    }
    enums
}

/// The words after `tag` on each line of `stdout` that starts with it
/// (the C programs print `TAG word word…` lines).
pub(crate) fn tagged_lines<'a>(stdout: &'a str, tag: &str) -> Vec<Vec<&'a str>> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(tag)).then(|| words.collect())
        })
        .collect()
}

/// Our enum table is the header's: the same enums and constants in the
/// same order as `header` declares them, and with the values and sizes
/// the C compiler printed (`ENUM <tag> <sizeof>` and `CONST <name>
/// <value>` lines in `stdout`).
pub(crate) fn assert_enums_match(ours: &[toxcore::types::CEnum], header: &str, stdout: &str) {
    let declared = header_enums(header);
    let names: Vec<(String, Vec<String>)> = ours
        .iter()
        .map(|e| {
            let names = e.constants.iter().map(|(n, _)| (*n).to_owned()).collect();
            (e.name.to_owned(), names)
        })
        .collect();
    assert_eq!(names, declared);
    let sizes: std::collections::BTreeMap<&str, usize> = tagged_lines(stdout, "ENUM")
        .into_iter()
        .map(|w| (w[0], w[1].parse().unwrap()))
        .collect();
    let values: std::collections::BTreeMap<&str, u32> = tagged_lines(stdout, "CONST")
        .into_iter()
        .map(|w| (w[0], w[1].parse().unwrap()))
        .collect();
    assert_eq!(sizes.len(), ours.len(), "{stdout}");
    for e in ours {
        assert_eq!(Some(&e.size), sizes.get(e.name), "sizeof(enum {})", e.name);
        for &(name, value) in e.constants {
            assert_eq!(Some(&value), values.get(name), "{name}");
        }
    }
}

/// Compiles the C program `source` into `dir/name`: `dir` is on the
/// include path (generated headers go there) and the program links the
/// `libtoxcore.so` in `dir` (see [`library_dir`]). `header` names the
/// installed header it needs, for the failure message.
#[allow(
    dead_code,
    reason = "abi.rs and av.rs build their checks this way; the others build theirs twice or by pkg-config"
)]
pub(crate) fn compile_check(dir: &Path, source: &str, name: &str, header: &str) -> PathBuf {
    let exe = dir.join(name);
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let mut compile = Command::new(&compiler);
    compile
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(dir)
        .arg(source)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(dir)
        .arg("-ltoxcore");
    let (status, _, stderr) = run_bounded(&mut compile);
    assert!(
        status.success(),
        "compiling {source} with {compiler} failed ({status}); it needs \
         libtoxcore-dev's {header}:\n{stderr}"
    );
    exe
}
