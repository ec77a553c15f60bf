//! The event lines `tox_peer` writes, parsed, and the escaping of free text.
//!
//! Free text (messages, names, file names, paths) is always the last field of
//! a line. `tox_peer` escapes backslash as `\\` and control bytes as `\n`,
//! `\r`, `\t` or `\xHH`, so one event is one line; commands use the same
//! escapes in their text argument (see [`escape`]).

use toxide_core::PublicKey;

/// A friend's or our own connection state, as tox.h reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Offline.
    None,
    /// Through a TCP relay.
    Tcp,
    /// Direct UDP.
    Udp,
}

impl Connection {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "none" => Some(Self::None),
            "tcp" => Some(Self::Tcp),
            "udp" => Some(Self::Udp),
            _ => None,
        }
    }

    /// Whether this is any kind of online state.
    pub fn is_online(self) -> bool {
        self != Self::None
    }
}

/// One event line of `tox_peer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `SELF_CONNECTION <none|tcp|udp>`. On loopback c-toxcore reports `tcp`
    /// even when only UDP is used (127.0.0.1 counts as LAN for the onion).
    SelfConnection(Connection),
    /// `FRIEND_REQUEST <pk> <message>`
    FriendRequest {
        /// Who asks.
        public_key: PublicKey,
        /// The request text.
        message: String,
    },
    /// `FRIEND_CONNECTION <friend> <none|tcp|udp>`
    FriendConnection {
        /// Friend number.
        friend: u32,
        /// New state.
        status: Connection,
    },
    /// `MESSAGE <friend> <text>` (normal message).
    Message {
        /// Friend number.
        friend: u32,
        /// Message text.
        text: String,
    },
    /// `ACTION <friend> <text>` (`/me` message).
    Action {
        /// Friend number.
        friend: u32,
        /// Message text.
        text: String,
    },
    /// `FRIEND_NAME <friend> <name>` (c-toxcore also sends one, often empty,
    /// when a friend connects).
    FriendName {
        /// Friend number.
        friend: u32,
        /// The friend's new name.
        name: String,
    },
    /// `FRIEND_STATUS_MESSAGE <friend> <text>`
    FriendStatusMessage {
        /// Friend number.
        friend: u32,
        /// The friend's new status message.
        text: String,
    },
    /// `FRIEND_STATUS <friend> <0|1|2>`: the friend's user status as tox.h
    /// numbers it (`TOX_USER_STATUS_NONE`, `_AWAY`, `_BUSY`).
    FriendStatus {
        /// Friend number.
        friend: u32,
        /// 0 available, 1 away, 2 busy.
        status: u8,
    },
    /// `FRIEND_TYPING <friend> <0|1>`
    FriendTyping {
        /// Friend number.
        friend: u32,
        /// Typing now.
        typing: bool,
    },
    /// `LOSSLESS <friend> <hex>`: a custom lossless packet (id 160–191
    /// first).
    Lossless {
        /// Friend number.
        friend: u32,
        /// The packet, id first.
        data: Vec<u8>,
    },
    /// `RECEIPT <friend> <message-id>`: the friend got our message.
    Receipt {
        /// Friend number.
        friend: u32,
        /// The id `send` returned.
        message_id: u32,
    },
    /// `FILE_RECV <friend> <file> <size> <name>`: an offer (accepted at once
    /// unless the peer runs with `manual_files`).
    FileRecv {
        /// Friend number.
        friend: u32,
        /// File number (per friend).
        file: u32,
        /// Announced size (`u64::MAX` for streams).
        size: u64,
        /// Announced file name.
        name: String,
    },
    /// `FILE_META <friend> <file> <kind> <file-id-hex>`: right after
    /// [`Event::FileRecv`], the offer's kind (0 data, 1 avatar) and file id.
    FileMeta {
        /// Friend number.
        friend: u32,
        /// File number (per friend).
        file: u32,
        /// File kind.
        kind: u32,
        /// The 32-byte file id, hex.
        file_id: String,
    },
    /// `FILE_DONE <friend> <file> <bytes> <path>`: receiving finished; the
    /// file at `path` is closed (`-` when the peer has no receive directory).
    FileDone {
        /// Friend number.
        friend: u32,
        /// File number.
        file: u32,
        /// Bytes received.
        bytes: u64,
        /// Where the data was written.
        path: String,
    },
    /// `FILE_SENT <friend> <file>`: the receiver acknowledged the last chunk.
    FileSent {
        /// Friend number.
        friend: u32,
        /// File number.
        file: u32,
    },
    /// `FILE_CONTROL <friend> <file> <resume|pause|cancel>` from the friend.
    FileControl {
        /// Friend number.
        friend: u32,
        /// File number.
        file: u32,
        /// The control word.
        control: String,
    },
    /// `FILE_BROKEN <friend> <file> <recv|send> <bytes>`: the friend went
    /// offline during the transfer, which c-toxcore dropped without a
    /// callback; `tox_peer` reports each one it tracked and forgets it.
    FileBroken {
        /// Friend number.
        friend: u32,
        /// File number (an incoming one is `(slot + 1) << 16`).
        file: u32,
        /// Whether the friend was sending it to us.
        incoming: bool,
        /// Bytes received, or (sending) the end of the furthest chunk
        /// handed to c-toxcore.
        bytes: u64,
    },
    /// `FILE_ERROR <friend> <file> <what>`: a local failure in `tox_peer`.
    FileError {
        /// Friend number.
        friend: u32,
        /// File number.
        file: u32,
        /// What failed.
        what: String,
    },
    /// `CONFERENCE_INVITE <friend> <text|av> <cookie-hex>`
    ConferenceInvite {
        /// Who invited us.
        friend: u32,
        /// `text` or `av`.
        kind: String,
        /// The join cookie, hex.
        cookie: String,
    },
    /// `CONFERENCE_JOINED <conference> <friend>`: the automatic join worked.
    ConferenceJoined {
        /// Our conference number.
        conference: u32,
        /// Who invited us.
        friend: u32,
    },
    /// `CONFERENCE_JOIN_FAILED <friend> <code>`
    ConferenceJoinFailed {
        /// Who invited us.
        friend: u32,
        /// `Tox_Err_Conference_Join` value.
        code: i32,
    },
    /// `CONFERENCE_CONNECTED <conference>`
    ConferenceConnected {
        /// Conference number.
        conference: u32,
    },
    /// `CONFERENCE_MESSAGE <conference> <peer> <text>`
    ConferenceMessage {
        /// Conference number.
        conference: u32,
        /// Peer number within the conference.
        peer: u32,
        /// Message text.
        text: String,
    },
    /// `CONFERENCE_PEERS <conference> <count>`: the peer list changed.
    ConferencePeers {
        /// Conference number.
        conference: u32,
        /// Peers now in it (ourselves included).
        count: u32,
    },
    /// Any other line, kept whole.
    Other(String),
}

impl Event {
    /// Parses one line; lines of unknown shape become [`Event::Other`].
    pub fn parse(line: &str) -> Self {
        Self::try_parse(line).unwrap_or_else(|| Self::Other(line.to_owned()))
    }

    fn try_parse(line: &str) -> Option<Self> {
        let (kind, rest) = line.split_once(' ')?;
        let event = match kind {
            "SELF_CONNECTION" => Self::SelfConnection(Connection::parse(rest)?),
            "FRIEND_REQUEST" => {
                let (pk, message) = rest.split_once(' ').unwrap_or((rest, ""));
                Self::FriendRequest {
                    public_key: pk.parse().ok()?,
                    message: unescape(message),
                }
            }
            "FRIEND_CONNECTION" => {
                let (friend, status) = rest.split_once(' ')?;
                Self::FriendConnection {
                    friend: friend.parse().ok()?,
                    status: Connection::parse(status)?,
                }
            }
            "MESSAGE" | "ACTION" | "FRIEND_NAME" | "FRIEND_STATUS_MESSAGE" => {
                let (friend, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let friend = friend.parse().ok()?;
                let text = unescape(text);
                match kind {
                    "MESSAGE" => Self::Message { friend, text },
                    "ACTION" => Self::Action { friend, text },
                    "FRIEND_STATUS_MESSAGE" => Self::FriendStatusMessage { friend, text },
                    _ => Self::FriendName { friend, name: text },
                }
            }
            "FRIEND_STATUS" => {
                let [friend, status] = words(rest)?;
                let status = status.parse().ok().filter(|s| *s <= 2)?;
                Self::FriendStatus {
                    friend: friend.parse().ok()?,
                    status,
                }
            }
            "FRIEND_TYPING" => {
                let [friend, typing] = words(rest)?;
                Self::FriendTyping {
                    friend: friend.parse().ok()?,
                    typing: match typing {
                        "0" => false,
                        "1" => true,
                        _ => return None,
                    },
                }
            }
            "LOSSLESS" => {
                let [friend, hex] = words(rest)?;
                Self::Lossless {
                    friend: friend.parse().ok()?,
                    data: crate::process::hex_decode(hex)?,
                }
            }
            "RECEIPT" => {
                let [friend, id] = words(rest)?;
                Self::Receipt {
                    friend: friend.parse().ok()?,
                    message_id: id.parse().ok()?,
                }
            }
            "FILE_RECV" | "FILE_DONE" => {
                let (friend, file, number, text) = three_and_text(rest)?;
                let (friend, file) = (friend.parse().ok()?, file.parse().ok()?);
                let number = number.parse().ok()?;
                if kind == "FILE_RECV" {
                    Self::FileRecv {
                        friend,
                        file,
                        size: number,
                        name: unescape(text),
                    }
                } else {
                    Self::FileDone {
                        friend,
                        file,
                        bytes: number,
                        path: unescape(text),
                    }
                }
            }
            "FILE_META" => {
                let [friend, file, kind, id] = words(rest)?;
                Self::FileMeta {
                    friend: friend.parse().ok()?,
                    file: file.parse().ok()?,
                    kind: kind.parse().ok()?,
                    file_id: id.to_owned(),
                }
            }
            "FILE_SENT" => {
                let [friend, file] = words(rest)?;
                Self::FileSent {
                    friend: friend.parse().ok()?,
                    file: file.parse().ok()?,
                }
            }
            "FILE_BROKEN" => {
                let [friend, file, direction, bytes] = words(rest)?;
                Self::FileBroken {
                    friend: friend.parse().ok()?,
                    file: file.parse().ok()?,
                    incoming: match direction {
                        "recv" => true,
                        "send" => false,
                        _ => return None,
                    },
                    bytes: bytes.parse().ok()?,
                }
            }
            "FILE_CONTROL" | "FILE_ERROR" => {
                let [friend, file, word] = words(rest)?;
                let (friend, file, word) = (friend.parse().ok()?, file.parse().ok()?, word.into());
                if kind == "FILE_CONTROL" {
                    Self::FileControl {
                        friend,
                        file,
                        control: word,
                    }
                } else {
                    Self::FileError {
                        friend,
                        file,
                        what: word,
                    }
                }
            }
            "CONFERENCE_INVITE" => {
                let [friend, kind, cookie] = words(rest)?;
                Self::ConferenceInvite {
                    friend: friend.parse().ok()?,
                    kind: kind.to_owned(),
                    cookie: cookie.to_owned(),
                }
            }
            "CONFERENCE_JOINED" => {
                let [conference, friend] = words(rest)?;
                Self::ConferenceJoined {
                    conference: conference.parse().ok()?,
                    friend: friend.parse().ok()?,
                }
            }
            "CONFERENCE_JOIN_FAILED" => {
                let [friend, code] = words(rest)?;
                Self::ConferenceJoinFailed {
                    friend: friend.parse().ok()?,
                    code: code.parse().ok()?,
                }
            }
            "CONFERENCE_CONNECTED" => Self::ConferenceConnected {
                conference: rest.parse().ok()?,
            },
            "CONFERENCE_MESSAGE" => {
                let (conference, peer, text) = two_and_text(rest)?;
                Self::ConferenceMessage {
                    conference: conference.parse().ok()?,
                    peer: peer.parse().ok()?,
                    text: unescape(text),
                }
            }
            "CONFERENCE_PEERS" => {
                let [conference, count] = words(rest)?;
                Self::ConferencePeers {
                    conference: conference.parse().ok()?,
                    count: count.parse().ok()?,
                }
            }
            _ => return None,
        };
        Some(event)
    }
}

/// Exactly `N` space-separated words.
fn words<const N: usize>(text: &str) -> Option<[&str; N]> {
    let parts: Vec<&str> = text.split(' ').collect();
    parts.try_into().ok()
}

/// Two words, then the free text (possibly empty).
fn two_and_text(text: &str) -> Option<(&str, &str, &str)> {
    let (a, rest) = text.split_once(' ')?;
    let (b, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((a, b, text))
}

/// Three words, then the free text (possibly empty).
fn three_and_text(text: &str) -> Option<(&str, &str, &str, &str)> {
    let (a, rest) = text.split_once(' ')?;
    let (b, c, text) = two_and_text(rest)?;
    Some((a, b, c, text))
}

/// Escapes free text for a `tox_peer` command line (the inverse of what
/// `tox_peer` does to text in events).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Undoes the escaping of free text in an event line.
pub fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = bytes.get(i) else {
            out.push(c);
            break;
        };
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'x' => {
                let value = bytes
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match value {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'x'),
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trip() {
        let text = "a\\b\nc\rd\te\u{1}f ünï \\x41";
        assert_eq!(unescape(&escape(text)), text);
        assert_eq!(escape("a\nb"), "a\\nb");
    }

    #[test]
    fn parses_events() {
        let pk = "A".repeat(64);
        assert_eq!(
            Event::parse(&format!("FRIEND_REQUEST {pk} hello there\\n")),
            Event::FriendRequest {
                public_key: pk.parse().unwrap(),
                message: "hello there\n".into(),
            }
        );
        assert_eq!(
            Event::parse("FRIEND_CONNECTION 3 udp"),
            Event::FriendConnection {
                friend: 3,
                status: Connection::Udp
            }
        );
        assert_eq!(
            Event::parse("MESSAGE 0 "),
            Event::Message {
                friend: 0,
                text: String::new()
            }
        );
        assert_eq!(
            Event::parse("FILE_DONE 1 65536 300000 /tmp/x y"),
            Event::FileDone {
                friend: 1,
                file: 65536,
                bytes: 300_000,
                path: "/tmp/x y".into()
            }
        );
        assert_eq!(
            Event::parse("FILE_BROKEN 0 65536 recv 4096"),
            Event::FileBroken {
                friend: 0,
                file: 65536,
                incoming: true,
                bytes: 4096
            }
        );
        assert_eq!(
            Event::parse("FILE_BROKEN 0 1 send 0"),
            Event::FileBroken {
                friend: 0,
                file: 1,
                incoming: false,
                bytes: 0
            }
        );
        assert_eq!(
            Event::parse("FILE_BROKEN 0 1 both 0"),
            Event::Other("FILE_BROKEN 0 1 both 0".into())
        );
        assert_eq!(
            Event::parse("CONFERENCE_MESSAGE 0 2 hi all"),
            Event::ConferenceMessage {
                conference: 0,
                peer: 2,
                text: "hi all".into()
            }
        );
        assert_eq!(
            Event::parse("FRIEND_STATUS_MESSAGE 2 out to lunch \\\\o/"),
            Event::FriendStatusMessage {
                friend: 2,
                text: "out to lunch \\o/".into()
            }
        );
        assert_eq!(
            Event::parse("FRIEND_STATUS_MESSAGE 0 "),
            Event::FriendStatusMessage {
                friend: 0,
                text: String::new()
            }
        );
        assert_eq!(
            Event::parse("FRIEND_STATUS 1 2"),
            Event::FriendStatus {
                friend: 1,
                status: 2
            }
        );
        assert_eq!(
            Event::parse("FRIEND_TYPING 0 1"),
            Event::FriendTyping {
                friend: 0,
                typing: true
            }
        );
        assert_eq!(
            Event::parse("FRIEND_TYPING 0 0"),
            Event::FriendTyping {
                friend: 0,
                typing: false
            }
        );
        assert_eq!(
            Event::parse("FRIEND_STATUS 1 3"),
            Event::Other("FRIEND_STATUS 1 3".into())
        );
        assert_eq!(
            Event::parse("FRIEND_TYPING 0 yes"),
            Event::Other("FRIEND_TYPING 0 yes".into())
        );
        assert_eq!(
            Event::parse("FRIEND_CONNECTION x udp"),
            Event::Other("FRIEND_CONNECTION x udp".into())
        );
    }
}
