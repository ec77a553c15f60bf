//! A client's TCP relay connections on non-blocking std sockets: what the
//! tokio driver's relay tasks do (`driver/tcp.rs`), as a state machine
//! per connection that [`RelaySockets::poll`] moves on each turn.
//!
//! A connection starts non-blocking (socket2; the kernel answers
//! EINPROGRESS) and is open once the socket has a peer; a failure shows
//! in `SO_ERROR`. With a proxy the exchange of
//! [`crate::driver::proxy::Handshake`] follows, then bytes flow both ways:
//! reads to [`Stack::handle_relay_bytes`], writes from
//! [`Stack::poll_relay_write`] through a per-connection buffer of at most
//! [`WRITE_BUFFER`] unsent bytes (nothing more is taken from the stack
//! while it is full: the stack's own queue, bounded, holds the rest). The
//! stack keeps each connection's protocol state, as with the tokio driver.

use std::collections::HashMap;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::driver::proxy::{Handshake, ProxyConfig, RelayTarget, Step};
use crate::stack::Stack;
use crate::stack::relays::{RelayCommand, RelayId};

/// How long the TCP connect and the proxy exchange may take together (the
/// tokio driver's figure; the relay handshake's own 10 s runs in the
/// stack).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Unsent bytes kept per connection: a few relay frames, so a slow relay
/// socket leaves the rest queued (and counted) in the stack.
const WRITE_BUFFER: usize = 64 * 1024;
/// Bytes read at once.
const READ_BUFFER: usize = 16 * 1024;
/// Reads per connection per turn, so one busy relay cannot starve the
/// others.
const READS_PER_CONNECTION: usize = 16;
/// Reads per turn over all connections (at most 1 MiB), so a flood cannot
/// hold the caller.
const READS_PER_TURN: usize = 64;

/// Every relay connection's socket.
#[derive(Debug)]
pub(crate) struct RelaySockets {
    connections: HashMap<RelayId, Connection>,
    proxy: Option<ProxyConfig>,
    buffer: Vec<u8>,
}

#[derive(Debug)]
struct Connection {
    session: u64,
    stream: TcpStream,
    state: State,
    /// When connecting and the proxy exchange must be done.
    deadline: Instant,
    /// Bytes to write; those before `written` are gone.
    out: Vec<u8>,
    written: usize,
}

#[derive(Debug)]
enum State {
    Connecting(Option<Handshake>),
    Proxy(Handshake),
    Open,
}

impl RelaySockets {
    pub(crate) fn new(proxy: Option<ProxyConfig>) -> Self {
        Self {
            connections: HashMap::new(),
            proxy,
            buffer: vec![0; READ_BUFFER],
        }
    }

    /// Opens and closes what the stack asks, then moves its queued bytes
    /// into the sockets while their buffers have room.
    pub(crate) fn flush(&mut self, stack: &mut Stack, now: Instant) {
        let mut failed = Vec::new();
        while let Some(command) = stack.poll_relay_command() {
            failed.extend(self.obey(command, now));
        }
        for (&relay, connection) in &mut self.connections {
            if let Err(error) = connection.fill(stack, relay) {
                tracing::debug!(%error, "TCP relay write failed");
                failed.push((relay, connection.session));
            }
        }
        self.closed(stack, now, failed);
    }

    /// One turn: connections go on connecting, then read (within the
    /// budget) and write. `true` when the read budget ran out.
    pub(crate) fn poll(&mut self, stack: &mut Stack, now: Instant) -> bool {
        let mut failed = Vec::new();
        let mut budget = READS_PER_TURN;
        let Self {
            connections,
            buffer,
            ..
        } = self;
        for (&relay, connection) in connections.iter_mut() {
            let result = connection.advance(now).and_then(|()| {
                connection.read(stack, now, relay, buffer, &mut budget)?;
                connection.fill(stack, relay)
            });
            if let Err(error) = result {
                tracing::debug!(%error, "TCP relay connection ended");
                failed.push((relay, connection.session));
            }
        }
        self.closed(stack, now, failed);
        budget == 0
    }

    /// The earliest connect deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.connections
            .values()
            .filter(|c| !matches!(c.state, State::Open))
            .map(|c| c.deadline)
            .min()
    }

    /// Whether a connection is still connecting or has bytes unsent: only
    /// a turn moves those on.
    pub(crate) fn busy(&self) -> bool {
        self.connections
            .values()
            .any(|c| !matches!(c.state, State::Open) || c.written < c.out.len())
    }

    /// Closes every socket.
    pub(crate) fn close_all(&mut self) {
        self.connections.clear();
    }

    /// Runs one of the stack's socket commands; a connect that failed at
    /// once comes back, for the stack to be told.
    fn obey(&mut self, command: RelayCommand, now: Instant) -> Option<(RelayId, u64)> {
        let (relay, session, addr) = match command {
            RelayCommand::Close { relay, session } => {
                self.forget(relay, session);
                return None;
            }
            RelayCommand::Connect {
                relay,
                session,
                addr,
            } => (relay, session, addr),
        };
        match self.open(session, addr, now) {
            // Replacing a connection closes the older socket.
            Ok(connection) => drop(self.connections.insert(relay, connection)),
            Err(error) => {
                tracing::debug!(%error, %addr, "TCP relay connect failed");
                self.connections.remove(&relay);
                return Some((relay, session));
            }
        }
        None
    }

    /// Closes `relay`'s socket if it is still that of `session`.
    fn forget(&mut self, relay: RelayId, session: u64) {
        if self
            .connections
            .get(&relay)
            .is_some_and(|c| c.session == session)
        {
            self.connections.remove(&relay);
        }
    }

    /// Drops the connections in `failed` and tells the stack.
    fn closed(&mut self, stack: &mut Stack, now: Instant, failed: Vec<(RelayId, u64)>) {
        for (relay, session) in failed {
            self.forget(relay, session);
            stack.handle_relay_closed(now, relay, session);
        }
    }

    /// Starts connecting to `addr`, or to the proxy for it.
    fn open(&self, session: u64, addr: SocketAddr, now: Instant) -> io::Result<Connection> {
        let (connect_to, handshake, hello) = match &self.proxy {
            None => (addr, None, Vec::new()),
            Some(proxy) => {
                let (handshake, hello) = Handshake::start(proxy.kind, RelayTarget::Addr(addr))
                    .map_err(io::Error::other)?;
                (proxy.addr, Some(handshake), hello)
            }
        };
        Ok(Connection {
            session,
            stream: start_connect(connect_to)?,
            state: State::Connecting(handshake),
            deadline: now + CONNECT_TIMEOUT,
            out: hello,
            written: 0,
        })
    }
}

impl Connection {
    /// Moves connecting and the proxy exchange on as far as the socket
    /// lets it; an error ends the connection.
    fn advance(&mut self, now: Instant) -> io::Result<()> {
        if matches!(self.state, State::Open) {
            return Ok(());
        }
        if now >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "relay connect timed out",
            ));
        }
        if let State::Connecting(handshake) = &mut self.state {
            if !connected(&self.stream)? {
                return Ok(());
            }
            self.state = match handshake.take() {
                Some(handshake) => State::Proxy(handshake),
                None => State::Open,
            };
        }
        loop {
            self.write()?;
            let State::Proxy(handshake) = &mut self.state else {
                return Ok(());
            };
            if self.written < self.out.len() {
                return Ok(());
            }
            match handshake.advance().map_err(io::Error::other)? {
                Step::Read(len) => {
                    if !read_up_to(&mut self.stream, &mut handshake.reply, len)? {
                        return Ok(());
                    }
                }
                Step::Write(bytes) => self.out.extend_from_slice(&bytes),
                Step::Open => self.state = State::Open,
            }
        }
    }

    /// Reads what the relay sent into the stack, within `budget` reads.
    fn read(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        relay: RelayId,
        buffer: &mut [u8],
        budget: &mut usize,
    ) -> io::Result<()> {
        if !matches!(self.state, State::Open) {
            return Ok(());
        }
        for _ in 0..READS_PER_CONNECTION {
            if *budget == 0 {
                return Ok(());
            }
            *budget -= 1;
            match self.stream.read(buffer) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    let bytes = buffer.get(..n).unwrap_or_default();
                    stack.handle_relay_bytes(now, relay, self.session, bytes);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Takes the stack's bytes for this connection while the buffer has
    /// room, and writes what the socket takes.
    fn fill(&mut self, stack: &mut Stack, relay: RelayId) -> io::Result<()> {
        if !matches!(self.state, State::Open) {
            return Ok(());
        }
        loop {
            self.write()?;
            if self.out.len() - self.written >= WRITE_BUFFER {
                return Ok(());
            }
            let Some(bytes) = stack.poll_relay_write(relay, self.session) else {
                return Ok(());
            };
            self.out.drain(..self.written);
            self.written = 0;
            self.out.extend_from_slice(&bytes);
        }
    }

    /// Writes unsent bytes until the socket would block.
    fn write(&mut self) -> io::Result<()> {
        while let Some(rest) = self.out.get(self.written..).filter(|r| !r.is_empty()) {
            match self.stream.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }
}

/// Starts a non-blocking connect to `addr`, TCP_NODELAY on (relay frames
/// are small and latency matters more than packing).
fn start_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&addr.into()) {
        Err(error) if !in_progress(&error) => Err(error),
        _ => Ok(socket.into()),
    }
}

/// Whether a non-blocking connect's error only says it has begun.
fn in_progress(error: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if error.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) {
        return true;
    }
    // Windows says WSAEWOULDBLOCK.
    error.kind() == io::ErrorKind::WouldBlock
}

/// Whether a connect begun by [`start_connect`] has finished: its error
/// if it failed, `false` while it goes on.
fn connected(stream: &TcpStream) -> io::Result<bool> {
    if let Some(error) = stream.take_error()? {
        return Err(error);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(error) => Err(error),
    }
}

/// Reads until `buffer` holds `len` bytes (never past them: what follows
/// is the relay's): `true` when it does, `false` when the socket has no
/// more for now.
fn read_up_to(stream: &mut TcpStream, buffer: &mut Vec<u8>, len: usize) -> io::Result<bool> {
    while buffer.len() < len {
        let have = buffer.len();
        buffer.resize(len, 0);
        let result = stream.read(buffer.get_mut(have..).unwrap_or_default());
        buffer.truncate(have + *result.as_ref().unwrap_or(&0));
        match result {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}
