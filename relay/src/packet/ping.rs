//! Ping and pong (checklist R7; spec "TCP server", ping; c-toxcore
//! `tcp_send_ping_request`, `handle_TCP_client_ping`, `do_TCP_confirmed`).
//!
//! | packet       | layout                    |
//! |--------------|---------------------------|
//! | ping (`4`)   | `[0x04][ping id 8]` = 9   |
//! | pong (`5`)   | `[0x05][ping id 8]` = 9   |
//!
//! Each side pings every 30 s and drops the connection when no pong with
//! the same id comes within 10 s. The id is an opaque 8-byte token
//! (c-toxcore copies a host-order `u64`); here it is read big-endian and
//! echoed byte for byte. Senders never use id 0; a pong with id 0 is a
//! protocol error on both sides of c-toxcore, while a ping with id 0 is
//! answered, so it decodes here.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::check_len;
use crate::constants::{TCP_PACKET_PING, TCP_PACKET_PONG};

/// "Are you there?"
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    /// The token the pong must echo.
    pub ping_id: u64,
}

/// "Yes": the echo of a [`Ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong {
    /// The ping's token; never 0.
    pub ping_id: u64,
}

impl Encode for Ping {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(TCP_PACKET_PING);
        buf.put_u64(self.ping_id);
    }
    fn encoded_len(&self) -> usize {
        9
    }
}

impl Decode for Ping {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        check_len(reader, "ping", 9, 9)?;
        reader.expect_u8("ping", TCP_PACKET_PING)?;
        Ok(Self {
            ping_id: reader.u64_be("ping id")?,
        })
    }
}

impl Encode for Pong {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(TCP_PACKET_PONG);
        buf.put_u64(self.ping_id);
    }
    fn encoded_len(&self) -> usize {
        9
    }
}

impl Decode for Pong {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        check_len(reader, "pong", 9, 9)?;
        reader.expect_u8("pong", TCP_PACKET_PONG)?;
        let ping_id = reader.u64_be("ping id")?;
        if ping_id == 0 {
            return Err(DecodeError::InvalidValue {
                what: "pong id",
                value: 0,
            });
        }
        Ok(Self { ping_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_zero_id() {
        let ping = Ping {
            ping_id: 0x0102_0304_0506_0708,
        };
        assert_eq!(ping.to_bytes(), [4, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            Ping::from_bytes(&[4, 0, 0, 0, 0, 0, 0, 0, 0])
                .unwrap()
                .ping_id,
            0
        );
        assert!(Pong::from_bytes(&[5, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert_eq!(
            Pong::from_bytes(&[5, 0, 0, 0, 0, 0, 0, 0, 1])
                .unwrap()
                .ping_id,
            1
        );
        assert!(Ping::from_bytes(&[4, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Pong::from_bytes(&[5, 0, 0, 0, 0, 0, 0, 0, 1, 0]).is_err());
    }
}
