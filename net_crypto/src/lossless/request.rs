//! The body of a request packet (packet id 1, checklist N10): which
//! lossless packets the receiver is missing (c-toxcore 0.2.18
//! `generate_request_packet` and `handle_request_packet` in
//! `net_crypto.c`).
//!
//! The receiver walks its window from its `buffer_start` (the first packet
//! it lacks) to its `buffer_end`, keeping a counter `n` that starts at 1
//! and grows by one per slot:
//!
//! - at a missing packet it writes `n` and restarts the counter at 1;
//! - at a present packet where `n` has reached 255 it writes `0` ("255 on,
//!   nothing missing here") and restarts the counter at 1.
//!
//! So each non-zero byte is the distance from the previous missing packet
//! (the first from `buffer_start − 1`). The sender walks its own send
//! window from its `buffer_start`, which the same data packet's header has
//! just set equal to the receiver's, and reads each slot as missing or as
//! received. The body is cut at [`MAX_REQUEST_BODY`] bytes (the packet,
//! with its id, fills at most `MAX_CRYPTO_DATA_SIZE`); slots past the last
//! byte are neither.

use crate::packet::MAX_CRYPTO_DATA_SIZE;

/// The longest request body: the whole data payload less the id byte.
pub const MAX_REQUEST_BODY: usize = MAX_CRYPTO_DATA_SIZE - 1;

/// What a request body says about one slot of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// The receiver asks for this packet.
    Missing,
    /// The receiver has this packet.
    Received,
}

/// Decodes a request body slot by slot, from the sender's `buffer_start`
/// on. Ends when the body is used up or when the caller stops at the end
/// of its window.
///
/// Every byte string decodes. c-toxcore's decoder refuses a body whose
/// byte after 255 unrequested slots is not 0, but that cannot happen: the
/// counter restarts at 1 after every byte it consumes and meets every
/// value from 1 up to the next byte before it reaches 255, so a byte in
/// 1..=255 is always matched first and only a 0 is left at 255.
#[derive(Debug, Clone)]
pub(crate) struct RequestWalk<'a> {
    rest: &'a [u8],
    n: u8,
}

impl<'a> RequestWalk<'a> {
    pub(crate) const fn new(body: &'a [u8]) -> Self {
        Self { rest: body, n: 1 }
    }
}

impl Iterator for RequestWalk<'_> {
    type Item = Mark;

    fn next(&mut self) -> Option<Mark> {
        let (&byte, rest) = self.rest.split_first()?;
        if byte == self.n {
            self.rest = rest;
            self.n = 1;
            return Some(Mark::Missing);
        }
        if self.n == u8::MAX {
            // `byte` is 0 here (see above): "255 on, nothing missing".
            self.rest = rest;
            self.n = 1;
        } else {
            self.n += 1;
        }
        Some(Mark::Received)
    }
}

/// Encodes which slots of a receive window are present (in order from
/// `buffer_start`) as a request body of at most [`MAX_REQUEST_BODY`] bytes.
pub(crate) fn encode(present: impl IntoIterator<Item = bool>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut n: u8 = 1;
    for here in present {
        if body.len() >= MAX_REQUEST_BODY {
            break;
        }
        if !here {
            body.push(n);
            n = 1;
        } else if n == u8::MAX {
            body.push(0);
            n = 1;
        } else {
            n += 1;
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8], slots: usize) -> Vec<Mark> {
        RequestWalk::new(body).take(slots).collect()
    }

    #[test]
    fn distances_from_the_previous_missing_packet() {
        // missing at offsets 0, 1, 4
        let present = [false, false, true, true, false, true];
        let body = encode(present);
        assert_eq!(body, [1, 1, 3]);
        let marks = decode(&body, present.len());
        // The tail after the last byte is neither; the walk just stops.
        assert_eq!(
            marks,
            [
                Mark::Missing,
                Mark::Missing,
                Mark::Received,
                Mark::Received,
                Mark::Missing
            ]
        );
    }

    #[test]
    fn long_runs_of_received_packets_write_zeros() {
        // 600 received then one missing: 255 slots, 0, 255 slots, 0, then
        // the missing one at n = 600 − 510 + 1 = 91.
        let mut present = vec![true; 600];
        present.push(false);
        let body = encode(present.iter().copied());
        assert_eq!(body, [0, 0, 91]);
        let marks = decode(&body, present.len());
        assert_eq!(marks.len(), 601);
        assert!(marks[..600].iter().all(|m| *m == Mark::Received));
        assert_eq!(marks[600], Mark::Missing);
    }

    #[test]
    fn a_missing_packet_at_255_is_written_as_255() {
        let mut present = vec![true; 254];
        present.push(false);
        let body = encode(present.iter().copied());
        assert_eq!(body, [255]);
        assert_eq!(decode(&body, 255)[254], Mark::Missing);
    }

    #[test]
    fn every_byte_string_decodes_and_consumes_every_byte() {
        // Each byte b in 1..=255 covers b slots, each 0 covers 255, so the
        // walk over an unbounded window has a known length.
        for body in [&[0u8, 0][..], &[255, 1, 0, 7], &[3; 40], &[]] {
            let slots: usize = body
                .iter()
                .map(|&b| if b == 0 { 255 } else { usize::from(b) })
                .sum();
            let marks = decode(body, usize::MAX);
            assert_eq!(marks.len(), slots);
            let missing = marks.iter().filter(|m| **m == Mark::Missing).count();
            assert_eq!(missing, body.iter().filter(|b| **b != 0).count());
        }
    }

    #[test]
    fn bodies_are_bounded() {
        let body = encode(std::iter::repeat_n(false, 5000));
        assert_eq!(body.len(), MAX_REQUEST_BODY);
    }

    #[test]
    fn empty_window_empty_body() {
        assert!(encode([]).is_empty());
        assert!(decode(&[], 10).is_empty());
    }
}
