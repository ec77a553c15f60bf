//! The `toxide-node` binary as a child process of the benchmark: started
//! on loopback with a TCP relay, its start-up lines read (bounded), its
//! stderr kept, its CPU and memory read from `/proc`; killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use toxide_core::PublicKey;
use toxide_interop::TempDir;
use toxide_interop::measure::{process_cpu, status_kb};

const NODE_BIN: &str = env!("CARGO_BIN_EXE_toxide-node");
/// How long the node may take to print its start-up lines.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `toxide-node` with one UDP socket and one TCP relay on
/// 127.0.0.1.
pub(crate) struct Node {
    child: Child,
    stderr: Arc<Mutex<String>>,
    pub(crate) public_key: PublicKey,
    pub(crate) udp_port: u16,
    pub(crate) tcp_port: u16,
    // Holds the config file while the node runs.
    _dir: TempDir,
}

impl Node {
    /// Starts the node; `config` is the text of its TOML `--config` file.
    pub(crate) fn start(config: &str) -> Self {
        let dir = TempDir::new("relay-bench-node").unwrap();
        let config_path = dir.path().join("node.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut command = Command::new(NODE_BIN);
        command
            .arg("--config")
            .arg(&config_path)
            .args(["--udp-address", "127.0.0.1:0"])
            .args(["--tcp-address", "127.0.0.1:0"])
            .args(["--log-level", "warn"])
            .env_remove("TOXIDE_NODE_SECRET_KEY")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let lines = line_reader(child.stdout.take().unwrap());
        let stderr = Arc::new(Mutex::new(String::new()));
        collect_into(child.stderr.take().unwrap(), Arc::clone(&stderr));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut next = |prefix: &str| {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).unwrap_or_else(|e| {
                let _ = child.kill();
                panic!(
                    "no {prefix}line from the node ({e}): {}",
                    stderr.lock().unwrap()
                )
            });
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("expected {prefix}…, got {line}"))
                .to_owned()
        };
        let public_key = next("DHT_PUBLIC_KEY ").parse().unwrap();
        let udp_port = next("PORT ").parse().unwrap();
        let tcp_port = next("TCP_PORT ").parse().unwrap();
        // Later stdout lines are not needed; keep the pipe drained.
        std::thread::spawn(move || while lines.recv().is_ok() {});
        Self {
            child,
            stderr,
            public_key,
            udp_port,
            tcp_port,
            _dir: dir,
        }
    }

    /// CPU time the node has used (user + system).
    pub(crate) fn cpu(&self) -> Duration {
        process_cpu(self.child.id())
    }

    /// Resident memory now (`VmRSS`), kB.
    pub(crate) fn rss_kb(&self) -> Option<u64> {
        status_kb(self.child.id(), "VmRSS")
    }

    /// Peak resident memory (`VmHWM`), kB.
    pub(crate) fn peak_rss_kb(&self) -> Option<u64> {
        status_kb(self.child.id(), "VmHWM")
    }

    /// Whether the process still runs.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The end of what the node wrote on stderr.
    pub(crate) fn stderr_tail(&self) -> String {
        let text = self.stderr.lock().unwrap();
        let start = text.char_indices().rev().nth(2000).map_or(0, |(i, _)| i);
        text[start..].to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line of `pipe` on the channel.
fn line_reader(pipe: impl Read + Send + 'static) -> Receiver<String> {
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
fn collect_into(mut pipe: impl Read + Send + 'static, sink: Arc<Mutex<String>>) {
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
