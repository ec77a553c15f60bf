#![no_main]
//! The onion's 19-byte IP_Port decodes without panicking.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode, IpPort};

fuzz_target!(|data: &[u8]| {
    if let Ok(ip_port) = IpPort::from_bytes(data) {
        assert_eq!(ip_port.to_bytes().len(), 19);
    }
});
