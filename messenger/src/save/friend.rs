//! One friend in the save file: c-toxcore's fixed 2216-byte record
//! (checklist V5; spec "Friends (0x03)"; c-toxcore `struct Saved_Friend`,
//! `friend_save`, `friends_list_save`, `friends_list_load`).
//!
//! The record is the memory image of a C struct on a 64-bit host, so its
//! padding bytes are part of the format. Lengths and the last-seen time are
//! big-endian (they went through `net_htons` / `net_pack_u64` before the
//! copy); the request nospam is the 4 raw bytes of the friend's Tox ID.
//!
//! | offset | size | field                                               |
//! |--------|------|-----------------------------------------------------|
//! | 0      | 1    | status: 1 added, 2 request sent, 3 confirmed        |
//! | 1      | 32   | the friend's long-term public key                   |
//! | 33     | 1024 | friend request message (status 1, 2), zero-padded   |
//! | 1057   | 1    | padding                                             |
//! | 1058   | 2    | request message length, big-endian                  |
//! | 1060   | 128  | name (status 3), zero-padded                        |
//! | 1188   | 2    | name length, big-endian                             |
//! | 1190   | 1007 | status message (status 3), zero-padded              |
//! | 2197   | 1    | padding                                             |
//! | 2198   | 2    | status message length, big-endian                   |
//! | 2200   | 1    | user status (status 3)                              |
//! | 2201   | 3    | padding                                             |
//! | 2204   | 4    | nospam the request goes to (status 1, 2)            |
//! | 2208   | 8    | last seen, Unix seconds, big-endian (status 3)      |
//!
//! Fields that do not belong to the record's status are zero. c-toxcore
//! saves an online friend (status 4) as 3.
//!
//! Loading follows `friends_list_load`, which re-adds each friend: a
//! record is skipped where c-toxcore would fail to add it (status 0, a key
//! whose last byte is 0x80 or more, which `public_key_valid` refuses; a
//! request message that is empty or over 1016 bytes, which `m_addfriend`
//! refuses), and a friend's name or status message that is too long is
//! dropped as `setfriendname` and `set_friend_statusmessage` drop it. A
//! user status c-toxcore would never have received (3 and up) reads as
//! [`UserStatus::None`].

use bytes::BufMut;
use toxide_core::{DecodeError, Encode, NoSpam, PublicKey, Reader};

use super::error::TextError;
use super::profile::{
    MAX_NAME_LENGTH, MAX_STATUS_MESSAGE_LENGTH, Name, StatusMessage, UserStatus, bounded,
};

/// Size of one saved friend.
pub const FRIEND_RECORD_SIZE: usize = 2216;
/// The room a record has for the request message (`SAVED_FRIEND_REQUEST_SIZE`).
const SAVED_FRIEND_REQUEST_SIZE: usize = 1024;
/// The longest friend request message c-toxcore sends and re-adds from a
/// save (`MAX_FRIEND_REQUEST_DATA_SIZE`, tox.h
/// `TOX_MAX_FRIEND_REQUEST_LENGTH`).
pub const MAX_FRIEND_REQUEST_LENGTH: usize = 1016;

const STATUS_ADDED: u8 = 1;
const STATUS_REQUESTED: u8 = 2;
const STATUS_CONFIRMED: u8 = 3;

/// The message of a friend request: 1 to [`MAX_FRIEND_REQUEST_LENGTH`]
/// bytes (c-toxcore refuses an empty one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FriendRequestMessage(Vec<u8>);

impl FriendRequestMessage {
    /// The message, if c-toxcore would send it.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, TextError> {
        bounded(
            "friend request message",
            bytes.into(),
            1,
            MAX_FRIEND_REQUEST_LENGTH,
        )
        .map(Self)
    }

    /// The bytes of the message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A friend we asked who has not accepted yet (status 1 or 2). c-toxcore
/// sends the request again after loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedFriend {
    /// The friend's long-term public key.
    pub public_key: PublicKey,
    /// The nospam of the Tox ID the friend was added with; the request
    /// must quote it to be delivered.
    pub nospam: NoSpam,
    /// The request's message.
    pub message: FriendRequestMessage,
    /// Whether the request had gone out (status 2) or not yet (status 1).
    /// c-toxcore re-sends it either way.
    pub request_sent: bool,
}

/// A friend who accepted, or whom we accepted (status 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedFriend {
    /// The friend's long-term public key.
    pub public_key: PublicKey,
    /// The name the friend last told us.
    pub name: Name,
    /// The status message the friend last told us.
    pub status_message: StatusMessage,
    /// The user status the friend last told us.
    pub user_status: UserStatus,
    /// When the friend was last online, in Unix seconds; 0 if never.
    pub last_seen: u64,
}

impl ConfirmedFriend {
    /// A friend we know nothing about yet but the key, as
    /// `tox_friend_add_norequest` makes one.
    pub fn new(public_key: PublicKey) -> Self {
        Self {
            public_key,
            name: Name::default(),
            status_message: StatusMessage::default(),
            user_status: UserStatus::None,
            last_seen: 0,
        }
    }
}

/// One entry of the friend list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedFriend {
    /// Asked, not confirmed.
    Requested(RequestedFriend),
    /// Confirmed.
    Confirmed(ConfirmedFriend),
}

impl SavedFriend {
    /// The friend's long-term public key.
    pub fn public_key(&self) -> &PublicKey {
        match self {
            Self::Requested(f) => &f.public_key,
            Self::Confirmed(f) => &f.public_key,
        }
    }

    /// Reads one record; `None` for a record c-toxcore would not re-add
    /// (see the module documentation). Consumes exactly
    /// [`FRIEND_RECORD_SIZE`] bytes.
    pub(super) fn decode(reader: &mut Reader<'_>) -> Result<Option<Self>, DecodeError> {
        let status = reader.u8("friend status")?;
        let public_key = PublicKey::new(reader.array("friend public key")?);
        let request = reader.take("friend request message", SAVED_FRIEND_REQUEST_SIZE)?;
        reader.take("friend record padding", 1)?;
        let request_len = usize::from(reader.u16_be("friend request message length")?);
        let name = reader.take("friend name", MAX_NAME_LENGTH)?;
        let name_len = usize::from(reader.u16_be("friend name length")?);
        let status_message = reader.take("friend status message", MAX_STATUS_MESSAGE_LENGTH)?;
        reader.take("friend record padding", 1)?;
        let status_message_len = usize::from(reader.u16_be("friend status message length")?);
        let user_status = reader.u8("friend user status")?;
        reader.take("friend record padding", 3)?;
        let nospam = NoSpam(reader.array("friend request nospam")?);
        let last_seen = reader.u64_be("friend last seen")?;

        if status == 0 || !public_key_valid(&public_key) {
            return Ok(None);
        }
        if status < STATUS_CONFIRMED {
            let message = request
                .get(..request_len)
                .and_then(|m| FriendRequestMessage::new(m).ok());
            return Ok(message.map(|message| {
                Self::Requested(RequestedFriend {
                    public_key,
                    nospam,
                    message,
                    request_sent: status == STATUS_REQUESTED,
                })
            }));
        }
        // A name of length 0 or over 128 is not set (`setfriendname`),
        // nor a status message over 1007 (`set_friend_statusmessage`).
        let name = name
            .get(..name_len)
            .and_then(|n| Name::new(n).ok())
            .unwrap_or_default();
        let status_message = status_message
            .get(..status_message_len)
            .and_then(|m| StatusMessage::new(m).ok())
            .unwrap_or_default();
        Ok(Some(Self::Confirmed(ConfirmedFriend {
            public_key,
            name,
            status_message,
            user_status: UserStatus::from_u8(user_status).unwrap_or_default(),
            last_seen,
        })))
    }
}

/// c-toxcore's `public_key_valid`: the top bit of an X25519 public key is
/// always clear, and c-toxcore adds no friend with it set.
pub(super) fn public_key_valid(public_key: &PublicKey) -> bool {
    public_key.as_bytes().last().is_some_and(|&b| b < 0x80)
}

/// Writes `bytes` into a field of `size` bytes, zero-padded.
fn put_padded(buf: &mut impl BufMut, bytes: &[u8], size: usize) {
    buf.put_slice(bytes);
    buf.put_bytes(0, size.saturating_sub(bytes.len()));
}

/// A length that fits its `u16` field: the text types bound every length
/// far below 65 536.
fn put_len(buf: &mut impl BufMut, bytes: &[u8]) {
    buf.put_u16(u16::try_from(bytes.len()).unwrap_or(u16::MAX));
}

impl Encode for SavedFriend {
    fn encode(&self, buf: &mut impl BufMut) {
        let empty: &[u8] = &[];
        let (status, request, name, status_message, user_status, nospam, last_seen) = match self {
            Self::Requested(f) => (
                if f.request_sent {
                    STATUS_REQUESTED
                } else {
                    STATUS_ADDED
                },
                f.message.as_bytes(),
                empty,
                empty,
                0,
                f.nospam,
                0,
            ),
            Self::Confirmed(f) => (
                STATUS_CONFIRMED,
                empty,
                f.name.as_bytes(),
                f.status_message.as_bytes(),
                f.user_status.to_u8(),
                NoSpam::default(),
                f.last_seen,
            ),
        };
        buf.put_u8(status);
        self.public_key().encode(buf);
        put_padded(buf, request, SAVED_FRIEND_REQUEST_SIZE);
        buf.put_u8(0);
        put_len(buf, request);
        put_padded(buf, name, MAX_NAME_LENGTH);
        put_len(buf, name);
        put_padded(buf, status_message, MAX_STATUS_MESSAGE_LENGTH);
        buf.put_u8(0);
        put_len(buf, status_message);
        buf.put_u8(user_status);
        buf.put_bytes(0, 3);
        buf.put_slice(&nospam.0);
        buf.put_u64(last_seen);
    }

    fn encoded_len(&self) -> usize {
        FRIEND_RECORD_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(byte: u8) -> PublicKey {
        PublicKey::new([byte; 32])
    }

    fn decode(bytes: &[u8]) -> Option<SavedFriend> {
        let mut reader = Reader::new(bytes);
        let friend = SavedFriend::decode(&mut reader).unwrap();
        assert!(reader.is_empty(), "a record is exactly 2216 bytes");
        friend
    }

    /// A confirmed friend, byte by byte at the offsets of `Saved_Friend`.
    fn confirmed_record() -> Vec<u8> {
        let mut r = vec![0u8; FRIEND_RECORD_SIZE];
        r[0] = 3;
        r[1..33].copy_from_slice(&[0x11; 32]);
        r[1060..1063].copy_from_slice(b"Bob");
        r[1188..1190].copy_from_slice(&[0, 3]);
        r[1190..1195].copy_from_slice(b"hello");
        r[2198..2200].copy_from_slice(&[0, 5]);
        r[2200] = 2;
        r[2208..2216].copy_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        r
    }

    /// A friend asked with a request, byte by byte.
    fn requested_record() -> Vec<u8> {
        let mut r = vec![0u8; FRIEND_RECORD_SIZE];
        r[0] = 2;
        r[1..33].copy_from_slice(&[0x22; 32]);
        r[33..35].copy_from_slice(b"hi");
        r[1058..1060].copy_from_slice(&[0, 2]);
        r[2204..2208].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        r
    }

    #[test]
    fn confirmed_friend_offsets() {
        let friend = SavedFriend::Confirmed(ConfirmedFriend {
            public_key: pk(0x11),
            name: Name::new("Bob").unwrap(),
            status_message: StatusMessage::new("hello").unwrap(),
            user_status: UserStatus::Busy,
            last_seen: 0x0102_0304_0506_0708,
        });
        assert_eq!(decode(&confirmed_record()), Some(friend.clone()));
        assert_eq!(friend.to_bytes(), confirmed_record());
    }

    #[test]
    fn requested_friend_offsets() {
        let friend = SavedFriend::Requested(RequestedFriend {
            public_key: pk(0x22),
            nospam: NoSpam([0xde, 0xad, 0xbe, 0xef]),
            message: FriendRequestMessage::new("hi").unwrap(),
            request_sent: true,
        });
        assert_eq!(decode(&requested_record()), Some(friend.clone()));
        assert_eq!(friend.to_bytes(), requested_record());
        let mut added = requested_record();
        added[0] = 1;
        let Some(SavedFriend::Requested(f)) = decode(&added) else {
            panic!("status 1 is a requested friend");
        };
        assert!(!f.request_sent);
    }

    #[test]
    fn an_online_friend_reads_as_confirmed() {
        let mut record = confirmed_record();
        record[0] = 4;
        assert!(matches!(decode(&record), Some(SavedFriend::Confirmed(_))));
    }

    #[test]
    fn records_c_toxcore_would_not_re_add_are_skipped() {
        let mut empty_slot = confirmed_record();
        empty_slot[0] = 0;
        assert_eq!(decode(&empty_slot), None);
        let mut bad_key = confirmed_record();
        bad_key[32] = 0x80;
        assert_eq!(decode(&bad_key), None);
        let mut no_message = requested_record();
        no_message[1058..1060].copy_from_slice(&[0, 0]);
        assert_eq!(decode(&no_message), None);
        let mut too_long = requested_record();
        too_long[1058..1060].copy_from_slice(&1017u16.to_be_bytes());
        assert_eq!(decode(&too_long), None);
        let mut longest = requested_record();
        longest[1058..1060].copy_from_slice(&1016u16.to_be_bytes());
        assert!(decode(&longest).is_some());
        let mut past_field = requested_record();
        past_field[1058..1060].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(decode(&past_field), None);
    }

    #[test]
    fn overlong_names_and_invalid_statuses_are_dropped() {
        let mut record = confirmed_record();
        record[1188..1190].copy_from_slice(&129u16.to_be_bytes());
        record[2198..2200].copy_from_slice(&1008u16.to_be_bytes());
        record[2200] = 3;
        let Some(SavedFriend::Confirmed(f)) = decode(&record) else {
            panic!("still a friend");
        };
        assert_eq!(f.name, Name::default());
        assert_eq!(f.status_message, StatusMessage::default());
        assert_eq!(f.user_status, UserStatus::None);
    }

    #[test]
    fn longest_texts_fit_their_fields() {
        let friend = SavedFriend::Confirmed(ConfirmedFriend {
            public_key: pk(1),
            name: Name::new(vec![b'n'; 128]).unwrap(),
            status_message: StatusMessage::new(vec![b's'; 1007]).unwrap(),
            user_status: UserStatus::Away,
            last_seen: u64::MAX,
        });
        let bytes = friend.to_bytes();
        assert_eq!(bytes.len(), FRIEND_RECORD_SIZE);
        assert_eq!(decode(&bytes), Some(friend));
        let requested = SavedFriend::Requested(RequestedFriend {
            public_key: pk(2),
            nospam: NoSpam([1, 2, 3, 4]),
            message: FriendRequestMessage::new(vec![b'm'; 1016]).unwrap(),
            request_sent: false,
        });
        let bytes = requested.to_bytes();
        assert_eq!(bytes.len(), FRIEND_RECORD_SIZE);
        assert_eq!(decode(&bytes), Some(requested));
    }
}
