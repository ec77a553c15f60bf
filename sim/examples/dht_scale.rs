//! The DHT convergence experiment of `tests/dht_convergence.rs` at scale,
//! with the cost of running it:
//!
//! ```sh
//! cargo run --release -p toxide-sim --example dht_scale -- --nodes 10000 [--loss 0.1] [--churn 0.2] [--seed N] [--minutes 3]
//! ```
//!
//! Prints the same figures as the test (close lists holding the true 8
//! nearest neighbours, lookup success and queries, packets per node per
//! minute), then memory per node: heap bytes live after the run and at
//! peak, counted by a wrapper around the system allocator, and the
//! process's peak resident set (`VmHWM`); then wall-clock time and
//! simulated events (deliveries and timer wake-ups) per second.

use std::alloc::System;
use std::error::Error;
use std::time::Instant;

use cap::Cap;
use clap::Parser;
use toxide_sim::{Figures, LinkConfig, Scenario};

/// Counts every heap byte the process allocates and frees.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Runs N simulated DHT nodes and reports convergence and cost.
#[derive(Debug, Parser)]
struct Args {
    /// Nodes in the network (node 0 is the seed all others bootstrap from).
    #[arg(long, default_value_t = 10_000)]
    nodes: usize,
    /// Probability that a datagram is lost.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Share of nodes offline at a time, redrawn each minute after a first
    /// clean minute.
    #[arg(long, default_value_t = 0.0)]
    churn: f64,
    /// Seed of all randomness; a run replays exactly.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Virtual minutes to run (after the first clean minute, with churn).
    #[arg(long, default_value_t = 3)]
    minutes: u64,
}

/// A `Vm…:   123 kB` line of /proc/self/status, in bytes; `None` where
/// there is no procfs.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

fn per_node(bytes: u64, nodes: usize) -> String {
    let per = bytes as f64 / nodes.max(1) as f64;
    format!(
        "{:.1} KiB/node ({:.1} MiB)",
        per / 1024.0,
        bytes as f64 / (1024.0 * 1024.0)
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.loss) || !(0.0..1.0).contains(&args.churn) {
        return Err("--loss must lie in [0, 1] and --churn in [0, 1)".into());
    }
    let scenario = Scenario {
        nodes: args.nodes,
        link: LinkConfig {
            loss: args.loss,
            ..LinkConfig::default()
        },
        churn: args.churn,
        minutes: args.minutes,
        settle: 1,
        seed: args.seed,
    };
    let nodes = args.nodes;

    let heap_before = ALLOCATOR.allocated() as u64;
    let wall = Instant::now();
    let mut net = scenario.build();
    let built = wall.elapsed();
    let heap_built = (ALLOCATOR.allocated() as u64).saturating_sub(heap_before);
    eprintln!(
        "built {nodes} nodes in {:.1} s, heap {}",
        built.as_secs_f64(),
        per_node(heap_built, nodes)
    );

    let run_start = Instant::now();
    let steps = scenario.run(&mut net, |minute, steps, net| {
        eprintln!(
            "minute {minute}: {steps} events, {} datagrams sent so far, {:.1} s wall",
            net.stats().sent,
            run_start.elapsed().as_secs_f64()
        );
    });
    let ran = run_start.elapsed();
    let heap_live = (ALLOCATOR.allocated() as u64).saturating_sub(heap_before);
    let heap_peak = (ALLOCATOR.max_allocated() as u64).saturating_sub(heap_before);

    let measure_start = Instant::now();
    let figures = Figures::measure(&net);
    let measured = measure_start.elapsed();
    let total = wall.elapsed();

    let stats = net.stats();
    println!("{scenario}: {figures}");
    println!(
        "virtual time {:.0} s; datagrams sent {}, delivered {}, lost {}, undeliverable {}",
        net.elapsed().as_secs_f64(),
        stats.sent,
        stats.delivered,
        stats.lost,
        stats.undeliverable
    );
    println!("heap after build: {}", per_node(heap_built, nodes));
    println!("heap live after the run: {}", per_node(heap_live, nodes));
    println!("heap peak: {}", per_node(heap_peak, nodes));
    match proc_status_bytes("VmHWM") {
        Some(hwm) => println!("process peak RSS (VmHWM): {}", per_node(hwm, nodes)),
        None => println!("process peak RSS (VmHWM): unavailable"),
    }
    println!(
        "wall time {:.1} s (build {:.1} s, run {:.1} s, measure {:.1} s); {steps} events, {:.0} events/s",
        total.as_secs_f64(),
        built.as_secs_f64(),
        ran.as_secs_f64(),
        measured.as_secs_f64(),
        steps as f64 / ran.as_secs_f64().max(f64::EPSILON)
    );
    Ok(())
}
