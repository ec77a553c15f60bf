//! Asking a proxy for a tunnel to a TCP relay (checklist R12): SOCKS5
//! (RFC 1928, no authentication) and HTTP `CONNECT` (RFC 9110 §9.3.6), as
//! tox.h's `proxy_type` offers them.
//!
//! Only bytes here: [`ProxyRequest::encode`] gives what to write, and the
//! reply parsers say how many more bytes they need, so any transport (the
//! tokio driver, the synchronous C driver) runs the same exchange.
//!
//! A relay named by host name is passed to the proxy as a name (SOCKS5
//! address type 3, the `CONNECT` authority): the proxy resolves it. With a
//! proxy configured nothing is ever looked up locally, which would tell
//! the local resolver which relays a user reaches — c-toxcore issue #469.

use std::net::{IpAddr, SocketAddr};

/// Where a relay is, as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RelayTarget {
    /// An address.
    Addr(SocketAddr),
    /// A host name the proxy resolves (at most 255 bytes).
    Host {
        /// The name.
        name: String,
        /// The port.
        port: u16,
    },
}

impl std::fmt::Display for RelayTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Addr(addr) => write!(f, "{addr}"),
            Self::Host { name, port } => write!(f, "{name}:{port}"),
        }
    }
}

/// Which protocol the proxy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyKind {
    /// SOCKS5 without authentication.
    Socks5,
    /// HTTP `CONNECT`.
    Http,
}

/// Why a proxy gave no tunnel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// A host name longer than SOCKS5's 255 bytes, or empty, or with bytes
    /// that would break the HTTP request line.
    #[error("the relay host name `{0}` cannot be sent to a proxy")]
    BadHostName(String),
    /// The SOCKS5 proxy wants authentication (or another method).
    #[error("the SOCKS5 proxy accepts no unauthenticated clients (method {0:#04x})")]
    Socks5Method(u8),
    /// The SOCKS5 proxy refused the connection; the reply code says why.
    #[error("the SOCKS5 proxy refused: {}", socks5_reply_text(*.0))]
    Socks5Refused(u8),
    /// The HTTP proxy answered with another status than 2xx.
    #[error("the HTTP proxy refused: {0}")]
    HttpRefused(String),
    /// The reply is not what the protocol allows.
    #[error("the proxy's reply is malformed: {0}")]
    Malformed(&'static str),
}

/// The most header bytes an HTTP proxy's reply may have.
pub const MAX_HTTP_REPLY: usize = 4096;

/// What to send a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    kind: ProxyKind,
    target: RelayTarget,
}

impl ProxyRequest {
    /// A request for a tunnel to `target`; checks a host name first.
    pub fn new(kind: ProxyKind, target: RelayTarget) -> Result<Self, ProxyError> {
        if let RelayTarget::Host { name, .. } = &target {
            let printable = name.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
            if name.is_empty() || name.len() > 255 || !printable {
                return Err(ProxyError::BadHostName(name.clone()));
            }
        }
        Ok(Self { kind, target })
    }

    /// The bytes to write first: for SOCKS5 the greeting (then, once
    /// [`socks5_method`] accepted it, [`ProxyRequest::socks5_connect`]);
    /// for HTTP the whole request.
    pub fn encode(&self) -> Vec<u8> {
        match self.kind {
            // Version 5, one method: 0, no authentication.
            ProxyKind::Socks5 => vec![5, 1, 0],
            ProxyKind::Http => {
                let authority = match &self.target {
                    RelayTarget::Addr(SocketAddr::V6(a)) => format!("[{}]:{}", a.ip(), a.port()),
                    target => target.to_string(),
                };
                format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").into_bytes()
            }
        }
    }

    /// The SOCKS5 CONNECT request, after the greeting was answered.
    pub fn socks5_connect(&self) -> Vec<u8> {
        // Version 5, CONNECT, reserved.
        let mut out = vec![5, 1, 0];
        let port = match &self.target {
            RelayTarget::Addr(addr) => {
                match addr.ip() {
                    IpAddr::V4(ip) => {
                        out.push(1);
                        out.extend_from_slice(&ip.octets());
                    }
                    IpAddr::V6(ip) => {
                        out.push(4);
                        out.extend_from_slice(&ip.octets());
                    }
                }
                addr.port()
            }
            RelayTarget::Host { name, port } => {
                out.push(3);
                // Checked in `new`: 1 to 255 bytes.
                out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
                out.extend_from_slice(name.as_bytes());
                *port
            }
        };
        out.extend_from_slice(&port.to_be_bytes());
        out
    }

    /// Which protocol.
    pub const fn kind(&self) -> ProxyKind {
        self.kind
    }
}

/// The SOCKS5 greeting's answer: 2 bytes.
pub const SOCKS5_METHOD_REPLY: usize = 2;

/// Checks the SOCKS5 greeting's answer (exactly [`SOCKS5_METHOD_REPLY`]
/// bytes).
pub fn socks5_method(reply: &[u8]) -> Result<(), ProxyError> {
    match reply {
        [5, 0] => Ok(()),
        [5, method] => Err(ProxyError::Socks5Method(*method)),
        _ => Err(ProxyError::Malformed("not a SOCKS5 method selection")),
    }
}

/// What a partial reply needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Read until the reply is this many bytes long, then ask again.
    Need(usize),
    /// The tunnel is open; the reply was this many bytes (anything after
    /// them is the relay's).
    Open(usize),
}

/// Reads the SOCKS5 CONNECT reply from the bytes received so far.
pub fn socks5_connect_reply(reply: &[u8]) -> Result<Progress, ProxyError> {
    let Some(head) = reply.get(..5) else {
        return Ok(Progress::Need(5));
    };
    let &[version, code, _, address_type, first] = head else {
        return Ok(Progress::Need(5));
    };
    if version != 5 {
        return Err(ProxyError::Malformed("not a SOCKS5 reply"));
    }
    if code != 0 {
        return Err(ProxyError::Socks5Refused(code));
    }
    // Version, code, reserved, type, the bound address, a 2-byte port.
    let len = match address_type {
        1 => 4 + 4 + 2,
        4 => 4 + 16 + 2,
        3 => 4 + 1 + usize::from(first) + 2,
        _ => return Err(ProxyError::Malformed("unknown SOCKS5 address type")),
    };
    Ok(if reply.len() >= len {
        Progress::Open(len)
    } else {
        Progress::Need(len)
    })
}

/// Reads an HTTP proxy's reply to `CONNECT` from the bytes received so
/// far: needs one more byte until the blank line that ends the header (a
/// caller reading byte by byte never takes the relay's first bytes).
pub fn http_connect_reply(reply: &[u8]) -> Result<Progress, ProxyError> {
    let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
        if reply.len() >= MAX_HTTP_REPLY {
            return Err(ProxyError::Malformed("HTTP reply header too long"));
        }
        return Ok(Progress::Need(reply.len() + 1));
    };
    let header = reply.get(..end).unwrap_or_default();
    let status_line = header.split(|&b| b == b'\r').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    let mut words = status_line.split(' ');
    let (Some(version), Some(code)) = (words.next(), words.next()) else {
        return Err(ProxyError::Malformed("no HTTP status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ProxyError::Malformed("not an HTTP/1 reply"));
    }
    if code.len() != 3 || !code.starts_with('2') {
        return Err(ProxyError::HttpRefused(status_line.into_owned()));
    }
    Ok(Progress::Open(end + 4))
}

fn socks5_reply_text(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "not allowed by its rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown reply code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> RelayTarget {
        RelayTarget::Host {
            name: name.into(),
            port: 33445,
        }
    }

    #[test]
    fn socks5_names_a_host_by_name_and_addresses_by_type() {
        let r = ProxyRequest::new(ProxyKind::Socks5, host("relay.example")).unwrap();
        assert_eq!(r.encode(), [5, 1, 0]);
        let mut want = vec![5, 1, 0, 3, 13];
        want.extend_from_slice(b"relay.example");
        want.extend_from_slice(&33445u16.to_be_bytes());
        assert_eq!(r.socks5_connect(), want);
        let v4 = ProxyRequest::new(
            ProxyKind::Socks5,
            RelayTarget::Addr("127.0.0.1:80".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(v4.socks5_connect(), [5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        let v6 = ProxyRequest::new(
            ProxyKind::Socks5,
            RelayTarget::Addr("[::1]:80".parse().unwrap()),
        )
        .unwrap();
        let bytes = v6.socks5_connect();
        assert_eq!(bytes.get(..4), Some(&[5, 1, 0, 4][..]));
        assert_eq!(bytes.len(), 4 + 16 + 2);
    }

    #[test]
    fn http_connect_names_the_authority() {
        let r = ProxyRequest::new(ProxyKind::Http, host("relay.example")).unwrap();
        assert_eq!(
            r.encode(),
            b"CONNECT relay.example:33445 HTTP/1.1\r\nHost: relay.example:33445\r\n\r\n"
        );
        let v6 = ProxyRequest::new(
            ProxyKind::Http,
            RelayTarget::Addr("[::1]:80".parse().unwrap()),
        )
        .unwrap();
        assert!(v6.encode().starts_with(b"CONNECT [::1]:80 HTTP/1.1\r\n"));
    }

    #[test]
    fn names_that_would_break_a_request_are_refused() {
        for bad in ["", "a b", "a\r\nX: y", "a/b", &"x".repeat(256)] {
            assert_eq!(
                ProxyRequest::new(ProxyKind::Http, host(bad)),
                Err(ProxyError::BadHostName(bad.to_owned()))
            );
        }
        assert!(ProxyRequest::new(ProxyKind::Socks5, host(&"x".repeat(255))).is_ok());
    }

    #[test]
    fn socks5_replies_are_read_to_their_end() {
        assert_eq!(socks5_method(&[5, 0]), Ok(()));
        assert_eq!(socks5_method(&[5, 2]), Err(ProxyError::Socks5Method(2)));
        assert!(socks5_method(&[4, 0]).is_err());
        assert_eq!(socks5_connect_reply(&[5, 0]), Ok(Progress::Need(5)));
        let v4 = [5, 0, 0, 1, 127, 0, 0, 1, 0, 80];
        assert_eq!(socks5_connect_reply(&v4[..5]), Ok(Progress::Need(10)));
        assert_eq!(socks5_connect_reply(&v4), Ok(Progress::Open(10)));
        let name = [5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 80, 0xaa];
        assert_eq!(socks5_connect_reply(&name), Ok(Progress::Open(10)));
        assert_eq!(
            socks5_connect_reply(&[5, 4, 0, 1, 0]),
            Err(ProxyError::Socks5Refused(4))
        );
        assert!(
            ProxyError::Socks5Refused(4)
                .to_string()
                .contains("host unreachable")
        );
        assert!(socks5_connect_reply(&[5, 0, 0, 9, 0]).is_err());
    }

    #[test]
    fn http_replies_end_at_the_blank_line() {
        let ok = b"HTTP/1.1 200 Connection established\r\nProxy-agent: x\r\n\r\nRELAY";
        assert_eq!(http_connect_reply(&ok[..10]), Ok(Progress::Need(11)));
        assert_eq!(http_connect_reply(ok), Ok(Progress::Open(ok.len() - 5)));
        let refused = b"HTTP/1.0 403 Access violation\r\n\r\n";
        assert_eq!(
            http_connect_reply(refused),
            Err(ProxyError::HttpRefused(
                "HTTP/1.0 403 Access violation".into()
            ))
        );
        assert!(http_connect_reply(b"SSH-2.0\r\n\r\n").is_err());
        assert!(http_connect_reply(&[b'x'; MAX_HTTP_REPLY]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_reply_is_judged_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = socks5_method(&bytes);
            let _ = socks5_connect_reply(&bytes);
            let _ = http_connect_reply(&bytes);
        }
    }
}
