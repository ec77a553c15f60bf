#![no_main]
//! LAN discovery packets decode without panicking, only at 33 bytes, and
//! re-encode byte for byte.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode};
use toxide_dht::packet::{LAN_DISCOVERY_SIZE, LanDiscovery};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = LanDiscovery::from_bytes(data) {
        assert_eq!(data.len(), LAN_DISCOVERY_SIZE);
        assert_eq!(packet.to_bytes(), data);
    }
});
