#![no_main]
//! Ping request and response payloads (the plaintext inside the box)
//! decode without panicking, only at 9 bytes with the right type byte, and
//! re-encode byte for byte.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode};
use toxide_dht::packet::{PingRequestPayload, PingResponsePayload};

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = PingRequestPayload::from_bytes(data) {
        assert_eq!(data.first(), Some(&0));
        assert_eq!(payload.to_bytes(), data);
    }
    if let Ok(payload) = PingResponsePayload::from_bytes(data) {
        assert_eq!(data.first(), Some(&1));
        assert_eq!(payload.to_bytes(), data);
    }
});
