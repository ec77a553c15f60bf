//! A driver for the sans-IO [`Stack`] without tokio: non-blocking std
//! sockets, moved on by the caller's thread. It exists for the C API,
//! whose programs call `tox_iterate` in a loop of their own and sleep
//! `tox_iteration_interval()` between calls; [`SyncDriver::iterate`] is
//! one such turn and [`SyncDriver::iteration_interval`] the sleep (see
//! [`pace`] for the policy).
//!
//! It shares with the tokio [`crate::driver::Driver`] everything but the
//! waiting: the configuration, the sockets' set-up and the stack's
//! construction (`driver::setup`), the routing of datagrams to sockets and
//! the counters (`driver::routing`), the batched UDP system calls
//! (`driver::udp`: recvmmsg, and GSO runs) and the proxy exchange
//! (`driver::proxy::Handshake`). How it differs:
//!
//! - Nothing blocks. Each turn reads the UDP sockets and the relay sockets
//!   until they would block or a budget runs out ([`MAX_DATAGRAMS`],
//!   `relay::READS_PER_TURN`), so a flood cannot hold the caller; what is
//!   left is read next turn, and the interval is zero until then.
//! - A full UDP send buffer loses the datagrams (counted in
//!   `send_errors`) where the tokio driver waits for room: a turn must not
//!   wait, and UDP loses datagrams on the path anyway (net_crypto resends).
//! - Events are handed out whole each turn, so the lossless event channel
//!   and its backpressure have no counterpart: the caller takes them all.
//! - No file router: the C API deals in file chunks itself.
//! - Relay connections are state machines in `relay`, not tasks.
//!
//! Time is always passed in, as in the stack, so tests can drive it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide_core::{PublicKey, ToxId};

use crate::driver::routing::{Bound, Udp};
use crate::driver::setup;
use crate::driver::udp::RecvBuffer;
use crate::driver::{DriverConfig, DriverError, DriverStats};
use crate::stack::{Stack, StackEvent};

pub mod pace;
mod relay;

use pace::Pace;
use relay::RelaySockets;

/// Datagrams read per turn, over all UDP sockets: about 1.4 MB, a few
/// milliseconds of work. Checked per batch, so a turn may read up to one
/// batch (32 datagrams) more.
pub const MAX_DATAGRAMS: usize = 1_000;

/// The stack on non-blocking std sockets, moved on by
/// [`SyncDriver::iterate`] (see the module doc).
#[derive(Debug)]
pub struct SyncDriver {
    stack: Stack,
    sockets: Vec<Bound<std::net::UdpSocket>>,
    buffers: Vec<RecvBuffer>,
    local_addrs: Vec<SocketAddr>,
    tox_id: Option<ToxId>,
    udp: Udp,
    relays: RelaySockets,
    counters: DriverStats,
    /// Events not yet handed out, oldest first.
    pending: Vec<StackEvent>,
    pace: Pace,
    /// Which socket is read first next turn, so a busy one cannot starve
    /// the others.
    next_socket: usize,
    /// [`SyncDriver::shutdown`] was called.
    ended: bool,
}

impl SyncDriver {
    /// Binds sockets and builds the stack from the same config the tokio
    /// driver takes.
    pub fn bind(config: DriverConfig) -> Result<Self, DriverError> {
        let sockets = setup::bind_all(&config, Ok)?;
        let proxy = config.proxy;
        let ports = sockets.iter().map(|b| b.local.port());
        let (stack, tox_id) = setup::build_stack(config, ports, Instant::now());
        Ok(Self {
            stack,
            buffers: sockets
                .iter()
                .map(|b| RecvBuffer::for_socket(&b.socket))
                .collect(),
            local_addrs: sockets.iter().map(|b| b.local).collect(),
            sockets,
            tox_id,
            udp: Udp::default(),
            relays: RelaySockets::new(proxy),
            counters: DriverStats::default(),
            pending: Vec::new(),
            pace: Pace::default(),
            next_socket: 0,
            ended: false,
        })
    }

    /// The DHT key.
    pub fn public_key(&self) -> PublicKey {
        self.stack.dht.public_key()
    }

    /// The client's Tox ID (`None` on a bootstrap node).
    pub fn tox_id(&self) -> Option<ToxId> {
        self.tox_id
    }

    /// The bound UDP addresses, with the real ports (none with UDP off).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The stack, to read.
    pub fn stack_ref(&self) -> &Stack {
        &self.stack
    }

    /// The stack, to change; call [`SyncDriver::flush`] afterwards.
    pub fn stack(&mut self) -> &mut Stack {
        &mut self.stack
    }

    /// Sends what the stack queued (datagrams, relay connects, closes and
    /// writes) and keeps its events for the next [`SyncDriver::iterate`].
    /// Counts as session traffic for the interval (see [`pace`]): call it
    /// after changing the stack, not after reading it.
    pub fn flush(&mut self, now: Instant) {
        self.pace.traffic(now);
        if !self.ended {
            self.send(now);
        }
    }

    /// One turn: reads what the sockets have (within budgets), runs due
    /// timers, sends what the stack queued; then hands out every pending
    /// event, oldest first. Never blocks.
    pub fn iterate(&mut self, now: Instant) -> Vec<StackEvent> {
        if self.ended {
            return std::mem::take(&mut self.pending);
        }
        let udp_left = self.read_udp(now);
        let relays_left = self.relays.poll(&mut self.stack, now);
        if self.stack.poll_timeout(now).is_some_and(|due| due <= now) {
            self.stack.handle_timeout(now);
        }
        self.send(now);
        self.pace.left_over = udp_left || relays_left;
        let events = std::mem::take(&mut self.pending);
        self.pace.saw(now, &events);
        events
    }

    /// How long the caller may sleep before the next
    /// [`SyncDriver::iterate`]: until the stack's next timer or a relay's
    /// connect deadline, at most a cap set by how recently session traffic
    /// moved, and zero while a turn left work behind (see [`pace`]).
    pub fn iteration_interval(&self, now: Instant) -> Duration {
        let next = [self.stack.poll_timeout(now), self.relays.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        self.pace.interval(now, next, self.relays.busy())
    }

    /// The counters, the same as the tokio driver's.
    pub fn stats(&self) -> DriverStats {
        self.counters.with_layers(&self.stack)
    }

    /// Ends as the tokio driver does: friends are told at once (kill
    /// packets), what that queued is sent, then every socket closes.
    /// Later turns only hand out what is pending.
    pub fn shutdown(&mut self, now: Instant) {
        self.stack.end_sessions(now);
        self.send(now);
        self.relays.close_all();
        self.sockets.clear();
        self.buffers.clear();
        self.ended = true;
    }

    /// Moves the stack's events to the pending queue and sends what it
    /// queued; then refills numbered file chunks' room (as the tokio
    /// driver does) and sends again.
    fn send(&mut self, now: Instant) {
        self.send_once(now);
        if self.stack.pump_files(now) {
            self.send_once(now);
        }
    }

    fn send_once(&mut self, now: Instant) {
        self.pending
            .extend(std::iter::from_fn(|| self.stack.poll_event()));
        let Self {
            stack,
            sockets,
            udp,
            counters,
            ..
        } = self;
        while let Some(run) = udp.next_run(sockets, counters, stack, now) {
            let Some(bound) = sockets.get(run.socket) else {
                continue;
            };
            let result = bound.socket.try_send(run.target, run.contents, run.segment);
            run.count(counters, result);
        }
        self.relays.flush(&mut self.stack, now);
        // Relay events (a connection up or down) come out of the flush.
        self.pending
            .extend(std::iter::from_fn(|| self.stack.poll_event()));
    }

    /// Reads the UDP sockets in turn until each would block or
    /// [`MAX_DATAGRAMS`] were read; `true` when the budget ran out.
    fn read_udp(&mut self, now: Instant) -> bool {
        let Self {
            stack,
            sockets,
            buffers,
            udp,
            counters,
            next_socket,
            ..
        } = self;
        let count = sockets.len();
        let mut budget = MAX_DATAGRAMS;
        for k in 0..count {
            let index = next_socket.wrapping_add(k) % count;
            let (Some(bound), Some(buffer)) = (sockets.get(index), buffers.get_mut(index)) else {
                continue;
            };
            loop {
                if budget == 0 {
                    *next_socket = index;
                    return true;
                }
                match bound.socket.try_recv(buffer) {
                    Ok(()) => {
                        for (from, bytes) in buffer.datagrams() {
                            udp.received(sockets, counters, stack, now, (index, from), bytes);
                            budget = budget.saturating_sub(1);
                        }
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(error) => {
                        // ICMP errors and the like: counted, and the
                        // budget bounds a socket that keeps failing.
                        counters.recv_errors += 1;
                        budget -= 1;
                        tracing::debug!(%error, socket = index, "UDP receive failed");
                    }
                }
            }
        }
        *next_socket = next_socket.wrapping_add(1) % count.max(1);
        false
    }
}
