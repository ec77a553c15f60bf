//! Four onion servers in memory: a client wraps announce and data requests
//! for three relays, the fourth stores and delivers, and responses find
//! their way back through the return layers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{Decode, Encode, KeyPair, Nonce, PackedNode, PublicKey, SharedKey};
use toxide_onion::announce::CloseNodes;
use toxide_onion::constants::RETURN_3_SIZE;
use toxide_onion::packet::{
    AnnounceRequest, AnnounceRequestPayload, AnnounceResponse, AnnounceStatus, AnnounceVersion,
    OnionDataRequest, OnionDataResponse, OnionRequest0,
};
use toxide_onion::path::OnionPath;
use toxide_onion::relay::TcpClient;
use toxide_onion::{OnionServer, ServerConfig};

struct Nodes(Vec<PackedNode>);

impl CloseNodes for Nodes {
    fn close_nodes(&self, _: Instant, _: &PublicKey, _: bool) -> Vec<PackedNode> {
        self.0.clone()
    }
}

struct Net {
    servers: HashMap<SocketAddr, OnionServer>,
    /// Each server's key pair (to play a TCP relay's client, whose first
    /// layer travels open).
    keys: HashMap<SocketAddr, KeyPair>,
    nodes: Nodes,
    /// What reached addresses that are not servers (the clients).
    delivered: HashMap<SocketAddr, Vec<Vec<u8>>>,
    now: Instant,
}

impl Net {
    fn new(count: u16, rng: &mut ChaCha20Rng) -> (Self, Vec<PackedNode>) {
        let now = Instant::now();
        let mut servers = HashMap::new();
        let mut keys_of = HashMap::new();
        let mut nodes = Vec::new();
        for i in 0..count {
            let keys = KeyPair::generate(rng);
            let addr: SocketAddr = format!("127.0.0.1:{}", 40_000 + i).parse().unwrap();
            nodes.push(PackedNode::udp(addr, keys.public));
            let mut seed = [0u8; 32];
            seed[0] = i as u8;
            let config = ServerConfig { rate_limit: None };
            keys_of.insert(addr, keys.clone());
            servers.insert(addr, OnionServer::new(config, keys, now, seed));
        }
        let net = Self {
            servers,
            keys: keys_of,
            nodes: Nodes(nodes.clone()),
            delivered: HashMap::new(),
            now,
        };
        (net, nodes)
    }

    /// Runs until no server has anything to send; bounded.
    fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        let mut queue = VecDeque::from([(from, to, bytes)]);
        for _ in 0..100 {
            let Some((from, to, bytes)) = queue.pop_front() else {
                return;
            };
            match self.servers.get_mut(&to) {
                Some(server) => {
                    server.handle_datagram(self.now, from, &bytes, &self.nodes);
                    while let Some(t) = server.poll_transmit() {
                        queue.push_back((to, t.destination, t.payload));
                    }
                }
                None => self.delivered.entry(to).or_default().push(bytes),
            }
        }
        panic!("packets kept circulating");
    }
}

struct Client {
    addr: SocketAddr,
    dht: KeyPair,
    real: KeyPair,
    data: KeyPair,
}

impl Client {
    fn new(port: u16, rng: &mut ChaCha20Rng) -> Self {
        Self {
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            dht: KeyPair::generate(rng),
            real: KeyPair::generate(rng),
            data: KeyPair::generate(rng),
        }
    }

    fn announce_request(
        &self,
        to: &PackedNode,
        ping_id: [u8; 32],
        rng: &mut ChaCha20Rng,
    ) -> Vec<u8> {
        self.announce_request_version(AnnounceVersion::Old, to, ping_id, rng)
    }

    fn announce_request_version(
        &self,
        version: AnnounceVersion,
        to: &PackedNode,
        ping_id: [u8; 32],
        rng: &mut ChaCha20Rng,
    ) -> Vec<u8> {
        let shared = SharedKey::new(&to.public_key, &self.real.secret).unwrap();
        let payload = AnnounceRequestPayload {
            ping_id,
            search_pk: self.real.public,
            data_pk: self.data.public,
            sendback: [0x5b; 8],
        };
        AnnounceRequest::new(
            version,
            &shared,
            self.real.public,
            Nonce::random(rng),
            &payload,
        )
        .to_bytes()
    }
}

fn wrap(
    client: &Client,
    path_nodes: [PackedNode; 3],
    dest: SocketAddr,
    data: &[u8],
    rng: &mut ChaCha20Rng,
) -> (SocketAddr, OnionRequest0) {
    OnionPath::new(rng, &client.dht, path_nodes)
        .unwrap()
        .wrap(rng, dest, data)
        .unwrap()
}

#[test]
fn announce_round_trip_stores_and_a_friend_can_deliver_data() {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let (mut net, nodes) = Net::new(4, &mut rng);
    let [a, b, c, d] = [nodes[0], nodes[1], nodes[2], nodes[3]];
    let alice = Client::new(50_001, &mut rng);

    // First announce: not stored, but a ping id comes back through C, B, A.
    let request = alice.announce_request(&d, [0; 32], &mut rng);
    let (first_hop, packet) = wrap(&alice, [a, b, c], d.addr, &request, &mut rng);
    assert_eq!(first_hop, a.addr);
    net.send(alice.addr, first_hop, packet.to_bytes());
    let got = net
        .delivered
        .remove(&alice.addr)
        .expect("a response reached alice");
    assert_eq!(got.len(), 1);
    let response = AnnounceResponse::from_bytes(&got[0]).unwrap();
    assert_eq!(response.sendback, [0x5b; 8]);
    let payload = response
        .open(&SharedKey::new(&d.public_key, &alice.real.secret).unwrap())
        .unwrap();
    let AnnounceStatus::NotStored(ping_id) = payload.status else {
        panic!("stored without a ping id: {payload:?}");
    };
    assert_eq!(payload.nodes.len(), 4);

    // Second announce with the ping id, same path: stored.
    let request = alice.announce_request(&d, ping_id, &mut rng);
    let (first_hop, packet) = wrap(&alice, [a, b, c], d.addr, &request, &mut rng);
    net.send(alice.addr, first_hop, packet.to_bytes());
    let got = net.delivered.remove(&alice.addr).unwrap();
    let payload = AnnounceResponse::from_bytes(&got[0])
        .unwrap()
        .open(&SharedKey::new(&d.public_key, &alice.real.secret).unwrap())
        .unwrap();
    assert!(
        matches!(payload.status, AnnounceStatus::Stored(_)),
        "{payload:?}"
    );
    assert!(net.servers[&d.addr].is_announced(net.now, &alice.real.public));

    // Bob sends onion data for Alice's real key through another path; D
    // delivers it down Alice's stored return path.
    let bob = Client::new(50_002, &mut rng);
    let temp = KeyPair::generate(&mut rng);
    let nonce = Nonce::random(&mut rng);
    let sealed = SharedKey::new(&alice.data.public, &temp.secret)
        .unwrap()
        .encrypt(&nonce, &[0x42; 80]);
    let data = OnionDataRequest {
        destination_pk: alice.real.public,
        nonce,
        temporary_pk: temp.public,
        sealed,
    };
    let (first_hop, packet) = wrap(&bob, [c, a, b], d.addr, &data.to_bytes(), &mut rng);
    net.send(bob.addr, first_hop, packet.to_bytes());
    let got = net
        .delivered
        .remove(&alice.addr)
        .expect("data reached alice");
    let response = OnionDataResponse::from_bytes(&got[0]).unwrap();
    let plain = SharedKey::new(&response.temporary_pk, &alice.data.secret)
        .unwrap()
        .decrypt(&response.nonce, &response.sealed)
        .unwrap();
    assert_eq!(plain, vec![0x42; 80]);
    assert!(
        !net.delivered.contains_key(&bob.addr),
        "nothing goes back to bob"
    );
    assert_eq!(net.servers[&d.addr].stats().data_delivered, 1);
}

#[test]
fn forged_and_stale_return_layers_are_dropped() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (mut net, nodes) = Net::new(4, &mut rng);
    let [a, b, c, d] = [nodes[0], nodes[1], nodes[2], nodes[3]];
    let alice = Client::new(50_001, &mut rng);
    // A response whose return layer nobody sealed.
    let mut forged = vec![0x8e];
    forged.extend_from_slice(&[7u8; 59]);
    forged.extend_from_slice(&[0x84; 100]);
    net.send(d.addr, a.addr, forged);
    assert_eq!(net.servers[&a.addr].stats().dropped_bad_return, 1);

    // After two hours every relay has a new return key: the answer to a
    // request sent before dies at C.
    let request = alice.announce_request(&d, [0; 32], &mut rng);
    let (first_hop, packet) = wrap(&alice, [a, b, c], d.addr, &request, &mut rng);
    assert_eq!(first_hop, a.addr);
    // Deliver the request by hand up to D's response, then age the relays.
    net.servers.get_mut(&a.addr).unwrap().handle_datagram(
        net.now,
        alice.addr,
        &packet.to_bytes(),
        &Nodes(vec![]),
    );
    let t = net
        .servers
        .get_mut(&a.addr)
        .unwrap()
        .poll_transmit()
        .unwrap();
    net.servers.get_mut(&b.addr).unwrap().handle_datagram(
        net.now,
        a.addr,
        &t.payload,
        &Nodes(vec![]),
    );
    let t = net
        .servers
        .get_mut(&b.addr)
        .unwrap()
        .poll_transmit()
        .unwrap();
    net.servers.get_mut(&c.addr).unwrap().handle_datagram(
        net.now,
        b.addr,
        &t.payload,
        &Nodes(vec![]),
    );
    let t = net
        .servers
        .get_mut(&c.addr)
        .unwrap()
        .poll_transmit()
        .unwrap();
    assert_eq!(t.destination, d.addr);
    net.servers.get_mut(&d.addr).unwrap().handle_datagram(
        net.now,
        c.addr,
        &t.payload,
        &Nodes(vec![]),
    );
    let response = net
        .servers
        .get_mut(&d.addr)
        .unwrap()
        .poll_transmit()
        .unwrap();
    net.now += Duration::from_secs(2 * 60 * 60);
    net.send(d.addr, c.addr, response.payload);
    assert!(!net.delivered.contains_key(&alice.addr));
    assert_eq!(net.servers[&c.addr].stats().dropped_bad_return, 1);
}

#[test]
fn exits_deliver_only_announce_and_data_requests() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let (mut net, nodes) = Net::new(3, &mut rng);
    let [a, b, c] = [nodes[0], nodes[1], nodes[2]];
    let alice = Client::new(50_001, &mut rng);
    let victim: SocketAddr = "127.0.0.1:50009".parse().unwrap();
    // A DHT ping request smuggled through the onion towards a victim.
    let (first_hop, packet) = wrap(&alice, [a, b, c], victim, &[0x00; 82], &mut rng);
    net.send(alice.addr, first_hop, packet.to_bytes());
    assert!(!net.delivered.contains_key(&victim));
    assert_eq!(net.servers[&c.addr].stats().dropped_filtered, 1);
}

#[test]
fn data_for_a_key_not_announced_goes_nowhere() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let (mut net, nodes) = Net::new(4, &mut rng);
    let [a, b, c, d] = [nodes[0], nodes[1], nodes[2], nodes[3]];
    let bob = Client::new(50_002, &mut rng);
    let data = OnionDataRequest {
        destination_pk: PublicKey::new([1; 32]),
        nonce: Nonce::new([0; 24]),
        temporary_pk: PublicKey::new([2; 32]),
        sealed: vec![0; 100],
    };
    let (first_hop, packet) = wrap(&bob, [a, b, c], d.addr, &data.to_bytes(), &mut rng);
    net.send(bob.addr, first_hop, packet.to_bytes());
    assert!(net.delivered.is_empty());
    assert_eq!(net.servers[&d.addr].stats().dropped_not_announced, 1);
}

#[test]
fn the_new_announce_pair_is_served_and_relayed() {
    // 0.2.19+ clients announce with 0x87 and expect 0x88 (node count
    // before the nodes); 0.2.18 exits drop 0x87, toxide relays it.
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let (mut net, nodes) = Net::new(4, &mut rng);
    let [a, b, c, d] = [nodes[0], nodes[1], nodes[2], nodes[3]];
    let alice = Client::new(50_001, &mut rng);
    let request = alice.announce_request_version(AnnounceVersion::New, &d, [0; 32], &mut rng);
    assert_eq!(request[0], 0x87);
    let (first_hop, packet) = wrap(&alice, [a, b, c], d.addr, &request, &mut rng);
    net.send(alice.addr, first_hop, packet.to_bytes());
    let got = net
        .delivered
        .remove(&alice.addr)
        .expect("a response reached alice");
    assert_eq!(got[0][0], 0x88);
    let response = AnnounceResponse::from_bytes(&got[0]).unwrap();
    assert_eq!(response.version, AnnounceVersion::New);
    let payload = response
        .open(&SharedKey::new(&d.public_key, &alice.real.secret).unwrap())
        .unwrap();
    assert!(matches!(payload.status, AnnounceStatus::NotStored(_)));
    assert_eq!(payload.nodes.len(), 4);
}

/// Checklist R9: a client of A's TCP relay sends A the first layer open
/// (`[IP_Port B][pk][box for B]` after the nonce); the announce response
/// comes back to A for that relay connection, not to any UDP address.
#[test]
fn tcp_relay_clients_use_the_node_as_hop_a() {
    let mut rng = ChaCha20Rng::seed_from_u64(33);
    let (mut net, nodes) = Net::new(4, &mut rng);
    let [a, b, c, d] = [nodes[0], nodes[1], nodes[2], nodes[3]];
    let alice = Client::new(50_001, &mut rng);
    let request = alice.announce_request(&d, [0; 32], &mut rng);
    let (_, packet) = wrap(&alice, [a, b, c], d.addr, &request, &mut rng);
    // What A's layer holds is what the TCP frame carries.
    let open = SharedKey::new(&packet.temporary_pk, &net.keys[&a.addr].secret)
        .unwrap()
        .decrypt(&packet.nonce, &packet.sealed)
        .unwrap();
    let client = TcpClient {
        connection: 42,
        addr: alice.addr,
    };
    let server = net.servers.get_mut(&a.addr).unwrap();
    server.handle_tcp_request(net.now, client, packet.nonce, &open);
    let forward = server.poll_transmit().expect("0x81 to B");
    assert_eq!(forward.destination, b.addr);
    assert_eq!(forward.payload[0], 0x81);
    net.send(a.addr, forward.destination, forward.payload);

    assert!(net.delivered.is_empty(), "nothing left over UDP");
    let server = net.servers.get_mut(&a.addr).unwrap();
    let response = server
        .poll_tcp_response()
        .expect("a response for the relay");
    assert_eq!(response.client, 42);
    let announce = AnnounceResponse::from_bytes(&response.data).unwrap();
    assert_eq!(announce.sendback, [0x5b; 8]);
    assert!(server.poll_tcp_response().is_none());
    let stats = server.stats();
    assert_eq!((stats.tcp_requests_relayed, stats.tcp_responses), (1, 1));

    // Cut short: dropped and counted, nothing sent.
    server.handle_tcp_request(net.now, client, packet.nonce, &open[..100]);
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.stats().dropped_malformed, 1);
}

/// One server alone, rate-limited as a node is, and a client's request
/// whose path names `hops` after it.
fn lone_server(rng: &mut ChaCha20Rng) -> (OnionServer, PackedNode) {
    let keys = KeyPair::generate(rng);
    let node = PackedNode::udp("127.0.0.1:40100".parse().unwrap(), keys.public);
    let server = OnionServer::new(ServerConfig::default(), keys, Instant::now(), [9; 32]);
    (server, node)
}

#[test]
fn next_hops_that_fan_out_or_reach_inside_are_refused_and_counted() {
    // Before: a relay forwarded to whatever address a layer named.
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    let (mut server, a) = lone_server(&mut rng);
    let alice = Client::new(50_010, &mut rng);
    let nodes = Nodes(Vec::new());
    let hop = |addr: &str| PackedNode::udp(addr.parse().unwrap(), PublicKey::new([3; 32]));
    let cases = [
        // (next hop, where the request came from)
        ("255.255.255.255:33445", "127.0.0.1:50010"),
        ("0.0.0.0:33445", "127.0.0.1:50010"),
        ("[ff02::1]:33445", "127.0.0.1:50010"),
        ("224.0.0.251:5353", "203.0.113.5:33445"),
        ("127.0.0.1:33445", "203.0.113.5:33445"),
        ("192.168.1.1:33445", "203.0.113.5:33445"),
    ];
    // A request from `from` whose hop-A layer names `next`; what A sent.
    let mut relay = |next: &str, from: &str| {
        let request = alice.announce_request(&a, [0; 32], &mut rng);
        let path = [a, hop(next), hop("198.51.100.1:1")];
        let (_, packet) = wrap(&alice, path, a.addr, &request, &mut rng);
        let from = from.parse().unwrap();
        server.handle_datagram(Instant::now(), from, &packet.to_bytes(), &nodes);
        (server.poll_transmit(), server.stats().clone())
    };
    for (i, (next, from)) in cases.iter().enumerate() {
        let (sent, stats) = relay(next, from);
        assert!(sent.is_none(), "{next} from {from}");
        assert_eq!(stats.dropped_next_hop, i as u64 + 1);
    }
    // The same path to a public next hop goes through, and so does a
    // loopback one from loopback (a test network on one machine).
    for (next, from) in [
        ("198.51.100.2:33445", "203.0.113.5:33445"),
        ("127.0.0.1:33445", "127.0.0.1:50010"),
    ] {
        let (sent, _) = relay(next, from);
        assert_eq!(
            sent.expect("forwarded").destination,
            next.parse::<SocketAddr>().unwrap()
        );
    }
    assert_eq!(
        relay("198.51.100.3:1", "203.0.113.5:1").1.requests_relayed,
        3
    );
}

#[test]
fn a_layer_from_a_low_order_key_is_dropped_and_counted() {
    let mut rng = ChaCha20Rng::seed_from_u64(78);
    let (mut server, a) = lone_server(&mut rng);
    let alice = Client::new(50_011, &mut rng);
    let request = alice.announce_request(&a, [0; 32], &mut rng);
    let (_, packet) = wrap(&alice, [a, a, a], a.addr, &request, &mut rng);
    let mut bytes = packet.to_bytes();
    // 0x80: [id][nonce 24][temporary pk 32]...: claim the all-zero key.
    bytes[25..57].fill(0);
    server.handle_datagram(Instant::now(), alice.addr, &bytes, &Nodes(Vec::new()));
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.stats().dropped_low_order_key, 1);
    assert_eq!(server.stats().dropped_undecryptable, 0, "no box was tried");
}

#[test]
fn relayed_layers_are_budgeted_per_host_after_they_open() {
    // Before: 0x81/0x82 and announce requests cost a Diffie-Hellman each
    // with no budget at all.
    let mut rng = ChaCha20Rng::seed_from_u64(79);
    let (mut server, a) = lone_server(&mut rng);
    let alice = Client::new(50_012, &mut rng);
    let nodes = Nodes(Vec::new());
    let now = Instant::now();
    let relay: SocketAddr = "203.0.113.7:33445".parse().unwrap();
    // Junk first (fresh keys, boxes that do not open): charges nothing.
    for _ in 0..500 {
        let request = alice.announce_request(&a, [0; 32], &mut rng);
        let mut bytes = request.clone();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        server.handle_datagram(
            now,
            relay,
            &[bytes, vec![0; RETURN_3_SIZE]].concat(),
            &nodes,
        );
    }
    let junk = server.stats().dropped_undecryptable + server.stats().dropped_malformed;
    assert_eq!(junk, 500);
    // Genuine announce requests from one relay host: a burst, then drops.
    let limit = toxide_dht::RateLimit::default();
    let mut answered = 0;
    let sent = 2 * limit.burst as u16;
    for port in 0..sent {
        let request = alice.announce_request(&a, [0; 32], &mut rng);
        let from = SocketAddr::new(relay.ip(), 40_000 + port);
        server.handle_datagram(
            now,
            from,
            &[request, vec![0; RETURN_3_SIZE]].concat(),
            &nodes,
        );
        answered += std::iter::from_fn(|| server.poll_transmit()).count();
    }
    assert_eq!(answered as f64, limit.burst);
    assert_eq!(
        server.stats().dropped_rate_limited,
        u64::from(sent) - limit.burst as u64
    );
}
