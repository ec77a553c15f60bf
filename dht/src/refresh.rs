//! Keeping a node list fresh (c-toxcore `do_ping_and_sendnode_requests`).
//!
//! The close list and every search list are maintained the same way, once
//! per tick: each address not yet dead gets a nodes request every
//! [`PING_INTERVAL`] (the answer proves it alive and may bring closer
//! nodes), and one random good node is asked for more nodes every
//! [`GET_NODE_INTERVAL`], or every tick for the first
//! [`MAX_BOOTSTRAP_TIMES`] rounds of a new list.

use std::net::SocketAddr;
use std::time::Instant;

use rand::Rng;
use toxide_core::PublicKey;

use crate::client::Client;
use crate::constants::{GET_NODE_INTERVAL, MAX_BOOTSTRAP_TIMES, PING_INTERVAL};

/// When a list last asked a random node, and how many rounds it has had.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefreshSchedule {
    /// When a random good node of the list was last asked for nodes.
    pub last_get_nodes: Option<Instant>,
    /// Rounds sent so far (the first few go back to back).
    pub bootstrap_times: u32,
}

/// What one refresh round decided.
#[derive(Debug, Default)]
pub struct Refresh {
    /// Nodes to send a nodes request to.
    pub requests: Vec<(SocketAddr, PublicKey)>,
    /// Addresses in the list not yet dead.
    pub alive: usize,
}

/// Runs one refresh round over `clients`, marking the addresses it pings.
pub fn refresh<'a, R: Rng + ?Sized>(
    clients: impl Iterator<Item = &'a mut Client>,
    schedule: &mut RefreshSchedule,
    now: Instant,
    rng: &mut R,
) -> Refresh {
    let mut out = Refresh::default();
    let mut good = Vec::new();
    for client in clients {
        let pk = client.public_key;
        for assoc in client.assocs_mut() {
            if assoc.is_dead(now) {
                continue;
            }
            out.alive += 1;
            if assoc
                .last_pinged
                .is_none_or(|t| now.saturating_duration_since(t) >= PING_INTERVAL)
            {
                assoc.last_pinged = Some(now);
                out.requests.push((assoc.addr, pk));
            }
            if !assoc.is_bad(now) {
                good.push((assoc.addr, pk));
            }
        }
    }
    let due = schedule
        .last_get_nodes
        .is_none_or(|t| now.saturating_duration_since(t) >= GET_NODE_INTERVAL)
        || schedule.bootstrap_times < MAX_BOOTSTRAP_TIMES;
    if due && !good.is_empty() {
        let pick = (rng.next_u32() as usize) % good.len();
        if let Some(&chosen) = good.get(pick) {
            out.requests.push(chosen);
        }
        schedule.last_get_nodes = Some(now);
        schedule.bootstrap_times += 1;
    }
    out
}
