//! What every node serves to the onion: the relay and the announce
//! service behind one sans-IO state machine, shaped like the DHT's.
//!
//! The driver hands it every datagram whose first byte is an onion id
//! ([`crate::packet::PACKET_IDS`]) together with the DHT, which supplies
//! the close nodes announce responses list, and drains
//! [`OnionServer::poll_transmit`]. It keeps no timers: the return key is
//! refreshed and announce entries expire lazily, on the next packet.
//!
//! Defence: sizes are checked before any Diffie-Hellman; shared keys are
//! cached (path keys repeat for the life of a path) and new ones are
//! computed within a global budget; every kind that costs a
//! Diffie-Hellman is budgeted per host (IPv4 address or IPv6 /64), charged
//! only once its box opens (see `toxide_dht::rate_limit`). Requests
//! entering the onion here (0x80, from the client itself) and those
//! arriving from other relays (0x81, 0x82 and announce requests) have
//! separate budgets, so clients cannot crowd out the relays that
//! aggregate many clients' paths, nor the reverse. Clients of the node's
//! TCP relay enter the onion here too ([`OnionServer::handle_tcp_request`],
//! the relay as their hop A) on the clients' budget, and their responses
//! leave by relay connection ([`OnionServer::poll_tcp_response`]). Next hops that would
//! reach broadcast, multicast, unspecified or loopback addresses, or the
//! LAN from outside it, are refused (see [`crate::relay`]). Every drop is
//! counted by reason.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{Encode, KeyPair, Nonce, PublicKey, TimedAuth};
use toxide_dht::Transmit;
use toxide_dht::lan::is_lan;
use toxide_dht::rate_limit::{RateLimit, RateLimiter};
use toxide_dht::shared_keys::{IncomingKeyError, SharedKeyCache};

use crate::announce::{self, AnnounceStore, CloseNodes};
use crate::constants::ANNOUNCE_TIMEOUT_SECS;
use crate::packet::{
    AnnounceRequest, AnnounceResponse, AnnounceResponsePayload, OnionDataRequest, OnionPacketError,
    OnionResponse3, OnionReturn3, Packet, drop_counter,
};
use crate::relay::{Forward, Relay, RelayError, Returned, TcpClient};

/// Shared keys cached: one per path through us (hop key) and per announcing
/// client.
const SHARED_KEY_CACHE: usize = 1024;

/// Responses for TCP relay clients held until the driver takes them
/// ([`OnionServer::poll_tcp_response`]); the driver takes them every turn,
/// so this only bounds memory if it stops.
pub const MAX_TCP_RESPONSES: usize = 1024;

/// An onion response for a client of this node's TCP relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpResponse {
    /// The relay connection ([`TcpClient::connection`]).
    pub client: u64,
    /// The bare response, to send as an onion response frame.
    pub data: Vec<u8>,
}

/// How an [`OnionServer`] behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Budget per host for packets entering the onion at this node
    /// (0x80), and the same again for packets from other relays (0x81,
    /// 0x82, announce requests); also sets the global budget for new
    /// shared keys. `None` for no limit.
    pub rate_limit: Option<RateLimit>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            rate_limit: Some(RateLimit::default()),
        }
    }
}

/// What the server did and dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Datagrams handed to the server.
    pub received: u64,
    /// Requests passed on to the next hop or the destination.
    pub requests_relayed: u64,
    /// Responses passed back towards a client.
    pub responses_relayed: u64,
    /// Announce requests answered.
    pub announces_answered: u64,
    /// Of those, the ones that stored or refreshed the sender.
    pub announces_stored: u64,
    /// Data requests delivered to an announced client.
    pub data_delivered: u64,
    /// Dropped: wrong size, id or layout.
    pub dropped_malformed: u64,
    /// Dropped: a box did not open.
    pub dropped_undecryptable: u64,
    /// Dropped: a return layer we did not seal (forged, or from before our
    /// key changed).
    pub dropped_bad_return: u64,
    /// Dropped: an exit or response id the onion does not carry.
    pub dropped_filtered: u64,
    /// Dropped: a TCP next hop (requests go on over UDP only, responses
    /// over TCP only to our own relay's clients).
    pub dropped_tcp: u64,
    /// Onion requests from clients of our TCP relay, passed on to hop B.
    pub tcp_requests_relayed: u64,
    /// Responses handed back to clients of our TCP relay.
    pub tcp_responses: u64,
    /// Responses for clients of our TCP relay dropped because the driver
    /// had not taken the earlier ones ([`MAX_TCP_RESPONSES`]).
    pub dropped_tcp_responses: u64,
    /// Dropped: onion data for a key not announced here.
    pub dropped_not_announced: u64,
    /// Dropped: the source's host exceeded its budget.
    pub dropped_rate_limited: u64,
    /// Dropped: the sender's key was not cached and the global budget for
    /// new shared keys was spent.
    pub dropped_key_budget: u64,
    /// Dropped: the sender's key is a low-order point.
    pub dropped_low_order_key: u64,
    /// Dropped: the next hop is a broadcast, multicast, unspecified or
    /// loopback address, or on a LAN the packet did not come from.
    pub dropped_next_hop: u64,
    /// Dropped: a client-side packet (announce or data response) that a
    /// server has no use for.
    pub dropped_unserved: u64,
}

/// Where a request layer came from, which decides whose budget it spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    /// 0x80: straight from a client.
    Client,
    /// 0x81, 0x82, announce requests: from another relay.
    Relay,
}

/// The onion relay and announce service of one node.
#[derive(Debug)]
pub struct OnionServer {
    keys: KeyPair,
    relay: Relay,
    store: AnnounceStore,
    auth: TimedAuth,
    shared_keys: SharedKeyCache,
    /// Budgets of hosts sending 0x80 (clients).
    client_limiter: Option<RateLimiter>,
    /// Budgets of hosts sending 0x81, 0x82 and announce requests (relays).
    relay_limiter: Option<RateLimiter>,
    rng: ChaCha20Rng,
    start: Instant,
    transmits: VecDeque<Transmit>,
    tcp_responses: VecDeque<TcpResponse>,
    stats: ServerStats,
}

impl OnionServer {
    /// A server for the node whose DHT key pair is `keys`; `seed` drives all
    /// its randomness (return keys, ping-id key, nonces).
    pub fn new(config: ServerConfig, keys: KeyPair, now: Instant, seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        Self {
            relay: Relay::new(now, &mut rng),
            store: AnnounceStore::new(keys.public),
            auth: TimedAuth::generate(&mut rng, ANNOUNCE_TIMEOUT_SECS),
            shared_keys: match config.rate_limit {
                Some(limit) => {
                    SharedKeyCache::with_budget(SHARED_KEY_CACHE, limit.new_keys_per_second)
                }
                None => SharedKeyCache::new(SHARED_KEY_CACHE),
            },
            client_limiter: config.rate_limit.map(RateLimiter::new),
            relay_limiter: config.rate_limit.map(RateLimiter::new),
            keys,
            rng,
            start: now,
            transmits: VecDeque::new(),
            tcp_responses: VecDeque::new(),
            stats: ServerStats::default(),
        }
    }

    /// The node's DHT public key.
    pub fn public_key(&self) -> PublicKey {
        self.keys.public
    }

    /// The counters so far.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Clients announced here now.
    pub fn announced(&self, now: Instant) -> usize {
        self.store.len(now)
    }

    /// Whether `public_key` is announced here now.
    pub fn is_announced(&self, now: Instant, public_key: &PublicKey) -> bool {
        self.store.find(now, public_key).is_some()
    }

    /// Handles one onion datagram from `from`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        nodes: &impl CloseNodes,
    ) {
        self.stats.received += 1;
        self.relay.refresh_key(now, &mut self.rng);
        let packet = match Packet::decode(bytes) {
            Ok(packet) => packet,
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        let result = match packet {
            Packet::Request0(p) => self.peel(
                now,
                from,
                Hop::Client,
                &p.temporary_pk,
                |relay, rng, shared| relay.forward_request0(rng, from, shared, &p),
            ),
            Packet::Request1(p) => self.peel(
                now,
                from,
                Hop::Relay,
                &p.temporary_pk,
                |relay, rng, shared| relay.forward_request1(rng, from, shared, &p),
            ),
            Packet::Request2(p) => self.peel(
                now,
                from,
                Hop::Relay,
                &p.temporary_pk,
                |relay, rng, shared| relay.forward_request2(rng, from, shared, &p),
            ),
            Packet::Response3(p) => self.relay.return_response3(&p).map(Some),
            Packet::Response2(p) => self.relay.return_response2(&p).map(Some),
            Packet::Response1(p) => match self.relay.return_response1(&p) {
                Ok(Returned::Udp(forward)) => Ok(Some(forward)),
                Ok(Returned::Tcp { client, data }) => {
                    self.queue_tcp_response(TcpResponse { client, data });
                    Ok(None)
                }
                Err(error) => Err(error),
            },
            Packet::AnnounceRequest(request, ret) => {
                self.announce(now, from, &request, ret, nodes);
                Ok(None)
            }
            Packet::DataRequest(request, _) => {
                self.deliver(now, request);
                Ok(None)
            }
            Packet::AnnounceResponse(_) | Packet::DataResponse(_) => {
                self.stats.dropped_unserved += 1;
                Ok(None)
            }
        };
        match result {
            Ok(Some(Forward {
                destination,
                payload,
            })) => {
                if payload.first().is_some_and(|id| (0x8c..=0x8e).contains(id))
                    || bytes.first().is_some_and(|id| (0x8c..=0x8e).contains(id))
                {
                    self.stats.responses_relayed += 1;
                } else {
                    self.stats.requests_relayed += 1;
                }
                self.transmits.push_back(Transmit {
                    destination,
                    payload,
                });
            }
            Ok(None) => {}
            Err(error) => self.count(&error),
        }
    }

    /// An onion request from a client of this node's TCP relay, which uses
    /// the relay as hop A (checklist R9): `payload` follows the nonce in
    /// the request frame. It is charged to the client's host like a 0x80
    /// (it needs no Diffie-Hellman, so only the host budget applies), and
    /// the answer comes back through [`OnionServer::poll_tcp_response`].
    pub fn handle_tcp_request(
        &mut self,
        now: Instant,
        client: TcpClient,
        nonce: Nonce,
        payload: &[u8],
    ) {
        self.stats.received += 1;
        self.relay.refresh_key(now, &mut self.rng);
        if self
            .limiter(Hop::Client)
            .is_some_and(|l| !l.has_budget(now, &client.addr))
        {
            self.stats.dropped_rate_limited += 1;
            return;
        }
        self.charge(now, client.addr, Hop::Client);
        match self
            .relay
            .forward_tcp_request(&mut self.rng, client, nonce, payload)
        {
            Ok(Forward {
                destination,
                payload,
            }) => {
                self.stats.tcp_requests_relayed += 1;
                self.transmits.push_back(Transmit {
                    destination,
                    payload,
                });
            }
            Err(error) => self.count(&error),
        }
    }

    fn queue_tcp_response(&mut self, response: TcpResponse) {
        if self.tcp_responses.len() >= MAX_TCP_RESPONSES {
            self.stats.dropped_tcp_responses += 1;
            return;
        }
        self.stats.responses_relayed += 1;
        self.stats.tcp_responses += 1;
        self.tcp_responses.push_back(response);
    }

    /// The next response for a client of this node's TCP relay.
    pub fn poll_tcp_response(&mut self) -> Option<TcpResponse> {
        self.tcp_responses.pop_front()
    }

    /// One request layer: the host's budget, the shared key (within the
    /// global budget), the relay's work, and the charge once the layer
    /// opened. `Ok(None)` when dropped before any work (counted here).
    fn peel(
        &mut self,
        now: Instant,
        from: SocketAddr,
        hop: Hop,
        sender: &PublicKey,
        work: impl FnOnce(
            &Relay,
            &mut ChaCha20Rng,
            &toxide_core::SharedKey,
        ) -> Result<Forward, RelayError>,
    ) -> Result<Option<Forward>, RelayError> {
        let Some(shared) = self.shared_incoming(now, from, hop, sender) else {
            return Ok(None);
        };
        let result = work(&self.relay, &mut self.rng, &shared);
        if !matches!(result, Err(RelayError::Layer(OnionPacketError::Crypto(_)))) {
            self.charge(now, from, hop);
        }
        result.map(Some)
    }

    /// The limiter for packets from `hop`.
    fn limiter(&mut self, hop: Hop) -> Option<&mut RateLimiter> {
        match hop {
            Hop::Client => self.client_limiter.as_mut(),
            Hop::Relay => self.relay_limiter.as_mut(),
        }
    }

    /// The key shared with `sender`, if `from`'s host has budget left and
    /// the key is cached or may be computed now; counts the drop if not.
    fn shared_incoming(
        &mut self,
        now: Instant,
        from: SocketAddr,
        hop: Hop,
        sender: &PublicKey,
    ) -> Option<toxide_core::SharedKey> {
        if self.limiter(hop).is_some_and(|l| !l.has_budget(now, &from)) {
            self.stats.dropped_rate_limited += 1;
            return None;
        }
        match self
            .shared_keys
            .get_incoming(now, sender, &self.keys.secret)
        {
            Ok(key) => Some(key),
            Err(IncomingKeyError::OverBudget) => {
                self.stats.dropped_key_budget += 1;
                None
            }
            Err(IncomingKeyError::Crypto(_)) => {
                self.stats.dropped_low_order_key += 1;
                None
            }
        }
    }

    /// Charges `from`'s host for a request whose box opened.
    fn charge(&mut self, now: Instant, from: SocketAddr, hop: Hop) {
        if let Some(limiter) = self.limiter(hop) {
            limiter.charge(now, &from);
        }
    }

    fn count(&mut self, error: &RelayError) {
        let counter = match error {
            RelayError::Layer(OnionPacketError::Crypto(_)) => &mut self.stats.dropped_undecryptable,
            RelayError::Layer(_) | RelayError::TooLarge(_) => &mut self.stats.dropped_malformed,
            RelayError::Return(_) => &mut self.stats.dropped_bad_return,
            RelayError::TcpDestination => &mut self.stats.dropped_tcp,
            RelayError::NextHop(_) => &mut self.stats.dropped_next_hop,
            RelayError::ExitFilter(_) | RelayError::ResponseFilter(_) => {
                &mut self.stats.dropped_filtered
            }
        };
        *counter += 1;
    }

    fn announce(
        &mut self,
        now: Instant,
        from: SocketAddr,
        request: &AnnounceRequest,
        ret: OnionReturn3,
        nodes: &impl CloseNodes,
    ) {
        let Some(shared) = self.shared_incoming(now, from, Hop::Relay, &request.sender_pk) else {
            return;
        };
        let payload = match request.open(&shared) {
            Ok(payload) => {
                self.charge(now, from, Hop::Relay);
                payload
            }
            Err(error) => {
                let stats = &mut self.stats;
                *drop_counter(
                    &error,
                    &mut stats.dropped_undecryptable,
                    &mut stats.dropped_malformed,
                ) += 1;
                return;
            }
        };
        let secs = now.saturating_duration_since(self.start).as_secs();
        let answer = announce::answer(
            &mut self.store,
            &self.auth,
            now,
            secs,
            from,
            request.sender_pk,
            &payload,
            ret,
        );
        let response = AnnounceResponse::new(
            request.version,
            &shared,
            payload.sendback,
            Nonce::random(&mut self.rng),
            &AnnounceResponsePayload {
                status: answer.status,
                nodes: nodes.close_nodes(now, &payload.search_pk, is_lan(from.ip())),
            },
        );
        self.stats.announces_answered += 1;
        if answer.stored {
            self.stats.announces_stored += 1;
        }
        self.transmits.push_back(Transmit {
            destination: from,
            payload: OnionResponse3::new(ret, response.to_bytes()).to_bytes(),
        });
    }

    fn deliver(&mut self, now: Instant, request: OnionDataRequest) {
        let Some(entry) = self.store.find(now, &request.destination_pk) else {
            self.stats.dropped_not_announced += 1;
            return;
        };
        let packet = OnionResponse3::new(entry.onion_return, request.into_response().to_bytes());
        self.stats.data_delivered += 1;
        self.transmits.push_back(Transmit {
            destination: entry.return_addr,
            payload: packet.to_bytes(),
        });
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }
}
