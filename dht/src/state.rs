//! The DHT section of a Tox save file: the nodes to reconnect through
//! (checklist D9, V-layer save format).
//!
//! c-toxcore 0.2.18 writes it in `dht_save` (`DHT.c`) with the section
//! header of `state_write_section_header` (`state.c`); `tox_get_savedata`
//! nests the result inside the save file's own DHT section (Messenger state
//! type 2). Unlike the wire, the framing is little-endian:
//!
//! | bytes   | field                                                        |
//! |---------|--------------------------------------------------------------|
//! | 4       | `DHT_STATE_COOKIE_GLOBAL` 0x0159000d, little-endian          |
//! |         | then one or more sections, each:                             |
//! | 4       | body length, little-endian                                   |
//! | 2       | section type, little-endian: 4 = nodes (`DHT_STATE_TYPE_NODES`) |
//! | 2       | `DHT_STATE_COOKIE_TYPE` 0x11ce, little-endian                |
//! | length  | body: UDP packed nodes back to back, no count (`pack_nodes`) |
//!
//! (`state_write_section_header` writes `cookie << 16 | type` as one
//! little-endian `u32`, which puts the type's two bytes first.) c-toxcore
//! writes exactly one nodes section, so an empty list is 12 bytes.
//!
//! Reading follows `dht_load`, `state_load` and `dht_load_state_callback`:
//! the cookie alone (4 bytes or fewer) is refused; a section longer than
//! what is left, a wrong section cookie, or 1–7 bytes after the last
//! section fail the whole load; sections of other types are skipped; a
//! nodes section of length 0 is skipped; a later nodes section replaces an
//! earlier one; nodes are read with TCP families refused
//! (`unpack_nodes(.., tcp_enabled = false)`).
//!
//! Two differences, in corners c-toxcore reaches only with lists its own
//! writer cannot save whole: a malformed node list fails this decoder,
//! where c-toxcore loads zero nodes from that section and goes on; and a
//! nodes body over 65 535 bytes fails here, where c-toxcore, which passes
//! the length to `unpack_nodes` as a `uint16_t`, reads `length mod 65536`
//! bytes of it (a prefix of the nodes, or none when the cut falls inside a
//! node). [`DhtState::new`] refuses such lists, so what toxide writes
//! reads the same in both. (c-toxcore's writer has the same limit: it
//! passes `sizeof(Node_format) * num` to `pack_nodes` as a `uint16_t`, so
//! at 1024 saved addresses or more the section it writes is broken.)

use bytes::BufMut;
use thiserror::Error;
use toxide_core::{Decode, DecodeError, Encode, PackedNode, Reader, TransportProtocol};

use crate::constants::{BUCKET_SIZE, CLOSE_BUCKETS, FAKE_FRIEND_NUMBER, SEARCH_LIST_SIZE};

/// The first four bytes, little-endian (`DHT_STATE_COOKIE_GLOBAL`).
pub const DHT_STATE_COOKIE_GLOBAL: u32 = 0x0159_000d;
/// Every section header's cookie (`DHT_STATE_COOKIE_TYPE`).
pub const DHT_STATE_COOKIE_TYPE: u16 = 0x11ce;
/// The section type of the node list (`DHT_STATE_TYPE_NODES`).
pub const DHT_STATE_TYPE_NODES: u16 = 4;
/// Size of a section header: length, type, cookie.
pub const DHT_STATE_SECTION_HEADER_SIZE: usize = 4 + 2 + 2;
/// The most nodes c-toxcore saves and loads: both addresses of every
/// close-list slot and of the two random-key search lists
/// (`MAX_SAVED_DHT_NODES`, 2080).
pub const MAX_SAVED_DHT_NODES: usize =
    (FAKE_FRIEND_NUMBER * SEARCH_LIST_SIZE + CLOSE_BUCKETS * BUCKET_SIZE) * 2;
/// The longest nodes body c-toxcore reads whole (its `unpack_nodes` takes
/// the length as a `uint16_t`).
pub const MAX_NODES_SECTION_SIZE: usize = u16::MAX as usize;

/// Why a node list cannot be saved in a form c-toxcore loads back whole.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DhtStateError {
    /// More nodes than c-toxcore loads.
    #[error("{count} nodes, at most {MAX_SAVED_DHT_NODES} are loaded")]
    TooManyNodes {
        /// How many were given.
        count: usize,
    },
    /// The packed nodes are longer than c-toxcore reads.
    #[error("{len} bytes of packed nodes, at most {MAX_NODES_SECTION_SIZE} are read")]
    TooLong {
        /// Their packed size.
        len: usize,
    },
    /// A TCP relay address: c-toxcore refuses the whole list.
    #[error("saved DHT nodes are UDP nodes only")]
    TcpNode,
}

/// The DHT section of a save file: the nodes to bootstrap from next time.
///
/// The list is private so that every value encodes to something c-toxcore
/// loads whole: build one with [`DhtState::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhtState {
    nodes: Vec<PackedNode>,
}

impl DhtState {
    /// A section holding `nodes` in this order: at most
    /// [`MAX_SAVED_DHT_NODES`] UDP nodes packing to at most
    /// [`MAX_NODES_SECTION_SIZE`] bytes.
    pub fn new(nodes: Vec<PackedNode>) -> Result<Self, DhtStateError> {
        if nodes.len() > MAX_SAVED_DHT_NODES {
            return Err(DhtStateError::TooManyNodes { count: nodes.len() });
        }
        if nodes.iter().any(|n| n.protocol == TransportProtocol::Tcp) {
            return Err(DhtStateError::TcpNode);
        }
        let len = body_len(&nodes);
        if len > MAX_NODES_SECTION_SIZE {
            return Err(DhtStateError::TooLong { len });
        }
        Ok(Self { nodes })
    }

    /// The saved nodes, in the order they were written.
    pub fn nodes(&self) -> &[PackedNode] {
        &self.nodes
    }

    /// The saved nodes, by value.
    pub fn into_nodes(self) -> Vec<PackedNode> {
        self.nodes
    }
}

fn body_len(nodes: &[PackedNode]) -> usize {
    nodes.iter().map(Encode::encoded_len).sum()
}

impl Encode for DhtState {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u32_le(DHT_STATE_COOKIE_GLOBAL);
        // At most MAX_NODES_SECTION_SIZE by construction.
        buf.put_u32_le(body_len(&self.nodes) as u32);
        buf.put_u16_le(DHT_STATE_TYPE_NODES);
        buf.put_u16_le(DHT_STATE_COOKIE_TYPE);
        for node in &self.nodes {
            node.encode(buf);
        }
    }

    fn encoded_len(&self) -> usize {
        4 + DHT_STATE_SECTION_HEADER_SIZE + body_len(&self.nodes)
    }
}

fn u32_le(reader: &mut Reader<'_>, what: &'static str) -> Result<u32, DecodeError> {
    Ok(u32::from_le_bytes(reader.array(what)?))
}

fn u16_le(reader: &mut Reader<'_>, what: &'static str) -> Result<u16, DecodeError> {
    Ok(u16::from_le_bytes(reader.array(what)?))
}

/// The nodes of one section body (c-toxcore `unpack_nodes` with TCP off).
fn decode_nodes(body: &[u8]) -> Result<Vec<PackedNode>, DecodeError> {
    if body.len() > MAX_NODES_SECTION_SIZE {
        return Err(DecodeError::BadLength {
            what: "saved DHT nodes",
            len: body.len(),
            min: 0,
            max: MAX_NODES_SECTION_SIZE,
        });
    }
    let mut reader = Reader::new(body);
    let mut nodes = Vec::new();
    // The length limit keeps the count under MAX_SAVED_DHT_NODES, the
    // count at which c-toxcore would stop reading.
    while !reader.is_empty() {
        let node = PackedNode::decode(&mut reader)?;
        if node.protocol == TransportProtocol::Tcp {
            return Err(DecodeError::InvalidValue {
                what: "saved DHT node family (UDP only)",
                value: if node.addr.is_ipv4() { 130 } else { 138 },
            });
        }
        nodes.push(node);
    }
    Ok(nodes)
}

impl Decode for DhtState {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if reader.remaining() <= 4 {
            return Err(DecodeError::Truncated {
                what: "DHT state",
                needed: 4 + 1,
                available: reader.remaining(),
            });
        }
        let cookie = u32_le(reader, "DHT state cookie")?;
        if cookie != DHT_STATE_COOKIE_GLOBAL {
            return Err(DecodeError::InvalidValue {
                what: "DHT state cookie",
                value: u64::from(cookie),
            });
        }
        let mut nodes = Vec::new();
        while reader.remaining() >= DHT_STATE_SECTION_HEADER_SIZE {
            let len = u32_le(reader, "DHT state section length")?;
            let kind = u16_le(reader, "DHT state section type")?;
            let section_cookie = u16_le(reader, "DHT state section cookie")?;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > reader.remaining() {
                return Err(DecodeError::Truncated {
                    what: "DHT state section",
                    needed: len,
                    available: reader.remaining(),
                });
            }
            if section_cookie != DHT_STATE_COOKIE_TYPE {
                return Err(DecodeError::InvalidValue {
                    what: "DHT state section cookie",
                    value: u64::from(section_cookie),
                });
            }
            let body = reader.take("DHT state section", len)?;
            if kind == DHT_STATE_TYPE_NODES && !body.is_empty() {
                nodes = decode_nodes(body)?;
            }
        }
        reader.finish("DHT state")?;
        Ok(Self { nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{arb_udp_node, garbage};
    use proptest::prelude::*;
    use toxide_core::PublicKey;

    use toxide_core::testing::{node_v4 as v4, node_v6 as v6};

    fn section(kind: u16, cookie: u16, body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&cookie.to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    fn state(sections: &[Vec<u8>]) -> Vec<u8> {
        let mut out = DHT_STATE_COOKIE_GLOBAL.to_le_bytes().to_vec();
        for s in sections {
            out.extend_from_slice(s);
        }
        out
    }

    #[test]
    fn max_saved_nodes_is_c_toxcores_2080() {
        assert_eq!(MAX_SAVED_DHT_NODES, 2080);
    }

    #[test]
    fn layout_matches_dht_save() {
        let bytes = DhtState::new(vec![v4(7)]).unwrap().to_bytes();
        assert_eq!(
            &bytes[..12],
            &[0x0d, 0x00, 0x59, 0x01, 39, 0, 0, 0, 0x04, 0x00, 0xce, 0x11]
        );
        assert_eq!(&bytes[12..19], &[2, 10, 0, 0, 7, 0x82, 0xa5]);
        assert_eq!(&bytes[19..], &[7; 32]);
        assert_eq!(
            DhtState::default().to_bytes(),
            [0x0d, 0x00, 0x59, 0x01, 0, 0, 0, 0, 0x04, 0x00, 0xce, 0x11]
        );
    }

    #[test]
    fn a_cookie_alone_or_a_wrong_cookie_is_refused() {
        assert!(DhtState::from_bytes(&DHT_STATE_COOKIE_GLOBAL.to_le_bytes()).is_err());
        assert!(DhtState::from_bytes(&[]).is_err());
        let mut bytes = DhtState::new(vec![v4(1)]).unwrap().to_bytes();
        bytes[0] ^= 1;
        assert!(DhtState::from_bytes(&bytes).is_err());
        let mut bytes = DhtState::new(vec![v4(1)]).unwrap().to_bytes();
        bytes[10] ^= 1;
        assert!(DhtState::from_bytes(&bytes).is_err(), "section cookie");
    }

    #[test]
    fn other_sections_and_empty_node_sections_are_skipped() {
        let nodes = [v4(1), v6(2)];
        let body = DhtState::new(nodes.to_vec()).unwrap().to_bytes()[12..].to_vec();
        let bytes = state(&[
            section(9, DHT_STATE_COOKIE_TYPE, b"future"),
            section(DHT_STATE_TYPE_NODES, DHT_STATE_COOKIE_TYPE, &body),
            section(DHT_STATE_TYPE_NODES, DHT_STATE_COOKIE_TYPE, &[]),
        ]);
        assert_eq!(DhtState::from_bytes(&bytes).unwrap().nodes(), &nodes);
    }

    #[test]
    fn a_later_node_section_replaces_an_earlier_one() {
        let first = v4(1).to_bytes();
        let second = v6(2).to_bytes();
        let bytes = state(&[
            section(DHT_STATE_TYPE_NODES, DHT_STATE_COOKIE_TYPE, &first),
            section(DHT_STATE_TYPE_NODES, DHT_STATE_COOKIE_TYPE, &second),
        ]);
        assert_eq!(DhtState::from_bytes(&bytes).unwrap().nodes(), &[v6(2)]);
    }

    #[test]
    fn truncated_sections_and_leftover_bytes_are_refused() {
        let mut bytes = DhtState::new(vec![v4(1)]).unwrap().to_bytes();
        bytes.pop();
        assert!(DhtState::from_bytes(&bytes).is_err());
        for extra in 1..DHT_STATE_SECTION_HEADER_SIZE {
            let mut bytes = DhtState::new(vec![v4(1)]).unwrap().to_bytes();
            bytes.extend(std::iter::repeat_n(0, extra));
            assert!(DhtState::from_bytes(&bytes).is_err(), "{extra} extra");
        }
    }

    #[test]
    fn tcp_nodes_are_refused_both_ways() {
        let tcp = PackedNode::new(
            TransportProtocol::Tcp,
            "1.2.3.4:5".parse().unwrap(),
            PublicKey::new([1; 32]),
        );
        assert_eq!(DhtState::new(vec![tcp]), Err(DhtStateError::TcpNode));
        let bytes = state(&[section(
            DHT_STATE_TYPE_NODES,
            DHT_STATE_COOKIE_TYPE,
            &tcp.to_bytes(),
        )]);
        assert!(DhtState::from_bytes(&bytes).is_err());
    }

    #[test]
    fn only_what_c_toxcore_loads_whole_can_be_built() {
        let many: Vec<PackedNode> = (0..=MAX_SAVED_DHT_NODES)
            .map(|i| v4((i % 250) as u8))
            .collect();
        assert_eq!(
            DhtState::new(many),
            Err(DhtStateError::TooManyNodes {
                count: MAX_SAVED_DHT_NODES + 1
            })
        );
        let long: Vec<PackedNode> = (0..1286).map(|i| v6((i % 250) as u8)).collect();
        assert_eq!(
            DhtState::new(long),
            Err(DhtStateError::TooLong { len: 1286 * 51 })
        );
        let fits: Vec<PackedNode> = (0..1285).map(|i| v6((i % 250) as u8)).collect();
        assert!(DhtState::new(fits).is_ok());
    }

    #[test]
    fn node_bodies_c_toxcore_cannot_read_whole_are_refused() {
        let node_list = |n: usize| -> Vec<u8> {
            (0..n)
                .flat_map(|i| v4((i % 250) as u8).to_bytes())
                .collect()
        };
        // 1680 IPv4 nodes are 65 520 bytes; one more is past u16::MAX.
        let fits = state(&[section(
            DHT_STATE_TYPE_NODES,
            DHT_STATE_COOKIE_TYPE,
            &node_list(1680),
        )]);
        assert_eq!(DhtState::from_bytes(&fits).unwrap().nodes().len(), 1680);
        let long = state(&[section(
            DHT_STATE_TYPE_NODES,
            DHT_STATE_COOKIE_TYPE,
            &node_list(1681),
        )]);
        assert!(DhtState::from_bytes(&long).is_err());
        // Other sections may be longer: they are skipped unread.
        let other = state(&[section(9, DHT_STATE_COOKIE_TYPE, &node_list(1681))]);
        assert_eq!(DhtState::from_bytes(&other), Ok(DhtState::default()));
    }

    proptest! {
        #[test]
        fn round_trips(nodes in proptest::collection::vec(arb_udp_node(), 0..64)) {
            let state = DhtState::new(nodes).unwrap();
            let bytes = state.to_bytes();
            prop_assert_eq!(bytes.len(), state.encoded_len());
            prop_assert_eq!(DhtState::from_bytes(&bytes), Ok(state));
        }

        #[test]
        fn truncated_states_are_refused(
            nodes in proptest::collection::vec(arb_udp_node(), 1..16),
            cut in 1usize..900,
        ) {
            let bytes = DhtState::new(nodes).unwrap().to_bytes();
            let keep = bytes.len().saturating_sub(cut);
            prop_assert!(DhtState::from_bytes(&bytes[..keep]).is_err());
        }

        #[test]
        fn garbage_never_panics(mut bytes in garbage(600), framed in any::<bool>()) {
            if framed && bytes.len() >= 12 {
                // Give the decoder a real header so it reaches the nodes.
                bytes[..4].copy_from_slice(&DHT_STATE_COOKIE_GLOBAL.to_le_bytes());
                let len = (bytes.len() - 12) as u32;
                bytes[4..8].copy_from_slice(&len.to_le_bytes());
                bytes[8..10].copy_from_slice(&DHT_STATE_TYPE_NODES.to_le_bytes());
                bytes[10..12].copy_from_slice(&DHT_STATE_COOKIE_TYPE.to_le_bytes());
            }
            if let Ok(state) = DhtState::from_bytes(&bytes) {
                prop_assert!(state.nodes().len() <= MAX_SAVED_DHT_NODES);
                let again = DhtState::from_bytes(&state.to_bytes());
                prop_assert_eq!(again, Ok(state));
            }
        }
    }
}
