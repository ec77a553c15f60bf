//! A file transfer between two [`Stack`]s over real net_crypto sessions on
//! an in-memory link with delay and loss, in virtual time: chunks move as
//! acknowledgements free bulk room (the stack's hook), without the
//! application polling, and the sender hears of the end only once the
//! receiver has everything.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide::dht::{Config, Dht};
use toxide::messenger::file::{Control, FileNumber};
use toxide::messenger::messenger::Event;
use toxide::messenger::packet::FILEKIND_DATA;
use toxide::net_crypto::NetCrypto;
use toxide::stack::{Stack, StackEvent};
use toxide::{KeyPair, PublicKey};

struct Node {
    stack: Stack,
    real: PublicKey,
    dht: PublicKey,
    addr: SocketAddr,
}

fn node(seed: u8, now: Instant) -> Node {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let (real, dht) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
    let (real_pk, dht_pk) = (real.public, dht.public);
    let net_crypto = NetCrypto::new(real, dht.clone(), None, now, [seed; 32]);
    let dht = Dht::with_keys(Config::default(), now, [seed; 32], dht);
    Node {
        stack: Stack::new(dht, None, None, Some(net_crypto)),
        real: real_pk,
        dht: dht_pk,
        addr: SocketAddr::from(([10, 0, 0, seed], 33445)),
    }
}

struct Net {
    now: Instant,
    nodes: [Node; 2],
    /// (arrival, to, from, bytes)
    wire: Vec<(Instant, usize, SocketAddr, Vec<u8>)>,
    rng: ChaCha20Rng,
    loss: f64,
}

impl Net {
    fn flush(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].stack.poll_transmit(self.now) {
            let to = 1 - i;
            if t.destination != self.nodes[to].addr || self.rng.random_bool(self.loss) {
                continue;
            }
            let at = self.now + Duration::from_millis(10);
            self.wire.push((at, to, self.nodes[i].addr, t.payload));
        }
    }

    /// Runs until `done` holds for the events seen so far, handing each
    /// messenger event to `app`.
    fn run(
        &mut self,
        limit: Duration,
        mut app: impl FnMut(usize, Event, &mut Stack, Instant),
        mut done: impl FnMut() -> bool,
    ) {
        let end = self.now + limit;
        while self.now < end {
            for i in 0..2 {
                while let Some(event) = self.nodes[i].stack.poll_event() {
                    if let StackEvent::Messenger(event) = event {
                        app(i, event, &mut self.nodes[i].stack, self.now);
                    }
                }
                self.flush(i);
            }
            if done() {
                return;
            }
            let next_wire = self.wire.iter().map(|(t, ..)| *t).min();
            let next = [
                next_wire,
                self.nodes[0].stack.poll_timeout(self.now),
                self.nodes[1].stack.poll_timeout(self.now),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
            self.now = self.now.max(next.min(end));
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) = self.wire.drain(..).partition(|(t, ..)| *t <= now);
            self.wire = later;
            for (_, to, from, bytes) in due {
                self.nodes[to].stack.handle_datagram(now, from, &bytes);
            }
            for node in &mut self.nodes {
                if node.stack.poll_timeout(now).is_some_and(|t| t <= now) {
                    node.stack.handle_timeout(now);
                }
            }
        }
        panic!("not done in {limit:?}");
    }
}

fn online_pair(loss: f64) -> Net {
    let now = Instant::now();
    let mut net = Net {
        now,
        nodes: [node(1, now), node(2, now)],
        wire: Vec::new(),
        rng: ChaCha20Rng::seed_from_u64(7),
        loss,
    };
    for i in 0..2 {
        let other = (
            net.nodes[1 - i].real,
            net.nodes[1 - i].dht,
            net.nodes[1 - i].addr,
        );
        let stack = &mut net.nodes[i].stack;
        stack
            .messenger
            .as_mut()
            .unwrap()
            .add_friend(other.0)
            .unwrap();
        stack
            .connect_friend_at(now, other.0, other.1, other.2)
            .unwrap();
    }
    let seen = std::cell::Cell::new(0);
    net.run(
        Duration::from_secs(30),
        |_, event, _, _| {
            if let Event::ConnectionStatus { online: true, .. } = event {
                seen.set(seen.get() + 1);
            }
        },
        || seen.get() == 2,
    );
    net
}

#[test]
fn a_file_crosses_real_sessions_and_ends_after_the_last_acknowledgement() {
    let mut net = online_pair(0.02);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let now = net.now;
    let file = net.nodes[0]
        .stack
        .with_messenger(now, |m, s| {
            m.send_file(
                0,
                FILEKIND_DATA,
                data.len() as u64,
                [9; 32],
                b"big".to_vec(),
                s,
            )
        })
        .unwrap()
        .unwrap();
    assert_eq!(file, FileNumber::Outgoing(0));
    let received = std::cell::RefCell::new(Vec::new());
    let finished = std::cell::Cell::new([false; 2]);
    net.run(
        Duration::from_secs(120),
        |i, event, stack, now| match event {
            Event::FileReceive { file, size, .. } => {
                assert_eq!((i, size), (1, data.len() as u64));
                stack
                    .with_messenger(now, |m, s| m.file_control(0, file, Control::Accept, s))
                    .unwrap()
                    .unwrap();
            }
            Event::FileChunkRequest {
                file,
                position,
                length,
                ..
            } => {
                assert_eq!(i, 0);
                if length == 0 {
                    assert_eq!(position, data.len() as u64);
                    assert!(finished.get()[1], "the receiver has it all first");
                    finished.set([true, true]);
                    return;
                }
                let start = usize::try_from(position).unwrap();
                let chunk = &data[start..start + length];
                stack
                    .with_messenger(now, |m, s| m.file_send_chunk(0, file, position, chunk, s))
                    .unwrap()
                    .unwrap();
            }
            Event::FileChunk {
                position, data: d, ..
            } => {
                assert_eq!(i, 1);
                let mut got = received.borrow_mut();
                assert_eq!(position, got.len() as u64, "in order");
                if d.is_empty() {
                    finished.set([false, true]);
                }
                got.extend_from_slice(&d);
            }
            _ => {}
        },
        || finished.get() == [true, true],
    );
    assert_eq!(*received.borrow(), data);
    let took = net.now - now;
    eprintln!("300 kB at 2% loss, 20 ms round trip: {took:?} (virtual)");
    assert!(took < Duration::from_secs(20), "{took:?}");
}
