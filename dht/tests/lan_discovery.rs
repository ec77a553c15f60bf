//! LAN discovery (checklist D13) through the DHT's public API: nothing is
//! announced while it is off; when on, 33-byte announcements go to the
//! broadcast addresses on c-toxcore's ports every 10 s; an announcement
//! heard from a LAN address makes two nodes that know nobody find each
//! other.

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide_core::Encode;
use toxide_dht::lan::{LAN_DISCOVERY_DESTINATIONS, LAN_DISCOVERY_INTERVAL};
use toxide_dht::packet::LanDiscovery;
use toxide_dht::{Config, Dht, Transmit};

fn lan_config() -> Config {
    Config {
        lan_discovery: true,
        ..Config::default()
    }
}

fn drain(dht: &mut Dht) -> Vec<Transmit> {
    std::iter::from_fn(|| dht.poll_transmit()).collect()
}

fn is_broadcast(t: &Transmit) -> bool {
    LAN_DISCOVERY_DESTINATIONS.contains(&t.destination.ip())
}

/// Runs `dht`'s timer once a second for `secs` seconds from `start` and
/// returns what it sent at each second.
fn run(dht: &mut Dht, start: Instant, secs: u64) -> Vec<(u64, Vec<Transmit>)> {
    (0..secs)
        .map(|s| {
            dht.handle_timeout(start + Duration::from_secs(s));
            (s, drain(dht))
        })
        .collect()
}

#[test]
fn nothing_is_announced_while_off() {
    let start = Instant::now();
    assert!(!Config::default().lan_discovery, "off by default");
    let mut dht = Dht::new(Config::default(), start, [1; 32]);
    dht.set_local_ports([40000]);
    for (s, sent) in run(&mut dht, start, 65) {
        assert!(
            sent.iter()
                .all(|t| !is_broadcast(t) && t.payload.first() != Some(&LanDiscovery::ID)),
            "second {s}: {sent:?}"
        );
    }
}

#[test]
fn announcements_go_out_at_start_then_every_ten_seconds() {
    let start = Instant::now();
    let mut dht = Dht::new(lan_config(), start, [2; 32]);
    let expected_payload = LanDiscovery {
        public_key: dht.public_key(),
    }
    .to_bytes();
    assert_eq!(expected_payload.len(), 33);
    let mut rounds = Vec::new();
    for (s, sent) in run(&mut dht, start, 41) {
        let announcements: Vec<&Transmit> = sent.iter().filter(|t| is_broadcast(t)).collect();
        // This DHT knows nobody: everything it sends is an announcement.
        assert_eq!(announcements.len(), sent.len(), "second {s}");
        if announcements.is_empty() {
            continue;
        }
        for t in &announcements {
            assert_eq!(t.payload, expected_payload, "second {s}");
        }
        // 33445 and a window of ten more ports, to both families.
        assert_eq!(announcements.len(), 2 * 11, "second {s}");
        rounds.push(s);
    }
    assert_eq!(rounds, [0, 10, 20, 30, 40]);
    assert_eq!(dht.stats().sent, 5 * 22);
}

#[test]
fn rounds_sweep_the_port_window_and_our_own_port() {
    let start = Instant::now();
    let mut dht = Dht::new(lan_config(), start, [3; 32]);
    dht.set_local_ports([54321]);
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..10u64 {
        dht.handle_timeout(start + LAN_DISCOVERY_INTERVAL * round as u32);
        let ports: Vec<u16> = drain(&mut dht)
            .iter()
            .map(|t| t.destination.port())
            .collect();
        assert!(ports.contains(&33445), "round {round}");
        assert!(ports.contains(&54321), "round {round}");
        seen.extend(ports);
    }
    let expected: std::collections::BTreeSet<u16> =
        (33445..33545).chain(std::iter::once(54321)).collect();
    assert_eq!(seen, expected, "ten rounds cover c-toxcore's whole sweep");
}

#[test]
fn two_nodes_that_know_nobody_find_each_other_on_the_lan() {
    let start = Instant::now();
    let addrs: [SocketAddr; 2] = [
        "192.168.7.1:33445".parse().unwrap(),
        "192.168.7.2:33445".parse().unwrap(),
    ];
    let mut nodes = [
        Dht::new(lan_config(), start, [4; 32]),
        Dht::new(lan_config(), start, [5; 32]),
    ];
    // A broadcast reaches the other node, and (as the kernel loops it
    // back) the sender itself; unicasts reach their address.
    for s in 0..15u64 {
        let now = start + Duration::from_secs(s);
        for node in &mut nodes {
            node.handle_timeout(now);
        }
        loop {
            let mut moved = false;
            for i in 0..2 {
                for t in drain(&mut nodes[i]) {
                    moved = true;
                    let to: Vec<usize> = if is_broadcast(&t) {
                        if t.destination.is_ipv6() || t.destination.port() != 33445 {
                            continue;
                        }
                        vec![0, 1]
                    } else {
                        (0..2).filter(|&j| addrs[j] == t.destination).collect()
                    };
                    for j in to {
                        nodes[j].handle_datagram(now, addrs[i], &t.payload);
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }
    let now = start + Duration::from_secs(15);
    for (i, j) in [(0, 1), (1, 0)] {
        let known = nodes[i].closest_nodes(now, &nodes[j].public_key(), 4, true);
        assert!(
            known
                .iter()
                .any(|n| n.public_key == nodes[j].public_key() && n.addr == addrs[j]),
            "node {i} does not know node {j}: {known:?}"
        );
        assert!(
            nodes[i].stats().dropped_from_self > 0,
            "own announcements are ignored"
        );
    }
}

#[test]
fn announcements_from_outside_the_lan_or_while_off_are_dropped() {
    let now = Instant::now();
    let announcement = LanDiscovery {
        public_key: Dht::new(Config::default(), now, [6; 32]).public_key(),
    }
    .to_bytes();
    let mut on = Dht::new(lan_config(), now, [7; 32]);
    drain(&mut on);
    on.handle_datagram(now, "8.8.8.8:33445".parse().unwrap(), &announcement);
    assert_eq!(on.stats().dropped_lan_discovery, 1);
    assert!(on.poll_transmit().is_none());
    on.handle_datagram(now, "10.1.2.3:33445".parse().unwrap(), &announcement);
    let request = on.poll_transmit().expect("a nodes request to the LAN node");
    assert_eq!(request.destination, "10.1.2.3:33445".parse().unwrap());
    assert_eq!(request.payload.first(), Some(&0x02));

    let mut off = Dht::new(Config::default(), now, [8; 32]);
    off.handle_datagram(now, "10.1.2.3:33445".parse().unwrap(), &announcement);
    assert_eq!(off.stats().dropped_lan_discovery, 1);
    assert!(off.poll_transmit().is_none());
}
