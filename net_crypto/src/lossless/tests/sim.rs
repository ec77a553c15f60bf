//! Two endpoints, each with a send and a receive side, exchange lossless
//! streams over a link that loses, duplicates and reorders packets, using
//! only what the wire carries: the `buffer_start` and number fields and
//! request packets. After the lossy phase the link heals; by then or soon
//! after every packet must have been delivered exactly once and in order,
//! and every packet acknowledged.

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use crate::lossless::{Priority, ReceiveBuffer, RequestSchedule, Rtt, SendBuffer, SendQueue};

const TICK: Duration = Duration::from_millis(10);

/// splitmix64: a seeded, dependency-free stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, percent: u8) -> bool {
        self.next() % 100 < u64::from(percent)
    }
}

#[derive(Debug, Clone)]
enum Body {
    Lossless(Bytes),
    Request(Vec<u8>),
}

/// A decrypted data packet's plaintext, as far as this layer cares.
#[derive(Debug, Clone)]
struct Wire {
    buffer_start: u32,
    number: u32,
    body: Body,
}

struct Endpoint {
    queue: SendQueue,
    send: SendBuffer,
    recv: ReceiveBuffer,
    rtt: Rtt,
    schedule: RequestSchedule,
    delivered: Vec<Bytes>,
    acknowledged: u64,
    resent: u64,
}

impl Endpoint {
    fn new(send_start: u32, recv_start: u32) -> Self {
        Self {
            queue: SendQueue::new(usize::MAX, usize::MAX),
            send: SendBuffer::starting_at(send_start),
            recv: ReceiveBuffer::starting_at(recv_start),
            rtt: Rtt::new(),
            schedule: RequestSchedule::new(),
            delivered: Vec::new(),
            acknowledged: 0,
            resent: 0,
        }
    }

    /// c-toxcore's order in `handle_data_packet_core`.
    fn receive(&mut self, now: Instant, wire: Wire) {
        let Ok(ack) = self.send.acknowledge(wire.buffer_start) else {
            return;
        };
        self.acknowledged += u64::from(ack.count());
        let mut sent = ack.oldest_sent;
        match wire.body {
            Body::Request(body) => {
                let out = self
                    .send
                    .handle_request(now, self.rtt.resend_after(true), &body);
                sent = sent.max(out.newest_released_sent);
                self.recv.set_buffer_end(wire.number);
            }
            Body::Lossless(data) => {
                if self.recv.insert(wire.number, data).is_err() {
                    return;
                }
                self.schedule.packet_received(now);
                while let Some((_, data)) = self.recv.pop_in_order() {
                    self.delivered.push(data);
                }
            }
        }
        self.rtt.sample(now, sent);
    }

    fn transmit(&mut self, now: Instant, budget: usize, out: &mut Vec<Wire>) {
        if self.schedule.poll(now, true, self.recv.window_len()) {
            out.push(Wire {
                buffer_start: self.recv.buffer_start(),
                number: self.send.buffer_end(),
                body: Body::Request(self.recv.request_body()),
            });
        }
        // Resends first (they are older), then newly numbered packets.
        for _ in 0..budget {
            if self.send.waiting() == 0 && self.queue.number_next(&mut self.send, true).is_none() {
                break;
            }
            let Some(o) = self.send.poll_transmit(now) else {
                break;
            };
            self.resent += u64::from(o.resend);
            out.push(Wire {
                buffer_start: self.recv.buffer_start(),
                number: o.number,
                body: Body::Lossless(o.data),
            });
        }
    }
}

#[derive(Debug, Clone)]
struct Link {
    loss: u8,
    duplicate: u8,
    max_delay_ticks: u64,
}

fn payload(side: u8, i: u32) -> Bytes {
    let mut p = vec![if i % 3 == 0 { 64 } else { 82 }, side];
    p.extend_from_slice(&i.to_be_bytes());
    Bytes::from(p)
}

/// Runs the exchange; returns the virtual time it took and how many
/// packets were resent.
fn run(
    seed: u64,
    a_start: u32,
    b_start: u32,
    n_ab: u32,
    n_ba: u32,
    link: &Link,
) -> (Duration, u64) {
    let t0 = Instant::now();
    let mut rng = Rng(seed);
    let mut a = Endpoint::new(a_start, b_start);
    let mut b = Endpoint::new(b_start, a_start);
    for i in 0..n_ab {
        let priority = if i % 3 == 0 {
            Priority::Control
        } else {
            Priority::Bulk
        };
        a.queue.push(priority, payload(b'a', i)).unwrap();
    }
    for i in 0..n_ba {
        b.queue.push(Priority::Control, payload(b'b', i)).unwrap();
    }
    // (arrival tick, to_b, packet)
    let mut in_air: Vec<(u64, bool, Wire)> = Vec::new();
    let heal_at = 3_000; // 30 s of bad link
    let give_up = 12_000;
    let mut tick = 0u64;
    loop {
        let now = t0 + TICK * u32::try_from(tick).unwrap();
        let (arrived, rest): (Vec<_>, Vec<_>) =
            in_air.into_iter().partition(|(at, _, _)| *at <= tick);
        in_air = rest;
        for (_, to_b, wire) in arrived {
            if to_b {
                b.receive(now, wire)
            } else {
                a.receive(now, wire)
            }
        }
        let done = a.delivered.len() == n_ba as usize
            && b.delivered.len() == n_ab as usize
            && a.send.in_flight() == 0
            && b.send.in_flight() == 0;
        if done || tick >= give_up {
            break;
        }
        let bad = tick < heal_at;
        for (from_a, ep) in [(true, &mut a), (false, &mut b)] {
            let mut out = Vec::new();
            ep.transmit(now, 20, &mut out);
            for wire in out {
                let copies = if bad && rng.chance(link.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    if bad && rng.chance(link.loss) {
                        continue;
                    }
                    let delay = 1 + if bad {
                        rng.next() % link.max_delay_ticks.max(1)
                    } else {
                        0
                    };
                    in_air.push((tick + delay, from_a, wire.clone()));
                }
            }
        }
        tick += 1;
    }
    let expect_b: Vec<Bytes> = (0..n_ab).map(|i| payload(b'a', i)).collect::<Vec<_>>();
    // Control packets overtook bulk ones before numbering: compare with
    // the order A numbered them in, which is what B must reproduce.
    let mut numbered_a = expect_b.clone();
    numbered_a.sort_by_key(|p| (p[0] != 64, u32::from_be_bytes([p[2], p[3], p[4], p[5]])));
    assert_eq!(
        b.delivered.len(),
        n_ab as usize,
        "B got {} of {n_ab}",
        b.delivered.len()
    );
    assert_eq!(
        a.delivered.len(),
        n_ba as usize,
        "A got {} of {n_ba}",
        a.delivered.len()
    );
    assert_eq!(b.delivered, numbered_a);
    assert_eq!(
        a.delivered,
        (0..n_ba).map(|i| payload(b'b', i)).collect::<Vec<_>>()
    );
    assert_eq!(a.send.in_flight() + b.send.in_flight(), 0);
    assert_eq!(a.acknowledged, u64::from(n_ab));
    assert_eq!(b.acknowledged, u64::from(n_ba));
    assert_eq!(a.send.buffer_start(), a_start.wrapping_add(n_ab));
    (TICK * u32::try_from(tick).unwrap(), a.resent + b.resent)
}

fn arb_start() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        (0u32..500).prop_map(|d| u32::MAX - d),
        any::<u32>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_packet_arrives_once_and_in_order(
        seed in any::<u64>(),
        a_start in arb_start(),
        b_start in arb_start(),
        n_ab in 0u32..600,
        n_ba in 0u32..100,
        loss in 0u8..50,
        duplicate in 0u8..30,
        max_delay_ticks in 1u64..30,
    ) {
        run(seed, a_start, b_start, n_ab, n_ba, &Link { loss, duplicate, max_delay_ticks });
    }
}

#[test]
fn a_clean_link_needs_no_resends_and_is_quick() {
    let link = Link {
        loss: 0,
        duplicate: 0,
        max_delay_ticks: 1,
    };
    let (took, resent) = run(1, u32::MAX - 3, 7, 300, 30, &link);
    assert_eq!(resent, 0);
    // 20 packets a tick each way; the last acknowledgement rides on the
    // next request.
    assert!(took <= Duration::from_millis(1200), "{took:?}");
}

#[test]
fn heavy_loss_across_the_wrap() {
    let link = Link {
        loss: 60,
        duplicate: 20,
        max_delay_ticks: 40,
    };
    let (took, resent) = run(42, u32::MAX - 100, u32::MAX, 1000, 200, &link);
    assert!(resent > 1000, "{resent}");
    // Delivered while the link was still bad.
    assert!(took < Duration::from_secs(30), "{took:?}");
}
