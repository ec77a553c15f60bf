//! What a [`Tox`](super::Tox) instance reports, as one stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;
use toxide_core::PublicKey;
use toxide_messenger::conference::{
    ConferenceEvent, ConferenceNumber, Invite as ConferenceInvite, PeerIndex,
};
use toxide_messenger::file::{Control, FileNumber};
use toxide_messenger::messenger::{self, FriendNumber, MessageId};
use toxide_messenger::packet::{MessageKind, UserStatus};
use toxide_onion::ClientEvent;

use super::transfer::IncomingFile;
use crate::driver::WeakDriverHandle;
use crate::{Connection, StackEvent};

/// Something that happened to us or a friend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToxEvent {
    /// We became reachable through the onion, stopped being, or moved
    /// between UDP and TCP relays (tox.h's self connection status).
    SelfConnection {
        /// How now.
        connection: Connection,
    },
    /// A stranger asks to be our friend; accept with
    /// [`Tox::add_friend_norequest`](super::Tox::add_friend_norequest).
    FriendRequest {
        /// Their long-term key.
        public_key: PublicKey,
        /// Their message, as sent (c-toxcore checks no UTF-8).
        message: Vec<u8>,
    },
    /// A friend came online, went offline, or moved between a relay and
    /// direct UDP (tox.h's friend connection status).
    FriendConnection {
        /// Who.
        friend: FriendNumber,
        /// How now ([`Connection::None`]: offline).
        connection: Connection,
    },
    /// A message or action from a friend.
    Message {
        /// From whom.
        friend: FriendNumber,
        /// Normal or action.
        kind: MessageKind,
        /// As sent.
        text: Vec<u8>,
    },
    /// A friend has a message we sent.
    ReadReceipt {
        /// Who.
        friend: FriendNumber,
        /// What [`Tox::send_message`](super::Tox::send_message) returned.
        message_id: MessageId,
    },
    /// A friend's name changed.
    FriendName {
        /// Whose.
        friend: FriendNumber,
        /// The name.
        name: Vec<u8>,
    },
    /// A friend's status message changed.
    FriendStatusMessage {
        /// Whose.
        friend: FriendNumber,
        /// The text.
        text: Vec<u8>,
    },
    /// A friend's user status changed.
    FriendStatus {
        /// Whose.
        friend: FriendNumber,
        /// The status.
        status: UserStatus,
    },
    /// A friend started or stopped typing.
    FriendTyping {
        /// Who.
        friend: FriendNumber,
        /// Typing now.
        typing: bool,
    },
    /// A custom lossless packet (id 160–191 first).
    FriendLosslessPacket {
        /// From whom.
        friend: FriendNumber,
        /// Id, then data.
        data: Vec<u8>,
    },
    /// A custom lossy packet (id 200–254 first).
    FriendLossyPacket {
        /// From whom.
        friend: FriendNumber,
        /// Id, then data.
        data: Vec<u8>,
    },
    /// A friend offers a file: accept, seek or refuse it through the
    /// offer. Avatars come this way too
    /// ([`IncomingFile::is_avatar`](super::IncomingFile::is_avatar)):
    /// whether to take one is the application's call, as it alone knows
    /// which image it holds. Our own avatar's transfers are the
    /// instance's: no event tells of them.
    FileOffer(IncomingFile),
    /// A friend accepted, paused, resumed or cancelled a transfer. The
    /// transfer's handle sees it too; this is for applications that
    /// track transfers by number.
    FileControl {
        /// Who.
        friend: FriendNumber,
        /// Which transfer.
        file: FileNumber,
        /// What they did (`Accept` also means a resume).
        control: Control,
    },
    /// A friend invites us to a conference: join with
    /// [`Tox::conference_join`](super::Tox::conference_join).
    ConferenceInvite {
        /// Who invites.
        friend: FriendNumber,
        /// What to join with (text or audio/video: `invite.id`).
        invite: ConferenceInvite,
    },
    /// We have our place in a conference we joined: we can send.
    ConferenceConnected {
        /// Which conference.
        conference: ConferenceNumber,
    },
    /// A conference message or action (ours too, when a peer relays it
    /// back, as c-toxcore shows it).
    ConferenceMessage {
        /// Which conference.
        conference: ConferenceNumber,
        /// The author's index now.
        peer: PeerIndex,
        /// The author's key.
        peer_key: PublicKey,
        /// Normal or action.
        kind: MessageKind,
        /// As sent.
        text: Vec<u8>,
    },
    /// A conference's title changed.
    ConferenceTitle {
        /// Which conference.
        conference: ConferenceNumber,
        /// Who set it; `None` when it came with the peer list.
        peer: Option<PeerIndex>,
        /// The title.
        title: Vec<u8>,
    },
    /// A conference peer's name changed.
    ConferencePeerName {
        /// Which conference.
        conference: ConferenceNumber,
        /// Whose, by index now.
        peer: PeerIndex,
        /// Whose, by key.
        peer_key: PublicKey,
        /// The name.
        name: Vec<u8>,
    },
    /// Peers joined, left, froze or came back: peer indices changed
    /// (re-read [`Tox::conference`](super::Tox::conference)).
    ConferencePeerListChanged {
        /// Which conference.
        conference: ConferenceNumber,
    },
    /// A transfer ended because the friend went offline; its handle ends
    /// with [`FileEnded::FriendOffline`](super::FileEnded::FriendOffline).
    FileBroken {
        /// Whose.
        friend: FriendNumber,
        /// Which transfer.
        file: FileNumber,
    },
}

impl ToxEvent {
    /// The event a stack event means to an application, if any; offers
    /// get `handle` to be answered through.
    pub(super) fn from_stack(event: StackEvent, handle: &WeakDriverHandle) -> Option<Self> {
        use messenger::Event as M;
        Some(match event {
            StackEvent::SelfConnection(connection) => Self::SelfConnection { connection },
            StackEvent::ConferenceInvite { friend, invite } => {
                Self::ConferenceInvite { friend, invite }
            }
            StackEvent::Conference(event) => return Self::from_conference(event),
            StackEvent::FriendConnection { friend, connection } => {
                Self::FriendConnection { friend, connection }
            }
            StackEvent::Onion(ClientEvent::FriendRequest {
                public_key,
                message,
            }) => Self::FriendRequest {
                public_key,
                message,
            },
            StackEvent::FileOffered {
                transfer,
                event:
                    M::FileReceive {
                        friend,
                        file,
                        kind,
                        size,
                        file_id,
                        name,
                    },
            } => Self::FileOffer(IncomingFile {
                friend,
                file,
                transfer,
                kind,
                size: (size != toxide_messenger::packet::FILESIZE_UNKNOWN).then_some(size),
                file_id,
                name,
                handle: handle.clone(),
            }),
            StackEvent::Messenger(event) => match event {
                // Over a session rather than the onion: the same request.
                M::FriendRequest {
                    public_key,
                    message,
                } => Self::FriendRequest {
                    public_key,
                    message,
                },
                // The stack's `FriendConnection`, which follows, says how.
                M::ConnectionStatus { .. } => return None,
                M::Message { friend, kind, text } => Self::Message { friend, kind, text },
                M::ReadReceipt { friend, message_id } => Self::ReadReceipt { friend, message_id },
                M::Name { friend, name } => Self::FriendName { friend, name },
                M::StatusMessage { friend, text } => Self::FriendStatusMessage { friend, text },
                M::UserStatus { friend, status } => Self::FriendStatus { friend, status },
                M::Typing { friend, typing } => Self::FriendTyping { friend, typing },
                M::CustomLossless { friend, data } => Self::FriendLosslessPacket { friend, data },
                M::CustomLossy { friend, data } => Self::FriendLossyPacket { friend, data },
                // Without the router's number no command could name it:
                // only a bare driver leaves offers unrouted.
                M::FileReceive { .. } => return None,
                M::FileControl {
                    friend,
                    file,
                    control,
                } => Self::FileControl {
                    friend,
                    file,
                    control,
                },
                M::FileBroken { friend, file } => Self::FileBroken { friend, file },
                // The data of transfers: their handles carry it.
                M::FileChunkRequest { .. } | M::FileChunk { .. } => return None,
            },
            _ => return None,
        })
    }

    /// A conference event as the application sees it (`None` for lossy
    /// packets, which no API takes yet).
    fn from_conference(event: ConferenceEvent) -> Option<Self> {
        Some(match event {
            ConferenceEvent::Connected(conference) => Self::ConferenceConnected { conference },
            ConferenceEvent::Message {
                conference,
                peer,
                peer_pk,
                kind,
                text,
            } => Self::ConferenceMessage {
                conference,
                peer,
                peer_key: peer_pk,
                kind,
                text,
            },
            ConferenceEvent::Title {
                conference,
                peer,
                title,
            } => Self::ConferenceTitle {
                conference,
                peer,
                title,
            },
            ConferenceEvent::PeerName {
                conference,
                peer,
                peer_pk,
                name,
            } => Self::ConferencePeerName {
                conference,
                peer,
                peer_key: peer_pk,
                name,
            },
            ConferenceEvent::PeerListChanged(conference) => {
                Self::ConferencePeerListChanged { conference }
            }
            // The stack turns invites into `ConferenceInvite`.
            ConferenceEvent::Invited { .. } | ConferenceEvent::Lossy { .. } => return None,
        })
    }

    /// Whether the driver should hand `event` to the application at all
    /// (the rest is the stack's business).
    pub(super) fn wanted(event: &StackEvent) -> bool {
        matches!(
            event,
            StackEvent::Messenger(_)
                | StackEvent::FileOffered { .. }
                | StackEvent::SelfConnection(_)
                | StackEvent::Conference(_)
                | StackEvent::ConferenceInvite { .. }
                | StackEvent::FriendConnection { .. }
                | StackEvent::Onion(ClientEvent::FriendRequest { .. })
        )
    }
}

/// The events of one [`Tox`](super::Tox) instance, in order, none lost.
///
/// Keep reading: while the application has not taken the events queued
/// (a few hundred), the instance reads no datagram, which slows friends
/// down rather than dropping their messages. The stream ends when the
/// instance has shut down.
#[derive(Debug)]
pub struct ToxEvents {
    receiver: mpsc::Receiver<StackEvent>,
    handle: WeakDriverHandle,
}

impl ToxEvents {
    pub(super) fn new(receiver: mpsc::Receiver<StackEvent>, handle: WeakDriverHandle) -> Self {
        Self { receiver, handle }
    }

    /// The next event; `None` once the instance has shut down.
    pub async fn recv(&mut self) -> Option<ToxEvent> {
        loop {
            let event = self.receiver.recv().await?;
            if let Some(event) = ToxEvent::from_stack(event, &self.handle) {
                return Some(event);
            }
        }
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Option<ToxEvent> {
        while let Ok(event) = self.receiver.try_recv() {
            if let Some(event) = ToxEvent::from_stack(event, &self.handle) {
                return Some(event);
            }
        }
        None
    }
}

impl Stream for ToxEvents {
    type Item = ToxEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ToxEvent>> {
        loop {
            match self.receiver.poll_recv(cx) {
                Poll::Ready(Some(event)) => {
                    if let Some(event) = ToxEvent::from_stack(event, &self.handle) {
                        return Poll::Ready(Some(event));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
