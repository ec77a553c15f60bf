//! A hand-driven in-memory network for the DHT tests.

#![allow(dead_code)] // each test binary uses part of it

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide_dht::Dht;

/// Delivers datagrams between `nodes` (node `i` at `addr(i)`) for `rounds`
/// ticks of `step`, each tick until nothing is left to send; returns the
/// destinations of datagrams that went to no node.
pub(crate) fn pump(
    nodes: &mut [Dht],
    now: &mut Instant,
    rounds: usize,
    step: Duration,
    addr: impl Fn(usize) -> SocketAddr,
) -> Vec<SocketAddr> {
    let mut elsewhere = Vec::new();
    for _ in 0..rounds {
        for node in nodes.iter_mut() {
            node.handle_timeout(*now);
        }
        loop {
            let mut moved = false;
            for i in 0..nodes.len() {
                while let Some(t) = nodes[i].poll_transmit() {
                    moved = true;
                    match (0..nodes.len()).find(|&j| addr(j) == t.destination) {
                        Some(j) => nodes[j].handle_datagram(*now, addr(i), &t.payload),
                        None => elsewhere.push(t.destination),
                    }
                }
            }
            if !moved {
                break;
            }
        }
        *now += step;
    }
    elsewhere
}
