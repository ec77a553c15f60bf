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
}

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
}
