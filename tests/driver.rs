//! The tokio DHT driver on real loopback sockets: two drivers join each
//! other, foreign datagrams are counted and not fed to the DHT, a
//! dual-stack socket hands IPv4 peers to the DHT as plain IPv4, and
//! shutdown closes the sockets.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use toxide::driver::{Driver, DriverConfig, DriverError, DriverHandle};
use toxide_core::{Decode, Encode, KeyPair, Nonce, PackedNode, SharedKey};
use toxide_dht::packet::{PingRequest, PingRequestPayload, PingResponse, PingResponsePayload};

const WAIT: Duration = Duration::from_secs(10);

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Polls `probe` every 50 ms until it holds or [`WAIT`] passes.
async fn eventually(mut probe: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn has_node(handle: &DriverHandle, node: PackedNode) -> bool {
    handle.close_nodes().await.unwrap().contains(&node)
}

#[tokio::test]
async fn two_drivers_find_each_other() {
    let a = Driver::spawn(DriverConfig::new([loopback(0)]))
        .await
        .unwrap();
    let b = Driver::spawn(DriverConfig::new([loopback(0)]))
        .await
        .unwrap();
    assert_ne!(a.local_addr().port(), 0, "the real port is reported");
    let a_node = PackedNode::udp(a.local_addr(), a.public_key());
    let b_node = PackedNode::udp(b.local_addr(), b.public_key());
    a.bootstrap(b_node).await.unwrap();
    assert!(
        eventually(async || has_node(&a, b_node).await).await,
        "A never added B"
    );
    assert!(
        eventually(async || has_node(&b, a_node).await).await,
        "B never added A"
    );
    let stats = a.stats().await.unwrap();
    assert!(
        stats.datagrams_sent > 0 && stats.datagrams_received > 0,
        "{stats:?}"
    );
    assert_eq!(stats.dht.received, stats.datagrams_received);
    assert_eq!(
        (stats.send_errors, stats.recv_errors, stats.unhandled),
        (0, 0, 0)
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn foreign_datagrams_are_counted_not_handled() {
    let node = Driver::spawn(DriverConfig::new([loopback(0)]))
        .await
        .unwrap();
    let raw = UdpSocket::bind(loopback(0)).unwrap();
    // An onion request id, a net_crypto id, an empty datagram.
    for datagram in [&[0x80u8, 1, 2, 3][..], &[0x1a; 40][..], &[][..]] {
        raw.send_to(datagram, node.local_addr()).unwrap();
    }
    // A DHT id with garbage reaches the DHT, which drops it as malformed.
    raw.send_to(&[0x02, 0, 0], node.local_addr()).unwrap();
    assert!(
        eventually(async || {
            let s = node.stats().await.unwrap();
            s.unhandled == 3 && s.dht.dropped_malformed == 1
        })
        .await,
        "{:?}",
        node.stats().await
    );
    node.shutdown().await;
}

#[tokio::test]
async fn dual_stack_socket_hands_ipv4_peers_in_as_ipv4() {
    let mut config = DriverConfig::new([SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))]);
    config.dual_stack = true;
    let node = match Driver::spawn(config).await {
        Ok(node) => node,
        Err(DriverError::Bind { .. }) => return, // no IPv6 here
        Err(e) => panic!("{e}"),
    };
    let port = node.local_addr().port();

    // A peer on plain IPv4 pings the node; the node answers and pings it
    // back; once answered, the peer is in the close list as 127.0.0.1.
    let raw = tokio::net::UdpSocket::bind(loopback(0)).await.unwrap();
    let keys = KeyPair::generate(&mut rand::rng());
    let shared = SharedKey::new(&node.public_key(), &keys.secret).unwrap();
    let ping = PingRequest::new(
        &shared,
        keys.public,
        Nonce::random(&mut rand::rng()),
        &PingRequestPayload { ping_id: 7 },
    );
    raw.send_to(&ping.to_bytes(), loopback(port)).await.unwrap();
    let me = PackedNode::udp(raw.local_addr().unwrap(), keys.public);
    let mut got_response = false;
    let mut buf = [0u8; 2048];
    let joined = eventually(async || {
        let received =
            tokio::time::timeout(Duration::from_millis(200), raw.recv_from(&mut buf)).await;
        if let Ok(Ok((len, from))) = received {
            assert_eq!(from, loopback(port), "replies come from the port we used");
            let bytes = &buf[..len];
            if let Ok(response) = PingResponse::from_bytes(bytes) {
                got_response |= response.open(&shared).unwrap().ping_id == 7;
            } else if let Ok(request) = PingRequest::from_bytes(bytes) {
                let id = request.open(&shared).unwrap().ping_id;
                let answer = PingResponse::new(
                    &shared,
                    keys.public,
                    Nonce::random(&mut rand::rng()),
                    &PingResponsePayload { ping_id: id },
                );
                raw.send_to(&answer.to_bytes(), from).await.unwrap();
            }
        }
        has_node(&node, me).await
    })
    .await;
    assert!(got_response, "no ping response over the dual-stack socket");
    assert!(
        joined,
        "peer not listed as plain IPv4: {:?}",
        node.close_nodes().await
    );
    node.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_the_socket() {
    let node = Driver::spawn(DriverConfig::new([loopback(0)]))
        .await
        .unwrap();
    let addr = node.local_addr();
    let other = node.clone();
    node.shutdown().await;
    assert!(
        other.stats().await.is_err(),
        "every handle sees the driver gone"
    );
    assert!(
        other
            .bootstrap(PackedNode::udp(addr, node.public_key()))
            .await
            .is_err()
    );
    other.shutdown().await; // a second shutdown is harmless
    UdpSocket::bind(addr).expect("the port is free again");
}

#[tokio::test]
async fn dropping_every_handle_stops_the_driver() {
    let node = Driver::spawn(DriverConfig::new([loopback(0)]))
        .await
        .unwrap();
    let addr = node.local_addr();
    drop(node);
    assert!(
        eventually(async || UdpSocket::bind(addr).is_ok()).await,
        "socket still bound"
    );
}

#[tokio::test]
async fn given_keys_and_bad_addresses() {
    let keys = KeyPair::generate(&mut rand::rng());
    let mut config = DriverConfig::new([loopback(0)]);
    config.keys = Some(keys.clone());
    let node = Driver::spawn(config).await.unwrap();
    assert_eq!(node.public_key(), keys.public);
    node.shutdown().await;

    assert!(matches!(
        Driver::spawn(DriverConfig::new([])).await,
        Err(DriverError::NoAddress)
    ));
    let held = UdpSocket::bind(loopback(0)).unwrap();
    let err = Driver::spawn(DriverConfig::new([held.local_addr().unwrap()]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot bind"), "{err}");
}

/// More calls queued at once than the driver runs per turn: every one is
/// answered (a command fetched past the per-turn budget was once dropped,
/// and its caller told the driver had stopped).
#[tokio::test]
async fn a_burst_of_calls_is_answered_in_full() {
    let node = Driver::spawn(DriverConfig::new([loopback(0)]))
        .await
        .unwrap();
    let calls = (0..500u32).map(|i| node.call(move |_, _, _| i));
    let answers = futures::future::join_all(calls).await;
    let answers: Vec<u32> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers, (0..500).collect::<Vec<_>>());
    node.shutdown().await;
}
