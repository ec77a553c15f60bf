//! Nodes-request flood: toxide-node against Debian's tox-bootstrapd.
//!
//! ```sh
//! cargo run --release -p toxide-flood-bench
//! ```
//!
//! What it measures (the issue's targets: several times tox-bootstrapd's
//! rate, also with thousands of distinct clients, and no more of its
//! memory): nodes requests answered per second by one server process
//! pinned to one core, under a loopback flood from this process pinned to
//! another core, and the server's peak RSS. The two servers run one after
//! the other, never at once, with the same DHT key (one keys file in
//! tox-bootstrapd's format serves both), so the very same precomputed
//! request packets go to both.
//!
//! For each server:
//!
//! 1. Start it under `taskset -c 1` on 127.0.0.1 (toxide-node with
//!    `--rate-limit 0`, so the benchmark measures the request path and not
//!    the per-host budget).
//! 2. Fill its close list ([`close_nodes`]): fake DHT nodes on their own
//!    sockets ping it and answer its pings until a probe's nodes response
//!    carries 4 nodes, as real responses do. They keep answering pings in
//!    the background.
//! 3. Flood it with valid 113-byte nodes requests (0x02), closed loop, and
//!    count only answers that decrypt and echo their request's id. Several
//!    amounts of requests in flight are tried briefly and the best is
//!    measured for the full time ([`scenarios`]): the servers differ
//!    (tox-bootstrapd sleeps 30 ms between socket drains and asks for a
//!    2 MB receive buffer, so it wants many requests in flight;
//!    toxide-node reads continuously from a default-sized buffer).
//!    - "keys" ([`flood`]): requests from a fixed pool of sender keys (256
//!      by default) over 64 sockets, each key always from the same socket:
//!      the shared-key caches hit.
//!    - "fresh" ([`flood`]): every request from a key the server has not
//!      cached (65,536 keys used in turn, four times what toxide-node
//!      caches, which also only caches a key on its second sight), so each
//!      costs the server a Diffie-Hellman: the worst case.
//!    - "distinct N" ([`distinct`]): N clients (1,024 and 4,096 by
//!      default), each with its own key and its own socket on its own
//!      loopback address (127.2.x.y), asking in turn: what a busy public
//!      node sees, and where a shared-key cache smaller than the crowd
//!      turns every request into a Diffie-Hellman.
//!    - "1 source" (tox-bootstrapd only): the key pool from one socket with
//!      a short loss timeout, so the offer stays high.
//! 4. Read the server's CPU time over the measured window and its peak RSS
//!    (`VmHWM`) ([`system`], [`server`]). The figures are only as clean as
//!    the machine is quiet: before each server the benchmark waits
//!    (bounded by `--quiet-wait`) until other processes leave both cores
//!    alone, and it reports the share of each core others took during
//!    every measurement ("noise").
//!
//! Finally toxide-node is started again with its default rate limit and
//! flooded from one address: the answered rate shows the defence working.
//! The report ([`report`]) ends with one `BENCH <case> <value> <unit>` line
//! per figure, for scripts.
//!
//! Needs two cores, `taskset` (util-linux) and `/usr/bin/tox-bootstrapd`
//! (Debian's toxcore-utils). All traffic stays on loopback. The release
//! `toxide-node` binary is built first (`cargo build --release -p
//! toxide-node`, skipped with `--no-build`) and taken from the directory
//! this program lives in, or from `--node-bin`.
//!
//! Why a crate of its own under `benches/`: it drives the node binary and
//! uses toxide-node's keys-file writer, so it depends on the node; as a
//! bench of the root `toxide` crate it would make the façade depend on the
//! application built on top of it.

mod close_nodes;
mod distinct;
mod flood;
mod report;
mod requests;
mod scenarios;
mod server;
mod system;

use std::error::Error;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use toxide_core::KeyPair;
use toxide_interop::TempDir;

use crate::requests::{build_distinct, build_fresh, build_pool};
use crate::scenarios::{Requests, bench_rate_limited, bench_server};
use crate::server::{ServerKind, locate_node};
use crate::system::{Env, pin_self, ticks_per_second, watch_signals};

pub(crate) type BoxError = Box<dyn Error>;
pub(crate) type Result<T, E = BoxError> = std::result::Result<T, E>;

/// Pause between runs, so the server drains what the last one left.
pub(crate) const SETTLE: Duration = Duration::from_millis(500);
/// Largest datagram read.
pub(crate) const MAX_DATAGRAM: usize = 2048;
/// The share of a core others may take before a measurement counts as
/// disturbed.
pub(crate) const NOISE_LIMIT: f64 = 0.05;

/// The scenarios a run can be limited to (`--cases`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Case {
    /// A pool of sender keys over 64 sockets.
    Keys,
    /// A new sender key for every request.
    Fresh,
    /// Distinct clients, each its own key and address (`--distinct`).
    Distinct,
    /// tox-bootstrapd's one-source run and toxide-node's rate limit.
    OneSource,
}

/// Command line of the benchmark.
#[derive(Debug, Parser)]
#[command(name = "flood_bench")]
pub(crate) struct Args {
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) seconds: f64,
    /// Warm-up seconds before each measurement.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) warmup: f64,
    /// Seconds each window of the sweep is tried (after 1 s warm-up).
    #[arg(long, default_value_t = 3.0)]
    pub(crate) sweep_seconds: f64,
    /// Requests in flight per socket to try; the best is measured.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 2, 4, 16, 64])]
    pub(crate) windows: Vec<usize>,
    /// Source sockets of the multi-source scenarios.
    #[arg(long, default_value_t = 64)]
    pub(crate) sockets: usize,
    /// Sender keys of the "keys" scenario.
    #[arg(long, default_value_t = 256)]
    pub(crate) senders: usize,
    /// Sender keys used in turn by the "fresh" scenario (each request a
    /// cache miss as long as this is well above the servers' caches:
    /// toxide-node's holds 16,384, tox-bootstrapd's 1,024).
    #[arg(long, default_value_t = 65536)]
    pub(crate) fresh_keys: usize,
    /// Distinct clients of the "distinct" scenarios, each with its own key
    /// and its own loopback address and port.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1024, 4096])]
    pub(crate) distinct: Vec<usize>,
    /// Requests in flight across all clients to try in the "distinct"
    /// scenarios (at most one per client); the best is measured.
    #[arg(long, value_delimiter = ',', default_values_t = vec![64, 256, 1024])]
    pub(crate) distinct_in_flight: Vec<usize>,
    /// Scenarios to run [default: all].
    #[arg(long, value_delimiter = ',')]
    pub(crate) cases: Vec<Case>,
    /// Requests in flight in the one-source scenarios.
    #[arg(long, default_value_t = 256)]
    pub(crate) single_window: usize,
    /// Milliseconds after which an unanswered request is given up on and
    /// its slot reused (an answer that still comes counts, as "late").
    #[arg(long, default_value_t = 50)]
    pub(crate) loss_timeout: u64,
    /// Milliseconds after which an unanswered request counts as lost in the
    /// one-source scenarios (short, so a rate limit cannot stall the offer).
    #[arg(long, default_value_t = 20)]
    pub(crate) single_loss_timeout: u64,
    /// Seconds to wait at most, before each server, for other processes
    /// to leave the two cores alone.
    #[arg(long, default_value_t = 300)]
    pub(crate) quiet_wait: u64,
    /// Attempts at each full measurement while other processes disturb it
    /// (more than 5% of a core); the least disturbed is reported.
    #[arg(long, default_value_t = 3)]
    pub(crate) attempts: usize,
    /// Fake DHT nodes that fill the server's close list.
    #[arg(long, default_value_t = 48)]
    pub(crate) close_nodes: usize,
    /// Core the servers are pinned to.
    #[arg(long, default_value_t = 1)]
    pub(crate) server_core: usize,
    /// Core this process (the flood) is pinned to.
    #[arg(long, default_value_t = 0)]
    pub(crate) client_core: usize,
    /// The toxide-node binary [default: next to this program].
    #[arg(long, value_name = "PATH")]
    pub(crate) node_bin: Option<PathBuf>,
    /// Debian's tox-bootstrapd.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/tox-bootstrapd")]
    pub(crate) bootstrapd: PathBuf,
    /// Do not run `cargo build --release -p toxide-node` first.
    #[arg(long)]
    pub(crate) no_build: bool,
}

impl Args {
    /// Whether `case` is to be run.
    pub(crate) fn runs(&self, case: Case) -> bool {
        self.cases.is_empty() || self.cases.contains(&case)
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        return Err(
            "build the benchmark with --release: a debug client would be the bottleneck".into(),
        );
    }
    check_args(&args)?;
    let node_bin = locate_node(&args)?;
    if !args.bootstrapd.is_file() {
        return Err(format!(
            "{} not found: install Debian's toxcore-utils (or pass --bootstrapd)",
            args.bootstrapd.display()
        )
        .into());
    }

    // One key for both servers: the packets are built once.
    let dir = TempDir::new("flood-bench")?;
    let server_keys = KeyPair::generate(&mut rand::rng());
    let keys_file = dir.path().join("keys");
    toxide_node::keys_file::create(&keys_file, &server_keys)?;

    println!("flood_bench: {}", system::machine());
    // Built on every core before this process pins itself to one.
    let started = Instant::now();
    let pk = &server_keys.public;
    let requests = Requests {
        pool: if args.runs(Case::Keys) || args.runs(Case::OneSource) {
            build_pool(pk, args.senders)?
        } else {
            Vec::new()
        },
        fresh: if args.runs(Case::Fresh) {
            build_fresh(pk, args.fresh_keys)?
        } else {
            Vec::new()
        },
        distinct: if args.runs(Case::Distinct) {
            args.distinct
                .iter()
                .map(|&n| build_distinct(pk, n))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        },
    };
    println!(
        "flood_bench: {} pool requests ({} keys), {} fresh-key requests and {} distinct-client sets built in {:.1} s",
        requests.pool.len(),
        args.senders,
        requests.fresh.len(),
        requests.distinct.len(),
        started.elapsed().as_secs_f64()
    );
    pin_self(args.client_core)?;
    watch_signals()?;
    let env = Env {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        ticks: ticks_per_second(),
        server_core: args.server_core,
        client_core: args.client_core,
    };
    println!(
        "flood_bench: servers on core {}, this flood on core {}; {} s measured after {} s warm-up",
        args.server_core, args.client_core, args.seconds, args.warmup
    );

    let toxide = bench_server(
        &args,
        ServerKind::Toxide {
            bin: &node_bin,
            rate_limit: 0,
        },
        &keys_file,
        pk,
        &requests,
        &env,
    )?;
    thread::sleep(SETTLE);
    let bootstrapd = bench_server(
        &args,
        ServerKind::Bootstrapd {
            bin: &args.bootstrapd,
        },
        &keys_file,
        pk,
        &requests,
        &env,
    )?;
    thread::sleep(SETTLE);
    let limited = if args.runs(Case::OneSource) {
        Some(bench_rate_limited(
            &args,
            &node_bin,
            &keys_file,
            pk,
            &requests.pool,
            &env,
        )?)
    } else {
        None
    };

    report::print_report(&args, &toxide, &bootstrapd, limited.as_ref());
    Ok(())
}

fn check_args(args: &Args) -> Result<()> {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || args.server_core == args.client_core {
        return Err(format!(
            "needs two distinct cores (have {cores}; server core {}, client core {})",
            args.server_core, args.client_core
        )
        .into());
    }
    if args.windows.is_empty() || args.windows.contains(&0) {
        return Err("--windows needs positive numbers".into());
    }
    if args.distinct_in_flight.is_empty() || args.distinct_in_flight.contains(&0) {
        return Err("--distinct-in-flight needs positive numbers".into());
    }
    if args.sockets == 0 || args.senders == 0 || args.fresh_keys == 0 || args.single_window == 0 {
        return Err(
            "--sockets, --senders, --fresh-keys and --single-window must be positive".into(),
        );
    }
    if args.senders > 512 {
        return Err("--senders: at most 512 (2 per shared-key cache slot of c-toxcore)".into());
    }
    if args
        .distinct
        .iter()
        .any(|&n| n == 0 || n > requests::MAX_DISTINCT)
    {
        return Err(format!("--distinct: between 1 and {}", requests::MAX_DISTINCT).into());
    }
    for (name, value) in [
        ("seconds", args.seconds),
        ("warmup", args.warmup),
        ("sweep-seconds", args.sweep_seconds),
    ] {
        if !(value.is_finite() && (0.0..=3600.0).contains(&value))
            || (name != "warmup" && value <= 0.0)
        {
            return Err(format!("--{name} {value}: out of range").into());
        }
    }
    Ok(())
}
