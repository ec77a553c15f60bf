//! Onion data request (0x85) and response (0x86): a message to whoever is
//! announced under a real key, routed by the announce node.
//!
//! Wire layout (c-toxcore `create_data_request`, `handle_data_request`,
//! checklist O10):
//!
//! | bytes  | 0x85 request                       | 0x86 response           |
//! |--------|------------------------------------|-------------------------|
//! | 1      | 0x85                               | 0x86                    |
//! | 32     | the destination's real key         | —                       |
//! | 24     | nonce                              | nonce                   |
//! | 32     | a fresh temporary key              | the same                |
//! | n + 16 | `crypto_box(temporary, destination's data key; inner)` | the same |
//!
//! The announce node looks the real key up in its store and sends the
//! request, minus that key and with id 0x86, down the stored return path.
//! What is inside the box is the onion client's business.

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, MAC_SIZE, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PublicKey, Reader,
};

use crate::constants::{ONION_MAX_DATA_SIZE, ONION_MAX_PACKET_SIZE, RETURN_3_SIZE};

/// The smallest data request: an empty-but-sealed inner box is not
/// allowed, so at least one byte of payload
/// (`ONION_DATA_REQUEST_MIN_SIZE` + 1).
pub const DATA_REQUEST_MIN_SIZE: usize =
    1 + PUBLIC_KEY_SIZE + NONCE_SIZE + PUBLIC_KEY_SIZE + MAC_SIZE + 1;
/// The largest data request an announce node accepts (what fits a 1400-byte
/// datagram with the exit's return layer; clients can only send up to
/// [`ONION_MAX_DATA_SIZE`]).
pub const DATA_REQUEST_MAX_SIZE: usize = ONION_MAX_PACKET_SIZE - RETURN_3_SIZE;
/// The largest data response a 0.2.18 client accepts (`MAX_DATA_REQUEST_SIZE`).
pub const DATA_RESPONSE_MAX_SIZE: usize = ONION_MAX_DATA_SIZE - (DATA_REQUEST_MIN_SIZE - 1);
/// The smallest data response a 0.2.18 client accepts: its inner box must
/// hold the sender's real key and a sealed non-empty payload.
pub const DATA_RESPONSE_MIN_SIZE: usize =
    1 + NONCE_SIZE + PUBLIC_KEY_SIZE + MAC_SIZE + PUBLIC_KEY_SIZE + MAC_SIZE + 1;

/// An onion data request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionDataRequest {
    /// The real key of the client it is for.
    pub destination_pk: PublicKey,
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The key the box was sealed with.
    pub temporary_pk: PublicKey,
    /// The sealed inner data.
    pub sealed: Vec<u8>,
}

impl OnionDataRequest {
    /// The response the announce node forwards to the destination.
    pub fn into_response(self) -> OnionDataResponse {
        OnionDataResponse {
            nonce: self.nonce,
            temporary_pk: self.temporary_pk,
            sealed: self.sealed,
        }
    }
}

impl Encode for OnionDataRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(0x85);
        self.destination_pk.encode(buf);
        self.nonce.encode(buf);
        self.temporary_pk.encode(buf);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        1 + PUBLIC_KEY_SIZE + NONCE_SIZE + PUBLIC_KEY_SIZE + self.sealed.len()
    }
}

impl Decode for OnionDataRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "onion data request";
        reader.expect_remaining(NAME, DATA_REQUEST_MIN_SIZE, DATA_REQUEST_MAX_SIZE)?;
        reader.expect_u8(NAME, 0x85)?;
        Ok(Self {
            destination_pk: PublicKey::decode(reader)?,
            nonce: Nonce::decode(reader)?,
            temporary_pk: PublicKey::decode(reader)?,
            sealed: reader.rest().to_vec(),
        })
    }
}

/// An onion data response, as the destination receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionDataResponse {
    /// The nonce of the box.
    pub nonce: Nonce,
    /// The key the box was sealed with.
    pub temporary_pk: PublicKey,
    /// The sealed inner data.
    pub sealed: Vec<u8>,
}

impl Encode for OnionDataResponse {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(0x86);
        self.nonce.encode(buf);
        self.temporary_pk.encode(buf);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        1 + NONCE_SIZE + PUBLIC_KEY_SIZE + self.sealed.len()
    }
}

impl Decode for OnionDataResponse {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "onion data response";
        reader.expect_remaining(NAME, DATA_RESPONSE_MIN_SIZE, DATA_RESPONSE_MAX_SIZE)?;
        reader.expect_u8(NAME, 0x86)?;
        Ok(Self {
            nonce: Nonce::decode(reader)?,
            temporary_pk: PublicKey::decode(reader)?,
            sealed: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{arb_nonce, arb_pk, garbage};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_round_trips_and_becomes_its_response(
            destination_pk in arb_pk(), nonce in arb_nonce(), temporary_pk in arb_pk(),
            sealed in proptest::collection::vec(any::<u8>(), 65..1000),
        ) {
            let request = OnionDataRequest { destination_pk, nonce, temporary_pk, sealed };
            let bytes = request.to_bytes();
            prop_assert_eq!(bytes.len(), request.encoded_len());
            prop_assert_eq!(OnionDataRequest::from_bytes(&bytes), Ok(request.clone()));
            let response = request.into_response();
            let out = response.to_bytes();
            // The announce node drops the destination key and relabels.
            prop_assert_eq!(out[0], 0x86);
            prop_assert_eq!(&out[1..], &bytes[33..]);
            prop_assert_eq!(OnionDataResponse::from_bytes(&out), Ok(response));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1500)) {
            let _ = OnionDataRequest::from_bytes(&bytes);
            let _ = OnionDataResponse::from_bytes(&bytes);
        }
    }

    #[test]
    fn sizes_follow_c_toxcore() {
        // The announce node drops `length <= DATA_REQUEST_MIN_SIZE_RECV` (282
        // with the return layer).
        assert_eq!(DATA_REQUEST_MIN_SIZE + RETURN_3_SIZE, 283);
        assert_eq!(DATA_RESPONSE_MAX_SIZE, 1069);
        assert_eq!(DATA_RESPONSE_MIN_SIZE, 122);
    }
}
