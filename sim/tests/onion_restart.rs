//! How fast friends find each other again after both restart from their
//! saves, and what a settled client costs the network.
//!
//! The scenario is the loopback set-up of `tests/tox_api.rs` on the
//! simulator: one long-lived bootstrap node (DHT and onion server) and
//! full clients that also serve the onion, as the `Tox` builder makes
//! them. Two friends connect, settle, then both stop and start again with
//! new DHT keys and new addresses (a restart binds a new port): the
//! bootstrap node still lists their old keys and stores their old
//! announcements, so the first answers they get about each other are
//! stale. A restarted client learns its friend's new DHT key only through
//! the onion (checklist O11, O15): it must build paths, get announced,
//! find the friend's announce nodes and send its DHT-PK announcement there.
//! The onion client's early schedule (see `toxide_onion::client`) makes
//! that take well under two seconds instead of c-toxcore's ~9.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey};
use toxide_sim::stack_node::{build_client, build_stack};
use toxide_sim::{LinkConfig, Network, StackNode};

/// Steps one run may take before the test calls it a stall.
const STEP_BUDGET: u64 = 5_000_000;

/// The network, and each client's long-term identity by its key: what a
/// save file keeps across a restart.
struct World {
    net: Network<StackNode>,
    ids: HashMap<PublicKey, (KeyPair, NoSpam)>,
}

/// Loopback: a tenth of a millisecond each way.
fn loopback() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_micros(100),
        jitter: Duration::from_micros(50),
        ..LinkConfig::default()
    }
}

/// Starts a client for `real` that knows `friends`, bootstrapped from
/// node 0 and, as after loading a save, with `saved` DHT nodes; returns
/// its index (a new address).
fn start_client(
    world: &mut World,
    real: KeyPair,
    nospam: NoSpam,
    friends: &[PublicKey],
    saved: Vec<PackedNode>,
) -> usize {
    let net = &mut world.net;
    let now = net.now();
    // The driver passes UNIX seconds as the no-replay base; virtual ones
    // will do.
    let base = 1_000_000 + net.elapsed().as_secs();
    let built = build_client(net.node_seed(), now, real.clone(), nospam, base);
    world.ids.insert(real.public, (real, nospam));
    let mut client = StackNode::new(built);
    let bootstrap = PackedNode::udp(Network::<StackNode>::addr(0), net.nodes()[0].dht);
    for friend in friends {
        client.stack.add_friend(*friend).unwrap();
    }
    client.stack.dht.load_nodes(saved);
    client.stack.dht.bootstrap(now, bootstrap);
    client
        .stack
        .client
        .as_mut()
        .unwrap()
        .add_bootstrap_node(bootstrap);
    let index = net.add(client);
    net.flush(index);
    index
}

/// A bootstrap node and `clients` clients; clients 1 and 2 are friends.
fn network(seed: u64, clients: usize) -> (World, [usize; 2]) {
    let mut net: Network<StackNode> = Network::new(loopback(), Instant::now(), seed);
    let bootstrap = build_stack(net.node_seed(), net.now(), false, false);
    net.add(StackNode::new(bootstrap));
    let mut world = World {
        net,
        ids: HashMap::new(),
    };
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let ids: Vec<(KeyPair, NoSpam)> = (0..clients)
        .map(|_| (KeyPair::generate(&mut rng), NoSpam::random(&mut rng)))
        .collect();
    let (a, b) = (ids[0].0.public, ids[1].0.public);
    let mut indices = Vec::new();
    for (i, (real, nospam)) in ids.into_iter().enumerate() {
        let friends: &[PublicKey] = match i {
            0 => &[b],
            1 => &[a],
            _ => &[],
        };
        indices.push(start_client(&mut world, real, nospam, friends, Vec::new()));
    }
    (world, [indices[0], indices[1]])
}

/// Runs in slices of 10 ms until `done` holds or `limit` passes; when it
/// first held, as time since the call.
fn run_until(
    net: &mut Network<StackNode>,
    limit: Duration,
    mut done: impl FnMut(&Network<StackNode>) -> bool,
) -> Option<Duration> {
    let begin = net.now();
    while net.now() < begin + limit {
        if done(net) {
            return Some(net.now() - begin);
        }
        let until = net.now() + Duration::from_millis(10);
        if let Err(stalled) = net.run_until_bounded(until, STEP_BUDGET) {
            panic!("the simulation stalled: {stalled:?}");
        }
    }
    done(net).then(|| net.now() - begin)
}

fn both_online_since(pair: [usize; 2], since: Instant) -> impl Fn(&Network<StackNode>) -> bool {
    move |net| {
        pair.iter()
            .all(|&i| net.nodes()[i].online_since().is_some_and(|at| at >= since))
    }
}

/// Stops both friends and starts them again from their "saves" (keys,
/// friend, DHT nodes); the new pair of indices.
fn restart_both(world: &mut World, pair: [usize; 2]) -> [usize; 2] {
    let saved: Vec<(KeyPair, NoSpam, Vec<PackedNode>)> = pair
        .iter()
        .map(|&i| {
            let node = &world.net.nodes()[i];
            let (real, nospam) = world.ids[&node.real].clone();
            (real, nospam, node.stack.dht.saved_nodes())
        })
        .collect();
    let net = &mut world.net;
    for &i in &pair {
        let now = net.now();
        net.node_mut(i).unwrap().stack.end_sessions(now);
        net.flush(i);
        net.set_online(i, false);
    }
    let keys: Vec<PublicKey> = saved.iter().map(|(k, _, _)| k.public).collect();
    let mut out = [0; 2];
    for (n, (real, nospam, nodes)) in saved.into_iter().enumerate() {
        let friend = keys[1 - n];
        out[n] = start_client(world, real, nospam, &[friend], nodes);
    }
    out
}

/// When both sides of `pair` had learned the other's DHT key through the
/// onion at or after `since`, as time since `since`.
fn both_learned(net: &Network<StackNode>, pair: [usize; 2], since: Instant) -> Option<Duration> {
    pair.iter()
        .map(|&i| {
            net.nodes()[i]
                .news
                .iter()
                .find(|t| **t >= since)
                .map(|t| *t - since)
        })
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()
}

/// What one run measured, as times since the start (first contact) or
/// the restart: both sides learned the other's DHT key, both online.
#[derive(Debug)]
struct Run {
    first_learned: Duration,
    first_online: Duration,
    restart_learned: Duration,
    restart_online: Duration,
}

/// First contact, then a restart of both friends, on `clients` clients.
fn connect_and_restart(seed: u64, clients: usize) -> Run {
    let (mut world, pair) = network(seed, clients);
    let net = &mut world.net;
    let start = net.now();
    let first_online = run_until(net, Duration::from_secs(60), both_online_since(pair, start))
        .expect("first contact: no session in 60 s");
    let first_learned = both_learned(net, pair, start).expect("learned no key");
    // Settle: what a save taken now holds (DHT nodes) is what a long-lived
    // client saves.
    run_until(net, Duration::from_secs(30), |_| false);
    let pair = restart_both(&mut world, pair);
    let net = &mut world.net;
    let restarted = net.now();
    let restart_online = run_until(
        net,
        Duration::from_secs(60),
        both_online_since(pair, restarted),
    )
    .expect("after the restart: no session in 60 s");
    let restart_learned = both_learned(net, pair, restarted).expect("learned no key");
    Run {
        first_learned,
        first_online,
        restart_learned,
        restart_online,
    }
}

/// The onion part is the early schedule's: both learn the other's new
/// DHT key within half a second. The rest is the DHT finding the address
/// that key answers from, on the DHT's own once-a-second tick: the
/// bootstrap node meets the restarted clients only at its next ping round
/// (c-toxcore's `TIME_TO_PING` batches), and a searcher asks the friend
/// whose address it just heard of only at its own next tick. With
/// c-toxcore's onion schedule alone this took 10.0 s on every seed.
fn check(run: &Run, what: &str) {
    eprintln!("{what}: {run:?}");
    assert!(
        run.first_learned < Duration::from_millis(500)
            && run.restart_learned < Duration::from_millis(500),
        "{what}: {run:?}"
    );
    // A fresh network: the bootstrap node knows nobody to name at first.
    assert!(run.first_online < Duration::from_secs(4), "{what}: {run:?}");
    assert!(
        run.restart_online < Duration::from_millis(2500),
        "{what}: {run:?}"
    );
}

#[test]
fn friends_restarted_from_their_saves_find_each_other_at_once() {
    for seed in 0..12 {
        check(
            &connect_and_restart(0x0e5a_0000 + seed, 2),
            &format!("seed {seed}"),
        );
    }
}

#[test]
fn on_a_bigger_network_too() {
    for seed in 0..4 {
        let run = connect_and_restart(0x0e5b_0000 + seed, 23);
        check(&run, &format!("24 nodes, seed {seed}"));
    }
}

/// Datagrams a settled client sends per minute (ten to twenty minutes
/// after the start, its friend long connected): what it sends of its own
/// (DHT, its onion client's requests, its session), what its onion client
/// sends (0x80, the first hop of every path), and, per node, everything
/// the network carried (relaying for others included, which depends on
/// whose nodes the random paths went through).
fn settled(seed: u64, clients: usize) -> (f64, f64, f64) {
    let (mut world, pair) = network(seed, clients);
    let net = &mut world.net;
    let start = net.now();
    run_until(net, Duration::from_secs(60), both_online_since(pair, start))
        .expect("no session in 60 s");
    run_until(net, Duration::from_secs(600), |_| false);
    let from = net.now();
    run_until(net, Duration::from_secs(600), |_| false);
    let to = net.now();
    let minutes = (to - from).as_secs_f64() / 60.0;
    let relayed = |id: u8| (0x81..=0x8e).contains(&id);
    let (mut own, mut onion, mut all) = (0, 0, 0);
    for (i, peer) in net.nodes().iter().enumerate() {
        for sent in &peer.sent {
            let (t, id) = (sent.at, sent.id);
            if t < from || t >= to {
                continue;
            }
            all += 1;
            if i > 0 && !relayed(id) {
                own += 1;
                if id == 0x80 {
                    onion += 1;
                }
            }
        }
    }
    let per_client = |n: usize| n as f64 / clients as f64 / minutes;
    let per_node = all as f64 / net.nodes().len() as f64 / minutes;
    (per_client(own), per_client(onion), per_node)
}

/// The early schedule must not make a settled client chattier.
#[test]
fn a_settled_client_is_no_chattier() {
    // Measured with c-toxcore's schedule alone (before the early one was
    // added), same seeds: 2 clients 405.4 own (360.0 onion client), 398.2
    // per node; 23 clients 143.7 own (48.1 onion client), 261.6 per node.
    for (clients, own_before, onion_before) in [(2, 477.3, 372.0), (23, 143.7, 48.1)] {
        let (own, onion, all) = settled(0x0e5c_0001, clients);
        eprintln!(
            "{clients} clients, settled, per minute: {own:.1} datagrams of a client's own \
             ({onion:.1} from its onion client), {all:.1} per node in all"
        );
        // A little slack for the random draws.
        assert!(own <= own_before * 1.05, "{clients} clients: {own:.1}");
        assert!(
            onion <= onion_before * 1.05,
            "{clients} clients: {onion:.1}"
        );
    }
}
