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
    let request = ProxyRequest::new(proxy.kind, target.clone()).map_err(refused)?;
    let mut stream = TcpStream::connect(proxy.addr).await.map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    stream.write_all(&request.encode()).await.map_err(io)?;
    let mut reply = Vec::new();
    match proxy.kind {
        ProxyKind::Socks5 => {
            read_to(&mut stream, &mut reply, SOCKS5_METHOD_REPLY)
                .await
                .map_err(io)?;
            socks5_method(&reply).map_err(refused)?;
            stream
                .write_all(&request.socks5_connect())
                .await
                .map_err(io)?;
            reply.clear();
            while let Progress::Need(len) = socks5_connect_reply(&reply).map_err(refused)? {
                read_to(&mut stream, &mut reply, len).await.map_err(io)?;
            }
        }
        ProxyKind::Http => {
            // One byte at a time up to the blank line: nothing of the
            // relay's is read here.
            while let Progress::Need(len) = http_connect_reply(&reply).map_err(refused)? {
                read_to(&mut stream, &mut reply, len).await.map_err(io)?;
            }
        }
    }
    Ok(stream)
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
