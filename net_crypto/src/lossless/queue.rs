//! Lossless packets not numbered yet, by priority.
//!
//! A session has one lossless number sequence, and numbered packets leave
//! and are delivered in number order, so a chat message numbered behind a
//! thousand file chunks waits for all of them (and for their resends).
//! Priority therefore has to act before numbering: packets wait here
//! unnumbered, and the session numbers one ([`SendQueue::number_next`])
//! only when it can transmit it, taking [`Priority::Control`] packets
//! first. c-toxcore has no such queue — `send_lossless_packet` numbers at
//! once, and file chunks are only produced while the send buffer has room
//! — but it too lets non-file packets bypass congestion control
//! (checklist N13); a session does the same by numbering control packets
//! whatever its congestion budget says.
//!
//! The peer sees an ordinary numbered stream either way.

use std::collections::VecDeque;

use bytes::Bytes;

use super::send::{SendBuffer, SendError};
use crate::packet::MAX_CRYPTO_DATA_SIZE;

/// Control packets a queue holds by default: messages, actions, file
/// control, conference traffic — anything but file data. Far more than a
/// person types between two congestion windows.
pub const DEFAULT_CONTROL_LIMIT: usize = 1024;

/// File-data packets a queue holds by default: a file sender should
/// produce chunks only as they can go out; 64 is c-toxcore's
/// `CRYPTO_MIN_QUEUE_LENGTH`.
pub const DEFAULT_BULK_LIMIT: usize = 64;

/// Which class a lossless packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Everything but bulk data; numbered first.
    Control,
    /// File data (packet id 82); numbered when no control packet waits.
    Bulk,
}

/// Two bounded FIFO queues of unnumbered lossless payloads.
#[derive(Debug, Clone)]
pub struct SendQueue {
    control: VecDeque<Bytes>,
    bulk: VecDeque<Bytes>,
    control_limit: usize,
    bulk_limit: usize,
}

impl Default for SendQueue {
    fn default() -> Self {
        Self::new(DEFAULT_CONTROL_LIMIT, DEFAULT_BULK_LIMIT)
    }
}

impl SendQueue {
    /// A queue holding at most `control_limit` control and `bulk_limit`
    /// bulk packets.
    pub const fn new(control_limit: usize, bulk_limit: usize) -> Self {
        Self {
            control: VecDeque::new(),
            bulk: VecDeque::new(),
            control_limit,
            bulk_limit,
        }
    }

    /// Queues a payload (packet id then data). Refuses what
    /// [`SendBuffer::push`] would refuse for its length, and a full class.
    pub fn push(&mut self, priority: Priority, data: impl Into<Bytes>) -> Result<(), SendError> {
        let data = data.into();
        if data.is_empty() || data.len() > MAX_CRYPTO_DATA_SIZE {
            return Err(SendError::InvalidLength { len: data.len() });
        }
        let (queue, limit) = match priority {
            Priority::Control => (&mut self.control, self.control_limit),
            Priority::Bulk => (&mut self.bulk, self.bulk_limit),
        };
        if queue.len() >= limit {
            return Err(SendError::Full);
        }
        queue.push_back(data);
        Ok(())
    }

    /// Takes the next payload: control before bulk, and bulk only if
    /// `bulk_allowed` (the congestion budget has room).
    pub fn pop(&mut self, bulk_allowed: bool) -> Option<(Priority, Bytes)> {
        if let Some(data) = self.control.pop_front() {
            return Some((Priority::Control, data));
        }
        if bulk_allowed {
            return self.bulk.pop_front().map(|data| (Priority::Bulk, data));
        }
        None
    }

    /// Moves the next payload ([`SendQueue::pop`]) into `buffer`, which
    /// numbers it; returns its number. Nothing moves while `buffer` is
    /// full.
    pub fn number_next(
        &mut self,
        buffer: &mut SendBuffer,
        bulk_allowed: bool,
    ) -> Option<(u32, Priority)> {
        if buffer.is_full() {
            return None;
        }
        let (priority, data) = self.pop(bulk_allowed)?;
        // Lengths were checked on the way in and there is room, so this
        // succeeds.
        buffer.push(data).ok().map(|number| (number, priority))
    }

    /// Payloads waiting in one class.
    pub fn len(&self, priority: Priority) -> usize {
        match priority {
            Priority::Control => self.control.len(),
            Priority::Bulk => self.bulk.len(),
        }
    }

    /// Room left in one class.
    pub fn free_space(&self, priority: Priority) -> usize {
        match priority {
            Priority::Control => self.control_limit.saturating_sub(self.control.len()),
            Priority::Bulk => self.bulk_limit.saturating_sub(self.bulk.len()),
        }
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.control.is_empty() && self.bulk.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_overtakes_bulk_before_numbering() {
        let mut q = SendQueue::default();
        let mut buf = SendBuffer::new();
        for i in 0..10u8 {
            q.push(Priority::Bulk, vec![82, i]).unwrap();
        }
        assert_eq!(q.number_next(&mut buf, true), Some((0, Priority::Bulk)));
        q.push(Priority::Control, vec![64, b'h', b'i']).unwrap();
        assert_eq!(q.number_next(&mut buf, true), Some((1, Priority::Control)));
        assert_eq!(buf.get(1).unwrap()[0], 64);
        assert_eq!(q.number_next(&mut buf, true), Some((2, Priority::Bulk)));
        assert_eq!(q.len(Priority::Bulk), 8);
    }

    #[test]
    fn bulk_waits_for_budget_control_does_not() {
        let mut q = SendQueue::default();
        let mut buf = SendBuffer::new();
        q.push(Priority::Bulk, vec![82]).unwrap();
        q.push(Priority::Control, vec![64]).unwrap();
        assert_eq!(q.number_next(&mut buf, false), Some((0, Priority::Control)));
        assert_eq!(q.number_next(&mut buf, false), None);
        assert_eq!(q.number_next(&mut buf, true), Some((1, Priority::Bulk)));
        assert!(q.is_empty());
    }

    #[test]
    fn bounded_per_class_and_length_checked() {
        let mut q = SendQueue::new(1, 2);
        q.push(Priority::Control, vec![64]).unwrap();
        assert_eq!(q.push(Priority::Control, vec![64]), Err(SendError::Full));
        q.push(Priority::Bulk, vec![82]).unwrap();
        assert_eq!(q.free_space(Priority::Bulk), 1);
        assert_eq!(
            q.push(Priority::Bulk, Vec::new()),
            Err(SendError::InvalidLength { len: 0 })
        );
    }

    #[test]
    fn nothing_is_numbered_while_the_buffer_is_full() {
        let mut q = SendQueue::default();
        let mut buf = SendBuffer::new();
        while !buf.is_full() {
            buf.push(vec![82]).unwrap();
        }
        q.push(Priority::Control, vec![64]).unwrap();
        assert_eq!(q.number_next(&mut buf, true), None);
        assert_eq!(q.len(Priority::Control), 1);
    }
}
