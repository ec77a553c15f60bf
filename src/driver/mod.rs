//! The tokio driver: sockets and timers around the sans-IO [`Stack`] (the
//! DHT, the onion server every node runs and, in a client, the onion
//! client).
//!
//! Shaped like quinn's `ConnectionDriver`: one task owns the UDP socket(s)
//! and the state machine, and loops over three inputs, a batch of received
//! datagrams, the machine's next timeout and commands from a
//! [`DriverHandle`]. After each step it drains what the machine wants sent
//! to the sockets (in batches, see [`udp`]) and what it learned to the
//! event channels. No lock guards the machine: only the task touches it,
//! and handles talk to it by message.
//!
//! Events go out two ways. Any number of [`DriverHandle::subscribe`]rs get
//! them through a broadcast channel that drops the oldest for a subscriber
//! that falls behind: right for watching the DHT, wrong for data. The one
//! receiver [`Driver::take_events`] hands out loses nothing: when it is
//! full the driver stops reading its sockets (timers and commands go on)
//! until the application catches up, so a slow application slows its
//! peers through net_crypto's congestion control instead of losing
//! messages or buffering without bound.
//!
//! A TCP relay running beside the driver (toxide-node's) feeds its
//! clients' onion requests in through [`Driver::tcp_onion_channels`] and
//! takes their responses out the same way: the relay is hop A of those
//! clients' paths, and hop A's state (the return key) lives in the onion
//! server here. Both queues are bounded and drop when full, as a UDP
//! socket would.
//!
//! A client's own TCP relay connections ([`crate::stack::relays`]) are
//! sockets of this driver too: one small task per connection moves bytes
//! between its `TcpStream` and the stack through bounded channels (see
//! `tcp.rs`), and the stack keeps each connection's protocol state. With
//! [`DriverConfig::udp`] off no UDP socket exists and the relays are the
//! only way out.
//!
//! The stack dispatches datagrams by their first byte; the ids no layer
//! takes yet (net_crypto, …) are counted as unhandled until those layers
//! land. Socket errors are counted and logged at debug level, never fatal:
//! a public node sees ICMP errors and junk all day, and must not let a peer
//! flood its log or stop it.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;

use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant as TokioInstant;
use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey, ToxId};
use toxide_dht::{Config, Stats};
use toxide_messenger::messenger::{FriendNumber, MessageId, MessengerError};
use toxide_messenger::packet::MessageKind;
use toxide_net_crypto::SendPacketError;
use toxide_onion::client::{ClientStats, FriendError};
use toxide_onion::{ClientEvent, OnionClient, ServerConfig, ServerStats};

use crate::stack::relays::Relays;
use crate::stack::{Stack, StackEvent};
use tcp::{RelayMsg, RelaySockets};

pub(crate) mod files;
pub mod proxy;
pub(crate) mod routing;
pub(crate) mod setup;
mod tcp;
pub(crate) mod udp;

use files::Router;
use routing::{Bound, Udp};
use udp::RecvBuffer;

/// The largest datagram read (c-toxcore `MAX_UDP_PACKET_SIZE`); nothing
/// any Tox layer sends is longer.
pub const MAX_UDP_PACKET_SIZE: usize = 2048;

/// Commands waiting for the task; senders wait when it is full.
const COMMAND_QUEUE: usize = 64;
/// Events kept for slow subscribers before the oldest are dropped for them.
const EVENT_QUEUE: usize = 1024;
/// Events the lossless receiver ([`Driver::take_events`]) may hold before
/// the driver stops reading its sockets.
const LOSSLESS_EVENT_QUEUE: usize = 512;
/// Commands run per loop turn before the sockets get a look in.
const COMMAND_BATCH: usize = 64;

/// How to start a [`Driver`].
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
    /// Serve the onion (relay hops and announce store) with this
    /// configuration; `None` leaves onion requests unhandled.
    pub onion: Option<ServerConfig>,
    /// Run an onion client (announce ourselves, find friends) for this
    /// identity; `None` on a bootstrap node.
    pub client: Option<ClientIdentity>,
    /// The DHT key pair; `None` generates one from the seed (a client's
    /// fresh key per start).
    pub keys: Option<KeyPair>,
    /// The state machine's randomness; `None` takes 32 bytes from the
    /// operating system's RNG.
    pub seed: Option<[u8; 32]>,
    /// Use UDP at all (tox.h's `udp_enabled`). Without it no UDP socket is
    /// bound ([`DriverConfig::bind`] is ignored) and every datagram a
    /// layer wants sent is dropped: a client then reaches friends only
    /// through its TCP relays.
    pub udp: bool,
    /// TCP relays a client keeps connections to from the start (address,
    /// relay key); ignored on a bootstrap node.
    pub tcp_relays: Vec<(SocketAddr, PublicKey)>,
    /// A proxy every TCP relay connection goes through (tox.h's
    /// `proxy_type`); UDP never does, so set [`DriverConfig::udp`] off too
    /// for a client that must not be seen without it.
    pub proxy: Option<proxy::ProxyConfig>,
}

impl DriverConfig {
    /// A client-style configuration on the given addresses: default DHT
    /// config, fresh key, OS seed, no dual stack.
    pub fn new(bind: impl IntoIterator<Item = SocketAddr>) -> Self {
        Self {
            bind: bind.into_iter().collect(),
            dual_stack: false,
            dht: Config::default(),
            onion: None,
            client: None,
            keys: None,
            seed: None,
            udp: true,
            tcp_relays: Vec::new(),
            proxy: None,
        }
    }
}

/// Who a client is: its long-term key pair and nospam (its Tox ID).
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// The long-term ("real") key pair.
    pub keys: KeyPair,
    /// The nospam of our Tox ID.
    pub nospam: NoSpam,
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
#[error("the driver has stopped")]
pub struct DriverClosed;

/// The state machine's counters and the driver's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// What the DHT counted.
    pub dht: Stats,
    /// What the onion server counted (zeros when it is not running).
    pub onion: ServerStats,
    /// What the onion client counted (zeros when it is not running).
    pub client: ClientStats,
    /// What net_crypto counted (zeros when it is not running).
    pub net_crypto: toxide_net_crypto::Stats,
    /// Datagrams read from the sockets.
    pub datagrams_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Datagrams the sockets accepted for sending.
    pub datagrams_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Datagrams no layer of this driver handles (not a DHT id, and not an
    /// onion id while the onion server runs).
    pub unhandled: u64,
    /// Failed receives.
    pub recv_errors: u64,
    /// Failed sends, including destinations no bound socket can reach.
    pub send_errors: u64,
    /// Onion responses for TCP relay clients dropped because the relay
    /// had not taken the earlier ones ([`TCP_ONION_QUEUE`]).
    pub tcp_onion_responses_dropped: u64,
    /// Datagrams dropped because UDP is off ([`DriverConfig::udp`]).
    pub udp_disabled_drops: u64,
    /// What the client's TCP relay connections counted.
    pub relays: crate::stack::relays::RelayStats,
}

impl DriverStats {
    /// These driver counters with the stack's layers' own.
    pub(crate) fn with_layers(&self, stack: &Stack) -> Self {
        Self {
            dht: stack.dht.stats().clone(),
            onion: stack
                .server
                .as_ref()
                .map(|o| o.stats().clone())
                .unwrap_or_default(),
            client: stack
                .client
                .as_ref()
                .map(|c| c.stats().clone())
                .unwrap_or_default(),
            net_crypto: stack
                .net_crypto
                .as_ref()
                .map(|n| n.stats().clone())
                .unwrap_or_default(),
            relays: stack.relays.as_ref().map(Relays::stats).unwrap_or_default(),
            ..self.clone()
        }
    }
}

/// Onion requests and responses queued each way between the driver and a
/// TCP relay ([`Driver::tcp_onion_channels`]); beyond it they are
/// dropped, as a full UDP socket would drop them.
pub const TCP_ONION_QUEUE: usize = 256;

/// An onion request from a client of a TCP relay that uses the relay as
/// hop A (checklist R9): what followed the nonce in its request frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpOnionRequest {
    /// The relay connection and the client's address.
    pub client: toxide_onion::relay::TcpClient,
    /// The nonce of the second layer.
    pub nonce: toxide_core::Nonce,
    /// `[IP_Port B][temporary pk][box for B]`.
    pub payload: Vec<u8>,
}

/// The driver's side of a TCP relay that serves onion requests: requests
/// go in (`try_send`, dropped when full), responses for the relay's
/// connections come out.
#[derive(Debug)]
pub struct TcpOnionChannels {
    /// Onion requests from the relay's clients.
    pub requests: mpsc::Sender<TcpOnionRequest>,
    /// Responses for them, by connection.
    pub responses: mpsc::Receiver<toxide_onion::server::TcpResponse>,
}

/// Work a handle asks of the driver task: run against the stack at the
/// task's current time. One closure type keeps every handle method a
/// two-liner and lets higher layers add methods without new plumbing.
type StackCall = Box<dyn FnOnce(&mut Stack, std::time::Instant, &DriverStats) + Send>;

/// Work on the stack and the file router together (the `Tox` API's file
/// handles).
type FilesCall = Box<dyn FnOnce(&mut Stack, &mut Router, std::time::Instant) + Send>;

/// What a handle asks of the driver task.
enum Command {
    Call(StackCall),
    Files(FilesCall),
    Shutdown(oneshot::Sender<()>),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Call(_) => f.write_str("Call"),
            Self::Files(_) => f.write_str("Files"),
            Self::Shutdown(_) => f.write_str("Shutdown"),
        }
    }
}

/// A cloneable way to talk to a running [`Driver`]. The driver stops
/// when [`DriverHandle::shutdown`] is called or the last handle is dropped.
#[derive(Debug, Clone)]
pub struct DriverHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<StackEvent>,
    public_key: PublicKey,
    tox_id: Option<ToxId>,
    local_addrs: Arc<[SocketAddr]>,
}

impl DriverHandle {
    /// The node's DHT public key.
    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// The client's Tox ID (`None` on a bootstrap node). The nospam part
    /// is the one the driver started with.
    pub fn tox_id(&self) -> Option<ToxId> {
        self.tox_id
    }

    /// The first bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        // `Driver::bind` refuses an empty address list, so there is one.
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
    pub fn subscribe(&self) -> broadcast::Receiver<StackEvent> {
        self.events.subscribe()
    }

    /// Starts joining the network through `node` ([`Dht::bootstrap`]); a
    /// client also builds its first onion paths through it.
    pub async fn bootstrap(&self, node: PackedNode) -> Result<(), DriverClosed> {
        self.call(move |stack, now, _| stack.bootstrap(now, node))
            .await
    }

    /// The counters so far.
    pub async fn stats(&self) -> Result<DriverStats, DriverClosed> {
        self.call(|stack, _, io| io.with_layers(stack)).await
    }

    /// The good nodes of the close list (for status output and tests).
    pub async fn close_nodes(&self) -> Result<Vec<PackedNode>, DriverClosed> {
        self.call(|stack, now, _| {
            stack
                .dht
                .close_list()
                .iter()
                .filter_map(|c| c.best_good(now))
                .collect()
        })
        .await
    }

    /// Sends a friend request to the owner of `id` (resent until they
    /// accept); fails on a bootstrap node or a bad message.
    pub async fn send_friend_request(
        &self,
        id: ToxId,
        message: Vec<u8>,
    ) -> Result<Result<(), FriendError>, DriverClosed> {
        self.call(move |stack, now, _| stack.send_friend_request(now, &id, &message))
            .await
    }

    /// Adds a friend without a request (accepting theirs): the onion
    /// client searches for them and tells them our DHT key, and a session
    /// opens once they are found ([`StackEvent::Session`] events).
    pub async fn add_friend(
        &self,
        real_pk: PublicKey,
    ) -> Result<Result<(), FriendError>, DriverClosed> {
        self.call(move |stack, _, _| stack.add_friend(real_pk))
            .await
    }

    /// Sends a lossless packet (packet id 16–191 first) to a friend over
    /// its session; returns the packet number an acknowledgement will
    /// pass ([`toxide_net_crypto::Event::Acked`]).
    pub async fn send_lossless(
        &self,
        friend: PublicKey,
        data: bytes::Bytes,
    ) -> Result<Result<u32, SendPacketError>, DriverClosed> {
        self.call(move |stack, _, _| {
            let id = stack
                .friend_connection(&friend)
                .ok_or(SendPacketError::NoConnection)?;
            match &mut stack.net_crypto {
                Some(net_crypto) => net_crypto.send_lossless(id, data),
                None => Err(SendPacketError::NoConnection),
            }
        })
        .await
    }

    /// Sends a message to friend `friend` (online); its id comes back in a
    /// read receipt ([`toxide_messenger::messenger::Event::ReadReceipt`]).
    pub async fn send_message(
        &self,
        friend: FriendNumber,
        kind: MessageKind,
        text: Vec<u8>,
    ) -> Result<Result<MessageId, MessengerError>, DriverClosed> {
        self.call(move |stack, now, _| {
            stack
                .with_messenger(now, |m, s| m.send_message(friend, kind, text, s))
                .unwrap_or(Err(MessengerError::NoFriend(friend)))
        })
        .await
    }

    /// Sets our name (at most 128 bytes); online friends are told at once,
    /// the others when they connect.
    pub async fn set_name(
        &self,
        name: Vec<u8>,
    ) -> Result<Result<(), MessengerError>, DriverClosed> {
        self.call(move |stack, now, _| {
            stack
                .with_messenger(now, |m, s| m.set_name(name, s))
                .unwrap_or(Ok(()))
        })
        .await
    }

    /// The number of the friend with key `public_key`.
    pub async fn friend_number(
        &self,
        public_key: PublicKey,
    ) -> Result<Option<FriendNumber>, DriverClosed> {
        self.call(move |stack, _, _| stack.messenger.as_ref()?.friend_number(&public_key))
            .await
    }

    /// Whether the client is announced in the onion.
    pub async fn is_onion_connected(&self) -> Result<bool, DriverClosed> {
        self.call(|stack, _, _| stack.client.as_ref().is_some_and(OnionClient::is_connected))
            .await
    }

    /// Runs `f` on the stack inside the driver task and returns its result:
    /// the general form of the methods above.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Stack, std::time::Instant, &DriverStats) -> T + Send + 'static,
    ) -> Result<T, DriverClosed> {
        let (tx, rx) = oneshot::channel();
        let call: StackCall = Box::new(move |stack, now, io| {
            let _ = tx.send(f(stack, now, io));
        });
        self.commands
            .send(Command::Call(call))
            .await
            .map_err(|_| DriverClosed)?;
        rx.await.map_err(|_| DriverClosed)
    }

    /// A handle that does not keep the driver running (file transfer
    /// handles hold one: the instance stops with its last `Tox`).
    pub(crate) fn downgrade(&self) -> WeakDriverHandle {
        WeakDriverHandle {
            commands: self.commands.downgrade(),
        }
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

/// A [`DriverHandle`] that does not keep the driver alive.
#[derive(Debug, Clone)]
pub(crate) struct WeakDriverHandle {
    commands: mpsc::WeakSender<Command>,
}

impl WeakDriverHandle {
    /// Runs `f` on the stack and the file router inside the driver task;
    /// [`DriverClosed`] once the driver has stopped.
    pub(crate) async fn call_files<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Stack, &mut Router, std::time::Instant) -> T + Send + 'static,
    ) -> Result<T, DriverClosed> {
        let (tx, rx) = oneshot::channel();
        let call: FilesCall = Box::new(move |stack, router, now| {
            let _ = tx.send(f(stack, router, now));
        });
        let commands = self.commands.upgrade().ok_or(DriverClosed)?;
        commands
            .send(Command::Files(call))
            .await
            .map_err(|_| DriverClosed)?;
        drop(commands);
        rx.await.map_err(|_| DriverClosed)
    }

    /// Queues `f` for the driver task without waiting for it to run
    /// (waiting only for room in the command queue, which is what paces a
    /// file's reader against the driver).
    pub(crate) async fn send_files(
        &self,
        f: impl FnOnce(&mut Stack, &mut Router, std::time::Instant) + Send + 'static,
    ) -> Result<(), DriverClosed> {
        let commands = self.commands.upgrade().ok_or(DriverClosed)?;
        commands
            .send(Command::Files(Box::new(f)))
            .await
            .map_err(|_| DriverClosed)
    }
}

/// Waits until `deadline` for the next onion-client event that `want`
/// accepts, skipping the others; `None` at the deadline or once the driver
/// has stopped. A subscriber that fell behind carries on with what is left.
pub async fn next_onion_event(
    events: &mut broadcast::Receiver<StackEvent>,
    deadline: std::time::Instant,
    mut want: impl FnMut(&ClientEvent) -> bool,
) -> Option<ClientEvent> {
    let deadline = TokioInstant::from_std(deadline);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Ok(StackEvent::Onion(event))) if want(&event) => return Some(event),
            Ok(Ok(_)) => {}
        }
    }
}

/// The task that runs a [`Stack`] on real sockets. Create it with
/// [`Driver::bind`] and run it with [`Driver::run`], or do both with
/// [`Driver::spawn`].
#[derive(Debug)]
pub struct Driver {
    stack: Stack,
    sockets: Vec<Bound>,
    commands: mpsc::Receiver<Command>,
    handle: DriverHandle,
    /// The lossless event channel, once [`Driver::take_events`] was called,
    /// and which events go there.
    lossless: Option<(mpsc::Sender<StackEvent>, EventFilter)>,
    /// Where replies leave from (the port the peer talks to).
    udp: Udp,
    /// File data between transfers and their handles (see [`files`]).
    files: Router,
    counters: DriverStats,
    /// Which socket is read first next time, so a busy one cannot starve
    /// the others.
    next_socket: usize,
    /// The TCP relay's onion requests and where their responses go, once
    /// [`Driver::tcp_onion_channels`] was called.
    tcp_onion: Option<(
        mpsc::Receiver<TcpOnionRequest>,
        mpsc::Sender<toxide_onion::server::TcpResponse>,
    )>,
    /// The client's TCP relay sockets.
    relay_sockets: RelaySockets,
}

/// The driver's clock: tokio's, so a paused test clock drives the DHT too.
fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

impl Driver {
    /// Binds the sockets and builds the state machine. Must be called
    /// within a tokio runtime.
    pub async fn bind(config: DriverConfig) -> Result<Self, DriverError> {
        let sockets = setup::bind_all(&config, UdpSocket::from_std)?;
        let proxy = config.proxy;
        let (stack, tox_id) =
            setup::build_stack(config, sockets.iter().map(|b| b.local.port()), now());
        let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let handle = DriverHandle {
            commands: commands_tx,
            events,
            public_key: stack.dht.public_key(),
            tox_id,
            local_addrs: sockets.iter().map(|b| b.local).collect(),
        };
        Ok(Self {
            stack,
            sockets,
            commands,
            handle,
            lossless: None,
            udp: Udp::default(),
            files: Router::default(),
            counters: DriverStats::default(),
            next_socket: 0,
            tcp_onion: None,
            relay_sockets: RelaySockets::new(proxy),
        })
    }

    /// Connects a TCP relay to the onion server, to call before
    /// [`Driver::run`]; `None` the second time. Requests the relay passes
    /// in are handled as they arrive; responses for its clients come out
    /// of the returned receiver.
    pub fn tcp_onion_channels(&mut self) -> Option<TcpOnionChannels> {
        if self.tcp_onion.is_some() {
            return None;
        }
        let (requests, requests_rx) = mpsc::channel(TCP_ONION_QUEUE);
        let (responses_tx, responses) = mpsc::channel(TCP_ONION_QUEUE);
        self.tcp_onion = Some((requests_rx, responses_tx));
        Some(TcpOnionChannels {
            requests,
            responses,
        })
    }

    /// Gives file transfers handles: offers are kept for accepting, and
    /// the data of transfers with handles leaves the event stream (the
    /// `Tox` API turns this on).
    pub(crate) fn route_files(&mut self) {
        self.files.enable();
    }

    /// Binds and spawns the driver task on the current runtime.
    pub async fn spawn(config: DriverConfig) -> Result<DriverHandle, DriverError> {
        let driver = Self::bind(config).await?;
        let handle = driver.handle();
        tokio::spawn(driver.run());
        Ok(handle)
    }

    /// A handle to this driver.
    pub fn handle(&self) -> DriverHandle {
        self.handle.clone()
    }

    /// The lossless event receiver (see the module doc), to call before
    /// [`Driver::run`]; `None` the second time. Every event goes there as
    /// well as to the subscribers. The application must keep reading it:
    /// while it is full, the driver reads no datagram.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<StackEvent>> {
        self.take_events_where(|_| true)
    }

    /// [`Driver::take_events`] for only the events `filter` accepts: an
    /// application that wants messages need not drain every DHT event to
    /// keep the driver reading.
    pub fn take_events_where(&mut self, filter: EventFilter) -> Option<mpsc::Receiver<StackEvent>> {
        if self.lossless.is_some() {
            return None;
        }
        let (tx, rx) = mpsc::channel(LOSSLESS_EVENT_QUEUE);
        self.lossless = Some((tx, filter));
        Some(rx)
    }

    /// Binds, takes the lossless event receiver and spawns the driver task.
    pub async fn spawn_with_events(
        config: DriverConfig,
    ) -> Result<(DriverHandle, mpsc::Receiver<StackEvent>), DriverError> {
        let mut driver = Self::bind(config).await?;
        let handle = driver.handle();
        let (tx, rx) = mpsc::channel(LOSSLESS_EVENT_QUEUE);
        driver.lossless = Some((tx, |_| true));
        tokio::spawn(driver.run());
        Ok((handle, rx))
    }

    /// Runs until [`DriverHandle::shutdown`] or until every handle is dropped.
    pub async fn run(self) {
        let Self {
            mut stack,
            sockets,
            mut commands,
            handle,
            lossless,
            mut udp,
            mut files,
            mut counters,
            mut next_socket,
            tcp_onion,
            mut relay_sockets,
        } = self;
        let (mut tcp_requests, tcp_responses) = match tcp_onion {
            Some((requests, responses)) => (Some(requests), Some(responses)),
            None => (None, None),
        };
        let mut events = Events {
            broadcast: handle.events.clone(),
            lossless,
            backlog: VecDeque::new(),
        };
        // The driver keeps no sender of its own: dropping the last handle
        // closes the command channel and so ends the loop.
        drop(handle);
        let mut buffers: Vec<RecvBuffer> = sockets
            .iter()
            .map(|b| RecvBuffer::for_socket(&b.socket))
            .collect();
        let mut io = Io {
            sockets: &sockets,
            udp: &mut udp,
            counters: &mut counters,
            files: &mut files,
        };
        let shutdown_ack = 'run: loop {
            io.flush(&mut stack, &mut events).await;
            relay_sockets.flush(&mut stack);
            if let Some(tx) = &tcp_responses {
                while let Some(response) = stack.poll_tcp_onion_response() {
                    if tx.try_send(response).is_err() {
                        io.counters.tcp_onion_responses_dropped += 1;
                    }
                }
            }
            let deadline = stack.poll_timeout(now()).map(TokioInstant::from_std);
            let first = next_socket;
            let reading = events.backlog.is_empty();
            let step = tokio::select! {
                index = readable_any(io.sockets, first), if reading => Step::Readable(index),
                permit = reserve(events.lossless.as_ref().map(|(tx, _)| tx)), if !reading => Step::Deliver(permit.is_ok()),
                () = sleep_until(deadline) => Step::Timeout,
                command = commands.recv() => Step::Command(command),
                request = recv_some(tcp_requests.as_mut()) => Step::TcpOnion(request),
                // Relay sockets pause with the UDP ones while the
                // application is behind (their tasks then stop reading).
                msg = relay_sockets.from_tasks.recv(), if reading => Step::Relay(msg),
            };
            match step {
                Step::Readable(index) => {
                    next_socket = index.wrapping_add(1) % io.sockets.len().max(1);
                    if let (Some(bound), Some(buffer)) =
                        (io.sockets.get(index), buffers.get_mut(index))
                    {
                        match bound.socket.try_recv(buffer) {
                            Ok(()) => {
                                let now = now();
                                for (from, bytes) in buffer.datagrams() {
                                    io.udp.received(
                                        io.sockets,
                                        io.counters,
                                        &mut stack,
                                        now,
                                        (index, from),
                                        bytes,
                                    );
                                }
                            }
                            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                            Err(error) => {
                                io.counters.recv_errors += 1;
                                tracing::debug!(%error, socket = index, "UDP receive failed");
                            }
                        }
                    }
                }
                Step::Deliver(open) => {
                    if !open {
                        // The application dropped its receiver.
                        events.lossless = None;
                        events.backlog.clear();
                    }
                }
                Step::Timeout => stack.handle_timeout(now()),
                Step::Relay(first) => {
                    // What the relay tasks queued runs at once, up to the
                    // batch size.
                    let now = now();
                    let mut msg = first;
                    let mut budget = COMMAND_BATCH;
                    while let Some(next) = msg.take() {
                        match next {
                            RelayMsg::Bytes(relay, session, bytes) => {
                                stack.handle_relay_bytes(now, relay, session, &bytes)
                            }
                            RelayMsg::Closed(relay, session) => {
                                stack.handle_relay_closed(now, relay, session)
                            }
                            RelayMsg::Drained => {}
                        }
                        budget -= 1;
                        if budget == 0 {
                            break;
                        }
                        msg = relay_sockets.from_tasks.try_recv().ok();
                    }
                }
                Step::TcpOnion(None) => tcp_requests = None,
                Step::TcpOnion(Some(first)) => {
                    // What is queued runs at once, up to the batch size.
                    let now = now();
                    let mut request = Some(first);
                    let mut budget = COMMAND_BATCH;
                    while let Some(TcpOnionRequest {
                        client,
                        nonce,
                        payload,
                    }) = request.take()
                    {
                        stack.handle_tcp_onion_request(now, client, nonce, &payload);
                        budget -= 1;
                        if budget == 0 {
                            break;
                        }
                        request = tcp_requests.as_mut().and_then(|rx| rx.try_recv().ok());
                    }
                }
                Step::Command(mut command) => {
                    // Run what is queued at once: an application issuing
                    // calls back to back does not pay a loop turn each.
                    // Only a command taken is run: one fetched past the
                    // budget would be dropped, and its caller told the
                    // driver stopped.
                    let mut budget = COMMAND_BATCH;
                    loop {
                        match command {
                            None => break 'run None,
                            Some(Command::Shutdown(ack)) => break 'run Some(ack),
                            Some(Command::Call(call)) => call(&mut stack, now(), io.counters),
                            Some(Command::Files(call)) => call(&mut stack, io.files, now()),
                        }
                        budget -= 1;
                        if budget == 0 {
                            break;
                        }
                        match commands.try_recv() {
                            Ok(next) => command = Some(next),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => command = None,
                        }
                    }
                }
            }
        };
        // Transfers end as closed, not broken by the sessions going down;
        // friends see us go at once (kill packets), not after their
        // timeout; then the sockets close before a shutdown is
        // acknowledged.
        io.files.close(now());
        stack.end_sessions(now());
        io.flush(&mut stack, &mut events).await;
        relay_sockets.flush(&mut stack);
        drop(sockets);
        if let Some(ack) = shutdown_ack {
            let _ = ack.send(());
        }
    }
}

/// Which events an event receiver wants (see [`Driver::take_events_where`]).
pub type EventFilter = fn(&StackEvent) -> bool;

enum Step {
    TcpOnion(Option<TcpOnionRequest>),
    Relay(Option<RelayMsg>),
    Readable(usize),
    Deliver(bool),
    Timeout,
    Command(Option<Command>),
}

/// Where events go (see the module doc).
struct Events {
    broadcast: broadcast::Sender<StackEvent>,
    lossless: Option<(mpsc::Sender<StackEvent>, EventFilter)>,
    /// Events the lossless channel had no room for, oldest first.
    backlog: VecDeque<StackEvent>,
}

impl Events {
    fn publish(&mut self, event: StackEvent) {
        if self.broadcast.receiver_count() > 0 {
            // No subscriber is fine: nobody asked.
            let _ = self.broadcast.send(event.clone());
        }
        if self
            .lossless
            .as_ref()
            .is_some_and(|(_, wanted)| wanted(&event))
        {
            self.backlog.push_back(event);
        }
    }

    /// Moves what fits from the backlog into the lossless channel.
    fn deliver(&mut self) {
        let Some((tx, _)) = &self.lossless else {
            return;
        };
        while let Some(event) = self.backlog.pop_front() {
            match tx.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.backlog.push_front(event);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.lossless = None;
                    self.backlog.clear();
                    return;
                }
            }
        }
    }
}

/// Waits until the lossless channel has room (or is closed: `Err`).
async fn reserve(tx: Option<&mpsc::Sender<StackEvent>>) -> Result<(), mpsc::error::SendError<()>> {
    match tx {
        // The permit is dropped at once: `deliver` fills the room next turn.
        Some(tx) => tx.reserve().await.map(drop),
        None => std::future::pending().await,
    }
}

/// The driver's socket side, apart from the state machine so both can be
/// borrowed at once.
struct Io<'a> {
    sockets: &'a [Bound],
    udp: &'a mut Udp,
    counters: &'a mut DriverStats,
    files: &'a mut Router,
}

impl Io<'_> {
    /// Publishes the layers' events (file data to its transfers first:
    /// what the router does in turn may queue packets), then sends
    /// everything the layers queued, runs for one destination together.
    async fn flush(&mut self, stack: &mut Stack, events: &mut Events) {
        let now = now();
        self.route_events(stack, events, now);
        self.send_transmits(stack, now).await;
        // Sending numbered queued file chunks: their room is refilled now
        // (chunks the application already gave go out at once), not at
        // the next acknowledgement.
        if stack.pump_files(now) {
            self.route_events(stack, events, now);
            self.send_transmits(stack, now).await;
        }
    }

    /// Hands the stack's events to the file router and the application.
    fn route_events(&mut self, stack: &mut Stack, events: &mut Events, now: std::time::Instant) {
        while let Some(event) = stack.poll_event() {
            if let Some(event) = self.files.route(stack, now, event) {
                events.publish(event);
            }
        }
        events.deliver();
    }

    /// Sends every datagram the stack has, in runs.
    async fn send_transmits(&mut self, stack: &mut Stack, now: std::time::Instant) {
        while let Some(run) = self.udp.next_run(self.sockets, self.counters, stack, now) {
            let Some(bound) = self.sockets.get(run.socket) else {
                continue;
            };
            let result = bound
                .socket
                .send(run.target, run.contents, run.segment)
                .await;
            run.count(self.counters, result);
        }
    }
}

/// Waits until a socket may have datagrams, trying them in turn from
/// `first`; returns its index. Cancel-safe: nothing is read here.
async fn readable_any(sockets: &[Bound], first: usize) -> usize {
    let count = sockets.len();
    poll_fn(|cx| {
        for k in 0..count {
            let index = first.wrapping_add(k) % count;
            let Some(bound) = sockets.get(index) else {
                continue;
            };
            // An error is ready too: the read reports it.
            if bound.socket.poll_recv_ready(cx).is_ready() {
                return Poll::Ready(index);
            }
        }
        Poll::Pending
    })
    .await
}

/// The next item of `rx`, or never without one.
async fn recv_some<T>(rx: Option<&mut mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
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
