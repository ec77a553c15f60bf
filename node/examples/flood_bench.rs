//! Nodes-request flood: toxide-node against Debian's tox-bootstrapd.
//!
//! ```sh
//! cargo run --release -p toxide-node --example flood_bench
//! ```
//!
//! What it measures (the issue's speed target: at least twice
//! tox-bootstrapd's rate, no more of its memory): nodes requests answered
//! per second by one server process pinned to one core, under a loopback
//! flood from this process pinned to another core, and the server's peak
//! RSS. The two servers run one after the other, never at once, with the
//! same DHT key (one keys file in tox-bootstrapd's format serves both), so
//! the very same precomputed request packets go to both.
//!
//! For each server:
//!
//! 1. Start it under `taskset -c 1` on 127.0.0.1 (toxide-node with
//!    `--rate-limit 0`, so the benchmark measures the request path and not
//!    the per-host budget).
//! 2. Fill its close list: fake DHT nodes on their own sockets ping it and
//!    answer its pings until a probe's nodes response carries 4 nodes, as
//!    real responses do. They keep answering pings in the background.
//! 3. Flood it with valid 113-byte nodes requests (0x02) from many source
//!    sockets, closed loop: each socket keeps at most `window` requests in
//!    flight, so the figure is what the server answers and not what the
//!    kernel drops. A request unanswered after `--loss-timeout` is given up
//!    on and its slot reused; an answer that still comes counts ("late").
//!    Several windows are tried briefly and the best is measured for the
//!    full time: the servers differ (tox-bootstrapd sleeps 30 ms between
//!    socket drains and asks for a 2 MB receive buffer, so it wants many
//!    requests in flight; toxide-node reads continuously from a
//!    default-sized buffer, 256 such datagrams, which a large window
//!    overflows). Every response is decrypted and its request id checked;
//!    only those count. The sockets are watched with epoll (tokio's
//!    reactor), so the flood costs far less CPU than the server it floods.
//!    - "keys": requests from a fixed pool of sender keys (256 by default),
//!      each key always from the same socket: the shared-key caches hit.
//!    - "fresh": every request from a key the server has not cached (16384
//!      keys used in turn, far more than either server's 1024-entry cache),
//!      so each costs the server a Diffie-Hellman: the worst case.
//!    - "1 source" (tox-bootstrapd only): the key pool from one socket with
//!      a short loss timeout, so the offer stays high.
//! 4. Read the server's CPU time over the measured window (the sum of its
//!    threads' `/proc/PID/task/*/schedstat`, else utime + stime from
//!    `/proc/PID/stat`) and its peak RSS (`VmHWM` in `/proc/PID/status`).
//!    The figures are only as clean as the machine is quiet: before each
//!    server the benchmark waits (bounded by `--quiet-wait`) until other
//!    processes leave both cores alone, and it reports the share of each
//!    core that others or the hypervisor took during every measurement
//!    ("noise").
//!
//! Finally toxide-node is started again with its default rate limit and
//! flooded from one address: the answered rate shows the defence working.
//!
//! Needs two cores, `taskset` (util-linux) and `/usr/bin/tox-bootstrapd`
//! (Debian's toxcore-utils). All traffic goes to 127.0.0.1. The release
//! `toxide-node` binary is built first (`cargo build --release -p
//! toxide-node`, skipped with `--no-build`) and taken from the directory
//! this example's executable lives in, or from `--node-bin`.

use std::collections::{HashSet, VecDeque};
use std::error::Error;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::Rng as _;
use toxide_core::packed_node::MAX_SENT_NODES;
use toxide_core::{Decode, Encode, KeyPair, Nonce, PublicKey, SharedKey};
use toxide_dht::packet::{
    NodesRequest, NodesRequestPayload, NodesResponse, PingRequest, PingRequestPayload,
    PingResponse, PingResponsePayload,
};
use toxide_interop::{TempDir, fresh_udp_port};

type BoxError = Box<dyn Error>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

/// How long a server may take to print its start-up lines.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long filling the close list may take at most.
const POPULATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between runs, so the server drains what the last one left.
const SETTLE: Duration = Duration::from_millis(500);
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// The share of a core others may take before a measurement counts as
/// disturbed.
const NOISE_LIMIT: f64 = 0.05;
/// Overdue requests remembered per socket (see [`Flow::overdue`]).
const OVERDUE_KEPT: usize = 1024;
/// Request packets per key in the pool, with distinct request ids: enough
/// that each socket has more distinct packets than it keeps outstanding.
const VARIANTS_PER_KEY: usize = 64;

/// Command line of the benchmark.
#[derive(Debug, Parser)]
#[command(name = "flood_bench")]
struct Args {
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up seconds before each measurement.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds each window of the sweep is tried (after 1 s warm-up).
    #[arg(long, default_value_t = 3.0)]
    sweep_seconds: f64,
    /// Requests in flight per socket to try; the best is measured.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 2, 4, 16, 64])]
    windows: Vec<usize>,
    /// Source sockets of the multi-source scenarios.
    #[arg(long, default_value_t = 64)]
    sockets: usize,
    /// Sender keys of the "keys" scenario.
    #[arg(long, default_value_t = 256)]
    senders: usize,
    /// Sender keys used in turn by the "fresh" scenario (each request a
    /// cache miss as long as this is well above the servers' 1024).
    #[arg(long, default_value_t = 16384)]
    fresh_keys: usize,
    /// Requests in flight in the one-source scenarios.
    #[arg(long, default_value_t = 256)]
    single_window: usize,
    /// Milliseconds after which an unanswered request is given up on and
    /// its slot reused (an answer that still comes counts, as "late").
    #[arg(long, default_value_t = 50)]
    loss_timeout: u64,
    /// Milliseconds after which an unanswered request counts as lost in the
    /// one-source scenarios (short, so a rate limit cannot stall the offer).
    #[arg(long, default_value_t = 20)]
    single_loss_timeout: u64,
    /// Seconds to wait at most, before each server, for other processes
    /// to leave the two cores alone.
    #[arg(long, default_value_t = 300)]
    quiet_wait: u64,
    /// Attempts at each full measurement while other processes disturb it
    /// (more than 5% of a core); the least disturbed is reported.
    #[arg(long, default_value_t = 3)]
    attempts: usize,
    /// Fake DHT nodes that fill the server's close list.
    #[arg(long, default_value_t = 48)]
    close_nodes: usize,
    /// Core the servers are pinned to.
    #[arg(long, default_value_t = 1)]
    server_core: usize,
    /// Core this process (the flood) is pinned to.
    #[arg(long, default_value_t = 0)]
    client_core: usize,
    /// The toxide-node binary [default: next to this example's directory].
    #[arg(long, value_name = "PATH")]
    node_bin: Option<PathBuf>,
    /// Debian's tox-bootstrapd.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/tox-bootstrapd")]
    bootstrapd: PathBuf,
    /// Do not run `cargo build --release -p toxide-node` first.
    #[arg(long)]
    no_build: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        return Err(
            "build the benchmark with --release: a debug client would be the bottleneck".into(),
        );
    }
    check_args(&args)?;
    let node_bin = locate_node(&args)?;
    if !args.bootstrapd.is_file() {
        return Err(format!(
            "{} not found: install Debian's toxcore-utils (or pass --bootstrapd)",
            args.bootstrapd.display()
        )
        .into());
    }

    // One key for both servers: the packets are built once.
    let dir = TempDir::new("flood-bench")?;
    let server_keys = KeyPair::generate(&mut rand::rng());
    let keys_file = dir.path().join("keys");
    toxide_node::keys_file::create(&keys_file, &server_keys)?;

    println!("flood_bench: {}", machine());
    // Built on every core before this process pins itself to one.
    let started = Instant::now();
    let pool = build_pool(&server_keys.public, args.senders)?;
    let fresh = build_fresh(&server_keys.public, args.fresh_keys)?;
    println!(
        "flood_bench: {} pool requests ({} keys) and {} fresh-key requests built in {:.1} s",
        pool.len(),
        args.senders,
        fresh.len(),
        started.elapsed().as_secs_f64()
    );
    pin_self(args.client_core)?;
    watch_signals()?;
    let env = Env {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        ticks: ticks_per_second(),
        server_core: args.server_core,
        client_core: args.client_core,
    };
    println!(
        "flood_bench: servers on core {}, this flood on core {}; {} s measured after {} s warm-up",
        args.server_core, args.client_core, args.seconds, args.warmup
    );

    let toxide = bench_server(
        &args,
        ServerKind::Toxide {
            bin: &node_bin,
            rate_limit: 0,
        },
        &keys_file,
        &server_keys.public,
        &pool,
        &fresh,
        &env,
    )?;
    thread::sleep(SETTLE);
    let bootstrapd = bench_server(
        &args,
        ServerKind::Bootstrapd {
            bin: &args.bootstrapd,
        },
        &keys_file,
        &server_keys.public,
        &pool,
        &fresh,
        &env,
    )?;
    thread::sleep(SETTLE);
    let limited = bench_rate_limited(
        &args,
        &node_bin,
        &keys_file,
        &server_keys.public,
        &pool,
        &env,
    )?;

    print_report(&args, &toxide, &bootstrapd, &limited);
    Ok(())
}

fn check_args(args: &Args) -> Result<()> {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || args.server_core == args.client_core {
        return Err(format!(
            "needs two distinct cores (have {cores}; server core {}, client core {})",
            args.server_core, args.client_core
        )
        .into());
    }
    if args.windows.is_empty() || args.windows.contains(&0) {
        return Err("--windows needs positive numbers".into());
    }
    if args.sockets == 0 || args.senders == 0 || args.fresh_keys == 0 || args.single_window == 0 {
        return Err(
            "--sockets, --senders, --fresh-keys and --single-window must be positive".into(),
        );
    }
    if args.senders > 512 {
        return Err("--senders: at most 512 (2 per shared-key cache slot of c-toxcore)".into());
    }
    for (name, value) in [
        ("seconds", args.seconds),
        ("warmup", args.warmup),
        ("sweep-seconds", args.sweep_seconds),
    ] {
        if !(value.is_finite() && (0.0..=3600.0).contains(&value))
            || (name != "warmup" && value <= 0.0)
        {
            return Err(format!("--{name} {value}: out of range").into());
        }
    }
    Ok(())
}

// ----- the servers ---------------------------------------------------------

/// Which server to start.
#[derive(Clone, Copy)]
enum ServerKind<'a> {
    Toxide { bin: &'a Path, rate_limit: u32 },
    Bootstrapd { bin: &'a Path },
}

/// A running server process, killed on drop.
struct Server {
    label: &'static str,
    child: Child,
    pid: u32,
    addr: SocketAddr,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    // Dropped after the process is gone.
    _dir: Option<TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(
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

    fn spawn(label: &'static str, mut command: Command, dir: Option<TempDir>) -> Result<Self> {
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
    fn wait_line(&mut self, prefix: &str) -> Result<String> {
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

    fn check_key(&self, hex: &str, expected: &PublicKey) -> Result<()> {
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

    fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().fold(String::new(), |mut out, line| {
            let _ = writeln!(out, "  {line}");
            out
        })
    }

    /// Fails if the process has exited.
    fn check_alive(&mut self) -> Result<()> {
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
    fn cpu_time(&self, ticks_per_second: f64) -> Result<Duration> {
        process_cpu(self.pid, ticks_per_second)
    }

    /// Its memory now, from `/proc/PID/status`.
    fn memory(&self) -> Result<Memory> {
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
    fn terminate(mut self) -> String {
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
struct Memory {
    /// Peak resident set size (`VmHWM`).
    peak_kib: u64,
    /// Resident anonymous memory now: heap, stacks.
    anon_kib: u64,
    /// Resident file-backed memory now: the program's and libraries' code.
    file_kib: u64,
}

impl Memory {
    fn describe(&self) -> String {
        format!(
            "peak RSS {} KiB (now {} KiB anonymous + {} KiB file-backed)",
            self.peak_kib, self.anon_kib, self.file_kib
        )
    }
}

/// Builds the release toxide-node (unless `--no-build`) and finds it.
fn locate_node(args: &Args) -> Result<PathBuf> {
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
    // This example lives in target/release/examples/; the binary in
    // target/release/.
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("toxide-node"))
        .ok_or("cannot tell the target directory from this example's path")?;
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

/// Pins every thread of this process to `core`; threads started later
/// inherit it.
fn pin_self(core: usize) -> Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("running taskset (util-linux): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("taskset -p -c {core} failed ({status})").into())
    }
}

/// The CPU model and the kernel, for the record.
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {model}, Linux {kernel}")
}

/// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`).
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// CPU time of a process: the sum of its threads' run time in
/// `/proc/PID/task/*/schedstat` (nanoseconds), else utime + stime from
/// `/proc/PID/stat` (clock ticks).
fn process_cpu(pid: u32, ticks_per_second: f64) -> Result<Duration> {
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        let mut total = Duration::ZERO;
        let mut any = false;
        for task in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            if let Some(ns) = text.split_whitespace().next().and_then(|n| n.parse().ok()) {
                total += Duration::from_nanos(ns);
                any = true;
            }
        }
        if any {
            return Ok(total);
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces): state is
    // field 3, utime field 14, stime field 15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("malformed /proc/PID/stat")?;
    let mut fields = after.split_whitespace().skip(11);
    let mut next = || -> Result<f64> {
        Ok(fields
            .next()
            .ok_or("short /proc/PID/stat")?
            .parse::<f64>()?)
    };
    let ticks = next()? + next()?;
    Ok(Duration::from_secs_f64(ticks / ticks_per_second))
}

/// One core's time from `/proc/stat`: spent in tasks (user, nice, system)
/// and stolen by the hypervisor.
#[derive(Debug, Clone, Copy, Default)]
struct CoreTime {
    busy: Duration,
    steal: Duration,
}

fn core_time(core: usize, ticks_per_second: f64) -> Result<CoreTime> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let name = format!("cpu{core}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .ok_or_else(|| format!("no {name} in /proc/stat"))?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0.0) / ticks_per_second;
    Ok(CoreTime {
        busy: Duration::from_secs_f64(field(0) + field(1) + field(2)),
        steal: Duration::from_secs_f64(field(7)),
    })
}

/// Datagrams the kernel dropped for a full receive buffer, machine-wide
/// (`RcvbufErrors` in `/proc/net/snmp`).
fn udp_rcvbuf_errors() -> Result<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp")?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return Err("no Udp lines in /proc/net/snmp".into());
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .ok_or_else(|| "no RcvbufErrors in /proc/net/snmp".into())
}

/// Waits (at most `max`) until other processes have used less than 10%
/// of either core for three seconds in a row, so they do not share the
/// cores with the benchmark.
fn wait_quiet(env: &Env, max: Duration) -> Result<()> {
    let started = Instant::now();
    let mut told = false;
    let mut quiet_seconds = 0;
    loop {
        check_interrupted()?;
        let own = process_cpu(std::process::id(), env.ticks)?;
        let (s0, c0) = (
            core_time(env.server_core, env.ticks)?,
            core_time(env.client_core, env.ticks)?,
        );
        thread::sleep(Duration::from_secs(1));
        let own = process_cpu(std::process::id(), env.ticks)?.saturating_sub(own);
        let (s1, c1) = (
            core_time(env.server_core, env.ticks)?,
            core_time(env.client_core, env.ticks)?,
        );
        let server_core = (s1.busy + s1.steal).saturating_sub(s0.busy + s0.steal);
        let client_core = (c1.busy + c1.steal)
            .saturating_sub(c0.busy + c0.steal)
            .saturating_sub(own);
        let limit = Duration::from_millis(100);
        if server_core < limit && client_core < limit {
            quiet_seconds += 1;
            if quiet_seconds >= 3 {
                if told {
                    println!("  quiet now");
                }
                return Ok(());
            }
            continue;
        }
        quiet_seconds = 0;
        if started.elapsed() >= max {
            println!(
                "  WARNING: still busy after {} s (others use {:.0}% of core {}, {:.0}% of core {}); measuring anyway",
                max.as_secs(),
                server_core.as_secs_f64() * 100.0,
                env.server_core,
                client_core.as_secs_f64() * 100.0,
                env.client_core
            );
            return Ok(());
        }
        if !told {
            println!(
                "  other processes use {:.0}% of core {} and {:.0}% of core {}: waiting (at most {} s) for them to finish",
                server_core.as_secs_f64() * 100.0,
                env.server_core,
                client_core.as_secs_f64() * 100.0,
                env.client_core,
                max.as_secs()
            );
            told = true;
        }
    }
}

/// Set by SIGINT or SIGTERM: the flood stops and the servers are killed by
/// their guards instead of being left running.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn watch_signals() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut interrupt, mut terminate) = rt.block_on(async {
        Ok::<_, io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        });
        INTERRUPTED.store(true, Ordering::Relaxed);
    });
    Ok(())
}

fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// What the flood needs besides the server: its runtime and the clocks.
struct Env {
    rt: tokio::runtime::Runtime,
    ticks: f64,
    server_core: usize,
    client_core: usize,
}

/// The clocks at one instant.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    at: Instant,
    server: Duration,
    client: Duration,
    server_core: CoreTime,
    client_core: CoreTime,
    kernel_drops: u64,
}

impl Env {
    fn snapshot(&self, server: &Server) -> Result<Snapshot> {
        Ok(Snapshot {
            at: Instant::now(),
            server: server.cpu_time(self.ticks)?,
            client: process_cpu(std::process::id(), self.ticks)?,
            server_core: core_time(self.server_core, self.ticks)?,
            client_core: core_time(self.client_core, self.ticks)?,
            kernel_drops: udp_rcvbuf_errors()?,
        })
    }
}

// ----- requests ------------------------------------------------------------

/// A ready-to-send nodes request and what it takes to check its answer.
struct Request {
    packet: Vec<u8>,
    shared: SharedKey,
    request_id: u64,
    /// Which sender key (index into the pool or the fresh list).
    key: usize,
}

fn random_pk() -> PublicKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    PublicKey::new(bytes)
}

fn nodes_request(sender: &KeyPair, shared: &SharedKey, key: usize) -> Request {
    let request_id = rand::rng().next_u64();
    let packet = NodesRequest::new(
        shared,
        sender.public,
        Nonce::random(&mut rand::rng()),
        &NodesRequestPayload {
            search_pk: random_pk(),
            request_id,
        },
    )
    .to_bytes();
    debug_assert_eq!(packet.len(), 113);
    Request {
        packet,
        shared: shared.clone(),
        request_id,
        key,
    }
}

/// `count` sender keys, at most two sharing byte 30 (c-toxcore files its
/// shared-key cache by that byte, four to a slot: more would thrash it and
/// turn the pool into a DH benchmark for tox-bootstrapd alone), each with
/// [`VARIANTS_PER_KEY`] requests.
fn build_pool(server_pk: &PublicKey, count: usize) -> Result<Vec<Request>> {
    let mut per_slot = [0u8; 256];
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count.saturating_mul(64) {
        if keys.len() == count {
            break;
        }
        let pair = KeyPair::generate(&mut rand::rng());
        let slot = pair.public.as_bytes().get(30).copied().unwrap_or(0);
        if let Some(n) = per_slot.get_mut(usize::from(slot)).filter(|n| **n < 2) {
            *n += 1;
            keys.push(pair);
        }
    }
    if keys.len() < count {
        return Err("could not draw the sender keys".into());
    }
    let mut out = Vec::with_capacity(count * VARIANTS_PER_KEY);
    for (key, pair) in keys.iter().enumerate() {
        let shared = SharedKey::new(server_pk, &pair.secret)?;
        for _ in 0..VARIANTS_PER_KEY {
            out.push(nodes_request(pair, &shared, key));
        }
    }
    Ok(out)
}

/// One request each from `count` new keys, built on all cores.
fn build_fresh(server_pk: &PublicKey, count: usize) -> Result<Vec<Request>> {
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let chunk = count.div_ceil(threads);
    let parts = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let start = t * chunk;
                    let end = count.min(start + chunk);
                    (start..end)
                        .map(|key| {
                            let pair = KeyPair::generate(&mut rand::rng());
                            SharedKey::new(server_pk, &pair.secret)
                                .map(|shared| nodes_request(&pair, &shared, key))
                        })
                        .collect::<std::result::Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    });
    let mut out = Vec::with_capacity(count);
    for part in parts {
        out.extend(part.map_err(|_| "a builder thread panicked")??);
    }
    Ok(out)
}

// ----- the close list --------------------------------------------------------

/// A fake DHT node: its own socket and key; answers the server's pings.
struct FakeNode {
    socket: UdpSocket,
    keys: KeyPair,
    shared: SharedKey,
    /// The server pinged it and got an answer: it is in the server's lists.
    answered: bool,
}

impl FakeNode {
    /// Reads what is waiting and answers ping requests from the server.
    fn serve(&mut self, server: SocketAddr, buf: &mut [u8]) -> usize {
        let mut answered = 0;
        for _ in 0..64 {
            let Ok((len, from)) = self.socket.recv_from(buf) else {
                break;
            };
            let Some(bytes) = buf.get(..len) else { break };
            if from != server || bytes.first() != Some(&PingRequest::ID) {
                continue;
            }
            let Ok(request) = PingRequest::from_bytes(bytes) else {
                continue;
            };
            let Ok(payload) = request.open(&self.shared) else {
                continue;
            };
            let response = PingResponse::new(
                &self.shared,
                self.keys.public,
                Nonce::random(&mut rand::rng()),
                &PingResponsePayload {
                    ping_id: payload.ping_id,
                },
            );
            if self.socket.send_to(&response.to_bytes(), server).is_ok() {
                self.answered = true;
                answered += 1;
            }
        }
        answered
    }
}

/// What filling the close list achieved.
struct Populated {
    /// Fake nodes the server pinged and heard back from.
    in_lists: usize,
    /// Nodes in the probe's best nodes response.
    probe_nodes: usize,
    took: Duration,
}

/// The fake nodes, answering pings on a thread until dropped.
struct CloseNodes {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<usize>>,
}

impl Drop for CloseNodes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Makes `count` fake nodes known to the server: each pings it (the
/// server then pings back and, on our answer, adds it to its lists), until
/// a probe's nodes response carries [`MAX_SENT_NODES`] nodes and no new
/// node has been taken in for 2 s, or the bounded time runs out.
fn populate(
    server: SocketAddr,
    server_pk: &PublicKey,
    count: usize,
) -> Result<(CloseNodes, Populated)> {
    let mut nodes = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_nonblocking(true)?;
        let keys = KeyPair::generate(&mut rand::rng());
        let shared = SharedKey::new(server_pk, &keys.secret)?;
        nodes.push(FakeNode {
            socket,
            keys,
            shared,
            answered: false,
        });
    }
    let probe = UdpSocket::bind("127.0.0.1:0")?;
    probe.set_nonblocking(true)?;
    let probe_keys = KeyPair::generate(&mut rand::rng());
    let probe_shared = SharedKey::new(server_pk, &probe_keys.secret)?;

    let started = Instant::now();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut next_round = started;
    let mut last_new = started;
    let mut in_lists = 0;
    let mut probe_nodes = 0;
    while started.elapsed() < POPULATE_TIMEOUT {
        check_interrupted()?;
        let now = Instant::now();
        if now >= next_round {
            next_round = now + Duration::from_millis(500);
            for node in nodes.iter().filter(|n| !n.answered) {
                let ping = PingRequest::new(
                    &node.shared,
                    node.keys.public,
                    Nonce::random(&mut rand::rng()),
                    &PingRequestPayload {
                        ping_id: rand::rng().next_u64(),
                    },
                );
                let _ = node.socket.send_to(&ping.to_bytes(), server);
            }
            let probe_request = nodes_request(&probe_keys, &probe_shared, 0);
            let _ = probe.send_to(&probe_request.packet, server);
            // Answered within the round, or not counted.
            let deadline = Instant::now() + Duration::from_millis(200);
            while Instant::now() < deadline {
                match probe.recv_from(&mut buf) {
                    Ok((len, from)) if from == server => {
                        let nodes = buf
                            .get(..len)
                            .and_then(|b| NodesResponse::from_bytes(b).ok())
                            .and_then(|r| r.open(&probe_shared).ok())
                            .filter(|p| p.request_id() == probe_request.request_id)
                            .map(|p| p.nodes().len());
                        if let Some(n) = nodes {
                            probe_nodes = probe_nodes.max(n);
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        for node in &mut nodes {
            node.serve(server, &mut buf);
        }
        let now_in = nodes.iter().filter(|n| n.answered).count();
        if now_in > in_lists {
            in_lists = now_in;
            last_new = Instant::now();
        }
        let settled = last_new.elapsed() >= Duration::from_secs(2);
        if probe_nodes >= MAX_SENT_NODES && (settled || in_lists == count) {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = thread::spawn(move || {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut answered = 0;
        while !flag.load(Ordering::Relaxed) {
            for node in &mut nodes {
                answered += node.serve(server, &mut buf);
            }
            thread::sleep(Duration::from_millis(50));
        }
        answered
    });
    Ok((
        CloseNodes {
            stop,
            thread: Some(thread),
        },
        Populated {
            in_lists,
            probe_nodes,
            took,
        },
    ))
}

// ----- the flood -------------------------------------------------------------

/// Where each socket's next request comes from.
enum Source<'a> {
    /// Socket `i` sends the pool requests of the keys `k` with
    /// `k % sockets == i`, in turn: a key always comes from one address.
    Pool(&'a [Request]),
    /// All sockets take the next request of the list: a new key each time.
    Fresh(&'a [Request], usize),
}

/// One source socket of the flood.
struct Flow {
    /// Watched by the runtime's reactor, read with `try_recv`.
    socket: tokio::net::UdpSocket,
    /// The same socket, for sends (which need no readiness).
    sender: UdpSocket,
    /// Requests sent and not yet answered: index into the request list and
    /// when they left, oldest first.
    in_flight: VecDeque<(usize, Instant)>,
    /// Requests given up on after the loss timeout, oldest first: kept for
    /// a while, so an answer that comes late still counts.
    overdue: VecDeque<usize>,
    /// Every request in `in_flight` or `overdue`: a packet is not sent
    /// again while an earlier copy may still be answered, as the two
    /// answers could not be told apart.
    outstanding: HashSet<usize>,
    /// The requests this socket sends in the pool scenario.
    own: Vec<usize>,
    next_own: usize,
}

impl Flow {
    fn sent(&mut self, index: usize, now: Instant) {
        self.in_flight.push_back((index, now));
        self.outstanding.insert(index);
    }

    /// Moves requests older than `timeout` to the overdue list; returns
    /// how many.
    fn expire(&mut self, now: Instant, timeout: Duration) -> u64 {
        let mut expired = 0;
        while let Some(&(index, sent)) = self.in_flight.front() {
            if now.saturating_duration_since(sent) < timeout {
                break;
            }
            self.in_flight.pop_front();
            if self.overdue.len() >= OVERDUE_KEPT {
                if let Some(old) = self.overdue.pop_front() {
                    self.outstanding.remove(&old);
                }
            }
            self.overdue.push_back(index);
            expired += 1;
        }
        expired
    }

    /// Whether request `index` may be sent now. An overdue copy is given
    /// up for good (with the overdue requests older than it); a copy in
    /// flight is waited for.
    fn reusable(&mut self, index: usize) -> bool {
        if !self.outstanding.contains(&index) {
            return true;
        }
        let Some(pos) = self.overdue.iter().position(|&i| i == index) else {
            return false;
        };
        for old in self.overdue.drain(..=pos) {
            self.outstanding.remove(&old);
        }
        true
    }
}

/// How one flood run went, counted over the measured window.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    sent: u64,
    verified: u64,
    nodes: u64,
    lost: u64,
    /// Of those, answered after all (and counted as verified).
    late: u64,
    /// Nodes responses that matched no request in flight (too late, or not
    /// valid).
    unmatched: u64,
    /// Other datagrams (the server's pings).
    other: u64,
    send_errors: u64,
    recv_errors: u64,
}

impl Counts {
    fn minus(&self, before: &Self) -> Self {
        Self {
            sent: self.sent - before.sent,
            verified: self.verified - before.verified,
            nodes: self.nodes - before.nodes,
            lost: self.lost - before.lost,
            late: self.late - before.late,
            unmatched: self.unmatched - before.unmatched,
            other: self.other - before.other,
            send_errors: self.send_errors - before.send_errors,
            recv_errors: self.recv_errors - before.recv_errors,
        }
    }
}

/// A flood run's shape.
#[derive(Debug, Clone, Copy)]
struct Shape {
    sockets: usize,
    window: usize,
    warmup: Duration,
    measure: Duration,
    loss_timeout: Duration,
}

/// A measured run.
#[derive(Debug, Clone, Copy)]
struct Measured {
    shape: Shape,
    counts: Counts,
    wall: Duration,
    server_cpu: Duration,
    /// This process's CPU time.
    client_cpu: Duration,
    /// Time other processes ran on the server's core.
    server_core_others: Duration,
    /// Time the hypervisor took from the server's core.
    server_core_steal: Duration,
    /// Time other processes ran on the flood's core.
    client_core_others: Duration,
    /// Datagrams the kernel dropped for full receive buffers (any socket).
    kernel_drops: u64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.counts.verified as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    fn offered(&self) -> f64 {
        self.counts.sent as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    fn per_cpu_second(&self) -> f64 {
        let cpu = self.server_cpu.as_secs_f64();
        if cpu > 0.0 {
            self.counts.verified as f64 / cpu
        } else {
            f64::NAN
        }
    }
    fn busy(&self) -> f64 {
        self.server_cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
    fn share(&self, time: Duration) -> f64 {
        time.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
    /// Server busy, others and steal on its core, flood busy, others on
    /// its core.
    fn load(&self) -> String {
        format!(
            "server busy {:.0}% (others on its core {:.0}%, steal {:.0}%), flood busy {:.0}% (others {:.0}%)",
            self.busy() * 100.0,
            self.share(self.server_core_others) * 100.0,
            self.share(self.server_core_steal) * 100.0,
            self.share(self.client_cpu) * 100.0,
            self.share(self.client_core_others) * 100.0,
        )
    }
    /// The larger share of either core that other processes (or the
    /// hypervisor) took.
    fn noise(&self) -> f64 {
        self.share(self.server_core_others + self.server_core_steal)
            .max(self.share(self.client_core_others))
    }
    /// Requests timed out and never answered.
    fn unanswered(&self) -> u64 {
        self.counts.lost.saturating_sub(self.counts.late)
    }
    fn nodes_per_response(&self) -> f64 {
        self.counts.nodes as f64 / (self.counts.verified as f64).max(1.0)
    }
}

fn make_flows(shape: &Shape, server: SocketAddr, source: &Source<'_>) -> Result<Vec<Flow>> {
    let mut flows = Vec::with_capacity(shape.sockets);
    for i in 0..shape.sockets {
        let sender = UdpSocket::bind("127.0.0.1:0")?;
        sender.connect(server)?;
        sender.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(sender.try_clone()?)?;
        let own = match source {
            Source::Pool(requests) => requests
                .iter()
                .enumerate()
                .filter(|(_, r)| r.key % shape.sockets == i)
                .map(|(index, _)| index)
                .collect(),
            Source::Fresh(..) => Vec::new(),
        };
        flows.push(Flow {
            socket,
            sender,
            in_flight: VecDeque::with_capacity(shape.window),
            overdue: VecDeque::new(),
            outstanding: HashSet::new(),
            own,
            next_own: 0,
        });
    }
    Ok(flows)
}

/// Checks a datagram against the requests outstanding on its socket and
/// counts it: a verified answer (decrypted, request id echoed), another
/// packet (the server's pings), or an answer to nothing outstanding.
fn receive(
    flow: &mut Flow,
    bytes: &[u8],
    requests: &[Request],
    server_pk: &PublicKey,
    counts: &mut Counts,
) {
    if bytes.first() != Some(&NodesResponse::ID) {
        counts.other += 1;
        return;
    }
    let Ok(response) = NodesResponse::from_bytes(bytes) else {
        counts.unmatched += 1;
        return;
    };
    if response.sender_pk != *server_pk {
        counts.unmatched += 1;
        return;
    }
    // The nodes in the response, if it answers request `index`.
    let answers = |index: usize| {
        let request = requests.get(index)?;
        let payload = response.open(&request.shared).ok()?;
        (payload.request_id() == request.request_id).then(|| payload.nodes().len())
    };
    // The server answers one socket's requests in the order they were
    // sent, so they are tried oldest first (overdue ones, then those in
    // flight) and every request before the one answered was dropped: it is
    // let go, which keeps the trials to about one per request.
    let overdue = flow.overdue.len();
    let requests_in_order = flow
        .overdue
        .iter()
        .copied()
        .chain(flow.in_flight.iter().map(|&(index, _)| index));
    let Some((pos, nodes)) = requests_in_order
        .enumerate()
        .find_map(|(pos, index)| answers(index).map(|nodes| (pos, nodes)))
    else {
        counts.unmatched += 1;
        return;
    };
    if pos < overdue {
        // Those before it were counted lost already.
        for index in flow.overdue.drain(..=pos) {
            flow.outstanding.remove(&index);
        }
        counts.late += 1;
    } else {
        for index in flow.overdue.drain(..) {
            flow.outstanding.remove(&index);
        }
        let pos = pos - overdue;
        counts.lost += pos as u64;
        for (index, _) in flow.in_flight.drain(..=pos) {
            flow.outstanding.remove(&index);
        }
    }
    counts.verified += 1;
    counts.nodes += nodes as u64;
}

/// Floods the server from fresh sockets and measures the window after the
/// warm-up. The sockets are watched through the runtime's reactor (epoll),
/// so only sockets with datagrams waiting are read: polling idle sockets
/// would make this process, not the server, the bottleneck.
fn flood(
    env: &Env,
    server: &mut Server,
    server_pk: &PublicKey,
    source: &mut Source<'_>,
    shape: Shape,
) -> Result<Measured> {
    server.check_alive()?;
    let requests: &[Request] = match *source {
        Source::Pool(r) | Source::Fresh(r, _) => r,
    };
    if requests.is_empty() {
        return Err("no requests to send".into());
    }
    let server_ref: &Server = server;
    let (counts, start, end) = env.rt.block_on(async {
        let mut flows = make_flows(&shape, server_ref.addr, &*source)?;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut counts = Counts::default();
        let started = Instant::now();
        let measure_from = started + shape.warmup;
        let measure_to = measure_from + shape.measure;
        let mut at_start: Option<(Counts, Snapshot)> = None;
        // Wakes the loop at least this often: loss timeouts, phase ends.
        let mut ticker = tokio::time::interval(Duration::from_millis(2));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        std::future::poll_fn(|cx| {
            if let Err(e) = check_interrupted() {
                return Poll::Ready(Err(e));
            }
            let now = Instant::now();
            if at_start.is_none() && now >= measure_from {
                match env.snapshot(server_ref) {
                    Ok(snapshot) => at_start = Some((counts, snapshot)),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if now >= measure_to {
                return Poll::Ready(Ok(()));
            }
            for flow in &mut flows {
                loop {
                    match flow.socket.poll_recv_ready(cx) {
                        Poll::Ready(Ok(())) => match flow.socket.try_recv(&mut buf) {
                            Ok(len) => {
                                let bytes = buf.get(..len).unwrap_or_default();
                                receive(flow, bytes, requests, server_pk, &mut counts);
                            }
                            // Readiness cleared: the next poll registers us.
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(_) => {
                                counts.recv_errors += 1;
                                break;
                            }
                        },
                        Poll::Ready(Err(_)) => {
                            counts.recv_errors += 1;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
                counts.lost += flow.expire(now, shape.loss_timeout);
                while flow.in_flight.len() < shape.window {
                    let index = match source {
                        Source::Pool(_) => {
                            let Some(&index) = flow.own.get(flow.next_own % flow.own.len().max(1))
                            else {
                                break;
                            };
                            flow.next_own = flow.next_own.wrapping_add(1);
                            index
                        }
                        Source::Fresh(list, cursor) => {
                            let index = *cursor % list.len().max(1);
                            *cursor = cursor.wrapping_add(1);
                            index
                        }
                    };
                    let Some(request) = requests.get(index) else {
                        break;
                    };
                    if !flow.reusable(index) {
                        break;
                    }
                    match flow.sender.send(&request.packet) {
                        Ok(_) => {
                            counts.sent += 1;
                            flow.sent(index, now);
                        }
                        // The ticker brings us back.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            counts.send_errors += 1;
                            break;
                        }
                    }
                }
            }
            while ticker.poll_tick(cx).is_ready() {}
            Poll::Pending
        })
        .await?;
        let end = env.snapshot(server_ref)?;
        let (before, start) = at_start.ok_or("the measured window never started")?;
        Ok::<_, BoxError>((counts.minus(&before), start, end))
    })?;
    server.check_alive()?;
    let server_cpu = end.server.saturating_sub(start.server);
    let client_cpu = end.client.saturating_sub(start.client);
    let server_core_busy = end.server_core.busy.saturating_sub(start.server_core.busy);
    let client_core_busy = end.client_core.busy.saturating_sub(start.client_core.busy);
    Ok(Measured {
        shape,
        counts,
        wall: end.at.saturating_duration_since(start.at),
        server_cpu,
        client_cpu,
        server_core_others: server_core_busy.saturating_sub(server_cpu),
        server_core_steal: end
            .server_core
            .steal
            .saturating_sub(start.server_core.steal),
        client_core_others: client_core_busy.saturating_sub(client_cpu),
        kernel_drops: end.kernel_drops.saturating_sub(start.kernel_drops),
    })
}

// ----- scenarios -------------------------------------------------------------

/// Everything measured on one server.
struct ServerResult {
    label: &'static str,
    populated: Populated,
    pool: Vec<Measured>,
    fresh: Vec<Measured>,
    single: Option<Measured>,
    /// Just after start-up.
    started: Memory,
    /// At the end.
    memory: Memory,
    cpu_total: Duration,
    log_tail: String,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// The window sweep, then the best window measured for the full time.
/// Returns the sweep runs followed by the full run (last).
fn sweep(
    args: &Args,
    server: &mut Server,
    server_pk: &PublicKey,
    mut source: Source<'_>,
    name: &str,
    env: &Env,
) -> Result<Vec<Measured>> {
    let mut runs = Vec::new();
    for &window in &args.windows {
        let shape = Shape {
            sockets: args.sockets,
            window,
            warmup: secs(1.0),
            measure: secs(args.sweep_seconds),
            loss_timeout: Duration::from_millis(args.loss_timeout),
        };
        let run = flood(env, server, server_pk, &mut source, shape)?;
        progress(server.label, &format!("{name} sweep"), &run);
        runs.push(run);
        thread::sleep(SETTLE);
    }
    // The smallest window within 3% of the best rate: differences below
    // that are noise, and a larger window only adds kernel drops.
    let top = runs.iter().map(Measured::rate).fold(0.0, f64::max);
    let best = runs
        .iter()
        .filter(|r| r.rate() >= 0.97 * top)
        .map(|r| r.shape.window)
        .min()
        .ok_or("no window to try")?;
    let shape = Shape {
        sockets: args.sockets,
        window: best,
        warmup: secs(args.warmup),
        measure: secs(args.seconds),
        loss_timeout: Duration::from_millis(args.loss_timeout),
    };
    // Measured again (after waiting for quiet) while other processes
    // took a share of the cores; the least disturbed attempt counts.
    let mut kept: Option<Measured> = None;
    for attempt in 1..=args.attempts.max(1) {
        if attempt > 1 {
            println!("  noisy: measuring again");
            wait_quiet(env, Duration::from_secs(args.quiet_wait))?;
        }
        let run = flood(env, server, server_pk, &mut source, shape)?;
        progress(server.label, &format!("{name} FULL "), &run);
        let quiet = run.noise() <= NOISE_LIMIT;
        if kept.is_none_or(|k| run.noise() < k.noise()) {
            kept = Some(run);
        }
        if quiet {
            break;
        }
        thread::sleep(SETTLE);
    }
    runs.push(kept.ok_or("no full run")?);
    thread::sleep(SETTLE);
    Ok(runs)
}

fn single_source(
    args: &Args,
    server: &mut Server,
    server_pk: &PublicKey,
    pool: &[Request],
    env: &Env,
) -> Result<Measured> {
    let shape = Shape {
        sockets: 1,
        window: args.single_window,
        warmup: secs(args.warmup),
        measure: secs(args.seconds),
        loss_timeout: Duration::from_millis(args.single_loss_timeout),
    };
    flood(env, server, server_pk, &mut Source::Pool(pool), shape)
}

fn bench_server(
    args: &Args,
    kind: ServerKind<'_>,
    keys_file: &Path,
    server_pk: &PublicKey,
    pool: &[Request],
    fresh: &[Request],
    env: &Env,
) -> Result<ServerResult> {
    wait_quiet(env, Duration::from_secs(args.quiet_wait))?;
    let mut server = Server::start(kind, args.server_core, keys_file, server_pk)?;
    let started = server.memory()?;
    println!(
        "{} (pid {}) on {}: filling its close list",
        server.label, server.pid, server.addr
    );
    let (close_nodes, populated) = populate(server.addr, server_pk, args.close_nodes)?;
    println!(
        "  {} of {} fake nodes in its lists after {:.1} s; a probe's response carried {} nodes",
        populated.in_lists,
        args.close_nodes,
        populated.took.as_secs_f64(),
        populated.probe_nodes
    );
    let pool_runs = sweep(
        args,
        &mut server,
        server_pk,
        Source::Pool(pool),
        "keys",
        env,
    )?;
    let fresh_runs = sweep(
        args,
        &mut server,
        server_pk,
        Source::Fresh(fresh, 0),
        "fresh",
        env,
    )?;
    // c-toxcore has no per-source budget: one address gets everything.
    let single = match kind {
        ServerKind::Bootstrapd { .. } => {
            let run = single_source(args, &mut server, server_pk, pool, env)?;
            progress(server.label, "1 source  ", &run);
            Some(run)
        }
        ServerKind::Toxide { .. } => None,
    };
    let memory = server.memory()?;
    let cpu_total = server.cpu_time(env.ticks)?;
    drop(close_nodes);
    let label = server.label;
    let log_tail = server.terminate();
    Ok(ServerResult {
        label,
        populated,
        pool: pool_runs,
        fresh: fresh_runs,
        single,
        started,
        memory,
        cpu_total,
        log_tail,
    })
}

/// toxide-node with its default rate limit, flooded from one address.
fn bench_rate_limited(
    args: &Args,
    node_bin: &Path,
    keys_file: &Path,
    server_pk: &PublicKey,
    pool: &[Request],
    env: &Env,
) -> Result<(Measured, u64, String)> {
    let kind = ServerKind::Toxide {
        bin: node_bin,
        rate_limit: toxide_node::config::DEFAULT_RATE_LIMIT,
    };
    wait_quiet(env, Duration::from_secs(args.quiet_wait))?;
    let mut server = Server::start(kind, args.server_core, keys_file, server_pk)?;
    println!(
        "{} (pid {}) with the default rate limit ({}/s per host): filling its close list",
        server.label,
        server.pid,
        toxide_node::config::DEFAULT_RATE_LIMIT
    );
    let (close_nodes, populated) = populate(server.addr, server_pk, args.close_nodes)?;
    println!(
        "  {} fake nodes in its lists; a probe's response carried {} nodes",
        populated.in_lists, populated.probe_nodes
    );
    let run = single_source(args, &mut server, server_pk, pool, env)?;
    progress(server.label, "1 source  ", &run);
    let rss = server.memory()?.peak_kib;
    drop(close_nodes);
    let tail = server.terminate();
    Ok((run, rss, tail))
}

// ----- the report --------------------------------------------------------------

/// A counter of the DHT from toxide-node's "final counters" log line.
fn counter(log: &str, name: &str) -> Option<u64> {
    let dht = log.rfind("dht: Stats {").and_then(|at| log.get(at..))?;
    let dht = dht.split('}').next()?;
    let key = format!(" {name}: ");
    let rest = dht.get(dht.find(&key)? + key.len()..)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// One line per run while the benchmark goes.
fn progress(server: &str, what: &str, run: &Measured) {
    println!(
        "  {server:<14} {what} {:>5} in flight: {:>7.0} responses/s ({:.0} sent/s, {} unanswered, {} answered late, {} kernel drops); {}",
        run.shape.window * run.shape.sockets,
        run.rate(),
        run.offered(),
        run.unanswered(),
        run.counts.late,
        run.kernel_drops,
        run.load()
    );
}

fn row(server: &str, scenario: &str, run: &Measured, rss: Option<u64>) {
    println!(
        "{server:<14} {scenario:<26} {:>9} {:>12.0} {:>12.0} {:>6.0}% {:>6.2} {:>11} {:>6.0}% {:>10}",
        run.shape.window * run.shape.sockets,
        run.rate(),
        run.per_cpu_second(),
        run.busy() * 100.0,
        run.nodes_per_response(),
        run.unanswered() + run.counts.unmatched,
        run.noise() * 100.0,
        rss.map_or_else(|| "-".to_owned(), |r| r.to_string()),
    );
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        format!("{:.2}x", a / b)
    } else {
        "n/a".to_owned()
    }
}

fn print_report(
    args: &Args,
    toxide: &ServerResult,
    bootstrapd: &ServerResult,
    limited: &(Measured, u64, String),
) {
    let keys_label = format!("{} keys, {} sources", args.senders, args.sockets);
    let fresh_label = format!("fresh key/request, {} src", args.sockets);
    let single_label = format!("{} keys, 1 source", args.senders);
    println!();
    println!(
        "{:<14} {:<26} {:>9} {:>12} {:>12} {:>7} {:>6} {:>11} {:>7} {:>10}",
        "server",
        "scenario",
        "in-flight",
        "responses/s",
        "per CPU-s",
        "busy",
        "nodes",
        "unanswered",
        "noise",
        "peak KiB"
    );
    println!(
        "  (busy: the server's CPU time over wall time; noise: the larger share of either core other processes or the hypervisor took)"
    );
    for result in [toxide, bootstrapd] {
        if let Some(run) = result.pool.last() {
            row(result.label, &keys_label, run, None);
        }
        if let Some(run) = result.fresh.last() {
            row(result.label, &fresh_label, run, None);
        }
        if let Some(run) = &result.single {
            row(result.label, &single_label, run, None);
        }
        println!(
            "{:<14} {:<26} {}; {} KiB RSS after start-up; {:.1} CPU-s in all; {} fake nodes in its close list",
            result.label,
            "(whole run)",
            result.memory.describe(),
            result.started.peak_kib,
            result.cpu_total.as_secs_f64(),
            result.populated.in_lists
        );
    }
    let (run, rss, tail) = limited;
    row(
        "toxide-node",
        &format!(
            "rate limit {}/s, 1 source",
            toxide_node::config::DEFAULT_RATE_LIMIT
        ),
        run,
        Some(*rss),
    );
    println!(
        "    offered {:.0} requests/s from one address, answered {:.1}/s; node counters: dropped_rate_limited {}, nodes_requests_answered {}",
        run.offered(),
        run.rate(),
        counter(tail, "dropped_rate_limited").map_or_else(|| "?".to_owned(), |n| n.to_string()),
        counter(tail, "nodes_requests_answered").map_or_else(|| "?".to_owned(), |n| n.to_string()),
    );
    println!();
    let pair = |f: fn(&ServerResult) -> Option<&Measured>| -> (String, String) {
        match (f(toxide), f(bootstrapd)) {
            (Some(t), Some(b)) => (
                ratio(t.rate(), b.rate()),
                ratio(t.per_cpu_second(), b.per_cpu_second()),
            ),
            _ => ("n/a".to_owned(), "n/a".to_owned()),
        }
    };
    let (keys_rate, keys_cpu) = pair(|r| r.pool.last());
    let (fresh_rate, fresh_cpu) = pair(|r| r.fresh.last());
    println!("toxide/bootstrapd: {keys_label}: responses/s {keys_rate}, per CPU-second {keys_cpu}");
    println!(
        "toxide/bootstrapd: {fresh_label}: responses/s {fresh_rate}, per CPU-second {fresh_cpu}"
    );
    println!(
        "toxide/bootstrapd: peak RSS {}",
        ratio(
            toxide.memory.peak_kib as f64,
            bootstrapd.memory.peak_kib as f64
        )
    );
    let met = |yes: bool| if yes { "met" } else { "NOT met" };
    let both = toxide.pool.last().zip(bootstrapd.pool.last());
    println!(
        "goal (>= 2x tox-bootstrapd with {keys_label}, <= its peak RSS): responses/s {}, per CPU-second {}, memory {}",
        met(both.is_some_and(|(t, b)| t.rate() >= 2.0 * b.rate())),
        met(both.is_some_and(|(t, b)| t.per_cpu_second() >= 2.0 * b.per_cpu_second())),
        met(toxide.memory.peak_kib <= bootstrapd.memory.peak_kib),
    );
    for name in [
        "nodes_requests_answered",
        "dropped_rate_limited",
        "dropped_undecryptable",
    ] {
        if let Some(n) = counter(&toxide.log_tail, name) {
            println!("toxide-node (no rate limit) counter at exit: {name} {n}");
        }
    }
    let noisy = [toxide, bootstrapd]
        .iter()
        .flat_map(|r| r.pool.last().into_iter().chain(r.fresh.last()))
        .chain([run])
        .any(|r| r.noise() > NOISE_LIMIT);
    if noisy {
        println!(
            "WARNING: other processes took more than 5% of a core during a measurement: the figures are not clean"
        );
    }
    for result in [toxide, bootstrapd] {
        let trouble: u64 = result
            .pool
            .iter()
            .chain(&result.fresh)
            .map(|r| r.counts.send_errors + r.counts.recv_errors)
            .sum();
        if trouble > 0 {
            println!(
                "note: {} socket errors while flooding {}",
                trouble, result.label
            );
        }
    }
}
