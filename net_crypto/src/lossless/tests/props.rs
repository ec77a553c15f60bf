//! Request bodies round trip; nothing a peer sends panics.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::lossless::{CRYPTO_PACKET_BUFFER_SIZE, MAX_REQUEST_BODY, ReceiveBuffer, SendBuffer};

/// A start number that is often close to the wrap.
fn arb_start() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        (0u32..2000).prop_map(|d| u32::MAX - d),
        any::<u32>(),
    ]
}

/// A receive window of `len` slots from `start` with the given present
/// offsets, and a send window of the same numbers, all sent at `t0`.
fn windows(
    start: u32,
    len: u32,
    present: &BTreeSet<u32>,
    t0: Instant,
) -> (ReceiveBuffer, SendBuffer) {
    let mut rx = ReceiveBuffer::starting_at(start);
    for &off in present {
        rx.insert(start.wrapping_add(off), vec![16]).unwrap();
    }
    assert!(rx.set_buffer_end(start.wrapping_add(len)));
    let mut tx = SendBuffer::starting_at(start);
    for _ in 0..len {
        tx.push(vec![16]).unwrap();
    }
    while tx.poll_transmit(t0).is_some() {}
    (rx, tx)
}

fn arb_window() -> impl Strategy<Value = (u32, u32, BTreeSet<u32>)> {
    (arb_start(), 1u32..3000, 0.0f64..1.0).prop_flat_map(|(start, len, density)| {
        let slots = proptest::collection::vec(proptest::bool::weighted(density), len as usize);
        // Slot 0 is what buffer_start waits for: missing unless delivered.
        slots.prop_map(move |bits| {
            let present = (1..len).filter(|&i| bits[i as usize]).collect();
            (start, len, present)
        })
    })
}

proptest! {
    #[test]
    fn the_resent_set_is_the_missing_set((start, len, present) in arb_window()) {
        let t0 = Instant::now();
        let (rx, mut tx) = windows(start, len, &present, t0);
        let missing: Vec<u32> = rx.missing().collect();
        let body = rx.request_body();
        prop_assert!(body.len() <= MAX_REQUEST_BODY);

        let out = tx.handle_request(t0 + Duration::from_secs(2), Duration::from_secs(1), &body);
        let resent: Vec<u32> =
            std::iter::from_fn(|| tx.poll_transmit(t0).map(|o| o.number)).collect();
        prop_assert_eq!(out.requested as usize, resent.len());
        if body.len() < MAX_REQUEST_BODY {
            prop_assert_eq!(&resent, &missing);
        } else {
            // Cut short: the first missing packets, in order.
            prop_assert!(!resent.is_empty());
            prop_assert_eq!(&resent[..], &missing[..resent.len()]);
        }
        // Only packets the receiver holds were released, and every
        // missing one is still held.
        for off in 0..len {
            let number = start.wrapping_add(off);
            if tx.get(number).is_none() {
                prop_assert!(present.contains(&off));
            }
        }
        for number in &missing {
            prop_assert!(tx.get(*number).is_some());
        }
        prop_assert_eq!(out.released as usize, (0..len).filter(|&o| tx.get(start.wrapping_add(o)).is_none()).count());
    }

    #[test]
    fn garbage_request_bodies_never_panic(
        (start, len, present) in arb_window(),
        body in proptest::collection::vec(any::<u8>(), 0..1500),
        rtt_ms in 0u64..3000,
    ) {
        let t0 = Instant::now();
        let (_rx, mut tx) = windows(start, len, &present, t0);
        let out = tx.handle_request(t0 + Duration::from_millis(1500), Duration::from_millis(rtt_ms), &body);
        prop_assert!(out.requested <= len && out.released <= len);
        prop_assert!(out.marked_for_resend <= out.requested);
        prop_assert_eq!(tx.in_flight(), len);
        prop_assert_eq!(tx.waiting(), out.marked_for_resend as usize);
    }

    #[test]
    fn arbitrary_numbers_never_panic_and_keep_the_windows_bounded(
        start in arb_start(),
        ops in proptest::collection::vec((any::<u8>(), any::<u32>()), 0..300),
    ) {
        let t0 = Instant::now();
        let mut tx = SendBuffer::starting_at(start);
        let mut rx = ReceiveBuffer::starting_at(start);
        for (op, n) in ops {
            // Numbers near the windows are the interesting ones.
            let near = if op & 1 == 0 { start.wrapping_add(n % 40_000) } else { n };
            match op % 6 {
                0 | 1 => { let _ = tx.push(vec![16; 1 + (n % 8) as usize]); }
                2 => { let _ = tx.acknowledge(near); }
                3 => { let _ = rx.insert(near, vec![16]); }
                4 => { let _ = rx.set_buffer_end(near); }
                _ => {
                    while rx.pop_in_order().is_some() {}
                    let _ = tx.poll_transmit(t0);
                    tx.handle_request(t0, Duration::ZERO, &rx.request_body());
                }
            }
            prop_assert!(tx.in_flight() <= CRYPTO_PACKET_BUFFER_SIZE);
            prop_assert!(rx.window_len() <= CRYPTO_PACKET_BUFFER_SIZE);
            prop_assert!(rx.stored() <= rx.window_len() as usize);
        }
    }
}

#[test]
fn a_full_window_round_trips() {
    let t0 = Instant::now();
    let start = u32::MAX - 10_000;
    let len = CRYPTO_PACKET_BUFFER_SIZE;
    // Every 300th packet missing (offset 0 always): each gap needs one
    // byte plus a zero, so the body is not cut.
    let present = (1..len).filter(|o| o % 300 != 0).collect();
    let (rx, mut tx) = windows(start, len, &present, t0);
    let body = rx.request_body();
    assert!(body.len() < MAX_REQUEST_BODY);
    tx.handle_request(t0 + Duration::from_secs(2), Duration::from_secs(1), &body);
    let resent: Vec<u32> = std::iter::from_fn(|| tx.poll_transmit(t0).map(|o| o.number)).collect();
    assert_eq!(resent, rx.missing().collect::<Vec<_>>());
    assert_eq!(resent.len(), 110);
}
