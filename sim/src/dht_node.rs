//! The DHT as a simulated node.

use std::net::SocketAddr;
use std::time::Instant;

use toxide_dht::{Dht, Event};

use crate::Node;

/// A [`Dht`] that keeps the events it emits for the test to inspect.
#[derive(Debug)]
pub struct DhtNode {
    /// The DHT.
    pub dht: Dht,
    /// Events emitted so far, oldest first (capped; learned nodes are
    /// only counted).
    pub events: Vec<Event>,
    /// How many nodes other nodes told this one about.
    pub nodes_learned: u64,
}

impl DhtNode {
    /// Wraps a DHT.
    pub fn new(dht: Dht) -> Self {
        Self {
            dht,
            events: Vec::new(),
            nodes_learned: 0,
        }
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.dht.poll_event() {
            match event {
                Event::NodeLearned(_) => self.nodes_learned += 1,
                other if self.events.len() < 1024 => self.events.push(other),
                _ => {}
            }
        }
    }
}

impl Node for DhtNode {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.dht.handle_datagram(now, from, bytes);
        self.drain_events();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.dht.handle_timeout(now);
        self.drain_events();
    }

    fn poll_timeout(&self, _now: Instant) -> Option<Instant> {
        self.dht.poll_timeout()
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.dht.poll_transmit().map(|t| (t.destination, t.payload))
    }
}
