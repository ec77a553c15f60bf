//! What the conference state machine hands its driver: packets to send,
//! connections to hold, things to tell the client, and the errors of the
//! tox.h calls.
//!
//! c-toxcore's `group.c` calls into the friend connection layer
//! (`new_friend_connection`, `friend_connection_lock`,
//! `kill_friend_connection`, `write_cryptpacket`) and out to the client's
//! callbacks (`g_callback_group_*`). Here those calls become values the
//! driver polls, so the machine owns no socket, clock or task.

use toxide_core::PublicKey;

use super::id::ConferenceType;
use super::invite::Invite;
use crate::packet::{ConferencePacket, MessageKind};

/// A conference's number, as tox.h hands them out (`conference_number`):
/// the lowest free index when created, joined or loaded, stable until the
/// conference is deleted. On the wire it is our group number (16 bits),
/// so at most 65536 conferences exist at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConferenceNumber(pub u32);

/// tox.h's `peer_number` in the conference calls: an index into the list
/// of active peers (ourselves included). It is only valid until the next
/// [`ConferenceEvent::PeerListChanged`]: c-toxcore moves the last peer
/// into the place of one that leaves (`delpeer`), so a client re-reads the
/// list on that event. Events carry the peer's public key as well, so a
/// driver that drains events late can still tell who it was.
pub type PeerIndex = u32;

/// A packet for the friend connection to `to` (c-toxcore
/// `write_cryptpacket` / `send_lossy_cryptpacket` on the friend
/// connection of that key). Invites (96) go to a Messenger friend; every
/// other conference packet goes to a peer the conference asked a
/// connection for, or one already connected for another reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceTransmit {
    /// The peer's long-term public key.
    pub to: PublicKey,
    /// Whether it goes as a lossy packet (only 199, group audio).
    pub lossy: bool,
    /// The packet, id included.
    pub packet: ConferencePacket,
}

/// A change in which friend connections the conferences hold
/// (c-toxcore's `new_friend_connection` / `friend_connection_lock` and
/// `kill_friend_connection`, counted across all conferences here: one
/// [`Want`](ConnectionRequest::Want) when the first conference needs a
/// peer, one [`Release`](ConnectionRequest::Release) when the last one
/// lets it go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRequest {
    /// Open (or keep) a net_crypto session to this peer, friend or not.
    Want {
        /// The peer's long-term key.
        real_pk: PublicKey,
        /// Its DHT key as the conference heard it (from a new-peer message
        /// or peer response), so that the session can start without an
        /// onion search (c-toxcore `set_dht_temp_pk`); `None` when the
        /// conference does not know it (a friend met through an invite).
        dht_pk: Option<PublicKey>,
    },
    /// No conference needs the session any more; the layer below closes
    /// it unless it holds it for another reason (a Messenger friend).
    Release {
        /// The peer's long-term key.
        real_pk: PublicKey,
    },
}

/// Something for the client (c-toxcore's conference callbacks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConferenceEvent {
    /// A friend invites us (`tox_conference_invite_cb`); join with
    /// [`Conferences::join`](super::Conferences::join). Only for
    /// conferences we are not in: an invite to one we are connected to is
    /// answered at once with a member accept (G4), as c-toxcore does.
    Invited {
        /// Who invites.
        friend: PublicKey,
        /// Text or audio/video (also in `invite.id`).
        kind: ConferenceType,
        /// The invite; [`Invite::cookie`] gives tox.h's cookie bytes.
        invite: Invite,
    },
    /// We found ourselves in the peer list after joining: we have our peer
    /// number and can send (`tox_conference_connected_cb`).
    Connected(ConferenceNumber),
    /// A chat message or action, ours included: c-toxcore shows a sender
    /// its own message when a peer relays it back (`tox_conference_message_cb`).
    Message {
        /// Which conference.
        conference: ConferenceNumber,
        /// The author's index.
        peer: PeerIndex,
        /// The author's long-term key.
        peer_pk: PublicKey,
        /// Normal or action.
        kind: MessageKind,
        /// As sent (not checked for UTF-8).
        text: Vec<u8>,
    },
    /// The title changed (`tox_conference_title_cb`).
    Title {
        /// Which conference.
        conference: ConferenceNumber,
        /// Who set it; `None` when it came with the peer list (c-toxcore
        /// passes peer −1, tox.h `UINT32_MAX`).
        peer: Option<PeerIndex>,
        /// The new title.
        title: Vec<u8>,
    },
    /// A peer's name changed (`tox_conference_peer_name_cb`).
    PeerName {
        /// Which conference.
        conference: ConferenceNumber,
        /// Whose.
        peer: PeerIndex,
        /// Whose, by key.
        peer_pk: PublicKey,
        /// The name (may be empty).
        name: Vec<u8>,
    },
    /// Peers joined, left, froze or thawed: indices changed
    /// (`tox_conference_peer_list_changed_cb`).
    PeerListChanged(ConferenceNumber),
    /// A lossy packet for the handler of `message_id` (group audio is
    /// 192; c-toxcore `group_lossy_packet_registerhandler`). Only in
    /// audio/video conferences.
    Lossy {
        /// Which conference.
        conference: ConferenceNumber,
        /// The author's index.
        peer: PeerIndex,
        /// The handler id.
        message_id: u8,
        /// The data after the id.
        data: Vec<u8>,
    },
}

/// Why a tox.h conference call failed (c-toxcore's negative returns,
/// tox.h's `TOX_ERR_CONFERENCE_*`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConferenceError {
    /// No conference has that number (`…_CONFERENCE_NOT_FOUND`).
    #[error("no conference number {0}")]
    NotFound(u32),
    /// Every 16-bit group number is taken (`…_INIT`, `…_INIT_FAIL`).
    #[error("no free conference number: all 65536 are in use")]
    TooMany,
    /// We have no peer number yet, or no connection in the conference is
    /// online (`…_NO_CONNECTION`).
    #[error("not connected to conference {0}")]
    NoConnection(u32),
    /// The friend has no session up, so the packet cannot leave
    /// (`…_FAIL_SEND`).
    #[error("no session to {0} to send the packet over")]
    FriendNotConnected(PublicKey),
    /// We are in that conference already (`TOX_ERR_CONFERENCE_JOIN_DUPLICATE`).
    #[error("already in the conference this invite is for (number {0})")]
    Duplicate(u32),
    /// A text, title or lossy packet of a length c-toxcore refuses.
    #[error("{what} of {len} bytes: must be {min} to {max}")]
    InvalidLength {
        /// What was refused.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// No connection took the packet (`…_FAIL_SEND`).
    #[error("no connection of conference {0} took the packet")]
    FailSend(u32),
    /// No peer has that index (`…_PEER_NOT_FOUND`).
    #[error("conference {conference} has no peer {peer}")]
    PeerNotFound {
        /// The conference.
        conference: u32,
        /// The index asked for.
        peer: PeerIndex,
    },
}
