//! What travels inside onion data (0x85/0x86) between friends, and inside
//! the DHT's routed request as a DHT-PK announcement.
//!
//! Inner layout (c-toxcore `send_onion_data`, `handle_data_response`,
//! checklist O10–O12): the data request's box holds
//! `[sender real key 32][crypto_box(sender real, receiver real; same nonce; payload)]`,
//! so the receiver learns who wrote it and that they hold the real key.
//! The payload starts with a type byte:
//!
//! | type  | payload                                                      |
//! |-------|--------------------------------------------------------------|
//! | 0x9c  | [`DhtPkAnnounce`]: `[no_replay u64 BE][DHT key 32][packed nodes ≤ 4]` |
//! | 0x20  | [`FriendRequest`]: `[nospam 4][message]` ([`FriendRequestPayload`], shared with the session path) |
//!
//! Over the DHT (routed request type 156) the DHT-PK announcement is
//! wrapped as `[sender real key][nonce 24][box]` instead, the nonce being
//! carried since there is no outer one to share.

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, FriendRequestPayload, MAC_SIZE, Nonce, PUBLIC_KEY_SIZE,
    PackedNode, PublicKey, Reader, SecretKey, SharedKey,
};

use super::{DATA_RESPONSE_MAX_SIZE, OnionPacketError};
use crate::constants::ANNOUNCE_MAX_NODES;

/// The DHT-PK announcement's type byte (`ONION_DATA_DHTPK`).
pub const DHT_PK_TYPE: u8 = 156;
/// The friend request's type byte (`CRYPTO_PACKET_FRIEND_REQ`).
pub const FRIEND_REQUEST_TYPE: u8 = 32;

/// Bytes the inner box adds around a payload: the sender's key and a MAC.
pub const INNER_OVERHEAD: usize = PUBLIC_KEY_SIZE + MAC_SIZE;
/// The largest payload that reaches a 0.2.18 receiver through the onion
/// (`ONION_CLIENT_MAX_DATA_SIZE` is larger, but the receiver's 0x86 limit
/// cuts it to this; checklist F4).
pub const MAX_ONION_DATA_PAYLOAD: usize = DATA_RESPONSE_MAX_SIZE
    - (1 + toxide_core::NONCE_SIZE + PUBLIC_KEY_SIZE + MAC_SIZE)
    - INNER_OVERHEAD;

/// Seals `payload` for `receiver` with our real keys: the inner layer.
pub fn seal_inner(
    nonce: &Nonce,
    sender: &PublicKey,
    shared: &SharedKey,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = sender.as_bytes().to_vec();
    out.extend_from_slice(&shared.encrypt(nonce, payload));
    out
}

/// Opens an inner layer: the sender's real key and the payload. Costs a
/// Diffie-Hellman with the claimed sender key (cached by the caller if it
/// wants).
pub fn open_inner(
    nonce: &Nonce,
    our_real: &SecretKey,
    inner: &[u8],
) -> Result<(PublicKey, Vec<u8>), OnionPacketError> {
    let mut reader = Reader::new(inner);
    let sender = PublicKey::decode(&mut reader)?;
    let plain = SharedKey::new(&sender, our_real)?.decrypt(nonce, reader.rest())?;
    if plain.is_empty() {
        return Err(OnionPacketError::Payload(DecodeError::Truncated {
            what: "onion data type",
            needed: 1,
            available: 0,
        }));
    }
    Ok((sender, plain))
}

/// A friend telling us its current DHT key and where to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtPkAnnounce {
    /// Must grow from one announcement to the next (0.2.18 sends its
    /// monotonic clock in seconds); replays are dropped.
    pub no_replay: u64,
    /// The sender's DHT key.
    pub dht_pk: PublicKey,
    /// Up to four nodes near it: its TCP relays and DHT nodes.
    pub nodes: Vec<PackedNode>,
}

impl Encode for DhtPkAnnounce {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(DHT_PK_TYPE);
        buf.put_u64(self.no_replay);
        self.dht_pk.encode(buf);
        for node in self.nodes.iter().take(ANNOUNCE_MAX_NODES) {
            node.encode(buf);
        }
    }

    fn encoded_len(&self) -> usize {
        1 + 8
            + PUBLIC_KEY_SIZE
            + self
                .nodes
                .iter()
                .take(ANNOUNCE_MAX_NODES)
                .map(Encode::encoded_len)
                .sum::<usize>()
    }
}

impl Decode for DhtPkAnnounce {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_u8("DHT-PK type", DHT_PK_TYPE)?;
        Ok(Self {
            no_replay: reader.u64_be("no_replay")?,
            dht_pk: PublicKey::decode(reader)?,
            nodes: PackedNode::decode_to_end(reader, ANNOUNCE_MAX_NODES)?,
        })
    }
}

/// A friend request as onion data: the type byte, then the body the
/// session path (packet 18) carries too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRequest(pub FriendRequestPayload);

impl Encode for FriendRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(FRIEND_REQUEST_TYPE);
        self.0.encode(buf);
    }

    fn encoded_len(&self) -> usize {
        1 + self.0.encoded_len()
    }
}

impl Decode for FriendRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_u8("friend request type", FRIEND_REQUEST_TYPE)?;
        // The body refuses an empty message (c-toxcore drops `length <= 1 +
        // sizeof(nospam)`) and one over 1016 bytes.
        FriendRequestPayload::decode(reader).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{PEERS, arb_nonce, arb_pk, arb_udp_node, garbage};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn dht_pk_round_trips(no_replay in any::<u64>(), dht_pk in arb_pk(), nodes in proptest::collection::vec(arb_udp_node(), 0..=4)) {
            let packet = DhtPkAnnounce { no_replay, dht_pk, nodes };
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(DhtPkAnnounce::from_bytes(&bytes), Ok(packet));
        }

        #[test]
        fn friend_request_round_trips(nospam in any::<[u8; 4]>(), message in proptest::collection::vec(any::<u8>(), 1..900)) {
            let packet = FriendRequest(FriendRequestPayload { nospam: toxide_core::NoSpam(nospam), message });
            prop_assert_eq!(FriendRequest::from_bytes(&packet.to_bytes()), Ok(packet));
        }

        #[test]
        fn inner_layer_round_trips(nonce in arb_nonce(), payload in proptest::collection::vec(any::<u8>(), 1..500)) {
            let p = &*PEERS;
            let inner = seal_inner(&nonce, &p.alice.public, &p.alice_bob, &payload);
            let bob_secret = crate::packet::test_util::bob_secret();
            let (sender, plain) = open_inner(&nonce, &bob_secret, &inner).unwrap();
            prop_assert_eq!(sender, p.alice.public);
            prop_assert_eq!(plain, payload);
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1200)) {
            let _ = DhtPkAnnounce::from_bytes(&bytes);
            let _ = FriendRequest::from_bytes(&bytes);
            let _ = open_inner(&Nonce::new([0; 24]), &crate::packet::test_util::bob_secret(), &bytes);
        }
    }

    #[test]
    fn largest_payload_fits_a_0_2_18_receiver() {
        // 1069 − 73 (0x86 header and box) − 48 (inner key and box) = 948,
        // which leaves 943 bytes of friend-request message (checklist F4).
        assert_eq!(MAX_ONION_DATA_PAYLOAD, 948);
    }
}
