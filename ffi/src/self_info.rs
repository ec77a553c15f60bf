//! `tox_self_*`: our Tox ID, keys, nospam, name, status message, status
//! and friend list.

#![allow(unsafe_code, reason = "exports C symbols that take C buffers")]

use std::time::Instant;

use toxide::NoSpam;
use toxide::ToxId;
use toxide::core::Encode as _;
use toxide::messenger::packet::{MAX_NAME_LENGTH, MAX_STATUSMESSAGE_LENGTH};
use toxide::tox::ops;

use crate::cbuf::{input, output_if};
use crate::guard::guard;
use crate::instance::{Instance, call, get, with};
use crate::types::{ErrSetInfo, Tox, UserStatus};

impl Instance {
    /// Our name or status message, checked as c-toxcore checks it.
    ///
    /// # Safety
    /// `text` is NULL or `length` bytes.
    unsafe fn set_info(
        &mut self,
        text: *const u8,
        length: usize,
        max: usize,
        set: impl FnOnce(&mut Self, Vec<u8>) -> bool,
    ) -> Result<bool, ErrSetInfo> {
        // SAFETY: this function's contract: NULL or `length` readable bytes.
        let text = unsafe { input(text, length) }.ok_or(ErrSetInfo::Null)?;
        if text.len() > max {
            return Err(ErrSetInfo::TooLong);
        }
        Ok(set(self, text.to_vec()))
    }
}

/// Our Tox ID (38 bytes) into `address`.
///
/// # Safety
/// `tox` is a live instance; `address` NULL or 38 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_address(tox: *const Tox, address: *mut u8) {
    // SAFETY: the contract.
    let id = unsafe { get(tox, None, |t| Some(ToxId::new(t.keys.public, t.nospam))) };
    if let Some(id) = id {
        let bytes = id.to_bytes();
        // SAFETY: NULL or 38 writable bytes by the contract.
        guard((), || unsafe { output_if(address, &bytes) });
    }
}

/// Changes the nospam of our Tox ID (tox.h's host-order number).
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_set_nospam(tox: *mut Tox, nospam: u32) {
    guard((), || {
        let nospam = NoSpam::from_u32(nospam);
        // SAFETY: the contract.
        unsafe {
            with(tox, |t| {
                t.nospam = nospam;
                ops::set_nospam(t.driver.stack(), nospam);
            })
        };
    });
}

/// The nospam of our Tox ID.
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_nospam(tox: *const Tox) -> u32 {
    // SAFETY: the contract.
    unsafe { get(tox, 0, |t| t.nospam.to_u32()) }
}

/// Our long-term public key (32 bytes) into `public_key`.
///
/// # Safety
/// `tox` is a live instance; `public_key` NULL or 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_public_key(tox: *const Tox, public_key: *mut u8) {
    // SAFETY: the contract.
    unsafe { get(tox, (), |t| output_if(public_key, t.keys.public.as_bytes())) }
}

/// Our long-term secret key (32 bytes) into `secret_key`.
///
/// # Safety
/// `tox` is a live instance; `secret_key` NULL or 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_secret_key(tox: *const Tox, secret_key: *mut u8) {
    // SAFETY: the contract.
    unsafe {
        get(tox, (), |t| {
            output_if(secret_key, &*t.keys.secret.to_bytes())
        })
    }
}

/// Sets our name (at most 128 bytes); friends and conferences hear it.
///
/// # Safety
/// `tox` is a live instance; `name` NULL or `length` bytes; `error` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_set_name(
    tox: *mut Tox,
    name: *const u8,
    length: usize,
    error: *mut ErrSetInfo,
) -> bool {
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrSetInfo::Ok, (false, ErrSetInfo::Null), |t| {
            t.set_info(name, length, MAX_NAME_LENGTH, |t, name| {
                ops::set_name(t.driver.stack(), Instant::now(), name).is_ok()
            })
        })
    }
}

/// The length of our name.
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_name_size(tox: *const Tox) -> usize {
    // SAFETY: the contract.
    unsafe { get(tox, 0, |t| t.messenger().map_or(0, |m| m.name().len())) }
}

/// Our name into `name` ([`tox_self_get_name_size`] bytes).
///
/// # Safety
/// `tox` is a live instance; `name` NULL or large enough.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_name(tox: *const Tox, name: *mut u8) {
    // SAFETY: the contract.
    unsafe {
        get(tox, (), |t| {
            output_if(name, t.messenger().map_or(&[], |m| m.name()))
        })
    }
}

/// Sets our status message (at most 1007 bytes).
///
/// # Safety
/// As [`tox_self_set_name`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_set_status_message(
    tox: *mut Tox,
    status_message: *const u8,
    length: usize,
    error: *mut ErrSetInfo,
) -> bool {
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrSetInfo::Ok, (false, ErrSetInfo::Null), |t| {
            t.set_info(
                status_message,
                length,
                MAX_STATUSMESSAGE_LENGTH,
                |t, text| {
                    let now = Instant::now();
                    let stack = t.driver.stack();
                    stack
                        .with_messenger(now, |m, s| m.set_status_message(text, s))
                        .is_some_and(|r| r.is_ok())
                },
            )
        })
    }
}

/// The length of our status message.
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_status_message_size(tox: *const Tox) -> usize {
    // SAFETY: the contract.
    unsafe {
        get(tox, 0, |t| {
            t.messenger().map_or(0, |m| m.status_message().len())
        })
    }
}

/// Our status message into `status_message`.
///
/// # Safety
/// `tox` is a live instance; `status_message` NULL or large enough.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_status_message(tox: *const Tox, status_message: *mut u8) {
    // SAFETY: the contract.
    unsafe {
        get(tox, (), |t| {
            let text = t.messenger().map_or(&[][..], |m| m.status_message());
            output_if(status_message, text)
        })
    }
}

/// Sets our user status; an unknown value is ignored.
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_set_status(tox: *mut Tox, status: u32) {
    let Ok(status) = UserStatus::try_from(status) else {
        return;
    };
    guard((), || {
        // SAFETY: the contract.
        unsafe {
            with(tox, |t| {
                let stack = t.driver.stack();
                stack.with_messenger(Instant::now(), |m, s| m.set_status(status.into(), s));
                t.sent(())
            })
        };
    });
}

/// Our user status.
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_status(tox: *const Tox) -> UserStatus {
    // SAFETY: the contract.
    unsafe {
        get(tox, UserStatus::None, |t| {
            t.messenger()
                .map_or(UserStatus::None, |m| m.status().into())
        })
    }
}

/// How many friends we have.
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_friend_list_size(tox: *const Tox) -> usize {
    // SAFETY: the contract.
    unsafe {
        get(tox, 0, |t| {
            t.messenger().map_or(0, |m| m.friend_numbers().count())
        })
    }
}

/// Every friend number, in order, into `friend_list`.
///
/// # Safety
/// `tox` is a live instance; `friend_list` NULL or room for
/// [`tox_self_get_friend_list_size`] numbers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_friend_list(tox: *const Tox, friend_list: *mut u32) {
    if friend_list.is_null() {
        return;
    }
    // SAFETY: the contract.
    unsafe {
        get(tox, (), |t| {
            let Some(m) = t.messenger() else {
                return;
            };
            for (i, number) in m.friend_numbers().enumerate() {
                // SAFETY: room for every friend number by the contract.
                friend_list.add(i).write(number);
            }
        })
    }
}
