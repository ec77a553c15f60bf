//! The packed node format ("Node Info"): how Tox hands out addresses.
//!
//! Wire layout (spec "Node Info (packed node format)", c-toxcore
//! `pack_ip_port`/`pack_nodes`):
//!
//! | bytes     | field                                             |
//! |-----------|---------------------------------------------------|
//! | 1         | family: 2 UDP/IPv4, 10 UDP/IPv6, 130 TCP/IPv4, 138 TCP/IPv6 |
//! | 4 or 16   | address, unpadded (unlike the onion's [`IpPort`](crate::IpPort)) |
//! | 2         | port, big-endian                                  |
//! | 32        | the node's public key                             |
//!
//! So a node is 39 bytes over IPv4 and 51 over IPv6. DHT responses carry at
//! most [`MAX_SENT_NODES`] UDP nodes; TCP families appear in DHT-PK
//! announcements, share-relays packets and save files.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::BufMut;

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::keys::{PUBLIC_KEY_SIZE, PublicKey};

/// The most nodes a DHT nodes response (and an onion announce response)
/// carries (c-toxcore `MAX_SENT_NODES`).
pub const MAX_SENT_NODES: usize = 4;

/// Size of a packed IPv4 node.
pub const PACKED_NODE_SIZE_IP4: usize = 1 + 4 + 2 + PUBLIC_KEY_SIZE;
/// Size of a packed IPv6 node.
pub const PACKED_NODE_SIZE_IP6: usize = 1 + 16 + 2 + PUBLIC_KEY_SIZE;

/// Which transport an address is reached over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportProtocol {
    /// A UDP endpoint: DHT node or client.
    Udp,
    /// A TCP relay.
    Tcp,
}

/// The family byte for an address (c-toxcore's `TOX_AF_INET`,
/// `TOX_AF_INET6`, `TOX_TCP_INET`, `TOX_TCP_INET6`).
pub(crate) fn family_byte(protocol: TransportProtocol, ip: &IpAddr) -> u8 {
    match (protocol, ip) {
        (TransportProtocol::Udp, IpAddr::V4(_)) => 2,
        (TransportProtocol::Udp, IpAddr::V6(_)) => 10,
        (TransportProtocol::Tcp, IpAddr::V4(_)) => 130,
        (TransportProtocol::Tcp, IpAddr::V6(_)) => 138,
    }
}

/// The transport and whether the address is IPv6, from a family byte.
pub(crate) fn parse_family(
    what: &'static str,
    byte: u8,
) -> Result<(TransportProtocol, bool), DecodeError> {
    match byte {
        2 => Ok((TransportProtocol::Udp, false)),
        10 => Ok((TransportProtocol::Udp, true)),
        130 => Ok((TransportProtocol::Tcp, false)),
        138 => Ok((TransportProtocol::Tcp, true)),
        other => Err(DecodeError::InvalidValue {
            what,
            value: u64::from(other),
        }),
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the plain IPv4 address
/// it is. A dual-stack socket reports IPv4 peers this way; c-toxcore converts
/// them before storing or packing, and so must we, or IPv4-only peers would
/// receive addresses they cannot use.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// A node's key and the address it is reached at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackedNode {
    /// UDP for DHT nodes, TCP for relays.
    pub protocol: TransportProtocol,
    /// Where the node listens; IPv4-mapped IPv6 is stored as IPv4.
    pub addr: SocketAddr,
    /// The node's (DHT or relay) public key.
    pub public_key: PublicKey,
}

impl PackedNode {
    /// A node, with an IPv4-mapped address turned into IPv4.
    pub fn new(protocol: TransportProtocol, addr: SocketAddr, public_key: PublicKey) -> Self {
        Self {
            protocol,
            addr: SocketAddr::new(canonical_ip(addr.ip()), addr.port()),
            public_key,
        }
    }

    /// A UDP (DHT) node.
    pub fn udp(addr: SocketAddr, public_key: PublicKey) -> Self {
        Self::new(TransportProtocol::Udp, addr, public_key)
    }

    /// Reads nodes until the input ends, at most `max` of them: the old
    /// onion announce response lists nodes without a count.
    pub fn decode_to_end(reader: &mut Reader<'_>, max: usize) -> Result<Vec<Self>, DecodeError> {
        let mut nodes = Vec::new();
        while !reader.is_empty() {
            if nodes.len() == max {
                return Err(DecodeError::TrailingBytes {
                    what: "packed nodes",
                    extra: reader.remaining(),
                });
            }
            nodes.push(Self::decode(reader)?);
        }
        Ok(nodes)
    }
}

impl Encode for PackedNode {
    fn encode(&self, buf: &mut impl BufMut) {
        let ip = canonical_ip(self.addr.ip());
        buf.put_u8(family_byte(self.protocol, &ip));
        match ip {
            IpAddr::V4(v4) => buf.put_slice(&v4.octets()),
            IpAddr::V6(v6) => buf.put_slice(&v6.octets()),
        }
        buf.put_u16(self.addr.port());
        self.public_key.encode(buf);
    }

    fn encoded_len(&self) -> usize {
        match canonical_ip(self.addr.ip()) {
            IpAddr::V4(_) => PACKED_NODE_SIZE_IP4,
            IpAddr::V6(_) => PACKED_NODE_SIZE_IP6,
        }
    }
}

impl Decode for PackedNode {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (protocol, is_v6) =
            parse_family("packed node family", reader.u8("packed node family")?)?;
        let ip = if is_v6 {
            IpAddr::V6(Ipv6Addr::from(
                reader.array::<16>("packed node IPv6 address")?,
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(
                reader.array::<4>("packed node IPv4 address")?,
            ))
        };
        let port = reader.u16_be("packed node port")?;
        let public_key = PublicKey::decode(reader)?;
        // Through `new`, so an IPv4-mapped IPv6 address is stored as the
        // IPv4 address it is, as every other node is (found by fuzzing:
        // it stayed IPv6 here but was encoded as IPv4).
        Ok(Self::new(protocol, SocketAddr::new(ip, port), public_key))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_socket_addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).into(), port)),
            (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(
                canonical_ip(Ipv6Addr::from(ip).into()),
                port
            )),
        ]
    }

    pub(crate) fn arb_protocol() -> impl Strategy<Value = TransportProtocol> {
        prop_oneof![Just(TransportProtocol::Udp), Just(TransportProtocol::Tcp)]
    }

    pub(crate) fn arb_node() -> impl Strategy<Value = PackedNode> {
        (arb_protocol(), arb_socket_addr(), any::<[u8; 32]>())
            .prop_map(|(p, a, k)| PackedNode::new(p, a, PublicKey::new(k)))
    }

    #[test]
    fn ipv4_udp_layout() {
        let node = PackedNode::udp(
            "127.0.0.1:33445".parse().unwrap(),
            PublicKey::new([0xaa; 32]),
        );
        let bytes = node.to_bytes();
        assert_eq!(bytes.len(), 39);
        assert_eq!(&bytes[..7], &[2, 127, 0, 0, 1, 0x82, 0xa5]);
        assert_eq!(&bytes[7..], &[0xaa; 32]);
    }

    #[test]
    fn family_bytes_match_ctoxcore() {
        let pk = PublicKey::new([0; 32]);
        let v4: SocketAddr = "1.2.3.4:1".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:1".parse().unwrap();
        let firsts: Vec<u8> = [
            PackedNode::new(TransportProtocol::Udp, v4, pk),
            PackedNode::new(TransportProtocol::Udp, v6, pk),
            PackedNode::new(TransportProtocol::Tcp, v4, pk),
            PackedNode::new(TransportProtocol::Tcp, v6, pk),
        ]
        .iter()
        .map(|n| n.to_bytes()[0])
        .collect();
        assert_eq!(firsts, [2, 10, 130, 138]);
        assert_eq!(PackedNode::udp(v6, pk).encoded_len(), 51);
    }

    #[test]
    fn mapped_ipv4_is_packed_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:10.0.0.7]:5".parse().unwrap();
        let node = PackedNode::udp(mapped, PublicKey::new([1; 32]));
        assert_eq!(node.addr, "10.0.0.7:5".parse().unwrap());
        assert_eq!(node.to_bytes()[0], 2);
    }

    #[test]
    fn unknown_family_is_refused() {
        let mut bytes =
            PackedNode::udp("1.2.3.4:5".parse().unwrap(), PublicKey::new([1; 32])).to_bytes();
        bytes[0] = 3;
        assert_eq!(
            <PackedNode as Decode>::from_bytes(&bytes),
            Err(DecodeError::InvalidValue {
                what: "packed node family",
                value: 3
            })
        );
    }

    #[test]
    fn a_mapped_ipv6_address_decodes_as_ipv4() {
        let mapped: Ipv6Addr = "::ffff:192.0.2.1".parse().unwrap();
        let mut bytes = vec![10];
        bytes.extend_from_slice(&mapped.octets());
        bytes.extend_from_slice(&33445u16.to_be_bytes());
        bytes.extend_from_slice(&[7; 32]);
        let node = PackedNode::from_bytes(&bytes).unwrap();
        assert_eq!(node.addr, "192.0.2.1:33445".parse().unwrap());
        assert_eq!(PackedNode::from_bytes(&node.to_bytes()), Ok(node));
    }

    #[test]
    fn decode_to_end_bounds_the_count() {
        let node = PackedNode::udp("1.2.3.4:5".parse().unwrap(), PublicKey::new([1; 32]));
        let bytes: Vec<u8> = (0..5).flat_map(|_| node.to_bytes()).collect();
        let mut reader = Reader::new(&bytes);
        assert!(PackedNode::decode_to_end(&mut reader, 4).is_err());
        let mut reader = Reader::new(&bytes);
        assert_eq!(PackedNode::decode_to_end(&mut reader, 5).unwrap().len(), 5);
    }

    proptest! {
        #[test]
        fn node_round_trips(node in arb_node()) {
            let bytes = node.to_bytes();
            prop_assert_eq!(bytes.len(), node.encoded_len());
            prop_assert_eq!(<PackedNode as Decode>::from_bytes(&bytes), Ok(node));
        }

        #[test]
        fn node_lists_round_trip(nodes in proptest::collection::vec(arb_node(), 0..=MAX_SENT_NODES)) {
            let mut bytes = Vec::new();
            for n in &nodes { n.encode(&mut bytes); }
            let mut reader = Reader::new(&bytes);
            prop_assert_eq!(reader.items::<PackedNode>("nodes", nodes.len(), MAX_SENT_NODES), Ok(nodes.clone()));
            let mut reader = Reader::new(&bytes);
            prop_assert_eq!(PackedNode::decode_to_end(&mut reader, MAX_SENT_NODES), Ok(nodes));
        }

        #[test]
        fn node_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut reader = Reader::new(&bytes);
            let _ = PackedNode::decode_to_end(&mut reader, MAX_SENT_NODES);
        }
    }
}
