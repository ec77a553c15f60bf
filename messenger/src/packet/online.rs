//! Online (24) and offline (25): the messenger's gate.
//!
//! Checklist M1, M2; spec "Messenger", `ONLINE` and `OFFLINE`; c-toxcore
//! `send_online_packet`, `send_offline_packet` and `m_handle_packet` in
//! `Messenger.c`.
//!
//! | bytes | field                       |
//! |-------|-----------------------------|
//! | 1     | `0x18` (online) or `0x19` (offline) |
//!
//! Until a friend's online packet arrives, c-toxcore drops every other
//! messenger packet from that friend, and it answers the first one with
//! its own. It takes an online packet only when it is exactly one byte
//! (`len == 1`) and an offline packet only without data, so both decoders
//! here refuse any other length.
//!
//! Offline is sent when a friend is deleted while a conference still
//! holds the friend connection open: the peer falls back from "online" to
//! "confirmed" without the connection going down.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{PACKET_ID_OFFLINE, PACKET_ID_ONLINE};

/// An online packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Online;

/// An offline packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Offline;

impl Encode for Online {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_ONLINE);
    }

    fn encoded_len(&self) -> usize {
        1
    }
}

impl Decode for Online {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining("online", 1, 1)?;
        reader.expect_u8("online", PACKET_ID_ONLINE)?;
        Ok(Self)
    }
}

impl Encode for Offline {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_OFFLINE);
    }

    fn encoded_len(&self) -> usize {
        1
    }
}

impl Decode for Offline {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining("offline", 1, 1)?;
        reader.expect_u8("offline", PACKET_ID_OFFLINE)?;
        Ok(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn are_exactly_one_byte() {
        assert_eq!(Online.to_bytes(), [24]);
        assert_eq!(Offline.to_bytes(), [25]);
        assert_eq!(Online::from_bytes(&[24]), Ok(Online));
        assert_eq!(Offline::from_bytes(&[25]), Ok(Offline));
        assert!(Online::from_bytes(&[24, 0]).is_err());
        assert!(Offline::from_bytes(&[25, 0]).is_err());
        assert!(Online::from_bytes(&[25]).is_err());
        assert!(Offline::from_bytes(&[24]).is_err());
    }
}
