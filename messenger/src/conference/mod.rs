//! Conferences (the old group chats of c-toxcore 0.2.18's `group.c`): the
//! typed contents of the conference packets and the save-file section
//! (checklist L8, G1–G9 and G12; spec "Group", "State Format"), and the
//! state machine that runs them (G1–G12).
//!
//! [`packet`](crate::packet) carries packets 96–100 and 199 as opaque
//! [`ConferencePacket`]s: the id and the bytes after it. The codecs read
//! and write those bytes, one file per protocol concept:
//!
//! | module    | what                                                   | check |
//! |-----------|--------------------------------------------------------|-------|
//! | `id`      | [`ConferenceId`] (type + 32-byte id), [`GroupNumber`], [`PeerNumber`] | G1 |
//! | `text`    | [`PeerName`] (0..=128 bytes), [`Title`] (1..=128)      | G6, G7 |
//! | `invite`  | 96: [`InvitePacket`]: invite, accept, member accept    | G2–G4 |
//! | `online`  | 97: [`OnlinePacket`]                                   | G5    |
//! | `direct`  | 98: [`DirectPacket`]: introduced, query, peer response, title | G6 |
//! | `message` | 99: [`MessagePacket`] and its [`MessageBody`] ids      | G7    |
//! | `rejoin`  | 100: [`RejoinPacket`]                                  | G8    |
//! | `lossy`   | 199: [`LossyPacket`]                                   | G9    |
//! | `save`    | state section 20: [`SavedConferences`]                 | G12   |
//!
//! Each packet type's [`Encode`] and [`Decode`] cover the bytes *after*
//! the packet id, which is what c-toxcore's handlers are given;
//! [`ConferencePayload`] goes between them and [`ConferencePacket`].
//!
//! As in [`packet`](crate::packet), a decoder accepts what c-toxcore
//! 0.2.18's handlers act on and refuses what they drop, and building is
//! checked so that encoding cannot fail; each file says where c-toxcore
//! ignores surplus bytes (and we with it), and where it differs from the
//! spec (marked SPEC≠CODE; c-toxcore wins). In short: invite sub-packet 2
//! is not in the spec; peer names in a peer response may be 255 bytes by
//! the spec but 128 in c-toxcore; the save's message numbers are written
//! 65536 (lossy: 8192) ahead of the live ones, which the spec does not say.
//!
//! The state machine, [`Conferences`], is built on them, sans-IO: real
//! keys and packets in; transmits, connection requests and events out.
//!
//! | module        | what                                                      | check   |
//! |---------------|-----------------------------------------------------------|---------|
//! | `conferences` | [`Conferences`]: the tox.h calls, dispatch, locks, save   | all     |
//! | `event`       | what goes out: [`ConferenceTransmit`], [`ConnectionRequest`], [`ConferenceEvent`], [`ConferenceError`] | — |
//! | `group`       | one conference: adding, freezing, thawing peers; sending   | G5–G8   |
//! | `receive`     | what one conference does with each packet                  | G2–G9   |
//! | `timers`      | pings, freezing, closest connections, cleaning             | G10, G11 |
//! | `peers`       | active and frozen members                                  | G7, G11 |
//! | `connections` | the ≤ 16 group connections and why each is kept            | G5, G10 |
//! | `closest`     | the 4 closest peers on the key circle                      | G10     |
//! | `dedup`       | the 8-highest message window and the 256 lossy window      | G7, G9  |
//!
//! In short, as c-toxcore 0.2.18 does it: a founder is peer 0; an
//! invitee's accept makes the inviter draw it a random peer number,
//! announce it (new-peer message) and keep their connection as an
//! introduction until the joiner hears the inviter through someone else
//! with more than 4 connections. A connection carries messages once both
//! sides sent an online packet; the first one, or one to an introducer,
//! asks for the peer list. Each member connects to its 4 closest peers by
//! key; every message is relayed to every other online connection and
//! deduplicated by the author's 8 highest message numbers. Everyone pings
//! every 20 s; a peer silent for 60 s is frozen (at most 128 kept) and
//! asked back (rejoin) whenever a session to it comes up.

mod closest;
mod conferences;
mod connections;
mod dedup;
mod direct;
mod event;
mod group;
mod id;
mod invite;
mod lossy;
mod message;
mod online;
mod peers;
mod receive;
mod rejoin;
mod save;
mod text;
mod timers;

use toxide_core::{Decode, DecodeError, Encode};

use crate::packet::{ConferencePacket, ConferencePacketKind};

pub use conferences::{Conferences, MAX_CONFERENCES};
pub use direct::{
    DirectBody, DirectPacket, MAX_PEER_RESPONSE_DATA_LEN, PEER_INFO_MIN_SIZE, PEER_INTRODUCED_ID,
    PEER_QUERY_ID, PEER_RESPONSE_ID, PEER_TITLE_ID, PeerInfo, PeerResponse, peer_responses,
};
pub use event::{
    ConferenceError, ConferenceEvent, ConferenceNumber, ConferenceTransmit, ConnectionRequest,
    PeerIndex,
};
pub use id::{
    CONFERENCE_ID_SIZE, ConferenceId, ConferenceType, GROUP_ID_LENGTH, GroupNumber, PeerNumber,
};
pub use invite::{
    INVITE_ACCEPT_ID, INVITE_ACCEPT_PACKET_SIZE, INVITE_COOKIE_SIZE, INVITE_ID, INVITE_MEMBER_ID,
    INVITE_MEMBER_PACKET_SIZE, INVITE_PACKET_SIZE, Invite, InviteAccept, InvitePacket,
};
pub use lossy::{GROUP_AUDIO_PACKET_ID, LOSSY_HEADER_LEN, LossyPacket, MAX_LOSSY_DATA_LEN};
pub use message::{
    ChatText, GROUP_MESSAGE_FREEZE_PEER_ID, GROUP_MESSAGE_KILL_PEER_ID,
    GROUP_MESSAGE_KILL_PEER_LENGTH, GROUP_MESSAGE_NAME_ID, GROUP_MESSAGE_NEW_PEER_ID,
    GROUP_MESSAGE_NEW_PEER_LENGTH, GROUP_MESSAGE_PING_ID, GROUP_MESSAGE_TITLE_ID,
    MAX_GROUP_MESSAGE_DATA_LEN, MIN_MESSAGE_PACKET_LEN, MessageBody, MessagePacket,
};
pub use online::{ONLINE_PACKET_DATA_SIZE, OnlinePacket};
pub use peers::{MAX_FROZEN_DEFAULT, MAX_PEERS};
pub use rejoin::RejoinPacket;
pub use save::{
    SAVE_OFFSET_LOSSY_MESSAGE_NUMBER, SAVE_OFFSET_MESSAGE_NUMBER, SAVED_CONF_SIZE_CONSTANT,
    SAVED_PEER_SIZE_CONSTANT, SavedConference, SavedConferences, SavedPeer,
    saved_lossy_message_number, saved_message_number,
};
pub use text::{PeerName, Title};
pub use timers::{FREEZE_TIMEOUT, GROUP_PING_INTERVAL};

/// Any conference packet, typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConferencePayload {
    /// 96.
    Invite(InvitePacket),
    /// 97.
    Online(OnlinePacket),
    /// 98.
    Direct(DirectPacket),
    /// 99.
    Message(MessagePacket),
    /// 100.
    Rejoin(RejoinPacket),
    /// 199.
    Lossy(LossyPacket),
}

impl ConferencePayload {
    /// Reads the bytes of an opaque conference packet by its kind.
    pub fn from_packet(packet: &ConferencePacket) -> Result<Self, DecodeError> {
        let data = packet.data();
        Ok(match packet.kind() {
            ConferencePacketKind::Invite => Self::Invite(InvitePacket::from_bytes(data)?),
            ConferencePacketKind::Online => Self::Online(OnlinePacket::from_bytes(data)?),
            ConferencePacketKind::Direct => Self::Direct(DirectPacket::from_bytes(data)?),
            ConferencePacketKind::Message => Self::Message(MessagePacket::from_bytes(data)?),
            ConferencePacketKind::Rejoin => Self::Rejoin(RejoinPacket::from_bytes(data)?),
            ConferencePacketKind::Lossy => Self::Lossy(LossyPacket::from_bytes(data)?),
        })
    }

    /// Which packet id it travels under.
    pub const fn kind(&self) -> ConferencePacketKind {
        match self {
            Self::Invite(_) => ConferencePacketKind::Invite,
            Self::Online(_) => ConferencePacketKind::Online,
            Self::Direct(_) => ConferencePacketKind::Direct,
            Self::Message(_) => ConferencePacketKind::Message,
            Self::Rejoin(_) => ConferencePacketKind::Rejoin,
            Self::Lossy(_) => ConferencePacketKind::Lossy,
        }
    }

    /// The opaque packet to hand to the friend connection. Every typed
    /// packet fits one data packet and meets its kind's minimum length, so
    /// this cannot fail.
    pub fn to_packet(&self) -> ConferencePacket {
        let data = match self {
            Self::Invite(p) => p.to_bytes(),
            Self::Online(p) => p.to_bytes(),
            Self::Direct(p) => p.to_bytes(),
            Self::Message(p) => p.to_bytes(),
            Self::Rejoin(p) => p.to_bytes(),
            Self::Lossy(p) => p.to_bytes(),
        };
        ConferencePacket::from_typed(self.kind(), data)
    }
}

#[cfg(test)]
mod tests;
