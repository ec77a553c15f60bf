//! Out-of-band packets (checklist R8; spec "TCP server", OOB; c-toxcore
//! `handle_TCP_oob_send`, `handle_TCP_client_oob_recv`).
//!
//! | packet          | layout                                        |
//! |-----------------|-----------------------------------------------|
//! | send (`6`)      | `[0x06][destination pk 32][data 1..=1024]`    |
//! | recv (`7`)      | `[0x07][sender pk 32][data 1..]`              |
//!
//! The relay turns a send into a recv for the destination if it is
//! connected to this relay, and drops it silently otherwise. Used for the
//! net_crypto cookie exchange before a routed link exists. c-toxcore's
//! relay drops a connection that sends more than 1024 bytes; its client
//! does not bound what it receives (beyond the frame), nor does this
//! decoder.

use bytes::{BufMut, Bytes};
use toxide_core::{Decode, DecodeError, Encode, PUBLIC_KEY_SIZE, PublicKey, Reader};

use super::{MAX_PAYLOAD, check_len};
use crate::constants::{TCP_MAX_OOB_DATA_LENGTH, TCP_PACKET_OOB_RECV, TCP_PACKET_OOB_SEND};

/// Client → relay: deliver `data` to `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OobSend {
    /// The destination's DHT public key.
    pub destination: PublicKey,
    /// 1..=1024 bytes.
    pub data: Bytes,
}

/// Relay → client: `sender` sent us `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OobRecv {
    /// The sender's DHT public key.
    pub sender: PublicKey,
    /// At least one byte.
    pub data: Bytes,
}

impl Encode for OobSend {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(TCP_PACKET_OOB_SEND);
        self.destination.encode(buf);
        buf.put_slice(&self.data);
    }
    fn encoded_len(&self) -> usize {
        1 + PUBLIC_KEY_SIZE + self.data.len()
    }
}

impl Decode for OobSend {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "oob send";
        check_len(
            reader,
            NAME,
            1 + PUBLIC_KEY_SIZE + 1,
            1 + PUBLIC_KEY_SIZE + TCP_MAX_OOB_DATA_LENGTH,
        )?;
        reader.expect_u8(NAME, TCP_PACKET_OOB_SEND)?;
        Ok(Self {
            destination: PublicKey::decode(reader)?,
            data: Bytes::copy_from_slice(reader.rest()),
        })
    }
}

impl Encode for OobRecv {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(TCP_PACKET_OOB_RECV);
        self.sender.encode(buf);
        buf.put_slice(&self.data);
    }
    fn encoded_len(&self) -> usize {
        1 + PUBLIC_KEY_SIZE + self.data.len()
    }
}

impl Decode for OobRecv {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "oob recv";
        check_len(reader, NAME, 1 + PUBLIC_KEY_SIZE + 1, MAX_PAYLOAD)?;
        reader.expect_u8(NAME, TCP_PACKET_OOB_RECV)?;
        Ok(Self {
            sender: PublicKey::decode(reader)?,
            data: Bytes::copy_from_slice(reader.rest()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(len: usize) -> Vec<u8> {
        let mut bytes = vec![6];
        bytes.extend_from_slice(&[1; 32]);
        bytes.extend(std::iter::repeat_n(0xaa, len));
        bytes
    }

    #[test]
    fn data_length_boundaries() {
        assert!(OobSend::from_bytes(&send(0)).is_err());
        assert_eq!(OobSend::from_bytes(&send(1)).unwrap().data.len(), 1);
        assert_eq!(OobSend::from_bytes(&send(1024)).unwrap().data.len(), 1024);
        assert!(OobSend::from_bytes(&send(1025)).is_err());
        let mut recv = send(1);
        recv[0] = 7;
        assert_eq!(
            OobRecv::from_bytes(&recv).unwrap().sender,
            PublicKey::new([1; 32])
        );
        assert!(OobRecv::from_bytes(&recv[..33]).is_err());
    }
}
