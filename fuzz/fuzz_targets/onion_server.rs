#![no_main]
//! A stream of arbitrary datagrams from arbitrary sources never panics an
//! onion server, and whatever it sends fits an onion datagram.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use toxide_core::{KeyPair, PackedNode, PublicKey, SecretKey};
use toxide_onion::announce::CloseNodes;
use toxide_onion::constants::ONION_MAX_PACKET_SIZE;
use toxide_onion::{OnionServer, ServerConfig};

struct NoNodes;

impl CloseNodes for NoNodes {
    fn close_nodes(&self, _: Instant, _: &PublicKey, _: bool) -> Vec<PackedNode> {
        Vec::new()
    }
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let keys = KeyPair::from_secret(SecretKey::from_bytes([7; 32]));
    let mut server = OnionServer::new(ServerConfig::default(), keys, start, [1; 32]);
    // Each record: [port lo][secs][len][bytes…].
    let mut rest = data;
    while let [port, secs, len, tail @ ..] = rest {
        let take = usize::from(*len).min(tail.len()) * 8;
        let (bytes, next) = tail.split_at(take.min(tail.len()));
        let from = SocketAddr::from(([127, 0, 0, 1], 1000 + u16::from(*port)));
        let now = start + Duration::from_secs(u64::from(*secs) * 60);
        server.handle_datagram(now, from, bytes, &NoNodes);
        while let Some(t) = server.poll_transmit() {
            assert!(t.payload.len() <= ONION_MAX_PACKET_SIZE);
        }
        rest = next;
    }
});
