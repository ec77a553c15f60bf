#![no_main]
//! TCP relay decoding: the input is read as every frame payload packet,
//! as both handshakes, as a frame stream under a fixed session (cut into
//! pieces at input-chosen points), and as bytes from a client at a relay
//! and from a relay at a client. Nothing may panic, and what decodes
//! re-encodes to the same length.
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{Decode, Encode, KeyPair, Nonce, SharedKey};
use toxide_relay::packet::{ClientHandshake, ServerHandshake};
use toxide_relay::{
    ClientConfig, ClientConnection, FrameDecoder, FrameOpener, FrameSealer, Packet, RelayServer,
    ServerConfig,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::from_bytes(data) {
        assert_eq!(p.encoded_len(), data.len());
    }
    let _ = ClientHandshake::from_bytes(data);
    let _ = ServerHandshake::from_bytes(data);

    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let a = KeyPair::generate(&mut rng);
    let b = KeyPair::generate(&mut rng);
    let Ok(key) = SharedKey::new(&b.public, &a.secret) else {
        return;
    };
    // A valid first frame, then the fuzz input, in input-chosen pieces.
    let mut sealer = FrameSealer::new(key.clone(), Nonce::default());
    let mut decoder = FrameDecoder::new(FrameOpener::new(key, Nonce::default()), &[]);
    if let Ok(first) = sealer.seal(data.get(..16).unwrap_or(data)) {
        decoder.push(&first);
    }
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    for piece in data.chunks(step) {
        decoder.push(piece);
        while let Ok(Some(_)) = decoder.next_frame() {}
    }

    let now = Instant::now();
    let mut server = RelayServer::new(b.clone(), ServerConfig::default(), [2; 32]);
    if let Ok(conn) = server.accept(now) {
        server.handle_bytes(now, conn, data);
        while server.poll_write(conn).is_some() {}
        while server.poll_event().is_some() {}
    }
    if let Ok(mut client) =
        ClientConnection::new(now, &a, b.public, ClientConfig::default(), [3; 32])
    {
        client.handle_bytes(now, data);
        while client.poll_write().is_some() {}
        while client.poll_event().is_some() {}
    }
});
