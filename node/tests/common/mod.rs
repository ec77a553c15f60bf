//! A raw DHT client for the node's tests: a std UDP socket on 127.0.0.1
//! and a key pair, speaking DHT packets built with toxide-dht's packet
//! types. It answers any ping request it receives while it waits, as a
//! well-behaved DHT node would, so the peers it talks to may add it to
//! their lists. Every wait is bounded.

#![allow(dead_code)] // each test binary uses part of it

pub(crate) mod binary;
pub(crate) mod clib;
pub(crate) mod inprocess;
pub(crate) mod netns;
pub(crate) mod relay_client;
pub(crate) mod tmux;
pub(crate) mod toxide;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ::toxide::driver::proxy::{ProxyConfig, ProxyKind};
use toxide_core::{Decode, Encode, KeyPair, Nonce, PackedNode, PublicKey, SharedKey};
use toxide_dht::packet::{
    BootstrapInfoRequest, BootstrapInfoResponse, NodesRequest, NodesRequestPayload, NodesResponse,
    PingRequest, PingRequestPayload, PingResponse, PingResponsePayload,
};
use toxide_interop::{ProxyProcess, ProxyProgram};

/// How long one try waits for its answer.
const TRY_TIMEOUT: Duration = Duration::from_millis(1500);
/// Tries per request (UDP may drop; a peer may be busy starting).
const TRIES: usize = 4;

pub(crate) struct RawClient {
    socket: UdpSocket,
    pub(crate) keys: KeyPair,
    /// Ping requests answered while waiting.
    pub(crate) pings_answered: usize,
}

impl RawClient {
    pub(crate) fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        Self {
            socket,
            keys: KeyPair::generate(&mut rand::rng()),
            pings_answered: 0,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    pub(crate) fn send(&self, to: SocketAddr, bytes: &[u8]) {
        self.socket.send_to(bytes, to).unwrap();
    }

    fn shared(&self, pk: &PublicKey) -> SharedKey {
        SharedKey::new(pk, &self.keys.secret).unwrap()
    }

    /// Receives until `want` accepts a datagram or `deadline` passes;
    /// answers ping requests on the way.
    pub(crate) fn recv_until<T>(
        &mut self,
        deadline: Instant,
        mut want: impl FnMut(&[u8], SocketAddr) -> Option<T>,
    ) -> Option<T> {
        let mut buf = [0u8; 2048];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let Ok((len, from)) = self.socket.recv_from(&mut buf) else {
                continue;
            };
            let bytes = &buf[..len];
            if bytes.first() == Some(&PingRequest::ID) {
                self.answer_ping(bytes, from);
                continue;
            }
            if let Some(found) = want(bytes, from) {
                return Some(found);
            }
        }
    }

    fn answer_ping(&mut self, bytes: &[u8], from: SocketAddr) {
        let Ok(request) = PingRequest::from_bytes(bytes) else {
            return;
        };
        let shared = self.shared(&request.sender_pk);
        let Ok(payload) = request.open(&shared) else {
            return;
        };
        let response = PingResponse::new(
            &shared,
            self.keys.public,
            Nonce::random(&mut rand::rng()),
            &PingResponsePayload {
                ping_id: payload.ping_id,
            },
        );
        self.send(from, &response.to_bytes());
        self.pings_answered += 1;
    }

    /// Answers pings for `duration`.
    pub(crate) fn serve_for(&mut self, duration: Duration) {
        let _: Option<()> = self.recv_until(Instant::now() + duration, |_, _| None);
    }

    /// Pings `pk` at `to`; true once a response opens and echoes our id.
    pub(crate) fn ping(&mut self, to: SocketAddr, pk: PublicKey) -> bool {
        let shared = self.shared(&pk);
        for attempt in 0..TRIES {
            let ping_id = 0x5EED_0000 + attempt as u64;
            let request = PingRequest::new(
                &shared,
                self.keys.public,
                Nonce::random(&mut rand::rng()),
                &PingRequestPayload { ping_id },
            );
            self.send(to, &request.to_bytes());
            let answered = self.recv_until(Instant::now() + TRY_TIMEOUT, |bytes, from| {
                let response = PingResponse::from_bytes(bytes).ok()?;
                (from == to
                    && response.sender_pk == pk
                    && response.open(&shared).ok()?.ping_id == ping_id)
                    .then_some(())
            });
            if answered.is_some() {
                return true;
            }
        }
        false
    }

    /// Asks `pk` at `to` for the nodes closest to `search`; the nodes of
    /// the first response that opens and echoes our request id.
    pub(crate) fn nodes(
        &mut self,
        to: SocketAddr,
        pk: PublicKey,
        search: PublicKey,
    ) -> Option<Vec<PackedNode>> {
        let shared = self.shared(&pk);
        for attempt in 0..TRIES {
            let request_id = 0xA5A5_0000 + attempt as u64;
            let request = NodesRequest::new(
                &shared,
                self.keys.public,
                Nonce::random(&mut rand::rng()),
                &NodesRequestPayload {
                    search_pk: search,
                    request_id,
                },
            );
            self.send(to, &request.to_bytes());
            let nodes = self.recv_until(Instant::now() + TRY_TIMEOUT, |bytes, from| {
                let response = NodesResponse::from_bytes(bytes).ok()?;
                if from != to || response.sender_pk != pk {
                    return None;
                }
                let payload = response.open(&shared).ok()?;
                (payload.request_id() == request_id).then(|| payload.into_nodes())
            });
            if nodes.is_some() {
                return nodes;
            }
        }
        None
    }

    /// Sends a bootstrap-info request (0xf0 padded to 78 bytes).
    pub(crate) fn bootstrap_info(&mut self, to: SocketAddr) -> Option<BootstrapInfoResponse> {
        for _ in 0..TRIES {
            self.send(to, &BootstrapInfoRequest.to_bytes());
            let info = self.recv_until(Instant::now() + TRY_TIMEOUT, |bytes, from| {
                (from == to && bytes.first() == Some(&BootstrapInfoResponse::ID))
                    .then(|| BootstrapInfoResponse::from_bytes(bytes).ok())
                    .flatten()
            });
            if info.is_some() {
                return info;
            }
        }
        None
    }
}

/// Polls `probe` every 250 ms until it returns `Some` or `timeout` passes.
pub(crate) fn wait_for<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Debian's `program` on a fresh loopback port, and the `ProxyConfig`
/// that points a client at it.
pub(crate) fn proxy(program: ProxyProgram) -> (ProxyProcess, ProxyConfig) {
    let process = ProxyProcess::spawn(program).expect("the proxy starts");
    let kind = match program {
        ProxyProgram::Microsocks => ProxyKind::Socks5,
        ProxyProgram::Tinyproxy => ProxyKind::Http,
    };
    let config = ProxyConfig {
        kind,
        addr: process.addr(),
    };
    (process, config)
}
