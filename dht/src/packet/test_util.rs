//! The shared packet-test fixtures (see `toxide_core::testing`).

pub(crate) use toxide_core::testing::{PEERS, arb_nonce, arb_pk, arb_udp_node, garbage};
