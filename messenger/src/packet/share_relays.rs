//! Share relays (17): the TCP relays the sender is connected to.
//!
//! Checklist F3; spec "Friend connection" (share relays packet);
//! c-toxcore `send_relays` and `handle_packet` in `friend_connection.c`,
//! `pack_nodes` / `unpack_nodes` in `DHT.c`.
//!
//! | bytes         | field                                         |
//! |---------------|-----------------------------------------------|
//! | 1             | `0x11`                                        |
//! | 39 or 51 each | 0..=3 packed nodes ([`PackedNode`]), no count |
//!
//! Each entry is an ordinary packed node: family byte, address (4 or 16
//! bytes), port big-endian, relay public key. c-toxcore's sender takes the
//! relays from its connected TCP connections, whose families it rewrites
//! to the TCP ones (130 for IPv4, 138 for IPv6), so that is what arrives;
//! it sends every 120 s (`SHARE_RELAYS_INTERVAL`, **SPEC≠CODE**: the spec
//! says 5 min) and only when it has at least one relay. Both peers bind the
//! relays to the connection, which is how a relayed session finds a common
//! relay.
//!
//! What the receiver (`unpack_nodes(.., MAX_SHARED_RELAYS, .., true)`)
//! accepts, and we with it:
//! - UDP families (2, 10) as well as TCP ones: the relay connection code
//!   uses only the address, so they work the same. They are kept as they
//!   arrived, so a decoded packet re-encodes unchanged.
//! - Zero nodes (a bare id): nothing is added.
//! - Anything after the third node is ignored, not refused.
//! - A node that is cut short or has an unknown family drops the packet.
//!
//! Receivers apply one more rule that is state, not layout: an entry with
//! a loopback address whose key is the friend's DHT key means the friend
//! hosts that relay itself, and the friend's known IP replaces it.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, PackedNode, Reader};

use super::{MAX_CRYPTO_DATA_SIZE, MAX_SHARED_RELAYS, PACKET_ID_SHARE_RELAYS, PacketError};

/// A share-relays packet: at most [`MAX_SHARED_RELAYS`] relays, built with
/// [`ShareRelays::new`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareRelays {
    relays: Vec<PackedNode>,
}

impl ShareRelays {
    /// A packet listing `relays`, usually TCP nodes.
    ///
    /// Refuses more than [`MAX_SHARED_RELAYS`]: c-toxcore would read the
    /// first three and silently ignore the rest.
    pub fn new(relays: Vec<PackedNode>) -> Result<Self, PacketError> {
        super::check_len("shared relay count", relays.len(), 0, MAX_SHARED_RELAYS)?;
        Ok(Self { relays })
    }

    /// The relays, in the order they were listed.
    pub fn relays(&self) -> &[PackedNode] {
        &self.relays
    }

    /// The relays, by value.
    pub fn into_relays(self) -> Vec<PackedNode> {
        self.relays
    }
}

impl Encode for ShareRelays {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(PACKET_ID_SHARE_RELAYS);
        for relay in &self.relays {
            relay.encode(buf);
        }
    }

    fn encoded_len(&self) -> usize {
        1 + self.relays.iter().map(Encode::encoded_len).sum::<usize>()
    }
}

impl Decode for ShareRelays {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const NAME: &str = "share relays";
        reader.expect_remaining(NAME, 1, MAX_CRYPTO_DATA_SIZE)?;
        reader.expect_u8(NAME, PACKET_ID_SHARE_RELAYS)?;
        let mut relays = Vec::with_capacity(MAX_SHARED_RELAYS);
        while relays.len() < MAX_SHARED_RELAYS && !reader.is_empty() {
            relays.push(PackedNode::decode(reader)?);
        }
        // `unpack_nodes` stops after MAX_SHARED_RELAYS nodes and its caller
        // does not look at what is left.
        reader.rest();
        Ok(Self { relays })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::{arb_addr, arb_pk, garbage};
    use toxide_core::{PublicKey, TransportProtocol};

    pub(in super::super) fn arb() -> impl Strategy<Value = ShareRelays> {
        let node = (any::<bool>(), arb_addr(), arb_pk()).prop_map(|(tcp, addr, pk)| {
            let protocol = if tcp {
                TransportProtocol::Tcp
            } else {
                TransportProtocol::Udp
            };
            PackedNode::new(protocol, addr, pk)
        });
        proptest::collection::vec(node, 0..=MAX_SHARED_RELAYS)
            .prop_map(|relays| ShareRelays::new(relays).unwrap())
    }

    fn tcp(addr: &str, key: u8) -> PackedNode {
        PackedNode::new(
            TransportProtocol::Tcp,
            addr.parse().unwrap(),
            PublicKey::new([key; 32]),
        )
    }

    #[test]
    fn layout_matches_hand_built_bytes() {
        let packet = ShareRelays::new(vec![
            tcp("1.2.3.4:33445", 0xaa),
            tcp("[2001:db8::1]:443", 0xbb),
        ])
        .unwrap();
        let mut expected = vec![0x11];
        // TCP_INET (130), 1.2.3.4, port 33445 = 0x82a5 big-endian, key.
        expected.extend_from_slice(&[130, 1, 2, 3, 4, 0x82, 0xa5]);
        expected.extend_from_slice(&[0xaa; 32]);
        // TCP_INET6 (138), 2001:db8::1, port 443 = 0x01bb, key.
        expected.push(138);
        expected.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend_from_slice(&[0x01, 0xbb]);
        expected.extend_from_slice(&[0xbb; 32]);
        assert_eq!(packet.to_bytes(), expected);
        assert_eq!(expected.len(), 1 + 39 + 51);
        assert_eq!(ShareRelays::from_bytes(&expected), Ok(packet));
    }

    #[test]
    fn at_most_three_relays_are_built() {
        let four = vec![tcp("1.1.1.1:1", 1); 4];
        assert_eq!(
            ShareRelays::new(four),
            Err(PacketError::Unsendable {
                what: "shared relay count",
                len: 4,
                min: 0,
                max: 3
            })
        );
        assert!(ShareRelays::new(vec![tcp("1.1.1.1:1", 1); 3]).is_ok());
        assert_eq!(ShareRelays::new(vec![]).unwrap().to_bytes(), [0x11]);
    }

    #[test]
    fn what_follows_the_third_relay_is_ignored_like_ctoxcore() {
        let three = ShareRelays::new(vec![
            tcp("1.1.1.1:1", 1),
            tcp("2.2.2.2:2", 2),
            tcp("3.3.3.3:3", 3),
        ])
        .unwrap();
        let mut bytes = three.to_bytes();
        bytes.extend_from_slice(&tcp("4.4.4.4:4", 4).to_bytes());
        bytes.push(0xff);
        assert_eq!(ShareRelays::from_bytes(&bytes), Ok(three));
    }

    #[test]
    fn udp_families_are_accepted_like_ctoxcore() {
        let udp = PackedNode::udp("5.6.7.8:9".parse().unwrap(), PublicKey::new([5; 32]));
        let mut bytes = vec![0x11];
        bytes.extend_from_slice(&udp.to_bytes());
        assert_eq!(bytes[1], 2);
        let decoded = ShareRelays::from_bytes(&bytes).unwrap();
        assert_eq!(decoded.relays(), [udp]);
        assert_eq!(decoded.to_bytes(), bytes);
    }

    #[test]
    fn a_cut_or_unknown_node_drops_the_packet() {
        let bytes = ShareRelays::new(vec![tcp("1.1.1.1:1", 1)])
            .unwrap()
            .to_bytes();
        assert!(ShareRelays::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut unknown = bytes;
        unknown[1] = 3;
        assert!(ShareRelays::from_bytes(&unknown).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(ShareRelays::from_bytes(&bytes), Ok(packet));
        }

        #[test]
        fn garbage_never_panics(tail in garbage(200)) {
            let mut bytes = vec![0x11];
            bytes.extend_from_slice(&tail);
            if let Ok(packet) = ShareRelays::from_bytes(&bytes) {
                prop_assert!(packet.relays().len() <= MAX_SHARED_RELAYS);
                prop_assert_eq!(ShareRelays::from_bytes(&packet.to_bytes()), Ok(packet));
            }
        }
    }
}
