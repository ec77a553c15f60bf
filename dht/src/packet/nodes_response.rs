//! Nodes response (0x04): up to four nodes closest to the searched key.
//!
//! Wire layout (spec "Nodes Service", "Nodes Response (0x04)"; checklist
//! D4; c-toxcore `sendnodes_ipv6` and `handle_sendnodes_core` in `DHT.c`):
//!
//! | bytes        | field                                              |
//! |--------------|----------------------------------------------------|
//! | 1            | `0x04`                                             |
//! | 32           | sender's DHT public key                            |
//! | 24           | nonce                                              |
//! | 48..=229     | box of the [`NodesResponsePayload`] + MAC 16       |
//!
//! | payload bytes | field                                            |
//! |---------------|--------------------------------------------------|
//! | 1             | node count, 1..=4                                |
//! | 39 or 51 each | packed nodes, UDP families (2, 10) only          |
//! | 8             | the request's id, echoed verbatim                |
//!
//! So the packet is 82 bytes plus 39..=204 bytes of nodes:
//! [`NODES_RESPONSE_MIN_SIZE`] = 121 to [`NODES_RESPONSE_MAX_SIZE`] = 286.
//!
//! What c-toxcore 0.2.18 accepts, and how we match it:
//! - Before decrypting, `handle_sendnodes_core` requires the node bytes to
//!   be non-empty and at most `MAX_SENT_NODES * sizeof(Node_format)` (a C
//!   struct size, 256 on common 64-bit ABIs). After decrypting it requires
//!   `count` ≤ 4 and that exactly `count` nodes fill the node bytes, so
//!   count 0 and any node bytes that are not 1–4 whole nodes are dropped,
//!   and TCP families are refused (`unpack_nodes(.., tcp_enabled = false)`).
//!   Only 121..=286 bytes can pass all of that, so we check that range
//!   before any cryptography: it refuses nothing c-toxcore would accept.
//! - `sendnodes_ipv6` does send a 0-node response (82 bytes) when it knows
//!   no node, which every c-toxcore receiver then drops. We neither accept
//!   nor build one: [`NodesResponsePayload::new`] refuses an empty list.

use std::net::IpAddr;

use bytes::BufMut;
use toxide_core::packed_node::MAX_SENT_NODES;
use toxide_core::{Decode, DecodeError, Encode, PackedNode, Reader, TransportProtocol};

use super::DhtPacketError;
use super::envelope::{DhtPacket, ENVELOPE_OVERHEAD, EnvelopeKind};

/// Size of a nodes response carrying one IPv4 node.
pub const NODES_RESPONSE_MIN_SIZE: usize = ENVELOPE_OVERHEAD + 1 + 39 + 8;
/// The size of a nodes response listing no node (82): c-toxcore sends
/// these while it knows nobody, and refuses them itself, as we do.
pub const EMPTY_NODES_RESPONSE_SIZE: usize = ENVELOPE_OVERHEAD + 1 + 8;
/// Size of a nodes response carrying four IPv6 nodes.
pub const NODES_RESPONSE_MAX_SIZE: usize = ENVELOPE_OVERHEAD + 1 + MAX_SENT_NODES * 51 + 8;

/// A Nodes response as it travels: see [`DhtPacket`](super::DhtPacket).
pub type NodesResponse = DhtPacket<NodesResponseKind>;

/// Marks the Nodes response envelope (`NET_PACKET_SEND_NODES_IPV6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodesResponseKind {}

impl EnvelopeKind for NodesResponseKind {
    const ID: u8 = 0x04;
    const NAME: &'static str = "nodes response";
    const MIN_SIZE: usize = NODES_RESPONSE_MIN_SIZE;
    const MAX_SIZE: usize = NODES_RESPONSE_MAX_SIZE;
    const INNER_TYPE: Option<u8> = None;
    type Payload = NodesResponsePayload;
}

/// What a nodes response carries inside its box: 1 to 4 UDP nodes and the
/// echoed request id (opaque, see
/// [`NodesRequestPayload`](super::NodesRequestPayload)).
///
/// The fields are private so that every value can be sent and would be
/// accepted by c-toxcore: build one with [`NodesResponsePayload::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodesResponsePayload {
    nodes: Vec<PackedNode>,
    request_id: u64,
}

impl NodesResponsePayload {
    /// A payload of 1..=[`MAX_SENT_NODES`] UDP nodes.
    pub fn new(nodes: Vec<PackedNode>, request_id: u64) -> Result<Self, DhtPacketError> {
        if nodes.is_empty() || nodes.len() > MAX_SENT_NODES {
            return Err(DhtPacketError::Unsendable {
                what: "nodes response node count",
                len: nodes.len(),
                min: 1,
                max: MAX_SENT_NODES,
            });
        }
        if nodes.iter().any(|n| n.protocol == TransportProtocol::Tcp) {
            return Err(DhtPacketError::TcpNodeInResponse);
        }
        Ok(Self { nodes, request_id })
    }

    /// The nodes, in the order they were sent.
    pub fn nodes(&self) -> &[PackedNode] {
        &self.nodes
    }

    /// The echoed request id.
    pub fn request_id(&self) -> u64 {
        self.request_id
    }

    /// The nodes, by value.
    pub fn into_nodes(self) -> Vec<PackedNode> {
        self.nodes
    }
}

impl Encode for NodesResponsePayload {
    fn encode(&self, buf: &mut impl BufMut) {
        // At most MAX_SENT_NODES (4) by construction.
        buf.put_u8(self.nodes.len() as u8);
        for node in &self.nodes {
            node.encode(buf);
        }
        buf.put_u64(self.request_id);
    }
    fn encoded_len(&self) -> usize {
        1 + self.nodes.iter().map(Encode::encoded_len).sum::<usize>() + 8
    }
}

impl Decode for NodesResponsePayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = reader.u8("nodes response count")?;
        if count == 0 {
            return Err(DecodeError::InvalidValue {
                what: "nodes response count",
                value: 0,
            });
        }
        let nodes = reader.items::<PackedNode>(
            "nodes response count",
            usize::from(count),
            MAX_SENT_NODES,
        )?;
        if let Some(tcp) = nodes.iter().find(|n| n.protocol == TransportProtocol::Tcp) {
            return Err(DecodeError::InvalidValue {
                what: "nodes response node family (UDP only)",
                value: match tcp.addr.ip() {
                    IpAddr::V4(_) => 130,
                    IpAddr::V6(_) => 138,
                },
            });
        }
        let request_id = reader.u64_be("nodes response request id")?;
        Ok(Self { nodes, request_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::DhtPacketError;
    use crate::packet::test_util::{PEERS, arb_nonce, arb_pk, arb_udp_node, garbage};
    use proptest::prelude::*;
    use toxide_core::CryptoError;
    use toxide_core::{Nonce, PublicKey};

    use toxide_core::testing::{node_v4 as v4, node_v6 as v6};

    fn seal(nodes: Vec<PackedNode>) -> NodesResponse {
        let payload = NodesResponsePayload::new(nodes, 42).unwrap();
        NodesResponse::new(
            &PEERS.bob_alice,
            PEERS.bob.public,
            Nonce::new([6; 24]),
            &payload,
        )
    }

    #[test]
    fn sizes_span_121_to_286() {
        assert_eq!(seal(vec![v4(1)]).to_bytes().len(), 121);
        assert_eq!(seal((1..=4).map(v6).collect()).to_bytes().len(), 286);
        assert_eq!(seal(vec![v4(1), v6(2)]).to_bytes().len(), 82 + 39 + 51);
    }

    #[test]
    fn plaintext_layout() {
        let packet = seal(vec![v4(9)]);
        let bytes = packet.to_bytes();
        assert_eq!(bytes[0], 0x04);
        let plain = PEERS
            .alice_bob
            .decrypt(&packet.nonce, &bytes[57..])
            .unwrap();
        assert_eq!(plain[0], 1);
        assert_eq!(&plain[1..8], &[2, 10, 0, 0, 9, 0x82, 0xa5]);
        assert_eq!(&plain[40..], &42u64.to_be_bytes());
    }

    #[test]
    fn lengths_outside_121_to_286_are_refused() {
        // An 82-byte response is what c-toxcore sends when it knows no node.
        for len in [0, 82, 120, 287, 338] {
            let mut bytes = vec![0u8; len];
            if let Some(first) = bytes.first_mut() {
                *first = NodesResponse::ID;
            }
            assert!(matches!(
                NodesResponse::from_bytes(&bytes),
                Err(DecodeError::BadLength {
                    min: 121,
                    max: 286,
                    ..
                })
            ));
        }
    }

    #[test]
    fn counts_must_match_the_nodes_present() {
        let good = NodesResponsePayload::new(vec![v4(1), v4(2)], 7)
            .unwrap()
            .to_bytes();
        for count in [0u8, 1, 3, 4, 5, 255] {
            let mut bytes = good.clone();
            bytes[0] = count;
            assert!(
                NodesResponsePayload::from_bytes(&bytes).is_err(),
                "count {count}"
            );
        }
        assert!(NodesResponsePayload::from_bytes(&good).is_ok());
    }

    #[test]
    fn tcp_nodes_are_refused() {
        let tcp = PackedNode::new(
            TransportProtocol::Tcp,
            "1.2.3.4:5".parse().unwrap(),
            PublicKey::new([1; 32]),
        );
        assert_eq!(
            NodesResponsePayload::new(vec![tcp], 1),
            Err(DhtPacketError::TcpNodeInResponse)
        );
        let mut bytes = NodesResponsePayload::new(vec![v4(1)], 1)
            .unwrap()
            .to_bytes();
        bytes[1] = 130;
        assert_eq!(
            NodesResponsePayload::from_bytes(&bytes),
            Err(DecodeError::InvalidValue {
                what: "nodes response node family (UDP only)",
                value: 130
            })
        );
    }

    #[test]
    fn empty_and_oversized_lists_cannot_be_built() {
        assert!(NodesResponsePayload::new(vec![], 1).is_err());
        assert!(NodesResponsePayload::new((1..=5).map(v4).collect(), 1).is_err());
    }

    #[test]
    fn wrong_key_does_not_open() {
        assert_eq!(
            seal(vec![v4(1)]).open(&PEERS.eve_bob),
            Err(DhtPacketError::Crypto(CryptoError::AuthenticationFailed))
        );
    }

    proptest! {
        #[test]
        fn seal_open_and_encode_decode_round_trip(
            nodes in proptest::collection::vec(arb_udp_node(), 1..=MAX_SENT_NODES),
            request_id in any::<u64>(), pk in arb_pk(), nonce in arb_nonce()
        ) {
            let payload = NodesResponsePayload::new(nodes, request_id).unwrap();
            prop_assert_eq!(NodesResponsePayload::from_bytes(&payload.to_bytes()), Ok(payload.clone()));
            let packet = NodesResponse::new(&PEERS.bob_alice, pk, nonce, &payload);
            let bytes = packet.to_bytes();
            prop_assert!((NODES_RESPONSE_MIN_SIZE..=NODES_RESPONSE_MAX_SIZE).contains(&bytes.len()));
            let decoded = NodesResponse::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.alice_bob), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(320)) {
            if let Ok(packet) = NodesResponse::from_bytes(&bytes) {
                prop_assert!(packet.open(&PEERS.alice_bob).is_err());
            }
            if let Ok(payload) = NodesResponsePayload::from_bytes(&bytes) {
                prop_assert!((1..=MAX_SENT_NODES).contains(&payload.nodes().len()));
            }
        }

        #[test]
        fn truncated_payloads_are_refused(
            nodes in proptest::collection::vec(arb_udp_node(), 1..=MAX_SENT_NODES),
            cut in 1usize..250,
        ) {
            let bytes = NodesResponsePayload::new(nodes, 3).unwrap().to_bytes();
            let keep = bytes.len().saturating_sub(cut);
            prop_assert!(NodesResponsePayload::from_bytes(&bytes[..keep]).is_err());
        }
    }
}
