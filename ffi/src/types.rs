//! The enums of tox.h, toxencryptsave.h and toxav.h, and the opaque
//! types tox.h's signatures name.
//!
//! C passes an enum as an `unsigned int`-sized integer that may hold any
//! value, so a value coming *from* C arrives as `u32` and goes through
//! `TryFrom<u32>` (an unknown value is an error to report, not undefined
//! behaviour). Values going *to* C (error codes, callback arguments) are
//! written as these enums, which have the C enum's size on every target
//! (checked below and, against the header itself, by `tests/abi.rs`).
//!
//! Each enum carries its C constants' names (`C_CONSTANTS`) and
//! [`C_ENUMS`] lists tox.h's, [`ENCRYPTSAVE_ENUMS`] toxencryptsave.h's
//! and [`TOXAV_ENUMS`] toxav.h's, so the tests can compare every value
//! with the one Debian's header gives.

use std::ffi::c_char;
use std::ffi::c_void;
use std::marker::{PhantomData, PhantomPinned};

/// tox.h's `Tox`, the instance handle, opaque to C. No value of it exists
/// yet: the synchronous driver (a later increment) defines the instance.
#[repr(C)]
#[derive(Debug)]
pub struct Tox {
    _opaque: [u8; 0],
    _not_send_sync_unpin: PhantomData<(*mut u8, PhantomPinned)>,
}

/// tox.h's `Tox_System`: c-toxcore's hook for replacing the OS layer
/// (clock, sockets, randomness). Only passed through `Tox_Options`.
#[repr(C)]
#[derive(Debug)]
pub struct ToxSystem {
    _opaque: [u8; 0],
    _not_send_sync_unpin: PhantomData<(*mut u8, PhantomPinned)>,
}

/// tox.h's `tox_log_cb`: receives the library's log lines (source file,
/// line, function and message are NUL-terminated strings).
pub type LogCallback = unsafe extern "C" fn(
    tox: *mut Tox,
    level: LogLevel,
    file: *const c_char,
    line: u32,
    func: *const c_char,
    message: *const c_char,
    user_data: *mut c_void,
);

/// A number from C that names no constant of the enum it was meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownValue(pub u32);

/// One C enum as the ABI test sees it.
#[derive(Clone, Copy, Debug)]
pub struct CEnum {
    /// The C type's tag, e.g. `Tox_Err_New`.
    pub name: &'static str,
    /// `size_of` our Rust enum.
    pub size: usize,
    /// Every constant's C name and value, in the header's order.
    pub constants: &'static [(&'static str, u32)],
}

macro_rules! c_enums {
    ($(#[$list_meta:meta])* $list:ident; $(
        $(#[$meta:meta])*
        $name:ident = $c_name:literal {
            $( $variant:ident = $value:literal => $c_const:ident, )+
        }
    )+) => {
        $(
            $(#[$meta])*
            #[repr(C)]
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
            pub enum $name {
                $( #[doc = concat!("`", stringify!($c_const), "`")] $variant = $value, )+
            }

            impl $name {
                /// The C constants' names and values, in the header's order.
                pub const C_CONSTANTS: &'static [(&'static str, u32)] =
                    &[$( (stringify!($c_const), $value) ),+];
            }

            impl From<$name> for u32 {
                fn from(value: $name) -> u32 {
                    value as u32
                }
            }

            impl TryFrom<u32> for $name {
                type Error = UnknownValue;

                fn try_from(value: u32) -> Result<Self, UnknownValue> {
                    match value {
                        $( $value => Ok(Self::$variant), )+
                        _ => Err(UnknownValue(value)),
                    }
                }
            }

            // A C enum is as wide as an `unsigned int`; `From<_> for u32`
            // relies on it.
            const _: () = assert!(size_of::<$name>() == size_of::<u32>());
        )+

        $(#[$list_meta])*
        pub const $list: &[CEnum] = &[$(
            CEnum { name: $c_name, size: size_of::<$name>(), constants: $name::C_CONSTANTS },
        )+];
    };
}

c_enums! {
    /// Every enum tox.h declares, in the header's order.
    C_ENUMS;

    /// The presence a user shows: available, away or busy.
    UserStatus = "Tox_User_Status" {
        None = 0 => TOX_USER_STATUS_NONE,
        Away = 1 => TOX_USER_STATUS_AWAY,
        Busy = 2 => TOX_USER_STATUS_BUSY,
    }
    /// Plain text, or an action (what IRC calls `/me`).
    MessageType = "Tox_Message_Type" {
        Normal = 0 => TOX_MESSAGE_TYPE_NORMAL,
        Action = 1 => TOX_MESSAGE_TYPE_ACTION,
    }
    /// The proxy that `Tox_Options` sends TCP connections through.
    ProxyType = "Tox_Proxy_Type" {
        None = 0 => TOX_PROXY_TYPE_NONE,
        Http = 1 => TOX_PROXY_TYPE_HTTP,
        Socks5 = 2 => TOX_PROXY_TYPE_SOCKS5,
    }
    /// What `Tox_Options`' savedata holds: nothing, a whole profile, or a bare secret
    /// key.
    SavedataType = "Tox_Savedata_Type" {
        None = 0 => TOX_SAVEDATA_TYPE_NONE,
        ToxSave = 1 => TOX_SAVEDATA_TYPE_TOX_SAVE,
        SecretKey = 2 => TOX_SAVEDATA_TYPE_SECRET_KEY,
    }
    /// The severity of a line given to the options' log callback.
    LogLevel = "Tox_Log_Level" {
        Trace = 0 => TOX_LOG_LEVEL_TRACE,
        Debug = 1 => TOX_LOG_LEVEL_DEBUG,
        Info = 2 => TOX_LOG_LEVEL_INFO,
        Warning = 3 => TOX_LOG_LEVEL_WARNING,
        Error = 4 => TOX_LOG_LEVEL_ERROR,
    }
    /// Why `tox_options_new` returned NULL.
    ErrOptionsNew = "Tox_Err_Options_New" {
        Ok = 0 => TOX_ERR_OPTIONS_NEW_OK,
        Malloc = 1 => TOX_ERR_OPTIONS_NEW_MALLOC,
    }
    /// Why `tox_new` failed: options, sockets, proxy or savedata.
    ErrNew = "Tox_Err_New" {
        Ok = 0 => TOX_ERR_NEW_OK,
        Null = 1 => TOX_ERR_NEW_NULL,
        Malloc = 2 => TOX_ERR_NEW_MALLOC,
        PortAlloc = 3 => TOX_ERR_NEW_PORT_ALLOC,
        ProxyBadType = 4 => TOX_ERR_NEW_PROXY_BAD_TYPE,
        ProxyBadHost = 5 => TOX_ERR_NEW_PROXY_BAD_HOST,
        ProxyBadPort = 6 => TOX_ERR_NEW_PROXY_BAD_PORT,
        ProxyNotFound = 7 => TOX_ERR_NEW_PROXY_NOT_FOUND,
        LoadEncrypted = 8 => TOX_ERR_NEW_LOAD_ENCRYPTED,
        LoadBadFormat = 9 => TOX_ERR_NEW_LOAD_BAD_FORMAT,
    }
    /// Why `tox_bootstrap` or `tox_add_tcp_relay` refused a node.
    ErrBootstrap = "Tox_Err_Bootstrap" {
        Ok = 0 => TOX_ERR_BOOTSTRAP_OK,
        Null = 1 => TOX_ERR_BOOTSTRAP_NULL,
        BadHost = 2 => TOX_ERR_BOOTSTRAP_BAD_HOST,
        BadPort = 3 => TOX_ERR_BOOTSTRAP_BAD_PORT,
    }
    /// How we or a friend are connected: not at all, through a TCP relay, or directly
    /// over UDP.
    Connection = "Tox_Connection" {
        None = 0 => TOX_CONNECTION_NONE,
        Tcp = 1 => TOX_CONNECTION_TCP,
        Udp = 2 => TOX_CONNECTION_UDP,
    }
    /// Why setting our name or status message failed.
    ErrSetInfo = "Tox_Err_Set_Info" {
        Ok = 0 => TOX_ERR_SET_INFO_OK,
        Null = 1 => TOX_ERR_SET_INFO_NULL,
        TooLong = 2 => TOX_ERR_SET_INFO_TOO_LONG,
    }
    /// Why a friend could not be added (with or without a request).
    ErrFriendAdd = "Tox_Err_Friend_Add" {
        Ok = 0 => TOX_ERR_FRIEND_ADD_OK,
        Null = 1 => TOX_ERR_FRIEND_ADD_NULL,
        TooLong = 2 => TOX_ERR_FRIEND_ADD_TOO_LONG,
        NoMessage = 3 => TOX_ERR_FRIEND_ADD_NO_MESSAGE,
        OwnKey = 4 => TOX_ERR_FRIEND_ADD_OWN_KEY,
        AlreadySent = 5 => TOX_ERR_FRIEND_ADD_ALREADY_SENT,
        BadChecksum = 6 => TOX_ERR_FRIEND_ADD_BAD_CHECKSUM,
        SetNewNospam = 7 => TOX_ERR_FRIEND_ADD_SET_NEW_NOSPAM,
        Malloc = 8 => TOX_ERR_FRIEND_ADD_MALLOC,
    }
    /// Why a friend could not be deleted.
    ErrFriendDelete = "Tox_Err_Friend_Delete" {
        Ok = 0 => TOX_ERR_FRIEND_DELETE_OK,
        FriendNotFound = 1 => TOX_ERR_FRIEND_DELETE_FRIEND_NOT_FOUND,
    }
    /// Why no friend has the given public key.
    ErrFriendByPublicKey = "Tox_Err_Friend_By_Public_Key" {
        Ok = 0 => TOX_ERR_FRIEND_BY_PUBLIC_KEY_OK,
        Null = 1 => TOX_ERR_FRIEND_BY_PUBLIC_KEY_NULL,
        NotFound = 2 => TOX_ERR_FRIEND_BY_PUBLIC_KEY_NOT_FOUND,
    }
    /// Why a friend's public key could not be read.
    ErrFriendGetPublicKey = "Tox_Err_Friend_Get_Public_Key" {
        Ok = 0 => TOX_ERR_FRIEND_GET_PUBLIC_KEY_OK,
        FriendNotFound = 1 => TOX_ERR_FRIEND_GET_PUBLIC_KEY_FRIEND_NOT_FOUND,
    }
    /// Why a friend's last-online time could not be read.
    ErrFriendGetLastOnline = "Tox_Err_Friend_Get_Last_Online" {
        Ok = 0 => TOX_ERR_FRIEND_GET_LAST_ONLINE_OK,
        FriendNotFound = 1 => TOX_ERR_FRIEND_GET_LAST_ONLINE_FRIEND_NOT_FOUND,
    }
    /// Why a question about a friend (name, status, connection, typing) failed.
    ErrFriendQuery = "Tox_Err_Friend_Query" {
        Ok = 0 => TOX_ERR_FRIEND_QUERY_OK,
        Null = 1 => TOX_ERR_FRIEND_QUERY_NULL,
        FriendNotFound = 2 => TOX_ERR_FRIEND_QUERY_FRIEND_NOT_FOUND,
    }
    /// Why our typing state could not be set.
    ErrSetTyping = "Tox_Err_Set_Typing" {
        Ok = 0 => TOX_ERR_SET_TYPING_OK,
        FriendNotFound = 1 => TOX_ERR_SET_TYPING_FRIEND_NOT_FOUND,
    }
    /// Why a message to a friend was not queued.
    ErrFriendSendMessage = "Tox_Err_Friend_Send_Message" {
        Ok = 0 => TOX_ERR_FRIEND_SEND_MESSAGE_OK,
        Null = 1 => TOX_ERR_FRIEND_SEND_MESSAGE_NULL,
        FriendNotFound = 2 => TOX_ERR_FRIEND_SEND_MESSAGE_FRIEND_NOT_FOUND,
        FriendNotConnected = 3 => TOX_ERR_FRIEND_SEND_MESSAGE_FRIEND_NOT_CONNECTED,
        Sendq = 4 => TOX_ERR_FRIEND_SEND_MESSAGE_SENDQ,
        TooLong = 5 => TOX_ERR_FRIEND_SEND_MESSAGE_TOO_LONG,
        Empty = 6 => TOX_ERR_FRIEND_SEND_MESSAGE_EMPTY,
    }
    /// What a file transfer carries: data, or the sender's avatar. The C API passes the
    /// kind as a plain `uint32_t`, so other values travel too.
    FileKind = "Tox_File_Kind" {
        Data = 0 => TOX_FILE_KIND_DATA,
        Avatar = 1 => TOX_FILE_KIND_AVATAR,
    }
    /// A command on a file transfer.
    FileControl = "Tox_File_Control" {
        Resume = 0 => TOX_FILE_CONTROL_RESUME,
        Pause = 1 => TOX_FILE_CONTROL_PAUSE,
        Cancel = 2 => TOX_FILE_CONTROL_CANCEL,
    }
    /// Why a file control was refused.
    ErrFileControl = "Tox_Err_File_Control" {
        Ok = 0 => TOX_ERR_FILE_CONTROL_OK,
        FriendNotFound = 1 => TOX_ERR_FILE_CONTROL_FRIEND_NOT_FOUND,
        FriendNotConnected = 2 => TOX_ERR_FILE_CONTROL_FRIEND_NOT_CONNECTED,
        NotFound = 3 => TOX_ERR_FILE_CONTROL_NOT_FOUND,
        NotPaused = 4 => TOX_ERR_FILE_CONTROL_NOT_PAUSED,
        Denied = 5 => TOX_ERR_FILE_CONTROL_DENIED,
        AlreadyPaused = 6 => TOX_ERR_FILE_CONTROL_ALREADY_PAUSED,
        Sendq = 7 => TOX_ERR_FILE_CONTROL_SENDQ,
    }
    /// Why a seek in an incoming file was refused.
    ErrFileSeek = "Tox_Err_File_Seek" {
        Ok = 0 => TOX_ERR_FILE_SEEK_OK,
        FriendNotFound = 1 => TOX_ERR_FILE_SEEK_FRIEND_NOT_FOUND,
        FriendNotConnected = 2 => TOX_ERR_FILE_SEEK_FRIEND_NOT_CONNECTED,
        NotFound = 3 => TOX_ERR_FILE_SEEK_NOT_FOUND,
        Denied = 4 => TOX_ERR_FILE_SEEK_DENIED,
        InvalidPosition = 5 => TOX_ERR_FILE_SEEK_INVALID_POSITION,
        Sendq = 6 => TOX_ERR_FILE_SEEK_SENDQ,
    }
    /// Why a file id could not be read.
    ErrFileGet = "Tox_Err_File_Get" {
        Ok = 0 => TOX_ERR_FILE_GET_OK,
        Null = 1 => TOX_ERR_FILE_GET_NULL,
        FriendNotFound = 2 => TOX_ERR_FILE_GET_FRIEND_NOT_FOUND,
        NotFound = 3 => TOX_ERR_FILE_GET_NOT_FOUND,
    }
    /// Why a file could not be offered.
    ErrFileSend = "Tox_Err_File_Send" {
        Ok = 0 => TOX_ERR_FILE_SEND_OK,
        Null = 1 => TOX_ERR_FILE_SEND_NULL,
        FriendNotFound = 2 => TOX_ERR_FILE_SEND_FRIEND_NOT_FOUND,
        FriendNotConnected = 3 => TOX_ERR_FILE_SEND_FRIEND_NOT_CONNECTED,
        NameTooLong = 4 => TOX_ERR_FILE_SEND_NAME_TOO_LONG,
        TooMany = 5 => TOX_ERR_FILE_SEND_TOO_MANY,
    }
    /// Why a chunk of an outgoing file was not queued.
    ErrFileSendChunk = "Tox_Err_File_Send_Chunk" {
        Ok = 0 => TOX_ERR_FILE_SEND_CHUNK_OK,
        Null = 1 => TOX_ERR_FILE_SEND_CHUNK_NULL,
        FriendNotFound = 2 => TOX_ERR_FILE_SEND_CHUNK_FRIEND_NOT_FOUND,
        FriendNotConnected = 3 => TOX_ERR_FILE_SEND_CHUNK_FRIEND_NOT_CONNECTED,
        NotFound = 4 => TOX_ERR_FILE_SEND_CHUNK_NOT_FOUND,
        NotTransferring = 5 => TOX_ERR_FILE_SEND_CHUNK_NOT_TRANSFERRING,
        InvalidLength = 6 => TOX_ERR_FILE_SEND_CHUNK_INVALID_LENGTH,
        Sendq = 7 => TOX_ERR_FILE_SEND_CHUNK_SENDQ,
        WrongPosition = 8 => TOX_ERR_FILE_SEND_CHUNK_WRONG_POSITION,
    }
    /// A conference for text only, or with audio and video.
    ConferenceType = "Tox_Conference_Type" {
        Text = 0 => TOX_CONFERENCE_TYPE_TEXT,
        Av = 1 => TOX_CONFERENCE_TYPE_AV,
    }
    /// Why a conference could not be created.
    ErrConferenceNew = "Tox_Err_Conference_New" {
        Ok = 0 => TOX_ERR_CONFERENCE_NEW_OK,
        Init = 1 => TOX_ERR_CONFERENCE_NEW_INIT,
    }
    /// Why a conference could not be left.
    ErrConferenceDelete = "Tox_Err_Conference_Delete" {
        Ok = 0 => TOX_ERR_CONFERENCE_DELETE_OK,
        ConferenceNotFound = 1 => TOX_ERR_CONFERENCE_DELETE_CONFERENCE_NOT_FOUND,
    }
    /// Why a question about a conference peer failed.
    ErrConferencePeerQuery = "Tox_Err_Conference_Peer_Query" {
        Ok = 0 => TOX_ERR_CONFERENCE_PEER_QUERY_OK,
        ConferenceNotFound = 1 => TOX_ERR_CONFERENCE_PEER_QUERY_CONFERENCE_NOT_FOUND,
        PeerNotFound = 2 => TOX_ERR_CONFERENCE_PEER_QUERY_PEER_NOT_FOUND,
        NoConnection = 3 => TOX_ERR_CONFERENCE_PEER_QUERY_NO_CONNECTION,
    }
    /// Why the offline peer limit could not be set.
    ErrConferenceSetMaxOffline = "Tox_Err_Conference_Set_Max_Offline" {
        Ok = 0 => TOX_ERR_CONFERENCE_SET_MAX_OFFLINE_OK,
        ConferenceNotFound = 1 => TOX_ERR_CONFERENCE_SET_MAX_OFFLINE_CONFERENCE_NOT_FOUND,
    }
    /// Why a friend could not be invited to a conference.
    ErrConferenceInvite = "Tox_Err_Conference_Invite" {
        Ok = 0 => TOX_ERR_CONFERENCE_INVITE_OK,
        ConferenceNotFound = 1 => TOX_ERR_CONFERENCE_INVITE_CONFERENCE_NOT_FOUND,
        FailSend = 2 => TOX_ERR_CONFERENCE_INVITE_FAIL_SEND,
        NoConnection = 3 => TOX_ERR_CONFERENCE_INVITE_NO_CONNECTION,
    }
    /// Why a conference invitation could not be accepted.
    ErrConferenceJoin = "Tox_Err_Conference_Join" {
        Ok = 0 => TOX_ERR_CONFERENCE_JOIN_OK,
        InvalidLength = 1 => TOX_ERR_CONFERENCE_JOIN_INVALID_LENGTH,
        WrongType = 2 => TOX_ERR_CONFERENCE_JOIN_WRONG_TYPE,
        FriendNotFound = 3 => TOX_ERR_CONFERENCE_JOIN_FRIEND_NOT_FOUND,
        Duplicate = 4 => TOX_ERR_CONFERENCE_JOIN_DUPLICATE,
        InitFail = 5 => TOX_ERR_CONFERENCE_JOIN_INIT_FAIL,
        FailSend = 6 => TOX_ERR_CONFERENCE_JOIN_FAIL_SEND,
    }
    /// Why a conference message was not sent.
    ErrConferenceSendMessage = "Tox_Err_Conference_Send_Message" {
        Ok = 0 => TOX_ERR_CONFERENCE_SEND_MESSAGE_OK,
        ConferenceNotFound = 1 => TOX_ERR_CONFERENCE_SEND_MESSAGE_CONFERENCE_NOT_FOUND,
        TooLong = 2 => TOX_ERR_CONFERENCE_SEND_MESSAGE_TOO_LONG,
        NoConnection = 3 => TOX_ERR_CONFERENCE_SEND_MESSAGE_NO_CONNECTION,
        FailSend = 4 => TOX_ERR_CONFERENCE_SEND_MESSAGE_FAIL_SEND,
    }
    /// Why a conference title could not be read or set.
    ErrConferenceTitle = "Tox_Err_Conference_Title" {
        Ok = 0 => TOX_ERR_CONFERENCE_TITLE_OK,
        ConferenceNotFound = 1 => TOX_ERR_CONFERENCE_TITLE_CONFERENCE_NOT_FOUND,
        InvalidLength = 2 => TOX_ERR_CONFERENCE_TITLE_INVALID_LENGTH,
        FailSend = 3 => TOX_ERR_CONFERENCE_TITLE_FAIL_SEND,
    }
    /// Why a conference's type could not be read.
    ErrConferenceGetType = "Tox_Err_Conference_Get_Type" {
        Ok = 0 => TOX_ERR_CONFERENCE_GET_TYPE_OK,
        ConferenceNotFound = 1 => TOX_ERR_CONFERENCE_GET_TYPE_CONFERENCE_NOT_FOUND,
    }
    /// Why no conference has the given id.
    ErrConferenceById = "Tox_Err_Conference_By_Id" {
        Ok = 0 => TOX_ERR_CONFERENCE_BY_ID_OK,
        Null = 1 => TOX_ERR_CONFERENCE_BY_ID_NULL,
        NotFound = 2 => TOX_ERR_CONFERENCE_BY_ID_NOT_FOUND,
    }
    /// Why no conference has the given unique id.
    ErrConferenceByUid = "Tox_Err_Conference_By_Uid" {
        Ok = 0 => TOX_ERR_CONFERENCE_BY_UID_OK,
        Null = 1 => TOX_ERR_CONFERENCE_BY_UID_NULL,
        NotFound = 2 => TOX_ERR_CONFERENCE_BY_UID_NOT_FOUND,
    }
    /// Why a custom packet to a friend was not sent.
    ErrFriendCustomPacket = "Tox_Err_Friend_Custom_Packet" {
        Ok = 0 => TOX_ERR_FRIEND_CUSTOM_PACKET_OK,
        Null = 1 => TOX_ERR_FRIEND_CUSTOM_PACKET_NULL,
        FriendNotFound = 2 => TOX_ERR_FRIEND_CUSTOM_PACKET_FRIEND_NOT_FOUND,
        FriendNotConnected = 3 => TOX_ERR_FRIEND_CUSTOM_PACKET_FRIEND_NOT_CONNECTED,
        Invalid = 4 => TOX_ERR_FRIEND_CUSTOM_PACKET_INVALID,
        Empty = 5 => TOX_ERR_FRIEND_CUSTOM_PACKET_EMPTY,
        TooLong = 6 => TOX_ERR_FRIEND_CUSTOM_PACKET_TOO_LONG,
        Sendq = 7 => TOX_ERR_FRIEND_CUSTOM_PACKET_SENDQ,
    }
    /// Why the instance's UDP or TCP port could not be read.
    ErrGetPort = "Tox_Err_Get_Port" {
        Ok = 0 => TOX_ERR_GET_PORT_OK,
        NotBound = 1 => TOX_ERR_GET_PORT_NOT_BOUND,
    }
}

c_enums! {
    /// Every enum toxencryptsave.h declares, in the header's order.
    ENCRYPTSAVE_ENUMS;

    /// Why no key could be derived from a passphrase.
    ErrKeyDerivation = "Tox_Err_Key_Derivation" {
        Ok = 0 => TOX_ERR_KEY_DERIVATION_OK,
        Null = 1 => TOX_ERR_KEY_DERIVATION_NULL,
        Failed = 2 => TOX_ERR_KEY_DERIVATION_FAILED,
    }
    /// Why data could not be encrypted under a passphrase or key.
    ErrEncryption = "Tox_Err_Encryption" {
        Ok = 0 => TOX_ERR_ENCRYPTION_OK,
        Null = 1 => TOX_ERR_ENCRYPTION_NULL,
        KeyDerivationFailed = 2 => TOX_ERR_ENCRYPTION_KEY_DERIVATION_FAILED,
        Failed = 3 => TOX_ERR_ENCRYPTION_FAILED,
    }
    /// Why encrypted data could not be decrypted.
    ErrDecryption = "Tox_Err_Decryption" {
        Ok = 0 => TOX_ERR_DECRYPTION_OK,
        Null = 1 => TOX_ERR_DECRYPTION_NULL,
        InvalidLength = 2 => TOX_ERR_DECRYPTION_INVALID_LENGTH,
        BadFormat = 3 => TOX_ERR_DECRYPTION_BAD_FORMAT,
        KeyDerivationFailed = 4 => TOX_ERR_DECRYPTION_KEY_DERIVATION_FAILED,
        Failed = 5 => TOX_ERR_DECRYPTION_FAILED,
    }
    /// Why no salt could be read from encrypted data.
    ErrGetSalt = "Tox_Err_Get_Salt" {
        Ok = 0 => TOX_ERR_GET_SALT_OK,
        Null = 1 => TOX_ERR_GET_SALT_NULL,
        BadFormat = 2 => TOX_ERR_GET_SALT_BAD_FORMAT,
    }
}

c_enums! {
    /// Every enum toxav.h declares, in the header's order.
    TOXAV_ENUMS;

    /// Why `toxav_new` returned NULL.
    ErrAvNew = "Toxav_Err_New" {
        Ok = 0 => TOXAV_ERR_NEW_OK,
        Null = 1 => TOXAV_ERR_NEW_NULL,
        Malloc = 2 => TOXAV_ERR_NEW_MALLOC,
        Multiple = 3 => TOXAV_ERR_NEW_MULTIPLE,
    }
    /// Why a call could not be started.
    ErrAvCall = "Toxav_Err_Call" {
        Ok = 0 => TOXAV_ERR_CALL_OK,
        Malloc = 1 => TOXAV_ERR_CALL_MALLOC,
        Sync = 2 => TOXAV_ERR_CALL_SYNC,
        FriendNotFound = 3 => TOXAV_ERR_CALL_FRIEND_NOT_FOUND,
        FriendNotConnected = 4 => TOXAV_ERR_CALL_FRIEND_NOT_CONNECTED,
        FriendAlreadyInCall = 5 => TOXAV_ERR_CALL_FRIEND_ALREADY_IN_CALL,
        InvalidBitRate = 6 => TOXAV_ERR_CALL_INVALID_BIT_RATE,
    }
    /// Why an incoming call could not be answered.
    ErrAvAnswer = "Toxav_Err_Answer" {
        Ok = 0 => TOXAV_ERR_ANSWER_OK,
        Sync = 1 => TOXAV_ERR_ANSWER_SYNC,
        CodecInitialization = 2 => TOXAV_ERR_ANSWER_CODEC_INITIALIZATION,
        FriendNotFound = 3 => TOXAV_ERR_ANSWER_FRIEND_NOT_FOUND,
        FriendNotCalling = 4 => TOXAV_ERR_ANSWER_FRIEND_NOT_CALLING,
        InvalidBitRate = 5 => TOXAV_ERR_ANSWER_INVALID_BIT_RATE,
    }
    /// The bits of the call state a `toxav_call_state_cb` receives (a mask
    /// passed as `uint32_t`, not one value).
    AvFriendCallState = "Toxav_Friend_Call_State" {
        None = 0 => TOXAV_FRIEND_CALL_STATE_NONE,
        Error = 1 => TOXAV_FRIEND_CALL_STATE_ERROR,
        Finished = 2 => TOXAV_FRIEND_CALL_STATE_FINISHED,
        SendingA = 4 => TOXAV_FRIEND_CALL_STATE_SENDING_A,
        SendingV = 8 => TOXAV_FRIEND_CALL_STATE_SENDING_V,
        AcceptingA = 16 => TOXAV_FRIEND_CALL_STATE_ACCEPTING_A,
        AcceptingV = 32 => TOXAV_FRIEND_CALL_STATE_ACCEPTING_V,
    }
    /// A command on a running or ringing call.
    AvCallControl = "Toxav_Call_Control" {
        Resume = 0 => TOXAV_CALL_CONTROL_RESUME,
        Pause = 1 => TOXAV_CALL_CONTROL_PAUSE,
        Cancel = 2 => TOXAV_CALL_CONTROL_CANCEL,
        MuteAudio = 3 => TOXAV_CALL_CONTROL_MUTE_AUDIO,
        UnmuteAudio = 4 => TOXAV_CALL_CONTROL_UNMUTE_AUDIO,
        HideVideo = 5 => TOXAV_CALL_CONTROL_HIDE_VIDEO,
        ShowVideo = 6 => TOXAV_CALL_CONTROL_SHOW_VIDEO,
    }
    /// Why a call control was refused.
    ErrAvCallControl = "Toxav_Err_Call_Control" {
        Ok = 0 => TOXAV_ERR_CALL_CONTROL_OK,
        Sync = 1 => TOXAV_ERR_CALL_CONTROL_SYNC,
        FriendNotFound = 2 => TOXAV_ERR_CALL_CONTROL_FRIEND_NOT_FOUND,
        FriendNotInCall = 3 => TOXAV_ERR_CALL_CONTROL_FRIEND_NOT_IN_CALL,
        InvalidTransition = 4 => TOXAV_ERR_CALL_CONTROL_INVALID_TRANSITION,
    }
    /// Why a call's audio or video bit rate could not be set.
    ErrAvBitRateSet = "Toxav_Err_Bit_Rate_Set" {
        Ok = 0 => TOXAV_ERR_BIT_RATE_SET_OK,
        Sync = 1 => TOXAV_ERR_BIT_RATE_SET_SYNC,
        InvalidBitRate = 2 => TOXAV_ERR_BIT_RATE_SET_INVALID_BIT_RATE,
        FriendNotFound = 3 => TOXAV_ERR_BIT_RATE_SET_FRIEND_NOT_FOUND,
        FriendNotInCall = 4 => TOXAV_ERR_BIT_RATE_SET_FRIEND_NOT_IN_CALL,
    }
    /// Why an audio or video frame was not sent.
    ErrAvSendFrame = "Toxav_Err_Send_Frame" {
        Ok = 0 => TOXAV_ERR_SEND_FRAME_OK,
        Null = 1 => TOXAV_ERR_SEND_FRAME_NULL,
        FriendNotFound = 2 => TOXAV_ERR_SEND_FRAME_FRIEND_NOT_FOUND,
        FriendNotInCall = 3 => TOXAV_ERR_SEND_FRAME_FRIEND_NOT_IN_CALL,
        Sync = 4 => TOXAV_ERR_SEND_FRAME_SYNC,
        Invalid = 5 => TOXAV_ERR_SEND_FRAME_INVALID,
        PayloadTypeDisabled = 6 => TOXAV_ERR_SEND_FRAME_PAYLOAD_TYPE_DISABLED,
        RtpFailed = 7 => TOXAV_ERR_SEND_FRAME_RTP_FAILED,
    }
}
