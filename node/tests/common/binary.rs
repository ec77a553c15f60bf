//! The `toxide-node` binary as a child process: its start-up lines read,
//! its stderr kept for failure messages, killed on drop; and bounded runs
//! to completion. Shared by the binary's own tests, the namespace tests
//! (which start it under `ip netns exec`) and the relay benchmark.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use toxide_core::PublicKey;

pub(crate) const NODE_BIN: &str = env!("CARGO_BIN_EXE_toxide-node");
/// How long the node may take to print its start-up lines.
pub(crate) const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the node may take to exit.
pub(crate) const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What every run of the node needs: no secret key or log filter inherited
/// from the test's environment, stdin closed, output piped.
pub(crate) fn isolate(command: &mut Command) -> &mut Command {
    command
        .env_remove("TOXIDE_NODE_SECRET_KEY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
}

/// A running `toxide-node`; killed on drop if still running.
pub(crate) struct NodeProcess {
    child: Child,
    /// Lines the node printed after its start-up lines.
    pub(crate) stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    pub(crate) public_key: PublicKey,
    pub(crate) ports: Vec<u16>,
    /// The TCP relay's ports (`TCP_PORT` lines), when asked for.
    pub(crate) tcp_ports: Vec<u16>,
}

impl NodeProcess {
    /// Starts `command` (an [`isolate`]d node command) and reads its
    /// `DHT_PUBLIC_KEY` line and `port_lines` PORT lines.
    pub(crate) fn start(command: Command, port_lines: usize) -> Self {
        Self::start_with_tcp(command, port_lines, 0)
    }

    /// [`NodeProcess::start`], then `tcp_lines` TCP_PORT lines.
    pub(crate) fn start_with_tcp(
        mut command: Command,
        port_lines: usize,
        tcp_lines: usize,
    ) -> Self {
        let mut child = command.spawn().unwrap();
        let lines = line_reader(child.stdout.take().unwrap());
        let stderr = Arc::new(Mutex::new(String::new()));
        collect_into(child.stderr.take().unwrap(), Arc::clone(&stderr));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut next_line = |what: &str| {
            let left = deadline.saturating_duration_since(Instant::now());
            lines.recv_timeout(left).unwrap_or_else(|e| {
                let _ = child.kill();
                panic!(
                    "no {what} line from {command:?} ({e}); stderr:\n{}",
                    stderr.lock().unwrap()
                )
            })
        };
        let key_line = next_line("DHT_PUBLIC_KEY");
        let hex = key_line.strip_prefix("DHT_PUBLIC_KEY ").expect(&key_line);
        assert_eq!(hex.len(), 64, "{key_line}");
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
            "key must be uppercase hex: {key_line}"
        );
        let public_key: PublicKey = hex.parse().unwrap();
        let ports = (0..port_lines)
            .map(|_| {
                let line = next_line("PORT");
                line.strip_prefix("PORT ")
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or_else(|| panic!("bad PORT line: {line}"))
            })
            .collect::<Vec<_>>();
        let tcp_ports = (0..tcp_lines)
            .map(|_| {
                let line = next_line("TCP_PORT");
                line.strip_prefix("TCP_PORT ")
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or_else(|| panic!("bad TCP_PORT line: {line}"))
            })
            .collect::<Vec<_>>();
        assert!(
            ports.iter().chain(&tcp_ports).all(|&p| p != 0),
            "the real port is printed, not 0"
        );
        Self {
            child,
            stdout: lines,
            stderr,
            public_key,
            ports,
            tcp_ports,
        }
    }

    /// The first socket's port on 127.0.0.1.
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[0]))
    }

    /// The node's process id (for its CPU and memory in `/proc`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What the node wrote on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits (bounded) for the exit: its status and the
    /// whole stderr. (`ip netns exec` execs the node, so the child's pid
    /// is the node's there too.)
    pub(crate) fn terminate(mut self) -> (ExitStatus, String) {
        terminate(&mut self.child, &self.stderr)
    }
}

/// toxide-node with a UDP socket and a TCP relay on fresh loopback ports.
pub(crate) fn start_node_with_relay() -> NodeProcess {
    let mut command = Command::new(NODE_BIN);
    isolate(command.args([
        "--udp-address",
        "127.0.0.1:0",
        "--tcp-address",
        "127.0.0.1:0",
        "--log-level",
        "info",
    ]));
    NodeProcess::start_with_tcp(command, 1, 1)
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `child` SIGTERM and waits (bounded) for its exit: its status
/// and the whole stderr its reader collected.
pub(crate) fn terminate(child: &mut Child, stderr: &Mutex<String>) -> (ExitStatus, String) {
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_exit(child, EXIT_TIMEOUT);
    // Let the stderr reader catch up with the last lines.
    std::thread::sleep(Duration::from_millis(100));
    let stderr = stderr.lock().unwrap().clone();
    (status, stderr)
}

/// Waits for `child` to exit; kills it and fails the test after `timeout`.
pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the child did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits at most `timeout` for `child` (killing it then) and returns its
/// status and output. The pipes are read while it runs, so a child with
/// much to say cannot block on a full pipe.
pub(crate) fn wait_bounded(mut child: Child, timeout: Duration) -> (ExitStatus, String, String) {
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let collect =
        |rx: Receiver<String>| rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
    (status, collect(stdout), collect(stderr))
}

/// Reads a pipe to its end on a thread; the text arrives on the channel.
fn drain(mut pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

/// Sends each line of `pipe` on the channel.
pub(crate) fn line_reader(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Appends what `pipe` says to `sink` as it arrives.
pub(crate) fn collect_into(mut pipe: impl Read + Send + 'static, sink: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

/// Bound on building an example (a no-op when it is built already; a
/// first build of the workspace's example dependencies on two cores takes
/// minutes).
pub(crate) const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Builds example `name` of the root package into this test's target
/// directory and profile (bounded), and returns its path.
pub(crate) fn example_binary(name: &str) -> std::path::PathBuf {
    use std::path::Path;
    // This test runs as <target>/<profile dir>/deps/<name>-<hash>.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(name) => name.to_owned(),
        None => panic!("no profile directory in {}", exe.display()),
    };
    // `--workspace` resolves features as `cargo test --workspace` does, so
    // under it this finds the example built and fresh.
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["build", "--workspace", "--example", name, "--profile"])
        .arg(&profile)
        .arg("--target-dir")
        .arg(target_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    let (status, _, stderr) = wait_bounded(child, BUILD_TIMEOUT);
    assert!(
        status.success(),
        "building {name} failed or took over {BUILD_TIMEOUT:?} ({status}):\n{stderr}"
    );
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}
