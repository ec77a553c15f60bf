//! The `toxide-node` binary as a child process of the benchmark: started
//! on loopback with a TCP relay by the node tests' [`NodeProcess`], its
//! CPU and memory read from `/proc`; killed on drop.

use std::process::Command;
use std::time::Duration;

use toxide_core::PublicKey;
use toxide_interop::TempDir;
use toxide_interop::measure::{process_cpu, status_kb};

use crate::binary::{NODE_BIN, NodeProcess, isolate};

/// A running `toxide-node` with one UDP socket and one TCP relay on
/// 127.0.0.1.
pub(crate) struct Node {
    process: NodeProcess,
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
        isolate(
            command
                .arg("--config")
                .arg(&config_path)
                .args(["--udp-address", "127.0.0.1:0"])
                .args(["--tcp-address", "127.0.0.1:0"])
                .args(["--log-level", "warn"]),
        );
        let process = NodeProcess::start_with_tcp(command, 1, 1);
        Self {
            public_key: process.public_key,
            udp_port: process.ports[0],
            tcp_port: process.tcp_ports[0],
            process,
            _dir: dir,
        }
    }

    /// CPU time the node has used (user + system).
    pub(crate) fn cpu(&self) -> Duration {
        process_cpu(self.process.pid())
    }

    /// Resident memory now (`VmRSS`), kB.
    pub(crate) fn rss_kb(&self) -> Option<u64> {
        status_kb(self.process.pid(), "VmRSS")
    }

    /// Peak resident memory (`VmHWM`), kB.
    pub(crate) fn peak_rss_kb(&self) -> Option<u64> {
        status_kb(self.process.pid(), "VmHWM")
    }

    /// Whether the process still runs.
    pub(crate) fn running(&mut self) -> bool {
        self.process.running()
    }

    /// The end of what the node wrote on stderr.
    pub(crate) fn stderr_tail(&self) -> String {
        let text = self.process.stderr();
        let start = text.char_indices().rev().nth(2000).map_or(0, |(i, _)| i);
        text[start..].to_owned()
    }
}
