//! Scenario tests on the link model (see `link`). Each prints its figures
//! as `BENCH <case> <value> <unit>` lines (`cargo test -- --nocapture`
//! shows them); the assertions are the pass criteria.
//!
//! "Utilisation" is the share of the bottleneck's capacity spent on data
//! packets the receiver delivered in order (1400 bytes each on the wire);
//! "goodput" counts their payload (1373 bytes each) in MB/s (10⁶ bytes).

use std::time::Duration;

use super::link::{Flow, Path, Report, run};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn bench(case: &str, value: f64, unit: &str) {
    println!("BENCH {case} {value:.3} {unit}");
}

fn summary(case: &str, r: &Report) {
    for (i, f) in r.flows.iter().enumerate() {
        println!(
            "# {case} session {i}: delivered {} sent {} resent {} duplicates {} \
             max window {} order errors {} done {:?}",
            f.delivered, f.sent, f.resent, f.duplicates, f.max_window, f.order_errors, f.done_at
        );
    }
    println!(
        "# {case}: queue drops {} random drops {} simulated {:?}",
        r.queue_drops, r.random_drops, r.elapsed
    );
}

/// Goodput of every session per `step`, for reading a failure.
fn timeline(case: &str, r: &Report, step: Duration) {
    let mut t = Duration::ZERO;
    while t + step <= r.elapsed {
        let rates: Vec<String> = (0..r.flows.len())
            .map(|i| format!("{:.2}", r.goodput(i, t, t + step) / 1e6))
            .collect();
        println!(
            "# {case} t={:.1}s MB/s {} queue delay {:.1} ms",
            t.as_secs_f64(),
            rates.join(" "),
            r.mean_queue_delay(t, t + step).as_secs_f64() * 1e3
        );
        t += step;
    }
}

fn bulk(start: f64) -> Flow {
    Flow {
        start: secs(start),
        packets: None,
    }
}

/// 100 Mbit/s, 20 ms round trip, a queue of one bandwidth-delay product.
fn hundred_megabit(queue_bdps: f64) -> Path {
    Path::clean(100.0, ms(20), queue_bdps)
}

#[test]
fn full_speed_within_a_second_at_100_mbit() {
    let case = "100mbit_20ms";
    let r = run(&hundred_megabit(1.0), &[bulk(0.0)], secs(5.0), 1);
    summary(case, &r);
    let utilisation = r.utilisation(secs(1.0), r.elapsed);
    let full_speed = r.reaches(0.8, ms(100));
    bench(
        &format!("{case}_utilisation_after_1s"),
        utilisation,
        "ratio",
    );
    bench(
        &format!("{case}_goodput_after_1s"),
        r.goodput(0, secs(1.0), r.elapsed) / 1e6,
        "MB/s",
    );
    bench(
        &format!("{case}_time_to_80pct_over_100ms"),
        full_speed.map_or(f64::INFINITY, |t| t.as_secs_f64()),
        "s",
    );
    bench(
        &format!("{case}_mean_queue_delay_after_1s"),
        r.mean_queue_delay(secs(1.0), r.elapsed).as_secs_f64() * 1e3,
        "ms",
    );
    assert!(utilisation >= 0.90, "utilisation {utilisation}");
    assert!(full_speed.is_some_and(|t| t <= secs(1.0)), "{full_speed:?}");
}

#[test]
fn one_percent_random_loss_keeps_most_of_the_link() {
    // Eight seeds: which packets are lost matters (a loss in the first
    // window costs the most), so no single draw decides.
    let case = "100mbit_20ms_loss1pct";
    let mut path = hundred_megabit(1.0);
    path.loss = 0.01;
    let mut utilisations = Vec::new();
    for seed in 1..=8 {
        let r = run(&path, &[bulk(0.0)], secs(5.0), seed);
        summary(&format!("{case}_seed{seed}"), &r);
        assert_eq!(r.flows[0].order_errors, 0);
        utilisations.push(r.utilisation(secs(1.0), r.elapsed));
    }
    let worst = utilisations.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = utilisations.iter().sum::<f64>() / utilisations.len() as f64;
    bench(
        &format!("{case}_utilisation_after_1s_worst_of_8"),
        worst,
        "ratio",
    );
    bench(
        &format!("{case}_utilisation_after_1s_mean_of_8"),
        mean,
        "ratio",
    );
    bench(
        &format!("{case}_goodput_after_1s_mean_of_8"),
        mean * 100e6 / 8.0 * 1373.0 / 1400.0 / 1e6,
        "MB/s",
    );
    assert!(worst >= 0.70, "{utilisations:?}");
}

#[test]
fn a_deep_queue_stays_nearly_empty() {
    let case = "100mbit_20ms_queue10bdp";
    let r = run(&hundred_megabit(10.0), &[bulk(0.0)], secs(12.0), 3);
    summary(case, &r);
    let utilisation = r.utilisation(secs(1.0), r.elapsed);
    let delay = r.mean_queue_delay(secs(1.0), r.elapsed);
    bench(
        &format!("{case}_utilisation_after_1s"),
        utilisation,
        "ratio",
    );
    bench(
        &format!("{case}_mean_queue_delay_after_1s"),
        delay.as_secs_f64() * 1e3,
        "ms",
    );
    bench(
        &format!("{case}_mean_queue_delay_first_second"),
        r.mean_queue_delay(Duration::ZERO, secs(1.0)).as_secs_f64() * 1e3,
        "ms",
    );
    assert!(utilisation >= 0.85, "utilisation {utilisation}");
    // Twice the base round trip; a loss-based sender would fill the whole
    // 200 ms buffer.
    assert!(delay < ms(40), "{delay:?}");
}

/// Two sessions on one bottleneck, the second starting about 2 s after
/// the first (three offsets, which decide who probes when): over the last
/// half of a 20 s run each gets within 20 % of the other.
fn two_sessions(case: &str, queue_bdps: f64) {
    let end = secs(20.0);
    let half = end / 2;
    for (k, start) in [2.0, 2.013, 2.5].into_iter().enumerate() {
        let case = format!("{case}_start{start}s");
        let r = run(
            &hundred_megabit(queue_bdps),
            &[bulk(0.0), bulk(start)],
            end,
            4 + k as u64,
        );
        summary(&case, &r);
        timeline(&case, &r, secs(2.0));
        let a = r.goodput(0, half, end);
        let b = r.goodput(1, half, end);
        let utilisation = r.utilisation(half, end);
        bench(&format!("{case}_first_goodput_last_half"), a / 1e6, "MB/s");
        bench(&format!("{case}_second_goodput_last_half"), b / 1e6, "MB/s");
        bench(
            &format!("{case}_smaller_over_larger"),
            a.min(b) / a.max(b),
            "ratio",
        );
        bench(
            &format!("{case}_utilisation_last_half"),
            utilisation,
            "ratio",
        );
        bench(
            &format!("{case}_mean_queue_delay_last_half"),
            r.mean_queue_delay(half, end).as_secs_f64() * 1e3,
            "ms",
        );
        assert!(
            (a - b).abs() <= 0.2 * a.max(b),
            "{case}: {a} vs {b} bytes/s over the last half"
        );
        assert!(utilisation >= 0.85, "{case}: utilisation {utilisation}");
    }
}

#[test]
fn two_sessions_share_a_link_fairly() {
    two_sessions("two_sessions_queue1bdp", 1.0);
}

#[test]
fn two_sessions_share_a_deep_queue_fairly() {
    two_sessions("two_sessions_queue10bdp", 10.0);
}

#[test]
fn loopback_reaches_150_mb_per_s_within_a_second() {
    let case = "loopback_2gbit_0.2ms";
    // 2 Gbit/s, 0.2 ms round trip, a 256 KiB queue (a socket buffer).
    let mut path = Path::clean(2000.0, Duration::from_micros(200), 1.0);
    path.queue = 256 * 1024;
    let r = run(&path, &[bulk(0.0)], secs(2.0), 5);
    summary(case, &r);
    let reached = r.reaches_goodput(0, 150e6, ms(100));
    bench(
        &format!("{case}_time_to_150MBps_over_100ms"),
        reached.map_or(f64::INFINITY, |t| t.as_secs_f64()),
        "s",
    );
    bench(
        &format!("{case}_goodput_after_1s"),
        r.goodput(0, secs(1.0), r.elapsed) / 1e6,
        "MB/s",
    );
    bench(
        &format!("{case}_goodput_first_second"),
        r.goodput(0, Duration::ZERO, secs(1.0)) / 1e6,
        "MB/s",
    );
    assert!(reached.is_some_and(|t| t <= secs(1.0)), "{reached:?}");
    assert!(r.goodput(0, secs(1.0), r.elapsed) >= 150e6);
}

#[test]
fn a_shallow_queue_bounds_the_losses() {
    // A 16-packet queue on a 100 Mbit/s, 20 ms path (0.09 bandwidth-delay
    // products): every probe overflows it. The loss bound keeps the losses
    // low while the link stays busy.
    let case = "100mbit_20ms_queue16pkts";
    let mut path = hundred_megabit(1.0);
    path.queue = 16 * 1400;
    let r = run(&path, &[bulk(0.0)], secs(5.0), 6);
    summary(case, &r);
    let drops = r.queue_drop_rate(secs(1.0), r.elapsed);
    let utilisation = r.utilisation(secs(1.0), r.elapsed);
    bench(&format!("{case}_queue_drop_rate_after_1s"), drops, "ratio");
    bench(
        &format!("{case}_utilisation_after_1s"),
        utilisation,
        "ratio",
    );
    assert!(drops < 0.05, "drop rate {drops}");
    assert!(utilisation >= 0.75, "utilisation {utilisation}");
}

/// A transfer of `packets` over a 10 Mbit/s, 20 ms path that loses `loss`
/// of the packets each way, delays 10 % by up to 10 ms more (reordering)
/// and duplicates 5 %: with each of three seeds, everything arrives once
/// and in order, in bounded time.
fn lossy(case: &str, loss: f64, packets: u64, limit: Duration) {
    let mut path = Path::clean(10.0, ms(20), 2.0);
    path.loss = loss;
    path.reorder = 0.1;
    path.jitter = ms(10);
    path.duplicate = 0.05;
    let flow = Flow {
        start: Duration::ZERO,
        packets: Some(packets),
    };
    let mut slowest = Duration::ZERO;
    for seed in 7..10 {
        let r = run(&path, &[flow], limit, seed);
        let case = format!("{case}_seed{seed}");
        summary(&case, &r);
        let f = &r.flows[0];
        assert_eq!(f.delivered, packets, "{case}: delivered");
        assert_eq!(f.order_errors, 0, "{case}: out of order or repeated");
        assert_eq!(f.unacknowledged, 0, "{case}: unacknowledged at the end");
        let took = f.done_at.unwrap_or(limit);
        assert!(took < limit, "{case}: {:?}", f.done_at);
        bench(&format!("{case}_transfer_time"), took.as_secs_f64(), "s");
        bench(
            &format!("{case}_goodput"),
            f.delivered as f64 * 1373.0 / took.as_secs_f64() / 1e6,
            "MB/s",
        );
        bench(
            &format!("{case}_resent_per_delivered"),
            f.resent as f64 / f.delivered.max(1) as f64,
            "ratio",
        );
        slowest = slowest.max(took);
    }
    bench(&format!("{case}_slowest_of_3"), slowest.as_secs_f64(), "s");
}

#[test]
fn ten_percent_loss_with_reordering_and_duplicates_delivers_everything_once() {
    lossy("lossy_10pct", 0.10, 3000, secs(60.0));
}

#[test]
fn thirty_percent_loss_with_reordering_and_duplicates_delivers_everything_once() {
    lossy("lossy_30pct", 0.30, 3000, secs(120.0));
}
