#![no_main]
//! The friend-connection / messenger packet decoder never panics on any
//! net_crypto payload; whatever decodes re-encodes to at most as many
//! bytes (c-toxcore-tolerated surplus is dropped, nothing is invented),
//! keeps its id, fits a data packet, and decodes back to the same value.
use libfuzzer_sys::fuzz_target;
use toxide_core::Encode;
use toxide_messenger::packet::{MAX_CRYPTO_DATA_SIZE, Packet};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::decode(data) else {
        return;
    };
    assert_eq!(Some(&packet.id()), data.first());
    let bytes = packet.to_bytes();
    assert_eq!(bytes.len(), packet.encoded_len());
    assert!(bytes.len() <= data.len());
    assert!(bytes.len() <= MAX_CRYPTO_DATA_SIZE);
    assert_eq!(Packet::decode(&bytes), Ok(packet));
});
