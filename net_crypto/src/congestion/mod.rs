//! Congestion control for a session's lossless stream: how fast bulk data
//! (file chunks) may leave (checklist N13).
//!
//! Tox congestion control is the sender's business alone: the receiver
//! only acknowledges (`buffer_start` in every data packet, N9) and sends
//! request packets naming what it lacks (N10), whoever sends. Any sound
//! algorithm therefore interoperates with c-toxcore. c-toxcore 0.2.18's own
//! starts near 0.25 MB/s and grows about ×1.5 per second, so a 50 MB file
//! crawls at 5 MB/s even on loopback; this one reaches the path's capacity
//! within a second. The figures below come from the deterministic link
//! model in this module's tests.
//!
//! # The algorithm: BBR, with FAST's rule while cruising
//!
//! [`Congestion`] is a rate-based controller in the manner of BBR (Cardwell
//! et al., "BBR: Congestion-Based Congestion Control", 2016; the BBRv2/v3
//! drafts). It models the path by the bottleneck bandwidth (the largest
//! delivery rate over the last two probe cycles) and the minimum round trip
//! (windowed over 10 s), paces every bulk packet, and caps data in flight
//! at twice "bandwidth × minimum round trip + acknowledgement aggregation".
//! A state machine drives it:
//!
//! - **Startup**: pacing gain 2.885, the window grows by what each
//!   acknowledgement delivers (doubling every round), until the bandwidth
//!   grew less than 25 % for three loss-free rounds or a round lost more
//!   than 2 % (and at least 8) of its packets. **Drain** (gain 1/2.885)
//!   then empties the queue Startup built.
//! - **ProbeBW** cruises at an operating rate and probes every 1–2 s (a
//!   different wait for each session): *Up* paces at 1.25 × a rate that
//!   follows the delivery rate up a quarter per round while no queue
//!   shows, so a probe takes whatever is free within a few rounds; *Down*
//!   (0.75) drains what the probe queued. While cruising, each round
//!   steers the rate by FAST TCP's rule (Wei et al., 2006),
//!   `rate += γ (α − rate × queueing delay) / round`, towards keeping
//!   α = 16 of its own packets in the bottleneck queue.
//! - **ProbeRTT**: when no round trip has come within the minimum for 10 s
//!   (a standing queue, or competing sessions), pace at half the rate until
//!   the queue has drained, measure for 200 ms and two rounds, and take
//!   what was seen as the minimum.
//!
//! Why this shape rather than a loss-based window (Reno, CUBIC) or
//! c-toxcore's rule:
//!
//! - **Coarse, clumped feedback.** A receiver acknowledges only in request
//!   packets, 50 ms to 1 s apart (`RequestSchedule`, in c-toxcore too), so
//!   acknowledgements arrive in clumps of hundreds of packets and there is
//!   no per-packet ACK clock for a window-based algorithm to ride. Delivery
//!   rates measured over whole acknowledgement intervals (see `sampler`,
//!   after draft-cheng-iccrg-delivery-rate-estimation) are exact however
//!   clumped, pacing keeps the link busy between clumps, and BBR's
//!   aggregation estimate sizes the window for about one request interval
//!   of data on top of the bandwidth-delay product.
//! - **Fast start.** Startup doubles the rate every round (about one
//!   request interval) from [`CRYPTO_MIN_QUEUE_LENGTH`] packets: 100 Mbit/s
//!   in a third of a second, 2 Gbit/s in half a second, where c-toxcore
//!   needs ten seconds.
//! - **Queues and fairness.** A rate model needs no full buffer to find
//!   the bandwidth, and FAST's rule keeps the queue at α packets per
//!   session however deep the buffer. BBR's own way to converge (probes
//!   gain a small session relatively more) is slow when a round lasts a
//!   request interval: two sessions stayed at 2:1 after ten seconds in our
//!   link model. Under FAST's rule every session sees the same queueing
//!   delay, so the larger one, having more packets queued, slows down
//!   more, while every session below α grows by the same absolute step:
//!   sessions converge within seconds, and shares stay within a few
//!   percent. The window still caps data in flight when the estimates are
//!   wrong.
//!
//! Loss is an input but not the signal: occasional random loss (1 %) costs
//! little. A round that loses more than 2 % of its packets overflowed a
//! queue: if our probe did it, data in flight is bounded from then on to
//! 85 % of what was in flight when the losses began (BBRv2's
//! `inflight_hi`, growing back by an eighth per probing round that it
//! holds back); if it happened while cruising, the rate drops by 10 %.
//! Losses are declared RACK-style: a packet a request shows missing while
//! a later-sent one arrived. Floors: the pacing rate never goes below
//! [`CRYPTO_PACKET_MIN_RATE`] packets/s and the window never below
//! [`CRYPTO_MIN_QUEUE_LENGTH`] packets — smaller windows would slow the
//! receiver's request schedule (it requests less often when fewer packets
//! arrive) and spiral down.
//!
//! Two properties of Tox's feedback shape the details. A request stops at
//! the last missing packet, so packets received after it are reported only
//! once it is filled: round trips sampled behind such a hole are inflated
//! (the controller then uses the best of recent rounds), and unreported
//! packets stop counting in flight after two round trips. And a receiver
//! that stops receiving requests only once a second, so nothing may wait
//! for the window while the peer asks for a resend: resends need only the
//! pacer.
//!
//! # Using it in a session
//!
//! Everything is counted in packets (each at most 1400 bytes on the wire).
//! The controller keeps one small record per packet in flight beside the
//! [`SendBuffer`](crate::lossless::SendBuffer) and reads the peer's
//! feedback back from it; it has no clock and no randomness.
//!
//! - [`Congestion::on_sent`] for every lossless packet that leaves
//!   (control packets too, though they do not wait for the controller),
//!   with `resend` from [`Outgoing`](crate::lossless::Outgoing) and
//!   `app_limited` when nothing else waits to be sent;
//! - [`Congestion::on_feedback`] after each received data packet was
//!   applied to the send buffer ([`SendBuffer::acknowledge`], and for a
//!   request packet [`SendBuffer::handle_request`], whose outcome it also
//!   takes);
//! - a new bulk packet is numbered and sent only while
//!   [`Congestion::can_send`]; a resend (the buffer's next packet has
//!   `resend` set) while [`Congestion::can_resend`];
//! - the session's `poll_timeout` includes [`Congestion::poll_timeout`]
//!   (then call [`Congestion::handle_timeout`]) and, while bulk data or a
//!   resend waits, [`Congestion::next_send_time`] or
//!   [`Congestion::next_resend_time`].
//!
//! [`SendBuffer::acknowledge`]: crate::lossless::SendBuffer::acknowledge
//! [`SendBuffer::handle_request`]: crate::lossless::SendBuffer::handle_request

mod bbr;
mod filter;
mod pacer;
mod sampler;

#[cfg(test)]
mod tests;

pub use bbr::Congestion;

pub use crate::lossless::CRYPTO_PACKET_MIN_RATE;

/// The initial window and the smallest the controller ever allows, packets
/// (c-toxcore's `CRYPTO_MIN_QUEUE_LENGTH`).
pub const CRYPTO_MIN_QUEUE_LENGTH: u32 = 64;

/// Where the state machine is (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Doubling the rate each round to find the bandwidth.
    Startup,
    /// Emptying the queue Startup built.
    Drain,
    /// Steady state: cruising, probing for more bandwidth now and then,
    /// draining what the probe queued.
    ProbeBw,
    /// Pacing at half the rate to measure the minimum round trip.
    ProbeRtt,
}
