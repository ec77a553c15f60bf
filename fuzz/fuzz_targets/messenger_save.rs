#![no_main]
//! A save file loads without panicking; what loads writes back to bytes
//! that load equal and re-encode to themselves (the first write may drop
//! what c-toxcore ignores too: padding after the end section, malformed
//! node caches, friends it would not re-add).
use libfuzzer_sys::fuzz_target;
use toxide_messenger::save::SaveData;

fuzz_target!(|data: &[u8]| {
    let Ok(save) = SaveData::load(data) else {
        return;
    };
    let once = save.to_bytes();
    let again = SaveData::load(&once);
    assert_eq!(again.as_ref(), Ok(&save));
    assert_eq!(again.map(|s| s.to_bytes()).as_ref(), Ok(&once));
});
