#![no_main]
//! The DHT dispatcher never panics on any datagram, decoded packets
//! re-encode to the bytes they came from, and opening their boxes (with a
//! fixed secret key) never panics either. Opening is not asserted to fail:
//! a low-order sender key gives a predictable shared key, and finding a
//! valid MAC for it would be a fuzzer success, not a bug here.
use libfuzzer_sys::fuzz_target;
use toxide_core::{Encode, SecretKey, SharedKey};
use toxide_dht::Packet;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::decode(data) else {
        return;
    };
    if !matches!(packet, Packet::BootstrapInfoRequest(_)) {
        // The bootstrap request's padding is ignored, so only it may differ.
        assert_eq!(packet.to_bytes(), data);
    }
    let ours = SecretKey::from_bytes([0x42; 32]);
    // A low-order sender key has no shared key: nothing to open.
    let open_with = |sender| SharedKey::new(sender, &ours).ok();
    match &packet {
        Packet::PingRequest(p) => drop(open_with(&p.sender_pk).map(|k| p.open(&k))),
        Packet::PingResponse(p) => drop(open_with(&p.sender_pk).map(|k| p.open(&k))),
        Packet::NodesRequest(p) => drop(open_with(&p.sender_pk).map(|k| p.open(&k))),
        Packet::NodesResponse(p) => drop(open_with(&p.sender_pk).map(|k| p.open(&k))),
        Packet::DhtRequest(p) => drop(open_with(&p.sender_pk).map(|k| p.open(&k))),
        Packet::LanDiscovery(_)
        | Packet::BootstrapInfoRequest(_)
        | Packet::BootstrapInfoResponse(_) => {}
    }
});
