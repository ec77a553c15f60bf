//! Nickname (48): the sender's name.
//!
//! Checklist M3; spec "Messenger", `NICKNAME`; c-toxcore `m_sendname` and
//! `m_handle_packet` in `Messenger.c`.
//!
//! | bytes    | field                     |
//! |----------|---------------------------|
//! | 1        | `0x30`                    |
//! | 0..=128  | name ([`MAX_NAME_LENGTH`]) |
//!
//! Sent on every (re)connection and on every change. An empty name is a
//! valid packet (c-toxcore accepts it and clears the name); a longer one is
//! ignored by the receiver, so it is neither built nor decoded here.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{MAX_NAME_LENGTH, PACKET_ID_NICKNAME, PacketError};

/// A nickname packet, built with [`Nickname::new`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nickname {
    name: Vec<u8>,
}

impl Nickname {
    /// A packet carrying `name`; refuses one over [`MAX_NAME_LENGTH`].
    pub fn new(name: Vec<u8>) -> Result<Self, PacketError> {
        super::check_len("nickname", name.len(), 0, MAX_NAME_LENGTH)?;
        Ok(Self { name })
    }

    /// The name, as sent (not checked for UTF-8).
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The name, by value.
    pub fn into_name(self) -> Vec<u8> {
        self.name
    }
}

impl Encode for Nickname {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_NICKNAME);
        buf.put_slice(&self.name);
    }

    fn encoded_len(&self) -> usize {
        1 + self.name.len()
    }
}

impl Decode for Nickname {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining("nickname", 1, 1 + MAX_NAME_LENGTH)?;
        reader.expect_u8("nickname", PACKET_ID_NICKNAME)?;
        Ok(Self {
            name: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb() -> impl Strategy<Value = Nickname> {
        proptest::collection::vec(any::<u8>(), 0..=MAX_NAME_LENGTH)
            .prop_map(|name| Nickname::new(name).unwrap())
    }

    #[test]
    fn length_boundaries_128_and_129() {
        assert_eq!(Nickname::new(vec![]).unwrap().to_bytes(), [48]);
        assert_eq!(Nickname::from_bytes(&[48]), Ok(Nickname::default()));
        let max = Nickname::new(vec![b'a'; 128]).unwrap();
        let bytes = max.to_bytes();
        assert_eq!(bytes.len(), 129);
        assert_eq!(Nickname::from_bytes(&bytes), Ok(max));
        assert_eq!(
            Nickname::new(vec![b'a'; 129]),
            Err(PacketError::Unsendable {
                what: "nickname",
                len: 129,
                min: 0,
                max: 128
            })
        );
        let mut long = bytes;
        long.push(b'a');
        assert!(matches!(
            Nickname::from_bytes(&long),
            Err(DecodeError::BadLength { len: 130, .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(Nickname::from_bytes(&packet.to_bytes()), Ok(packet));
        }
    }
}
