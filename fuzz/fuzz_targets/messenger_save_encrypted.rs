#![no_main]
//! Opening attacker-supplied toxencryptsave data never panics and never
//! succeeds without the key. The key is derived once (scrypt is slow by
//! design), with the salt of the data the fuzzer is steered towards.
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use toxide_messenger::save::{PassError, PassKey, is_encrypted};

static KEY: LazyLock<Option<PassKey>> =
    LazyLock::new(|| PassKey::derive_with_salt(b"fuzz", [0x5a; 32]).ok());

fuzz_target!(|data: &[u8]| {
    let Some(key) = KEY.as_ref() else {
        return;
    };
    match key.decrypt(data) {
        Ok(_) => panic!("opened a box without the key"),
        Err(PassError::NotEncrypted) => assert!(data.len() <= 80 || !is_encrypted(data)),
        Err(_) => {}
    }
});
