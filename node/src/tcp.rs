//! The node's TCP relay (checklist R14): sockets and tasks around the
//! sans-IO [`RelayServer`] of `toxide-relay`.
//!
//! Peers that cannot use UDP reach the network through relays like this
//! one, as tox-bootstrapd serves them: the relay key is the node's DHT key,
//! which is what clients know a node by. The shape follows the UDP driver:
//! one task owns the state machine and nothing else touches it. Around it
//!
//! - one task per listening socket accepts and hands the socket over;
//! - per connection, a reader task passes what it reads to the relay task
//!   and a writer task writes what the relay task gives it.
//!
//! Every queue is bounded. Readers wait for room in the relay task's
//! input queue, so a flood slows its sender down through TCP instead of
//! growing memory. The relay task hands a writer at most
//! [`WRITER_QUEUE`] chunks; what a slow reader does not take stays in the
//! relay's own per-connection queues, whose limits drop its data and
//! close it when its control frames pile up. A write that does not finish
//! within [`WRITE_TIMEOUT`] ends the connection too.
//!
//! Onion requests from the relay's clients (frame 8, checklist R9) go to
//! the driver's onion server, which sends them on as hop A; the responses
//! come back by connection and leave as frame 9.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::AsyncWriteExt as _;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;
use toxide::driver::{TcpOnionChannels, TcpOnionRequest};
use toxide_core::KeyPair;
use toxide_onion::relay::TcpClient;
use toxide_relay::{ConnHandle, RelayServer, ServerConfig, ServerEvent, ServerStats};

/// Inputs (bytes read, sockets accepted or lost) waiting for the relay
/// task; readers wait when it is full.
const INPUT_QUEUE: usize = 256;
/// Bytes one read takes at most: a few full frames (2 KiB each).
const READ_CHUNK: usize = 8 * 1024;
/// Chunks (up to ~16 KiB each) handed to one writer before the relay task
/// waits for it to catch up.
pub const WRITER_QUEUE: usize = 4;
/// How long one write may block before the connection counts as lost:
/// the handshake's own deadline (`TCP_CONNECTION_TIMEOUT`), so a peer
/// that stops reading is dropped about as fast as one that never answers.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Inputs handled per turn before the timers and writes get a look in…
const INPUT_BATCH: usize = 64;
/// …unless their bytes reach this fraction of a connection's data queue
/// first. What a turn reads may all be routed to one connection, and its
/// writer gets it only at the end of the turn: with 64 reads of 8 KiB in
/// a turn, a fast sender overflowed its peer's 64 KiB queue and the relay
/// dropped 1 % of a file transfer's frames (and the session slowed down
/// for the loss), while the peer was reading fine.
const INPUT_BATCH_QUEUE_SHARE: usize = 2;
/// Pending connections the kernel holds per listening socket.
const LISTEN_BACKLOG: i32 = 1024;

/// A TCP listening socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on TCP {addr}: {source}")]
pub struct TcpBindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// What the operating system said.
    pub source: io::Error,
}

/// Counters of the relay and its adapter, reported at shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpRelayStats {
    /// The relay state machine's counters.
    pub relay: ServerStats,
    /// Onion requests dropped because the driver's queue was full.
    pub onion_requests_dropped: u64,
    /// Failed `accept` calls.
    pub accept_errors: u64,
}

/// A running TCP relay; stops on [`TcpRelay::shutdown`] or when dropped.
#[derive(Debug)]
pub struct TcpRelay {
    local_addrs: Vec<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<TcpRelayStats>>,
}

impl TcpRelay {
    /// Opens a listening socket on each of `addrs` (port 0 picks a free
    /// one) and starts serving with the node's DHT `keys`. With `onion`,
    /// clients may use the relay as the first hop of their onion paths.
    /// Must be called within a tokio runtime.
    pub fn spawn(
        addrs: &[SocketAddr],
        dual_stack: bool,
        keys: KeyPair,
        config: ServerConfig,
        onion: Option<TcpOnionChannels>,
    ) -> Result<Self, TcpBindError> {
        let mut listeners = Vec::with_capacity(addrs.len());
        for &addr in addrs {
            let listener =
                listen(addr, dual_stack).map_err(|source| TcpBindError { addr, source })?;
            listeners.push(listener);
        }
        let local_addrs = listeners
            .iter()
            .zip(addrs)
            .map(|(l, &addr)| {
                l.local_addr()
                    .map_err(|source| TcpBindError { addr, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (inputs_tx, inputs) = mpsc::channel(INPUT_QUEUE);
        let accept_errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let acceptors = Acceptors(
            listeners
                .into_iter()
                .map(|l| {
                    tokio::spawn(accept_loop(
                        l,
                        inputs_tx.clone(),
                        Arc::clone(&accept_errors),
                    ))
                })
                .collect(),
        );
        let mut seed = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
        let (stop, stopped) = oneshot::channel();
        let relay = Relay {
            batch_bytes: config.queue.max_data_bytes / INPUT_BATCH_QUEUE_SHARE,
            server: RelayServer::new(keys, config, seed),
            conns: HashMap::new(),
            inputs_tx,
            onion,
            onion_requests_dropped: 0,
        };
        let task = tokio::spawn(relay.run(inputs, stopped, acceptors, accept_errors));
        Ok(Self {
            local_addrs,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Every listening address, in the order asked for, with the real
    /// port when 0 was asked for.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Closes every connection and listening socket; the final counters
    /// (`None` if the task had failed).
    pub async fn shutdown(mut self) -> Option<TcpRelayStats> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take()?.await.ok()
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A listening socket, through socket2 because IPV6_V6ONLY must be set
/// before `bind` (as for the UDP sockets) and std and tokio cannot.
fn listen(addr: SocketAddr, dual_stack: bool) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?,
        SocketAddr::V6(_) => {
            let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
            socket.set_only_v6(!dual_stack)?;
            socket
        }
    };
    // A restarted node must get its port back while old connections sit
    // in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// The accepting tasks, which stop with the relay task however it ends
/// (the listening sockets close with them).
#[derive(Debug)]
struct Acceptors(Vec<JoinHandle<()>>);

impl Drop for Acceptors {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// What the per-socket tasks tell the relay task.
#[derive(Debug)]
enum Input {
    Accepted(TcpStream, SocketAddr),
    Read(ConnHandle, Bytes),
    Lost(ConnHandle),
    /// A writer that was full has room again.
    Writable,
}

async fn accept_loop(
    listener: TcpListener,
    inputs: mpsc::Sender<Input>,
    errors: Arc<std::sync::atomic::AtomicU64>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if inputs.send(Input::Accepted(stream, peer)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                // Out of file descriptors, or a connection reset before it
                // was taken: never fatal, and a pause keeps an EMFILE loop
                // from spinning.
                errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn read_loop(conn: ConnHandle, reader: OwnedReadHalf, inputs: mpsc::Sender<Input>) {
    loop {
        let read = match reader.readable().await {
            Ok(()) => match read_ready(&reader) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                read => read.ok().flatten(),
            },
            Err(_) => None,
        };
        let Some(bytes) = read else {
            let _ = inputs.send(Input::Lost(conn)).await;
            return;
        };
        if inputs.send(Input::Read(conn, bytes)).await.is_err() {
            return;
        }
    }
}

/// What a readable socket has, copied out at its size (`None` at its
/// end). The buffer is on this function's stack, not in the reading
/// task: an idle connection holds none (a buffer kept per connection
/// cost 8 KiB each, 80 MB for 10,000 idle clients).
fn read_ready(reader: &OwnedReadHalf) -> io::Result<Option<Bytes>> {
    let mut chunk = [0u8; READ_CHUNK];
    let n = reader.try_read(&mut chunk)?;
    Ok(chunk
        .get(..n)
        .filter(|read| !read.is_empty())
        .map(Bytes::copy_from_slice))
}

async fn write_loop(
    conn: ConnHandle,
    mut writer: OwnedWriteHalf,
    mut chunks: mpsc::Receiver<Bytes>,
    blocked: Arc<AtomicBool>,
    inputs: mpsc::Sender<Input>,
) {
    while let Some(chunk) = chunks.recv().await {
        match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&chunk)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                let _ = inputs.send(Input::Lost(conn)).await;
                return;
            }
        }
        if blocked.swap(false, Ordering::SeqCst) && inputs.send(Input::Writable).await.is_err() {
            return;
        }
    }
}

/// One connection's tasks and its writer's queue.
#[derive(Debug)]
struct Conn {
    addr: SocketAddr,
    chunks: mpsc::Sender<Bytes>,
    /// Set by the relay task before it tries the writer's queue; the writer
    /// clears it after a write and, if it was set, wakes the relay task.
    blocked: Arc<AtomicBool>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The socket closes with the last half.
        self.reader.abort();
        self.writer.abort();
    }
}

/// The relay task's state.
struct Relay {
    server: RelayServer,
    conns: HashMap<ConnHandle, Conn>,
    inputs_tx: mpsc::Sender<Input>,
    onion: Option<TcpOnionChannels>,
    onion_requests_dropped: u64,
    /// Bytes read in one turn before the writers get theirs.
    batch_bytes: usize,
}

/// The relay's clock: tokio's, so a paused test clock drives it too.
fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

impl Relay {
    async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        mut stop: oneshot::Receiver<()>,
        acceptors: Acceptors,
        accept_errors: Arc<std::sync::atomic::AtomicU64>,
    ) -> TcpRelayStats {
        loop {
            let deadline = self.server.poll_timeout().map(TokioInstant::from_std);
            tokio::select! {
                _ = &mut stop => break,
                input = inputs.recv() => {
                    let Some(input) = input else { break };
                    let mut read = self.handle_input(input);
                    // What else is queued, up to the batch size. Only an
                    // input taken is handled: one fetched and then left
                    // would be a hole in a byte stream.
                    for _ in 1..INPUT_BATCH {
                        if read >= self.batch_bytes {
                            break;
                        }
                        let Ok(input) = inputs.try_recv() else { break };
                        read += self.handle_input(input);
                    }
                }
                response = recv_response(self.onion.as_mut()) => match response {
                    Some(response) => {
                        let to = ConnHandle::from_u64(response.client);
                        self.server.send_onion_response(to, Bytes::from(response.data));
                    }
                    // The driver stopped: no more onion.
                    None => self.onion = None,
                },
                () = sleep_until(deadline) => self.server.handle_timeout(now()),
            }
            self.handle_events();
            self.flush();
        }
        drop(acceptors);
        self.conns.clear();
        TcpRelayStats {
            relay: self.server.stats(),
            onion_requests_dropped: self.onion_requests_dropped,
            accept_errors: accept_errors.load(Ordering::Relaxed),
        }
    }

    /// Handles one input; the bytes it read.
    fn handle_input(&mut self, input: Input) -> usize {
        match input {
            Input::Accepted(stream, addr) => self.accepted(stream, addr),
            Input::Read(conn, bytes) => {
                self.server.handle_bytes(now(), conn, &bytes);
                return bytes.len();
            }
            Input::Lost(conn) => self.server.connection_lost(conn),
            Input::Writable => {}
        }
        0
    }

    fn accepted(&mut self, stream: TcpStream, addr: SocketAddr) {
        let Ok(conn) = self.server.accept(now()) else {
            tracing::debug!(%addr, "TCP relay full: connection refused");
            return;
        };
        // Relay frames are small and latency matters more than packing.
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let (chunks, chunks_rx) = mpsc::channel(WRITER_QUEUE);
        let blocked = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_loop(conn, reader, self.inputs_tx.clone()));
        let writer = tokio::spawn(write_loop(
            conn,
            writer,
            chunks_rx,
            Arc::clone(&blocked),
            self.inputs_tx.clone(),
        ));
        self.conns.insert(
            conn,
            Conn {
                addr,
                chunks,
                blocked,
                reader,
                writer,
            },
        );
    }

    fn handle_events(&mut self) {
        while let Some(event) = self.server.poll_event() {
            match event {
                ServerEvent::Closed { conn, reason } => {
                    tracing::debug!(conn = conn.get(), %reason, "TCP relay connection closed");
                    self.conns.remove(&conn);
                }
                ServerEvent::OnionRequest {
                    from,
                    nonce,
                    payload,
                } => {
                    let (Some(onion), Some(conn)) = (&self.onion, self.conns.get(&from)) else {
                        self.onion_requests_dropped += 1;
                        continue;
                    };
                    let request = TcpOnionRequest {
                        client: TcpClient {
                            connection: from.get(),
                            addr: conn.addr,
                        },
                        nonce,
                        payload: payload.to_vec(),
                    };
                    if onion.requests.try_send(request).is_err() {
                        self.onion_requests_dropped += 1;
                    }
                }
            }
        }
    }

    /// Hands every writer what the relay has for it, as far as its queue
    /// takes.
    fn flush(&mut self) {
        for (&handle, conn) in &self.conns {
            while self.server.has_pending_write(handle) {
                // Flag first, then look: a writer that empties its queue
                // after the look still sees the flag and wakes us.
                conn.blocked.store(true, Ordering::SeqCst);
                let Ok(permit) = conn.chunks.try_reserve() else {
                    break;
                };
                conn.blocked.store(false, Ordering::SeqCst);
                match self.server.poll_write(handle) {
                    Some(bytes) => permit.send(bytes),
                    None => break,
                }
            }
        }
    }
}

async fn recv_response(
    onion: Option<&mut TcpOnionChannels>,
) -> Option<toxide_onion::server::TcpResponse> {
    match onion {
        Some(onion) => onion.responses.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<TokioInstant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
