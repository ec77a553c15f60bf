//! File transfers between friends (checklist M9–M12; spec "Messenger",
//! `FILE_SENDREQUEST`, `FILE_CONTROL`, `FILE_DATA`; c-toxcore 0.2.18
//! `Messenger.c` and `tox.h`).
//!
//! Each friend has 256 sending and 256 receiving slots; a new file takes
//! the lowest free sending slot, and a file the friend offers lands in the
//! receiving slot its request names. A transfer is offered (not accepted),
//! then transferring, paused by us, by them or by both (each side's pause
//! is its own), and ends finished or killed — as c-toxcore's
//! `File_Transfers` tracks it. Controls follow `file_control` and
//! `handle_filecontrol`: only the receiver accepts, pausing needs a running
//! transfer, a resume lifts only the pause of the side that sends it, and
//! a seek comes from the receiver, before it accepts, below the size.
//!
//! # Data: pulled, never forgotten
//!
//! The messenger asks the application for data with
//! [`Event::FileChunkRequest`] (c-toxcore's chunk request callback) and
//! takes it with [`Messenger::file_send_chunk`]. Unlike c-toxcore, a
//! request stays open until it is answered: an application that cannot
//! read now answers later. The messenger asks only for what the
//! session's bulk queue has room for (open requests and chunks waiting
//! here count against that room), so at most a queue's worth of chunks
//! is ever buffered per transfer, and it asks again as acknowledgements
//! free room. Chunks go to the session as bulk packets, which net_crypto
//! sends behind every control and chat packet; several running transfers
//! to one friend take turns, one chunk each.
//!
//! # The end of a transfer
//!
//! - A file we send is finished once its last chunk is *acknowledged*,
//!   not when it is queued: bulk packets get their number only when
//!   net_crypto sends them, so the messenger counts its bulk packets,
//!   learns from [`Sessions::bulk_progress`] when the last one has a
//!   number, records the number the next packet will get as a barrier and
//!   reports the end (a chunk request of length 0, as c-toxcore does) once
//!   an acknowledgement reaches it.
//! - A file we receive ends as c-toxcore's receiver decides: with a chunk
//!   shorter than [`MAX_FILE_DATA_SIZE`] (so an empty one ends a 0-byte
//!   file or a stream), or when the size is reached; the end is reported as
//!   an empty [`Event::FileChunk`] at the final position, after the data.
//! - A transfer of unknown size ([`FILESIZE_UNKNOWN`]) ends when the sending
//!   application answers a request with fewer bytes than asked.
//! - When the friend's session goes down every transfer ends, and the
//!   application hears of each ([`Event::FileBroken`]): c-toxcore's
//!   `break_files` drops them without a word.
//!
//! Killed transfers keep their sending slot until their chunks still in
//! the session's queue have a number: controls overtake queued bulk data,
//! so a new file in the same slot could otherwise receive the old one's
//! data after its own request.
//!
//! # Our avatar
//!
//! One sending slot per friend may carry our avatar
//! ([`Messenger::set_avatar`](crate::messenger::Messenger::set_avatar);
//! file id [`avatar_hash`]): the messenger offered it, so it answers its
//! chunk requests from the image itself and keeps its events (chunk
//! requests, the friend's controls, its end) from the application, which
//! never saw that transfer begin.

mod avatar;
mod incoming;
mod outgoing;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use bytes::Bytes;
use toxide_core::{Encode, PublicKey};

use crate::messenger::{Event, FriendNumber, Sessions, Stats};
use crate::packet::{
    FILE_ID_LENGTH, FILEKIND_AVATAR, FILESIZE_UNKNOWN, FileControl, FileControlKind, FileData,
    FileSendRequest, MAX_FILE_DATA_SIZE, Packet, PacketError, TransferDirection,
};

pub(crate) use avatar::Avatar;
pub use avatar::{MAX_AVATAR_SIZE, avatar_hash};
use incoming::{Incoming, Received};
use outgoing::{Outgoing, Supply};

/// Sending (and receiving) slots per friend (`MAX_CONCURRENT_FILE_PIPES`).
pub const MAX_CONCURRENT_FILE_PIPES: usize = 256;

/// A transfer's number, per friend: a sending or a receiving slot.
///
/// c-toxcore's messenger (and so tox.h) numbers a sending slot `n` as `n`
/// and a receiving slot `n` as `(n + 1) << 16`; [`FileNumber::to_u32`] and
/// [`FileNumber::from_u32`] convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileNumber {
    /// A file we send, in this sending slot.
    Outgoing(u8),
    /// A file the friend sends us, in this receiving slot.
    Incoming(u8),
}

impl FileNumber {
    /// The number as c-toxcore's API gives it out.
    pub const fn to_u32(self) -> u32 {
        match self {
            Self::Outgoing(slot) => slot as u32,
            Self::Incoming(slot) => (slot as u32 + 1) << 16,
        }
    }

    /// A number from c-toxcore's API: below `1 << 16` a sending slot, else
    /// receiving slot `(n >> 16) - 1` (the low 16 bits are ignored, as
    /// c-toxcore ignores them). `None` for a slot past 255.
    pub fn from_u32(number: u32) -> Option<Self> {
        if number < 1 << 16 {
            u8::try_from(number).ok().map(Self::Outgoing)
        } else {
            u8::try_from((number >> 16) - 1).ok().map(Self::Incoming)
        }
    }
}

impl fmt::Display for FileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Outgoing(slot) => write!(f, "outgoing file {slot}"),
            Self::Incoming(slot) => write!(f, "incoming file {slot}"),
        }
    }
}

/// What one side does to a transfer (`FILECONTROL_ACCEPT`, `_PAUSE`,
/// `_KILL`; tox.h's resume, pause and cancel). Seeking has its own call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Control {
    /// Accept an offered file (receiver only), or lift this side's pause.
    Accept,
    /// Pause a running transfer (each side's pause is separate).
    Pause,
    /// End the transfer, or refuse an offered file.
    Kill,
}

impl Control {
    const fn kind(self) -> FileControlKind {
        match self {
            Self::Accept => FileControlKind::Accept,
            Self::Pause => FileControlKind::Pause,
            Self::Kill => FileControlKind::Kill,
        }
    }
}

/// Where a transfer stands (c-toxcore `Filestatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferState {
    /// Offered; the receiver has not accepted (nor refused) it.
    NotAccepted,
    /// Accepted: data flows unless paused.
    Transferring,
    /// A file we send: every chunk is with the session; it ends when the
    /// last is acknowledged.
    Finished,
}

/// What [`Messenger::file_info`](crate::messenger::Messenger::file_info)
/// tells of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// [`FILEKIND_DATA`](crate::packet::FILEKIND_DATA),
    /// [`FILEKIND_AVATAR`](crate::packet::FILEKIND_AVATAR) or another.
    pub kind: u32,
    /// The size, or [`FILESIZE_UNKNOWN`].
    pub size: u64,
    /// The file id.
    pub file_id: [u8; FILE_ID_LENGTH],
    /// Where it stands.
    pub state: TransferState,
    /// We paused it.
    pub paused_by_us: bool,
    /// The friend paused it.
    pub paused_by_friend: bool,
    /// Sending: the next byte the application is to supply; receiving:
    /// the next byte to arrive.
    pub position: u64,
}

/// Why a file call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// No friend has that number.
    #[error("no friend number {0}")]
    NoFriend(FriendNumber),
    /// The friend is not online: transfers exist only while it is.
    #[error("friend {0} is not online")]
    NotOnline(FriendNumber),
    /// The friend has no such transfer (it ended, or never was).
    #[error("friend {friend} has no {file}")]
    NoTransfer {
        /// Whose.
        friend: FriendNumber,
        /// Which.
        file: FileNumber,
    },
    /// Every sending slot is in use.
    #[error("friend {0} has all {MAX_CONCURRENT_FILE_PIPES} sending slots in use")]
    TooManyTransfers(FriendNumber),
    /// The session could not take the packet: try again later.
    #[error("friend {0}'s session could not take the packet")]
    SendFailed(FriendNumber),
    /// Pausing needs a running transfer.
    #[error("{0} is not transferring: only a running transfer can be paused")]
    NotTransferring(FileNumber),
    /// We paused it already.
    #[error("{0} is paused by us already")]
    AlreadyPaused(FileNumber),
    /// Resuming needs our own pause.
    #[error("{0} is not paused by us")]
    NotPaused(FileNumber),
    /// Only the friend paused it, and only the friend can resume it.
    #[error("{0} is paused by the friend only: the friend resumes it")]
    PausedByFriend(FileNumber),
    /// Only the receiver accepts a file.
    #[error("{0} is ours: only the friend can accept it")]
    NotOursToAccept(FileNumber),
    /// Seeking is for a file we receive.
    #[error("{0} is not a file we receive: only the receiver seeks")]
    NotIncoming(FileNumber),
    /// Chunks are for a file we send.
    #[error("{0} is not a file we send: only the sender supplies chunks")]
    NotOutgoing(FileNumber),
    /// Seeking is only before accepting.
    #[error("{0} was accepted already: seek before accepting")]
    AlreadyAccepted(FileNumber),
    /// The seek position is not below the size.
    #[error("seek to {position} is not below the file size {size}")]
    SeekPastEnd {
        /// Asked for.
        position: u64,
        /// The file's size.
        size: u64,
    },
    /// No chunk request is open for this transfer.
    #[error("{file}: no chunk was requested (a chunk at {position} was supplied)")]
    NotRequested {
        /// Which transfer.
        file: FileNumber,
        /// Where the chunk was to go.
        position: u64,
    },
    /// The chunk is not the one requested first.
    #[error("{file}: chunk at {position}, but the open request is at {expected}")]
    WrongPosition {
        /// Which transfer.
        file: FileNumber,
        /// Where the chunk was to go.
        position: u64,
        /// Where the oldest open request starts.
        expected: u64,
    },
    /// The chunk's length is not the one requested (a stream may end with
    /// a shorter one).
    #[error("{file}: chunk of {len} bytes, but {expected} were requested")]
    WrongLength {
        /// Which transfer.
        file: FileNumber,
        /// Supplied.
        len: usize,
        /// Requested.
        expected: usize,
    },
    /// The offer could not be built (a name over 255 bytes).
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// An avatar over [`MAX_AVATAR_SIZE`]: clients would refuse it.
    #[error("an avatar of {0} bytes is over the {MAX_AVATAR_SIZE} bytes clients accept")]
    AvatarTooLarge(usize),
}

/// A transfer's pause, by side (c-toxcore `File_Pause`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Paused {
    us: bool,
    them: bool,
}

impl Paused {
    const fn any(self) -> bool {
        self.us || self.them
    }
}

/// What a file call needs of the messenger: which friend, its session,
/// and where events and counters go.
pub(crate) struct Cx<'a> {
    pub(crate) friend: FriendNumber,
    pub(crate) key: PublicKey,
    pub(crate) sessions: &'a mut dyn Sessions,
    pub(crate) events: &'a mut VecDeque<Event>,
    pub(crate) stats: &'a mut Stats,
}

impl Cx<'_> {
    fn send(&mut self, packet: &Packet) -> Result<u32, FileError> {
        self.sessions
            .send_lossless(&self.key, Bytes::from(packet.to_bytes()))
            .ok_or(FileError::SendFailed(self.friend))
    }

    fn no_transfer(&self, file: FileNumber) -> FileError {
        FileError::NoTransfer {
            friend: self.friend,
            file,
        }
    }
}

/// One friend's transfers, while its session is up.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileTransfers {
    sending: BTreeMap<u8, Outgoing>,
    receiving: BTreeMap<u8, Incoming>,
    /// Bulk packets handed to this session so far: the last one's count
    /// is a chunk's ticket, numbered once this many minus those still
    /// waiting in the session's queue reaches it.
    bulk_sent: u64,
    /// The session's latest acknowledgement point.
    acked: Option<u32>,
    /// The sending slot whose turn is next.
    cursor: u8,
    /// The sending slot offering our avatar, and the image it sends.
    avatar: Option<(u8, Bytes)>,
}

impl FileTransfers {
    /// Whether a transfer of ours is running: only then can bulk room
    /// that freed up be filled.
    pub(crate) fn is_sending(&self) -> bool {
        self.sending.values().any(Outgoing::sendable)
    }

    /// Offers a file in the lowest free sending slot (c-toxcore
    /// `new_filesender`).
    pub(crate) fn send_file(
        &mut self,
        cx: &mut Cx<'_>,
        kind: u32,
        size: u64,
        file_id: [u8; FILE_ID_LENGTH],
        name: Vec<u8>,
    ) -> Result<FileNumber, FileError> {
        self.settle(cx);
        let slot = (0..=u8::MAX)
            .find(|slot| !self.sending.contains_key(slot))
            .ok_or(FileError::TooManyTransfers(cx.friend))?;
        let request = FileSendRequest::new(slot, kind, size, file_id, name)?;
        cx.send(&Packet::FileSendRequest(request))?;
        self.sending
            .insert(slot, Outgoing::new(kind, size, file_id));
        Ok(FileNumber::Outgoing(slot))
    }

    /// Offers our avatar (see [`avatar`]), first cancelling an offer of
    /// an older one still under way: the friend wants the newest image
    /// only.
    pub(crate) fn send_avatar(
        &mut self,
        cx: &mut Cx<'_>,
        avatar: &Avatar,
    ) -> Result<FileNumber, FileError> {
        if let Some((slot, _)) = self.avatar.take() {
            let old = FileNumber::Outgoing(slot);
            if self.control(cx, old, Control::Kill).is_err() {
                // The kill could not be sent (or the slot is gone): the
                // old transfer must end here all the same, or its chunk
                // requests would reach the application.
                self.remove(old);
            }
        }
        let size = avatar.image.len() as u64;
        let file = self.send_file(cx, FILEKIND_AVATAR, size, avatar.hash, Vec::new())?;
        if let FileNumber::Outgoing(slot) = file {
            self.avatar = Some((slot, avatar.image.clone()));
        }
        Ok(file)
    }

    /// Whether `file` is our avatar's transfer, whose events the
    /// application never sees.
    fn is_avatar(&self, file: FileNumber) -> bool {
        matches!((file, &self.avatar), (FileNumber::Outgoing(slot), Some((ours, _))) if slot == *ours)
    }

    /// Sends a control about one of our transfers (c-toxcore
    /// `file_control`), checking it first as c-toxcore does.
    pub(crate) fn control(
        &mut self,
        cx: &mut Cx<'_>,
        file: FileNumber,
        control: Control,
    ) -> Result<(), FileError> {
        let (state, mut paused, direction, slot) = match file {
            FileNumber::Outgoing(slot) => {
                let t = self
                    .sending
                    .get(&slot)
                    .filter(|t| !t.draining())
                    .ok_or_else(|| cx.no_transfer(file))?;
                (t.state(), t.paused, TransferDirection::Sending, slot)
            }
            FileNumber::Incoming(slot) => {
                let t = self
                    .receiving
                    .get(&slot)
                    .ok_or_else(|| cx.no_transfer(file))?;
                (t.state, t.paused, TransferDirection::Receiving, slot)
            }
        };
        let incoming = matches!(file, FileNumber::Incoming(_));
        match control {
            Control::Pause if state != TransferState::Transferring => {
                return Err(FileError::NotTransferring(file));
            }
            Control::Pause if paused.us => return Err(FileError::AlreadyPaused(file)),
            Control::Accept if state == TransferState::Transferring && !paused.us => {
                return Err(if paused.them {
                    FileError::PausedByFriend(file)
                } else {
                    FileError::NotPaused(file)
                });
            }
            Control::Accept if state == TransferState::Finished => {
                return Err(FileError::NotPaused(file));
            }
            Control::Accept if state == TransferState::NotAccepted && !incoming => {
                return Err(FileError::NotOursToAccept(file));
            }
            _ => {}
        }
        let packet = FileControl::new(direction, slot, control.kind())?;
        let number = cx.send(&Packet::FileControl(packet))?;
        match control {
            Control::Kill => {
                self.end(file, Some(number));
                return Ok(());
            }
            Control::Pause => paused.us = true,
            Control::Accept => paused.us = false,
        }
        match file {
            FileNumber::Outgoing(slot) => {
                if let Some(t) = self.sending.get_mut(&slot) {
                    t.paused = paused;
                }
                self.pump(cx);
            }
            FileNumber::Incoming(slot) => {
                if let Some(t) = self.receiving.get_mut(&slot) {
                    t.paused = paused;
                    if control == Control::Accept {
                        t.state = TransferState::Transferring;
                    }
                }
            }
        }
        Ok(())
    }

    /// Asks the sender of an offered file to start at `position` (c-toxcore
    /// `file_seek`).
    pub(crate) fn seek(
        &mut self,
        cx: &mut Cx<'_>,
        file: FileNumber,
        position: u64,
    ) -> Result<(), FileError> {
        let FileNumber::Incoming(slot) = file else {
            return Err(FileError::NotIncoming(file));
        };
        let t = self
            .receiving
            .get_mut(&slot)
            .ok_or_else(|| cx.no_transfer(file))?;
        if t.state != TransferState::NotAccepted {
            return Err(FileError::AlreadyAccepted(file));
        }
        if position >= t.size {
            return Err(FileError::SeekPastEnd {
                position,
                size: t.size,
            });
        }
        cx.send(&Packet::FileControl(FileControl::seek(slot, position)))?;
        t.transferred = position;
        Ok(())
    }

    /// The application's answer to a chunk request; it goes to the session
    /// when there is bulk room and the transfer's turn comes.
    pub(crate) fn send_chunk(
        &mut self,
        cx: &mut Cx<'_>,
        file: FileNumber,
        position: u64,
        data: &[u8],
    ) -> Result<(), FileError> {
        let FileNumber::Outgoing(slot) = file else {
            return Err(FileError::NotOutgoing(file));
        };
        let t = self
            .sending
            .get_mut(&slot)
            .filter(|t| !t.draining())
            .ok_or_else(|| cx.no_transfer(file))?;
        match t.supply(slot, position, data) {
            Supply::Taken => {}
            Supply::NotRequested => return Err(FileError::NotRequested { file, position }),
            Supply::WrongPosition(expected) => {
                return Err(FileError::WrongPosition {
                    file,
                    position,
                    expected,
                });
            }
            Supply::WrongLength(expected) => {
                return Err(FileError::WrongLength {
                    file,
                    len: data.len(),
                    expected,
                });
            }
        }
        self.pump(cx);
        Ok(())
    }

    /// What there is to know of one transfer.
    pub(crate) fn info(&self, file: FileNumber) -> Option<FileInfo> {
        match file {
            FileNumber::Outgoing(slot) => self
                .sending
                .get(&slot)
                .filter(|t| !t.draining())
                .map(Outgoing::info),
            FileNumber::Incoming(slot) => self.receiving.get(&slot).map(Incoming::info),
        }
    }

    /// The session acknowledged everything below `buffer_start`: finish
    /// what that completes and fill the room it freed.
    pub(crate) fn acked(&mut self, cx: &mut Cx<'_>, buffer_start: u32) {
        self.acked = Some(buffer_start);
        self.pump(cx);
    }

    /// The session went down: every transfer ends, each with an event
    /// (draining ones ended already).
    pub(crate) fn break_all(&mut self, friend: FriendNumber, events: &mut VecDeque<Event>) {
        let sending = std::mem::take(&mut self.sending);
        let avatar = self.avatar.take().map(|(slot, _)| slot);
        let outgoing = sending
            .into_iter()
            .filter(|(slot, t)| !t.draining() && avatar != Some(*slot))
            .map(|(slot, _)| FileNumber::Outgoing(slot));
        let incoming = std::mem::take(&mut self.receiving)
            .into_keys()
            .map(FileNumber::Incoming);
        events.extend(
            outgoing
                .chain(incoming)
                .map(|file| Event::FileBroken { friend, file }),
        );
        *self = Self::default();
    }

    /// A file send request (`PACKET_ID_FILE_SENDREQUEST`): a slot in use
    /// drops it.
    pub(crate) fn on_request(&mut self, cx: &mut Cx<'_>, request: FileSendRequest) {
        let slot = request.file_number();
        if self.receiving.contains_key(&slot) {
            cx.stats.dropped_file_wrong_state += 1;
            return;
        }
        let incoming = Incoming::new(&request);
        self.receiving.insert(slot, incoming);
        cx.events.push_back(Event::FileReceive {
            friend: cx.friend,
            file: FileNumber::Incoming(slot),
            kind: request.file_kind(),
            size: request.file_size(),
            file_id: *request.file_id(),
            name: request.file_name().to_vec(),
        });
    }

    /// A file data packet (`PACKET_ID_FILE_DATA`) for a receiving slot.
    pub(crate) fn on_data(&mut self, cx: &mut Cx<'_>, packet: FileData) {
        let slot = packet.file_number();
        let file = FileNumber::Incoming(slot);
        let Some(t) = self.receiving.get_mut(&slot) else {
            cx.stats.dropped_file_unknown += 1;
            return;
        };
        let friend = cx.friend;
        match t.receive(packet.into_data()) {
            Received::Dropped => cx.stats.dropped_file_wrong_state += 1,
            Received::Chunk { position, data } => {
                cx.events.push_back(Event::FileChunk {
                    friend,
                    file,
                    position,
                    data,
                });
            }
            Received::Last {
                position,
                data,
                end,
            } => {
                if let Some(data) = data {
                    cx.events.push_back(Event::FileChunk {
                        friend,
                        file,
                        position,
                        data,
                    });
                }
                cx.events.push_back(Event::FileChunk {
                    friend,
                    file,
                    position: end,
                    data: Vec::new(),
                });
                self.receiving.remove(&slot);
            }
        }
    }

    /// A file control (`handle_filecontrol`): send_receive 1 is about our
    /// sending slot, anything else about our receiving slot. A control for
    /// no transfer is answered with a kill, unless it is a kill (c-toxcore
    /// answers even those, so two sides that both killed one transfer
    /// would trade kills forever).
    pub(crate) fn on_control(&mut self, cx: &mut Cx<'_>, packet: FileControl) {
        let slot = packet.file_number();
        let file = match packet.send_receive() {
            TransferDirection::Receiving => FileNumber::Outgoing(slot),
            TransferDirection::Sending => FileNumber::Incoming(slot),
        };
        let found = match file {
            FileNumber::Outgoing(slot) => self
                .sending
                .get(&slot)
                .filter(|t| !t.draining())
                .map(|t| (t.state(), t.paused, t.size)),
            FileNumber::Incoming(slot) => self
                .receiving
                .get(&slot)
                .map(|t| (t.state, t.paused, t.size)),
        };
        let Some((state, mut paused, size)) = found else {
            cx.stats.dropped_file_unknown += 1;
            if packet.control() != FileControlKind::Kill {
                let direction = packet.send_receive().opposite();
                if let Ok(kill) = FileControl::new(direction, slot, FileControlKind::Kill) {
                    let _ = cx.send(&Packet::FileControl(kill));
                }
            }
            return;
        };
        let outgoing = matches!(file, FileNumber::Outgoing(_));
        let control = match packet.control() {
            FileControlKind::Accept if outgoing && state == TransferState::NotAccepted => {
                if let Some(t) = self.sending.get_mut(&slot) {
                    t.accept(slot);
                }
                Control::Accept
            }
            FileControlKind::Accept if paused.them => {
                paused.them = false;
                Control::Accept
            }
            FileControlKind::Pause if !paused.them && state == TransferState::Transferring => {
                paused.them = true;
                Control::Pause
            }
            FileControlKind::Kill => {
                if !self.is_avatar(file) {
                    cx.events.push_back(Event::FileControl {
                        friend: cx.friend,
                        file,
                        control: Control::Kill,
                    });
                }
                self.remove(file);
                self.pump(cx);
                return;
            }
            FileControlKind::Seek(position)
                if outgoing && state == TransferState::NotAccepted && position < size =>
            {
                if let Some(t) = self.sending.get_mut(&slot) {
                    t.seek(position);
                }
                return;
            }
            _ => {
                cx.stats.dropped_file_wrong_state += 1;
                return;
            }
        };
        match file {
            FileNumber::Outgoing(slot) => {
                if let Some(t) = self.sending.get_mut(&slot) {
                    t.paused = paused;
                }
            }
            FileNumber::Incoming(slot) => {
                if let Some(t) = self.receiving.get_mut(&slot) {
                    t.paused = paused;
                }
            }
        }
        if !self.is_avatar(file) {
            cx.events.push_back(Event::FileControl {
                friend: cx.friend,
                file,
                control,
            });
        }
        if outgoing {
            self.pump(cx);
        }
    }

    /// Ends a transfer; a sending slot with chunks still unnumbered in the
    /// session's queue drains first.
    fn remove(&mut self, file: FileNumber) {
        self.end(file, None);
    }

    /// [`FileTransfers::remove`], after our kill numbered `kill` if we
    /// sent one: that slot then drains until the friend has it (see
    /// `State::Draining`).
    fn end(&mut self, file: FileNumber, kill: Option<u32>) {
        if self.is_avatar(file) {
            self.avatar = None;
        }
        match file {
            FileNumber::Outgoing(slot) => {
                if let Some(t) = self.sending.get_mut(&slot) {
                    if t.last_ticket > 0 || kill.is_some() {
                        t.kill(kill);
                    } else {
                        self.sending.remove(&slot);
                    }
                }
            }
            FileNumber::Incoming(slot) => {
                self.receiving.remove(&slot);
            }
        }
    }

    /// Sending slots in turn order: the one whose turn it is first.
    fn turns(&self) -> Vec<u8> {
        self.sending
            .range(self.cursor..)
            .chain(self.sending.range(..self.cursor))
            .map(|(slot, _)| *slot)
            .collect()
    }

    /// Moves data: finishes what the session confirmed, hands waiting
    /// chunks to the session while it has bulk room (one per running
    /// transfer in turn), then asks the application for as many more as
    /// the room left allows, again in turn. Our avatar's chunks are
    /// supplied here and then, so another round hands them on.
    pub(crate) fn pump(&mut self, cx: &mut Cx<'_>) {
        self.settle(cx);
        while self.pump_once(cx) {}
        self.settle(cx);
    }

    /// One round of [`FileTransfers::pump`]; whether it supplied avatar
    /// chunks, which wait for the next round to go to the session. Only
    /// a round that asked for more of the avatar is followed by another,
    /// and an avatar has finitely many chunks, so the rounds end.
    fn pump_once(&mut self, cx: &mut Cx<'_>) -> bool {
        let mut supplied = false;
        let mut space = cx.sessions.bulk_space(&cx.key);
        // Chunks already supplied.
        'flush: while space > 0 {
            let mut moved = false;
            for slot in self.turns() {
                let Some(t) = self.sending.get_mut(&slot) else {
                    continue;
                };
                if !t.sendable() {
                    continue;
                }
                let Some(packet) = t.buffered.pop_front() else {
                    continue;
                };
                if !cx.sessions.send_bulk(&cx.key, packet.clone()) {
                    t.buffered.push_front(packet);
                    break 'flush;
                }
                self.bulk_sent += 1;
                t.sent(self.bulk_sent);
                self.cursor = slot.wrapping_add(1);
                moved = true;
                space -= 1;
                if space == 0 {
                    break 'flush;
                }
            }
            if !moved {
                break;
            }
        }
        // Requests: open ones and waiting chunks of running transfers hold
        // their share of the room.
        let held: usize = self
            .sending
            .values()
            .filter(|t| t.sendable())
            .map(Outgoing::held)
            .sum();
        let mut room = space.saturating_sub(held);
        'ask: while room > 0 {
            let mut asked = false;
            for slot in self.turns() {
                let Some(t) = self.sending.get_mut(&slot) else {
                    continue;
                };
                if !t.sendable() {
                    continue;
                }
                let Some((position, length)) = t.next_request() else {
                    continue;
                };
                match &self.avatar {
                    Some((ours, image)) if *ours == slot => {
                        // Requests never pass the size, the image's length.
                        let chunk = usize::try_from(position)
                            .ok()
                            .and_then(|start| image.get(start..start.checked_add(length)?));
                        if let Some(chunk) = chunk {
                            supplied |= t.supply(slot, position, chunk) == Supply::Taken;
                        }
                    }
                    _ => cx.events.push_back(Event::FileChunkRequest {
                        friend: cx.friend,
                        file: FileNumber::Outgoing(slot),
                        position,
                        length,
                    }),
                }
                self.cursor = slot.wrapping_add(1);
                asked = true;
                room -= 1;
                if room == 0 {
                    break 'ask;
                }
            }
            if !asked {
                break;
            }
        }
        supplied
    }

    /// Finishes sent files whose last chunk the friend acknowledged, and
    /// frees killed slots whose chunks all have a number.
    fn settle(&mut self, cx: &mut Cx<'_>) {
        let Some(progress) = cx.sessions.bulk_progress(&cx.key) else {
            return;
        };
        let numbered = self
            .bulk_sent
            .saturating_sub(u64::try_from(progress.waiting).unwrap_or(u64::MAX));
        let acked = self.acked;
        let mut done = Vec::new();
        for (slot, t) in &mut self.sending {
            if t.settle(numbered, progress.next_number, acked) {
                done.push((*slot, t.draining(), t.position()));
            }
        }
        for (slot, draining, position) in done {
            let avatar = self.is_avatar(FileNumber::Outgoing(slot));
            if avatar {
                self.avatar = None;
            }
            self.sending.remove(&slot);
            if !draining && !avatar {
                cx.events.push_back(Event::FileChunkRequest {
                    friend: cx.friend,
                    file: FileNumber::Outgoing(slot),
                    position,
                    length: 0,
                });
            }
        }
    }
}

/// Whether `buffer_start` has reached packet number `barrier` (numbers
/// wrap: within half the number space).
const fn reached(buffer_start: u32, barrier: u32) -> bool {
    buffer_start.wrapping_sub(barrier) < u32::MAX / 2
}

/// A file data packet's bytes for sending slot `slot`; `data` is at most
/// [`MAX_FILE_DATA_SIZE`] (checked by the caller).
fn data_packet(slot: u8, data: &[u8]) -> Option<Bytes> {
    FileData::new(slot, data.to_vec())
        .ok()
        .map(|p| Bytes::from(p.to_bytes()))
}

/// The size that means a stream.
const STREAM: u64 = FILESIZE_UNKNOWN;
