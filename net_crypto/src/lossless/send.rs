//! The send side of the lossless stream (checklist N9, N10; c-toxcore
//! 0.2.18 `send_array` with `add_data_end_of_buffer`,
//! `clear_buffer_until`, `handle_request_packet` and
//! `send_requested_packets` in `net_crypto.c`).
//!
//! Packets are numbered `buffer_end`, `buffer_end + 1`, … (wrapping) and
//! kept until the peer's `buffer_start` passes them. A request packet from
//! the peer releases the packets it shows as received (they stay in the
//! window as holes until the acknowledgement passes them, as in c-toxcore)
//! and marks the missing ones for resending if their last send is older
//! than the round-trip estimate.
//!
//! Packets waiting to go out — never sent, or marked for resending — leave
//! in packet-number order ([`SendBuffer::poll_transmit`]), so resends,
//! which are always older, go before newer packets, as c-toxcore's
//! `send_requested_packets` walks from `buffer_start`.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use thiserror::Error;

use super::request::{Mark, RequestWalk};
use super::{count, index, offset};
use crate::packet::{CRYPTO_PACKET_BUFFER_SIZE, MAX_CRYPTO_DATA_SIZE};

/// Why a lossless packet was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendError {
    /// [`CRYPTO_PACKET_BUFFER_SIZE`] packets are in flight (or the queue
    /// is at its limit); try again once the peer acknowledges some.
    #[error("send buffer full")]
    Full,
    /// The payload (packet id and data) is empty or longer than
    /// [`MAX_CRYPTO_DATA_SIZE`], as c-toxcore's `send_lossless_packet`
    /// refuses.
    #[error("lossless payload of {len} bytes (must be 1..={MAX_CRYPTO_DATA_SIZE})")]
    InvalidLength {
        /// The refused length.
        len: usize,
    },
}

/// The peer's `buffer_start` lies outside our `[buffer_start, buffer_end]`:
/// it acknowledges packets we never sent or goes backwards. c-toxcore
/// drops the whole data packet (`clear_buffer_until` fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("acknowledgement outside the send window")]
pub struct AckError;

/// A packet to transmit now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Its packet number (the second u32 of the plaintext).
    pub number: u32,
    /// Its payload: packet id, then data.
    pub data: Bytes,
    /// Whether it went out before (a resend, for congestion accounting).
    pub resend: bool,
}

/// What one acknowledgement freed: the packets numbered
/// `previous_start..buffer_start` (wrapping) reached the peer. Read
/// receipts and file completion are built on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledged {
    /// Our `buffer_start` before.
    pub previous_start: u32,
    /// Our `buffer_start` now (the peer's receive `buffer_start`).
    pub buffer_start: u32,
    /// Last send time of the packet at `previous_start`, if the
    /// acknowledgement moved and that packet was still held and not
    /// waiting for a resend: c-toxcore's RTT sample (`rtt_calc_time`).
    pub oldest_sent: Option<Instant>,
}

impl Acknowledged {
    /// How many packet numbers were acknowledged.
    pub const fn count(&self) -> u32 {
        offset(self.previous_start, self.buffer_start)
    }

    /// Whether nothing new was acknowledged.
    pub const fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Whether packet `number` is among those just acknowledged.
    pub const fn contains(&self, number: u32) -> bool {
        offset(self.previous_start, number) < self.count()
    }
}

/// What a request packet did to the send window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestOutcome {
    /// Packets the peer asked for (c-toxcore's return value).
    pub requested: u32,
    /// Of those, packets now waiting to be sent again (held, and last sent
    /// longer ago than the round-trip estimate).
    pub marked_for_resend: u32,
    /// Held packets the request showed as received, now released.
    pub released: u32,
    /// The latest send time among the released packets: with
    /// [`Acknowledged::oldest_sent`], the RTT sample.
    pub newest_released_sent: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Held {
    data: Bytes,
    /// `None` while the packet waits to go out (never sent, or requested).
    last_sent: Option<Instant>,
    sent_before: bool,
}

/// The packets we numbered and the peer has not acknowledged yet.
///
/// Internally every packet also has a 64-bit sequence index that never
/// wraps (`start_seq` + offset), which keys the set of packets waiting to
/// be sent; the wire only ever sees the u32 numbers.
#[derive(Debug, Clone)]
pub struct SendBuffer {
    start: u32,
    start_seq: u64,
    /// One entry per number in `start..end`; `None` once released by a
    /// request packet.
    held: VecDeque<Option<Held>>,
    /// Sequence indices of held packets waiting to be sent.
    waiting: BTreeSet<u64>,
}

impl Default for SendBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl SendBuffer {
    /// An empty buffer numbering from 0, as every c-toxcore session does.
    pub const fn new() -> Self {
        Self::starting_at(0)
    }

    /// An empty buffer numbering from `number` (tests of wrap-around).
    pub const fn starting_at(number: u32) -> Self {
        Self {
            start: number,
            start_seq: 0,
            held: VecDeque::new(),
            waiting: BTreeSet::new(),
        }
    }

    /// The oldest packet number not yet acknowledged.
    pub const fn buffer_start(&self) -> u32 {
        self.start
    }

    /// The number the next packet gets: the second u32 of our lossy,
    /// request and kill packets.
    pub fn buffer_end(&self) -> u32 {
        self.start.wrapping_add(self.in_flight())
    }

    /// Numbers between `buffer_start` and `buffer_end`, released ones
    /// included (c-toxcore's `num_packets_array`, which congestion control
    /// measures).
    pub fn in_flight(&self) -> u32 {
        count(self.held.len())
    }

    /// How many more packets can be numbered now.
    pub fn free_space(&self) -> u32 {
        CRYPTO_PACKET_BUFFER_SIZE.saturating_sub(self.in_flight())
    }

    /// Whether [`SendBuffer::push`] would say [`SendError::Full`].
    pub fn is_full(&self) -> bool {
        self.free_space() == 0
    }

    /// Packets waiting to be sent (new or requested).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The payload of held packet `number`, if it is still held.
    pub fn get(&self, number: u32) -> Option<&Bytes> {
        self.slot(number).map(|h| &h.data)
    }

    /// Numbers a new lossless packet (`data` = packet id then data) and
    /// holds it, waiting to be sent. Number only what is about to go out
    /// ([`super::SendQueue`] keeps the rest): numbered packets leave in
    /// number order.
    pub fn push(&mut self, data: impl Into<Bytes>) -> Result<u32, SendError> {
        let data = data.into();
        if data.is_empty() || data.len() > MAX_CRYPTO_DATA_SIZE {
            return Err(SendError::InvalidLength { len: data.len() });
        }
        if self.is_full() {
            return Err(SendError::Full);
        }
        let number = self.buffer_end();
        self.waiting.insert(self.seq(self.in_flight()));
        self.held.push_back(Some(Held {
            data,
            last_sent: None,
            sent_before: false,
        }));
        Ok(number)
    }

    /// The next packet to transmit, lowest number first, without marking
    /// it sent.
    pub fn next_to_send(&self) -> Option<Outgoing> {
        let seq = *self.waiting.first()?;
        let off = u32::try_from(seq.checked_sub(self.start_seq)?).ok()?;
        let held = self.held.get(index(off))?.as_ref()?;
        Some(Outgoing {
            number: self.start.wrapping_add(off),
            data: held.data.clone(),
            resend: held.sent_before,
        })
    }

    /// Records that packet `number` went out at `now`. False if it is not
    /// held.
    pub fn mark_sent(&mut self, number: u32, now: Instant) -> bool {
        let off = offset(self.start, number);
        let seq = self.seq(off);
        let Some(Some(held)) = self.held.get_mut(index(off)) else {
            return false;
        };
        held.last_sent = Some(now);
        held.sent_before = true;
        self.waiting.remove(&seq);
        true
    }

    /// [`SendBuffer::next_to_send`] and [`SendBuffer::mark_sent`] in one:
    /// the caller transmits what it gets.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        let out = self.next_to_send()?;
        self.mark_sent(out.number, now);
        Some(out)
    }

    /// Applies the peer's receive `buffer_start` (first u32 of every data
    /// packet it sends): everything below it arrived and is freed.
    /// Refuses a value outside `[buffer_start, buffer_end]`.
    pub fn acknowledge(&mut self, peer_buffer_start: u32) -> Result<Acknowledged, AckError> {
        let advance = offset(self.start, peer_buffer_start);
        if advance > self.in_flight() {
            return Err(AckError);
        }
        let previous_start = self.start;
        let oldest_sent = if advance == 0 {
            None
        } else {
            self.held.front().and_then(|h| h.as_ref()?.last_sent)
        };
        self.held.drain(..index(advance));
        self.start_seq = self.seq(advance);
        self.waiting = self.waiting.split_off(&self.start_seq);
        self.start = peer_buffer_start;
        // Give back what a burst grew, keeping room to grow again.
        if self.held.capacity() > 64 && self.held.len() < self.held.capacity() / 4 {
            self.held.shrink_to(self.held.len().saturating_mul(2));
        }
        Ok(Acknowledged {
            previous_start,
            buffer_start: peer_buffer_start,
            oldest_sent,
        })
    }

    /// Applies a request packet's body (after the id byte). Call it after
    /// [`SendBuffer::acknowledge`] with the same data packet's
    /// `buffer_start`, so both windows start at the same number.
    ///
    /// Walking from `buffer_start`: a held packet the body shows as
    /// received is released; a requested packet whose last send is more
    /// than `resend_after` ago ([`super::Rtt::resend_after`]) waits to be
    /// sent again. Slots past the body's end are left alone. Any byte
    /// string is accepted.
    pub fn handle_request(
        &mut self,
        now: Instant,
        resend_after: Duration,
        body: &[u8],
    ) -> RequestOutcome {
        let mut outcome = RequestOutcome::default();
        let walk = RequestWalk::new(body).take(self.held.len());
        for ((slot, mark), seq) in self.held.iter_mut().zip(walk).zip(self.start_seq..) {
            match mark {
                Mark::Missing => {
                    outcome.requested = outcome.requested.saturating_add(1);
                    let Some(held) = slot else { continue };
                    let Some(sent) = held.last_sent else { continue };
                    if now.saturating_duration_since(sent) > resend_after {
                        held.last_sent = None;
                        self.waiting.insert(seq);
                        outcome.marked_for_resend += 1;
                    }
                }
                Mark::Received => {
                    let Some(held) = slot.take() else { continue };
                    outcome.newest_released_sent = outcome.newest_released_sent.max(held.last_sent);
                    self.waiting.remove(&seq);
                    outcome.released += 1;
                }
            }
        }
        outcome
    }

    fn seq(&self, off: u32) -> u64 {
        self.start_seq.saturating_add(u64::from(off))
    }

    fn slot(&self, number: u32) -> Option<&Held> {
        self.held.get(index(offset(self.start, number)))?.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sent_buffer(start: u32, n: u32, now: Instant) -> SendBuffer {
        let mut buf = SendBuffer::starting_at(start);
        for i in 0..n {
            let number = buf.push(vec![16, i as u8]).unwrap();
            assert_eq!(number, start.wrapping_add(i));
        }
        while buf.poll_transmit(now).is_some() {}
        buf
    }

    #[test]
    fn numbers_from_zero_and_refuses_bad_lengths() {
        let mut buf = SendBuffer::new();
        assert_eq!(buf.push(vec![16]), Ok(0));
        assert_eq!(buf.push(vec![16; MAX_CRYPTO_DATA_SIZE]), Ok(1));
        assert_eq!(
            buf.push(Vec::new()),
            Err(SendError::InvalidLength { len: 0 })
        );
        assert_eq!(
            buf.push(vec![16; MAX_CRYPTO_DATA_SIZE + 1]),
            Err(SendError::InvalidLength {
                len: MAX_CRYPTO_DATA_SIZE + 1
            })
        );
        assert_eq!(
            (buf.buffer_start(), buf.buffer_end(), buf.in_flight()),
            (0, 2, 2)
        );
    }

    #[test]
    fn at_most_32768_in_flight_across_the_wrap() {
        let start = u32::MAX - 100;
        let mut buf = SendBuffer::starting_at(start);
        for _ in 0..CRYPTO_PACKET_BUFFER_SIZE {
            buf.push(vec![16]).unwrap();
        }
        assert_eq!(buf.push(vec![16]), Err(SendError::Full));
        assert_eq!(
            buf.buffer_end(),
            start.wrapping_add(CRYPTO_PACKET_BUFFER_SIZE)
        );
        let ack = buf.acknowledge(start.wrapping_add(200)).unwrap();
        assert_eq!(ack.count(), 200);
        assert!(ack.contains(u32::MAX) && ack.contains(0) && ack.contains(start));
        assert!(!ack.contains(start.wrapping_add(200)) && !ack.contains(start - 1));
        assert_eq!(
            buf.push(vec![16]),
            Ok(start.wrapping_add(CRYPTO_PACKET_BUFFER_SIZE))
        );
    }

    #[test]
    fn sends_in_number_order_and_marks_sent() {
        let t = Instant::now();
        let mut buf = SendBuffer::new();
        buf.push(vec![16, 0]).unwrap();
        buf.push(vec![16, 1]).unwrap();
        let first = buf.next_to_send().unwrap();
        assert_eq!((first.number, first.resend), (0, false));
        assert_eq!(buf.poll_transmit(t).unwrap().number, 0);
        assert_eq!(buf.poll_transmit(t).unwrap().number, 1);
        assert!(buf.poll_transmit(t).is_none());
        assert!(!buf.mark_sent(2, t));
    }

    #[test]
    fn acknowledgement_frees_below_it_and_refuses_outside_the_window() {
        let t = Instant::now();
        let mut buf = sent_buffer(u32::MAX - 1, 5, t);
        // Window is [MAX-1, 3]. Behind the start, past the end: refused.
        assert_eq!(buf.acknowledge(u32::MAX - 2), Err(AckError));
        assert_eq!(buf.acknowledge(4), Err(AckError));
        assert_eq!(buf.acknowledge(0x8000_0000), Err(AckError));
        let same = buf.acknowledge(u32::MAX - 1).unwrap();
        assert!(same.is_empty() && same.oldest_sent.is_none());
        let ack = buf.acknowledge(1).unwrap();
        assert_eq!(
            (ack.previous_start, ack.buffer_start, ack.count()),
            (u32::MAX - 1, 1, 3)
        );
        assert_eq!(ack.oldest_sent, Some(t));
        assert_eq!((buf.buffer_start(), buf.in_flight()), (1, 2));
        assert!(buf.get(0).is_none());
        assert_eq!(buf.get(1).unwrap()[..], [16, 3]);
        // Up to buffer_end is allowed: everything acknowledged.
        assert_eq!(buf.acknowledge(3).unwrap().count(), 2);
        assert_eq!(buf.in_flight(), 0);
        assert_eq!(buf.acknowledge(4), Err(AckError));
    }

    #[test]
    fn an_unsent_oldest_packet_gives_no_rtt_sample() {
        let mut buf = SendBuffer::new();
        buf.push(vec![16]).unwrap();
        assert_eq!(buf.acknowledge(1).unwrap().oldest_sent, None);
    }

    #[test]
    fn request_releases_received_and_resends_old_missing() {
        let t0 = Instant::now();
        let mut buf = sent_buffer(10, 6, t0);
        // Peer has 11, 12, 14 and lacks 10, 13 (and 15 beyond its end).
        let now = t0 + ms(1500);
        let out = buf.handle_request(now, ms(1000), &[1, 3]);
        assert_eq!(out.requested, 2);
        assert_eq!(out.marked_for_resend, 2);
        assert_eq!(out.released, 2);
        assert_eq!(out.newest_released_sent, Some(t0));
        // 11, 12 released; 14, 15 untouched: the body ended at 13.
        assert!(buf.get(11).is_none() && buf.get(12).is_none());
        assert!(buf.get(14).is_some() && buf.get(15).is_some());
        let first = buf.poll_transmit(now).unwrap();
        assert_eq!((first.number, first.resend), (10, true));
        assert_eq!(buf.poll_transmit(now).unwrap().number, 13);
        assert!(buf.poll_transmit(now).is_none());
        // Holes still count in flight until acknowledged.
        assert_eq!(buf.in_flight(), 6);
    }

    #[test]
    fn a_packet_sent_within_the_rtt_is_not_resent() {
        let t0 = Instant::now();
        let mut buf = sent_buffer(0, 2, t0);
        let out = buf.handle_request(t0 + ms(1000), ms(1000), &[1, 1]);
        assert_eq!((out.requested, out.marked_for_resend), (2, 0));
        assert!(buf.next_to_send().is_none());
        let out = buf.handle_request(t0 + ms(1001), ms(1000), &[1, 1]);
        assert_eq!(out.marked_for_resend, 2);
    }

    #[test]
    fn a_request_releases_waiting_packets_too() {
        let t0 = Instant::now();
        let mut buf = SendBuffer::new();
        buf.push(vec![16]).unwrap();
        buf.push(vec![16]).unwrap();
        buf.poll_transmit(t0).unwrap();
        // Packet 1 was never sent, but the peer says it has it.
        let out = buf.handle_request(t0, ms(0), &[0]);
        assert_eq!(out.released, 2);
        assert_eq!(out.newest_released_sent, Some(t0));
        assert!(buf.next_to_send().is_none());
    }

    #[test]
    fn a_request_works_across_the_wrap() {
        let t0 = Instant::now();
        let mut buf = sent_buffer(u32::MAX - 2, 6, t0);
        // Missing u32::MAX and 1 (offsets 2 and 4).
        let out = buf.handle_request(t0 + ms(2000), ms(1000), &[3, 2]);
        assert_eq!(
            (out.requested, out.marked_for_resend, out.released),
            (2, 2, 3)
        );
        assert_eq!(buf.poll_transmit(t0).unwrap().number, u32::MAX);
        assert_eq!(buf.poll_transmit(t0).unwrap().number, 1);
    }

    #[test]
    fn memory_shrinks_after_a_burst() {
        let t = Instant::now();
        let mut buf = sent_buffer(0, 20_000, t);
        let big = buf.held.capacity();
        buf.acknowledge(19_990).unwrap();
        assert!(buf.held.capacity() < big / 4);
    }
}
