//! Routing request and response (checklist R5; spec "TCP server",
//! routing request; c-toxcore `handle_TCP_routing_req`,
//! `handle_TCP_client_routing_response`).
//!
//! | packet            | layout                                         |
//! |-------------------|------------------------------------------------|
//! | request (`0`)     | `[0x00][peer DHT pk 32]` = 33                  |
//! | response (`1`)    | `[0x01][connection id][peer DHT pk 32]` = 34   |
//!
//! A response id of 0 means "refused" (no free slot, or the client asked
//! for itself). c-toxcore's client treats every id below 16 as a refusal,
//! and so does the decoder here: such a response decodes with no id.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, PUBLIC_KEY_SIZE, PublicKey, Reader};

use super::{ConnectionId, check_len};
use crate::constants::{TCP_PACKET_ROUTING_REQUEST, TCP_PACKET_ROUTING_RESPONSE};

/// "Give me a connection id for this peer."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingRequest {
    /// The peer's DHT public key.
    pub pk: PublicKey,
}

impl Encode for RoutingRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(TCP_PACKET_ROUTING_REQUEST);
        self.pk.encode(buf);
    }
    fn encoded_len(&self) -> usize {
        1 + PUBLIC_KEY_SIZE
    }
}

impl Decode for RoutingRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "routing request";
        check_len(reader, NAME, 1 + PUBLIC_KEY_SIZE, 1 + PUBLIC_KEY_SIZE)?;
        reader.expect_u8(NAME, TCP_PACKET_ROUTING_REQUEST)?;
        Ok(Self {
            pk: PublicKey::decode(reader)?,
        })
    }
}

/// The relay's answer: the id this client will use for the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingResponse {
    /// The id, or `None` if the relay refused.
    pub connection_id: Option<ConnectionId>,
    /// The peer's DHT public key, as requested.
    pub pk: PublicKey,
}

impl Encode for RoutingResponse {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(TCP_PACKET_ROUTING_RESPONSE);
        buf.put_u8(self.connection_id.map_or(0, ConnectionId::wire));
        self.pk.encode(buf);
    }
    fn encoded_len(&self) -> usize {
        2 + PUBLIC_KEY_SIZE
    }
}

impl Decode for RoutingResponse {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "routing response";
        check_len(reader, NAME, 2 + PUBLIC_KEY_SIZE, 2 + PUBLIC_KEY_SIZE)?;
        reader.expect_u8(NAME, TCP_PACKET_ROUTING_RESPONSE)?;
        let connection_id = ConnectionId::from_wire(reader.u8("connection id")?);
        Ok(Self {
            connection_id,
            pk: PublicKey::decode(reader)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_layout() {
        let pk = PublicKey::new([9; 32]);
        let req = RoutingRequest { pk }.to_bytes();
        assert_eq!(req.len(), 33);
        assert_eq!(req[0], 0);
        let resp = RoutingResponse {
            connection_id: ConnectionId::from_wire(16),
            pk,
        }
        .to_bytes();
        assert_eq!(&resp[..2], &[1, 16]);
        assert_eq!(resp.len(), 34);
        assert!(RoutingRequest::from_bytes(&req[..32]).is_err());
        assert!(RoutingRequest::from_bytes(&[req.clone(), vec![0]].concat()).is_err());
        assert!(RoutingResponse::from_bytes(&resp[..33]).is_err());
    }

    #[test]
    fn low_ids_mean_refused() {
        for id in 0..16u8 {
            let mut bytes = vec![1, id];
            bytes.extend_from_slice(&[3; 32]);
            assert_eq!(
                RoutingResponse::from_bytes(&bytes).unwrap().connection_id,
                None
            );
        }
    }
}
