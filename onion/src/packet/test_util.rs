//! The shared packet-test fixtures (see `toxide_core::testing`).

pub(crate) use toxide_core::testing::{
    PEERS, arb_nonce, arb_pk, arb_udp_ip_port, arb_udp_node, garbage,
};

pub(crate) fn bob_secret() -> toxide_core::SecretKey {
    PEERS.bob.secret.clone()
}
