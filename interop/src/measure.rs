//! Figures the benchmarks share: CPU time, memory and wake-ups of a
//! thread or a process (read from `/proc`, Linux only), quantiles, and
//! when a transfer reached full speed. Each benchmark prints its own
//! `BENCH` lines.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{CPeer, Error, Event, PeerOptions, Result};

/// CPU time of the calling thread (schedstat's first field, nanoseconds).
pub fn thread_cpu() -> Duration {
    schedstat("/proc/thread-self/schedstat")
}

/// Where the calling thread's counters are, for [`thread_cpu_at`] from
/// another thread (`/proc/<pid>/task/<tid>`).
pub fn thread_self_path() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(format!("/proc/{}", link.display()))
}

/// CPU time of the thread whose [`thread_self_path`] is `path`.
pub fn thread_cpu_at(path: &str) -> Duration {
    schedstat(&format!("{path}/schedstat"))
}

fn schedstat(path: &str) -> Duration {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// CPU time of process `pid` (utime + stime, at the kernel's 100 Hz).
pub fn process_cpu(pid: u32) -> Duration {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After ")": state is field 0, utime field 11, stime field 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A `kB` line of process `pid`'s status (`VmRSS`, `VmHWM`, …).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Voluntary context switches of process `pid`, summed over its threads
/// (each `/proc/<pid>/task/<tid>/status`; the process's own `status`
/// counts its main thread only): how often it blocked, so for an event
/// loop, how often it went to sleep and woke again. `None` once the
/// process is gone.
pub fn voluntary_switches(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

/// The `q` quantile of `values` (sorted in place); NaN when empty.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() as f64 - 1.0) * q).round() as usize;
    values.get(index).copied().unwrap_or(f64::NAN)
}

/// The usual summary of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latencies {
    /// How many there were.
    pub count: usize,
    /// The median.
    pub median_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The largest.
    pub max_ms: f64,
}

impl Latencies {
    /// Summarises `seconds` (sorted in place); `None` when empty.
    pub fn of(seconds: &mut [f64]) -> Option<Self> {
        if seconds.is_empty() {
            return None;
        }
        Some(Self {
            count: seconds.len(),
            median_ms: quantile(seconds, 0.5) * 1e3,
            p99_ms: quantile(seconds, 0.99) * 1e3,
            max_ms: quantile(seconds, 1.0) * 1e3,
        })
    }
}

/// Prints the median and 99th percentile of `round_trips` (seconds): a
/// line `{case}: {what}: median … ms, p99 … ms (n messages)` and the
/// `BENCH {case}_message_rtt_median` and `_p99` lines with `decimals`
/// digits. Nothing when there are none.
pub fn report_round_trips(case: &str, what: &str, round_trips: &mut [f64], decimals: usize) {
    let Some(l) = Latencies::of(round_trips) else {
        return;
    };
    let (count, median, p99) = (l.count, l.median_ms, l.p99_ms);
    println!("{case}: {what}: median {median:.2} ms, p99 {p99:.2} ms ({count} messages)");
    println!("BENCH {case}_message_rtt_median {median:.decimals$} ms");
    println!("BENCH {case}_message_rtt_p99 {p99:.decimals$} ms");
}

/// Prints the line `load average at {when}: …` (`/proc/loadavg`), as the
/// benchmarks do at start and end: other work on the machine skews every
/// figure.
pub fn print_load_average(when: &str) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at {when}: {}", load.trim());
}

/// When the rate, from `(seconds, bytes so far)` samples in time order,
/// first reached 90 % of the median rate over 100-ms windows (0 with too
/// few samples).
pub fn time_to_full_speed(samples: &[(f64, u64)]) -> f64 {
    let mut rates = Vec::new();
    let mut start = samples.first().copied();
    for &(t, bytes) in samples {
        let Some((t0, b0)) = start else { break };
        if t - t0 >= 0.1 {
            rates.push((t0, bytes.saturating_sub(b0) as f64 / (t - t0)));
            start = Some((t, bytes));
        }
    }
    let mut sorted: Vec<f64> = rates.iter().map(|r| r.1).collect();
    let median = quantile(&mut sorted, 0.5);
    rates
        .iter()
        .find(|r| r.1 >= 0.9 * median)
        .map_or(0.0, |r| r.0)
}

/// What one side of a transfer between processes cost.
#[derive(Debug, Clone, Copy)]
pub struct ProcessCost {
    /// CPU time during the transfer.
    pub cpu: Duration,
    /// Peak resident memory (`VmHWM`), kB.
    pub peak_rss_kb: Option<u64>,
}

/// One file sent from one c-toxcore peer to another.
#[derive(Debug, Clone, Copy)]
pub struct CTransfer {
    /// Bytes the receiver got.
    pub bytes: u64,
    /// From the send to the receiver's `FILE_DONE`.
    pub elapsed: Duration,
    /// The sending peer.
    pub sender: ProcessCost,
    /// The receiving peer (it writes the file into its receive folder).
    pub receiver: ProcessCost,
}

/// Two c-toxcore peers (the interop test peer, `--loop-cap 1` ms so that
/// the loop's sleep does not cap the rate) befriend each other directly
/// on loopback, then one sends `file` to the other with `tox_file_send`.
/// Every wait is bounded by `bound`.
pub fn ctoxcore_transfer(file: &Path, bound: Duration) -> Result<CTransfer> {
    let spawn = |label: &str| {
        CPeer::spawn(PeerOptions {
            label: Some(label.into()),
            loop_cap: Some(Duration::from_millis(1)),
            ..PeerOptions::default()
        })
    };
    let mut a = spawn("bench-sender")?;
    let mut b = spawn("bench-receiver")?;
    let (a_port, a_dht) = (a.udp_port(), *a.dht_key());
    b.bootstrap(a_port, &a_dht)?;
    let (b_port, b_dht) = (b.udp_port(), *b.dht_key());
    a.bootstrap(b_port, &b_dht)?;
    let b_id = *b.tox_id();
    let friend = a.add_friend(&b_id, "bench")?;
    let (pk, _) = b.wait_friend_request(bound)?;
    b.add_friend_norequest(&pk)?;
    a.wait_friend_online(friend, bound)?;
    let (cpu_a, cpu_b) = (process_cpu(a.pid()), process_cpu(b.pid()));
    let started = Instant::now();
    a.send_file(friend, file)?;
    let done = b.wait_event(|e: &Event| matches!(e, Event::FileDone { .. }), bound)?;
    let elapsed = started.elapsed();
    let Event::FileDone { bytes, .. } = done else {
        return Err(Error::Protocol {
            process: b.label().to_owned(),
            line: format!("{done:?}"),
        });
    };
    let cost = |peer: &CPeer, before: Duration| ProcessCost {
        cpu: process_cpu(peer.pid()).saturating_sub(before),
        peak_rss_kb: status_kb(peer.pid(), "VmHWM"),
    };
    Ok(CTransfer {
        bytes,
        elapsed,
        sender: cost(&a, cpu_a),
        receiver: cost(&b, cpu_b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_speed_is_where_the_rate_first_nears_the_median() {
        // 1 MB per 100 ms for 0.3 s, then 10 MB per 100 ms.
        let mut samples = Vec::new();
        let mut bytes = 0;
        for i in 0..=20 {
            samples.push((f64::from(i) * 0.1, bytes));
            bytes += if i < 3 { 1_000_000 } else { 10_000_000 };
        }
        let t = time_to_full_speed(&samples);
        assert!((t - 0.3).abs() < 1e-9, "{t}");
        assert_eq!(time_to_full_speed(&[]), 0.0);
    }

    #[test]
    fn latencies_summarise_in_milliseconds() {
        let mut v = vec![0.003, 0.001, 0.002];
        let l = Latencies::of(&mut v).unwrap();
        assert_eq!(l.count, 3);
        assert!((l.median_ms - 2.0).abs() < 1e-9, "{l:?}");
        assert!((l.max_ms - 3.0).abs() < 1e-9, "{l:?}");
        assert_eq!(Latencies::of(&mut []), None);
    }

    #[test]
    fn quantiles_of_a_few_values() {
        let mut v = vec![3.0, 1.0, 2.0, 5.0, 4.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 1.0), 5.0);
        assert!(quantile(&mut [], 0.5).is_nan());
    }

    #[test]
    fn this_process_has_counters() {
        let pid = std::process::id();
        assert!(status_kb(pid, "VmRSS").is_some_and(|kb| kb > 0));
        let switches = voluntary_switches(pid).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(voluntary_switches(pid).unwrap() > switches);
        assert!(thread_self_path().is_some());
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(20) {}
        assert!(thread_cpu() > Duration::ZERO);
    }
}
