//! File control (81): accept, pause, kill or seek one file transfer.
//!
//! Checklist M10; spec "Messenger", `FILE_CONTROL`; c-toxcore
//! `send_file_control_packet`, `file_control`, `file_seek`,
//! `handle_filecontrol` and `m_handle_packet` in `Messenger.c`.
//!
//! | bytes | field                                                   |
//! |-------|---------------------------------------------------------|
//! | 1     | `0x51`                                                  |
//! | 1     | send_receive ([`TransferDirection`]): 0 or 1            |
//! | 1     | file number                                             |
//! | 1     | control: 0 accept, 1 pause, 2 kill, 3 seek              |
//! | 8     | seek only: position, u64 big-endian (`net_pack_u64`)    |
//!
//! # send_receive
//!
//! Each friend has 256 sending and 256 receiving slots per side, and a
//! file number alone does not say which. The byte says it from the point
//! of view of the control's **sender**:
//! - 0 ([`TransferDirection::Sending`]): the file is one the control's
//!   sender is sending, in its sending slot `file number`; the recipient
//!   looks it up in its *receiving* slots.
//! - 1 ([`TransferDirection::Receiving`]): the file is one the control's
//!   sender is receiving; the recipient looks it up in its *sending*
//!   slots.
//!
//! c-toxcore writes `inbound ? 1 : 0` and reads `data[0] == 1` as "my
//! outbound file", so any byte other than 1 means the same as 0. We
//! decode it that way too, and re-encode it as 0. When the recipient has
//! no such transfer it answers with a kill carrying the opposite byte
//! ([`TransferDirection::opposite`]).
//!
//! # What c-toxcore accepts
//!
//! - At least the three bytes after the id. Accept, pause and kill ignore
//!   any bytes after them (so do we; they re-encode without them).
//! - Seek only with exactly 8 bytes of position, and only from the file's
//!   receiver (send_receive 1): a seek from the sender is refused whatever
//!   the transfer's state. We refuse both when decoding and when building
//!   ([`PacketError::SeekFromSender`]). That the transfer is not accepted
//!   yet and the position is below the file size are state checks, left
//!   to the transfer's owner.
//! - Controls 4 and above are refused.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::{MAX_CRYPTO_DATA_SIZE, PACKET_ID_FILE_CONTROL, PacketError};

/// Whose transfer a control is about, seen by the control's sender (the
/// send_receive byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferDirection {
    /// 0: a file the control's sender is sending.
    Sending,
    /// 1: a file the control's sender is receiving.
    Receiving,
}

impl TransferDirection {
    /// The same transfer seen from the other side.
    pub const fn opposite(self) -> Self {
        match self {
            Self::Sending => Self::Receiving,
            Self::Receiving => Self::Sending,
        }
    }

    const fn to_u8(self) -> u8 {
        match self {
            Self::Sending => 0,
            Self::Receiving => 1,
        }
    }
}

/// What a control does (`FILECONTROL_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileControlKind {
    /// 0: accept an offered file, or resume one the sender of the control
    /// had paused.
    Accept,
    /// 1: pause a transfer; each side's pause is separate.
    Pause,
    /// 2: cancel a transfer (or refuse an offered file).
    Kill,
    /// 3: before accepting, ask the file's sender to start at this byte
    /// (resuming a broken transfer).
    Seek(u64),
}

impl FileControlKind {
    const fn to_u8(self) -> u8 {
        match self {
            Self::Accept => 0,
            Self::Pause => 1,
            Self::Kill => 2,
            Self::Seek(_) => 3,
        }
    }
}

/// A file control packet, built with [`FileControl::new`] or
/// [`FileControl::seek`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileControl {
    send_receive: TransferDirection,
    file_number: u8,
    control: FileControlKind,
}

impl FileControl {
    /// A control for file `file_number` of the transfer `send_receive`
    /// names (from our side, as the sender of the control).
    ///
    /// Refuses a seek unless `send_receive` is
    /// [`TransferDirection::Receiving`]: c-toxcore drops any other.
    pub fn new(
        send_receive: TransferDirection,
        file_number: u8,
        control: FileControlKind,
    ) -> Result<Self, PacketError> {
        if matches!(control, FileControlKind::Seek(_))
            && send_receive != TransferDirection::Receiving
        {
            return Err(PacketError::SeekFromSender);
        }
        Ok(Self {
            send_receive,
            file_number,
            control,
        })
    }

    /// A seek to `position` in the file we receive in slot `file_number`.
    pub const fn seek(file_number: u8, position: u64) -> Self {
        Self {
            send_receive: TransferDirection::Receiving,
            file_number,
            control: FileControlKind::Seek(position),
        }
    }

    /// Whose transfer, from the control's sender's side.
    pub const fn send_receive(&self) -> TransferDirection {
        self.send_receive
    }

    /// The file's slot number on the side named by
    /// [`send_receive`](Self::send_receive).
    pub const fn file_number(&self) -> u8 {
        self.file_number
    }

    /// What to do.
    pub const fn control(&self) -> FileControlKind {
        self.control
    }
}

impl Encode for FileControl {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_FILE_CONTROL);
        buf.put_u8(self.send_receive.to_u8());
        buf.put_u8(self.file_number);
        buf.put_u8(self.control.to_u8());
        if let FileControlKind::Seek(position) = self.control {
            buf.put_u64(position);
        }
    }

    fn encoded_len(&self) -> usize {
        match self.control {
            FileControlKind::Seek(_) => 4 + 8,
            _ => 4,
        }
    }
}

impl Decode for FileControl {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "file control";
        reader.expect_remaining(NAME, 4, MAX_CRYPTO_DATA_SIZE)?;
        reader.expect_u8(NAME, PACKET_ID_FILE_CONTROL)?;
        let send_receive = match reader.u8("file control send_receive")? {
            1 => TransferDirection::Receiving,
            // c-toxcore: `data[0] == 1`, so every other value reads as 0.
            _ => TransferDirection::Sending,
        };
        let file_number = reader.u8("file number")?;
        let control = match reader.u8("file control type")? {
            0 => FileControlKind::Accept,
            1 => FileControlKind::Pause,
            2 => FileControlKind::Kill,
            3 => {
                reader.expect_remaining("file seek position", 8, 8)?;
                if send_receive != TransferDirection::Receiving {
                    return Err(DecodeError::InvalidValue {
                        what: "file seek send_receive",
                        value: 0,
                    });
                }
                FileControlKind::Seek(reader.u64_be("file seek position")?)
            }
            other => {
                return Err(DecodeError::InvalidValue {
                    what: "file control type",
                    value: u64::from(other),
                });
            }
        };
        // Accept, pause and kill: c-toxcore ignores what follows.
        reader.rest();
        Ok(Self {
            send_receive,
            file_number,
            control,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb() -> impl Strategy<Value = FileControl> {
        let direction = prop_oneof![
            Just(TransferDirection::Sending),
            Just(TransferDirection::Receiving)
        ];
        let plain = prop_oneof![
            Just(FileControlKind::Accept),
            Just(FileControlKind::Pause),
            Just(FileControlKind::Kill)
        ];
        prop_oneof![
            (direction, any::<u8>(), plain)
                .prop_map(|(d, n, c)| FileControl::new(d, n, c).unwrap()),
            (any::<u8>(), any::<u64>()).prop_map(|(n, p)| FileControl::seek(n, p)),
        ]
    }

    #[test]
    fn seek_layout_matches_hand_built_bytes() {
        let bytes = [
            0x51, // id
            1,    // send_receive: the sender of this control receives the file
            9,    // file number
            3,    // seek
            0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // position, big-endian
        ];
        let packet = FileControl::from_bytes(&bytes).unwrap();
        assert_eq!(packet, FileControl::seek(9, 0x0102_0304_0506));
        assert_eq!(packet.send_receive(), TransferDirection::Receiving);
        assert_eq!(packet.file_number(), 9);
        assert_eq!(packet.control(), FileControlKind::Seek(0x0102_0304_0506));
        assert_eq!(packet.to_bytes(), bytes);
    }

    #[test]
    fn plain_controls_are_four_bytes() {
        for (control, byte) in [
            (FileControlKind::Accept, 0),
            (FileControlKind::Pause, 1),
            (FileControlKind::Kill, 2),
        ] {
            let packet = FileControl::new(TransferDirection::Sending, 200, control).unwrap();
            assert_eq!(packet.to_bytes(), [0x51, 0, 200, byte]);
            let packet = FileControl::new(TransferDirection::Receiving, 200, control).unwrap();
            assert_eq!(packet.to_bytes(), [0x51, 1, 200, byte]);
            assert_eq!(FileControl::from_bytes(&[0x51, 1, 200, byte]), Ok(packet));
        }
    }

    #[test]
    fn lenient_where_ctoxcore_is() {
        // Any send_receive byte but 1 reads as 0.
        let kill = FileControl::new(TransferDirection::Sending, 3, FileControlKind::Kill).unwrap();
        assert_eq!(FileControl::from_bytes(&[0x51, 7, 3, 2]), Ok(kill));
        // Bytes after accept / pause / kill are ignored.
        assert_eq!(
            FileControl::from_bytes(&[0x51, 0, 3, 2, 0xee, 0xee]),
            Ok(kill)
        );
    }

    #[test]
    fn strict_where_ctoxcore_is() {
        assert!(FileControl::from_bytes(&[0x51, 1, 3]).is_err());
        assert!(FileControl::from_bytes(&[0x51, 1, 3, 4]).is_err());
        // A seek needs exactly 8 bytes of position…
        assert!(FileControl::from_bytes(&[0x51, 1, 3, 3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(FileControl::from_bytes(&[0x51, 1, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // …and must come from the file's receiver.
        assert!(FileControl::from_bytes(&[0x51, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert_eq!(
            FileControl::new(TransferDirection::Sending, 3, FileControlKind::Seek(1)),
            Err(PacketError::SeekFromSender)
        );
    }

    #[test]
    fn opposite_flips() {
        assert_eq!(
            TransferDirection::Sending.opposite(),
            TransferDirection::Receiving
        );
        assert_eq!(
            TransferDirection::Receiving.opposite(),
            TransferDirection::Sending
        );
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(FileControl::from_bytes(&bytes), Ok(packet));
        }
    }
}
