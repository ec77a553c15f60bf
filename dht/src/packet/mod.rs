//! Every UDP packet of the c-toxcore 0.2.18 DHT, and a dispatcher over them.
//!
//! | id     | packet                                    | size         |
//! |--------|-------------------------------------------|--------------|
//! | `0x00` | [`PingRequest`]                           | 82           |
//! | `0x01` | [`PingResponse`]                          | 82           |
//! | `0x02` | [`NodesRequest`]                          | 113          |
//! | `0x04` | [`NodesResponse`]                         | 121..=286    |
//! | `0x20` | [`DhtRequest`] (NAT ping, DHT-PK), routed | 106..=1040   |
//! | `0x21` | [`LanDiscovery`]                          | 33           |
//! | `0xf0` | [`BootstrapInfoRequest`]                  | 78           |
//! | `0xf0` | [`BootstrapInfoResponse`]                 | 5..=261      |
//!
//! The four RPC packets share the envelope `[id][sender pk][nonce][box]`
//! (spec "DHT Packet"): one generic [`DhtPacket`] holding the ciphertext,
//! with `new` to seal a payload type and `open` to get it back, so a packet can be
//! decoded, counted and routed without any cryptography, and every length
//! check c-toxcore makes happens before a shared key is computed.
//!
//! The DHT-announcement extension packets of 0.2.18 (0x90–0x98, forwarding
//! and announce store) are not DHT core packets and are not handled here.

mod bootstrap_info_request;
mod bootstrap_info_response;
mod dht_request;
mod envelope;
mod error;
mod lan_discovery;
mod nodes_request;
mod nodes_response;
mod ping_request;
mod ping_response;
#[cfg(test)]
pub(crate) mod test_util;

use bytes::BufMut;
use toxide_core::{Decode, Encode};

pub use bootstrap_info_request::{BOOTSTRAP_INFO_REQUEST_SIZE, BootstrapInfoRequest};
pub use bootstrap_info_response::{
    AMBIGUOUS_MOTD_SIZE, BOOTSTRAP_INFO_RESPONSE_MAX_SIZE, BOOTSTRAP_INFO_RESPONSE_MIN_SIZE,
    BootstrapInfoResponse, MAX_MOTD_SIZE,
};
pub use dht_request::{
    DHT_PK_TYPE, DHT_REQUEST_HEADER_SIZE, DHT_REQUEST_MAX_PAYLOAD_SIZE,
    DHT_REQUEST_MAX_ROUTED_SIZE, DHT_REQUEST_MAX_SIZE, DHT_REQUEST_MIN_SIZE, DhtRequest,
    DhtRequestPayload, FRIEND_REQUEST_TYPE, NAT_PING_TYPE,
};
pub use envelope::{DhtPacket, EnvelopeKind};
pub use error::DhtPacketError;
pub use lan_discovery::{LAN_DISCOVERY_SIZE, LanDiscovery};
pub use nodes_request::{
    NODES_REQUEST_PAYLOAD_SIZE, NODES_REQUEST_SIZE, NodesRequest, NodesRequestKind,
    NodesRequestPayload,
};
pub use nodes_response::{
    EMPTY_NODES_RESPONSE_SIZE, NODES_RESPONSE_MAX_SIZE, NODES_RESPONSE_MIN_SIZE, NodesResponse,
    NodesResponseKind, NodesResponsePayload,
};
pub use ping_request::{
    PING_PACKET_SIZE, PING_PAYLOAD_SIZE, PingRequest, PingRequestKind, PingRequestPayload,
};
pub use ping_response::{PingResponse, PingResponseKind, PingResponsePayload};

/// The first bytes of every packet the DHT owns (checklist §0 packet map):
/// a driver hands exactly these datagrams to the DHT.
pub const PACKET_IDS: [u8; 7] = [
    PingRequest::ID,
    PingResponse::ID,
    NodesRequest::ID,
    NodesResponse::ID,
    DhtRequest::ID,
    LanDiscovery::ID,
    BootstrapInfoRequest::ID,
];

/// Any DHT packet, as it arrives in a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// 0x00.
    PingRequest(PingRequest),
    /// 0x01.
    PingResponse(PingResponse),
    /// 0x02.
    NodesRequest(NodesRequest),
    /// 0x04.
    NodesResponse(NodesResponse),
    /// 0x20.
    DhtRequest(DhtRequest),
    /// 0x21.
    LanDiscovery(LanDiscovery),
    /// 0xf0, exactly 78 bytes.
    BootstrapInfoRequest(BootstrapInfoRequest),
    /// 0xf0, any other length.
    BootstrapInfoResponse(BootstrapInfoResponse),
}

impl Packet {
    /// Decodes a whole datagram, dispatching on its first byte.
    ///
    /// Bootstrap info requests and responses share the id 0xf0; like a
    /// c-toxcore bootstrap node, a 78-byte datagram is taken as a request.
    /// A client expecting a response (whose MOTD might make it exactly 78
    /// bytes) should call [`BootstrapInfoResponse::from_bytes`] directly.
    pub fn decode(bytes: &[u8]) -> Result<Self, DhtPacketError> {
        let Some(&id) = bytes.first() else {
            return Err(DhtPacketError::Empty);
        };
        let packet = match id {
            PingRequest::ID => Self::PingRequest(PingRequest::from_bytes(bytes)?),
            PingResponse::ID => Self::PingResponse(PingResponse::from_bytes(bytes)?),
            NodesRequest::ID => Self::NodesRequest(NodesRequest::from_bytes(bytes)?),
            NodesResponse::ID => Self::NodesResponse(NodesResponse::from_bytes(bytes)?),
            DhtRequest::ID => Self::DhtRequest(DhtRequest::from_bytes(bytes)?),
            LanDiscovery::ID => Self::LanDiscovery(LanDiscovery::from_bytes(bytes)?),
            BootstrapInfoRequest::ID if bytes.len() == BOOTSTRAP_INFO_REQUEST_SIZE => {
                Self::BootstrapInfoRequest(BootstrapInfoRequest::from_bytes(bytes)?)
            }
            BootstrapInfoResponse::ID => {
                Self::BootstrapInfoResponse(BootstrapInfoResponse::from_bytes(bytes)?)
            }
            id => return Err(DhtPacketError::UnknownPacketId { id }),
        };
        Ok(packet)
    }

    /// The packet id (first byte on the wire).
    pub fn id(&self) -> u8 {
        match self {
            Self::PingRequest(_) => PingRequest::ID,
            Self::PingResponse(_) => PingResponse::ID,
            Self::NodesRequest(_) => NodesRequest::ID,
            Self::NodesResponse(_) => NodesResponse::ID,
            Self::DhtRequest(_) => DhtRequest::ID,
            Self::LanDiscovery(_) => LanDiscovery::ID,
            Self::BootstrapInfoRequest(_) => BootstrapInfoRequest::ID,
            Self::BootstrapInfoResponse(_) => BootstrapInfoResponse::ID,
        }
    }
}

impl Encode for Packet {
    fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Self::PingRequest(p) => p.encode(buf),
            Self::PingResponse(p) => p.encode(buf),
            Self::NodesRequest(p) => p.encode(buf),
            Self::NodesResponse(p) => p.encode(buf),
            Self::DhtRequest(p) => p.encode(buf),
            Self::LanDiscovery(p) => p.encode(buf),
            Self::BootstrapInfoRequest(p) => p.encode(buf),
            Self::BootstrapInfoResponse(p) => p.encode(buf),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::PingRequest(p) => p.encoded_len(),
            Self::PingResponse(p) => p.encoded_len(),
            Self::NodesRequest(p) => p.encoded_len(),
            Self::NodesResponse(p) => p.encoded_len(),
            Self::DhtRequest(p) => p.encoded_len(),
            Self::LanDiscovery(p) => p.encoded_len(),
            Self::BootstrapInfoRequest(p) => p.encoded_len(),
            Self::BootstrapInfoResponse(p) => p.encoded_len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use test_util::{PEERS, arb_nonce, arb_udp_node, garbage};
    use toxide_core::packed_node::MAX_SENT_NODES;
    use toxide_core::{DecodeError, Nonce};

    fn arb_packet() -> impl Strategy<Value = Packet> {
        let p = &*PEERS;
        let (key, pk) = (p.alice_bob.clone(), p.alice.public);
        prop_oneof![
            (any::<u64>(), arb_nonce()).prop_map({
                let (key, pk) = (key.clone(), pk);
                move |(ping_id, n)| {
                    Packet::PingRequest(PingRequest::new(
                        &key,
                        pk,
                        n,
                        &PingRequestPayload { ping_id },
                    ))
                }
            }),
            (any::<u64>(), arb_nonce()).prop_map({
                let (key, pk) = (key.clone(), pk);
                move |(ping_id, n)| {
                    Packet::PingResponse(PingResponse::new(
                        &key,
                        pk,
                        n,
                        &PingResponsePayload { ping_id },
                    ))
                }
            }),
            (any::<u64>(), arb_nonce()).prop_map({
                let (key, pk) = (key.clone(), pk);
                move |(request_id, n)| {
                    let payload = NodesRequestPayload {
                        search_pk: pk,
                        request_id,
                    };
                    Packet::NodesRequest(NodesRequest::new(&key, pk, n, &payload))
                }
            }),
            (
                proptest::collection::vec(arb_udp_node(), 1..=MAX_SENT_NODES),
                arb_nonce()
            )
                .prop_map({
                    let (key, pk) = (key.clone(), pk);
                    move |(nodes, n)| {
                        let payload = NodesResponsePayload::new(nodes, 1).unwrap();
                        Packet::NodesResponse(NodesResponse::new(&key, pk, n, &payload))
                    }
                }),
            (any::<u64>(), arb_nonce()).prop_map({
                let (key, pk) = (key.clone(), pk);
                move |(id, n)| {
                    let payload = DhtRequestPayload::NatPingRequest { id };
                    Packet::DhtRequest(DhtRequest::new(&key, pk, pk, n, &payload).unwrap())
                }
            }),
            any::<[u8; 32]>().prop_map(|k| Packet::LanDiscovery(LanDiscovery {
                public_key: toxide_core::PublicKey::new(k)
            })),
            Just(Packet::BootstrapInfoRequest(BootstrapInfoRequest)),
            (any::<u32>(), "[a-z]{0,200}").prop_map(|(v, t)| {
                Packet::BootstrapInfoResponse(BootstrapInfoResponse::from_text(v, &t))
            }),
        ]
    }

    #[test]
    fn empty_and_unknown_ids_have_their_own_errors() {
        assert_eq!(Packet::decode(&[]), Err(DhtPacketError::Empty));
        for id in [0x03, 0x18, 0x1b, 0x80, 0x90, 0x93, 0xf1, 0xff] {
            assert_eq!(
                Packet::decode(&[id; 82]),
                Err(DhtPacketError::UnknownPacketId { id })
            );
        }
    }

    #[test]
    fn wrong_lengths_are_decode_errors() {
        assert!(matches!(
            Packet::decode(&[0x00; 81]),
            Err(DhtPacketError::Decode(DecodeError::BadLength { .. }))
        ));
    }

    #[test]
    fn bootstrap_info_is_told_apart_by_length() {
        let mut request = vec![0xf0; 78];
        assert_eq!(
            Packet::decode(&request),
            Ok(Packet::BootstrapInfoRequest(BootstrapInfoRequest))
        );
        request.push(0);
        assert!(matches!(
            Packet::decode(&request),
            Ok(Packet::BootstrapInfoResponse(_))
        ));
    }

    #[test]
    fn ping_request_decodes_and_opens() {
        let p = &*PEERS;
        let sent = PingRequest::new(
            &p.alice_bob,
            p.alice.public,
            Nonce::new([1; 24]),
            &PingRequestPayload { ping_id: 77 },
        );
        let Ok(Packet::PingRequest(got)) = Packet::decode(&sent.to_bytes()) else {
            panic!("not a ping request");
        };
        assert_eq!(
            got.open(&p.bob_alice),
            Ok(PingRequestPayload { ping_id: 77 })
        );
    }

    proptest! {
        #[test]
        fn every_packet_round_trips(packet in arb_packet()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(bytes.first(), Some(&packet.id()));
            prop_assert_eq!(Packet::decode(&bytes), Ok(packet));
        }

        #[test]
        fn truncated_packets_never_panic(packet in arb_packet(), cut in 1usize..300) {
            let bytes = packet.to_bytes();
            let keep = bytes.len().saturating_sub(cut);
            let _ = Packet::decode(&bytes[..keep]);
        }

        #[test]
        fn garbage_never_panics(mut bytes in garbage(1100), id in prop_oneof![
            Just(0x00u8), Just(0x01), Just(0x02), Just(0x04), Just(0x20), Just(0x21), Just(0xf0), any::<u8>()
        ]) {
            if let Some(first) = bytes.first_mut() {
                *first = id;
            }
            if let Ok(packet) = Packet::decode(&bytes) {
                // Byte-exact except the bootstrap request's ignored padding.
                if !matches!(packet, Packet::BootstrapInfoRequest(_)) {
                    prop_assert_eq!(packet.to_bytes(), bytes);
                }
            }
        }
    }
}
