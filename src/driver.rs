//! The tokio driver of the DHT: sockets and timers around the sans-IO
//! [`Dht`] state machine.
//!
//! Shaped like quinn's `ConnectionDriver`: one task owns the UDP socket(s)
//! and the state machine, and loops over three inputs, a received datagram,
//! the machine's next timeout and a command from a [`DhtHandle`]. After each
//! step it drains what the machine wants sent to the sockets and what it
//! learned to a broadcast channel. No lock guards the machine: only the task
//! touches it, and handles talk to it by message.
//!
//! Only datagrams whose first byte is a DHT packet id reach the DHT; the
//! rest (onion, net_crypto, …) are counted as unhandled until those layers
//! land. Socket errors are counted and logged at debug level, never fatal:
//! a public node sees ICMP errors and junk all day, and must not let a peer
//! flood its log or stop it.

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;

use rand::Rng as _;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant as TokioInstant;
use toxide_core::packed_node::canonical_ip;
use toxide_core::{KeyPair, PackedNode, PublicKey};
use toxide_dht::packet::PACKET_IDS;
use toxide_dht::{Config, Dht, Event, Stats, Transmit};

/// The largest datagram read (c-toxcore `MAX_UDP_PACKET_SIZE`); nothing
/// any Tox layer sends is longer.
pub const MAX_UDP_PACKET_SIZE: usize = 2048;

/// Commands waiting for the task; senders wait when it is full.
const COMMAND_QUEUE: usize = 64;
/// Events kept for slow subscribers before the oldest are dropped for them.
const EVENT_QUEUE: usize = 1024;
/// Remote addresses whose arrival socket is remembered (for replying on the
/// socket a peer used); beyond it the table is cleared, as memory must not
/// grow with the number of addresses a flood comes from.
const MAX_REMEMBERED_SOURCES: usize = 65_536;

/// How to start a [`DhtDriver`].
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Addresses to bind, one UDP socket each (port 0 picks a free port).
    pub bind: Vec<SocketAddr>,
    /// IPv6 sockets also carry IPv4 (IPV6_V6ONLY off), so `[::]` serves
    /// both families; otherwise IPv6 sockets are IPv6-only, so `[::]` and
    /// `0.0.0.0` can be bound side by side on one port.
    pub dual_stack: bool,
    /// The state machine's configuration.
    pub dht: Config,
    /// The DHT key pair; `None` generates one from the seed (a client's
    /// fresh key per start).
    pub keys: Option<KeyPair>,
    /// The state machine's randomness; `None` takes 32 bytes from the
    /// operating system's RNG.
    pub seed: Option<[u8; 32]>,
}

impl DriverConfig {
    /// A client-style configuration on the given addresses: default DHT
    /// config, fresh key, OS seed, no dual stack.
    pub fn new(bind: impl IntoIterator<Item = SocketAddr>) -> Self {
        Self {
            bind: bind.into_iter().collect(),
            dual_stack: false,
            dht: Config::default(),
            keys: None,
            seed: None,
        }
    }
}

/// Why a driver could not start.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// [`DriverConfig::bind`] was empty.
    #[error("no UDP address to bind")]
    NoAddress,
    /// A socket could not be created or bound.
    #[error("cannot bind UDP socket to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
}

/// The driver task has ended (shut down, or every handle was dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the DHT driver has stopped")]
pub struct DriverClosed;

/// The state machine's counters and the driver's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// What the DHT counted.
    pub dht: Stats,
    /// Datagrams read from the sockets.
    pub datagrams_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Datagrams the sockets accepted for sending.
    pub datagrams_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Datagrams no layer of this driver handles yet (not a DHT packet id).
    pub unhandled: u64,
    /// Failed receives.
    pub recv_errors: u64,
    /// Failed sends, including destinations no bound socket can reach.
    pub send_errors: u64,
}

/// What a handle asks of the driver task.
#[derive(Debug)]
enum Command {
    Bootstrap(PackedNode),
    Stats(oneshot::Sender<DriverStats>),
    CloseNodes(oneshot::Sender<Vec<PackedNode>>),
    Shutdown(oneshot::Sender<()>),
}

/// A cloneable way to talk to a running [`DhtDriver`]. The driver stops
/// when [`DhtHandle::shutdown`] is called or the last handle is dropped.
#[derive(Debug, Clone)]
pub struct DhtHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    public_key: PublicKey,
    local_addrs: Arc<[SocketAddr]>,
}

impl DhtHandle {
    /// The node's DHT public key.
    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// The first bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        // `DhtDriver::bind` refuses an empty address list, so there is one.
        self.local_addrs
            .first()
            .copied()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Every bound address, in the order asked for.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Events from now on. A subscriber that falls more than 1024 events
    /// behind loses the oldest (and is told so by the receiver).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Starts joining the network through `node` ([`Dht::bootstrap`]).
    pub async fn bootstrap(&self, node: PackedNode) -> Result<(), DriverClosed> {
        self.commands
            .send(Command::Bootstrap(node))
            .await
            .map_err(|_| DriverClosed)
    }

    /// The counters so far.
    pub async fn stats(&self) -> Result<DriverStats, DriverClosed> {
        self.ask(Command::Stats).await
    }

    /// The good nodes of the close list (for status output and tests).
    pub async fn close_nodes(&self) -> Result<Vec<PackedNode>, DriverClosed> {
        self.ask(Command::CloseNodes).await
    }

    /// Stops the driver and waits until its sockets are closed. Calling it
    /// on a stopped driver does nothing.
    pub async fn shutdown(&self) {
        // Either answer means the task is gone.
        let _ = self.ask(Command::Shutdown).await;
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverClosed> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(command(tx))
            .await
            .map_err(|_| DriverClosed)?;
        rx.await.map_err(|_| DriverClosed)
    }
}

/// One bound socket.
#[derive(Debug)]
struct Bound {
    socket: UdpSocket,
    local: SocketAddr,
    /// An IPv6 socket that also carries IPv4 (as IPv4-mapped addresses).
    dual_stack: bool,
}

impl Bound {
    /// Whether this socket can send to `to`, and the address to use.
    fn target(&self, to: SocketAddr) -> Option<SocketAddr> {
        match (self.local.is_ipv4(), to.ip()) {
            (true, IpAddr::V4(_)) | (false, IpAddr::V6(_)) => Some(to),
            (false, IpAddr::V4(v4)) if self.dual_stack => {
                Some(SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), to.port()))
            }
            _ => None,
        }
    }
}

/// The task that runs a [`Dht`] on real sockets. Create it with
/// [`DhtDriver::bind`] and run it with [`DhtDriver::run`], or do both with
/// [`DhtDriver::spawn`].
#[derive(Debug)]
pub struct DhtDriver {
    dht: Dht,
    sockets: Vec<Bound>,
    commands: mpsc::Receiver<Command>,
    handle: DhtHandle,
    /// Which socket each remote address last arrived on: replies leave from
    /// the port the peer talks to.
    arrived_on: HashMap<SocketAddr, usize>,
    counters: DriverStats,
    /// Which socket is read first next time, so a busy one cannot starve
    /// the others.
    next_socket: usize,
}

/// The driver's clock: tokio's, so a paused test clock drives the DHT too.
fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

impl DhtDriver {
    /// Binds the sockets and builds the state machine. Must be called
    /// within a tokio runtime.
    pub async fn bind(config: DriverConfig) -> Result<Self, DriverError> {
        if config.bind.is_empty() {
            return Err(DriverError::NoAddress);
        }
        let mut sockets = Vec::with_capacity(config.bind.len());
        for &addr in &config.bind {
            let bind_error = |source| DriverError::Bind { addr, source };
            let socket = bind_socket(addr, config.dual_stack).map_err(bind_error)?;
            let local = socket.local_addr().map_err(bind_error)?;
            sockets.push(Bound {
                socket,
                local,
                dual_stack: local.is_ipv6() && config.dual_stack,
            });
        }
        let seed = config.seed.unwrap_or_else(|| {
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            seed
        });
        let dht = match config.keys {
            Some(keys) => Dht::with_keys(config.dht, now(), seed, keys),
            None => Dht::new(config.dht, now(), seed),
        };
        let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let handle = DhtHandle {
            commands: commands_tx,
            events,
            public_key: dht.public_key(),
            local_addrs: sockets.iter().map(|b| b.local).collect(),
        };
        Ok(Self {
            dht,
            sockets,
            commands,
            handle,
            arrived_on: HashMap::new(),
            counters: DriverStats::default(),
            next_socket: 0,
        })
    }

    /// Binds and spawns the driver task on the current runtime.
    pub async fn spawn(config: DriverConfig) -> Result<DhtHandle, DriverError> {
        let driver = Self::bind(config).await?;
        let handle = driver.handle();
        tokio::spawn(driver.run());
        Ok(handle)
    }

    /// A handle to this driver.
    pub fn handle(&self) -> DhtHandle {
        self.handle.clone()
    }

    /// Runs until [`DhtHandle::shutdown`] or until every handle is dropped.
    pub async fn run(self) {
        let Self {
            mut dht,
            sockets,
            mut commands,
            handle,
            mut arrived_on,
            mut counters,
            mut next_socket,
        } = self;
        let events = handle.events.clone();
        // The driver keeps no sender of its own: dropping the last handle
        // closes the command channel and so ends the loop.
        drop(handle);
        let mut buf = vec![0u8; MAX_UDP_PACKET_SIZE];
        let mut io = Io {
            sockets: &sockets,
            arrived_on: &mut arrived_on,
            counters: &mut counters,
        };
        let shutdown_ack = loop {
            io.flush(&mut dht, &events).await;
            let deadline = dht.poll_timeout().map(TokioInstant::from_std);
            let first = next_socket;
            let step = tokio::select! {
                (index, received) = recv_any(io.sockets, first, &mut buf) => Step::Received(index, received),
                () = sleep_until(deadline) => Step::Timeout,
                command = commands.recv() => Step::Command(command),
            };
            match step {
                Step::Received(index, Ok((len, from))) => {
                    next_socket = index.wrapping_add(1) % io.sockets.len().max(1);
                    io.received(&mut dht, index, buf.get(..len).unwrap_or_default(), from);
                }
                Step::Received(index, Err(error)) => {
                    next_socket = index.wrapping_add(1) % io.sockets.len().max(1);
                    io.counters.recv_errors += 1;
                    tracing::debug!(%error, socket = index, "UDP receive failed");
                }
                Step::Timeout => dht.handle_timeout(now()),
                Step::Command(None) => break None,
                Step::Command(Some(command)) => match command {
                    Command::Bootstrap(node) => {
                        dht.bootstrap(
                            now(),
                            PackedNode::new(node.protocol, node.addr, node.public_key),
                        );
                    }
                    Command::Stats(reply) => {
                        let stats = DriverStats {
                            dht: dht.stats().clone(),
                            ..io.counters.clone()
                        };
                        let _ = reply.send(stats);
                    }
                    Command::CloseNodes(reply) => {
                        let at = now();
                        let nodes = dht
                            .close_list()
                            .iter()
                            .filter_map(|c| c.best_good(at))
                            .collect();
                        let _ = reply.send(nodes);
                    }
                    Command::Shutdown(ack) => break Some(ack),
                },
            }
        };
        // Close the sockets before acknowledging a shutdown.
        drop(sockets);
        if let Some(ack) = shutdown_ack {
            let _ = ack.send(());
        }
    }
}

enum Step {
    Received(usize, io::Result<(usize, SocketAddr)>),
    Timeout,
    Command(Option<Command>),
}

/// The driver's socket side, apart from the state machine so both can be
/// borrowed at once.
struct Io<'a> {
    sockets: &'a [Bound],
    arrived_on: &'a mut HashMap<SocketAddr, usize>,
    counters: &'a mut DriverStats,
}

impl Io<'_> {
    fn received(&mut self, dht: &mut Dht, index: usize, bytes: &[u8], from: SocketAddr) {
        self.counters.datagrams_received += 1;
        self.counters.bytes_received += bytes.len() as u64;
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the DHT
        // stores and hands out plain IPv4 (c-toxcore does the same).
        let from = SocketAddr::new(canonical_ip(from.ip()), from.port());
        if self.arrived_on.len() >= MAX_REMEMBERED_SOURCES && !self.arrived_on.contains_key(&from) {
            self.arrived_on.clear();
        }
        self.arrived_on.insert(from, index);
        match bytes.first() {
            Some(id) if PACKET_IDS.contains(id) => dht.handle_datagram(now(), from, bytes),
            _ => {
                self.counters.unhandled += 1;
                tracing::trace!(id = ?bytes.first(), len = bytes.len(), %from, "no layer here handles this datagram");
            }
        }
    }

    /// Sends everything the DHT queued and publishes its events.
    async fn flush(&mut self, dht: &mut Dht, events: &broadcast::Sender<Event>) {
        while let Some(transmit) = dht.poll_transmit() {
            self.send(transmit).await;
        }
        while let Some(event) = dht.poll_event() {
            // No subscriber is fine: nobody asked.
            let _ = events.send(event);
        }
    }

    async fn send(&mut self, transmit: Transmit) {
        let Transmit {
            destination,
            payload,
        } = transmit;
        let Some((socket, target)) = self.route(destination) else {
            self.counters.send_errors += 1;
            tracing::debug!(%destination, "no bound socket reaches this address family");
            return;
        };
        match socket.socket.send_to(&payload, target).await {
            Ok(sent) => {
                self.counters.datagrams_sent += 1;
                self.counters.bytes_sent += sent as u64;
            }
            Err(error) => {
                self.counters.send_errors += 1;
                tracing::debug!(%error, %destination, "UDP send failed");
            }
        }
    }

    /// The socket to send to `destination` from: the one it last arrived
    /// on, else the first that can reach its family.
    fn route(&self, destination: SocketAddr) -> Option<(&Bound, SocketAddr)> {
        let remembered = self
            .arrived_on
            .get(&destination)
            .and_then(|&i| self.sockets.get(i))
            .and_then(|s| Some((s, s.target(destination)?)));
        remembered.or_else(|| {
            self.sockets
                .iter()
                .find_map(|s| Some((s, s.target(destination)?)))
        })
    }
}

/// Binds one socket. IPv6 goes through socket2 because IPV6_V6ONLY must be
/// set before `bind`, which std and tokio cannot do.
fn bind_socket(addr: SocketAddr, dual_stack: bool) -> io::Result<UdpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => std::net::UdpSocket::bind(addr)?,
        SocketAddr::V6(_) => {
            let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_only_v6(!dual_stack)?;
            socket.bind(&addr.into())?;
            socket.into()
        }
    };
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// Waits for a datagram on any socket, trying them in turn from `first`.
/// Cancel-safe: nothing is read until a socket is ready.
async fn recv_any(
    sockets: &[Bound],
    first: usize,
    buf: &mut [u8],
) -> (usize, io::Result<(usize, SocketAddr)>) {
    let count = sockets.len();
    poll_fn(|cx| {
        for k in 0..count {
            let index = first.wrapping_add(k) % count;
            let Some(bound) = sockets.get(index) else {
                continue;
            };
            let mut read = ReadBuf::new(buf);
            match bound.socket.poll_recv_from(cx, &mut read) {
                Poll::Ready(Ok(from)) => {
                    return Poll::Ready((index, Ok((read.filled().len(), from))));
                }
                Poll::Ready(Err(error)) => return Poll::Ready((index, Err(error))),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<TokioInstant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[tokio::test]
    async fn targets_follow_the_socket_family() {
        let v4: SocketAddr = (Ipv4Addr::LOCALHOST, 7).into();
        let v6: SocketAddr = (Ipv6Addr::LOCALHOST, 7).into();
        let sock4 = Bound {
            socket: bind_socket((Ipv4Addr::LOCALHOST, 0).into(), false).unwrap(),
            local: (Ipv4Addr::LOCALHOST, 1).into(),
            dual_stack: false,
        };
        assert_eq!(sock4.target(v4), Some(v4));
        assert_eq!(sock4.target(v6), None);
        let Ok(socket) = bind_socket((Ipv6Addr::UNSPECIFIED, 0).into(), true) else {
            return; // no IPv6 on this machine
        };
        let sock6 = Bound {
            socket,
            local: (Ipv6Addr::UNSPECIFIED, 1).into(),
            dual_stack: true,
        };
        assert_eq!(sock6.target(v6), Some(v6));
        let mapped: SocketAddr = (Ipv4Addr::LOCALHOST.to_ipv6_mapped(), 7).into();
        assert_eq!(sock6.target(v4), Some(mapped));
    }
}
