//! The request packets: built before the flood, so sending costs a copy.

use std::net::{IpAddr, Ipv4Addr};
use std::thread;

use rand::Rng as _;
use toxide_core::{Encode, KeyPair, Nonce, PublicKey, SharedKey};
use toxide_dht::packet::{NodesRequest, NodesRequestPayload};

use crate::Result;

/// Request packets per key in the pool, with distinct request ids: enough
/// that each socket has more distinct packets than it keeps outstanding.
const VARIANTS_PER_KEY: usize = 64;

/// A ready-to-send nodes request and what it takes to check its answer.
pub(crate) struct Request {
    pub(crate) packet: Vec<u8>,
    pub(crate) shared: SharedKey,
    pub(crate) request_id: u64,
    /// Which sender key (index into the pool or the fresh list).
    pub(crate) key: usize,
}

pub(crate) fn random_pk() -> PublicKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    PublicKey::new(bytes)
}

pub(crate) fn nodes_request(sender: &KeyPair, shared: &SharedKey, key: usize) -> Request {
    let request_id = rand::rng().next_u64();
    let packet = NodesRequest::new(
        shared,
        sender.public,
        Nonce::random(&mut rand::rng()),
        &NodesRequestPayload {
            search_pk: random_pk(),
            request_id,
        },
    )
    .to_bytes();
    debug_assert_eq!(packet.len(), 113);
    Request {
        packet,
        shared: shared.clone(),
        request_id,
        key,
    }
}

/// `count` sender keys, at most two sharing byte 30 (c-toxcore files its
/// shared-key cache by that byte, four to a slot: more would thrash it and
/// turn the pool into a DH benchmark for tox-bootstrapd alone), each with
/// [`VARIANTS_PER_KEY`] requests.
pub(crate) fn build_pool(server_pk: &PublicKey, count: usize) -> Result<Vec<Request>> {
    let mut per_slot = [0u8; 256];
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count.saturating_mul(64) {
        if keys.len() == count {
            break;
        }
        let pair = KeyPair::generate(&mut rand::rng());
        let slot = pair.public.as_bytes().get(30).copied().unwrap_or(0);
        if let Some(n) = per_slot.get_mut(usize::from(slot)).filter(|n| **n < 2) {
            *n += 1;
            keys.push(pair);
        }
    }
    if keys.len() < count {
        return Err("could not draw the sender keys".into());
    }
    let mut out = Vec::with_capacity(count * VARIANTS_PER_KEY);
    for (key, pair) in keys.iter().enumerate() {
        let shared = SharedKey::new(server_pk, &pair.secret)?;
        for _ in 0..VARIANTS_PER_KEY {
            out.push(nodes_request(pair, &shared, key));
        }
    }
    Ok(out)
}

/// One request each from `count` new keys, built on all cores.
pub(crate) fn build_fresh(server_pk: &PublicKey, count: usize) -> Result<Vec<Request>> {
    with_new_keys(server_pk, count, |key, pair, shared| {
        nodes_request(pair, shared, key)
    })
}

/// `make(index, key pair, shared key with the server)` for `count` new
/// key pairs, in index order, spread over all cores (each new key is an
/// X25519).
fn with_new_keys<T: Send>(
    server_pk: &PublicKey,
    count: usize,
    make: impl Fn(usize, &KeyPair, &SharedKey) -> T + Sync,
) -> Result<Vec<T>> {
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let chunk = count.div_ceil(threads);
    let make = &make;
    let parts = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let start = t * chunk;
                    let end = count.min(start + chunk);
                    (start..end)
                        .map(|index| {
                            let pair = KeyPair::generate(&mut rand::rng());
                            SharedKey::new(server_pk, &pair.secret)
                                .map(|shared| make(index, &pair, &shared))
                        })
                        .collect::<std::result::Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    });
    let mut out = Vec::with_capacity(count);
    for part in parts {
        out.extend(part.map_err(|_| "a builder thread panicked")??);
    }
    Ok(out)
}

/// Most distinct clients: one per address 127.2.x.y, y from 1 to 254.
pub(crate) const MAX_DISTINCT: usize = 256 * 254;

/// Requests per distinct client: each has at most one in flight, and a few
/// more distinct packets let a late answer be told from the current one.
const VARIANTS_PER_CLIENT: usize = 4;

/// One client of the "distinct" scenarios: its own key, its own address.
pub(crate) struct Client {
    /// The loopback address it sends from (port chosen at bind).
    pub(crate) addr: IpAddr,
    /// Its requests, with distinct ids.
    pub(crate) requests: Vec<Request>,
}

/// The clients of one "distinct" scenario.
pub(crate) struct DistinctSet {
    pub(crate) clients: Vec<Client>,
}

/// The loopback address of distinct client `index`: 127.2.x.y. All of
/// 127.0.0.0/8 reaches the loopback interface on Linux, so every client is
/// a host of its own to the server (as many clients behind as many NATs
/// are), with no interface to configure.
fn distinct_addr(index: usize) -> IpAddr {
    let hi = u8::try_from(index / 254).unwrap_or(u8::MAX);
    let lo = u8::try_from(index % 254 + 1).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(127, 2, hi, lo))
}

/// `count` clients, each with a new key and [`VARIANTS_PER_CLIENT`]
/// requests, built on all cores.
pub(crate) fn build_distinct(server_pk: &PublicKey, count: usize) -> Result<DistinctSet> {
    let clients = with_new_keys(server_pk, count, |index, pair, shared| Client {
        addr: distinct_addr(index),
        requests: (0..VARIANTS_PER_CLIENT)
            .map(|_| nodes_request(pair, shared, index))
            .collect(),
    })?;
    Ok(DistinctSet { clients })
}
