//! Every layer of a Tox node as one sans-IO state machine: the type the
//! tokio driver, the simulator (and later the C API's synchronous driver)
//! all run.
//!
//! The composition lives here, above every layer, because no layer holds
//! another: the stack owns the [`Dht`], the [`OnionServer`] every node
//! provides and, in a client, the [`OnionClient`]; it dispatches datagrams
//! by their first byte (checklist §0), gives each layer what it needs of
//! the ones below as an argument (the onion borrows the DHT for close
//! nodes, DHT-PK routing and searches), and turns one layer's events into
//! another's input (the DHT's DHT-PK requests go to the onion client).
//! Calls go down, events come up.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use toxide_dht::{Dht, Transmit};
use toxide_onion::client::{ClientEvent, OnionClient};
use toxide_onion::server::OnionServer;

/// Something the stack reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackEvent {
    /// From the DHT (DHT-PK requests are consumed by the onion client when
    /// there is one).
    Dht(toxide_dht::Event),
    /// From the onion client.
    Onion(ClientEvent),
}

/// The layers of one node.
#[derive(Debug)]
pub struct Stack {
    /// The DHT.
    pub dht: Dht,
    /// The onion relay and announce service; `None` serves nothing.
    pub server: Option<OnionServer>,
    /// The onion client; `None` on a bootstrap node.
    pub client: Option<OnionClient>,
    events: VecDeque<StackEvent>,
}

impl Stack {
    /// A stack of the given layers.
    pub fn new(dht: Dht, server: Option<OnionServer>, client: Option<OnionClient>) -> Self {
        Self {
            dht,
            server,
            client,
            events: VecDeque::new(),
        }
    }

    /// Handles one datagram; `false` if no layer here takes its id.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> bool {
        let Some(&id) = bytes.first() else {
            return false;
        };
        let handled = if toxide_dht::packet::PACKET_IDS.contains(&id) {
            self.dht.handle_datagram(now, from, bytes);
            true
        } else if matches!(id, 0x84 | 0x86 | 0x88) && self.client.is_some() {
            if let Some(client) = &mut self.client {
                client.handle_datagram(now, from, bytes, &mut self.dht);
            }
            true
        } else if toxide_onion::packet::PACKET_IDS.contains(&id) {
            match &mut self.server {
                Some(server) => {
                    server.handle_datagram(now, from, bytes, &self.dht);
                    true
                }
                None => false,
            }
        } else {
            false
        };
        self.pump(now);
        handled
    }

    /// Runs the layers' timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dht.poll_timeout().is_some_and(|t| t <= now) {
            self.dht.handle_timeout(now);
        }
        if let Some(client) = &mut self.client {
            if client.poll_timeout().is_some_and(|t| t <= now) {
                client.handle_timeout(now, &mut self.dht);
            }
        }
        self.pump(now);
    }

    /// The earliest timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let client = self.client.as_ref().and_then(OnionClient::poll_timeout);
        match (self.dht.poll_timeout(), client) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next datagram to send, from whichever layer has one.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.dht
            .poll_transmit()
            .or_else(|| self.server.as_mut().and_then(OnionServer::poll_transmit))
            .or_else(|| self.client.as_mut().and_then(OnionClient::poll_transmit))
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<StackEvent> {
        self.events.pop_front()
    }

    /// Moves events between layers and into the outgoing queue.
    fn pump(&mut self, now: Instant) {
        while let Some(event) = self.dht.poll_event() {
            match (event, &mut self.client) {
                (toxide_dht::Event::DhtPkRequest { sender, data, .. }, Some(client)) => {
                    client.handle_dht_pk_request(now, sender, &data, &mut self.dht)
                }
                (event, _) => self.events.push_back(StackEvent::Dht(event)),
            }
        }
        if let Some(client) = &mut self.client {
            while let Some(event) = client.poll_event() {
                self.events.push_back(StackEvent::Onion(event));
            }
        }
    }
}
