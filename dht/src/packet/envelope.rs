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
//! These helpers are private: each packet kind is its own public type.

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, MAC_SIZE, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PublicKey, Reader,
    SharedKey,
};

use super::DhtPacketError;

/// Bytes an envelope adds around its payload: id, key, nonce and MAC.
pub(crate) const ENVELOPE_OVERHEAD: usize = 1 + PUBLIC_KEY_SIZE + NONCE_SIZE + MAC_SIZE;

/// The cleartext parts of a received envelope.
pub(crate) struct Envelope {
    pub(crate) sender_pk: PublicKey,
    pub(crate) nonce: Nonce,
    pub(crate) payload: Vec<u8>,
}

/// Reads the packet id and fails unless it is `id`.
pub(crate) fn expect_id(
    reader: &mut Reader<'_>,
    what: &'static str,
    id: u8,
) -> Result<(), DecodeError> {
    let found = reader.u8(what)?;
    if found == id {
        Ok(())
    } else {
        Err(DecodeError::InvalidValue {
            what,
            value: u64::from(found),
        })
    }
}

/// Reads a whole envelope of total length `min..=max` (id included).
pub(crate) fn decode(
    reader: &mut Reader<'_>,
    what: &'static str,
    id: u8,
    min: usize,
    max: usize,
) -> Result<Envelope, DecodeError> {
    reader.expect_remaining(what, min, max)?;
    expect_id(reader, what, id)?;
    let sender_pk = PublicKey::decode(reader)?;
    let nonce = Nonce::decode(reader)?;
    let payload = reader.rest().to_vec();
    Ok(Envelope {
        sender_pk,
        nonce,
        payload,
    })
}

/// Writes an envelope.
pub(crate) fn encode(
    buf: &mut impl BufMut,
    id: u8,
    sender_pk: &PublicKey,
    nonce: &Nonce,
    payload: &[u8],
) {
    buf.put_u8(id);
    sender_pk.encode(buf);
    nonce.encode(buf);
    buf.put_slice(payload);
}

/// The encoded length of an envelope around `payload`.
pub(crate) fn encoded_len(payload: &[u8]) -> usize {
    1 + PUBLIC_KEY_SIZE + NONCE_SIZE + payload.len()
}

/// Encrypts a payload.
pub(crate) fn seal(shared: &SharedKey, nonce: &Nonce, plain: &impl Encode) -> Vec<u8> {
    shared.encrypt(nonce, &plain.to_bytes())
}

/// Decrypts and decodes a payload. When `inner_type` is given, the first
/// plaintext byte must equal it; that is checked before the rest is parsed
/// so a reflected packet is reported as such.
pub(crate) fn open<P: Decode>(
    shared: &SharedKey,
    nonce: &Nonce,
    ciphertext: &[u8],
    inner_type: Option<u8>,
) -> Result<P, DhtPacketError> {
    let plain = shared.decrypt(nonce, ciphertext)?;
    if let (Some(expected), Some(&found)) = (inner_type, plain.first()) {
        if found != expected {
            return Err(DhtPacketError::WrongInnerType { expected, found });
        }
    }
    P::from_bytes(&plain).map_err(DhtPacketError::Payload)
}
