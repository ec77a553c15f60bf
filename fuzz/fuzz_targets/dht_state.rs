#![no_main]
//! The DHT section of a save file decodes without panicking; what decodes
//! holds UDP nodes only, can be built and saved again as it stands, and
//! re-encodes to a stable form (other section types are skipped on read,
//! so the first re-encoding may be shorter than the input; the second may
//! not differ from it).
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode, TransportProtocol};
use toxide_dht::DhtState;
use toxide_dht::state::MAX_SAVED_DHT_NODES;

fuzz_target!(|data: &[u8]| {
    let Ok(state) = DhtState::from_bytes(data) else {
        return;
    };
    assert!(state.nodes().len() <= MAX_SAVED_DHT_NODES);
    assert!(
        state
            .nodes()
            .iter()
            .all(|n| n.protocol == TransportProtocol::Udp)
    );
    assert_eq!(DhtState::new(state.nodes().to_vec()).as_ref(), Ok(&state));
    let once = state.to_bytes();
    let again = DhtState::from_bytes(&once).map(|s| s.to_bytes());
    assert_eq!(again.as_ref(), Ok(&once));
});
