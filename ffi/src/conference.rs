//! `tox_conference_*`: the text conferences of c-toxcore's `group.c`,
//! with its numbering (conferences by the lowest free number, peers by
//! index until the next peer-list change).

#![allow(unsafe_code, reason = "exports C symbols that take C buffers")]

use std::time::Instant;

use toxide::messenger::conference::{
    ConferenceError, ConferenceNumber, ConferenceType as Kind, Conferences, Invite,
};
use toxide::messenger::packet::MAX_NAME_LENGTH;

use crate::cbuf::{array, input, output_if};
use crate::instance::{Instance, call, get, query};
use crate::types::{
    ConferenceType, ErrConferenceById, ErrConferenceByUid, ErrConferenceDelete,
    ErrConferenceGetType, ErrConferenceInvite, ErrConferenceJoin, ErrConferenceNew,
    ErrConferencePeerQuery, ErrConferenceSendMessage, ErrConferenceSetMaxOffline,
    ErrConferenceTitle, MessageType, Tox,
};

/// A conference id's length (`TOX_CONFERENCE_ID_SIZE`).
const ID_SIZE: usize = 32;

impl Instance {
    /// The conferences (every client stack has them).
    fn conferences(&self) -> Option<&Conferences> {
        self.stack_ref().conferences.as_ref()
    }

    /// Runs `f` on the conferences, then moves what it queued into the
    /// sessions; `missing` on a stack without conferences.
    fn conference_call<T, E>(
        &mut self,
        missing: E,
        f: impl FnOnce(&mut Conferences, Instant) -> Result<T, E>,
    ) -> Result<T, E> {
        let now = Instant::now();
        let stack = self.driver.stack();
        let out = match stack.conferences.as_mut() {
            Some(conferences) => f(conferences, now),
            None => Err(missing),
        };
        stack.flush(now);
        out
    }

    /// A peer query's common part.
    fn peer_query<T>(
        &self,
        conference: u32,
        f: impl FnOnce(&Conferences, ConferenceNumber) -> Option<T>,
    ) -> Result<T, ErrConferencePeerQuery> {
        let c = ConferenceNumber(conference);
        let conferences = self
            .conferences()
            .filter(|cs| cs.kind(c).is_some())
            .ok_or(ErrConferencePeerQuery::ConferenceNotFound)?;
        f(conferences, c).ok_or(ErrConferencePeerQuery::PeerNotFound)
    }

    /// A friend's key for an invite or a join.
    fn conference_friend<E>(&self, friend: u32, missing: E) -> Result<toxide::PublicKey, E> {
        self.messenger()
            .and_then(|m| m.friend_key(friend))
            .ok_or(missing)
    }
}

/// Starts a text conference with us its only member; its number.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_new(tox: *mut Tox, error: *mut ErrConferenceNew) -> u32 {
    let fail = (u32::MAX, ErrConferenceNew::Init);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrConferenceNew::Ok, fail, |t| {
            t.conference_call(ErrConferenceNew::Init, |c, now| {
                c.create(now, Kind::Text)
                    .map(|n| n.0)
                    .map_err(|_| ErrConferenceNew::Init)
            })
        })
    }
}

/// Leaves a conference; its number becomes free.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_delete(
    tox: *mut Tox,
    conference_number: u32,
    error: *mut ErrConferenceDelete,
) -> bool {
    let missing = ErrConferenceDelete::ConferenceNotFound;
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrConferenceDelete::Ok, (false, missing), |t| {
            t.conference_call(missing, |c, now| {
                c.delete(now, ConferenceNumber(conference_number))
                    .map(|()| true)
                    .map_err(|_| missing)
            })
        })
    }
}

/// How many peers a conference has online, us included.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_peer_count(
    tox: *const Tox,
    conference_number: u32,
    error: *mut ErrConferencePeerQuery,
) -> u32 {
    let fail = (u32::MAX, ErrConferencePeerQuery::ConferenceNotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrConferencePeerQuery::Ok, fail, |t| {
            t.peer_query(conference_number, |cs, c| cs.peer_count(c))
        })
    }
}

/// The name getters of online and offline peers, each with its size.
macro_rules! peer_names {
    ($( $(#[$doc:meta])* $size:ident, $getter:ident => $field:ident; )+) => {$(
        $(#[$doc])*
        /// Its length.
        ///
        /// # Safety
        /// `tox` is a live instance; `error` NULL or writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $size(
            tox: *const Tox,
            conference_number: u32,
            peer_number: u32,
            error: *mut ErrConferencePeerQuery,
        ) -> usize {
            let fail = (usize::MAX, ErrConferencePeerQuery::ConferenceNotFound);
            // SAFETY: the contract.
            unsafe {
                query(tox, error, ErrConferencePeerQuery::Ok, fail, |t| {
                    t.peer_query(conference_number, |cs, c| {
                        cs.$field(c, peer_number).map(<[u8]>::len)
                    })
                })
            }
        }

        $(#[$doc])*
        /// The name, into a buffer of its size's length.
        ///
        /// # Safety
        /// `tox` is a live instance; `name` NULL or large enough; `error`
        /// NULL or writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $getter(
            tox: *const Tox,
            conference_number: u32,
            peer_number: u32,
            name: *mut u8,
            error: *mut ErrConferencePeerQuery,
        ) -> bool {
            let fail = (false, ErrConferencePeerQuery::ConferenceNotFound);
            // SAFETY: the contract.
            unsafe {
                query(tox, error, ErrConferencePeerQuery::Ok, fail, |t| {
                    t.peer_query(conference_number, |cs, c| {
                        output_if(name, cs.$field(c, peer_number)?);
                        Some(true)
                    })
                })
            }
        }
    )+};
}

/// The key getters of online and offline peers.
macro_rules! peer_keys {
    ($( $(#[$doc:meta])* $getter:ident => $field:ident; )+) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// `tox` is a live instance; `public_key` NULL or 32 writable
        /// bytes; `error` NULL or writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $getter(
            tox: *const Tox,
            conference_number: u32,
            peer_number: u32,
            public_key: *mut u8,
            error: *mut ErrConferencePeerQuery,
        ) -> bool {
            let fail = (false, ErrConferencePeerQuery::ConferenceNotFound);
            // SAFETY: the contract.
            unsafe {
                query(tox, error, ErrConferencePeerQuery::Ok, fail, |t| {
                    t.peer_query(conference_number, |cs, c| {
                        output_if(public_key, cs.$field(c, peer_number)?.as_bytes());
                        Some(true)
                    })
                })
            }
        }
    )+};
}

peer_names! {
    /// A peer's name.
    tox_conference_peer_get_name_size, tox_conference_peer_get_name => peer_name;
    /// An offline peer's name.
    tox_conference_offline_peer_get_name_size, tox_conference_offline_peer_get_name => offline_peer_name;
}

peer_keys! {
    /// A peer's long-term key.
    tox_conference_peer_get_public_key => peer_public_key;
    /// An offline peer's long-term key.
    tox_conference_offline_peer_get_public_key => offline_peer_public_key;
}

/// Whether peer `peer_number` is us.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_peer_number_is_ours(
    tox: *const Tox,
    conference_number: u32,
    peer_number: u32,
    error: *mut ErrConferencePeerQuery,
) -> bool {
    let fail = (false, ErrConferencePeerQuery::ConferenceNotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrConferencePeerQuery::Ok, fail, |t| {
            let cs = t
                .conferences()
                .ok_or(ErrConferencePeerQuery::ConferenceNotFound)?;
            cs.peer_is_ours(ConferenceNumber(conference_number), peer_number)
                .map_err(|e| match e {
                    ConferenceError::PeerNotFound { .. } => ErrConferencePeerQuery::PeerNotFound,
                    ConferenceError::NoConnection(_) => ErrConferencePeerQuery::NoConnection,
                    _ => ErrConferencePeerQuery::ConferenceNotFound,
                })
        })
    }
}

/// How many peers of a conference are offline (frozen).
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_offline_peer_count(
    tox: *const Tox,
    conference_number: u32,
    error: *mut ErrConferencePeerQuery,
) -> u32 {
    let fail = (u32::MAX, ErrConferencePeerQuery::ConferenceNotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrConferencePeerQuery::Ok, fail, |t| {
            t.peer_query(conference_number, |cs, c| cs.offline_peer_count(c))
        })
    }
}

/// When an offline peer was last active (UNIX seconds).
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_offline_peer_get_last_active(
    tox: *const Tox,
    conference_number: u32,
    offline_peer_number: u32,
    error: *mut ErrConferencePeerQuery,
) -> u64 {
    let fail = (u64::MAX, ErrConferencePeerQuery::ConferenceNotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrConferencePeerQuery::Ok, fail, |t| {
            t.peer_query(conference_number, |cs, c| {
                cs.offline_peer_last_active(c, offline_peer_number)
            })
        })
    }
}

/// How many offline peers a conference keeps.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_set_max_offline(
    tox: *mut Tox,
    conference_number: u32,
    max_offline_peers: u32,
    error: *mut ErrConferenceSetMaxOffline,
) -> bool {
    let missing = ErrConferenceSetMaxOffline::ConferenceNotFound;
    // SAFETY: the contract.
    unsafe {
        call(
            tox,
            error,
            ErrConferenceSetMaxOffline::Ok,
            (false, missing),
            |t| {
                t.conference_call(missing, |c, _| {
                    c.set_max_offline(ConferenceNumber(conference_number), max_offline_peers)
                        .map(|()| true)
                        .map_err(|_| missing)
                })
            },
        )
    }
}

/// Invites an online friend to a conference.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_invite(
    tox: *mut Tox,
    friend_number: u32,
    conference_number: u32,
    error: *mut ErrConferenceInvite,
) -> bool {
    let fail = (false, ErrConferenceInvite::ConferenceNotFound);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrConferenceInvite::Ok, fail, |t| {
            let friend = t.conference_friend(friend_number, ErrConferenceInvite::FailSend)?;
            t.conference_call(ErrConferenceInvite::ConferenceNotFound, |c, _| {
                c.invite(ConferenceNumber(conference_number), friend)
                    .map(|()| true)
                    .map_err(|e| match e {
                        ConferenceError::NotFound(_) => ErrConferenceInvite::ConferenceNotFound,
                        ConferenceError::NoConnection(_) => ErrConferenceInvite::NoConnection,
                        _ => ErrConferenceInvite::FailSend,
                    })
            })
        })
    }
}

/// Joins the conference a friend invited us to, with the invite's
/// cookie; its number.
///
/// # Safety
/// `tox` is a live instance; `cookie` NULL or `length` bytes; `error`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_join(
    tox: *mut Tox,
    friend_number: u32,
    cookie: *const u8,
    length: usize,
    error: *mut ErrConferenceJoin,
) -> u32 {
    let fail = (u32::MAX, ErrConferenceJoin::InvalidLength);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrConferenceJoin::Ok, fail, |t| {
            let cookie = input(cookie, length).ok_or(ErrConferenceJoin::InvalidLength)?;
            let invite =
                Invite::from_cookie(cookie).map_err(|_| ErrConferenceJoin::InvalidLength)?;
            if invite.id.conference_type != Kind::Text {
                // Audio conferences are joined through toxav, which has
                // no audio yet.
                return Err(ErrConferenceJoin::WrongType);
            }
            let friend = t.conference_friend(friend_number, ErrConferenceJoin::FriendNotFound)?;
            t.conference_call(ErrConferenceJoin::InitFail, |c, now| {
                c.join(now, friend, &invite)
                    .map(|n| n.0)
                    .map_err(|e| match e {
                        ConferenceError::Duplicate(_) => ErrConferenceJoin::Duplicate,
                        ConferenceError::TooMany => ErrConferenceJoin::InitFail,
                        _ => ErrConferenceJoin::FailSend,
                    })
            })
        })
    }
}

/// Sends a message or action to everyone in a conference.
///
/// # Safety
/// `tox` is a live instance; `message` NULL or `length` bytes; `error`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_send_message(
    tox: *mut Tox,
    conference_number: u32,
    kind: u32,
    message: *const u8,
    length: usize,
    error: *mut ErrConferenceSendMessage,
) -> bool {
    let fail = (false, ErrConferenceSendMessage::ConferenceNotFound);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrConferenceSendMessage::Ok, fail, |t| {
            let text = input(message, length).ok_or(ErrConferenceSendMessage::FailSend)?;
            let kind = MessageType::try_from(kind).unwrap_or(MessageType::Normal);
            t.conference_call(ErrConferenceSendMessage::ConferenceNotFound, |c, now| {
                c.send_message(now, ConferenceNumber(conference_number), kind.into(), text)
                    .map(|()| true)
                    .map_err(|e| match e {
                        ConferenceError::NotFound(_) => {
                            ErrConferenceSendMessage::ConferenceNotFound
                        }
                        ConferenceError::InvalidLength { .. } => ErrConferenceSendMessage::TooLong,
                        ConferenceError::NoConnection(_) => ErrConferenceSendMessage::NoConnection,
                        _ => ErrConferenceSendMessage::FailSend,
                    })
            })
        })
    }
}

/// The length of a conference's title.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_get_title_size(
    tox: *const Tox,
    conference_number: u32,
    error: *mut ErrConferenceTitle,
) -> usize {
    let fail = (usize::MAX, ErrConferenceTitle::ConferenceNotFound);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrConferenceTitle::Ok, fail, |t| {
            title(t, conference_number).map(<[u8]>::len)
        })
    }
}

/// A conference's title into `title` (its size's length).
///
/// # Safety
/// `tox` is a live instance; `title` NULL or large enough; `error` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_get_title(
    tox: *const Tox,
    conference_number: u32,
    title: *mut u8,
    error: *mut ErrConferenceTitle,
) -> bool {
    let fail = (false, ErrConferenceTitle::ConferenceNotFound);
    let out = title;
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrConferenceTitle::Ok, fail, |t| {
            output_if(out, self::title(t, conference_number)?);
            Ok(true)
        })
    }
}

/// The title of a conference; c-toxcore reports an empty one as invalid.
fn title(t: &Instance, conference: u32) -> Result<&[u8], ErrConferenceTitle> {
    let title = t
        .conferences()
        .and_then(|cs| cs.title(ConferenceNumber(conference)))
        .ok_or(ErrConferenceTitle::ConferenceNotFound)?;
    if title.is_empty() {
        return Err(ErrConferenceTitle::InvalidLength);
    }
    Ok(title)
}

/// Sets a conference's title for everyone (1–128 bytes).
///
/// # Safety
/// `tox` is a live instance; `title` NULL or `length` bytes; `error` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_set_title(
    tox: *mut Tox,
    conference_number: u32,
    title: *const u8,
    length: usize,
    error: *mut ErrConferenceTitle,
) -> bool {
    let fail = (false, ErrConferenceTitle::ConferenceNotFound);
    // SAFETY: the contract.
    unsafe {
        call(tox, error, ErrConferenceTitle::Ok, fail, |t| {
            let title = input(title, length).ok_or(ErrConferenceTitle::InvalidLength)?;
            if title.is_empty() || title.len() > MAX_NAME_LENGTH {
                return Err(ErrConferenceTitle::InvalidLength);
            }
            t.conference_call(ErrConferenceTitle::ConferenceNotFound, |c, now| {
                c.set_title(now, ConferenceNumber(conference_number), title)
                    .map(|()| true)
                    .map_err(|e| match e {
                        ConferenceError::NotFound(_) => ErrConferenceTitle::ConferenceNotFound,
                        ConferenceError::InvalidLength { .. } => ErrConferenceTitle::InvalidLength,
                        _ => ErrConferenceTitle::FailSend,
                    })
            })
        })
    }
}

/// How many conferences we are in.
///
/// # Safety
/// `tox` is a live instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_get_chatlist_size(tox: *const Tox) -> usize {
    // SAFETY: the contract.
    unsafe { get(tox, 0, |t| t.conferences().map_or(0, |cs| cs.list().len())) }
}

/// Our conferences' numbers, in order, into `chatlist`.
///
/// # Safety
/// `tox` is a live instance; `chatlist` NULL or room for
/// [`tox_conference_get_chatlist_size`] numbers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_get_chatlist(tox: *const Tox, chatlist: *mut u32) {
    if chatlist.is_null() {
        return;
    }
    // SAFETY: the contract.
    unsafe {
        get(tox, (), |t| {
            let list = t.conferences().map(Conferences::list).unwrap_or_default();
            for (i, number) in list.into_iter().enumerate() {
                // SAFETY: room for every number by the contract.
                chatlist.add(i).write(number.0);
            }
        })
    }
}

/// Whether a conference is text or audio/video.
///
/// # Safety
/// `tox` is a live instance; `error` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_get_type(
    tox: *const Tox,
    conference_number: u32,
    error: *mut ErrConferenceGetType,
) -> ConferenceType {
    let missing = ErrConferenceGetType::ConferenceNotFound;
    // SAFETY: the contract.
    unsafe {
        query(
            tox,
            error,
            ErrConferenceGetType::Ok,
            (ConferenceType::Text, missing),
            |t| {
                t.conferences()
                    .and_then(|cs| cs.kind(ConferenceNumber(conference_number)))
                    .map(Into::into)
                    .ok_or(missing)
            },
        )
    }
}

/// A conference's id (32 bytes) into `id`.
///
/// # Safety
/// `tox` is a live instance; `id` NULL or 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_get_id(
    tox: *const Tox,
    conference_number: u32,
    id: *mut u8,
) -> bool {
    if id.is_null() {
        return false;
    }
    // SAFETY: the contract.
    unsafe {
        get(tox, false, |t| {
            let found = t
                .conferences()
                .and_then(|cs| cs.id(ConferenceNumber(conference_number)));
            found.is_some_and(|found| {
                output_if(id, &found.id);
                true
            })
        })
    }
}

/// The old name of [`tox_conference_get_id`].
///
/// # Safety
/// As [`tox_conference_get_id`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_get_uid(
    tox: *const Tox,
    conference_number: u32,
    uid: *mut u8,
) -> bool {
    // SAFETY: the same contract.
    unsafe { tox_conference_get_id(tox, conference_number, uid) }
}

/// The number of the conference with id `id` (32 bytes).
///
/// # Safety
/// `tox` is a live instance; `id` NULL or 32 bytes; `error` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_by_id(
    tox: *const Tox,
    id: *const u8,
    error: *mut ErrConferenceById,
) -> u32 {
    let fail = (u32::MAX, ErrConferenceById::Null);
    // SAFETY: the contract.
    unsafe {
        query(tox, error, ErrConferenceById::Ok, fail, |t| {
            let id = array::<ID_SIZE>(id).ok_or(ErrConferenceById::Null)?;
            t.conferences()
                .and_then(|cs| cs.by_id(&id))
                .map(|n| n.0)
                .ok_or(ErrConferenceById::NotFound)
        })
    }
}

/// The old name of [`tox_conference_by_id`], with its own error type.
///
/// # Safety
/// As [`tox_conference_by_id`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tox_conference_by_uid(
    tox: *const Tox,
    uid: *const u8,
    error: *mut ErrConferenceByUid,
) -> u32 {
    let mut code = ErrConferenceById::Ok;
    // SAFETY: the same contract; `code` is ours.
    let number = unsafe { tox_conference_by_id(tox, uid, &raw mut code) };
    let code = match code {
        ErrConferenceById::Ok => ErrConferenceByUid::Ok,
        ErrConferenceById::Null => ErrConferenceByUid::Null,
        ErrConferenceById::NotFound => ErrConferenceByUid::NotFound,
    };
    // SAFETY: `error` is NULL or writable by the contract.
    unsafe { crate::guard::set_error(error, code) };
    number
}
