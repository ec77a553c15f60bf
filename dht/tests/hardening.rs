//! What a DHT node refuses to spend work on: low-order keys, hosts over
//! their budget however they rotate ports, fresh keys beyond the global
//! budget, and responses nobody asked for. Each test names the hole it
//! closes (issue 8).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{Encode, KeyPair, Nonce, PublicKey, SharedKey, testing};
use toxide_dht::packet::{PingRequest, PingRequestPayload, PingResponse, PingResponsePayload};
use toxide_dht::{Config, Dht, RateLimit};

fn limited(per_second: f64, burst: f64, new_keys_per_second: f64) -> Dht {
    let config = Config {
        rate_limit: Some(RateLimit {
            per_second,
            burst,
            max_hosts: 1024,
            new_keys_per_second,
        }),
        ..Config::default()
    };
    Dht::new(config, Instant::now(), [7; 32])
}

/// A ping request: the request a node always answers, so answers count
/// what the node spent work on.
fn request(to: &Dht, from: &KeyPair, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let shared = SharedKey::new(&to.public_key(), &from.secret).unwrap();
    sealed_request(&shared, from.public, rng)
}

fn sealed_request(shared: &SharedKey, sender: PublicKey, rng: &mut ChaCha20Rng) -> Vec<u8> {
    PingRequest::new(
        shared,
        sender,
        Nonce::random(rng),
        &PingRequestPayload { ping_id: 9 },
    )
    .to_bytes()
}

/// Answers sent since the last call (our own pings to new nodes go out
/// too, and are not counted).
fn answers(dht: &mut Dht) -> usize {
    std::iter::from_fn(|| dht.poll_transmit())
        .filter(|t| t.payload.first() == Some(&PingResponse::ID))
        .count()
}

fn at(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn a_request_from_the_all_zero_key_gets_no_answer() {
    // Sealed under the key every party derives for a low-order sender: a
    // node without the check opens and answers it.
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut dht = Dht::new(Config::default(), Instant::now(), [1; 32]);
    let forged = sealed_request(
        &testing::low_order_forgery(),
        PublicKey::new([0; 32]),
        &mut rng,
    );
    dht.handle_datagram(Instant::now(), at("192.0.2.1:33445"), &forged);
    assert_eq!(answers(&mut dht), 0);
    assert_eq!(dht.stats().dropped_low_order_key, 1);
    assert!(dht.close_list().is_empty());
}

#[test]
fn a_host_rotating_ports_is_limited() {
    // Before: every source port had a bucket with a full burst.
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut dht = limited(1.0, 3.0, 1000.0);
    let client = KeyPair::generate(&mut rng);
    let now = Instant::now();
    for port in 1000..1100 {
        let packet = request(&dht, &client, &mut rng);
        dht.handle_datagram(now, SocketAddr::new(at("192.0.2.9:1").ip(), port), &packet);
    }
    assert_eq!(answers(&mut dht), 3);
    assert_eq!(dht.stats().dropped_rate_limited, 97);
}

#[test]
fn junk_spoofed_from_a_client_does_not_spend_its_budget() {
    // Before: tokens were spent before the box opened, so junk with the
    // client's source address silenced the node towards the client.
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut dht = limited(1.0, 3.0, 1000.0);
    let client = KeyPair::generate(&mut rng);
    let victim = at("192.0.2.10:33445");
    let now = Instant::now();
    for i in 0..200u32 {
        // Half claim the client's key, half fresh keys; none opens.
        let sender = if i % 2 == 0 {
            client.public
        } else {
            KeyPair::generate(&mut rng).public
        };
        let junk = PingRequest::from_parts(sender, Nonce::random(&mut rng), vec![0x55; 25]);
        dht.handle_datagram(now, victim, &junk.to_bytes());
    }
    assert_eq!(dht.stats().dropped_undecryptable, 200);
    assert_eq!(answers(&mut dht), 0);
    for _ in 0..3 {
        let packet = request(&dht, &client, &mut rng);
        dht.handle_datagram(now, victim, &packet);
    }
    assert_eq!(answers(&mut dht), 3, "the client's whole burst is left");
}

#[test]
fn fresh_keys_beyond_the_global_budget_are_dropped_cached_ones_are_not() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut dht = limited(10.0, 10.0, 5.0);
    let regular = KeyPair::generate(&mut rng);
    let now = Instant::now();
    // A received key is cached on its second sight (a key seen once may
    // be a flood's one-shot key): the regular client asks twice.
    for _ in 0..2 {
        let packet = request(&dht, &regular, &mut rng);
        dht.handle_datagram(now, at("192.0.2.20:1"), &packet);
        assert_eq!(answers(&mut dht), 1);
    }
    assert_eq!(dht.stats().shared_keys_computed, 2);
    // A flood of fresh keys from many hosts: the rest of the budget (3)
    // is computed, the others dropped before any Diffie-Hellman.
    for i in 0..50u8 {
        let flooder = KeyPair::generate(&mut rng);
        let packet = request(&dht, &flooder, &mut rng);
        dht.handle_datagram(now, SocketAddr::from(([198, 51, 100, i], 1)), &packet);
    }
    assert_eq!(answers(&mut dht), 3);
    assert_eq!(dht.stats().dropped_key_budget, 47);
    let packet = request(&dht, &regular, &mut rng);
    dht.handle_datagram(now, at("192.0.2.20:1"), &packet);
    assert_eq!(answers(&mut dht), 1, "a cached key needs no budget");
    // The budget refills.
    let late = now + Duration::from_secs(1);
    let newcomer = KeyPair::generate(&mut rng);
    let packet = request(&dht, &newcomer, &mut rng);
    dht.handle_datagram(late, at("192.0.2.21:1"), &packet);
    assert_eq!(answers(&mut dht), 1);
}

#[test]
fn unsolicited_responses_cost_no_diffie_hellman() {
    // Before: each response was opened (one X25519 on a new key) before
    // the pending request was looked up.
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut dht = limited(10.0, 10.0, 1.0);
    let now = Instant::now();
    for i in 0..20u8 {
        let stranger = KeyPair::generate(&mut rng);
        let shared = SharedKey::new(&dht.public_key(), &stranger.secret).unwrap();
        let response = PingResponse::new(
            &shared,
            stranger.public,
            Nonce::random(&mut rng),
            &PingResponsePayload { ping_id: 1 },
        );
        dht.handle_datagram(
            now,
            SocketAddr::from(([198, 51, 100, i], 1)),
            &response.to_bytes(),
        );
    }
    assert_eq!(dht.stats().dropped_unsolicited, 20);
    assert_eq!(dht.stats().dropped_key_budget, 0);
    // The one new key the budget allows is still there for a request.
    let newcomer = KeyPair::generate(&mut rng);
    let packet = request(&dht, &newcomer, &mut rng);
    dht.handle_datagram(now, at("192.0.2.30:1"), &packet);
    assert_eq!(answers(&mut dht), 1);
}
