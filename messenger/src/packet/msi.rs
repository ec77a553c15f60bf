//! MSI (69): ToxAV call signalling, carried opaquely.
//!
//! Checklist M15; spec "Messenger", `MSI`; c-toxcore `m_msi_packet` and
//! `m_handle_packet` in `Messenger.c`, parsed by `toxav/msi.c`.
//!
//! | bytes    | field                                                |
//! |----------|------------------------------------------------------|
//! | 1        | `0x45`                                               |
//! | 1..=1372 | MSI data: `(header id, length, value)…` then a 0 end |
//!
//! The messenger passes the data to ToxAV's handler only when it is not
//! empty; a client may also send id 69 with `tox_friend_send_lossless_packet`,
//! but the receiver's custom-packet callback never sees it. The MSI
//! headers are left to a later AV layer.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{MAX_CRYPTO_DATA_SIZE, PACKET_ID_MSI, PacketError};

/// An MSI packet, built with [`Msi::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msi {
    data: Vec<u8>,
}

impl Msi {
    /// A packet carrying MSI `data`; refuses empty data (dropped by
    /// c-toxcore) and data that does not fit a data packet.
    pub fn new(data: Vec<u8>) -> Result<Self, PacketError> {
        super::check_len("MSI data", data.len(), 1, MAX_CRYPTO_DATA_SIZE - 1)?;
        Ok(Self { data })
    }

    /// The MSI data after the id.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The data, by value.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

impl Encode for Msi {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_MSI);
        buf.put_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        1 + self.data.len()
    }
}

impl Decode for Msi {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining("MSI", 2, MAX_CRYPTO_DATA_SIZE)?;
        reader.expect_u8("MSI", PACKET_ID_MSI)?;
        Ok(Self {
            data: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb() -> impl Strategy<Value = Msi> {
        proptest::collection::vec(any::<u8>(), 1..MAX_CRYPTO_DATA_SIZE)
            .prop_map(|data| Msi::new(data).unwrap())
    }

    #[test]
    fn empty_data_is_refused() {
        assert!(Msi::from_bytes(&[69]).is_err());
        assert!(Msi::new(vec![]).is_err());
        assert_eq!(Msi::new(vec![0]).unwrap().to_bytes(), [69, 0]);
        assert!(Msi::new(vec![1; 1372]).is_ok());
        assert!(Msi::new(vec![1; 1373]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(Msi::from_bytes(&packet.to_bytes()), Ok(packet));
        }
    }
}
