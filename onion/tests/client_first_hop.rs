//! Where the onion client's paths start (checklist O16): at a TCP relay
//! while its DHT is not connected and it has relays, as c-toxcore's do
//! while `dht_non_lan_connected` is false (UDP may be on but blocked), and
//! over UDP otherwise.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, NoSpam, PackedNode, TransportProtocol};
use toxide_dht::{Config, Dht};
use toxide_onion::{ClientConfig, OnionClient};

/// A client that knows eight bootstrap nodes and, if `relay`, one TCP
/// relay; run for a few seconds of virtual time. Returns how many onion
/// requests went out over UDP and through the relay.
fn first_requests(relay: bool) -> (usize, usize) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let now = Instant::now();
    let dht_keys = KeyPair::generate(&mut rng);
    let mut dht = Dht::with_keys(Config::default(), now, [1; 32], dht_keys.clone());
    let real = KeyPair::generate(&mut rng);
    let mut client = OnionClient::new(
        ClientConfig { no_replay_base: 1 },
        real,
        NoSpam([1, 2, 3, 4]),
        dht_keys,
        now,
        [2; 32],
    );
    for i in 0..8u16 {
        let addr: SocketAddr = format!("127.0.0.1:{}", 40_000 + i).parse().unwrap();
        client.add_bootstrap_node(PackedNode::udp(addr, KeyPair::generate(&mut rng).public));
    }
    let relay_node = PackedNode::new(
        TransportProtocol::Tcp,
        "127.0.0.1:33445".parse().unwrap(),
        KeyPair::generate(&mut rng).public,
    );
    if relay {
        client.set_tcp_relays(vec![relay_node]);
    }
    let (mut udp, mut tcp) = (0, 0);
    let mut t = now;
    for _ in 0..50 {
        client.handle_timeout(t, &mut dht);
        while let Some(transmit) = client.poll_transmit() {
            if transmit.payload.first() == Some(&0x80) {
                udp += 1;
            }
        }
        while let Some((to, _)) = client.poll_tcp_transmit() {
            assert_eq!(to, relay_node.public_key);
            tcp += 1;
        }
        t += Duration::from_millis(100);
    }
    (udp, tcp)
}

#[test]
fn without_a_dht_connection_paths_start_at_a_relay() {
    let (udp, tcp) = first_requests(true);
    assert_eq!(udp, 0, "onion requests went out over UDP");
    assert!(tcp > 0, "no onion request went through the relay");
}

#[test]
fn without_relays_paths_start_over_udp() {
    let (udp, tcp) = first_requests(false);
    assert!(udp > 0, "no onion request went out over UDP");
    assert_eq!(tcp, 0);
}
