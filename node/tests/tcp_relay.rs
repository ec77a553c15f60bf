//! toxide-node's TCP relay adapter in-process, against our own relay
//! client: the limits an operator configures hold on real sockets. (The
//! protocol itself is tested in `relay/` and against c-toxcore in
//! `ctoxcore_relay.rs`.)
// Test harness: a failed step is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use toxide_core::KeyPair;
use toxide_node::tcp::{TcpRelay, WRITE_TIMEOUT};
use toxide_relay::{ClientEvent, SendError, ServerConfig};

use common::inprocess::runtime;
use common::relay_client::{RelayClient, STEP_TIMEOUT};

fn loopback_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Sockets beyond `tcp-max-connections` are closed at once; the ones
/// inside the limit stay open. Port 0 gets a real port.
#[test]
fn connections_beyond_the_limit_are_refused() {
    let rt = runtime();
    let keys = KeyPair::generate(&mut rand::rng());
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    };
    let relay = rt
        .block_on(async { TcpRelay::spawn(&[loopback_any()], false, keys, config, None).unwrap() });
    let addr = relay.local_addrs()[0];
    assert_ne!(addr.port(), 0);
    let open: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Accepted in order: the first two take the places.
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut buf = [0u8; 16];
    loop {
        match third.read(&mut buf) {
            Ok(0) => break,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            _ => assert!(Instant::now() < deadline, "the third socket stayed open"),
        }
    }
    for mut stream in open {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let e = stream.read(&mut buf).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e}"
        );
    }
    let stats = rt.block_on(relay.shutdown()).unwrap();
    assert_eq!(stats.relay.accepted, 2);
    assert_eq!(stats.relay.refused, 1);
}

/// A client that stops reading while a peer floods it costs the relay no
/// more than its queues: data beyond them is dropped, and once its socket
/// stays full for [`WRITE_TIMEOUT`] the relay drops the client and tells
/// the peer. The flood also keeps the relay task's input queue full, which
/// once exposed an input dropped at the end of each batch (a hole in the
/// flooder's byte stream: "frame did not open").
#[test]
fn a_client_that_stops_reading_is_dropped() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_test_writer()
        .try_init();
    let rt = runtime();
    let keys = KeyPair::generate(&mut rand::rng());
    let relay_pk = keys.public;
    let relay = rt.block_on(async {
        TcpRelay::spawn(
            &[loopback_any()],
            false,
            keys,
            ServerConfig::default(),
            None,
        )
        .unwrap()
    });
    let port = relay.local_addrs()[0].port();
    let mut a = RelayClient::connect(port, relay_pk, 1);
    let mut b = RelayClient::connect(port, relay_pk, 2);
    a.wait("handshake (a)", |e| {
        (*e == ClientEvent::Established).then_some(())
    });
    b.wait("handshake (b)", |e| {
        (*e == ClientEvent::Established).then_some(())
    });
    a.conn.route_request(b.keys.public).unwrap();
    b.conn.route_request(a.keys.public).unwrap();
    b.flush();
    let a_id = a.wait("connect (a)", |e| match e {
        ClientEvent::Connected(id) => Some(*id),
        _ => None,
    });
    b.wait("connect (b)", |e| {
        matches!(e, ClientEvent::Connected(_)).then_some(())
    });
    // From here on b reads nothing.

    let frame = Bytes::from(vec![0x1b; 1400]);
    let mut sent = 0usize;
    let flood = 64 * 1024 * 1024;
    let flood_deadline = Instant::now() + Duration::from_secs(60);
    while sent < flood && Instant::now() < flood_deadline {
        match a.conn.send_data(a_id, frame.clone()) {
            Ok(()) => sent += frame.len(),
            Err(SendError::QueueFull) => a.flush(),
            // The relay already dropped b and told a.
            Err(SendError::NotConnected(_)) => break,
            Err(e) => {
                while let Some(event) = a.conn.poll_event() {
                    a.events.push_back(event);
                }
                panic!("{e} after {sent} bytes: {:?}", a.events)
            }
        }
        if sent % (1024 * 1024) < frame.len() {
            a.pump();
            if a.events
                .iter()
                .any(|e| *e == ClientEvent::Disconnected(a_id))
            {
                break;
            }
        }
    }
    a.flush();
    a.wait_within(
        "disconnect notification for the slow reader",
        WRITE_TIMEOUT + STEP_TIMEOUT,
        |e| (*e == ClientEvent::Disconnected(a_id)).then_some(()),
    );
    let stats = rt.block_on(relay.shutdown()).unwrap();
    eprintln!(
        "flooded {} MiB; relay {:?}",
        sent / (1024 * 1024),
        stats.relay
    );
    assert!(stats.relay.data_dropped > 0, "{stats:?}");
    assert!(stats.relay.closed >= 1, "{stats:?}");
}

/// Resident memory of this process, kB.
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// Abuse from many sockets at once: 2,000 half-open connections that never
/// say a word, junk instead of a handshake, handshakes cut short, and
/// slowloris clients dribbling a byte at a time. The relay holds at most
/// its unconfirmed limit of them (the oldest go first), its memory stays
/// bounded, and two honest clients arriving last still handshake, link
/// and exchange data at once.
#[test]
fn abuse_leaves_the_relay_serving_honest_clients_in_bounded_memory() {
    let rt = runtime();
    let keys = KeyPair::generate(&mut rand::rng());
    let relay_pk = keys.public;
    let config = ServerConfig::default();
    let unconfirmed = config.max_unconfirmed;
    let relay = rt
        .block_on(async { TcpRelay::spawn(&[loopback_any()], false, keys, config, None).unwrap() });
    let addr = relay.local_addrs()[0];
    let before = rss_kb();

    let mut held = Vec::new();
    for _ in 0..2_000 {
        held.push(TcpStream::connect(addr).unwrap());
    }
    let junk: Vec<u8> = (0..1024u32).map(|i| (i * 7 + 3) as u8).collect();
    for i in 0..50 {
        let mut s = TcpStream::connect(addr).unwrap();
        // Junk, and a handshake cut short (its first 40 bytes).
        let bytes = if i % 2 == 0 { &junk[..] } else { &junk[..40] };
        let _ = std::io::Write::write_all(&mut s, bytes);
        held.push(s);
    }
    let mut slow: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for round in 0..5 {
        for s in &mut slow {
            let _ = std::io::Write::write_all(s, &junk[round..=round]);
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    // Honest clients, last in line.
    let started = Instant::now();
    let port = addr.port();
    let mut a = RelayClient::connect(port, relay_pk, 11);
    let mut b = RelayClient::connect(port, relay_pk, 12);
    for (client, name) in [(&mut a, "a"), (&mut b, "b")] {
        client.wait(&format!("handshake ({name})"), |e| {
            (*e == ClientEvent::Established).then_some(())
        });
    }
    a.conn.route_request(b.keys.public).unwrap();
    b.conn.route_request(a.keys.public).unwrap();
    b.flush();
    let a_id = a.wait("connect (a)", |e| match e {
        ClientEvent::Connected(id) => Some(*id),
        _ => None,
    });
    b.wait("connect (b)", |e| {
        matches!(e, ClientEvent::Connected(_)).then_some(())
    });
    a.conn
        .send_data(a_id, Bytes::from_static(b"still serving"))
        .unwrap();
    a.flush();
    let got = b.wait("data (b)", |e| match e {
        ClientEvent::Data(_, data) => Some(data.clone()),
        _ => None,
    });
    assert_eq!(&got[..], b"still serving");
    let served_in = started.elapsed();
    let grown = rss_kb().saturating_sub(before);
    drop(held);
    drop(slow);
    let stats = rt.block_on(relay.shutdown()).unwrap();
    eprintln!(
        "honest clients served in {served_in:?} beside 2,070 abusive sockets; \
         RSS +{grown} kB; relay {:?}",
        stats.relay
    );
    // Everything beyond the unconfirmed limit was closed to make room.
    assert!(
        stats.relay.closed >= (2_070 - unconfirmed) as u64,
        "{:?}",
        stats.relay
    );
    assert_eq!(stats.relay.confirmed, 2, "{:?}", stats.relay);
    assert!(grown < 32 * 1024, "RSS grew {grown} kB");
}
