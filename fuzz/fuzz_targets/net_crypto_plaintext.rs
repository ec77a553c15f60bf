#![no_main]
//! The plaintexts inside net_crypto boxes (what a peer holding a valid key
//! can make us parse) decode without panicking. The data plaintext keeps no
//! padding and the cookie request no padding bytes, so those are compared
//! re-decoded; the others re-encode byte for byte.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Decode, Encode};
use toxide_net_crypto::packet::{
    CookieContents, CookieRequestPayload, CookieResponsePayload, DataPlaintext, HandshakePayload,
    MAX_CRYPTO_DATA_SIZE, PacketIdKind,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = DataPlaintext::from_bytes(data) {
        assert_ne!(PacketIdKind::of(p.packet_id()), PacketIdKind::Padding);
        assert!(p.payload().len() <= MAX_CRYPTO_DATA_SIZE);
        assert!(data.ends_with(p.payload()));
        let again = p.to_bytes();
        assert_eq!(again.len(), p.encoded_len());
        assert_eq!(DataPlaintext::from_bytes(&again), Ok(p));
    }
    if let Ok(p) = CookieRequestPayload::from_bytes(data) {
        assert_eq!(CookieRequestPayload::from_bytes(&p.to_bytes()), Ok(p));
    }
    if let Ok(p) = CookieResponsePayload::from_bytes(data) {
        assert_eq!(p.to_bytes(), data);
    }
    if let Ok(p) = HandshakePayload::from_bytes(data) {
        assert_eq!(p.to_bytes(), data);
    }
    if let Ok(p) = CookieContents::from_bytes(data) {
        assert_eq!(p.to_bytes(), data);
    }
});
