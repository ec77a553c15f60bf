//! Alive (16): "this friend connection is still up".
//!
//! The friend connection's only liveness signal once a session is
//! established (checklist F2; spec "Friend connection"; c-toxcore
//! `send_ping` and `handle_packet` in `friend_connection.c`). Sent lossless
//! every 8 s (`FRIEND_PING_INTERVAL`); a connection silent for 32 s
//! (`FRIEND_CONNECTION_TIMEOUT`) is dropped.
//!
//! | bytes | field  |
//! |-------|--------|
//! | 1     | `0x10` |
//!
//! c-toxcore sends exactly this byte, but its receiver looks at the id
//! only: bytes after it are ignored, not refused, and the connection is
//! still kept alive. We decode such a packet the same way (refusing it
//! would let a connection time out that c-toxcore keeps), and it
//! re-encodes as the single byte.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{MAX_CRYPTO_DATA_SIZE, PACKET_ID_ALIVE};

/// An alive packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Alive;

impl Encode for Alive {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_ALIVE);
    }

    fn encoded_len(&self) -> usize {
        1
    }
}

impl Decode for Alive {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "alive";
        reader.expect_remaining(NAME, 1, MAX_CRYPTO_DATA_SIZE)?;
        reader.expect_u8(NAME, PACKET_ID_ALIVE)?;
        // Ignored, as c-toxcore's `handle_packet` ignores them.
        reader.rest();
        Ok(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_one_byte() {
        assert_eq!(Alive.to_bytes(), [16]);
        assert_eq!(Alive::from_bytes(&[16]), Ok(Alive));
    }

    #[test]
    fn surplus_bytes_are_ignored_like_ctoxcore() {
        assert_eq!(Alive::from_bytes(&[16, 1, 2, 3]), Ok(Alive));
        assert!(Alive::from_bytes(&[17]).is_err());
        assert!(Alive::from_bytes(&[]).is_err());
        let mut long = vec![16; MAX_CRYPTO_DATA_SIZE + 1];
        assert!(Alive::from_bytes(&long).is_err());
        long.pop();
        assert_eq!(Alive::from_bytes(&long), Ok(Alive));
    }
}
