//! Typing (51): whether the sender is typing to this friend.
//!
//! Checklist M6; spec "Messenger", `TYPING`; c-toxcore
//! `send_user_istyping` and `m_handle_packet` in `Messenger.c`.
//!
//! | bytes | field                       |
//! |-------|-----------------------------|
//! | 1     | `0x33`                      |
//! | 1     | 1 typing, 0 not typing      |
//!
//! c-toxcore sends 0 or 1, ignores the packet unless it carries exactly
//! one byte of data, and reads every non-zero byte as "typing". So do we:
//! a non-zero byte other than 1 decodes as typing and re-encodes as 1.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::PACKET_ID_TYPING;

/// A typing packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Typing {
    /// Whether the sender is typing.
    pub is_typing: bool,
}

impl Encode for Typing {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_TYPING);
        buf.put_u8(u8::from(self.is_typing));
    }

    fn encoded_len(&self) -> usize {
        2
    }
}

impl Decode for Typing {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining("typing", 2, 2)?;
        reader.expect_u8("typing", PACKET_ID_TYPING)?;
        Ok(Self {
            is_typing: reader.u8("typing")? != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_any_nonzero_byte_is_typing() {
        assert_eq!(Typing { is_typing: true }.to_bytes(), [51, 1]);
        assert_eq!(Typing { is_typing: false }.to_bytes(), [51, 0]);
        assert_eq!(
            Typing::from_bytes(&[51, 0]),
            Ok(Typing { is_typing: false })
        );
        for byte in 1..=255 {
            assert_eq!(
                Typing::from_bytes(&[51, byte]),
                Ok(Typing { is_typing: true })
            );
        }
        assert!(Typing::from_bytes(&[51]).is_err());
        assert!(Typing::from_bytes(&[51, 1, 0]).is_err());
    }
}
