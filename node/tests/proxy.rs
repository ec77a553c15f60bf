//! Relay connections through real proxies on loopback (checklist R12):
//! Debian's `microsocks` (SOCKS5) and `tinyproxy` (HTTP CONNECT), started
//! and stopped here (`toxide_interop::ProxyProcess`), each on a fresh port.
//! `scripts/test` installs both; a missing one fails these tests rather
//! than skipping them.
//!
//! The far end is a stand-in relay: a loopback listener that echoes what
//! it gets, so the test sees the tunnel carry bytes both ways. Relays
//! named by host name go to the proxy as names: `localhost` is resolved by
//! the proxy, and a name nobody can resolve comes back as the proxy's
//! refusal, not as a local lookup error.

// Test harness: a failed step is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use toxide::driver::proxy::{
    ConnectError, ProxyConfig, ProxyError, ProxyKind, RelayTarget, connect_relay,
};
use toxide_interop::{ProxyProgram, fresh_tcp_port};

mod common;
use common::proxy;

const LIMIT: Duration = Duration::from_secs(10);

/// A stand-in relay: echoes every connection's bytes back.
async fn echo_relay() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// The tunnel carries a relay handshake's worth of bytes both ways.
async fn round_trip(mut stream: TcpStream) {
    let hello: Vec<u8> = (0..128u8).collect();
    stream.write_all(&hello).await.unwrap();
    let mut back = vec![0; hello.len()];
    tokio::time::timeout(LIMIT, stream.read_exact(&mut back))
        .await
        .expect("the echo comes back in time")
        .unwrap();
    assert_eq!(back, hello);
}

async fn tunnels_by_address_and_by_name(program: ProxyProgram) {
    let (_proxy, config) = proxy(program);
    let relay = echo_relay().await;
    let config = Some(&config);
    let by_addr = connect_relay(config, &RelayTarget::Addr(relay), LIMIT)
        .await
        .unwrap();
    round_trip(by_addr).await;
    let by_name = RelayTarget::Host {
        name: "localhost".into(),
        port: relay.port(),
    };
    round_trip(connect_relay(config, &by_name, LIMIT).await.unwrap()).await;
}

#[tokio::test]
async fn socks5_tunnels_to_a_relay_by_address_and_by_name() {
    tunnels_by_address_and_by_name(ProxyProgram::Microsocks).await;
}

#[tokio::test]
async fn http_connect_tunnels_to_a_relay_by_address_and_by_name() {
    tunnels_by_address_and_by_name(ProxyProgram::Tinyproxy).await;
}

/// A relay that is down, or a name only the proxy could resolve and does
/// not: the proxy's refusal, with its reason.
#[tokio::test]
async fn refusals_say_what_the_proxy_said() {
    let closed = RelayTarget::Addr(SocketAddr::from((
        Ipv4Addr::LOCALHOST,
        fresh_tcp_port().unwrap(),
    )));
    let unknown = RelayTarget::Host {
        name: "relay.invalid".into(),
        port: 33445,
    };
    let (_socks, socks) = proxy(ProxyProgram::Microsocks);
    for target in [&closed, &unknown] {
        let error = connect_relay(Some(&socks), target, LIMIT)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ConnectError::Proxy {
                    source: ProxyError::Socks5Refused(_),
                    ..
                }
            ),
            "{target}: {error}"
        );
    }
    let (_http, http) = proxy(ProxyProgram::Tinyproxy);
    for target in [&closed, &unknown] {
        let error = connect_relay(Some(&http), target, LIMIT).await.unwrap_err();
        assert!(
            matches!(
                error,
                ConnectError::Proxy {
                    source: ProxyError::HttpRefused(_),
                    ..
                }
            ),
            "{target}: {error}"
        );
    }
    // A proxy that is not there: an I/O error naming the relay.
    let gone = ProxyConfig {
        kind: ProxyKind::Socks5,
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, fresh_tcp_port().unwrap())),
    };
    let error = connect_relay(Some(&gone), &closed, LIMIT)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Io { .. }), "{error}");
}
