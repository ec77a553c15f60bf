//! Opening the TCP connection to a relay, directly or through a proxy
//! (checklist R12): the tokio side of [`toxide_relay::proxy`], which holds
//! the protocol bytes.
//!
//! With a proxy, a relay named by host name is resolved by the proxy and
//! never here; without one, the name is looked up locally as any client
//! would.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use toxide_relay::proxy::{
    Progress, ProxyRequest, SOCKS5_METHOD_REPLY, http_connect_reply, socks5_connect_reply,
    socks5_method,
};
pub use toxide_relay::proxy::{ProxyError, ProxyKind, RelayTarget};

/// A proxy for relay connections (tox.h's `proxy_type`, `proxy_host`,
/// `proxy_port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyConfig {
    /// SOCKS5 or HTTP `CONNECT`.
    pub kind: ProxyKind,
    /// Where the proxy listens.
    pub addr: SocketAddr,
}

/// Why no connection to a relay was opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Connecting, reading or writing failed.
    #[error("relay connection to {target}: {source}")]
    Io {
        /// The relay.
        target: RelayTarget,
        /// What failed.
        source: io::Error,
    },
    /// The proxy gave no tunnel.
    #[error("relay connection to {target} through the proxy at {proxy}: {source}")]
    Proxy {
        /// The relay.
        target: RelayTarget,
        /// The proxy.
        proxy: SocketAddr,
        /// Why.
        source: ProxyError,
    },
    /// The relay's name did not resolve (no proxy).
    #[error("relay host {0} has no address")]
    NoAddress(RelayTarget),
    /// The whole exchange took longer than allowed.
    #[error("relay connection to {0} timed out")]
    TimedOut(RelayTarget),
}

/// Opens a TCP connection to `target`, through `proxy` if one is given,
/// within `limit`. The stream is ready for the relay handshake.
pub async fn connect_relay(
    proxy: Option<&ProxyConfig>,
    target: &RelayTarget,
    limit: Duration,
) -> Result<TcpStream, ConnectError> {
    let attempt = async {
        match proxy {
            None => connect_direct(target).await,
            Some(proxy) => through(proxy, target).await,
        }
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| ConnectError::TimedOut(target.clone()))?
}

async fn connect_direct(target: &RelayTarget) -> Result<TcpStream, ConnectError> {
    let io = |source| ConnectError::Io {
        target: target.clone(),
        source,
    };
    match target {
        RelayTarget::Addr(addr) => TcpStream::connect(addr).await.map_err(io),
        RelayTarget::Host { name, port } => {
            let mut last = None;
            for addr in tokio::net::lookup_host((name.as_str(), *port))
                .await
                .map_err(io)?
            {
                match TcpStream::connect(addr).await {
                    Ok(stream) => return Ok(stream),
                    Err(error) => last = Some(error),
                }
            }
            Err(last.map_or_else(|| ConnectError::NoAddress(target.clone()), io))
        }
    }
}

async fn through(proxy: &ProxyConfig, target: &RelayTarget) -> Result<TcpStream, ConnectError> {
    let io = |source| ConnectError::Io {
        target: target.clone(),
        source,
    };
    let refused = |source| ConnectError::Proxy {
        target: target.clone(),
        proxy: proxy.addr,
        source,
    };
    let (mut handshake, hello) = Handshake::start(proxy.kind, target.clone()).map_err(refused)?;
    let mut stream = TcpStream::connect(proxy.addr).await.map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    stream.write_all(&hello).await.map_err(io)?;
    loop {
        match handshake.advance().map_err(refused)? {
            Step::Read(len) => read_to(&mut stream, &mut handshake.reply, len)
                .await
                .map_err(io)?,
            Step::Write(bytes) => stream.write_all(&bytes).await.map_err(io)?,
            Step::Open => return Ok(stream),
        }
    }
}

/// The proxy exchange as steps, whichever way the driver reads and
/// writes: the first bytes come from [`Handshake::start`], then
/// [`Handshake::advance`] says what to do until the tunnel is open. The
/// reply is read only as far as asked ([`Step::Read`]), so nothing of the
/// relay's is ever taken here.
#[derive(Debug)]
pub(crate) struct Handshake {
    request: ProxyRequest,
    stage: Stage,
    /// The current reply so far; the driver reads into it.
    pub(crate) reply: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Socks5Method,
    Socks5Connect,
    Http,
}

/// What a [`Handshake`] needs next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Read until [`Handshake::reply`] holds this many bytes, then advance.
    Read(usize),
    /// Write these bytes, then advance.
    Write(Vec<u8>),
    /// The tunnel is open: what follows is the relay's.
    Open,
}

impl Handshake {
    /// The exchange for `target` and the first bytes to write.
    pub(crate) fn start(
        kind: ProxyKind,
        target: RelayTarget,
    ) -> Result<(Self, Vec<u8>), ProxyError> {
        let request = ProxyRequest::new(kind, target)?;
        let hello = request.encode();
        let stage = match kind {
            ProxyKind::Socks5 => Stage::Socks5Method,
            ProxyKind::Http => Stage::Http,
        };
        let handshake = Self {
            request,
            stage,
            reply: Vec::new(),
        };
        Ok((handshake, hello))
    }

    /// The next step, given the reply read so far.
    pub(crate) fn advance(&mut self) -> Result<Step, ProxyError> {
        let progress = match self.stage {
            Stage::Socks5Method => {
                if self.reply.len() < SOCKS5_METHOD_REPLY {
                    return Ok(Step::Read(SOCKS5_METHOD_REPLY));
                }
                socks5_method(&self.reply)?;
                self.reply.clear();
                self.stage = Stage::Socks5Connect;
                return Ok(Step::Write(self.request.socks5_connect()));
            }
            Stage::Socks5Connect => socks5_connect_reply(&self.reply)?,
            // One byte at a time up to the blank line.
            Stage::Http => http_connect_reply(&self.reply)?,
        };
        Ok(match progress {
            Progress::Need(len) => Step::Read(len),
            Progress::Open(_) => Step::Open,
        })
    }
}

/// Reads until `buffer` holds `len` bytes.
async fn read_to(stream: &mut TcpStream, buffer: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let have = buffer.len();
    if len > have {
        buffer.resize(len, 0);
        if let Some(rest) = buffer.get_mut(have..) {
            stream.read_exact(rest).await?;
        }
    }
    Ok(())
}
