//! The node list kept across restarts (checklist D9; c-toxcore `dht_save`,
//! `dht_load`, `dht_connect_after_load`).
//!
//! A client's DHT key is new every start, so what is worth keeping is
//! where the network was: the addresses of nodes that answered us. They
//! come back as nodes to ask, never as trusted entries: a loaded node
//! enters a list only by answering, like any node we hear of.

use std::cmp::Reverse;
use std::time::Instant;

use toxide_core::{Encode, PackedNode, TransportProtocol};

use super::Dht;
use crate::client::Client;
use crate::constants::SAVE_BOOTSTRAP_FREQUENCY;
use crate::distance::compare;
use crate::lan::is_lan;
use crate::state::{MAX_NODES_SECTION_SIZE, MAX_SAVED_DHT_NODES};

impl Dht {
    /// The nodes to save for the next start, freshest first: every address
    /// (IPv4 and IPv6 apart) at which a node of the close list or of the
    /// random-key search lists has answered us, then the loaded nodes not
    /// yet replaced by a connection. At most [`MAX_SAVED_DHT_NODES`], and
    /// never more than a [`DhtState`](crate::DhtState) holds.
    ///
    /// Good nodes come first because they are the freshest; nodes gone bad
    /// are kept after them, as c-toxcore keeps every node that ever
    /// answered (`dht_save`): a client that saves while cut off would
    /// otherwise save nothing.
    pub fn saved_nodes(&self) -> Vec<PackedNode> {
        let own = self.keys.public;
        let fake_lists = self
            .fake_searches
            .iter()
            .filter_map(|pk| self.searches.get(pk))
            .flat_map(|s| s.clients.iter());
        let mut heard: Vec<(Instant, PackedNode)> = self
            .close
            .iter()
            .chain(fake_lists)
            .flat_map(Client::heard_addrs)
            .collect();
        // Freshest first; among equals, closest to us first, so the order
        // does not depend on how the lists happen to be laid out.
        heard.sort_by(|(ta, a), (tb, b)| {
            Reverse(ta)
                .cmp(&Reverse(tb))
                .then_with(|| compare(&own, &a.public_key, &b.public_key))
                .then_with(|| a.addr.cmp(&b.addr))
        });
        let loaded = self.loaded.iter().copied();
        let mut out: Vec<PackedNode> = Vec::new();
        let mut bytes = 0;
        for node in heard.into_iter().map(|(_, node)| node).chain(loaded) {
            if out.len() == MAX_SAVED_DHT_NODES {
                break;
            }
            if out.contains(&node) {
                continue;
            }
            bytes += node.encoded_len();
            if bytes > MAX_NODES_SECTION_SIZE {
                break;
            }
            out.push(node);
        }
        out
    }

    /// Takes nodes from a save file, replacing any loaded before. From the
    /// next tick on, up to eight of them a tick are asked for the nodes
    /// around our key, in turns, until a good node off the LAN is in the
    /// close list (c-toxcore `dht_connect_after_load`). Nothing is trusted:
    /// a loaded node enters our lists only by answering.
    pub fn load_nodes(&mut self, nodes: impl IntoIterator<Item = PackedNode>) {
        let own = self.keys.public;
        self.loaded = nodes
            .into_iter()
            .filter(|n| n.protocol == TransportProtocol::Udp && n.public_key != own)
            .take(MAX_SAVED_DHT_NODES)
            .collect();
        self.loaded_index = 0;
    }

    /// Whether a good node with an address off the LAN is in the close list
    /// (c-toxcore `dht_non_lan_connected`).
    fn is_connected_beyond_lan(&self, now: Instant) -> bool {
        self.close
            .iter()
            .flat_map(Client::assocs)
            .any(|a| !a.is_bad(now) && !is_lan(a.addr.ip()))
    }

    /// Per tick: asks the next few loaded nodes, or lets the list go once
    /// we are connected.
    pub(super) fn do_loaded(&mut self, now: Instant) {
        if self.loaded.is_empty() {
            return;
        }
        if self.is_connected_beyond_lan(now) {
            self.loaded = Vec::new();
            return;
        }
        let own = self.keys.public;
        for _ in 0..self.loaded.len().min(SAVE_BOOTSTRAP_FREQUENCY) {
            let index = self.loaded_index % self.loaded.len();
            self.loaded_index = self.loaded_index.wrapping_add(1);
            if let Some(node) = self.loaded.get(index).copied() {
                self.send_nodes_request(now, node.addr, node.public_key, own);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use toxide_core::PublicKey;

    use super::*;
    use crate::Config;
    use crate::constants::BAD_NODE_TIMEOUT;

    fn key(first: u8) -> PublicKey {
        PublicKey::new([first; 32])
    }

    #[test]
    fn both_families_are_saved_freshest_first() {
        let start = Instant::now();
        let mut dht = Dht::new(Config::default(), start, [1; 32]);
        let v4: SocketAddr = "198.51.100.1:33445".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:33445".parse().unwrap();
        let other: SocketAddr = "198.51.100.2:33445".parse().unwrap();
        dht.add_to_lists(start, key(0x11), v4);
        dht.add_to_lists(start + Duration::from_secs(1), key(0x22), other);
        dht.add_to_lists(start + Duration::from_secs(2), key(0x11), v6);
        assert_eq!(
            dht.saved_nodes(),
            vec![
                PackedNode::udp(v6, key(0x11)),
                PackedNode::udp(other, key(0x22)),
                PackedNode::udp(v4, key(0x11)),
            ]
        );
    }

    #[test]
    fn nodes_gone_bad_are_still_saved_after_the_good_ones() {
        let start = Instant::now();
        let mut dht = Dht::new(Config::default(), start, [2; 32]);
        let old: SocketAddr = "198.51.100.1:1".parse().unwrap();
        let fresh: SocketAddr = "198.51.100.2:1".parse().unwrap();
        dht.add_to_lists(start, key(0x11), old);
        let later = start + BAD_NODE_TIMEOUT * 3;
        dht.add_to_lists(later, key(0x22), fresh);
        assert!(dht.close.get(&key(0x11)).unwrap().is_bad(later));
        assert_eq!(
            dht.saved_nodes(),
            vec![
                PackedNode::udp(fresh, key(0x22)),
                PackedNode::udp(old, key(0x11))
            ]
        );
    }

    #[test]
    fn loaded_nodes_go_once_connected_beyond_the_lan() {
        let now = Instant::now();
        let mut dht = Dht::new(Config::default(), now, [3; 32]);
        let saved = PackedNode::udp("198.51.100.9:1".parse().unwrap(), key(0x33));
        dht.load_nodes([saved]);
        dht.add_to_lists(now, key(0x44), "192.168.1.2:1".parse().unwrap());
        dht.do_loaded(now);
        assert_eq!(dht.loaded, vec![saved], "a LAN node is not enough");
        dht.add_to_lists(now, key(0x55), "198.51.100.3:1".parse().unwrap());
        dht.do_loaded(now);
        assert!(dht.loaded.is_empty());
    }
}
