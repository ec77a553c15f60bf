#![no_main]
//! Nodes response payloads decode without panicking; what decodes holds
//! 1 to 4 UDP nodes and re-encodes to a stable form (IPv4-mapped IPv6
//! addresses are written as IPv4, so the first re-encoding may differ from
//! the input; the second may not).
use libfuzzer_sys::fuzz_target;
use toxide_core::packed_node::MAX_SENT_NODES;
use toxide_core::{Decode, Encode, TransportProtocol};
use toxide_dht::packet::NodesResponsePayload;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = NodesResponsePayload::from_bytes(data) else {
        return;
    };
    assert!((1..=MAX_SENT_NODES).contains(&payload.nodes().len()));
    assert!(
        payload
            .nodes()
            .iter()
            .all(|n| n.protocol == TransportProtocol::Udp)
    );
    let once = payload.to_bytes();
    let again = NodesResponsePayload::from_bytes(&once).map(|p| p.to_bytes());
    assert_eq!(again.as_ref(), Ok(&once));
    // Sealable as it stands.
    assert!(NodesResponsePayload::new(payload.nodes().to_vec(), payload.request_id()).is_ok());
});
