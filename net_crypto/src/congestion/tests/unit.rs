//! The controller without a link: its start, its floors, its window and
//! pacer, and feedback that makes no sense.

use std::time::{Duration, Instant};

use crate::congestion::{CRYPTO_MIN_QUEUE_LENGTH, CRYPTO_PACKET_MIN_RATE, Congestion, Mode};
use crate::lossless::{ReceiveBuffer, SendBuffer};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Numbers and sends as many packets as the controller allows by `until`,
/// waking when it says; returns how many left.
fn send_until(cc: &mut Congestion, buf: &mut SendBuffer, mut now: Instant, until: Instant) -> u32 {
    let mut sent = 0;
    while now <= until {
        while cc.can_send(now) {
            buf.push(vec![82, 0]).unwrap();
            let out = buf.poll_transmit(now).unwrap();
            cc.on_sent(now, out.number, out.resend, false);
            sent += 1;
        }
        match cc.next_send_time(now) {
            Some(next) if next > now => now = next,
            _ => break,
        }
    }
    sent
}

#[test]
fn starts_with_a_window_of_64_packets_that_leaves_within_milliseconds() {
    let t0 = Instant::now();
    let mut cc = Congestion::new(t0);
    let mut buf = SendBuffer::new();
    assert_eq!(cc.mode(), Mode::Startup);
    assert_eq!(cc.window(), CRYPTO_MIN_QUEUE_LENGTH);
    assert!(cc.can_send(t0));
    let sent = send_until(&mut cc, &mut buf, t0, t0 + ms(10));
    assert_eq!(sent, CRYPTO_MIN_QUEUE_LENGTH);
    assert_eq!(cc.in_flight(), CRYPTO_MIN_QUEUE_LENGTH);
    // The window is full: only feedback reopens it.
    assert!(!cc.can_send(t0 + ms(500)));
    assert_eq!(cc.next_send_time(t0 + ms(500)), None);
}

#[test]
fn acknowledgements_open_the_window_and_grow_it_in_startup() {
    let t0 = Instant::now();
    let mut cc = Congestion::new(t0);
    let mut buf = SendBuffer::new();
    let mut now = t0;
    for round in 1..=3u64 {
        let sent = send_until(&mut cc, &mut buf, now, now + ms(40));
        assert_eq!(sent, CRYPTO_MIN_QUEUE_LENGTH << (round - 1));
        now = t0 + ms(50 * round);
        buf.acknowledge(buf.buffer_end()).unwrap();
        cc.on_feedback(now, &buf, None);
        assert_eq!(cc.in_flight(), 0);
    }
    // Every packet acknowledged each round: the window doubled each time.
    assert_eq!(cc.mode(), Mode::Startup);
    assert_eq!(cc.window(), CRYPTO_MIN_QUEUE_LENGTH << 3);
    assert!(cc.bandwidth() > 0.0);
    assert!(cc.min_rtt().is_some_and(|rtt| rtt <= ms(50)));
    assert_eq!(cc.counts(), (u64::from(CRYPTO_MIN_QUEUE_LENGTH) * 7, 0));
}

#[test]
fn floors_hold_and_nothing_stalls_when_everything_is_lost() {
    let t0 = Instant::now();
    let mut cc = Congestion::new(t0);
    let mut buf = SendBuffer::new();
    let mut now = t0;
    let mut sent = 0;
    // For a minute the peer receives nothing and says so once a second
    // (its requests name every packet we sent as missing).
    for second in 1..=60u64 {
        sent += send_until(&mut cc, &mut buf, now, now + ms(900));
        now = t0 + Duration::from_secs(second);
        let mut peer = ReceiveBuffer::new();
        assert!(peer.set_buffer_end(buf.buffer_end()));
        let outcome = buf.handle_request(now, ms(100), &peer.request_body());
        cc.on_feedback(now, &buf, Some(&outcome));
        assert!(cc.window() >= CRYPTO_MIN_QUEUE_LENGTH);
        assert!(cc.pacing_rate() >= CRYPTO_PACKET_MIN_RATE);
        while buf.poll_transmit(now).is_some() {}
    }
    // Unreported packets stop counting as in flight after a second and two
    // round trips (3 s before any round-trip sample; the next request
    // notices), so new ones keep leaving: a window every 4 s, more than
    // CRYPTO_PACKET_MIN_RATE.
    assert!(sent >= 15 * CRYPTO_MIN_QUEUE_LENGTH, "{sent}");
    assert!(f64::from(sent) / 60.0 >= CRYPTO_PACKET_MIN_RATE);
}

#[test]
fn losses_reported_by_requests_are_counted_and_leave_the_window() {
    let t0 = Instant::now();
    let mut cc = Congestion::new(t0);
    let mut buf = SendBuffer::new();
    // 20 packets, 1 ms apart; the peer got all but 0, 10 and 19.
    for i in 0..20u8 {
        buf.push(vec![82, i]).unwrap();
        let out = buf.poll_transmit(t0 + ms(i.into())).unwrap();
        cc.on_sent(t0 + ms(i.into()), out.number, false, false);
    }
    let mut peer = ReceiveBuffer::new();
    for n in (1..19).filter(|&n| n != 10) {
        peer.insert(n, vec![82]).unwrap();
    }
    peer.set_buffer_end(20);
    let now = t0 + ms(60);
    let outcome = buf.handle_request(now, ms(30), &peer.request_body());
    assert_eq!(outcome.released, 17);
    cc.on_feedback(now, &buf, Some(&outcome));
    // 0 and 10 were overtaken by later packets: lost. 19 is the newest and
    // may still be on its way.
    assert_eq!(cc.counts(), (17, 2));
    assert_eq!(cc.in_flight(), 1);
    // Resent, a lost packet counts in flight again.
    let first = buf.poll_transmit(now).unwrap();
    assert_eq!((first.number, first.resend), (0, true));
    cc.on_sent(now, first.number, true, false);
    assert_eq!(cc.in_flight(), 2);
}

#[test]
fn feedback_that_makes_no_sense_does_not_panic() {
    let t0 = Instant::now();
    let mut cc = Congestion::new(t0);
    let mut buf = SendBuffer::starting_at(u32::MAX - 3);
    for n in [5, 3, 9, u32::MAX, 7_000_000] {
        cc.on_sent(t0, n, n % 2 == 0, n == 9);
    }
    for i in 0..8u8 {
        buf.push(vec![82, i]).unwrap();
    }
    let now = t0 + ms(10);
    cc.on_feedback(now, &buf, None);
    let outcome = buf.handle_request(now, ms(1), &[1, 0, 255, 3]);
    cc.on_feedback(now, &buf, Some(&outcome));
    buf.acknowledge(buf.buffer_end()).unwrap();
    cc.on_feedback(now, &buf, None);
    // Time going backwards.
    cc.on_feedback(t0, &buf, Some(&outcome));
    cc.on_sent(t0, 1, false, true);
    assert!(cc.window() >= CRYPTO_MIN_QUEUE_LENGTH);
    assert!(cc.pacing_rate().is_finite() && cc.pacing_rate() >= CRYPTO_PACKET_MIN_RATE);
    let _ = cc.next_send_time(t0);
}
