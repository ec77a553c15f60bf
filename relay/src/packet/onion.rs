//! Onion request and response over a relay (checklist R9, O16; spec "TCP
//! server", onion packets; c-toxcore `handle_TCP_packet`,
//! `handle_onion_recv_1`).
//!
//! | packet             | layout                                              |
//! |--------------------|-----------------------------------------------------|
//! | request (`8`)      | `[0x08][nonce 24][IP_Port of B 19][PK 32][box …]`   |
//! | response (`9`)     | `[0x09][data for the client]`                       |
//!
//! The relay acts as hop A of an onion path: the request is an onion
//! packet 0x80 without its id and with the first layer already open (the
//! frame's encryption protects it). Both are carried opaque here; the
//! onion layer reads them. c-toxcore's relay drops a connection whose
//! request is not longer than [`MIN_ONION_REQUEST_FRAME`] − 1 bytes.

use bytes::{BufMut, Bytes};
use toxide_core::{Decode, DecodeError, Encode, NONCE_SIZE, Nonce, Reader};

use super::{MAX_PAYLOAD, check_len};
use crate::constants::{
    MIN_ONION_REQUEST_FRAME, TCP_PACKET_ONION_REQUEST, TCP_PACKET_ONION_RESPONSE,
};

/// Client → relay: an onion request for the relay to send on as hop A.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionRequest {
    /// The nonce of the second layer's box.
    pub nonce: Nonce,
    /// The next hop's address, the key and the sealed layers.
    pub payload: Bytes,
}

/// Relay → client: what came back along the client's onion path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionResponse {
    /// The onion response (an announce or data response), at least one
    /// byte.
    pub data: Bytes,
}

impl Encode for OnionRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(TCP_PACKET_ONION_REQUEST);
        self.nonce.encode(buf);
        buf.put_slice(&self.payload);
    }
    fn encoded_len(&self) -> usize {
        1 + NONCE_SIZE + self.payload.len()
    }
}

impl Decode for OnionRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "onion request";
        check_len(reader, NAME, MIN_ONION_REQUEST_FRAME, MAX_PAYLOAD)?;
        reader.expect_u8(NAME, TCP_PACKET_ONION_REQUEST)?;
        Ok(Self {
            nonce: Nonce::decode(reader)?,
            payload: Bytes::copy_from_slice(reader.rest()),
        })
    }
}

impl Encode for OnionResponse {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(TCP_PACKET_ONION_RESPONSE);
        buf.put_slice(&self.data);
    }
    fn encoded_len(&self) -> usize {
        1 + self.data.len()
    }
}

impl Decode for OnionResponse {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "onion response";
        check_len(reader, NAME, 2, MAX_PAYLOAD)?;
        reader.expect_u8(NAME, TCP_PACKET_ONION_RESPONSE)?;
        Ok(Self {
            data: Bytes::copy_from_slice(reader.rest()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_minimum_matches_ctoxcore() {
        // c-toxcore: refused when length <= 1 + 24 + 2 * 67 = 159.
        assert_eq!(MIN_ONION_REQUEST_FRAME, 160);
        let mut bytes = vec![8u8];
        bytes.extend(std::iter::repeat_n(0, 158));
        assert!(OnionRequest::from_bytes(&bytes).is_err());
        bytes.push(0);
        let req = OnionRequest::from_bytes(&bytes).unwrap();
        assert_eq!(req.payload.len(), 135);
        assert!(OnionResponse::from_bytes(&[9]).is_err());
        assert_eq!(
            OnionResponse::from_bytes(&[9, 1]).unwrap().data.as_ref(),
            &[1]
        );
    }
}
