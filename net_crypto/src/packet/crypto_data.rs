//! Crypto data (0x1b): every packet of an established session.
//!
//! Checklist N6; spec "Net crypto", encrypted packets; c-toxcore
//! `send_data_packet` and `handle_data_packet` / `handle_data_packet_core`
//! in `net_crypto.c`. Wire layout, [`CryptoData::MIN_SIZE`] = 28 to
//! [`MAX_CRYPTO_PACKET_SIZE`] = 1400 bytes:
//!
//! | bytes     | field                                                   |
//! |-----------|---------------------------------------------------------|
//! | 1         | `0x1b`                                                  |
//! | 2         | the low 16 bits of the sender's nonce, big-endian       |
//! | n + 16    | `crypto_box(session shared key, full nonce; plaintext)` |
//!
//! The plaintext is a [`DataPlaintext`] (checklist N7). The session shared
//! key is the DH of our session secret key and the peer's session public
//! key from its handshake; the full nonce is the sender's base nonce plus
//! the number of data packets it sent before, of which only the low 16
//! bits travel: the receiver rebuilds the rest with [`receive_nonce`].
//!
//! c-toxcore drops a data packet of 27 bytes or less before decrypting it
//! (`handle_data_packet_core`: the plaintext must hold the two counters and
//! at least one byte), and so does the decoder here. Decoding needs no key.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Nonce, Reader, SharedKey};

use super::{
    CRYPTO_DATA_PACKET_MIN_SIZE, DataPlaintext, MAX_CRYPTO_PACKET_SIZE, NET_PACKET_CRYPTO_DATA,
    NetCryptoPacketError, advance_saved_nonce, nonce_low16, receive_nonce,
};

/// A data packet as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoData {
    /// The low 16 bits of the nonce the payload was sealed with.
    pub nonce_low: u16,
    /// The sealed [`DataPlaintext`].
    pub sealed: Vec<u8>,
}

impl CryptoData {
    /// The smallest data packet c-toxcore 0.2.18 accepts: one byte more
    /// than `CRYPTO_DATA_PACKET_MIN_SIZE`.
    pub const MIN_SIZE: usize = CRYPTO_DATA_PACKET_MIN_SIZE + 1;
    /// The largest (`MAX_CRYPTO_PACKET_SIZE`).
    pub const MAX_SIZE: usize = MAX_CRYPTO_PACKET_SIZE;

    /// Seals `plaintext` with the session key under the sender's current
    /// `nonce` (which the caller then increments). Every [`DataPlaintext`]
    /// fits: the packet is at most [`MAX_CRYPTO_PACKET_SIZE`] bytes.
    pub fn seal(session: &SharedKey, nonce: &Nonce, plaintext: &DataPlaintext) -> Self {
        Self {
            nonce_low: nonce_low16(nonce),
            sealed: session.encrypt(nonce, &plaintext.to_bytes()),
        }
    }

    /// Opens the packet with the session key under the full `nonce` the
    /// caller rebuilt (see [`receive_nonce`]).
    pub fn open(
        &self,
        session: &SharedKey,
        nonce: &Nonce,
    ) -> Result<DataPlaintext, NetCryptoPacketError> {
        super::open_payload(session.decrypt(nonce, &self.sealed))
    }

    /// Rebuilds the nonce from `saved` (the saved receive nonce), opens the
    /// packet, and on success moves `saved` forward as c-toxcore's
    /// `handle_data_packet` does (checklist N6). `saved` is untouched when
    /// the box does not open. It moves even when the box opens and the
    /// plaintext is then malformed: the sender holds the key, and c-toxcore
    /// too moves it before looking inside.
    pub fn open_with_saved(
        &self,
        session: &SharedKey,
        saved: &mut Nonce,
    ) -> Result<DataPlaintext, NetCryptoPacketError> {
        let guess = receive_nonce(saved, self.nonce_low);
        let plain = session.decrypt(&guess.nonce, &self.sealed);
        if plain.is_ok() {
            advance_saved_nonce(saved, guess.diff);
        }
        super::open_payload(plain)
    }
}

impl Encode for CryptoData {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(NET_PACKET_CRYPTO_DATA);
        buf.put_u16(self.nonce_low);
        buf.put_slice(&self.sealed);
    }

    fn encoded_len(&self) -> usize {
        1 + 2 + self.sealed.len()
    }
}

impl Decode for CryptoData {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "crypto data";
        reader.expect_remaining(NAME, Self::MIN_SIZE, Self::MAX_SIZE)?;
        reader.expect_u8(NAME, NET_PACKET_CRYPTO_DATA)?;
        Ok(Self {
            nonce_low: reader.u16_be("nonce low bits")?,
            sealed: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{MAX_CRYPTO_DATA_SIZE, PACKET_ID_KILL};
    use proptest::prelude::*;
    use toxide_core::CryptoError;
    use toxide_core::testing::{PEERS, arb_nonce, garbage};

    fn plaintext(len: usize) -> DataPlaintext {
        DataPlaintext::new(3, 4, vec![16; len]).unwrap()
    }

    #[test]
    fn layout_carries_the_low_nonce_bits_big_endian() {
        let mut nonce = [9u8; 24];
        nonce[22] = 0xab;
        nonce[23] = 0xcd;
        let nonce = Nonce::new(nonce);
        let packet = CryptoData::seal(&PEERS.alice_bob, &nonce, &plaintext(1));
        let bytes = packet.to_bytes();
        assert_eq!(bytes[0], 0x1b);
        assert_eq!(&bytes[1..3], &[0xab, 0xcd]);
        // 8 counters + 4 padding + 1 payload, sealed.
        assert_eq!(bytes.len(), 3 + 13 + 16);
        let plain = PEERS.bob_alice.decrypt(&nonce, &bytes[3..]).unwrap();
        assert_eq!(plain, plaintext(1).to_bytes());
    }

    #[test]
    fn the_largest_payload_makes_exactly_1400_bytes() {
        let packet = CryptoData::seal(
            &PEERS.alice_bob,
            &Nonce::default(),
            &plaintext(MAX_CRYPTO_DATA_SIZE),
        );
        assert_eq!(packet.encoded_len(), 1400);
        assert_eq!(packet.to_bytes().len(), 1400);
    }

    #[test]
    fn sizes_outside_28_to_1400_are_refused() {
        for len in [0, 1, 3, 19, 27] {
            let mut bytes = vec![0x1b; len];
            bytes.truncate(len);
            assert!(matches!(
                CryptoData::from_bytes(&bytes),
                Err(DecodeError::BadLength {
                    min: 28,
                    max: 1400,
                    ..
                })
            ));
        }
        assert!(CryptoData::from_bytes(&[0x1b; 28]).is_ok());
        assert!(CryptoData::from_bytes(&[0x1b; 1400]).is_ok());
        assert!(matches!(
            CryptoData::from_bytes(&[0x1b; 1401]),
            Err(DecodeError::BadLength { len: 1401, .. })
        ));
        assert!(CryptoData::from_bytes(&[0x1a; 100]).is_err());
    }

    #[test]
    fn wrong_key_or_nonce_does_not_open() {
        let nonce = Nonce::new([1; 24]);
        let packet = CryptoData::seal(&PEERS.alice_bob, &nonce, &plaintext(10));
        assert_eq!(
            packet.open(&PEERS.eve_bob, &nonce),
            Err(NetCryptoPacketError::Crypto(
                CryptoError::AuthenticationFailed
            ))
        );
        assert!(packet.open(&PEERS.bob_alice, &nonce.plus(1)).is_err());
        assert_eq!(packet.open(&PEERS.bob_alice, &nonce), Ok(plaintext(10)));
    }

    #[test]
    fn a_box_of_zeros_is_malformed_not_undecryptable() {
        let nonce = Nonce::new([1; 24]);
        let packet = CryptoData {
            nonce_low: nonce_low16(&nonce),
            sealed: PEERS.alice_bob.encrypt(&nonce, &[0; 20]),
        };
        assert!(matches!(
            packet.open(&PEERS.bob_alice, &nonce),
            Err(NetCryptoPacketError::Payload(_))
        ));
    }

    #[test]
    fn a_session_survives_loss_reordering_and_wraps() {
        // Alice sends 150,000 packets; Bob sees every third one, in pairs
        // swapped, and follows with his saved nonce.
        let base = Nonce::new([0xff; 24]).plus(0xffff_0000);
        let mut saved = base;
        let mut sealed = Vec::new();
        for i in 0..150_000u32 {
            if i % 3 == 0 {
                let body = DataPlaintext::new(0, i, vec![PACKET_ID_KILL]).unwrap();
                sealed.push((i, CryptoData::seal(&PEERS.alice_bob, &base.plus(i), &body)));
            }
        }
        for pair in sealed.chunks(2) {
            for (i, packet) in pair.iter().rev() {
                let opened = packet
                    .open_with_saved(&PEERS.bob_alice, &mut saved)
                    .unwrap();
                assert_eq!(opened.packet_number(), *i);
            }
        }
        // A forged packet does not move the window.
        let before = saved;
        let forged = CryptoData {
            nonce_low: nonce_low16(&before).wrapping_add(60000),
            sealed: vec![0; 40],
        };
        assert!(
            forged
                .open_with_saved(&PEERS.bob_alice, &mut saved)
                .is_err()
        );
        assert_eq!(saved, before);
    }

    proptest! {
        #[test]
        fn seal_open_and_encode_decode_round_trip(
            nonce in arb_nonce(), number in any::<u32>(),
            payload in proptest::collection::vec(any::<u8>(), 0..MAX_CRYPTO_DATA_SIZE),
        ) {
            let mut payload = payload;
            payload.insert(0, 192);
            let body = DataPlaintext::new(7, number, payload).unwrap();
            let packet = CryptoData::seal(&PEERS.alice_bob, &nonce, &body);
            let bytes = packet.to_bytes();
            prop_assert!(bytes.len() >= CryptoData::MIN_SIZE && bytes.len() <= CryptoData::MAX_SIZE);
            let decoded = CryptoData::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&decoded, &packet);
            prop_assert_eq!(decoded.open(&PEERS.bob_alice, &nonce), Ok(body.clone()));
            let mut saved = nonce;
            prop_assert_eq!(decoded.open_with_saved(&PEERS.bob_alice, &mut saved), Ok(body));
            prop_assert_eq!(saved, nonce);
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1500), saved in arb_nonce()) {
            if let Ok(packet) = CryptoData::from_bytes(&bytes) {
                prop_assert!(bytes.len() >= 28 && bytes.len() <= 1400);
                let mut s = saved;
                prop_assert!(packet.open_with_saved(&PEERS.bob_alice, &mut s).is_err());
                prop_assert_eq!(s, saved);
            }
        }
    }
}
