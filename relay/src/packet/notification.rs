//! Connect and disconnect notifications (checklist R6; spec "TCP server";
//! c-toxcore `send_connect_notification`, `send_disconnect_notification`,
//! `handle_TCP_client_connection_notification`).
//!
//! | packet              | layout                    |
//! |---------------------|---------------------------|
//! | connect (`2`)       | `[0x02][connection id]`   |
//! | disconnect (`3`)    | `[0x03][connection id]`   |
//!
//! The relay sends "connect" when both clients have asked for each other
//! and "disconnect" when the peer went away or forgot the id; a client
//! sends "disconnect" to free an id. An id below 16 is a protocol error
//! (c-toxcore's client drops the connection for it; its relay ignores a
//! client's connect notification whatever the id, which is the one case
//! where toxide is stricter: no client sends those).

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{ConnectionId, check_len};
use crate::constants::{TCP_PACKET_CONNECTION_NOTIFICATION, TCP_PACKET_DISCONNECT_NOTIFICATION};

macro_rules! notification {
    ($(#[$doc:meta])* $name:ident, $id:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            /// The link, in the receiver's numbering.
            pub connection_id: ConnectionId,
        }

        impl Encode for $name {
            fn encode(&self, buf: &mut impl BufMut) {
                buf.put_u8($id);
                buf.put_u8(self.connection_id.wire());
            }
            fn encoded_len(&self) -> usize {
                2
            }
        }

        impl Decode for $name {
            fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
                check_len(reader, $what, 2, 2)?;
                reader.expect_u8($what, $id)?;
                Ok(Self {
                    connection_id: ConnectionId::decode(reader, "connection id")?,
                })
            }
        }
    };
}

notification!(
    /// The peer on this id is now online: data frames may flow.
    ConnectNotification,
    TCP_PACKET_CONNECTION_NOTIFICATION,
    "connect notification"
);
notification!(
    /// The peer on this id went offline (relay → client), or the client
    /// forgets the id (client → relay).
    DisconnectNotification,
    TCP_PACKET_DISCONNECT_NOTIFICATION,
    "disconnect notification"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_boundaries() {
        assert_eq!(
            ConnectNotification::from_bytes(&[2, 16])
                .unwrap()
                .connection_id
                .wire(),
            16
        );
        assert_eq!(
            DisconnectNotification::from_bytes(&[3, 255])
                .unwrap()
                .connection_id
                .wire(),
            255
        );
        assert!(ConnectNotification::from_bytes(&[2, 15]).is_err());
        assert!(DisconnectNotification::from_bytes(&[3, 0]).is_err());
        assert!(ConnectNotification::from_bytes(&[3, 16]).is_err());
        assert!(ConnectNotification::from_bytes(&[2]).is_err());
        assert!(ConnectNotification::from_bytes(&[2, 16, 0]).is_err());
    }
}
