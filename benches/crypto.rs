//! Throughput of the box operations every Tox packet pays for.
//!
//! 1 KiB is about the size of a net_crypto data packet carrying a chat
//! message or a file chunk; the figure to compare is c-toxcore's
//! `crypto_box_afternm` (~900 MB/s on one core here at 1.4 KB, per
//! shared/ctoxcore-observed.md).

// Benchmark code: keys from a fixed seed are never low-order.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::hint::black_box;
use toxide::core::{KeyPair, Nonce, SharedKey, SymmetricKey};

fn boxes(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let alice = KeyPair::generate(&mut rng);
    let bob = KeyPair::generate(&mut rng);
    let shared = SharedKey::new(&bob.public, &alice.secret).unwrap();
    let nonce = Nonce::random(&mut rng);
    let plaintext = vec![0x5a_u8; 1024];
    let sealed = shared.encrypt(&nonce, &plaintext);

    let mut group = c.benchmark_group("box_1KiB");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.bench_function("encrypt", |b| {
        b.iter(|| shared.encrypt(black_box(&nonce), black_box(&plaintext)))
    });
    group.bench_function("decrypt", |b| {
        b.iter(|| shared.decrypt(black_box(&nonce), black_box(&sealed)))
    });
    group.finish();

    let symmetric = SymmetricKey::generate(&mut rng);
    let mut group = c.benchmark_group("secretbox_1KiB");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.bench_function("encrypt", |b| {
        b.iter(|| symmetric.encrypt(black_box(&nonce), black_box(&plaintext)))
    });
    group.finish();

    c.bench_function("precompute_shared_key", |b| {
        b.iter(|| SharedKey::new(black_box(&bob.public), black_box(&alice.secret)).unwrap())
    });
}

criterion_group!(benches, boxes);
criterion_main!(benches);
