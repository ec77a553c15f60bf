//! Relay connections through real proxies on loopback (checklist R12):
//! Debian's `microsocks` (SOCKS5) and `tinyproxy` (HTTP CONNECT), started
//! and stopped here, each on a fresh port. `scripts/test` installs both;
//! a missing one fails these tests rather than skipping them.
//!
//! The far end is a stand-in relay: a loopback listener that echoes what
//! it gets, so the test sees the tunnel carry bytes both ways. Relays
//! named by host name go to the proxy as names: `localhost` is resolved by
//! the proxy, and a name nobody can resolve comes back as the proxy's
//! refusal, not as a local lookup error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use toxide::driver::proxy::{
    ConnectError, ProxyConfig, ProxyError, ProxyKind, RelayTarget, connect_relay,
};

const LIMIT: Duration = Duration::from_secs(10);

/// A proxy process, killed when dropped.
struct ProxyProcess {
    child: Child,
    config: ProxyConfig,
    _dir: Option<TempDir>,
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "toxide-{label}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    StdListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (bounded) until the proxy accepts connections.
async fn wait_listening(process: &mut ProxyProcess, what: &str) {
    let started = Instant::now();
    while started.elapsed() < LIMIT {
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        if TcpStream::connect(process.config.addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not listen within {LIMIT:?}");
}

fn spawn(program: &str, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed (Debian package {program}): {e}"))
}

async fn microsocks() -> ProxyProcess {
    let port = free_port();
    let child = spawn("microsocks", &["-i", "127.0.0.1", "-p", &port.to_string()]);
    let mut process = ProxyProcess {
        child,
        config: ProxyConfig {
            kind: ProxyKind::Socks5,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        },
        _dir: None,
    };
    wait_listening(&mut process, "microsocks").await;
    process
}

async fn tinyproxy() -> ProxyProcess {
    let port = free_port();
    let dir = TempDir::new("tinyproxy");
    let config = dir.0.join("tinyproxy.conf");
    // No ConnectPort line: CONNECT to any port (relays use 33445, 443 and
    // others). Running as root, tinyproxy wants a user to drop to.
    let user = if nix_is_root() {
        "User nobody\nGroup nogroup\n"
    } else {
        ""
    };
    std::fs::write(
        &config,
        format!(
            "{user}Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 16\nLogLevel Critical\n"
        ),
    )
    .unwrap();
    let child = spawn("tinyproxy", &["-d", "-c", config.to_str().unwrap()]);
    let mut process = ProxyProcess {
        child,
        config: ProxyConfig {
            kind: ProxyKind::Http,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        },
        _dir: Some(dir),
    };
    wait_listening(&mut process, "tinyproxy").await;
    process
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next().map(|uid| uid == "0"))
        .unwrap_or(false)
}

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

async fn tunnels_by_address_and_by_name(proxy: &ProxyProcess) {
    let relay = echo_relay().await;
    let config = Some(&proxy.config);
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
    let proxy = microsocks().await;
    tunnels_by_address_and_by_name(&proxy).await;
}

#[tokio::test]
async fn http_connect_tunnels_to_a_relay_by_address_and_by_name() {
    let proxy = tinyproxy().await;
    tunnels_by_address_and_by_name(&proxy).await;
}

/// A relay that is down, or a name only the proxy could resolve and does
/// not: the proxy's refusal, with its reason.
#[tokio::test]
async fn refusals_say_what_the_proxy_said() {
    let closed = RelayTarget::Addr(SocketAddr::from((Ipv4Addr::LOCALHOST, free_port())));
    let unknown = RelayTarget::Host {
        name: "relay.invalid".into(),
        port: 33445,
    };
    let socks = microsocks().await;
    for target in [&closed, &unknown] {
        let error = connect_relay(Some(&socks.config), target, LIMIT)
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
    let http = tinyproxy().await;
    for target in [&closed, &unknown] {
        let error = connect_relay(Some(&http.config), target, LIMIT)
            .await
            .unwrap_err();
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
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, free_port())),
    };
    let error = connect_relay(Some(&gone), &closed, LIMIT)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Io { .. }), "{error}");
}
