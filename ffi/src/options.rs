//! `struct Tox_Options`: the settings a client hands `tox_new`.
//!
//! C programs allocate the struct themselves (on the stack, in their own
//! structs) and fill it with `tox_options_default`, or ask for one with
//! `tox_options_new`; either way it must be laid out exactly as in tox.h
//! 0.2.18, field for field, which `tests/abi.rs` checks against the
//! header. The accessors mirror c-toxcore's: they store and return values
//! unchecked (a bad proxy type, say, is `tox_new`'s to reject). Where
//! c-toxcore would dereference a NULL `options`, getters here return the
//! field's zero value and setters do nothing.

#![allow(
    unsafe_code,
    reason = "exports C symbols and reads and writes a C-owned struct through raw pointers"
)]

use std::alloc::{self, Layout};
use std::ffi::{c_char, c_void};
use std::ptr;

use crate::guard::{guard, guard_with_error};
use crate::types::{ErrOptionsNew, LogCallback, ProxyType, SavedataType, ToxSystem};

/// tox.h's `struct Tox_Options`, in its field order with its C types.
///
/// The two enum fields are raw `u32`s: C may store any number there, and
/// reading an out-of-range value as a Rust enum would be undefined.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ToxOptions {
    /// Use IPv6 (dual-stack) sockets.
    pub ipv6_enabled: bool,
    /// Use UDP; off means TCP relays only (needed behind a proxy).
    pub udp_enabled: bool,
    /// Find peers on the LAN by broadcast.
    pub local_discovery_enabled: bool,
    /// Announce to, and store announcements for, the DHT (for groups, a
    /// c-toxcore 0.2.18 feature toxide does not have yet).
    pub dht_announcements_enabled: bool,
    /// A `Tox_Proxy_Type` ([`ProxyType`]).
    pub proxy_type: u32,
    /// The proxy's host name or address, NUL-terminated; borrowed from the
    /// client until `tox_new` returns.
    pub proxy_host: *const c_char,
    /// The proxy's port.
    pub proxy_port: u16,
    /// First UDP port to try binding; 0 with `end_port` 0 means
    /// 33445–33545.
    pub start_port: u16,
    /// Last UDP port to try binding.
    pub end_port: u16,
    /// Port for a TCP relay server of our own; 0 runs none.
    pub tcp_port: u16,
    /// Try UDP hole punching towards friends behind NAT.
    pub hole_punching_enabled: bool,
    /// A `Tox_Savedata_Type` ([`SavedataType`]).
    pub savedata_type: u32,
    /// The profile or secret key to start from; borrowed like `proxy_host`.
    pub savedata_data: *const u8,
    /// Bytes at `savedata_data`.
    pub savedata_length: usize,
    /// Where log lines go; NULL for nowhere.
    pub log_callback: Option<LogCallback>,
    /// Passed to `log_callback` as its last argument.
    pub log_user_data: *mut c_void,
    /// Let clients call into one instance from several threads.
    pub experimental_thread_safety: bool,
    /// c-toxcore's OS abstraction; NULL for the real system.
    pub operating_system: *const ToxSystem,
}

/// c-toxcore's defaults: every network feature on, no proxy, no savedata,
/// the default port range, no logging.
impl Default for ToxOptions {
    fn default() -> Self {
        Self {
            ipv6_enabled: true,
            udp_enabled: true,
            local_discovery_enabled: true,
            dht_announcements_enabled: true,
            proxy_type: ProxyType::None.into(),
            proxy_host: ptr::null(),
            proxy_port: 0,
            start_port: 0,
            end_port: 0,
            tcp_port: 0,
            hole_punching_enabled: true,
            savedata_type: SavedataType::None.into(),
            savedata_data: ptr::null(),
            savedata_length: 0,
            log_callback: None,
            log_user_data: ptr::null_mut(),
            experimental_thread_safety: false,
            operating_system: ptr::null(),
        }
    }
}

/// Fills `options` with the defaults (see [`ToxOptions::default`]); NULL
/// is ignored.
///
/// # Safety
/// `options` is NULL or valid for writing a `struct Tox_Options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_options_default(options: *mut ToxOptions) {
    guard((), || {
        if !options.is_null() {
            // SAFETY: not NULL and writable by the contract; `write` does
            // not read what was there (possibly uninitialised memory).
            unsafe { options.write(ToxOptions::default()) };
        }
    });
}

/// Allocates options filled with the defaults; free them with
/// [`tox_options_free`]. NULL and `TOX_ERR_OPTIONS_NEW_MALLOC` when memory
/// is short.
///
/// # Safety
/// `error` is NULL or valid for writing a `Tox_Err_Options_New`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_options_new(error: *mut ErrOptionsNew) -> *mut ToxOptions {
    let allocate = || {
        // SAFETY: the layout is not zero-sized (checked below).
        let options = unsafe { alloc::alloc(Layout::new::<ToxOptions>()) }.cast::<ToxOptions>();
        if options.is_null() {
            return (options, ErrOptionsNew::Malloc);
        }
        // SAFETY: freshly allocated with this type's layout, so aligned
        // and writable.
        unsafe { options.write(ToxOptions::default()) };
        (options, ErrOptionsNew::Ok)
    };
    let on_panic = (ptr::null_mut(), ErrOptionsNew::Malloc);
    // SAFETY: `error` is NULL or writable, by this function's contract.
    unsafe { guard_with_error(error, on_panic, allocate) }
}

const _: () = assert!(size_of::<ToxOptions>() > 0);

/// Frees options from [`tox_options_new`]; NULL is ignored.
///
/// # Safety
/// `options` is NULL or came from `tox_options_new` and was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_options_free(options: *mut ToxOptions) {
    guard((), || {
        if !options.is_null() {
            // SAFETY: by the contract it was allocated by `tox_options_new`
            // with this very layout and is freed once.
            unsafe { alloc::dealloc(options.cast(), Layout::new::<ToxOptions>()) };
        }
    });
}

/// Reads the savedata pointer (see [`ToxOptions::savedata_data`]).
///
/// # Safety
/// `options` is NULL or points to a readable `struct Tox_Options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_options_get_savedata_data(options: *const ToxOptions) -> *const u8 {
    guard(ptr::null(), || {
        if options.is_null() {
            return ptr::null();
        }
        // SAFETY: not NULL and readable by the contract; the field is read
        // through the raw pointer, making no reference.
        unsafe { (*options).savedata_data }
    })
}

/// Sets the savedata pointer and its length together, as c-toxcore does.
///
/// # Safety
/// `options` is NULL or valid for writing a `struct Tox_Options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_options_set_savedata_data(
    options: *mut ToxOptions,
    data: *const u8,
    length: usize,
) {
    guard((), || {
        if !options.is_null() {
            // SAFETY: not NULL and writable by the contract; both fields
            // are `Copy`, so nothing old is dropped.
            unsafe {
                (*options).savedata_data = data;
                (*options).savedata_length = length;
            }
        }
    });
}

/// The plain field accessors: `get` returns the field (its zero value for
/// NULL options), `set` stores the value unchecked (nothing for NULL).
macro_rules! accessors {
    ($( $get:ident / $set:ident : $field:ident : $ty:ty = $zero:expr; )+) => {$(
        #[doc = concat!("Reads [`ToxOptions::", stringify!($field), "`].")]
        ///
        /// # Safety
        /// `options` is NULL or points to a readable `struct Tox_Options`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(options: *const ToxOptions) -> $ty {
            guard($zero, || {
                if options.is_null() {
                    return $zero;
                }
                // SAFETY: not NULL and readable by the contract; the field
                // is read through the raw pointer, making no reference.
                unsafe { (*options).$field }
            })
        }

        #[doc = concat!("Sets [`ToxOptions::", stringify!($field), "`].")]
        ///
        /// # Safety
        /// `options` is NULL or valid for writing a `struct Tox_Options`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(options: *mut ToxOptions, value: $ty) {
            guard((), || {
                if !options.is_null() {
                    // SAFETY: not NULL and writable by the contract; the
                    // field is `Copy`, so nothing old is dropped.
                    unsafe { (*options).$field = value };
                }
            });
        }
    )+};
}

accessors! {
    tox_options_get_ipv6_enabled / tox_options_set_ipv6_enabled:
        ipv6_enabled: bool = false;
    tox_options_get_udp_enabled / tox_options_set_udp_enabled:
        udp_enabled: bool = false;
    tox_options_get_local_discovery_enabled / tox_options_set_local_discovery_enabled:
        local_discovery_enabled: bool = false;
    tox_options_get_dht_announcements_enabled / tox_options_set_dht_announcements_enabled:
        dht_announcements_enabled: bool = false;
    tox_options_get_proxy_type / tox_options_set_proxy_type:
        proxy_type: u32 = ProxyType::None as u32;
    tox_options_get_proxy_host / tox_options_set_proxy_host:
        proxy_host: *const c_char = ptr::null();
    tox_options_get_proxy_port / tox_options_set_proxy_port:
        proxy_port: u16 = 0;
    tox_options_get_start_port / tox_options_set_start_port:
        start_port: u16 = 0;
    tox_options_get_end_port / tox_options_set_end_port:
        end_port: u16 = 0;
    tox_options_get_tcp_port / tox_options_set_tcp_port:
        tcp_port: u16 = 0;
    tox_options_get_hole_punching_enabled / tox_options_set_hole_punching_enabled:
        hole_punching_enabled: bool = false;
    tox_options_get_savedata_type / tox_options_set_savedata_type:
        savedata_type: u32 = SavedataType::None as u32;
    tox_options_get_savedata_length / tox_options_set_savedata_length:
        savedata_length: usize = 0;
    tox_options_get_log_callback / tox_options_set_log_callback:
        log_callback: Option<LogCallback> = None;
    tox_options_get_log_user_data / tox_options_set_log_user_data:
        log_user_data: *mut c_void = ptr::null_mut();
    tox_options_get_experimental_thread_safety / tox_options_set_experimental_thread_safety:
        experimental_thread_safety: bool = false;
    tox_options_get_operating_system / tox_options_set_operating_system:
        operating_system: *const ToxSystem = ptr::null();
}
