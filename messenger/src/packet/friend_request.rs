//! Friend request over a session (18): a friend request sent to someone we
//! already share a net_crypto session with.
//!
//! Checklist F4; spec "Friend requests"; c-toxcore
//! `send_friend_request_packet` and `handle_packet` in
//! `friend_connection.c`, `friendreq_handlepacket` in `friend_requests.c`.
//!
//! | bytes      | field                                              |
//! |------------|----------------------------------------------------|
//! | 1          | `0x12`                                             |
//! | 4 + 1..=1016 | [`FriendRequestPayload`]: nospam, then message   |
//!
//! A request normally travels as onion data (type 32, checklist O12). This
//! id is used instead when the session already exists, which happens when
//! the two are peers in a conference without being friends. Both paths
//! carry the same body, [`FriendRequestPayload`] from `toxide-core`, and
//! share one receiver, so the message here is
//! 1..=[`MAX_FRIEND_REQUEST_DATA_SIZE`] (1016) bytes: the full
//! `TOX_MAX_FRIEND_REQUEST_LENGTH`. (Over the onion a 0.2.18 receiver
//! takes only 943; that limit belongs to the onion path.)

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, FriendRequestPayload, NoSpam, Reader};

use super::{MAX_FRIEND_REQUEST_DATA_SIZE, PACKET_ID_FRIEND_REQUESTS, PacketError};

/// A friend request over a session, built with [`FriendRequest::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRequest(FriendRequestPayload);

impl FriendRequest {
    /// A request to the owner of `nospam` carrying `message`.
    ///
    /// Refuses an empty message or one over
    /// [`MAX_FRIEND_REQUEST_DATA_SIZE`]: c-toxcore drops both.
    pub fn new(nospam: NoSpam, message: Vec<u8>) -> Result<Self, PacketError> {
        super::check_len(
            "friend request message",
            message.len(),
            1,
            MAX_FRIEND_REQUEST_DATA_SIZE,
        )?;
        Ok(Self(FriendRequestPayload { nospam, message }))
    }

    /// The nospam the sender took from the receiver's Tox ID.
    pub const fn nospam(&self) -> NoSpam {
        self.0.nospam
    }

    /// The message (never empty).
    pub fn message(&self) -> &[u8] {
        &self.0.message
    }

    /// The message, by value.
    pub fn into_message(self) -> Vec<u8> {
        self.0.message
    }

    /// The body, as the onion path carries it too.
    pub fn payload(&self) -> &FriendRequestPayload {
        &self.0
    }
}

impl Encode for FriendRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_FRIEND_REQUESTS);
        self.0.encode(buf);
    }

    fn encoded_len(&self) -> usize {
        1 + self.0.encoded_len()
    }
}

impl Decode for FriendRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_u8("friend request", PACKET_ID_FRIEND_REQUESTS)?;
        // The body checks the message is 1..=1016 bytes.
        FriendRequestPayload::decode(reader).map(Self)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    pub(in super::super) fn arb() -> impl Strategy<Value = FriendRequest> {
        (
            any::<[u8; 4]>(),
            proptest::collection::vec(any::<u8>(), 1..=MAX_FRIEND_REQUEST_DATA_SIZE),
        )
            .prop_map(|(nospam, message)| FriendRequest::new(NoSpam(nospam), message).unwrap())
    }

    #[test]
    fn layout_is_id_nospam_message() {
        let packet = FriendRequest::new(NoSpam([1, 2, 3, 4]), b"hi".to_vec()).unwrap();
        assert_eq!(packet.to_bytes(), [18, 1, 2, 3, 4, b'h', b'i']);
        assert_eq!(packet.payload().to_bytes(), [1, 2, 3, 4, b'h', b'i']);
        assert_eq!(
            FriendRequest::from_bytes(&[18, 1, 2, 3, 4, b'h', b'i']),
            Ok(packet)
        );
        assert!(FriendRequest::from_bytes(&[32, 1, 2, 3, 4, b'h', b'i']).is_err());
    }

    #[test]
    fn message_length_boundaries() {
        let nospam = NoSpam([9; 4]);
        assert!(FriendRequest::new(nospam, vec![]).is_err());
        assert!(FriendRequest::new(nospam, vec![b'x'; 1016]).is_ok());
        assert_eq!(
            FriendRequest::new(nospam, vec![b'x'; 1017]),
            Err(PacketError::Unsendable {
                what: "friend request message",
                len: 1017,
                min: 1,
                max: 1016
            })
        );
        let mut bytes = vec![18, 9, 9, 9, 9];
        assert!(FriendRequest::from_bytes(&bytes).is_err());
        bytes.resize(1 + 4 + 1016, b'x');
        assert_eq!(bytes.len(), 1021);
        assert!(FriendRequest::from_bytes(&bytes).is_ok());
        bytes.push(b'x');
        assert!(FriendRequest::from_bytes(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(FriendRequest::from_bytes(&bytes), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1100)) {
            if let Ok(packet) = FriendRequest::from_bytes(&bytes) {
                prop_assert_eq!(packet.to_bytes(), bytes);
            }
        }
    }
}
