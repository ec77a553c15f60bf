//! Conference (old group chat) packets over a friend connection, carried
//! opaquely for the conference layer.
//!
//! Checklist G2–G9; spec "Group"; c-toxcore `group.c` (`g_handle_packet`,
//! `handle_lossy`, `handle_friend_invite_packet`) and `m_handle_packet` in
//! `Messenger.c`. c-toxcore 0.2.18 uses six ids (`net_crypto.h`):
//!
//! | id  | kind                            | handled by                 | layout after the id (G…)      | min. data |
//! |-----|---------------------------------|----------------------------|-------------------------------|-----------|
//! | 96  | [`Invite`]                      | messenger, friend online   | `[0/1/2][…]` invite / accept / member accept (G2–G4) | 2 |
//! | 97  | [`Online`]                      | conference                 | `[group no 2][type][id 32]` (G5) | 3      |
//! | 98  | [`Direct`]                      | conference                 | `[group no 2][sub id][…]` (G6) | 3        |
//! | 99  | [`Message`]                     | conference                 | `[group no 2][peer no 2][msg no 4][msg id][…]` (G7) | 3 |
//! | 100 | [`Rejoin`]                      | conference                 | `[type][id 32]` (G8)          | 3         |
//! | 199 | [`Lossy`] (lossy)               | conference                 | `[group no 2][peer no 2][msg no 2][id][…]` (G9) | 7 |
//!
//! The minimum is the first length check c-toxcore applies before looking
//! inside: the messenger hands 96 on only with data, and the conference's
//! invite handler wants more than one byte; `g_handle_packet` drops
//! anything of 3 bytes or less whatever its id (100 included, although it
//! has no group number); `handle_lossy` wants 8 bytes with the id. Shorter
//! packets are refused here and never built. The exact sizes of each
//! sub-packet are the conference layer's to check:
//! [`ConferencePayload`](crate::conference::ConferencePayload) reads and
//! builds the typed contents.
//!
//! 96 is a messenger packet: it reaches the conference code through the
//! messenger's invite callback, so only from an online Messenger friend.
//! 97–100 and 199 go straight from the friend connection to the
//! conference code, because conference peers need not be Messenger
//! friends. Group AV audio (192) travels *inside* 199.
//!
//! [`Invite`]: ConferencePacketKind::Invite
//! [`Online`]: ConferencePacketKind::Online
//! [`Direct`]: ConferencePacketKind::Direct
//! [`Message`]: ConferencePacketKind::Message
//! [`Rejoin`]: ConferencePacketKind::Rejoin
//! [`Lossy`]: ConferencePacketKind::Lossy

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{
    MAX_CRYPTO_DATA_SIZE, PACKET_ID_DIRECT_CONFERENCE, PACKET_ID_INVITE_CONFERENCE,
    PACKET_ID_LOSSY_CONFERENCE, PACKET_ID_MESSAGE_CONFERENCE, PACKET_ID_ONLINE_PACKET,
    PACKET_ID_REJOIN_CONFERENCE, PacketError,
};

/// Which conference packet, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConferencePacketKind {
    /// 96: invite, invite accept, member invite accept
    /// (`PACKET_ID_INVITE_CONFERENCE`).
    Invite,
    /// 97: a peer's conference connection is up (`PACKET_ID_ONLINE_PACKET`).
    Online,
    /// 98: to this peer only: peer query, response, title…
    /// (`PACKET_ID_DIRECT_CONFERENCE`).
    Direct,
    /// 99: a broadcast relayed through the conference
    /// (`PACKET_ID_MESSAGE_CONFERENCE`).
    Message,
    /// 100: a frozen peer is back (`PACKET_ID_REJOIN_CONFERENCE`).
    Rejoin,
    /// 199: lossy broadcast, AV audio (`PACKET_ID_LOSSY_CONFERENCE`).
    Lossy,
}

impl ConferencePacketKind {
    /// The packet id.
    pub const fn packet_id(self) -> u8 {
        match self {
            Self::Invite => PACKET_ID_INVITE_CONFERENCE,
            Self::Online => PACKET_ID_ONLINE_PACKET,
            Self::Direct => PACKET_ID_DIRECT_CONFERENCE,
            Self::Message => PACKET_ID_MESSAGE_CONFERENCE,
            Self::Rejoin => PACKET_ID_REJOIN_CONFERENCE,
            Self::Lossy => PACKET_ID_LOSSY_CONFERENCE,
        }
    }

    /// The kind a packet id stands for, if any.
    pub const fn from_packet_id(id: u8) -> Option<Self> {
        match id {
            PACKET_ID_INVITE_CONFERENCE => Some(Self::Invite),
            PACKET_ID_ONLINE_PACKET => Some(Self::Online),
            PACKET_ID_DIRECT_CONFERENCE => Some(Self::Direct),
            PACKET_ID_MESSAGE_CONFERENCE => Some(Self::Message),
            PACKET_ID_REJOIN_CONFERENCE => Some(Self::Rejoin),
            PACKET_ID_LOSSY_CONFERENCE => Some(Self::Lossy),
            _ => None,
        }
    }

    /// The fewest data bytes (after the id) c-toxcore looks at.
    pub const fn min_data_len(self) -> usize {
        match self {
            Self::Invite => 2,
            Self::Online | Self::Direct | Self::Message | Self::Rejoin => 3,
            Self::Lossy => 7,
        }
    }
}

/// A conference packet: its kind and the bytes after the id, built with
/// [`ConferencePacket::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferencePacket {
    kind: ConferencePacketKind,
    data: Vec<u8>,
}

impl ConferencePacket {
    /// A packet of `kind` carrying `data`; refuses data shorter than
    /// [`ConferencePacketKind::min_data_len`] or too long for a data
    /// packet.
    pub fn new(kind: ConferencePacketKind, data: Vec<u8>) -> Result<Self, PacketError> {
        super::check_len(
            "conference packet data",
            data.len(),
            kind.min_data_len(),
            MAX_CRYPTO_DATA_SIZE - 1,
        )?;
        Ok(Self { kind, data })
    }

    /// A packet from a typed conference payload
    /// ([`ConferencePayload::to_packet`](crate::conference::ConferencePayload::to_packet)),
    /// whose types bound every length to what [`ConferencePacket::new`]
    /// accepts (the conference module's tests check each of them).
    pub(crate) fn from_typed(kind: ConferencePacketKind, data: Vec<u8>) -> Self {
        Self { kind, data }
    }

    /// Which conference packet.
    pub const fn kind(&self) -> ConferencePacketKind {
        self.kind
    }

    /// The bytes after the id.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The bytes after the id, by value.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

impl Encode for ConferencePacket {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.kind.packet_id());
        buf.put_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        1 + self.data.len()
    }
}

impl Decode for ConferencePacket {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "conference packet";
        reader.expect_remaining(NAME, 1, MAX_CRYPTO_DATA_SIZE)?;
        let id = reader.u8(NAME)?;
        let kind = ConferencePacketKind::from_packet_id(id).ok_or(DecodeError::InvalidValue {
            what: NAME,
            value: u64::from(id),
        })?;
        reader.expect_remaining(NAME, kind.min_data_len(), MAX_CRYPTO_DATA_SIZE - 1)?;
        Ok(Self {
            kind,
            data: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    const KINDS: [ConferencePacketKind; 6] = [
        ConferencePacketKind::Invite,
        ConferencePacketKind::Online,
        ConferencePacketKind::Direct,
        ConferencePacketKind::Message,
        ConferencePacketKind::Rejoin,
        ConferencePacketKind::Lossy,
    ];

    pub(in super::super) fn arb() -> impl Strategy<Value = ConferencePacket> {
        (
            proptest::sample::select(KINDS.to_vec()),
            proptest::collection::vec(any::<u8>(), 7..MAX_CRYPTO_DATA_SIZE),
        )
            .prop_map(|(kind, data)| ConferencePacket::new(kind, data).unwrap())
    }

    #[test]
    fn ids_are_ctoxcores() {
        let ids: Vec<u8> = KINDS.iter().map(|k| k.packet_id()).collect();
        assert_eq!(ids, [96, 97, 98, 99, 100, 199]);
        for kind in KINDS {
            assert_eq!(
                ConferencePacketKind::from_packet_id(kind.packet_id()),
                Some(kind)
            );
        }
        assert_eq!(ConferencePacketKind::from_packet_id(101), None);
    }

    #[test]
    fn minimum_lengths_are_ctoxcores_first_checks() {
        for (kind, min) in [
            (ConferencePacketKind::Invite, 2),
            (ConferencePacketKind::Online, 3),
            (ConferencePacketKind::Direct, 3),
            (ConferencePacketKind::Message, 3),
            (ConferencePacketKind::Rejoin, 3),
            (ConferencePacketKind::Lossy, 7),
        ] {
            let mut bytes = vec![kind.packet_id()];
            bytes.resize(min, 0);
            assert!(ConferencePacket::from_bytes(&bytes).is_err(), "{kind:?}");
            assert!(ConferencePacket::new(kind, vec![0; min - 1]).is_err());
            bytes.push(0);
            let packet = ConferencePacket::from_bytes(&bytes).unwrap();
            assert_eq!(packet.kind(), kind);
            assert_eq!(packet.to_bytes(), bytes);
            assert!(ConferencePacket::new(kind, vec![0; 1372]).is_ok());
            assert!(ConferencePacket::new(kind, vec![0; 1373]).is_err());
        }
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(ConferencePacket::from_bytes(&packet.to_bytes()), Ok(packet));
        }
    }
}
