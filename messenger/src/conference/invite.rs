//! Conference invites (packet 96): the invite, its acceptance, and the
//! acceptance by someone who is already a member.
//!
//! Checklist G2–G4; spec "Group" (invite packet, response packet);
//! c-toxcore `invite_friend`, `send_invite_response` and
//! `handle_friend_invite_packet` in `group.c`.
//!
//! Layouts after the packet id, each of exactly this size (c-toxcore
//! `INVITE_PACKET_SIZE`, `INVITE_ACCEPT_PACKET_SIZE`,
//! `INVITE_MEMBER_PACKET_SIZE`; any other length is dropped):
//!
//! | sub-id | bytes after it                                                  | total |
//! |--------|-----------------------------------------------------------------|-------|
//! | 0      | `[inviter's group no 2][conference id 33]`                       | 36    |
//! | 1      | `[our new group no 2][inviter's group no 2][conference id 33]`   | 38    |
//! | 2      | as 1, then `[our peer number 2]`                                 | 40    |
//!
//! Sub-packet 2 (`INVITE_MEMBER_ID`) is **not in the spec** (SPEC≠CODE):
//! c-toxcore sends it instead of 1 when the invitee is already connected to
//! the conference (a second invite, or one to a member of a split group),
//! so the inviter keeps the peer number the member has rather than drawing
//! a new one, and both sides then query each other's peer lists.
//!
//! The invite travels as a Messenger packet, so it is only accepted from an
//! online Messenger friend. The 35 bytes after sub-id 0 are what c-toxcore
//! hands the client as the invite "cookie" and wants back in
//! `tox_conference_join`; [`Invite::cookie`] and [`Invite::from_cookie`]
//! convert.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::id::{CONFERENCE_ID_SIZE, ConferenceId, GroupNumber, PeerNumber};

/// Sub-id of [`Invite`] (`INVITE_ID`).
pub const INVITE_ID: u8 = 0;
/// Sub-id of an [`InviteAccept`] from a newcomer (`INVITE_ACCEPT_ID`).
pub const INVITE_ACCEPT_ID: u8 = 1;
/// Sub-id of an [`InviteAccept`] from a member (`INVITE_MEMBER_ID`).
pub const INVITE_MEMBER_ID: u8 = 2;
/// Size of an invite after the packet id (`INVITE_PACKET_SIZE`).
pub const INVITE_PACKET_SIZE: usize = 1 + 2 + CONFERENCE_ID_SIZE;
/// Size of a newcomer's accept after the packet id
/// (`INVITE_ACCEPT_PACKET_SIZE`).
pub const INVITE_ACCEPT_PACKET_SIZE: usize = 1 + 2 * 2 + CONFERENCE_ID_SIZE;
/// Size of a member's accept after the packet id
/// (`INVITE_MEMBER_PACKET_SIZE`).
pub const INVITE_MEMBER_PACKET_SIZE: usize = INVITE_ACCEPT_PACKET_SIZE + 2;
/// Size of the cookie a client holds between the invite and joining.
pub const INVITE_COOKIE_SIZE: usize = INVITE_PACKET_SIZE - 1;

/// An invitation to a conference (sub-id 0, checklist G2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Invite {
    /// The inviter's number for the conference: the invitee puts it in its
    /// accept so the inviter knows which conference is meant.
    pub group_number: GroupNumber,
    /// The conference.
    pub id: ConferenceId,
}

impl Invite {
    /// The bytes a client is handed and gives back to join.
    pub fn cookie(&self) -> [u8; INVITE_COOKIE_SIZE] {
        let bytes = self
            .group_number
            .0
            .to_be_bytes()
            .into_iter()
            .chain([self.id.conference_type.to_u8()])
            .chain(self.id.id);
        let mut out = [0; INVITE_COOKIE_SIZE];
        for (slot, byte) in out.iter_mut().zip(bytes) {
            *slot = byte;
        }
        out
    }

    /// Reads a cookie back; refuses anything but exactly
    /// [`INVITE_COOKIE_SIZE`] bytes with a known type, as `join_groupchat`
    /// does.
    pub fn from_cookie(cookie: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(cookie);
        reader.expect_remaining(
            "conference invite cookie",
            INVITE_COOKIE_SIZE,
            INVITE_COOKIE_SIZE,
        )?;
        Ok(Self {
            group_number: GroupNumber::decode(&mut reader)?,
            id: ConferenceId::decode(&mut reader)?,
        })
    }
}

/// The answer to an [`Invite`] (sub-id 1 or 2, checklist G3–G4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InviteAccept {
    /// The accepter's number for the conference.
    pub group_number: GroupNumber,
    /// The inviter's number, copied from the invite.
    pub inviter_group_number: GroupNumber,
    /// The conference, copied from the invite; the inviter drops the
    /// accept unless it matches the conference of that number.
    pub id: ConferenceId,
    /// `None` from a newcomer (sub-id 1): the inviter draws its peer
    /// number. `Some` from a member (sub-id 2): the peer number it already
    /// has.
    pub member_peer_number: Option<PeerNumber>,
}

/// Any packet 96 (after the packet id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvitePacket {
    /// Sub-id 0.
    Invite(Invite),
    /// Sub-id 1 or 2.
    Accept(InviteAccept),
}

impl Encode for InvitePacket {
    fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Self::Invite(invite) => {
                buf.put_u8(INVITE_ID);
                invite.group_number.encode(buf);
                invite.id.encode(buf);
            }
            Self::Accept(accept) => {
                let sub_id = match accept.member_peer_number {
                    None => INVITE_ACCEPT_ID,
                    Some(_) => INVITE_MEMBER_ID,
                };
                buf.put_u8(sub_id);
                accept.group_number.encode(buf);
                accept.inviter_group_number.encode(buf);
                accept.id.encode(buf);
                if let Some(peer_number) = accept.member_peer_number {
                    peer_number.encode(buf);
                }
            }
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::Invite(_) => INVITE_PACKET_SIZE,
            Self::Accept(InviteAccept {
                member_peer_number: None,
                ..
            }) => INVITE_ACCEPT_PACKET_SIZE,
            Self::Accept(_) => INVITE_MEMBER_PACKET_SIZE,
        }
    }
}

impl Decode for InvitePacket {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "conference invite";
        // `handle_friend_invite_packet` compares the whole length with the
        // sub-packet's size before reading a field.
        let sub_id = reader.u8("conference invite sub-id")?;
        let size = match sub_id {
            INVITE_ID => INVITE_PACKET_SIZE,
            INVITE_ACCEPT_ID => INVITE_ACCEPT_PACKET_SIZE,
            INVITE_MEMBER_ID => INVITE_MEMBER_PACKET_SIZE,
            other => {
                return Err(DecodeError::InvalidValue {
                    what: "conference invite sub-id",
                    value: u64::from(other),
                });
            }
        };
        reader.expect_remaining(NAME, size - 1, size - 1)?;
        let group_number = GroupNumber::decode(reader)?;
        if sub_id == INVITE_ID {
            return Ok(Self::Invite(Invite {
                group_number,
                id: ConferenceId::decode(reader)?,
            }));
        }
        let inviter_group_number = GroupNumber::decode(reader)?;
        let id = ConferenceId::decode(reader)?;
        let member_peer_number = if sub_id == INVITE_MEMBER_ID {
            Some(PeerNumber::decode(reader)?)
        } else {
            None
        };
        Ok(Self::Accept(InviteAccept {
            group_number,
            inviter_group_number,
            id,
            member_peer_number,
        }))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::id::ConferenceType;
    use super::super::id::tests::arb_id;
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    pub(in super::super) fn arb() -> impl Strategy<Value = InvitePacket> {
        prop_oneof![
            (any::<u16>(), arb_id()).prop_map(|(g, id)| InvitePacket::Invite(Invite {
                group_number: GroupNumber(g),
                id
            })),
            (
                any::<u16>(),
                any::<u16>(),
                arb_id(),
                proptest::option::of(any::<u16>())
            )
                .prop_map(|(g, i, id, p)| InvitePacket::Accept(InviteAccept {
                    group_number: GroupNumber(g),
                    inviter_group_number: GroupNumber(i),
                    id,
                    member_peer_number: p.map(PeerNumber),
                })),
        ]
    }

    fn id() -> ConferenceId {
        ConferenceId {
            conference_type: ConferenceType::Text,
            id: [0x11; 32],
        }
    }

    #[test]
    fn invite_bytes() {
        let invite = InvitePacket::Invite(Invite {
            group_number: GroupNumber(0x0102),
            id: id(),
        });
        let mut bytes = vec![0x00, 0x01, 0x02, 0x00];
        bytes.extend_from_slice(&[0x11; 32]);
        assert_eq!(invite.to_bytes(), bytes);
        assert_eq!(InvitePacket::from_bytes(&bytes), Ok(invite));
        let InvitePacket::Invite(inner) = invite else {
            unreachable!()
        };
        assert_eq!(inner.cookie()[..], bytes[1..]);
        assert_eq!(Invite::from_cookie(&bytes[1..]), Ok(inner));
        assert!(Invite::from_cookie(&bytes).is_err());
    }

    #[test]
    fn accept_and_member_accept_bytes() {
        let mut accept = InviteAccept {
            group_number: GroupNumber(7),
            inviter_group_number: GroupNumber(0x0102),
            id: id(),
            member_peer_number: None,
        };
        let mut bytes = vec![0x01, 0x00, 0x07, 0x01, 0x02, 0x00];
        bytes.extend_from_slice(&[0x11; 32]);
        assert_eq!(bytes.len(), INVITE_ACCEPT_PACKET_SIZE);
        assert_eq!(InvitePacket::Accept(accept).to_bytes(), bytes);
        assert_eq!(
            InvitePacket::from_bytes(&bytes),
            Ok(InvitePacket::Accept(accept))
        );

        accept.member_peer_number = Some(PeerNumber(0xbeef));
        bytes[0] = 0x02;
        bytes.extend_from_slice(&[0xbe, 0xef]);
        assert_eq!(bytes.len(), INVITE_MEMBER_PACKET_SIZE);
        assert_eq!(InvitePacket::Accept(accept).to_bytes(), bytes);
        assert_eq!(
            InvitePacket::from_bytes(&bytes),
            Ok(InvitePacket::Accept(accept))
        );
    }

    #[test]
    fn any_other_length_or_sub_id_is_dropped() {
        let invite = InvitePacket::Invite(Invite {
            group_number: GroupNumber(1),
            id: id(),
        })
        .to_bytes();
        let mut long = invite.clone();
        long.push(0);
        assert!(InvitePacket::from_bytes(&long).is_err());
        assert!(InvitePacket::from_bytes(&invite[..35]).is_err());
        // An invite's length under an accept's sub-id.
        let mut relabelled = invite;
        relabelled[0] = INVITE_ACCEPT_ID;
        assert!(InvitePacket::from_bytes(&relabelled).is_err());
        relabelled[0] = 3;
        assert!(InvitePacket::from_bytes(&relabelled).is_err());
        assert!(InvitePacket::from_bytes(&[]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(InvitePacket::from_bytes(&bytes), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(48)) {
            if let Ok(packet) = InvitePacket::from_bytes(&bytes) {
                prop_assert_eq!(packet.to_bytes(), bytes);
            }
        }

        #[test]
        fn garbage_with_a_known_sub_id_never_panics(sub in 0u8..3, tail in garbage(42)) {
            let mut bytes = vec![sub];
            bytes.extend_from_slice(&tail);
            if let Ok(packet) = InvitePacket::from_bytes(&bytes) {
                prop_assert_eq!(packet.to_bytes(), bytes);
            }
        }
    }
}
