#![no_main]
//! The net_crypto dispatcher never panics on any datagram, decoded packets
//! re-encode to the bytes they came from (ciphertext is held, nothing is
//! lost or invented), and every open attempt with fixed keys (the cookie
//! request's DHT key, the handshake's cookie and box, the data packet's
//! nonce rebuild) never panics either. Opening is not asserted to fail: a
//! low-order sender key gives a predictable shared key, and finding a valid
//! MAC for it would be a fuzzer success, not a bug here.
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use toxide_core::{Encode, Nonce, PublicKey, SecretKey, SharedKey, SymmetricKey};
use toxide_net_crypto::packet::{NetCryptoPacketError, Packet};

static OURS: LazyLock<SecretKey> = LazyLock::new(|| SecretKey::from_bytes([0x42; 32]));
/// A session (or real-key) shared key with a fixed peer.
static SESSION: LazyLock<Option<SharedKey>> =
    LazyLock::new(|| SharedKey::new(&PublicKey::new([0x09; 32]), &OURS).ok());
static COOKIE_KEY: LazyLock<SymmetricKey> = LazyLock::new(|| SymmetricKey::from_bytes(&[7; 32]));

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::decode(data) else {
        return;
    };
    assert_eq!(packet.to_bytes(), data);
    assert_eq!(packet.id(), data[0]);
    let Some(session) = SESSION.as_ref() else {
        return;
    };
    match &packet {
        Packet::CookieRequest(p) => {
            // A low-order sender key has no shared key: nothing to open.
            if let Ok(key) = SharedKey::new(&p.sender_dht_pk, &OURS) {
                drop(p.open(&key));
            }
        }
        Packet::CookieResponse(p) => drop(p.open(session)),
        Packet::CryptoHandshake(p) => {
            drop(p.cookie.open_fresh(&COOKIE_KEY, 1_000));
            drop(p.open(session));
        }
        Packet::CryptoData(p) => {
            let mut saved = Nonce::new([0xfe; 24]);
            let before = saved;
            if let Err(NetCryptoPacketError::Crypto(_)) = p.open_with_saved(session, &mut saved) {
                // Only a box that opened may move the receive window.
                assert_eq!(saved, before);
            }
        }
    }
});
