//! The report: a progress line per run, a table per server, the ratios
//! against the goals, and one `BENCH <case> <value> <unit>` line per
//! figure for scripts.

use crate::flood::Measured;
use crate::scenarios::ServerResult;
use crate::{Args, NOISE_LIMIT};

/// A counter of the DHT from toxide-node's "final counters" log line.
pub(crate) fn counter(log: &str, name: &str) -> Option<u64> {
    let dht = log.rfind("dht: Stats {").and_then(|at| log.get(at..))?;
    let dht = dht.split('}').next()?;
    let key = format!(" {name}: ");
    let rest = dht.get(dht.find(&key)? + key.len()..)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// One line per run while the benchmark goes.
pub(crate) fn progress(server: &str, what: &str, run: &Measured) {
    println!(
        "  {server:<14} {what} {:>5} in flight: {:>7.0} responses/s ({:.0} sent/s, {} unanswered, {} answered late, {} kernel drops); {}",
        run.in_flight,
        run.rate(),
        run.offered(),
        run.unanswered(),
        run.counts.late,
        run.kernel_drops,
        run.load()
    );
}

pub(crate) fn row(server: &str, scenario: &str, run: &Measured, rss: Option<u64>) {
    println!(
        "{server:<14} {scenario:<26} {:>9} {:>12.0} {:>12.0} {:>6.0}% {:>6.2} {:>11} {:>6.0}% {:>10}",
        run.in_flight,
        run.rate(),
        run.per_cpu_second(),
        run.busy() * 100.0,
        run.nodes_per_response(),
        run.unanswered() + run.counts.unmatched,
        run.noise() * 100.0,
        rss.map_or_else(|| "-".to_owned(), |r| r.to_string()),
    );
}

pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        format!("{:.2}x", a / b)
    } else {
        "n/a".to_owned()
    }
}

/// One machine-readable figure.
fn bench(case: &str, value: f64, unit: &str) {
    if value.is_finite() {
        println!("BENCH {case} {value:.1} {unit}");
    }
}

/// The runs of one server, each with its case name and table label.
fn cases(args: &Args, result: &ServerResult) -> Vec<(String, String, Measured)> {
    let mut out = Vec::new();
    if let Some(run) = result.pool.last() {
        out.push((
            format!("keys{}", args.senders),
            format!("{} keys, {} sources", args.senders, args.sockets),
            *run,
        ));
    }
    if let Some(run) = result.fresh.last() {
        out.push((
            "fresh".to_owned(),
            format!("fresh key/request, {} src", args.sockets),
            *run,
        ));
    }
    for (clients, runs) in &result.distinct {
        if let Some(run) = runs.last() {
            out.push((
                format!("distinct{clients}"),
                format!("{clients} clients, own key+addr"),
                *run,
            ));
        }
    }
    if let Some(run) = &result.single {
        out.push((
            "one-source".to_owned(),
            format!("{} keys, 1 source", args.senders),
            *run,
        ));
    }
    out
}

pub(crate) fn print_report(
    args: &Args,
    toxide: &ServerResult,
    bootstrapd: &ServerResult,
    limited: Option<&(Measured, u64, String)>,
) {
    println!();
    println!(
        "{:<14} {:<28} {:>9} {:>12} {:>12} {:>7} {:>6} {:>11} {:>7} {:>10}",
        "server",
        "scenario",
        "in-flight",
        "responses/s",
        "per CPU-s",
        "busy",
        "nodes",
        "unanswered",
        "noise",
        "peak KiB"
    );
    println!(
        "  (busy: the server's CPU time over wall time; noise: the larger share of either core other processes or the hypervisor took)"
    );
    for result in [toxide, bootstrapd] {
        for (_, label, run) in cases(args, result) {
            row(result.label, &label, &run, None);
        }
        println!(
            "{:<14} {:<28} {}; {} KiB RSS after start-up; {:.1} CPU-s in all; {} fake nodes in its close list",
            result.label,
            "(whole run)",
            result.memory.describe(),
            result.started.peak_kib,
            result.cpu_total.as_secs_f64(),
            result.populated.in_lists
        );
    }
    if let Some((run, rss, tail)) = limited {
        row(
            "toxide-node",
            &format!(
                "rate limit {}/s, 1 source",
                toxide_node::config::DEFAULT_RATE_LIMIT
            ),
            run,
            Some(*rss),
        );
        println!(
            "    offered {:.0} requests/s from one address, answered {:.1}/s; node counters: dropped_rate_limited {}, nodes_requests_answered {}",
            run.offered(),
            run.rate(),
            counter(tail, "dropped_rate_limited").map_or_else(|| "?".to_owned(), |n| n.to_string()),
            counter(tail, "nodes_requests_answered")
                .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        );
    }
    println!();
    let theirs = cases(args, bootstrapd);
    for (case, label, ours) in cases(args, toxide) {
        if let Some((_, _, b)) = theirs.iter().find(|(c, _, _)| *c == case) {
            println!(
                "toxide/bootstrapd: {label}: responses/s {}, per CPU-second {}",
                ratio(ours.rate(), b.rate()),
                ratio(ours.per_cpu_second(), b.per_cpu_second())
            );
        }
    }
    println!(
        "toxide/bootstrapd: peak RSS {}",
        ratio(
            toxide.memory.peak_kib as f64,
            bootstrapd.memory.peak_kib as f64
        )
    );
    let met = |yes: bool| if yes { "met" } else { "NOT met" };
    let rate_of = |result: &ServerResult, case: &str| {
        cases(args, result)
            .into_iter()
            .find(|(c, _, _)| c == case)
            .map(|(_, _, run)| run.rate())
    };
    let goal = |case: &str, what: &str, met_by: &dyn Fn(f64, f64) -> bool| {
        if let (Some(t), Some(b)) = (rate_of(toxide, case), rate_of(bootstrapd, case)) {
            println!("goal {case} ({what}): {}", met(met_by(t, b)));
        }
    };
    goal(
        &format!("keys{}", args.senders),
        ">= 2x tox-bootstrapd",
        &|t, b| t >= 2.0 * b,
    );
    goal("distinct1024", ">= 4x tox-bootstrapd", &|t, b| t >= 4.0 * b);
    goal("distinct4096", ">= 60,000/s", &|t, _| t >= 60_000.0);
    println!(
        "goal memory (<= tox-bootstrapd's peak RSS): {}",
        met(toxide.memory.peak_kib <= bootstrapd.memory.peak_kib)
    );
    for name in [
        "nodes_requests_answered",
        "shared_keys_computed",
        "dropped_rate_limited",
        "dropped_undecryptable",
    ] {
        if let Some(n) = counter(&toxide.log_tail, name) {
            println!("toxide-node (no rate limit) counter at exit: {name} {n}");
        }
    }
    let noisy = [toxide, bootstrapd]
        .iter()
        .flat_map(|r| cases(args, r).into_iter().map(|(_, _, run)| run))
        .chain(limited.map(|(run, _, _)| *run))
        .any(|r| r.noise() > NOISE_LIMIT);
    if noisy {
        println!(
            "WARNING: other processes took more than 5% of a core during a measurement: the figures are not clean"
        );
    }
    for result in [toxide, bootstrapd] {
        let trouble: u64 = cases(args, result)
            .iter()
            .map(|(_, _, r)| r.counts.send_errors + r.counts.recv_errors)
            .sum();
        if trouble > 0 {
            println!(
                "note: {} socket errors while flooding {}",
                trouble, result.label
            );
        }
    }
    println!();
    for result in [toxide, bootstrapd] {
        for (case, _, run) in cases(args, result) {
            bench(&format!("{}/{case}", result.label), run.rate(), "answers/s");
        }
        bench(
            &format!("{}/peak-rss", result.label),
            result.memory.peak_kib as f64,
            "KiB",
        );
    }
    for (case, _, ours) in cases(args, toxide) {
        if let Some((_, _, b)) = theirs.iter().find(|(c, _, _)| *c == case) {
            bench(&format!("ratio/{case}"), ours.rate() / b.rate(), "x");
        }
    }
    if let Some((run, rss, _)) = limited {
        bench(
            "toxide-node/rate-limited-one-source",
            run.rate(),
            "answers/s",
        );
        bench("toxide-node/rate-limited-peak-rss", *rss as f64, "KiB");
    }
}
