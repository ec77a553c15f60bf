//! Onion requests 0x80, 0x81 and 0x82: a client's packet on its way
//! through hops A, B and C.
//!
//! Wire layout (c-toxcore `create_onion_packet` and `handle_send_*`,
//! checklist O1/O2):
//!
//! | bytes | field                                                         |
//! |-------|---------------------------------------------------------------|
//! | 1     | 0x80 (to A), 0x81 (to B) or 0x82 (to C)                        |
//! | 24    | nonce, the same at every layer                                 |
//! | 32    | the key the layer was sealed with: the client's DHT key for A, a fresh temporary key for B and for C |
//! | n     | `crypto_box(that key, hop's DHT key; [IP_Port next][next layer])` |
//! | 0/59/118 | the return path so far ([`OnionReturn1`] from A, [`OnionReturn2`] from B) |
//!
//! Inside A's and B's box the next layer is `[temporary key 32][box]`; inside
//! C's it is the payload for the destination (an announce or data request),
//! which C forwards with its own return layer appended.

use std::fmt;
use std::marker::PhantomData;

use bytes::BufMut;
use toxide_core::{
    Decode, DecodeError, Encode, IpPort, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE, PublicKey, Reader,
};

use super::onion_return::{NoReturn, OnionReturn1, OnionReturn2};
use crate::constants::{
    ONION_MAX_PACKET_SIZE, RETURN_1_SIZE, RETURN_2_SIZE, SEND_1, SEND_2, SEND_3,
};

/// What tells the three request layers apart.
pub trait RequestLayer {
    /// The packet id.
    const ID: u8;
    /// A name for errors.
    const NAME: &'static str;
    /// The smallest packet c-toxcore accepts at this hop.
    const MIN_SIZE: usize;
    /// The return path the previous hops attached.
    type Return: Encode + Decode + Clone + PartialEq + Eq + fmt::Debug;
    /// Its size.
    const RETURN_SIZE: usize;
}

/// Marker for 0x80 (client to hop A).
#[derive(Debug)]
pub enum Layer0 {}
/// Marker for 0x81 (A to B).
#[derive(Debug)]
pub enum Layer1 {}
/// Marker for 0x82 (B to C).
#[derive(Debug)]
pub enum Layer2 {}

impl RequestLayer for Layer0 {
    const ID: u8 = 0x80;
    const NAME: &'static str = "onion request 0";
    // c-toxcore drops `length <= 1 + ONION_SEND_1`.
    const MIN_SIZE: usize = 1 + SEND_1 + 1;
    type Return = NoReturn;
    const RETURN_SIZE: usize = 0;
}

impl RequestLayer for Layer1 {
    const ID: u8 = 0x81;
    const NAME: &'static str = "onion request 1";
    const MIN_SIZE: usize = 1 + SEND_2 + 1;
    type Return = OnionReturn1;
    const RETURN_SIZE: usize = RETURN_1_SIZE;
}

impl RequestLayer for Layer2 {
    const ID: u8 = 0x82;
    const NAME: &'static str = "onion request 2";
    const MIN_SIZE: usize = 1 + SEND_3 + 1;
    type Return = OnionReturn2;
    const RETURN_SIZE: usize = RETURN_2_SIZE;
}

/// An onion request at one hop.
pub struct OnionRequest<L: RequestLayer> {
    /// The nonce shared by all layers of this packet.
    pub nonce: Nonce,
    /// The key this hop's box was sealed with.
    pub temporary_pk: PublicKey,
    /// The sealed layer for this hop.
    pub sealed: Vec<u8>,
    /// The return path so far.
    pub onion_return: L::Return,
    layer: PhantomData<fn() -> L>,
}

/// Client to hop A.
pub type OnionRequest0 = OnionRequest<Layer0>;
/// Hop A to hop B.
pub type OnionRequest1 = OnionRequest<Layer1>;
/// Hop B to hop C.
pub type OnionRequest2 = OnionRequest<Layer2>;

impl<L: RequestLayer> OnionRequest<L> {
    /// The packet id.
    pub const ID: u8 = L::ID;

    /// A request from its parts.
    pub fn new(
        nonce: Nonce,
        temporary_pk: PublicKey,
        sealed: Vec<u8>,
        onion_return: L::Return,
    ) -> Self {
        Self {
            nonce,
            temporary_pk,
            sealed,
            onion_return,
            layer: PhantomData,
        }
    }
}

impl<L: RequestLayer> Encode for OnionRequest<L> {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(L::ID);
        self.nonce.encode(buf);
        self.temporary_pk.encode(buf);
        buf.put_slice(&self.sealed);
        self.onion_return.encode(buf);
    }

    fn encoded_len(&self) -> usize {
        1 + NONCE_SIZE + PUBLIC_KEY_SIZE + self.sealed.len() + L::RETURN_SIZE
    }
}

impl<L: RequestLayer> Decode for OnionRequest<L> {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining(L::NAME, L::MIN_SIZE, ONION_MAX_PACKET_SIZE)?;
        reader.expect_u8(L::NAME, L::ID)?;
        let nonce = Nonce::decode(reader)?;
        let temporary_pk = PublicKey::decode(reader)?;
        let sealed_len = reader.remaining().saturating_sub(L::RETURN_SIZE);
        let sealed = reader.take("onion layer", sealed_len)?.to_vec();
        let onion_return = L::Return::decode(reader)?;
        Ok(Self::new(nonce, temporary_pk, sealed, onion_return))
    }
}

impl<L: RequestLayer> fmt::Debug for OnionRequest<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(L::NAME)
            .field("nonce", &self.nonce)
            .field("temporary_pk", &self.temporary_pk)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

impl<L: RequestLayer> Clone for OnionRequest<L> {
    fn clone(&self) -> Self {
        Self::new(
            self.nonce,
            self.temporary_pk,
            self.sealed.clone(),
            self.onion_return.clone(),
        )
    }
}

impl<L: RequestLayer> PartialEq for OnionRequest<L> {
    fn eq(&self, other: &Self) -> bool {
        (
            self.nonce,
            self.temporary_pk,
            &self.sealed,
            &self.onion_return,
        ) == (
            other.nonce,
            other.temporary_pk,
            &other.sealed,
            &other.onion_return,
        )
    }
}

impl<L: RequestLayer> Eq for OnionRequest<L> {}

/// What a hop finds inside its box: where to send the rest, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopPayload {
    /// The next hop (or, at C, the destination).
    pub destination: IpPort,
    /// `[temporary key][box]` for the next hop, or the destination's
    /// packet at C.
    pub data: Vec<u8>,
}

impl Encode for HopPayload {
    fn encode(&self, buf: &mut impl BufMut) {
        self.destination.encode(buf);
        buf.put_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        self.destination.encoded_len() + self.data.len()
    }
}

impl Decode for HopPayload {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let destination = IpPort::decode(reader)?;
        let data = reader.rest().to_vec();
        if data.is_empty() {
            return Err(DecodeError::Truncated {
                what: "onion hop data",
                needed: 1,
                available: 0,
            });
        }
        Ok(Self { destination, data })
    }
}

/// The next layer inside A's or B's box: `[temporary key][box]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextLayer {
    /// The key the next hop's box was sealed with.
    pub temporary_pk: PublicKey,
    /// The next hop's box.
    pub sealed: Vec<u8>,
}

impl Decode for NextLayer {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let temporary_pk = PublicKey::decode(reader)?;
        Ok(Self {
            temporary_pk,
            sealed: reader.rest().to_vec(),
        })
    }
}

impl Encode for NextLayer {
    fn encode(&self, buf: &mut impl BufMut) {
        self.temporary_pk.encode(buf);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        PUBLIC_KEY_SIZE + self.sealed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{arb_nonce, arb_pk, arb_udp_ip_port, garbage};
    use proptest::prelude::*;

    fn sized(len: usize) -> Vec<u8> {
        vec![0xab; len]
    }

    proptest! {
        #[test]
        fn layer0_round_trips(nonce in arb_nonce(), pk in arb_pk(), len in 170usize..1343) {
            let packet = OnionRequest0::new(nonce, pk, sized(len), NoReturn);
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(OnionRequest0::from_bytes(&bytes), Ok(packet));
        }

        #[test]
        fn layer1_round_trips(nonce in arb_nonce(), pk in arb_pk(), len in 103usize..1284, ret in any::<[u8; RETURN_1_SIZE]>()) {
            let packet = OnionRequest1::new(nonce, pk, sized(len), OnionReturn1::from_array(ret));
            prop_assert_eq!(OnionRequest1::from_bytes(&packet.to_bytes()), Ok(packet));
        }

        #[test]
        fn layer2_round_trips(nonce in arb_nonce(), pk in arb_pk(), len in 36usize..1225, ret in proptest::collection::vec(any::<u8>(), RETURN_2_SIZE)) {
            let ret = OnionReturn2::from_bytes(&ret).unwrap();
            let packet = OnionRequest2::new(nonce, pk, sized(len), ret);
            prop_assert_eq!(OnionRequest2::from_bytes(&packet.to_bytes()), Ok(packet));
        }

        #[test]
        fn hop_payload_round_trips(destination in arb_udp_ip_port(), data in proptest::collection::vec(any::<u8>(), 1..300)) {
            let payload = HopPayload { destination, data };
            prop_assert_eq!(HopPayload::from_bytes(&payload.to_bytes()), Ok(payload));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1500)) {
            let _ = OnionRequest0::from_bytes(&bytes);
            let _ = OnionRequest1::from_bytes(&bytes);
            let _ = OnionRequest2::from_bytes(&bytes);
            let _ = HopPayload::from_bytes(&bytes);
            let _ = NextLayer::from_bytes(&bytes);
        }
    }

    #[test]
    fn sizes_follow_c_toxcore() {
        // `length <= 1 + ONION_SEND_n` is dropped; 1400 is the ceiling.
        assert_eq!(Layer0::MIN_SIZE, 227);
        assert_eq!(Layer1::MIN_SIZE, 219);
        assert_eq!(Layer2::MIN_SIZE, 211);
        let short = OnionRequest0::new(
            Nonce::new([0; 24]),
            PublicKey::new([1; 32]),
            sized(169),
            NoReturn,
        );
        assert_eq!(short.to_bytes().len(), 226);
        assert!(OnionRequest0::from_bytes(&short.to_bytes()).is_err());
        let long = OnionRequest0::new(
            Nonce::new([0; 24]),
            PublicKey::new([1; 32]),
            sized(1344),
            NoReturn,
        );
        assert_eq!(long.to_bytes().len(), 1401);
        assert!(OnionRequest0::from_bytes(&long.to_bytes()).is_err());
    }
}
