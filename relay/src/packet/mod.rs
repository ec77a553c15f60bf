//! Every TCP relay packet of c-toxcore 0.2.18: the two handshakes sent in
//! the clear, and the payloads that travel inside encrypted frames
//! (checklist R1–R11; spec "TCP server", "TCP client").
//!
//! | id       | packet                       | length (whole payload)     | check |
//! |----------|------------------------------|----------------------------|-------|
//! | –        | [`ClientHandshake`]          | 128                        | R1    |
//! | –        | [`ServerHandshake`]          | 96                         | R2    |
//! | `0`      | [`RoutingRequest`]           | 33                         | R5    |
//! | `1`      | [`RoutingResponse`]          | 34                         | R5    |
//! | `2`      | [`ConnectNotification`]      | 2                          | R6    |
//! | `3`      | [`DisconnectNotification`]   | 2                          | R6    |
//! | `4`      | [`Ping`]                     | 9                          | R7    |
//! | `5`      | [`Pong`]                     | 9                          | R7    |
//! | `6`      | [`OobSend`]                  | 34..=1057                  | R8    |
//! | `7`      | [`OobRecv`]                  | 34..=2032                  | R8    |
//! | `8`      | [`OnionRequest`]             | 160..=2032                 | R9    |
//! | `9`      | [`OnionResponse`]            | 2..=2032                   | R9    |
//! | `10`     | [`ForwardRequest`] (opaque)  | 1..=2032                   | R10   |
//! | `11`     | [`Forwarding`] (opaque)      | 1..=2032                   | R10   |
//! | `16–255` | [`Data`]                     | 2..=2032                   | R11   |
//!
//! Ids 12–15 are reserved: c-toxcore kills a connection that sends one,
//! and [`Packet::decode`] refuses them. Decoders check ids and lengths
//! before copying anything; the lengths above are those c-toxcore's
//! handlers (`handle_TCP_packet`, `handle_TCP_client_packet`) accept, so a
//! payload refused here is one c-toxcore would also drop the connection
//! for (exceptions are noted on each type).

mod data;
mod forward;
mod handshake;
mod notification;
mod onion;
mod oob;
mod ping;
mod routing;

use std::fmt;

use bytes::BufMut;
use thiserror::Error;
use toxide_core::{CryptoError, Decode, DecodeError, Encode, Reader};

use crate::constants::{
    MAX_FRAME_PAYLOAD, NUM_CLIENT_CONNECTIONS, NUM_RESERVED_PORTS,
    TCP_PACKET_CONNECTION_NOTIFICATION, TCP_PACKET_DISCONNECT_NOTIFICATION,
    TCP_PACKET_FORWARD_REQUEST, TCP_PACKET_FORWARDING, TCP_PACKET_ONION_REQUEST,
    TCP_PACKET_ONION_RESPONSE, TCP_PACKET_OOB_RECV, TCP_PACKET_OOB_SEND, TCP_PACKET_PING,
    TCP_PACKET_PONG, TCP_PACKET_ROUTING_REQUEST, TCP_PACKET_ROUTING_RESPONSE,
};

pub use data::Data;
pub use forward::{ForwardRequest, Forwarding};
pub use handshake::{ClientHandshake, HandshakePayload, ServerHandshake};
pub use notification::{ConnectNotification, DisconnectNotification};
pub use onion::{OnionRequest, OnionResponse};
pub use oob::{OobRecv, OobSend};
pub use ping::{Ping, Pong};
pub use routing::{RoutingRequest, RoutingResponse};

/// Why a sealed handshake could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpenError {
    /// The box did not open.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// It opened, but the plaintext is malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// A connection id as it travels in routing responses, notifications and
/// data frames: 16–255, naming one of a client's
/// [`NUM_CLIENT_CONNECTIONS`] links on one relay. Each side numbers the
/// same link independently; the relay translates.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(u8);

impl ConnectionId {
    /// The id for a wire byte, if it is not a reserved (control) id.
    pub const fn from_wire(byte: u8) -> Option<Self> {
        if byte >= NUM_RESERVED_PORTS {
            Some(Self(byte))
        } else {
            None
        }
    }

    /// The id of table slot `index` (0..240).
    pub fn from_index(index: usize) -> Option<Self> {
        if index < NUM_CLIENT_CONNECTIONS {
            u8::try_from(index + usize::from(NUM_RESERVED_PORTS))
                .ok()
                .map(Self)
        } else {
            None
        }
    }

    /// The wire byte (16–255).
    pub const fn wire(self) -> u8 {
        self.0
    }

    /// The table slot (0..240).
    pub const fn index(self) -> usize {
        (self.0 - NUM_RESERVED_PORTS) as usize
    }

    pub(crate) fn decode(reader: &mut Reader<'_>, what: &'static str) -> Result<Self, DecodeError> {
        let byte = reader.u8(what)?;
        Self::from_wire(byte).ok_or(DecodeError::InvalidValue {
            what,
            value: u64::from(byte),
        })
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionId({})", self.0)
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Refuses a payload outside `min..=max` bytes before anything is read.
pub(crate) fn check_len(
    reader: &Reader<'_>,
    what: &'static str,
    min: usize,
    max: usize,
) -> Result<(), DecodeError> {
    reader.expect_remaining(what, min, max)
}

/// The largest payload any frame carries, for packets without a smaller
/// limit of their own.
pub(crate) const MAX_PAYLOAD: usize = MAX_FRAME_PAYLOAD;

/// One decrypted frame payload, dispatched on its first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0`, client → relay.
    RoutingRequest(RoutingRequest),
    /// `1`, relay → client.
    RoutingResponse(RoutingResponse),
    /// `2`, relay → client.
    ConnectNotification(ConnectNotification),
    /// `3`, both ways.
    DisconnectNotification(DisconnectNotification),
    /// `4`, both ways.
    Ping(Ping),
    /// `5`, both ways.
    Pong(Pong),
    /// `6`, client → relay.
    OobSend(OobSend),
    /// `7`, relay → client.
    OobRecv(OobRecv),
    /// `8`, client → relay.
    OnionRequest(OnionRequest),
    /// `9`, relay → client.
    OnionResponse(OnionResponse),
    /// `10`, client → relay (recognised, carried opaque).
    ForwardRequest(ForwardRequest),
    /// `11`, relay → client (recognised, carried opaque).
    Forwarding(Forwarding),
    /// `16–255`, both ways.
    Data(Data),
}

impl Packet {
    /// The packet's id byte.
    pub fn id(&self) -> u8 {
        match self {
            Self::RoutingRequest(_) => TCP_PACKET_ROUTING_REQUEST,
            Self::RoutingResponse(_) => TCP_PACKET_ROUTING_RESPONSE,
            Self::ConnectNotification(_) => TCP_PACKET_CONNECTION_NOTIFICATION,
            Self::DisconnectNotification(_) => TCP_PACKET_DISCONNECT_NOTIFICATION,
            Self::Ping(_) => TCP_PACKET_PING,
            Self::Pong(_) => TCP_PACKET_PONG,
            Self::OobSend(_) => TCP_PACKET_OOB_SEND,
            Self::OobRecv(_) => TCP_PACKET_OOB_RECV,
            Self::OnionRequest(_) => TCP_PACKET_ONION_REQUEST,
            Self::OnionResponse(_) => TCP_PACKET_ONION_RESPONSE,
            Self::ForwardRequest(_) => TCP_PACKET_FORWARD_REQUEST,
            Self::Forwarding(_) => TCP_PACKET_FORWARDING,
            Self::Data(d) => d.connection_id.wire(),
        }
    }
}

impl Encode for Packet {
    fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Self::RoutingRequest(p) => p.encode(buf),
            Self::RoutingResponse(p) => p.encode(buf),
            Self::ConnectNotification(p) => p.encode(buf),
            Self::DisconnectNotification(p) => p.encode(buf),
            Self::Ping(p) => p.encode(buf),
            Self::Pong(p) => p.encode(buf),
            Self::OobSend(p) => p.encode(buf),
            Self::OobRecv(p) => p.encode(buf),
            Self::OnionRequest(p) => p.encode(buf),
            Self::OnionResponse(p) => p.encode(buf),
            Self::ForwardRequest(p) => p.encode(buf),
            Self::Forwarding(p) => p.encode(buf),
            Self::Data(p) => p.encode(buf),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::RoutingRequest(p) => p.encoded_len(),
            Self::RoutingResponse(p) => p.encoded_len(),
            Self::ConnectNotification(p) => p.encoded_len(),
            Self::DisconnectNotification(p) => p.encoded_len(),
            Self::Ping(p) => p.encoded_len(),
            Self::Pong(p) => p.encoded_len(),
            Self::OobSend(p) => p.encoded_len(),
            Self::OobRecv(p) => p.encoded_len(),
            Self::OnionRequest(p) => p.encoded_len(),
            Self::OnionResponse(p) => p.encoded_len(),
            Self::ForwardRequest(p) => p.encoded_len(),
            Self::Forwarding(p) => p.encoded_len(),
            Self::Data(p) => p.encoded_len(),
        }
    }
}

impl Decode for Packet {
    /// Dispatches on the first byte and reads the whole rest of the
    /// payload (a frame carries exactly one packet).
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut peek = reader.clone();
        let id = peek.u8("tcp packet id")?;
        Ok(match id {
            TCP_PACKET_ROUTING_REQUEST => Self::RoutingRequest(RoutingRequest::decode(reader)?),
            TCP_PACKET_ROUTING_RESPONSE => Self::RoutingResponse(RoutingResponse::decode(reader)?),
            TCP_PACKET_CONNECTION_NOTIFICATION => {
                Self::ConnectNotification(ConnectNotification::decode(reader)?)
            }
            TCP_PACKET_DISCONNECT_NOTIFICATION => {
                Self::DisconnectNotification(DisconnectNotification::decode(reader)?)
            }
            TCP_PACKET_PING => Self::Ping(Ping::decode(reader)?),
            TCP_PACKET_PONG => Self::Pong(Pong::decode(reader)?),
            TCP_PACKET_OOB_SEND => Self::OobSend(OobSend::decode(reader)?),
            TCP_PACKET_OOB_RECV => Self::OobRecv(OobRecv::decode(reader)?),
            TCP_PACKET_ONION_REQUEST => Self::OnionRequest(OnionRequest::decode(reader)?),
            TCP_PACKET_ONION_RESPONSE => Self::OnionResponse(OnionResponse::decode(reader)?),
            TCP_PACKET_FORWARD_REQUEST => Self::ForwardRequest(ForwardRequest::decode(reader)?),
            TCP_PACKET_FORWARDING => Self::Forwarding(Forwarding::decode(reader)?),
            id if id >= NUM_RESERVED_PORTS => Self::Data(Data::decode(reader)?),
            id => {
                return Err(DecodeError::InvalidValue {
                    what: "tcp packet id (reserved)",
                    value: u64::from(id),
                });
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod strategies {
    //! Proptest generators of every frame payload.

    use bytes::Bytes;
    use proptest::prelude::*;
    use toxide_core::testing::{arb_nonce, arb_pk};

    use super::*;
    use crate::constants::{MIN_ONION_REQUEST_FRAME, TCP_MAX_OOB_DATA_LENGTH};

    pub(crate) fn arb_id() -> impl Strategy<Value = ConnectionId> {
        (NUM_RESERVED_PORTS..=u8::MAX).prop_map(|b| ConnectionId::from_wire(b).unwrap())
    }

    pub(crate) fn bytes(min: usize, max: usize) -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), min..=max).prop_map(Bytes::from)
    }

    pub(crate) fn arb_packet() -> impl Strategy<Value = Packet> {
        prop_oneof![
            arb_pk().prop_map(|pk| Packet::RoutingRequest(RoutingRequest { pk })),
            (proptest::option::of(arb_id()), arb_pk()).prop_map(|(connection_id, pk)| {
                Packet::RoutingResponse(RoutingResponse { connection_id, pk })
            }),
            arb_id().prop_map(|connection_id| {
                Packet::ConnectNotification(ConnectNotification { connection_id })
            }),
            arb_id().prop_map(|connection_id| {
                Packet::DisconnectNotification(DisconnectNotification { connection_id })
            }),
            any::<u64>().prop_map(|ping_id| Packet::Ping(Ping { ping_id })),
            (1..=u64::MAX).prop_map(|ping_id| Packet::Pong(Pong { ping_id })),
            (arb_pk(), bytes(1, TCP_MAX_OOB_DATA_LENGTH))
                .prop_map(|(destination, data)| Packet::OobSend(OobSend { destination, data })),
            (arb_pk(), bytes(1, MAX_PAYLOAD - 33))
                .prop_map(|(sender, data)| Packet::OobRecv(OobRecv { sender, data })),
            (
                arb_nonce(),
                bytes(MIN_ONION_REQUEST_FRAME - 25, MAX_PAYLOAD - 25)
            )
                .prop_map(|(nonce, payload)| Packet::OnionRequest(OnionRequest { nonce, payload })),
            bytes(1, MAX_PAYLOAD - 1)
                .prop_map(|data| Packet::OnionResponse(OnionResponse { data })),
            bytes(0, MAX_PAYLOAD - 1)
                .prop_map(|data| Packet::ForwardRequest(ForwardRequest { data })),
            bytes(0, MAX_PAYLOAD - 1).prop_map(|data| Packet::Forwarding(Forwarding { data })),
            (arb_id(), bytes(1, MAX_PAYLOAD - 1)).prop_map(|(connection_id, data)| Packet::Data(
                Data {
                    connection_id,
                    data
                }
            )),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::arb_packet;
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::garbage;

    #[test]
    fn connection_ids_span_16_to_255() {
        assert_eq!(ConnectionId::from_wire(15), None);
        assert_eq!(ConnectionId::from_wire(16).unwrap().index(), 0);
        assert_eq!(ConnectionId::from_wire(255).unwrap().index(), 239);
        assert_eq!(ConnectionId::from_index(0).unwrap().wire(), 16);
        assert_eq!(ConnectionId::from_index(239).unwrap().wire(), 255);
        assert_eq!(ConnectionId::from_index(240), None);
    }

    #[test]
    fn reserved_ids_are_refused() {
        for id in 12..16u8 {
            let mut bytes = vec![id];
            bytes.extend_from_slice(&[0; 40]);
            assert!(Packet::from_bytes(&bytes).is_err(), "id {id}");
        }
        assert!(Packet::from_bytes(&[]).is_err());
    }

    proptest! {
        #[test]
        fn packets_round_trip(packet in arb_packet()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert!(bytes.len() <= MAX_PAYLOAD);
            prop_assert_eq!(bytes.first().copied(), Some(packet.id()));
            prop_assert_eq!(Packet::from_bytes(&bytes), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(2100)) {
            if let Ok(packet) = Packet::from_bytes(&bytes) {
                // Whatever decodes re-encodes within a frame.
                prop_assert!(packet.encoded_len() <= MAX_PAYLOAD);
            }
        }

        #[test]
        fn truncation_is_refused(packet in arb_packet(), cut in any::<prop::sample::Index>()) {
            let bytes = packet.to_bytes();
            let cut = cut.index(bytes.len());
            // Shorter payloads of fixed-size packets, and empty ones, fail;
            // variable-size ones may still decode, but never as more bytes.
            if let Ok(p) = Packet::from_bytes(&bytes[..cut]) {
                prop_assert_eq!(p.encoded_len(), cut);
            }
        }
    }
}
