//! Bootstrap info request (0xf0): "which version are you, and what is your
//! message of the day?".
//!
//! Sent by node-list checkers to bootstrap daemons, never by c-toxcore
//! itself. Wire layout (spec "DHT Bootstrap Info (0xf0)"; checklist D14;
//! c-toxcore `handle_info_request` in `other/bootstrap_node_packets.c`):
//!
//! | bytes | field                                     |
//! |-------|-------------------------------------------|
//! | 1     | `0xf0`                                    |
//! | 77    | padding: we send zeros, nobody reads them |
//!
//! Exactly [`BOOTSTRAP_INFO_REQUEST_SIZE`] = 78 bytes
//! (`INFO_REQUEST_PACKET_LENGTH`). The request is padded so that the
//! answer (at most 261 bytes) amplifies a spoofed request little. c-toxcore
//! checks only the length, so the padding is accepted whatever it holds;
//! re-encoding a decoded request therefore yields zeros there.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

/// Size of a bootstrap info request.
pub const BOOTSTRAP_INFO_REQUEST_SIZE: usize = 78;

/// A bootstrap info request. It carries nothing but its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BootstrapInfoRequest;

impl BootstrapInfoRequest {
    /// The packet id (`BOOTSTRAP_INFO_PACKET_ID`), shared with the response.
    pub const ID: u8 = 0xf0;
}

impl Encode for BootstrapInfoRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(Self::ID);
        buf.put_bytes(0, BOOTSTRAP_INFO_REQUEST_SIZE - 1);
    }
    fn encoded_len(&self) -> usize {
        BOOTSTRAP_INFO_REQUEST_SIZE
    }
}

impl Decode for BootstrapInfoRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let what = "bootstrap info request";
        reader.expect_remaining(
            what,
            BOOTSTRAP_INFO_REQUEST_SIZE,
            BOOTSTRAP_INFO_REQUEST_SIZE,
        )?;
        reader.expect_u8(what, Self::ID)?;
        let _padding = reader.rest();
        Ok(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::garbage;
    use proptest::prelude::*;

    #[test]
    fn layout_is_0xf0_and_77_zeros() {
        let bytes = BootstrapInfoRequest.to_bytes();
        assert_eq!(bytes.len(), 78);
        assert_eq!(bytes[0], 0xf0);
        assert!(bytes[1..].iter().all(|&b| b == 0));
    }

    #[test]
    fn only_78_bytes_are_a_request() {
        for len in [0, 1, 5, 77, 79, 261] {
            assert!(matches!(
                BootstrapInfoRequest::from_bytes(&vec![0xf0; len]),
                Err(DecodeError::BadLength {
                    min: 78,
                    max: 78,
                    ..
                })
            ));
        }
        let mut other_id = vec![0; 78];
        other_id[0] = 0xf1;
        assert!(BootstrapInfoRequest::from_bytes(&other_id).is_err());
    }

    proptest! {
        #[test]
        fn any_padding_is_accepted(padding in any::<[u8; 77]>()) {
            let mut bytes = vec![0xf0];
            bytes.extend_from_slice(&padding);
            prop_assert_eq!(BootstrapInfoRequest::from_bytes(&bytes), Ok(BootstrapInfoRequest));
        }

        #[test]
        fn round_trips_and_garbage_never_panics(bytes in garbage(100)) {
            prop_assert_eq!(
                BootstrapInfoRequest::from_bytes(&BootstrapInfoRequest.to_bytes()),
                Ok(BootstrapInfoRequest)
            );
            let decoded = BootstrapInfoRequest::from_bytes(&bytes);
            prop_assert_eq!(decoded.is_ok(), bytes.len() == 78 && bytes.first() == Some(&0xf0));
        }
    }
}
