//! Friend sessions through a TCP relay (checklist N15, R5, R8, R11, R13),
//! sans-IO: two client stacks and a [`RelayServer`] in memory, a virtual
//! clock, and UDP between the clients delivered only when a test says so.
//! What it proves: a session opens with no UDP at all (cookie and
//! handshake out of band, data routed once both asked), moves to direct
//! UDP when that works and back to the relay when it stops, without a
//! reset (no close, no second establishment, lossless numbering intact).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, PublicKey};
use toxide_dht::{Config, Dht};
use toxide_net_crypto::{ConnectionId, Event, NetCrypto, Path};
use toxide_relay::{ConnHandle, RelayServer, ServerConfig};

use toxide_messenger::packet::PACKET_ID_SHARE_RELAYS;

use super::relays::{RelayCommand, RelayId, Relays};
use super::{Stack, StackEvent};

const A: usize = 0;
const B: usize = 1;

struct Client {
    stack: Stack,
    real: PublicKey,
    dht: PublicKey,
    addr: SocketAddr,
    /// Relay sessions, and the server and its handle for each.
    sockets: HashMap<(RelayId, u64), (usize, ConnHandle)>,
    lossless: Vec<Bytes>,
    established: usize,
    closed: usize,
}

struct Net {
    clients: Vec<Client>,
    /// Relays and their addresses.
    servers: Vec<(SocketAddr, RelayServer)>,
    now: Instant,
    /// Whether UDP datagrams between the clients are delivered.
    udp: bool,
    /// Clients that stopped: they neither run nor receive anything (a
    /// peer gone without a word).
    frozen: Vec<bool>,
    udp_delivered: u64,
}

impl Net {
    /// Both clients on relay 0, then each connects to the other by keys
    /// (A first, `between` apart).
    fn friends_on_one_relay(&mut self, between: Duration) {
        let (relay_addr, relay_pk) = self.relay(0);
        let now = self.now;
        for client in &mut self.clients {
            assert!(client.stack.add_tcp_relay(now, relay_addr, relay_pk));
        }
        self.run(Duration::from_millis(100));
        for i in [A, B] {
            let other = (self.clients[1 - i].real, self.clients[1 - i].dht);
            let now = self.now;
            self.clients[i]
                .stack
                .connect_friend(now, other.0, other.1)
                .unwrap();
            self.run(between);
        }
    }

    fn new() -> Self {
        Self::with_relays(2)
    }

    /// Two clients and `count` relay servers.
    fn with_relays(count: u8) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let now = Instant::now();
        let servers = (0..count)
            .map(|i| {
                let keys = KeyPair::generate(&mut rng);
                let addr = SocketAddr::from(([127, 0, 0, 1], 33_445 + u16::from(i)));
                (
                    addr,
                    RelayServer::new(keys, ServerConfig::default(), [3 + i; 32]),
                )
            })
            .collect();
        let clients = (0..2u8)
            .map(|i| {
                let (real, dht) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
                let net_crypto = NetCrypto::new(real.clone(), dht.clone(), None, now, [i; 32]);
                let relays = Relays::new(dht.clone(), [i + 10; 32]);
                let dht_layer = Dht::with_keys(Config::default(), now, [i + 20; 32], dht.clone());
                Client {
                    stack: Stack::new(dht_layer, None, None, Some(net_crypto)).with_relays(relays),
                    real: real.public,
                    dht: dht.public,
                    addr: SocketAddr::from(([127, 0, 0, 1], 40_000 + u16::from(i))),
                    sockets: HashMap::new(),
                    lossless: Vec::new(),
                    established: 0,
                    closed: 0,
                }
            })
            .collect();
        Self {
            clients,
            servers,
            now,
            udp: false,
            udp_delivered: 0,
            frozen: vec![false; 2],
        }
    }

    /// Lets UDP between the clients through (or not) and tells each the
    /// other's address (as the DHT would find it).
    fn set_udp(&mut self, udp: bool) {
        self.udp = udp;
        for i in [A, B] {
            let id = self.connection(i);
            let addr = self.clients[1 - i].addr;
            self.clients[i]
                .stack
                .net_crypto
                .as_mut()
                .unwrap()
                .set_direct_addr(id, addr);
        }
    }

    fn relays(&self, i: usize) -> &Relays {
        self.clients[i].stack.relays.as_ref().unwrap()
    }

    /// Moves every byte and datagram until nothing moves.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for i in 0..self.clients.len() {
                if !self.frozen[i] {
                    moved |= self.step_client(i);
                }
            }
            for s in 0..self.servers.len() {
                while let Some((handle, bytes)) = self.servers[s].1.poll_transmit() {
                    moved = true;
                    let target = self.clients.iter_mut().enumerate().find_map(|(i, c)| {
                        c.sockets
                            .iter()
                            .find(|(_, h)| **h == (s, handle))
                            .map(|(k, _)| (i, *k))
                    });
                    if let Some((i, (relay, session))) = target.filter(|(i, _)| !self.frozen[*i]) {
                        let now = self.now;
                        self.clients[i]
                            .stack
                            .handle_relay_bytes(now, relay, session, &bytes);
                    }
                }
                while self.servers[s].1.poll_event().is_some() {}
            }
            if !moved {
                return;
            }
        }
        panic!("the network never settled");
    }

    fn step_client(&mut self, i: usize) -> bool {
        let now = self.now;
        let mut moved = false;
        while let Some(command) = self.clients[i].stack.poll_relay_command() {
            moved = true;
            match command {
                RelayCommand::Connect {
                    relay,
                    session,
                    addr,
                } => {
                    let s = self.servers.iter().position(|(a, _)| *a == addr).unwrap();
                    let handle = self.servers[s].1.accept(now).unwrap();
                    self.clients[i]
                        .sockets
                        .insert((relay, session), (s, handle));
                }
                RelayCommand::Close { relay, session } => {
                    if let Some((s, handle)) = self.clients[i].sockets.remove(&(relay, session)) {
                        self.servers[s].1.connection_lost(handle);
                    }
                }
            }
        }
        let sockets: Vec<_> = self.clients[i]
            .sockets
            .iter()
            .map(|(k, h)| (*k, *h))
            .collect();
        for ((relay, session), (s, handle)) in sockets {
            while let Some(bytes) = self.clients[i].stack.poll_relay_write(relay, session) {
                moved = true;
                self.servers[s].1.handle_bytes(now, handle, &bytes);
            }
        }
        let from = self.clients[i].addr;
        while let Some(transmit) = self.clients[i].stack.poll_transmit(now) {
            moved = true;
            let to = self
                .clients
                .iter()
                .position(|c| c.addr == transmit.destination);
            if let (true, Some(to)) = (self.udp, to.filter(|to| !self.frozen[*to])) {
                self.udp_delivered += 1;
                self.clients[to]
                    .stack
                    .handle_datagram(now, from, &transmit.payload);
            }
        }
        while let Some(event) = self.clients[i].stack.poll_event() {
            let client = &mut self.clients[i];
            match event {
                StackEvent::Session {
                    event: Event::Lossless { data, .. },
                    ..
                } => client.lossless.push(data),
                StackEvent::Session {
                    event: Event::Established { .. },
                    ..
                } => client.established += 1,
                StackEvent::Session {
                    event: Event::Closed { .. },
                    ..
                } => client.closed += 1,
                _ => {}
            }
        }
        moved
    }

    /// Runs the virtual clock for `for_`, jumping to each timer.
    fn run(&mut self, for_: Duration) {
        let until = self.now + for_;
        loop {
            self.settle();
            let next = self
                .clients
                .iter()
                .zip(&self.frozen)
                .filter(|(_, frozen)| !**frozen)
                .filter_map(|(c, _)| c.stack.poll_timeout(self.now))
                .chain(self.servers.iter().filter_map(|(_, s)| s.poll_timeout()))
                .min();
            match next {
                Some(t) if t <= until => {
                    // Timers due now run now; time never goes back.
                    self.now = self.now.max(t);
                    let now = self.now;
                    for (client, _) in self
                        .clients
                        .iter_mut()
                        .zip(&self.frozen)
                        .filter(|(_, f)| !**f)
                    {
                        client.stack.handle_timeout(now);
                    }
                    for (_, server) in &mut self.servers {
                        server.handle_timeout(now);
                    }
                }
                _ => {
                    self.now = until;
                    self.settle();
                    return;
                }
            }
        }
    }

    /// Each client had exactly one session, never closed: moves between
    /// paths and relays did not reset it.
    fn assert_one_session(&self) {
        for i in [A, B] {
            assert_eq!(self.clients[i].established, 1, "no second session");
            assert_eq!(self.clients[i].closed, 0, "no session closed");
        }
    }

    /// Relay `s`'s address and key.
    fn relay(&self, s: usize) -> (SocketAddr, PublicKey) {
        (self.servers[s].0, self.servers[s].1.public_key())
    }

    fn connection(&self, i: usize) -> ConnectionId {
        let other = &self.clients[1 - i];
        self.clients[i]
            .stack
            .friend_connection(&other.real)
            .unwrap()
    }

    fn path(&self, i: usize) -> Option<Path> {
        let id = self.connection(i);
        self.clients[i]
            .stack
            .net_crypto
            .as_ref()
            .unwrap()
            .data_path(self.now, id)
    }

    fn send(&mut self, i: usize, text: &str) {
        let id = self.connection(i);
        let mut data = vec![0x40];
        data.extend_from_slice(text.as_bytes());
        self.clients[i]
            .stack
            .net_crypto
            .as_mut()
            .unwrap()
            .send_lossless(id, Bytes::from(data))
            .unwrap();
    }

    fn received(&self, i: usize) -> Vec<String> {
        self.clients[i]
            .lossless
            .iter()
            .filter(|d| d.first() == Some(&0x40))
            .map(|d| String::from_utf8_lossy(&d[1..]).into_owned())
            .collect()
    }
}

/// Both clients on one relay, friends by DHT key, no UDP: the session
/// opens through the relay; then direct UDP takes over, then the relay
/// again, and messages keep their order across both moves.
#[test]
fn session_opens_over_relay_and_moves_between_udp_and_tcp() {
    let mut net = Net::new();
    // A asks first: until B asks too, A's link is only registered, so its
    // cookie request goes out of band (R8), and B answers the same way.
    net.friends_on_one_relay(Duration::from_millis(10));
    net.run(Duration::from_secs(3));
    assert_eq!(net.udp_delivered, 0);
    for i in [A, B] {
        assert_eq!(net.clients[i].established, 1, "client {i} established");
        let peer_dht = net.clients[1 - i].dht;
        assert_eq!(net.path(i), Some(Path::Tcp(peer_dht)));
    }
    let relays = net.clients[A].stack.relays.as_ref().unwrap().stats();
    assert!(relays.sent_oob > 0, "handshake out of band: {relays:?}");
    assert!(relays.sent_routed > 0, "data routed: {relays:?}");

    net.send(A, "one");
    net.send(B, "uno");
    net.run(Duration::from_secs(1));
    assert_eq!(net.received(B), ["one"]);
    assert_eq!(net.received(A), ["uno"]);

    // Direct UDP works from now on: each side learns the other's address
    // (as the DHT would find it); the small packets tried over UDP every
    // 4 s get through and the session moves there.
    net.set_udp(true);
    net.run(Duration::from_secs(10));
    for i in [A, B] {
        let addr = net.clients[1 - i].addr;
        assert_eq!(net.path(i), Some(Path::Udp(addr)), "client {i} on UDP");
    }
    let routed = net.clients[A]
        .stack
        .relays
        .as_ref()
        .unwrap()
        .stats()
        .sent_routed;
    net.send(A, "two");
    net.send(B, "dos");
    net.run(Duration::from_secs(1));
    assert_eq!(net.received(B), ["one", "two"]);
    assert_eq!(net.received(A), ["uno", "dos"]);
    assert_eq!(
        net.clients[A]
            .stack
            .relays
            .as_ref()
            .unwrap()
            .stats()
            .sent_routed,
        routed,
        "nothing went through the relay while UDP worked"
    );

    // UDP stops: after 8 s without a datagram the relay carries data
    // again.
    net.udp = false;
    net.run(Duration::from_secs(10));
    for i in [A, B] {
        let peer_dht = net.clients[1 - i].dht;
        assert_eq!(net.path(i), Some(Path::Tcp(peer_dht)), "client {i} on TCP");
    }
    net.send(A, "three");
    net.send(B, "tres");
    net.run(Duration::from_secs(2));
    assert_eq!(net.received(B), ["one", "two", "three"]);
    assert_eq!(net.received(A), ["uno", "dos", "tres"]);
    net.assert_one_session();
}

/// The relay drops one client's connection: the client connects again
/// after [`super::relays::RECONNECT_DELAY`], asks for its links again,
/// and the session (never closed) carries on, with what was sent during
/// the outage delivered in order.
#[test]
fn session_survives_a_relay_reconnect() {
    let mut net = Net::new();
    net.friends_on_one_relay(Duration::ZERO);
    net.run(Duration::from_secs(3));
    net.send(A, "before");
    net.run(Duration::from_secs(1));
    assert_eq!(net.received(B), ["before"]);

    // The relay drops A; A's driver sees its socket end.
    let (&(relay, session), &(s, handle)) = net.clients[A].sockets.iter().next().unwrap();
    net.servers[s].1.close_connection(handle);
    net.clients[A].sockets.remove(&(relay, session));
    let now = net.now;
    net.clients[A]
        .stack
        .handle_relay_closed(now, relay, session);
    net.send(A, "during");
    net.run(Duration::from_secs(15));
    net.send(A, "after");
    net.run(Duration::from_secs(2));
    assert_eq!(net.received(B), ["before", "during", "after"]);
    let stats = net.clients[A].stack.relays.as_ref().unwrap().stats();
    assert_eq!((stats.established, stats.closed), (2, 1), "{stats:?}");
    net.assert_one_session();
}

/// Share relays (F3): A, also on a second relay, tells B its relays once
/// the session is up, and B connects to the one it lacked.
#[test]
fn friends_share_their_relays_over_the_session() {
    let mut net = Net::new();
    let (first, first_pk) = net.relay(0);
    let (second, second_pk) = net.relay(1);
    let now = net.now;
    for client in &mut net.clients {
        assert!(client.stack.add_tcp_relay(now, first, first_pk));
    }
    assert!(net.clients[A].stack.add_tcp_relay(now, second, second_pk));
    net.run(Duration::from_millis(100));
    for i in [A, B] {
        let other = (net.clients[1 - i].real, net.clients[1 - i].dht);
        let now = net.now;
        net.clients[i]
            .stack
            .connect_friend(now, other.0, other.1)
            .unwrap();
    }
    net.run(Duration::from_secs(3));
    assert_eq!(net.clients[B].established, 1);
    assert!(
        net.clients[B]
            .lossless
            .iter()
            .any(|d| d.first() == Some(&PACKET_ID_SHARE_RELAYS)),
        "B got a share-relays packet"
    );
    let relays = net.clients[B].stack.relays.as_ref().unwrap();
    assert_eq!(relays.count(), 2, "B took A's second relay");
    let connected = relays.connected();
    assert!(
        connected.iter().any(|n| n.public_key == second_pk),
        "{connected:?}"
    );
}

/// Relay policy (R13, c-toxcore `TCP_connection.c`): with eight relays, a
/// friend gets links on at most six; while the friend is reached directly
/// over UDP its links are given up and the relays beyond three go to
/// sleep; when UDP stops, links are asked for again and the session
/// carries on through a relay without a reset.
#[test]
fn relays_sleep_while_the_friend_is_direct_and_wake_when_udp_stops() {
    let mut net = Net::with_relays(8);
    let now = net.now;
    for s in 0..8 {
        let (addr, pk) = net.relay(s);
        for client in &mut net.clients {
            assert!(client.stack.add_tcp_relay(now, addr, pk));
        }
    }
    net.run(Duration::from_millis(100));
    for i in [A, B] {
        let other = (net.clients[1 - i].real, net.clients[1 - i].dht);
        let now = net.now;
        net.clients[i]
            .stack
            .connect_friend(now, other.0, other.1)
            .unwrap();
    }
    net.run(Duration::from_secs(3));
    for i in [A, B] {
        let peer = net.clients[1 - i].dht;
        assert_eq!(net.clients[i].established, 1, "client {i} established");
        assert_eq!(net.relays(i).established(), 8);
        assert_eq!(net.relays(i).links_to(&peer), 6, "client {i}: six links");
        assert_eq!(net.path(i), Some(Path::Tcp(peer)));
    }

    net.set_udp(true);
    net.run(Duration::from_secs(25));
    for i in [A, B] {
        let peer = net.clients[1 - i].dht;
        assert_eq!(net.path(i), Some(Path::Udp(net.clients[1 - i].addr)));
        assert_eq!(
            net.relays(i).links_to(&peer),
            0,
            "client {i}: links given up"
        );
        assert_eq!(
            net.relays(i).established(),
            3,
            "client {i}: three relays kept"
        );
    }
    // A friend naming a sleeping relay while it is direct wakes nothing.
    let (addr, pk) = net.relay(0);
    let (peer, now) = (net.clients[B].dht, net.now);
    let relays = net.clients[A].stack.relays.as_mut().unwrap();
    relays.add_for_peer(now, addr, pk, &peer);
    net.send(A, "direct");
    net.run(Duration::from_secs(1));
    assert_eq!(net.relays(A).established(), 3);
    assert_eq!(net.received(B), ["direct"]);

    net.udp = false;
    net.run(Duration::from_secs(12));
    for i in [A, B] {
        let peer = net.clients[1 - i].dht;
        assert_eq!(net.path(i), Some(Path::Tcp(peer)), "client {i} back on TCP");
        assert!(
            net.relays(i).links_to(&peer) >= 3,
            "client {i}: links again"
        );
    }
    net.send(A, "relayed");
    net.run(Duration::from_secs(2));
    assert_eq!(net.received(B), ["direct", "relayed"]);
    net.assert_one_session();
}

/// Alive packets (F2) keep a quiet session up, whoever holds it (these
/// stacks have no Messenger friend at all); a peer that vanishes without
/// a kill packet is dropped after 32 s of silence.
#[test]
fn alive_packets_keep_a_quiet_session_and_silence_ends_it() {
    let mut net = Net::new();
    net.friends_on_one_relay(Duration::ZERO);
    net.run(Duration::from_secs(3));
    let id = net.connection(A);
    let status = |net: &Net| net.clients[A].stack.net_crypto.as_ref().unwrap().status(id);
    assert_eq!(status(&net), Some(toxide_net_crypto::Status::Established));
    net.run(Duration::from_secs(60));
    assert_eq!(status(&net), Some(toxide_net_crypto::Status::Established));
    let alive = net.clients[B]
        .lossless
        .iter()
        .filter(|d| d.as_ref() == [16])
        .count();
    assert!(alive >= 7, "{alive} alive packets in a quiet minute");

    // B's last packet came at most one ping interval before it froze.
    net.frozen[B] = true;
    net.run(Duration::from_secs(23));
    assert_eq!(status(&net), Some(toxide_net_crypto::Status::Established));
    net.run(Duration::from_secs(10));
    assert_eq!(status(&net), None, "the silent session ended");
}
