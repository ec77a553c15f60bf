#![no_main]
//! `PublicKey` decoding and hex parsing never panic.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, PublicKey};

fuzz_target!(|data: &[u8]| {
    let _ = PublicKey::from_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PublicKey::from_hex(text);
    }
});
