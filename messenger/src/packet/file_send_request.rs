//! File send request (80): "may I send you this file?".
//!
//! Checklist M9 (and M12 for avatars); spec "Messenger",
//! `FILE_SENDREQUEST`; c-toxcore `file_sendrequest` and `m_handle_packet`
//! in `Messenger.c`, `TOX_FILE_KIND` in `tox.h`.
//!
//! | bytes  | field                                                    |
//! |--------|----------------------------------------------------------|
//! | 1      | `0x50`                                                   |
//! | 1      | file number: the sender's sending slot, 0..=255          |
//! | 4      | file kind, u32 big-endian (`net_htonl`): 0 data, 1 avatar |
//! | 8      | file size, u64 big-endian (`net_pack_u64`); `u64::MAX` = unknown |
//! | 32     | file id ([`FILE_ID_LENGTH`])                             |
//! | 0..=255| file name ([`MAX_FILENAME_LENGTH`])                      |
//!
//! So 46..=301 bytes. The receiver drops a shorter packet or a longer
//! name; every file number fits its 256 slots. The kind is passed to the
//! client as-is: tox.h asks clients to treat unknown kinds as data, so an
//! unknown kind is valid here. For an avatar the file id is the image's
//! hash and size 0 means "no avatar" (a client convention).

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{FILE_ID_LENGTH, MAX_FILENAME_LENGTH, PACKET_ID_FILE_SENDREQUEST, PacketError};

/// File kind: ordinary data (`TOX_FILE_KIND_DATA`, `FILEKIND_DATA`).
pub const FILEKIND_DATA: u32 = 0;
/// File kind: the sender's avatar (`TOX_FILE_KIND_AVATAR`,
/// `FILEKIND_AVATAR`).
pub const FILEKIND_AVATAR: u32 = 1;
/// The file size that means "unknown, streaming" (`UINT64_MAX` in tox.h):
/// such a transfer ends with a chunk shorter than a full one.
pub const FILESIZE_UNKNOWN: u64 = u64::MAX;

/// Everything before the file name, id excluded.
const HEAD_LENGTH: usize = 1 + 4 + 8 + FILE_ID_LENGTH;

/// A file send request, built with [`FileSendRequest::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSendRequest {
    file_number: u8,
    file_kind: u32,
    file_size: u64,
    file_id: [u8; FILE_ID_LENGTH],
    file_name: Vec<u8>,
}

impl FileSendRequest {
    /// A request offering a file; refuses a name over
    /// [`MAX_FILENAME_LENGTH`] (the receiver drops it).
    pub fn new(
        file_number: u8,
        file_kind: u32,
        file_size: u64,
        file_id: [u8; FILE_ID_LENGTH],
        file_name: Vec<u8>,
    ) -> Result<Self, PacketError> {
        super::check_len("file name", file_name.len(), 0, MAX_FILENAME_LENGTH)?;
        Ok(Self {
            file_number,
            file_kind,
            file_size,
            file_id,
            file_name,
        })
    }

    /// The sender's sending slot; the receiver files it under its
    /// receiving slot of the same number.
    pub const fn file_number(&self) -> u8 {
        self.file_number
    }

    /// [`FILEKIND_DATA`], [`FILEKIND_AVATAR`] or a kind this side does
    /// not know (to be treated as data).
    pub const fn file_kind(&self) -> u32 {
        self.file_kind
    }

    /// The size in bytes, or [`FILESIZE_UNKNOWN`].
    pub const fn file_size(&self) -> u64 {
        self.file_size
    }

    /// The file id: random, or the hash of an avatar.
    pub const fn file_id(&self) -> &[u8; FILE_ID_LENGTH] {
        &self.file_id
    }

    /// The file name, as sent (may be empty; not checked for UTF-8).
    pub fn file_name(&self) -> &[u8] {
        &self.file_name
    }
}

impl Encode for FileSendRequest {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_FILE_SENDREQUEST);
        buf.put_u8(self.file_number);
        buf.put_u32(self.file_kind);
        buf.put_u64(self.file_size);
        buf.put_slice(&self.file_id);
        buf.put_slice(&self.file_name);
    }

    fn encoded_len(&self) -> usize {
        1 + HEAD_LENGTH + self.file_name.len()
    }
}

impl Decode for FileSendRequest {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "file send request";
        reader.expect_remaining(NAME, 1 + HEAD_LENGTH, 1 + HEAD_LENGTH + MAX_FILENAME_LENGTH)?;
        reader.expect_u8(NAME, PACKET_ID_FILE_SENDREQUEST)?;
        Ok(Self {
            file_number: reader.u8("file number")?,
            file_kind: reader.u32_be("file kind")?,
            file_size: reader.u64_be("file size")?,
            file_id: reader.array("file id")?,
            file_name: reader.rest().to_vec(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb() -> impl Strategy<Value = FileSendRequest> {
        (
            any::<u8>(),
            any::<u32>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_FILENAME_LENGTH),
        )
            .prop_map(|(number, kind, size, id, name)| {
                FileSendRequest::new(number, kind, size, id, name).unwrap()
            })
    }

    #[test]
    fn layout_matches_hand_built_bytes() {
        let mut bytes = vec![
            0x50, // id
            7,    // file number
            0x00, 0x00, 0x00, 0x01, // kind 1 (avatar), big-endian
            0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, // size 0x0102030405
        ];
        bytes.extend_from_slice(&[0xab; 32]);
        bytes.extend_from_slice(b"cat.png");
        let packet = FileSendRequest::from_bytes(&bytes).unwrap();
        assert_eq!(packet.file_number(), 7);
        assert_eq!(packet.file_kind(), FILEKIND_AVATAR);
        assert_eq!(packet.file_size(), 0x01_0203_0405);
        assert_eq!(packet.file_id(), &[0xab; 32]);
        assert_eq!(packet.file_name(), b"cat.png");
        assert_eq!(packet.to_bytes(), bytes);
        assert_eq!(
            FileSendRequest::new(
                7,
                FILEKIND_AVATAR,
                0x01_0203_0405,
                [0xab; 32],
                b"cat.png".to_vec()
            )
            .unwrap(),
            packet
        );
    }

    #[test]
    fn unknown_size_and_kind_pass_through() {
        let packet =
            FileSendRequest::new(0, 0x1234_5678, FILESIZE_UNKNOWN, [0; 32], vec![]).unwrap();
        let bytes = packet.to_bytes();
        assert_eq!(bytes.len(), 46);
        assert_eq!(&bytes[2..6], &[0x12, 0x34, 0x56, 0x78]);
        assert_eq!(&bytes[6..14], &[0xff; 8]);
        assert_eq!(FileSendRequest::from_bytes(&bytes), Ok(packet));
    }

    #[test]
    fn length_boundaries() {
        let head = FileSendRequest::new(1, 0, 5, [0; 32], vec![])
            .unwrap()
            .to_bytes();
        assert!(FileSendRequest::from_bytes(&head[..45]).is_err());
        let mut bytes = head;
        bytes.resize(46 + 255, b'n');
        assert!(FileSendRequest::from_bytes(&bytes).is_ok());
        bytes.push(b'n');
        assert!(FileSendRequest::from_bytes(&bytes).is_err());
        assert!(FileSendRequest::new(1, 0, 5, [0; 32], vec![b'n'; 255]).is_ok());
        assert!(matches!(
            FileSendRequest::new(1, 0, 5, [0; 32], vec![b'n'; 256]),
            Err(PacketError::Unsendable {
                len: 256,
                max: 255,
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(FileSendRequest::from_bytes(&packet.to_bytes()), Ok(packet));
        }
    }
}
