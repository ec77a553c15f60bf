//! Tests across the pieces: request bodies from a receive window read back
//! on the send side, garbage that must not panic, and two endpoints
//! exchanging a stream over a lossy, duplicating, reordering link.

mod props;
mod sim;
