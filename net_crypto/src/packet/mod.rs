//! Every net_crypto wire packet of c-toxcore 0.2.18, the plaintext framing
//! inside data packets, and a dispatcher (spec "Net crypto", checklist
//! N1–N8).
//!
//! | id     | packet                 | size (exact unless a range) | checklist |
//! |--------|------------------------|-----------------------------|-----------|
//! | `0x18` | [`CookieRequest`]      | 145                         | N1        |
//! | `0x19` | [`CookieResponse`]     | 161                         | N2        |
//! | `0x1a` | [`CryptoHandshake`]    | 385                         | N4        |
//! | `0x1b` | [`CryptoData`]         | 28..=1400                   | N6        |
//!
//! Inside them travel a [`Cookie`] (112 bytes, N3, opened only by its
//! creator) and, inside data packets, a [`DataPlaintext`] (N7) whose first
//! payload byte is a packet id classified by [`PacketIdKind`] (N8).
//!
//! As in the DHT and the onion, packets hold their ciphertext: decoding
//! checks the id and the exact size only, so junk is refused before any
//! Diffie-Hellman. c-toxcore (`handle_cookie_request`,
//! `handle_cookie_response`, `handle_crypto_handshake`,
//! `handle_data_packet_core` in `net_crypto.c`) drops every other length,
//! and so do the decoders here.
//!
//! Which key opens what:
//!
//! | packet            | box key                                        |
//! |-------------------|------------------------------------------------|
//! | cookie request    | our DHT sk × peer DHT pk (`crypto_box`)         |
//! | cookie response   | the same key the request was opened with       |
//! | cookie            | our own random symmetric key (`secretbox`)     |
//! | crypto handshake  | our real sk × peer real pk                     |
//! | crypto data       | our session sk × peer session pk, counted nonce |

mod cookie;
mod cookie_request;
mod cookie_response;
mod crypto_data;
mod crypto_handshake;
mod data_plaintext;
mod nonce_window;
mod packet_id;

use std::time::Duration;

use bytes::BufMut;
use thiserror::Error;
use toxide_core::{CryptoError, Decode, DecodeError, Encode};

pub use cookie::{Cookie, CookieContents};
pub use cookie_request::{CookieRequest, CookieRequestPayload};
pub use cookie_response::{CookieResponse, CookieResponsePayload};
pub use crypto_data::CryptoData;
pub use crypto_handshake::{CryptoHandshake, HandshakePayload};
pub use data_plaintext::DataPlaintext;
pub use nonce_window::{ReceiveNonce, advance_saved_nonce, nonce_low16, receive_nonce};
pub use packet_id::{
    PACKET_ID_KILL, PACKET_ID_PADDING, PACKET_ID_RANGE_LOSSLESS, PACKET_ID_RANGE_LOSSLESS_CUSTOM,
    PACKET_ID_RANGE_LOSSLESS_NORMAL, PACKET_ID_RANGE_LOSSY, PACKET_ID_RANGE_LOSSY_AV,
    PACKET_ID_RANGE_LOSSY_CUSTOM, PACKET_ID_RANGE_RESERVED, PACKET_ID_REQUEST, PacketIdKind,
    is_lossy,
};

// ---------------------------------------------------------------------------
// Constants, under their c-toxcore 0.2.18 names (`net_crypto.h`,
// `net_crypto.c`, `network.h`, `crypto_core.h`).
// ---------------------------------------------------------------------------

/// Packet id of a [`CookieRequest`] (`NET_PACKET_COOKIE_REQUEST`).
pub const NET_PACKET_COOKIE_REQUEST: u8 = 0x18;
/// Packet id of a [`CookieResponse`] (`NET_PACKET_COOKIE_RESPONSE`).
pub const NET_PACKET_COOKIE_RESPONSE: u8 = 0x19;
/// Packet id of a [`CryptoHandshake`] (`NET_PACKET_CRYPTO_HS`).
pub const NET_PACKET_CRYPTO_HS: u8 = 0x1a;
/// Packet id of a [`CryptoData`] packet (`NET_PACKET_CRYPTO_DATA`).
pub const NET_PACKET_CRYPTO_DATA: u8 = 0x1b;

/// The first bytes of every packet net_crypto owns (checklist §0): a driver
/// hands exactly these datagrams (and TCP relay payloads starting with
/// them) to net_crypto.
pub const PACKET_IDS: [u8; 4] = [
    NET_PACKET_COOKIE_REQUEST,
    NET_PACKET_COOKIE_RESPONSE,
    NET_PACKET_CRYPTO_HS,
    NET_PACKET_CRYPTO_DATA,
];

/// How long a cookie stays valid, in seconds of the creator's clock
/// (`COOKIE_TIMEOUT`, checklist N3). A handshake must answer a cookie
/// within this time or the cookie's creator refuses it.
pub const COOKIE_TIMEOUT: u64 = 15;

/// Size of the SHA-512 of a cookie a handshake carries
/// (`CRYPTO_SHA512_SIZE`).
pub const CRYPTO_SHA512_SIZE: usize = 64;

/// Size of the opaque echo id a cookie request carries and its response
/// repeats (`sizeof(uint64_t)` in `create_cookie_request`).
pub const ECHO_ID_SIZE: usize = 8;

/// What a cookie identifies: the peer's real and DHT keys
/// (`COOKIE_DATA_LENGTH`).
pub const COOKIE_DATA_LENGTH: usize = 2 * toxide_core::PUBLIC_KEY_SIZE;
/// The plaintext inside a cookie: time and the two keys
/// (`COOKIE_CONTENTS_LENGTH`).
pub const COOKIE_CONTENTS_LENGTH: usize = 8 + COOKIE_DATA_LENGTH;
/// A whole cookie: nonce and sealed contents (`COOKIE_LENGTH`) = 112.
pub const COOKIE_LENGTH: usize =
    toxide_core::NONCE_SIZE + COOKIE_CONTENTS_LENGTH + toxide_core::MAC_SIZE;

/// The plaintext of a cookie request: real key, 32 bytes of padding, echo
/// id (`COOKIE_REQUEST_PLAIN_LENGTH`).
pub const COOKIE_REQUEST_PLAIN_LENGTH: usize = COOKIE_DATA_LENGTH + ECHO_ID_SIZE;
/// A whole cookie request (`COOKIE_REQUEST_LENGTH`) = 145.
pub const COOKIE_REQUEST_LENGTH: usize = 1
    + toxide_core::PUBLIC_KEY_SIZE
    + toxide_core::NONCE_SIZE
    + COOKIE_REQUEST_PLAIN_LENGTH
    + toxide_core::MAC_SIZE;

/// The plaintext of a cookie response: cookie and echo id.
pub const COOKIE_RESPONSE_PLAIN_LENGTH: usize = COOKIE_LENGTH + ECHO_ID_SIZE;
/// A whole cookie response (`COOKIE_RESPONSE_LENGTH`) = 161.
pub const COOKIE_RESPONSE_LENGTH: usize =
    1 + toxide_core::NONCE_SIZE + COOKIE_RESPONSE_PLAIN_LENGTH + toxide_core::MAC_SIZE;

/// The plaintext of a handshake: base nonce, session key, cookie hash and
/// a cookie for the peer.
pub const HANDSHAKE_PLAIN_LENGTH: usize =
    toxide_core::NONCE_SIZE + toxide_core::PUBLIC_KEY_SIZE + CRYPTO_SHA512_SIZE + COOKIE_LENGTH;
/// A whole handshake (`HANDSHAKE_PACKET_LENGTH`) = 385.
pub const HANDSHAKE_PACKET_LENGTH: usize =
    1 + COOKIE_LENGTH + toxide_core::NONCE_SIZE + HANDSHAKE_PLAIN_LENGTH + toxide_core::MAC_SIZE;

/// The largest net_crypto packet either side sends or accepts
/// (`MAX_CRYPTO_PACKET_SIZE`).
pub const MAX_CRYPTO_PACKET_SIZE: usize = 1400;
/// Everything in a data packet that is not packet id + data: packet id,
/// 16-bit nonce, the two u32 counters and the MAC
/// (`CRYPTO_DATA_PACKET_MIN_SIZE` = 27). Despite its name in c-toxcore a
/// data packet must be strictly *longer* than this
/// (`handle_data_packet_core`), hence [`CryptoData::MIN_SIZE`] = 28.
pub const CRYPTO_DATA_PACKET_MIN_SIZE: usize = 1 + 2 + 4 + 4 + toxide_core::MAC_SIZE;
/// The most packet id + data one data packet carries
/// (`MAX_CRYPTO_DATA_SIZE`) = 1373.
pub const MAX_CRYPTO_DATA_SIZE: usize = MAX_CRYPTO_PACKET_SIZE - CRYPTO_DATA_PACKET_MIN_SIZE;
/// The largest plaintext of a data packet: counters, padding, id and data
/// (`MAX_DATA_DATA_PACKET_SIZE`) = 1381.
pub const MAX_DATA_DATA_PACKET_SIZE: usize =
    MAX_CRYPTO_PACKET_SIZE - (1 + 2 + toxide_core::MAC_SIZE);
/// Padding rounds packet id + data up towards a multiple of this, counted
/// down from [`MAX_CRYPTO_DATA_SIZE`] (`CRYPTO_MAX_PADDING`, checklist N7).
pub const CRYPTO_MAX_PADDING: usize = 8;

/// Size of the lossless send and receive windows, in packets
/// (`CRYPTO_PACKET_BUFFER_SIZE`, checklist N9).
pub const CRYPTO_PACKET_BUFFER_SIZE: u32 = 32768;
/// A third of the 16-bit nonce space: how far the saved receive nonce moves
/// at a time (`DATA_NUM_THRESHOLD`, checklist N6; see [`receive_nonce`]).
pub const DATA_NUM_THRESHOLD: u16 = 21845;

/// How often a cookie request or handshake is resent while unanswered
/// (`CRYPTO_SEND_PACKET_INTERVAL`, checklist N1/N4/N5).
pub const CRYPTO_SEND_PACKET_INTERVAL: Duration = Duration::from_millis(1000);
/// How many times a cookie request or handshake is sent before the attempt
/// is given up (`MAX_NUM_SENDPACKET_TRIES`, checklist N5).
pub const MAX_NUM_SENDPACKET_TRIES: u32 = 8;

/// Why a net_crypto packet could not be decoded, opened or built.
///
/// Each variant is one drop reason a session can count. Like the DHT's and
/// the onion's errors these carry sizes and field names, never the peer's
/// bytes, so logging one per bad datagram cannot flood a log with
/// attacker data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetCryptoPacketError {
    /// A zero-length datagram.
    #[error("empty datagram")]
    Empty,
    /// Not a net_crypto packet id.
    #[error("packet id {id:#04x} is not a net_crypto packet")]
    UnknownPacketId {
        /// The first byte.
        id: u8,
    },
    /// Wrong size, wrong id or truncated: found before any cryptography.
    #[error("malformed packet: {0}")]
    Decode(#[from] DecodeError),
    /// A box did not open: wrong key, wrong nonce or altered bytes.
    #[error("box did not open: {0}")]
    Crypto(#[from] CryptoError),
    /// A box opened but its plaintext is malformed (wrong length, a data
    /// plaintext that is only padding). The sender holds a valid key, so
    /// this is a buggy or hostile peer rather than noise.
    #[error("malformed plaintext: {0}")]
    Payload(DecodeError),
    /// A cookie of ours opened but is older than [`COOKIE_TIMEOUT`] or
    /// claims a time after now (checklist N3).
    #[error("cookie expired or from the future")]
    CookieExpired,
    /// A handshake's SHA-512 does not match the cookie it travels with: it
    /// does not answer that cookie (checklist N4).
    #[error("handshake does not answer its cookie (SHA-512 mismatch)")]
    CookieHashMismatch,
    /// A cookie response opened but echoes another request's id: a
    /// replay of an earlier response (checklist N2).
    #[error("cookie response echoes another request")]
    EchoMismatch,
    /// A data plaintext was to start with the padding id 0, which a
    /// receiver would skip as padding.
    #[error("packet id 0 is padding and cannot start a data payload")]
    PaddingPacketId,
    /// Something we were asked to build would be outside the sizes a
    /// c-toxcore receiver accepts, so it would only be dropped there.
    #[error("{what}: {len} bytes outside the sendable {min}..={max}")]
    Unsendable {
        /// The field being built.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The smallest acceptable length.
        min: usize,
        /// The largest acceptable length.
        max: usize,
    },
}

/// Any net_crypto packet, as it arrives over UDP or a TCP relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// 0x18.
    CookieRequest(CookieRequest),
    /// 0x19.
    CookieResponse(CookieResponse),
    /// 0x1a.
    CryptoHandshake(CryptoHandshake),
    /// 0x1b.
    CryptoData(CryptoData),
}

impl Packet {
    /// Decodes a datagram by its first byte. Sizes and ids only: nothing
    /// is opened.
    pub fn decode(bytes: &[u8]) -> Result<Self, NetCryptoPacketError> {
        let &id = bytes.first().ok_or(NetCryptoPacketError::Empty)?;
        Ok(match id {
            NET_PACKET_COOKIE_REQUEST => Self::CookieRequest(CookieRequest::from_bytes(bytes)?),
            NET_PACKET_COOKIE_RESPONSE => Self::CookieResponse(CookieResponse::from_bytes(bytes)?),
            NET_PACKET_CRYPTO_HS => Self::CryptoHandshake(CryptoHandshake::from_bytes(bytes)?),
            NET_PACKET_CRYPTO_DATA => Self::CryptoData(CryptoData::from_bytes(bytes)?),
            id => return Err(NetCryptoPacketError::UnknownPacketId { id }),
        })
    }

    /// The packet id.
    pub const fn id(&self) -> u8 {
        match self {
            Self::CookieRequest(_) => NET_PACKET_COOKIE_REQUEST,
            Self::CookieResponse(_) => NET_PACKET_COOKIE_RESPONSE,
            Self::CryptoHandshake(_) => NET_PACKET_CRYPTO_HS,
            Self::CryptoData(_) => NET_PACKET_CRYPTO_DATA,
        }
    }
}

impl Encode for Packet {
    fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Self::CookieRequest(p) => p.encode(buf),
            Self::CookieResponse(p) => p.encode(buf),
            Self::CryptoHandshake(p) => p.encode(buf),
            Self::CryptoData(p) => p.encode(buf),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::CookieRequest(p) => p.encoded_len(),
            Self::CookieResponse(p) => p.encoded_len(),
            Self::CryptoHandshake(p) => p.encoded_len(),
            Self::CryptoData(p) => p.encoded_len(),
        }
    }
}

/// Decodes what a box opened to (or passes on why it did not open): the
/// one step every sealed packet here ends with.
pub(crate) fn open_payload<P: Decode>(
    opened: Result<Vec<u8>, CryptoError>,
) -> Result<P, NetCryptoPacketError> {
    P::from_bytes(&opened?).map_err(NetCryptoPacketError::Payload)
}

/// The counter a box-opening error belongs in: a box that did not open
/// (`undecryptable`) or anything else (`malformed`), as the onion counts
/// its drops.
pub fn drop_counter<'a>(
    error: &NetCryptoPacketError,
    undecryptable: &'a mut u64,
    malformed: &'a mut u64,
) -> &'a mut u64 {
    match error {
        NetCryptoPacketError::Crypto(_) => undecryptable,
        _ => malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::{PEERS, garbage};
    use toxide_core::{Nonce, PublicKey, SymmetricKey};

    #[test]
    fn sizes_are_ctoxcores() {
        assert_eq!(COOKIE_LENGTH, 112);
        assert_eq!(COOKIE_REQUEST_LENGTH, 145);
        assert_eq!(COOKIE_RESPONSE_LENGTH, 161);
        assert_eq!(HANDSHAKE_PACKET_LENGTH, 385);
        assert_eq!(CRYPTO_DATA_PACKET_MIN_SIZE, 27);
        assert_eq!(MAX_CRYPTO_DATA_SIZE, 1373);
        assert_eq!(MAX_DATA_DATA_PACKET_SIZE, 1381);
        assert_eq!(u32::from(DATA_NUM_THRESHOLD), 65535 / 3);
    }

    fn samples() -> Vec<Packet> {
        let p = &*PEERS;
        let cookie = Cookie::seal(
            &SymmetricKey::from_bytes(&[1; 32]),
            Nonce::new([2; 24]),
            &CookieContents {
                time: 3,
                real_pk: PublicKey::new([4; 32]),
                dht_pk: PublicKey::new([5; 32]),
            },
        );
        vec![
            Packet::CookieRequest(CookieRequest::new(
                &p.alice_bob,
                p.alice.public,
                Nonce::new([6; 24]),
                &CookieRequestPayload {
                    real_pk: PublicKey::new([7; 32]),
                    echo_id: 8,
                },
            )),
            Packet::CookieResponse(CookieResponse::new(
                &p.bob_alice,
                Nonce::new([9; 24]),
                &CookieResponsePayload {
                    cookie: cookie.clone(),
                    echo_id: 8,
                },
            )),
            Packet::CryptoHandshake(CryptoHandshake::new(
                &p.alice_bob,
                cookie.clone(),
                Nonce::new([10; 24]),
                &HandshakePayload::answering(
                    &cookie,
                    Nonce::new([11; 24]),
                    PublicKey::new([12; 32]),
                    cookie.clone(),
                ),
            )),
            Packet::CryptoData(CryptoData::seal(
                &p.alice_bob,
                &Nonce::new([13; 24]),
                &DataPlaintext::new(1, 2, vec![PACKET_ID_KILL]).unwrap(),
            )),
        ]
    }

    #[test]
    fn dispatch_round_trips_every_kind() {
        for packet in samples() {
            let bytes = packet.to_bytes();
            assert_eq!(bytes.len(), packet.encoded_len());
            assert_eq!(bytes[0], packet.id());
            assert_eq!(Packet::decode(&bytes), Ok(packet));
        }
    }

    #[test]
    fn other_ids_are_not_ours() {
        for id in [0x00, 0x17, 0x1c, 0x20, 0x80, 0xff] {
            assert!(!PACKET_IDS.contains(&id));
            assert_eq!(
                Packet::decode(&[id; 200]),
                Err(NetCryptoPacketError::UnknownPacketId { id })
            );
        }
        assert_eq!(Packet::decode(&[]), Err(NetCryptoPacketError::Empty));
    }

    #[test]
    fn drop_counter_separates_crypto_failures() {
        let (mut undecryptable, mut malformed) = (0, 0);
        *drop_counter(
            &NetCryptoPacketError::Crypto(CryptoError::AuthenticationFailed),
            &mut undecryptable,
            &mut malformed,
        ) += 1;
        *drop_counter(
            &NetCryptoPacketError::CookieExpired,
            &mut undecryptable,
            &mut malformed,
        ) += 1;
        assert_eq!((undecryptable, malformed), (1, 1));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in garbage(1500), id in proptest::sample::select(PACKET_IDS.to_vec())) {
            let _ = Packet::decode(&bytes);
            let mut with_id = bytes;
            if let Some(first) = with_id.first_mut() {
                *first = id;
            }
            if let Ok(packet) = Packet::decode(&with_id) {
                // Ciphertext is held, so nothing is lost or invented.
                prop_assert_eq!(packet.to_bytes(), with_id);
            }
        }

        /// Garbage of exactly the right size decodes (nothing is checked
        /// before a key is at hand) but never opens.
        #[test]
        fn exact_size_garbage_never_opens(bytes in proptest::collection::vec(any::<u8>(), 1400), saved in toxide_core::testing::arb_nonce()) {
            let p = &*PEERS;
            let cookie_key = SymmetricKey::from_bytes(&[1; 32]);
            for (id, len) in [
                (NET_PACKET_COOKIE_REQUEST, COOKIE_REQUEST_LENGTH),
                (NET_PACKET_COOKIE_RESPONSE, COOKIE_RESPONSE_LENGTH),
                (NET_PACKET_CRYPTO_HS, HANDSHAKE_PACKET_LENGTH),
                (NET_PACKET_CRYPTO_DATA, CryptoData::MIN_SIZE),
                (NET_PACKET_CRYPTO_DATA, MAX_CRYPTO_PACKET_SIZE),
            ] {
                let mut datagram = bytes[..len].to_vec();
                datagram[0] = id;
                let packet = Packet::decode(&datagram).unwrap();
                prop_assert_eq!(packet.encoded_len(), len);
                let opened = match packet {
                    Packet::CookieRequest(r) => r.open(&p.bob_alice).map(drop),
                    Packet::CookieResponse(r) => r.open(&p.bob_alice).map(drop),
                    Packet::CryptoHandshake(h) => h
                        .cookie
                        .open(&cookie_key)
                        .map(drop)
                        .and(h.open(&p.bob_alice).map(drop)),
                    Packet::CryptoData(d) => {
                        let mut s = saved;
                        d.open_with_saved(&p.bob_alice, &mut s).map(drop)
                    }
                };
                prop_assert!(matches!(opened, Err(NetCryptoPacketError::Crypto(_))));
            }
        }
    }
}
