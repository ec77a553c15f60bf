//! Bootstrap info response (0xf0): a bootstrap daemon's version and message
//! of the day.
//!
//! Wire layout (spec "DHT Bootstrap Info (0xf0)"; checklist D14; c-toxcore
//! `handle_info_request` and `bootstrap_set_callbacks` in
//! `other/bootstrap_node_packets.c`):
//!
//! | bytes    | field                                              |
//! |----------|----------------------------------------------------|
//! | 1        | `0xf0`                                             |
//! | 4        | version, big-endian (`net_htonl`)                  |
//! | 0..=256  | message of the day, as many bytes as configured    |
//!
//! So 5..=261 bytes ([`BOOTSTRAP_INFO_RESPONSE_MAX_SIZE`]). The spec's
//! table shows a fixed 256-byte MOTD; c-toxcore sends only the configured
//! bytes (`MAX_MOTD_LENGTH` = 256 is the limit). Both of its senders
//! include the C string's terminating NUL: tox-bootstrapd passes
//! `strlen(motd) + 1` after cutting the text to 255 bytes (`config.c`),
//! and `DHT_bootstrap` passes `sizeof` of a string literal.
//! [`BootstrapInfoResponse::from_text`] does the same. tox-bootstrapd's
//! version is `1_000_000_000 + major * 1_000_000 + minor * 1_000 + patch`.
//!
//! The id is shared with the request; [`Packet`](super::Packet) tells them
//! apart by length as a bootstrap node does (78 bytes is a request). So a
//! 73-byte MOTD (72 characters and the NUL) would make a response that
//! every node reads as a request, and two such nodes would answer one
//! spoofed request to each other forever. [`BootstrapInfoResponse::new`]
//! refuses that size; [`BootstrapInfoResponse::from_text`] pads such a
//! text with a second NUL, which clients reading a C string never see.

use std::borrow::Cow;

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::DhtPacketError;
use super::bootstrap_info_request::{BOOTSTRAP_INFO_REQUEST_SIZE, BootstrapInfoRequest};

/// The longest message of the day, terminating NUL included
/// (`MAX_MOTD_LENGTH`).
pub const MAX_MOTD_SIZE: usize = 256;
/// The MOTD size (NUL included) whose response would be exactly a
/// request's size.
pub const AMBIGUOUS_MOTD_SIZE: usize =
    BOOTSTRAP_INFO_REQUEST_SIZE - BOOTSTRAP_INFO_RESPONSE_MIN_SIZE;
/// The shortest response: id and version.
pub const BOOTSTRAP_INFO_RESPONSE_MIN_SIZE: usize = 1 + 4;
/// The longest response.
pub const BOOTSTRAP_INFO_RESPONSE_MAX_SIZE: usize =
    BOOTSTRAP_INFO_RESPONSE_MIN_SIZE + MAX_MOTD_SIZE;

/// A bootstrap daemon's answer. Fields are private so the MOTD cannot
/// exceed [`MAX_MOTD_SIZE`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BootstrapInfoResponse {
    version: u32,
    motd: Vec<u8>,
}

impl BootstrapInfoResponse {
    /// The packet id, shared with [`BootstrapInfoRequest`].
    pub const ID: u8 = BootstrapInfoRequest::ID;

    /// A response carrying exactly the `motd` bytes given; refused if it
    /// would be the size of a request ([`AMBIGUOUS_MOTD_SIZE`]).
    pub fn new(version: u32, motd: Vec<u8>) -> Result<Self, DhtPacketError> {
        if motd.len() == AMBIGUOUS_MOTD_SIZE {
            return Err(DhtPacketError::AmbiguousSize {
                what: "bootstrap info response",
                len: BOOTSTRAP_INFO_REQUEST_SIZE,
            });
        }
        if motd.len() > MAX_MOTD_SIZE {
            return Err(DhtPacketError::Unsendable {
                what: "bootstrap info MOTD",
                len: motd.len(),
                min: 0,
                max: MAX_MOTD_SIZE,
            });
        }
        Ok(Self { version, motd })
    }

    /// A response as tox-bootstrapd builds it: the text cut to 255 bytes
    /// (at a character boundary, where tox-bootstrapd cuts at any byte)
    /// and a terminating NUL.
    pub fn from_text(version: u32, text: &str) -> Self {
        let mut end = text.len().min(MAX_MOTD_SIZE - 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut motd = text.as_bytes().get(..end).unwrap_or_default().to_vec();
        motd.push(0);
        if motd.len() == AMBIGUOUS_MOTD_SIZE {
            motd.push(0);
        }
        Self { version, motd }
    }

    /// The daemon's version number.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The MOTD bytes as received, usually ending in a NUL.
    pub fn motd(&self) -> &[u8] {
        &self.motd
    }

    /// The MOTD up to its first NUL, invalid UTF-8 replaced.
    pub fn motd_text(&self) -> Cow<'_, str> {
        let text = self.motd.split(|&b| b == 0).next().unwrap_or_default();
        String::from_utf8_lossy(text)
    }
}

impl Encode for BootstrapInfoResponse {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(Self::ID);
        buf.put_u32(self.version);
        buf.put_slice(&self.motd);
    }
    fn encoded_len(&self) -> usize {
        BOOTSTRAP_INFO_RESPONSE_MIN_SIZE + self.motd.len()
    }
}

impl Decode for BootstrapInfoResponse {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let what = "bootstrap info response";
        reader.expect_remaining(
            what,
            BOOTSTRAP_INFO_RESPONSE_MIN_SIZE,
            BOOTSTRAP_INFO_RESPONSE_MAX_SIZE,
        )?;
        reader.expect_u8(what, Self::ID)?;
        let version = reader.u32_be("bootstrap version")?;
        let motd = reader.rest().to_vec();
        Ok(Self { version, motd })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::garbage;
    use proptest::prelude::*;

    #[test]
    fn layout_matches_tox_bootstrapd() {
        let bytes = BootstrapInfoResponse::from_text(1_000_002_018, "hi").to_bytes();
        assert_eq!(bytes, [0xf0, 0x3b, 0x9a, 0xd1, 0xe2, b'h', b'i', 0]);
    }

    #[test]
    fn motd_is_cut_to_255_bytes_plus_nul() {
        let long = "é".repeat(200);
        let response = BootstrapInfoResponse::from_text(1, &long);
        assert_eq!(
            response.motd().len(),
            255,
            "254 bytes of whole characters and a NUL"
        );
        assert_eq!(response.motd_text(), "é".repeat(127));
        let ascii = BootstrapInfoResponse::from_text(1, &"a".repeat(300));
        assert_eq!(ascii.to_bytes().len(), 261);
        assert!(BootstrapInfoResponse::new(1, vec![b'a'; 257]).is_err());
    }

    #[test]
    fn no_response_is_the_size_of_a_request() {
        // Before: a 72-character MOTD made a 78-byte response, which
        // every node (toxide's and c-toxcore's) takes for a request.
        assert!(matches!(
            BootstrapInfoResponse::new(1, vec![b'a'; AMBIGUOUS_MOTD_SIZE]),
            Err(DhtPacketError::AmbiguousSize { len: 78, .. })
        ));
        for len in 0..300 {
            let bytes = BootstrapInfoResponse::from_text(1, &"m".repeat(len)).to_bytes();
            assert_ne!(bytes.len(), BOOTSTRAP_INFO_REQUEST_SIZE, "{len}");
        }
        let padded = BootstrapInfoResponse::from_text(1, &"m".repeat(72));
        assert_eq!(padded.motd_text(), "m".repeat(72));
        assert_eq!(padded.to_bytes().len(), 79);
    }

    #[test]
    fn lengths_outside_5_to_261_are_refused() {
        for len in [0, 1, 4, 262] {
            assert!(matches!(
                BootstrapInfoResponse::from_bytes(&vec![0xf0; len]),
                Err(DecodeError::BadLength {
                    min: 5,
                    max: 261,
                    ..
                })
            ));
        }
    }

    proptest! {
        #[test]
        fn round_trips(version in any::<u32>(), motd in proptest::collection::vec(any::<u8>(), 0..=MAX_MOTD_SIZE)
                .prop_filter("a request's size", |m| m.len() != AMBIGUOUS_MOTD_SIZE)) {
            let response = BootstrapInfoResponse::new(version, motd).unwrap();
            prop_assert_eq!(BootstrapInfoResponse::from_bytes(&response.to_bytes()), Ok(response));
        }

        #[test]
        fn text_round_trips(text in "[^\u{0}]{0,80}") {
            let response = BootstrapInfoResponse::from_text(7, &text);
            prop_assert_eq!(response.motd_text(), text);
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(300)) {
            if let Ok(response) = BootstrapInfoResponse::from_bytes(&bytes) {
                prop_assert_eq!(response.to_bytes(), bytes);
                let _ = response.motd_text();
            }
        }
    }
}
