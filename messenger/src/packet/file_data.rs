//! File data (82): one chunk of a file transfer.
//!
//! Checklist M11; spec "Messenger", `FILE_DATA`; c-toxcore
//! `send_file_data_packet`, `send_file_data` and `m_handle_packet` in
//! `Messenger.c`.
//!
//! | bytes     | field                                              |
//! |-----------|----------------------------------------------------|
//! | 1         | `0x52`                                             |
//! | 1         | file number: the sender's sending slot             |
//! | 0..=1371  | chunk ([`MAX_FILE_DATA_SIZE`])                     |
//!
//! There is no offset: chunks are lossless and in order, so each follows
//! the last. A chunk shorter than [`MAX_FILE_DATA_SIZE`] ends a transfer
//! of unknown size, and an empty one is how a 0-byte file (or a stream)
//! ends, so empty chunks are valid packets. The sender sends these with
//! congestion control, unlike the other messenger packets.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{MAX_FILE_DATA_SIZE, PACKET_ID_FILE_DATA, PacketError};

/// A file data packet, built with [`FileData::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    file_number: u8,
    data: Vec<u8>,
}

impl FileData {
    /// A chunk of the file we send in slot `file_number`; refuses a chunk
    /// over [`MAX_FILE_DATA_SIZE`], which does not fit a data packet.
    pub fn new(file_number: u8, data: Vec<u8>) -> Result<Self, PacketError> {
        super::check_len("file chunk", data.len(), 0, MAX_FILE_DATA_SIZE)?;
        Ok(Self { file_number, data })
    }

    /// The sender's sending slot.
    pub const fn file_number(&self) -> u8 {
        self.file_number
    }

    /// The chunk (may be empty).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The chunk, by value.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

impl Encode for FileData {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_FILE_DATA);
        buf.put_u8(self.file_number);
        buf.put_slice(&self.data);
    }

    fn encoded_len(&self) -> usize {
        2 + self.data.len()
    }
}

impl Decode for FileData {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining("file data", 2, 2 + MAX_FILE_DATA_SIZE)?;
        reader.expect_u8("file data", PACKET_ID_FILE_DATA)?;
        Ok(Self {
            file_number: reader.u8("file number")?,
            data: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb() -> impl Strategy<Value = FileData> {
        (
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_FILE_DATA_SIZE),
        )
            .prop_map(|(n, data)| FileData::new(n, data).unwrap())
    }

    #[test]
    fn layout_and_length_boundaries_1371_and_1372() {
        assert_eq!(FileData::new(4, vec![]).unwrap().to_bytes(), [0x52, 4]);
        assert_eq!(FileData::from_bytes(&[0x52, 4, 9]).unwrap().data(), [9]);
        assert!(FileData::from_bytes(&[0x52]).is_err());
        let full = FileData::new(4, vec![7; 1371]).unwrap();
        let bytes = full.to_bytes();
        assert_eq!(bytes.len(), 1373);
        assert_eq!(FileData::from_bytes(&bytes), Ok(full));
        assert!(matches!(
            FileData::new(4, vec![7; 1372]),
            Err(PacketError::Unsendable {
                len: 1372,
                max: 1371,
                ..
            })
        ));
        let mut long = bytes;
        long.push(7);
        assert!(FileData::from_bytes(&long).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(FileData::from_bytes(&packet.to_bytes()), Ok(packet));
        }
    }
}
