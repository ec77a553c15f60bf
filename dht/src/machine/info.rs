//! LAN discovery (0x21, checklist D13) and bootstrap info (0xf0, D14): the
//! two packets that carry no box.

use std::net::SocketAddr;
use std::time::Instant;

use super::Dht;
use crate::lan::is_lan;
use crate::packet::{BootstrapInfoResponse, DhtPacketError, LanDiscovery};

impl Dht {
    /// A node on our LAN announced itself: bootstrap from it (no trust; it
    /// still has to answer), if LAN discovery is on and the source really
    /// is a LAN address (c-toxcore `handle_LANdiscovery`). Our own
    /// announcement, which the kernel loops back to us, is ignored, as
    /// `dht_bootstrap` ignores our own key.
    pub(super) fn on_lan_discovery(
        &mut self,
        now: Instant,
        from: SocketAddr,
        p: &LanDiscovery,
    ) -> Result<(), DhtPacketError> {
        if !self.config.lan_discovery || !is_lan(from.ip()) {
            self.stats.dropped_lan_discovery += 1;
        } else if !self.is_reflection(&p.public_key) {
            self.send_nodes_request(now, from, p.public_key, self.keys.public);
        }
        Ok(())
    }

    /// Announces our DHT key to the LAN when a round is due (c-toxcore
    /// `lan_discovery` in `friend_connection.c`; schedule, ports and
    /// destinations in [`crate::lan`]).
    pub(super) fn do_lan_discovery(&mut self, now: Instant) {
        if !self.config.lan_discovery {
            return;
        }
        let Some(destinations) = self.lan.poll_round(now) else {
            return;
        };
        let packet = LanDiscovery {
            public_key: self.keys.public,
        };
        for destination in destinations {
            self.push(destination, &packet);
        }
    }

    /// Answers with our version and message of the day, if we serve them.
    pub(super) fn on_bootstrap_info_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
    ) -> Result<(), DhtPacketError> {
        let Some((version, motd)) = self.config.bootstrap_info.clone() else {
            self.stats.dropped_unserved += 1;
            return Ok(());
        };
        if !self.allowed(now, from) {
            return Ok(());
        }
        let response = BootstrapInfoResponse::new(version, motd)?;
        self.push(from, &response);
        Ok(())
    }

    /// We never ask for bootstrap info, so an answer is dropped.
    pub(super) fn on_bootstrap_info_response(&mut self) -> Result<(), DhtPacketError> {
        self.stats.dropped_unserved += 1;
        Ok(())
    }
}
