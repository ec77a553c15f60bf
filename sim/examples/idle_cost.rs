//! What an idle toxide client costs the network and the battery: 100
//! clients around 3 bootstrap nodes on the simulator (virtual time, the
//! same sans-IO stack the tokio driver runs), half of them in friend
//! pairs with their sessions up, left alone once settled. Reported per
//! client per minute: datagrams and bytes sent, and timer wake-ups (the
//! tokio driver sleeps until the stack's next timer, so these are the
//! idle client's wake-ups; datagrams that arrive wake it too).
//!
//! `cargo run --release -p toxide-sim --example idle_cost -- --clients 100`
//!
//! c-toxcore 0.2.18 measured here with 100 idle peers: 131 datagrams and
//! 26.5 KiB per peer per minute; it wakes its caller ~20 times a second.
//! Every line `BENCH <case> <value> <unit>` is one figure.
//!
//! After the measured window, two checks that cutting idle traffic kept
//! the network working: some clients die for good, and we time how long
//! until no other node hands them out any more; one side of some friend
//! pairs drops off the network for a few minutes (a phone out of
//! coverage) and comes back, and we time how long the pair takes to be
//! friends online again.

use std::time::{Duration, Instant};

use clap::Parser;
use toxide_sim::{LinkConfig, Network, StackNode, stack_network};

#[derive(Debug, Parser)]
struct Args {
    /// Clients (besides the bootstrap nodes).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Bootstrap nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Virtual minutes to settle before measuring (stable announce nodes
    /// are asked every 4 minutes: the steady state starts after ~6).
    #[arg(long, default_value_t = 10)]
    settle: u64,
    /// Virtual minutes measured.
    #[arg(long, default_value_t = 10)]
    measure: u64,
    /// The network's seed.
    #[arg(long, default_value_t = 0x1d1e)]
    seed: u64,
    /// Clients (not in a friend pair) that die for good after the
    /// measured window.
    #[arg(long, default_value_t = 5)]
    dead: usize,
    /// Friend pairs of which one side drops off after the measured window.
    #[arg(long, default_value_t = 5)]
    outages: usize,
    /// How long those stay off the network, in seconds.
    #[arg(long, default_value_t = 180)]
    outage: u64,
}

/// How often the reachability checks look at the network.
const CHECK_STEP: Duration = Duration::from_secs(5);

/// How long the reachability checks run after the measured window.
const CHECK_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Steps a run may take before it counts as stalled.
const STEP_BUDGET: u64 = 200_000_000;

fn main() {
    let args = Args::parse();
    let start = Instant::now();
    let total = args.nodes + args.clients;
    let mut net: Network<StackNode> =
        stack_network(total, args.nodes, LinkConfig::default(), start, args.seed);
    // Half the clients in friend pairs: idle sessions cost alive packets.
    let pairs: Vec<(usize, usize)> = (args.nodes..total)
        .step_by(4)
        .filter(|i| i + 1 < total)
        .map(|i| (i, i + 1))
        .collect();
    let key = |net: &Network<StackNode>, i: usize| net.nodes().get(i).map(|n| n.real);
    for &(a, b) in &pairs {
        let (Some(ka), Some(kb)) = (key(&net, a), key(&net, b)) else {
            continue;
        };
        if let Some(node) = net.node_mut(a) {
            let _ = node.stack.add_friend(kb);
        }
        if let Some(node) = net.node_mut(b) {
            let _ = node.stack.add_friend(ka);
        }
    }
    let settle_end = start + Duration::from_secs(60 * args.settle);
    if let Err(stalled) = net.run_until_bounded(settle_end, STEP_BUDGET) {
        eprintln!("the simulation stalled: {stalled:?}");
        std::process::exit(1);
    }
    let is_online = |net: &Network<StackNode>, i: usize| {
        net.nodes()
            .get(i)
            .is_some_and(|n| n.status.last().is_some_and(|s| s.1))
    };
    let online = pairs
        .iter()
        .filter(|&&(a, b)| is_online(&net, a) && is_online(&net, b))
        .count();
    let measure_end = settle_end + Duration::from_secs(60 * args.measure);
    if let Err(stalled) = net.run_until_bounded(measure_end, STEP_BUDGET) {
        eprintln!("the simulation stalled: {stalled:?}");
        std::process::exit(1);
    }
    let minutes = args.measure as f64;
    let clients = net.nodes().get(args.nodes..).unwrap_or_default();
    let per_minute = |f: &dyn Fn(&StackNode) -> usize| {
        let mut v: Vec<f64> = clients.iter().map(|c| f(c) as f64 / minutes).collect();
        v.sort_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        (mean, v.last().copied().unwrap_or(0.0))
    };
    let (datagrams, datagrams_max) = per_minute(&|c| c.sent_between(settle_end, measure_end).0);
    let (bytes, bytes_max) = per_minute(&|c| c.sent_between(settle_end, measure_end).1);
    let (wakeups, wakeups_max) = per_minute(&|c| c.wakeups_between(settle_end, measure_end));
    let friended = clients
        .iter()
        .filter(|c| !c.status.is_empty())
        .map(|c| c.sent_between(settle_end, measure_end).0 as f64 / minutes)
        .sum::<f64>()
        / (2 * pairs.len()).max(1) as f64;
    println!(
        "{} clients, {} bootstrap nodes, {} friend pairs ({} online after {} min); measured over {} virtual min",
        args.clients,
        args.nodes,
        pairs.len(),
        online,
        args.settle,
        args.measure
    );
    println!(
        "per client per minute: {datagrams:.1} datagrams (max {datagrams_max:.0}), {:.1} KiB (max {:.1}), {wakeups:.1} timer wake-ups (max {wakeups_max:.0}); clients with a friend: {friended:.1} datagrams",
        bytes / 1024.0,
        bytes_max / 1024.0
    );
    // Which packets the idle traffic is made of, by id.
    let mut by_id = std::collections::BTreeMap::<u8, (usize, usize)>::new();
    for sent in clients.iter().flat_map(|c| &c.sent) {
        if sent.at >= settle_end && sent.at < measure_end {
            let entry = by_id.entry(sent.id).or_default();
            entry.0 += 1;
            entry.1 += sent.len;
        }
    }
    let mut by_id: Vec<(u8, (usize, usize))> = by_id.into_iter().collect();
    by_id.sort_by_key(|&(_, (n, _))| std::cmp::Reverse(n));
    let scale = minutes * clients.len().max(1) as f64;
    let parts: Vec<String> = by_id
        .iter()
        .take(10)
        .map(|(id, (n, b))| {
            format!(
                "0x{id:02x}: {:.1} ({:.1} KiB)",
                *n as f64 / scale,
                *b as f64 / scale / 1024.0
            )
        })
        .collect();
    println!("by packet id, per client per minute: {}", parts.join(", "));
    println!("BENCH idle_datagrams_per_client_minute {datagrams:.1} datagrams");
    println!("BENCH idle_kib_per_client_minute {:.2} KiB", bytes / 1024.0);
    println!(
        "BENCH idle_wakeups_per_client_second {:.2} wakeups",
        wakeups / 60.0
    );
    println!("BENCH idle_friend_pairs_online {online} pairs");
    reachability(&mut net, &args, &pairs, measure_end);
}

/// Kills some clients and takes one side of some friend pairs off the
/// network for a while, then reports how long the dead stayed handed out
/// and how long the pairs took to reconnect.
fn reachability(
    net: &mut Network<StackNode>,
    args: &Args,
    pairs: &[(usize, usize)],
    from: Instant,
) {
    let total = args.nodes + args.clients;
    // Clients past the pairs' two (pairs take offsets 0 and 1 of each 4).
    let dead: Vec<usize> = (args.nodes..total)
        .filter(|i| (i - args.nodes) % 4 == 2)
        .take(args.dead)
        .collect();
    let away: Vec<(usize, usize)> = pairs.iter().copied().take(args.outages).collect();
    for &i in &dead {
        net.set_online(i, false);
    }
    for &(a, _) in &away {
        net.set_online(a, false);
    }
    let back = from + Duration::from_secs(args.outage);
    let dead_keys: Vec<_> = dead
        .iter()
        .filter_map(|&i| net.nodes().get(i).map(|n| n.dht))
        .collect();
    // When each dead node was last handed out by an online node.
    let mut last_held = vec![from; dead_keys.len()];
    let mut now = from;
    let mut returned = false;
    while now < from + CHECK_WINDOW {
        now += CHECK_STEP;
        if let Err(stalled) = net.run_until_bounded(now, STEP_BUDGET) {
            eprintln!("the simulation stalled: {stalled:?}");
            std::process::exit(1);
        }
        if !returned && now >= back {
            for &(a, _) in &away {
                net.set_online(a, true);
            }
            returned = true;
        }
        for (key, last) in dead_keys.iter().zip(&mut last_held) {
            let held = (0..net.nodes().len())
                .filter(|&j| net.is_online(j))
                .filter_map(|j| net.nodes().get(j))
                .any(|n| {
                    n.stack
                        .dht
                        .closest_nodes(now, key, 4, true)
                        .iter()
                        .any(|p| p.public_key == *key)
                });
            if held {
                *last = now;
            }
        }
    }
    let mut dropped: Vec<f64> = last_held
        .iter()
        .map(|t| t.saturating_duration_since(from).as_secs_f64())
        .collect();
    dropped.sort_by(f64::total_cmp);
    // A pair is back when both sides report the other online after the
    // return.
    let online_again = |i: usize| {
        net.nodes()
            .get(i)
            .and_then(|n| n.status.iter().find(|&&(t, on)| on && t >= back))
            .map(|&(t, _)| t)
    };
    let went_offline = |i: usize| {
        net.nodes()
            .get(i)
            .is_some_and(|n| n.status.iter().any(|&(t, on)| !on && t >= from))
    };
    let mut reconnect: Vec<f64> = Vec::new();
    let mut dropped_pairs = 0;
    for &(a, b) in &away {
        if went_offline(b) {
            dropped_pairs += 1;
        }
        if let (Some(ta), Some(tb)) = (online_again(a), online_again(b)) {
            reconnect.push(ta.max(tb).saturating_duration_since(back).as_secs_f64());
        }
    }
    reconnect.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
    let max = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
    println!(
        "{} clients died: no longer handed out by any node after {:.0} s median, {:.0} s at most",
        dead.len(),
        median(&dropped),
        max(&dropped)
    );
    println!(
        "{} friend pairs, one side off for {} s ({} seen offline by the other): {} online again, {:.1} s median, {:.1} s at most after the return",
        away.len(),
        args.outage,
        dropped_pairs,
        reconnect.len(),
        median(&reconnect),
        max(&reconnect)
    );
    println!("BENCH idle_dead_node_dropped_max {:.0} s", max(&dropped));
    println!(
        "BENCH idle_reconnect_after_outage_median {:.1} s",
        median(&reconnect)
    );
    println!(
        "BENCH idle_reconnect_after_outage_max {:.1} s",
        max(&reconnect)
    );
}
