//! Keeps panics on the Rust side of the C boundary.
//!
//! A panic unwinding out of an `extern "C"` function aborts the whole
//! client (and before Rust 1.81 was undefined behaviour). Every exported
//! function therefore runs its body through [`guard`], which turns a panic
//! into the function's documented failure value; functions with a
//! `Tox_Err_*` out-parameter use [`guard_with_error`], which also stores
//! the code. The panic hook has printed the message to stderr by then.
//!
//! Bodies are asserted unwind-safe: after a panic the caller gets a
//! failure and this crate does not look at the half-updated state again in
//! that call. (This only works with `panic = "unwind"`, the default.)

#![allow(
    unsafe_code,
    reason = "stores error codes through C callers' out-parameters"
)]

use std::panic::{self, AssertUnwindSafe};

/// Runs `body`; returns `on_panic` if it panics.
pub(crate) fn guard<R>(on_panic: R, body: impl FnOnce() -> R) -> R {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// Runs `body`, which yields the return value and the error code, and
/// stores the code for the caller; a panic yields `on_panic` instead.
///
/// # Safety
/// `error` is NULL or valid for writing an `E` (tox.h lets callers pass
/// NULL when they do not want the code).
pub(crate) unsafe fn guard_with_error<R, E>(
    error: *mut E,
    on_panic: (R, E),
    body: impl FnOnce() -> (R, E),
) -> R {
    let (value, code) = guard(on_panic, body);
    // SAFETY: forwarded from this function's contract.
    unsafe { set_error(error, code) };
    value
}

/// Stores `code` in a C caller's error out-parameter unless it is NULL.
///
/// # Safety
/// `error` is NULL or valid for writing an `E`. What it holds before need
/// not be a valid `E` (C callers pass uninitialised variables): it is
/// overwritten, never read.
pub(crate) unsafe fn set_error<E>(error: *mut E, code: E) {
    if !error.is_null() {
        // SAFETY: not NULL, and writable by the contract; `write` neither
        // reads nor drops the old contents.
        unsafe { error.write(code) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ErrOptionsNew;

    #[test]
    fn a_panic_becomes_the_failure_value() {
        let value = guard(7_u32, || panic!("boom"));
        assert_eq!(value, 7);
        assert_eq!(guard(7_u32, || 3), 3);
    }

    #[test]
    fn the_error_code_is_stored_and_null_is_skipped() {
        let mut code = 0xdead_beef_u32;
        let error = (&raw mut code).cast::<ErrOptionsNew>();
        // SAFETY: `error` points to a live u32, which has the enum's size.
        let value =
            unsafe { guard_with_error(error, (0_u8, ErrOptionsNew::Malloc), || panic!("boom")) };
        assert_eq!((value, code), (0, 1));
        // SAFETY: as above.
        let value = unsafe {
            guard_with_error(error, (0_u8, ErrOptionsNew::Malloc), || {
                (5, ErrOptionsNew::Ok)
            })
        };
        assert_eq!((value, code), (5, 0));
        // SAFETY: NULL is allowed.
        let value = unsafe {
            guard_with_error(std::ptr::null_mut(), (0_u8, ErrOptionsNew::Malloc), || {
                (9, ErrOptionsNew::Ok)
            })
        };
        assert_eq!(value, 9);
    }
}
