//! Every UDP packet of the c-toxcore 0.2.18 onion, and a dispatcher.
//!
//! | id     | packet                                | size (as received)  |
//! |--------|---------------------------------------|---------------------|
//! | `0x80` | [`OnionRequest0`], client → A          | 227..=1400          |
//! | `0x81` | [`OnionRequest1`], A → B               | 219..=1400          |
//! | `0x82` | [`OnionRequest2`], B → C               | 211..=1400          |
//! | `0x83` | [`AnnounceRequest`] (old), C → D       | 177 + 177           |
//! | `0x84` | [`AnnounceResponse`] (old), A → client | 82..=626            |
//! | `0x85` | [`OnionDataRequest`], C → D            | 106..=1223 + 177    |
//! | `0x86` | [`OnionDataResponse`], A → client      | 122..=1069          |
//! | `0x87` | [`AnnounceRequest`] (new), C → D       | 177 + 177           |
//! | `0x88` | [`AnnounceResponse`] (new), A → client | 82..=626            |
//! | `0x8c` | [`OnionResponse3`], D → C              | 179..=1400          |
//! | `0x8d` | [`OnionResponse2`], C → B              | 120..=1400          |
//! | `0x8e` | [`OnionResponse1`], B → A              | 61..=1400           |
//!
//! As in the DHT, packets hold their ciphertext: decoding checks sizes and
//! ids only, so junk is refused before any Diffie-Hellman.

mod announce_request;
mod announce_response;
mod data;
mod onion_data;
mod onion_request;
mod onion_response;
mod onion_return;
#[cfg(test)]
pub(crate) mod test_util;

use toxide_core::{CryptoError, Decode, DecodeError, Reader};

pub use announce_request::{
    ANNOUNCE_REQUEST_PAYLOAD_SIZE, ANNOUNCE_REQUEST_SIZE, AnnounceRequest, AnnounceRequestPayload,
    AnnounceVersion, SENDBACK_SIZE,
};
pub use announce_response::{
    ANNOUNCE_RESPONSE_MAX_SIZE, ANNOUNCE_RESPONSE_MIN_SIZE, AnnounceResponse,
    AnnounceResponsePayload, AnnounceStatus,
};
pub use data::{
    DATA_REQUEST_MAX_SIZE, DATA_REQUEST_MIN_SIZE, DATA_RESPONSE_MAX_SIZE, DATA_RESPONSE_MIN_SIZE,
    OnionDataRequest, OnionDataResponse,
};
pub use onion_data::{
    DHT_PK_TYPE, DhtPkAnnounce, FRIEND_REQUEST_TYPE, FriendRequest, INNER_OVERHEAD,
    MAX_ONION_DATA_PAYLOAD, open_inner, seal_inner,
};
pub use onion_request::{
    HopPayload, NextLayer, OnionRequest, OnionRequest0, OnionRequest1, OnionRequest2, RequestLayer,
};
pub use onion_response::{
    OnionResponse, OnionResponse1, OnionResponse2, OnionResponse3, ResponseLayer,
};
pub use onion_return::{
    NoReturn, OnionReturn, OnionReturn1, OnionReturn2, OnionReturn3, ReturnError,
};

use crate::constants::RETURN_3_SIZE;

/// The first bytes of every packet the onion owns (checklist §0): a driver
/// hands exactly these datagrams to the onion layer.
pub const PACKET_IDS: [u8; 12] = [
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x8c, 0x8d, 0x8e,
];

/// Why an onion packet could not be decoded or opened.
///
/// Like the DHT's errors these carry sizes and field names, never the
/// peer's bytes, so logging them cannot be abused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnionPacketError {
    /// A zero-length datagram.
    #[error("empty datagram")]
    Empty,
    /// Not an onion packet id.
    #[error("packet id {id:#04x} is not an onion packet")]
    UnknownPacketId {
        /// The first byte.
        id: u8,
    },
    /// Wrong size, wrong id or truncated: found before any cryptography.
    #[error("malformed packet: {0}")]
    Decode(#[from] DecodeError),
    /// A box did not open.
    #[error("box did not open: {0}")]
    Crypto(#[from] CryptoError),
    /// A box opened but its contents are malformed.
    #[error("malformed payload: {0}")]
    Payload(DecodeError),
}

/// The counter a box-opening error belongs in: a box that did not open
/// (`undecryptable`) or contents that did not parse (`malformed`). Both
/// onion layers count their drops this way.
pub fn drop_counter<'a>(
    error: &OnionPacketError,
    undecryptable: &'a mut u64,
    malformed: &'a mut u64,
) -> &'a mut u64 {
    match error {
        OnionPacketError::Crypto(_) => undecryptable,
        _ => malformed,
    }
}

/// Any onion packet, as it arrives in a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// 0x80.
    Request0(OnionRequest0),
    /// 0x81.
    Request1(OnionRequest1),
    /// 0x82.
    Request2(OnionRequest2),
    /// 0x83 / 0x87 with the exit's return layer.
    AnnounceRequest(AnnounceRequest, OnionReturn3),
    /// 0x84 / 0x88.
    AnnounceResponse(AnnounceResponse),
    /// 0x85 with the exit's return layer.
    DataRequest(OnionDataRequest, OnionReturn3),
    /// 0x86.
    DataResponse(OnionDataResponse),
    /// 0x8c.
    Response3(OnionResponse3),
    /// 0x8d.
    Response2(OnionResponse2),
    /// 0x8e.
    Response1(OnionResponse1),
}

impl Packet {
    /// Decodes a datagram by its first byte.
    pub fn decode(bytes: &[u8]) -> Result<Self, OnionPacketError> {
        let &id = bytes.first().ok_or(OnionPacketError::Empty)?;
        Ok(match id {
            0x80 => Self::Request0(OnionRequest0::from_bytes(bytes)?),
            0x81 => Self::Request1(OnionRequest1::from_bytes(bytes)?),
            0x82 => Self::Request2(OnionRequest2::from_bytes(bytes)?),
            0x83 | 0x87 => {
                let (request, ret) = split_return(bytes)?;
                Self::AnnounceRequest(AnnounceRequest::from_bytes(request)?, ret)
            }
            0x84 | 0x88 => Self::AnnounceResponse(AnnounceResponse::from_bytes(bytes)?),
            0x85 => {
                let (request, ret) = split_return(bytes)?;
                Self::DataRequest(OnionDataRequest::from_bytes(request)?, ret)
            }
            0x86 => Self::DataResponse(OnionDataResponse::from_bytes(bytes)?),
            0x8c => Self::Response3(OnionResponse3::from_bytes(bytes)?),
            0x8d => Self::Response2(OnionResponse2::from_bytes(bytes)?),
            0x8e => Self::Response1(OnionResponse1::from_bytes(bytes)?),
            id => return Err(OnionPacketError::UnknownPacketId { id }),
        })
    }
}

/// Splits what an exit hop delivers into the client's packet and the
/// exit's return layer (always the last 177 bytes).
fn split_return(bytes: &[u8]) -> Result<(&[u8], OnionReturn3), DecodeError> {
    let cut = bytes
        .len()
        .checked_sub(RETURN_3_SIZE)
        .ok_or(DecodeError::Truncated {
            what: "exit return layer",
            needed: RETURN_3_SIZE,
            available: bytes.len(),
        })?;
    let (request, ret) = bytes.split_at(cut);
    let ret = OnionReturn3::decode(&mut Reader::new(ret))?;
    Ok((request, ret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use test_util::garbage;
    use toxide_core::{Encode, Nonce, PublicKey};

    #[test]
    fn exit_deliveries_split_off_the_return_layer() {
        let request = OnionDataRequest {
            destination_pk: PublicKey::new([1; 32]),
            nonce: Nonce::new([2; 24]),
            temporary_pk: PublicKey::new([3; 32]),
            sealed: vec![4; 100],
        };
        let ret = OnionReturn3::from_array([5; RETURN_3_SIZE]);
        let mut bytes = request.to_bytes();
        bytes.extend_from_slice(ret.as_bytes());
        assert_eq!(
            Packet::decode(&bytes),
            Ok(Packet::DataRequest(request, ret))
        );
        // Without the return layer the request alone is too short to be one.
        assert!(Packet::decode(&bytes[..bytes.len() - RETURN_3_SIZE]).is_err());
    }

    #[test]
    fn other_ids_are_not_ours() {
        for id in [0x00, 0x20, 0x89, 0x8b, 0x8f, 0x90, 0xff] {
            assert!(!PACKET_IDS.contains(&id));
            assert_eq!(
                Packet::decode(&[id; 300]),
                Err(OnionPacketError::UnknownPacketId { id })
            );
        }
        assert_eq!(Packet::decode(&[]), Err(OnionPacketError::Empty));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in garbage(1500), id in proptest::sample::select(PACKET_IDS.to_vec())) {
            let _ = Packet::decode(&bytes);
            let mut with_id = bytes;
            if let Some(first) = with_id.first_mut() {
                *first = id;
            }
            let _ = Packet::decode(&with_id);
        }
    }
}
