//! Tox net_crypto: the encrypted session between two friends that carries
//! everything a messenger sends (spec "Net crypto", checklist L4).
//!
//! Two parties that know each other's long-term ("real") key and DHT key
//! trade cookies (stateless on the responder's side), then handshakes that
//! each carry a fresh session key; from then on data packets are sealed
//! under the session keys with a 16-bit nonce on the wire, and lossless
//! packets are numbered, acknowledged and re-requested.
//!
//! - [`packet`]: the wire packets (cookie request/response, cookie,
//!   handshake, data) and the plaintext framing inside data packets.
//! - [`lossless`]: the send and receive windows, request packets and the
//!   acknowledgement point the messenger builds receipts on.
//!
//! Like every protocol crate here, nothing owns a socket, a clock or a
//! task: time and randomness are the caller's.

pub mod lossless;
pub mod packet;
