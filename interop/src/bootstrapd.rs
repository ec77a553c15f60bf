//! [`Bootstrapd`]: Debian's `tox-bootstrapd` (c-toxcore 0.2.18) as a private,
//! loopback-only bootstrap node.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use toxide_core::PublicKey;

use crate::error::{Error, Result};
use crate::process::{Process, TempDir, fresh_tcp_port, fresh_udp_port};

/// Where Debian's `toxcore-utils` installs the daemon; the environment
/// variable `TOX_BOOTSTRAPD` overrides it.
pub const DEFAULT_BOOTSTRAPD: &str = "/usr/bin/tox-bootstrapd";

/// How long the daemon may take to print its public key.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How to start a [`Bootstrapd`].
#[derive(Debug, Clone)]
pub struct BootstrapdOptions {
    /// Also run a TCP relay on a fresh port.
    pub tcp_relay: bool,
    /// Message of the day it answers with.
    pub motd: String,
}

impl Default for BootstrapdOptions {
    fn default() -> Self {
        Self {
            tcp_relay: false,
            motd: "toxide-test".to_owned(),
        }
    }
}

/// A running `tox-bootstrapd` with a fresh key, a fresh UDP port, no LAN
/// discovery, IPv4 only and no bootstrap nodes of its own. It binds the
/// wildcard address (the daemon has no option to bind 127.0.0.1) but the
/// harness only ever talks to it on 127.0.0.1. Killed on drop.
#[derive(Debug)]
pub struct Bootstrapd {
    process: Process,
    port: u16,
    tcp_port: Option<u16>,
    public_key: PublicKey,
    // Declared last: dropped after the process is gone.
    dir: TempDir,
}

impl Bootstrapd {
    /// Starts a UDP-only node with the default options.
    pub fn spawn() -> Result<Self> {
        Self::spawn_with(BootstrapdOptions::default())
    }

    /// Starts a node and waits (bounded) until it reports its public key.
    pub fn spawn_with(options: BootstrapdOptions) -> Result<Self> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::spawn_once(&options) {
                // Most likely a probed port was taken in between: try new ones.
                Err(Error::Exited { .. }) if attempt < 3 => {}
                result => return result,
            }
        }
    }

    fn spawn_once(options: &BootstrapdOptions) -> Result<Self> {
        let dir = TempDir::new("bootstrapd")?;
        let port = fresh_udp_port()?;
        let tcp_port = if options.tcp_relay {
            Some(fresh_tcp_port()?)
        } else {
            None
        };
        let config_path = dir.path().join("bootstrapd.conf");
        let config = bootstrapd_config(
            &dir.path().join("keys"),
            &dir.path().join("pid"),
            port,
            tcp_port,
            &options.motd,
        );
        std::fs::write(&config_path, config).map_err(|source| Error::Io {
            what: format!("writing {}", config_path.display()),
            source,
        })?;

        let program =
            std::env::var_os("TOX_BOOTSTRAPD").unwrap_or_else(|| DEFAULT_BOOTSTRAPD.into());
        let mut command = Command::new(&program);
        command
            .arg("--foreground")
            .arg("--log-backend=stdout")
            .arg(format!("--config={}", config_path.display()));
        let mut process = Process::spawn(format!("tox-bootstrapd:{port}"), &mut command).map_err(
            |e| match e {
                Error::Spawn { program, source } => Error::Spawn {
                    program: format!("{program} (install Debian's toxcore-utils)"),
                    source,
                },
                other => other,
            },
        )?;

        // The daemon logs "Public Key: <64 hex>" once its sockets are bound.
        let line = process.wait_line("Public Key: ", STARTUP_TIMEOUT)?;
        let public_key = line
            .strip_prefix("Public Key: ")
            .and_then(|hex| hex.trim().parse().ok())
            .ok_or_else(|| Error::Protocol {
                process: process.label().to_owned(),
                line: line.clone(),
            })?;
        Ok(Self {
            process,
            port,
            tcp_port,
            public_key,
            dir,
        })
    }

    /// The UDP (DHT) port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TCP relay port, when started with [`BootstrapdOptions::tcp_relay`].
    pub fn tcp_port(&self) -> Option<u16> {
        self.tcp_port
    }

    /// The node's DHT public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The daemon's process id (for CPU and memory readings).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The node's private directory (config, keys file).
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Recent log lines, for assertion messages.
    pub fn context(&self) -> String {
        self.process.context()
    }
}

/// tox-bootstrapd's libconfig configuration as the tests want it: IPv4
/// only, no LAN discovery, no bootstrap nodes, the MOTD on, a TCP relay on
/// `tcp_port` if given. Public for the benchmarks, which run the daemon
/// themselves (pinned to a core, with a chosen keys file).
pub fn bootstrapd_config(
    keys_file: &Path,
    pid_file: &Path,
    port: u16,
    tcp_port: Option<u16>,
    motd: &str,
) -> String {
    let tcp = match tcp_port {
        Some(p) => format!("enable_tcp_relay = true\ntcp_relay_ports = [{p}]\n"),
        None => "enable_tcp_relay = false\n".to_owned(),
    };
    format!(
        "port = {port}\n\
         keys_file_path = {keys}\n\
         pid_file_path = {pid}\n\
         enable_ipv6 = false\n\
         enable_ipv4_fallback = true\n\
         enable_lan_discovery = false\n\
         {tcp}\
         enable_motd = true\n\
         motd = {motd}\n\
         bootstrap_nodes = ()\n",
        keys = config_string(&keys_file.display().to_string()),
        pid = config_string(&pid_file.display().to_string()),
        motd = config_string(motd),
    )
}

/// A libconfig string literal.
fn config_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
