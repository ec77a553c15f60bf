//! net_crypto sessions on the simulator, with nothing else running: many
//! pairs streaming lossless packets through loss, reordering and
//! duplication; lossy packets that must never be resent; bulk data over a
//! 100 Mbit/s uplink with a one-BDP drop-tail queue; and two sessions
//! sharing one uplink. Figures are printed as `BENCH <case> <value> <unit>`
//! lines (`--nocapture` shows them); the assertions are the pass criteria.
//! Debug builds run smaller and shorter versions (the net_crypto crate is
//! not optimised in test builds).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use toxide_net_crypto::{CloseReason, ConnectionId, Event, Status};
use toxide_sim::session_node::{self, payload};
use toxide_sim::{LinkConfig, Network, SessionNode, Uplink};

/// Steps one slice of simulation may take: far more than any of these runs
/// needs in 100 ms of virtual time, so reaching it means a node is asking
/// to be woken at the same instant forever.
const STEP_BUDGET: u64 = 2_000_000;

fn bench(case: &str, value: f64, unit: &str) {
    println!("BENCH {case} {value:.3} {unit}");
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn network(link: LinkConfig, nodes: usize, seed: u64) -> Network<SessionNode> {
    let start = Instant::now();
    let mut net = Network::new(link, start, seed);
    for _ in 0..nodes {
        let node_seed = net.node_seed();
        net.add(SessionNode::new(start, node_seed));
    }
    net
}

/// Runs `duration` more virtual time, failing if a node spins.
fn run(net: &mut Network<SessionNode>, duration: Duration) {
    let until = net.now() + duration;
    if let Err(stalled) = net.run_until_bounded(until, STEP_BUDGET) {
        panic!("the simulation stalled: {stalled:?}");
    }
}

/// The connection `node` holds to `peer`.
fn conn(net: &Network<SessionNode>, node: usize, peer: usize) -> Option<ConnectionId> {
    let peer_pk = net.nodes()[peer].real_pk();
    net.nodes()[node].layer.connection_to(&peer_pk)
}

fn established(net: &Network<SessionNode>, node: usize, peer: usize) -> bool {
    conn(net, node, peer)
        .and_then(|id| net.nodes()[node].layer.status(id))
        .is_some_and(|s| s == Status::Established)
}

/// Opens `from` → `to` for each pair and runs until every session is up
/// on both sides, reopening any that timed out (as the messenger would).
/// Returns the virtual time it took and how many were reopened.
fn establish(
    net: &mut Network<SessionNode>,
    pairs: &[(usize, usize)],
    limit: Duration,
) -> (Duration, u32) {
    let begin = net.now();
    for &(a, b) in pairs {
        session_node::open(net, a, b).expect("open");
    }
    let mut reopened = 0;
    while net.now() - begin < limit {
        run(net, ms(10));
        if pairs
            .iter()
            .all(|&(a, b)| established(net, a, b) && established(net, b, a))
        {
            return (net.now() - begin, reopened);
        }
        for &(a, b) in pairs {
            if conn(net, a, b).is_none() {
                session_node::open(net, a, b).expect("reopen");
                reopened += 1;
            }
        }
    }
    panic!("not every session came up within {limit:?}");
}

/// A chat message of the stream tests: id 64 (a message), its index as
/// the tag, and a size that varies from tiny to the largest allowed.
fn message(index: u32) -> Bytes {
    let len = if index % 50 == 49 {
        1373
    } else {
        5 + (index as usize * 37) % 200
    };
    payload(64, index, len)
}

struct StreamFigures {
    established: Duration,
    reopened: u32,
    complete: Duration,
    datagrams_per_message: f64,
}

/// `pairs` pairs each stream `forward` messages one way and `backward`
/// the other; all must arrive whole, in order, once, and be acknowledged.
fn streams(loss: f64, seed: u64) -> StreamFigures {
    let (pairs, forward, backward) = (20, 500u32, 200u32);
    let link = LinkConfig {
        loss,
        reorder: 0.1,
        reorder_delay: ms(50),
        duplicate: 0.05,
        ..LinkConfig::default()
    };
    let mut net = network(link, 2 * pairs, seed);
    for i in 0..2 * pairs {
        net.node_mut(i).unwrap().keep_payloads(true);
    }
    let pair_list: Vec<(usize, usize)> = (0..pairs).map(|p| (2 * p, 2 * p + 1)).collect();
    let (established_in, reopened) = establish(&mut net, &pair_list, Duration::from_secs(60));
    let sent_before: u64 = net.nodes().iter().map(|n| n.stats().datagrams).sum();

    // Each side sends its messages in bursts of 20 every 10 ms.
    let begin = net.now();
    let mut next = vec![0u32; 2 * pairs];
    let want = |node: usize| if node % 2 == 0 { forward } else { backward };
    let limit = Duration::from_secs(120);
    let done = |net: &Network<SessionNode>| {
        pair_list.iter().all(|&(a, b)| {
            [(a, b), (b, a)].iter().all(|&(from, to)| {
                let id = conn(net, to, from).unwrap();
                let got = net.nodes()[to].inbound(id).map_or(0, |i| i.lossless.len());
                let acked = net.nodes()[from].layer.acked(conn(net, from, to).unwrap());
                got == want(from) as usize && acked == Some(want(from))
            })
        })
    };
    loop {
        for (from, to) in pair_list.iter().flat_map(|&(a, b)| [(a, b), (b, a)]) {
            let id = conn(&net, from, to).unwrap();
            let end = (next[from] + 20).min(want(from));
            for index in next[from]..end {
                net.node_mut(from)
                    .unwrap()
                    .layer
                    .send_lossless(id, message(index))
                    .expect("send_lossless");
            }
            next[from] = end;
            net.flush(from);
        }
        run(&mut net, ms(10));
        if done(&net) {
            break;
        }
        assert!(
            net.now() - begin < limit,
            "not everything arrived within {limit:?} at {loss} loss"
        );
    }
    let complete = net.now() - begin;

    for &(a, b) in &pair_list {
        for (from, to) in [(a, b), (b, a)] {
            let id = conn(&net, to, from).unwrap();
            let inbound = net.nodes()[to].inbound(id).unwrap();
            let expected: Vec<Bytes> = (0..want(from)).map(message).collect();
            assert!(
                inbound.payloads == expected,
                "node {to} from {from}: every message once, in order, intact"
            );
        }
    }
    // Every session stayed up, with no restart or kill along the way.
    for node in net.nodes() {
        assert!(
            !node
                .events
                .iter()
                .any(|(_, e)| matches!(e, Event::Closed { .. })),
            "a session closed"
        );
    }
    let stats = net.stats();
    println!("# streams at {loss} loss: {stats:?}");
    assert!(
        stats.duplicated > 0 && stats.reordered > 0,
        "duplication and reordering ran"
    );
    let sent: u64 = net.nodes().iter().map(|n| n.stats().datagrams).sum::<u64>() - sent_before;
    let messages = pairs as u64 * u64::from(forward + backward);
    StreamFigures {
        established: established_in,
        reopened,
        complete,
        datagrams_per_message: sent as f64 / messages as f64,
    }
}

fn stream_case(name: &str, loss: f64, seed: u64) {
    let f = streams(loss, seed);
    bench(
        &format!("{name}_established"),
        f.established.as_secs_f64(),
        "s",
    );
    bench(
        &format!("{name}_reopened"),
        f64::from(f.reopened),
        "sessions",
    );
    bench(&format!("{name}_complete"), f.complete.as_secs_f64(), "s");
    bench(
        &format!("{name}_datagrams_per_message"),
        f.datagrams_per_message,
        "ratio",
    );
}

#[test]
fn lossless_streams_arrive_whole_on_a_clean_network() {
    stream_case("streams_0pct", 0.0, 1);
}

#[test]
fn lossless_streams_arrive_whole_at_10_percent_loss() {
    stream_case("streams_10pct", 0.10, 2);
}

#[test]
fn lossless_streams_arrive_whole_at_30_percent_loss() {
    stream_case("streams_30pct", 0.30, 3);
}

/// Sends `count` lossy packets (every 5 ms, if `count` > 0) on one session
/// at 50 % loss and returns how many datagrams A sent over 4 s and what B
/// received.
fn lossy_run(count: u32) -> (u64, Vec<Option<u32>>) {
    let mut net = network(
        LinkConfig {
            jitter: Duration::ZERO,
            ..LinkConfig::default()
        },
        2,
        7,
    );
    establish(&mut net, &[(0, 1)], Duration::from_secs(10));
    // Whatever the handshake left over settles first.
    run(&mut net, Duration::from_secs(2));
    net.set_link(LinkConfig {
        loss: 0.5,
        ..net.link()
    });
    let a = conn(&net, 0, 1).unwrap();
    let before = net.nodes()[0].stats().datagrams;
    let begin = net.now();
    for i in 0..count {
        net.node_mut(0)
            .unwrap()
            .layer
            .send_lossy(a, &payload(200, i, 40))
            .unwrap();
        net.flush(0);
        run(&mut net, ms(5));
    }
    let rest = Duration::from_secs(4).saturating_sub(net.now() - begin);
    run(&mut net, rest);
    let sent = net.nodes()[0].stats().datagrams - before;
    let b = conn(&net, 1, 0).unwrap();
    let got = net.nodes()[1]
        .inbound(b)
        .map(|i| i.lossy.iter().map(|a| a.tag).collect())
        .unwrap_or_default();
    (sent, got)
}

#[test]
fn lossy_packets_are_never_retransmitted() {
    const LOSSY: u32 = 200;
    let (idle_sent, _) = lossy_run(0);
    let (sent, got) = lossy_run(LOSSY);
    let extra = sent - u64::from(LOSSY);
    bench("lossy_datagrams_sent", sent as f64, "datagrams");
    bench("lossy_other_datagrams", extra as f64, "datagrams");
    bench("lossy_other_datagrams_idle", idle_sent as f64, "datagrams");
    bench("lossy_received", got.len() as f64, "packets");
    // A sent each lossy packet once and otherwise only what an idle
    // session sends (request packets).
    assert!(
        extra <= idle_sent + 2,
        "{extra} datagrams beyond the lossy ones, {idle_sent} idle"
    );
    // About half got through, none twice, none twice as late.
    let mut tags: Vec<u32> = got.iter().map(|t| t.unwrap()).collect();
    assert!(tags.iter().all(|&t| t < LOSSY));
    tags.sort_unstable();
    tags.dedup();
    assert_eq!(tags.len(), got.len(), "a lossy packet arrived twice");
    assert!(
        (60..140).contains(&got.len()),
        "about half of {LOSSY} at 50 % loss: {}",
        got.len()
    );
}

/// 100 Mbit/s, 20 ms round trip, a queue of one bandwidth-delay product.
const CAPACITY: f64 = 100e6 / 8.0;
const RTT: Duration = Duration::from_millis(20);

fn bulk_link() -> LinkConfig {
    LinkConfig {
        latency: RTT / 2,
        jitter: Duration::ZERO,
        uplink: Some(Uplink::new(
            100_000_000,
            (CAPACITY * RTT.as_secs_f64()) as u64,
        )),
        ..LinkConfig::default()
    }
}

/// Checks that `to` received a bulk stream on `id` as 0, 1, 2… with
/// nothing missing or repeated; returns how many.
fn check_bulk_order(net: &Network<SessionNode>, to: usize, id: ConnectionId) -> usize {
    let inbound = net.nodes()[to].inbound(id).unwrap();
    for (i, arrival) in inbound.lossless.iter().enumerate() {
        assert_eq!(arrival.tag, Some(i as u32), "bulk packet {i} out of order");
    }
    inbound.lossless.len()
}

#[test]
fn bulk_data_fills_a_100_mbit_uplink() {
    let secs = 10;
    let mut net = network(bulk_link(), 2, 11);
    establish(&mut net, &[(0, 1)], Duration::from_secs(5));
    let (a, b) = (conn(&net, 0, 1).unwrap(), conn(&net, 1, 0).unwrap());
    let t0 = net.elapsed();
    net.node_mut(0).unwrap().start_bulk(a, None, 1373);
    net.flush(0);
    let wall = Instant::now();
    let trace = std::env::var_os("SIM_TRACE").is_some();
    let tick = if trace { ms(20) } else { ms(100) };
    let mut last = (net.stats(), net.nodes()[0].stats(), net.nodes()[1].stats());
    let mut from = t0;
    while from < t0 + Duration::from_secs(secs) {
        run(&mut net, tick);
        let now = (net.stats(), net.nodes()[0].stats(), net.nodes()[1].stats());
        if trace {
            println!(
                "#  {:.2}s: sent {} queue drops {} requests {} goodput {:.2} MB/s",
                (from - t0).as_secs_f64(),
                now.1.datagrams - last.1.datagrams,
                now.0.queue_dropped - last.0.queue_dropped,
                now.2.datagrams - last.2.datagrams,
                net.nodes()[1].goodput(b, from, from + tick) / 1e6
            );
        }
        last = now;
        from += tick;
    }
    let wall = wall.elapsed();
    let end = net.elapsed();
    let receiver = &net.nodes()[1];
    let util = receiver.goodput(b, t0 + Duration::from_secs(1), end) / CAPACITY;
    let to_80 = receiver
        .reaches(&[b], 0.8 * CAPACITY, ms(100))
        .map(|t| t - t0);
    let delivered = check_bulk_order(&net, 1, b);
    let sender = net.nodes()[0].stats();
    let stats = net.stats();
    println!("# bulk: {stats:?} sender {sender:?}, {delivered} delivered, {wall:?} wall");
    for s in 0..secs {
        let from = t0 + Duration::from_secs(s);
        let g = receiver.goodput(b, from, from + Duration::from_secs(1));
        println!(
            "#  second {s}: {:.2} MB/s ({:.3} of capacity)",
            g / 1e6,
            g / CAPACITY
        );
    }
    bench("bulk_util_after_1s", util, "ratio");
    bench(
        "bulk_time_to_80pct",
        to_80.map_or(f64::NAN, |t| t.as_secs_f64()),
        "s",
    );
    bench("bulk_queue_drops", stats.queue_dropped as f64, "datagrams");
    bench(
        "bulk_datagrams_per_delivered",
        sender.datagrams as f64 / delivered.max(1) as f64,
        "ratio",
    );
    assert!(to_80.is_some(), "never reached 80 % of capacity");
    assert!(util >= 0.7, "utilisation {util:.3} after the first second");
}

/// Two sessions from one sender over one 100 Mbit/s uplink converge to
/// equal shares (the congestion controller's cruising rule aims every
/// session at the same queueing delay).
#[test]
fn two_sessions_share_one_uplink_fairly() {
    let secs: u32 = 20;
    let mut net = network(bulk_link(), 3, 12);
    // One after the other, so the second session starts while the first
    // already fills the uplink.
    establish(&mut net, &[(0, 1)], Duration::from_secs(5));
    establish(&mut net, &[(0, 2)], Duration::from_secs(5));
    let ids = [conn(&net, 0, 1).unwrap(), conn(&net, 0, 2).unwrap()];
    let rx = [conn(&net, 1, 0).unwrap(), conn(&net, 2, 0).unwrap()];
    let t0 = net.elapsed();
    for id in ids {
        net.node_mut(0).unwrap().start_bulk(id, None, 1373);
    }
    net.flush(0);
    for _ in 0..secs * 10 {
        run(&mut net, ms(100));
    }
    let end = net.elapsed();
    let half = t0 + (end - t0) / 2;
    let goodput: Vec<f64> = [1, 2]
        .iter()
        .zip(rx)
        .map(|(&node, id)| net.nodes()[node].goodput(id, half, end))
        .collect();
    for (node, id) in [1, 2].into_iter().zip(rx) {
        check_bulk_order(&net, node, id);
        for s in 0..secs {
            let from = t0 + Duration::from_secs(u64::from(s));
            let g = net.nodes()[node].goodput(id, from, from + Duration::from_secs(1));
            println!("#  flow {node} second {s}: {:.2} MB/s", g / 1e6);
        }
    }
    println!(
        "# shared uplink: {:?} sender {:?}",
        net.stats(),
        net.nodes()[0].stats()
    );
    bench("shared_flow1_last_half", goodput[0] / 1e6, "MB/s");
    bench("shared_flow2_last_half", goodput[1] / 1e6, "MB/s");
    bench(
        "shared_util_last_half",
        (goodput[0] + goodput[1]) / CAPACITY,
        "ratio",
    );
    let ratio = goodput[0].min(goodput[1]) / goodput[0].max(goodput[1]);
    bench("shared_ratio", ratio, "ratio");
    assert!(
        ratio >= 0.8,
        "one session got {:.2} MB/s, the other {:.2} MB/s",
        goodput[0] / 1e6,
        goodput[1] / 1e6
    );
}

#[test]
fn killed_sessions_close_on_both_sides() {
    let mut net = network(LinkConfig::default(), 2, 13);
    establish(&mut net, &[(0, 1)], Duration::from_secs(5));
    let (a, b) = (conn(&net, 0, 1).unwrap(), conn(&net, 1, 0).unwrap());
    net.node_mut(0).unwrap().layer.kill(a);
    net.flush(0);
    run(&mut net, ms(100));
    assert!(net.nodes()[1].events.iter().any(|(_, e)| matches!(
        e,
        Event::Closed { id, reason: CloseReason::Killed, .. } if *id == b
    )));
}
