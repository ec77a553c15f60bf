//! File transfer speed on loopback: toxide→toxide, c-toxcore→c-toxcore,
//! toxide→c-toxcore and c-toxcore→toxide in one run (issue 11).
//!
//! Each toxide side is a `Tox` on a thread of its own with a
//! single-threaded runtime, so its CPU time is that thread's: the driver,
//! the task reading the file to send, the task reading the received one.
//! The data comes from `tokio::io::repeat` and the receiver counts and
//! drops it, so no disk is involved. The two toxide clients find each
//! other directly (one bootstraps from the other), befriend, and one
//! sends a file of `--mb` MB; time runs from the receiver's accept to its
//! last byte.
//!
//! c-toxcore 0.2.18 is the interop test peer (Debian's libtoxcore), which
//! reads the file to send from disk and writes what it receives to disk
//! (page cache on this size: a memcpy more per byte than toxide's side).
//!
//! While toxide→toxide runs, the sender's application sends a short chat
//! message every 20 ms and the receiver's application echoes it: the
//! figures are that round trip, application to application, while the
//! file fills the session.
//!
//! Reported per case: MB/s (10⁶ bytes), CPU seconds per GB on each side,
//! peak RSS of each c-toxcore process, the growth of this process's peak
//! RSS (both toxide sides) over the transfer, and, where toxide receives,
//! when the rate first reached 90 % of its median ("full speed").
//!
//! `cargo bench -p toxide-interop --bench files -- --mb 256`; add
//! `--no-ctoxcore` for toxide→toxide alone. Every figure is also a line
//! `BENCH <case> <value> <unit>`. All traffic is on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::runtime::Handle;
use toxide::messenger::packet::MessageKind;
use toxide::tox::{IncomingFile, OutgoingFile};
use toxide::{PublicKey, Tox, ToxBuilder, ToxEvent, ToxEvents};
use toxide_interop::measure::{
    ProcessCost, ctoxcore_transfer, process_cpu, report_round_trips, status_kb, thread_cpu_at,
    thread_self_path, time_to_full_speed,
};
use toxide_interop::{CPeer, Event as PeerEvent, PeerOptions, TempDir, bench_arg};

/// How often the sender times a chat message during the transfer.
const PING_EVERY: Duration = Duration::from_millis(20);
/// The longest a transfer may take.
const BOUND: Duration = Duration::from_secs(600);
/// The longest any other step may take.
const STEP: Duration = Duration::from_secs(60);
/// The byte every test file is made of.
const FILL: u8 = 0x5a;

/// A thread running a single-threaded runtime until the program ends, and
/// where its CPU counters are.
struct Side {
    rt: Handle,
    proc_path: String,
}

impl Side {
    fn new(name: &str) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                tx.send((rt.handle().clone(), thread_self_path().unwrap()))
                    .unwrap();
                rt.block_on(std::future::pending::<()>());
            })
            .unwrap();
        let (rt, proc_path) = rx.recv().unwrap();
        Self { rt, proc_path }
    }

    fn cpu(&self) -> Duration {
        thread_cpu_at(&self.proc_path)
    }

    /// A `Tox` whose driver runs on this side's thread.
    async fn tox(&self, bootstrap: Option<(SocketAddr, PublicKey)>) -> (Tox, ToxEvents) {
        let mut builder = ToxBuilder::new()
            .bind_ip(Ipv4Addr::LOCALHOST.into())
            .port(0);
        if let Some((addr, key)) = bootstrap {
            builder = builder.bootstrap(addr, key);
        }
        self.rt
            .spawn(builder.spawn())
            .await
            .unwrap()
            .expect("a Tox on loopback starts")
    }

    /// Sends `bytes` of [`FILL`] from this side's thread.
    async fn send(&self, tox: &Tox, friend: u32, bytes: u64) -> OutgoingFile {
        let tox = tox.clone();
        self.rt
            .spawn(async move {
                let source = tokio::io::repeat(FILL).take(bytes);
                tox.send_file(friend, 0, Some(bytes), None, "bench.bin", source)
                    .await
            })
            .await
            .unwrap()
            .expect("the friend is online")
    }
}

/// Accepts `offer` and reads it to the end on `rt` (a side's thread).
async fn receive(rt: &Handle, offer: IncomingFile) -> Received {
    rt.spawn(async move {
        let accepted = Instant::now();
        let mut data = offer.accept().await.expect("the offer stands");
        let mut bytes = 0u64;
        let mut wrong = 0u64;
        let mut samples = vec![(0.0, 0)];
        let mut sampled = accepted;
        while let Some(chunk) = data.next().await {
            let chunk = chunk.expect("the transfer completes");
            bytes += chunk.len() as u64;
            wrong += chunk.iter().filter(|&&b| b != FILL).count() as u64;
            if sampled.elapsed() >= Duration::from_millis(10) {
                sampled = Instant::now();
                samples.push((accepted.elapsed().as_secs_f64(), bytes));
            }
        }
        Received {
            bytes,
            wrong,
            elapsed: accepted.elapsed(),
            samples,
        }
    })
    .await
    .unwrap()
}

struct Received {
    bytes: u64,
    /// Bytes that were not [`FILL`] (must be 0).
    wrong: u64,
    elapsed: Duration,
    samples: Vec<(f64, u64)>,
}

/// One case's figures.
struct Figures {
    bytes: u64,
    elapsed: Duration,
    sender_cpu: Duration,
    receiver_cpu: Duration,
    /// Peak RSS of the c-toxcore processes, kB.
    sender_rss_kb: Option<u64>,
    receiver_rss_kb: Option<u64>,
    /// Growth of this process's peak RSS over the case, kB.
    toxide_rss_growth_kb: Option<u64>,
    full_speed_after: Option<f64>,
    /// Chat round trips during the transfer, seconds.
    round_trips: Vec<f64>,
}

impl Figures {
    fn report(&mut self, case: &str) {
        let mb_per_s = self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64();
        let gb = self.bytes as f64 / 1e9;
        let sender = self.sender_cpu.as_secs_f64() / gb;
        let receiver = self.receiver_cpu.as_secs_f64() / gb;
        println!(
            "{case}: {} bytes in {:.2} s = {mb_per_s:.1} MB/s; CPU {sender:.2} s/GB sending, {receiver:.2} s/GB receiving",
            self.bytes,
            self.elapsed.as_secs_f64()
        );
        println!("BENCH {case}_throughput {mb_per_s:.1} MB/s");
        println!("BENCH {case}_cpu_sender {sender:.2} s/GB");
        println!("BENCH {case}_cpu_receiver {receiver:.2} s/GB");
        for (who, kb) in [
            ("sender", self.sender_rss_kb),
            ("receiver", self.receiver_rss_kb),
        ] {
            if let Some(kb) = kb {
                println!("BENCH {case}_peak_rss_ctoxcore_{who} {kb} kB");
            }
        }
        if let Some(kb) = self.toxide_rss_growth_kb {
            println!("BENCH {case}_toxide_peak_rss_growth {kb} kB");
        }
        if let Some(t) = self.full_speed_after {
            println!("BENCH {case}_full_speed_after {t:.2} s");
        }
        report_round_trips(
            case,
            "chat round trip during the transfer",
            &mut self.round_trips,
            2,
        );
    }
}

fn own_peak_rss() -> Option<u64> {
    status_kb(std::process::id(), "VmHWM")
}

/// Waits for the first event `pick` takes.
async fn wait_for<T>(events: &mut ToxEvents, mut pick: impl FnMut(ToxEvent) -> Option<T>) -> T {
    tokio::time::timeout(STEP, async {
        loop {
            let event = events.recv().await.expect("the Tox runs");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await
    .expect("the event comes in time")
}

/// `alice` befriends `bob`; returns bob's number at alice and alice's at
/// bob once both see the other online.
async fn befriend(
    alice: &Tox,
    alice_events: &mut ToxEvents,
    bob: &Tox,
    bob_events: &mut ToxEvents,
) -> (u32, u32) {
    let bob_at_alice = alice.add_friend(bob.address(), b"bench").await.unwrap();
    let key = wait_for(bob_events, |e| match e {
        ToxEvent::FriendRequest { public_key, .. } => Some(public_key),
        _ => None,
    })
    .await;
    let alice_at_bob = bob.add_friend_norequest(key).await.unwrap();
    for (events, friend) in [(alice_events, bob_at_alice), (bob_events, alice_at_bob)] {
        wait_for(events, |e| {
            matches!(e, ToxEvent::FriendConnection { friend: f, connection } if f == friend && connection.is_connected())
                .then_some(())
        })
        .await;
    }
    (bob_at_alice, alice_at_bob)
}

async fn toxide_to_toxide(bytes: u64) -> Figures {
    let (a, b) = (Side::new("toxide-sender"), Side::new("toxide-receiver"));
    let (alice, mut alice_events) = a.tox(None).await;
    let (bob, mut bob_events) = b.tox(Some((alice.local_addr(), alice.dht_key()))).await;
    let (friend, _) = befriend(&alice, &mut alice_events, &bob, &mut bob_events).await;
    let rss_before = own_peak_rss();
    let (cpu_a, cpu_b) = (a.cpu(), b.cpu());
    let _outgoing = a.send(&alice, friend, bytes).await;
    let offer = wait_for(&mut bob_events, |e| match e {
        ToxEvent::FileOffer(offer) => Some(offer),
        _ => None,
    })
    .await;
    // Bob's application echoes every chat message while the file runs.
    let echo = {
        let bob = bob.clone();
        tokio::spawn(async move {
            while let Some(event) = bob_events.recv().await {
                if let ToxEvent::Message { friend, kind, text } = event {
                    let _ = bob.send_message(friend, kind, text).await;
                }
            }
        })
    };
    let receiving = {
        let b_rt = b.rt.clone();
        tokio::spawn(async move { receive(&b_rt, offer).await })
    };
    let mut round_trips = Vec::new();
    let mut sent = std::collections::HashMap::new();
    let mut ticker = tokio::time::interval(PING_EVERY);
    let mut next = 0u32;
    let started = Instant::now();
    while !receiving.is_finished() && started.elapsed() < BOUND {
        tokio::select! {
            _ = ticker.tick() => {
                if alice
                    .send_message(friend, MessageKind::Normal, format!("ping {next}"))
                    .await
                    .is_ok()
                {
                    sent.insert(next, Instant::now());
                }
                next += 1;
            }
            event = alice_events.recv() => {
                if let Some(ToxEvent::Message { text, .. }) = event {
                    let number = std::str::from_utf8(&text)
                        .ok()
                        .and_then(|t| t.strip_prefix("ping "))
                        .and_then(|n| n.parse::<u32>().ok());
                    if let Some(at) = number.and_then(|n| sent.remove(&n)) {
                        round_trips.push(at.elapsed().as_secs_f64());
                    }
                }
            }
        }
    }
    let received = receiving.await.unwrap();
    let figures = Figures {
        bytes: checked(&received, bytes),
        elapsed: received.elapsed,
        sender_cpu: a.cpu() - cpu_a,
        receiver_cpu: b.cpu() - cpu_b,
        sender_rss_kb: None,
        receiver_rss_kb: None,
        toxide_rss_growth_kb: own_peak_rss()
            .zip(rss_before)
            .map(|(after, before)| after.saturating_sub(before)),
        full_speed_after: Some(time_to_full_speed(&received.samples)),
        round_trips,
    };
    echo.abort();
    alice.shutdown().await;
    bob.shutdown().await;
    figures
}

/// The bytes received, after checking they are the file sent.
fn checked(received: &Received, bytes: u64) -> u64 {
    assert_eq!(received.bytes, bytes, "the whole file arrived");
    assert_eq!(received.wrong, 0, "every byte arrived as sent");
    received.bytes
}

/// A c-toxcore peer befriended with a toxide `Tox` (it bootstraps from
/// it); returns the peer, the friend's number at toxide and toxide's at
/// the peer.
async fn ctoxcore_friend(tox: &Tox, events: &mut ToxEvents, label: &str) -> (CPeer, u32, u32) {
    let mut peer = CPeer::spawn(PeerOptions {
        label: Some(label.into()),
        loop_cap: Some(Duration::from_millis(1)),
        ..PeerOptions::default()
    })
    .expect("the c-toxcore peer starts");
    peer.bootstrap(tox.local_addr().port(), &tox.dht_key())
        .unwrap();
    let friend = tox.add_friend(*peer.tox_id(), b"bench").await.unwrap();
    let (key, _) = peer.wait_friend_request(STEP).unwrap();
    let us = peer.add_friend_norequest(&key).unwrap();
    peer.wait_friend_online(us, STEP).unwrap();
    wait_for(events, |e| {
        matches!(e, ToxEvent::FriendConnection { friend: f, connection } if f == friend && connection.is_connected())
            .then_some(())
    })
    .await;
    (peer, friend, us)
}

fn peer_cost(peer: &CPeer, before: Duration) -> ProcessCost {
    ProcessCost {
        cpu: process_cpu(peer.pid()).saturating_sub(before),
        peak_rss_kb: status_kb(peer.pid(), "VmHWM"),
    }
}

async fn toxide_to_ctoxcore(bytes: u64) -> Figures {
    let a = Side::new("toxide-sender");
    let (alice, mut events) = a.tox(None).await;
    let (mut peer, friend, _) = ctoxcore_friend(&alice, &mut events, "bench-receiver").await;
    let (cpu_a, cpu_peer) = (a.cpu(), process_cpu(peer.pid()));
    let started = Instant::now();
    let _outgoing = a.send(&alice, friend, bytes).await;
    // The main runtime may block: the Tox runs on its side's thread,
    // which also drains its events (an undrained event channel would
    // stop its driver reading datagrams).
    a.rt.spawn(async move { while events.recv().await.is_some() {} });
    let done = peer
        .wait_event(
            |e: &PeerEvent| matches!(e, PeerEvent::FileDone { .. }),
            BOUND,
        )
        .unwrap();
    let elapsed = started.elapsed();
    let PeerEvent::FileDone { bytes: got, .. } = done else {
        unreachable!("the matcher takes FILE_DONE only")
    };
    assert_eq!(got, bytes, "c-toxcore received the whole file");
    let cost = peer_cost(&peer, cpu_peer);
    let figures = Figures {
        bytes: got,
        elapsed,
        sender_cpu: a.cpu() - cpu_a,
        receiver_cpu: cost.cpu,
        sender_rss_kb: None,
        receiver_rss_kb: cost.peak_rss_kb,
        toxide_rss_growth_kb: None,
        full_speed_after: None,
        round_trips: Vec::new(),
    };
    alice.shutdown().await;
    figures
}

async fn ctoxcore_to_toxide(file: &Path, bytes: u64) -> Figures {
    let b = Side::new("toxide-receiver");
    let (bob, mut events) = b.tox(None).await;
    let (mut peer, _, us) = ctoxcore_friend(&bob, &mut events, "bench-sender").await;
    let (cpu_b, cpu_peer) = (b.cpu(), process_cpu(peer.pid()));
    peer.send_file(us, file).unwrap();
    let offer = wait_for(&mut events, |e| match e {
        ToxEvent::FileOffer(offer) => Some(offer),
        _ => None,
    })
    .await;
    b.rt.spawn(async move { while events.recv().await.is_some() {} });
    let received = receive(&b.rt, offer).await;
    let cost = peer_cost(&peer, cpu_peer);
    let figures = Figures {
        bytes: checked(&received, bytes),
        elapsed: received.elapsed,
        sender_cpu: cost.cpu,
        receiver_cpu: b.cpu() - cpu_b,
        sender_rss_kb: cost.peak_rss_kb,
        receiver_rss_kb: None,
        toxide_rss_growth_kb: None,
        full_speed_after: Some(time_to_full_speed(&received.samples)),
        round_trips: Vec::new(),
    };
    bob.shutdown().await;
    figures
}

fn main() {
    let mb = bench_arg("--mb", 256);
    let bytes = mb * 1_000_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut case = rt.block_on(toxide_to_toxide(bytes));
    case.report(&format!("toxide_to_toxide_{mb}mb"));
    let toxide = case.bytes as f64 / case.elapsed.as_secs_f64();
    if std::env::args().any(|a| a == "--no-ctoxcore") {
        return;
    }
    let dir = TempDir::new("bench-files").unwrap();
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, vec![FILL; bytes as usize]).unwrap();
    match ctoxcore_transfer(&file, BOUND) {
        Ok(t) => {
            let mut c = Figures {
                bytes: t.bytes,
                elapsed: t.elapsed,
                sender_cpu: t.sender.cpu,
                receiver_cpu: t.receiver.cpu,
                sender_rss_kb: t.sender.peak_rss_kb,
                receiver_rss_kb: t.receiver.peak_rss_kb,
                toxide_rss_growth_kb: None,
                full_speed_after: None,
                round_trips: Vec::new(),
            };
            c.report(&format!("ctoxcore_to_ctoxcore_{mb}mb"));
            let ratio = toxide / (t.bytes as f64 / t.elapsed.as_secs_f64());
            println!("BENCH ratio_toxide_over_ctoxcore_{mb}mb {ratio:.2} x");
        }
        Err(error) => println!("c-toxcore pair failed: {error}"),
    }
    rt.block_on(toxide_to_ctoxcore(bytes))
        .report(&format!("toxide_to_ctoxcore_{mb}mb"));
    rt.block_on(ctoxcore_to_toxide(&file, bytes))
        .report(&format!("ctoxcore_to_toxide_{mb}mb"));
}
