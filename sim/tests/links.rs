//! The simulator's link model on its own: uplink serialisation and its
//! drop-tail queue, reordering and duplication, and that a seed replays.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide_sim::{LinkConfig, NetStats, Network, Node, Uplink};

/// Sends `burst` datagrams of `len` bytes to node 1 at its first wake-up
/// (each carrying its index), and records what it receives.
struct Blaster {
    start: Instant,
    burst: u32,
    len: usize,
    sent: u32,
    woke: bool,
    received: Vec<(Duration, u32)>,
}

impl Blaster {
    fn new(start: Instant, burst: u32, len: usize) -> Self {
        Self {
            start,
            burst,
            len,
            sent: 0,
            woke: false,
            received: Vec::new(),
        }
    }
}

impl Node for Blaster {
    fn handle_datagram(&mut self, now: Instant, _from: SocketAddr, bytes: &[u8]) {
        let index = u32::from_be_bytes(bytes[..4].try_into().unwrap());
        self.received.push((now - self.start, index));
    }

    fn handle_timeout(&mut self, _now: Instant) {
        self.woke = true;
    }

    fn poll_timeout(&self, _now: Instant) -> Option<Instant> {
        (!self.woke && self.burst > 0).then_some(self.start)
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        if !self.woke || self.sent == self.burst {
            return None;
        }
        let mut bytes = self.sent.to_be_bytes().to_vec();
        bytes.resize(self.len, 0);
        self.sent += 1;
        Some((Network::<Blaster>::addr(1), bytes))
    }
}

fn blast(link: LinkConfig, burst: u32, len: usize, seed: u64) -> (Vec<(Duration, u32)>, NetStats) {
    let start = Instant::now();
    let mut net = Network::new(link, start, seed);
    net.add(Blaster::new(start, burst, len));
    net.add(Blaster::new(start, 0, len));
    net.run_until_bounded(start + Duration::from_secs(10), 1_000_000)
        .unwrap();
    (net.nodes()[1].received.clone(), net.stats())
}

#[test]
fn an_uplink_serialises_datagrams_and_drops_what_its_queue_cannot_hold() {
    // 10 Mbit/s: a 1250-byte datagram takes 1 ms; the queue holds 20 of
    // them (25,000 bytes), the one on the wire included.
    let link = LinkConfig {
        latency: Duration::from_millis(10),
        jitter: Duration::ZERO,
        uplink: Some(Uplink::new(10_000_000, 25_000)),
        ..LinkConfig::default()
    };
    let (received, stats) = blast(link, 100, 1250, 1);
    assert_eq!(stats.queue_dropped, 80);
    assert_eq!(received.len(), 20);
    for (i, (at, index)) in received.iter().enumerate() {
        assert_eq!(*index, i as u32, "in order");
        assert_eq!(*at, Duration::from_millis(10 + 1 + i as u64), "1 ms apart");
    }
    // A packet limit drops too.
    let by_packets = LinkConfig {
        uplink: Some(Uplink {
            queue_packets: 5,
            ..Uplink::new(10_000_000, u64::MAX)
        }),
        ..link
    };
    let (received, stats) = blast(by_packets, 100, 1250, 1);
    assert_eq!((received.len(), stats.queue_dropped), (5, 95));
}

#[test]
fn reordering_and_duplication_hit_their_share_and_replay_from_the_seed() {
    let link = LinkConfig {
        latency: Duration::from_millis(10),
        jitter: Duration::ZERO,
        reorder: 0.2,
        reorder_delay: Duration::from_millis(30),
        duplicate: 0.1,
        ..LinkConfig::default()
    };
    let (received, stats) = blast(link, 2000, 100, 5);
    println!("# {stats:?}");
    assert_eq!(received.len() as u64, 2000 + stats.duplicated);
    assert!((150..250).contains(&stats.duplicated), "{stats:?}");
    // Every copy draws its own hold-back.
    assert!((400..560).contains(&stats.reordered), "{stats:?}");
    let overtaken = received.windows(2).filter(|w| w[1].1 < w[0].1).count();
    assert!(overtaken > 100, "{overtaken} datagrams overtaken");
    assert_eq!(
        blast(link, 2000, 100, 5),
        (received, stats),
        "a seed replays"
    );
}

#[test]
fn defaults_leave_the_new_features_off() {
    let link = LinkConfig::default();
    assert_eq!(link.uplink, None);
    assert_eq!((link.reorder, link.duplicate), (0.0, 0.0));
    let (received, stats) = blast(link, 500, 100, 9);
    assert_eq!(received.len(), 500);
    assert_eq!(
        (stats.queue_dropped, stats.duplicated, stats.reordered),
        (0, 0, 0)
    );
}
