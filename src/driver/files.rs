//! File data between the messenger's transfers and the application's
//! streams, inside the driver task (issue 11).
//!
//! The messenger's file engine is sans-IO: it asks for chunks
//! ([`Event::FileChunkRequest`]) and hands over received ones
//! ([`Event::FileChunk`]). Sent through the application's one event
//! stream, a slow file reader would stop the driver reading datagrams,
//! and with them every chat message and every other friend's data. So the
//! [`Router`] takes those two events out of the stream and gives each
//! transfer its own channel:
//!
//! - A file we send has a task that reads its source; it gets the chunk
//!   requests (at most the session's bulk room is ever open, so the
//!   channel is bounded by the engine) and answers with a driver command.
//!   It reads no byte before it is asked for it.
//! - A file we receive has a channel to its [`FileReceiver`]. The driver
//!   never waits for it: data the application has not read is counted,
//!   and above [`HIGH_WATER`] bytes the transfer is paused with the
//!   protocol's own pause (so any sender, c-toxcore too, stops), to be
//!   resumed once the reader is down to [`LOW_WATER`]. What was in flight
//!   when the pause left still lands, so the buffer is bounded by the high
//!   mark plus one session window, not by the file.
//!
//! Controls from the friend and broken transfers update the handles and
//! still reach the event stream, for applications that hold no handle.
//!
//! [`FileReceiver`]: crate::tox::FileReceiver

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use toxide_messenger::file::{Control, FileError, FileNumber};
use toxide_messenger::messenger::{Event, FriendNumber};
use toxide_messenger::packet::FILE_ID_LENGTH;

use crate::stack::{Stack, StackEvent};

/// Unread bytes of one incoming file above which it is paused.
pub(crate) const HIGH_WATER: usize = 256 * 1024;
/// Unread bytes at which a file paused for a slow reader is resumed.
pub(crate) const LOW_WATER: usize = 64 * 1024;

/// Why a transfer ended without the whole file.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FileEnded {
    /// We cancelled it (or dropped the receiver).
    #[error("we cancelled the transfer")]
    Cancelled,
    /// The friend cancelled it (or refused the offer).
    #[error("the friend cancelled the transfer")]
    CancelledByFriend,
    /// The friend went offline; a new transfer with the same file id and
    /// a seek can pick it up later.
    #[error("the friend went offline")]
    FriendOffline,
    /// Reading the file we send failed; the friend was told (kill).
    #[error("reading the file to send failed: {0}")]
    Source(Arc<std::io::Error>),
    /// The source ended before the size offered; the friend was told.
    #[error("the file to send ended after {at} bytes, but {size} were offered")]
    SourceTooShort {
        /// Where it ended.
        at: u64,
        /// The size offered.
        size: u64,
    },
    /// The sender ended the file before its size.
    #[error("the sender ended the file at byte {at} of {size}")]
    Incomplete {
        /// Where it ended.
        at: u64,
        /// The size offered.
        size: u64,
    },
    /// We removed the friend.
    #[error("the friend was removed")]
    FriendRemoved,
    /// The Tox instance shut down.
    #[error("the Tox instance shut down")]
    Closed,
}

/// What a transfer's handles observe (one `watch` value per transfer).
#[derive(Debug, Clone)]
pub(crate) struct Status {
    /// Sending: bytes handed to the session; receiving: the next byte to
    /// arrive (a seek starts it past 0).
    pub(crate) done: u64,
    pub(crate) size: Option<u64>,
    /// When data began to flow, and from where (for the rate).
    pub(crate) started: Option<(Instant, u64)>,
    pub(crate) ended_at: Option<Instant>,
    pub(crate) accepted: bool,
    pub(crate) paused_by_us: bool,
    pub(crate) paused_by_friend: bool,
    /// `Some` once over: `Ok` with the whole file.
    pub(crate) end: Option<Result<(), FileEnded>>,
}

impl Status {
    fn new(size: Option<u64>) -> Self {
        Self {
            done: 0,
            size,
            started: None,
            ended_at: None,
            accepted: false,
            paused_by_us: false,
            paused_by_friend: false,
            end: None,
        }
    }
}

/// One chunk request for a sending task.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request {
    pub(crate) position: u64,
    pub(crate) length: usize,
}

/// What a receiver's channel carries.
#[derive(Debug)]
pub(crate) enum Delivery {
    Data(Bytes),
    End(Result<(), FileEnded>),
}

/// Flow control shared by a receiver and the router.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    /// Bytes in the channel, not yet read.
    pub(crate) queued: AtomicUsize,
    /// The router paused the transfer for the reader (set by the router
    /// only).
    pub(crate) paused: AtomicBool,
    /// The reader asked the router to resume and has not been answered.
    pub(crate) nudged: AtomicBool,
}

/// The router's name for one transfer. A slot's number comes back for
/// the next file, so a handle that names its transfer by slot alone would,
/// once its own ended, pause or cancel whatever file took the slot, and an
/// old source task could feed the new one its data: every command from a
/// handle carries this number too, and one for another transfer is
/// refused. Numbers start at 1 and are never reused.
pub(crate) type TransferId = u64;

#[derive(Debug)]
struct Sending {
    transfer: TransferId,
    requests: mpsc::UnboundedSender<Request>,
    status: watch::Sender<Status>,
}

#[derive(Debug)]
struct Receiving {
    transfer: TransferId,
    status: watch::Sender<Status>,
    /// Set once the application accepted.
    sink: Option<(mpsc::UnboundedSender<Delivery>, Arc<Flow>)>,
    user_paused: bool,
    flow_paused: bool,
}

/// What an accepted incoming file gives its receiver.
pub(crate) struct Accepted {
    pub(crate) data: mpsc::UnboundedReceiver<Delivery>,
    pub(crate) flow: Arc<Flow>,
    pub(crate) status: watch::Receiver<Status>,
}

/// Transfers the application holds handles for, by friend and slot.
#[derive(Debug, Default)]
pub(crate) struct Router {
    /// Offers become handles (the `Tox` API); a bare driver leaves every
    /// file event in its event stream.
    enabled: bool,
    sending: HashMap<(FriendNumber, u8), Sending>,
    receiving: HashMap<(FriendNumber, u8), Receiving>,
    /// The last [`TransferId`] given out.
    last_transfer: TransferId,
}

fn set(status: &watch::Sender<Status>, f: impl FnOnce(&mut Status)) {
    status.send_modify(f);
}

fn end(status: &watch::Sender<Status>, now: Instant, result: Result<(), FileEnded>) {
    status.send_modify(|s| {
        if s.end.is_none() {
            s.end = Some(result);
            s.ended_at = Some(now);
        }
    });
}

impl Router {
    pub(crate) fn enable(&mut self) {
        self.enabled = true;
    }

    fn new_transfer(&mut self) -> TransferId {
        self.last_transfer += 1;
        self.last_transfer
    }

    /// Whether `file` of `friend` is still the transfer a handle names.
    fn check(
        &self,
        friend: FriendNumber,
        file: FileNumber,
        transfer: TransferId,
    ) -> Result<(), FileError> {
        let current = match file {
            FileNumber::Outgoing(slot) => self.sending.get(&(friend, slot)).map(|t| t.transfer),
            FileNumber::Incoming(slot) => self.receiving.get(&(friend, slot)).map(|t| t.transfer),
        };
        if current == Some(transfer) {
            Ok(())
        } else {
            Err(FileError::NoTransfer { friend, file })
        }
    }

    /// Takes the file events of transfers with handles; returns what is
    /// left for the event stream.
    pub(crate) fn route(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        event: StackEvent,
    ) -> Option<StackEvent> {
        let StackEvent::Messenger(event) = event else {
            return Some(event);
        };
        match event {
            Event::FileReceive {
                friend,
                file: FileNumber::Incoming(slot),
                size,
                ..
            } if self.enabled => {
                let size = (size != toxide_messenger::packet::FILESIZE_UNKNOWN).then_some(size);
                let transfer = self.new_transfer();
                let old = self.receiving.insert(
                    (friend, slot),
                    Receiving {
                        transfer,
                        status: watch::Sender::new(Status::new(size)),
                        sink: None,
                        user_paused: false,
                        flow_paused: false,
                    },
                );
                if let Some(old) = old {
                    finish_receiving(old, now, Err(FileEnded::CancelledByFriend));
                }
                Some(StackEvent::FileOffered { transfer, event })
            }
            Event::FileChunkRequest {
                friend,
                file: FileNumber::Outgoing(slot),
                position,
                length,
            } if self.sending.contains_key(&(friend, slot)) => {
                if length == 0 {
                    if let Some(t) = self.sending.remove(&(friend, slot)) {
                        end(&t.status, now, Ok(()));
                    }
                } else if let Some(t) = self.sending.get(&(friend, slot)) {
                    if t.requests.send(Request { position, length }).is_err() {
                        // The task is gone (it reported why, or panicked).
                        self.kill(
                            stack,
                            now,
                            friend,
                            FileNumber::Outgoing(slot),
                            FileEnded::Cancelled,
                        );
                    }
                }
                None
            }
            Event::FileChunk {
                friend,
                file: FileNumber::Incoming(slot),
                position,
                data,
            } if self
                .receiving
                .get(&(friend, slot))
                .is_some_and(|t| t.sink.is_some()) =>
            {
                self.chunk(stack, now, friend, slot, position, data);
                None
            }
            Event::FileControl {
                friend,
                file,
                control,
            } => {
                self.friend_control(now, friend, file, control);
                Some(StackEvent::Messenger(event))
            }
            Event::FileBroken { friend, file } => {
                self.finish(now, friend, file, Err(FileEnded::FriendOffline));
                Some(StackEvent::Messenger(event))
            }
            event => Some(StackEvent::Messenger(event)),
        }
    }

    fn chunk(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        friend: FriendNumber,
        slot: u8,
        position: u64,
        data: Vec<u8>,
    ) {
        let Some(t) = self.receiving.get_mut(&(friend, slot)) else {
            return;
        };
        if data.is_empty() {
            let size = t.status.borrow().size;
            let result = match size {
                Some(size) if position < size => Err(FileEnded::Incomplete { at: position, size }),
                _ => Ok(()),
            };
            if let Some(t) = self.receiving.remove(&(friend, slot)) {
                finish_receiving(t, now, result);
            }
            return;
        }
        let len = data.len();
        let Some((sink, flow)) = &t.sink else {
            return;
        };
        // Counted before it is sent: the reader, on another thread, may
        // take it and subtract its length at once.
        let queued = flow
            .queued
            .fetch_add(len, Ordering::AcqRel)
            .wrapping_add(len);
        if sink.send(Delivery::Data(Bytes::from(data))).is_err() {
            // The receiver was dropped: nobody wants the rest.
            self.kill(
                stack,
                now,
                friend,
                FileNumber::Incoming(slot),
                FileEnded::Cancelled,
            );
            return;
        }
        set(&t.status, |s| {
            s.done = position + len as u64;
            s.started.get_or_insert((now, position));
        });
        if queued > HIGH_WATER && !t.flow_paused {
            t.flow_paused = true;
            flow.paused.store(true, Ordering::Release);
            if !t.user_paused {
                let file = FileNumber::Incoming(slot);
                let _ = stack
                    .with_messenger(now, |m, s| m.file_control(friend, file, Control::Pause, s));
                set(&t.status, |s| s.paused_by_us = true);
            }
        }
    }

    fn friend_control(
        &mut self,
        now: Instant,
        friend: FriendNumber,
        file: FileNumber,
        control: Control,
    ) {
        let status = match file {
            FileNumber::Outgoing(slot) => self.sending.get(&(friend, slot)).map(|t| &t.status),
            FileNumber::Incoming(slot) => self.receiving.get(&(friend, slot)).map(|t| &t.status),
        };
        let Some(status) = status else {
            return;
        };
        match control {
            Control::Accept => set(status, |s| {
                if s.accepted {
                    s.paused_by_friend = false;
                } else {
                    // Only a file we send is accepted by the friend.
                    s.accepted = true;
                    s.started = Some((now, s.done));
                }
            }),
            Control::Pause => set(status, |s| s.paused_by_friend = true),
            Control::Kill => self.finish(now, friend, file, Err(FileEnded::CancelledByFriend)),
        }
    }

    /// Ends a transfer's handles (the engine has ended it already).
    fn finish(
        &mut self,
        now: Instant,
        friend: FriendNumber,
        file: FileNumber,
        result: Result<(), FileEnded>,
    ) {
        match file {
            FileNumber::Outgoing(slot) => {
                if let Some(t) = self.sending.remove(&(friend, slot)) {
                    end(&t.status, now, result);
                }
            }
            FileNumber::Incoming(slot) => {
                if let Some(t) = self.receiving.remove(&(friend, slot)) {
                    finish_receiving(t, now, result);
                }
            }
        }
    }

    /// Kills a transfer in the engine and ends its handles.
    fn kill(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        friend: FriendNumber,
        file: FileNumber,
        why: FileEnded,
    ) {
        let _ = stack.with_messenger(now, |m, s| m.file_control(friend, file, Control::Kill, s));
        self.finish(now, friend, file, Err(why));
    }

    // ---- commands from the handles (run in the driver task) ----

    /// Offers a file and registers its sending task's channel.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_file(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        friend: FriendNumber,
        kind: u32,
        size: Option<u64>,
        file_id: [u8; FILE_ID_LENGTH],
        name: Vec<u8>,
    ) -> Result<
        (
            FileNumber,
            TransferId,
            watch::Receiver<Status>,
            mpsc::UnboundedReceiver<Request>,
        ),
        FileError,
    > {
        let wire_size = size.unwrap_or(toxide_messenger::packet::FILESIZE_UNKNOWN);
        let file = stack
            .with_messenger(now, |m, s| {
                m.send_file(friend, kind, wire_size, file_id, name, s)
            })
            .unwrap_or(Err(FileError::NoFriend(friend)))?;
        let FileNumber::Outgoing(slot) = file else {
            return Err(FileError::NotOutgoing(file));
        };
        let (requests, rx) = mpsc::unbounded_channel();
        let status = watch::Sender::new(Status::new(size));
        let watcher = status.subscribe();
        let transfer = self.new_transfer();
        self.sending.insert(
            (friend, slot),
            Sending {
                transfer,
                requests,
                status,
            },
        );
        Ok((file, transfer, watcher, rx))
    }

    /// A sending task's answer to the oldest open request.
    pub(crate) fn supply(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        (friend, slot, transfer): (FriendNumber, u8, TransferId),
        position: u64,
        data: Bytes,
    ) {
        let Some(t) = self
            .sending
            .get(&(friend, slot))
            .filter(|t| t.transfer == transfer)
        else {
            return;
        };
        let file = FileNumber::Outgoing(slot);
        let supplied = stack
            .with_messenger(now, |m, s| {
                m.file_send_chunk(friend, file, position, &data, s)
            })
            .unwrap_or(Err(FileError::NoFriend(friend)));
        // An error means killed or broken meanwhile: its events end the
        // handles.
        if supplied.is_ok() {
            set(&t.status, |s| s.done = position + data.len() as u64);
        }
    }

    /// The friend was removed: its transfers end (the engine's went with
    /// it, without events).
    pub(crate) fn forget_friend(&mut self, now: Instant, friend: FriendNumber) {
        let files: Vec<FileNumber> = self
            .sending
            .keys()
            .filter(|(f, _)| *f == friend)
            .map(|&(_, slot)| FileNumber::Outgoing(slot))
            .chain(
                self.receiving
                    .keys()
                    .filter(|(f, _)| *f == friend)
                    .map(|&(_, slot)| FileNumber::Incoming(slot)),
            )
            .collect();
        for file in files {
            self.finish(now, friend, file, Err(FileEnded::FriendRemoved));
        }
    }

    /// The instance is stopping: every transfer ends with
    /// [`FileEnded::Closed`], before the sessions go down — the messenger
    /// then breaks them as if each friend had gone offline, and that must
    /// not be what the handles report.
    pub(crate) fn close(&mut self, now: Instant) {
        for (_, t) in self.sending.drain() {
            end(&t.status, now, Err(FileEnded::Closed));
        }
        for (_, t) in self.receiving.drain() {
            finish_receiving(t, now, Err(FileEnded::Closed));
        }
    }

    /// A sending task could not read its source.
    pub(crate) fn source_failed(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        friend: FriendNumber,
        slot: u8,
        transfer: TransferId,
        why: FileEnded,
    ) {
        if self
            .check(friend, FileNumber::Outgoing(slot), transfer)
            .is_ok()
        {
            self.kill(stack, now, friend, FileNumber::Outgoing(slot), why);
        }
    }

    /// The application's pause, resume or cancel. An incoming file paused
    /// for a slow reader stays paused in the engine until the reader
    /// catches up, whatever the application says.
    pub(crate) fn control(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        friend: FriendNumber,
        file: FileNumber,
        transfer: TransferId,
        control: Control,
    ) -> Result<(), FileError> {
        self.check(friend, file, transfer)?;
        let mut engine = |control| {
            stack
                .with_messenger(now, |m, s| m.file_control(friend, file, control, s))
                .unwrap_or(Err(FileError::NoFriend(friend)))
        };
        match (file, control) {
            (_, Control::Kill) => {
                let result = engine(Control::Kill);
                self.finish(now, friend, file, Err(FileEnded::Cancelled));
                result
            }
            (FileNumber::Incoming(slot), _) if self.receiving.contains_key(&(friend, slot)) => {
                let t = self
                    .receiving
                    .get_mut(&(friend, slot))
                    .ok_or(FileError::NoTransfer { friend, file })?;
                let pause = control == Control::Pause;
                if t.user_paused == pause {
                    return Err(if pause {
                        FileError::AlreadyPaused(file)
                    } else {
                        FileError::NotPaused(file)
                    });
                }
                if !t.flow_paused {
                    engine(control)?;
                }
                t.user_paused = pause;
                let paused = pause || t.flow_paused;
                set(&t.status, |s| s.paused_by_us = paused);
                Ok(())
            }
            (FileNumber::Outgoing(slot), _) => {
                engine(control)?;
                if let Some(t) = self.sending.get(&(friend, slot)) {
                    set(&t.status, |s| s.paused_by_us = control == Control::Pause);
                }
                Ok(())
            }
            (FileNumber::Incoming(_), _) => engine(control),
        }
    }

    /// Asks the sender of an offered file to start at `position`.
    pub(crate) fn seek(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        friend: FriendNumber,
        file: FileNumber,
        transfer: TransferId,
        position: u64,
    ) -> Result<(), FileError> {
        self.check(friend, file, transfer)?;
        stack
            .with_messenger(now, |m, s| m.file_seek(friend, file, position, s))
            .unwrap_or(Err(FileError::NoFriend(friend)))?;
        if let FileNumber::Incoming(slot) = file {
            if let Some(t) = self.receiving.get(&(friend, slot)) {
                set(&t.status, |s| s.done = position);
            }
        }
        Ok(())
    }

    /// Accepts an offered file and opens its channel.
    pub(crate) fn accept(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        friend: FriendNumber,
        file: FileNumber,
        transfer: TransferId,
    ) -> Result<Accepted, FileError> {
        let FileNumber::Incoming(slot) = file else {
            return Err(FileError::NotOursToAccept(file));
        };
        self.check(friend, file, transfer)?;
        let t = self
            .receiving
            .get_mut(&(friend, slot))
            .ok_or(FileError::NoTransfer { friend, file })?;
        if t.sink.is_some() {
            return Err(FileError::AlreadyAccepted(file));
        }
        stack
            .with_messenger(now, |m, s| m.file_control(friend, file, Control::Accept, s))
            .unwrap_or(Err(FileError::NoFriend(friend)))?;
        let (tx, data) = mpsc::unbounded_channel();
        let flow = Arc::new(Flow::default());
        t.sink = Some((tx, Arc::clone(&flow)));
        set(&t.status, |s| {
            s.accepted = true;
            s.started = Some((now, s.done));
        });
        Ok(Accepted {
            data,
            flow,
            status: t.status.subscribe(),
        })
    }

    /// The reader of an incoming file paused for it has caught up.
    pub(crate) fn drained(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        friend: FriendNumber,
        slot: u8,
        transfer: TransferId,
    ) {
        let Some(t) = self
            .receiving
            .get_mut(&(friend, slot))
            .filter(|t| t.transfer == transfer)
        else {
            return;
        };
        let Some((_, flow)) = &t.sink else {
            return;
        };
        flow.nudged.store(false, Ordering::Release);
        if !t.flow_paused || flow.queued.load(Ordering::Acquire) > LOW_WATER {
            return;
        }
        t.flow_paused = false;
        flow.paused.store(false, Ordering::Release);
        if !t.user_paused {
            let file = FileNumber::Incoming(slot);
            let _ =
                stack.with_messenger(now, |m, s| m.file_control(friend, file, Control::Accept, s));
            set(&t.status, |s| s.paused_by_us = false);
        }
    }
}

fn finish_receiving(t: Receiving, now: Instant, result: Result<(), FileEnded>) {
    if let Some((sink, _)) = &t.sink {
        let _ = sink.send(Delivery::End(result.clone()));
    }
    end(&t.status, now, result);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shutting down mid-transfer: our handles end with `Closed`, not
    /// with `FriendOffline` from the transfers the messenger breaks as
    /// the sessions go down right after.
    #[test]
    fn shutting_down_mid_transfer_ends_the_handles_closed_not_friend_offline() {
        let now = Instant::now();
        let mut router = Router::default();
        router.enable();
        let (requests, _requests) = mpsc::unbounded_channel();
        let sent = watch::Sender::new(Status::new(Some(1 << 20)));
        let sent_watch = sent.subscribe();
        router.sending.insert(
            (0, 0),
            Sending {
                transfer: 1,
                requests,
                status: sent,
            },
        );
        let (sink, mut data) = mpsc::unbounded_channel();
        let received = watch::Sender::new(Status::new(Some(1 << 20)));
        let received_watch = received.subscribe();
        router.receiving.insert(
            (0, 0),
            Receiving {
                transfer: 2,
                status: received,
                sink: Some((sink, Arc::new(Flow::default()))),
                user_paused: false,
                flow_paused: false,
            },
        );

        router.close(now);
        // What the messenger's FileBroken events then do.
        for file in [FileNumber::Outgoing(0), FileNumber::Incoming(0)] {
            router.finish(now, 0, file, Err(FileEnded::FriendOffline));
        }

        for status in [sent_watch, received_watch] {
            let end = status.borrow().end.clone();
            assert!(matches!(end, Some(Err(FileEnded::Closed))), "{end:?}");
        }
        let delivered = data.try_recv();
        assert!(
            matches!(delivered, Ok(Delivery::End(Err(FileEnded::Closed)))),
            "{delivered:?}"
        );
        assert!(data.try_recv().is_err(), "a second end was delivered");
    }
}
