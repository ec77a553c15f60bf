//! The data plane of one connection once the peer's session key is known
//! (checklist N6–N14): sealing and opening data packets under the session
//! key with the 16-bit nonce scheme, the lossless stream, lossy packets,
//! request packets, kill packets and the round-trip estimate, with
//! congestion control deciding when bulk data leaves.
//!
//! One received data packet is handled in c-toxcore's order
//! (`handle_data_packet_core`): open, apply the acknowledgement, skip the
//! padding, then by packet id: kill, request, lossless, lossy. A packet
//! that fails anywhere is dropped whole and changes nothing but the
//! saved nonce (which only moves after a box opened).

use std::time::{Duration, Instant};

use bytes::Bytes;
use toxide_core::{KeyPair, Nonce, PublicKey, SharedKey};

use crate::congestion::Congestion;
use crate::lossless::{
    Priority, ReceiveBuffer, RequestSchedule, Rtt, SendBuffer, SendError, SendQueue,
};
use crate::packet::{
    CryptoData, DataPlaintext, NetCryptoPacketError, PACKET_ID_KILL, PACKET_ID_REQUEST,
    PacketIdKind,
};

/// What one received data packet meant to the layer above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Received {
    /// The peer ended the session (kill packet, checklist N12).
    Killed,
    /// Lossless packets now deliverable in order (id byte first), and how
    /// far the peer has acknowledged ours.
    Data {
        /// In-order lossless payloads, possibly none.
        lossless: Vec<Bytes>,
        /// A lossy payload (id byte first), if this packet was one.
        lossy: Option<Bytes>,
        /// The new send `buffer_start` if the peer acknowledged more.
        acked: Option<u32>,
    },
}

/// Why a data packet was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DataError {
    /// It did not open, or its plaintext was malformed.
    #[error(transparent)]
    Packet(#[from] NetCryptoPacketError),
    /// Its acknowledgement lies outside what we sent.
    #[error("acknowledgement outside the send window")]
    BadAck,
    /// A lossless number outside the receive window.
    #[error("lossless packet outside the receive window")]
    OutOfWindow,
    /// A packet id in a reserved range.
    #[error("packet id {0} is reserved")]
    ReservedId(u8),
}

/// The established half of a connection.
#[derive(Debug)]
pub(crate) struct Session {
    shared: SharedKey,
    /// Our next nonce: the base we announced in our handshake, plus one
    /// per data packet sent.
    sent_nonce: Nonce,
    /// The peer's base nonce as last advanced (N6).
    recv_nonce: Nonce,
    queue: SendQueue,
    send: SendBuffer,
    receive: ReceiveBuffer,
    schedule: RequestSchedule,
    rtt: Rtt,
    congestion: Congestion,
    /// A data packet has arrived: the connection is established (N5).
    established: bool,
}

impl Session {
    /// A session from our session key pair and base nonce and the peer's
    /// (from its handshake). `None` if the peer's session key is a
    /// low-order point.
    pub(crate) fn new(
        now: Instant,
        ours: &KeyPair,
        our_base_nonce: Nonce,
        peer_session_pk: &PublicKey,
        peer_base_nonce: Nonce,
    ) -> Option<Self> {
        let shared = SharedKey::new(peer_session_pk, &ours.secret).ok()?;
        Some(Self {
            shared,
            sent_nonce: our_base_nonce,
            recv_nonce: peer_base_nonce,
            queue: SendQueue::default(),
            send: SendBuffer::new(),
            receive: ReceiveBuffer::new(),
            schedule: RequestSchedule::new(),
            rtt: Rtt::new(),
            congestion: Congestion::new(now),
            established: false,
        })
    }

    /// Whether data goes through TCP relays now (for congestion control).
    pub(crate) fn set_relayed(&mut self, relayed: bool) {
        self.congestion.set_relayed(relayed);
    }

    /// Queues a lossless payload (packet id then data).
    pub(crate) fn queue_lossless(
        &mut self,
        priority: Priority,
        data: Bytes,
    ) -> Result<(), SendError> {
        self.queue.push(priority, data)
    }

    /// Numbers a control packet (anything but file data) at once: it
    /// leaves on the next poll, whatever congestion control says, and its
    /// number is what a read receipt waits for.
    pub(crate) fn push_control(&mut self, data: Bytes) -> Result<u32, SendError> {
        self.send.push(data)
    }

    /// Room left for lossless payloads of `priority`.
    pub(crate) fn free_space(&self, priority: Priority) -> usize {
        self.queue
            .free_space(priority)
            .min(usize::try_from(self.send.free_space()).unwrap_or(usize::MAX))
    }

    /// Bulk payloads queued and not numbered yet. They are numbered in
    /// the order they were queued.
    pub(crate) fn bulk_waiting(&self) -> usize {
        self.queue.len(Priority::Bulk)
    }

    /// The number the next lossless packet will get (our send
    /// `buffer_end`): every packet numbered so far is below it.
    pub(crate) fn next_number(&self) -> u32 {
        self.send.buffer_end()
    }

    /// Our send `buffer_start`: every lossless packet below it reached the
    /// peer.
    pub(crate) fn acked(&self) -> u32 {
        self.send.buffer_start()
    }

    /// Seals a data packet carrying `payload` under the next nonce.
    fn seal(&mut self, number: u32, payload: &[u8]) -> Option<Vec<u8>> {
        let plaintext =
            DataPlaintext::new(self.receive.buffer_start(), number, payload.to_vec()).ok()?;
        let packet = CryptoData::seal(&self.shared, &self.sent_nonce, &plaintext);
        self.sent_nonce.increment();
        Some(toxide_core::Encode::to_bytes(&packet))
    }

    /// A lossy packet (id ≥ 192, or a kill or request packet): its number
    /// field is our send `buffer_end` (N11).
    pub(crate) fn seal_lossy(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let end = self.send.buffer_end();
        self.seal(end, payload)
    }

    /// The kill packet (N12).
    pub(crate) fn seal_kill(&mut self) -> Option<Vec<u8>> {
        self.seal_lossy(&[PACKET_ID_KILL])
    }

    /// Lowers the round-trip estimate to what the handshake measured
    /// (see `connection`): resends then wait that long, not the 1 s
    /// c-toxcore starts from.
    pub(crate) fn seed_rtt(&mut self, sample: Duration) {
        self.rtt = Rtt::seeded(sample.min(self.rtt.get()));
    }

    /// The round-trip estimate requested resends wait for.
    pub(crate) const fn rtt(&self) -> Duration {
        self.rtt.get()
    }

    /// Opens and applies one data packet.
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        packet: &CryptoData,
        over_udp: bool,
    ) -> Result<Received, DataError> {
        let plaintext = packet.open_with_saved(&self.shared, &mut self.recv_nonce)?;
        let id = plaintext.packet_id();
        let acked = self
            .send
            .acknowledge(plaintext.buffer_start())
            .map_err(|_| DataError::BadAck)?;
        if id == PACKET_ID_KILL {
            return Ok(Received::Killed);
        }
        self.established = true;
        let mut rtt_sent = acked.oldest_sent;
        let mut lossless = Vec::new();
        let mut lossy = None;
        match PacketIdKind::of(id) {
            PacketIdKind::Request => {
                let resend_after = self
                    .congestion
                    .resend_after(self.rtt.resend_after(over_udp));
                let outcome = self
                    .send
                    .handle_request(now, resend_after, plaintext.data());
                rtt_sent = rtt_sent.max(outcome.newest_released_sent);
                self.receive.set_buffer_end(plaintext.packet_number());
                self.note_feedback(now, Some(&outcome), rtt_sent);
                return Ok(Received::Data {
                    lossless,
                    lossy,
                    acked: (!acked.is_empty()).then_some(acked.buffer_start),
                });
            }
            PacketIdKind::Lossless | PacketIdKind::CustomLossless => {
                match self
                    .receive
                    .insert(plaintext.packet_number(), plaintext.into_payload())
                {
                    Ok(()) => self.schedule.packet_received(now),
                    // A duplicate still carried a valid acknowledgement.
                    Err(crate::lossless::InsertError::Duplicate) => {}
                    Err(_) => return Err(DataError::OutOfWindow),
                }
                while let Some((_, data)) = self.receive.pop_in_order() {
                    lossless.push(data);
                }
                self.schedule
                    .set_missing(self.receive.stored() > 0, self.rtt.get());
            }
            PacketIdKind::LossyAv | PacketIdKind::CustomLossy => {
                self.receive.set_buffer_end(plaintext.packet_number());
                lossy = Some(Bytes::from(plaintext.into_payload()));
            }
            _ => return Err(DataError::ReservedId(id)),
        }
        self.note_feedback(now, None, rtt_sent);
        Ok(Received::Data {
            lossless,
            lossy,
            acked: (!acked.is_empty()).then_some(acked.buffer_start),
        })
    }

    /// Feeds what the peer's packet told the send buffer to the RTT
    /// estimate and to congestion control.
    fn note_feedback(
        &mut self,
        now: Instant,
        request: Option<&crate::lossless::RequestOutcome>,
        rtt_sent: Option<Instant>,
    ) {
        if rtt_sent.is_some() {
            self.rtt.sample(now, rtt_sent);
        }
        self.congestion.on_feedback(now, &self.send, request);
    }

    /// The next data packet to send now, if any: a request packet when one
    /// is due, then control packets (numbered whatever congestion control
    /// says, as c-toxcore lets non-file packets bypass it), then requested
    /// resends and bulk data as congestion control allows.
    pub(crate) fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let window = self.receive.window_len();
        if self.schedule.poll(now, self.established, window) {
            let mut body = vec![PACKET_ID_REQUEST];
            body.extend_from_slice(&self.receive.request_body());
            if let Some(packet) = self.seal_lossy(&body) {
                return Some(packet);
            }
        }
        // Control packets are numbered at once; they then leave in number
        // order with everything else.
        while self.queue.len(Priority::Control) > 0 {
            if self.queue.number_next(&mut self.send, false).is_none() {
                break;
            }
        }
        // Bulk data is numbered only when it leaves at once, so a waiting
        // packet never sent before is a control packet: it bypasses
        // congestion control. A resend waits for the pacer only (a full
        // window must not hold back what the peer asked for, or its
        // requests slow to one a second and the session stalls); new bulk
        // data waits for the window and the pacer.
        match self.send.next_to_send() {
            Some(out) if !out.resend => {}
            Some(_) => {
                if !self.congestion.can_resend(now) {
                    return None;
                }
            }
            None => {
                if !self.congestion.can_send(now) {
                    return None;
                }
                self.queue.number_next(&mut self.send, true)?;
            }
        }
        let out = self.send.poll_transmit(now)?;
        let app_limited = self.queue.is_empty() && self.send.waiting() == 0;
        self.congestion
            .on_sent(now, out.number, out.resend, app_limited);
        self.seal(out.number, &out.data)
    }

    /// When this session next has something to do without new input.
    pub(crate) fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let window = self.receive.window_len();
        let request = self.schedule.poll_timeout(self.established, window);
        // A packet waiting that never left is a control packet, due now; a
        // resend waits for the pacer; new bulk data for the pacer and the
        // window (no time while the window is full: feedback reopens it).
        let data = match self.send.next_to_send() {
            Some(out) if !out.resend => Some(now),
            Some(_) => Some(self.congestion.next_resend_time(now)),
            None if !self.queue.is_empty() => self.congestion.next_send_time(now),
            None => None,
        };
        [request, data, self.congestion.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Lets congestion control expire packets no feedback has mentioned
    /// for too long (its own timer).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.congestion.poll_timeout().is_some_and(|t| t <= now) {
            self.congestion.handle_timeout(now);
        }
    }
}
