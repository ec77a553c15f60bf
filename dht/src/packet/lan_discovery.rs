//! LAN discovery (0x21): "a Tox node is listening here".
//!
//! Broadcast on the local network so that nodes on the same LAN bootstrap
//! from each other. Wire layout (spec "LAN discovery"; checklist D13;
//! c-toxcore `lan_discovery_send` in `LAN_discovery.c`,
//! `handle_LANdiscovery` in `DHT.c`):
//!
//! | bytes | field                    |
//! |-------|--------------------------|
//! | 1     | `0x21`                   |
//! | 32    | sender's DHT public key  |
//!
//! Exactly [`LAN_DISCOVERY_SIZE`] = 33 bytes. Nothing here is authenticated:
//! c-toxcore accepts it only from LAN source addresses and answers with an
//! ordinary nodes request, so the sender is trusted only once it replies.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, PUBLIC_KEY_SIZE, PublicKey, Reader};

/// Size of a LAN discovery packet.
pub const LAN_DISCOVERY_SIZE: usize = 1 + PUBLIC_KEY_SIZE;

/// A LAN discovery announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LanDiscovery {
    /// The sender's DHT public key.
    pub public_key: PublicKey,
}

impl LanDiscovery {
    /// The packet id (`NET_PACKET_LAN_DISCOVERY`).
    pub const ID: u8 = 0x21;
}

impl Encode for LanDiscovery {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(Self::ID);
        self.public_key.encode(buf);
    }
    fn encoded_len(&self) -> usize {
        LAN_DISCOVERY_SIZE
    }
}

impl Decode for LanDiscovery {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining("LAN discovery", LAN_DISCOVERY_SIZE, LAN_DISCOVERY_SIZE)?;
        reader.expect_u8("LAN discovery", Self::ID)?;
        Ok(Self {
            public_key: PublicKey::decode(reader)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{arb_pk, garbage};
    use proptest::prelude::*;

    #[test]
    fn layout_is_33_bytes() {
        let bytes = LanDiscovery {
            public_key: PublicKey::new([0xab; 32]),
        }
        .to_bytes();
        assert_eq!(bytes.len(), 33);
        assert_eq!(bytes[0], 0x21);
        assert_eq!(&bytes[1..], &[0xab; 32]);
    }

    #[test]
    fn other_lengths_are_refused() {
        for len in [0, 1, 32, 34, 65] {
            let bytes = vec![0x21; len];
            assert!(matches!(
                LanDiscovery::from_bytes(&bytes),
                Err(DecodeError::BadLength {
                    min: 33,
                    max: 33,
                    ..
                })
            ));
        }
        assert!(LanDiscovery::from_bytes(&[0x20; 33]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(public_key in arb_pk()) {
            let packet = LanDiscovery { public_key };
            prop_assert_eq!(LanDiscovery::from_bytes(&packet.to_bytes()), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(80)) {
            if let Ok(packet) = LanDiscovery::from_bytes(&bytes) {
                prop_assert_eq!(packet.to_bytes(), bytes);
            }
        }
    }
}
