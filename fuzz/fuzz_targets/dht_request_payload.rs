#![no_main]
//! DHT request payloads (`[type][data]` inside a 0x20 box) decode without
//! panicking and re-encode byte for byte.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode};
use toxide_dht::packet::DhtRequestPayload;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = DhtRequestPayload::from_bytes(data) {
        assert_eq!(payload.to_bytes(), data);
    }
});
