//! Data frames (checklist R11; spec "TCP server", data; c-toxcore
//! `send_data`, the default branch of `handle_TCP_packet`).
//!
//! `[connection id 16..=255][data]`: a net_crypto packet for the peer on
//! that id. The relay rewrites the id to the one the peer uses for the
//! sender. The data must not be empty: c-toxcore's client drops the
//! connection on a one-byte frame.

use bytes::{BufMut, Bytes};
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{ConnectionId, MAX_PAYLOAD, check_len};

/// A routed packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The link, in the sender's (client → relay) or receiver's (relay →
    /// client) numbering.
    pub connection_id: ConnectionId,
    /// The payload, at least one byte.
    pub data: Bytes,
}

impl Encode for Data {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.connection_id.wire());
        buf.put_slice(&self.data);
    }
    fn encoded_len(&self) -> usize {
        1 + self.data.len()
    }
}

impl Decode for Data {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        check_len(reader, "data", 2, MAX_PAYLOAD)?;
        Ok(Self {
            connection_id: ConnectionId::decode(reader, "data connection id")?,
            data: Bytes::copy_from_slice(reader.rest()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert!(Data::from_bytes(&[16]).is_err());
        assert!(Data::from_bytes(&[15, 1]).is_err());
        let d = Data::from_bytes(&[255, 1, 2]).unwrap();
        assert_eq!(d.connection_id.index(), 239);
        assert_eq!(d.data.as_ref(), &[1, 2]);
        let max = vec![16u8; MAX_PAYLOAD];
        assert!(Data::from_bytes(&max).is_ok());
        assert!(Data::from_bytes(&[max, vec![0]].concat()).is_err());
    }
}
