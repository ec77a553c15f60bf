#![no_main]
//! DHT requests (0x20) decode without panicking, are forwarded unchanged
//! (re-encoding is byte-exact), and opening them never panics.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode, SecretKey, SharedKey};
use toxide_dht::packet::{DHT_REQUEST_MAX_ROUTED_SIZE, DHT_REQUEST_MIN_SIZE, DhtRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = DhtRequest::from_bytes(data) else {
        return;
    };
    assert!((DHT_REQUEST_MIN_SIZE..=DHT_REQUEST_MAX_ROUTED_SIZE).contains(&data.len()));
    assert_eq!(request.to_bytes(), data);
    if let Ok(key) = SharedKey::new(&request.sender_pk, &SecretKey::from_bytes([0x42; 32])) {
        let _ = request.open(&key);
    }
});
