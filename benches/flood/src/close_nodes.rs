//! Filling the server's close list, so its answers carry four nodes as a
//! real node's do: fake DHT nodes ping it and answer its pings.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rand::Rng as _;
use toxide_core::packed_node::MAX_SENT_NODES;
use toxide_core::{Decode, Encode, KeyPair, Nonce, PublicKey, SharedKey};
use toxide_dht::packet::{
    NodesResponse, PingRequest, PingRequestPayload, PingResponse, PingResponsePayload,
};

use crate::requests::nodes_request;
use crate::system::check_interrupted;
use crate::{MAX_DATAGRAM, Result};

/// How long filling the close list may take at most.
const POPULATE_TIMEOUT: Duration = Duration::from_secs(30);

/// A fake DHT node: its own socket and key; answers the server's pings.
pub(crate) struct FakeNode {
    pub(crate) socket: UdpSocket,
    pub(crate) keys: KeyPair,
    pub(crate) shared: SharedKey,
    /// The server pinged it and got an answer: it is in the server's lists.
    pub(crate) answered: bool,
}

impl FakeNode {
    /// Reads what is waiting and answers ping requests from the server.
    pub(crate) fn serve(&mut self, server: SocketAddr, buf: &mut [u8]) -> usize {
        let mut answered = 0;
        for _ in 0..64 {
            let Ok((len, from)) = self.socket.recv_from(buf) else {
                break;
            };
            let Some(bytes) = buf.get(..len) else { break };
            if from != server || bytes.first() != Some(&PingRequest::ID) {
                continue;
            }
            let Ok(request) = PingRequest::from_bytes(bytes) else {
                continue;
            };
            let Ok(payload) = request.open(&self.shared) else {
                continue;
            };
            let response = PingResponse::new(
                &self.shared,
                self.keys.public,
                Nonce::random(&mut rand::rng()),
                &PingResponsePayload {
                    ping_id: payload.ping_id,
                },
            );
            if self.socket.send_to(&response.to_bytes(), server).is_ok() {
                self.answered = true;
                answered += 1;
            }
        }
        answered
    }
}

/// What filling the close list achieved.
pub(crate) struct Populated {
    /// Fake nodes the server pinged and heard back from.
    pub(crate) in_lists: usize,
    /// Nodes in the probe's best nodes response.
    pub(crate) probe_nodes: usize,
    pub(crate) took: Duration,
}

/// The fake nodes, answering pings on a thread until dropped.
pub(crate) struct CloseNodes {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<JoinHandle<usize>>,
}

impl Drop for CloseNodes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Makes `count` fake nodes known to the server: each pings it (the
/// server then pings back and, on our answer, adds it to its lists), until
/// a probe's nodes response carries [`MAX_SENT_NODES`] nodes and no new
/// node has been taken in for 2 s, or the bounded time runs out.
pub(crate) fn populate(
    server: SocketAddr,
    server_pk: &PublicKey,
    count: usize,
) -> Result<(CloseNodes, Populated)> {
    let mut nodes = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_nonblocking(true)?;
        let keys = KeyPair::generate(&mut rand::rng());
        let shared = SharedKey::new(server_pk, &keys.secret)?;
        nodes.push(FakeNode {
            socket,
            keys,
            shared,
            answered: false,
        });
    }
    let probe = UdpSocket::bind("127.0.0.1:0")?;
    probe.set_nonblocking(true)?;
    let probe_keys = KeyPair::generate(&mut rand::rng());
    let probe_shared = SharedKey::new(server_pk, &probe_keys.secret)?;

    let started = Instant::now();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut next_round = started;
    let mut last_new = started;
    let mut in_lists = 0;
    let mut probe_nodes = 0;
    while started.elapsed() < POPULATE_TIMEOUT {
        check_interrupted()?;
        let now = Instant::now();
        if now >= next_round {
            next_round = now + Duration::from_millis(500);
            for node in nodes.iter().filter(|n| !n.answered) {
                let ping = PingRequest::new(
                    &node.shared,
                    node.keys.public,
                    Nonce::random(&mut rand::rng()),
                    &PingRequestPayload {
                        ping_id: rand::rng().next_u64(),
                    },
                );
                let _ = node.socket.send_to(&ping.to_bytes(), server);
            }
            let probe_request = nodes_request(&probe_keys, &probe_shared, 0);
            let _ = probe.send_to(&probe_request.packet, server);
            // Answered within the round, or not counted.
            let deadline = Instant::now() + Duration::from_millis(200);
            while Instant::now() < deadline {
                match probe.recv_from(&mut buf) {
                    Ok((len, from)) if from == server => {
                        let nodes = buf
                            .get(..len)
                            .and_then(|b| NodesResponse::from_bytes(b).ok())
                            .and_then(|r| r.open(&probe_shared).ok())
                            .filter(|p| p.request_id() == probe_request.request_id)
                            .map(|p| p.nodes().len());
                        if let Some(n) = nodes {
                            probe_nodes = probe_nodes.max(n);
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        for node in &mut nodes {
            node.serve(server, &mut buf);
        }
        let now_in = nodes.iter().filter(|n| n.answered).count();
        if now_in > in_lists {
            in_lists = now_in;
            last_new = Instant::now();
        }
        let settled = last_new.elapsed() >= Duration::from_secs(2);
        if probe_nodes >= MAX_SENT_NODES && (settled || in_lists == count) {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = thread::spawn(move || {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut answered = 0;
        while !flag.load(Ordering::Relaxed) {
            for node in &mut nodes {
                answered += node.serve(server, &mut buf);
            }
            thread::sleep(Duration::from_millis(50));
        }
        answered
    });
    Ok((
        CloseNodes {
            stop,
            thread: Some(thread),
        },
        Populated {
            in_lists,
            probe_nodes,
            took,
        },
    ))
}
