//! Ping request (0x00): "are you alive?".
//!
//! A node pings a peer to check it is still there and to verify a node it
//! heard of before adding it to a list. Wire layout (spec "Ping Service",
//! "Ping Request (0x00)"; checklist D2; c-toxcore `ping_send_request` and
//! `handle_ping_request` in `ping.c`):
//!
//! | bytes | field                                              |
//! |-------|----------------------------------------------------|
//! | 1     | `0x00`                                             |
//! | 32    | sender's DHT public key                            |
//! | 24    | nonce                                              |
//! | 25    | box of the 9-byte [`PingRequestPayload`] + MAC 16  |
//!
//! | payload bytes | field                                 |
//! |---------------|---------------------------------------|
//! | 1             | `0x00`, repeating the packet id       |
//! | 8             | ping id, opaque                       |
//!
//! The whole packet is exactly [`PING_PACKET_SIZE`] = 82 bytes
//! (c-toxcore's `DHT_PING_SIZE`); c-toxcore drops any other length before
//! it looks up a shared key, and so does [`PingRequest`]'s decoder.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::envelope::{DhtPacket, ENVELOPE_OVERHEAD, EnvelopeKind};

/// Size of a ping payload: type byte and ping id.
pub const PING_PAYLOAD_SIZE: usize = 1 + 8;
/// Size of a whole ping request or response packet.
pub const PING_PACKET_SIZE: usize = ENVELOPE_OVERHEAD + PING_PAYLOAD_SIZE;

/// A Ping request as it travels: see [`DhtPacket`](super::DhtPacket).
pub type PingRequest = DhtPacket<PingRequestKind>;

/// Marks the Ping request envelope (`NET_PACKET_PING_REQUEST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingRequestKind {}

impl EnvelopeKind for PingRequestKind {
    const ID: u8 = 0x00;
    const NAME: &'static str = "ping request";
    const MIN_SIZE: usize = PING_PACKET_SIZE;
    const MAX_SIZE: usize = PING_PACKET_SIZE;
    const INNER_TYPE: Option<u8> = Some(0x00);
    type Payload = PingRequestPayload;
}

/// What a ping request carries inside its box.
///
/// The ping id is an opaque 8-byte token: c-toxcore writes its ping-array
/// handle in host byte order and only ever compares the echo with what it
/// sent. We hold the 8 bytes as a `u64` read big-endian, so a peer's id is
/// echoed byte for byte, and only our own ids are interpreted, by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PingRequestPayload {
    /// The token the response must echo.
    pub ping_id: u64,
}

impl Encode for PingRequestPayload {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PingRequest::ID);
        buf.put_u64(self.ping_id);
    }
    fn encoded_len(&self) -> usize {
        PING_PAYLOAD_SIZE
    }
}

impl Decode for PingRequestPayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_u8("ping request payload type", PingRequest::ID)?;
        let ping_id = reader.u64_be("ping id")?;
        Ok(Self { ping_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::DhtPacketError;
    use crate::packet::PingResponse;
    use crate::packet::test_util::{PEERS, arb_nonce, arb_pk, garbage};
    use proptest::prelude::*;
    use toxide_core::CryptoError;
    use toxide_core::Nonce;

    fn sample(ping_id: u64) -> PingRequest {
        let p = &*PEERS;
        PingRequest::new(
            &p.alice_bob,
            p.alice.public,
            Nonce::new([7; 24]),
            &PingRequestPayload { ping_id },
        )
    }

    #[test]
    fn layout_is_82_bytes_with_id_key_nonce() {
        let bytes = sample(0x0102_0304_0506_0708).to_bytes();
        assert_eq!(bytes.len(), 82);
        assert_eq!(bytes[0], 0x00);
        assert_eq!(&bytes[1..33], PEERS.alice.public.as_bytes());
        assert_eq!(&bytes[33..57], &[7; 24]);
        let plain = PEERS
            .bob_alice
            .decrypt(&Nonce::new([7; 24]), &bytes[57..])
            .unwrap();
        assert_eq!(plain, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn other_lengths_are_refused_before_crypto() {
        let bytes = sample(1).to_bytes();
        for len in [0, 1, 57, 81] {
            assert!(matches!(
                PingRequest::from_bytes(&bytes[..len]),
                Err(DecodeError::BadLength { len: l, min: 82, max: 82, .. }) if l == len
            ));
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            PingRequest::from_bytes(&long),
            Err(DecodeError::BadLength { len: 83, .. })
        ));
        let mut wrong_id = bytes;
        wrong_id[0] = 0x01;
        assert!(PingRequest::from_bytes(&wrong_id).is_err());
    }

    #[test]
    fn wrong_key_does_not_open() {
        let packet = sample(9);
        assert_eq!(
            packet.open(&PEERS.eve_bob),
            Err(DhtPacketError::Crypto(CryptoError::AuthenticationFailed))
        );
    }

    #[test]
    fn a_reflected_response_is_refused() {
        // A response sealed with the same shared key, relabelled as a request.
        let p = &*PEERS;
        let response = PingResponse::new(
            &p.bob_alice,
            p.bob.public,
            Nonce::new([1; 24]),
            &super::super::PingResponsePayload { ping_id: 5 },
        );
        let reflected =
            PingRequest::from_parts(response.sender_pk, response.nonce, response.payload);
        assert_eq!(
            reflected.open(&p.alice_bob),
            Err(DhtPacketError::WrongInnerType {
                expected: 0,
                found: 1
            })
        );
    }

    proptest! {
        #[test]
        fn seal_open_and_encode_decode_round_trip(ping_id in any::<u64>(), pk in arb_pk(), nonce in arb_nonce()) {
            let payload = PingRequestPayload { ping_id };
            let packet = PingRequest::new(&PEERS.alice_bob, pk, nonce, &payload);
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            let decoded = PingRequest::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.bob_alice), Ok(payload));
        }

        #[test]
        fn payload_round_trips(ping_id in any::<u64>()) {
            let payload = PingRequestPayload { ping_id };
            prop_assert_eq!(PingRequestPayload::from_bytes(&payload.to_bytes()), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(120)) {
            if let Ok(packet) = PingRequest::from_bytes(&bytes) {
                prop_assert_eq!(bytes.len(), PING_PACKET_SIZE);
                prop_assert!(packet.open(&PEERS.bob_alice).is_err());
            }
            let _ = PingRequestPayload::from_bytes(&bytes);
        }
    }
}
