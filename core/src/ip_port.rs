//! The onion's fixed-size address ("IP_Port", 19 bytes).
//!
//! Wire layout (c-toxcore `ipport_pack`, spec "Onion"):
//!
//! | bytes | field                                                      |
//! |-------|------------------------------------------------------------|
//! | 1     | family, the same bytes as a [`PackedNode`](crate::PackedNode) |
//! | 16    | IPv4 address followed by 12 zero bytes, or IPv6 address    |
//! | 2     | port, big-endian                                           |
//!
//! Unlike a packed node the address is always padded to 16 bytes, so onion
//! layers have a constant size (c-toxcore issue #508 records the
//! difference). We write the padding as zeros and ignore it when reading.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::BufMut;

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::packed_node::{TransportProtocol, canonical_ip, family_byte, parse_family};

/// Size of an encoded [`IpPort`] (c-toxcore `SIZE_IPPORT`).
pub const IP_PORT_SIZE: usize = 19;

/// An address inside onion packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPort {
    /// UDP for ordinary hops.
    pub protocol: TransportProtocol,
    /// The address, IPv4-mapped IPv6 stored as IPv4.
    pub addr: SocketAddr,
}

impl IpPort {
    /// An address, with IPv4-mapped IPv6 turned into IPv4.
    pub fn new(protocol: TransportProtocol, addr: SocketAddr) -> Self {
        Self {
            protocol,
            addr: SocketAddr::new(canonical_ip(addr.ip()), addr.port()),
        }
    }
}

impl Encode for IpPort {
    fn encode(&self, buf: &mut impl BufMut) {
        let ip = canonical_ip(self.addr.ip());
        buf.put_u8(family_byte(self.protocol, &ip));
        match ip {
            IpAddr::V4(v4) => {
                buf.put_slice(&v4.octets());
                buf.put_bytes(0, 12);
            }
            IpAddr::V6(v6) => buf.put_slice(&v6.octets()),
        }
        buf.put_u16(self.addr.port());
    }

    fn encoded_len(&self) -> usize {
        IP_PORT_SIZE
    }
}

impl Decode for IpPort {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (protocol, is_v6) = parse_family("ip_port family", reader.u8("ip_port family")?)?;
        let raw: [u8; 16] = reader.array("ip_port address")?;
        let ip = if is_v6 {
            IpAddr::V6(Ipv6Addr::from(raw))
        } else {
            let [a, b, c, d, ..] = raw;
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        };
        let port = reader.u16_be("ip_port port")?;
        Ok(Self::new(protocol, SocketAddr::new(ip, port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packed_node::tests::{arb_protocol, arb_socket_addr};
    use proptest::prelude::*;

    #[test]
    fn ipv4_is_padded_to_sixteen_bytes() {
        let ip_port = IpPort::new(TransportProtocol::Udp, "192.168.1.2:33445".parse().unwrap());
        let bytes = ip_port.to_bytes();
        assert_eq!(bytes.len(), IP_PORT_SIZE);
        assert_eq!(&bytes[..5], &[2, 192, 168, 1, 2]);
        assert_eq!(&bytes[5..17], &[0; 12]);
        assert_eq!(&bytes[17..], &[0x82, 0xa5]);
    }

    proptest! {
        #[test]
        fn ip_port_round_trips(protocol in arb_protocol(), addr in arb_socket_addr()) {
            let ip_port = IpPort::new(protocol, addr);
            prop_assert_eq!(<IpPort as Decode>::from_bytes(&ip_port.to_bytes()), Ok(ip_port));
        }

        #[test]
        fn ip_port_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = <IpPort as Decode>::from_bytes(&bytes);
        }
    }
}
