//! DHT request (0x20): a box for one peer, routed through a node that has
//! that peer in its close list.
//!
//! Friends that cannot reach each other directly yet (NAT ping, DHT-PK
//! announcements) address a box to the friend's DHT key and hand it to
//! nodes close to that key, which forward it unchanged. Wire layout (spec
//! "DHT Request Packets"; checklist D10; c-toxcore `create_request`,
//! `handle_request`, `cryptopacket_handle` and `route_packet` in `DHT.c`):
//!
//! | bytes     | field                                             |
//! |-----------|---------------------------------------------------|
//! | 1         | `0x20`                                            |
//! | 32        | receiver's DHT public key (read by routing nodes) |
//! | 32        | sender's DHT public key                           |
//! | 24        | nonce                                             |
//! | 17..=951  | box of `[request type 1][data]` + MAC 16          |
//!
//! Lengths, as c-toxcore 0.2.18 applies them:
//! - `cryptopacket_handle` drops anything of 105 bytes or less (a box must
//!   hold at least the type byte) or over 1040 (`MAX_CRYPTO_REQUEST_SIZE` +
//!   16) *before* looking at the receiver key; packets addressed to someone
//!   else within that range are routed. So [`DhtRequest`] decodes
//!   [`DHT_REQUEST_MIN_SIZE`]..=[`DHT_REQUEST_MAX_ROUTED_SIZE`] = 106..=1040.
//! - `handle_request`, for packets addressed to us, drops anything over
//!   [`DHT_REQUEST_MAX_SIZE`] = 1024 before decrypting, which
//!   [`DhtRequest::open`] mirrors; `create_request` never builds more, and
//!   neither does [`DhtRequest::new`]. The data after the type byte must
//!   not be empty.
//!
//! The receiver key is in the clear and is a public field, so a routing
//! node decides without any cryptography, and re-encoding a decoded
//! request reproduces it byte for byte.

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, MAC_SIZE, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PublicKey, Reader,
    SharedKey,
};

use super::DhtPacketError;

/// The cleartext part of a DHT request: id, two keys and the nonce
/// (c-toxcore's `CRYPTO_SIZE`).
pub const DHT_REQUEST_HEADER_SIZE: usize = 1 + 2 * PUBLIC_KEY_SIZE + NONCE_SIZE;
/// The shortest DHT request c-toxcore looks at: a box of one byte.
pub const DHT_REQUEST_MIN_SIZE: usize = DHT_REQUEST_HEADER_SIZE + MAC_SIZE + 1;
/// The longest DHT request c-toxcore builds or opens
/// (`MAX_CRYPTO_REQUEST_SIZE`).
pub const DHT_REQUEST_MAX_SIZE: usize = 1024;
/// The longest DHT request c-toxcore forwards for others.
pub const DHT_REQUEST_MAX_ROUTED_SIZE: usize = DHT_REQUEST_MAX_SIZE + MAC_SIZE;
/// The longest plaintext (type byte and data) a sendable request holds.
pub const DHT_REQUEST_MAX_PAYLOAD_SIZE: usize =
    DHT_REQUEST_MAX_SIZE - DHT_REQUEST_HEADER_SIZE - MAC_SIZE;

/// A DHT request as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtRequest {
    /// The DHT key of the node the box is for.
    pub receiver_pk: PublicKey,
    /// The sender's DHT public key.
    pub sender_pk: PublicKey,
    /// The nonce the payload was sealed with.
    pub nonce: Nonce,
    /// The sealed [`DhtRequestPayload`] (ciphertext with MAC).
    pub payload: Vec<u8>,
}

impl DhtRequest {
    /// The packet id (`NET_PACKET_CRYPTO`).
    pub const ID: u8 = 0x20;

    /// Seals `payload` for `receiver_pk`. Refuses a payload that would make
    /// the packet longer than c-toxcore opens, or whose data is empty.
    pub fn new(
        shared: &SharedKey,
        receiver_pk: PublicKey,
        sender_pk: PublicKey,
        nonce: Nonce,
        payload: &DhtRequestPayload,
    ) -> Result<Self, DhtPacketError> {
        let len = payload.encoded_len();
        if !(2..=DHT_REQUEST_MAX_PAYLOAD_SIZE).contains(&len) {
            return Err(DhtPacketError::Unsendable {
                what: "DHT request payload",
                len,
                min: 2,
                max: DHT_REQUEST_MAX_PAYLOAD_SIZE,
            });
        }
        Ok(Self {
            receiver_pk,
            sender_pk,
            nonce,
            payload: shared.encrypt(&nonce, &payload.to_bytes()),
        })
    }

    /// Opens a request addressed to us, with the key shared with
    /// `sender_pk`. The caller has checked `receiver_pk` is ours; what is
    /// not ours is routed, not opened.
    pub fn open(&self, shared: &SharedKey) -> Result<DhtRequestPayload, DhtPacketError> {
        let len = self.encoded_len();
        if len > DHT_REQUEST_MAX_SIZE {
            return Err(DecodeError::BadLength {
                what: "DHT request addressed to us",
                len,
                min: DHT_REQUEST_MIN_SIZE,
                max: DHT_REQUEST_MAX_SIZE,
            }
            .into());
        }
        let plain = shared.decrypt(&self.nonce, &self.payload)?;
        match plain.first() {
            Some(&(NAT_PING_TYPE | DHT_PK_TYPE)) | None => {}
            Some(&kind) => return Err(DhtPacketError::UnsupportedRequestType { kind }),
        }
        DhtRequestPayload::from_bytes(&plain).map_err(DhtPacketError::Payload)
    }
}

impl Encode for DhtRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(Self::ID);
        self.receiver_pk.encode(buf);
        self.sender_pk.encode(buf);
        self.nonce.encode(buf);
        buf.put_slice(&self.payload);
    }
    fn encoded_len(&self) -> usize {
        DHT_REQUEST_HEADER_SIZE + self.payload.len()
    }
}

impl Decode for DhtRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let what = "DHT request";
        reader.expect_remaining(what, DHT_REQUEST_MIN_SIZE, DHT_REQUEST_MAX_ROUTED_SIZE)?;
        reader.expect_u8(what, Self::ID)?;
        Ok(Self {
            receiver_pk: PublicKey::decode(reader)?,
            sender_pk: PublicKey::decode(reader)?,
            nonce: Nonce::decode(reader)?,
            payload: reader.rest().to_vec(),
        })
    }
}

/// Request type of a NAT ping (`CRYPTO_PACKET_NAT_PING`).
pub const NAT_PING_TYPE: u8 = 254;
/// Request type of a DHT public key announcement (`CRYPTO_PACKET_DHTPK`).
pub const DHT_PK_TYPE: u8 = 156;
/// Request type of a friend request (`CRYPTO_PACKET_FRIEND_REQ`). c-toxcore
/// 0.2.18 registers no DHT handler for it (friend requests travel through
/// the onion), so it is refused here.
pub const FRIEND_REQUEST_TYPE: u8 = 32;

/// What a DHT request carries inside its box: `[request type][data]`.
///
/// The NAT ping id is opaque like the DHT ping ids (c-toxcore writes it in
/// host byte order and compares the echo): a `u64` read big-endian.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DhtRequestPayload {
    /// Type 254, data `[0][id 8]`: "are you there, friend?" (spec "NAT ping
    /// request"; c-toxcore `send_NATping`, `handle_NATping`).
    NatPingRequest {
        /// The token the response echoes.
        id: u64,
    },
    /// Type 254, data `[1][id 8]`: the answer, echoing the id.
    NatPingResponse {
        /// The request's token.
        id: u64,
    },
    /// Type 156: a friend's DHT key announcement, opaque here and handled
    /// by the onion layer (`[real pk 32][nonce 24][box]`; c-toxcore
    /// `handle_dht_dhtpk` in `onion_client.c` checks its sizes). Never
    /// empty.
    DhtPk(Vec<u8>),
}

/// NAT ping data: request/response flag and id.
const NAT_PING_DATA_SIZE: usize = 1 + 8;

impl Encode for DhtRequestPayload {
    fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Self::NatPingRequest { id } => {
                buf.put_u8(NAT_PING_TYPE);
                buf.put_u8(0);
                buf.put_u64(*id);
            }
            Self::NatPingResponse { id } => {
                buf.put_u8(NAT_PING_TYPE);
                buf.put_u8(1);
                buf.put_u64(*id);
            }
            Self::DhtPk(data) => {
                buf.put_u8(DHT_PK_TYPE);
                buf.put_slice(data);
            }
        }
    }
    fn encoded_len(&self) -> usize {
        match self {
            Self::NatPingRequest { .. } | Self::NatPingResponse { .. } => 1 + NAT_PING_DATA_SIZE,
            Self::DhtPk(data) => 1 + data.len(),
        }
    }
}

impl Decode for DhtRequestPayload {
    /// Reads to the end of the input: the data has no length of its own.
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let kind = reader.u8("DHT request type")?;
        match kind {
            NAT_PING_TYPE => {
                reader.expect_remaining("NAT ping", NAT_PING_DATA_SIZE, NAT_PING_DATA_SIZE)?;
                let flag = reader.u8("NAT ping flag")?;
                let id = reader.u64_be("NAT ping id")?;
                match flag {
                    0 => Ok(Self::NatPingRequest { id }),
                    1 => Ok(Self::NatPingResponse { id }),
                    other => Err(DecodeError::InvalidValue {
                        what: "NAT ping flag",
                        value: u64::from(other),
                    }),
                }
            }
            DHT_PK_TYPE => {
                let data = reader.rest();
                if data.is_empty() {
                    return Err(DecodeError::Truncated {
                        what: "DHT-PK data",
                        needed: 1,
                        available: 0,
                    });
                }
                Ok(Self::DhtPk(data.to_vec()))
            }
            other => Err(DecodeError::InvalidValue {
                what: "DHT request type",
                value: u64::from(other),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{PEERS, arb_nonce, arb_pk, garbage};
    use proptest::prelude::*;
    use toxide_core::CryptoError;

    fn arb_payload() -> impl Strategy<Value = DhtRequestPayload> {
        prop_oneof![
            any::<u64>().prop_map(|id| DhtRequestPayload::NatPingRequest { id }),
            any::<u64>().prop_map(|id| DhtRequestPayload::NatPingResponse { id }),
            proptest::collection::vec(any::<u8>(), 1..=DHT_REQUEST_MAX_PAYLOAD_SIZE - 1)
                .prop_map(DhtRequestPayload::DhtPk),
        ]
    }

    fn seal(payload: &DhtRequestPayload) -> Result<DhtRequest, DhtPacketError> {
        let p = &*PEERS;
        DhtRequest::new(
            &p.alice_bob,
            p.bob.public,
            p.alice.public,
            Nonce::new([8; 24]),
            payload,
        )
    }

    #[test]
    fn nat_ping_layout() {
        let packet = seal(&DhtRequestPayload::NatPingRequest {
            id: 0x0102_0304_0506_0708,
        })
        .unwrap();
        let bytes = packet.to_bytes();
        assert_eq!(bytes.len(), 89 + 16 + 10);
        assert_eq!(bytes[0], 0x20);
        assert_eq!(&bytes[1..33], PEERS.bob.public.as_bytes());
        assert_eq!(&bytes[33..65], PEERS.alice.public.as_bytes());
        assert_eq!(&bytes[65..89], &[8; 24]);
        let plain = PEERS
            .bob_alice
            .decrypt(&packet.nonce, &bytes[89..])
            .unwrap();
        assert_eq!(plain, [254, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn size_limits() {
        let biggest = DhtRequestPayload::DhtPk(vec![1; DHT_REQUEST_MAX_PAYLOAD_SIZE - 1]);
        assert_eq!(seal(&biggest).unwrap().to_bytes().len(), 1024);
        let too_big = DhtRequestPayload::DhtPk(vec![1; DHT_REQUEST_MAX_PAYLOAD_SIZE]);
        assert!(matches!(
            seal(&too_big),
            Err(DhtPacketError::Unsendable { len: 920, .. })
        ));
        assert!(seal(&DhtRequestPayload::DhtPk(vec![])).is_err());

        let mut bytes = vec![0x20; 105];
        assert!(matches!(
            DhtRequest::from_bytes(&bytes),
            Err(DecodeError::BadLength { .. })
        ));
        bytes.push(0);
        assert!(DhtRequest::from_bytes(&bytes).is_ok());
        bytes.resize(1040, 0);
        assert!(DhtRequest::from_bytes(&bytes).is_ok(), "routable");
        bytes.push(0);
        assert!(matches!(
            DhtRequest::from_bytes(&bytes),
            Err(DecodeError::BadLength { .. })
        ));
    }

    #[test]
    fn oversized_requests_are_routed_but_not_opened() {
        let mut packet = seal(&DhtRequestPayload::NatPingRequest { id: 1 }).unwrap();
        packet
            .payload
            .resize(DHT_REQUEST_MAX_ROUTED_SIZE - DHT_REQUEST_HEADER_SIZE, 0);
        let bytes = packet.to_bytes();
        let decoded = DhtRequest::from_bytes(&bytes).unwrap();
        assert_eq!(decoded.receiver_pk, PEERS.bob.public);
        assert_eq!(decoded.to_bytes(), bytes, "forwarded unchanged");
        assert!(matches!(
            decoded.open(&PEERS.bob_alice),
            Err(DhtPacketError::Decode(DecodeError::BadLength {
                len: 1040,
                ..
            }))
        ));
    }

    #[test]
    fn other_request_types_are_refused() {
        let p = &*PEERS;
        for kind in [FRIEND_REQUEST_TYPE, 0, 155, 255] {
            let nonce = Nonce::new([9; 24]);
            let packet = DhtRequest {
                receiver_pk: p.bob.public,
                sender_pk: p.alice.public,
                nonce,
                payload: p.alice_bob.encrypt(&nonce, &[kind, 1, 2, 3]),
            };
            assert_eq!(
                packet.open(&p.bob_alice),
                Err(DhtPacketError::UnsupportedRequestType { kind })
            );
        }
    }

    #[test]
    fn malformed_nat_pings_are_refused() {
        for data in [
            &[254u8, 2, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[254, 0, 1],
            &[254, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[156],
        ] {
            assert!(DhtRequestPayload::from_bytes(data).is_err(), "{data:?}");
        }
    }

    #[test]
    fn wrong_key_does_not_open() {
        let packet = seal(&DhtRequestPayload::NatPingResponse { id: 3 }).unwrap();
        assert_eq!(
            packet.open(&PEERS.eve_bob),
            Err(DhtPacketError::Crypto(CryptoError::AuthenticationFailed))
        );
    }

    proptest! {
        #[test]
        fn seal_open_and_encode_decode_round_trip(
            payload in arb_payload(), receiver in arb_pk(), sender in arb_pk(), nonce in arb_nonce()
        ) {
            prop_assert_eq!(DhtRequestPayload::from_bytes(&payload.to_bytes()), Ok(payload.clone()));
            let packet = DhtRequest::new(&PEERS.alice_bob, receiver, sender, nonce, &payload).unwrap();
            let bytes = packet.to_bytes();
            prop_assert!(bytes.len() <= DHT_REQUEST_MAX_SIZE);
            let decoded = DhtRequest::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.bob_alice), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1100)) {
            if let Ok(packet) = DhtRequest::from_bytes(&bytes) {
                prop_assert_eq!(packet.to_bytes(), bytes.clone());
                prop_assert!(packet.open(&PEERS.bob_alice).is_err());
            }
            let _ = DhtRequestPayload::from_bytes(&bytes);
        }
    }
}
