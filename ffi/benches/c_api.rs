//! The same C program on both libraries in one run: c-toxcore's test peer
//! (`tox_peer`, toxide-interop's `c/tox_peer.c`, unmodified) on Debian's
//! libtoxcore 0.2.18 and on this crate's `libtoxcore.so`, as the pairs
//! c-toxcore↔c-toxcore, toxide↔toxide and mixed (A on toxide, B on
//! c-toxcore). Each pair bootstraps from a tox-bootstrapd of its own (the
//! same program for every pair; fresh, so no pair meets another's old
//! keys, see ctoxcore-observed on port reuse), on 127.0.0.1 only. Which
//! library each peer really loaded is checked in its `/proc/<pid>/maps`.
//!
//! Every peer runs with `--loop-cap 1000`. tox_peer's loop is
//! `poll(stdin, min(tox_iteration_interval(), cap))`, then the commands
//! stdin held, then `tox_iterate`: with the cap at its maximum each sleep
//! is the library's own interval (c-toxcore: 50 ms, 1–2 ms in bulk
//! transfers; toxide: until its next timer, at most 1 ms, 10 ms or 50 ms
//! within 0.5 s, 5 s or 30 s of session traffic, and later between 0.5 s
//! and 1 s, see `toxide::sync_driver::pace`),
//! except that a command on stdin ends the sleep at once. Packets that
//! arrive during a sleep wait for its end: the loop polls stdin only.
//!
//! - first contact: from starting A until both report the other online;
//!   A sends a friend request, which B accepts as soon as this program
//!   reads it;
//! - restart (pure pairs): `--pause` s later both save, quit (`tox_kill`)
//!   and start again from their saves on fresh ports; from the start until
//!   both report the other online, `--restarts` times;
//! - message round trip: this program tells A to send `ping i`, tells B
//!   to send the text back as soon as it reads B's `MESSAGE` line, and
//!   stops the clock when it reads A's (tox_peer has no echo; the two pipe
//!   hops and this program's reading add well under 0.1 ms). `--messages`
//!   back to back (median, p99): each message waits out the rest of its
//!   receiver's sleep, while the sender's command has just woken it. Then
//!   "cold", after the idle measurement: `--cold` more, each after
//!   `--cold-gap` s and a fraction of silence (a pause in a conversation:
//!   longer than toxide's 5-s window, within its 30-s one), all pairs at
//!   once: each message waits out the rest of the receiver's sleep;
//! - file: one `--mb` MB file A→B, disk to disk, from the `send-file`
//!   command to B's `FILE_DONE`: MB/s (10⁶ bytes), and each side's CPU
//!   time until the sender's `FILE_SENT`;
//! - idle cost: `--settle` s after the last transfer (longer than
//!   toxide's 30-s conversation window), over `--idle` s,
//!   all pairs connected and silent at once: CPU time (utime + stime of
//!   `/proc/<pid>/stat`) and wake-ups per second, as voluntary context
//!   switches (summed over the threads in `/proc/<pid>/task`). No command
//!   is sent then, so stdin stays quiet and every `poll` ends by its
//!   timeout; tox_peer blocks nowhere else (its sockets are non-blocking,
//!   its stdout a pipe this program drains), so each voluntary switch is
//!   one sleep of the loop, i.e. one wake-up the library's interval asked
//!   for. Turns with a 0-ms interval do not sleep and are not counted.
//!
//! Ratio lines are toxide/c-toxcore.
//!
//! `cargo bench -p toxide-ffi --bench c_api` (`-- --mixed 0` without the
//! mixed pair, `--mb 200`, `--idle 60`, …). Every figure is also a line
//! `BENCH <case> <value> <unit>`. Needs what the tox_peer test needs (a C
//! compiler, libtoxcore-dev, libsodium-dev, pkg-config, tox-bootstrapd).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../tests/common/library.rs"]
mod library;
#[path = "../tests/common/peer.rs"]
mod peer;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use toxide_interop::measure::{
    Latencies, print_load_average, process_cpu, quantile, report_round_trips, voluntary_switches,
};
use toxide_interop::{Bootstrapd, CPeer, Event, PeerOptions, TempDir, bench_arg};

use peer::{Library, spawn_on};

/// The longest any step but a file transfer may take.
const STEP: Duration = Duration::from_secs(60);
/// tox_peer's largest `--loop-cap`: the library's interval rules.
const LOOP_CAP: Duration = Duration::from_millis(1000);
/// Step of the fraction of a second added to each cold gap (see [`cold`]).
const COLD_SPREAD_MS: u64 = 618;
/// The byte the file sent is made of.
const FILL: u8 = 0x5a;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Which library each side of a pair runs on.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    a: Library,
    b: Library,
}

impl Case {
    fn pure(&self) -> bool {
        self.a == self.b
    }
}

const CASES: [Case; 3] = [
    Case {
        name: "ctoxcore",
        a: Library::CToxcore,
        b: Library::CToxcore,
    },
    Case {
        name: "toxide",
        a: Library::Toxide,
        b: Library::Toxide,
    },
    Case {
        name: "mixed",
        a: Library::Toxide,
        b: Library::CToxcore,
    },
];

/// The command line.
struct Options {
    mb: u64,
    messages: u64,
    restarts: u64,
    pause: Duration,
    settle: Duration,
    idle: Duration,
    cold: u64,
    cold_gap: Duration,
    payload: PathBuf,
    saves: PathBuf,
}

/// Two befriended peers and their bootstrap node.
struct Pair {
    case: Case,
    node: Bootstrapd,
    a: CPeer,
    b: CPeer,
    /// A's friend number for B.
    a_friend: u32,
    /// B's friend number for A.
    b_friend: u32,
}

/// What one side cost while idle.
#[derive(Debug, Clone, Copy)]
struct Idle {
    cpu: f64,
    wakeups: f64,
    threads: usize,
}

/// What one pair measured.
#[derive(Default)]
struct Figures {
    first_contact: Option<f64>,
    restarts: Vec<f64>,
    round_trips: Vec<f64>,
    cold: Vec<f64>,
    /// MB/s, and the sender's and receiver's CPU seconds.
    file: Option<(f64, f64, f64)>,
    /// A's and B's.
    idle: Option<[Idle; 2]>,
}

/// The figures the ratio lines compare.
#[derive(Default)]
struct Summary {
    first_contact: Option<f64>,
    restart: Option<f64>,
    rtt_median: Option<f64>,
    rtt_p99: Option<f64>,
    cold_median: Option<f64>,
    file: Option<f64>,
    idle_cpu: Option<f64>,
    idle_wakeups: Option<f64>,
}

/// One pair's run: its figures, and the pair while it is still up.
struct Run {
    case: Case,
    figures: Figures,
    pair: Option<Pair>,
}

fn start(case: Case, side: &str, savedata: Option<PathBuf>, node: &Bootstrapd) -> Res<CPeer> {
    let on = if side == "a" { case.a } else { case.b };
    let mut peer = spawn_on(
        &format!("{}-{side}", case.name),
        on,
        PeerOptions {
            savedata,
            loop_cap: Some(LOOP_CAP),
            ..PeerOptions::default()
        },
    )?;
    peer.bootstrap(node.port(), node.public_key())?;
    Ok(peer)
}

/// Figure 1a: two fresh peers to friends online.
fn connect(case: Case, figures: &mut Figures) -> Res<Pair> {
    let node = Bootstrapd::spawn()?;
    let started = Instant::now();
    let mut a = start(case, "a", None, &node)?;
    let mut b = start(case, "b", None, &node)?;
    let a_friend = a.add_friend(b.tox_id(), "c_api benchmark")?;
    let (key, _) = b.wait_friend_request(STEP)?;
    let b_friend = b.add_friend_norequest(&key)?;
    a.wait_friend_online(a_friend, STEP)?;
    b.wait_friend_online(b_friend, STEP)?;
    let secs = started.elapsed().as_secs_f64();
    println!("{}: first contact → both online {secs:.2} s", case.name);
    figures.first_contact = Some(secs);
    Ok(Pair {
        case,
        node,
        a,
        b,
        a_friend,
        b_friend,
    })
}

/// Figure 1b: both save, quit and start again from their saves.
fn restart(pair: Pair, options: &Options, figures: &mut Figures) -> Res<Pair> {
    std::thread::sleep(options.pause);
    let Pair {
        case,
        node,
        mut a,
        mut b,
        a_friend,
        b_friend,
    } = pair;
    let a_save = options.saves.join(format!("{}-a.tox", case.name));
    let b_save = options.saves.join(format!("{}-b.tox", case.name));
    a.save(&a_save)?;
    b.save(&b_save)?;
    a.quit()?;
    b.quit()?;
    let started = Instant::now();
    let mut a = start(case, "a", Some(a_save), &node)?;
    let mut b = start(case, "b", Some(b_save), &node)?;
    a.wait_friend_online(a_friend, STEP)?;
    b.wait_friend_online(b_friend, STEP)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: restart {} from saves → both online {secs:.2} s",
        case.name,
        figures.restarts.len() + 1
    );
    figures.restarts.push(secs);
    Ok(Pair {
        case,
        node,
        a,
        b,
        a_friend,
        b_friend,
    })
}

/// One round trip A → B → A through this program (see the module doc).
fn ping(pair: &mut Pair, text: &str) -> Res<f64> {
    let sent = Instant::now();
    pair.a.send_message(pair.a_friend, text)?;
    let (_, got) = pair.b.wait_message(STEP)?;
    pair.b.send_message(pair.b_friend, &got)?;
    let (back, at) = pair
        .a
        .wait_event_at(|e| matches!(e, Event::Message { .. }), STEP)?;
    let expected = Event::Message {
        friend: pair.a_friend,
        text: text.to_owned(),
    };
    if back != expected {
        return Err(format!("A got {back:?} for {text:?}").into());
    }
    // Receipts are not waited for: keep the queues short.
    pair.a.take_unclaimed_events();
    pair.b.take_unclaimed_events();
    Ok(at.saturating_duration_since(sent).as_secs_f64())
}

/// Figure 3: one file A → B.
fn file(pair: &mut Pair, options: &Options, figures: &mut Figures) -> Res<()> {
    let bound = Duration::from_secs(60 + 2 * options.mb);
    let (a_cpu, b_cpu) = (process_cpu(pair.a.pid()), process_cpu(pair.b.pid()));
    let started = Instant::now();
    let file = pair.a.send_file(pair.a_friend, &options.payload)?;
    let (done, at) = pair
        .b
        .wait_event_at(|e| matches!(e, Event::FileDone { .. }), bound)?;
    let Event::FileDone { bytes, path, .. } = done else {
        unreachable!()
    };
    let _ = std::fs::remove_file(&path);
    let sent = Event::FileSent {
        friend: pair.a_friend,
        file,
    };
    pair.a.wait_event(|e| *e == sent, STEP)?;
    let a_cpu = process_cpu(pair.a.pid()).saturating_sub(a_cpu);
    let b_cpu = process_cpu(pair.b.pid()).saturating_sub(b_cpu);
    if bytes != options.mb * 1_000_000 {
        return Err(format!("B received {bytes} bytes of {} MB", options.mb).into());
    }
    let secs = at.saturating_duration_since(started).as_secs_f64();
    let rate = bytes as f64 / 1e6 / secs;
    println!(
        "{}: file {} MB A→B in {secs:.2} s",
        pair.case.name, options.mb
    );
    figures.file = Some((rate, a_cpu.as_secs_f64(), b_cpu.as_secs_f64()));
    Ok(())
}

/// Figures 1–3 for one pair; the pair stays up for the idle measurement.
fn measure(case: Case, options: &Options, figures: &mut Figures) -> Res<Pair> {
    let mut pair = connect(case, figures)?;
    if case.pure() {
        for _ in 0..options.restarts {
            pair = restart(pair, options, figures)?;
        }
    }
    for i in 0..options.messages {
        figures
            .round_trips
            .push(ping(&mut pair, &format!("ping {i}"))?);
    }
    file(&mut pair, options, figures)?;
    Ok(pair)
}

/// A process's CPU time and voluntary context switches (`None` once it
/// is gone).
type Counters = Option<(Duration, u64)>;

fn counters(pid: u32) -> Counters {
    Some((process_cpu(pid), voluntary_switches(pid)?))
}

/// Figure 4, for every pair still up, in one window.
fn idle(runs: &mut [Run], options: &Options) {
    println!(
        "idle: {} s to settle, then {} s with every pair silent",
        options.settle.as_secs(),
        options.idle.as_secs()
    );
    std::thread::sleep(options.settle);
    let pids = |run: &Run| run.pair.as_ref().map(|p| [p.a.pid(), p.b.pid()]);
    let before: Vec<Option<[Counters; 2]>> = runs
        .iter()
        .map(|run| pids(run).map(|pids| pids.map(counters)))
        .collect();
    let started = Instant::now();
    std::thread::sleep(options.idle);
    let secs = started.elapsed().as_secs_f64();
    for (run, before) in runs.iter_mut().zip(before) {
        let (Some(pids), Some(before)) = (pids(run), before) else {
            continue;
        };
        let side = |i: usize| {
            let (cpu0, switches0) = before[i]?;
            let (cpu1, switches1) = counters(pids[i])?;
            let threads = std::fs::read_dir(format!("/proc/{}/task", pids[i])).ok()?;
            Some(Idle {
                cpu: cpu1.saturating_sub(cpu0).as_secs_f64(),
                wakeups: switches1.saturating_sub(switches0) as f64 / secs,
                threads: threads.count(),
            })
        };
        if let (Some(a), Some(b)) = (side(0), side(1)) {
            run.figures.idle = Some([a, b]);
        }
    }
}

/// Figure 2, cold: round trips after silence, all pairs at once. Each
/// gap is `--cold-gap` s and a fraction of a second more, a different one
/// each time: the libraries' timers repeat every 1 or 3 s from the last
/// message, so whole-second gaps would always land at the same phase
/// (for toxide, right on a timer that ends the receiver's sleep).
fn cold(pair: &mut Pair, options: &Options, figures: &mut Figures) -> Res<()> {
    for i in 0..options.cold {
        if i > 0 {
            let spread = Duration::from_millis(i * COLD_SPREAD_MS % 1000);
            std::thread::sleep(options.cold_gap + spread);
        }
        figures.cold.push(ping(pair, &format!("cold {i}"))?);
    }
    Ok(())
}

fn report(case: Case, f: &mut Figures, options: &Options) -> Summary {
    let name = case.name;
    let mut s = Summary {
        first_contact: f.first_contact,
        ..Summary::default()
    };
    if let Some(secs) = f.first_contact {
        println!("BENCH {name}_first_contact {secs:.3} s");
    }
    if !f.restarts.is_empty() {
        let runs: Vec<String> = f.restarts.iter().map(|s| format!("{s:.2}")).collect();
        let median = quantile(&mut f.restarts, 0.5);
        println!(
            "{name}: restart from saves → both online: median {median:.2} s ({} runs: {})",
            runs.len(),
            runs.join(" ")
        );
        println!("BENCH {name}_restart {median:.3} s");
        s.restart = Some(median);
    }
    if let Some(l) = Latencies::of(&mut f.round_trips) {
        (s.rtt_median, s.rtt_p99) = (Some(l.median_ms), Some(l.p99_ms));
    }
    report_round_trips(
        name,
        "message round trip A→B→A, back to back, at the bench",
        &mut f.round_trips,
        3,
    );
    if let Some(l) = Latencies::of(&mut f.cold) {
        println!(
            "{name}: cold round trip after {}+ s of silence: median {:.1} ms, max {:.1} ms ({} messages)",
            options.cold_gap.as_secs(),
            l.median_ms,
            l.max_ms,
            l.count
        );
        println!("BENCH {name}_cold_rtt_median {:.2} ms", l.median_ms);
        println!("BENCH {name}_cold_rtt_max {:.2} ms", l.max_ms);
        s.cold_median = Some(l.median_ms);
    }
    if let Some((rate, a_cpu, b_cpu)) = f.file {
        let mb = options.mb;
        println!(
            "{name}: file {mb} MB A→B: {rate:.2} MB/s, CPU sender {a_cpu:.2} s, receiver {b_cpu:.2} s"
        );
        println!("BENCH {name}_file_{mb}mb {rate:.2} MB/s");
        println!("BENCH {name}_file_{mb}mb_cpu_sender {a_cpu:.2} s");
        println!("BENCH {name}_file_{mb}mb_cpu_receiver {b_cpu:.2} s");
        s.file = Some(rate);
    }
    if let Some(sides) = f.idle {
        let window = options.idle.as_secs();
        for (side, on, idle) in [("a", case.a, sides[0]), ("b", case.b, sides[1])] {
            println!(
                "{name}: idle {side} on {on} ({} threads): {:.3} CPU s in {window} s, {:.1} wake-ups/s",
                idle.threads, idle.cpu, idle.wakeups
            );
            println!("BENCH {name}_idle_cpu_{side} {:.3} s", idle.cpu);
            println!("BENCH {name}_idle_wakeups_{side} {:.2} /s", idle.wakeups);
        }
        if case.pure() {
            let cpu = (sides[0].cpu + sides[1].cpu) / 2.0;
            let wakeups = (sides[0].wakeups + sides[1].wakeups) / 2.0;
            println!("BENCH {name}_idle_cpu {cpu:.3} s");
            println!("BENCH {name}_idle_wakeups {wakeups:.2} /s");
            (s.idle_cpu, s.idle_wakeups) = (Some(cpu), Some(wakeups));
        }
    }
    s
}

/// The ratio lines, and whether toxide meets its goals.
fn compare(toxide: &Summary, c: &Summary, options: &Options) {
    let mb = options.mb;
    let figures = [
        ("first_contact", toxide.first_contact, c.first_contact, true),
        ("restart", toxide.restart, c.restart, true),
        ("message_rtt_median", toxide.rtt_median, c.rtt_median, true),
        ("message_rtt_p99", toxide.rtt_p99, c.rtt_p99, true),
        ("cold_rtt_median", toxide.cold_median, c.cold_median, true),
        (&format!("file_{mb}mb") as &str, toxide.file, c.file, false),
        ("idle_cpu", toxide.idle_cpu, c.idle_cpu, true),
        ("idle_wakeups", toxide.idle_wakeups, c.idle_wakeups, true),
    ];
    let mut slower = Vec::new();
    for (what, t, c, lower_is_better) in figures {
        let (Some(t), Some(c)) = (t, c) else {
            continue;
        };
        let ratio = t / c;
        let better = if lower_is_better { "lower" } else { "higher" };
        println!("toxide/c-toxcore {what}: {ratio:.3} ({better} is better for toxide)");
        println!("BENCH ratio_{what} {ratio:.3} x");
        if (lower_is_better && ratio > 1.0) || (!lower_is_better && ratio < 1.0) {
            slower.push(what.to_owned());
        }
    }
    if let (Some(t), Some(c)) = (toxide.idle_wakeups, c.idle_wakeups) {
        let fewer = c / t;
        let met = if fewer >= 10.0 { "met" } else { "NOT met" };
        println!("idle wake-ups: toxide {fewer:.1}× fewer than c-toxcore (goal ≥ 10×: {met})");
    }
    if slower.is_empty() {
        println!("toxide is behind c-toxcore on no figure");
    } else {
        println!("toxide is behind c-toxcore on: {}", slower.join(", "));
    }
}

fn main() {
    let secs = |name, default| Duration::from_secs(bench_arg(name, default));
    let dir = TempDir::new("bench-c-api").unwrap();
    let options = Options {
        mb: bench_arg("--mb", 50),
        messages: bench_arg("--messages", 100),
        restarts: bench_arg("--restarts", 1),
        pause: secs("--pause", 3),
        settle: secs("--settle", 35),
        idle: secs("--idle", 30),
        cold: bench_arg("--cold", 5),
        cold_gap: secs("--cold-gap", 6),
        payload: dir.path().join("payload.bin"),
        saves: dir.path().to_path_buf(),
    };
    let mixed = bench_arg("--mixed", 1) != 0;
    print_load_average("start");
    std::fs::write(
        &options.payload,
        vec![FILL; (options.mb * 1_000_000) as usize],
    )
    .unwrap();

    let mut runs: Vec<Run> = CASES
        .into_iter()
        .filter(|case| mixed || case.pure())
        .map(|case| {
            let mut figures = Figures::default();
            let pair = measure(case, &options, &mut figures)
                .map_err(|e| println!("{}: failed: {e}", case.name))
                .ok();
            Run {
                case,
                figures,
                pair,
            }
        })
        .collect();

    idle(&mut runs, &options);
    println!(
        "cold round trips: {} per pair, {}–{} s apart, all pairs at once",
        options.cold,
        options.cold_gap.as_secs(),
        options.cold_gap.as_secs() + 1
    );
    std::thread::scope(|scope| {
        for run in &mut runs {
            let Run {
                case,
                figures,
                pair: Some(pair),
            } = run
            else {
                continue;
            };
            let options = &options;
            scope.spawn(move || {
                if let Err(e) = cold(pair, options, figures) {
                    println!("{}: cold round trips failed: {e}", case.name);
                }
            });
        }
    });

    let summaries: Vec<(Case, Summary)> = runs
        .iter_mut()
        .map(|run| (run.case, report(run.case, &mut run.figures, &options)))
        .collect();
    let of = |name: &str| summaries.iter().find(|(c, _)| c.name == name).map(|s| &s.1);
    if let (Some(t), Some(c)) = (of("toxide"), of("ctoxcore")) {
        compare(t, c, &options);
    }
    print_load_average("end");
}
