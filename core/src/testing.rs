//! Fixtures and proptest strategies every layer's tests share: seeded key
//! pairs with their shared keys, and generators of keys, nonces and
//! addresses. Compiled only with the `testing` feature, which the layers
//! enable for their dev-dependency on this crate.

// Fixtures: a fixed seed that produced a low-order key would be a broken
// fixture, and a panic is the right report.
#![allow(clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::packed_node::canonical_ip;
use crate::{IpPort, KeyPair, Nonce, PackedNode, PublicKey, SharedKey, TransportProtocol};

/// Two peers and an outsider, from a fixed seed.
#[derive(Debug)]
pub struct Peers {
    /// One peer.
    pub alice: KeyPair,
    /// The other.
    pub bob: KeyPair,
    /// Alice's key for Bob; Bob's key for Alice is the same value.
    pub alice_bob: SharedKey,
    /// Bob's key for Alice.
    pub bob_alice: SharedKey,
    /// Eve's key for Bob: must not open what Alice sealed for Bob.
    pub eve_bob: SharedKey,
}

/// The "shared" key every party computes with a low-order key such as all
/// zeros (the X25519 result is zero whatever the secret): what a forger
/// seals with to make a packet from such a key open everywhere that does
/// not refuse the key, as crypto_box 0.9's `SalsaBox::new` did not.
pub fn low_order_forgery() -> SharedKey {
    SharedKey::low_order_forgery()
}

/// The shared [`Peers`].
pub static PEERS: LazyLock<Peers> = LazyLock::new(|| {
    let mut rng = ChaCha20Rng::seed_from_u64(0x70c5);
    let alice = KeyPair::generate(&mut rng);
    let bob = KeyPair::generate(&mut rng);
    let eve = KeyPair::generate(&mut rng);
    Peers {
        alice_bob: SharedKey::new(&bob.public, &alice.secret)
            .expect("random keys are not low-order"),
        bob_alice: SharedKey::new(&alice.public, &bob.secret)
            .expect("random keys are not low-order"),
        eve_bob: SharedKey::new(&bob.public, &eve.secret).expect("random keys are not low-order"),
        alice,
        bob,
    }
});

/// Any public key.
pub fn arb_pk() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey::new)
}

/// The key whose first byte is `first` and all others zero: XOR distances
/// between such keys are ordered by their first bytes.
pub fn key_first(first: u8) -> PublicKey {
    let mut bytes = [0u8; 32];
    bytes[0] = first;
    PublicKey::new(bytes)
}

/// Any nonce.
pub fn arb_nonce() -> impl Strategy<Value = Nonce> {
    any::<[u8; 24]>().prop_map(Nonce::new)
}

/// Any IPv4 or IPv6 socket address. IPv4-mapped IPv6 addresses come out as
/// the IPv4 address they stand for, because that is what the address types
/// store.
pub fn arb_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).into(), port)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| {
            SocketAddr::new(canonical_ip(IpAddr::V6(Ipv6Addr::from(ip))), port)
        }),
    ]
}

/// A UDP node as c-toxcore puts them in nodes responses.
pub fn arb_udp_node() -> impl Strategy<Value = PackedNode> {
    (arb_addr(), arb_pk()).prop_map(|(addr, pk)| PackedNode::udp(addr, pk))
}

/// A UDP onion address.
pub fn arb_udp_ip_port() -> impl Strategy<Value = IpPort> {
    arb_addr().prop_map(|addr| IpPort::new(TransportProtocol::Udp, addr))
}

/// Arbitrary bytes, for "never panics" properties.
pub fn garbage(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// A UDP node at 10.0.0.`n`:33445 whose key is `n` repeated.
pub fn node_v4(n: u8) -> PackedNode {
    let addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, n).into(), 33445);
    PackedNode::udp(addr, PublicKey::new([n; 32]))
}

/// A UDP node at [2001:db8::`n`]:33445 whose key is `n` repeated.
pub fn node_v6(n: u8) -> PackedNode {
    let ip = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(n));
    PackedNode::udp(SocketAddr::new(ip.into(), 33445), PublicKey::new([n; 32]))
}
