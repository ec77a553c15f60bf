//! The servers under test: starting them pinned to a core, reading their
//! start-up lines, CPU time and memory, and stopping them.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use toxide_core::PublicKey;
use toxide_interop::{TempDir, fresh_udp_port};

use crate::system::process_cpu;
use crate::{Args, Result};

/// How long a server may take to print its start-up lines.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which server to start.
#[derive(Clone, Copy)]
pub(crate) enum ServerKind<'a> {
    Toxide { bin: &'a Path, rate_limit: u32 },
    Bootstrapd { bin: &'a Path },
}

/// A running server process, killed on drop.
pub(crate) struct Server {
    pub(crate) label: &'static str,
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
    pub(crate) lines: Receiver<String>,
    pub(crate) stderr: Arc<Mutex<VecDeque<String>>>,
    // Dropped after the process is gone.
    pub(crate) _dir: Option<TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start(
        kind: ServerKind<'_>,
        core: usize,
        keys_file: &Path,
        public_key: &PublicKey,
    ) -> Result<Self> {
        let core = core.to_string();
        match kind {
            ServerKind::Toxide { bin, rate_limit } => {
                let mut command = Command::new("taskset");
                command
                    .arg("-c")
                    .arg(&core)
                    .arg(bin)
                    .arg("--udp-address")
                    .arg("127.0.0.1:0")
                    .arg("--keys-file")
                    .arg(keys_file)
                    .arg("--rate-limit")
                    .arg(rate_limit.to_string())
                    .arg("--log-level")
                    .arg("info")
                    .env_remove("TOXIDE_NODE_SECRET_KEY")
                    .env_remove("RUST_LOG");
                let mut server = Self::spawn("toxide-node", command, None)?;
                let key_line = server.wait_line("DHT_PUBLIC_KEY ")?;
                server.check_key(key_line.trim_start_matches("DHT_PUBLIC_KEY "), public_key)?;
                let port_line = server.wait_line("PORT ")?;
                let port: u16 = port_line
                    .trim_start_matches("PORT ")
                    .trim()
                    .parse()
                    .map_err(|_| format!("toxide-node: bad line {port_line:?}"))?;
                server.addr = SocketAddr::from(([127, 0, 0, 1], port));
                Ok(server)
            }
            ServerKind::Bootstrapd { bin } => {
                let dir = TempDir::new("flood-bench-bootstrapd")?;
                let port = fresh_udp_port()?;
                let config_path = dir.path().join("bootstrapd.conf");
                std::fs::write(
                    &config_path,
                    toxide_interop::bootstrapd_config(
                        keys_file,
                        &dir.path().join("pid"),
                        port,
                        None,
                        "flood-bench",
                    ),
                )?;
                let mut command = Command::new("taskset");
                command
                    .arg("-c")
                    .arg(&core)
                    .arg(bin)
                    .arg("--foreground")
                    .arg("--log-backend=stdout")
                    .arg(format!("--config={}", config_path.display()));
                let mut server = Self::spawn("tox-bootstrapd", command, Some(dir))?;
                // Logged once its socket is bound.
                let line = server.wait_line("Public Key: ")?;
                server.check_key(line.trim_start_matches("Public Key: "), public_key)?;
                server.addr = SocketAddr::from(([127, 0, 0, 1], port));
                Ok(server)
            }
        }
    }

    pub(crate) fn spawn(
        label: &'static str,
        mut command: Command,
        dir: Option<TempDir>,
    ) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {label} under taskset: {e}"))?;
        let pid = child.id();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take();
        let stderr_pipe = child.stderr.take();
        // Guard first, so an error below still kills the child.
        let server = Self {
            label,
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
            stderr: Arc::new(Mutex::new(VecDeque::new())),
            _dir: dir,
        };
        if let Some(stdout) = stdout {
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        if let Some(mut pipe) = stderr_pipe {
            let tail = Arc::clone(&server.stderr);
            thread::spawn(move || {
                let mut text = String::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                        break;
                    };
                    text.push_str(&String::from_utf8_lossy(chunk));
                    while let Some(end) = text.find('\n') {
                        let line: String = text.drain(..=end).collect();
                        let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                        if tail.len() >= 40 {
                            tail.pop_front();
                        }
                        tail.push_back(line.trim_end().to_owned());
                    }
                }
            });
        }
        Ok(server)
    }

    /// The next stdout line starting with `prefix`, within the start-up
    /// timeout.
    pub(crate) fn wait_line(&mut self, prefix: &str) -> Result<String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "{}: no `{prefix}` line ({e}); stderr:\n{}",
                        self.label,
                        self.stderr_tail()
                    )
                    .into());
                }
            }
        }
    }

    pub(crate) fn check_key(&self, hex: &str, expected: &PublicKey) -> Result<()> {
        let key: PublicKey = hex
            .trim()
            .parse()
            .map_err(|_| format!("{}: bad public key {hex:?}", self.label))?;
        if key == *expected {
            Ok(())
        } else {
            Err(format!(
                "{}: runs with key {key}, not the keys file's {expected}",
                self.label
            )
            .into())
        }
    }

    pub(crate) fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().fold(String::new(), |mut out, line| {
            let _ = writeln!(out, "  {line}");
            out
        })
    }

    /// Fails if the process has exited.
    pub(crate) fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!(
                "{} exited ({status}); stderr:\n{}",
                self.label,
                self.stderr_tail()
            )
            .into()),
        }
    }

    /// CPU time used so far by all its threads.
    pub(crate) fn cpu_time(&self, ticks_per_second: f64) -> Result<Duration> {
        process_cpu(self.pid, ticks_per_second)
    }

    /// Its memory now, from `/proc/PID/status`.
    pub(crate) fn memory(&self) -> Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| format!("no {name} in /proc/PID/status"))?;
            Ok(line
                .trim_start_matches(name)
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?)
        };
        Ok(Memory {
            peak_kib: field("VmHWM:")?,
            anon_kib: field("RssAnon:")?,
            file_kib: field("RssFile:")?,
        })
    }

    /// SIGTERM, then a bounded wait (killed on drop if it does not exit);
    /// returns the last stderr lines.
    pub(crate) fn terminate(mut self) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Let the stderr reader catch up with the last lines.
        thread::sleep(Duration::from_millis(100));
        self.stderr_tail()
    }
}

/// A server's memory (KiB).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// Peak resident set size (`VmHWM`).
    pub(crate) peak_kib: u64,
    /// Resident anonymous memory now: heap, stacks.
    pub(crate) anon_kib: u64,
    /// Resident file-backed memory now: the program's and libraries' code.
    pub(crate) file_kib: u64,
}

impl Memory {
    pub(crate) fn describe(&self) -> String {
        format!(
            "peak RSS {} KiB (now {} KiB anonymous + {} KiB file-backed)",
            self.peak_kib, self.anon_kib, self.file_kib
        )
    }
}

/// Builds the release toxide-node (unless `--no-build`) and finds it.
pub(crate) fn locate_node(args: &Args) -> Result<PathBuf> {
    if let Some(bin) = &args.node_bin {
        return if bin.is_file() {
            Ok(bin.clone())
        } else {
            Err(format!("--node-bin {}: no such file", bin.display()).into())
        };
    }
    if !args.no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "-p",
                "toxide-node",
                "--bin",
                "toxide-node",
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("running cargo build: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build --release -p toxide-node failed ({status})").into());
        }
    }
    // This program and the node are built into the same directory
    // (target/release/).
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .map(|dir| dir.join("toxide-node"))
        .ok_or("cannot tell the target directory from this program's path")?;
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release -p toxide-node` (or pass --node-bin)",
            bin.display()
        )
        .into())
    }
}
