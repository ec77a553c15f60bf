//! toxav.h: audio and video calls, exported so that clients linked
//! against c-toxcore's libtoxcore (toxic, qTox) load, and answering
//! honestly that no call can be made yet.
//!
//! Debian builds its clients with immediate binding (`-z now`), so the
//! loader refuses a library that lacks any symbol they reference, even
//! one they never call. Every function toxav.h 0.2.18 declares is here,
//! with the header's C signature, including the old A/V conference
//! functions toxic uses.
//!
//! What works: a session ([`ToxAv`]) is created, remembers its `Tox *`
//! and every callback with its user data, and is freed. What does not:
//! every call and frame function fails with the header's code that makes
//! a client report "the call failed" and carry on (see each function),
//! and no callback ever fires, because toxide has no call signalling
//! (c-toxcore's MSI) nor RTP, Opus or VPx yet.
//!
//! The session never dereferences the `Tox *` it is given: it only stores
//! it and gives it back. A NULL `ToxAV *` is accepted everywhere (where
//! c-toxcore would read through it): setters do nothing, and functions
//! with an error code report the header's SYNC or NULL code.

#![allow(
    unsafe_code,
    reason = "exports C symbols, owns the session behind C's ToxAV pointer and writes error codes"
)]

use std::ffi::{c_int, c_uint, c_void};
use std::ptr;
use std::sync::{Mutex, PoisonError};

use crate::guard::{guard, guard_with_error};
use crate::types::{
    ErrAvAnswer, ErrAvBitRateSet, ErrAvCall, ErrAvCallControl, ErrAvNew, ErrAvSendFrame, Tox,
};

/// What `toxav_iteration_interval` and its audio and video forms return,
/// in milliseconds. c-toxcore asks to be iterated every 200 ms with no
/// call running, and more often during one, to serve the call's packets
/// and codecs; no call can run here, so iterating serves nothing, and a
/// long interval keeps a client's A/V thread from waking up for nothing.
/// It must shrink when calls are built.
pub const IDLE_ITERATION_INTERVAL_MS: u32 = 1000;

/// `toxav_call_cb`: a friend is calling, with or without audio and video.
pub type CallCallback = unsafe extern "C" fn(
    av: *mut ToxAv,
    friend_number: u32,
    audio_enabled: bool,
    video_enabled: bool,
    user_data: *mut c_void,
);

/// `toxav_call_state_cb`: a call's state changed; `state` is a mask of
/// `Toxav_Friend_Call_State` bits ([`crate::types::AvFriendCallState`]).
pub type CallStateCallback =
    unsafe extern "C" fn(av: *mut ToxAv, friend_number: u32, state: u32, user_data: *mut c_void);

/// `toxav_audio_bit_rate_cb` and `toxav_video_bit_rate_cb` (one shape):
/// the network suggests a new bit rate for a call.
pub type BitRateCallback =
    unsafe extern "C" fn(av: *mut ToxAv, friend_number: u32, bit_rate: u32, user_data: *mut c_void);

/// `toxav_audio_receive_frame_cb`: interleaved 16-bit PCM from a friend.
pub type AudioReceiveFrameCallback = unsafe extern "C" fn(
    av: *mut ToxAv,
    friend_number: u32,
    pcm: *const i16,
    sample_count: usize,
    channels: u8,
    sampling_rate: u32,
    user_data: *mut c_void,
);

/// `toxav_video_receive_frame_cb`: a YUV420 frame from a friend, with
/// each plane's stride.
pub type VideoReceiveFrameCallback = unsafe extern "C" fn(
    av: *mut ToxAv,
    friend_number: u32,
    width: u16,
    height: u16,
    y: *const u8,
    u: *const u8,
    v: *const u8,
    ystride: i32,
    ustride: i32,
    vstride: i32,
    user_data: *mut c_void,
);

/// `toxav_audio_data_cb`: audio from a peer of an A/V conference (its
/// first argument is the `Tox *`, typed `void *` by the header).
pub type GroupAudioCallback = unsafe extern "C" fn(
    tox: *mut c_void,
    groupnumber: u32,
    peernumber: u32,
    pcm: *const i16,
    samples: u32,
    channels: u8,
    sample_rate: u32,
    userdata: *mut c_void,
);

/// One callback slot: the function (NULL unregisters) and the user data
/// passed back to it.
#[derive(Clone, Copy, Debug)]
pub struct Registered<F> {
    /// The client's function, if one is registered.
    pub callback: Option<F>,
    /// Its last argument.
    pub user_data: *mut c_void,
}

impl<F> Default for Registered<F> {
    fn default() -> Self {
        Self {
            callback: None,
            user_data: ptr::null_mut(),
        }
    }
}

/// Every callback a session holds, as the `toxav_callback_*` functions
/// registered them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Callbacks {
    /// `toxav_callback_call`.
    pub call: Registered<CallCallback>,
    /// `toxav_callback_call_state`.
    pub call_state: Registered<CallStateCallback>,
    /// `toxav_callback_audio_bit_rate`.
    pub audio_bit_rate: Registered<BitRateCallback>,
    /// `toxav_callback_video_bit_rate`.
    pub video_bit_rate: Registered<BitRateCallback>,
    /// `toxav_callback_audio_receive_frame`.
    pub audio_receive_frame: Registered<AudioReceiveFrameCallback>,
    /// `toxav_callback_video_receive_frame`.
    pub video_receive_frame: Registered<VideoReceiveFrameCallback>,
}

/// toxav.h's `ToxAV`, opaque to C: one A/V session on a Tox instance,
/// made by [`toxav_new`] and freed by [`toxav_kill`].
///
/// toxav.h promises a thread-safe API (qTox registers callbacks on one
/// thread and iterates on another), so the callbacks sit behind a mutex
/// and every function takes the session by shared reference.
#[derive(Debug)]
pub struct ToxAv {
    tox: *mut Tox,
    callbacks: Mutex<Callbacks>,
}

/// The session behind C's pointer; `None` for NULL.
///
/// # Safety
/// `av` is NULL or was returned by [`toxav_new`] and not killed since.
unsafe fn session<'a>(av: *const ToxAv) -> Option<&'a ToxAv> {
    // SAFETY: by the contract, a live `ToxAv` made by `Box::into_raw`, or
    // NULL; it is only ever shared (its mutable part is behind a mutex).
    unsafe { av.as_ref() }
}

/// Stores `callback` and `user_data` in the slot `slot` picks; a NULL
/// session is ignored.
///
/// # Safety
/// As [`session`].
unsafe fn register<F>(
    av: *mut ToxAv,
    slot: impl FnOnce(&mut Callbacks) -> &mut Registered<F>,
    callback: Option<F>,
    user_data: *mut c_void,
) {
    guard((), || {
        // SAFETY: forwarded from this function's contract.
        if let Some(av) = unsafe { session(av) } {
            // A panic while the lock was held left whole slots behind:
            // each is written in one assignment.
            let mut callbacks = av.callbacks.lock().unwrap_or_else(PoisonError::into_inner);
            *slot(&mut callbacks) = Registered {
                callback,
                user_data,
            };
        }
    });
}

/// `(false, code)` for a function that cannot succeed: `null` for a NULL
/// session, `otherwise` for a live one.
fn refuse<E>(av: *const ToxAv, null: E, otherwise: E) -> (bool, E) {
    (false, if av.is_null() { null } else { otherwise })
}

/// Starts an A/V session on `tox`, which it only stores (see
/// [`toxav_get_tox`]). NULL `tox` is `TOXAV_ERR_NEW_NULL`.
///
/// c-toxcore refuses a second session on one instance
/// (`TOXAV_ERR_NEW_MULTIPLE`); that needs a mark on the instance, which
/// this module does not see, and two sessions here share nothing, so a
/// second one is allowed.
///
/// # Safety
/// `error` is NULL or valid for writing a `Toxav_Err_New`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_new(tox: *mut Tox, error: *mut ErrAvNew) -> *mut ToxAv {
    let body = || {
        if tox.is_null() {
            return (ptr::null_mut(), ErrAvNew::Null);
        }
        let av = ToxAv {
            tox,
            callbacks: Mutex::default(),
        };
        (Box::into_raw(Box::new(av)), ErrAvNew::Ok)
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (ptr::null_mut(), ErrAvNew::Malloc), body) }
}

/// Ends the session and frees it. NULL is allowed.
///
/// # Safety
/// `av` is NULL or was returned by [`toxav_new`] and not killed since;
/// no other thread is using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_kill(av: *mut ToxAv) {
    guard((), || {
        if !av.is_null() {
            // SAFETY: made by `Box::into_raw` in `toxav_new` and not freed
            // yet, by the contract.
            drop(unsafe { Box::from_raw(av) });
        }
    });
}

/// The `Tox *` the session was started on; NULL for a NULL session.
///
/// # Safety
/// `av` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_get_tox(av: *const ToxAv) -> *mut Tox {
    guard(ptr::null_mut(), || {
        // SAFETY: forwarded from this function's contract.
        unsafe { session(av) }.map_or(ptr::null_mut(), |av| av.tox)
    })
}

/// [`IDLE_ITERATION_INTERVAL_MS`]: no call can be running, so there is
/// nothing to serve sooner.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_iteration_interval(_av: *const ToxAv) -> u32 {
    guard(IDLE_ITERATION_INTERVAL_MS, || IDLE_ITERATION_INTERVAL_MS)
}

/// Does nothing: with no call running there are no packets, frames or
/// timeouts to serve, and so no callback to fire.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_iterate(_av: *mut ToxAv) {
    guard((), || {});
}

/// As [`toxav_iteration_interval`], for clients that run audio on its own
/// thread.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_audio_iteration_interval(_av: *const ToxAv) -> u32 {
    guard(IDLE_ITERATION_INTERVAL_MS, || IDLE_ITERATION_INTERVAL_MS)
}

/// As [`toxav_iterate`]: nothing to serve.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_audio_iterate(_av: *mut ToxAv) {
    guard((), || {});
}

/// As [`toxav_iteration_interval`], for clients that run video on its own
/// thread.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_video_iteration_interval(_av: *const ToxAv) -> u32 {
    guard(IDLE_ITERATION_INTERVAL_MS, || IDLE_ITERATION_INTERVAL_MS)
}

/// As [`toxav_iterate`]: nothing to serve.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_video_iterate(_av: *mut ToxAv) {
    guard((), || {});
}

/// Would ring a friend; fails with `TOXAV_ERR_CALL_FRIEND_NOT_CONNECTED`
/// (`SYNC` for a NULL session).
///
/// Why that code: it is the one clients already handle as an ordinary,
/// passing condition: toxic prints that the friend is not connected and
/// drops the call, qTox logs it and shows no call. The friend cannot be
/// reached *for a call*, which is true. The others say something false
/// that a client may act on: `FRIEND_NOT_FOUND` (the friend is gone),
/// `ALREADY_IN_CALL` (a call to end first), `MALLOC` and `SYNC`
/// (transient faults, retried), `INVALID_BIT_RATE` (the settings).
///
/// # Safety
/// `av` is NULL or a live session; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_call(
    av: *mut ToxAv,
    _friend_number: u32,
    _audio_bit_rate: u32,
    _video_bit_rate: u32,
    error: *mut ErrAvCall,
) -> bool {
    let body = || refuse(av, ErrAvCall::Sync, ErrAvCall::FriendNotConnected);
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrAvCall::Sync), body) }
}

/// Registers the function told about incoming calls (never called here:
/// no call can come in). NULL unregisters.
///
/// # Safety
/// `av` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_callback_call(
    av: *mut ToxAv,
    callback: Option<CallCallback>,
    user_data: *mut c_void,
) {
    // SAFETY: forwarded from this function's contract.
    unsafe { register(av, |c| &mut c.call, callback, user_data) };
}

/// Would accept a friend's call; fails with
/// `TOXAV_ERR_ANSWER_FRIEND_NOT_CALLING` (`SYNC` for a NULL session):
/// no call can be incoming, which is what the code says.
///
/// # Safety
/// `av` is NULL or a live session; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_answer(
    av: *mut ToxAv,
    _friend_number: u32,
    _audio_bit_rate: u32,
    _video_bit_rate: u32,
    error: *mut ErrAvAnswer,
) -> bool {
    let body = || refuse(av, ErrAvAnswer::Sync, ErrAvAnswer::FriendNotCalling);
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrAvAnswer::Sync), body) }
}

/// Registers the function told about call state changes (never called
/// here). NULL unregisters.
///
/// # Safety
/// `av` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_callback_call_state(
    av: *mut ToxAv,
    callback: Option<CallStateCallback>,
    user_data: *mut c_void,
) {
    // SAFETY: forwarded from this function's contract.
    unsafe { register(av, |c| &mut c.call_state, callback, user_data) };
}

/// Would pause, resume, cancel, mute or hide a call; fails with
/// `TOXAV_ERR_CALL_CONTROL_FRIEND_NOT_IN_CALL` for every control, known
/// or not (`SYNC` for a NULL session): there is no call to control, and a
/// client cancelling a call it believes ringing learns that it is gone.
///
/// # Safety
/// `av` is NULL or a live session; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_call_control(
    av: *mut ToxAv,
    _friend_number: u32,
    _control: u32,
    error: *mut ErrAvCallControl,
) -> bool {
    let body = || {
        refuse(
            av,
            ErrAvCallControl::Sync,
            ErrAvCallControl::FriendNotInCall,
        )
    };
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrAvCallControl::Sync), body) }
}

/// Would send PCM audio in a call; fails with
/// `TOXAV_ERR_SEND_FRAME_FRIEND_NOT_IN_CALL`, whatever the frame (as in
/// c-toxcore, the call is looked up before the samples are checked).
/// A NULL session is `TOXAV_ERR_SEND_FRAME_NULL` (an argument was
/// NULL), not `SYNC`, which qTox and its forks retry, some without bound.
///
/// # Safety
/// `av` is NULL or a live session; `error` is NULL or writable. The
/// samples are never read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_audio_send_frame(
    av: *mut ToxAv,
    _friend_number: u32,
    _pcm: *const i16,
    _sample_count: usize,
    _channels: u8,
    _sampling_rate: u32,
    error: *mut ErrAvSendFrame,
) -> bool {
    let body = || refuse(av, ErrAvSendFrame::Null, ErrAvSendFrame::FriendNotInCall);
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrAvSendFrame::Sync), body) }
}

/// Would change a call's audio bit rate; fails with
/// `TOXAV_ERR_BIT_RATE_SET_FRIEND_NOT_IN_CALL` (`SYNC` for a NULL
/// session).
///
/// # Safety
/// `av` is NULL or a live session; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_audio_set_bit_rate(
    av: *mut ToxAv,
    _friend_number: u32,
    _bit_rate: u32,
    error: *mut ErrAvBitRateSet,
) -> bool {
    let body = || refuse(av, ErrAvBitRateSet::Sync, ErrAvBitRateSet::FriendNotInCall);
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrAvBitRateSet::Sync), body) }
}

/// Registers the function told of suggested audio bit rates (never
/// called here). NULL unregisters.
///
/// # Safety
/// `av` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_callback_audio_bit_rate(
    av: *mut ToxAv,
    callback: Option<BitRateCallback>,
    user_data: *mut c_void,
) {
    // SAFETY: forwarded from this function's contract.
    unsafe { register(av, |c| &mut c.audio_bit_rate, callback, user_data) };
}

/// Would send a YUV420 frame in a call; fails like
/// [`toxav_audio_send_frame`]. The planes are never read.
///
/// # Safety
/// `av` is NULL or a live session; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_video_send_frame(
    av: *mut ToxAv,
    _friend_number: u32,
    _width: u16,
    _height: u16,
    _y: *const u8,
    _u: *const u8,
    _v: *const u8,
    error: *mut ErrAvSendFrame,
) -> bool {
    let body = || refuse(av, ErrAvSendFrame::Null, ErrAvSendFrame::FriendNotInCall);
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrAvSendFrame::Sync), body) }
}

/// Would change a call's video bit rate; fails like
/// [`toxav_audio_set_bit_rate`].
///
/// # Safety
/// `av` is NULL or a live session; `error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_video_set_bit_rate(
    av: *mut ToxAv,
    _friend_number: u32,
    _bit_rate: u32,
    error: *mut ErrAvBitRateSet,
) -> bool {
    let body = || refuse(av, ErrAvBitRateSet::Sync, ErrAvBitRateSet::FriendNotInCall);
    // SAFETY: `error` is NULL or writable by this function's contract.
    unsafe { guard_with_error(error, (false, ErrAvBitRateSet::Sync), body) }
}

/// Registers the function told of suggested video bit rates (never
/// called here). NULL unregisters.
///
/// # Safety
/// `av` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_callback_video_bit_rate(
    av: *mut ToxAv,
    callback: Option<BitRateCallback>,
    user_data: *mut c_void,
) {
    // SAFETY: forwarded from this function's contract.
    unsafe { register(av, |c| &mut c.video_bit_rate, callback, user_data) };
}

/// Registers the function given a friend's audio (never called here).
/// NULL unregisters.
///
/// # Safety
/// `av` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_callback_audio_receive_frame(
    av: *mut ToxAv,
    callback: Option<AudioReceiveFrameCallback>,
    user_data: *mut c_void,
) {
    // SAFETY: forwarded from this function's contract.
    unsafe { register(av, |c| &mut c.audio_receive_frame, callback, user_data) };
}

/// Registers the function given a friend's video (never called here).
/// NULL unregisters.
///
/// # Safety
/// `av` is NULL or a live session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn toxav_callback_video_receive_frame(
    av: *mut ToxAv,
    callback: Option<VideoReceiveFrameCallback>,
    user_data: *mut c_void,
) {
    // SAFETY: forwarded from this function's contract.
    unsafe { register(av, |c| &mut c.video_receive_frame, callback, user_data) };
}

// The old A/V conferences (audio mixed into a `Tox_Conference_Type` AV
// conference). They take the `Tox *` itself and report failure as the
// header documents, -1 (every one returns `int`) or false; toxic shows
// the conference as not created, not joined or without audio.

/// Would create an A/V conference; -1.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_add_av_groupchat(
    _tox: *mut Tox,
    _audio_callback: Option<GroupAudioCallback>,
    _userdata: *mut c_void,
) -> c_int {
    guard(-1, || -1)
}

/// Would join the A/V conference a friend invited us to; -1.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_join_av_groupchat(
    _tox: *mut Tox,
    _friendnumber: u32,
    _data: *const u8,
    _length: u16,
    _audio_callback: Option<GroupAudioCallback>,
    _userdata: *mut c_void,
) -> c_int {
    guard(-1, || -1)
}

/// Would send PCM audio to an A/V conference; -1.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_group_send_audio(
    _tox: *mut Tox,
    _groupnumber: u32,
    _pcm: *const i16,
    _samples: c_uint,
    _channels: u8,
    _sample_rate: u32,
) -> c_int {
    guard(-1, || -1)
}

/// Would turn audio on in a conference; -1.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_groupchat_enable_av(
    _tox: *mut Tox,
    _groupnumber: u32,
    _audio_callback: Option<GroupAudioCallback>,
    _userdata: *mut c_void,
) -> c_int {
    guard(-1, || -1)
}

/// Would turn audio off in a conference; -1 (it was never on).
#[unsafe(no_mangle)]
pub extern "C" fn toxav_groupchat_disable_av(_tox: *mut Tox, _groupnumber: u32) -> c_int {
    guard(-1, || -1)
}

/// Whether audio is on in a conference: never.
#[unsafe(no_mangle)]
pub extern "C" fn toxav_groupchat_av_enabled(_tox: *mut Tox, _groupnumber: u32) -> bool {
    guard(false, || false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    /// Writes the friend number to the `u32` its user data points to.
    unsafe extern "C" fn on_call(_: *mut ToxAv, friend: u32, _: bool, _: bool, data: *mut c_void) {
        // SAFETY: the test registers it with a live `u32` as user data.
        unsafe { data.cast::<u32>().write(friend) };
    }

    /// Writes the state to the `u32` its user data points to.
    unsafe extern "C" fn on_state(_: *mut ToxAv, _: u32, state: u32, data: *mut c_void) {
        // SAFETY: as `on_call`.
        unsafe { data.cast::<u32>().write(state) };
    }

    fn callbacks(av: *mut ToxAv) -> Callbacks {
        // SAFETY: the tests pass live sessions.
        *unsafe { session(av) }.unwrap().callbacks.lock().unwrap()
    }

    #[test]
    fn a_session_keeps_its_tox_and_callbacks() {
        let mut place = 0_u8;
        let tox = (&raw mut place).cast::<Tox>();
        let mut code = ErrAvNew::Multiple;
        // SAFETY: `code` is writable; `tox` is only stored.
        let av = unsafe { toxav_new(tox, &raw mut code) };
        assert_eq!(code, ErrAvNew::Ok);
        assert!(!av.is_null());
        // SAFETY: `av` is live.
        assert_eq!(unsafe { toxav_get_tox(av) }, tox);

        // What is stored is what was registered: calling it reaches the
        // client's function with the client's data.
        let mut data = 0_u32;
        let user_data = (&raw mut data).cast::<c_void>();
        // SAFETY: `av` is live.
        unsafe {
            toxav_callback_call(av, Some(on_call), user_data);
            toxav_callback_call_state(av, Some(on_state), user_data);
        }
        let registered = callbacks(av);
        assert_eq!(registered.call.user_data, user_data);
        assert_eq!(registered.call_state.user_data, user_data);
        assert!(registered.audio_receive_frame.callback.is_none());
        let (call, state) = (
            registered.call.callback.unwrap(),
            registered.call_state.callback.unwrap(),
        );
        // SAFETY: the functions above, with the user data they expect.
        unsafe { call(av, 42, true, false, registered.call.user_data) };
        assert_eq!(data, 42);
        // SAFETY: as above.
        unsafe { state(av, 42, 6, registered.call_state.user_data) };
        assert_eq!(data, 6);

        // NULL unregisters.
        // SAFETY: `av` is live.
        unsafe { toxav_callback_call(av, None, ptr::null_mut()) };
        assert!(callbacks(av).call.callback.is_none());
        assert!(callbacks(av).call.user_data.is_null());

        // SAFETY: `av` is live and not used after.
        unsafe { toxav_kill(av) };
    }

    #[test]
    fn null_tox_and_null_session() {
        let mut code = ErrAvNew::Ok;
        // SAFETY: `code` is writable.
        let av = unsafe { toxav_new(ptr::null_mut(), &raw mut code) };
        assert!(av.is_null());
        assert_eq!(code, ErrAvNew::Null);

        let mut call = ErrAvCall::Ok;
        // SAFETY: NULL sessions are allowed; `call` is writable.
        unsafe {
            assert!(toxav_get_tox(ptr::null()).is_null());
            toxav_callback_call(ptr::null_mut(), Some(on_call), ptr::null_mut());
            assert!(!toxav_call(ptr::null_mut(), 0, 48, 0, &raw mut call));
            toxav_kill(ptr::null_mut());
        }
        assert_eq!(call, ErrAvCall::Sync);
    }
}
