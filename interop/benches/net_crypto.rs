//! Bulk lossless throughput over one session on loopback, toxide↔toxide
//! and c-toxcore↔c-toxcore in the same run (issue: net_crypto performance).
//!
//! toxide: two tokio drivers, each on its own thread with a
//! single-threaded runtime (so each side's CPU time is its thread's), open
//! a session to each other directly (`Stack::connect_friend_at`: keys and
//! addresses known, no DHT or onion), then one side pushes `--mb` MB of
//! bulk data in 1373-byte packets (the largest net_crypto payload) as fast
//! as the session takes it. The transfer is done when the receiver has
//! acknowledged every packet. Reported: payload MB/s, the time until the
//! rate first reaches 90 % of the run's median 100 ms rate ("full speed"),
//! CPU seconds per GB on each side.
//!
//! c-toxcore 0.2.18: two Debian libtoxcore peers (the interop test peer)
//! befriend each other through a toxide node, then one sends a file of
//! the same size (`tox_file_send`, 1371-byte chunks as c-toxcore makes
//! them); the time from the first chunk request to FILE_DONE and each
//! process's CPU time give the same figures.
//!
//! Message latency under load: every 20 ms during the bulk stream the
//! sender's application sends a short lossless message (priority queue,
//! as chat messages go) carrying its sequence number; the receiver's
//! application reads every event from the driver's lossless event channel
//! and answers each such message at once; the sender's application times
//! the answer. Reported: median and 99th percentile of that round trip,
//! application to application.
//!
//! `cargo bench -p toxide-interop --bench net_crypto -- --mb 200` (or `--mb 50`). Every line
//! `BENCH <case> <value> <unit>` is one figure. All traffic is on
//! 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use toxide::driver::{ClientIdentity, Driver, DriverConfig, DriverHandle};
use toxide::net_crypto::Event as SessionEvent;
use toxide::{Bytes, KeyPair, NoSpam, PublicKey, StackEvent};
use toxide_interop::measure::{
    ctoxcore_transfer, report_round_trips, thread_cpu, time_to_full_speed,
};
use toxide_interop::{TempDir, bench_arg};

/// The largest net_crypto payload (checklist N7).
const PACKET: usize = 1373;
/// A custom lossless packet id: neutral payload for the session.
const CUSTOM_LOSSLESS: u8 = 160;
/// Another custom lossless id, for the timed messages and their answers.
const PING: u8 = 161;
/// How often the sender times a message round trip during the stream.
const PING_EVERY: Duration = Duration::from_millis(20);
const BOUND: Duration = Duration::from_secs(600);

struct Figures {
    seconds: f64,
    mb_per_s: f64,
    full_speed_after: f64,
    cpu_s_per_gb_sender: f64,
    cpu_s_per_gb_receiver: f64,
    /// Message round trips during the stream, seconds.
    round_trips: Vec<f64>,
}

/// Who a side is and where it listens.
#[derive(Clone, Copy)]
struct Peer {
    real: PublicKey,
    dht: PublicKey,
    addr: SocketAddr,
}

/// One side: a driver on its own thread with a single-threaded runtime
/// (its CPU time is the thread's). `work` gets the runtime, the handle and
/// the other side; it returns the CPU time it measured.
type Events = tokio::sync::mpsc::Receiver<StackEvent>;

fn spawn_side(
    name: &'static str,
    work: impl FnOnce(&tokio::runtime::Runtime, DriverHandle, Events, Peer) -> Duration + Send + 'static,
) -> (Peer, mpsc::Sender<Peer>, std::thread::JoinHandle<Duration>) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (peer_tx, peer_rx) = mpsc::channel::<Peer>();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let keys = KeyPair::generate(&mut rand::rng());
            let mut config = DriverConfig::new(["127.0.0.1:0".parse().unwrap()]);
            config.client = Some(ClientIdentity {
                keys: keys.clone(),
                nospam: NoSpam::random(&mut rand::rng()),
            });
            let (handle, events) = rt.block_on(Driver::spawn_with_events(config)).unwrap();
            ready_tx
                .send(Peer {
                    real: keys.public,
                    dht: handle.public_key(),
                    addr: handle.local_addr(),
                })
                .unwrap();
            // The driver runs while this thread waits for the other side.
            let other = rt.block_on(async {
                loop {
                    if let Ok(peer) = peer_rx.try_recv() {
                        return peer;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
            let handle2 = handle.clone();
            rt.block_on(handle.call(move |stack, now, _| {
                stack
                    .connect_friend_at(now, other.real, other.dht, other.addr)
                    .unwrap();
            }))
            .unwrap();
            work(&rt, handle2, events, other)
        })
        .unwrap();
    let me = ready_rx.recv().unwrap();
    (me, peer_tx, thread)
}

fn toxide_run(total_bytes: u64) -> Figures {
    let packets = total_bytes.div_ceil(PACKET as u64) as u32;
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (result_tx, result_rx) = mpsc::channel::<(Vec<(f64, u64)>, f64, Vec<f64>)>();

    // The receiver reads every event and answers the timed messages until
    // the sender is done.
    let (receiver, to_receiver, receiver_thread) =
        spawn_side("receiver", move |rt, handle, mut events, other| {
            let start = thread_cpu();
            rt.block_on(async {
                let begun = Instant::now();
                let mut batch = Vec::with_capacity(256);
                while done_rx.try_recv().is_err() && begun.elapsed() < BOUND {
                    let wait = events.recv_many(&mut batch, 256);
                    if tokio::time::timeout(Duration::from_millis(5), wait)
                        .await
                        .is_err()
                    {
                        continue;
                    }
                    for event in batch.drain(..) {
                        if let StackEvent::Session {
                            event: SessionEvent::Lossless { data, .. },
                            ..
                        } = event
                            && data.first() == Some(&PING)
                        {
                            handle
                                .send_lossless(other.real, data)
                                .await
                                .unwrap()
                                .unwrap();
                        }
                    }
                }
            });
            thread_cpu() - start
        });
    let (sender, to_sender, sender_thread) = spawn_side(
        "sender",
        move |rt, handle, mut events, other| {
            let real = other.real;
            let id = rt
                .block_on(handle.call(move |stack, _, _| stack.friend_connection(&real)))
                .unwrap()
                .unwrap();
            let up = Instant::now();
            while up.elapsed() < Duration::from_secs(10) {
                let status = rt
                    .block_on(handle.call(move |stack, _, _| {
                        stack.net_crypto.as_ref().and_then(|n| n.status(id))
                    }))
                    .unwrap();
                if status == Some(toxide::net_crypto::Status::Established) {
                    break;
                }
                rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
            }
            let chunk = {
                let mut c = vec![CUSTOM_LOSSLESS];
                c.resize(PACKET, 0x5a);
                Bytes::from(c)
            };
            let cpu_start = thread_cpu();
            let started = Instant::now();
            let mut samples = vec![(0.0, 0u64)];
            let mut queued = 0u32;
            let mut acked = 0u32;
            let mut round_trips = Vec::new();
            let mut ping: Option<(u32, Instant)> = None;
            let mut pings = 0u32;
            let mut last_ping = Instant::now();
            rt.block_on(async {
                while acked < packets && started.elapsed() < BOUND {
                    // Answers first, then maybe a new timed message.
                    while let Ok(event) = events.try_recv() {
                        if let StackEvent::Session {
                            event: SessionEvent::Lossless { data, .. },
                            ..
                        } = event
                            && let (Some(&PING), Some((n, at))) = (data.first(), ping)
                            && data.get(1..5) == Some(&n.to_be_bytes()[..])
                        {
                            round_trips.push(at.elapsed().as_secs_f64());
                            ping = None;
                        }
                    }
                    if ping.is_none() && last_ping.elapsed() >= PING_EVERY {
                        pings += 1;
                        let mut message = vec![PING];
                        message.extend(pings.to_be_bytes());
                        last_ping = Instant::now();
                        ping = Some((pings, last_ping));
                        handle
                            .send_lossless(real, Bytes::from(message))
                            .await
                            .unwrap()
                            .unwrap();
                    }
                    let chunk = chunk.clone();
                    let (q, a) = handle
                        .call(move |stack, _, _| {
                            let net = stack.net_crypto.as_mut().unwrap();
                            let mut q = queued;
                            while q < packets && net.bulk_space(id) > 0 {
                                net.send_bulk(id, chunk.clone()).unwrap();
                                q += 1;
                            }
                            (q, net.acked(id).unwrap_or(0))
                        })
                        .await
                        .unwrap();
                    queued = q;
                    if a != acked {
                        acked = a;
                        samples.push((
                            started.elapsed().as_secs_f64(),
                            u64::from(acked) * PACKET as u64,
                        ));
                    }
                    tokio::task::yield_now().await;
                }
            });
            let seconds = started.elapsed().as_secs_f64();
            let stats = rt.block_on(handle.stats()).unwrap();
            println!(
                "sender: {} datagrams sent for {packets} packets ({:.1} % more), {} received, {} send errors",
                stats.datagrams_sent,
                (stats.datagrams_sent as f64 / f64::from(packets) - 1.0) * 100.0,
                stats.datagrams_received,
                stats.send_errors
            );
            result_tx.send((samples, seconds, round_trips)).unwrap();
            thread_cpu() - cpu_start
        },
    );
    to_sender.send(receiver).unwrap();
    to_receiver.send(sender).unwrap();
    let (samples, seconds, round_trips) = result_rx.recv_timeout(BOUND).unwrap();
    let sender_cpu = sender_thread.join().unwrap();
    done_tx.send(()).unwrap();
    let receiver_cpu = receiver_thread.join().unwrap();
    let bytes = samples.last().map_or(0, |s| s.1) as f64;
    let gb = bytes / 1e9;
    Figures {
        seconds,
        mb_per_s: bytes / 1e6 / seconds,
        full_speed_after: time_to_full_speed(&samples),
        cpu_s_per_gb_sender: sender_cpu.as_secs_f64() / gb,
        cpu_s_per_gb_receiver: receiver_cpu.as_secs_f64() / gb,
        round_trips,
    }
}

fn ctoxcore_run(total_bytes: u64) -> Option<Figures> {
    let dir = TempDir::new("bench-net-crypto").ok()?;
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, vec![0x5au8; total_bytes as usize]).ok()?;
    let t = ctoxcore_transfer(&file, BOUND).ok()?;
    let gb = t.bytes as f64 / 1e9;
    let seconds = t.elapsed.as_secs_f64();
    Some(Figures {
        seconds,
        mb_per_s: t.bytes as f64 / 1e6 / seconds,
        full_speed_after: f64::NAN,
        cpu_s_per_gb_sender: t.sender.cpu.as_secs_f64() / gb,
        cpu_s_per_gb_receiver: t.receiver.cpu.as_secs_f64() / gb,
        round_trips: Vec::new(),
    })
}

fn report(who: &str, mb: u64, f: &mut Figures) {
    report_round_trips(
        &format!("{who}_{mb}mb"),
        "message round trip during the stream",
        &mut f.round_trips,
        2,
    );
    println!(
        "{who}: {mb} MB in {:.2} s = {:.1} MB/s; full speed after {:.2} s; CPU {:.2} s/GB sender, {:.2} s/GB receiver",
        f.seconds, f.mb_per_s, f.full_speed_after, f.cpu_s_per_gb_sender, f.cpu_s_per_gb_receiver
    );
    println!("BENCH {who}_{mb}mb_throughput {:.1} MB/s", f.mb_per_s);
    if f.full_speed_after.is_finite() {
        println!(
            "BENCH {who}_{mb}mb_full_speed_after {:.2} s",
            f.full_speed_after
        );
    }
    println!(
        "BENCH {who}_{mb}mb_cpu_sender {:.2} s/GB",
        f.cpu_s_per_gb_sender
    );
    println!(
        "BENCH {who}_{mb}mb_cpu_receiver {:.2} s/GB",
        f.cpu_s_per_gb_receiver
    );
}

fn main() {
    let mb = bench_arg("--mb", 200);
    let bytes = mb * 1_000_000;
    let mut toxide = toxide_run(bytes);
    report("toxide", mb, &mut toxide);
    if std::env::args().any(|a| a == "--no-ctoxcore") {
        return;
    }
    match ctoxcore_run(bytes) {
        Some(mut c) => {
            report("ctoxcore", mb, &mut c);
            println!(
                "BENCH ratio_{mb}mb_throughput {:.2} x",
                toxide.mb_per_s / c.mb_per_s
            );
        }
        None => println!("c-toxcore run failed (is libtoxcore-dev installed?)"),
    }
}
