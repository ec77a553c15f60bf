//! The machine: pinning, CPU clocks from `/proc`, the kernel's drop
//! counter, waiting for quiet cores, and SIGINT/SIGTERM.

use std::io;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::Result;
use crate::server::Server;

/// Pins every thread of this process to `core`; threads started later
/// inherit it.
pub(crate) fn pin_self(core: usize) -> Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("running taskset (util-linux): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("taskset -p -c {core} failed ({status})").into())
    }
}

/// The CPU model and the kernel, for the record.
pub(crate) fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {model}, Linux {kernel}")
}

/// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`).
pub(crate) fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// CPU time of a process: the sum of its threads' run time in
/// `/proc/PID/task/*/schedstat` (nanoseconds), else utime + stime from
/// `/proc/PID/stat` (clock ticks).
pub(crate) fn process_cpu(pid: u32, ticks_per_second: f64) -> Result<Duration> {
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        let mut total = Duration::ZERO;
        let mut any = false;
        for task in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            if let Some(ns) = text.split_whitespace().next().and_then(|n| n.parse().ok()) {
                total += Duration::from_nanos(ns);
                any = true;
            }
        }
        if any {
            return Ok(total);
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces): state is
    // field 3, utime field 14, stime field 15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("malformed /proc/PID/stat")?;
    let mut fields = after.split_whitespace().skip(11);
    let mut next = || -> Result<f64> {
        Ok(fields
            .next()
            .ok_or("short /proc/PID/stat")?
            .parse::<f64>()?)
    };
    let ticks = next()? + next()?;
    Ok(Duration::from_secs_f64(ticks / ticks_per_second))
}

/// One core's time from `/proc/stat`: spent in tasks (user, nice, system)
/// and stolen by the hypervisor.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CoreTime {
    pub(crate) busy: Duration,
    pub(crate) steal: Duration,
}

pub(crate) fn core_time(core: usize, ticks_per_second: f64) -> Result<CoreTime> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let name = format!("cpu{core}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .ok_or_else(|| format!("no {name} in /proc/stat"))?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0.0) / ticks_per_second;
    Ok(CoreTime {
        busy: Duration::from_secs_f64(field(0) + field(1) + field(2)),
        steal: Duration::from_secs_f64(field(7)),
    })
}

/// Datagrams the kernel dropped for a full receive buffer, machine-wide
/// (`RcvbufErrors` in `/proc/net/snmp`).
pub(crate) fn udp_rcvbuf_errors() -> Result<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp")?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return Err("no Udp lines in /proc/net/snmp".into());
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .ok_or_else(|| "no RcvbufErrors in /proc/net/snmp".into())
}

/// Waits (at most `max`) until other processes have used less than 10%
/// of either core for three seconds in a row, so they do not share the
/// cores with the benchmark.
pub(crate) fn wait_quiet(env: &Env, max: Duration) -> Result<()> {
    let started = Instant::now();
    let mut told = false;
    let mut quiet_seconds = 0;
    loop {
        check_interrupted()?;
        let own = process_cpu(std::process::id(), env.ticks)?;
        let (s0, c0) = (
            core_time(env.server_core, env.ticks)?,
            core_time(env.client_core, env.ticks)?,
        );
        thread::sleep(Duration::from_secs(1));
        let own = process_cpu(std::process::id(), env.ticks)?.saturating_sub(own);
        let (s1, c1) = (
            core_time(env.server_core, env.ticks)?,
            core_time(env.client_core, env.ticks)?,
        );
        let server_core = (s1.busy + s1.steal).saturating_sub(s0.busy + s0.steal);
        let client_core = (c1.busy + c1.steal)
            .saturating_sub(c0.busy + c0.steal)
            .saturating_sub(own);
        let limit = Duration::from_millis(100);
        if server_core < limit && client_core < limit {
            quiet_seconds += 1;
            if quiet_seconds >= 3 {
                if told {
                    println!("  quiet now");
                }
                return Ok(());
            }
            continue;
        }
        quiet_seconds = 0;
        if started.elapsed() >= max {
            println!(
                "  WARNING: still busy after {} s (others use {:.0}% of core {}, {:.0}% of core {}); measuring anyway",
                max.as_secs(),
                server_core.as_secs_f64() * 100.0,
                env.server_core,
                client_core.as_secs_f64() * 100.0,
                env.client_core
            );
            return Ok(());
        }
        if !told {
            println!(
                "  other processes use {:.0}% of core {} and {:.0}% of core {}: waiting (at most {} s) for them to finish",
                server_core.as_secs_f64() * 100.0,
                env.server_core,
                client_core.as_secs_f64() * 100.0,
                env.client_core,
                max.as_secs()
            );
            told = true;
        }
    }
}

/// Set by SIGINT or SIGTERM: the flood stops and the servers are killed by
/// their guards instead of being left running.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub(crate) fn watch_signals() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut interrupt, mut terminate) = rt.block_on(async {
        Ok::<_, io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        });
        INTERRUPTED.store(true, Ordering::Relaxed);
    });
    Ok(())
}

pub(crate) fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// What the flood needs besides the server: its runtime and the clocks.
pub(crate) struct Env {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) ticks: f64,
    pub(crate) server_core: usize,
    pub(crate) client_core: usize,
}

/// The clocks at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    pub(crate) at: Instant,
    pub(crate) server: Duration,
    pub(crate) client: Duration,
    pub(crate) server_core: CoreTime,
    pub(crate) client_core: CoreTime,
    pub(crate) kernel_drops: u64,
}

impl Env {
    pub(crate) fn snapshot(&self, server: &Server) -> Result<Snapshot> {
        Ok(Snapshot {
            at: Instant::now(),
            server: server.cpu_time(self.ticks)?,
            client: process_cpu(std::process::id(), self.ticks)?,
            server_core: core_time(self.server_core, self.ticks)?,
            client_core: core_time(self.client_core, self.ticks)?,
            kernel_drops: udp_rcvbuf_errors()?,
        })
    }
}
