//! Shared fixtures for the packet tests: seeded keys and generators.

use std::sync::LazyLock;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use toxide_core::packed_node::canonical_ip;
use toxide_core::{KeyPair, Nonce, PackedNode, PublicKey, SharedKey};

/// Two DHT peers and an outsider, from a fixed seed.
pub(crate) struct Peers {
    pub(crate) alice: KeyPair,
    pub(crate) bob: KeyPair,
    /// Alice's key for Bob; Bob's key for Alice is the same value.
    pub(crate) alice_bob: SharedKey,
    pub(crate) bob_alice: SharedKey,
    /// Eve's key for Bob: must not open what Alice sealed for Bob.
    pub(crate) eve_bob: SharedKey,
}

pub(crate) static PEERS: LazyLock<Peers> = LazyLock::new(|| {
    let mut rng = ChaCha20Rng::seed_from_u64(0x70c5);
    let alice = KeyPair::generate(&mut rng);
    let bob = KeyPair::generate(&mut rng);
    let eve = KeyPair::generate(&mut rng);
    Peers {
        alice_bob: SharedKey::new(&bob.public, &alice.secret),
        bob_alice: SharedKey::new(&alice.public, &bob.secret),
        eve_bob: SharedKey::new(&bob.public, &eve.secret),
        alice,
        bob,
    }
});

pub(crate) fn arb_pk() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey::new)
}

pub(crate) fn arb_nonce() -> impl Strategy<Value = Nonce> {
    any::<[u8; 24]>().prop_map(Nonce::new)
}

/// A UDP node as c-toxcore puts them in nodes responses. IPv4-mapped IPv6
/// addresses are generated as the IPv4 address they stand for, because
/// that is what [`PackedNode::udp`] stores.
pub(crate) fn arb_udp_node() -> impl Strategy<Value = PackedNode> {
    let addr = prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).into(), port)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| {
            SocketAddr::new(canonical_ip(IpAddr::V6(Ipv6Addr::from(ip))), port)
        }),
    ];
    (addr, arb_pk()).prop_map(|(addr, pk)| PackedNode::udp(addr, pk))
}

/// Arbitrary bytes, for "never panics" properties.
pub(crate) fn garbage(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}
