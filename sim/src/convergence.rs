//! The DHT convergence experiment: N nodes join through one seed node, the
//! network runs for some virtual minutes (with loss or churn if asked),
//! and we measure how well the close lists hold each node's true nearest
//! neighbours and how many queries an iterative lookup takes.
//!
//! The 1,000-node test (`tests/dht_convergence.rs`) and the 10,000-node
//! example (`examples/dht_scale.rs`) both run it, so they report the same
//! figures computed the same way.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use toxide_core::{PackedNode, PublicKey};
use toxide_dht::distance::compare;
use toxide_dht::{Config, Dht};

use crate::{DhtNode, LinkConfig, Network};

/// How many nearest neighbours a node's close list should hold: the
/// number of closest nodes a `NodesResponse` carries.
const NEAREST: usize = 8;

/// Iterative lookups run per measurement.
const LOOKUPS: usize = 200;

/// Queries after which a lookup gives up.
const MAX_LOOKUP_QUERIES: usize = 30;

/// One run of the experiment: how many nodes, how the links behave, how
/// much churn and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Nodes in the network; node 0 is the seed every other bootstraps from.
    pub nodes: usize,
    /// Link latency, jitter and loss.
    pub link: LinkConfig,
    /// Share of nodes (never the seed) offline at any time, a fresh draw
    /// each minute; 0 for none.
    pub churn: f64,
    /// Virtual minutes to run. With churn, [`Scenario::settle`] clean
    /// minutes for the network to form come first.
    pub minutes: u64,
    /// Clean minutes before churn starts: 1 lets the network form; more
    /// lets its nodes turn stable (toxide checks a node that has been good
    /// for 5 minutes less often), so churn then hits a settled network.
    pub settle: u64,
    /// Seed of all randomness.
    pub seed: u64,
}

impl Scenario {
    /// `nodes` nodes on default links, no churn, for 3 minutes.
    pub fn new(nodes: usize, seed: u64) -> Self {
        Self {
            nodes,
            link: LinkConfig::default(),
            churn: 0.0,
            minutes: 3,
            settle: 1,
            seed,
        }
    }

    /// The network, every node but the seed node having sent its
    /// bootstrap request to node 0.
    pub fn build(&self) -> Network<DhtNode> {
        let start = Instant::now();
        let mut net = Network::new(self.link, start, self.seed);
        for _ in 0..self.nodes {
            let node_seed = net.node_seed();
            net.add(DhtNode::new(Dht::new(Config::default(), start, node_seed)));
        }
        let Some(seed_key) = net.nodes().first().map(|n| n.dht.public_key()) else {
            return net;
        };
        let seed_node = PackedNode::udp(Network::<DhtNode>::addr(0), seed_key);
        for i in 1..self.nodes {
            if let Some(node) = net.node_mut(i) {
                node.dht.bootstrap(start, seed_node);
            }
            net.flush(i);
        }
        net
    }

    /// Runs the built network through the scenario, calling `progress`
    /// after each virtual minute with the minute's number and the steps
    /// (deliveries and timer wake-ups) it took. Returns all steps taken.
    pub fn run(
        &self,
        net: &mut Network<DhtNode>,
        mut progress: impl FnMut(u64, u64, &Network<DhtNode>),
    ) -> u64 {
        let start = net.now();
        let mut steps = 0;
        let mut minute = 0;
        if self.churn > 0.0 {
            // Let the network form, then keep a share of the nodes (never
            // the seed) offline, a different share each minute.
            minute = self.settle.max(1) - 1;
            let s = net.run_until(start + Duration::from_secs(60 * (minute + 1)));
            steps += s;
            progress(minute, s, net);
            for _ in 0..self.minutes {
                for i in 1..self.nodes {
                    let off = net.random_f64() < self.churn;
                    net.set_online(i, !off);
                }
                minute += 1;
                let s = net.run_until(start + Duration::from_secs(60 * (minute + 1)));
                steps += s;
                progress(minute, s, net);
            }
        } else {
            for _ in 0..self.minutes {
                minute += 1;
                let s = net.run_until(start + Duration::from_secs(60 * minute));
                steps += s;
                progress(minute, s, net);
            }
        }
        steps
    }

    /// Builds, runs and measures.
    pub fn figures(&self) -> Figures {
        let mut net = self.build();
        self.run(&mut net, |_, _, _| {});
        Figures::measure(&net)
    }
}

/// Names the scenario as the reports do: "1000 nodes, 10% loss".
impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} nodes", self.nodes)?;
        if self.link.loss > 0.0 {
            write!(f, ", {}% loss", percent(self.link.loss))?;
        }
        if self.churn > 0.0 {
            write!(f, ", {}% churn", percent(self.churn))?;
        }
        if self.link.loss <= 0.0 && self.churn <= 0.0 {
            write!(f, ", no loss")?;
        }
        Ok(())
    }
}

/// A share as a percentage to one decimal, printed without a trailing
/// ".0" (0.1 is "10", not "10.000000000000002").
fn percent(share: f64) -> f64 {
    (share * 1000.0).round() / 10.0
}

/// What the experiment measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Mean share of each online node's 8 true nearest online neighbours
    /// that are good entries of its close list.
    pub nearest_held: f64,
    /// Share of online nodes holding all 8.
    pub all_held: f64,
    /// Mean queries of an iterative lookup that found the true closest node.
    pub lookup_hops: f64,
    /// Share of lookups that found it.
    pub lookup_success: f64,
    /// Datagrams sent per node per virtual minute since the start.
    pub packets_per_node_minute: f64,
}

impl Figures {
    /// Measures the network as it stands.
    pub fn measure(net: &Network<DhtNode>) -> Self {
        let now = net.now();
        let nodes = net.nodes();
        let online: Vec<usize> = (0..nodes.len()).filter(|&i| net.is_online(i)).collect();
        let keys: Vec<PublicKey> = nodes.iter().map(|n| n.dht.public_key()).collect();
        let key = |i: usize| keys.get(i).copied();
        let online_keys: Vec<PublicKey> = online.iter().filter_map(|&i| key(i)).collect();

        let mut held_sum = 0.0;
        let mut all_held = 0usize;
        for (&i, own) in online.iter().zip(&online_keys) {
            let Some(node) = nodes.get(i) else {
                continue;
            };
            let mut others: Vec<PublicKey> =
                online_keys.iter().filter(|k| *k != own).copied().collect();
            // Only which keys are the nearest matters, not their order: a
            // selection is linear where a sort is not, which counts at
            // 10,000 nodes. Keys differ, so the nearest set is unique.
            if others.len() > NEAREST {
                others.select_nth_unstable_by(NEAREST - 1, |a, b| compare(own, a, b));
            }
            let list = node.dht.close_list();
            let held = others
                .iter()
                .take(NEAREST)
                .filter(|k| list.get(k).is_some_and(|c| !c.is_bad(now)))
                .count();
            held_sum += held as f64 / NEAREST as f64;
            if held == NEAREST {
                all_held += 1;
            }
        }

        let (found, hops_sum) = lookups(net, &online, &keys);

        let online_count = online.len().max(1) as f64;
        let minutes = net.elapsed().as_secs_f64() / 60.0;
        Self {
            nearest_held: held_sum / online_count,
            all_held: all_held as f64 / online_count,
            lookup_hops: hops_sum as f64 / found.max(1) as f64,
            lookup_success: found as f64 / LOOKUPS as f64,
            packets_per_node_minute: net.stats().sent as f64 / nodes.len().max(1) as f64 / minutes,
        }
    }
}

/// Iterative lookups for keys near online nodes, driven through the
/// nodes' own answers. Returns how many found the true closest online
/// node and the queries those took in all.
fn lookups(net: &Network<DhtNode>, online: &[usize], keys: &[PublicKey]) -> (usize, usize) {
    let now = net.now();
    let by_key: HashMap<PublicKey, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let online_key = |n: usize| {
        let i = *online.get(n % online.len().max(1))?;
        Some((i, *keys.get(i)?))
    };
    let mut hops_sum = 0usize;
    let mut found = 0usize;
    for l in 0..LOOKUPS {
        let Some((_, near)) = online_key(l * 7919) else {
            continue;
        };
        let mut target_bytes = *near.as_bytes();
        if let Some(last) = target_bytes.last_mut() {
            *last ^= 1; // a key near, but not equal to, an online node
        }
        let target = PublicKey::new(target_bytes);
        let Some(truth) = online
            .iter()
            .filter_map(|&j| keys.get(j))
            .min_by(|a, b| compare(&target, a, b))
            .copied()
        else {
            continue;
        };
        let Some((start_node, start_key)) = online_key(l * 104_729 + 13) else {
            continue;
        };
        let closest = |i: usize| {
            net.nodes()
                .get(i)
                .map(|n| n.dht.closest_nodes(now, &target, 4, true))
                .unwrap_or_default()
        };
        // Always ask the closest candidate not yet asked; an offline one
        // costs a query (a timeout) and is skipped.
        let mut candidates: Vec<PublicKey> =
            closest(start_node).iter().map(|n| n.public_key).collect();
        let mut asked = HashSet::new();
        let mut best = start_key;
        let mut hops = 0;
        while hops < MAX_LOOKUP_QUERIES {
            candidates.sort_by(|a, b| compare(&target, a, b));
            let Some(next) = candidates.iter().find(|k| !asked.contains(*k)).copied() else {
                break;
            };
            if compare(&target, &next, &best) != Ordering::Less && asked.len() > 3 {
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
            if compare(&target, &next, &best) == Ordering::Less {
                best = next;
            }
            for n in closest(idx) {
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
    (found, hops_sum)
}

/// The one-line report the test and the example print.
impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nearest-8 held {:.1}% (all 8: {:.1}% of nodes), lookups found the closest node {:.1}% in {:.2} hops, {:.0} packets/node/min",
            self.nearest_held * 100.0,
            self.all_held * 100.0,
            self.lookup_success * 100.0,
            self.lookup_hops,
            self.packets_per_node_minute,
        )
    }
}
