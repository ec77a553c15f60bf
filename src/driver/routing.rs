//! Which UDP socket a datagram goes out of and what one that came in
//! counts for: shared by the tokio [`super::Driver`] and the synchronous
//! [`crate::sync_driver::SyncDriver`], which differ only in how they wait
//! for their sockets.
//!
//! Replies leave from the socket the peer last talked to (a peer that
//! knows us by one port must hear from that port), else from the first
//! socket of the destination's family. Outgoing datagrams are gathered
//! into runs for one destination that a GSO send carries in one system
//! call (see [`super::udp`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use toxide_core::packed_node::canonical_ip;
use toxide_dht::Transmit;

use super::DriverStats;
use super::udp::{BatchSocket, MAX_GSO_BYTES, UdpIo};
use crate::stack::Stack;

/// Remote addresses whose arrival socket is remembered (for replying on the
/// socket a peer used); beyond it the table is cleared, as memory must not
/// grow with the number of addresses a flood comes from.
const MAX_REMEMBERED_SOURCES: usize = 65_536;

/// One bound socket: a tokio one (the default) or a non-blocking std one.
#[derive(Debug)]
pub(crate) struct Bound<S = tokio::net::UdpSocket> {
    pub(crate) socket: BatchSocket<S>,
    pub(crate) local: SocketAddr,
    /// An IPv6 socket that also carries IPv4 (as IPv4-mapped addresses).
    pub(crate) dual_stack: bool,
}

impl<S> Bound<S> {
    /// Whether this socket can send to `to`, and the address to use.
    pub(crate) fn target(&self, to: SocketAddr) -> Option<SocketAddr> {
        match (self.local.is_ipv4(), to.ip()) {
            (true, IpAddr::V4(_)) | (false, IpAddr::V6(_)) => Some(to),
            (false, IpAddr::V4(v4)) if self.dual_stack => {
                Some(SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), to.port()))
            }
            _ => None,
        }
    }
}

/// The routing state both drivers keep beside their sockets.
#[derive(Debug, Default)]
pub(crate) struct Udp {
    /// Which socket each remote address last arrived on, for those that
    /// arrived on another socket than [`Udp::route`] would pick anyway.
    arrived_on: HashMap<SocketAddr, usize>,
    /// Datagrams gathered for one batched send.
    run: Run,
    /// The datagram that ended the last run: it starts the next one.
    held: Option<(usize, SocketAddr, Vec<u8>)>,
}

/// A run ready to send: `contents` to `target` from socket `socket`, in
/// datagrams of `segment` bytes (the last may be shorter), `count` of them.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    pub(crate) socket: usize,
    pub(crate) target: SocketAddr,
    pub(crate) contents: &'a [u8],
    pub(crate) segment: usize,
    pub(crate) count: usize,
}

impl Udp {
    /// Counts a datagram that arrived on socket `index` and hands it to
    /// the stack.
    pub(crate) fn received<S>(
        &mut self,
        sockets: &[Bound<S>],
        counters: &mut DriverStats,
        stack: &mut Stack,
        now: Instant,
        (index, from): (usize, SocketAddr),
        bytes: &[u8],
    ) {
        counters.datagrams_received += 1;
        counters.bytes_received += bytes.len() as u64;
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the DHT
        // stores and hands out plain IPv4 (c-toxcore does the same).
        let from = SocketAddr::new(canonical_ip(from.ip()), from.port());
        // Only peers that arrived on another socket than the one `route`
        // picks anyway are remembered: with one socket (a node's usual
        // set-up) none is, where remembering every source cost a public
        // node 40 bytes and more per address it ever heard from (up to
        // 65,536 of them, megabytes under a flood from many addresses).
        let default = sockets.iter().position(|s| s.target(from).is_some());
        if default == Some(index) {
            if !self.arrived_on.is_empty() {
                self.arrived_on.remove(&from);
            }
        } else {
            if self.arrived_on.len() >= MAX_REMEMBERED_SOURCES
                && !self.arrived_on.contains_key(&from)
            {
                self.arrived_on.clear();
            }
            self.arrived_on.insert(from, index);
        }
        if !stack.handle_datagram(now, from, bytes) {
            counters.unhandled += 1;
            tracing::trace!(id = ?bytes.first(), len = bytes.len(), %from, "no layer here handles this datagram");
        }
    }

    /// The next run of datagrams the stack wants sent, for one
    /// destination; `None` when the stack has no more. The previous run
    /// must have been sent (or given up) by then.
    pub(crate) fn next_run<S: UdpIo>(
        &mut self,
        sockets: &[Bound<S>],
        counters: &mut DriverStats,
        stack: &mut Stack,
        now: Instant,
    ) -> Option<Batch<'_>> {
        self.run.count = 0;
        if let Some((index, target, payload)) = self.held.take() {
            self.run.start(index, target, &payload);
        }
        while let Some(Transmit {
            destination,
            payload,
        }) = stack.poll_transmit(now)
        {
            let Some((index, target)) = self.plan(sockets, counters, destination) else {
                continue;
            };
            let max = sockets.get(index).map_or(1, |b| b.socket.max_segments());
            if self.run.count == 0 {
                self.run.start(index, target, &payload);
            } else if !self.run.try_push(index, target, &payload, max) {
                self.held = Some((index, target, payload));
                break;
            }
        }
        let run = &self.run;
        Some(Batch {
            socket: run.socket,
            target: run.target.filter(|_| run.count > 0)?,
            contents: &run.contents,
            segment: run.segment,
            count: run.count,
        })
    }

    /// The socket for `destination` and the address to use, counting
    /// what no socket can send.
    fn plan<S>(
        &self,
        sockets: &[Bound<S>],
        counters: &mut DriverStats,
        destination: SocketAddr,
    ) -> Option<(usize, SocketAddr)> {
        if sockets.is_empty() {
            counters.udp_disabled_drops += 1;
            return None;
        }
        let route = self.route(sockets, destination);
        if route.is_none() {
            if is_lan_discovery_broadcast(destination.ip()) {
                // LAN discovery goes to both families' broadcast addresses;
                // without a socket of one family that one is skipped, as
                // c-toxcore sends to ff02::1 only from an IPv6 socket.
                tracing::trace!(%destination, "no socket of this family for the LAN broadcast");
            } else {
                counters.send_errors += 1;
                tracing::debug!(%destination, "no bound socket reaches this address family");
            }
        }
        route
    }

    /// The socket to send to `destination` from (its index and the address
    /// to use): the one it last arrived on, else the first that can reach
    /// its family.
    fn route<S>(
        &self,
        sockets: &[Bound<S>],
        destination: SocketAddr,
    ) -> Option<(usize, SocketAddr)> {
        let remembered = self
            .arrived_on
            .get(&destination)
            .and_then(|&i| Some((i, sockets.get(i)?.target(destination)?)));
        remembered.or_else(|| {
            sockets
                .iter()
                .enumerate()
                .find_map(|(i, s)| Some((i, s.target(destination)?)))
        })
    }
}

impl Batch<'_> {
    /// Counts the run as sent, or as failed with `result`'s error.
    pub(crate) fn count(&self, counters: &mut DriverStats, result: std::io::Result<()>) {
        match result {
            Ok(()) => {
                counters.datagrams_sent += self.count as u64;
                counters.bytes_sent += self.contents.len() as u64;
            }
            Err(error) => {
                counters.send_errors += self.count as u64;
                tracing::debug!(%error, destination = %self.target, "UDP send failed");
            }
        }
    }
}

/// Consecutive datagrams for one destination that go out in one system
/// call: all `segment` bytes long but the last, which may be shorter
/// (what `UDP_SEGMENT` takes).
#[derive(Debug, Default)]
struct Run {
    socket: usize,
    target: Option<SocketAddr>,
    contents: Vec<u8>,
    segment: usize,
    count: usize,
    /// A shorter datagram ended the run.
    closed: bool,
}

impl Run {
    /// Adds `datagram` if it can join the run.
    fn try_push(&mut self, socket: usize, target: SocketAddr, datagram: &[u8], max: usize) -> bool {
        let joins = self.count > 0
            && self.socket == socket
            && self.target == Some(target)
            && !self.closed
            && datagram.len() <= self.segment
            && self.count < max
            && self.contents.len() + datagram.len() <= MAX_GSO_BYTES;
        if joins {
            self.contents.extend_from_slice(datagram);
            self.count += 1;
            self.closed = datagram.len() < self.segment;
        }
        joins
    }

    fn start(&mut self, socket: usize, target: SocketAddr, datagram: &[u8]) {
        self.socket = socket;
        self.target = Some(target);
        self.contents.clear();
        self.contents.extend_from_slice(datagram);
        self.segment = datagram.len();
        self.count = 1;
        self.closed = false;
    }
}

/// Whether `ip` is one of the LAN discovery broadcast destinations.
pub(crate) fn is_lan_discovery_broadcast(ip: IpAddr) -> bool {
    toxide_dht::lan::LAN_DISCOVERY_DESTINATIONS.contains(&ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::setup::bind_socket;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn targets_follow_the_socket_family() {
        let v4: SocketAddr = (Ipv4Addr::LOCALHOST, 7).into();
        let v6: SocketAddr = (Ipv6Addr::LOCALHOST, 7).into();
        let sock4 = Bound {
            socket: BatchSocket::new(
                bind_socket((Ipv4Addr::LOCALHOST, 0).into(), false, false).unwrap(),
                false,
            ),
            local: (Ipv4Addr::LOCALHOST, 1).into(),
            dual_stack: false,
        };
        assert_eq!(sock4.target(v4), Some(v4));
        assert_eq!(sock4.target(v6), None);
        let Ok(socket) = bind_socket((Ipv6Addr::UNSPECIFIED, 0).into(), true, false) else {
            return; // no IPv6 on this machine
        };
        let sock6 = Bound {
            socket: BatchSocket::new(socket, false),
            local: (Ipv6Addr::UNSPECIFIED, 1).into(),
            dual_stack: true,
        };
        assert_eq!(sock6.target(v6), Some(v6));
        let mapped: SocketAddr = (Ipv4Addr::LOCALHOST.to_ipv6_mapped(), 7).into();
        assert_eq!(sock6.target(v4), Some(mapped));
    }
}
