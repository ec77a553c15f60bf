//! The shared-socket flood: a few dozen source sockets, each sending the
//! requests of its keys with a window of requests in flight. The sockets
//! are watched with epoll (tokio's reactor), so the flood costs far less
//! CPU than the server it floods.
//!
//! Closed loop: each socket keeps at most `window` requests in flight, so
//! the figure is what the server answers and not what the kernel drops. A
//! request unanswered after the loss timeout is given up on and its slot
//! reused; an answer that still comes counts ("late"). Every response is
//! decrypted and its request id checked; only those count.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::task::Poll;
use std::time::{Duration, Instant};

use toxide_core::{Decode, PublicKey};
use toxide_dht::packet::NodesResponse;

use crate::requests::Request;
use crate::server::Server;
use crate::system::{Env, Snapshot, check_interrupted};
use crate::{BoxError, MAX_DATAGRAM, Result};

/// Overdue requests remembered per socket (see [`Flow::overdue`]).
const OVERDUE_KEPT: usize = 1024;

/// Where each socket's next request comes from.
pub(crate) enum Source<'a> {
    /// Socket `i` sends the pool requests of the keys `k` with
    /// `k % sockets == i`, in turn: a key always comes from one address.
    Pool(&'a [Request]),
    /// All sockets take the next request of the list: a new key each time.
    Fresh(&'a [Request], usize),
}

/// One source socket of the flood.
pub(crate) struct Flow {
    /// Watched by the runtime's reactor, read with `try_recv`.
    pub(crate) socket: tokio::net::UdpSocket,
    /// The same socket, for sends (which need no readiness).
    pub(crate) sender: UdpSocket,
    /// Requests sent and not yet answered: index into the request list and
    /// when they left, oldest first.
    pub(crate) in_flight: VecDeque<(usize, Instant)>,
    /// Requests given up on after the loss timeout, oldest first: kept for
    /// a while, so an answer that comes late still counts.
    pub(crate) overdue: VecDeque<usize>,
    /// Every request in `in_flight` or `overdue`: a packet is not sent
    /// again while an earlier copy may still be answered, as the two
    /// answers could not be told apart.
    pub(crate) outstanding: HashSet<usize>,
    /// The requests this socket sends in the pool scenario.
    pub(crate) own: Vec<usize>,
    pub(crate) next_own: usize,
}

impl Flow {
    pub(crate) fn sent(&mut self, index: usize, now: Instant) {
        self.in_flight.push_back((index, now));
        self.outstanding.insert(index);
    }

    /// Moves requests older than `timeout` to the overdue list; returns
    /// how many.
    pub(crate) fn expire(&mut self, now: Instant, timeout: Duration) -> u64 {
        let mut expired = 0;
        while let Some(&(index, sent)) = self.in_flight.front() {
            if now.saturating_duration_since(sent) < timeout {
                break;
            }
            self.in_flight.pop_front();
            if self.overdue.len() >= OVERDUE_KEPT {
                if let Some(old) = self.overdue.pop_front() {
                    self.outstanding.remove(&old);
                }
            }
            self.overdue.push_back(index);
            expired += 1;
        }
        expired
    }

    /// Whether request `index` may be sent now. An overdue copy is given
    /// up for good (with the overdue requests older than it); a copy in
    /// flight is waited for.
    pub(crate) fn reusable(&mut self, index: usize) -> bool {
        if !self.outstanding.contains(&index) {
            return true;
        }
        let Some(pos) = self.overdue.iter().position(|&i| i == index) else {
            return false;
        };
        for old in self.overdue.drain(..=pos) {
            self.outstanding.remove(&old);
        }
        true
    }
}

/// How one flood run went, counted over the measured window.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) sent: u64,
    pub(crate) verified: u64,
    pub(crate) nodes: u64,
    pub(crate) lost: u64,
    /// Of those, answered after all (and counted as verified).
    pub(crate) late: u64,
    /// Nodes responses that matched no request in flight (too late, or not
    /// valid).
    pub(crate) unmatched: u64,
    /// Other datagrams (the server's pings).
    pub(crate) other: u64,
    pub(crate) send_errors: u64,
    pub(crate) recv_errors: u64,
}

impl Counts {
    pub(crate) fn minus(&self, before: &Self) -> Self {
        Self {
            sent: self.sent - before.sent,
            verified: self.verified - before.verified,
            nodes: self.nodes - before.nodes,
            lost: self.lost - before.lost,
            late: self.late - before.late,
            unmatched: self.unmatched - before.unmatched,
            other: self.other - before.other,
            send_errors: self.send_errors - before.send_errors,
            recv_errors: self.recv_errors - before.recv_errors,
        }
    }
}

/// A flood run's shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) sockets: usize,
    pub(crate) window: usize,
    pub(crate) warmup: Duration,
    pub(crate) measure: Duration,
    pub(crate) loss_timeout: Duration,
}

/// A measured run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    pub(crate) shape: Shape,
    /// Most requests in flight at once.
    pub(crate) in_flight: usize,
    pub(crate) counts: Counts,
    pub(crate) wall: Duration,
    pub(crate) server_cpu: Duration,
    /// This process's CPU time.
    pub(crate) client_cpu: Duration,
    /// Time other processes ran on the server's core.
    pub(crate) server_core_others: Duration,
    /// Time the hypervisor took from the server's core.
    pub(crate) server_core_steal: Duration,
    /// Time other processes ran on the flood's core.
    pub(crate) client_core_others: Duration,
    /// Datagrams the kernel dropped for full receive buffers (any socket).
    pub(crate) kernel_drops: u64,
}

impl Measured {
    /// The run measured between two snapshots.
    pub(crate) fn between(
        shape: Shape,
        in_flight: usize,
        counts: Counts,
        start: &Snapshot,
        end: &Snapshot,
    ) -> Self {
        let server_cpu = end.server.saturating_sub(start.server);
        let client_cpu = end.client.saturating_sub(start.client);
        let server_core_busy = end.server_core.busy.saturating_sub(start.server_core.busy);
        let client_core_busy = end.client_core.busy.saturating_sub(start.client_core.busy);
        Self {
            shape,
            in_flight,
            counts,
            wall: end.at.saturating_duration_since(start.at),
            server_cpu,
            client_cpu,
            server_core_others: server_core_busy.saturating_sub(server_cpu),
            server_core_steal: end
                .server_core
                .steal
                .saturating_sub(start.server_core.steal),
            client_core_others: client_core_busy.saturating_sub(client_cpu),
            kernel_drops: end.kernel_drops.saturating_sub(start.kernel_drops),
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        self.counts.verified as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    pub(crate) fn offered(&self) -> f64 {
        self.counts.sent as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    pub(crate) fn per_cpu_second(&self) -> f64 {
        let cpu = self.server_cpu.as_secs_f64();
        if cpu > 0.0 {
            self.counts.verified as f64 / cpu
        } else {
            f64::NAN
        }
    }
    pub(crate) fn busy(&self) -> f64 {
        self.server_cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
    pub(crate) fn share(&self, time: Duration) -> f64 {
        time.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
    /// Server busy, others and steal on its core, flood busy, others on
    /// its core.
    pub(crate) fn load(&self) -> String {
        format!(
            "server busy {:.0}% (others on its core {:.0}%, steal {:.0}%), flood busy {:.0}% (others {:.0}%)",
            self.busy() * 100.0,
            self.share(self.server_core_others) * 100.0,
            self.share(self.server_core_steal) * 100.0,
            self.share(self.client_cpu) * 100.0,
            self.share(self.client_core_others) * 100.0,
        )
    }
    /// The larger share of either core that other processes (or the
    /// hypervisor) took.
    pub(crate) fn noise(&self) -> f64 {
        self.share(self.server_core_others + self.server_core_steal)
            .max(self.share(self.client_core_others))
    }
    /// Requests timed out and never answered.
    pub(crate) fn unanswered(&self) -> u64 {
        self.counts.lost.saturating_sub(self.counts.late)
    }
    pub(crate) fn nodes_per_response(&self) -> f64 {
        self.counts.nodes as f64 / (self.counts.verified as f64).max(1.0)
    }
}

pub(crate) fn make_flows(
    shape: &Shape,
    server: SocketAddr,
    source: &Source<'_>,
) -> Result<Vec<Flow>> {
    let mut flows = Vec::with_capacity(shape.sockets);
    for i in 0..shape.sockets {
        let sender = UdpSocket::bind("127.0.0.1:0")?;
        sender.connect(server)?;
        sender.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(sender.try_clone()?)?;
        let own = match source {
            Source::Pool(requests) => requests
                .iter()
                .enumerate()
                .filter(|(_, r)| r.key % shape.sockets == i)
                .map(|(index, _)| index)
                .collect(),
            Source::Fresh(..) => Vec::new(),
        };
        flows.push(Flow {
            socket,
            sender,
            in_flight: VecDeque::with_capacity(shape.window),
            overdue: VecDeque::new(),
            outstanding: HashSet::new(),
            own,
            next_own: 0,
        });
    }
    Ok(flows)
}

/// Checks a datagram against the requests outstanding on its socket and
/// counts it: a verified answer (decrypted, request id echoed), another
/// packet (the server's pings), or an answer to nothing outstanding.
pub(crate) fn receive(
    flow: &mut Flow,
    bytes: &[u8],
    requests: &[Request],
    server_pk: &PublicKey,
    counts: &mut Counts,
) {
    if bytes.first() != Some(&NodesResponse::ID) {
        counts.other += 1;
        return;
    }
    let Ok(response) = NodesResponse::from_bytes(bytes) else {
        counts.unmatched += 1;
        return;
    };
    if response.sender_pk != *server_pk {
        counts.unmatched += 1;
        return;
    }
    // The nodes in the response, if it answers request `index`.
    let answers = |index: usize| {
        let request = requests.get(index)?;
        let payload = response.open(&request.shared).ok()?;
        (payload.request_id() == request.request_id).then(|| payload.nodes().len())
    };
    // The server answers one socket's requests in the order they were
    // sent, so they are tried oldest first (overdue ones, then those in
    // flight) and every request before the one answered was dropped: it is
    // let go, which keeps the trials to about one per request.
    let overdue = flow.overdue.len();
    let requests_in_order = flow
        .overdue
        .iter()
        .copied()
        .chain(flow.in_flight.iter().map(|&(index, _)| index));
    let Some((pos, nodes)) = requests_in_order
        .enumerate()
        .find_map(|(pos, index)| answers(index).map(|nodes| (pos, nodes)))
    else {
        counts.unmatched += 1;
        return;
    };
    if pos < overdue {
        // Those before it were counted lost already.
        for index in flow.overdue.drain(..=pos) {
            flow.outstanding.remove(&index);
        }
        counts.late += 1;
    } else {
        for index in flow.overdue.drain(..) {
            flow.outstanding.remove(&index);
        }
        let pos = pos - overdue;
        counts.lost += pos as u64;
        for (index, _) in flow.in_flight.drain(..=pos) {
            flow.outstanding.remove(&index);
        }
    }
    counts.verified += 1;
    counts.nodes += nodes as u64;
}

/// Floods the server from fresh sockets and measures the window after the
/// warm-up. The sockets are watched through the runtime's reactor (epoll),
/// so only sockets with datagrams waiting are read: polling idle sockets
/// would make this process, not the server, the bottleneck.
pub(crate) fn flood(
    env: &Env,
    server: &mut Server,
    server_pk: &PublicKey,
    source: &mut Source<'_>,
    shape: Shape,
) -> Result<Measured> {
    server.check_alive()?;
    let requests: &[Request] = match *source {
        Source::Pool(r) | Source::Fresh(r, _) => r,
    };
    if requests.is_empty() {
        return Err("no requests to send".into());
    }
    let server_ref: &Server = server;
    let (counts, start, end) = env.rt.block_on(async {
        let mut flows = make_flows(&shape, server_ref.addr, &*source)?;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut counts = Counts::default();
        let started = Instant::now();
        let measure_from = started + shape.warmup;
        let measure_to = measure_from + shape.measure;
        let mut at_start: Option<(Counts, Snapshot)> = None;
        // Wakes the loop at least this often: loss timeouts, phase ends.
        let mut ticker = tokio::time::interval(Duration::from_millis(2));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        std::future::poll_fn(|cx| {
            if let Err(e) = check_interrupted() {
                return Poll::Ready(Err(e));
            }
            let now = Instant::now();
            if at_start.is_none() && now >= measure_from {
                match env.snapshot(server_ref) {
                    Ok(snapshot) => at_start = Some((counts, snapshot)),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if now >= measure_to {
                return Poll::Ready(Ok(()));
            }
            for flow in &mut flows {
                loop {
                    match flow.socket.poll_recv_ready(cx) {
                        Poll::Ready(Ok(())) => match flow.socket.try_recv(&mut buf) {
                            Ok(len) => {
                                let bytes = buf.get(..len).unwrap_or_default();
                                receive(flow, bytes, requests, server_pk, &mut counts);
                            }
                            // Readiness cleared: the next poll registers us.
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(_) => {
                                counts.recv_errors += 1;
                                break;
                            }
                        },
                        Poll::Ready(Err(_)) => {
                            counts.recv_errors += 1;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
                counts.lost += flow.expire(now, shape.loss_timeout);
                while flow.in_flight.len() < shape.window {
                    let index = match source {
                        Source::Pool(_) => {
                            let Some(&index) = flow.own.get(flow.next_own % flow.own.len().max(1))
                            else {
                                break;
                            };
                            flow.next_own = flow.next_own.wrapping_add(1);
                            index
                        }
                        Source::Fresh(list, cursor) => {
                            let index = *cursor % list.len().max(1);
                            *cursor = cursor.wrapping_add(1);
                            index
                        }
                    };
                    let Some(request) = requests.get(index) else {
                        break;
                    };
                    if !flow.reusable(index) {
                        break;
                    }
                    match flow.sender.send(&request.packet) {
                        Ok(_) => {
                            counts.sent += 1;
                            flow.sent(index, now);
                        }
                        // The ticker brings us back.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            counts.send_errors += 1;
                            break;
                        }
                    }
                }
            }
            while ticker.poll_tick(cx).is_ready() {}
            Poll::Pending
        })
        .await?;
        let end = env.snapshot(server_ref)?;
        let (before, start) = at_start.ok_or("the measured window never started")?;
        Ok::<_, BoxError>((counts.minus(&before), start, end))
    })?;
    server.check_alive()?;
    Ok(Measured::between(
        shape,
        shape.window * shape.sockets,
        counts,
        &start,
        &end,
    ))
}
