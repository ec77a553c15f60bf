//! Relay performance (issue 12), on loopback, every wait bounded:
//!
//! 1. toxide→toxide file throughput through one toxide-node TCP relay
//!    (the binary): two toxide `Tox` clients without UDP, whose only way
//!    out is the relay, know each other's keys and connect through it;
//!    one sends a file of `--mb` MB (default 64) from `tokio::io::repeat`,
//!    the other counts and checks it. MB/s (10⁶ bytes, from the accept to
//!    the last byte), the node's CPU s/GB and peak RSS. Goal: ≥ 50 MB/s.
//! 2. The same with c-toxcore 0.2.18 on both ends (the interop test peer,
//!    no UDP) through tox-bootstrapd's relay, befriending through the
//!    onion over the relay; a file of min(`--mb`, 16) MB (c-toxcore does
//!    ~2 MB/s through relays). MB/s and tox-bootstrapd's CPU s/GB.
//! 3. `--idle` (default 10,000) relay clients that complete the handshake
//!    and stay idle, against a node allowing 12,000 connections; held
//!    `--hold` seconds (default 5) while their pings are answered. The
//!    node's RSS before and after, per connection, and how long opening
//!    took. Goal: 10,000 idle clients under 64 MB of relay memory.
//!
//! `cargo bench -p toxide-node --bench relay [-- --mb 64 --idle 10000
//! --hold 5 --only N]`. Every figure is also a line `BENCH <case> <value>
//! <unit>`; a case that fails prints why and the others still run.

// A benchmark program: a failed step ends its case with a message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

// The cases' modules live in benches/relay/ (a bench root looks for
// its modules beside it).
#[path = "relay/files.rs"]
mod files;
#[path = "relay/idle.rs"]
mod idle;
#[path = "relay/node.rs"]
mod node;
// The node tests' process handling; the benchmark uses a part of it.
#[allow(dead_code)]
#[path = "../tests/common/binary.rs"]
mod binary;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use toxide_interop::bench_arg;

/// Tries of the c-toxcore case, whose friend connection may drop
/// mid-transfer.
const CTOXCORE_ATTEMPTS: u32 = 2;

/// Runs `case`, reporting a panic as the case's failure.
fn run(name: &str, case: impl FnOnce()) {
    println!("== {name}");
    if catch_unwind(AssertUnwindSafe(case)).is_err() {
        println!("{name}: FAILED (see the panic above)");
    }
}

/// Case 2, tried afresh (daemon and peers) when the transfer breaks.
fn ctoxcore_case(mb: u64) {
    let case = format!("relay_ctoxcore_bootstrapd_{mb}mb");
    for attempt in 1..=CTOXCORE_ATTEMPTS {
        match files::ctoxcore_through_bootstrapd(mb * 1_000_000) {
            Ok(transfer) => return transfer.report(&case, "tox-bootstrapd"),
            Err(error) => println!("{case}: attempt {attempt}: {error}"),
        }
    }
    println!("BENCH {case}_broken {CTOXCORE_ATTEMPTS} attempts");
}

fn main() {
    let mb = bench_arg("--mb", 64);
    let idle = bench_arg("--idle", 10_000);
    let hold = Duration::from_secs(bench_arg("--hold", 5));
    let only = bench_arg("--only", 0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.trim());
    if only == 0 || only == 1 {
        run("toxide to toxide through toxide-node's relay", || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(files::toxide_through_node(mb * 1_000_000))
                .report(&format!("relay_toxide_node_{mb}mb"), "toxide-node");
        });
    }
    if only == 0 || only == 2 {
        let c_mb = mb.min(16);
        run(
            "c-toxcore to c-toxcore through tox-bootstrapd's relay",
            || ctoxcore_case(c_mb),
        );
    }
    if only == 0 || only == 3 {
        run("idle relay connections held by toxide-node", || {
            idle::idle_connections(usize::try_from(idle).unwrap(), hold);
        });
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at end: {}", load.trim());
}
