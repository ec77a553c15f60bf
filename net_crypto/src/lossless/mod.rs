//! The lossless stream of a session: numbering, acknowledgement, loss
//! recovery and in-order delivery (spec "Net crypto", checklist N9–N11,
//! N14; c-toxcore 0.2.18 `Packets_Array` and the functions around it in
//! `net_crypto.c`).
//!
//! Each direction numbers its lossless packets with a wrapping u32. Every
//! data packet carries, in its plaintext (N7), the sender's receive
//! `buffer_start` — every lossless packet below it arrived — and either the
//! packet's own number (lossless) or the sender's send `buffer_end`
//! (lossy, request and kill packets). At most
//! [`CRYPTO_PACKET_BUFFER_SIZE`] packets are in flight per direction.
//!
//! | piece | what it does | c-toxcore |
//! |---|---|---|
//! | [`SendQueue`] | unnumbered packets by [`Priority`]: chat before file data | — (ours) |
//! | [`SendBuffer`] | numbers, keeps until acknowledged, resends on request | `send_array`, `send_lossless_packet`, `clear_buffer_until`, `handle_request_packet`, `send_requested_packets` |
//! | [`ReceiveBuffer`] | stores the window, delivers in order, writes request bodies | `recv_array`, `add_data_to_buffer`, `read_data_beg_buffer`, `set_buffer_end`, `generate_request_packet` |
//! | [`RequestSchedule`] | when to send the next request packet | `send_crypto_packets` |
//! | [`Rtt`] | the round-trip estimate resends are gated on | `rtt_time` in `handle_data_packet_core` |
//!
//! Nothing here encrypts, owns a socket or reads a clock: the session
//! passes `now` and moves bytes. How a session uses the pieces for one
//! received data packet, in c-toxcore's order:
//!
//! 1. [`SendBuffer::acknowledge`] with the packet's `buffer_start` field;
//!    on error drop the whole packet. The returned [`Acknowledged`] range
//!    is what read receipts and file completion are built on.
//! 2. By packet id: a request (id 1) goes to [`SendBuffer::handle_request`]
//!    (body without the id) and then its number field to
//!    [`ReceiveBuffer::set_buffer_end`]; a lossless packet goes to
//!    [`ReceiveBuffer::insert`] (then [`RequestSchedule::packet_received`]
//!    and [`ReceiveBuffer::pop_in_order`] until empty); a lossy packet's
//!    number field goes to [`ReceiveBuffer::set_buffer_end`].
//! 3. [`Rtt::sample`] with the later of [`Acknowledged::oldest_sent`] and
//!    [`RequestOutcome::newest_released_sent`].
//!
//! And to send: pull from the [`SendQueue`] only what can go out now
//! ([`SendQueue::number_next`] numbers it in the [`SendBuffer`]), then drain
//! [`SendBuffer::poll_transmit`], which hands out requested resends before
//! newer packets because it goes in packet-number order.
//!
//! Memory: nothing is allocated per window slot. The send side holds one
//! small entry per packet in flight (a `VecDeque` that shrinks again after
//! a burst); the receive side holds only the packets that arrived out of
//! order (a `BTreeMap`), where c-toxcore keeps two 32768-pointer arrays
//! per session and a full 1373-byte buffer per packet.

mod queue;
mod receive;
mod request;
mod rtt;
mod schedule;
mod send;

#[cfg(test)]
mod tests;

pub use queue::{DEFAULT_BULK_LIMIT, DEFAULT_CONTROL_LIMIT, Priority, SendQueue};
pub use receive::{InsertError, ReceiveBuffer};
pub use request::MAX_REQUEST_BODY;
pub use rtt::{DEFAULT_PING_CONNECTION, DEFAULT_TCP_PING_CONNECTION, Rtt};
pub use schedule::{
    ACK_BATCH, ACK_MIN_GAP, ACK_RTTS, CRYPTO_PACKET_MIN_RATE, IDLE_REQUEST_INTERVAL,
    MIN_HOLE_REQUEST_INTERVAL, PACKET_COUNTER_AVERAGE_INTERVAL, REQUEST_PACKETS_COMPARE_CONSTANT,
    RequestSchedule,
};
pub use send::{AckError, Acknowledged, Outgoing, RequestOutcome, SendBuffer, SendError};

pub use crate::packet::{CRYPTO_PACKET_BUFFER_SIZE, MAX_CRYPTO_DATA_SIZE};

/// `number − base` in the wrapping u32 space: how far `number` lies after
/// `base`. Numbers "before" `base` come out as huge offsets, which every
/// window check then refuses — c-toxcore's unsigned-subtraction idiom.
const fn offset(base: u32, number: u32) -> u32 {
    number.wrapping_sub(base)
}

/// A u32 count or offset as an index (u32 always fits a `usize` on the
/// platforms Rust and toxide support).
fn index(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A length bounded by the window as a u32 (saturating, never wrapping).
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
