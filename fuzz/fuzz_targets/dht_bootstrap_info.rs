#![no_main]
//! Bootstrap info requests and responses (both 0xf0) decode without
//! panicking; responses re-encode byte for byte and their MOTD text is
//! always printable as a string.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode};
use toxide_dht::packet::{
    BOOTSTRAP_INFO_REQUEST_SIZE, BOOTSTRAP_INFO_RESPONSE_MAX_SIZE, BootstrapInfoRequest,
    BootstrapInfoResponse,
};

fuzz_target!(|data: &[u8]| {
    if BootstrapInfoRequest::from_bytes(data).is_ok() {
        assert_eq!(data.len(), BOOTSTRAP_INFO_REQUEST_SIZE);
    }
    if let Ok(response) = BootstrapInfoResponse::from_bytes(data) {
        assert!(data.len() <= BOOTSTRAP_INFO_RESPONSE_MAX_SIZE);
        assert_eq!(response.to_bytes(), data);
        let _ = response.motd_text();
    }
});
