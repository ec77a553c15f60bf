//! 1,000 DHT nodes join through one seed node on the simulator; we measure
//! how well their close lists hold their true nearest neighbours and how
//! many hops a lookup takes, with a clean network, with 10% loss and with
//! 20% churn. Figures are printed (run with `--nocapture`) and the
//! assertions hold them to what a working Kademlia must reach.

// Test code: a panic is a test failure, which is what we want here.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use toxide_core::{PackedNode, PublicKey};
use toxide_dht::distance::compare;
use toxide_dht::{Config, Dht};
use toxide_sim::{DhtNode, LinkConfig, Network};

const NODES: usize = 1000;

struct Figures {
    /// Mean share of each node's 8 true nearest online neighbours that are
    /// good entries of its close list.
    nearest_held: f64,
    /// Share of nodes holding all 8.
    all_held: f64,
    /// Mean queries of an iterative lookup that found the true closest node.
    lookup_hops: f64,
    /// Share of lookups that found it.
    lookup_success: f64,
    /// Datagrams sent per node per minute.
    packets_per_node_minute: f64,
}

fn build(link: LinkConfig, seed: u64) -> Network<DhtNode> {
    let start = Instant::now();
    let mut net = Network::new(link, start, seed);
    for _ in 0..NODES {
        let node_seed = net.node_seed();
        net.add(DhtNode::new(Dht::new(Config::default(), start, node_seed)));
    }
    let seed_node = PackedNode::udp(Network::<DhtNode>::addr(0), net.nodes()[0].dht.public_key());
    for i in 1..NODES {
        net.node_mut(i).unwrap().dht.bootstrap(start, seed_node);
        net.flush(i);
    }
    net
}

fn measure(net: &Network<DhtNode>, minutes: f64) -> Figures {
    let now = net.now();
    let online: Vec<usize> = (0..NODES).filter(|&i| net.is_online(i)).collect();
    let keys: Vec<PublicKey> = net.nodes().iter().map(|n| n.dht.public_key()).collect();
    let by_key: HashMap<PublicKey, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();

    let mut held_sum = 0.0;
    let mut all_held = 0usize;
    for &i in &online {
        let own = keys[i];
        let mut others: Vec<PublicKey> = online
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| keys[j])
            .collect();
        others.sort_by(|a, b| compare(&own, a, b));
        let list = net.nodes()[i].dht.close_list();
        let held = others
            .iter()
            .take(8)
            .filter(|k| list.get(k).is_some_and(|c| !c.is_bad(now)))
            .count();
        held_sum += held as f64 / 8.0;
        if held == 8 {
            all_held += 1;
        }
    }

    // Iterative lookups driven through the nodes' own answers.
    let mut hops_sum = 0usize;
    let mut found = 0usize;
    let lookups = 200usize;
    for l in 0..lookups {
        let target = keys[online[(l * 7919) % online.len()]];
        let mut target_bytes = *target.as_bytes();
        target_bytes[31] ^= 1; // a key near, but not equal to, an online node
        let target = PublicKey::new(target_bytes);
        let truth = *online
            .iter()
            .map(|&j| &keys[j])
            .min_by(|a, b| compare(&target, a, b))
            .unwrap();
        let start_node = online[(l * 104_729 + 13) % online.len()];
        // Iterative lookup: always ask the closest candidate not yet asked;
        // an offline one costs a query (a timeout) and is skipped.
        let mut candidates: Vec<PublicKey> = net.nodes()[start_node]
            .dht
            .closest_nodes(now, &target, 4, true)
            .iter()
            .map(|n| n.public_key)
            .collect();
        let mut asked = std::collections::HashSet::new();
        let mut best = keys[start_node];
        let mut hops = 0;
        while hops < 30 {
            candidates.sort_by(|a, b| compare(&target, a, b));
            let Some(next) = candidates.iter().find(|k| !asked.contains(*k)).copied() else {
                break;
            };
            if compare(&target, &next, &best) != std::cmp::Ordering::Less && asked.len() > 3 {
                break;
            }
            asked.insert(next);
            hops += 1;
            let Some(&idx) = by_key.get(&next) else {
                continue;
            };
            if !net.is_online(idx) {
                continue;
            }
            if compare(&target, &next, &best) == std::cmp::Ordering::Less {
                best = next;
            }
            for n in net.nodes()[idx].dht.closest_nodes(now, &target, 4, true) {
                if !candidates.contains(&n.public_key) {
                    candidates.push(n.public_key);
                }
            }
        }
        if best == truth {
            found += 1;
            hops_sum += hops;
        }
    }

    Figures {
        nearest_held: held_sum / online.len() as f64,
        all_held: all_held as f64 / online.len() as f64,
        lookup_hops: hops_sum as f64 / found.max(1) as f64,
        lookup_success: found as f64 / lookups as f64,
        packets_per_node_minute: net.stats().sent as f64 / NODES as f64 / minutes,
    }
}

fn report(name: &str, f: &Figures) {
    println!(
        "{name}: nearest-8 held {:.1}% (all 8: {:.1}% of nodes), lookups found the closest node {:.1}% in {:.2} hops, {:.0} packets/node/min",
        f.nearest_held * 100.0,
        f.all_held * 100.0,
        f.lookup_success * 100.0,
        f.lookup_hops,
        f.packets_per_node_minute,
    );
}

#[test]
fn thousand_nodes_converge() {
    let mut net = build(LinkConfig::default(), 1);
    let until = net.now() + Duration::from_secs(180);
    net.run_until(until);
    let f = measure(&net, 3.0);
    report("1000 nodes, no loss", &f);
    assert!(f.nearest_held > 0.95, "nearest held {}", f.nearest_held);
    assert!(
        f.lookup_success > 0.95,
        "lookup success {}",
        f.lookup_success
    );
}

#[test]
fn thousand_nodes_converge_with_loss() {
    let link = LinkConfig {
        loss: 0.10,
        ..LinkConfig::default()
    };
    let mut net = build(link, 2);
    let until = net.now() + Duration::from_secs(180);
    net.run_until(until);
    let f = measure(&net, 3.0);
    report("1000 nodes, 10% loss", &f);
    assert!(f.nearest_held > 0.9, "nearest held {}", f.nearest_held);
    assert!(
        f.lookup_success > 0.9,
        "lookup success {}",
        f.lookup_success
    );
}

#[test]
fn thousand_nodes_converge_with_churn() {
    let mut net = build(LinkConfig::default(), 3);
    // Let the network form, then keep 20% of the nodes (never the seed)
    // offline, a different 20% each minute.
    let start = net.now();
    net.run_until(start + Duration::from_secs(60));
    for minute in 1..4u64 {
        for i in 1..NODES {
            let off = net.random_f64() < 0.2;
            net.set_online(i, !off);
        }
        net.run_until(start + Duration::from_secs(60 * (minute + 1)));
    }
    let f = measure(&net, 4.0);
    report("1000 nodes, 20% churn", &f);
    assert!(f.nearest_held > 0.8, "nearest held {}", f.nearest_held);
    assert!(
        f.lookup_success > 0.8,
        "lookup success {}",
        f.lookup_success
    );
}
