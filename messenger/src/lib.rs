//! Tox's messenger layer: what two friends say to each other over a
//! net_crypto session, and what a client keeps between runs (spec
//! "Messenger", "Friend connection", "Friend requests", "State Format";
//! checklist L6, L7, L10).
//!
//! - [`packet`]: the friend-connection packets (alive, share relays,
//!   friend request over a session) and the messenger packets (online,
//!   name, status, typing, messages, files, custom packets).
//! - [`friend_connection`]: the liveness of every session, friend or
//!   conference peer: alive packets and the silence timeout.
//! - [`messenger`]: friends by number, the ONLINE gate, state pushes,
//!   messages with read receipts.
//! - [`file`]: file transfers per friend: offers, controls, chunks pulled
//!   from the application into the session's bulk room, in turn.
//! - [`save`]: c-toxcore's save format and the toxencryptsave container.
//! - [`conference`]: the conference (old group chat) packets, the save
//!   file's conferences section, and the sans-IO state machine that runs
//!   them ([`conference::Conferences`]).
//!
//! Like every protocol crate here, nothing owns a socket, a clock or a
//! task: time and randomness are the caller's.

pub mod conference;
pub mod file;
pub mod friend_connection;
pub mod messenger;
pub mod packet;
pub mod save;
