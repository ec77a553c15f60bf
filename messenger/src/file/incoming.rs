//! A file the friend sends us: its state and where its data has got
//! (c-toxcore `file_receiving` and the `PACKET_ID_FILE_DATA` case of
//! `m_handle_packet`).

use super::{FileInfo, MAX_FILE_DATA_SIZE, Paused, TransferState};
use crate::packet::{FILE_ID_LENGTH, FileSendRequest};

/// What one data packet meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Received {
    /// Not accepted yet: c-toxcore drops data then.
    Dropped,
    /// More data; more to come.
    Chunk {
        /// Where it starts.
        position: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// The transfer is complete: maybe a last piece of data, then the end
    /// at `end`.
    Last {
        /// Where the data starts.
        position: u64,
        /// The last bytes, if the packet carried any.
        data: Option<Vec<u8>>,
        /// Where the file ends (what arrived in all).
        end: u64,
    },
}

/// A file offered to us, in one receiving slot.
#[derive(Debug, Clone)]
pub(super) struct Incoming {
    kind: u32,
    pub(super) size: u64,
    file_id: [u8; FILE_ID_LENGTH],
    /// Not accepted or transferring (c-toxcore's receiver has no finished
    /// state: a complete file frees its slot).
    pub(super) state: TransferState,
    pub(super) paused: Paused,
    /// The next byte to arrive (moved by a seek before accepting).
    pub(super) transferred: u64,
}

impl Incoming {
    pub(super) fn new(request: &FileSendRequest) -> Self {
        Self {
            kind: request.file_kind(),
            size: request.file_size(),
            file_id: *request.file_id(),
            state: TransferState::NotAccepted,
            paused: Paused::default(),
            transferred: 0,
        }
    }

    /// One data packet, as c-toxcore's receiver takes it: accepted while
    /// transferring (paused or not: what was in flight still lands), never
    /// past the size, and complete on an empty or short chunk or at the
    /// size.
    pub(super) fn receive(&mut self, mut data: Vec<u8>) -> Received {
        if self.state != TransferState::Transferring {
            return Received::Dropped;
        }
        let position = self.transferred;
        let left = self.size.saturating_sub(position);
        if data.len() as u64 > left {
            data.truncate(usize::try_from(left).unwrap_or(usize::MAX));
        }
        let len = data.len();
        self.transferred = position.saturating_add(len as u64);
        if len == 0 {
            Received::Last {
                position,
                data: None,
                end: position,
            }
        } else if self.transferred >= self.size || len != MAX_FILE_DATA_SIZE {
            Received::Last {
                position,
                data: Some(data),
                end: self.transferred,
            }
        } else {
            Received::Chunk { position, data }
        }
    }

    pub(super) fn info(&self) -> FileInfo {
        FileInfo {
            kind: self.kind,
            size: self.size,
            file_id: self.file_id,
            state: self.state,
            paused_by_us: self.paused.us,
            paused_by_friend: self.paused.them,
            position: self.transferred,
        }
    }
}
