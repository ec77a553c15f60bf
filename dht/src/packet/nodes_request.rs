//! Nodes request (0x02): "which nodes do you know closest to this key?".
//!
//! The Kademlia lookup step. Wire layout (spec "Nodes Service", "Nodes
//! Request (0x02)"; checklist D3; c-toxcore `dht_getnodes` and
//! `handle_getnodes` in `DHT.c`):
//!
//! | bytes | field                                               |
//! |-------|-----------------------------------------------------|
//! | 1     | `0x02`                                              |
//! | 32    | sender's DHT public key                             |
//! | 24    | nonce                                               |
//! | 56    | box of the 40-byte [`NodesRequestPayload`] + MAC 16 |
//!
//! | payload bytes | field                                    |
//! |---------------|------------------------------------------|
//! | 32            | the DHT public key being searched for    |
//! | 8             | request id, opaque                       |
//!
//! Exactly [`NODES_REQUEST_SIZE`] = 113 bytes; c-toxcore's
//! `handle_getnodes` drops any other length before it looks up a key. The
//! payload has no type byte: it cannot be reflected as a nodes response
//! because no response is 113 bytes long.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, PUBLIC_KEY_SIZE, PublicKey, Reader};

use super::envelope::{DhtPacket, ENVELOPE_OVERHEAD, EnvelopeKind};

/// Size of a nodes request payload: searched key and request id.
pub const NODES_REQUEST_PAYLOAD_SIZE: usize = PUBLIC_KEY_SIZE + 8;
/// Size of a whole nodes request packet.
pub const NODES_REQUEST_SIZE: usize = ENVELOPE_OVERHEAD + NODES_REQUEST_PAYLOAD_SIZE;

/// A Nodes request as it travels: see [`DhtPacket`](super::DhtPacket).
pub type NodesRequest = DhtPacket<NodesRequestKind>;

/// Marks the Nodes request envelope (`NET_PACKET_GET_NODES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodesRequestKind {}

impl EnvelopeKind for NodesRequestKind {
    const ID: u8 = 0x02;
    const NAME: &'static str = "nodes request";
    const MIN_SIZE: usize = NODES_REQUEST_SIZE;
    const MAX_SIZE: usize = NODES_REQUEST_SIZE;
    const INNER_TYPE: Option<u8> = None;
    type Payload = NodesRequestPayload;
}

/// What a nodes request carries inside its box.
///
/// The request id is opaque like a ping id (c-toxcore writes a ping-array
/// handle in host byte order): held as a `u64` read big-endian, echoed byte
/// for byte in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodesRequestPayload {
    /// The key whose closest nodes are wanted.
    pub search_pk: PublicKey,
    /// The token the response must echo.
    pub request_id: u64,
}

impl Encode for NodesRequestPayload {
    fn encode(&self, buf: &mut impl BufMut) {
        self.search_pk.encode(buf);
        buf.put_u64(self.request_id);
    }
    fn encoded_len(&self) -> usize {
        NODES_REQUEST_PAYLOAD_SIZE
    }
}

impl Decode for NodesRequestPayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let search_pk = PublicKey::decode(reader)?;
        let request_id = reader.u64_be("nodes request id")?;
        Ok(Self {
            search_pk,
            request_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::DhtPacketError;
    use crate::packet::test_util::{PEERS, arb_nonce, arb_pk, garbage};
    use proptest::prelude::*;
    use toxide_core::CryptoError;
    use toxide_core::Nonce;

    fn sample() -> (NodesRequest, NodesRequestPayload) {
        let p = &*PEERS;
        let payload = NodesRequestPayload {
            search_pk: p.alice.public,
            request_id: 0x1122_3344_5566_7788,
        };
        let packet = NodesRequest::new(&p.alice_bob, p.alice.public, Nonce::new([5; 24]), &payload);
        (packet, payload)
    }

    #[test]
    fn layout_is_113_bytes() {
        let (packet, _) = sample();
        let bytes = packet.to_bytes();
        assert_eq!(bytes.len(), 113);
        assert_eq!(bytes[0], 0x02);
        assert_eq!(&bytes[1..33], PEERS.alice.public.as_bytes());
        let plain = PEERS
            .bob_alice
            .decrypt(&packet.nonce, &bytes[57..])
            .unwrap();
        assert_eq!(&plain[..32], PEERS.alice.public.as_bytes());
        assert_eq!(
            &plain[32..],
            &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
        );
    }

    #[test]
    fn other_lengths_are_refused() {
        let bytes = sample().0.to_bytes();
        assert!(matches!(
            NodesRequest::from_bytes(&bytes[..112]),
            Err(DecodeError::BadLength {
                len: 112,
                min: 113,
                max: 113,
                ..
            })
        ));
        let mut long = bytes;
        long.extend_from_slice(&[0; 8]);
        assert!(matches!(
            NodesRequest::from_bytes(&long),
            Err(DecodeError::BadLength { len: 121, .. })
        ));
    }

    #[test]
    fn wrong_key_does_not_open() {
        assert_eq!(
            sample().0.open(&PEERS.eve_bob),
            Err(DhtPacketError::Crypto(CryptoError::AuthenticationFailed))
        );
    }

    proptest! {
        #[test]
        fn seal_open_and_encode_decode_round_trip(
            search_pk in arb_pk(), request_id in any::<u64>(), pk in arb_pk(), nonce in arb_nonce()
        ) {
            let payload = NodesRequestPayload { search_pk, request_id };
            let packet = NodesRequest::new(&PEERS.alice_bob, pk, nonce, &payload);
            let decoded = NodesRequest::from_bytes(&packet.to_bytes()).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.bob_alice), Ok(payload));
        }

        #[test]
        fn payload_round_trips(search_pk in arb_pk(), request_id in any::<u64>()) {
            let payload = NodesRequestPayload { search_pk, request_id };
            prop_assert_eq!(NodesRequestPayload::from_bytes(&payload.to_bytes()), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(160)) {
            if let Ok(packet) = NodesRequest::from_bytes(&bytes) {
                prop_assert!(packet.open(&PEERS.bob_alice).is_err());
            }
            let decoded = NodesRequestPayload::from_bytes(&bytes);
            prop_assert_eq!(decoded.is_ok(), bytes.len() == NODES_REQUEST_PAYLOAD_SIZE);
        }
    }
}
