//! Forward request and forwarding (checklist R10; c-toxcore
//! `send_forward_request_tcp`, `handle_forward_reply_tcp`,
//! `forwarding.c`).
//!
//! | packet                | layout                                     |
//! |-----------------------|--------------------------------------------|
//! | forward request (`10`) | `[0x0a][packed IP_Port][data]`            |
//! | forwarding (`11`)      | `[0x0b][sendback …][data]`                |
//!
//! Only the announcements extension of later releases (D17) uses these.
//! toxide recognises and counts them and carries their bytes opaque; it
//! neither sends nor acts on them.

use bytes::{BufMut, Bytes};
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{MAX_PAYLOAD, check_len};
use crate::constants::{TCP_PACKET_FORWARD_REQUEST, TCP_PACKET_FORWARDING};

macro_rules! opaque {
    ($(#[$doc:meta])* $name:ident, $id:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// Everything after the id byte, unparsed.
            pub data: Bytes,
        }

        impl Encode for $name {
            fn encode(&self, buf: &mut impl BufMut) {
                buf.put_u8($id);
                buf.put_slice(&self.data);
            }
            fn encoded_len(&self) -> usize {
                1 + self.data.len()
            }
        }

        impl Decode for $name {
            fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
                check_len(reader, $what, 1, MAX_PAYLOAD)?;
                reader.expect_u8($what, $id)?;
                Ok(Self {
                    data: Bytes::copy_from_slice(reader.rest()),
                })
            }
        }
    };
}

opaque!(
    /// Client → relay: "forward this to that address" (opaque).
    ForwardRequest,
    TCP_PACKET_FORWARD_REQUEST,
    "forward request"
);
opaque!(
    /// Relay → client: a forwarded reply (opaque).
    Forwarding,
    TCP_PACKET_FORWARDING,
    "forwarding"
);
