//! The receive side of the lossless stream (checklist N9, N10; c-toxcore
//! 0.2.18 `recv_array` with `add_data_to_buffer`, `read_data_beg_buffer`,
//! `set_buffer_end` and `generate_request_packet` in `net_crypto.c`).
//!
//! The window starts at `buffer_start`, the next number to deliver, and
//! spans [`CRYPTO_PACKET_BUFFER_SIZE`] numbers. A packet inside it is kept
//! until everything before it has arrived; a second copy, or a number
//! already delivered, is dropped; a number at or past the window's end is
//! refused.
//!
//! `buffer_end` is one past the highest number we know the peer sent:
//! raised by every packet stored and by the number field of the peer's
//! lossy and request packets (its send `buffer_end`), so packets lost at
//! the tail of a burst are requested too.

use std::collections::BTreeMap;

use bytes::Bytes;
use thiserror::Error;

use super::offset;
use super::request;
use crate::packet::CRYPTO_PACKET_BUFFER_SIZE;

/// Why a lossless packet was not stored. c-toxcore drops the data packet
/// in every case (`add_data_to_buffer` fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum InsertError {
    /// Already stored, or already delivered (its number lies before
    /// `buffer_start`, by less than half the number space).
    #[error("duplicate lossless packet")]
    Duplicate,
    /// At or past `buffer_start + CRYPTO_PACKET_BUFFER_SIZE`.
    #[error("lossless packet beyond the receive window")]
    OutOfWindow,
}

/// Lossless packets received and not yet delivered.
///
/// Packets are keyed by a 64-bit sequence index that never wraps
/// (`start_seq` + offset from `buffer_start`); memory is one entry per
/// packet held, never per slot of the window.
#[derive(Debug, Clone)]
pub struct ReceiveBuffer {
    start: u32,
    start_seq: u64,
    end: u32,
    stored: BTreeMap<u64, Bytes>,
}

impl Default for ReceiveBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReceiveBuffer {
    /// An empty window expecting packet 0, as every c-toxcore session.
    pub const fn new() -> Self {
        Self::starting_at(0)
    }

    /// An empty window expecting packet `number` (tests of wrap-around).
    pub const fn starting_at(number: u32) -> Self {
        Self {
            start: number,
            start_seq: 0,
            end: number,
            stored: BTreeMap::new(),
        }
    }

    /// The next number to deliver: every packet below it arrived. The first
    /// u32 of every data packet we send.
    pub const fn buffer_start(&self) -> u32 {
        self.start
    }

    /// One past the highest number the peer is known to have sent.
    pub const fn buffer_end(&self) -> u32 {
        self.end
    }

    /// `buffer_end − buffer_start`, holes included (what c-toxcore's
    /// request schedule calls the receive queue).
    pub const fn window_len(&self) -> u32 {
        offset(self.start, self.end)
    }

    /// Packets held, waiting for an earlier one.
    pub fn stored(&self) -> usize {
        self.stored.len()
    }

    /// Whether packet `number` is held.
    pub fn contains(&self, number: u32) -> bool {
        let off = offset(self.start, number);
        off < CRYPTO_PACKET_BUFFER_SIZE && self.stored.contains_key(&self.seq(off))
    }

    /// Stores lossless packet `number` (`data` = packet id then data).
    pub fn insert(&mut self, number: u32, data: impl Into<Bytes>) -> Result<(), InsertError> {
        let off = offset(self.start, number);
        if off >= CRYPTO_PACKET_BUFFER_SIZE {
            // Behind the start by up to half the number space: an old copy.
            return Err(if off >= 1 << 31 {
                InsertError::Duplicate
            } else {
                InsertError::OutOfWindow
            });
        }
        let seq = self.seq(off);
        if self.stored.contains_key(&seq) {
            return Err(InsertError::Duplicate);
        }
        self.stored.insert(seq, data.into());
        if off >= self.window_len() {
            self.end = number.wrapping_add(1);
        }
        Ok(())
    }

    /// The next packet in order, if it has arrived: `(number, data)`.
    pub fn pop_in_order(&mut self) -> Option<(u32, Bytes)> {
        let data = self.stored.remove(&self.start_seq)?;
        let number = self.start;
        self.start = self.start.wrapping_add(1);
        self.start_seq = self.start_seq.saturating_add(1);
        Some((number, data))
    }

    /// Raises `buffer_end` to `number`, the peer's send `buffer_end` from
    /// the number field of its lossy or request packet. Refused (false,
    /// nothing changes) if that would lower it or reach past the window, as
    /// c-toxcore's `set_buffer_end`.
    pub fn set_buffer_end(&mut self, number: u32) -> bool {
        if offset(self.start, number) > CRYPTO_PACKET_BUFFER_SIZE
            || offset(self.end, number) > CRYPTO_PACKET_BUFFER_SIZE
        {
            return false;
        }
        self.end = number;
        true
    }

    /// The body (after the id byte) of a request packet listing what is
    /// missing between `buffer_start` and `buffer_end`; at most
    /// [`request::MAX_REQUEST_BODY`] bytes. Empty when nothing is missing.
    pub fn request_body(&self) -> Vec<u8> {
        let mut held = self.stored.keys().copied().peekable();
        let seqs = (0..self.window_len()).map(|off| self.seq(off));
        request::encode(seqs.map(|seq| {
            while held.next_if(|&k| k < seq).is_some() {}
            held.next_if_eq(&seq).is_some()
        }))
    }

    /// The numbers currently missing (for tests and diagnostics).
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.window_len())
            .filter(|&off| !self.stored.contains_key(&self.seq(off)))
            .map(|off| self.start.wrapping_add(off))
    }

    fn seq(&self, off: u32) -> u64 {
        self.start_seq.saturating_add(u64::from(off))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_in_order_and_drops_duplicates() {
        let mut rx = ReceiveBuffer::new();
        rx.insert(1, vec![16, 1]).unwrap();
        assert_eq!(rx.pop_in_order(), None);
        assert_eq!((rx.buffer_start(), rx.buffer_end()), (0, 2));
        assert_eq!(rx.insert(1, vec![16]), Err(InsertError::Duplicate));
        rx.insert(0, vec![16, 0]).unwrap();
        assert_eq!(
            rx.pop_in_order().unwrap(),
            (0, Bytes::from_static(&[16, 0]))
        );
        assert_eq!(rx.pop_in_order().unwrap().0, 1);
        assert_eq!(rx.pop_in_order(), None);
        assert_eq!(rx.insert(0, vec![16]), Err(InsertError::Duplicate));
        assert_eq!(rx.insert(1, vec![16]), Err(InsertError::Duplicate));
        assert_eq!(rx.stored(), 0);
    }

    #[test]
    fn refuses_at_and_past_the_window_end() {
        let mut rx = ReceiveBuffer::starting_at(u32::MAX - 5);
        let last = (u32::MAX - 5).wrapping_add(CRYPTO_PACKET_BUFFER_SIZE - 1);
        assert_eq!(
            rx.insert(last.wrapping_add(1), vec![16]),
            Err(InsertError::OutOfWindow)
        );
        assert_eq!(
            rx.insert(0x7000_0000, vec![16]),
            Err(InsertError::OutOfWindow)
        );
        rx.insert(last, vec![16]).unwrap();
        assert_eq!(rx.window_len(), CRYPTO_PACKET_BUFFER_SIZE);
        assert_eq!(rx.stored(), 1);
    }

    #[test]
    fn wraps_at_u32_max() {
        let mut rx = ReceiveBuffer::starting_at(u32::MAX - 1);
        for n in [1, 0, u32::MAX, u32::MAX - 1] {
            rx.insert(n, vec![16, n as u8]).unwrap();
        }
        let got: Vec<u32> = std::iter::from_fn(|| rx.pop_in_order().map(|(n, _)| n)).collect();
        assert_eq!(got, [u32::MAX - 1, u32::MAX, 0, 1]);
        assert_eq!(rx.buffer_start(), 2);
        assert_eq!(rx.insert(u32::MAX, vec![16]), Err(InsertError::Duplicate));
    }

    #[test]
    fn buffer_end_only_grows_and_stays_in_the_window() {
        let mut rx = ReceiveBuffer::starting_at(100);
        assert!(rx.set_buffer_end(105));
        assert!(!rx.set_buffer_end(104));
        assert!(rx.set_buffer_end(105));
        assert!(!rx.set_buffer_end(100 + CRYPTO_PACKET_BUFFER_SIZE + 1));
        assert!(rx.set_buffer_end(100 + CRYPTO_PACKET_BUFFER_SIZE));
        assert_eq!(rx.window_len(), CRYPTO_PACKET_BUFFER_SIZE);
        // A hint costs no memory.
        assert_eq!(rx.stored(), 0);
    }

    #[test]
    fn request_body_lists_the_missing_packets() {
        let mut rx = ReceiveBuffer::starting_at(u32::MAX - 2);
        // Have MAX-1 and 1; lack MAX-2, MAX, 0; peer says it sent up to 4.
        rx.insert(u32::MAX - 1, vec![16]).unwrap();
        rx.insert(1, vec![16]).unwrap();
        assert!(rx.set_buffer_end(4));
        assert_eq!(rx.request_body(), [1, 2, 1, 2, 1]);
        assert_eq!(
            rx.missing().collect::<Vec<_>>(),
            [u32::MAX - 2, u32::MAX, 0, 2, 3]
        );
        assert!(ReceiveBuffer::new().request_body().is_empty());
    }
}
