//! Reading and writing the C buffers tox.h's functions take: a pointer
//! and a length in, a caller-sized buffer out.

#![allow(
    unsafe_code,
    reason = "turns C pointers into slices and copies into C buffers"
)]

use std::ptr;

/// `length` bytes at `data`; `None` when `data` is NULL with a non-zero
/// length (a NULL buffer of length 0 is the empty slice).
///
/// # Safety
/// `data` is NULL or has `length` readable bytes that nothing writes while
/// the slice lives.
pub(crate) unsafe fn input<'a>(data: *const u8, length: usize) -> Option<&'a [u8]> {
    if length == 0 {
        Some(&[])
    } else if data.is_null() {
        None
    } else {
        // SAFETY: not NULL, and readable for `length` bytes by the contract.
        Some(unsafe { std::slice::from_raw_parts(data, length) })
    }
}

/// The `N` bytes at `data` (a key, an address); `None` for NULL.
///
/// # Safety
/// `data` is NULL or has `N` readable bytes.
pub(crate) unsafe fn array<const N: usize>(data: *const u8) -> Option<[u8; N]> {
    if data.is_null() {
        return None;
    }
    let mut out = [0; N];
    // SAFETY: not NULL and readable for N bytes by the contract; `out` is
    // ours.
    unsafe { ptr::copy_nonoverlapping(data, out.as_mut_ptr(), N) };
    Some(out)
}

/// Copies `bytes` to the C buffer `out`.
///
/// # Safety
/// `out` is not NULL and has `bytes.len()` writable bytes that do not
/// overlap `bytes` (which is always a buffer of ours here).
pub(crate) unsafe fn output(out: *mut u8, bytes: &[u8]) {
    // SAFETY: forwarded from this function's contract.
    unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
}

/// Copies `bytes` to `out` unless it is NULL (tox.h's getters skip a
/// NULL buffer).
///
/// # Safety
/// `out` is NULL or has `bytes.len()` writable bytes.
pub(crate) unsafe fn output_if(out: *mut u8, bytes: &[u8]) {
    if !out.is_null() {
        // SAFETY: not NULL; the rest is this function's contract.
        unsafe { output(out, bytes) };
    }
}

/// `(true, ok)` or `(false, the error)`, for `guard_with_error`.
pub(crate) fn outcome<E>(ok: E, result: Result<(), E>) -> (bool, E) {
    match result {
        Ok(()) => (true, ok),
        Err(code) => (false, code),
    }
}
