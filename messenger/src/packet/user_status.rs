//! User status (50): available, away or busy.
//!
//! Checklist M5; spec "Messenger", `USERSTATUS`; c-toxcore
//! `send_userstatus` and `m_handle_packet` in `Messenger.c`, `Userstatus`
//! in `Messenger.h`, `TOX_USER_STATUS` in `tox.h`.
//!
//! | bytes | field                                   |
//! |-------|-----------------------------------------|
//! | 1     | `0x32`                                  |
//! | 1     | status: 0 none, 1 away, 2 busy          |
//!
//! c-toxcore 0.2.18 ignores the packet unless it carries exactly one byte
//! of data, and ignores a status of 3 or more (`status >=
//! USERSTATUS_INVALID`: no callback, no change). The decoder refuses both,
//! a status of 3 or more with [`DecodeError::InvalidValue`]; the type
//! cannot hold one, so none is ever sent.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, Reader};

use super::PACKET_ID_USERSTATUS;

/// What a user says about their availability (`Userstatus`,
/// `TOX_USER_STATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UserStatus {
    /// 0: available (`USERSTATUS_NONE`).
    #[default]
    None,
    /// 1: away (`USERSTATUS_AWAY`).
    Away,
    /// 2: busy (`USERSTATUS_BUSY`).
    Busy,
}

impl UserStatus {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Away => 1,
            Self::Busy => 2,
        }
    }

    /// The status a wire value stands for; `None` for 3 and above, which
    /// c-toxcore ignores.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::None),
            1 => Some(Self::Away),
            2 => Some(Self::Busy),
            _ => None,
        }
    }
}

/// A user status packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UserStatusPacket {
    /// The sender's new status.
    pub status: UserStatus,
}

impl Encode for UserStatusPacket {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_USERSTATUS);
        buf.put_u8(self.status.to_u8());
    }

    fn encoded_len(&self) -> usize {
        2
    }
}

impl Decode for UserStatusPacket {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "user status";
        reader.expect_remaining(NAME, 2, 2)?;
        reader.expect_u8(NAME, PACKET_ID_USERSTATUS)?;
        let value = reader.u8(NAME)?;
        let status = UserStatus::from_u8(value).ok_or(DecodeError::InvalidValue {
            what: NAME,
            value: u64::from(value),
        })?;
        Ok(Self { status })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(in super::super) fn arb() -> impl Strategy<Value = UserStatusPacket> {
        prop_oneof![
            Just(UserStatus::None),
            Just(UserStatus::Away),
            Just(UserStatus::Busy)
        ]
        .prop_map(|status| UserStatusPacket { status })
    }

    #[test]
    fn values_0_to_2_and_nothing_else() {
        for (byte, status) in [
            (0, UserStatus::None),
            (1, UserStatus::Away),
            (2, UserStatus::Busy),
        ] {
            let packet = UserStatusPacket { status };
            assert_eq!(packet.to_bytes(), [50, byte]);
            assert_eq!(UserStatusPacket::from_bytes(&[50, byte]), Ok(packet));
        }
        for byte in 3..=255 {
            assert_eq!(
                UserStatusPacket::from_bytes(&[50, byte]),
                Err(DecodeError::InvalidValue {
                    what: "user status",
                    value: u64::from(byte)
                })
            );
        }
        assert!(UserStatusPacket::from_bytes(&[50]).is_err());
        assert!(UserStatusPacket::from_bytes(&[50, 0, 0]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            prop_assert_eq!(UserStatusPacket::from_bytes(&packet.to_bytes()), Ok(packet));
        }
    }
}
