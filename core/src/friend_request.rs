//! A friend request's body, `[nospam 4][message]`: the same bytes whichever
//! way the request travels.
//!
//! c-toxcore 0.2.18 sends a request as onion data (type
//! `CRYPTO_PACKET_FRIEND_REQ` = 32, the onion layer) or, when a net_crypto
//! session with the receiver is already up, as the session packet
//! `PACKET_ID_FRIEND_REQUESTS` = 18 (the messenger layer); both prefix this
//! body with their own type byte (`send_friend_request_packet` in
//! `friend_connection.c`). One receiver takes both
//! (`friendreq_handlepacket` in `friend_requests.c`, spec "Friend
//! requests", checklist F4, O12), so both layers decode the body with
//! [`FriendRequestPayload`].
//!
//! | bytes      | field                                              |
//! |------------|----------------------------------------------------|
//! | 4          | the receiver's nospam, in Tox ID byte order        |
//! | 1..=1016   | message, bytes as the user typed them              |
//!
//! The receiver drops a request of 5 bytes or less with its type byte (no
//! message) or over [`ONION_CLIENT_MAX_DATA_SIZE`] (1021) bytes, so a
//! decoded message is 1..=[`MAX_FRIEND_REQUEST_DATA_SIZE`] bytes. A path
//! may carry less (a 0.2.18 receiver takes only 943 through the onion);
//! that limit belongs to the path that sends.
//!
//! The nospam is copied between the Tox ID and the packet as raw bytes on
//! both sides, so it is the four bytes of the receiver's Tox ID, whatever
//! the host byte order.

use bytes::BufMut;

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::keys::PublicKey;
use crate::tox_id::NoSpam;

/// The most data an onion data packet of the onion client carries
/// (`ONION_CLIENT_MAX_DATA_SIZE` = 1021). c-toxcore applies it to friend
/// requests on both of their paths, the net_crypto one included.
pub const ONION_CLIENT_MAX_DATA_SIZE: usize = 1021;

/// The longest friend request message (`MAX_FRIEND_REQUEST_DATA_SIZE`,
/// `TOX_MAX_FRIEND_REQUEST_LENGTH` = 1016): what fits after the type byte
/// and the nospam in [`ONION_CLIENT_MAX_DATA_SIZE`].
pub const MAX_FRIEND_REQUEST_DATA_SIZE: usize = ONION_CLIENT_MAX_DATA_SIZE - 1 - 4;

/// Bytes of nospam before the message.
const NOSPAM_SIZE: usize = 4;

/// A friend request's nospam and message, without the type byte of the
/// path it travels on.
///
/// The fields are plain data: each path checks its own sending limit when
/// it builds a request, and [`Decode`] refuses what every c-toxcore
/// receiver drops (an empty message, or one over
/// [`MAX_FRIEND_REQUEST_DATA_SIZE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRequestPayload {
    /// The nospam from the Tox ID the sender was given; the receiver drops
    /// the request unless it is its current one.
    pub nospam: NoSpam,
    /// The message, as sent (c-toxcore does not check it is UTF-8).
    pub message: Vec<u8>,
}

impl Encode for FriendRequestPayload {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.nospam.0);
        buf.put_slice(&self.message);
    }

    fn encoded_len(&self) -> usize {
        NOSPAM_SIZE + self.message.len()
    }
}

impl Decode for FriendRequestPayload {
    /// Takes the rest of the reader: the message runs to the end.
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "friend request",
            NOSPAM_SIZE + 1,
            NOSPAM_SIZE + MAX_FRIEND_REQUEST_DATA_SIZE,
        )?;
        let nospam = NoSpam(reader.array("friend request nospam")?);
        Ok(Self {
            nospam,
            message: reader.rest().to_vec(),
        })
    }
}

/// Senders remembered by [`RecentRequests`] (`MAX_RECEIVED_STORED`).
pub const MAX_RECEIVED_STORED: usize = 32;

/// The senders of the last [`MAX_RECEIVED_STORED`] friend requests
/// delivered to the user: a repeat from one of them is dropped, as
/// c-toxcore's `request_received` check does on either path.
#[derive(Debug, Clone, Default)]
pub struct RecentRequests {
    senders: std::collections::VecDeque<PublicKey>,
}

impl RecentRequests {
    /// Whether `sender`'s request was delivered lately.
    pub fn contains(&self, sender: &PublicKey) -> bool {
        self.senders.contains(sender)
    }

    /// `sender`'s request was delivered; the oldest sender is forgotten
    /// when the list is full.
    pub fn remember(&mut self, sender: PublicKey) {
        if self.senders.len() >= MAX_RECEIVED_STORED {
            self.senders.pop_front();
        }
        self.senders.push_back(sender);
    }

    /// `sender` may ask again (c-toxcore `remove_request_received`, when
    /// a friend is deleted).
    pub fn forget(&mut self, sender: &PublicKey) {
        self.senders.retain(|k| k != sender);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_nospam_then_message() {
        let payload = FriendRequestPayload {
            nospam: NoSpam([1, 2, 3, 4]),
            message: b"hi".to_vec(),
        };
        assert_eq!(payload.to_bytes(), [1, 2, 3, 4, b'h', b'i']);
        assert_eq!(
            FriendRequestPayload::from_bytes(&[1, 2, 3, 4, b'h', b'i']),
            Ok(payload)
        );
    }

    #[test]
    fn message_length_boundaries() {
        assert_eq!(MAX_FRIEND_REQUEST_DATA_SIZE, 1016);
        let mut bytes = vec![9; 4];
        assert!(FriendRequestPayload::from_bytes(&bytes).is_err(), "empty");
        bytes.resize(4 + 1016, b'x');
        assert!(FriendRequestPayload::from_bytes(&bytes).is_ok());
        bytes.push(b'x');
        assert_eq!(
            FriendRequestPayload::from_bytes(&bytes),
            Err(DecodeError::BadLength {
                what: "friend request",
                len: 1021,
                min: 5,
                max: 1020
            })
        );
    }

    proptest! {
        #[test]
        fn round_trips(
            nospam in any::<[u8; 4]>(),
            message in proptest::collection::vec(any::<u8>(), 1..=MAX_FRIEND_REQUEST_DATA_SIZE),
        ) {
            let payload = FriendRequestPayload { nospam: NoSpam(nospam), message };
            let bytes = payload.to_bytes();
            prop_assert_eq!(bytes.len(), payload.encoded_len());
            prop_assert_eq!(FriendRequestPayload::from_bytes(&bytes), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
            if let Ok(payload) = FriendRequestPayload::from_bytes(&bytes) {
                prop_assert_eq!(payload.to_bytes(), bytes);
            }
        }
    }

    #[test]
    fn recent_requests_keep_the_last_32_senders() {
        let key = |i: u8| PublicKey::new([i; 32]);
        let mut recent = RecentRequests::default();
        for i in 0..=32u8 {
            recent.remember(key(i));
        }
        // The 33rd pushed the first out.
        assert!(!recent.contains(&key(0)));
        assert!((1..=32).all(|i| recent.contains(&key(i))));
        recent.forget(&key(5));
        assert!(!recent.contains(&key(5)));
        assert!(recent.contains(&key(6)));
    }
}
