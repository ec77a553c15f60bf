//! The messenger state machine: friends by number, what each friend told
//! us, and what we tell them (checklist F2, M1, M3–M8, M13, M14, M17).
//!
//! It sits on friend sessions without owning them. The composition above
//! it (`toxide::Stack`) finds friends, opens their net_crypto sessions and
//! tells the messenger when one comes up, carries a packet or an
//! acknowledgement, or goes down; the messenger sends through a
//! [`Sessions`] the caller lends for each call, so it never holds a lower
//! layer and tests drive it with a fake.
//!
//! What c-toxcore 0.2.18 does and this follows:
//! - When a session comes up each side sends ONLINE; every other
//!   messenger packet from a friend is dropped until its ONLINE arrived
//!   (the gate, M1). Then each side pushes its name, status message, user
//!   status and typing state (M17), so a reconnecting friend never shows
//!   stale state.
//! - Alive packets and the silence timeout (F2) belong to the session,
//!   whoever holds it: [`crate::friend_connection`].
//! - Messages get per-friend ids from a counter; a message counts as read
//!   once the friend's acknowledgement (net_crypto's buffer_start) passes
//!   its packet number (M8). Receipts die with the session, as in
//!   c-toxcore: a client resends what was never confirmed.
//! - Friend numbers are the lowest free index, as c-toxcore hands them out,
//!   so the C API can map onto them one to one.
//! - A friend request can arrive over a session (packet 18) as well as
//!   through the onion (checklist F4): friend_connection hands it to the
//!   friend-request receiver before any friend or ONLINE check, which
//!   delivers it only if it quotes our nospam, its sender asked nothing in
//!   the last [`MAX_RECEIVED_STORED`] requests and is not a friend already
//!   (`friendreq_handlepacket`, `friend_already_added`). Our own pending
//!   request goes over the session when one comes up before the friend
//!   confirmed (`send_friend_request_packet`): coming online (ONLINE)
//!   confirms it, as c-toxcore's `FRIEND_ONLINE` does.
//! - File transfers (M9–M12) live per friend while it is online; the
//!   [`crate::file`] module has the rules, this one the calls
//!   ([`Messenger::send_file`] and after). Our avatar, once set
//!   ([`Messenger::set_avatar`]), is offered to each friend that comes
//!   online and to every online friend when it changes, as c-toxcore's
//!   clients do.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use toxide_core::{Decode, Encode, NoSpam, PublicKey, RecentRequests};

use crate::file::{
    Avatar, Control, Cx, FileError, FileInfo, FileNumber, FileTransfers, MAX_AVATAR_SIZE,
};
use crate::packet::{
    CustomLossless, CustomLossy, FILE_ID_LENGTH, FriendRequest, Message, MessageKind, Nickname,
    Online, Packet, PacketError, StatusMessage, Typing, UserStatus, UserStatusPacket,
};

pub use toxide_core::friend_request::MAX_RECEIVED_STORED;

/// A friend's number: stable while the friend exists, the lowest free one
/// when added (tox.h's `friend_number`).
pub type FriendNumber = u32;

/// A message's id, counted per friend (tox.h's `message_id`).
pub type MessageId = u32;

/// What the messenger needs of friend sessions: the composition lends it
/// for each call.
pub trait Sessions {
    /// Sends a lossless packet to `friend`'s session; the packet number an
    /// acknowledgement will pass, or `None` when there is no session or
    /// no room.
    fn send_lossless(&mut self, friend: &PublicKey, data: Bytes) -> Option<u32>;
    /// Sends a lossy packet; whether it left.
    fn send_lossy(&mut self, friend: &PublicKey, data: Bytes) -> bool;
    /// Ends `friend`'s session (with a kill packet).
    fn kill(&mut self, friend: &PublicKey);
    /// Queues a file chunk (packet 82) to leave behind every lossless
    /// packet, as congestion control allows; whether the session took it.
    /// It gets its packet number only when it leaves.
    fn send_bulk(&mut self, friend: &PublicKey, data: Bytes) -> bool;
    /// How many more bulk packets `friend`'s session takes now (0 without
    /// a session).
    fn bulk_space(&self, friend: &PublicKey) -> usize;
    /// How far `friend`'s bulk packets have got; `None` without a session.
    fn bulk_progress(&self, friend: &PublicKey) -> Option<BulkProgress>;
}

/// How far a session's bulk packets have got: what a file's completion
/// is told by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkProgress {
    /// Bulk packets queued and not numbered yet (they are numbered in the
    /// order they were queued).
    pub waiting: usize,
    /// The number the next lossless packet will get: every packet
    /// numbered so far is below it.
    pub next_number: u32,
}

/// Something a friend did, or a message's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Someone who is not a friend asked to be one over a session (packet
    /// 18), quoting our nospam; accepting means adding them.
    FriendRequest {
        /// Their long-term key: the session's.
        public_key: PublicKey,
        /// Their message, as sent (never empty; c-toxcore checks no UTF-8).
        message: Vec<u8>,
    },
    /// The friend came online (its ONLINE arrived) or went offline.
    ConnectionStatus {
        /// Who.
        friend: FriendNumber,
        /// Online now.
        online: bool,
    },
    /// A message or action.
    Message {
        /// From whom.
        friend: FriendNumber,
        /// Normal or action.
        kind: MessageKind,
        /// As sent: c-toxcore checks no UTF-8, so neither do we.
        text: Vec<u8>,
    },
    /// The friend has a message we sent.
    ReadReceipt {
        /// Who read it.
        friend: FriendNumber,
        /// Which.
        message_id: MessageId,
    },
    /// The friend's name changed (or was pushed on connecting).
    Name {
        /// Whose.
        friend: FriendNumber,
        /// The name.
        name: Vec<u8>,
    },
    /// The friend's status message changed.
    StatusMessage {
        /// Whose.
        friend: FriendNumber,
        /// The text.
        text: Vec<u8>,
    },
    /// The friend's user status changed.
    UserStatus {
        /// Whose.
        friend: FriendNumber,
        /// The status.
        status: UserStatus,
    },
    /// The friend started or stopped typing.
    Typing {
        /// Who.
        friend: FriendNumber,
        /// Typing now.
        typing: bool,
    },
    /// A custom lossless packet (ids 160–191), id first.
    CustomLossless {
        /// From whom.
        friend: FriendNumber,
        /// Id, then data.
        data: Vec<u8>,
    },
    /// A custom lossy packet (ids 200–254), id first.
    CustomLossy {
        /// From whom.
        friend: FriendNumber,
        /// Id, then data.
        data: Vec<u8>,
    },
    /// The friend offers a file; it waits for
    /// [`Messenger::file_control`] (accept, or kill to refuse).
    FileReceive {
        /// From whom.
        friend: FriendNumber,
        /// An incoming file number.
        file: FileNumber,
        /// [`FILEKIND_DATA`](crate::packet::FILEKIND_DATA),
        /// [`FILEKIND_AVATAR`](crate::packet::FILEKIND_AVATAR), or a kind
        /// to treat as data.
        kind: u32,
        /// The size, or [`FILESIZE_UNKNOWN`](crate::packet::FILESIZE_UNKNOWN)
        /// for a stream.
        size: u64,
        /// The file id (an avatar's hash, or random).
        file_id: [u8; FILE_ID_LENGTH],
        /// The name, as sent (not checked for UTF-8).
        name: Vec<u8>,
    },
    /// A file we send wants `length` bytes from `position`: answer with
    /// [`Messenger::file_send_chunk`], now or later (the request stays
    /// open; requests are answered in the order they came). A `length` of
    /// 0 means the transfer is over: the friend has acknowledged every
    /// chunk, and the file number is free. Requests still open when a
    /// stream was ended by a short chunk, or when the transfer was killed
    /// or broken, are void (answering one is an error).
    FileChunkRequest {
        /// To whom.
        friend: FriendNumber,
        /// An outgoing file number.
        file: FileNumber,
        /// Where the chunk starts.
        position: u64,
        /// How many bytes (a stream may answer with fewer, ending it).
        length: usize,
    },
    /// Data of a file we receive, in order. Empty data means the transfer
    /// is over and the file number free: complete if `position` is the
    /// size; for a stream it ended normally.
    FileChunk {
        /// From whom.
        friend: FriendNumber,
        /// An incoming file number.
        file: FileNumber,
        /// Where the data starts.
        position: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// The friend accepted (or resumed), paused or killed a transfer.
    FileControl {
        /// Who.
        friend: FriendNumber,
        /// Which transfer (incoming or outgoing).
        file: FileNumber,
        /// What they did.
        control: Control,
    },
    /// A transfer ended because the friend went offline (its session
    /// ended); its file number is free. Resuming it is a new transfer
    /// (the file id and a seek help with that).
    FileBroken {
        /// Whose.
        friend: FriendNumber,
        /// Which transfer.
        file: FileNumber,
    },
}

/// Why a messenger call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessengerError {
    /// No friend has that number.
    #[error("no friend number {0}")]
    NoFriend(FriendNumber),
    /// That key is already a friend (under the number given).
    #[error("already a friend (number {0})")]
    AlreadyFriend(FriendNumber),
    /// The friend is not online: nothing can be sent now.
    #[error("friend {0} is not online")]
    NotOnline(FriendNumber),
    /// The session has no room (or just went away): try again later.
    #[error("friend {0}'s session could not take the packet")]
    SendFailed(FriendNumber),
    /// What was to be sent is outside what a c-toxcore receiver accepts.
    #[error(transparent)]
    Packet(#[from] PacketError),
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets from friends that did not decode.
    pub dropped_malformed: u64,
    /// Messenger packets from a friend whose ONLINE had not arrived.
    pub dropped_before_online: u64,
    /// Packets for layers not built yet (conferences, calls).
    pub unhandled: u64,
    /// File controls and data for a transfer that does not exist.
    pub dropped_file_unknown: u64,
    /// File packets the transfer's state has no place for (data before
    /// accepting, a pause while paused, an offer in a busy slot…).
    pub dropped_file_wrong_state: u64,
    /// Friend requests over a session that quoted another nospam.
    pub dropped_wrong_nospam: u64,
    /// Friend requests over a session from a sender whose request was
    /// delivered already (among the last [`MAX_RECEIVED_STORED`]).
    pub dropped_repeated_request: u64,
    /// Friend requests over a session from someone already a friend.
    pub dropped_request_from_friend: u64,
    /// Avatar offers that could not be sent (every sending slot busy, or
    /// the session full); the friend gets one when it next comes online.
    pub avatar_not_offered: u64,
}

/// Where a friend's session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No session.
    Down,
    /// A session, but the friend's ONLINE has not arrived.
    Up,
    /// Online: messenger packets flow both ways.
    Online,
}

/// A friend request we sent and the friend has not answered by coming
/// online: kept for the save file, which resends it after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// The nospam of the Tox ID it went to.
    pub nospam: NoSpam,
    /// The request message.
    pub message: Vec<u8>,
}

/// What a save file keeps of a friend beyond its key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FriendRecord {
    /// The friend's name, as last told.
    pub name: Vec<u8>,
    /// The friend's status message, as last told.
    pub status_message: Vec<u8>,
    /// The friend's user status, as last told.
    pub status: UserStatus,
    /// When the friend was last seen online (UNIX seconds; 0 = never).
    pub last_seen: u64,
    /// Our request, while the friend has not come online yet.
    pub request: Option<SentRequest>,
}

#[derive(Debug, Clone)]
struct Friend {
    public_key: PublicKey,
    link: Link,
    /// Our unanswered request to this friend, if any.
    request: Option<SentRequest>,
    last_seen: u64,
    name: Vec<u8>,
    status_message: Vec<u8>,
    status: UserStatus,
    typing: bool,
    /// Whether we told this friend we are typing.
    we_type: bool,
    next_message_id: MessageId,
    /// Messages in flight: (net_crypto packet number, message id), oldest
    /// first.
    receipts: VecDeque<(u32, MessageId)>,
    /// File transfers, while online.
    files: FileTransfers,
}

impl Friend {
    fn new(public_key: PublicKey) -> Self {
        Self {
            public_key,
            link: Link::Down,
            request: None,
            last_seen: 0,
            name: Vec::new(),
            status_message: Vec::new(),
            status: UserStatus::None,
            typing: false,
            we_type: false,
            next_message_id: 0,
            receipts: VecDeque::new(),
            files: FileTransfers::default(),
        }
    }
}

/// Our own profile as friends see it.
#[derive(Debug, Clone, Default)]
struct Profile {
    name: Vec<u8>,
    status_message: Vec<u8>,
    status: UserStatus,
}

/// Every friend of one Tox instance and what passes between us.
#[derive(Debug, Default)]
pub struct Messenger {
    friends: Vec<Option<Friend>>,
    numbers: HashMap<PublicKey, FriendNumber>,
    profile: Profile,
    /// The nospam of our Tox ID: a friend request must quote it.
    nospam: NoSpam,
    /// Senders of the last delivered friend requests, oldest first.
    received_requests: RecentRequests,
    /// Our avatar, offered to friends; `None` until the application sets
    /// one (or says it has none).
    avatar: Option<Avatar>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Messenger {
    /// A messenger with no friends and an empty profile. Set the nospam
    /// of our Tox ID ([`Messenger::set_nospam`]) before friend requests
    /// over sessions can be delivered.
    pub fn new() -> Self {
        Self::default()
    }

    /// The nospam a friend request must quote.
    pub fn nospam(&self) -> NoSpam {
        self.nospam
    }

    /// Changes the nospam: requests quoting the old one are dropped from
    /// now on.
    pub fn set_nospam(&mut self, nospam: NoSpam) {
        self.nospam = nospam;
    }

    /// Adds `public_key` as a friend under the lowest free number.
    pub fn add_friend(&mut self, public_key: PublicKey) -> Result<FriendNumber, MessengerError> {
        if let Some(&number) = self.numbers.get(&public_key) {
            return Err(MessengerError::AlreadyFriend(number));
        }
        let slot = self.friends.iter().position(Option::is_none);
        let index = slot.unwrap_or(self.friends.len());
        let number = FriendNumber::try_from(index).map_err(|_| MessengerError::NoFriend(0))?;
        let friend = Some(Friend::new(public_key));
        match self.friends.get_mut(index) {
            Some(entry) => *entry = friend,
            None => self.friends.push(friend),
        }
        self.numbers.insert(public_key, number);
        Ok(number)
    }

    /// Adds a friend as a save file describes it (see [`FriendRecord`]).
    pub fn restore_friend(
        &mut self,
        public_key: PublicKey,
        record: FriendRecord,
    ) -> Result<FriendNumber, MessengerError> {
        let number = self.add_friend(public_key)?;
        if let Ok(friend) = self.friend_mut(number) {
            friend.name = record.name;
            friend.status_message = record.status_message;
            friend.status = record.status;
            friend.last_seen = record.last_seen;
            friend.request = record.request;
        }
        Ok(number)
    }

    /// What a save file keeps of friend `number`.
    pub fn friend_record(&self, number: FriendNumber) -> Option<FriendRecord> {
        let f = self.friend(number)?;
        Some(FriendRecord {
            name: f.name.clone(),
            status_message: f.status_message.clone(),
            status: f.status,
            last_seen: f.last_seen,
            request: f.request.clone(),
        })
    }

    /// Records that we sent friend `number` a request (kept until it comes
    /// online).
    pub fn set_sent_request(
        &mut self,
        number: FriendNumber,
        request: SentRequest,
    ) -> Result<(), MessengerError> {
        self.friend_mut(number)?.request = Some(request);
        Ok(())
    }

    /// Records that friend `number` was online at `unix_secs` (the caller
    /// owns the wall clock).
    pub fn set_last_seen(&mut self, number: FriendNumber, unix_secs: u64) {
        if let Ok(friend) = self.friend_mut(number) {
            friend.last_seen = unix_secs;
        }
    }

    /// Sets our profile without telling anyone: for loading a save before
    /// any session exists. Fails on a name or status message a c-toxcore
    /// friend would not take.
    pub fn restore_profile(
        &mut self,
        name: Vec<u8>,
        status_message: Vec<u8>,
        status: UserStatus,
    ) -> Result<(), MessengerError> {
        Nickname::new(name.clone())?;
        StatusMessage::new(status_message.clone())?;
        self.profile = Profile {
            name,
            status_message,
            status,
        };
        Ok(())
    }

    /// Removes a friend; its number becomes free. The caller ends the
    /// session (a kill packet, so the friend sees us offline at once).
    pub fn remove_friend(&mut self, number: FriendNumber) -> Result<PublicKey, MessengerError> {
        let entry = self
            .friends
            .get_mut(number as usize)
            .ok_or(MessengerError::NoFriend(number))?;
        let friend = entry.take().ok_or(MessengerError::NoFriend(number))?;
        self.numbers.remove(&friend.public_key);
        // A removed friend may ask again (c-toxcore `m_delfriend` calls
        // `remove_request_received`).
        self.received_requests.forget(&friend.public_key);
        while self.friends.last().is_some_and(Option::is_none) {
            self.friends.pop();
        }
        Ok(friend.public_key)
    }

    /// The number of the friend with this key.
    pub fn friend_number(&self, public_key: &PublicKey) -> Option<FriendNumber> {
        self.numbers.get(public_key).copied()
    }

    /// The key of friend `number`.
    pub fn friend_key(&self, number: FriendNumber) -> Option<PublicKey> {
        self.friend(number).map(|f| f.public_key)
    }

    /// Every friend number, in order.
    pub fn friend_numbers(&self) -> impl Iterator<Item = FriendNumber> + '_ {
        self.friends
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_some())
            .filter_map(|(i, _)| FriendNumber::try_from(i).ok())
    }

    /// Whether friend `number` is online (its ONLINE arrived).
    pub fn is_online(&self, number: FriendNumber) -> bool {
        self.friend(number).is_some_and(|f| f.link == Link::Online)
    }

    /// Friend `number`'s name, as last told.
    pub fn friend_name(&self, number: FriendNumber) -> Option<&[u8]> {
        self.friend(number).map(|f| f.name.as_slice())
    }

    /// Friend `number`'s status message, as last told.
    pub fn friend_status_message(&self, number: FriendNumber) -> Option<&[u8]> {
        self.friend(number).map(|f| f.status_message.as_slice())
    }

    /// Friend `number`'s user status, as last told.
    pub fn friend_status(&self, number: FriendNumber) -> Option<UserStatus> {
        self.friend(number).map(|f| f.status)
    }

    /// Whether friend `number` is typing.
    pub fn friend_typing(&self, number: FriendNumber) -> Option<bool> {
        self.friend(number).map(|f| f.typing)
    }

    /// Our name.
    pub fn name(&self) -> &[u8] {
        &self.profile.name
    }

    /// Our status message.
    pub fn status_message(&self) -> &[u8] {
        &self.profile.status_message
    }

    /// Our user status.
    pub fn status(&self) -> UserStatus {
        self.profile.status
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Sets our name (at most 128 bytes) and tells every online friend.
    pub fn set_name(
        &mut self,
        name: Vec<u8>,
        sessions: &mut dyn Sessions,
    ) -> Result<(), MessengerError> {
        let packet = Packet::Nickname(Nickname::new(name.clone())?);
        self.profile.name = name;
        self.broadcast(&packet, sessions);
        Ok(())
    }

    /// Sets our status message (at most 1007 bytes) and tells every
    /// online friend.
    pub fn set_status_message(
        &mut self,
        text: Vec<u8>,
        sessions: &mut dyn Sessions,
    ) -> Result<(), MessengerError> {
        let packet = Packet::StatusMessage(StatusMessage::new(text.clone())?);
        self.profile.status_message = text;
        self.broadcast(&packet, sessions);
        Ok(())
    }

    /// Sets our user status and tells every online friend.
    pub fn set_status(&mut self, status: UserStatus, sessions: &mut dyn Sessions) {
        self.profile.status = status;
        self.broadcast(&Packet::UserStatus(UserStatusPacket { status }), sessions);
    }

    /// Tells friend `number` whether we are typing to them.
    pub fn set_typing(
        &mut self,
        number: FriendNumber,
        typing: bool,
        sessions: &mut dyn Sessions,
    ) -> Result<(), MessengerError> {
        let friend = self.friend_mut(number)?;
        friend.we_type = typing;
        if friend.link == Link::Online {
            let key = friend.public_key;
            send(
                sessions,
                &key,
                &Packet::Typing(Typing { is_typing: typing }),
            );
        }
        Ok(())
    }

    /// Sends a message (1..=1372 bytes) to an online friend; its id comes
    /// back in a [`Event::ReadReceipt`] once the friend has it.
    pub fn send_message(
        &mut self,
        number: FriendNumber,
        kind: MessageKind,
        text: Vec<u8>,
        sessions: &mut dyn Sessions,
    ) -> Result<MessageId, MessengerError> {
        let packet = Packet::Message(Message::new(kind, text)?);
        let friend = self.friend_mut(number)?;
        if friend.link != Link::Online {
            return Err(MessengerError::NotOnline(number));
        }
        let key = friend.public_key;
        let packet_number =
            send(sessions, &key, &packet).ok_or(MessengerError::SendFailed(number))?;
        let id = friend.next_message_id;
        friend.next_message_id = id.wrapping_add(1);
        friend.receipts.push_back((packet_number, id));
        Ok(id)
    }

    /// Sends a custom lossless packet (id 160–191 first) to an online
    /// friend.
    pub fn send_custom_lossless(
        &mut self,
        number: FriendNumber,
        data: &[u8],
        sessions: &mut dyn Sessions,
    ) -> Result<(), MessengerError> {
        let (&id, rest) = data.split_first().ok_or(PacketError::Empty)?;
        let packet = Packet::CustomLossless(CustomLossless::new(id, rest.to_vec())?);
        let key = self.online_key(number)?;
        send(sessions, &key, &packet)
            .map(drop)
            .ok_or(MessengerError::SendFailed(number))
    }

    /// Sends a custom lossy packet (id 192–254 first) to an online friend.
    pub fn send_custom_lossy(
        &mut self,
        number: FriendNumber,
        data: &[u8],
        sessions: &mut dyn Sessions,
    ) -> Result<(), MessengerError> {
        let (&id, rest) = data.split_first().ok_or(PacketError::Empty)?;
        let packet = CustomLossy::new(id, rest.to_vec())?;
        let key = self.online_key(number)?;
        if sessions.send_lossy(&key, Bytes::from(packet.to_bytes())) {
            Ok(())
        } else {
            Err(MessengerError::SendFailed(number))
        }
    }

    /// `public_key`'s session is up: say ONLINE; a request of ours the
    /// friend has not confirmed goes over the session too (c-toxcore
    /// `send_friend_request_packet` on a connected friend connection).
    pub fn session_up(&mut self, public_key: &PublicKey, sessions: &mut dyn Sessions) {
        let Some(friend) = self.by_key_mut(public_key) else {
            return;
        };
        friend.link = Link::Up;
        friend.files = FileTransfers::default();
        send(sessions, public_key, &Packet::Online(Online));
        let request = friend.request.as_ref().and_then(|r| {
            // A saved request was checked when loaded; one that no longer
            // builds is left to the onion path.
            FriendRequest::new(r.nospam, r.message.clone()).ok()
        });
        if let Some(request) = request {
            send(sessions, public_key, &Packet::FriendRequest(request));
        }
    }

    /// `public_key`'s session is gone: the friend is offline, the
    /// receipts of what it had not acknowledged are lost and every file
    /// transfer ends ([`Event::FileBroken`] for each).
    pub fn session_down(&mut self, public_key: &PublicKey) {
        let Some(&number) = self.numbers.get(public_key) else {
            return;
        };
        let Some(friend) = slot_mut(&mut self.friends, number) else {
            return;
        };
        let was_online = friend.link == Link::Online;
        friend.link = Link::Down;
        friend.receipts.clear();
        friend.files.break_all(number, &mut self.events);
        let stopped_typing = std::mem::take(&mut friend.typing);
        if stopped_typing {
            self.events.push_back(Event::Typing {
                friend: number,
                typing: false,
            });
        }
        if was_online {
            self.events.push_back(Event::ConnectionStatus {
                friend: number,
                online: false,
            });
        }
    }

    /// The friend acknowledged every packet numbered below `buffer_start`:
    /// the messages among them are read, a file whose last chunk is among
    /// them is finished, and file data fills the room that freed.
    pub fn acked(
        &mut self,
        public_key: &PublicKey,
        buffer_start: u32,
        sessions: &mut dyn Sessions,
    ) {
        let Some(&number) = self.numbers.get(public_key) else {
            return;
        };
        let Some(friend) = slot_mut(&mut self.friends, number) else {
            return;
        };
        let mut read = Vec::new();
        // Packet numbers wrap: "below" is within half the number space.
        while let Some(&(packet, id)) = friend.receipts.front() {
            if buffer_start.wrapping_sub(packet).wrapping_sub(1) >= u32::MAX / 2 {
                break;
            }
            friend.receipts.pop_front();
            read.push(id);
        }
        self.events
            .extend(read.into_iter().map(|message_id| Event::ReadReceipt {
                friend: number,
                message_id,
            }));
        if friend.link == Link::Online {
            let mut cx = Cx {
                friend: number,
                key: *public_key,
                sessions,
                events: &mut self.events,
                stats: &mut self.stats,
            };
            friend.files.acked(&mut cx, buffer_start);
        }
    }

    /// A lossless or lossy packet from `public_key`'s session. Only a
    /// friend request is taken from a session that is not a friend's.
    pub fn handle_packet(
        &mut self,
        public_key: &PublicKey,
        data: &[u8],
        sessions: &mut dyn Sessions,
    ) {
        let is_request = data.first() == Some(&crate::packet::PACKET_ID_FRIEND_REQUESTS);
        let Some(&number) = self.numbers.get(public_key) else {
            if is_request {
                match FriendRequest::from_bytes(data) {
                    Ok(request) => self.receive_friend_request(*public_key, request),
                    Err(_) => self.stats.dropped_malformed += 1,
                }
            }
            return;
        };
        let profile = self.profile.clone();
        let Some(friend) = self.by_key_mut(public_key) else {
            return;
        };
        let packet = match Packet::decode(data) {
            Ok(packet) => packet,
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        match packet {
            // friend_connection takes requests before the ONLINE gate.
            Packet::FriendRequest(request) => {
                self.receive_friend_request(*public_key, request);
                return;
            }
            Packet::Alive(_) => return,
            Packet::Online(_) => {
                if friend.link != Link::Online {
                    friend.link = Link::Online;
                    // Coming online answers our request (c-toxcore's
                    // FRIEND_CONFIRMED).
                    friend.request = None;
                    let we_type = friend.we_type;
                    push_profile(sessions, public_key, &profile, we_type);
                    self.events.push_back(Event::ConnectionStatus {
                        friend: number,
                        online: true,
                    });
                    self.offer_avatar(number, sessions);
                }
                return;
            }
            _ if friend.link != Link::Online => {
                self.stats.dropped_before_online += 1;
                return;
            }
            Packet::FileSendRequest(_) | Packet::FileControl(_) | Packet::FileData(_) => {
                self.file_packet(number, *public_key, packet, sessions);
                return;
            }
            _ => {}
        }
        let event = match packet {
            Packet::Nickname(p) => {
                friend.name = p.into_name();
                Event::Name {
                    friend: number,
                    name: friend.name.clone(),
                }
            }
            Packet::StatusMessage(p) => {
                friend.status_message = p.into_text();
                Event::StatusMessage {
                    friend: number,
                    text: friend.status_message.clone(),
                }
            }
            Packet::UserStatus(p) => {
                friend.status = p.status;
                Event::UserStatus {
                    friend: number,
                    status: p.status,
                }
            }
            Packet::Typing(p) => {
                friend.typing = p.is_typing;
                Event::Typing {
                    friend: number,
                    typing: p.is_typing,
                }
            }
            Packet::Message(p) => Event::Message {
                friend: number,
                kind: p.kind(),
                text: p.into_text(),
            },
            Packet::CustomLossless(p) => Event::CustomLossless {
                friend: number,
                data: p.to_bytes(),
            },
            Packet::CustomLossy(p) if !p.is_av() => Event::CustomLossy {
                friend: number,
                data: p.to_bytes(),
            },
            // Offline (a friend that deleted us but shares a conference),
            // share relays, conferences and calls have no layer yet.
            _ => {
                self.stats.unhandled += 1;
                return;
            }
        };
        self.events.push_back(event);
    }

    /// A file packet from an online friend.
    fn file_packet(
        &mut self,
        number: FriendNumber,
        key: PublicKey,
        packet: Packet,
        sessions: &mut dyn Sessions,
    ) {
        let Some(friend) = slot_mut(&mut self.friends, number) else {
            return;
        };
        let mut cx = Cx {
            friend: number,
            key,
            sessions,
            events: &mut self.events,
            stats: &mut self.stats,
        };
        match packet {
            Packet::FileSendRequest(p) => friend.files.on_request(&mut cx, p),
            Packet::FileControl(p) => friend.files.on_control(&mut cx, p),
            Packet::FileData(p) => friend.files.on_data(&mut cx, p),
            _ => {}
        }
    }

    /// Offers an online friend a file (c-toxcore `new_filesender`): `kind`
    /// 0 data, 1 avatar; `size` in bytes or
    /// [`FILESIZE_UNKNOWN`](crate::packet::FILESIZE_UNKNOWN) for a stream;
    /// `name` at most 255 bytes. Returns the lowest free outgoing file
    /// number; chunk requests follow once the friend accepts.
    pub fn send_file(
        &mut self,
        number: FriendNumber,
        kind: u32,
        size: u64,
        file_id: [u8; FILE_ID_LENGTH],
        name: Vec<u8>,
        sessions: &mut dyn Sessions,
    ) -> Result<FileNumber, FileError> {
        self.with_files(number, sessions, |files, cx| {
            files.send_file(cx, kind, size, file_id, name)
        })
    }

    /// Sets our avatar (`None`: we have none) and offers it to every
    /// online friend, cancelling an older one's transfer still under way;
    /// each friend that comes online later is offered it too. The image
    /// stays in memory only: c-toxcore keeps no avatar in the save, and
    /// its clients store it beside the profile. Until this is first
    /// called nothing is offered; after `None`, friends are offered
    /// "no avatar" (size 0) so they drop the one they have.
    ///
    /// A friend whose offer could not be sent (every slot busy, a full
    /// session) gets it when it next comes online.
    pub fn set_avatar(
        &mut self,
        image: Option<Bytes>,
        sessions: &mut dyn Sessions,
    ) -> Result<(), FileError> {
        let image = image.unwrap_or_default();
        if image.len() > MAX_AVATAR_SIZE {
            return Err(FileError::AvatarTooLarge(image.len()));
        }
        self.avatar = Some(Avatar::new(image));
        let online: Vec<FriendNumber> = self
            .friend_numbers()
            .filter(|&n| self.is_online(n))
            .collect();
        for number in online {
            self.offer_avatar(number, sessions);
        }
        Ok(())
    }

    /// Our avatar: `None` if never set, empty if set to none.
    pub fn avatar(&self) -> Option<&Bytes> {
        self.avatar.as_ref().map(|a| &a.image)
    }

    /// Offers our avatar, if we set one, to online friend `number`.
    fn offer_avatar(&mut self, number: FriendNumber, sessions: &mut dyn Sessions) {
        let Some(avatar) = self.avatar.clone() else {
            return;
        };
        if self
            .with_files(number, sessions, |files, cx| files.send_avatar(cx, &avatar))
            .is_err()
        {
            self.stats.avatar_not_offered += 1;
        }
    }

    /// Accepts (or resumes), pauses or kills a transfer with an online
    /// friend, checked as c-toxcore's `file_control` checks it.
    pub fn file_control(
        &mut self,
        number: FriendNumber,
        file: FileNumber,
        control: Control,
        sessions: &mut dyn Sessions,
    ) -> Result<(), FileError> {
        self.with_files(number, sessions, |files, cx| {
            files.control(cx, file, control)
        })
    }

    /// Asks the sender of a file we were offered to start at `position`:
    /// only before accepting, and below the size (c-toxcore `file_seek`).
    pub fn file_seek(
        &mut self,
        number: FriendNumber,
        file: FileNumber,
        position: u64,
        sessions: &mut dyn Sessions,
    ) -> Result<(), FileError> {
        self.with_files(number, sessions, |files, cx| files.seek(cx, file, position))
    }

    /// Answers the oldest open [`Event::FileChunkRequest`] of a file we
    /// send: `data` must start at its position and have its length (a
    /// stream may send fewer bytes, which ends it). The chunk leaves as
    /// bulk room allows.
    pub fn file_send_chunk(
        &mut self,
        number: FriendNumber,
        file: FileNumber,
        position: u64,
        data: &[u8],
        sessions: &mut dyn Sessions,
    ) -> Result<(), FileError> {
        self.with_files(number, sessions, |files, cx| {
            files.send_chunk(cx, file, position, data)
        })
    }

    /// Fills the bulk room sessions have freed since the last call: the
    /// session numbers queued chunks as congestion control lets them go,
    /// not only when acknowledgements arrive, so the driver calls this
    /// after sending, and data keeps flowing at the link's pace rather
    /// than one queue's worth per acknowledgement. Cheap when nothing is
    /// being sent; returns whether a transfer of ours was running.
    pub fn pump_files(&mut self, sessions: &mut dyn Sessions) -> bool {
        let mut sending = false;
        for (number, friend) in self.friends.iter_mut().enumerate() {
            let Some(friend) = friend else {
                continue;
            };
            if friend.link != Link::Online || !friend.files.is_sending() {
                continue;
            }
            let Ok(number) = FriendNumber::try_from(number) else {
                continue;
            };
            let mut cx = Cx {
                friend: number,
                key: friend.public_key,
                sessions: &mut *sessions,
                events: &mut self.events,
                stats: &mut self.stats,
            };
            friend.files.pump(&mut cx);
            sending = true;
        }
        sending
    }

    /// Whether a transfer of ours to an online friend is running.
    pub fn is_sending_files(&self) -> bool {
        self.friends
            .iter()
            .flatten()
            .any(|f| f.link == Link::Online && f.files.is_sending())
    }

    /// What there is to know of a transfer with friend `number`.
    pub fn file_info(&self, number: FriendNumber, file: FileNumber) -> Option<FileInfo> {
        self.friend(number)?.files.info(file)
    }

    /// Runs `f` on an online friend's transfers.
    fn with_files<T>(
        &mut self,
        number: FriendNumber,
        sessions: &mut dyn Sessions,
        f: impl FnOnce(&mut FileTransfers, &mut Cx<'_>) -> Result<T, FileError>,
    ) -> Result<T, FileError> {
        let friend = slot_mut(&mut self.friends, number).ok_or(FileError::NoFriend(number))?;
        if friend.link != Link::Online {
            return Err(FileError::NotOnline(number));
        }
        let mut cx = Cx {
            friend: number,
            key: friend.public_key,
            sessions,
            events: &mut self.events,
            stats: &mut self.stats,
        };
        f(&mut friend.files, &mut cx)
    }

    /// A friend request over a session, checked as c-toxcore's
    /// `friendreq_handlepacket` does, in its order: a repeat, then the
    /// nospam, then the filter (already a friend).
    fn receive_friend_request(&mut self, sender: PublicKey, request: FriendRequest) {
        if self.received_requests.contains(&sender) {
            self.stats.dropped_repeated_request += 1;
            return;
        }
        if request.nospam() != self.nospam {
            self.stats.dropped_wrong_nospam += 1;
            return;
        }
        if self.numbers.contains_key(&sender) {
            self.stats.dropped_request_from_friend += 1;
            return;
        }
        self.received_requests.remember(sender);
        self.events.push_back(Event::FriendRequest {
            public_key: sender,
            message: request.into_message(),
        });
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn friend(&self, number: FriendNumber) -> Option<&Friend> {
        self.friends.get(number as usize)?.as_ref()
    }

    fn friend_mut(&mut self, number: FriendNumber) -> Result<&mut Friend, MessengerError> {
        slot_mut(&mut self.friends, number).ok_or(MessengerError::NoFriend(number))
    }

    fn by_key_mut(&mut self, public_key: &PublicKey) -> Option<&mut Friend> {
        let number = *self.numbers.get(public_key)?;
        slot_mut(&mut self.friends, number)
    }

    fn online_key(&self, number: FriendNumber) -> Result<PublicKey, MessengerError> {
        let friend = self
            .friend(number)
            .ok_or(MessengerError::NoFriend(number))?;
        if friend.link == Link::Online {
            Ok(friend.public_key)
        } else {
            Err(MessengerError::NotOnline(number))
        }
    }

    /// Sends `packet` to every online friend.
    fn broadcast(&self, packet: &Packet, sessions: &mut dyn Sessions) {
        for friend in self.friends.iter().flatten() {
            if friend.link == Link::Online {
                send(sessions, &friend.public_key, packet);
            }
        }
    }
}

/// What a friend is told when it comes online (M17).
fn push_profile(sessions: &mut dyn Sessions, friend: &PublicKey, profile: &Profile, we_type: bool) {
    // Our own profile was checked when set, so these build.
    if let Ok(name) = Nickname::new(profile.name.clone()) {
        send(sessions, friend, &Packet::Nickname(name));
    }
    if let Ok(text) = StatusMessage::new(profile.status_message.clone()) {
        send(sessions, friend, &Packet::StatusMessage(text));
    }
    let status = UserStatusPacket {
        status: profile.status,
    };
    send(sessions, friend, &Packet::UserStatus(status));
    if we_type {
        send(
            sessions,
            friend,
            &Packet::Typing(Typing { is_typing: true }),
        );
    }
}

/// Sends a lossless packet; its packet number.
fn send(sessions: &mut dyn Sessions, friend: &PublicKey, packet: &Packet) -> Option<u32> {
    sessions.send_lossless(friend, Bytes::from(packet.to_bytes()))
}

#[cfg(test)]
mod tests;

/// Friend `number`'s entry. A free function rather than a method, so that
/// it borrows the friend list alone, next to the events and stats.
fn slot_mut(friends: &mut [Option<Friend>], number: FriendNumber) -> Option<&mut Friend> {
    friends.get_mut(number as usize)?.as_mut()
}
