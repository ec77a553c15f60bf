//! The sizes and limits tox.h fixes as macros and also exports as
//! functions, for clients (and language bindings) that ask the library at
//! run time instead of trusting their header.

#![allow(
    unsafe_code,
    reason = "exports C symbols, which Rust 2024 marks #[unsafe(no_mangle)]"
)]

use crate::guard::guard;

macro_rules! limits {
    ($( $(#[$doc:meta])* $getter:ident => $name:ident = $value:expr; )+) => {$(
        $(#[$doc])*
        pub const $name: u32 = $value;

        #[doc = concat!("[`", stringify!($name), "`], for C.")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $getter() -> u32 {
            guard($name, || $name)
        }
    )+};
}

limits! {
    /// A long-term (friend) or DHT public key.
    tox_public_key_size => PUBLIC_KEY_SIZE = 32;
    /// The secret half of a key pair.
    tox_secret_key_size => SECRET_KEY_SIZE = 32;
    /// A conference's unique id (its identifier across invitations).
    tox_conference_uid_size => CONFERENCE_UID_SIZE = 32;
    /// The older name for the same conference id.
    tox_conference_id_size => CONFERENCE_ID_SIZE = 32;
    /// The nospam value that lets a user revoke their address.
    tox_nospam_size => NOSPAM_SIZE = 4;
    /// A Tox address: public key, nospam and a 2-byte checksum.
    tox_address_size => ADDRESS_SIZE = PUBLIC_KEY_SIZE + NOSPAM_SIZE + 2;
    /// Longest nickname, in bytes.
    tox_max_name_length => MAX_NAME_LENGTH = 128;
    /// Longest status message, in bytes.
    tox_max_status_message_length => MAX_STATUS_MESSAGE_LENGTH = 1007;
    /// Longest friend request message, in bytes (what fits one onion
    /// data packet).
    tox_max_friend_request_length => MAX_FRIEND_REQUEST_LENGTH = 1016;
    /// Longest chat message, in bytes (what fits one net_crypto packet).
    tox_max_message_length => MAX_MESSAGE_LENGTH = 1372;
    /// Largest custom lossy or lossless packet, id byte included.
    tox_max_custom_packet_size => MAX_CUSTOM_PACKET_SIZE = 1373;
    /// A `tox_hash` digest (SHA-256).
    tox_hash_length => HASH_LENGTH = 32;
    /// A file transfer's id.
    tox_file_id_length => FILE_ID_LENGTH = 32;
    /// Longest file name in a file offer, in bytes.
    tox_max_filename_length => MAX_FILENAME_LENGTH = 255;
    /// Longest host name for bootstrapping or a proxy, in bytes.
    tox_max_hostname_length => MAX_HOSTNAME_LENGTH = 255;
}
