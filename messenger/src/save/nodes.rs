//! The TCP relay and onion path node sections (checklist V7; spec "Tcp
//! Relays (0x0A)", "Path Nodes (0x0B)"; c-toxcore `save_tcp_relays`,
//! `load_tcp_relays`, `save_path_nodes`, `load_path_nodes`).
//!
//! Each body is packed nodes back to back (K6), no count. c-toxcore keeps
//! at most eight of each: it reads the first eight nodes and ignores what
//! follows; relays may be TCP or UDP addresses (`unpack_nodes` with TCP
//! on), path nodes only UDP ones. These sections are caches to reconnect
//! through, so a malformed body is not an error: c-toxcore loads no nodes
//! from it and goes on, and so does this reader.

use bytes::BufMut;
use toxide_core::{Decode, Encode, PackedNode, Reader, TransportProtocol};

/// The most TCP relays c-toxcore saves and loads (`NUM_SAVED_TCP_RELAYS`).
pub const MAX_SAVED_TCP_RELAYS: usize = 8;
/// The most path nodes c-toxcore saves and loads (`NUM_SAVED_PATH_NODES`).
pub const MAX_SAVED_PATH_NODES: usize = 8;

/// The nodes c-toxcore loads from a section body: the first `max`, or none
/// if one of those is malformed (or a TCP node where `tcp` is off).
pub(super) fn decode(body: &[u8], max: usize, tcp: bool) -> Vec<PackedNode> {
    // `unpack_nodes` takes the length as a `uint16_t`: a body of 64 KiB or
    // more is read as its length modulo 65 536.
    let visible = body.len() % (usize::from(u16::MAX) + 1);
    let mut reader = Reader::new(body.get(..visible).unwrap_or_default());
    let mut nodes = Vec::new();
    while nodes.len() < max && !reader.is_empty() {
        match PackedNode::decode(&mut reader) {
            Ok(node) if tcp || node.protocol == TransportProtocol::Udp => nodes.push(node),
            _ => return Vec::new(),
        }
    }
    nodes
}

/// The nodes this writer saves: the first `max` that the reader accepts.
pub(super) fn saved(nodes: &[PackedNode], max: usize, tcp: bool) -> Vec<PackedNode> {
    nodes
        .iter()
        .filter(|n| tcp || n.protocol == TransportProtocol::Udp)
        .take(max)
        .copied()
        .collect()
}

/// Writes nodes back to back.
pub(super) fn encode(nodes: &[PackedNode], buf: &mut impl BufMut) {
    for node in nodes {
        node.encode(buf);
    }
}

/// The size of [`encode`]'s output.
pub(super) fn encoded_len(nodes: &[PackedNode]) -> usize {
    nodes.iter().map(Encode::encoded_len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use toxide_core::PublicKey;
    use toxide_core::testing::{node_v4, node_v6};

    fn tcp(n: u8) -> PackedNode {
        PackedNode::new(
            TransportProtocol::Tcp,
            "192.0.2.1:443".parse().unwrap(),
            PublicKey::new([n; 32]),
        )
    }

    fn body(nodes: &[PackedNode]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(nodes, &mut out);
        out
    }

    #[test]
    fn relays_may_be_tcp_path_nodes_may_not() {
        let nodes = [tcp(1), node_v4(2), node_v6(3)];
        assert_eq!(decode(&body(&nodes), 8, true), nodes);
        assert_eq!(decode(&body(&nodes), 8, false), []);
        assert_eq!(saved(&nodes, 8, false), [node_v4(2), node_v6(3)]);
    }

    #[test]
    fn only_the_first_eight_are_read() {
        let nodes: Vec<PackedNode> = (0..10).map(node_v4).collect();
        let mut bytes = body(&nodes);
        bytes.extend_from_slice(b"ignored, as c-toxcore ignores it");
        assert_eq!(decode(&bytes, 8, false), nodes[..8]);
        assert_eq!(saved(&nodes, 8, false), nodes[..8]);
    }

    #[test]
    fn a_malformed_list_loads_no_nodes() {
        let mut bytes = body(&[node_v4(1), node_v4(2)]);
        bytes.pop();
        assert_eq!(decode(&bytes, 8, true), []);
        assert_eq!(decode(&[7], 8, true), []);
        assert_eq!(decode(&[], 8, true), []);
    }
}
