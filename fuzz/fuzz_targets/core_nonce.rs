#![no_main]
//! `Nonce` decoding and counting never panic.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Nonce};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut nonce) = Nonce::from_bytes(data.get(..24).unwrap_or(data)) {
        let step = data
            .get(24..28)
            .map_or(1, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        nonce.increment_by(step);
    }
});
