//! A file we send: its state, the application's open chunk requests and
//! the chunks waiting for bulk room (c-toxcore `file_sending`,
//! `send_file_data`, `do_all_filetransfers`).

use std::collections::VecDeque;

use bytes::Bytes;

use super::{FileInfo, MAX_FILE_DATA_SIZE, Paused, STREAM, TransferState, data_packet, reached};
use crate::packet::FILE_ID_LENGTH;

/// Where a file we send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Offered; the friend has not accepted.
    NotAccepted,
    /// Accepted: chunks are requested and sent unless paused.
    Transferring,
    /// Every chunk is with the session. `barrier` is set once the last one
    /// has a packet number: the number the next packet was to get then.
    /// An acknowledgement reaching it ends the transfer.
    Finished { barrier: Option<u32> },
    /// Killed by either side while some of its chunks still wait in the
    /// session's queue unnumbered: the slot stays taken until they have a
    /// number, so a new file in it never receives them. Killed by us:
    /// also until the friend acknowledged `kill`, our kill's packet
    /// number. c-toxcore answers a kill for a transfer it no longer has
    /// (it had every byte) with a kill of its own; had the slot carried a
    /// new file by the time that answer came, the answer would end it.
    Draining { kill: Option<u32> },
}

/// What became of a chunk the application supplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Supply {
    /// Queued.
    Taken,
    /// No request is open.
    NotRequested,
    /// The oldest open request starts here instead.
    WrongPosition(u64),
    /// The oldest open request asked for this many bytes.
    WrongLength(usize),
}

/// A file we send, in one sending slot.
#[derive(Debug, Clone)]
pub(super) struct Outgoing {
    kind: u32,
    pub(super) size: u64,
    file_id: [u8; FILE_ID_LENGTH],
    state: State,
    pub(super) paused: Paused,
    /// Bytes asked of the application so far: the next request starts
    /// here (c-toxcore `requested`).
    requested: u64,
    /// The next byte the application is to supply: the oldest open request
    /// starts here.
    supplied: u64,
    /// Lengths of the open requests, oldest first.
    open: VecDeque<usize>,
    /// Supplied chunks (whole data packets) waiting for bulk room.
    pub(super) buffered: VecDeque<Bytes>,
    /// The last chunk was supplied: nothing more to ask.
    ended: bool,
    /// The ticket of the last chunk handed to the session (0: none yet).
    pub(super) last_ticket: u64,
}

impl Outgoing {
    pub(super) fn new(kind: u32, size: u64, file_id: [u8; FILE_ID_LENGTH]) -> Self {
        Self {
            kind,
            size,
            file_id,
            state: State::NotAccepted,
            paused: Paused::default(),
            requested: 0,
            supplied: 0,
            open: VecDeque::new(),
            buffered: VecDeque::new(),
            ended: false,
            last_ticket: 0,
        }
    }

    pub(super) const fn state(&self) -> TransferState {
        match self.state {
            State::NotAccepted => TransferState::NotAccepted,
            State::Transferring => TransferState::Transferring,
            State::Finished { .. } | State::Draining { .. } => TransferState::Finished,
        }
    }

    pub(super) const fn draining(&self) -> bool {
        matches!(self.state, State::Draining { .. })
    }

    /// Whether chunks may go to the session now.
    pub(super) const fn sendable(&self) -> bool {
        matches!(self.state, State::Transferring) && !self.paused.any()
    }

    /// Bulk room this transfer has claimed: open requests and waiting
    /// chunks.
    pub(super) fn held(&self) -> usize {
        self.open.len() + self.buffered.len()
    }

    /// Where the application's next chunk goes.
    pub(super) const fn position(&self) -> u64 {
        self.supplied
    }

    /// The friend accepted. A 0-byte file needs nothing from the
    /// application: its one empty chunk is ready (c-toxcore sends it
    /// itself).
    pub(super) fn accept(&mut self, slot: u8) {
        self.state = State::Transferring;
        if self.size == 0 {
            self.buffered.extend(data_packet(slot, &[]));
            self.ended = true;
        }
    }

    /// The friend asked to start at `position` (checked below the size).
    pub(super) fn seek(&mut self, position: u64) {
        self.requested = position;
        self.supplied = position;
    }

    /// Ends the transfer; its slot drains (see [`State::Draining`]).
    /// `kill`: the packet number of our kill, if we sent one.
    pub(super) fn kill(&mut self, kill: Option<u32>) {
        self.state = State::Draining { kill };
        self.open.clear();
        self.buffered.clear();
    }

    /// The next chunk to ask for, recorded as open: (position, length).
    /// A stream is asked for full chunks until it ends.
    pub(super) fn next_request(&mut self) -> Option<(u64, usize)> {
        if self.ended || !matches!(self.state, State::Transferring) {
            return None;
        }
        let left = if self.size == STREAM {
            MAX_FILE_DATA_SIZE
        } else {
            usize::try_from(self.size.saturating_sub(self.requested))
                .unwrap_or(usize::MAX)
                .min(MAX_FILE_DATA_SIZE)
        };
        if left == 0 {
            return None;
        }
        let position = self.requested;
        self.requested = self.requested.saturating_add(left as u64);
        self.open.push_back(left);
        Some((position, left))
    }

    /// Takes the application's answer to the oldest open request: exactly
    /// the bytes asked for, or for a stream fewer, which end it.
    pub(super) fn supply(&mut self, slot: u8, position: u64, data: &[u8]) -> Supply {
        let Some(&expected) = self.open.front() else {
            return Supply::NotRequested;
        };
        if position != self.supplied {
            return Supply::WrongPosition(self.supplied);
        }
        let stream = self.size == STREAM;
        if data.len() > expected || (!stream && data.len() != expected) {
            return Supply::WrongLength(expected);
        }
        let Some(packet) = data_packet(slot, data) else {
            return Supply::WrongLength(expected);
        };
        self.open.pop_front();
        self.supplied = self.supplied.saturating_add(data.len() as u64);
        self.buffered.push_back(packet);
        if data.len() < expected {
            // The end of a stream: later requests are void.
            self.ended = true;
            self.open.clear();
            self.requested = self.supplied;
        }
        if !stream && self.supplied >= self.size {
            self.ended = true;
        }
        Supply::Taken
    }

    /// A chunk went to the session with `ticket`; after the last one the
    /// transfer is finished, waiting for the acknowledgement.
    pub(super) fn sent(&mut self, ticket: u64) {
        self.last_ticket = ticket;
        if self.ended && self.buffered.is_empty() && self.state == State::Transferring {
            self.state = State::Finished { barrier: None };
        }
    }

    /// Whether the slot is free now: `numbered` of the session's bulk
    /// packets have a number, the next packet gets `next_number`, and the
    /// friend acknowledged everything below `acked`.
    pub(super) fn settle(&mut self, numbered: u64, next_number: u32, acked: Option<u32>) -> bool {
        match &mut self.state {
            State::Finished { barrier } => {
                if barrier.is_none() && self.last_ticket <= numbered {
                    *barrier = Some(next_number);
                }
                barrier
                    .zip(acked)
                    .is_some_and(|(barrier, acked)| reached(acked, barrier))
            }
            State::Draining { kill } => {
                let heard = kill.is_none_or(|kill| {
                    acked.is_some_and(|acked| reached(acked, kill.wrapping_add(1)))
                });
                self.last_ticket <= numbered && heard
            }
            State::NotAccepted | State::Transferring => false,
        }
    }

    pub(super) fn info(&self) -> FileInfo {
        FileInfo {
            kind: self.kind,
            size: self.size,
            file_id: self.file_id,
            state: self.state(),
            paused_by_us: self.paused.us,
            paused_by_friend: self.paused.them,
            position: self.supplied,
        }
    }
}
