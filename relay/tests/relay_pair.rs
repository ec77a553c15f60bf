//! Clients and a relay wired in memory: the handshake, routing, data,
//! OOB, onion, pings and the limits, with a virtual clock and the byte
//! stream cut into pieces of a chosen size.
// Test harness: a failed step is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, PublicKey};
use toxide_relay::{
    ClientConfig, ClientConnection, ClientEvent, CloseReason, ConnHandle, ConnectionId,
    QueueLimits, RelayServer, SendError, ServerConfig, ServerEvent,
};

struct Client {
    keys: KeyPair,
    conn: ClientConnection,
    handle: ConnHandle,
    events: Vec<ClientEvent>,
    /// When false, nothing this client writes reaches the relay.
    sends: bool,
    /// When false, nothing the relay writes to it is read.
    reads: bool,
}

struct Net {
    now: Instant,
    server: RelayServer,
    clients: Vec<Client>,
    server_events: Vec<ServerEvent>,
    chunk: usize,
    seed: u8,
}

impl Net {
    fn new(config: ServerConfig, chunk: usize) -> Self {
        let keys = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(100));
        Self {
            now: Instant::now(),
            server: RelayServer::new(keys, config, [9; 32]),
            clients: Vec::new(),
            server_events: Vec::new(),
            chunk,
            seed: 0,
        }
    }

    fn add_client_with(&mut self, keys: KeyPair, config: ClientConfig) -> usize {
        self.seed += 1;
        let conn = ClientConnection::new(
            self.now,
            &keys,
            self.server.public_key(),
            config,
            [self.seed; 32],
        )
        .unwrap();
        let handle = self.server.accept(self.now).unwrap();
        self.clients.push(Client {
            keys,
            conn,
            handle,
            events: Vec::new(),
            sends: true,
            reads: true,
        });
        self.clients.len() - 1
    }

    fn add_client(&mut self, seed: u64) -> usize {
        let keys = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(seed));
        self.add_client_with(keys, ClientConfig::default())
    }

    fn pk(&self, i: usize) -> PublicKey {
        self.clients[i].keys.public
    }

    fn deliver_to_server(&mut self, handle: ConnHandle, bytes: &[u8]) {
        for piece in bytes.chunks(self.chunk) {
            self.server.handle_bytes(self.now, handle, piece);
        }
    }

    fn pump(&mut self) {
        for _ in 0..1000 {
            let mut progress = false;
            for i in 0..self.clients.len() {
                if !self.clients[i].sends {
                    continue;
                }
                while let Some(bytes) = self.clients[i].conn.poll_write() {
                    let handle = self.clients[i].handle;
                    self.deliver_to_server(handle, &bytes);
                    progress = true;
                }
            }
            for i in 0..self.clients.len() {
                if !self.clients[i].reads {
                    continue;
                }
                let handle = self.clients[i].handle;
                while let Some(bytes) = self.server.poll_write(handle) {
                    for piece in bytes.chunks(self.chunk) {
                        self.clients[i].conn.handle_bytes(self.now, piece);
                    }
                    progress = true;
                }
            }
            for c in &mut self.clients {
                while let Some(e) = c.conn.poll_event() {
                    c.events.push(e);
                }
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
            }
            if !progress {
                return;
            }
        }
        panic!("no quiescence");
    }

    /// Moves the clock in one-second steps, running timers and pumping.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while self.now < end {
            self.now = (self.now + Duration::from_secs(1)).min(end);
            for c in &mut self.clients {
                if c.conn.poll_timeout().is_some_and(|t| t <= self.now) {
                    c.conn.handle_timeout(self.now);
                }
            }
            if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
                self.server.handle_timeout(self.now);
            }
            self.pump();
        }
    }

    fn take_events(&mut self, i: usize) -> Vec<ClientEvent> {
        std::mem::take(&mut self.clients[i].events)
    }

    /// Both route to each other; returns (A's id for B, B's id for A).
    fn link(&mut self, a: usize, b: usize) -> (ConnectionId, ConnectionId) {
        let (pa, pb) = (self.pk(a), self.pk(b));
        self.clients[a].conn.route_request(pb).unwrap();
        self.pump();
        let id_a = match self.take_events(a).as_slice() {
            [
                ClientEvent::RoutingResponse {
                    pk,
                    connection_id: Some(id),
                },
            ] if *pk == pb => *id,
            other => panic!("{other:?}"),
        };
        assert!(!self.clients[a].conn.is_online(id_a));
        self.clients[b].conn.route_request(pa).unwrap();
        self.pump();
        let events_b = self.take_events(b);
        let id_b = match events_b.as_slice() {
            [
                ClientEvent::RoutingResponse {
                    pk,
                    connection_id: Some(id),
                },
                ClientEvent::Connected(c),
            ] if *pk == pa && c == id => *id,
            other => panic!("{other:?}"),
        };
        assert_eq!(self.take_events(a), vec![ClientEvent::Connected(id_a)]);
        (id_a, id_b)
    }
}

fn started(chunk: usize, n: usize) -> Net {
    let mut net = Net::new(ServerConfig::default(), chunk);
    for i in 0..n {
        net.add_client(i as u64 + 1);
    }
    net.pump();
    for i in 0..n {
        assert_eq!(net.take_events(i), vec![ClientEvent::Established]);
        assert!(net.clients[i].conn.is_established());
        // Confirmed by the first ping (R3).
        assert_eq!(
            net.server.connection_of(&net.pk(i)),
            Some(net.clients[i].handle)
        );
    }
    net
}

#[test]
fn two_clients_link_exchange_data_and_disconnect() {
    for chunk in [1, 7, 100, 1 << 20] {
        let mut net = started(chunk, 2);
        let (id_a, id_b) = net.link(0, 1);

        net.clients[0]
            .conn
            .send_data(id_a, Bytes::from_static(b"hello bob"))
            .unwrap();
        net.clients[1]
            .conn
            .send_data(id_b, Bytes::from_static(b"hi alice"))
            .unwrap();
        net.pump();
        assert_eq!(
            net.take_events(1),
            vec![ClientEvent::Data(id_b, Bytes::from_static(b"hello bob"))]
        );
        assert_eq!(
            net.take_events(0),
            vec![ClientEvent::Data(id_a, Bytes::from_static(b"hi alice"))]
        );

        // Many frames, the largest size, in order.
        for i in 0..50u8 {
            net.clients[0]
                .conn
                .send_data(id_a, vec![i; 2031].into())
                .unwrap();
            net.pump();
        }
        let got = net.take_events(1);
        assert_eq!(got.len(), 50);
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e, &ClientEvent::Data(id_b, vec![i as u8; 2031].into()));
        }

        net.clients[0].conn.disconnect(id_a).unwrap();
        net.pump();
        assert_eq!(net.take_events(1), vec![ClientEvent::Disconnected(id_b)]);
        assert_eq!(
            net.clients[1]
                .conn
                .send_data(id_b, Bytes::from_static(b"x")),
            Err(SendError::NotConnected(id_b))
        );
        assert_eq!(
            net.clients[0].conn.disconnect(id_a),
            Err(SendError::UnknownLink(id_a))
        );
        // B's link stays reserved: when A asks again, both are online.
        let pb = net.pk(1);
        net.clients[0].conn.route_request(pb).unwrap();
        net.pump();
        assert!(matches!(
            net.take_events(0).as_slice(),
            [
                ClientEvent::RoutingResponse {
                    connection_id: Some(_),
                    ..
                },
                ClientEvent::Connected(_)
            ]
        ));
        assert_eq!(net.take_events(1), vec![ClientEvent::Connected(id_b)]);
    }
}

#[test]
fn peer_leaving_notifies_the_other() {
    let mut net = started(13, 2);
    let (_, id_b) = net.link(0, 1);
    let handle = net.clients[0].handle;
    net.server.connection_lost(handle);
    net.pump();
    assert_eq!(net.take_events(1), vec![ClientEvent::Disconnected(id_b)]);
    assert!(net.server_events.contains(&ServerEvent::Closed {
        conn: handle,
        reason: CloseReason::Lost
    }));
    assert_eq!(net.server.connection_of(&net.pk(0)), None);
}

#[test]
fn routing_to_self_or_beyond_240_is_refused() {
    let mut net = started(64, 1);
    let me = net.pk(0);
    net.clients[0].conn.route_request(me).unwrap();
    net.pump();
    assert_eq!(
        net.take_events(0),
        vec![ClientEvent::RoutingResponse {
            pk: me,
            connection_id: None
        }]
    );
    for i in 0..241u16 {
        let mut pk = [0x40u8; 32];
        pk[..2].copy_from_slice(&i.to_be_bytes());
        net.clients[0]
            .conn
            .route_request(PublicKey::new(pk))
            .unwrap();
        net.pump();
    }
    let events = net.take_events(0);
    assert_eq!(events.len(), 241);
    let granted: std::collections::HashSet<_> = events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::RoutingResponse { connection_id, .. } => *connection_id,
            _ => None,
        })
        .collect();
    assert_eq!(granted.len(), 240);
    assert!(matches!(
        events.last(),
        Some(ClientEvent::RoutingResponse {
            connection_id: None,
            ..
        })
    ));
}

#[test]
fn oob_reaches_a_connected_client_only() {
    let mut net = started(5, 2);
    let (pa, pb) = (net.pk(0), net.pk(1));
    net.clients[0]
        .conn
        .send_oob(pb, vec![1; 1024].into())
        .unwrap();
    net.clients[0]
        .conn
        .send_oob(PublicKey::new([3; 32]), Bytes::from_static(b"nobody"))
        .unwrap();
    net.pump();
    assert_eq!(
        net.take_events(1),
        vec![ClientEvent::Oob(pa, vec![1; 1024].into())]
    );
    assert_eq!(net.server.stats().oob_delivered, 1);
    assert_eq!(net.server.stats().oob_dropped, 1);
    assert_eq!(
        net.clients[0].conn.send_oob(pb, vec![1; 1025].into()),
        Err(SendError::BadLength {
            len: 1025,
            max: 1024
        })
    );
    assert!(net.clients[0].conn.send_oob(pb, Bytes::new()).is_err());
}

#[test]
fn onion_requests_go_up_and_responses_come_back() {
    let mut net = started(3, 1);
    let request: Bytes = (0..200u8).collect::<Vec<_>>().into();
    assert!(
        net.clients[0]
            .conn
            .send_onion(request.slice(..150))
            .is_err()
    );
    net.clients[0].conn.send_onion(request.clone()).unwrap();
    net.pump();
    let from = match net.server_events.as_slice() {
        [
            ServerEvent::OnionRequest {
                from,
                nonce,
                payload,
            },
        ] => {
            assert_eq!(nonce.as_bytes().as_slice(), &request[..24]);
            assert_eq!(payload, &request[24..]);
            *from
        }
        other => panic!("{other:?}"),
    };
    assert!(
        net.server
            .send_onion_response(from, Bytes::from_static(b"announce response"))
    );
    net.pump();
    assert_eq!(
        net.take_events(0),
        vec![ClientEvent::OnionResponse(Bytes::from_static(
            b"announce response"
        ))]
    );
    // A stale handle reaches nobody.
    net.server.connection_lost(from);
    assert!(
        !net.server
            .send_onion_response(from, Bytes::from_static(b"x"))
    );
}

#[test]
fn pings_keep_an_idle_connection_alive() {
    let mut net = started(50, 2);
    net.link(0, 1);
    net.advance(Duration::from_secs(300));
    assert!(!net.clients[0].conn.is_closed());
    assert!(net.clients[0].conn.stats().pings_sent >= 10);
    assert_eq!(net.clients[0].conn.stats().unmatched_pongs, 0);
    assert!(net.server_events.is_empty(), "{:?}", net.server_events);
}

#[test]
fn client_closes_when_the_relay_stops_answering_pings() {
    let mut net = started(50, 1);
    net.clients[0].sends = false;
    net.advance(Duration::from_secs(30));
    // The next ping at 30 s goes unanswered (the relay never sees it).
    net.advance(Duration::from_secs(9));
    assert!(!net.clients[0].conn.is_closed());
    net.advance(Duration::from_secs(1));
    assert_eq!(
        net.take_events(0),
        vec![ClientEvent::Closed(CloseReason::PingTimeout)]
    );
    assert_eq!(net.clients[0].conn.poll_timeout(), None);
}

#[test]
fn relay_closes_a_client_that_stops_answering() {
    let mut net = started(50, 2);
    let (_, id_b) = net.link(0, 1);
    net.clients[0].reads = false;
    net.clients[0].sends = false;
    net.advance(Duration::from_secs(40));
    let handle = net.clients[0].handle;
    assert!(net.server_events.contains(&ServerEvent::Closed {
        conn: handle,
        reason: CloseReason::PingTimeout
    }));
    assert_eq!(net.take_events(1), vec![ClientEvent::Disconnected(id_b)]);
}

#[test]
fn handshake_deadlines() {
    let mut net = Net::new(ServerConfig::default(), 1000);
    let i = net.add_client(1);
    net.clients[i].reads = false;
    let silent = net.server.accept(net.now).unwrap();
    net.pump();
    net.advance(Duration::from_secs(10));
    assert_eq!(
        net.take_events(i),
        vec![ClientEvent::Closed(CloseReason::HandshakeTimeout)]
    );
    assert!(net.server_events.contains(&ServerEvent::Closed {
        conn: silent,
        reason: CloseReason::HandshakeTimeout
    }));
    // The client's handshake opened but it never confirmed (R3).
    assert!(net.server_events.contains(&ServerEvent::Closed {
        conn: net.clients[i].handle,
        reason: CloseReason::HandshakeTimeout
    }));
}

#[test]
fn garbage_handshake_and_tampered_frames_close() {
    let mut net = Net::new(ServerConfig::default(), 1000);
    let h = net.server.accept(net.now).unwrap();
    net.server.handle_bytes(net.now, h, &[0x55; 128]);
    assert!(matches!(
        net.server.poll_event(),
        Some(ServerEvent::Closed {
            reason: CloseReason::Handshake(_),
            ..
        })
    ));

    let mut net = started(1000, 1);
    let handle = net.clients[0].handle;
    net.clients[0]
        .conn
        .route_request(PublicKey::new([8; 32]))
        .unwrap();
    let mut bytes = net.clients[0].conn.poll_write().unwrap().to_vec();
    bytes[5] ^= 1;
    net.server.handle_bytes(net.now, handle, &bytes);
    assert!(matches!(
        net.server.poll_event(),
        Some(ServerEvent::Closed {
            reason: CloseReason::Frame(_),
            ..
        })
    ));

    // And on the client side: a forged relay handshake.
    let keys = KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1));
    let mut c = ClientConnection::new(
        net.now,
        &keys,
        net.server.public_key(),
        ClientConfig::default(),
        [1; 32],
    )
    .unwrap();
    c.handle_bytes(net.now, &[0; 96]);
    let e = c.poll_event();
    assert!(
        matches!(e, Some(ClientEvent::Closed(CloseReason::Handshake(_)))),
        "{e:?}"
    );
    assert_eq!(c.route_request(keys.public), Err(SendError::Closed));
}

#[test]
fn send_queue_limit_returns_queue_full() {
    let mut net = Net::new(ServerConfig::default(), 1000);
    let limits = QueueLimits {
        max_control_frames: 4,
        max_data_bytes: 10_000,
    };
    let a = net.add_client_with(
        KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1)),
        ClientConfig { queue: limits },
    );
    let b = net.add_client(2);
    net.pump();
    net.take_events(a);
    net.take_events(b);
    let (id_a, _) = net.link(a, b);
    let mut queued = 0;
    let err = loop {
        match net.clients[a].conn.send_data(id_a, vec![0; 1000].into()) {
            Ok(()) => queued += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err, SendError::QueueFull);
    assert_eq!(queued, 9);
    net.pump();
    assert_eq!(net.take_events(b).len(), 9);
    net.clients[a]
        .conn
        .send_data(id_a, vec![0; 1000].into())
        .unwrap();
    for i in 0..4u8 {
        net.clients[a]
            .conn
            .route_request(PublicKey::new([i + 1; 32]))
            .unwrap();
    }
    assert_eq!(
        net.clients[a].conn.route_request(PublicKey::new([9; 32])),
        Err(SendError::QueueFull)
    );
}

#[test]
fn relay_drops_data_for_and_closes_slow_readers() {
    let limits = QueueLimits {
        max_control_frames: 8,
        max_data_bytes: 8_000,
    };
    let mut net = Net::new(
        ServerConfig {
            queue: limits,
            ..ServerConfig::default()
        },
        1000,
    );
    net.add_client(1);
    net.add_client(2);
    net.pump();
    net.take_events(0);
    net.take_events(1);
    let (id_a, _) = net.link(0, 1);
    net.clients[1].reads = false;
    for _ in 0..20 {
        net.clients[0]
            .conn
            .send_data(id_a, vec![7; 1000].into())
            .unwrap();
        net.pump();
    }
    let stats = net.server.stats();
    assert!(stats.data_routed <= 8, "{stats:?}");
    assert!(stats.data_dropped >= 12, "{stats:?}");
    // A client asking and not reading has its control queue fill: closed.
    for i in 0..20u8 {
        net.clients[1]
            .conn
            .route_request(PublicKey::new([i + 1; 32]))
            .unwrap();
        net.pump();
    }
    let handle = net.clients[1].handle;
    assert!(net.server_events.contains(&ServerEvent::Closed {
        conn: handle,
        reason: CloseReason::SlowReader
    }));
    assert_eq!(net.server.stats().closed_slow_reader, 1);
}

#[test]
fn reconnecting_client_replaces_its_old_connection() {
    let mut net = started(100, 2);
    let (_, id_b) = net.link(0, 1);
    let old = net.clients[0].handle;
    let keys = net.clients[0].keys.clone();
    let again = net.add_client_with(keys, ClientConfig::default());
    net.pump();
    assert!(net.server_events.contains(&ServerEvent::Closed {
        conn: old,
        reason: CloseReason::Replaced
    }));
    assert_eq!(
        net.server.connection_of(&net.pk(0)),
        Some(net.clients[again].handle)
    );
    assert_eq!(net.take_events(1), vec![ClientEvent::Disconnected(id_b)]);
}

#[test]
fn connection_limits() {
    let mut net = Net::new(
        ServerConfig {
            max_connections: 3,
            max_unconfirmed: 2,
            queue: QueueLimits::default(),
        },
        1000,
    );
    let h1 = net.server.accept(net.now).unwrap();
    let h2 = net.server.accept(net.now).unwrap();
    let h3 = net.server.accept(net.now).unwrap();
    // The oldest handshake made room for the third.
    assert_eq!(
        net.server.poll_event(),
        Some(ServerEvent::Closed {
            conn: h1,
            reason: CloseReason::Evicted
        })
    );
    assert_eq!(net.server.connection_count(), 2);
    net.server.connection_lost(h2);
    net.server.connection_lost(h3);
    while net.server.poll_event().is_some() {}
    // Confirmed clients do not count against the handshake limit, but
    // against the total.
    net.add_client(1);
    net.add_client(2);
    net.pump();
    net.server.accept(net.now).unwrap();
    assert_eq!(net.server.connection_count(), 3);
    assert!(net.server.accept(net.now).is_err());
    assert_eq!(net.server.stats().refused, 1);
}
