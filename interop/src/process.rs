//! Child processes with line-based output, bounded waits and cleanup on drop,
//! plus the small utilities every harness part needs: fresh ports, temporary
//! directories and hex.

use std::collections::{HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// How many recent lines of each stream are kept for error messages.
const TAIL_LINES: usize = 60;

/// What [`crate::CPeer::wait_for`] and friends look for in a line: a prefix
/// (`&str`, `String`) or a predicate `FnMut(&str) -> bool`.
pub trait LineMatcher {
    /// Whether `line` is the one waited for.
    fn matches(&mut self, line: &str) -> bool;
    /// Words for error messages.
    fn describe(&self) -> String;
}

impl LineMatcher for &str {
    fn matches(&mut self, line: &str) -> bool {
        line.starts_with(*self)
    }
    fn describe(&self) -> String {
        format!("line starting with `{self}`")
    }
}

impl LineMatcher for String {
    fn matches(&mut self, line: &str) -> bool {
        line.starts_with(self.as_str())
    }
    fn describe(&self) -> String {
        format!("line starting with `{self}`")
    }
}

impl<F: FnMut(&str) -> bool> LineMatcher for F {
    fn matches(&mut self, line: &str) -> bool {
        self(line)
    }
    fn describe(&self) -> String {
        "line matching the predicate".to_owned()
    }
}

/// Whether a line is a command reply rather than an event.
fn is_reply(line: &str) -> bool {
    line == "OK" || line.starts_with("OK ") || line.starts_with("ERR ")
}

/// Why [`Process::recv`] returned without a line.
enum Missing {
    Timeout,
    Closed,
}

/// One stdout line and when the reader thread read it: benchmarks time
/// events of several processes by these instants, so a line keeps the time
/// it arrived however long it waits in the queue.
#[derive(Debug)]
struct Line {
    text: String,
    at: Instant,
}

/// A running helper program: stdin for commands, stdout as a stream of lines
/// (read by a thread into a channel, each stamped on arrival), stderr kept
/// as a tail for diagnostics. Dropping it kills the program.
#[derive(Debug)]
pub(crate) struct Process {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    /// Lines received but not yet asked for: events seen while waiting for
    /// a reply or for another event.
    pending: VecDeque<Line>,
    /// The last lines of stdout, for error messages.
    transcript: VecDeque<String>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Replies still to come for commands whose wait timed out; they are
    /// dropped when they arrive so later commands get their own reply.
    stale_replies: usize,
}

impl Process {
    /// Starts `command` with all three standard streams piped.
    pub(crate) fn spawn(label: String, command: &mut Command) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                program: format!("{:?}", command.get_program()),
                source,
            })?;
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                for_each_line(stdout, |text| {
                    tx.send(Line {
                        text,
                        at: Instant::now(),
                    })
                    .is_ok()
                });
            });
        }
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&stderr_tail);
            thread::spawn(move || {
                for_each_line(stderr, |line| {
                    let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                    push_bounded(&mut tail, line);
                    true
                });
            });
        }
        Ok(Self {
            label,
            stdin: child.stdin.take(),
            child,
            lines,
            pending: VecDeque::new(),
            transcript: VecDeque::new(),
            stderr_tail,
            stale_replies: 0,
        })
    }

    /// The operating system's process id (for CPU and memory readings).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Writes one line to the program's stdin.
    pub(crate) fn send_line(&mut self, line: &str) -> Result<()> {
        if line.contains(['\n', '\r']) {
            return Err(Error::InvalidCommand(line.to_owned()));
        }
        let stdin = self.stdin.as_mut().ok_or_else(|| Error::Io {
            what: format!("{}: stdin", self.label),
            source: io::ErrorKind::BrokenPipe.into(),
        })?;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        stdin
            .write_all(&bytes)
            .and_then(|()| stdin.flush())
            .map_err(|source| Error::Io {
                what: format!("{}: writing `{line}`", self.label),
                source,
            })
    }

    /// The next line from the channel, recorded in the transcript.
    fn recv(&mut self, deadline: Instant) -> Result<Line, Missing> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                push_bounded(&mut self.transcript, line.text.clone());
                Ok(line)
            }
            Err(RecvTimeoutError::Timeout) => Err(Missing::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(Missing::Closed),
        }
    }

    /// Waits for the first line `matcher` accepts, earlier unclaimed lines
    /// included; lines that do not match stay available for later waits.
    pub(crate) fn wait_line(
        &mut self,
        matcher: impl LineMatcher,
        timeout: Duration,
    ) -> Result<String> {
        self.wait_line_at(matcher, timeout).map(|(line, _)| line)
    }

    /// [`Process::wait_line`], with the instant the line was read from the
    /// program's stdout (earlier than now when it was queued meanwhile).
    pub(crate) fn wait_line_at(
        &mut self,
        mut matcher: impl LineMatcher,
        timeout: Duration,
    ) -> Result<(String, Instant)> {
        if let Some(pos) = self.pending.iter().position(|l| matcher.matches(&l.text)) {
            if let Some(line) = self.pending.remove(pos) {
                return Ok((line.text, line.at));
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv(deadline) {
                Ok(line) if is_reply(&line.text) && self.stale_replies > 0 => {
                    self.stale_replies -= 1;
                }
                Ok(line) if matcher.matches(&line.text) => return Ok((line.text, line.at)),
                Ok(line) => self.pending.push_back(line),
                Err(missing) => return Err(self.missing(missing, matcher.describe(), timeout)),
            }
        }
    }

    /// Sends a command and waits for its `OK` (returns the rest of the line)
    /// or `ERR` (returns [`Error::Command`]). Events meanwhile are kept.
    pub(crate) fn command(&mut self, command: &str, timeout: Duration) -> Result<String> {
        self.send_line(command)?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv(deadline) {
                Ok(line) if is_reply(&line.text) && self.stale_replies > 0 => {
                    self.stale_replies -= 1;
                }
                Ok(line) if is_reply(&line.text) => {
                    return match line.text.strip_prefix("OK") {
                        Some(rest) => Ok(rest.trim_start().to_owned()),
                        None => Err(Error::Command {
                            command: command.to_owned(),
                            reply: line.text,
                        }),
                    };
                }
                Ok(line) => self.pending.push_back(line),
                Err(missing) => {
                    if matches!(missing, Missing::Timeout) {
                        self.stale_replies += 1;
                    }
                    let what = format!("reply to `{command}`");
                    return Err(self.missing(missing, what, timeout));
                }
            }
        }
    }

    fn missing(&self, missing: Missing, what: String, waited: Duration) -> Error {
        let process = self.label.clone();
        let context = self.context();
        match missing {
            Missing::Timeout => Error::Timeout {
                process,
                what,
                waited,
                context,
            },
            Missing::Closed => Error::Exited {
                process,
                what,
                context,
            },
        }
    }

    /// Recent stdout and stderr lines, for error messages.
    /// Waits (polling, bounded by `timeout`) for the program to exit by
    /// itself; whether it did.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub(crate) fn context(&self) -> String {
        let mut out = format!("--- last stdout lines of {} ---\n", self.label);
        for line in &self.transcript {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("--- last stderr lines ---\n");
        let tail = self
            .stderr_tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for line in tail.iter() {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Every stdout line received so far that no wait has claimed.
    pub(crate) fn unclaimed(&self) -> impl Iterator<Item = &str> {
        self.pending.iter().map(|l| l.text.as_str())
    }

    /// Removes and returns every line no wait has claimed, those the
    /// reader thread has queued but nobody read yet included.
    pub(crate) fn take_unclaimed(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            push_bounded(&mut self.transcript, line.text.clone());
            if is_reply(&line.text) && self.stale_replies > 0 {
                self.stale_replies -= 1;
            } else {
                self.pending.push_back(line);
            }
        }
        self.pending.drain(..).map(|l| l.text).collect()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Closing stdin alone would stop tox_peer, but not tox-bootstrapd.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls `f` for each line of `reader` (lossy UTF-8, line ending removed)
/// until end of input or until `f` returns false.
fn for_each_line(reader: impl Read, mut f: impl FnMut(String) -> bool) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                    buf.pop();
                }
                if !f(String::from_utf8_lossy(&buf).into_owned()) {
                    return;
                }
            }
        }
    }
}

fn push_bounded(queue: &mut VecDeque<String>, line: String) {
    if queue.len() == TAIL_LINES {
        queue.pop_front();
    }
    queue.push_back(line);
}

/// Ports this test process has handed out already. c-toxcore misbehaves when
/// a port comes back with a new key (peers keep sending to the old key at
/// that address and about half the connections never happen), so a port is
/// never handed out twice.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

fn claim_port(port: u16) -> bool {
    let mut set = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    set.get_or_insert_with(HashSet::new).insert(port)
}

/// A UDP port that is free on 127.0.0.1 right now and new to this process.
pub fn fresh_udp_port() -> Result<u16> {
    fresh_port(|| UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()))
}

/// Whether this process runs as root (effective uid 0, from
/// `/proc/self/status`).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse::<u32>().ok())
        == Some(0)
}

/// A TCP port that is free on 127.0.0.1 right now and new to this process.
pub fn fresh_tcp_port() -> Result<u16> {
    fresh_port(|| TcpListener::bind("127.0.0.1:0").and_then(|s| s.local_addr()))
}

fn fresh_port(mut probe: impl FnMut() -> io::Result<std::net::SocketAddr>) -> Result<u16> {
    for _ in 0..50 {
        let port = probe()
            .map_err(|source| Error::Io {
                what: "probing for a free port".to_owned(),
                source,
            })?
            .port();
        if claim_port(port) {
            return Ok(port);
        }
    }
    Err(Error::Io {
        what: "probing for a free port".to_owned(),
        source: io::Error::other("the system kept returning ports used before"),
    })
}

/// A directory under the system temp dir, removed on drop unless the
/// environment variable `TOXIDE_INTEROP_KEEP` is set (for post-mortems).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a new, empty directory whose name starts with `toxide-{prefix}-`.
    pub fn new(prefix: &str) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "toxide-{prefix}-{}-{n}-{nanos:09}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            what: format!("creating {}", path.display()),
            source,
        })?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TOXIDE_INTEROP_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Uppercase hex, as the C helpers print it.
pub fn hex_encode(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// Decodes hex in either case; `None` for odd lengths or non-hex characters.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| match *pair {
            [hi, lo] => Some(nibble(hi)? << 4 | nibble(lo)?),
            _ => None,
        })
        .collect()
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Every distinct `libtoxcore*` file process `pid` has mapped, as the
/// kernel names it in `/proc/<pid>/maps` (symbolic links resolved): proof
/// of which library a program really loaded, whatever its search path
/// said.
pub fn mapped_libtoxcore(pid: u32) -> io::Result<Vec<PathBuf>> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let mut found: Vec<PathBuf> = maps
        .lines()
        // address perms offset dev inode path: the path is the sixth
        // field and the only one that may hold spaces.
        .filter_map(|line| line.splitn(6, ' ').nth(5))
        .map(|path| PathBuf::from(path.trim_start()))
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("libtoxcore"))
        })
        .collect();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line claimed after a later one keeps the instant it arrived.
    #[test]
    fn lines_keep_their_arrival_time() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo first; sleep 0.2; echo second"]);
        let mut process = Process::spawn("sh".to_owned(), &mut command).unwrap();
        let (second, second_at) = process
            .wait_line_at("second", Duration::from_secs(10))
            .unwrap();
        let (first, first_at) = process
            .wait_line_at("first", Duration::from_secs(10))
            .unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("first", "second"));
        assert!(
            second_at.duration_since(first_at) >= Duration::from_millis(150),
            "{:?}",
            second_at.duration_since(first_at)
        );
    }
}
