//! Two net_crypto layers on an in-memory link with chosen delay, loss,
//! duplication and reordering, in virtual time: handshakes both ways and
//! at once, lossless streams delivered exactly once and in order, lossy
//! packets never resent, kill packets, peers that restart with a new DHT
//! key, and forged or replayed input that must change nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, PublicKey};
use toxide_net_crypto::{CloseReason, ConnectionId, Event, NetCrypto, Path, Status};

const A: usize = 0;
const B: usize = 1;

struct Peer {
    layer: NetCrypto,
    real: PublicKey,
    dht: PublicKey,
    addr: SocketAddr,
    events: Vec<Event>,
}

fn peer(seed: u8, port: u16, real: Option<KeyPair>) -> Peer {
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(seed));
    let real = real.unwrap_or_else(|| KeyPair::generate(&mut rng));
    let dht = KeyPair::generate(&mut rng);
    let (real_pk, dht_pk) = (real.public, dht.public);
    Peer {
        layer: NetCrypto::new(real, dht, None, Instant::now(), [seed; 32]),
        real: real_pk,
        dht: dht_pk,
        addr: SocketAddr::from(([10, 0, 0, seed], port)),
        events: Vec::new(),
    }
}

#[derive(Clone, Copy, Default)]
struct Link {
    delay_ms: u64,
    jitter_ms: u64,
    loss: f64,
    duplicate: f64,
}

struct Pair {
    peers: [Peer; 2],
    now: Instant,
    rng: ChaCha20Rng,
    link: Link,
    /// (arrival, to, from, bytes)
    wire: Vec<(Instant, usize, SocketAddr, Vec<u8>)>,
    /// Every datagram each side sent, for replay tests.
    sent: [Vec<Vec<u8>>; 2],
}

impl Pair {
    fn new(link: Link) -> Self {
        let a = peer(1, 33445, None);
        let b = peer(2, 33446, None);
        Self {
            now: Instant::now(),
            peers: [a, b],
            rng: ChaCha20Rng::seed_from_u64(99),
            link,
            wire: Vec::new(),
            sent: [Vec::new(), Vec::new()],
        }
    }

    fn other(i: usize) -> usize {
        1 - i
    }

    /// `from` opens to `to` (and `to` is told to expect `from`).
    fn connect(&mut self, from: usize, to: usize) -> ConnectionId {
        let (real, dht, addr) = (self.peers[to].real, self.peers[to].dht, self.peers[to].addr);
        let from_real = self.peers[from].real;
        self.peers[to].layer.accept_from(from_real);
        let id = self.peers[from].layer.connect(real, dht).unwrap();
        self.peers[from].layer.set_direct_addr(id, addr);
        id
    }

    /// Sends everything due, delivers what arrives, for `duration`.
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        let step = Duration::from_millis(1);
        while self.now < end {
            for i in 0..2 {
                self.peers[i].layer.handle_timeout(self.now);
                self.flush(i);
            }
            self.wire.sort_by_key(|(t, ..)| *t);
            while self.wire.first().is_some_and(|(t, ..)| *t <= self.now) {
                let (_, to, from, bytes) = self.wire.remove(0);
                self.peers[to]
                    .layer
                    .handle_datagram(self.now, Path::Udp(from), &bytes);
                self.flush(to);
            }
            self.now += step;
        }
    }

    fn flush(&mut self, i: usize) {
        let now = self.now;
        while let Some(t) = self.peers[i].layer.poll_transmit(now) {
            let Path::Udp(dest) = t.path else { continue };
            self.sent[i].push(t.payload.clone());
            let to = Self::other(i);
            if dest != self.peers[to].addr || self.rng.random_bool(self.link.loss) {
                continue;
            }
            let copies = if self.rng.random_bool(self.link.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let jitter = if self.link.jitter_ms > 0 {
                    self.rng.random_range(0..self.link.jitter_ms)
                } else {
                    0
                };
                let at = now + Duration::from_millis(self.link.delay_ms + jitter);
                self.wire
                    .push((at, to, self.peers[i].addr, t.payload.clone()));
            }
        }
        while let Some(e) = self.peers[i].layer.poll_event() {
            self.peers[i].events.push(e);
        }
    }

    fn established(&self, i: usize) -> Option<ConnectionId> {
        self.peers[i].events.iter().find_map(|e| match e {
            Event::Established { id } => Some(*id),
            _ => None,
        })
    }

    fn lossless(&self, i: usize) -> Vec<Bytes> {
        self.peers[i]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Lossless { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }
}

fn open(link: Link) -> (Pair, ConnectionId, ConnectionId) {
    let mut pair = Pair::new(link);
    let id_a = pair.connect(A, B);
    pair.run(Duration::from_secs(5));
    let a = pair.established(A).expect("A established");
    assert_eq!(a, id_a);
    let b = pair.established(B).expect("B established");
    (pair, a, b)
}

#[test]
fn a_opens_b_accepts_and_both_establish() {
    let (pair, a, b) = open(Link {
        delay_ms: 10,
        ..Link::default()
    });
    assert_eq!(pair.peers[A].layer.status(a), Some(Status::Established));
    assert_eq!(pair.peers[B].layer.status(b), Some(Status::Established));
    assert!(pair.peers[B].events.iter().any(|e| matches!(
        e,
        Event::Accepted { real_pk, dht_pk, .. }
            if *real_pk == pair.peers[A].real && *dht_pk == pair.peers[A].dht
    )));
    assert_eq!(pair.peers[B].layer.stats().cookie_requests_answered, 1);
}

#[test]
fn the_handshake_seeds_both_round_trip_estimates() {
    let (pair, a, b) = open(Link {
        delay_ms: 40,
        ..Link::default()
    });
    // 40 ms each way; the 1 ms steps may add a millisecond. The initiator
    // timed its cookie request and its handshake; the acceptor its
    // handshake, up to the first data packet.
    for (i, id) in [(A, a), (B, b)] {
        let rtt = pair.peers[i].layer.rtt(id).unwrap();
        assert!(
            (Duration::from_millis(80)..=Duration::from_millis(82)).contains(&rtt),
            "peer {i}: {rtt:?}"
        );
    }
}

#[test]
fn a_handshake_that_was_resent_seeds_from_what_was_not() {
    // The first cookie request is lost: its resend's answer is ambiguous,
    // so the initiator seeds from its handshake alone.
    let mut pair = Pair::new(Link {
        delay_ms: 40,
        loss: 1.0,
        ..Link::default()
    });
    let a = pair.connect(A, B);
    pair.run(Duration::from_millis(500));
    pair.link.loss = 0.0;
    pair.run(Duration::from_secs(5));
    assert_eq!(pair.established(A), Some(a));
    let rtt = pair.peers[A].layer.rtt(a).unwrap();
    assert!(
        (Duration::from_millis(80)..=Duration::from_millis(82)).contains(&rtt),
        "{rtt:?}"
    );
}

#[test]
fn simultaneous_open_converges_to_one_session() {
    let mut pair = Pair::new(Link {
        delay_ms: 20,
        ..Link::default()
    });
    let a = pair.connect(A, B);
    let b = pair.connect(B, A);
    pair.run(Duration::from_secs(5));
    assert_eq!(pair.established(A), Some(a));
    assert_eq!(pair.established(B), Some(b));
    pair.peers[A]
        .layer
        .send_lossless(a, Bytes::from_static(&[64, b'h', b'i']))
        .unwrap();
    pair.peers[B]
        .layer
        .send_lossless(b, Bytes::from_static(&[64, b'y', b'o']))
        .unwrap();
    pair.run(Duration::from_secs(1));
    assert_eq!(
        pair.lossless(B),
        vec![Bytes::from_static(&[64, b'h', b'i'])]
    );
    assert_eq!(
        pair.lossless(A),
        vec![Bytes::from_static(&[64, b'y', b'o'])]
    );
}

fn stream(link: Link, count: u32) {
    let (mut pair, a, _) = open(link);
    let mut sent = Vec::new();
    for i in 0..count {
        let data = Bytes::from(format!("\u{40}message {i:05}").into_bytes());
        pair.peers[A].layer.send_lossless(a, data.clone()).unwrap();
        sent.push(data);
        if i % 64 == 0 {
            pair.run(Duration::from_millis(5));
        }
    }
    pair.run(Duration::from_secs(60));
    assert_eq!(pair.lossless(B), sent, "every packet once, in order");
    let acked = pair.peers[A].layer.acked(a).unwrap();
    assert_eq!(acked, count, "the peer acknowledged them all");
}

#[test]
fn a_lossless_stream_arrives_whole_on_a_clean_link() {
    stream(
        Link {
            delay_ms: 5,
            ..Link::default()
        },
        2000,
    );
}

#[test]
fn a_lossless_stream_arrives_whole_at_10_percent_loss_with_reordering_and_duplication() {
    stream(
        Link {
            delay_ms: 10,
            jitter_ms: 15,
            loss: 0.10,
            duplicate: 0.05,
        },
        1000,
    );
}

#[test]
fn a_lossless_stream_arrives_whole_at_30_percent_loss_with_reordering_and_duplication() {
    stream(
        Link {
            delay_ms: 10,
            jitter_ms: 15,
            loss: 0.30,
            duplicate: 0.05,
        },
        500,
    );
}

#[test]
fn lossy_packets_are_never_resent() {
    let (mut pair, a, _) = open(Link {
        delay_ms: 5,
        ..Link::default()
    });
    pair.link.loss = 0.5;
    let before = pair.sent[A].len();
    for i in 0..200u8 {
        pair.peers[A].layer.send_lossy(a, &[200, i]).unwrap();
    }
    pair.run(Duration::from_secs(3));
    let lossy_received: Vec<_> = pair.peers[B]
        .events
        .iter()
        .filter(|e| matches!(e, Event::Lossy { .. }))
        .collect();
    assert!(
        lossy_received.len() < 150,
        "about half lost: {}",
        lossy_received.len()
    );
    // Besides the 200 lossy packets, A sent only request packets.
    let extra = pair.sent[A].len() - before - 200;
    assert!(extra < 20, "{extra} more packets than the lossy ones");
}

#[test]
fn a_kill_packet_closes_the_peer_at_once() {
    let (mut pair, a, b) = open(Link {
        delay_ms: 5,
        ..Link::default()
    });
    pair.peers[A].layer.kill(a);
    pair.run(Duration::from_millis(50));
    assert!(pair.peers[B].events.iter().any(|e| matches!(
        e,
        Event::Closed { id, reason: CloseReason::Killed, .. } if *id == b
    )));
    assert_eq!(pair.peers[B].layer.status(b), None);
}

#[test]
fn a_peer_nobody_expects_is_refused_before_any_public_key_work() {
    let mut pair = Pair::new(Link {
        delay_ms: 5,
        ..Link::default()
    });
    let (real, dht, addr) = (pair.peers[B].real, pair.peers[B].dht, pair.peers[B].addr);
    let id = pair.peers[A].layer.connect(real, dht).unwrap();
    pair.peers[A].layer.set_direct_addr(id, addr);
    pair.run(Duration::from_secs(3));
    assert!(pair.established(A).is_none());
    assert!(pair.peers[B].layer.stats().dropped_unexpected_peer >= 1);
    assert_eq!(pair.peers[B].layer.connection_to(&pair.peers[A].real), None);
}

#[test]
fn an_unanswered_handshake_times_out_after_eight_tries() {
    let mut pair = Pair::new(Link {
        delay_ms: 5,
        loss: 1.0,
        ..Link::default()
    });
    let a = pair.connect(A, B);
    pair.run(Duration::from_secs(7));
    assert_eq!(pair.peers[A].layer.status(a), Some(Status::Connecting));
    pair.run(Duration::from_secs(3));
    assert_eq!(pair.peers[A].layer.status(a), None);
    assert!(pair.peers[A].events.iter().any(|e| matches!(
        e,
        Event::Closed {
            reason: CloseReason::TimedOut,
            ..
        }
    )));
    assert_eq!(
        pair.sent[A].len(),
        8,
        "eight cookie requests, a second apart"
    );
}

#[test]
fn a_peer_restarted_with_a_new_dht_key_gets_a_new_session() {
    let (mut pair, _, b) = open(Link {
        delay_ms: 5,
        ..Link::default()
    });
    // A restarts: same long-term key, new DHT key, same address.
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let real = KeyPair::generate(&mut rng);
    assert_eq!(real.public, pair.peers[A].real);
    let mut restarted = peer(3, 33445, Some(real));
    restarted.addr = pair.peers[A].addr;
    pair.peers[A] = restarted;
    pair.wire.clear();
    let a = pair.connect(A, B);
    pair.run(Duration::from_secs(5));
    assert!(pair.peers[B].events.iter().any(|e| matches!(
        e,
        Event::Closed { id, reason: CloseReason::PeerRestarted, .. } if *id == b
    )));
    assert_eq!(pair.established(A), Some(a));
    let new_b = pair.peers[B]
        .layer
        .connection_to(&pair.peers[A].real)
        .unwrap();
    assert_ne!(new_b, b);
    assert_eq!(pair.peers[B].layer.status(new_b), Some(Status::Established));
}

#[test]
fn forged_replayed_and_truncated_packets_change_nothing() {
    let (mut pair, a, _) = open(Link {
        delay_ms: 5,
        ..Link::default()
    });
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let from_a = Path::Udp(pair.peers[A].addr);
    let history = pair.sent[A].clone();
    let now = pair.now;
    for packet in &history {
        // Replayed: handshakes and cookie traffic answer nothing new; old
        // data packets are duplicates.
        pair.peers[B].layer.handle_datagram(now, from_a, packet);
        // Truncated and bit-flipped.
        if packet.len() > 2 {
            pair.peers[B]
                .layer
                .handle_datagram(now, from_a, &packet[..packet.len() - 1]);
            let mut flipped = packet.clone();
            let i = rng.random_range(1..flipped.len());
            flipped[i] ^= 0x40;
            pair.peers[B].layer.handle_datagram(now, from_a, &flipped);
        }
    }
    for _ in 0..500 {
        let len = rng.random_range(0..1500);
        let mut junk = vec![0u8; len];
        rng.fill_bytes(&mut junk);
        if let Some(first) = junk.first_mut() {
            *first = 0x18 + rng.random_range(0..4);
        }
        pair.peers[B].layer.handle_datagram(now, from_a, &junk);
    }
    let stats = pair.peers[B].layer.stats().clone();
    assert!(
        stats.dropped_malformed + stats.dropped_undecryptable > 500,
        "{stats:?}"
    );
    // The session still carries data both ways.
    pair.peers[A]
        .layer
        .send_lossless(a, Bytes::from_static(&[64, 1]))
        .unwrap();
    pair.run(Duration::from_secs(2));
    assert!(pair.lossless(B).contains(&Bytes::from_static(&[64, 1])));
}

#[test]
fn bulk_data_moves_under_congestion_control_and_chat_overtakes_it() {
    let (mut pair, a, _) = open(Link {
        delay_ms: 10,
        jitter_ms: 2,
        loss: 0.01,
        ..Link::default()
    });
    const CHUNKS: u32 = 3000;
    let mut queued = 0u32;
    let mut chat_sent_at = None;
    let deadline = pair.now + Duration::from_secs(60);
    while pair.now < deadline {
        while queued < CHUNKS && pair.peers[A].layer.bulk_space(a) > 0 {
            let mut chunk = vec![82];
            chunk.extend_from_slice(&queued.to_be_bytes());
            chunk.resize(1373, 0xa5);
            pair.peers[A]
                .layer
                .send_bulk(a, Bytes::from(chunk))
                .unwrap();
            queued += 1;
        }
        if queued >= CHUNKS / 2 && chat_sent_at.is_none() {
            let number = pair.peers[A]
                .layer
                .send_lossless(a, Bytes::from_static(&[64, b'!']))
                .unwrap();
            chat_sent_at = Some((number, queued));
        }
        pair.run(Duration::from_millis(10));
        if pair.lossless(B).len() == CHUNKS as usize + 1 {
            break;
        }
    }
    let got = pair.lossless(B);
    assert_eq!(got.len(), CHUNKS as usize + 1, "everything arrived");
    let chunks: Vec<u32> = got
        .iter()
        .filter(|d| d[0] == 82)
        .map(|d| u32::from_be_bytes(d[1..5].try_into().unwrap()))
        .collect();
    assert_eq!(chunks, (0..CHUNKS).collect::<Vec<_>>(), "in order, once");
    // The chat message was numbered at once, ahead of every chunk still
    // queued when it was sent (it leaves next, bypassing congestion
    // control); it is delivered in number order, behind only the chunks
    // already in flight.
    let (number, queued_then) = chat_sent_at.unwrap();
    let chat_at = got.iter().position(|d| d[0] == 64).unwrap();
    assert_eq!(chat_at, number as usize);
    assert!(
        number < queued_then,
        "numbered {number}, ahead of chunks {number}..{queued_then}"
    );
}

#[test]
fn bulk_progress_tells_when_the_last_chunk_is_numbered_and_acknowledged() {
    let (mut pair, a, _) = open(Link {
        delay_ms: 10,
        ..Link::default()
    });
    let layer = &mut pair.peers[A].layer;
    assert_eq!(layer.bulk_waiting(a), 0);
    let start = layer.next_number(a).unwrap();
    for i in 0..5u8 {
        layer.send_bulk(a, Bytes::from(vec![82, i])).unwrap();
    }
    // Queued bulk data has no number yet; a control packet takes one at
    // once.
    assert_eq!(layer.bulk_waiting(a), 5);
    assert_eq!(layer.next_number(a), Some(start));
    let chat = layer
        .send_lossless(a, Bytes::from_static(&[64, b'!']))
        .unwrap();
    assert_eq!(chat, start);
    assert_eq!(layer.next_number(a), Some(start + 1));
    pair.run(Duration::from_millis(200));
    // All sent: numbered after the chat, below next_number, and the
    // acknowledgement reached it.
    let layer = &pair.peers[A].layer;
    assert_eq!(layer.bulk_waiting(a), 0);
    let barrier = layer.next_number(a).unwrap();
    assert_eq!(barrier, start + 6);
    assert_eq!(layer.acked(a), Some(barrier));
    assert_eq!(layer.next_number(ConnectionId(99)), None);
    assert_eq!(layer.bulk_waiting(ConnectionId(99)), 0);
}
