//! toxide-core's NaCl boxes and key derivation agree byte for byte with
//! libsodium, the library c-toxcore uses, in both directions.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide_core::crypto::LOW_ORDER_KEYS;
use toxide_core::{CryptoError, Nonce, PublicKey, SecretKey, SharedKey, SymmetricKey};
use toxide_interop::Sodium;

const CASES: usize = 300;

fn random_len(rng: &mut ChaCha20Rng) -> usize {
    // Mostly packet-sized messages, with the short ones (and length 1) well covered.
    let mut b = [0u8; 2];
    rng.fill_bytes(&mut b);
    1 + usize::from(u16::from_le_bytes(b)) % 2000
}

fn random_bytes<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

fn random_vec(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rng.fill_bytes(&mut out);
    out
}

#[test]
fn public_keys_match_scalarmult_base() {
    let mut sodium = Sodium::spawn().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x70c1_de01);
    for _ in 0..CASES {
        let sk_bytes = random_bytes::<32>(&mut rng);
        let ours = SecretKey::from_bytes(sk_bytes).public_key();
        let theirs = sodium.public_key(&sk_bytes).unwrap();
        assert_eq!(
            ours.as_bytes().as_slice(),
            theirs.as_slice(),
            "sk {sk_bytes:02x?}"
        );
    }
}

#[test]
fn crypto_box_matches_libsodium_both_ways() {
    let mut sodium = Sodium::spawn().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x70c1_de02);
    for case in 0..CASES {
        let our_sk = random_bytes::<32>(&mut rng);
        let their_sk = SecretKey::from_bytes(random_bytes::<32>(&mut rng));
        let their_pk = their_sk.public_key();
        let nonce = random_bytes::<24>(&mut rng);
        let len = random_len(&mut rng);
        let message = random_vec(&mut rng, len);

        let shared = SharedKey::new(&their_pk, &SecretKey::from_bytes(our_sk)).unwrap();
        let ours = shared.encrypt(&Nonce::new(nonce), &message);
        let theirs = sodium
            .box_seal(&our_sk, their_pk.as_bytes(), &nonce, &message)
            .unwrap();
        assert_eq!(
            ours, theirs,
            "case {case}: crypto_box output differs (len {len})"
        );

        // The other side of the same box, computed by libsodium, opens ours...
        let our_pk = SecretKey::from_bytes(our_sk).public_key();
        let opened = sodium
            .box_open(&their_sk.to_bytes(), our_pk.as_bytes(), &nonce, &ours)
            .unwrap();
        assert_eq!(opened.as_deref(), Some(message.as_slice()), "case {case}");

        // ...and toxide opens what libsodium sealed with the other side's key.
        let reply = sodium
            .box_seal(&their_sk.to_bytes(), our_pk.as_bytes(), &nonce, &message)
            .unwrap();
        assert_eq!(
            shared.decrypt(&Nonce::new(nonce), &reply).unwrap(),
            message,
            "case {case}"
        );
    }
}

#[test]
fn tampered_boxes_are_rejected_by_both() {
    let mut sodium = Sodium::spawn().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x70c1_de03);
    for case in 0..50 {
        let our_sk = random_bytes::<32>(&mut rng);
        let their_sk = SecretKey::from_bytes(random_bytes::<32>(&mut rng));
        let nonce = random_bytes::<24>(&mut rng);
        let len = random_len(&mut rng);
        let message = random_vec(&mut rng, len);
        let mut sealed = sodium
            .box_seal(&our_sk, their_sk.public_key().as_bytes(), &nonce, &message)
            .unwrap();
        let flip = case * 7 % sealed.len();
        sealed[flip] ^= 0x01;

        let shared =
            SharedKey::new(&SecretKey::from_bytes(our_sk).public_key(), &their_sk).unwrap();
        assert!(
            shared.decrypt(&Nonce::new(nonce), &sealed).is_err(),
            "case {case}"
        );
        let opened = sodium
            .box_open(
                &their_sk.to_bytes(),
                SecretKey::from_bytes(our_sk).public_key().as_bytes(),
                &nonce,
                &sealed,
            )
            .unwrap();
        assert_eq!(opened, None, "case {case}");
    }
}

#[test]
fn secretbox_matches_libsodium_both_ways() {
    let mut sodium = Sodium::spawn().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x70c1_de04);
    for case in 0..CASES {
        let key_bytes = random_bytes::<32>(&mut rng);
        let nonce = Nonce::new(random_bytes::<24>(&mut rng));
        let len = random_len(&mut rng);
        let message = random_vec(&mut rng, len);

        let key = SymmetricKey::from_bytes(&key_bytes);
        let ours = key.encrypt(&nonce, &message);
        let theirs = sodium
            .secretbox(&key_bytes, nonce.as_bytes(), &message)
            .unwrap();
        assert_eq!(
            ours, theirs,
            "case {case}: secretbox output differs (len {len})"
        );
        assert_eq!(
            key.decrypt(&nonce, &theirs).unwrap(),
            message,
            "case {case}"
        );
    }
}

#[test]
fn low_order_keys_are_refused_by_both() {
    // libsodium's crypto_box_beforenm fails for these, so c-toxcore never
    // opens a packet from such a key; toxide must refuse them too (crypto_box
    // 0.9's SalsaBox::new accepted them).
    let mut sodium = Sodium::spawn().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x70c1_de05);
    let our_sk = random_bytes::<32>(&mut rng);
    let nonce = random_bytes::<24>(&mut rng);
    let mut refused = 0;
    for low in LOW_ORDER_KEYS {
        for top_bit in [0u8, 0x80] {
            let mut key = low;
            key[31] |= top_bit;
            let theirs = sodium.box_seal(&our_sk, &key, &nonce, b"x");
            assert!(
                matches!(&theirs, Err(toxide_interop::Error::Command { reply, .. }) if reply == "ERR beforenm"),
                "libsodium accepted {key:02x?}: {theirs:?}"
            );
            assert_eq!(
                SharedKey::new(&PublicKey::new(key), &SecretKey::from_bytes(our_sk)).err(),
                Some(CryptoError::LowOrderKey),
                "{key:02x?}"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 14);
    // And both accept an ordinary key.
    let pk = SecretKey::from_bytes(random_bytes::<32>(&mut rng)).public_key();
    assert!(
        sodium
            .box_seal(&our_sk, pk.as_bytes(), &nonce, b"x")
            .is_ok()
    );
    assert!(SharedKey::new(&pk, &SecretKey::from_bytes(our_sk)).is_ok());
}
