//! LAN discovery on a real (virtual) LAN: two `toxide-node` processes that
//! know no node at all find each other only through LAN discovery
//! (checklist D13), each in its own network namespace, the two joined by a
//! veth pair.
//!
//! Network rule: LAN discovery broadcasts are sent only inside network
//! namespaces. Every packet here stays in the two namespaces this test
//! creates (the veth pair is created inside them and has no end in the
//! host's namespace) or on their loopback; the host's own interfaces never
//! see one. The test needs root (CI runs as root) and fails, saying so,
//! without it.
//!
//! # Design
//!
//! - Namespaces `toxide-lan-<pid>-<case>-a` / `-b`, a veth pair between
//!   them with 10.77.N.1/24 and 10.77.N.2/24, `lo` and the veth ends up, and
//!   a default route over the veth. The route is what a LAN host normally
//!   has, and what toxide needs: it announces to the limited broadcast
//!   255.255.255.255, which Linux refuses ("network unreachable") without a
//!   route covering it (c-toxcore also sends to each interface's own
//!   broadcast address, which needs none; see `toxide_dht::lan`). [`Lan`]
//!   deletes both namespaces (and with them the pair) on drop, so on every
//!   exit path including a failed assertion, and removes namespaces left by
//!   an earlier run of this test whose process no longer exists.
//! - The nodes run as `ip netns exec NS toxide-node --lan-discovery ...`
//!   with no bootstrap node; their `DHT_PUBLIC_KEY` / `PORT` start-up lines
//!   are read as in `node_binary.rs`.
//! - The observable is the node's own DHT answer: a nodes request for the
//!   other node's key, sent from 127.0.0.1 inside the namespace by the
//!   tests' `RawClient`, must return the other node at its LAN address. The
//!   test process cannot open a socket inside a namespace (that needs
//!   `setns`, i.e. `unsafe` or a new crate), so it runs that probe in a
//!   child: this same test binary, started with `ip netns exec NS` and
//!   `--exact <this test>`, which sees [`PROBE_ENV`] and acts as the probe
//!   instead of setting up namespaces. The probes in both namespaces run at
//!   once, each bounded by [`DISCOVERY_TIMEOUT`] and killed if they overrun
//!   it; both directions must hold.
//! - Cases: IPv4, node A on the default port 33445 and node B on 47001
//!   (A hears B's announcements on 33445, which every round covers; B
//!   learns A when A asks it for nodes); and IPv6 link-local multicast
//!   alone, both nodes on the non-default port 47002 with an IPv6 socket on
//!   `[::]` and their IPv4 socket on 127.0.0.1 (whose broadcasts cannot
//!   leave the namespace), so they meet only through `ff02::1` on their own
//!   port. Both take a few seconds: a node announces itself at start-up.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::RawClient;
use toxide_core::PublicKey;
use toxide_interop::TempDir;

const NODE_BIN: &str = env!("CARGO_BIN_EXE_toxide-node");
/// Set (to the probe's task) in the child that probes a node from inside
/// its namespace.
const PROBE_ENV: &str = "TOXIDE_LAN_NETNS_PROBE";
/// The line a probe prints when it found what it looked for.
const PROBE_FOUND: &str = "LAN_PROBE_FOUND";
/// How long a node may take to print its start-up lines.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one `ip` command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the nodes have to find each other: three LAN discovery rounds.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// A probe's last nodes request may start just before its deadline and
/// take four tries of 1.5 s; the child also needs to start.
const PROBE_GRACE: Duration = Duration::from_secs(15);
/// How long a link-local address may stay tentative (duplicate address
/// detection).
const DAD_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn ipv4_broadcast_finds_a_node_in_the_next_namespace() {
    if run_probe_if_asked() {
        return;
    }
    let started = Instant::now();
    let lan = Lan::create("v4", 1);
    let dir = TempDir::new("lan-netns-v4").unwrap();
    let a = NetnsNode::start(&lan.a, &dir, "a", &["0.0.0.0:33445"]);
    let b = NetnsNode::start(&lan.b, &dir, "b", &["0.0.0.0:47001"]);
    let a_addr: SocketAddr = "10.77.1.1:33445".parse().unwrap();
    let b_addr: SocketAddr = "10.77.1.2:47001".parse().unwrap();
    both_know_each_other(
        &lan,
        "ipv4_broadcast_finds_a_node_in_the_next_namespace",
        (&a, a_addr),
        (&b, b_addr),
    );
    for node in [a, b] {
        node.terminate();
    }
    eprintln!("ipv4 case took {:?}", started.elapsed());
}

#[test]
fn ipv6_multicast_finds_a_node_on_our_own_port() {
    if run_probe_if_asked() {
        return;
    }
    let started = Instant::now();
    let lan = Lan::create("v6", 2);
    let a_ip = lan.link_local(&lan.a);
    let b_ip = lan.link_local(&lan.b);
    let dir = TempDir::new("lan-netns-v6").unwrap();
    let sockets = ["127.0.0.1:47002", "[::]:47002"];
    let a = NetnsNode::start(&lan.a, &dir, "a", &sockets);
    let b = NetnsNode::start(&lan.b, &dir, "b", &sockets);
    let a_addr = SocketAddr::new(IpAddr::V6(a_ip), 47002);
    let b_addr = SocketAddr::new(IpAddr::V6(b_ip), 47002);
    both_know_each_other(
        &lan,
        "ipv6_multicast_finds_a_node_on_our_own_port",
        (&a, a_addr),
        (&b, b_addr),
    );
    for node in [a, b] {
        node.terminate();
    }
    eprintln!("ipv6 case took {:?}", started.elapsed());
}

/// Probes, in both namespaces at once, that each node lists the other at
/// the given address; `test` is the running test's name (the probes run
/// it again).
fn both_know_each_other(
    lan: &Lan,
    test: &str,
    a: (&NetnsNode, SocketAddr),
    b: (&NetnsNode, SocketAddr),
) {
    let probes = [
        (&lan.a, a.0, b.0.public_key, b.1),
        (&lan.b, b.0, a.0.public_key, a.1),
    ]
    .map(|(ns, node, target, target_addr)| {
        let task = ProbeTask {
            node_addr: SocketAddr::from(([127, 0, 0, 1], node.port)),
            node_pk: node.public_key,
            target,
            target_addr,
        };
        (ns.clone(), task.spawn(ns, test))
    });
    let limit = DISCOVERY_TIMEOUT + PROBE_GRACE;
    for (ns, probe) in probes {
        let (status, stdout, stderr) = wait_bounded(probe, limit);
        assert!(
            status.success() && stdout.contains(PROBE_FOUND),
            "the node in {ns} never listed the other node within {DISCOVERY_TIMEOUT:?}\n\
             probe status {status:?}\nprobe stdout:\n{stdout}\nprobe stderr:\n{stderr}\n\
             node A stderr:\n{}\nnode B stderr:\n{}",
            a.0.stderr(),
            b.0.stderr(),
        );
    }
}

// ----- the probe (runs in the child, inside a namespace) -------------------

/// What a probe asks: whether the node at `node_addr` lists `target` at
/// `target_addr`.
struct ProbeTask {
    node_addr: SocketAddr,
    node_pk: PublicKey,
    target: PublicKey,
    target_addr: SocketAddr,
}

impl ProbeTask {
    fn encode(&self) -> String {
        format!(
            "{} {} {} {}",
            self.node_addr, self.node_pk, self.target, self.target_addr
        )
    }

    fn decode(text: &str) -> Self {
        let fields: Vec<&str> = text.split(' ').collect();
        assert_eq!(fields.len(), 4, "bad {PROBE_ENV}: {text}");
        Self {
            node_addr: fields[0].parse().unwrap(),
            node_pk: fields[1].parse().unwrap(),
            target: fields[2].parse().unwrap(),
            target_addr: fields[3].parse().unwrap(),
        }
    }

    /// Runs this test binary again inside `ns`, with only `test`, which
    /// then acts as this probe.
    fn spawn(&self, ns: &str, test: &str) -> Child {
        let exe = std::env::current_exe().unwrap();
        Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(PROBE_ENV, self.encode())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// In the probe child: does the probe and returns true. Otherwise false.
fn run_probe_if_asked() -> bool {
    let Ok(text) = std::env::var(PROBE_ENV) else {
        return false;
    };
    let task = ProbeTask::decode(&text);
    let mut client = RawClient::new();
    let mut last = None;
    let found = common::wait_for(DISCOVERY_TIMEOUT, || {
        let nodes = client.nodes(task.node_addr, task.node_pk, task.target)?;
        let found = nodes
            .iter()
            .any(|n| n.public_key == task.target && n.addr == task.target_addr);
        last = Some(nodes);
        found.then_some(())
    });
    assert!(
        found.is_some(),
        "{} never listed {} at {}; its last answer: {last:?}",
        task.node_addr,
        task.target,
        task.target_addr
    );
    println!("{PROBE_FOUND} {} {}", task.target, task.target_addr);
    true
}

// ----- namespaces ------------------------------------------------------------

/// Two network namespaces joined by a veth pair; deleted on drop.
struct Lan {
    a: String,
    b: String,
}

impl Lan {
    /// Creates `toxide-lan-<pid>-<case>-{a,b}` with 10.77.`subnet`.1 and .2.
    fn create(case: &str, subnet: u8) -> Self {
        require_root();
        remove_stale_namespaces();
        let prefix = format!("toxide-lan-{}-{case}", std::process::id());
        let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
        for ns in [&a, &b] {
            let (ok, stderr) = ip(&["netns", "add", ns]);
            assert!(
                ok,
                "`ip netns add {ns}` failed: this test needs root with network \
                 namespaces (CAP_SYS_ADMIN, iproute2's `ip`): {stderr}"
            );
        }
        // From here on, drop deletes whatever was created.
        let lan = Self { a, b };
        lan.run(&[
            "link", "add", "veth-a", "netns", &lan.a, "type", "veth", "peer", "name", "veth-b",
            "netns", &lan.b,
        ]);
        for (ns, dev, host) in [(&lan.a, "veth-a", 1), (&lan.b, "veth-b", 2)] {
            let cidr = format!("10.77.{subnet}.{host}/24");
            lan.run(&["-n", ns, "addr", "add", &cidr, "dev", dev]);
            lan.run(&["-n", ns, "link", "set", "lo", "up"]);
            lan.run(&["-n", ns, "link", "set", dev, "up"]);
            lan.run(&["-n", ns, "route", "add", "default", "dev", dev]);
        }
        lan
    }

    fn run(&self, args: &[&str]) -> String {
        let (ok, output) = ip(args);
        assert!(ok, "`ip {}` failed: {output}", args.join(" "));
        output
    }

    /// The veth end's IPv6 link-local address in `ns`, once duplicate
    /// address detection has passed (a tentative address cannot be used).
    fn link_local(&self, ns: &str) -> Ipv6Addr {
        let deadline = Instant::now() + DAD_TIMEOUT;
        loop {
            let out = self.run(&["-n", ns, "-6", "-o", "addr", "show", "scope", "link"]);
            let ready = out
                .lines()
                .filter(|line| line.contains("veth-") && !line.contains("tentative"))
                .find_map(|line| {
                    let cidr = line
                        .split_whitespace()
                        .skip_while(|&w| w != "inet6")
                        .nth(1)?;
                    cidr.split('/').next()?.parse().ok()
                });
            if let Some(ip) = ready {
                return ip;
            }
            assert!(
                Instant::now() < deadline,
                "no usable link-local address in {ns}: {out}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth end, and so the pair.
        for ns in [&self.a, &self.b] {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// Fails the test unless it runs as root.
fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse::<u32>().ok());
    assert_eq!(
        euid,
        Some(0),
        "this test needs root and network namespaces: it creates two with \
         `ip netns add` and a veth pair between them, because LAN discovery \
         broadcasts are tested only inside network namespaces; run it as \
         root (CI does)"
    );
}

/// Deletes namespaces of this test whose process is gone (a run that was
/// killed before its guards could run).
fn remove_stale_namespaces() {
    let (ok, list) = ip(&["netns", "list"]);
    if !ok {
        return;
    }
    for name in list
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        let Some(pid) = name
            .strip_prefix("toxide-lan-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Runs `ip` with a bounded wait: success, and stdout or (on failure)
/// stderr.
fn ip(args: &[&str]) -> (bool, String) {
    let child = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2): {e}"));
    let (status, stdout, stderr) = wait_bounded(child, COMMAND_TIMEOUT);
    if status.success() {
        (true, stdout)
    } else {
        (false, stderr)
    }
}

/// Waits at most `timeout` for `child` (killing it then) and returns its
/// status and output.
fn wait_bounded(mut child: Child, timeout: Duration) -> (ExitStatus, String, String) {
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

// ----- the nodes -------------------------------------------------------------

/// A `toxide-node` running inside a namespace; killed on drop.
struct NetnsNode {
    child: Child,
    stderr: Arc<Mutex<String>>,
    public_key: PublicKey,
    /// The first socket's port.
    port: u16,
}

impl NetnsNode {
    /// Starts the node in `ns` with LAN discovery, no bootstrap node, and
    /// one socket per address; reads its start-up lines.
    fn start(ns: &str, dir: &TempDir, name: &str, addrs: &[&str]) -> Self {
        let keys = dir.path().join(format!("{name}.keys"));
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns, NODE_BIN, "--lan-discovery"]);
        for addr in addrs {
            command.args(["--udp-address", addr]);
        }
        let mut child = command
            .arg("--keys-file")
            .arg(&keys)
            .args(["--log-level", "debug"])
            .env_remove("TOXIDE_NODE_SECRET_KEY")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = line_reader(child.stdout.take().unwrap());
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().unwrap();
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
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut next_line = |prefix: &str| {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).unwrap_or_else(|e| {
                let _ = child.kill();
                panic!(
                    "no {prefix} line from toxide-node in {ns} ({e}); stderr:\n{}",
                    stderr.lock().unwrap()
                )
            });
            line.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(' '))
                .unwrap_or_else(|| panic!("expected {prefix}, got: {line}"))
                .to_owned()
        };
        let public_key: PublicKey = next_line("DHT_PUBLIC_KEY").parse().unwrap();
        let ports: Vec<u16> = addrs
            .iter()
            .map(|_| next_line("PORT").parse().unwrap())
            .collect();
        Self {
            child,
            stderr,
            public_key,
            port: ports[0],
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stops the node with SIGTERM and checks it exits cleanly (bounded).
    /// `ip netns exec` execs the node, so the child's pid is the node's.
    fn terminate(mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "toxide-node ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status:?}:\n{}", self.stderr());
    }
}

impl Drop for NetnsNode {
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
