#![no_main]
//! A lossless sender and receiver driven by arbitrary operations never
//! panic and keep their windows bounded. While only honest operations have
//! run (the link loses, duplicates and reorders, but nobody forges), every
//! acknowledgement and window hint is accepted and the receiver delivers
//! exactly the sender's packets, in order.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use toxide_net_crypto::lossless::{
    CRYPTO_PACKET_BUFFER_SIZE, MAX_REQUEST_BODY, ReceiveBuffer, Rtt, SendBuffer,
};

fn take<const N: usize>(rest: &mut &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = N.min(rest.len());
    out[..n].copy_from_slice(&rest[..n]);
    *rest = &rest[n..];
    out
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let [s0, s1, s2, s3] = take::<4>(&mut rest);
    // Mostly near the wrap, where the arithmetic is most interesting.
    let start = u32::MAX - u32::from_le_bytes([s0, s1, s2, s3]) % 70_000;
    let t0 = Instant::now();
    let mut now = t0;
    let mut tx = SendBuffer::starting_at(start);
    let mut rx = ReceiveBuffer::starting_at(start);
    let mut rtt = Rtt::new();
    let mut pushed: u32 = 0;
    let mut delivered: u32 = 0;
    let mut wire = Vec::new();
    let mut honest = true;

    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let [arg] = take::<1>(&mut rest);
        match op % 10 {
            // Number a new packet carrying its index.
            0 => {
                let mut payload = vec![16];
                payload.extend_from_slice(&pushed.to_le_bytes());
                payload.resize(5 + usize::from(arg % 16), arg);
                if tx.push(payload).is_ok() {
                    pushed += 1;
                }
            }
            // Transmit up to `arg` packets onto the wire.
            1 => {
                for _ in 0..arg % 32 {
                    let Some(out) = tx.poll_transmit(now) else {
                        break;
                    };
                    if wire.len() < 512 {
                        wire.push((out.number, out.data));
                    }
                }
            }
            // Deliver one (a copy stays: duplication) or drop one.
            2 | 3 if !wire.is_empty() => {
                let i = usize::from(arg) % wire.len();
                let (number, payload) = if op % 10 == 2 {
                    wire[i].clone()
                } else {
                    wire.swap_remove(i)
                };
                if op % 10 == 2 && rx.insert(number, payload).is_ok() {
                    while let Some((n, got)) = rx.pop_in_order() {
                        if honest {
                            assert_eq!(n, start.wrapping_add(delivered));
                            assert_eq!(got[1..5], delivered.to_le_bytes());
                        }
                        delivered += 1;
                    }
                }
            }
            // The receiver's request packet reaches the sender.
            4 => {
                let body = rx.request_body();
                assert!(body.len() <= MAX_REQUEST_BODY);
                match tx.acknowledge(rx.buffer_start()) {
                    Ok(ack) => {
                        let out = tx.handle_request(now, rtt.resend_after(arg & 1 == 0), &body);
                        rtt.sample(now, ack.oldest_sent.max(out.newest_released_sent));
                    }
                    Err(_) => assert!(!honest),
                }
            }
            // The sender's request (or lossy) packet tells its buffer_end.
            5 => {
                let ok = rx.set_buffer_end(tx.buffer_end());
                assert!(ok || !honest);
            }
            6 => now += Duration::from_millis(u64::from(arg) * 10),
            // Forgeries: arbitrary acknowledgements, requests, packets.
            7 => {
                honest = false;
                let [a, b, c] = take::<3>(&mut rest);
                let _ = tx.acknowledge(start.wrapping_add(u32::from_le_bytes([arg, a, b, c])));
            }
            8 => {
                honest = false;
                let n = usize::from(arg).min(rest.len());
                let (body, tail) = rest.split_at(n);
                rest = tail;
                tx.handle_request(now, Duration::ZERO, body);
            }
            9 => {
                honest = false;
                let [a, b, c] = take::<3>(&mut rest);
                let number = start.wrapping_add(u32::from_le_bytes([arg, a, b, c]));
                if arg & 1 == 0 {
                    let _ = rx.insert(number, vec![16, 0, 0, 0, 0]);
                } else {
                    rx.set_buffer_end(number);
                }
            }
            _ => {}
        }
        assert!(tx.in_flight() <= CRYPTO_PACKET_BUFFER_SIZE);
        assert!(tx.waiting() <= tx.in_flight() as usize);
        assert!(rx.window_len() <= CRYPTO_PACKET_BUFFER_SIZE);
        assert!(rx.stored() <= rx.window_len() as usize);
        if honest {
            assert_eq!(rx.buffer_start(), start.wrapping_add(delivered));
            // Nothing is acknowledged that was not delivered.
            assert!(tx.buffer_start().wrapping_sub(start) <= delivered);
        }
    }
});
