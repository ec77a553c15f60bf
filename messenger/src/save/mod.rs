//! c-toxcore's save format (checklist V1–V10) and toxencryptsave (V11–V13).
//!
//! A Tox client keeps its identity, friends and profile in one file that
//! every client reads: users move their profile between clients, so the
//! format is c-toxcore 0.2.18's to the byte. [`SaveData::load`] reads a
//! plain save the way c-toxcore's `tox_new` does and
//! [`SaveData::to_bytes`] writes it the way `tox_get_savedata` does;
//! [`toxencryptsave`] seals one under a passphrase, as
//! c-toxcore's `toxencryptsave` library does. Putting the bytes on disk
//! (atomically) is the application's side: `toxide::tox::write_atomic`;
//! this crate, like every protocol crate, does no I/O.
//!
//! | module           | what                                            |
//! |------------------|-------------------------------------------------|
//! | `section`        | file header and section framing (V1, V2, V9)    |
//! | `state`          | [`SaveData`]: the sections read and written (V3–V10) |
//! | `friend`         | the 2216-byte friend record (V5)                |
//! | `profile`        | name, status message, user status (V6)          |
//! | `nodes`          | TCP relay and path node sections (V7)           |
//! | [`toxencryptsave`] | the passphrase container (V11–V13)            |
//!
//! The DHT section (V4) is the DHT crate's [`DhtState`](toxide_dht::DhtState).
//! Conferences (V8) are kept as raw bytes for the conference layer, which
//! reads them with
//! [`SavedConferences`](crate::conference::SavedConferences).

mod error;
mod friend;
mod nodes;
mod profile;
pub mod section;
mod state;
pub mod toxencryptsave;

pub use error::{SaveError, TextError};
pub use friend::{
    ConfirmedFriend, FRIEND_RECORD_SIZE, FriendRequestMessage, MAX_FRIEND_REQUEST_LENGTH,
    RequestedFriend, SavedFriend,
};
pub use nodes::{MAX_SAVED_PATH_NODES, MAX_SAVED_TCP_RELAYS};
pub use profile::{MAX_NAME_LENGTH, MAX_STATUS_MESSAGE_LENGTH, Name, StatusMessage, UserStatus};
pub use state::{NOSPAM_KEYS_SIZE, RawSection, SaveData};
pub use toxencryptsave::{PassError, PassKey, is_encrypted, pass_decrypt, pass_encrypt};
