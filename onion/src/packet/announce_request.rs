//! Announce request, 0x83 (the only kind 0.2.18 clients send) and 0x87
//! (newer clients).
//!
//! Wire layout (c-toxcore `create_announce_request`, checklist O5/O7),
//! exactly 177 bytes as the client builds it:
//!
//! | bytes    | field                                                    |
//! |----------|----------------------------------------------------------|
//! | 1        | 0x83 or 0x87                                              |
//! | 24       | nonce                                                     |
//! | 32       | sender key: the client's real key when announcing itself, a per-friend temporary key when searching |
//! | 104 + 16 | `crypto_box(sender, announce node's DHT key; payload)`    |
//!
//! Payload: `[ping id 32][searched key 32][data key 32][sendback 8]`. The
//! exit hop appends its [`OnionReturn3`](super::OnionReturn3), so the
//! announce node receives 354 bytes.
//!
//! 0x87 with group-chat extra data after the payload (0.2.19+) is refused
//! by size, as 0.2.18 nodes refuse it (their extra-data hook is unset).

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, MAC_SIZE, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PublicKey, Reader,
    SharedKey,
};

use super::OnionPacketError;
use crate::constants::PING_ID_SIZE;

/// Which pair of announce packets: 0.2.18 clients send the old one only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnounceVersion {
    /// 0x83 / 0x84: the response lists nodes without a count.
    Old,
    /// 0x87 / 0x88: the response has a node count (room for extra data).
    New,
}

impl AnnounceVersion {
    /// The request id.
    pub const fn request_id(self) -> u8 {
        match self {
            Self::Old => 0x83,
            Self::New => 0x87,
        }
    }

    /// The response id.
    pub const fn response_id(self) -> u8 {
        match self {
            Self::Old => 0x84,
            Self::New => 0x88,
        }
    }

    /// Reads a packet id that must be `id(Old)` or `id(New)`.
    pub(crate) fn read(
        reader: &mut Reader<'_>,
        what: &'static str,
        id: fn(Self) -> u8,
    ) -> Result<Self, DecodeError> {
        let found = reader.u8(what)?;
        [Self::Old, Self::New]
            .into_iter()
            .find(|v| id(*v) == found)
            .ok_or(DecodeError::InvalidValue {
                what,
                value: u64::from(found),
            })
    }
}

/// Size of the sendback field the client picks and gets back verbatim
/// (`ONION_ANNOUNCE_SENDBACK_DATA_LENGTH`); only the client reads it.
pub const SENDBACK_SIZE: usize = 8;
/// Size of the payload.
pub const ANNOUNCE_REQUEST_PAYLOAD_SIZE: usize = PING_ID_SIZE + 2 * PUBLIC_KEY_SIZE + SENDBACK_SIZE;
/// Size of the request as the client sends it (`ONION_ANNOUNCE_REQUEST_SIZE`).
pub const ANNOUNCE_REQUEST_SIZE: usize =
    1 + NONCE_SIZE + PUBLIC_KEY_SIZE + ANNOUNCE_REQUEST_PAYLOAD_SIZE + MAC_SIZE;

/// An announce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// 0x83 or 0x87.
    pub version: AnnounceVersion,
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The key the box was sealed with.
    pub sender_pk: PublicKey,
    /// The sealed payload.
    pub sealed: Vec<u8>,
}

impl AnnounceRequest {
    /// Seals `payload` for the announce node `shared` was computed with.
    pub fn new(
        version: AnnounceVersion,
        shared: &SharedKey,
        sender_pk: PublicKey,
        nonce: Nonce,
        payload: &AnnounceRequestPayload,
    ) -> Self {
        Self {
            version,
            nonce,
            sender_pk,
            sealed: shared.encrypt(&nonce, &payload.to_bytes()),
        }
    }

    /// Opens the payload with the key shared with the sender.
    pub fn open(&self, shared: &SharedKey) -> Result<AnnounceRequestPayload, OnionPacketError> {
        let plain = shared.decrypt(&self.nonce, &self.sealed)?;
        AnnounceRequestPayload::from_bytes(&plain).map_err(OnionPacketError::Payload)
    }
}

impl Encode for AnnounceRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.version.request_id());
        self.nonce.encode(buf);
        self.sender_pk.encode(buf);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        1 + NONCE_SIZE + PUBLIC_KEY_SIZE + self.sealed.len()
    }
}

impl Decode for AnnounceRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "announce request";
        reader.expect_remaining(NAME, ANNOUNCE_REQUEST_SIZE, ANNOUNCE_REQUEST_SIZE)?;
        Ok(Self {
            version: AnnounceVersion::read(reader, NAME, AnnounceVersion::request_id)?,
            nonce: Nonce::decode(reader)?,
            sender_pk: PublicKey::decode(reader)?,
            sealed: reader.rest().to_vec(),
        })
    }
}

/// What an announce request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequestPayload {
    /// The ping id the node handed out last time, or zeros.
    pub ping_id: [u8; PING_ID_SIZE],
    /// The real key being announced or searched for.
    pub search_pk: PublicKey,
    /// The key friends encrypt onion data to (zeros when searching).
    pub data_pk: PublicKey,
    /// Echoed in the response; opaque to the node.
    pub sendback: [u8; SENDBACK_SIZE],
}

impl Encode for AnnounceRequestPayload {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.ping_id);
        self.search_pk.encode(buf);
        self.data_pk.encode(buf);
        buf.put_slice(&self.sendback);
    }

    fn encoded_len(&self) -> usize {
        ANNOUNCE_REQUEST_PAYLOAD_SIZE
    }
}

impl Decode for AnnounceRequestPayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(
            "announce request payload",
            ANNOUNCE_REQUEST_PAYLOAD_SIZE,
            ANNOUNCE_REQUEST_PAYLOAD_SIZE,
        )?;
        Ok(Self {
            ping_id: reader.array("ping id")?,
            search_pk: PublicKey::decode(reader)?,
            data_pk: PublicKey::decode(reader)?,
            sendback: reader.array("sendback")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{PEERS, arb_nonce, arb_pk, garbage};
    use proptest::prelude::*;

    fn arb_version() -> impl Strategy<Value = AnnounceVersion> {
        prop_oneof![Just(AnnounceVersion::Old), Just(AnnounceVersion::New)]
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(
            version in arb_version(), nonce in arb_nonce(), ping_id in any::<[u8; 32]>(),
            search_pk in arb_pk(), data_pk in arb_pk(), sendback in any::<[u8; 8]>(),
        ) {
            let payload = AnnounceRequestPayload { ping_id, search_pk, data_pk, sendback };
            let packet = AnnounceRequest::new(version, &PEERS.alice_bob, PEERS.alice.public, nonce, &payload);
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), ANNOUNCE_REQUEST_SIZE);
            prop_assert_eq!(bytes[0], version.request_id());
            let decoded = AnnounceRequest::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.bob_alice), Ok(payload));
            prop_assert!(decoded.open(&PEERS.eve_bob).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(400)) {
            if let Ok(packet) = AnnounceRequest::from_bytes(&bytes) {
                prop_assert_eq!(bytes.len(), ANNOUNCE_REQUEST_SIZE);
                prop_assert!(packet.open(&PEERS.bob_alice).is_err());
            }
            let _ = AnnounceRequestPayload::from_bytes(&bytes);
        }
    }

    #[test]
    fn size_is_177() {
        assert_eq!(ANNOUNCE_REQUEST_SIZE, 177);
    }
}
