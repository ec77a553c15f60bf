//! The return path ("sendback") relays attach to onion requests.
//!
//! Wire layout (c-toxcore `onion.c`, checklist O2):
//!
//! | bytes        | field                                                  |
//! |--------------|--------------------------------------------------------|
//! | 24           | nonce, random per layer                                |
//! | 19 + n + 16  | `secretbox(relay key, nonce, [IP_Port][previous layer])` |
//!
//! Hop A seals the address it received from (n = 0, 59 bytes), hop B
//! that plus A's layer (118), hop C that plus B's (177). The key is the
//! relay's own and never leaves it, so a layer is opaque to everyone else
//! and each relay peels only its own on the way back.

use bytes::BufMut;
use toxide_core::ip_port::IP_PORT_SIZE;
use toxide_core::{
    CryptoError, Decode, DecodeError, Encode, IpPort, NONCE_SIZE, Nonce, Reader, SymmetricKey,
};

use crate::constants::{RETURN_1_SIZE, RETURN_2_SIZE, RETURN_3_SIZE};

/// A sealed return-path layer of `N` bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OnionReturn<const N: usize>([u8; N]);

/// Hop A's layer: where to send the response to the client.
pub type OnionReturn1 = OnionReturn<RETURN_1_SIZE>;
/// Hop B's layer: hop A's address and layer.
pub type OnionReturn2 = OnionReturn<RETURN_2_SIZE>;
/// Hop C's layer: hop B's address and layer. The announce service stores
/// these to reach an announced client.
pub type OnionReturn3 = OnionReturn<RETURN_3_SIZE>;

impl<const N: usize> OnionReturn<N> {
    /// The raw layer.
    pub fn from_array(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// The raw layer.
    pub fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// Seals `from` followed by `inner` (the previous layer's bytes).
    /// `None` if the sizes do not add up to `N`, which only a caller mixing
    /// layers can cause.
    pub fn seal(key: &SymmetricKey, nonce: Nonce, from: &IpPort, inner: &[u8]) -> Option<Self> {
        let mut plain = Vec::with_capacity(IP_PORT_SIZE + inner.len());
        from.encode(&mut plain);
        plain.extend_from_slice(inner);
        let sealed = key.encrypt(&nonce, &plain);
        let mut out = [0u8; N];
        if NONCE_SIZE + sealed.len() != N {
            return None;
        }
        let (head, tail) = out.split_at_mut(NONCE_SIZE);
        head.copy_from_slice(nonce.as_bytes());
        tail.copy_from_slice(&sealed);
        Some(Self(out))
    }

    /// Opens a layer this relay sealed: the address and the inner layer's
    /// bytes (empty for hop A's).
    pub fn open(&self, key: &SymmetricKey) -> Result<(IpPort, Vec<u8>), ReturnError> {
        let mut layer = Reader::new(&self.0);
        let nonce = Nonce::decode(&mut layer)?;
        let plain = key.decrypt(&nonce, layer.rest())?;
        let mut reader = Reader::new(&plain);
        let ip_port = IpPort::decode(&mut reader)?;
        Ok((ip_port, reader.rest().to_vec()))
    }
}

/// Why a return layer did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    /// Not sealed by us (or sealed under a key we have since replaced).
    #[error("return path did not open: {0}")]
    Crypto(#[from] CryptoError),
    /// Opened but malformed: only a bug of ours can cause it.
    #[error("return path malformed: {0}")]
    Decode(#[from] DecodeError),
}

impl<const N: usize> Encode for OnionReturn<N> {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    fn encoded_len(&self) -> usize {
        N
    }
}

impl<const N: usize> Decode for OnionReturn<N> {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.array("onion return").map(Self)
    }
}

impl<const N: usize> std::fmt::Debug for OnionReturn<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OnionReturn<{N}>")
    }
}

/// The "return" of hop A's request: none yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoReturn;

impl Encode for NoReturn {
    fn encode(&self, _buf: &mut impl BufMut) {}

    fn encoded_len(&self) -> usize {
        0
    }
}

impl Decode for NoReturn {
    fn decode(_reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{arb_nonce, arb_udp_ip_port};
    use proptest::prelude::*;

    fn key(byte: u8) -> SymmetricKey {
        SymmetricKey::from_bytes(&[byte; 32])
    }

    proptest! {
        #[test]
        fn three_layers_seal_and_peel(
            a in arb_udp_ip_port(), b in arb_udp_ip_port(), c in arb_udp_ip_port(),
            n1 in arb_nonce(), n2 in arb_nonce(), n3 in arb_nonce(),
        ) {
            let r1 = OnionReturn1::seal(&key(1), n1, &a, &[]).unwrap();
            let r2 = OnionReturn2::seal(&key(2), n2, &b, r1.as_bytes()).unwrap();
            let r3 = OnionReturn3::seal(&key(3), n3, &c, r2.as_bytes()).unwrap();
            let (got_c, inner) = r3.open(&key(3)).unwrap();
            prop_assert_eq!(got_c, c);
            prop_assert_eq!(&inner[..], &r2.as_bytes()[..]);
            let (got_b, inner) = r2.open(&key(2)).unwrap();
            prop_assert_eq!(got_b, b);
            prop_assert_eq!(&inner[..], &r1.as_bytes()[..]);
            let (got_a, inner) = r1.open(&key(1)).unwrap();
            prop_assert_eq!(got_a, a);
            prop_assert!(inner.is_empty());
            // Another relay's key opens nothing.
            prop_assert!(r3.open(&key(2)).is_err());
        }

        #[test]
        fn garbage_layers_never_open(bytes in any::<[u8; RETURN_1_SIZE]>()) {
            prop_assert!(OnionReturn1::from_array(bytes).open(&key(1)).is_err());
        }
    }

    #[test]
    fn wrong_inner_size_is_refused() {
        let a = IpPort::new(
            toxide_core::TransportProtocol::Udp,
            "127.0.0.1:1".parse().unwrap(),
        );
        assert!(OnionReturn2::seal(&key(1), Nonce::new([0; 24]), &a, &[]).is_none());
    }
}
