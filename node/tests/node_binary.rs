//! The `toxide-node` binary as an operator and a DHT peer see it: start-up
//! lines, real DHT traffic on 127.0.0.1, bootstrap info, a persistent keys
//! file, clean exit on SIGTERM, and clear errors for bad configuration.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use common::RawClient;
use common::binary::{EXIT_TIMEOUT, NODE_BIN, NodeProcess, isolate, wait_exit};
use toxide_core::{KeyPair, SecretKey};
use toxide_interop::TempDir;

/// The node with `args`, as every test here runs it.
fn node_command(args: &[&str]) -> Command {
    let mut command = Command::new(NODE_BIN);
    isolate(command.args(args));
    command
}

/// Starts the node with `args` and reads its start-up lines (`ports` PORT
/// lines).
fn start_node(args: &[&str], ports: usize) -> NodeProcess {
    NodeProcess::start(node_command(args), ports)
}

/// Runs the binary to completion (bounded) and returns status, stdout and
/// stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String, String) {
    run_command_to_exit(node_command(args))
}

/// [`run_to_exit`] for a prepared command (extra environment, say).
fn run_command_to_exit(mut command: Command) -> (ExitStatus, String, String) {
    let mut child = command.spawn().unwrap();
    let status = wait_exit(&mut child, EXIT_TIMEOUT);
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stdout, stderr)
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn serves_dht_and_bootstrap_info_then_exits_cleanly_on_sigterm() {
    let dir = TempDir::new("node-bin").unwrap();
    let keys = dir.path().join("keys");
    let node = start_node(
        &[
            "--udp-address",
            "127.0.0.1:0",
            "--keys-file",
            path_str(&keys),
            "--motd",
            "hello from the node test",
        ],
        1,
    );
    let mut client = RawClient::new();

    // A ping is answered with our ping id, sealed for us.
    assert!(
        client.ping(node.addr(), node.public_key),
        "no valid ping response; stderr:\n{}",
        node.stderr()
    );

    // The node pings back the unknown node that contacted it (c-toxcore
    // `ping_add`); once we have answered, we are in its close list and a
    // nodes request (from anyone on the LAN) returns us.
    let own = client.keys.public;
    let own_addr = client.addr();
    let found = common::wait_for(Duration::from_secs(10), || {
        client.serve_for(Duration::from_millis(500));
        let nodes = client.nodes(node.addr(), node.public_key, own)?;
        nodes
            .iter()
            .any(|n| n.public_key == own && n.addr == own_addr)
            .then_some(nodes)
    });
    assert!(
        found.is_some(),
        "node never listed us (pings answered: {}); stderr:\n{}",
        client.pings_answered,
        node.stderr()
    );

    // Bootstrap info: our version scheme and the configured MOTD (with the
    // terminating NUL tox-bootstrapd also sends).
    let info = client
        .bootstrap_info(node.addr())
        .expect("no bootstrap info response");
    assert_eq!(info.version(), toxide_node::BOOTSTRAP_INFO_VERSION);
    assert_eq!(info.version(), 4_000_001_000);
    assert_eq!(info.motd_text(), "hello from the node test");
    assert_eq!(info.motd().last(), Some(&0));

    let (status, stderr) = node.terminate();
    assert!(
        status.success(),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    assert!(stderr.contains("SIGTERM"), "{stderr}");
}

#[test]
fn keys_file_keeps_the_key_and_is_private() {
    let dir = TempDir::new("node-keys").unwrap();
    let keys = dir.path().join("keys");
    let args = [
        "--udp-address",
        "127.0.0.1:0",
        "--keys-file",
        path_str(&keys),
    ];

    let first = start_node(&args, 1);
    let key = first.public_key;
    let (status, stderr) = first.terminate();
    assert!(status.success(), "{stderr}");

    let bytes = std::fs::read(&keys).unwrap();
    assert_eq!(
        bytes.len(),
        64,
        "tox-bootstrapd format: public then secret key"
    );
    assert_eq!(&bytes[..32], key.as_bytes());
    let secret: [u8; 32] = bytes[32..].try_into().unwrap();
    assert_eq!(SecretKey::from_bytes(secret).public_key(), key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }

    let second = start_node(&args, 1);
    assert_eq!(second.public_key, key, "a restart keeps the DHT key");
    let (status, _) = second.terminate();
    assert!(status.success());

    // Without a keys file every run has a fresh key.
    let a = start_node(&["--udp-address", "127.0.0.1:0"], 1);
    let b = start_node(&["--udp-address", "127.0.0.1:0"], 1);
    assert_ne!(a.public_key, b.public_key);
}

#[test]
fn secret_key_from_the_environment() {
    let keys = KeyPair::generate(&mut rand::rng());
    let hex: String = keys
        .secret
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut command = node_command(&["--udp-address", "127.0.0.1:0"]);
    command.env("TOXIDE_NODE_SECRET_KEY", &hex);
    let node = NodeProcess::start(command, 1);
    assert_eq!(node.public_key, keys.public);
    drop(node);

    let mut command = node_command(&["--udp-address", "127.0.0.1:0"]);
    command.env("TOXIDE_NODE_SECRET_KEY", "not hex");
    let (status, _, stderr) = run_command_to_exit(command);
    assert!(!status.success());
    assert!(stderr.contains("TOXIDE_NODE_SECRET_KEY"), "{stderr}");
    assert!(
        !stderr.contains("not hex"),
        "the secret is not echoed: {stderr}"
    );
}

#[test]
fn several_sockets_print_one_port_line_each() {
    let node = start_node(
        &[
            "--udp-address",
            "127.0.0.1:0",
            "--udp-address",
            "127.0.0.1:0",
        ],
        2,
    );
    assert_ne!(node.ports[0], node.ports[1]);
    let mut client = RawClient::new();
    for port in node.ports.clone() {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(
            client.ping(addr, node.public_key),
            "port {port} does not answer"
        );
    }
    // Nothing but the start-up lines goes to stdout (logs go to stderr).
    assert!(node.stdout.try_recv().is_err());
    let (status, _) = node.terminate();
    assert!(status.success());
}

#[test]
fn bad_configuration_fails_with_a_message() {
    let dir = TempDir::new("node-config").unwrap();

    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "udp-address = [\"127.0.0.1:0\"\nmotd = \n").unwrap();
    let (status, stdout, stderr) = run_to_exit(&["--config", path_str(&bad_toml)]);
    assert!(!status.success());
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("error") && stderr.contains("bad.toml"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let wrong_type = dir.path().join("type.toml");
    std::fs::write(&wrong_type, "lan-discovery = \"yes\"\n").unwrap();
    let (status, _, stderr) = run_to_exit(&["--config", path_str(&wrong_type)]);
    assert!(!status.success());
    assert!(
        stderr.contains("lan-discovery") || stderr.contains("line 1"),
        "{stderr}"
    );

    let bad_addr = dir.path().join("addr.toml");
    std::fs::write(&bad_addr, "udp-address = \"nowhere\"\n").unwrap();
    let (status, _, stderr) = run_to_exit(&["--config", path_str(&bad_addr)]);
    assert!(!status.success());
    assert!(
        stderr.contains("udp-address") && stderr.contains("nowhere"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.toml");
    let (status, _, stderr) = run_to_exit(&["--config", path_str(&missing)]);
    assert!(!status.success());
    assert!(stderr.contains("missing.toml"), "{stderr}");

    // An address this machine does not have (TEST-NET-1): bind fails.
    let (status, _, stderr) = run_to_exit(&["--udp-address", "192.0.2.1:33445"]);
    assert!(!status.success());
    assert!(
        stderr.contains("cannot bind") && stderr.contains("192.0.2.1"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let (status, _, stderr) = run_to_exit(&["--udp-address", "127.0.0.1:0", "--log-level", "[[["]);
    assert!(!status.success());
    assert!(stderr.contains("log level"), "{stderr}");
}

#[test]
fn unknown_config_keys_warn_and_flags_override_the_file() {
    let dir = TempDir::new("node-warn").unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "udp-address = \"127.0.0.1:1\"\nmotd = \"from the file\"\nudp-adress = \"typo\"\n",
    )
    .unwrap();
    let node = start_node(
        &[
            "--config",
            path_str(&config),
            "--udp-address",
            "127.0.0.1:0",
        ],
        1,
    );
    assert_ne!(node.ports[0], 1, "the flag overrides the file's address");
    let mut client = RawClient::new();
    let info = client.bootstrap_info(node.addr()).unwrap();
    assert_eq!(info.motd_text(), "from the file");
    let (status, stderr) = node.terminate();
    assert!(status.success());
    assert!(
        stderr.contains("warning") && stderr.contains("udp-adress"),
        "{stderr}"
    );
}

#[test]
fn tcp_relay_from_the_config_file_prints_its_ports() {
    let dir = TempDir::new("node-tcp").unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "udp-address = \"127.0.0.1:0\"\ntcp-address = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n\
         tcp-max-connections = 16\n",
    )
    .unwrap();
    let mut command = Command::new(NODE_BIN);
    isolate(command.args(["--config", path_str(&config)]));
    let node = NodeProcess::start_with_tcp(command, 1, 2);
    assert_ne!(node.tcp_ports[0], node.tcp_ports[1]);
    for port in node.tcp_ports.clone() {
        std::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap_or_else(|e| panic!("TCP port {port}: {e}"));
    }
    assert!(node.stdout.try_recv().is_err());
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("final TCP relay counters"), "{stderr}");

    // A TCP port already taken: a clear error, no half-started node.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, stdout, stderr) =
        run_to_exit(&["--udp-address", "127.0.0.1:0", "--tcp-address", &addr]);
    assert!(!status.success());
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("cannot listen on TCP") && stderr.contains(&addr),
        "{stderr}"
    );
}

/// The shipped systemd unit's `ExecStart` runs: its flags are the
/// binary's, and a config written as the unit's comments say (keys in the
/// state directory) starts a node that creates its keys file there.
/// (`systemd-analyze verify` on the unit passes as well; it needs systemd,
/// which CI machines may lack, so it is not run here.)
#[test]
fn the_systemd_units_command_line_starts_the_node() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dist/toxide-node.service"
    ))
    .unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart line");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/toxide-node"));
    let args: Vec<&str> = words.collect();
    assert_eq!(args, ["--config", "/etc/toxide-node/config.toml"]);

    let dir = TempDir::new("node-unit").unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let keys = state.join("keys");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "udp-address = \"127.0.0.1:0\"\ntcp-address = \"127.0.0.1:0\"\nkeys-file = \"{}\"\n",
            keys.display()
        ),
    )
    .unwrap();
    let mut command = Command::new(NODE_BIN);
    isolate(command.args([args[0], path_str(&config)]));
    let node = NodeProcess::start_with_tcp(command, 1, 1);
    let (status, stderr) = node.terminate();
    assert!(status.success(), "{stderr}");
    assert_eq!(
        std::fs::metadata(&keys).unwrap().len(),
        64,
        "the keys file in the state directory"
    );
}
