//! The instance behind a `Tox *`: `tox_new`, `tox_kill`, `tox_iterate`,
//! `tox_iteration_interval`, the save, bootstrapping and the network
//! getters.
//!
//! A `Tox *` is a boxed [`Instance`]: toxide's stack under the synchronous
//! driver ([`SyncDriver`]), which owns non-blocking sockets and no thread.
//! `tox_iterate` reads what arrived, runs due timers and then calls the
//! client's callbacks, one per event, as c-toxcore does; every other call
//! changes the stack and sends what that queued before it returns (a
//! message leaves inside `tox_friend_send_message`, not at the next
//! iterate).
//!
//! Callbacks may call back into the library with the same `Tox *` (toxic
//! answers inside its message callback). No Rust reference to the
//! instance is held while a callback runs: `tox_iterate` takes the events
//! out first and looks the callback up afresh for each one.

#![allow(
    unsafe_code,
    reason = "exports C symbols and turns the C handle back into the instance"
)]

use std::ffi::{CStr, c_char, c_void};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use toxide::driver::proxy::{ProxyConfig, ProxyKind};
use toxide::sync_driver::SyncDriver;
use toxide::tox::ToxBuilder;
use toxide::tox::ops::{self, Kept, Profile};
use toxide::{KeyPair, NoSpam, PackedNode, PublicKey, SecretKey};

use crate::callbacks::Callbacks;
use crate::cbuf::{array, output_if};
use crate::guard::{guard, guard_with_error};
use crate::options::ToxOptions;
use crate::types::{Connection, ErrBootstrap, ErrGetPort, ErrNew, ProxyType, SavedataType, Tox};

/// One running Tox instance, as C holds it.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) driver: SyncDriver,
    pub(crate) keys: KeyPair,
    pub(crate) nospam: NoSpam,
    kept: Kept,
    pub(crate) callbacks: Callbacks,
}

impl Instance {
    /// Starts an instance as `tox_new` describes it.
    fn new(options: &ToxOptions) -> Result<Self, ErrNew> {
        let profile = load_profile(options)?;
        let builder = builder(options)?;
        let mut last = ErrNew::PortAlloc;
        let mut driver = None;
        for config in builder.driver_configs(&profile.keys, profile.nospam) {
            match SyncDriver::bind(config) {
                Ok(bound) => {
                    driver = Some(bound);
                    break;
                }
                Err(error) => {
                    tracing::debug!(%error, "tox_new: port not bound");
                    last = ErrNew::PortAlloc;
                }
            }
        }
        let mut driver = driver.ok_or(last)?;
        let now = Instant::now();
        ops::restore(driver.stack(), now, profile.save.as_ref(), &[]);
        driver.flush(now);
        Ok(Self {
            driver,
            keys: profile.keys,
            nospam: profile.nospam,
            kept: profile.kept,
            callbacks: Callbacks::default(),
        })
    }

    /// The stack, to read.
    pub(crate) fn stack_ref(&self) -> &toxide::Stack {
        self.driver.stack_ref()
    }

    /// The messenger (every client stack has one).
    pub(crate) fn messenger(&self) -> Option<&toxide::messenger::messenger::Messenger> {
        self.stack_ref().messenger.as_ref()
    }

    /// Lets what a call queued go out, and returns `out`.
    pub(crate) fn sent<T>(&mut self, out: T) -> T {
        self.driver.flush(Instant::now());
        out
    }

    /// The save now (c-toxcore's format, never encrypted: clients use
    /// toxencryptsave.h for that).
    fn savedata(&mut self) -> Vec<u8> {
        let (keys, nospam) = (self.keys.clone(), self.nospam);
        ops::savedata(
            self.driver.stack(),
            &keys,
            nospam,
            &self.kept,
            ops::unix_now(),
        )
    }

    /// `tox_bootstrap` and `tox_add_tcp_relay`: every address `host`
    /// resolves to, with `port`.
    ///
    /// # Safety
    /// `host` is NULL or a NUL-terminated string; `key` NULL or 32 bytes.
    unsafe fn nodes(
        host: *const c_char,
        port: u16,
        key: *const u8,
    ) -> Result<Vec<PackedNode>, ErrBootstrap> {
        // SAFETY: this function's contract: `public_key` is NULL or 32 bytes.
        let key = unsafe { array::<32>(key) }.ok_or(ErrBootstrap::Null)?;
        if host.is_null() {
            return Err(ErrBootstrap::Null);
        }
        if port == 0 {
            return Err(ErrBootstrap::BadPort);
        }
        // SAFETY: not NULL, and a NUL-terminated string by tox.h's contract.
        let host = unsafe { CStr::from_ptr(host) }
            .to_str()
            .map_err(|_| ErrBootstrap::BadHost)?;
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|_| ErrBootstrap::BadHost)?
            .collect();
        if addrs.is_empty() {
            return Err(ErrBootstrap::BadHost);
        }
        let key = PublicKey::new(key);
        Ok(addrs.into_iter().map(|a| PackedNode::udp(a, key)).collect())
    }
}

/// Who the instance is: the save's profile, a secret key's, or a new one.
fn load_profile(options: &ToxOptions) -> Result<Profile, ErrNew> {
    let kind = SavedataType::try_from(options.savedata_type).map_err(|_| ErrNew::LoadBadFormat)?;
    if kind == SavedataType::None {
        return Profile::load(None, None).map_err(|_| ErrNew::LoadBadFormat);
    }
    if options.savedata_data.is_null() || options.savedata_length == 0 {
        return Err(ErrNew::LoadBadFormat);
    }
    // SAFETY: not NULL, and `savedata_length` readable bytes by tox.h's
    // contract (borrowed until `tox_new` returns).
    let data =
        unsafe { std::slice::from_raw_parts(options.savedata_data, options.savedata_length) };
    match kind {
        SavedataType::SecretKey => {
            let secret: [u8; 32] = data.try_into().map_err(|_| ErrNew::LoadBadFormat)?;
            let mut profile = Profile::load(None, None).map_err(|_| ErrNew::LoadBadFormat)?;
            profile.keys = KeyPair::from_secret(SecretKey::from_bytes(secret));
            Ok(profile)
        }
        _ if toxide::messenger::save::is_encrypted(data) => Err(ErrNew::LoadEncrypted),
        _ => Profile::load(Some(data), None).map_err(|_| ErrNew::LoadBadFormat),
    }
}

/// The network settings of `options`, as a builder.
fn builder(options: &ToxOptions) -> Result<ToxBuilder, ErrNew> {
    let (mut start, mut end) = (options.start_port, options.end_port);
    // c-toxcore's rules (`new_networking_ex`): both 0 is the default
    // range, one 0 means the other port only, and a reversed range is
    // turned round.
    match (start, end) {
        (0, 0) => (start, end) = (33445, 33545),
        (0, port) | (port, 0) => (start, end) = (port, port),
        (a, b) if a > b => (start, end) = (b, a),
        _ => {}
    }
    let mut builder = ToxBuilder::new()
        .port_range(start..=end)
        .ipv6(options.ipv6_enabled)
        .udp(options.udp_enabled)
        // Without UDP there is no socket to broadcast from (c-toxcore
        // turns it off too).
        .lan_discovery(options.local_discovery_enabled && options.udp_enabled);
    let kind = ProxyType::try_from(options.proxy_type).map_err(|_| ErrNew::ProxyBadType)?;
    let kind = match kind {
        ProxyType::None => return Ok(builder),
        ProxyType::Http => ProxyKind::Http,
        ProxyType::Socks5 => ProxyKind::Socks5,
    };
    if options.proxy_port == 0 {
        return Err(ErrNew::ProxyBadPort);
    }
    if options.proxy_host.is_null() {
        return Err(ErrNew::ProxyBadHost);
    }
    // SAFETY: not NULL, and a NUL-terminated string borrowed until
    // `tox_new` returns, by tox.h's contract.
    let host = unsafe { CStr::from_ptr(options.proxy_host) }
        .to_str()
        .map_err(|_| ErrNew::ProxyBadHost)?;
    let addr = (host, options.proxy_port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or(ErrNew::ProxyBadHost)?;
    builder = builder.proxy(ProxyConfig { kind, addr });
    Ok(builder)
}

/// Runs `f` on the instance behind `tox`; `None` for NULL.
///
/// # Safety
/// `tox` is NULL or came from [`tox_new`] and was not killed, and no other
/// call on it runs at the same time (tox.h: one thread at a time).
pub(crate) unsafe fn with<R>(tox: *mut Tox, f: impl FnOnce(&mut Instance) -> R) -> Option<R> {
    // SAFETY: by the contract the pointer is a live, unaliased `Instance`
    // (`tox_new` made it from a `Box<Instance>`).
    let instance = unsafe { tox.cast::<Instance>().as_mut() }?;
    Some(f(instance))
}

/// [`with`] for tox.h's `const Tox *` getters.
///
/// # Safety
/// As [`with`].
pub(crate) unsafe fn with_ref<R>(tox: *const Tox, f: impl FnOnce(&Instance) -> R) -> Option<R> {
    // SAFETY: as in `with`; only read here.
    let instance = unsafe { tox.cast::<Instance>().as_ref() }?;
    Some(f(instance))
}

/// The body of the exports that change the instance: `f` on the
/// instance behind `tox`, after which what it queued goes out; its error
/// code is stored for the caller. An error gives `fail.0` with the
/// error's code; NULL `tox` and a panic give `fail`.
///
/// # Safety
/// As [`with`]; `error` is NULL or writable.
pub(crate) unsafe fn call<R: Copy, E: Copy>(
    tox: *mut Tox,
    error: *mut E,
    ok: E,
    fail: (R, E),
    f: impl FnOnce(&mut Instance) -> Result<R, E>,
) -> R {
    let body = || {
        // SAFETY: the contract.
        let out = unsafe {
            with(tox, |t| {
                let out = f(t);
                t.sent(out)
            })
        };
        coded(out, ok, fail)
    };
    // SAFETY: `error` is NULL or writable by the contract.
    unsafe { guard_with_error(error, fail, body) }
}

/// [`call`] for the getters with an error code: nothing is sent (and the
/// interval does not take a read for traffic).
///
/// # Safety
/// As [`with_ref`]; `error` is NULL or writable.
pub(crate) unsafe fn query<R: Copy, E: Copy>(
    tox: *const Tox,
    error: *mut E,
    ok: E,
    fail: (R, E),
    f: impl FnOnce(&Instance) -> Result<R, E>,
) -> R {
    // SAFETY: the contract.
    let body = || coded(unsafe { with_ref(tox, f) }, ok, fail);
    // SAFETY: `error` is NULL or writable by the contract.
    unsafe { guard_with_error(error, fail, body) }
}

/// A call's value and code: `fail` for a missing instance, `fail.0` with
/// the error's code for an error.
fn coded<R: Copy, E: Copy>(out: Option<Result<R, E>>, ok: E, fail: (R, E)) -> (R, E) {
    match out {
        Some(Ok(value)) => (value, ok),
        Some(Err(code)) => (fail.0, code),
        None => fail,
    }
}

/// The body of the getters without an error code: `f` on the instance
/// behind `tox`; `default` for NULL `tox` or a panic.
///
/// # Safety
/// As [`with_ref`].
pub(crate) unsafe fn get<R>(tox: *const Tox, default: R, f: impl FnOnce(&Instance) -> R) -> R {
    // SAFETY: the contract.
    guard(None, || unsafe { with_ref(tox, f) }).unwrap_or(default)
}

/// Starts an instance; NULL and the reason on failure. NULL `options`
/// means the defaults.
///
/// # Safety
/// `options` is NULL or a valid `struct Tox_Options` whose pointers are
/// valid as tox.h describes; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_new(options: *const ToxOptions, error: *mut ErrNew) -> *mut Tox {
    let body = || {
        // SAFETY: NULL or valid by the contract.
        let options = unsafe { options.as_ref() }.copied().unwrap_or_default();
        match Instance::new(&options) {
            Ok(instance) => (Box::into_raw(Box::new(instance)).cast::<Tox>(), ErrNew::Ok),
            Err(code) => (std::ptr::null_mut(), code),
        }
    };
    // SAFETY: `error` is NULL or writable by the contract.
    unsafe { guard_with_error(error, (std::ptr::null_mut(), ErrNew::Malloc), body) }
}

/// Stops an instance: friends see it go at once (kill packets), the
/// sockets close, the memory is freed. NULL is ignored.
///
/// # Safety
/// `tox` is NULL or came from [`tox_new`] and is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_kill(tox: *mut Tox) {
    guard((), || {
        if tox.is_null() {
            return;
        }
        // SAFETY: made by `tox_new` from a box, and given back once.
        let mut instance = unsafe { Box::from_raw(tox.cast::<Instance>()) };
        instance.driver.shutdown(Instant::now());
    });
}

/// Runs the instance: reads what arrived, runs due timers, and calls the
/// registered callbacks with `user_data`.
///
/// # Safety
/// As [`with`]; `user_data` is only passed on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_iterate(tox: *mut Tox, user_data: *mut c_void) {
    guard((), || {
        // SAFETY: the contract; the borrow ends before any callback runs.
        let Some(events) = (unsafe { with(tox, |t| t.driver.iterate(Instant::now())) }) else {
            return;
        };
        for event in events {
            // SAFETY: as above; callbacks may have changed in between.
            let Some(callbacks) = (unsafe { with_ref(tox, |t| t.callbacks) }) else {
                return;
            };
            // SAFETY: no reference to the instance lives across the call.
            unsafe { callbacks.dispatch(tox, event, user_data) };
        }
    });
}

/// Milliseconds until the instance wants [`tox_iterate`] again: long
/// when idle (toxide sleeps until its next timer), short while traffic
/// moves.
///
/// # Safety
/// As [`with_ref`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_iteration_interval(tox: *const Tox) -> u32 {
    guard(50, || {
        // SAFETY: the contract.
        unsafe { with_ref(tox, |t| t.driver.iteration_interval(Instant::now())) }.map_or(50, millis)
    })
}

/// `interval` in whole milliseconds, rounded up (a client that sleeps 0
/// for 0.4 ms would spin).
fn millis(interval: Duration) -> u32 {
    let ms = interval.as_micros().div_ceil(1000);
    u32::try_from(ms).unwrap_or(u32::MAX)
}

/// The size of [`tox_get_savedata`]'s output now.
///
/// # Safety
/// As [`with`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_get_savedata_size(tox: *const Tox) -> usize {
    guard(0, || {
        // SAFETY: the contract (the save marks online friends as seen
        // now, a change C does not see: `const` in tox.h).
        unsafe { with(tox.cast_mut(), |t| t.savedata().len()) }.unwrap_or(0)
    })
}

/// Writes the save (c-toxcore's format) to `savedata`, which holds
/// [`tox_get_savedata_size`] bytes.
///
/// # Safety
/// As [`with`]; `savedata` is NULL or has that many writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_get_savedata(tox: *const Tox, savedata: *mut u8) {
    guard((), || {
        // SAFETY: the contract.
        if let Some(bytes) = unsafe { with(tox.cast_mut(), Instance::savedata) } {
            // SAFETY: NULL or large enough by the contract.
            unsafe { output_if(savedata, &bytes) };
        }
    });
}

/// Joins the network through the DHT node at `host`:`port` with key
/// `public_key` (32 bytes). Every address the name resolves to is tried.
///
/// # Safety
/// As [`with`]; `host` is NULL or a NUL-terminated string, `public_key`
/// NULL or 32 bytes, `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_bootstrap(
    tox: *mut Tox,
    host: *const c_char,
    port: u16,
    public_key: *const u8,
    error: *mut ErrBootstrap,
) -> bool {
    // SAFETY: the contract.
    unsafe {
        add_nodes(tox, host, port, public_key, error, |stack, now, node| {
            stack.bootstrap(now, node);
        })
    }
}

/// Keeps a connection to the TCP relay at `host`:`port` with key
/// `public_key`.
///
/// # Safety
/// As [`tox_bootstrap`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_add_tcp_relay(
    tox: *mut Tox,
    host: *const c_char,
    port: u16,
    public_key: *const u8,
    error: *mut ErrBootstrap,
) -> bool {
    // SAFETY: the contract.
    unsafe {
        add_nodes(tox, host, port, public_key, error, |stack, now, node| {
            // Known already or enough relays kept: still success, as in
            // c-toxcore.
            stack.add_tcp_relay(now, node.addr, node.public_key);
        })
    }
}

/// [`tox_bootstrap`] and [`tox_add_tcp_relay`]: `add` for every address
/// `host` resolves to.
///
/// # Safety
/// As [`tox_bootstrap`].
unsafe fn add_nodes(
    tox: *mut Tox,
    host: *const c_char,
    port: u16,
    public_key: *const u8,
    error: *mut ErrBootstrap,
    add: impl Fn(&mut toxide::Stack, Instant, PackedNode),
) -> bool {
    // SAFETY: the contract.
    unsafe {
        call(
            tox,
            error,
            ErrBootstrap::Ok,
            (false, ErrBootstrap::Null),
            |t| {
                let nodes = Instance::nodes(host, port, public_key)?;
                let now = Instant::now();
                for node in nodes {
                    add(t.driver.stack(), now, node);
                }
                Ok(true)
            },
        )
    }
}

/// How we are connected to the network now.
///
/// # Safety
/// As [`with`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_connection_status(tox: *const Tox) -> Connection {
    // SAFETY: the contract.
    unsafe {
        get(tox, Connection::None, |t| {
            t.stack_ref().self_connection(Instant::now()).into()
        })
    }
}

/// The UDP port we listen on.
///
/// # Safety
/// As [`with_ref`]; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_udp_port(tox: *const Tox, error: *mut ErrGetPort) -> u16 {
    let body = || {
        // SAFETY: the contract.
        let port = unsafe {
            with_ref(tox, |t| {
                t.driver.local_addrs().first().map(SocketAddr::port)
            })
        };
        match port.flatten() {
            Some(port) => (port, ErrGetPort::Ok),
            None => (0, ErrGetPort::NotBound),
        }
    };
    // SAFETY: `error` is NULL or writable by the contract.
    unsafe { guard_with_error(error, (0, ErrGetPort::NotBound), body) }
}

/// The port of our own TCP relay: toxide runs none inside a client yet
/// (`tcp_port` is not served), so always `TOX_ERR_GET_PORT_NOT_BOUND`.
///
/// # Safety
/// `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_tcp_port(_tox: *const Tox, error: *mut ErrGetPort) -> u16 {
    // SAFETY: `error` is NULL or writable by the contract.
    unsafe {
        guard_with_error(error, (0, ErrGetPort::NotBound), || {
            (0, ErrGetPort::NotBound)
        })
    }
}

/// Our DHT key (new every start) into `dht_id` (32 bytes).
///
/// # Safety
/// As [`with_ref`]; `dht_id` is NULL or has 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_self_get_dht_id(tox: *const Tox, dht_id: *mut u8) {
    guard((), || {
        // SAFETY: the contract.
        if let Some(key) = unsafe { with_ref(tox, |t| t.driver.public_key()) } {
            // SAFETY: NULL or 32 writable bytes by the contract.
            unsafe { output_if(dht_id, key.as_bytes()) };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_round_up_to_whole_milliseconds() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_micros(400)), 1);
        assert_eq!(millis(Duration::from_millis(1000)), 1000);
        assert_eq!(millis(Duration::from_secs(1 << 40)), u32::MAX);
    }
}
