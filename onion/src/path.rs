//! A client's onion path: three relays and the keys that wrap a request for
//! them (c-toxcore `create_onion_path`, `create_onion_packet`).
//!
//! Hop A's layer is sealed with our DHT key (A sees our address anyway);
//! B's and C's with fresh random keys, so B and C cannot link the packet to
//! us. All three layers share one nonce, as c-toxcore's do.

use std::net::SocketAddr;

use toxide_core::{
    CryptoError, CryptoRng, Encode, IpPort, KeyPair, Nonce, PackedNode, PublicKey, SharedKey,
    TransportProtocol,
};

use crate::constants::ONION_MAX_DATA_SIZE;
use crate::packet::{HopPayload, NextLayer, NoReturn, OnionRequest0};

/// A wrapped request and where it goes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstHop {
    /// A 0x80 datagram for hop A at this UDP address.
    Udp(SocketAddr, OnionRequest0),
    /// Hop A is the TCP relay with this key, which we are connected to:
    /// the body of an onion request frame (checklist R9, O16): the nonce,
    /// then A's layer unsealed (B's address, B's temporary key, B's
    /// sealed layer), since the relay connection is encrypted already.
    Tcp {
        /// The relay's key.
        relay: PublicKey,
        /// `[nonce][IP_Port B][temporary pk B][box for B]`.
        request: Vec<u8>,
    },
}

/// Three relays and the key material to wrap requests for them.
#[derive(Debug, Clone)]
pub struct OnionPath {
    nodes: [PackedNode; 3],
    public_keys: [PublicKey; 3],
    shared: [SharedKey; 3],
}

/// The payload does not fit a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("onion payload of {len} bytes is outside 1..={ONION_MAX_DATA_SIZE}")]
pub struct PayloadSizeError {
    /// The size asked for.
    pub len: usize,
}

impl OnionPath {
    /// A path through `nodes` (A, B, C) for a client whose DHT key pair is
    /// `dht`. Costs three Diffie-Hellmans; build once, use many times.
    /// Refused if a relay's key is a low-order point.
    pub fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        dht: &KeyPair,
        nodes: [PackedNode; 3],
    ) -> Result<Self, CryptoError> {
        let [a, b, c] = &nodes;
        let temp_b = KeyPair::generate(rng);
        let temp_c = KeyPair::generate(rng);
        Ok(Self {
            public_keys: [dht.public, temp_b.public, temp_c.public],
            shared: [
                SharedKey::new(&a.public_key, &dht.secret)?,
                SharedKey::new(&b.public_key, &temp_b.secret)?,
                SharedKey::new(&c.public_key, &temp_c.secret)?,
            ],
            nodes,
        })
    }

    /// The relays, A first.
    pub fn nodes(&self) -> &[PackedNode; 3] {
        &self.nodes
    }

    /// Wraps `data` for `destination`: the packet to send to hop A, and
    /// hop A's address. For a path whose hop A is a TCP relay, use
    /// [`OnionPath::wrap_any`].
    pub fn wrap<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        destination: SocketAddr,
        data: &[u8],
    ) -> Result<(SocketAddr, OnionRequest0), PayloadSizeError> {
        let (nonce, hop_a) = self.layers(rng, destination, data)?;
        let [a, _, _] = &self.nodes;
        let [pk_a, _, _] = self.public_keys;
        let [shared_a, _, _] = &self.shared;
        let layer = shared_a.encrypt(&nonce, &hop_a.to_bytes());
        Ok((a.addr, OnionRequest0::new(nonce, pk_a, layer, NoReturn)))
    }

    /// Wraps `data` for `destination` for whatever hop A is: a UDP node
    /// (as [`OnionPath::wrap`]) or a TCP relay (c-toxcore
    /// `create_onion_packet_tcp`).
    pub fn wrap_any<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        destination: SocketAddr,
        data: &[u8],
    ) -> Result<FirstHop, PayloadSizeError> {
        let [a, _, _] = &self.nodes;
        if a.protocol == TransportProtocol::Udp {
            let (addr, packet) = self.wrap(rng, destination, data)?;
            return Ok(FirstHop::Udp(addr, packet));
        }
        let (nonce, hop_a) = self.layers(rng, destination, data)?;
        let mut request = nonce.as_bytes().to_vec();
        request.extend_from_slice(&hop_a.to_bytes());
        Ok(FirstHop::Tcp {
            relay: a.public_key,
            request,
        })
    }

    /// The nonce and hop A's layer before sealing: B's address and B's
    /// and C's sealed layers.
    fn layers<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        destination: SocketAddr,
        data: &[u8],
    ) -> Result<(Nonce, HopPayload), PayloadSizeError> {
        if data.is_empty() || data.len() > ONION_MAX_DATA_SIZE {
            return Err(PayloadSizeError { len: data.len() });
        }
        let nonce = Nonce::random(rng);
        // Innermost first: C's layer names the destination and carries the
        // data; B's and A's name the next hop and carry its sealed layer.
        let [_, b, c] = &self.nodes;
        let [_, pk_b, pk_c] = self.public_keys;
        let [_, shared_b, shared_c] = &self.shared;
        let mut layer = shared_c.encrypt(
            &nonce,
            &HopPayload {
                destination: udp(destination),
                data: data.to_vec(),
            }
            .to_bytes(),
        );
        let hop_b = HopPayload {
            destination: udp(c.addr),
            data: NextLayer {
                temporary_pk: pk_c,
                sealed: layer,
            }
            .to_bytes(),
        };
        layer = shared_b.encrypt(&nonce, &hop_b.to_bytes());
        let hop_a = HopPayload {
            destination: udp(b.addr),
            data: NextLayer {
                temporary_pk: pk_b,
                sealed: layer,
            }
            .to_bytes(),
        };
        Ok((nonce, hop_a))
    }
}

fn udp(addr: SocketAddr) -> IpPort {
    IpPort::new(TransportProtocol::Udp, addr)
}
