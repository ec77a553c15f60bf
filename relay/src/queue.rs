//! The outgoing side of one connection: bounded queues of plaintext
//! payloads, sealed into frames only when the driver asks for bytes
//! (checklist R4: control frames get priority).
//!
//! Sealing at poll time keeps the nonce order equal to the write order
//! whatever the priorities, and lets a disconnect purge data frames still
//! queued for the link it ends. The order is: the raw handshake (if any),
//! the pong, the ping, control frames (routing, notifications), then data
//! (routed data, OOB, onion). c-toxcore keeps one pending pong and ping id
//! each, overwritten by newer ones; so does this queue, so a peer that
//! floods pings cannot grow it.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use toxide_core::Encode;

use crate::frame::FrameSealer;
use crate::packet::{ConnectionId, Ping, Pong};

/// How much one connection may queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Control frames (routing, notifications) waiting to be written.
    pub max_control_frames: usize,
    /// Payload bytes of data frames (routed data, OOB, onion) waiting to
    /// be written.
    pub max_data_bytes: usize,
}

impl Default for QueueLimits {
    /// 256 control frames (more than a client's 240 links need for one
    /// round of routing requests) and 64 KiB of data: about 32 full
    /// frames, a few round trips of a relayed net_crypto stream; the
    /// layers above retransmit what does not fit.
    fn default() -> Self {
        Self {
            max_control_frames: 256,
            max_data_bytes: 64 * 1024,
        }
    }
}

/// A queue is at its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

#[derive(Debug)]
struct Queued {
    link: Option<ConnectionId>,
    payload: Vec<u8>,
}

/// How many bytes one [`SendQueue::poll`] hands out at most (plus one
/// frame): large enough for one system call to carry many small frames.
const COALESCE_BYTES: usize = 16 * 1024;

#[derive(Debug)]
pub(crate) struct SendQueue {
    limits: QueueLimits,
    preamble: Option<Vec<u8>>,
    pong: Option<u64>,
    ping: Option<u64>,
    control: VecDeque<Vec<u8>>,
    data: VecDeque<Queued>,
    data_bytes: usize,
}

impl SendQueue {
    pub(crate) fn new(limits: QueueLimits) -> Self {
        Self {
            limits,
            preamble: None,
            pong: None,
            ping: None,
            control: VecDeque::new(),
            data: VecDeque::new(),
            data_bytes: 0,
        }
    }

    /// Raw bytes (a handshake) to write before any frame.
    pub(crate) fn set_preamble(&mut self, bytes: Vec<u8>) {
        self.preamble = Some(bytes);
    }

    pub(crate) fn set_pong(&mut self, ping_id: u64) {
        self.pong = Some(ping_id);
    }

    pub(crate) fn set_ping(&mut self, ping_id: u64) {
        self.ping = Some(ping_id);
    }

    pub(crate) fn push_control(&mut self, packet: &impl Encode) -> Result<(), Full> {
        if self.control.len() >= self.limits.max_control_frames {
            return Err(Full);
        }
        self.control.push_back(packet.to_bytes());
        Ok(())
    }

    pub(crate) fn data_room(&self) -> usize {
        self.limits.max_data_bytes.saturating_sub(self.data_bytes)
    }

    pub(crate) fn push_data(
        &mut self,
        link: Option<ConnectionId>,
        packet: &impl Encode,
    ) -> Result<(), Full> {
        let len = packet.encoded_len();
        if len > self.data_room() {
            return Err(Full);
        }
        self.data_bytes += len;
        self.data.push_back(Queued {
            link,
            payload: packet.to_bytes(),
        });
        Ok(())
    }

    /// Drops data frames still queued for `link`.
    pub(crate) fn purge_link(&mut self, link: ConnectionId) {
        let mut freed = 0;
        self.data.retain(|q| {
            let keep = q.link != Some(link);
            if !keep {
                freed += q.payload.len();
            }
            keep
        });
        self.data_bytes -= freed;
    }

    /// Whether [`SendQueue::poll`] would return bytes.
    pub(crate) fn has_pending(&self, can_seal: bool) -> bool {
        self.preamble.is_some()
            || (can_seal
                && (self.pong.is_some()
                    || self.ping.is_some()
                    || !self.control.is_empty()
                    || !self.data.is_empty()))
    }

    /// Bytes queued and not yet handed out (an estimate for statistics).
    pub(crate) fn queued_bytes(&self) -> usize {
        self.preamble.as_ref().map_or(0, Vec::len)
            + self.control.iter().map(Vec::len).sum::<usize>()
            + self.data_bytes
    }

    fn next_payload(&mut self) -> Option<Vec<u8>> {
        if let Some(ping_id) = self.pong.take() {
            return Some(Pong { ping_id }.to_bytes());
        }
        if let Some(ping_id) = self.ping.take() {
            return Some(Ping { ping_id }.to_bytes());
        }
        if let Some(c) = self.control.pop_front() {
            return Some(c);
        }
        let q = self.data.pop_front()?;
        self.data_bytes -= q.payload.len();
        Some(q.payload)
    }

    /// The next bytes to write: the preamble, then as many sealed frames
    /// as fit [`COALESCE_BYTES`]. Frames are sealed only with a sealer
    /// (after the handshake); returns the number of frames sealed too.
    pub(crate) fn poll(&mut self, sealer: Option<&mut FrameSealer>) -> Option<(Bytes, u64)> {
        let mut out = BytesMut::new();
        if let Some(pre) = self.preamble.take() {
            out.extend_from_slice(&pre);
        }
        let mut frames = 0;
        if let Some(sealer) = sealer {
            while out.len() < COALESCE_BYTES {
                let Some(payload) = self.next_payload() else {
                    break;
                };
                // Payload sizes are checked when queued; a refusal here
                // would be a bug, and skipping the payload keeps the
                // stream valid.
                if sealer.seal_into(&payload, &mut out).is_ok() {
                    frames += 1;
                }
            }
        }
        (!out.is_empty()).then(|| (out.freeze(), frames))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameDecoder, FrameOpener};
    use crate::packet::{Data, Packet, RoutingRequest};
    use toxide_core::testing::PEERS;
    use toxide_core::{Decode, Nonce, PublicKey};

    fn id(n: u8) -> ConnectionId {
        ConnectionId::from_wire(n).unwrap()
    }

    fn data(link: u8, len: usize) -> Data {
        Data {
            connection_id: id(link),
            data: vec![1; len].into(),
        }
    }

    #[test]
    fn control_goes_before_data_and_pong_first() {
        let p = &*PEERS;
        let mut sealer = FrameSealer::new(p.alice_bob.clone(), Nonce::default());
        let mut q = SendQueue::new(QueueLimits::default());
        q.push_data(Some(id(16)), &data(16, 3)).unwrap();
        q.push_control(&RoutingRequest {
            pk: PublicKey::new([1; 32]),
        })
        .unwrap();
        q.set_ping(7);
        q.set_pong(9);
        q.set_pong(10);
        assert!(!q.has_pending(false));
        let (bytes, frames) = q.poll(Some(&mut sealer)).unwrap();
        assert_eq!(frames, 4);
        let mut d = FrameDecoder::new(
            FrameOpener::new(p.bob_alice.clone(), Nonce::default()),
            &bytes,
        );
        let mut ids = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            ids.push(Packet::from_bytes(&f).unwrap());
        }
        assert!(matches!(ids[0], Packet::Pong(Pong { ping_id: 10 })));
        assert!(matches!(ids[1], Packet::Ping(Ping { ping_id: 7 })));
        assert!(matches!(ids[2], Packet::RoutingRequest(_)));
        assert!(matches!(ids[3], Packet::Data(_)));
        assert!(q.poll(Some(&mut sealer)).is_none());
    }

    #[test]
    fn limits_refuse_and_purge_frees() {
        let mut q = SendQueue::new(QueueLimits {
            max_control_frames: 1,
            max_data_bytes: 100,
        });
        let r = RoutingRequest {
            pk: PublicKey::new([1; 32]),
        };
        q.push_control(&r).unwrap();
        assert_eq!(q.push_control(&r), Err(Full));
        q.push_data(Some(id(16)), &data(16, 49)).unwrap();
        q.push_data(Some(id(17)), &data(17, 49)).unwrap();
        assert_eq!(q.push_data(Some(id(16)), &data(16, 1)), Err(Full));
        q.purge_link(id(16));
        assert_eq!(q.data_room(), 50);
        q.push_data(Some(id(16)), &data(16, 49)).unwrap();
    }

    #[test]
    fn preamble_is_written_before_the_session_exists() {
        let mut q = SendQueue::new(QueueLimits::default());
        q.set_preamble(vec![1, 2, 3]);
        q.set_ping(1);
        assert!(q.has_pending(false));
        assert_eq!(q.poll(None).unwrap(), (Bytes::from_static(&[1, 2, 3]), 0));
        assert!(q.poll(None).is_none());
    }
}
