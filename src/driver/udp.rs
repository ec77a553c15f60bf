//! Batched UDP: many datagrams per system call.
//!
//! A session at 150 MB/s moves about 110,000 datagrams a second each way.
//! One `sendto` and one `recvfrom` per datagram cost the driver more than
//! the cryptography does (on loopback the sender's `sendto` also runs the
//! receiver's half of the network stack). On Linux the driver therefore
//! hands the kernel a run of equal-sized datagrams for one destination in
//! one `sendmsg` with `UDP_SEGMENT` (GSO), and reads with `recvmmsg` into
//! [`RECV_BATCH`] buffers on a socket with `UDP_GRO` on, where one buffer
//! holds up to 64 datagrams of one sender coalesced by the kernel.
//!
//! Why nix and not quinn-udp: quinn-udp's socket setup forbids
//! fragmentation (`IP_PMTUDISC_PROBE`, `IPV6_DONTFRAG`). Tox datagrams are
//! up to ~1.45 KB on the wire and c-toxcore lets the kernel fragment them,
//! so a path with a smaller MTU (WireGuard's 1420) still works for it;
//! with quinn-udp's options toxide's sends there would fail. nix wraps the
//! same system calls safely and leaves the socket's defaults alone. GSO is
//! only an optimisation: a GSO send the kernel refuses (EINVAL when a
//! segment exceeds the route's MTU, EIO where a device cannot segment)
//! turns GSO off for that socket and the run goes out datagram by datagram.
//!
//! Elsewhere than Linux the same interface sends and receives one datagram
//! per call.
//!
//! [`BatchSocket`] wraps a tokio socket for the tokio driver or a
//! non-blocking std socket for the synchronous one
//! ([`crate::sync_driver`]): the system calls and the GSO fallback are the
//! same, only waiting for readiness differs.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// A non-blocking UDP socket as the batching needs it: the two
/// single-datagram calls (for where the kernel batches nothing), and on
/// Linux its descriptor for the batched calls. Implemented by tokio's
/// socket and by a std socket set non-blocking.
pub(crate) trait UdpIo: AsFdIfLinux {
    /// Sends one datagram now or fails with `WouldBlock`.
    fn send_to_now(&self, datagram: &[u8], to: SocketAddr) -> io::Result<usize>;
    /// Receives one datagram now or fails with `WouldBlock`.
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    fn recv_from_now(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
}

/// `AsFd` where the batched system calls need a descriptor, nothing
/// elsewhere.
#[cfg(target_os = "linux")]
pub(crate) trait AsFdIfLinux: std::os::fd::AsFd {}
#[cfg(target_os = "linux")]
impl<T: std::os::fd::AsFd> AsFdIfLinux for T {}
/// `AsFd` where the batched system calls need a descriptor, nothing
/// elsewhere.
#[cfg(not(target_os = "linux"))]
pub(crate) trait AsFdIfLinux {}
#[cfg(not(target_os = "linux"))]
impl<T> AsFdIfLinux for T {}

impl UdpIo for UdpSocket {
    fn send_to_now(&self, datagram: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.try_send_to(datagram, to)
    }

    fn recv_from_now(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.try_recv_from(buffer)
    }
}

impl UdpIo for std::net::UdpSocket {
    fn send_to_now(&self, datagram: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.send_to(datagram, to)
    }

    fn recv_from_now(&self, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buffer)
    }
}

use super::MAX_UDP_PACKET_SIZE;

/// Receive buffers filled per system call.
pub(crate) const RECV_BATCH: usize = 32;

/// Most datagrams in one GSO send (the kernel's `UDP_MAX_SEGMENTS` is 64
/// on older kernels, 128 on newer).
pub(crate) const MAX_GSO_SEGMENTS: usize = 64;

/// Most bytes in one GSO send: the largest UDP payload over IPv4.
pub(crate) const MAX_GSO_BYTES: usize = 65_507;

/// A coalesced receive buffer holds at most one IP packet's worth.
const GRO_BUFFER: usize = 65_536;

/// One bound UDP socket with the batching it supports: a tokio socket
/// (the default) or a non-blocking std one.
#[derive(Debug)]
pub(crate) struct BatchSocket<S = UdpSocket> {
    socket: S,
    /// Most datagrams per send: [`MAX_GSO_SEGMENTS`] with GSO, 1 without
    /// (or after the kernel refused a GSO send).
    max_segments: AtomicUsize,
    /// Whether the kernel coalesces received datagrams (`UDP_GRO`).
    gro: bool,
}

/// Received datagrams: the buffers of one batch and where each datagram
/// lies in them.
#[derive(Debug)]
pub(crate) struct RecvBuffer {
    buf: Vec<u8>,
    slot: usize,
    datagrams: Vec<(SocketAddr, usize, usize)>,
}

impl RecvBuffer {
    /// Buffers for `socket`: large enough for coalesced datagrams when the
    /// kernel coalesces. The memory is only touched where datagrams land.
    pub(crate) fn for_socket<S>(socket: &BatchSocket<S>) -> Self {
        let slot = if socket.gro {
            GRO_BUFFER
        } else {
            MAX_UDP_PACKET_SIZE
        };
        Self {
            buf: vec![0; slot * RECV_BATCH],
            slot,
            datagrams: Vec::with_capacity(RECV_BATCH),
        }
    }

    /// The datagrams of the last batch, each with its sender.
    pub(crate) fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.datagrams.iter().filter_map(|&(from, start, len)| {
            Some((from, self.buf.get(start..start.checked_add(len)?)?))
        })
    }

    /// Records a buffer of `len` bytes at `start` from `from`, split into
    /// datagrams of `stride` bytes (the last may be shorter) when the
    /// kernel coalesced several.
    fn push(&mut self, from: SocketAddr, start: usize, len: usize, stride: Option<usize>) {
        if len == 0 {
            // An empty datagram is still one (and counted as junk).
            self.datagrams.push((from, start, 0));
            return;
        }
        let stride = stride.filter(|&s| s > 0).unwrap_or(len).max(1);
        let mut offset = 0;
        while offset < len {
            let piece = stride.min(len - offset);
            self.datagrams.push((from, start + offset, piece));
            offset += piece;
        }
    }
}

impl<S: UdpIo> BatchSocket<S> {
    /// Wraps a bound non-blocking socket and turns on what the kernel
    /// offers. `gro`: ask for coalesced receives, worth it where bulk data
    /// arrives (a client), not on a bootstrap node, whose receive buffers
    /// it would make 32 times larger.
    pub(crate) fn new(socket: S, gro: bool) -> Self {
        let (max_segments, gro) = sys::enable(&socket, gro);
        Self {
            socket,
            max_segments: AtomicUsize::new(max_segments),
            gro,
        }
    }

    /// The socket itself.
    #[cfg(test)]
    pub(crate) fn socket(&self) -> &S {
        &self.socket
    }

    /// Most datagrams one send may carry.
    pub(crate) fn max_segments(&self) -> usize {
        self.max_segments.load(Ordering::Relaxed)
    }

    /// Reads one batch into `buffer` now (`WouldBlock` when nothing is
    /// there), without telling any reactor.
    fn recv_now(&self, buffer: &mut RecvBuffer) -> io::Result<()> {
        buffer.datagrams.clear();
        sys::recv(&self.socket, buffer)
    }

    /// Sends a run (see [`BatchSocket::send`]) in one try: `WouldBlock`
    /// when the socket's buffer is full. A GSO send the kernel refuses
    /// turns GSO off and goes out datagram by datagram (the tokio side
    /// waits for room between them, so it gets them back as `Err`).
    fn send_now(&self, to: SocketAddr, contents: &[u8], segment: usize) -> Result<(), Unsent> {
        if segment >= contents.len() || segment == 0 {
            return self
                .socket
                .send_to_now(contents, to)
                .map(drop)
                .map_err(Unsent::Io);
        }
        match sys::send_segments(&self.socket, to, contents, segment) {
            Err(error) if sys::refuses_gso(&error) => {
                self.max_segments.store(1, Ordering::Relaxed);
                tracing::debug!(%error, %to, "the kernel refused a GSO send; sending datagrams one by one");
                Err(Unsent::OneByOne)
            }
            other => other.map_err(Unsent::Io),
        }
    }
}

/// Why [`BatchSocket::send_now`] sent nothing.
#[derive(Debug)]
enum Unsent {
    /// The socket failed (or, `WouldBlock`, was full).
    Io(io::Error),
    /// GSO was refused (and is now off): send each datagram.
    OneByOne,
}

impl BatchSocket<std::net::UdpSocket> {
    /// Reads one batch into `buffer` (`WouldBlock` when nothing is there).
    pub(crate) fn try_recv(&self, buffer: &mut RecvBuffer) -> io::Result<()> {
        self.recv_now(buffer)
    }

    /// Sends `contents` to `to` as [`BatchSocket::send`] does but without
    /// waiting: a full socket buffer is `WouldBlock` and the datagrams
    /// are lost, as UDP loses them anywhere on the path.
    pub(crate) fn try_send(
        &self,
        to: SocketAddr,
        contents: &[u8],
        segment: usize,
    ) -> io::Result<()> {
        match self.send_now(to, contents, segment) {
            Ok(()) => Ok(()),
            Err(Unsent::Io(error)) => Err(error),
            Err(Unsent::OneByOne) => contents
                .chunks(segment)
                .try_for_each(|datagram| self.socket.send_to(datagram, to).map(drop)),
        }
    }
}

impl BatchSocket<UdpSocket> {
    /// Whether a receive may be ready.
    pub(crate) fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.socket.poll_recv_ready(cx)
    }

    /// Reads one batch into `buffer` without waiting (`WouldBlock` when
    /// nothing is there).
    pub(crate) fn try_recv(&self, buffer: &mut RecvBuffer) -> io::Result<()> {
        self.socket
            .try_io(Interest::READABLE, || self.recv_now(buffer))
    }

    /// Sends `contents` to `to`: one datagram, or with `segment` shorter
    /// than `contents` a run of datagrams `segment` bytes long (the last
    /// may be shorter). Waits while the socket's buffer is full.
    pub(crate) async fn send(
        &self,
        to: SocketAddr,
        contents: &[u8],
        segment: usize,
    ) -> io::Result<()> {
        loop {
            self.socket.writable().await?;
            let sent = self.socket.try_io(Interest::WRITABLE, || {
                match self.send_now(to, contents, segment) {
                    Err(Unsent::Io(error)) => Err(error),
                    other => Ok(other),
                }
            });
            match sent {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
                Ok(Ok(())) => return Ok(()),
                Ok(Err(_)) => {
                    for datagram in contents.chunks(segment) {
                        self.socket.send_to(datagram, to).await?;
                    }
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod sys {
    //! `UDP_SEGMENT`, `UDP_GRO` and `recvmmsg` through nix.

    use std::io::{self, IoSlice, IoSliceMut};
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd as _;

    use super::{MAX_GSO_SEGMENTS, RECV_BATCH, RecvBuffer, UdpIo};
    use nix::errno::Errno;
    use nix::sys::socket::{
        ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, getsockopt,
        recvmmsg, sendmsg, setsockopt, sockopt,
    };

    /// Turns on GRO and probes GSO: (most segments per send, GRO on).
    pub(super) fn enable(socket: &impl UdpIo, gro: bool) -> (usize, bool) {
        let gso = getsockopt(socket, sockopt::UdpGsoSegment).is_ok();
        let gro = gro && setsockopt(socket, sockopt::UdpGroSegment, &true).is_ok();
        (if gso { MAX_GSO_SEGMENTS } else { 1 }, gro)
    }

    /// Whether a GSO send failed because of GSO (see the module doc).
    pub(super) fn refuses_gso(error: &io::Error) -> bool {
        matches!(
            error.raw_os_error().map(Errno::from_raw),
            Some(Errno::EINVAL | Errno::EIO)
        )
    }

    pub(super) fn send_segments(
        socket: &impl UdpIo,
        to: SocketAddr,
        contents: &[u8],
        segment: usize,
    ) -> io::Result<()> {
        let segment = u16::try_from(segment).map_err(|_| io::Error::from(Errno::EINVAL))?;
        let to = SockaddrStorage::from(to);
        sendmsg(
            socket.as_fd().as_raw_fd(),
            &[IoSlice::new(contents)],
            &[ControlMessage::UdpGsoSegments(&segment)],
            MsgFlags::empty(),
            Some(&to),
        )
        .map(|_| ())
        .map_err(io::Error::from)
    }

    pub(super) fn recv(socket: &impl UdpIo, buffer: &mut RecvBuffer) -> io::Result<()> {
        let slot = buffer.slot;
        let mut headers =
            MultiHeaders::<SockaddrStorage>::preallocate(RECV_BATCH, Some(nix::cmsg_space!(i32)));
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = buffer
            .buf
            .chunks_mut(slot)
            .map(|chunk| [IoSliceMut::new(chunk)])
            .collect();
        let mut found = Vec::with_capacity(RECV_BATCH);
        {
            let results = recvmmsg(
                socket.as_fd().as_raw_fd(),
                &mut headers,
                slices.iter_mut(),
                MsgFlags::empty(),
                None,
            )
            .map_err(io::Error::from)?;
            for (index, message) in results.enumerate() {
                if message.flags.contains(MsgFlags::MSG_TRUNC) {
                    continue;
                }
                let Some(from) = message.address.as_ref().and_then(to_socket_addr) else {
                    continue;
                };
                let stride = message.cmsgs().ok().and_then(|mut cmsgs| {
                    cmsgs.find_map(|c| match c {
                        ControlMessageOwned::UdpGroSegments(stride) => usize::try_from(stride).ok(),
                        _ => None,
                    })
                });
                found.push((from, index * slot, message.bytes, stride));
            }
        }
        for (from, start, len, stride) in found {
            buffer.push(from, start, len.min(slot), stride);
        }
        Ok(())
    }

    fn to_socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
        if let Some(v4) = address.as_sockaddr_in() {
            return Some(SocketAddr::from(*v4));
        }
        address.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    //! One datagram per call.

    use std::io;
    use std::net::SocketAddr;

    use super::{RecvBuffer, UdpIo};

    pub(super) fn enable(_: &impl UdpIo, _gro: bool) -> (usize, bool) {
        (1, false)
    }

    pub(super) fn refuses_gso(_: &io::Error) -> bool {
        false
    }

    pub(super) fn send_segments(
        socket: &impl UdpIo,
        to: SocketAddr,
        contents: &[u8],
        _segment: usize,
    ) -> io::Result<()> {
        socket.send_to_now(contents, to).map(|_| ())
    }

    pub(super) fn recv(socket: &impl UdpIo, buffer: &mut RecvBuffer) -> io::Result<()> {
        let slot = buffer.slot;
        let chunk = buffer.buf.get_mut(..slot).unwrap_or_default();
        let (len, from) = socket.recv_from_now(chunk)?;
        buffer.push(from, 0, len, None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn pair() -> (BatchSocket, BatchSocket) {
        let bind = || async { UdpSocket::bind("127.0.0.1:0").await.unwrap() };
        (
            BatchSocket::new(bind().await, true),
            BatchSocket::new(bind().await, true),
        )
    }

    /// Receives until `count` datagrams arrived (bounded in time).
    async fn receive(socket: &BatchSocket, count: usize) -> Vec<Vec<u8>> {
        let mut buffer = RecvBuffer::for_socket(socket);
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while got.len() < count && tokio::time::Instant::now() < deadline {
            let ready = tokio::time::timeout_at(
                deadline,
                std::future::poll_fn(|cx| socket.poll_recv_ready(cx)),
            )
            .await;
            if ready.is_err() {
                break;
            }
            match socket.try_recv(&mut buffer) {
                Ok(()) => got.extend(buffer.datagrams().map(|(_, d)| d.to_vec())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("receive failed: {e}"),
            }
        }
        got
    }

    #[tokio::test]
    async fn a_segmented_send_arrives_as_separate_datagrams_in_order() {
        let (a, b) = pair().await;
        let to = b.socket().local_addr().unwrap();
        // 40 datagrams of 1,400 bytes and a short last one, each marked.
        let mut contents = Vec::new();
        for i in 0..40u8 {
            contents.extend(std::iter::repeat_n(i, 1400));
        }
        contents.extend([0xee; 100]);
        a.send(to, &contents, 1400).await.unwrap();
        let got = receive(&b, 41).await;
        assert_eq!(got.len(), 41);
        for (i, datagram) in got.iter().take(40).enumerate() {
            assert_eq!(datagram.len(), 1400);
            assert!(datagram.iter().all(|&x| usize::from(x) == i));
        }
        assert_eq!(got[40], vec![0xee; 100]);
    }

    #[tokio::test]
    async fn separate_sends_are_received_in_batches_with_their_senders() {
        let (a, b) = pair().await;
        let to = b.socket().local_addr().unwrap();
        for i in 0..50u8 {
            a.send(to, &[i; 37], 37).await.unwrap();
        }
        let got = receive(&b, 50).await;
        assert_eq!(got, (0..50u8).map(|i| vec![i; 37]).collect::<Vec<_>>());
    }

    /// The std side (the synchronous driver's): the same batching without
    /// a reactor, polled with a bounded number of tries.
    #[test]
    fn std_sockets_send_runs_and_read_batches_without_waiting() {
        let bind = || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_nonblocking(true).unwrap();
            BatchSocket::new(socket, true)
        };
        let (a, b) = (bind(), bind());
        let to = b.socket().local_addr().unwrap();
        let mut buffer = RecvBuffer::for_socket(&b);
        let empty = b.try_recv(&mut buffer).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        let mut contents = Vec::new();
        for i in 0..20u8 {
            contents.extend(std::iter::repeat_n(i, 1000));
        }
        a.try_send(to, &contents, 1000).unwrap();
        let mut got = Vec::new();
        for _ in 0..500 {
            match b.try_recv(&mut buffer) {
                Ok(()) => got.extend(buffer.datagrams().map(|(_, d)| d.to_vec())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("receive failed: {e}"),
            }
            if got.len() == 20 {
                break;
            }
        }
        assert_eq!(got, (0..20u8).map(|i| vec![i; 1000]).collect::<Vec<_>>());
    }

    #[test]
    fn coalesced_buffers_split_at_the_stride() {
        let mut buffer = RecvBuffer {
            buf: (0..=255).collect(),
            slot: 256,
            datagrams: Vec::new(),
        };
        let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
        buffer.push(from, 10, 25, Some(10));
        buffer.push(from, 100, 5, Some(0));
        buffer.push(from, 200, 0, None);
        let lens: Vec<usize> = buffer.datagrams().map(|(_, d)| d.len()).collect();
        assert_eq!(lens, [10, 10, 5, 5, 0]);
        assert_eq!(buffer.datagrams().nth(1).unwrap().1.first(), Some(&20));
    }
}
