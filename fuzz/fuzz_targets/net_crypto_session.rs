#![no_main]
//! Two net_crypto layers with an established session, driven by the fuzz
//! input: each step either delivers the next datagram one side sent
//! (possibly mangled, duplicated or dropped), injects arbitrary bytes at
//! either side as if from the peer's address, sends data, or lets time
//! pass. Nothing may panic; after the input runs out, the link is made
//! clean and every lossless packet either side queued while the session
//! lasted must arrive in order, once (unless a side saw the session end).
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::KeyPair;
use toxide_net_crypto::{Event, NetCrypto, Path};

struct Side {
    layer: NetCrypto,
    addr: SocketAddr,
    /// Datagrams sent and not yet delivered or dropped.
    outbox: Vec<Vec<u8>>,
    received: Vec<Vec<u8>>,
    closed: bool,
}

fn side(seed: u8) -> (Side, KeyPair, KeyPair) {
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(seed));
    let real = KeyPair::generate(&mut rng);
    let dht = KeyPair::generate(&mut rng);
    let layer = NetCrypto::new(real.clone(), dht.clone(), None, Instant::now(), [seed; 32]);
    let side = Side {
        layer,
        addr: SocketAddr::from(([10, 0, 0, seed], 33445)),
        outbox: Vec::new(),
        received: Vec::new(),
        closed: false,
    };
    (side, real, dht)
}

fn pump(sides: &mut [Side; 2], now: Instant) {
    for s in sides.iter_mut() {
        s.layer.handle_timeout(now);
        while let Some(t) = s.layer.poll_transmit(now) {
            s.outbox.push(t.payload);
        }
        while let Some(e) = s.layer.poll_event() {
            match e {
                Event::Lossless { data, .. } => s.received.push(data.to_vec()),
                Event::Closed { .. } => s.closed = true,
                _ => {}
            }
        }
    }
}

fn deliver(sides: &mut [Side; 2], from: usize, bytes: &[u8], now: Instant) {
    let addr = sides[from].addr;
    sides[1 - from]
        .layer
        .handle_datagram(now, Path::Udp(addr), bytes);
}

fuzz_target!(|data: &[u8]| {
    let (a, a_real, _) = side(1);
    let (b, b_real, b_dht) = side(2);
    let mut sides = [a, b];
    let mut now = Instant::now();
    sides[1].layer.accept_from(a_real.public);
    let Some(id) = sides[0].layer.connect(b_real.public, b_dht.public) else {
        return;
    };
    let b_addr = sides[1].addr;
    sides[0].layer.set_direct_addr(id, b_addr);
    // Handshake on a clean link.
    for _ in 0..20 {
        pump(&mut sides, now);
        for from in 0..2 {
            for bytes in std::mem::take(&mut sides[from].outbox) {
                deliver(&mut sides, from, &bytes, now);
            }
        }
        now += Duration::from_millis(10);
    }
    let Some(b_id) = sides[1].layer.connection_to(&a_real.public) else {
        return;
    };
    let ids = [id, b_id];
    let mut sent: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let mut input = data.iter().copied();
    while let Some(op) = input.next() {
        let who = usize::from(op & 1);
        match op >> 1 {
            // Deliver the oldest datagram from `who`.
            0..=39 => {
                if !sides[who].outbox.is_empty() {
                    let bytes = sides[who].outbox.remove(0);
                    deliver(&mut sides, who, &bytes, now);
                }
            }
            // Drop it.
            40..=49 => {
                if !sides[who].outbox.is_empty() {
                    sides[who].outbox.remove(0);
                }
            }
            // Deliver a mangled copy (one byte flipped) and keep the original.
            50..=59 => {
                if let Some(mut bytes) = sides[who].outbox.first().cloned() {
                    let at = usize::from(input.next().unwrap_or(0)) % bytes.len().max(1);
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= input.next().unwrap_or(1) | 1;
                    }
                    deliver(&mut sides, who, &bytes, now);
                }
            }
            // Inject raw bytes as if from `who`.
            60..=69 => {
                let len = usize::from(input.next().unwrap_or(0));
                let bytes: Vec<u8> = input.by_ref().take(len).collect();
                deliver(&mut sides, who, &bytes, now);
            }
            // Send a lossless packet from `who`.
            70..=99 => {
                let n = sent[who].len() as u32;
                let mut packet = vec![160];
                packet.extend_from_slice(&n.to_be_bytes());
                if sides[who]
                    .layer
                    .send_lossless(ids[who], packet.clone().into())
                    .is_ok()
                {
                    sent[who].push(packet);
                }
            }
            // Time passes.
            _ => now += Duration::from_millis(u64::from(op)),
        }
        pump(&mut sides, now);
    }
    // A clean link to the end: what was sent arrives, in order, once.
    for _ in 0..3000 {
        pump(&mut sides, now);
        for from in 0..2 {
            for bytes in std::mem::take(&mut sides[from].outbox) {
                deliver(&mut sides, from, &bytes, now);
            }
        }
        now += Duration::from_millis(20);
        if (0..2).all(|i| sides[1 - i].received.len() >= sent[i].len()) {
            break;
        }
    }
    for i in 0..2 {
        if sides[0].closed || sides[1].closed {
            continue;
        }
        assert_eq!(sides[1 - i].received, sent[i], "side {i}'s packets");
    }
});
