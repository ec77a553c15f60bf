//! Ping response (0x01): "I am alive", echoing the request's ping id.
//!
//! Wire layout (spec "Ping Service", "Ping Response (0x01)"; checklist D2;
//! c-toxcore `ping_send_response` and `handle_ping_response` in `ping.c`):
//!
//! | bytes | field                                               |
//! |-------|-----------------------------------------------------|
//! | 1     | `0x01`                                              |
//! | 32    | sender's DHT public key                             |
//! | 24    | nonce                                               |
//! | 25    | box of the 9-byte [`PingResponsePayload`] + MAC 16  |
//!
//! | payload bytes | field                                       |
//! |---------------|---------------------------------------------|
//! | 1             | `0x01`, repeating the packet id             |
//! | 8             | the request's ping id, echoed verbatim      |
//!
//! Exactly [`PING_PACKET_SIZE`] = 82 bytes, like the request. The inner
//! type byte is what stops a request being reflected back as its own
//! response: both directions are sealed with the same shared key.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::envelope::{DhtPacket, EnvelopeKind};
use super::ping_request::{PING_PACKET_SIZE, PING_PAYLOAD_SIZE};

/// A Ping response as it travels: see [`DhtPacket`](super::DhtPacket).
pub type PingResponse = DhtPacket<PingResponseKind>;

/// Marks the Ping response envelope (`NET_PACKET_PING_RESPONSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingResponseKind {}

impl EnvelopeKind for PingResponseKind {
    const ID: u8 = 0x01;
    const NAME: &'static str = "ping response";
    const MIN_SIZE: usize = PING_PACKET_SIZE;
    const MAX_SIZE: usize = PING_PACKET_SIZE;
    const INNER_TYPE: Option<u8> = Some(0x01);
    type Payload = PingResponsePayload;
}

/// What a ping response carries inside its box. The ping id is the
/// request's, echoed verbatim (see
/// [`PingRequestPayload`](super::PingRequestPayload) on its byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PingResponsePayload {
    /// The token from the request.
    pub ping_id: u64,
}

impl Encode for PingResponsePayload {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PingResponse::ID);
        buf.put_u64(self.ping_id);
    }
    fn encoded_len(&self) -> usize {
        PING_PAYLOAD_SIZE
    }
}

impl Decode for PingResponsePayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_u8("ping response payload type", PingResponse::ID)?;
        let ping_id = reader.u64_be("ping id")?;
        Ok(Self { ping_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::DhtPacketError;
    use crate::packet::test_util::{PEERS, arb_nonce, arb_pk, garbage};
    use crate::packet::{PingRequest, PingRequestPayload};
    use proptest::prelude::*;
    use toxide_core::CryptoError;
    use toxide_core::Nonce;

    #[test]
    fn layout_is_82_bytes_and_echoes_the_id_bytes() {
        let p = &*PEERS;
        let nonce = Nonce::new([2; 24]);
        let packet = PingResponse::new(
            &p.bob_alice,
            p.bob.public,
            nonce,
            &PingResponsePayload {
                ping_id: 0xa1a2_a3a4_a5a6_a7a8,
            },
        );
        let bytes = packet.to_bytes();
        assert_eq!(bytes.len(), 82);
        assert_eq!(bytes[0], 0x01);
        let plain = p.alice_bob.decrypt(&nonce, &bytes[57..]).unwrap();
        assert_eq!(plain, [1, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8]);
    }

    #[test]
    fn other_lengths_are_refused() {
        for len in [0, 33, 81, 83, 200] {
            let mut bytes = vec![0u8; len];
            if let Some(first) = bytes.first_mut() {
                *first = PingResponse::ID;
            }
            assert!(matches!(
                PingResponse::from_bytes(&bytes),
                Err(DecodeError::BadLength { .. })
            ));
        }
    }

    #[test]
    fn wrong_key_does_not_open() {
        let p = &*PEERS;
        let packet = PingResponse::new(
            &p.alice_bob,
            p.alice.public,
            Nonce::new([3; 24]),
            &PingResponsePayload { ping_id: 1 },
        );
        assert_eq!(
            packet.open(&p.eve_bob),
            Err(DhtPacketError::Crypto(CryptoError::AuthenticationFailed))
        );
    }

    #[test]
    fn a_reflected_request_is_refused() {
        let p = &*PEERS;
        let request = PingRequest::new(
            &p.alice_bob,
            p.alice.public,
            Nonce::new([4; 24]),
            &PingRequestPayload { ping_id: 5 },
        );
        let reflected = PingResponse::from_parts(p.bob.public, request.nonce, request.payload);
        assert_eq!(
            reflected.open(&p.alice_bob),
            Err(DhtPacketError::WrongInnerType {
                expected: 1,
                found: 0
            })
        );
    }

    proptest! {
        #[test]
        fn seal_open_and_encode_decode_round_trip(ping_id in any::<u64>(), pk in arb_pk(), nonce in arb_nonce()) {
            let payload = PingResponsePayload { ping_id };
            let packet = PingResponse::new(&PEERS.bob_alice, pk, nonce, &payload);
            let decoded = PingResponse::from_bytes(&packet.to_bytes()).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.alice_bob), Ok(payload));
        }

        #[test]
        fn payload_round_trips(ping_id in any::<u64>()) {
            let payload = PingResponsePayload { ping_id };
            prop_assert_eq!(PingResponsePayload::from_bytes(&payload.to_bytes()), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(120)) {
            if let Ok(packet) = PingResponse::from_bytes(&bytes) {
                prop_assert!(packet.open(&PEERS.alice_bob).is_err());
            }
            let _ = PingResponsePayload::from_bytes(&bytes);
        }
    }
}
