#![no_main]
//! Opening attacker-supplied boxes never panics and never succeeds without
//! the key.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Nonce, SymmetricKey};

fuzz_target!(|data: &[u8]| {
    let key = SymmetricKey::from_bytes(&[0x42; 32]);
    assert!(key.decrypt(&Nonce::default(), data).is_err());
});
