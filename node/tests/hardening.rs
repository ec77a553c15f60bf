//! The `toxide-node` binary under abuse from the loopback network: a host
//! rotating source ports, junk sent from a client's own address, a request
//! from the all-zero key, and onion requests naming a broadcast or
//! unspecified next hop. Counters are read from the node's "final
//! counters" line at exit. (Loopback next hops named by a packet from
//! outside the machine need a non-loopback sender; `onion/tests/server.rs`
//! covers them on the sans-IO server.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::RawClient;
use common::binary::{NODE_BIN, NodeProcess, isolate};
use toxide_core::{Encode, KeyPair, Nonce, PackedNode, PublicKey, testing};
use toxide_dht::packet::{PingRequest, PingRequestPayload, PingResponse};
use toxide_onion::path::OnionPath;

/// The node on 127.0.0.1 with `--rate-limit 10` (bursts of 20).
fn start_limited() -> NodeProcess {
    let mut command = Command::new(NODE_BIN);
    isolate(command.args(["--udp-address", "127.0.0.1:0", "--rate-limit", "10"]));
    NodeProcess::start(command, 1)
}

/// The value of `field` in the `section` (`dht:` or `onion:`) of the
/// node's final counters: a line `  section.field   value` of the table
/// after "final counters:", which lists no counter at zero.
fn counter(stderr: &str, section: &str, field: &str) -> u64 {
    let table = stderr
        .split_once("final counters:")
        .unwrap_or_else(|| panic!("no final counters in:\n{stderr}"))
        .1;
    let name = format!("{}.{field}", section.trim_end_matches(':'));
    table
        .lines()
        .map(str::split_whitespace)
        .find_map(|mut words| {
            (words.next() == Some(name.as_str())).then(|| words.next()?.parse().ok())?
        })
        .unwrap_or(0)
}

fn ping_request(node: &NodeProcess, from: &KeyPair, id: u64) -> Vec<u8> {
    let shared = toxide_core::SharedKey::new(&node.public_key, &from.secret).unwrap();
    PingRequest::new(
        &shared,
        from.public,
        Nonce::random(&mut rand::rng()),
        &PingRequestPayload { ping_id: id },
    )
    .to_bytes()
}

/// Ping responses arriving on `socket` within `wait`.
fn responses(socket: &UdpSocket, wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    let mut count = 0;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        if let Ok((len, _)) = socket.recv_from(&mut buf) {
            count += usize::from(buf[..len].first() == Some(&PingResponse::ID));
        }
    }
    count
}

#[test]
fn a_host_rotating_ports_gets_one_budget_and_other_hosts_are_served() {
    let node = start_limited();
    let client = KeyPair::generate(&mut rand::rng());
    // 80 sockets on 127.0.0.1 (80 source ports), one request each, sent
    // within a few milliseconds: one host, one burst of 20.
    let sockets: Vec<UdpSocket> = (0..80)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let started = Instant::now();
    for (i, socket) in sockets.iter().enumerate() {
        socket
            .send_to(&ping_request(&node, &client, i as u64), node.addr())
            .unwrap();
    }
    let sending = started.elapsed().as_secs_f64();
    let answered: usize = sockets
        .iter()
        .map(|s| responses(s, Duration::from_millis(20)))
        .sum::<usize>()
        + responses(&sockets[0], Duration::from_millis(500));
    // The burst, plus what 10/s refills while the requests went out.
    let most = 20 + (sending * 10.0).ceil() as usize + 1;
    assert!(
        (20..=most).contains(&answered),
        "{answered} answered ({sending:.3} s of sending)"
    );
    // Another host (127.0.0.2 is loopback too, but another address) has
    // its own budget.
    let other = UdpSocket::bind("127.0.0.2:0").unwrap();
    other
        .send_to(&ping_request(&node, &client, 99), node.addr())
        .unwrap();
    assert_eq!(responses(&other, Duration::from_millis(1500)), 1);
    let (status, stderr) = node.terminate();
    assert!(status.success());
    assert_eq!(
        counter(&stderr, "dht:", "dropped_rate_limited") as usize,
        80 - answered
    );
}

#[test]
fn junk_from_a_clients_address_does_not_stop_the_node_answering_it() {
    let node = start_limited();
    let mut client = RawClient::new();
    // 300 datagrams from the client's own address and port whose boxes do
    // not open: half under its key, half under fresh keys. Before, each
    // spent a token of the client's budget.
    for i in 0..300u32 {
        let sender = if i % 2 == 0 {
            client.keys.public
        } else {
            KeyPair::generate(&mut rand::rng()).public
        };
        let junk = PingRequest::from_parts(sender, Nonce::random(&mut rand::rng()), vec![0x55; 25]);
        client.send(node.addr(), &junk.to_bytes());
    }
    for _ in 0..5 {
        assert!(client.ping(node.addr(), node.public_key), "answered");
    }
    let (status, stderr) = node.terminate();
    assert!(status.success());
    assert_eq!(counter(&stderr, "dht:", "dropped_undecryptable"), 300);
    assert_eq!(counter(&stderr, "dht:", "dropped_rate_limited"), 0);
}

#[test]
fn the_all_zero_key_gets_no_answer() {
    let node = start_limited();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Sealed under the key anyone derives for the zero key: a node that
    // did not refuse such keys opened and answered it.
    let forged = PingRequest::new(
        &testing::low_order_forgery(),
        PublicKey::new([0; 32]),
        Nonce::random(&mut rand::rng()),
        &PingRequestPayload { ping_id: 1 },
    );
    socket.send_to(&forged.to_bytes(), node.addr()).unwrap();
    assert_eq!(responses(&socket, Duration::from_millis(1500)), 0);
    let (status, stderr) = node.terminate();
    assert!(status.success());
    assert_eq!(counter(&stderr, "dht:", "dropped_low_order_key"), 1);
}

#[test]
fn onion_requests_naming_broadcast_or_unspecified_next_hops_are_dropped() {
    let node = start_limited();
    let mut rng = rand::rng();
    let client = KeyPair::generate(&mut rng);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let a = PackedNode::udp(node.addr(), node.public_key);
    let hop = |addr: &str| PackedNode::udp(addr.parse().unwrap(), PublicKey::new([3; 32]));
    let exit = hop("198.51.100.1:33445");
    let bad = ["255.255.255.255:33445", "0.0.0.0:33445"];
    for next in bad {
        let path = OnionPath::new(&mut rng, &client, [a, hop(next), exit]).unwrap();
        let destination: SocketAddr = "198.51.100.2:33445".parse().unwrap();
        let (first, packet) = path.wrap(&mut rng, destination, &[0x83; 100]).unwrap();
        socket.send_to(&packet.to_bytes(), first).unwrap();
    }
    // Let the node handle them before it is told to stop.
    std::thread::sleep(Duration::from_millis(500));
    let (status, stderr) = node.terminate();
    assert!(status.success());
    assert_eq!(
        counter(&stderr, "onion:", "dropped_next_hop"),
        bad.len() as u64
    );
    assert_eq!(counter(&stderr, "onion:", "requests_relayed"), 0);
}
