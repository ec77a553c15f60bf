//! Keeping a node list fresh (c-toxcore `do_ping_and_sendnode_requests`).
//!
//! The close list and every search list are maintained the same way, once
//! per tick: each address not yet dead gets a nodes request once nothing
//! from it (an answer, or a request of its own) is younger than
//! [`REFRESH_AFTER`] and our last request to it is [`RETRY_AFTER`] old,
//! and one random good node is asked for more nodes every
//! [`GET_NODE_INTERVAL`], or every tick for the first
//! [`MAX_BOOTSTRAP_TIMES`] rounds of a new list.
//!
//! c-toxcore asks every node each [`PING_INTERVAL`] (60 s) and calls it
//! bad after [`BAD_NODE_TIMEOUT`] (122 s): a node may miss one answer.
//! toxide waits 90 s of silence instead and asks again 10 s after an
//! unanswered request, so a node gets four requests before it turns bad,
//! at two thirds of the steady cost. Nothing of ours depends on how often
//! others hear from us: c-toxcore keeps us by asking us itself.
//!
//! c-toxcore pings on its own schedule only, so two nodes that keep each
//! other in their lists exchange two requests and two answers a minute.
//! Counting the other's request as news halves that between toxide nodes
//! (whichever asks first keeps asking, the other waits [`ASKER_MARGIN`]
//! longer and only answers), and a c-toxcore neighbour,
//! which asks every minute anyway, is never asked by us at all: its
//! request tells us it is alive, our answer tells it we are.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use toxide_core::PublicKey;

use crate::client::Client;
#[cfg(doc)]
use crate::constants::{BAD_NODE_TIMEOUT, PING_INTERVAL};
use crate::constants::{GET_NODE_INTERVAL, MAX_BOOTSTRAP_TIMES};

/// Silence from a node after which we ask it whether it is alive.
pub const REFRESH_AFTER: Duration = Duration::from_secs(90);

/// How long an unanswered liveness request is left before the next.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Extra silence we allow a node whose last word was a request of its
/// own: it is on the same clock as us (its last request and our answer
/// are one exchange), and without the margin both would ask at once.
/// With it, the node that asked keeps asking and the other only answers.
pub const ASKER_MARGIN: Duration = Duration::from_secs(15);

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
            let older = |t: Option<Instant>, age: Duration| {
                t.is_none_or(|t| now.saturating_duration_since(t) >= age)
            };
            let quiet = if assoc.asked_us.is_some() && assoc.asked_us == assoc.last_seen {
                REFRESH_AFTER + ASKER_MARGIN
            } else {
                REFRESH_AFTER
            };
            // A node never asked is asked at once, as in c-toxcore: its
            // answer may name nodes closer to the list's key.
            if assoc.last_pinged.is_none()
                || older(assoc.last_pinged, RETRY_AFTER) && older(assoc.last_seen, quiet)
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
