//! Announce response, 0x84 (old) and 0x88 (new).
//!
//! Wire layout (c-toxcore `handle_announce_request_common`, checklist O6/O7):
//!
//! | bytes  | field                                                      |
//! |--------|------------------------------------------------------------|
//! | 1      | 0x84 or 0x88                                                |
//! | 8      | the request's sendback, verbatim                            |
//! | 24     | nonce                                                       |
//! | n + 16 | `crypto_box(announce node's DHT key, request's sender key; payload)` |
//!
//! Payload: `[status 1][ping id or data key 32][nodes]`; in 0x88 the nodes
//! are preceded by their count (and may be followed by group extra data,
//! which 0.2.18 never sends). Status 0: not stored, here is a ping id;
//! 1: the searched key is announced here, here is its data key; 2: you are
//! stored, here is a ping id.

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, MAC_SIZE, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PackedNode,
    PublicKey, Reader, SharedKey,
};

use super::{AnnounceVersion, OnionPacketError, SENDBACK_SIZE};
use crate::constants::{ANNOUNCE_MAX_NODES, PING_ID_SIZE};

/// The smallest response (`ONION_ANNOUNCE_RESPONSE_MIN_SIZE`: no nodes).
pub const ANNOUNCE_RESPONSE_MIN_SIZE: usize =
    1 + SENDBACK_SIZE + NONCE_SIZE + 1 + PING_ID_SIZE + MAC_SIZE;
/// The largest response a 0.2.18 client accepts
/// (`ONION_ANNOUNCE_RESPONSE_MAX_SIZE`).
pub const ANNOUNCE_RESPONSE_MAX_SIZE: usize = ANNOUNCE_RESPONSE_MIN_SIZE + 136 * ANNOUNCE_MAX_NODES;

/// An announce response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// 0x84 or 0x88.
    pub version: AnnounceVersion,
    /// The request's sendback.
    pub sendback: [u8; SENDBACK_SIZE],
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The sealed payload.
    pub sealed: Vec<u8>,
}

impl AnnounceResponse {
    /// Seals `payload` for the requester `shared` was computed with.
    pub fn new(
        version: AnnounceVersion,
        shared: &SharedKey,
        sendback: [u8; SENDBACK_SIZE],
        nonce: Nonce,
        payload: &AnnounceResponsePayload,
    ) -> Self {
        Self {
            version,
            sendback,
            nonce,
            sealed: shared.encrypt(&nonce, &payload.to_versioned_bytes(version)),
        }
    }

    /// Opens the payload with the key shared with the announce node.
    pub fn open(&self, shared: &SharedKey) -> Result<AnnounceResponsePayload, OnionPacketError> {
        let plain = shared.decrypt(&self.nonce, &self.sealed)?;
        AnnounceResponsePayload::decode_versioned(self.version, &plain)
            .map_err(OnionPacketError::Payload)
    }
}

impl Encode for AnnounceResponse {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.version.response_id());
        buf.put_slice(&self.sendback);
        self.nonce.encode(buf);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        1 + SENDBACK_SIZE + NONCE_SIZE + self.sealed.len()
    }
}

impl Decode for AnnounceResponse {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "announce response";
        reader.expect_remaining(NAME, ANNOUNCE_RESPONSE_MIN_SIZE, ANNOUNCE_RESPONSE_MAX_SIZE)?;
        Ok(Self {
            version: AnnounceVersion::read(reader, NAME, AnnounceVersion::response_id)?,
            sendback: reader.array("sendback")?,
            nonce: Nonce::decode(reader)?,
            sealed: reader.rest().to_vec(),
        })
    }
}

/// The announce node's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceStatus {
    /// 0: not stored (or searched key unknown); announce again with this
    /// ping id.
    NotStored([u8; PING_ID_SIZE]),
    /// 1: the searched key is announced here; encrypt onion data to this
    /// data key.
    Found(PublicKey),
    /// 2: the sender is stored; keep announcing with this ping id.
    Stored([u8; PING_ID_SIZE]),
}

/// What an announce response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponsePayload {
    /// Stored, found or neither.
    pub status: AnnounceStatus,
    /// Up to four nodes closer to the searched key.
    pub nodes: Vec<PackedNode>,
}

impl AnnounceResponsePayload {
    /// The payload in `version`'s layout.
    pub fn to_versioned_bytes(&self, version: AnnounceVersion) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + PING_ID_SIZE + self.nodes.len() * 51);
        let (tag, field) = match &self.status {
            AnnounceStatus::NotStored(ping_id) => (0, *ping_id),
            AnnounceStatus::Found(data_pk) => (1, *data_pk.as_bytes()),
            AnnounceStatus::Stored(ping_id) => (2, *ping_id),
        };
        out.push(tag);
        out.extend_from_slice(&field);
        let nodes = self.nodes.get(..ANNOUNCE_MAX_NODES).unwrap_or(&self.nodes);
        if version == AnnounceVersion::New {
            out.push(nodes.len() as u8);
        }
        for node in nodes {
            node.encode(&mut out);
        }
        out
    }

    /// Reads a payload in `version`'s layout.
    pub fn decode_versioned(version: AnnounceVersion, bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let tag = reader.u8("announce status")?;
        let field: [u8; PING_ID_SIZE] = reader.array("ping id or data key")?;
        let status = match tag {
            0 => AnnounceStatus::NotStored(field),
            1 => AnnounceStatus::Found(PublicKey::new(field)),
            2 => AnnounceStatus::Stored(field),
            other => {
                return Err(DecodeError::InvalidValue {
                    what: "announce status",
                    value: u64::from(other),
                });
            }
        };
        let nodes = match version {
            AnnounceVersion::Old => PackedNode::decode_to_end(&mut reader, ANNOUNCE_MAX_NODES)?,
            AnnounceVersion::New => {
                let count = usize::from(reader.u8("node count")?);
                let nodes = reader.items("announce nodes", count, ANNOUNCE_MAX_NODES)?;
                reader.finish("announce response payload")?;
                nodes
            }
        };
        Ok(Self { status, nodes })
    }
}

const _: () = assert!(PUBLIC_KEY_SIZE == PING_ID_SIZE);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{PEERS, arb_nonce, arb_pk, arb_udp_node, garbage};
    use proptest::prelude::*;

    fn arb_status() -> impl Strategy<Value = AnnounceStatus> {
        prop_oneof![
            any::<[u8; 32]>().prop_map(AnnounceStatus::NotStored),
            arb_pk().prop_map(AnnounceStatus::Found),
            any::<[u8; 32]>().prop_map(AnnounceStatus::Stored),
        ]
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(
            new in any::<bool>(), status in arb_status(),
            nodes in proptest::collection::vec(arb_udp_node(), 0..=4),
            sendback in any::<[u8; 8]>(), nonce in arb_nonce(),
        ) {
            let version = if new { AnnounceVersion::New } else { AnnounceVersion::Old };
            let payload = AnnounceResponsePayload { status, nodes };
            let packet = AnnounceResponse::new(version, &PEERS.bob_alice, sendback, nonce, &payload);
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(bytes[0], version.response_id());
            let decoded = AnnounceResponse::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.alice_bob), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(700)) {
            let _ = AnnounceResponse::from_bytes(&bytes);
            let _ = AnnounceResponsePayload::decode_versioned(AnnounceVersion::Old, &bytes);
            let _ = AnnounceResponsePayload::decode_versioned(AnnounceVersion::New, &bytes);
        }
    }

    #[test]
    fn sizes_follow_c_toxcore() {
        assert_eq!(ANNOUNCE_RESPONSE_MIN_SIZE, 82);
        assert_eq!(ANNOUNCE_RESPONSE_MAX_SIZE, 626);
        let empty = AnnounceResponse::new(
            AnnounceVersion::Old,
            &PEERS.bob_alice,
            [0; 8],
            Nonce::new([0; 24]),
            &AnnounceResponsePayload {
                status: AnnounceStatus::NotStored([0; 32]),
                nodes: vec![],
            },
        );
        assert_eq!(empty.to_bytes().len(), 82);
    }
}
