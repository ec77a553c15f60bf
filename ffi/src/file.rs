//! `tox_file_*`: offering files, answering chunk requests, and controlling
//! transfers. Numbers are tox.h's: files we send 0–255, files we receive
//! `(n + 1) << 16`. The data itself moves through the chunk callbacks
//! (`callbacks.rs`), as in c-toxcore.

#![allow(unsafe_code, reason = "exports C symbols that take C buffers")]

use rand::Rng as _;
use toxide::messenger::file::{Control, FileError, FileNumber};
use toxide::messenger::packet::{FILE_ID_LENGTH, MAX_FILENAME_LENGTH};

use crate::cbuf::{array, input, output_if};
use crate::instance::{Instance, call, query};
use crate::types::{
    ErrFileControl, ErrFileGet, ErrFileSeek, ErrFileSend, ErrFileSendChunk, FileControl, Tox,
};

impl Instance {
    /// Runs a messenger file call; a stack without a messenger has no
    /// friend of that number.
    fn file_call<T>(
        &mut self,
        friend: u32,
        f: impl FnOnce(
            &mut toxide::messenger::messenger::Messenger,
            &mut dyn toxide::messenger::messenger::Sessions,
        ) -> Result<T, FileError>,
    ) -> Result<T, FileError> {
        let now = std::time::Instant::now();
        self.driver
            .stack()
            .with_messenger(now, f)
            .unwrap_or(Err(FileError::NoFriend(friend)))
    }
}

/// A file number from C; an impossible one is a transfer that does not
/// exist.
fn file_number(file: u32) -> Option<FileNumber> {
    FileNumber::from_u32(file)
}

/// Accepts (resume), pauses or cancels a transfer.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_file_control(
    tox: *mut Tox,
    friend_number: u32,
    file_number: u32,
    control: u32,
    error: *mut ErrFileControl,
) -> bool {
    let fail = (false, ErrFileControl::NotFound);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrFileControl::Ok, fail, |t| {
            let file = self::file_number(file_number).ok_or(ErrFileControl::NotFound)?;
            // An unknown control is no transfer's business: c-toxcore
            // answers it as a transfer it cannot find.
            let control = match FileControl::try_from(control) {
                Ok(FileControl::Resume) => Control::Accept,
                Ok(FileControl::Pause) => Control::Pause,
                Ok(FileControl::Cancel) => Control::Kill,
                Err(_) => return Err(ErrFileControl::NotFound),
            };
            t.file_call(friend_number, |m, s| {
                m.file_control(friend_number, file, control, s)
            })
            .map(|()| true)
            .map_err(|e| match e {
                FileError::NoFriend(_) => ErrFileControl::FriendNotFound,
                FileError::NotOnline(_) => ErrFileControl::FriendNotConnected,
                FileError::NotPaused(_) => ErrFileControl::NotPaused,
                FileError::AlreadyPaused(_) => ErrFileControl::AlreadyPaused,
                FileError::SendFailed(_) => ErrFileControl::Sendq,
                FileError::PausedByFriend(_)
                | FileError::NotOursToAccept(_)
                | FileError::NotTransferring(_) => ErrFileControl::Denied,
                _ => ErrFileControl::NotFound,
            })
        })
    }
}

/// Asks the sender of a file we were offered to start at `position`
/// (before accepting it).
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_file_seek(
    tox: *mut Tox,
    friend_number: u32,
    file_number: u32,
    position: u64,
    error: *mut ErrFileSeek,
) -> bool {
    let fail = (false, ErrFileSeek::NotFound);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrFileSeek::Ok, fail, |t| {
            let file = self::file_number(file_number).ok_or(ErrFileSeek::NotFound)?;
            t.file_call(friend_number, |m, s| {
                m.file_seek(friend_number, file, position, s)
            })
            .map(|()| true)
            .map_err(|e| match e {
                FileError::NoFriend(_) => ErrFileSeek::FriendNotFound,
                FileError::NotOnline(_) => ErrFileSeek::FriendNotConnected,
                FileError::AlreadyAccepted(_) => ErrFileSeek::Denied,
                FileError::SeekPastEnd { .. } => ErrFileSeek::InvalidPosition,
                FileError::SendFailed(_) => ErrFileSeek::Sendq,
                _ => ErrFileSeek::NotFound,
            })
        })
    }
}

/// A transfer's file id (32 bytes) into `file_id`.
///
/// # Safety
/// `tox` is a live instance; `file_id` NULL or 32 writable bytes; `error`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_file_get_file_id(
    tox: *const Tox,
    friend_number: u32,
    file_number: u32,
    file_id: *mut u8,
    error: *mut ErrFileGet,
) -> bool {
    if file_id.is_null() {
        // SAFETY: `error` is NULL or writable by the contract.
        unsafe { crate::guard::set_error(error, ErrFileGet::Null) };
        return false;
    }
    let fail = (false, ErrFileGet::NotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrFileGet::Ok, fail, |t| {
            let m = t.messenger().ok_or(ErrFileGet::FriendNotFound)?;
            m.friend_key(friend_number)
                .ok_or(ErrFileGet::FriendNotFound)?;
            let file = self::file_number(file_number).ok_or(ErrFileGet::NotFound)?;
            let info = m
                .file_info(friend_number, file)
                .ok_or(ErrFileGet::NotFound)?;
            output_if(file_id, &info.file_id);
            Ok(true)
        })
    }
}

/// Offers friend `friend_number` a file: `kind` 0 data, 1 avatar;
/// `file_size` or `UINT64_MAX` for a stream; `file_id` 32 bytes or NULL
/// for a random one; a name of at most 255 bytes. Returns its number.
///
/// # Safety
/// `tox` is a live instance; `file_id` NULL or 32 bytes; `filename` NULL
/// or `filename_length` bytes; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_file_send(
    tox: *mut Tox,
    friend_number: u32,
    kind: u32,
    file_size: u64,
    file_id: *const u8,
    filename: *const u8,
    filename_length: usize,
    error: *mut ErrFileSend,
) -> u32 {
    let fail = (u32::MAX, ErrFileSend::Null);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrFileSend::Ok, fail, |t| {
            let name = input(filename, filename_length).ok_or(ErrFileSend::Null)?;
            if name.len() > MAX_FILENAME_LENGTH {
                return Err(ErrFileSend::NameTooLong);
            }
            let id = array::<FILE_ID_LENGTH>(file_id).unwrap_or_else(|| {
                let mut id = [0; FILE_ID_LENGTH];
                rand::rng().fill_bytes(&mut id);
                id
            });
            let name = name.to_vec();
            t.file_call(friend_number, |m, s| {
                m.send_file(friend_number, kind, file_size, id, name, s)
            })
            .map(FileNumber::to_u32)
            .map_err(|e| match e {
                FileError::NoFriend(_) => ErrFileSend::FriendNotFound,
                FileError::NotOnline(_) => ErrFileSend::FriendNotConnected,
                FileError::Packet(_) => ErrFileSend::NameTooLong,
                _ => ErrFileSend::TooMany,
            })
        })
    }
}

/// Answers a chunk request: `length` bytes of the file at `position`
/// (fewer ends a stream; 0 after the last chunk is not needed).
///
/// # Safety
/// `tox` is a live instance; `data` NULL or `length` bytes; `error` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_file_send_chunk(
    tox: *mut Tox,
    friend_number: u32,
    file_number: u32,
    position: u64,
    data: *const u8,
    length: usize,
    error: *mut ErrFileSendChunk,
) -> bool {
    let fail = (false, ErrFileSendChunk::Null);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrFileSendChunk::Ok, fail, |t| {
            let data = input(data, length).ok_or(ErrFileSendChunk::Null)?;
            let file = self::file_number(file_number).ok_or(ErrFileSendChunk::NotFound)?;
            t.file_call(friend_number, |m, s| {
                m.file_send_chunk(friend_number, file, position, data, s)
            })
            .map(|()| true)
            .map_err(|e| match e {
                FileError::NoFriend(_) => ErrFileSendChunk::FriendNotFound,
                FileError::NotOnline(_) => ErrFileSendChunk::FriendNotConnected,
                FileError::NotRequested { .. } => ErrFileSendChunk::NotTransferring,
                FileError::WrongPosition { .. } => ErrFileSendChunk::WrongPosition,
                FileError::WrongLength { .. } => ErrFileSendChunk::InvalidLength,
                FileError::SendFailed(_) => ErrFileSendChunk::Sendq,
                _ => ErrFileSendChunk::NotFound,
            })
        })
    }
}
