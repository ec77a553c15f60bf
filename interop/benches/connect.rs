//! How fast friends connect, and what a message round trip and an idle
//! client cost, toxide↔toxide and c-toxcore↔c-toxcore in the same run
//! (issue "messenger", performance).
//!
//! Every peer bootstraps from one toxide node (a driver serving the DHT
//! and the onion, as `tests/tox_api.rs` sets it up), on 127.0.0.1, fresh
//! ports each start (a restart binds a new port, as c-toxcore's default
//! does when the old one is still taken; see ctoxcore-observed on port reuse).
//!
//! - (a) first contact: from starting two fresh clients until both see
//!   the other online, one sending a friend request the other accepts
//!   at once;
//! - (b) both restarted from their saves: `--pause` seconds (3) after
//!   they connected, the two save, stop, and start again together; from
//!   the start until both see the other online, `--restarts` times
//!   (median and max). The pause keeps restarts apart as a user's are:
//!   the bootstrap node pings nodes it has just met in rounds 2 s apart
//!   (c-toxcore's `TIME_TO_PING`), so back-to-back restarts all wait for
//!   its next round;
//! - (c) message round trip: one application sends a message, the other's
//!   application answers it as it arrives, `--messages` times (median and
//!   p99); toxide's applications await their event channels, c-toxcore's
//!   peer is the interop `tox_peer` (its loop sleeps at most 20 ms, the
//!   echo goes through its line protocol);
//! - (d) idle RSS of one client with its friend online: toxide's in a
//!   process of its own (this program started again with `--rss-child`,
//!   a current-thread runtime running one `Tox`), c-toxcore's `tox_peer`,
//!   both read from `/proc/<pid>/status` after 10 s idle. The toxide child
//!   is this benchmark binary, so its code pages are a larger binary's.
//!
//! toxide's node and two clients each run on a thread of their own with a
//! single-threaded runtime, as separate processes would.
//!
//! `cargo bench -p toxide-interop --bench connect` (`-- --no-ctoxcore` for
//! toxide alone). Every line `BENCH <case> <value> <unit>` is one figure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use toxide::messenger::packet::MessageKind;
use toxide::{PublicKey, Tox, ToxBuilder, ToxEvent, ToxEvents, ToxId};
use toxide_interop::measure::{quantile, report_round_trips, status_kb};
use toxide_interop::{CPeer, PeerOptions, TempDir, bench_arg};

use common::{builder, current_thread, node, runtime_thread};

/// The longest any one step may take.
const STEP: Duration = Duration::from_secs(60);
/// Idle time before RSS is read.
const IDLE: Duration = Duration::from_secs(10);

/// What one implementation measured.
#[derive(Default)]
struct Figures {
    first_contact: Option<f64>,
    restarts: Vec<f64>,
    round_trips: Vec<f64>,
    rss_kb: Option<u64>,
}

fn report(who: &str, f: &mut Figures) {
    if let Some(s) = f.first_contact {
        println!("{who}: first contact (start → both online): {s:.2} s");
        println!("BENCH {who}_first_contact {s:.3} s");
    }
    if !f.restarts.is_empty() {
        let runs: Vec<String> = f.restarts.iter().map(|s| format!("{s:.2}")).collect();
        let n = f.restarts.len();
        let median = quantile(&mut f.restarts, 0.5);
        let max = quantile(&mut f.restarts, 1.0);
        println!(
            "{who}: both restarted from saves → both online: median {median:.2} s, max {max:.2} s \
             ({n} runs: {})",
            runs.join(" ")
        );
        println!("BENCH {who}_restart_median {median:.3} s");
        println!("BENCH {who}_restart_max {max:.3} s");
    }
    report_round_trips(who, "message round trip", &mut f.round_trips, 3);
    if let Some(kb) = f.rss_kb {
        println!("{who}: idle client RSS with a friend online: {kb} kB");
        println!("BENCH {who}_idle_rss {kb} kB");
    }
}

// ----- toxide -----------------------------------------------------------

/// Starts a client on `side`'s runtime (its driver runs there).
async fn start(side: &Handle, builder: ToxBuilder) -> (Tox, ToxEvents) {
    side.spawn(builder.spawn()).await.unwrap().unwrap()
}

/// The next event `want` takes a value from, within [`STEP`].
async fn wait<T>(events: &mut ToxEvents, mut want: impl FnMut(ToxEvent) -> Option<T>) -> T {
    tokio::time::timeout(STEP, async {
        loop {
            let event = events.recv().await.expect("the client stopped");
            if let Some(value) = want(event) {
                return value;
            }
        }
    })
    .await
    .expect("no such event in time")
}

async fn online(events: &mut ToxEvents) {
    wait(events, |e| {
        matches!(e, ToxEvent::FriendConnection { connection, .. } if connection.is_connected())
            .then_some(())
    })
    .await;
}

/// Both sides online, in whichever order; seconds since `since`.
async fn both_online(a: &mut ToxEvents, b: &mut ToxEvents, since: Instant) -> f64 {
    tokio::join!(online(a), online(b));
    since.elapsed().as_secs_f64()
}

/// The toxide client of `--rss-child <node addr> <node key>`: prints its
/// address, accepts the first friend request, and once the friend is
/// online and 10 s have passed, prints its RSS; exits when stdin closes.
fn rss_child() {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == "--rss-child").unwrap();
    let addr: SocketAddr = args[i + 1].parse().unwrap();
    let key: PublicKey = args[i + 2].parse().unwrap();
    let rt = current_thread();
    rt.block_on(async {
        let (tox, mut events) = builder((addr, key)).spawn().await.unwrap();
        println!("ADDR {}", tox.address());
        let from = wait(&mut events, |e| match e {
            ToxEvent::FriendRequest { public_key, .. } => Some(public_key),
            _ => None,
        })
        .await;
        tox.add_friend_norequest(from).await.unwrap();
        online(&mut events).await;
        let idle = tokio::spawn(async move {
            // Keep the event channel drained, as an application would.
            while events.recv().await.is_some() {}
        });
        tokio::time::sleep(IDLE).await;
        println!(
            "RSS {}",
            status_kb(std::process::id(), "VmRSS").unwrap_or(0)
        );
        std::io::stdout().flush().unwrap();
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
        })
        .await
        .unwrap();
        idle.abort();
        tox.shutdown().await;
    });
}

/// Starts the RSS child and befriends it from `tox`; its RSS in kB.
async fn toxide_rss(node: (SocketAddr, PublicKey), tox: &Tox) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let mut child = Command::new(exe)
        .arg("--rss-child")
        .arg(node.0.to_string())
        .arg(node.1.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let id: ToxId = next_line(&mut rx, "ADDR ").await?.parse().ok()?;
    tox.add_friend(id, b"rss").await.ok()?;
    let rss = next_line(&mut rx, "RSS ")
        .await
        .and_then(|v| v.parse().ok());
    drop(child.stdin.take());
    let _ = child.wait();
    rss
}

/// The rest of the next line starting with `prefix`.
async fn next_line(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    prefix: &str,
) -> Option<String> {
    loop {
        let line = tokio::time::timeout(STEP + IDLE, rx.recv()).await.ok()??;
        if let Some(rest) = line.strip_prefix(prefix) {
            return Some(rest.to_owned());
        }
    }
}

fn toxide_run(restarts: u64, messages: u64, pause: Duration) -> Figures {
    let mut figures = Figures::default();
    let [node_side, a_side, b_side] = ["node", "alice", "bob"].map(runtime_thread);
    let main = current_thread();
    main.block_on(async {
        let handle = node_side.spawn(node()).await.unwrap();
        let node = (handle.local_addr(), handle.public_key());

        // (a) First contact.
        let started = Instant::now();
        let ((mut a, mut a_events), (mut b, mut b_events)) =
            tokio::join!(start(&a_side, builder(node)), start(&b_side, builder(node)));
        a.add_friend(b.address(), b"benchmark").await.unwrap();
        let from = wait(&mut b_events, |e| match e {
            ToxEvent::FriendRequest { public_key, .. } => Some(public_key),
            _ => None,
        })
        .await;
        b.add_friend_norequest(from).await.unwrap();
        let first = both_online(&mut a_events, &mut b_events, started).await;
        println!("toxide: first contact {first:.2} s");
        figures.first_contact = Some(first);

        // (c) Round trips on that session: Bob's application echoes; it
        // ends with Bob's instance.
        let echo_tox = b.clone();
        b_side.spawn(async move {
            while let Some(event) = b_events.recv().await {
                if let ToxEvent::Message { friend, kind, text } = event {
                    if echo_tox.send_message(friend, kind, text).await.is_err() {
                        break;
                    }
                }
            }
        });
        for i in 0..messages {
            let text = format!("ping {i}");
            let sent = Instant::now();
            a.send_message(0, MessageKind::Normal, text.clone())
                .await
                .unwrap();
            let back = wait(&mut a_events, |e| match e {
                ToxEvent::Message { text, .. } => Some(text),
                _ => None,
            })
            .await;
            figures.round_trips.push(sent.elapsed().as_secs_f64());
            assert_eq!(back, text.as_bytes());
        }

        // (b) Both restart from their saves, together.
        let mut b_events = None;
        for run in 0..restarts {
            tokio::time::sleep(pause).await;
            let (a_save, b_save) = (a.savedata().await.unwrap(), b.savedata().await.unwrap());
            tokio::join!(a.shutdown(), b.shutdown());
            let started = Instant::now();
            let ((a2, a2_events), (b2, mut b2_events)) = tokio::join!(
                start(&a_side, builder(node).savedata(a_save)),
                start(&b_side, builder(node).savedata(b_save))
            );
            (a, a_events, b) = (a2, a2_events, b2);
            let secs = both_online(&mut a_events, &mut b2_events, started).await;
            b_events = Some(b2_events);
            println!(
                "toxide: restart {} → both online after {secs:.2} s",
                run + 1
            );
            figures.restarts.push(secs);
        }

        // (d) Idle RSS of a client in a process of its own. The event
        // channels are kept drained meanwhile, as applications do.
        for mut events in [Some(a_events), b_events].into_iter().flatten() {
            tokio::spawn(async move { while events.recv().await.is_some() {} });
        }
        figures.rss_kb = toxide_rss(node, &a).await;
        tokio::join!(a.shutdown(), b.shutdown(), handle.shutdown());
    });
    figures
}

// ----- c-toxcore -----------------------------------------------------------

fn c_peer(label: &str, savedata: Option<std::path::PathBuf>, node: (u16, PublicKey)) -> CPeer {
    let mut peer = CPeer::spawn(PeerOptions {
        label: Some(label.to_owned()),
        savedata,
        ..PeerOptions::default()
    })
    .unwrap();
    peer.bootstrap(node.0, &node.1).unwrap();
    peer
}

fn ctoxcore_run(restarts: u64, messages: u64, pause: Duration) -> Option<Figures> {
    let mut figures = Figures::default();
    let node_side = runtime_thread("c-node");
    let main = current_thread();
    let handle = main.block_on(node_side.spawn(node())).ok()?;
    let node = (handle.local_addr().port(), handle.public_key());
    let dir = TempDir::new("bench-connect").ok()?;

    // (a) First contact.
    let started = Instant::now();
    let mut a = c_peer("c-alice", None, node);
    let mut b = c_peer("c-bob", None, node);
    let b_id = *b.tox_id();
    let friend = a.add_friend(&b_id, "benchmark").ok()?;
    let (pk, _) = b.wait_friend_request(STEP).ok()?;
    let friend_in_b = b.add_friend_norequest(&pk).ok()?;
    a.wait_friend_online(friend, STEP).ok()?;
    b.wait_friend_online(friend_in_b, STEP).ok()?;
    let first = started.elapsed().as_secs_f64();
    println!("ctoxcore: first contact {first:.2} s");
    figures.first_contact = Some(first);

    // (c) Round trips, echoed through the harness.
    for i in 0..messages {
        let text = format!("ping {i}");
        let sent = Instant::now();
        a.send_message(friend, &text).ok()?;
        let (_, got) = b.wait_message(STEP).ok()?;
        b.send_message(friend_in_b, &got).ok()?;
        let (_, back) = a.wait_message(STEP).ok()?;
        figures.round_trips.push(sent.elapsed().as_secs_f64());
        if back != text {
            return None;
        }
    }

    // (b) Both restart from their saves, together (fresh ports).
    for run in 0..restarts {
        std::thread::sleep(pause);
        let (a_path, b_path) = (dir.path().join("a.tox"), dir.path().join("b.tox"));
        a.save(&a_path).ok()?;
        b.save(&b_path).ok()?;
        a.quit().ok()?;
        b.quit().ok()?;
        let started = Instant::now();
        a = c_peer("c-alice", Some(a_path), node);
        b = c_peer("c-bob", Some(b_path), node);
        a.wait_friend_online(friend, STEP).ok()?;
        b.wait_friend_online(friend_in_b, STEP).ok()?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "ctoxcore: restart {} → both online after {secs:.2} s",
            run + 1
        );
        figures.restarts.push(secs);
    }

    // (d) Idle RSS, friend online.
    std::thread::sleep(IDLE);
    figures.rss_kb = status_kb(a.pid(), "VmRSS");
    a.quit().ok()?;
    b.quit().ok()?;
    main.block_on(handle.shutdown());
    Some(figures)
}

fn main() {
    if std::env::args().any(|a| a == "--rss-child") {
        rss_child();
        return;
    }
    let restarts = bench_arg("--restarts", 5);
    let messages = bench_arg("--messages", 200);
    let pause = Duration::from_secs(bench_arg("--pause", 3));
    let mut toxide = toxide_run(restarts, messages, pause);
    report("toxide", &mut toxide);
    if std::env::args().any(|a| a == "--no-ctoxcore") {
        return;
    }
    match ctoxcore_run(restarts, messages, pause) {
        Some(mut c) => {
            report("ctoxcore", &mut c);
            if let (Some(t), Some(c)) = (toxide.first_contact, c.first_contact) {
                println!("BENCH ratio_first_contact {:.2} x", c / t);
            }
        }
        None => println!("c-toxcore run failed (is libtoxcore-dev installed?)"),
    }
}
