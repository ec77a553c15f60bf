//! `tox_friend_*` (and `tox_self_set_typing`): the friend list, what
//! friends told us, and messages and custom packets to them.

#![allow(unsafe_code, reason = "exports C symbols that take C buffers")]

use std::time::Instant;

use toxide::messenger::messenger::{FriendNumber, Messenger, MessengerError, Sessions};
use toxide::messenger::packet::{MAX_MESSAGE_LENGTH, PacketError};
use toxide::onion::client::{FriendError, MAX_FRIEND_REQUEST_MESSAGE};
use toxide::tox::{ToxError, ops};
use toxide::{PublicKey, ToxId, ToxIdError};

use crate::cbuf::{array, input, output_if};
use crate::instance::{Instance, call, get, query};
use crate::types::{
    Connection, ErrFriendAdd, ErrFriendByPublicKey, ErrFriendCustomPacket, ErrFriendDelete,
    ErrFriendGetLastOnline, ErrFriendGetPublicKey, ErrFriendQuery, ErrFriendSendMessage,
    ErrSetTyping, MessageType, Tox, UserStatus,
};

/// tox.h's `TOX_MAX_CUSTOM_PACKET_SIZE`: the id byte and the data.
const MAX_CUSTOM_PACKET_SIZE: usize = 1373;

impl Instance {
    /// Runs `f` on the messenger with the friend sessions lent; `None` on
    /// a stack without one (never for a client).
    fn with_messenger<T>(
        &mut self,
        f: impl FnOnce(&mut Messenger, &mut dyn Sessions) -> T,
    ) -> Option<T> {
        self.driver.stack().with_messenger(Instant::now(), f)
    }

    /// `f` on friend `friend`'s public key, or `missing` if there is no
    /// such friend.
    fn friend_key<E>(&self, friend: FriendNumber, missing: E) -> Result<PublicKey, E> {
        self.messenger()
            .and_then(|m| m.friend_key(friend))
            .ok_or(missing)
    }

    /// `tox_friend_add`'s checks and the request.
    ///
    /// # Safety
    /// `address` is NULL or 38 bytes; `message` NULL or `length` bytes.
    unsafe fn friend_add(
        &mut self,
        address: *const u8,
        message: *const u8,
        length: usize,
    ) -> Result<u32, ErrFriendAdd> {
        // SAFETY: this function's contract: NULL or 38 bytes.
        let address = unsafe { array::<38>(address) }.ok_or(ErrFriendAdd::Null)?;
        if message.is_null() {
            return Err(ErrFriendAdd::Null);
        }
        // SAFETY: not NULL, `length` readable bytes by tox.h's contract.
        let message = unsafe { input(message, length) }.ok_or(ErrFriendAdd::Null)?;
        if message.is_empty() {
            return Err(ErrFriendAdd::NoMessage);
        }
        if message.len() > MAX_FRIEND_REQUEST_MESSAGE {
            return Err(ErrFriendAdd::TooLong);
        }
        let id = ToxId::from_binary(&address).map_err(|e| match e {
            ToxIdError::Checksum { .. } => ErrFriendAdd::BadChecksum,
            _ => ErrFriendAdd::Null,
        })?;
        if id.public_key == self.keys.public {
            return Err(ErrFriendAdd::OwnKey);
        }
        let stack = self.driver.stack();
        ops::add_friend(stack, Instant::now(), &id, message).map_err(friend_add_error)
    }

    /// `tox_friend_add_norequest`'s checks and the add.
    ///
    /// # Safety
    /// `public_key` is NULL or 32 bytes.
    unsafe fn friend_add_norequest(&mut self, public_key: *const u8) -> Result<u32, ErrFriendAdd> {
        // SAFETY: this function's contract: NULL or 32 bytes.
        let key = unsafe { array::<32>(public_key) }.ok_or(ErrFriendAdd::Null)?;
        let key = PublicKey::new(key);
        if key == self.keys.public {
            return Err(ErrFriendAdd::OwnKey);
        }
        if let Some(number) = self.messenger().and_then(|m| m.friend_number(&key)) {
            return Err(friend_add_error(ToxError::AlreadyFriend(number)));
        }
        ops::add_friend_norequest(self.driver.stack(), key).map_err(friend_add_error)
    }

    /// A friend getter's common part: the messenger and a check that
    /// `friend` exists.
    fn query<T>(
        &self,
        friend: FriendNumber,
        f: impl FnOnce(&Messenger) -> Option<T>,
    ) -> Result<T, ErrFriendQuery> {
        self.messenger()
            .filter(|m| m.friend_key(friend).is_some())
            .and_then(f)
            .ok_or(ErrFriendQuery::FriendNotFound)
    }

    /// `tox_friend_send_message`'s checks and the send.
    ///
    /// # Safety
    /// `text` is NULL or `length` bytes.
    unsafe fn send_message(
        &mut self,
        friend: u32,
        kind: u32,
        text: *const u8,
        length: usize,
    ) -> Result<u32, ErrFriendSendMessage> {
        // SAFETY: this function's contract: NULL or `length` readable bytes.
        let text = unsafe { input(text, length) }.ok_or(ErrFriendSendMessage::Null)?;
        if text.is_empty() {
            return Err(ErrFriendSendMessage::Empty);
        }
        if text.len() > MAX_MESSAGE_LENGTH {
            return Err(ErrFriendSendMessage::TooLong);
        }
        // c-toxcore sends any other value as a normal message's id + value;
        // a client only ever passes the two constants.
        let kind = MessageType::try_from(kind).unwrap_or(MessageType::Normal);
        let text = text.to_vec();
        let result = self
            .with_messenger(|m, s| m.send_message(friend, kind.into(), text, s))
            .unwrap_or(Err(MessengerError::NoFriend(friend)));
        result.map_err(|e| match e {
            MessengerError::NoFriend(_) => ErrFriendSendMessage::FriendNotFound,
            MessengerError::NotOnline(_) => ErrFriendSendMessage::FriendNotConnected,
            MessengerError::Packet(_) => ErrFriendSendMessage::TooLong,
            _ => ErrFriendSendMessage::Sendq,
        })
    }

    /// The custom packet calls' checks and the send (lossy or lossless).
    ///
    /// # Safety
    /// `data` is NULL or `length` bytes.
    unsafe fn send_custom(
        &mut self,
        friend: u32,
        data: *const u8,
        length: usize,
        lossy: bool,
    ) -> Result<bool, ErrFriendCustomPacket> {
        // SAFETY: this function's contract: NULL or `length` readable bytes.
        let data = unsafe { input(data, length) }.ok_or(ErrFriendCustomPacket::Null)?;
        if data.is_empty() {
            return Err(ErrFriendCustomPacket::Empty);
        }
        if data.len() > MAX_CUSTOM_PACKET_SIZE {
            return Err(ErrFriendCustomPacket::TooLong);
        }
        let result = self
            .with_messenger(|m, s| match lossy {
                true => m.send_custom_lossy(friend, data, s),
                false => m.send_custom_lossless(friend, data, s),
            })
            .unwrap_or(Err(MessengerError::NoFriend(friend)));
        result.map(|()| true).map_err(|e| match e {
            MessengerError::NoFriend(_) => ErrFriendCustomPacket::FriendNotFound,
            MessengerError::NotOnline(_) => ErrFriendCustomPacket::FriendNotConnected,
            MessengerError::Packet(PacketError::Unsendable { .. }) => {
                ErrFriendCustomPacket::TooLong
            }
            MessengerError::Packet(_) => ErrFriendCustomPacket::Invalid,
            _ => ErrFriendCustomPacket::Sendq,
        })
    }
}

/// tox.h's code for why a friend could not be added.
fn friend_add_error(error: ToxError) -> ErrFriendAdd {
    match error {
        ToxError::AlreadyFriend(_) => ErrFriendAdd::AlreadySent,
        ToxError::NospamUpdated(_) => ErrFriendAdd::SetNewNospam,
        ToxError::Friend(FriendError::OwnKey) => ErrFriendAdd::OwnKey,
        ToxError::Friend(FriendError::MessageSize { len: 0, .. }) => ErrFriendAdd::NoMessage,
        ToxError::Friend(FriendError::MessageSize { .. }) => ErrFriendAdd::TooLong,
        // A low-order key cannot be a friend; c-toxcore has no better
        // code for it than an allocation failure.
        _ => ErrFriendAdd::Malloc,
    }
}

/// Sends a friend request to the Tox ID `address` (38 bytes) with
/// `message`; the new friend's number.
///
/// # Safety
/// `tox` is a live instance; `address` NULL or 38 bytes; `message` NULL
/// or `length` bytes; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_add(
    tox: *mut Tox,
    address: *const u8,
    message: *const u8,
    length: usize,
    error: *mut ErrFriendAdd,
) -> u32 {
    // SAFETY: the contract.
    unsafe {
        call(
            tox,
            error,
            ErrFriendAdd::Ok,
            (u32::MAX, ErrFriendAdd::Null),
            |t| t.friend_add(address, message, length),
        )
    }
}

/// Adds the owner of `public_key` as a friend without a request
/// (accepting theirs); the friend's number.
///
/// # Safety
/// `tox` is a live instance; `public_key` NULL or 32 bytes; `error` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_add_norequest(
    tox: *mut Tox,
    public_key: *const u8,
    error: *mut ErrFriendAdd,
) -> u32 {
    // SAFETY: the contract.
    unsafe {
        call(
            tox,
            error,
            ErrFriendAdd::Ok,
            (u32::MAX, ErrFriendAdd::Null),
            |t| t.friend_add_norequest(public_key),
        )
    }
}

/// Removes a friend; a live session ends with a kill packet.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_delete(
    tox: *mut Tox,
    friend_number: u32,
    error: *mut ErrFriendDelete,
) -> bool {
    let fail = (false, ErrFriendDelete::FriendNotFound);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrFriendDelete::Ok, fail, |t| {
            ops::delete_friend(t.driver.stack(), friend_number)
                .map(|_| true)
                .map_err(|_| ErrFriendDelete::FriendNotFound)
        })
    }
}

/// The number of the friend with `public_key` (32 bytes).
///
/// # Safety
/// `tox` is a live instance; `public_key` NULL or 32 bytes; `error` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_by_public_key(
    tox: *const Tox,
    public_key: *const u8,
    error: *mut ErrFriendByPublicKey,
) -> u32 {
    let fail = (u32::MAX, ErrFriendByPublicKey::Null);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrFriendByPublicKey::Ok, fail, |t| {
            let key = array::<32>(public_key).ok_or(ErrFriendByPublicKey::Null)?;
            t.messenger()
                .and_then(|m| m.friend_number(&PublicKey::new(key)))
                .ok_or(ErrFriendByPublicKey::NotFound)
        })
    }
}

/// Whether friend `friend_number` exists.
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_exists(tox: *const Tox, friend_number: u32) -> bool {
    // SAFETY: the contract.
    unsafe { get(tox, false, |t| t.friend_key(friend_number, ()).is_ok()) }
}

/// Friend `friend_number`'s long-term key into `public_key` (32 bytes).
///
/// # Safety
/// `tox` is a live instance; `public_key` NULL or 32 writable bytes;
/// `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_get_public_key(
    tox: *const Tox,
    friend_number: u32,
    public_key: *mut u8,
    error: *mut ErrFriendGetPublicKey,
) -> bool {
    let missing = ErrFriendGetPublicKey::FriendNotFound;
    // SAFETY: the contract.
    unsafe {
        query(
            tox,
            error,
            ErrFriendGetPublicKey::Ok,
            (false, missing),
            |t| {
                let key = t.friend_key(friend_number, missing)?;
                output_if(public_key, key.as_bytes());
                Ok(true)
            },
        )
    }
}

/// When friend `friend_number` was last online (UNIX seconds; now for one
/// online now, `UINT64_MAX` for one never seen).
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_get_last_online(
    tox: *const Tox,
    friend_number: u32,
    error: *mut ErrFriendGetLastOnline,
) -> u64 {
    let missing = ErrFriendGetLastOnline::FriendNotFound;
    // SAFETY: the contract.
    unsafe {
        query(
            tox,
            error,
            ErrFriendGetLastOnline::Ok,
            (u64::MAX, missing),
            |t| {
                let m = t.messenger().ok_or(missing)?;
                let record = m.friend_record(friend_number).ok_or(missing)?;
                Ok(match record.last_seen {
                    _ if m.is_online(friend_number) => ops::unix_now(),
                    0 => u64::MAX,
                    seen => seen,
                })
            },
        )
    }
}

/// The bytes a friend getter hands out, with its length getter's pair.
macro_rules! friend_bytes {
    ($( $(#[$doc:meta])* $size:ident, $getter:ident => $field:ident; )+) => {$(
        $(#[$doc])*
        /// Its length.
        ///
        /// # Safety
        /// `tox` is a live instance; `error` NULL or writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $size(
            tox: *const Tox,
            friend_number: u32,
            error: *mut ErrFriendQuery,
        ) -> usize {
            let fail = (usize::MAX, ErrFriendQuery::FriendNotFound);
            // SAFETY: the contract.
            unsafe {
                query(tox, error, ErrFriendQuery::Ok, fail, |t| {
                    t.query(friend_number, |m| m.$field(friend_number).map(<[u8]>::len))
                })
            }
        }

        $(#[$doc])*
        /// The bytes, into a buffer of its size's length.
        ///
        /// # Safety
        /// `tox` is a live instance; `out` NULL or large enough; `error`
        /// NULL or writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $getter(
            tox: *const Tox,
            friend_number: u32,
            out: *mut u8,
            error: *mut ErrFriendQuery,
        ) -> bool {
            if out.is_null() {
                // SAFETY: `error` is NULL or writable by the contract.
                unsafe { crate::guard::set_error(error, ErrFriendQuery::Null) };
                return false;
            }
            let fail = (false, ErrFriendQuery::FriendNotFound);
            // SAFETY: the contract.
            unsafe {
                query(tox, error, ErrFriendQuery::Ok, fail, |t| {
                    t.query(friend_number, |m| {
                        output_if(out, m.$field(friend_number)?);
                        Some(true)
                    })
                })
            }
        }
    )+};
}

friend_bytes! {
    /// Friend `friend_number`'s name.
    tox_friend_get_name_size, tox_friend_get_name => friend_name;
    /// Friend `friend_number`'s status message.
    tox_friend_get_status_message_size, tox_friend_get_status_message => friend_status_message;
}

/// Friend `friend_number`'s user status.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_get_status(
    tox: *const Tox,
    friend_number: u32,
    error: *mut ErrFriendQuery,
) -> UserStatus {
    let fail = (UserStatus::None, ErrFriendQuery::FriendNotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrFriendQuery::Ok, fail, |t| {
            t.query(friend_number, |m| {
                m.friend_status(friend_number).map(Into::into)
            })
        })
    }
}

/// How friend `friend_number` is connected now.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_get_connection_status(
    tox: *const Tox,
    friend_number: u32,
    error: *mut ErrFriendQuery,
) -> Connection {
    let fail = (Connection::None, ErrFriendQuery::FriendNotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrFriendQuery::Ok, fail, |t| {
            t.friend_key(friend_number, ErrFriendQuery::FriendNotFound)?;
            let stack = t.stack_ref();
            Ok(stack
                .friend_connection_kind(Instant::now(), friend_number)
                .into())
        })
    }
}

/// Whether friend `friend_number` is typing to us.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_get_typing(
    tox: *const Tox,
    friend_number: u32,
    error: *mut ErrFriendQuery,
) -> bool {
    let fail = (false, ErrFriendQuery::FriendNotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrFriendQuery::Ok, fail, |t| {
            t.query(friend_number, |m| m.friend_typing(friend_number))
        })
    }
}

/// Tells friend `friend_number` whether we are typing.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_set_typing(
    tox: *mut Tox,
    friend_number: u32,
    typing: bool,
    error: *mut ErrSetTyping,
) -> bool {
    let fail = (false, ErrSetTyping::FriendNotFound);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrSetTyping::Ok, fail, |t| {
            t.with_messenger(|m, s| m.set_typing(friend_number, typing, s))
                .and_then(Result::ok)
                .map(|()| true)
                .ok_or(ErrSetTyping::FriendNotFound)
        })
    }
}

/// Sends a message (1–1372 bytes) to an online friend; its id, which a
/// read receipt names later.
///
/// # Safety
/// `tox` is a live instance; `message` NULL or `length` bytes; `error`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_send_message(
    tox: *mut Tox,
    friend_number: u32,
    kind: u32,
    message: *const u8,
    length: usize,
    error: *mut ErrFriendSendMessage,
) -> u32 {
    let fail = (0, ErrFriendSendMessage::Null);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrFriendSendMessage::Ok, fail, |t| {
            t.send_message(friend_number, kind, message, length)
        })
    }
}

/// Sends a custom lossy packet (first byte 200–254).
///
/// # Safety
/// `tox` is a live instance; `data` NULL or `length` bytes; `error` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_send_lossy_packet(
    tox: *mut Tox,
    friend_number: u32,
    data: *const u8,
    length: usize,
    error: *mut ErrFriendCustomPacket,
) -> bool {
    let fail = (false, ErrFriendCustomPacket::Null);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrFriendCustomPacket::Ok, fail, |t| {
            t.send_custom(friend_number, data, length, true)
        })
    }
}

/// Sends a custom lossless packet (first byte 160–191, or 69 for calls).
///
/// # Safety
/// As [`tox_friend_send_lossy_packet`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_friend_send_lossless_packet(
    tox: *mut Tox,
    friend_number: u32,
    data: *const u8,
    length: usize,
    error: *mut ErrFriendCustomPacket,
) -> bool {
    let fail = (false, ErrFriendCustomPacket::Null);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrFriendCustomPacket::Ok, fail, |t| {
            t.send_custom(friend_number, data, length, false)
        })
    }
}
