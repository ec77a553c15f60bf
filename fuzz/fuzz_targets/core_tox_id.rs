#![no_main]
//! Tox IDs parse from text and binary without panicking; whatever parses
//! prints back to the same ID.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, ToxId};

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = ToxId::from_bytes(data) {
        assert_eq!(id.to_string().parse::<ToxId>(), Ok(id));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = text.parse::<ToxId>() {
            assert!(id.to_string().eq_ignore_ascii_case(text));
        }
    }
});
