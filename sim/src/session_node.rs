//! net_crypto alone as a simulated node: sessions between nodes that
//! already know each other, with no DHT or onion to find them.
//!
//! The scenario plays the part of the layers above and below: [`open`]
//! tells one side the other's real key, DHT key and address, as the
//! messenger would once the onion and the DHT had found them, and tells the
//! other side to expect it. What a test then needs is what arrived, when,
//! and what it cost, so a [`SessionNode`] keeps the layer's events with
//! their virtual times, a compact record of every data packet delivered
//! (size and sequence tag, not the bytes, unless asked: a bulk run
//! delivers hundreds of thousands), a goodput histogram per connection,
//! and counters of what it sent. It can also act as a file sender that
//! keeps the bulk queue full ([`SessionNode::start_bulk`]), because a
//! sender refilled only between simulator steps would be app-limited at
//! high rates and measure the test, not the congestion controller.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, PublicKey};
use toxide_net_crypto::{ConnectionId, Event, NetCrypto, Path};

use crate::{Network, Node};

/// Width of the goodput histogram's bins.
pub const BIN: Duration = Duration::from_millis(10);

/// The packet id [`SessionNode::start_bulk`] sends: c-toxcore's file data
/// (`PACKET_ID_FILE_DATA`), a lossless id net_crypto treats as bulk only
/// because the caller uses `send_bulk`.
pub const BULK_PACKET_ID: u8 = 82;

/// A payload of `len` bytes (at least 5): `packet_id`, then `tag`
/// big-endian, then filler. Its tag is what [`Arrival::tag`] reads back,
/// so order and uniqueness can be checked without keeping the bytes.
pub fn payload(packet_id: u8, tag: u32, len: usize) -> Bytes {
    let mut bytes = Vec::with_capacity(len.max(5));
    bytes.push(packet_id);
    bytes.extend_from_slice(&tag.to_be_bytes());
    bytes.resize(len.max(5), 0xa5);
    Bytes::from(bytes)
}

/// The tag a [`payload`] carries, if the bytes are long enough.
fn tag_of(data: &[u8]) -> Option<u32> {
    let tag: [u8; 4] = data.get(1..5)?.try_into().ok()?;
    Some(u32::from_be_bytes(tag))
}

/// One data packet as the layer delivered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Virtual time of delivery.
    pub at: Instant,
    /// Payload bytes, packet id included.
    pub len: usize,
    /// Bytes 1–4 big-endian (the tag of a [`payload`]).
    pub tag: Option<u32>,
}

/// What arrived on one connection.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    /// Lossless packets in delivery order.
    pub lossless: Vec<Arrival>,
    /// Lossy packets in delivery order.
    pub lossy: Vec<Arrival>,
    /// Lossless payload bytes in all.
    pub lossless_bytes: u64,
    /// Lossless payload bytes delivered in each [`BIN`] since the node
    /// started.
    pub bins: Vec<u64>,
    /// The lossless payloads themselves, if the node keeps them
    /// ([`SessionNode::keep_payloads`]).
    pub payloads: Vec<Bytes>,
}

/// What a node did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Datagrams the node sent.
    pub datagrams: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Timer wake-ups.
    pub wakes: u64,
    /// Wake-ups after which the node sent nothing: a few are normal (a
    /// timer for a handshake retry that is no longer needed), many mean a
    /// layer asks to be woken when it has nothing to do.
    pub idle_wakes: u64,
    /// Bulk packets the node's file senders queued.
    pub bulk_queued: u64,
    /// Bulk packets the layer refused although it reported space.
    pub bulk_refused: u64,
    /// Transmits on a path the simulator cannot carry (not direct UDP).
    pub unroutable: u64,
}

/// A file sender: keeps a connection's bulk queue full.
#[derive(Debug, Clone, Copy)]
struct BulkSource {
    id: ConnectionId,
    next: u32,
    count: Option<u32>,
    len: usize,
}

/// A [`NetCrypto`] on the simulator, recording what happens to it.
#[derive(Debug)]
pub struct SessionNode {
    /// The layer.
    pub layer: NetCrypto,
    real: PublicKey,
    dht: PublicKey,
    start: Instant,
    /// Every event but data packets (those are in [`Inbound`]), with the
    /// virtual time it was emitted.
    pub events: Vec<(Instant, Event)>,
    inbound: BTreeMap<ConnectionId, Inbound>,
    sources: Vec<BulkSource>,
    keep_payloads: bool,
    stats: NodeStats,
    /// A timer fired and nothing has been sent since.
    woke: bool,
}

impl SessionNode {
    /// A node with keys and layer randomness drawn from `seed`, whose
    /// clock starts at `start`.
    pub fn new(start: Instant, seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let real = KeyPair::generate(&mut rng);
        let dht = KeyPair::generate(&mut rng);
        let mut layer_seed = [0u8; 32];
        rand::Rng::fill_bytes(&mut rng, &mut layer_seed);
        let (real_pk, dht_pk) = (real.public, dht.public);
        Self {
            layer: NetCrypto::new(real, dht, None, start, layer_seed),
            real: real_pk,
            dht: dht_pk,
            start,
            events: Vec::new(),
            inbound: BTreeMap::new(),
            sources: Vec::new(),
            keep_payloads: false,
            stats: NodeStats::default(),
            woke: false,
        }
    }

    /// Keeps every lossless payload's bytes from now on (small runs that
    /// compare them whole).
    pub fn keep_payloads(&mut self, keep: bool) {
        self.keep_payloads = keep;
    }

    /// Our long-term key.
    pub fn real_pk(&self) -> PublicKey {
        self.real
    }

    /// Our DHT key.
    pub fn dht_pk(&self) -> PublicKey {
        self.dht
    }

    /// What the node did.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// What arrived on `id`.
    pub fn inbound(&self, id: ConnectionId) -> Option<&Inbound> {
        self.inbound.get(&id)
    }

    /// When `id` reported [`Event::Established`].
    pub fn established_at(&self, id: ConnectionId) -> Option<Instant> {
        self.events.iter().find_map(|(t, e)| match e {
            Event::Established { id: i } if *i == id => Some(*t),
            _ => None,
        })
    }

    /// Makes the node a file sender on `id`: `count` packets (`None`: as
    /// many as tags go) of `len` bytes tagged 0, 1, 2…, queued with `send_bulk`
    /// whenever `bulk_space` allows, from the moment the session is up.
    pub fn start_bulk(&mut self, id: ConnectionId, count: Option<u32>, len: usize) {
        self.sources.push(BulkSource {
            id,
            next: 0,
            count,
            len,
        });
        self.refill();
    }

    /// Payload bytes per second delivered on `id` over `[from, to)` since
    /// the node started, in whole [`BIN`]s.
    pub fn goodput(&self, id: ConnectionId, from: Duration, to: Duration) -> f64 {
        let (first, last) = (bin_index(from), bin_index(to));
        let secs = last.saturating_sub(first) as f64 * BIN.as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        let bytes: u64 = self
            .inbound
            .get(&id)
            .map(|inbound| {
                inbound
                    .bins
                    .iter()
                    .skip(first)
                    .take(last.saturating_sub(first))
                    .sum()
            })
            .unwrap_or(0);
        bytes as f64 / secs
    }

    /// The end (since the node started) of the first `window` in which the
    /// connections `ids` together delivered at least `rate` payload bytes
    /// per second.
    pub fn reaches(&self, ids: &[ConnectionId], rate: f64, window: Duration) -> Option<Duration> {
        let width = bin_index(window).max(1);
        let bins = ids
            .iter()
            .filter_map(|id| self.inbound.get(id))
            .map(|inbound| inbound.bins.len())
            .max()?;
        let total: Vec<u64> = (0..bins)
            .map(|b| {
                ids.iter()
                    .filter_map(|id| self.inbound.get(id))
                    .filter_map(|inbound| inbound.bins.get(b))
                    .sum()
            })
            .collect();
        let need = rate * window.as_secs_f64();
        let mut sum = 0u64;
        for (b, value) in total.iter().enumerate() {
            sum += value;
            if let Some(old) = b.checked_sub(width).and_then(|o| total.get(o)) {
                sum = sum.saturating_sub(*old);
            }
            if b + 1 >= width && sum as f64 >= need {
                return Some(BIN * u32::try_from(b + 1).unwrap_or(u32::MAX));
            }
        }
        None
    }

    /// Keeps every file sender's queue full.
    fn refill(&mut self) {
        for source in &mut self.sources {
            while source.next < source.count.unwrap_or(u32::MAX)
                && self.layer.bulk_space(source.id) > 0
            {
                let data = payload(BULK_PACKET_ID, source.next, source.len);
                if self.layer.send_bulk(source.id, data).is_err() {
                    self.stats.bulk_refused += 1;
                    break;
                }
                self.stats.bulk_queued += 1;
                source.next = source.next.saturating_add(1);
            }
        }
    }

    fn drain(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                Event::Lossless { id, data } => {
                    let inbound = self.inbound.entry(id).or_default();
                    let bin = bin_index(now.saturating_duration_since(self.start));
                    if inbound.bins.len() <= bin {
                        inbound.bins.resize(bin + 1, 0);
                    }
                    if let Some(slot) = inbound.bins.get_mut(bin) {
                        *slot += data.len() as u64;
                    }
                    inbound.lossless_bytes += data.len() as u64;
                    inbound.lossless.push(Arrival {
                        at: now,
                        len: data.len(),
                        tag: tag_of(&data),
                    });
                    if self.keep_payloads {
                        inbound.payloads.push(data);
                    }
                }
                Event::Lossy { id, data } => {
                    self.inbound.entry(id).or_default().lossy.push(Arrival {
                        at: now,
                        len: data.len(),
                        tag: tag_of(&data),
                    });
                }
                other => self.events.push((now, other)),
            }
        }
    }
}

/// Which [`BIN`] a time since the start falls in.
fn bin_index(since_start: Duration) -> usize {
    usize::try_from(since_start.as_nanos() / BIN.as_nanos()).unwrap_or(usize::MAX)
}

impl Node for SessionNode {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.layer.handle_datagram(now, Path::Udp(from), bytes);
        self.drain(now);
        self.refill();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stats.wakes += 1;
        self.woke = true;
        self.layer.handle_timeout(now);
        self.drain(now);
        self.refill();
    }

    fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.layer.poll_timeout(now)
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.refill();
        loop {
            let Some(transmit) = self.layer.poll_transmit(now) else {
                if std::mem::take(&mut self.woke) {
                    self.stats.idle_wakes += 1;
                }
                return None;
            };
            match transmit.path {
                Path::Udp(to) => {
                    self.woke = false;
                    self.stats.datagrams += 1;
                    self.stats.bytes += transmit.payload.len() as u64;
                    return Some((to, transmit.payload));
                }
                #[allow(unreachable_patterns)]
                _ => self.stats.unroutable += 1,
            }
        }
    }
}

/// Opens a session from node `from` to node `to` as the layers above would
/// once they had found each other: `to` expects `from`'s real key, and
/// `from` connects with `to`'s real and DHT keys at `to`'s address. The
/// handshake starts on `from`'s next wake-up. Returns `from`'s connection
/// id (`to` learns its own from [`Event::Accepted`]).
pub fn open(net: &mut Network<SessionNode>, from: usize, to: usize) -> Option<ConnectionId> {
    let (to_real, to_dht) = net.nodes().get(to).map(|n| (n.real_pk(), n.dht_pk()))?;
    let from_real = net.nodes().get(from)?.real_pk();
    net.node_mut(to)?.layer.accept_from(from_real);
    let node = net.node_mut(from)?;
    let id = node.layer.connect(to_real, to_dht)?;
    node.layer
        .set_direct_addr(id, Network::<SessionNode>::addr(to));
    net.flush(from);
    Some(id)
}
