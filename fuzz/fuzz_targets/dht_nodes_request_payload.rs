#![no_main]
//! Nodes request payloads decode without panicking, only at 40 bytes, and
//! re-encode byte for byte.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode};
use toxide_dht::packet::{NODES_REQUEST_PAYLOAD_SIZE, NodesRequestPayload};

fuzz_target!(|data: &[u8]| {
    let decoded = NodesRequestPayload::from_bytes(data);
    assert_eq!(decoded.is_ok(), data.len() == NODES_REQUEST_PAYLOAD_SIZE);
    if let Ok(payload) = decoded {
        assert_eq!(payload.to_bytes(), data);
    }
});
