//! The `tox_callback_*` registrations and the calls `tox_iterate` makes
//! to them.
//!
//! Each event of the stack becomes at most one callback, with tox.h's
//! arguments: numbers as tox.h hands them out (incoming files
//! `(n + 1) << 16`), enums as C values, byte strings as pointer and
//! length valid for the call only. Events no callback takes (DHT, onion
//! and session internals) are dropped here; so is the end of a transfer
//! because the friend went offline, which c-toxcore reports through no
//! callback either (clients see the friend go offline).

#![allow(
    unsafe_code,
    reason = "exports C symbols and calls the client's C callbacks"
)]

use std::ffi::c_void;

use toxide::StackEvent;
use toxide::messenger::conference::ConferenceEvent;
use toxide::messenger::file::Control;
use toxide::messenger::messenger::Event as M;
use toxide::onion::ClientEvent;

use crate::guard::guard;
use crate::instance::with;
use crate::types::{ConferenceType, Connection, FileControl, MessageType, Tox, UserStatus};

macro_rules! callbacks {
    ($( $(#[$doc:meta])* $field:ident: $setter:ident = fn($($arg:ty),*); )+) => {
        /// The client's callbacks (NULL: not registered).
        #[derive(Clone, Copy, Debug, Default)]
        pub(crate) struct Callbacks {
            $( pub(crate) $field: Option<unsafe extern "C" fn(*mut Tox, $($arg,)* *mut c_void)>, )+
        }

        $(
            $(#[$doc])*
            ///
            /// # Safety
            /// `tox` is NULL or a live instance (see `instance::with`);
            /// `callback` is NULL or a function of tox.h's type for it.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $setter(
                tox: *mut Tox,
                callback: Option<unsafe extern "C" fn(*mut Tox, $($arg,)* *mut c_void)>,
            ) {
                guard((), || {
                    // SAFETY: the contract.
                    unsafe { with(tox, |t| t.callbacks.$field = callback) };
                });
            }
        )+
    };
}

callbacks! {
    /// Registers `tox_self_connection_status_cb`.
    self_connection_status: tox_callback_self_connection_status = fn(Connection);
    /// Registers `tox_friend_name_cb`.
    friend_name: tox_callback_friend_name = fn(u32, *const u8, usize);
    /// Registers `tox_friend_status_message_cb`.
    friend_status_message: tox_callback_friend_status_message = fn(u32, *const u8, usize);
    /// Registers `tox_friend_status_cb`.
    friend_status: tox_callback_friend_status = fn(u32, UserStatus);
    /// Registers `tox_friend_connection_status_cb`.
    friend_connection_status: tox_callback_friend_connection_status = fn(u32, Connection);
    /// Registers `tox_friend_typing_cb`.
    friend_typing: tox_callback_friend_typing = fn(u32, bool);
    /// Registers `tox_friend_read_receipt_cb`.
    friend_read_receipt: tox_callback_friend_read_receipt = fn(u32, u32);
    /// Registers `tox_friend_request_cb`.
    friend_request: tox_callback_friend_request = fn(*const u8, *const u8, usize);
    /// Registers `tox_friend_message_cb`.
    friend_message: tox_callback_friend_message = fn(u32, MessageType, *const u8, usize);
    /// Registers `tox_file_recv_control_cb`.
    file_recv_control: tox_callback_file_recv_control = fn(u32, u32, FileControl);
    /// Registers `tox_file_chunk_request_cb`.
    file_chunk_request: tox_callback_file_chunk_request = fn(u32, u32, u64, usize);
    /// Registers `tox_file_recv_cb`.
    file_recv: tox_callback_file_recv = fn(u32, u32, u32, u64, *const u8, usize);
    /// Registers `tox_file_recv_chunk_cb`.
    file_recv_chunk: tox_callback_file_recv_chunk = fn(u32, u32, u64, *const u8, usize);
    /// Registers `tox_conference_invite_cb`.
    conference_invite: tox_callback_conference_invite = fn(u32, ConferenceType, *const u8, usize);
    /// Registers `tox_conference_connected_cb`.
    conference_connected: tox_callback_conference_connected = fn(u32);
    /// Registers `tox_conference_message_cb`.
    conference_message: tox_callback_conference_message = fn(u32, u32, MessageType, *const u8, usize);
    /// Registers `tox_conference_title_cb`.
    conference_title: tox_callback_conference_title = fn(u32, u32, *const u8, usize);
    /// Registers `tox_conference_peer_name_cb`.
    conference_peer_name: tox_callback_conference_peer_name = fn(u32, u32, *const u8, usize);
    /// Registers `tox_conference_peer_list_changed_cb`.
    conference_peer_list_changed: tox_callback_conference_peer_list_changed = fn(u32);
    /// Registers `tox_friend_lossy_packet_cb`.
    friend_lossy_packet: tox_callback_friend_lossy_packet = fn(u32, *const u8, usize);
    /// Registers `tox_friend_lossless_packet_cb`.
    friend_lossless_packet: tox_callback_friend_lossless_packet = fn(u32, *const u8, usize);
}

/// The peer number c-toxcore passes when a title came with the peer list
/// rather than from a peer (its `-1` as `uint32_t`).
const NO_PEER: u32 = u32::MAX;

impl Callbacks {
    /// Calls the callback `event` means, if one is registered.
    ///
    /// # Safety
    /// `tox` is the live instance the callbacks belong to, and no Rust
    /// reference to it is held (the callback may call into the library
    /// with it); `user_data` is the client's, passed on untouched.
    pub(crate) unsafe fn dispatch(self, tox: *mut Tox, event: StackEvent, user_data: *mut c_void) {
        let u = user_data;
        // SAFETY: each function pointer was registered for exactly this
        // tox.h type; the byte pointers and lengths come from buffers that
        // live until the call returns.
        unsafe {
            match event {
                StackEvent::SelfConnection(connection) => {
                    if let Some(f) = self.self_connection_status {
                        f(tox, connection.into(), u);
                    }
                }
                StackEvent::FriendConnection { friend, connection } => {
                    if let Some(f) = self.friend_connection_status {
                        f(tox, friend, connection.into(), u);
                    }
                }
                StackEvent::Onion(ClientEvent::FriendRequest {
                    public_key,
                    message,
                })
                | StackEvent::Messenger(M::FriendRequest {
                    public_key,
                    message,
                }) => {
                    if let Some(f) = self.friend_request {
                        let key = public_key.as_bytes().as_ptr();
                        f(tox, key, message.as_ptr(), message.len(), u);
                    }
                }
                StackEvent::Messenger(event) => self.messenger(tox, event, u),
                StackEvent::ConferenceInvite { friend, invite } => {
                    if let Some(f) = self.conference_invite {
                        let kind = invite.id.conference_type.into();
                        let cookie = invite.cookie();
                        f(tox, friend, kind, cookie.as_ptr(), cookie.len(), u);
                    }
                }
                StackEvent::Conference(event) => self.conference(tox, event, u),
                _ => {}
            }
        }
    }

    /// The messenger's events (friend requests are handled above).
    ///
    /// # Safety
    /// As [`Callbacks::dispatch`].
    unsafe fn messenger(self, tox: *mut Tox, event: M, u: *mut c_void) {
        // SAFETY: as in `dispatch`.
        unsafe {
            match event {
                M::Message { friend, kind, text } => {
                    if let Some(f) = self.friend_message {
                        f(tox, friend, kind.into(), text.as_ptr(), text.len(), u);
                    }
                }
                M::ReadReceipt { friend, message_id } => {
                    if let Some(f) = self.friend_read_receipt {
                        f(tox, friend, message_id, u);
                    }
                }
                M::Name { friend, name } => {
                    if let Some(f) = self.friend_name {
                        f(tox, friend, name.as_ptr(), name.len(), u);
                    }
                }
                M::StatusMessage { friend, text } => {
                    if let Some(f) = self.friend_status_message {
                        f(tox, friend, text.as_ptr(), text.len(), u);
                    }
                }
                M::UserStatus { friend, status } => {
                    if let Some(f) = self.friend_status {
                        f(tox, friend, status.into(), u);
                    }
                }
                M::Typing { friend, typing } => {
                    if let Some(f) = self.friend_typing {
                        f(tox, friend, typing, u);
                    }
                }
                M::CustomLossless { friend, data } => {
                    if let Some(f) = self.friend_lossless_packet {
                        f(tox, friend, data.as_ptr(), data.len(), u);
                    }
                }
                M::CustomLossy { friend, data } => {
                    if let Some(f) = self.friend_lossy_packet {
                        f(tox, friend, data.as_ptr(), data.len(), u);
                    }
                }
                M::FileReceive {
                    friend,
                    file,
                    kind,
                    size,
                    name,
                    ..
                } => {
                    if let Some(f) = self.file_recv {
                        let file = file.to_u32();
                        f(tox, friend, file, kind, size, name.as_ptr(), name.len(), u);
                    }
                }
                M::FileChunkRequest {
                    friend,
                    file,
                    position,
                    length,
                } => {
                    if let Some(f) = self.file_chunk_request {
                        f(tox, friend, file.to_u32(), position, length, u);
                    }
                }
                M::FileChunk {
                    friend,
                    file,
                    position,
                    data,
                } => {
                    if let Some(f) = self.file_recv_chunk {
                        let file = file.to_u32();
                        f(tox, friend, file, position, data.as_ptr(), data.len(), u);
                    }
                }
                M::FileControl {
                    friend,
                    file,
                    control,
                } => {
                    if let Some(f) = self.file_recv_control {
                        let control = match control {
                            Control::Accept => FileControl::Resume,
                            Control::Pause => FileControl::Pause,
                            Control::Kill => FileControl::Cancel,
                        };
                        f(tox, friend, file.to_u32(), control, u);
                    }
                }
                // The stack's `FriendConnection` follows and says how;
                // transfers broken by a friend going offline have no
                // callback in c-toxcore.
                M::ConnectionStatus { .. } | M::FileBroken { .. } | M::FriendRequest { .. } => {}
            }
        }
    }

    /// The conferences' events (invites are handled above).
    ///
    /// # Safety
    /// As [`Callbacks::dispatch`].
    unsafe fn conference(self, tox: *mut Tox, event: ConferenceEvent, u: *mut c_void) {
        // SAFETY: as in `dispatch`.
        unsafe {
            match event {
                ConferenceEvent::Connected(c) => {
                    if let Some(f) = self.conference_connected {
                        f(tox, c.0, u);
                    }
                }
                ConferenceEvent::Message {
                    conference,
                    peer,
                    kind,
                    text,
                    ..
                } => {
                    if let Some(f) = self.conference_message {
                        let kind = kind.into();
                        f(tox, conference.0, peer, kind, text.as_ptr(), text.len(), u);
                    }
                }
                ConferenceEvent::Title {
                    conference,
                    peer,
                    title,
                } => {
                    if let Some(f) = self.conference_title {
                        let peer = peer.unwrap_or(NO_PEER);
                        f(tox, conference.0, peer, title.as_ptr(), title.len(), u);
                    }
                }
                ConferenceEvent::PeerName {
                    conference,
                    peer,
                    name,
                    ..
                } => {
                    if let Some(f) = self.conference_peer_name {
                        f(tox, conference.0, peer, name.as_ptr(), name.len(), u);
                    }
                }
                ConferenceEvent::PeerListChanged(c) => {
                    if let Some(f) = self.conference_peer_list_changed {
                        f(tox, c.0, u);
                    }
                }
                // Invites come as the stack's `ConferenceInvite`; lossy
                // conference packets are audio, which no callback of
                // tox.h takes.
                _ => {}
            }
        }
    }
}
