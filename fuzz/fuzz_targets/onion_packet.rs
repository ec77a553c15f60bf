#![no_main]
//! Any datagram decodes as an onion packet or is refused, without
//! panicking; what decodes re-encodes byte for byte (ciphertext is held, so
//! nothing may be lost or invented).
use libfuzzer_sys::fuzz_target;
use toxide_core::Encode;
use toxide_onion::Packet;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::decode(data) else {
        return;
    };
    let bytes = match packet {
        Packet::Request0(p) => p.to_bytes(),
        Packet::Request1(p) => p.to_bytes(),
        Packet::Request2(p) => p.to_bytes(),
        Packet::AnnounceRequest(p, ret) => [p.to_bytes(), ret.to_bytes()].concat(),
        Packet::AnnounceResponse(p) => p.to_bytes(),
        Packet::DataRequest(p, ret) => [p.to_bytes(), ret.to_bytes()].concat(),
        Packet::DataResponse(p) => p.to_bytes(),
        Packet::Response3(p) => p.to_bytes(),
        Packet::Response2(p) => p.to_bytes(),
        Packet::Response1(p) => p.to_bytes(),
    };
    assert_eq!(bytes, data);
});
