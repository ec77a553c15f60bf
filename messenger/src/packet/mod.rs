//! Friend-connection and messenger packets: everything two friends' net_crypto
//! session carries once it is established (spec "Friend connection",
//! "Friend requests", "Messenger"; checklist F2–F4, M1–M7, M9–M11,
//! M13–M15, and the conference ids of G2–G9 as opaque payloads).
//!
//! Each packet is the payload of one net_crypto data packet: a packet id
//! byte, then the packet's data, at most [`MAX_CRYPTO_DATA_SIZE`] = 1373
//! bytes in all. c-toxcore 0.2.18 uses these ids (`friend_connection.h`,
//! `net_crypto.h`):
//!
//! | id        | packet                         | layer             | check |
//! |-----------|--------------------------------|-------------------|-------|
//! | 16        | [`Alive`]                      | friend_connection | F2    |
//! | 17        | [`ShareRelays`]                | friend_connection | F3    |
//! | 18        | [`FriendRequest`]              | friend_connection | F4    |
//! | 24        | [`Online`]                     | messenger         | M1    |
//! | 25        | [`Offline`]                    | messenger         | M2    |
//! | 48        | [`Nickname`]                   | messenger         | M3    |
//! | 49        | [`StatusMessage`]              | messenger         | M4    |
//! | 50        | [`UserStatusPacket`]           | messenger         | M5    |
//! | 51        | [`Typing`]                     | messenger         | M6    |
//! | 64, 65    | [`Message`] (normal, action)   | messenger         | M7    |
//! | 69        | [`Msi`] (ToxAV call signalling)| messenger → AV    | M15   |
//! | 80        | [`FileSendRequest`]            | messenger         | M9    |
//! | 81        | [`FileControl`]                | messenger         | M10   |
//! | 82        | [`FileData`]                   | messenger         | M11   |
//! | 96        | [`ConferencePacket`] invite    | messenger → conf. | G2–G4 |
//! | 97–100    | [`ConferencePacket`]           | conference        | G5–G8 |
//! | 160–191   | [`CustomLossless`]             | client            | M13   |
//! | 192–198   | [`CustomLossy`] (AV handlers)  | ToxAV             | M16   |
//! | 199       | [`ConferencePacket`] lossy     | conference        | G9    |
//! | 200–254   | [`CustomLossy`]                | client            | M14   |
//!
//! Ids from 192 up travel lossy; the rest lossless ([`Packet::is_lossy`]).
//! Any other id is refused ([`PacketError::UnknownPacketId`]): c-toxcore
//! 0.2.18 hands it to every layer and none acts on it.
//!
//! # One enum
//!
//! [`Packet`] holds all of them, friend-connection and messenger packets
//! alike, because that is how they arrive: c-toxcore's friend_connection
//! `handle_packet` sees every payload first, consumes 16–18 itself, and
//! hands every other id to both the messenger and the conference layer
//! (they share the friend connection and each ignores the ids it does not
//! own). Decoding once at that boundary gives each consumer a typed value
//! to match on; two enums would only split one `match` on the first byte
//! into two.
//!
//! # What is checked
//!
//! A decoder accepts exactly what c-toxcore 0.2.18's handlers act on and
//! refuses what they drop, so a refusal here is a packet the reference
//! would have ignored too. Where c-toxcore ignores surplus bytes (after an
//! alive byte, after three shared relays, after a non-seek file control)
//! so do we, and where it reads any non-zero typing byte as "typing" or
//! any send_receive byte other than 1 as 0, so do we: each type documents
//! it. Such a packet re-encodes to what c-toxcore itself sends, not byte
//! for byte.
//!
//! Building is checked the same way: every type whose contents have
//! limits keeps its fields private behind a constructor that returns
//! [`PacketError::Unsendable`] (or [`PacketError::IdOutOfRange`]) for
//! anything a c-toxcore receiver would drop. Encoding a value that exists
//! therefore cannot fail, and [`Encode`] stays infallible.
//!
//! Text (names, status messages, messages, file names, friend request
//! messages) is bytes, not `String`: c-toxcore checks no UTF-8 anywhere
//! and hands clients what arrived, so a receiver that refused invalid
//! UTF-8 would lose messages c-toxcore clients display.

mod alive;
mod conference;
mod custom;
mod file_control;
mod file_data;
mod file_send_request;
mod friend_request;
mod message;
mod msi;
mod nickname;
mod online;
mod share_relays;
mod status_message;
mod typing;
mod user_status;

use bytes::BufMut;
use thiserror::Error;
use toxide_core::{Decode, DecodeError, Encode};

pub use alive::Alive;
pub use conference::{ConferencePacket, ConferencePacketKind};
pub use custom::{CustomLossless, CustomLossy};
pub use file_control::{FileControl, FileControlKind, TransferDirection};
pub use file_data::FileData;
pub use file_send_request::{FILEKIND_AVATAR, FILEKIND_DATA, FILESIZE_UNKNOWN, FileSendRequest};
pub use friend_request::FriendRequest;
pub use message::{Message, MessageKind};
pub use msi::Msi;
pub use nickname::Nickname;
pub use online::{Offline, Online};
pub use share_relays::ShareRelays;
pub use status_message::StatusMessage;
pub use typing::Typing;
pub use user_status::{UserStatus, UserStatusPacket};

// ---------------------------------------------------------------------------
// Packet ids, under their c-toxcore 0.2.18 names (`friend_connection.h`,
// `net_crypto.h`).
// ---------------------------------------------------------------------------

/// [`Alive`]: the friend connection's keep-alive.
pub const PACKET_ID_ALIVE: u8 = 16;
/// [`ShareRelays`]: the TCP relays the sender is connected to.
pub const PACKET_ID_SHARE_RELAYS: u8 = 17;
/// [`FriendRequest`] over an existing session.
pub const PACKET_ID_FRIEND_REQUESTS: u8 = 18;
/// [`Online`]: opens the messenger's gate.
pub const PACKET_ID_ONLINE: u8 = 24;
/// [`Offline`]: no longer a Messenger friend.
pub const PACKET_ID_OFFLINE: u8 = 25;
/// [`Nickname`].
pub const PACKET_ID_NICKNAME: u8 = 48;
/// [`StatusMessage`].
pub const PACKET_ID_STATUSMESSAGE: u8 = 49;
/// [`UserStatusPacket`].
pub const PACKET_ID_USERSTATUS: u8 = 50;
/// [`Typing`].
pub const PACKET_ID_TYPING: u8 = 51;
/// [`Message`] of kind [`MessageKind::Normal`].
pub const PACKET_ID_MESSAGE: u8 = 64;
/// [`Message`] of kind [`MessageKind::Action`] (`PACKET_ID_MESSAGE + 1`).
pub const PACKET_ID_ACTION: u8 = 65;
/// [`Msi`]: ToxAV call signalling.
pub const PACKET_ID_MSI: u8 = 69;
/// [`FileSendRequest`].
pub const PACKET_ID_FILE_SENDREQUEST: u8 = 80;
/// [`FileControl`].
pub const PACKET_ID_FILE_CONTROL: u8 = 81;
/// [`FileData`].
pub const PACKET_ID_FILE_DATA: u8 = 82;
/// Conference invite, accept and member-accept
/// ([`ConferencePacketKind::Invite`]).
pub const PACKET_ID_INVITE_CONFERENCE: u8 = 96;
/// Conference peer online ([`ConferencePacketKind::Online`]).
pub const PACKET_ID_ONLINE_PACKET: u8 = 97;
/// Conference direct packet ([`ConferencePacketKind::Direct`]).
pub const PACKET_ID_DIRECT_CONFERENCE: u8 = 98;
/// Conference broadcast message ([`ConferencePacketKind::Message`]).
pub const PACKET_ID_MESSAGE_CONFERENCE: u8 = 99;
/// Conference rejoin ([`ConferencePacketKind::Rejoin`]).
pub const PACKET_ID_REJOIN_CONFERENCE: u8 = 100;
/// Conference lossy packet ([`ConferencePacketKind::Lossy`]).
pub const PACKET_ID_LOSSY_CONFERENCE: u8 = 199;

/// First id of clients' custom lossless packets
/// (`PACKET_ID_RANGE_LOSSLESS_CUSTOM_START`).
pub const PACKET_ID_RANGE_LOSSLESS_CUSTOM_START: u8 = 160;
/// Last id of clients' custom lossless packets
/// (`PACKET_ID_RANGE_LOSSLESS_CUSTOM_END`).
pub const PACKET_ID_RANGE_LOSSLESS_CUSTOM_END: u8 = 191;
/// First lossy id (`PACKET_ID_RANGE_LOSSY_START`): every id from here up
/// travels unnumbered and unacknowledged.
pub const PACKET_ID_RANGE_LOSSY_START: u8 = 192;
/// Last lossy id the AV handlers own (`PACKET_ID_RANGE_LOSSY_AV_END`).
pub const PACKET_ID_RANGE_LOSSY_AV_END: u8 = 199;
/// First lossy id the client's lossy-packet callback sees
/// (`PACKET_ID_RANGE_LOSSY_CUSTOM_START`).
pub const PACKET_ID_RANGE_LOSSY_CUSTOM_START: u8 = 200;
/// Last lossy id (`PACKET_ID_RANGE_LOSSY_END`); 255 is reserved.
pub const PACKET_ID_RANGE_LOSSY_END: u8 = 254;

// ---------------------------------------------------------------------------
// Limits (`net_crypto.h`, `Messenger.h`, `Messenger.c`, `tox.h`,
// `friend_requests.h`, `friend_connection.h`).
// ---------------------------------------------------------------------------

/// The most packet id + data one net_crypto data packet carries
/// (`MAX_CRYPTO_DATA_SIZE`, 1400 − 27; the same constant as net_crypto's).
/// Every packet here is at most this long.
pub const MAX_CRYPTO_DATA_SIZE: usize = 1373;
/// The longest name (`MAX_NAME_LENGTH`, `TOX_MAX_NAME_LENGTH`).
pub const MAX_NAME_LENGTH: usize = 128;
/// The longest status message (`MAX_STATUSMESSAGE_LENGTH`,
/// `TOX_MAX_STATUS_MESSAGE_LENGTH`).
pub const MAX_STATUSMESSAGE_LENGTH: usize = 1007;
/// The longest message or action (`TOX_MAX_MESSAGE_LENGTH`): what fits
/// after the id (`m_send_message_generic` refuses `length >=
/// MAX_CRYPTO_DATA_SIZE`).
pub const MAX_MESSAGE_LENGTH: usize = MAX_CRYPTO_DATA_SIZE - 1;
/// The longest file name (`MAX_FILENAME_LENGTH`, `TOX_MAX_FILENAME_LENGTH`).
pub const MAX_FILENAME_LENGTH: usize = 255;
/// Size of a file id (`FILE_ID_LENGTH`, `TOX_FILE_ID_LENGTH`).
pub const FILE_ID_LENGTH: usize = 32;
/// The largest file chunk (`MAX_FILE_DATA_SIZE`): what fits after the id
/// and the file number. A shorter chunk ends a transfer of unknown size.
pub const MAX_FILE_DATA_SIZE: usize = MAX_CRYPTO_DATA_SIZE - 2;
/// The largest custom packet, id included (`TOX_MAX_CUSTOM_PACKET_SIZE`).
pub const MAX_CUSTOM_PACKET_SIZE: usize = MAX_CRYPTO_DATA_SIZE;
/// The most relays one share-relays packet carries (`MAX_SHARED_RELAYS`
/// = `RECOMMENDED_FRIEND_TCP_CONNECTIONS`).
pub const MAX_SHARED_RELAYS: usize = 3;
// The friend-request limits belong to the request's body, which the onion
// carries too; they live beside it in `toxide-core`.
pub use toxide_core::friend_request::{MAX_FRIEND_REQUEST_DATA_SIZE, ONION_CLIENT_MAX_DATA_SIZE};

/// Why a friend-connection or messenger packet could not be decoded or
/// built.
///
/// Like every layer's errors these carry sizes, ids and field names, never
/// the peer's bytes, so counting or logging one per bad packet cannot flood
/// a log with a friend's data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    /// An empty payload (net_crypto never delivers one, but a caller might).
    #[error("empty packet")]
    Empty,
    /// An id no layer of c-toxcore 0.2.18 acts on.
    #[error("packet id {id} is not a friend-connection or messenger packet")]
    UnknownPacketId {
        /// The first byte.
        id: u8,
    },
    /// Wrong length, a truncated field or a value c-toxcore refuses.
    #[error("malformed packet: {0}")]
    Decode(#[from] DecodeError),
    /// Something we were asked to build is outside the lengths a
    /// c-toxcore receiver accepts, so it would only be dropped there.
    #[error("{what}: {len} outside the sendable {min}..={max}")]
    Unsendable {
        /// The field being built.
        what: &'static str,
        /// Its length (or item count).
        len: usize,
        /// The smallest acceptable length.
        min: usize,
        /// The largest acceptable length.
        max: usize,
    },
    /// A custom packet was to carry an id outside its range, where a
    /// c-toxcore receiver would route it elsewhere or drop it.
    #[error("{what}: id {id} outside its range")]
    IdOutOfRange {
        /// The packet being built.
        what: &'static str,
        /// The id asked for.
        id: u8,
    },
    /// A seek was to be sent by the side that sends the file; c-toxcore
    /// accepts a seek only from the receiver, before it accepts.
    #[error("a file seek can only come from the file's receiver")]
    SeekFromSender,
}

/// Refuses a length outside `min..=max` for something being built.
pub(crate) fn check_len(
    what: &'static str,
    len: usize,
    min: usize,
    max: usize,
) -> Result<(), PacketError> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(PacketError::Unsendable {
            what,
            len,
            min,
            max,
        })
    }
}

/// Any packet a friend's net_crypto session carries (see the module
/// documentation for the ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// 16.
    Alive(Alive),
    /// 17.
    ShareRelays(ShareRelays),
    /// 18.
    FriendRequest(FriendRequest),
    /// 24.
    Online(Online),
    /// 25.
    Offline(Offline),
    /// 48.
    Nickname(Nickname),
    /// 49.
    StatusMessage(StatusMessage),
    /// 50.
    UserStatus(UserStatusPacket),
    /// 51.
    Typing(Typing),
    /// 64 and 65.
    Message(Message),
    /// 69.
    Msi(Msi),
    /// 80.
    FileSendRequest(FileSendRequest),
    /// 81.
    FileControl(FileControl),
    /// 82.
    FileData(FileData),
    /// 96–100 and 199.
    Conference(ConferencePacket),
    /// 160–191.
    CustomLossless(CustomLossless),
    /// 192–198 and 200–254.
    CustomLossy(CustomLossy),
}

impl Packet {
    /// Decodes one net_crypto data payload (packet id first) by its id.
    pub fn decode(bytes: &[u8]) -> Result<Self, PacketError> {
        let &id = bytes.first().ok_or(PacketError::Empty)?;
        Ok(match id {
            PACKET_ID_ALIVE => Self::Alive(Alive::from_bytes(bytes)?),
            PACKET_ID_SHARE_RELAYS => Self::ShareRelays(ShareRelays::from_bytes(bytes)?),
            PACKET_ID_FRIEND_REQUESTS => Self::FriendRequest(FriendRequest::from_bytes(bytes)?),
            PACKET_ID_ONLINE => Self::Online(Online::from_bytes(bytes)?),
            PACKET_ID_OFFLINE => Self::Offline(Offline::from_bytes(bytes)?),
            PACKET_ID_NICKNAME => Self::Nickname(Nickname::from_bytes(bytes)?),
            PACKET_ID_STATUSMESSAGE => Self::StatusMessage(StatusMessage::from_bytes(bytes)?),
            PACKET_ID_USERSTATUS => Self::UserStatus(UserStatusPacket::from_bytes(bytes)?),
            PACKET_ID_TYPING => Self::Typing(Typing::from_bytes(bytes)?),
            PACKET_ID_MESSAGE | PACKET_ID_ACTION => Self::Message(Message::from_bytes(bytes)?),
            PACKET_ID_MSI => Self::Msi(Msi::from_bytes(bytes)?),
            PACKET_ID_FILE_SENDREQUEST => {
                Self::FileSendRequest(FileSendRequest::from_bytes(bytes)?)
            }
            PACKET_ID_FILE_CONTROL => Self::FileControl(FileControl::from_bytes(bytes)?),
            PACKET_ID_FILE_DATA => Self::FileData(FileData::from_bytes(bytes)?),
            PACKET_ID_INVITE_CONFERENCE..=PACKET_ID_REJOIN_CONFERENCE
            | PACKET_ID_LOSSY_CONFERENCE => Self::Conference(ConferencePacket::from_bytes(bytes)?),
            PACKET_ID_RANGE_LOSSLESS_CUSTOM_START..=PACKET_ID_RANGE_LOSSLESS_CUSTOM_END => {
                Self::CustomLossless(CustomLossless::from_bytes(bytes)?)
            }
            PACKET_ID_RANGE_LOSSY_START..=PACKET_ID_RANGE_LOSSY_END => {
                Self::CustomLossy(CustomLossy::from_bytes(bytes)?)
            }
            id => return Err(PacketError::UnknownPacketId { id }),
        })
    }

    /// The packet id: the first byte of the encoding.
    pub fn id(&self) -> u8 {
        match self {
            Self::Alive(_) => PACKET_ID_ALIVE,
            Self::ShareRelays(_) => PACKET_ID_SHARE_RELAYS,
            Self::FriendRequest(_) => PACKET_ID_FRIEND_REQUESTS,
            Self::Online(_) => PACKET_ID_ONLINE,
            Self::Offline(_) => PACKET_ID_OFFLINE,
            Self::Nickname(_) => PACKET_ID_NICKNAME,
            Self::StatusMessage(_) => PACKET_ID_STATUSMESSAGE,
            Self::UserStatus(_) => PACKET_ID_USERSTATUS,
            Self::Typing(_) => PACKET_ID_TYPING,
            Self::Message(p) => p.kind().packet_id(),
            Self::Msi(_) => PACKET_ID_MSI,
            Self::FileSendRequest(_) => PACKET_ID_FILE_SENDREQUEST,
            Self::FileControl(_) => PACKET_ID_FILE_CONTROL,
            Self::FileData(_) => PACKET_ID_FILE_DATA,
            Self::Conference(p) => p.kind().packet_id(),
            Self::CustomLossless(p) => p.id(),
            Self::CustomLossy(p) => p.id(),
        }
    }

    /// Whether net_crypto sends this packet lossy (unnumbered, never
    /// resent): decided by the id alone, `id >= 192`, as c-toxcore does.
    pub fn is_lossy(&self) -> bool {
        self.id() >= PACKET_ID_RANGE_LOSSY_START
    }
}

impl Encode for Packet {
    fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Self::Alive(p) => p.encode(buf),
            Self::ShareRelays(p) => p.encode(buf),
            Self::FriendRequest(p) => p.encode(buf),
            Self::Online(p) => p.encode(buf),
            Self::Offline(p) => p.encode(buf),
            Self::Nickname(p) => p.encode(buf),
            Self::StatusMessage(p) => p.encode(buf),
            Self::UserStatus(p) => p.encode(buf),
            Self::Typing(p) => p.encode(buf),
            Self::Message(p) => p.encode(buf),
            Self::Msi(p) => p.encode(buf),
            Self::FileSendRequest(p) => p.encode(buf),
            Self::FileControl(p) => p.encode(buf),
            Self::FileData(p) => p.encode(buf),
            Self::Conference(p) => p.encode(buf),
            Self::CustomLossless(p) => p.encode(buf),
            Self::CustomLossy(p) => p.encode(buf),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::Alive(p) => p.encoded_len(),
            Self::ShareRelays(p) => p.encoded_len(),
            Self::FriendRequest(p) => p.encoded_len(),
            Self::Online(p) => p.encoded_len(),
            Self::Offline(p) => p.encoded_len(),
            Self::Nickname(p) => p.encoded_len(),
            Self::StatusMessage(p) => p.encoded_len(),
            Self::UserStatus(p) => p.encoded_len(),
            Self::Typing(p) => p.encoded_len(),
            Self::Message(p) => p.encoded_len(),
            Self::Msi(p) => p.encoded_len(),
            Self::FileSendRequest(p) => p.encoded_len(),
            Self::FileControl(p) => p.encoded_len(),
            Self::FileData(p) => p.encoded_len(),
            Self::Conference(p) => p.encoded_len(),
            Self::CustomLossless(p) => p.encoded_len(),
            Self::CustomLossy(p) => p.encoded_len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    /// Any packet, each kind from its own file's strategy.
    fn arb_packet() -> impl Strategy<Value = Packet> {
        prop_oneof![
            Just(Packet::Alive(Alive)),
            share_relays::tests::arb().prop_map(Packet::ShareRelays),
            friend_request::tests::arb().prop_map(Packet::FriendRequest),
            Just(Packet::Online(Online)),
            Just(Packet::Offline(Offline)),
            nickname::tests::arb().prop_map(Packet::Nickname),
            status_message::tests::arb().prop_map(Packet::StatusMessage),
            user_status::tests::arb().prop_map(Packet::UserStatus),
            any::<bool>().prop_map(|is_typing| Packet::Typing(Typing { is_typing })),
            message::tests::arb().prop_map(Packet::Message),
            msi::tests::arb().prop_map(Packet::Msi),
            file_send_request::tests::arb().prop_map(Packet::FileSendRequest),
            file_control::tests::arb().prop_map(Packet::FileControl),
            file_data::tests::arb().prop_map(Packet::FileData),
            conference::tests::arb().prop_map(Packet::Conference),
            custom::tests::arb_lossless().prop_map(Packet::CustomLossless),
            custom::tests::arb_lossy().prop_map(Packet::CustomLossy),
        ]
    }

    #[test]
    fn limits_are_ctoxcores() {
        assert_eq!(MAX_CRYPTO_DATA_SIZE, 1400 - 27);
        assert_eq!(MAX_MESSAGE_LENGTH, 1372);
        assert_eq!(MAX_FILE_DATA_SIZE, 1371);
        assert_eq!(MAX_CUSTOM_PACKET_SIZE, 1373);
        assert_eq!(MAX_FRIEND_REQUEST_DATA_SIZE, 1016);
        // ONION_CLIENT_MAX_DATA_SIZE from onion.h / onion_announce.h /
        // onion_client.h: 1400 − (24 + 3 × (32 + 19 + 16) + 1) = 1174 of
        // onion data, − 105 of data request header, − 48 of inner header.
        let onion_max_data = 1400 - (24 + 3 * (32 + 19 + 16) + 1);
        assert_eq!(onion_max_data - 105 - 48, ONION_CLIENT_MAX_DATA_SIZE);
    }

    #[test]
    fn every_id_is_routed_as_ctoxcore() {
        for id in 0..=255u8 {
            let known = matches!(
                id,
                16..=18 | 24 | 25 | 48..=51 | 64 | 65 | 69 | 80..=82 | 96..=100 | 160..=254
            );
            match Packet::decode(&[id]) {
                Err(PacketError::UnknownPacketId { id: found }) => {
                    assert!(!known, "id {id}");
                    assert_eq!(found, id);
                }
                Ok(packet) => {
                    assert!(known, "id {id}");
                    assert_eq!(packet.id(), id);
                    assert_eq!(packet.is_lossy(), id >= 192);
                }
                Err(_) => assert!(known, "id {id}: a known id that needs more bytes"),
            }
        }
        assert_eq!(Packet::decode(&[]), Err(PacketError::Empty));
    }

    #[test]
    fn nothing_longer_than_a_data_packet_decodes() {
        for id in 0..=255u8 {
            let mut bytes = vec![0u8; MAX_CRYPTO_DATA_SIZE + 1];
            bytes[0] = id;
            assert!(Packet::decode(&bytes).is_err(), "id {id}");
        }
    }

    proptest! {
        #[test]
        fn every_kind_round_trips(packet in arb_packet()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert!(bytes.len() <= MAX_CRYPTO_DATA_SIZE);
            prop_assert_eq!(bytes.first(), Some(&packet.id()));
            prop_assert_eq!(Packet::decode(&bytes), Ok(packet));
        }

        #[test]
        fn garbage_never_panics_and_reencodes_stably(bytes in garbage(1500)) {
            if let Ok(packet) = Packet::decode(&bytes) {
                prop_assert_eq!(bytes.first(), Some(&packet.id()));
                let again = packet.to_bytes();
                prop_assert!(again.len() <= bytes.len());
                prop_assert_eq!(Packet::decode(&again), Ok(packet));
            }
        }

        #[test]
        fn every_id_with_garbage_never_panics(
            id in any::<u8>(), tail in garbage(1400),
        ) {
            let mut bytes = vec![id];
            bytes.extend_from_slice(&tail);
            if let Ok(packet) = Packet::decode(&bytes) {
                prop_assert_eq!(Packet::decode(&packet.to_bytes()), Ok(packet));
            }
        }
    }
}
