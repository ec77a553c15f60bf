//! The relay every Tox node runs: peel one request layer on the way out,
//! one return layer on the way back (c-toxcore `onion.c`).
//!
//! Outbound, a relay opens its box with the key the layer names, learns the
//! next hop and seals the address the packet came from into a return layer
//! under a symmetric key only it knows; the exit (hop C) forwards only
//! announce and data requests. Inbound, it opens its own return layer and
//! passes the rest on. Nothing is remembered per packet, which is what lets
//! a relay serve any number of paths in constant memory.
//!
//! Next hops are checked before anything is sent ([`next_hop_allowed`]):
//! c-toxcore forwards to any address a layer names, which lets anyone make
//! a relay send to a broadcast or multicast group (reaching its whole LAN
//! when LAN discovery enabled broadcasting), to itself, or into the LAN
//! behind it. A toxide relay refuses those.
//!
//! The return key is replaced every [`RETURN_KEY_REFRESH_SECS`] (2 h, as
//! c-toxcore), with no overlap: a path built earlier stops carrying
//! responses, so clients rebuild paths well before (they retire them after
//! 20 minutes anyway).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use toxide_core::packed_node::canonical_ip;
use toxide_dht::lan::is_lan;

use toxide_core::ip_port::IP_PORT_SIZE;
use toxide_core::{
    CryptoRng, Decode, DecodeError, Encode, IpPort, MAC_SIZE, NONCE_SIZE, Nonce, PUBLIC_KEY_SIZE,
    PublicKey, Reader, SharedKey, SymmetricKey, TransportProtocol,
};

use crate::constants::{ONION_MAX_PACKET_SIZE, RETURN_1_SIZE, RETURN_KEY_REFRESH_SECS};
use crate::packet::{
    HopPayload, NextLayer, OnionPacketError, OnionRequest, OnionRequest0, OnionRequest1,
    OnionRequest2, OnionResponse1, OnionResponse2, OnionResponse3, OnionReturn1, OnionReturn2,
    RequestLayer, ReturnError,
};

/// What an exit forwards to the destination: announce requests (0x83, and
/// 0x87 as relays from 0.2.19 on do) and data requests (0x85). c-toxcore
/// 0.2.2 added the filter so exits cannot be used to send arbitrary packets.
pub const EXIT_ALLOWED: [u8; 3] = [0x83, 0x85, 0x87];
/// One sealed request layer's fixed part (c-toxcore `ONION_SEND_BASE`).
const TCP_SEND_BASE: usize = PUBLIC_KEY_SIZE + IP_PORT_SIZE + MAC_SIZE;

/// What relays pass back towards a client: announce responses (0x84,
/// 0x88) and data responses (0x86).
pub const RESPONSE_ALLOWED: [u8; 3] = [0x84, 0x86, 0x88];

/// Why a relay dropped a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The request layer did not open or was malformed.
    #[error(transparent)]
    Layer(#[from] OnionPacketError),
    /// A return layer did not open: not ours, or older than our key.
    #[error(transparent)]
    Return(#[from] ReturnError),
    /// The next hop is a TCP address: a request can only go on over UDP,
    /// and a response only to a client of our own TCP relay (see
    /// [`TcpClient`]).
    #[error("next hop is a TCP address")]
    TcpDestination,
    /// The next hop is an address no onion packet should go to from
    /// where this one came from (see [`next_hop_allowed`]).
    #[error("next hop {0} refused")]
    NextHop(IpAddr),
    /// The exit was asked to deliver something other than an announce or
    /// data request.
    #[error("exit refuses packet id {0:#04x}")]
    ExitFilter(u8),
    /// A response that is not an announce or data response.
    #[error("relay refuses response id {0:#04x}")]
    ResponseFilter(u8),
    /// The packet to forward would exceed the onion's datagram size.
    #[error("forwarded packet would be {0} bytes")]
    TooLarge(usize),
}

/// A packet a relay decided to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Where to.
    pub destination: SocketAddr,
    /// The datagram.
    pub payload: Vec<u8>,
}

/// Where a response that came back to hop A goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// To a UDP client.
    Udp(Forward),
    /// To a client of this node's TCP relay (checklist R9): the driver
    /// sends `data` on that connection as an onion response frame.
    Tcp {
        /// The relay connection the request came from.
        client: u64,
        /// The bare response (announce or data response).
        data: Vec<u8>,
    },
}

/// A client of this node's TCP relay that uses the relay as hop A of its
/// onion paths (checklist R9, O16).
///
/// Its connection number goes into the hop-A return layer instead of a
/// UDP address. Only this relay ever opens that layer (it is sealed under
/// our own return key), so the encoding is ours to choose; c-toxcore does
/// the same with a private address family. We use the TCP IPv6 family with
/// [`TCP_CLIENT_PREFIX`] in the upper half of the address, the number in
/// the lower half, and port 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpClient {
    /// The relay's name for the connection (unique for the relay's
    /// lifetime, so a late response can never reach a newer client).
    pub connection: u64,
    /// The client's address, for the per-host budget and for the next-hop
    /// check.
    pub addr: SocketAddr,
}

/// Marks a hop-A return address as a TCP relay connection (ASCII
/// "toxidetc").
pub const TCP_CLIENT_PREFIX: u64 = 0x746f_7869_6465_7463;

impl TcpClient {
    fn return_address(self) -> IpPort {
        let bits = (u128::from(TCP_CLIENT_PREFIX) << 64) | u128::from(self.connection);
        IpPort::new(
            TransportProtocol::Tcp,
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(bits)), 0),
        )
    }

    /// The connection number in a return address we sealed, if it is one.
    fn from_return_address(to: &IpPort) -> Option<u64> {
        let IpAddr::V6(v6) = to.addr.ip() else {
            return None;
        };
        let bits = u128::from(v6);
        let prefix = u64::try_from(bits >> 64).ok()?;
        (to.protocol == TransportProtocol::Tcp
            && prefix == TCP_CLIENT_PREFIX
            && to.addr.port() == 0)
            .then(|| (bits & u128::from(u64::MAX)) as u64)
    }
}

/// A relay's secret state: the return-path key and its age.
#[derive(Debug)]
pub struct Relay {
    return_key: SymmetricKey,
    key_since: Instant,
}

impl Relay {
    /// A relay with a fresh return key.
    pub fn new<R: CryptoRng + ?Sized>(now: Instant, rng: &mut R) -> Self {
        Self {
            return_key: SymmetricKey::generate(rng),
            key_since: now,
        }
    }

    /// Replaces the return key once it is [`RETURN_KEY_REFRESH_SECS`] old.
    pub fn refresh_key<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        if now.saturating_duration_since(self.key_since)
            >= Duration::from_secs(RETURN_KEY_REFRESH_SECS)
        {
            self.return_key = SymmetricKey::generate(rng);
            self.key_since = now;
        }
    }

    /// Hop A: forwards a client's 0x80 as 0x81 to B.
    pub fn forward_request0<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        from: SocketAddr,
        shared: &SharedKey,
        packet: &OnionRequest0,
    ) -> Result<Forward, RelayError> {
        let hop = peel(shared, packet)?;
        let next = NextLayer::from_bytes(&hop.data).map_err(OnionPacketError::Payload)?;
        let ret = OnionReturn1::seal(&self.return_key, Nonce::random(rng), &udp(from), &[])
            .ok_or(RelayError::TooLarge(0))?;
        let out = OnionRequest1::new(packet.nonce, next.temporary_pk, next.sealed, ret);
        forward_request(from, hop.destination, out.to_bytes())
    }

    /// Hop A for a client of our TCP relay: `payload` is what followed the
    /// nonce in its onion request frame, `[IP_Port B][temporary pk][box
    /// for B]`. The first layer comes unencrypted (the relay session is
    /// already encrypted), so no Diffie-Hellman is needed here. Forwards
    /// 0x81 to B with the client's connection in the return layer.
    pub fn forward_tcp_request<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        client: TcpClient,
        nonce: Nonce,
        payload: &[u8],
    ) -> Result<Forward, RelayError> {
        // c-toxcore's bounds (onion_send_1): more than an address and two
        // sealed layers, and no more than fits a datagram once sent on.
        let max = ONION_MAX_PACKET_SIZE + IP_PORT_SIZE - (1 + NONCE_SIZE + RETURN_1_SIZE);
        let min = IP_PORT_SIZE + 2 * TCP_SEND_BASE + 1;
        if payload.len() < min || payload.len() > max {
            return Err(OnionPacketError::Payload(DecodeError::BadLength {
                what: "TCP onion request",
                len: payload.len(),
                min,
                max,
            })
            .into());
        }
        let mut reader = Reader::new(payload);
        let destination = IpPort::decode(&mut reader).map_err(OnionPacketError::Payload)?;
        let temporary_pk = PublicKey::decode(&mut reader).map_err(OnionPacketError::Payload)?;
        let sealed = reader.rest().to_vec();
        let ret = OnionReturn1::seal(
            &self.return_key,
            Nonce::random(rng),
            &client.return_address(),
            &[],
        )
        .ok_or(RelayError::TooLarge(0))?;
        let out = OnionRequest1::new(nonce, temporary_pk, sealed, ret);
        forward_request(client.addr, destination, out.to_bytes())
    }

    /// Hop B: forwards 0x81 as 0x82 to C.
    pub fn forward_request1<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        from: SocketAddr,
        shared: &SharedKey,
        packet: &OnionRequest1,
    ) -> Result<Forward, RelayError> {
        let hop = peel(shared, packet)?;
        let next = NextLayer::from_bytes(&hop.data).map_err(OnionPacketError::Payload)?;
        let ret = OnionReturn2::seal(
            &self.return_key,
            Nonce::random(rng),
            &udp(from),
            packet.onion_return.as_bytes(),
        )
        .ok_or(RelayError::TooLarge(0))?;
        let out = OnionRequest2::new(packet.nonce, next.temporary_pk, next.sealed, ret);
        forward_request(from, hop.destination, out.to_bytes())
    }

    /// Hop C (the exit): delivers the request inside 0x82 to its
    /// destination with our return layer appended.
    pub fn forward_request2<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        from: SocketAddr,
        shared: &SharedKey,
        packet: &OnionRequest2,
    ) -> Result<Forward, RelayError> {
        let hop = peel(shared, packet)?;
        let id = hop.data.first().copied().unwrap_or_default();
        if !EXIT_ALLOWED.contains(&id) {
            return Err(RelayError::ExitFilter(id));
        }
        let ret = crate::packet::OnionReturn3::seal(
            &self.return_key,
            Nonce::random(rng),
            &udp(from),
            packet.onion_return.as_bytes(),
        )
        .ok_or(RelayError::TooLarge(0))?;
        let mut out = hop.data;
        out.extend_from_slice(ret.as_bytes());
        forward_request(from, hop.destination, out)
    }

    /// Hop C on the way back: 0x8c from the destination becomes 0x8d to B.
    pub fn return_response3(&self, packet: &OnionResponse3) -> Result<Forward, RelayError> {
        check_response(&packet.data)?;
        let (to, inner) = packet.onion_return.open(&self.return_key)?;
        let ret = OnionReturn2::decode(&mut toxide_core::Reader::new(&inner))
            .map_err(ReturnError::from)?;
        forward(to, OnionResponse2::new(ret, packet.data.clone()).to_bytes())
    }

    /// Hop B on the way back: 0x8d becomes 0x8e to A.
    pub fn return_response2(&self, packet: &OnionResponse2) -> Result<Forward, RelayError> {
        check_response(&packet.data)?;
        let (to, inner) = packet.onion_return.open(&self.return_key)?;
        let ret = OnionReturn1::decode(&mut toxide_core::Reader::new(&inner))
            .map_err(ReturnError::from)?;
        forward(to, OnionResponse1::new(ret, packet.data.clone()).to_bytes())
    }

    /// Hop A on the way back: the bare response goes to the client, over
    /// UDP or, for a client of our TCP relay, over its connection.
    pub fn return_response1(&self, packet: &OnionResponse1) -> Result<Returned, RelayError> {
        check_response(&packet.data)?;
        let (to, inner) = packet.onion_return.open(&self.return_key)?;
        if !inner.is_empty() {
            return Err(ReturnError::Decode(DecodeError::TrailingBytes {
                what: "hop A return layer",
                extra: inner.len(),
            })
            .into());
        }
        if let Some(client) = TcpClient::from_return_address(&to) {
            return Ok(Returned::Tcp {
                client,
                data: packet.data.clone(),
            });
        }
        forward(to, packet.data.clone()).map(Returned::Udp)
    }
}

/// Opens this hop's layer: the next hop (UDP only) and what to send it.
fn peel<L: RequestLayer>(
    shared: &SharedKey,
    packet: &OnionRequest<L>,
) -> Result<HopPayload, RelayError> {
    let plain = shared
        .decrypt(&packet.nonce, &packet.sealed)
        .map_err(OnionPacketError::from)?;
    HopPayload::from_bytes(&plain).map_err(|e| RelayError::Layer(OnionPacketError::Payload(e)))
}

fn check_response(data: &[u8]) -> Result<(), RelayError> {
    let id = data.first().copied().unwrap_or_default();
    if RESPONSE_ALLOWED.contains(&id) {
        Ok(())
    } else {
        Err(RelayError::ResponseFilter(id))
    }
}

/// Whether a request that arrived from `from` may go on to `to`.
///
/// Never to a broadcast, multicast or unspecified address (or 0.0.0.0/8,
/// "this network"): no Tox node listens there, and the packet would fan
/// out or bounce back. To loopback only from loopback, and into a LAN only
/// from a LAN: a node's own machine and the private network behind it are
/// not for the Internet to reach through it. (Test networks on one
/// machine, or on one LAN, keep working.)
pub fn next_hop_allowed(from: IpAddr, to: IpAddr) -> bool {
    let (from, to) = (canonical_ip(from), canonical_ip(to));
    let unroutable = match to {
        IpAddr::V4(v4) => {
            v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets().first() == Some(&0)
        }
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    if unroutable {
        return false;
    }
    if to.is_loopback() {
        return from.is_loopback();
    }
    !is_lan(to) || is_lan(from)
}

/// [`forward`] for a request layer: the next hop must pass
/// [`next_hop_allowed`] for the address the packet came from.
fn forward_request(from: SocketAddr, to: IpPort, payload: Vec<u8>) -> Result<Forward, RelayError> {
    if !next_hop_allowed(from.ip(), to.addr.ip()) {
        return Err(RelayError::NextHop(to.addr.ip()));
    }
    forward(to, payload)
}

fn forward(to: IpPort, payload: Vec<u8>) -> Result<Forward, RelayError> {
    if to.protocol != TransportProtocol::Udp {
        return Err(RelayError::TcpDestination);
    }
    if payload.len() > ONION_MAX_PACKET_SIZE {
        return Err(RelayError::TooLarge(payload.len()));
    }
    Ok(Forward {
        destination: to.addr,
        payload,
    })
}

fn udp(addr: SocketAddr) -> IpPort {
    IpPort::new(TransportProtocol::Udp, addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Checklist R9: a TCP relay client's request leaves as 0x81 with its
    /// connection sealed in the return layer, and the response that comes
    /// back to that layer is for the connection, not for a UDP address.
    #[test]
    fn tcp_client_requests_return_to_the_connection() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let now = Instant::now();
        let relay = Relay::new(now, &mut rng);
        let client = TcpClient {
            connection: 0x1234_5678_9abc,
            addr: "127.0.0.1:40000".parse().unwrap(),
        };
        let hop_b = IpPort::new(TransportProtocol::Udp, "127.0.0.1:33445".parse().unwrap());
        let temporary_pk = PublicKey::new([5; 32]);
        let sealed = vec![0xab; 2 * TCP_SEND_BASE];
        let mut payload = hop_b.to_bytes();
        payload.extend_from_slice(temporary_pk.as_bytes());
        payload.extend_from_slice(&sealed);
        let nonce = Nonce::random(&mut rng);

        let forward = relay
            .forward_tcp_request(&mut rng, client, nonce, &payload)
            .unwrap();
        assert_eq!(forward.destination, hop_b.addr);
        let request = OnionRequest1::from_bytes(&forward.payload).unwrap();
        assert_eq!(request.nonce, nonce);
        assert_eq!(request.temporary_pk, temporary_pk);
        assert_eq!(request.sealed, sealed);

        let response = OnionResponse1::new(request.onion_return, vec![0x84, 1, 2, 3]);
        assert_eq!(
            relay.return_response1(&response),
            Ok(Returned::Tcp {
                client: client.connection,
                data: vec![0x84, 1, 2, 3],
            })
        );

        // Too short to hold two sealed layers (c-toxcore's bound).
        let short = &payload[..IP_PORT_SIZE + 2 * TCP_SEND_BASE];
        assert!(
            relay
                .forward_tcp_request(&mut rng, client, nonce, short)
                .is_err()
        );
        // A TCP client elsewhere may not aim hop B at our loopback.
        let remote = TcpClient {
            addr: "198.51.100.7:1".parse().unwrap(),
            ..client
        };
        assert_eq!(
            relay.forward_tcp_request(&mut rng, remote, nonce, &payload),
            Err(RelayError::NextHop("127.0.0.1".parse().unwrap()))
        );
    }

    #[test]
    fn next_hops_that_fan_out_or_turn_inwards_are_refused() {
        let internet = ip("198.51.100.7");
        for to in [
            "255.255.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "::",
            "ff02::1",
            "ff05::2",
            "::ffff:255.255.255.255",
        ] {
            for from in [internet, ip("127.0.0.1"), ip("192.168.1.2")] {
                assert!(!next_hop_allowed(from, ip(to)), "{from} -> {to}");
            }
        }
        for to in [
            "127.0.0.1",
            "::1",
            "::ffff:127.0.0.1",
            "192.168.1.1",
            "10.0.0.1",
            "fe80::1",
            "fd00::1",
        ] {
            assert!(!next_hop_allowed(internet, ip(to)), "internet -> {to}");
        }
        assert!(
            !next_hop_allowed(ip("192.168.1.2"), ip("127.0.0.1")),
            "LAN -> loopback"
        );
        assert!(
            next_hop_allowed(ip("127.0.0.1"), ip("127.0.0.1")),
            "tests on one machine"
        );
        assert!(
            next_hop_allowed(ip("10.0.0.2"), ip("10.0.0.3")),
            "LAN -> LAN"
        );
        assert!(
            next_hop_allowed(ip("127.0.0.1"), ip("10.0.0.3")),
            "loopback counts as LAN"
        );
        assert!(next_hop_allowed(internet, ip("203.0.113.9")));
        assert!(next_hop_allowed(ip("10.0.0.2"), ip("2001:db8::1")));
    }
}
