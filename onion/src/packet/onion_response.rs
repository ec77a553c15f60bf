//! Onion responses 0x8c, 0x8d and 0x8e: a destination's answer on its way
//! back through hops C, B and A.
//!
//! Wire layout (c-toxcore `send_onion_response`, `handle_recv_*`,
//! checklist O4):
//!
//! | bytes       | field                                                   |
//! |-------------|---------------------------------------------------------|
//! | 1           | 0x8c (to C), 0x8d (to B) or 0x8e (to A)                  |
//! | 177/118/59  | the return layer this hop sealed on the way out          |
//! | n           | the data: an announce response (0x84/0x88) or onion data response (0x86) |
//!
//! Each hop opens its own layer, learns the previous hop's address and
//! passes on the inner layer with the data untouched; A sends the bare data
//! to the client.

use std::fmt;
use std::marker::PhantomData;

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::onion_return::{OnionReturn1, OnionReturn2, OnionReturn3};
use crate::constants::{ONION_MAX_PACKET_SIZE, RETURN_1_SIZE, RETURN_2_SIZE, RETURN_3_SIZE};

/// What tells the three response layers apart.
pub trait ResponseLayer {
    /// The packet id.
    const ID: u8;
    /// A name for errors.
    const NAME: &'static str;
    /// This hop's return layer.
    type Return: Encode + Decode + Clone + PartialEq + Eq + fmt::Debug;
    /// Its size.
    const RETURN_SIZE: usize;
}

/// Marker for 0x8c (destination to C).
#[derive(Debug)]
pub enum Layer3 {}
/// Marker for 0x8d (C to B).
#[derive(Debug)]
pub enum Layer2 {}
/// Marker for 0x8e (B to A).
#[derive(Debug)]
pub enum Layer1 {}

impl ResponseLayer for Layer3 {
    const ID: u8 = 0x8c;
    const NAME: &'static str = "onion response 3";
    type Return = OnionReturn3;
    const RETURN_SIZE: usize = RETURN_3_SIZE;
}

impl ResponseLayer for Layer2 {
    const ID: u8 = 0x8d;
    const NAME: &'static str = "onion response 2";
    type Return = OnionReturn2;
    const RETURN_SIZE: usize = RETURN_2_SIZE;
}

impl ResponseLayer for Layer1 {
    const ID: u8 = 0x8e;
    const NAME: &'static str = "onion response 1";
    type Return = OnionReturn1;
    const RETURN_SIZE: usize = RETURN_1_SIZE;
}

/// An onion response at one hop.
pub struct OnionResponse<L: ResponseLayer> {
    /// The layer this hop sealed.
    pub onion_return: L::Return,
    /// The destination's answer, passed on untouched.
    pub data: Vec<u8>,
    layer: PhantomData<fn() -> L>,
}

/// Destination to hop C.
pub type OnionResponse3 = OnionResponse<Layer3>;
/// Hop C to hop B.
pub type OnionResponse2 = OnionResponse<Layer2>;
/// Hop B to hop A.
pub type OnionResponse1 = OnionResponse<Layer1>;

impl<L: ResponseLayer> OnionResponse<L> {
    /// The packet id.
    pub const ID: u8 = L::ID;

    /// A response from its parts.
    pub fn new(onion_return: L::Return, data: Vec<u8>) -> Self {
        Self {
            onion_return,
            data,
            layer: PhantomData,
        }
    }
}

impl<L: ResponseLayer> Encode for OnionResponse<L> {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(L::ID);
        self.onion_return.encode(buf);
        buf.put_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        1 + L::RETURN_SIZE + self.data.len()
    }
}

impl<L: ResponseLayer> Decode for OnionResponse<L> {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // c-toxcore drops `length <= 1 + ONION_RETURN_n`: the data is never
        // empty.
        reader.expect_remaining(L::NAME, 1 + L::RETURN_SIZE + 1, ONION_MAX_PACKET_SIZE)?;
        reader.expect_u8(L::NAME, L::ID)?;
        let onion_return = L::Return::decode(reader)?;
        Ok(Self::new(onion_return, reader.rest().to_vec()))
    }
}

impl<L: ResponseLayer> fmt::Debug for OnionResponse<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(L::NAME)
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl<L: ResponseLayer> Clone for OnionResponse<L> {
    fn clone(&self) -> Self {
        Self::new(self.onion_return.clone(), self.data.clone())
    }
}

impl<L: ResponseLayer> PartialEq for OnionResponse<L> {
    fn eq(&self, other: &Self) -> bool {
        (&self.onion_return, &self.data) == (&other.onion_return, &other.data)
    }
}

impl<L: ResponseLayer> Eq for OnionResponse<L> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::garbage;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn layers_round_trip(ret in proptest::collection::vec(any::<u8>(), RETURN_3_SIZE), data in proptest::collection::vec(any::<u8>(), 1..1222)) {
            let r3 = OnionReturn3::from_bytes(&ret).unwrap();
            let packet = OnionResponse3::new(r3, data.clone());
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(OnionResponse3::from_bytes(&bytes), Ok(packet));
            let r2 = OnionReturn2::from_bytes(&ret[..RETURN_2_SIZE]).unwrap();
            let packet = OnionResponse2::new(r2, data.clone());
            prop_assert_eq!(OnionResponse2::from_bytes(&packet.to_bytes()), Ok(packet));
            let r1 = OnionReturn1::from_bytes(&ret[..RETURN_1_SIZE]).unwrap();
            let packet = OnionResponse1::new(r1, data);
            prop_assert_eq!(OnionResponse1::from_bytes(&packet.to_bytes()), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1500)) {
            let _ = OnionResponse3::from_bytes(&bytes);
            let _ = OnionResponse2::from_bytes(&bytes);
            let _ = OnionResponse1::from_bytes(&bytes);
        }
    }

    #[test]
    fn empty_data_is_refused() {
        let packet = OnionResponse1::new(OnionReturn1::from_array([0; RETURN_1_SIZE]), Vec::new());
        assert!(OnionResponse1::from_bytes(&packet.to_bytes()).is_err());
    }
}
