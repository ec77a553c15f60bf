//! The distinct-client flood: every client its own key and its own socket
//! on its own loopback address, at most one request in flight each, and
//! the clients taking turns.
//!
//! This is what a busy public node sees: thousands of clients, each asking
//! now and then. Turns come from a fair (first-come, first-served)
//! semaphore holding as many permits as requests may be in flight: a
//! client waits for a permit, sends, waits for its answer (or the loss
//! timeout) and queues again behind every other client. So between two
//! requests of one client every other client asks once, the order in which
//! a shared-key cache smaller than the crowd misses every time.
//!
//! Each client is a future in one `FuturesUnordered`, woken only by its own
//! socket or timer: thousands of idle sockets cost this process nothing,
//! where scanning them all on every wake-up (as [`crate::flood`] may with
//! its few dozen) would make the flood, not the server, the bottleneck.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::Semaphore;
use toxide_core::{Decode, PublicKey};
use toxide_dht::packet::NodesResponse;

use crate::flood::{Counts, Measured, Shape};
use crate::requests::{DistinctSet, Request};
use crate::server::Server;
use crate::system::{Env, check_interrupted};
use crate::{BoxError, MAX_DATAGRAM, Result};

/// How often the clock checks for an interruption.
const CLOCK_TICK: Duration = Duration::from_millis(100);

/// Floods the server from `set`'s clients (`shape.window` requests in
/// flight across all of them) and measures the window after the warm-up.
pub(crate) fn flood_distinct(
    env: &Env,
    server: &mut Server,
    server_pk: &PublicKey,
    set: &DistinctSet,
    shape: Shape,
) -> Result<Measured> {
    server.check_alive()?;
    let server_ref: &Server = server;
    let in_flight = shape.window.min(set.clients.len()).max(1);
    let (counts, start, end) = env.rt.block_on(async {
        let counts = RefCell::new(Counts::default());
        let permits = Semaphore::new(in_flight);
        let mut clients = FuturesUnordered::new();
        for client in &set.clients {
            let socket = UdpSocket::bind(SocketAddr::new(client.addr, 0))
                .map_err(|e| format!("binding a client socket on {}: {e}", client.addr))?;
            socket.connect(server_ref.addr)?;
            socket.set_nonblocking(true)?;
            let socket = tokio::net::UdpSocket::from_std(socket)?;
            clients.push(run_client(
                socket,
                &client.requests,
                server_pk,
                &permits,
                &counts,
                shape.loss_timeout,
            ));
        }
        let clock = async {
            let measure_from = tokio::time::Instant::now() + shape.warmup;
            sleep_until(measure_from).await?;
            let before = *counts.borrow();
            let start = env.snapshot(server_ref)?;
            sleep_until(measure_from + shape.measure).await?;
            let end = env.snapshot(server_ref)?;
            Ok::<_, BoxError>((counts.borrow().minus(&before), start, end))
        };
        let clients_done = async { while clients.next().await.is_some() {} };
        // The clock ends the run; dropping the clients closes their sockets.
        tokio::select! {
            result = clock => result,
            () = clients_done => Err::<_, BoxError>("every client stopped before the run ended".into()),
        }
    })?;
    server.check_alive()?;
    Ok(Measured::between(shape, in_flight, counts, &start, &end))
}

/// Sleeps until `deadline`, checking for an interruption now and then.
async fn sleep_until(deadline: tokio::time::Instant) -> Result<()> {
    loop {
        check_interrupted()?;
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(());
        }
        tokio::time::sleep_until(deadline.min(now + CLOCK_TICK)).await;
    }
}

/// How a datagram relates to a client's requests.
enum Answer {
    /// It answers the request in flight, with this many nodes.
    Current(usize),
    /// It answers the overdue request at this position, with this many
    /// nodes.
    Late(usize, usize),
    /// A nodes response that answers nothing outstanding.
    Unmatched,
    /// Another packet (the server's pings).
    Other,
}

/// The nodes in `response` if it answers `request`.
fn answers(response: &NodesResponse, request: &Request) -> Option<usize> {
    let payload = response.open(&request.shared).ok()?;
    (payload.request_id() == request.request_id).then(|| payload.nodes().len())
}

fn classify(
    bytes: &[u8],
    requests: &[Request],
    current: usize,
    overdue: &VecDeque<usize>,
    server_pk: &PublicKey,
) -> Answer {
    if bytes.first() != Some(&NodesResponse::ID) {
        return Answer::Other;
    }
    let Ok(response) = NodesResponse::from_bytes(bytes) else {
        return Answer::Unmatched;
    };
    if response.sender_pk != *server_pk {
        return Answer::Unmatched;
    }
    if let Some(nodes) = requests.get(current).and_then(|r| answers(&response, r)) {
        return Answer::Current(nodes);
    }
    overdue
        .iter()
        .enumerate()
        .find_map(|(pos, &index)| {
            let nodes = answers(&response, requests.get(index)?)?;
            Some(Answer::Late(pos, nodes))
        })
        .unwrap_or(Answer::Unmatched)
}

/// One client: wait for a turn, send, wait for the answer or the loss
/// timeout, queue again. Runs until dropped or the permits are closed.
async fn run_client(
    socket: tokio::net::UdpSocket,
    requests: &[Request],
    server_pk: &PublicKey,
    permits: &Semaphore,
    counts: &RefCell<Counts>,
    loss_timeout: Duration,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    // Requests given up on, oldest first: an answer that still comes for
    // one counts as late. A request is not sent again while it may still
    // be answered, as the two answers could not be told apart.
    let mut overdue: VecDeque<usize> = VecDeque::new();
    let mut next = 0usize;
    loop {
        let Ok(_turn) = permits.acquire().await else {
            return;
        };
        let index = next % requests.len().max(1);
        next = next.wrapping_add(1);
        if let Some(pos) = overdue.iter().position(|&i| i == index) {
            overdue.drain(..=pos);
        }
        let Some(request) = requests.get(index) else {
            return;
        };
        if socket.send(&request.packet).await.is_err() {
            counts.borrow_mut().send_errors += 1;
            continue;
        }
        counts.borrow_mut().sent += 1;
        let deadline = tokio::time::Instant::now() + loss_timeout;
        loop {
            let len = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Ok(Ok(len)) => len,
                Ok(Err(_)) => {
                    counts.borrow_mut().recv_errors += 1;
                    break;
                }
                Err(_) => {
                    counts.borrow_mut().lost += 1;
                    overdue.push_back(index);
                    if overdue.len() >= requests.len() {
                        overdue.pop_front();
                    }
                    break;
                }
            };
            let bytes = buf.get(..len).unwrap_or_default();
            let mut counts = counts.borrow_mut();
            match classify(bytes, requests, index, &overdue, server_pk) {
                Answer::Current(nodes) => {
                    // The server answers a source in order: the overdue
                    // requests before this one will not be answered now.
                    overdue.clear();
                    counts.verified += 1;
                    counts.nodes += nodes as u64;
                    break;
                }
                Answer::Late(pos, nodes) => {
                    overdue.drain(..=pos);
                    counts.verified += 1;
                    counts.late += 1;
                    counts.nodes += nodes as u64;
                }
                Answer::Unmatched => counts.unmatched += 1,
                Answer::Other => counts.other += 1,
            }
        }
    }
}
