//! LAN discovery on a real (virtual) LAN: two `toxide-node` processes, or
//! a `toxide-node` and a real c-toxcore 0.2.18 client, that know no node at
//! all find each other only through LAN discovery (checklist D13), each in
//! its own network namespace, the two joined by a veth pair.
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
//! - The c-toxcore side is `toxide_interop::CPeer` (the `tox_peer` helper
//!   over Debian's libtoxcore) with `PeerOptions::local_discovery` and
//!   `PeerOptions::netns`: `ip netns exec NS tox_peer --local-discovery`,
//!   IPv6 off, bound to 0.0.0.0 on a port this test picks (any port is
//!   free in a fresh namespace); its DHT key is the one on its `READY`
//!   line. c-toxcore needs nothing beyond the namespace setup above: it
//!   reads the interfaces' broadcast addresses at `tox_new`, when the veth
//!   is already addressed and up.
//! - The observable is each side's own DHT answer: a nodes request for the
//!   other side's key, sent from 127.0.0.1 inside the namespace by the
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
//! - c-toxcore cases, the peer in A (10.77.N.1) and the node in B
//!   (10.77.N.2), no bootstrap anywhere. c-toxcore 0.2.18 sends a round
//!   at start-up and every 10–11 s to 33445 and a window sliding over
//!   33446–33544; toxide-node (on 33445) the same, plus its own ports
//!   outside that range. So the ports decide whose announcements can be
//!   heard:
//!   - `ctoxcore_and_toxide_node_find_each_other_on_33445`: both on 33445,
//!     as on a real LAN; each hears the other's rounds. The peer starts
//!     first, so its start-up round goes out before the node listens, and
//!     the node's start-up round is the first that is heard.
//!   - `ctoxcore_hears_toxide_node_announce_to_33445`: the node on 47003,
//!     which c-toxcore never announces to. Only toxide's 0x21 can start
//!     it, so this proves c-toxcore accepts toxide's packet (the node
//!     learns the peer when the peer, answering the announcement, asks it
//!     for nodes).
//!   - `toxide_node_hears_ctoxcore_broadcast_to_33445`: the peer on 47004,
//!     which toxide-node on 33445 never announces to; the node starts
//!     first. Only c-toxcore's 0x21 can start it, so this proves toxide
//!     accepts c-toxcore's packet, sent to 255.255.255.255 and to the
//!     veth's 10.77.N.255.
//!
//! # Observed (debug build, six runs of the whole file, 7.8–9.6 s each)
//!
//! The probes start once both sides are up (~0.26 s after the case
//! starts; CPeer and the node each wait for their start-up lines). A
//! probe's first nodes request always goes unanswered for 1.5 s (one
//! `RawClient` try): neither c-toxcore nor toxide sends an empty nodes
//! response, and neither knows the probe or the other side yet at that
//! instant. So "1.5 s" below means "by the probe's second request", and
//! the probes cannot order events inside that first 1.5 s.
//! - Both on 33445: both listed the other after 1.50–1.55 s.
//! - The node on 47003 (c-toxcore hears toxide): toxide-node listed
//!   c-toxcore after 1.51–1.53 s, c-toxcore listed toxide-node later, after
//!   2.29–3.10 s. On the wire (an strace of toxide-node in a manual run of
//!   this setup): c-toxcore's nodes request came 19 ms after the node's
//!   start-up round; the node, knowing no node, sent no answer and pinged
//!   the peer on its next tick (+1 s); c-toxcore pinged the node at
//!   +1.45 s and asked it for nodes, answered this time, at +2.46 s.
//! - The peer on 47004 (toxide hears c-toxcore): both after 1.50–1.53 s.
//! - Each c-toxcore case took 1.8–3.4 s, well inside one 10 s round: the
//!   other side's start-up announcement is enough.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::RawClient;
use common::binary::{NODE_BIN, NodeProcess, isolate, wait_bounded};
use common::netns::{Netns, ip_ok};
use toxide_core::PublicKey;
use toxide_dht::lan::TOX_PORT_DEFAULT;
use toxide_interop::{CPeer, PeerOptions, TempDir};

/// Set (to the probe's task) in the child that probes a node from inside
/// its namespace.
const PROBE_ENV: &str = "TOXIDE_LAN_NETNS_PROBE";
/// The line a probe prints when it found what it looked for: the target,
/// its address and the milliseconds the probe took.
const PROBE_FOUND: &str = "LAN_PROBE_FOUND";
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
    let a = NetnsNode::start(lan.a.name(), &dir, "a", &["0.0.0.0:33445"]);
    let b = NetnsNode::start(lan.b.name(), &dir, "b", &["0.0.0.0:47001"]);
    let a_addr: SocketAddr = "10.77.1.1:33445".parse().unwrap();
    let b_addr: SocketAddr = "10.77.1.2:47001".parse().unwrap();
    both_know_each_other(
        "ipv4_broadcast_finds_a_node_in_the_next_namespace",
        &Member::node(lan.a.name(), &a, a_addr),
        &Member::node(lan.b.name(), &b, b_addr),
        &|| nodes_context(&a, &b),
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
    let a_ip = lan.link_local(lan.a.name());
    let b_ip = lan.link_local(lan.b.name());
    let dir = TempDir::new("lan-netns-v6").unwrap();
    let sockets = ["127.0.0.1:47002", "[::]:47002"];
    let a = NetnsNode::start(lan.a.name(), &dir, "a", &sockets);
    let b = NetnsNode::start(lan.b.name(), &dir, "b", &sockets);
    let a_addr = SocketAddr::new(IpAddr::V6(a_ip), 47002);
    let b_addr = SocketAddr::new(IpAddr::V6(b_ip), 47002);
    both_know_each_other(
        "ipv6_multicast_finds_a_node_on_our_own_port",
        &Member::node(lan.a.name(), &a, a_addr),
        &Member::node(lan.b.name(), &b, b_addr),
        &|| nodes_context(&a, &b),
    );
    for node in [a, b] {
        node.terminate();
    }
    eprintln!("ipv6 case took {:?}", started.elapsed());
}

#[test]
fn ctoxcore_and_toxide_node_find_each_other_on_33445() {
    if run_probe_if_asked() {
        return;
    }
    ctoxcore_meets_toxide_node(
        "ctoxcore_and_toxide_node_find_each_other_on_33445",
        ("ct-both", 3),
        TOX_PORT_DEFAULT,
        TOX_PORT_DEFAULT,
        Started::PeerFirst,
    );
}

#[test]
fn ctoxcore_hears_toxide_node_announce_to_33445() {
    if run_probe_if_asked() {
        return;
    }
    // c-toxcore's rounds reach 33445..33544 only: never the node on 47003.
    ctoxcore_meets_toxide_node(
        "ctoxcore_hears_toxide_node_announce_to_33445",
        ("ct-hears", 4),
        TOX_PORT_DEFAULT,
        47003,
        Started::PeerFirst,
    );
}

#[test]
fn toxide_node_hears_ctoxcore_broadcast_to_33445() {
    if run_probe_if_asked() {
        return;
    }
    // toxide-node on 33445 announces to 33445..33544 only: never to the
    // peer on 47004.
    ctoxcore_meets_toxide_node(
        "toxide_node_hears_ctoxcore_broadcast_to_33445",
        ("tx-hears", 5),
        47004,
        TOX_PORT_DEFAULT,
        Started::NodeFirst,
    );
}

/// Which of the two is started first. The other one's start-up
/// announcement is then the first that can be heard (the first one's went
/// out before anything listened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Started {
    PeerFirst,
    NodeFirst,
}

/// A c-toxcore peer with LAN discovery on `peer_port` in namespace A and
/// `toxide-node --lan-discovery` on `node_port` (0.0.0.0) in namespace B,
/// neither bootstrapped; both must list the other at its LAN address.
/// `case` names the namespaces and picks the subnet 10.77.N.0/24.
fn ctoxcore_meets_toxide_node(
    test: &str,
    case: (&str, u8),
    peer_port: u16,
    node_port: u16,
    order: Started,
) {
    let started = Instant::now();
    let (name, subnet) = case;
    let lan = Lan::create(name, subnet);
    let dir = TempDir::new(&format!("lan-netns-{name}")).unwrap();
    let start_peer = || {
        CPeer::spawn(PeerOptions {
            udp_port: Some(peer_port),
            netns: Some(lan.a.name().to_owned()),
            local_discovery: true,
            label: Some(format!("c-toxcore in {}", lan.a.name())),
            ..PeerOptions::default()
        })
        .unwrap()
    };
    let node_addr = format!("0.0.0.0:{node_port}");
    let start_node = || NetnsNode::start(lan.b.name(), &dir, "node", &[node_addr.as_str()]);
    let (peer, node) = match order {
        Started::PeerFirst => {
            let peer = start_peer();
            (peer, start_node())
        }
        Started::NodeFirst => {
            let node = start_node();
            (start_peer(), node)
        }
    };
    let both_up = started.elapsed();
    assert_eq!(peer.udp_port(), peer_port);
    let peer_member = Member {
        ns: lan.a.name(),
        port: peer_port,
        dht_key: *peer.dht_key(),
        lan_addr: SocketAddr::from(([10, 77, subnet, 1], peer_port)),
    };
    let node_member = Member::node(
        lan.b.name(),
        &node,
        SocketAddr::from(([10, 77, subnet, 2], node_port)),
    );
    let [peer_found, node_found] = both_know_each_other(test, &peer_member, &node_member, &|| {
        format!("{}\ntoxide-node stderr:\n{}", peer.context(), node.stderr())
    });
    node.terminate();
    peer.quit().unwrap();
    eprintln!(
        "{test}: {order:?} (both up after {both_up:?}); c-toxcore listed toxide-node \
         after {peer_found:?}, toxide-node listed c-toxcore after {node_found:?}; \
         the case took {:?}",
        started.elapsed()
    );
}

/// Both nodes' logs, for a failure message.
fn nodes_context(a: &NetnsNode, b: &NetnsNode) -> String {
    format!(
        "node A stderr:\n{}\nnode B stderr:\n{}",
        a.stderr(),
        b.stderr()
    )
}

/// One side of a LAN as the probes see it: the namespace it runs in, the
/// port it answers on there (asked on 127.0.0.1), its DHT key, and where
/// the other side must list it.
struct Member<'a> {
    ns: &'a str,
    port: u16,
    dht_key: PublicKey,
    lan_addr: SocketAddr,
}

impl<'a> Member<'a> {
    fn node(ns: &'a str, node: &NetnsNode, lan_addr: SocketAddr) -> Self {
        Self {
            ns,
            port: node.port,
            dht_key: node.public_key,
            lan_addr,
        }
    }
}

/// Probes, in both namespaces at once, that each member lists the other
/// at its LAN address; `test` is the running test's name (the probes run
/// it again), `context` the members' output for a failure message. Returns
/// how long after the probes started A listed B, and B listed A.
fn both_know_each_other(
    test: &str,
    a: &Member<'_>,
    b: &Member<'_>,
    context: &dyn Fn() -> String,
) -> [Duration; 2] {
    let probes = [(a, b), (b, a)].map(|(asked, target)| {
        let task = ProbeTask {
            node_addr: SocketAddr::from(([127, 0, 0, 1], asked.port)),
            node_pk: asked.dht_key,
            target: target.dht_key,
            target_addr: target.lan_addr,
        };
        (asked.ns, task.spawn(asked.ns, test))
    });
    let limit = DISCOVERY_TIMEOUT + PROBE_GRACE;
    probes.map(|(ns, probe)| {
        let (status, stdout, stderr) = wait_bounded(probe, limit);
        let found_after = stdout
            .lines()
            // The harness's `test <name> ... ` precedes it on its line.
            .find_map(|line| line.split_once(PROBE_FOUND))
            .map(|(_, rest)| rest)
            .and_then(|rest| rest.split_whitespace().last())
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis);
        match found_after {
            Some(after) if status.success() => after,
            _ => panic!(
                "the member in {ns} never listed the other one within {DISCOVERY_TIMEOUT:?}\n\
                 probe status {status:?}\nprobe stdout:\n{stdout}\nprobe stderr:\n{stderr}\n{}",
                context()
            ),
        }
    })
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
    let started = Instant::now();
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
    println!(
        "{PROBE_FOUND} {} {} {}",
        task.target,
        task.target_addr,
        started.elapsed().as_millis()
    );
    true
}

// ----- namespaces ------------------------------------------------------------

/// Two network namespaces joined by a veth pair; deleted (and with them
/// the pair) on drop.
struct Lan {
    a: Netns,
    b: Netns,
}

impl Lan {
    /// Creates `toxide-lan-<pid>-<case>-{a,b}` with 10.77.`subnet`.1 and .2.
    fn create(case: &str, subnet: u8) -> Self {
        let why = "it creates two with a veth pair between them, because LAN \
                   discovery broadcasts are tested only inside network namespaces";
        let lan = Self {
            a: Netns::create("toxide-lan", &format!("{case}-a"), why),
            b: Netns::create("toxide-lan", &format!("{case}-b"), why),
        };
        let (a, b) = (lan.a.name(), lan.b.name());
        ip_ok(&[
            "link", "add", "veth-a", "netns", a, "type", "veth", "peer", "name", "veth-b", "netns",
            b,
        ]);
        for (ns, dev, host) in [(a, "veth-a", 1), (b, "veth-b", 2)] {
            let cidr = format!("10.77.{subnet}.{host}/24");
            ip_ok(&["-n", ns, "addr", "add", &cidr, "dev", dev]);
            ip_ok(&["-n", ns, "link", "set", dev, "up"]);
            ip_ok(&["-n", ns, "route", "add", "default", "dev", dev]);
        }
        lan
    }

    /// The veth end's IPv6 link-local address in `ns`, once duplicate
    /// address detection has passed (a tentative address cannot be used).
    fn link_local(&self, ns: &str) -> Ipv6Addr {
        let deadline = Instant::now() + DAD_TIMEOUT;
        loop {
            let out = ip_ok(&["-n", ns, "-6", "-o", "addr", "show", "scope", "link"]);
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

// ----- the nodes -------------------------------------------------------------

/// A `toxide-node` running inside a namespace; killed on drop.
struct NetnsNode {
    process: NodeProcess,
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
        command
            .arg("--keys-file")
            .arg(&keys)
            .args(["--log-level", "debug"]);
        isolate(&mut command);
        let process = NodeProcess::start(command, addrs.len());
        Self {
            public_key: process.public_key,
            port: process.ports[0],
            process,
        }
    }

    fn stderr(&self) -> String {
        self.process.stderr()
    }

    /// Stops the node with SIGTERM and checks it exits cleanly (bounded).
    fn terminate(self) {
        let (status, stderr) = self.process.terminate();
        assert!(status.success(), "{status:?}:\n{stderr}");
    }
}
