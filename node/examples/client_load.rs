//! How many requests one c-toxcore 0.2.18 client makes of one bootstrap
//! node: the figure the per-host budget (`toxide_dht::RateLimit`) is sized
//! from, since every client behind one NAT address shares a budget.
//!
//! An in-process toxide-node with no rate limit serves `--peers` Debian
//! c-toxcore peers (the interop test peer) whose only bootstrap node it is,
//! on 127.0.0.1, for `--seconds`. Every second it reads the node's counters
//! of requests it answered or relayed for clients (DHT pings and nodes
//! requests, onion requests entering at this node, announce requests) and
//! prints the rate per peer: the peak second and the settled average over
//! the second half of the run. A network this small is the worst case for
//! a node: each peer has few other nodes to spread its requests over.
//!
//! `cargo run --release -p toxide-node --example client_load -- --peers 4 --seconds 60`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use toxide::driver::{Driver, DriverStats};
use toxide_core::KeyPair;
use toxide_interop::{CPeer, PeerOptions};
use toxide_node::cli::Cli;
use toxide_node::config::Settings;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

/// Requests the node did work for, in all.
fn work(stats: &DriverStats) -> u64 {
    stats.dht.pings_answered
        + stats.dht.nodes_requests_answered
        + stats.dht.requests_routed
        + stats.onion.requests_relayed
        + stats.onion.announces_answered
}

fn main() {
    let peers = arg("--peers", 4).max(1);
    let seconds = arg("--seconds", 60).max(4);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cli = Cli {
        udp_address: vec!["127.0.0.1:0".parse().unwrap()],
        rate_limit: Some(0),
        ..Cli::default()
    };
    let settings = Settings::resolve(&cli, None).unwrap();
    let config = toxide_node::driver_config(&settings, KeyPair::generate(&mut rand::rng()));
    let node = rt.block_on(Driver::spawn(config)).unwrap();
    let port = node.local_addr().port();
    let mut clients: Vec<CPeer> = (0..peers)
        .map(|i| {
            CPeer::spawn(PeerOptions {
                label: Some(format!("load-{i}")),
                ..PeerOptions::default()
            })
            .unwrap()
        })
        .collect();
    let started = Instant::now();
    for client in &mut clients {
        client.bootstrap(port, &node.public_key()).unwrap();
    }
    let mut per_second = Vec::new();
    let mut last = 0;
    for second in 1..=seconds {
        let due = started + Duration::from_secs(second);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let total = work(&rt.block_on(node.stats()).unwrap());
        per_second.push((total - last) as f64 / peers as f64);
        last = total;
    }
    let peak = per_second.iter().copied().fold(0.0, f64::max);
    let half = &per_second[per_second.len() / 2..];
    let settled = half.iter().sum::<f64>() / half.len() as f64;
    let first10 = per_second.iter().take(10).sum::<f64>() / 10.0_f64.min(seconds as f64);
    println!(
        "c-toxcore 0.2.18 clients: {peers}, {seconds} s, requests per client per second at one node"
    );
    println!("per second: {per_second:.1?}");
    println!("BENCH ctoxcore_client_requests_peak_second {peak:.1} req/s");
    println!("BENCH ctoxcore_client_requests_first_10s {first10:.2} req/s");
    println!("BENCH ctoxcore_client_requests_settled {settled:.2} req/s");
}
