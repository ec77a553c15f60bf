//! The encrypted envelope shared by the four DHT RPC packets (0x00, 0x01,
//! 0x02, 0x04).
//!
//! Wire layout (spec "DHT Packet", checklist D1; c-toxcore
//! `dht_create_packet` in `DHT.c`):
//!
//! | bytes  | field                                                  |
//! |--------|--------------------------------------------------------|
//! | 1      | packet id                                              |
//! | 32     | the sender's DHT public key                            |
//! | 24     | nonce, random for every packet                         |
//! | n + 16 | `crypto_box(DH(sender, receiver), nonce, payload)`     |
//!
//! The keys are DHT keys, never long-term keys. Both directions use the same
//! shared key, which is why each payload starts with (or is shaped unlike)
//! its counterpart: see [`WrongInnerType`](super::DhtPacketError::WrongInnerType).
//!
//! One generic type, [`DhtPacket`], carries all four; each packet kind is a
//! marker implementing [`EnvelopeKind`] (its id, sizes and payload type) and
//! a type alias (`PingRequest = DhtPacket<PingRequestKind>`, …).

use std::fmt;
use std::marker::PhantomData;

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, MAC_SIZE, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PublicKey, Reader,
    SharedKey,
};

use super::DhtPacketError;

/// Bytes an envelope adds around its payload: id, key, nonce and MAC.
pub(crate) const ENVELOPE_OVERHEAD: usize = 1 + PUBLIC_KEY_SIZE + NONCE_SIZE + MAC_SIZE;

/// What distinguishes one envelope packet kind from another.
pub trait EnvelopeKind {
    /// The packet id (first byte).
    const ID: u8;
    /// A name for errors.
    const NAME: &'static str;
    /// The smallest whole packet c-toxcore accepts.
    const MIN_SIZE: usize;
    /// The largest whole packet c-toxcore accepts.
    const MAX_SIZE: usize;
    /// The byte the plaintext must start with, for payloads that carry a
    /// type byte (pings): checked before anything else is parsed, so a
    /// reflected packet is reported as such.
    const INNER_TYPE: Option<u8>;
    /// The payload inside the box.
    type Payload: Encode + Decode;
}

/// An envelope packet as it travels: the sender's DHT key, the nonce and the
/// sealed payload. Holding the ciphertext lets a packet be decoded, counted
/// and length-checked before any shared key is computed.
pub struct DhtPacket<K> {
    /// The sender's DHT public key.
    pub sender_pk: PublicKey,
    /// The nonce the payload was sealed with.
    pub nonce: Nonce,
    /// The sealed payload (ciphertext with MAC).
    pub payload: Vec<u8>,
    kind: PhantomData<fn() -> K>,
}

impl<K: EnvelopeKind> DhtPacket<K> {
    /// The packet id.
    pub const ID: u8 = K::ID;

    /// Seals `payload` for the peer `shared` was computed with.
    pub fn new(
        shared: &SharedKey,
        sender_pk: PublicKey,
        nonce: Nonce,
        payload: &K::Payload,
    ) -> Self {
        Self::from_parts(
            sender_pk,
            nonce,
            shared.encrypt(&nonce, &payload.to_bytes()),
        )
    }

    /// A packet around an already sealed payload.
    pub fn from_parts(sender_pk: PublicKey, nonce: Nonce, payload: Vec<u8>) -> Self {
        Self {
            sender_pk,
            nonce,
            payload,
            kind: PhantomData,
        }
    }

    /// Opens the payload with the key shared with `sender_pk`.
    pub fn open(&self, shared: &SharedKey) -> Result<K::Payload, DhtPacketError> {
        let plain = shared.decrypt(&self.nonce, &self.payload)?;
        if let (Some(expected), Some(&found)) = (K::INNER_TYPE, plain.first()) {
            if found != expected {
                return Err(DhtPacketError::WrongInnerType { expected, found });
            }
        }
        K::Payload::from_bytes(&plain).map_err(DhtPacketError::Payload)
    }
}

impl<K: EnvelopeKind> Encode for DhtPacket<K> {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(K::ID);
        self.sender_pk.encode(buf);
        self.nonce.encode(buf);
        buf.put_slice(&self.payload);
    }

    fn encoded_len(&self) -> usize {
        1 + PUBLIC_KEY_SIZE + NONCE_SIZE + self.payload.len()
    }
}

impl<K: EnvelopeKind> Decode for DhtPacket<K> {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(K::NAME, K::MIN_SIZE, K::MAX_SIZE)?;
        reader.expect_u8(K::NAME, K::ID)?;
        let sender_pk = PublicKey::decode(reader)?;
        let nonce = Nonce::decode(reader)?;
        Ok(Self::from_parts(sender_pk, nonce, reader.rest().to_vec()))
    }
}

// Written out rather than derived: a derive would demand the marker types
// implement these traits too.
impl<K> fmt::Debug for DhtPacket<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(
            std::any::type_name::<K>()
                .rsplit("::")
                .next()
                .unwrap_or("DhtPacket"),
        )
        .field("sender_pk", &self.sender_pk)
        .field("nonce", &self.nonce)
        .field("payload_len", &self.payload.len())
        .finish()
    }
}

impl<K> Clone for DhtPacket<K> {
    fn clone(&self) -> Self {
        Self {
            sender_pk: self.sender_pk,
            nonce: self.nonce,
            payload: self.payload.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> PartialEq for DhtPacket<K> {
    fn eq(&self, other: &Self) -> bool {
        (self.sender_pk, self.nonce, &self.payload)
            == (other.sender_pk, other.nonce, &other.payload)
    }
}

impl<K> Eq for DhtPacket<K> {}
