#![no_main]
//! The plaintexts inside onion boxes (what a peer holding a valid key can
//! make us parse) decode without panicking and re-encode byte for byte, or
//! (where an address is normalised) to bytes that decode the same.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode};
use toxide_onion::packet::{
    AnnounceRequestPayload, AnnounceResponsePayload, AnnounceVersion, HopPayload, NextLayer,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = AnnounceRequestPayload::from_bytes(data) {
        assert_eq!(p.to_bytes(), data);
    }
    for version in [AnnounceVersion::Old, AnnounceVersion::New] {
        if let Ok(p) = AnnounceResponsePayload::decode_versioned(version, data) {
            // An IPv4-mapped IPv6 node is kept as IPv4, so its bytes may
            // change: compare re-decoded.
            let again = p.to_versioned_bytes(version);
            assert_eq!(
                AnnounceResponsePayload::decode_versioned(version, &again),
                Ok(p)
            );
        }
    }
    if let Ok(p) = HopPayload::from_bytes(data) {
        // The padding of an IPv4 address is not kept: compare re-decoded.
        assert_eq!(HopPayload::from_bytes(&p.to_bytes()), Ok(p));
    }
    if let Ok(p) = NextLayer::from_bytes(data) {
        assert_eq!(p.to_bytes(), data);
    }
});
