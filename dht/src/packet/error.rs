//! Why a DHT datagram was dropped.

use thiserror::Error;
use toxide_core::{CryptoError, DecodeError};

/// Why a DHT packet could not be decoded, opened or built.
///
/// Each variant is one drop reason a node can count. None of them carries
/// the peer's bytes: only sizes, small tags and field names, so logging one
/// per bad datagram cannot be turned into a log-flooding channel.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DhtPacketError {
    /// A zero-length datagram.
    #[error("empty datagram")]
    Empty,
    /// The first byte is not a packet id the DHT handles. The composite that
    /// owns the socket dispatches other layers' ids before reaching here, so
    /// this is a foreign or junk datagram.
    #[error("packet id {id:#04x} is not a DHT packet")]
    UnknownPacketId {
        /// The first byte of the datagram.
        id: u8,
    },
    /// The outer (cleartext) packet is malformed: wrong length, wrong id,
    /// truncated. Detected before any cryptography.
    #[error("malformed packet: {0}")]
    Decode(#[from] DecodeError),
    /// The box did not open: wrong key, wrong nonce or altered bytes.
    #[error("box did not open: {0}")]
    Crypto(#[from] CryptoError),
    /// The box opened but the plaintext is malformed. The sender holds a
    /// valid key, so this is a buggy or hostile peer rather than noise.
    #[error("malformed payload: {0}")]
    Payload(DecodeError),
    /// The type byte inside the box does not match the outer packet id:
    /// someone reflected a request back as a response (or the reverse).
    #[error("payload type {found} inside a packet of id {expected}")]
    WrongInnerType {
        /// The outer packet id, which the payload must repeat.
        expected: u8,
        /// The type byte found inside the box.
        found: u8,
    },
    /// A DHT request (0x20) carried a request type c-toxcore does not
    /// handle over the DHT (friend requests, type 32, travel only through
    /// the onion).
    #[error("DHT request type {kind} is not handled")]
    UnsupportedRequestType {
        /// The request type byte.
        kind: u8,
    },
    /// A nodes response was to carry a TCP relay address; the DHT hands
    /// out UDP nodes only and c-toxcore refuses TCP families there.
    #[error("nodes responses carry UDP nodes only")]
    TcpNodeInResponse,
    /// A packet we were asked to build would be outside the sizes a
    /// c-toxcore receiver accepts, so it would only be dropped there.
    #[error("{what}: {len} bytes outside the sendable {min}..={max}")]
    Unsendable {
        /// The field or packet being built.
        what: &'static str,
        /// Its length (or item count).
        len: usize,
        /// The smallest acceptable length.
        min: usize,
        /// The largest acceptable length.
        max: usize,
    },
    /// A packet we were asked to build would have the size of another
    /// packet sharing its id, and be taken for it.
    #[error("{what} of {len} bytes would be read as another packet")]
    AmbiguousSize {
        /// The packet being built.
        what: &'static str,
        /// Its size.
        len: usize,
    },
}
