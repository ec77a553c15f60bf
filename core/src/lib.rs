//! The bottom of the toxide stack: what every Tox layer shares.
//!
//! The DHT, the onion, net_crypto, the TCP relay and the messenger all speak
//! in the same few primitives: X25519 key pairs, NaCl `crypto_box` with a
//! precomputed shared key, 24-byte nonces that count big-endian, a strict
//! big-endian binary codec, the "packed node" address format, the Tox ID a
//! user hands to a friend and the body of the friend request sent to it
//! (which two layers carry). They live here, free of I/O, clocks and hidden
//! randomness: every function that needs randomness takes the caller's
//! [`CryptoRng`], so a seeded run replays exactly.
//!
//! Wire facts follow c-toxcore 0.2.18 where it and the Tox spec disagree
//! (see `shared/protocol-checklist.md`, layer L1).

pub mod codec;
pub mod crypto;
pub mod friend_request;
mod hex;
pub mod ip_port;
pub mod keys;
pub mod nonce;
pub mod packed_node;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timed_auth;
pub mod tox_id;

pub use codec::{Decode, DecodeError, Encode, Reader};
pub use crypto::{CryptoError, MAC_SIZE, SharedKey, SymmetricKey};
pub use friend_request::{FriendRequestPayload, RecentRequests};
pub use hex::HexError;
pub use ip_port::IpPort;
pub use keys::{KeyPair, PUBLIC_KEY_SIZE, PublicKey, SECRET_KEY_SIZE, SecretKey};
pub use nonce::{NONCE_SIZE, Nonce};
pub use packed_node::{PackedNode, TransportProtocol};
pub use timed_auth::{TIMED_AUTH_SIZE, TimedAuth};
pub use tox_id::{NoSpam, TOX_ID_SIZE, ToxId, ToxIdError};

/// The randomness every layer takes from its caller.
///
/// A re-export so that layers above name one trait; tests pass a seeded
/// `rand_chacha::ChaCha20Rng`, drivers pass the operating system's RNG.
pub use rand::CryptoRng;
