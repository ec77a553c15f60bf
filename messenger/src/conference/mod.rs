//! Conferences (the old group chats of c-toxcore 0.2.18's `group.c`): the
//! typed contents of the conference packets and the save-file section
//! (checklist L8, G1–G9 and G12; spec "Group", "State Format").
//!
//! [`packet`](crate::packet) carries packets 96–100 and 199 as opaque
//! [`ConferencePacket`]s: the id and the bytes after it. This module reads
//! and writes those bytes, one file per protocol concept:
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
//! Only codecs live here: the conference state machine (connections to the
//! four closest peers, relaying, duplicate windows, freezing, timers) is
//! built on them.

mod direct;
mod id;
mod invite;
mod lossy;
mod message;
mod online;
mod rejoin;
mod save;
mod text;

use toxide_core::{Decode, DecodeError, Encode};

use crate::packet::{ConferencePacket, ConferencePacketKind};

pub use direct::{
    DirectBody, DirectPacket, MAX_PEER_RESPONSE_DATA_LEN, PEER_INFO_MIN_SIZE, PEER_INTRODUCED_ID,
    PEER_QUERY_ID, PEER_RESPONSE_ID, PEER_TITLE_ID, PeerInfo, PeerResponse, peer_responses,
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
pub use rejoin::RejoinPacket;
pub use save::{
    SAVE_OFFSET_LOSSY_MESSAGE_NUMBER, SAVE_OFFSET_MESSAGE_NUMBER, SAVED_CONF_SIZE_CONSTANT,
    SAVED_PEER_SIZE_CONSTANT, SavedConference, SavedConferences, SavedPeer,
    saved_lossy_message_number, saved_message_number,
};
pub use text::{PeerName, Title};

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
mod tests {
    use super::*;
    use crate::packet::{MAX_CRYPTO_DATA_SIZE, Packet};
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    fn arb_payload() -> impl Strategy<Value = ConferencePayload> {
        prop_oneof![
            invite::tests::arb().prop_map(ConferencePayload::Invite),
            online::tests::arb().prop_map(ConferencePayload::Online),
            direct::tests::arb().prop_map(ConferencePayload::Direct),
            message::tests::arb().prop_map(ConferencePayload::Message),
            rejoin::tests::arb().prop_map(ConferencePayload::Rejoin),
            lossy::tests::arb().prop_map(ConferencePayload::Lossy),
        ]
    }

    /// Whole packets, id first, from the layouts in the spec and
    /// `group.c`.
    #[test]
    fn whole_packets_byte_by_byte() {
        let id = ConferenceId {
            conference_type: ConferenceType::Text,
            id: [0x77; 32],
        };
        let mut invite = vec![0x60, 0x00, 0x00, 0x05, 0x00];
        invite.extend_from_slice(&[0x77; 32]);
        let mut online = vec![0x61, 0x00, 0x05, 0x00];
        online.extend_from_slice(&[0x77; 32]);
        let mut rejoin = vec![0x64, 0x00];
        rejoin.extend_from_slice(&[0x77; 32]);
        let cases = [
            (
                ConferencePayload::Invite(InvitePacket::Invite(Invite {
                    group_number: GroupNumber(5),
                    id,
                })),
                invite,
            ),
            (
                ConferencePayload::Online(OnlinePacket {
                    group_number: GroupNumber(5),
                    id,
                }),
                online,
            ),
            (
                ConferencePayload::Direct(DirectPacket {
                    group_number: GroupNumber(3),
                    body: DirectBody::PeerQuery,
                }),
                vec![0x62, 0x00, 0x03, 0x08],
            ),
            (
                ConferencePayload::Message(MessagePacket {
                    group_number: GroupNumber(3),
                    peer_number: PeerNumber(0),
                    message_number: 1,
                    body: MessageBody::Message(ChatText::new("yo").unwrap()),
                }),
                b"\x63\x00\x03\x00\x00\x00\x00\x00\x01\x40yo".to_vec(),
            ),
            (ConferencePayload::Rejoin(RejoinPacket { id }), rejoin),
            (
                ConferencePayload::Lossy(
                    LossyPacket::new(GroupNumber(3), PeerNumber(9), 2, 192, vec![1, 2]).unwrap(),
                ),
                vec![0xc7, 0x00, 0x03, 0x00, 0x09, 0x00, 0x02, 0xc0, 0x01, 0x02],
            ),
        ];
        for (payload, bytes) in cases {
            let packet = payload.to_packet();
            assert_eq!(packet.to_bytes(), bytes, "{payload:?}");
            let Ok(Packet::Conference(back)) = Packet::decode(&bytes) else {
                panic!("not a conference packet: {bytes:?}");
            };
            assert_eq!(ConferencePayload::from_packet(&back), Ok(payload));
        }
    }

    proptest! {
        #[test]
        fn round_trips_through_the_opaque_packet(payload in arb_payload()) {
            let bytes = payload.to_packet().to_bytes();
            prop_assert!(bytes.len() <= MAX_CRYPTO_DATA_SIZE);
            let Ok(Packet::Conference(packet)) = Packet::decode(&bytes) else {
                panic!("not a conference packet");
            };
            prop_assert_eq!(packet.kind(), payload.kind());
            prop_assert_eq!(ConferencePayload::from_packet(&packet), Ok(payload));
        }

        #[test]
        fn any_conference_packet_never_panics(
            id in proptest::sample::select(vec![96u8, 97, 98, 99, 100, 199]),
            tail in garbage(1400),
        ) {
            let mut bytes = vec![id];
            bytes.extend_from_slice(&tail);
            if let Ok(packet) = ConferencePacket::from_bytes(&bytes) {
                if let Ok(payload) = ConferencePayload::from_packet(&packet) {
                    let again = payload.to_packet();
                    prop_assert_eq!(ConferencePayload::from_packet(&again), Ok(payload));
                }
            }
        }
    }
}
