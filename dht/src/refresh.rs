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
//! toxide waits [`REFRESH_AFTER`] (90 s) of silence instead and asks again
//! [`RETRY_AFTER`] after an unanswered request, so a node gets four
//! requests before it turns bad, at two thirds of the steady cost. Nothing
//! of ours depends on how often others hear from us: c-toxcore keeps us by
//! asking us itself, and we always answer.
//!
//! c-toxcore pings on its own schedule only, so two nodes that keep each
//! other in their lists exchange two requests and two answers a minute.
//! Counting the other's request as news halves that between toxide nodes
//! (whichever asks first keeps asking, the other waits [`ASKER_MARGIN`]
//! longer and only answers), and a c-toxcore neighbour,
//! which asks every minute anyway, is never asked by us at all: its
//! request tells us it is alive, our answer tells it we are.
//!
//! Two tiers cut an idle node's upkeep further (issue 10: an idle client
//! should cost a third of c-toxcore's traffic). A node good without a
//! break for [`STABLE_AFTER`] moves to the slow tier and is asked only
//! after [`STABLE_REFRESH_AFTER`] of silence; its bad and dead deadlines
//! move with it ([`Assoc::refresh_after`]), so a dead node still goes in
//! bounded time and the slot it held is freed. The slow tier is for the
//! close list's far entries and the random-key search lists: the
//! [`NEAR_FRESH`] close entries nearest our key, and every entry of a
//! friend's search list, stay on the short tier, so what others reach us
//! through and what we reach friends through is checked as often as
//! before. An entry moved back to the short tier is asked at once if it
//! has been silent longer, and keeps its silence plus [`BAD_NODE_GRACE`]
//! to answer. Likewise the random nodes requests of a list that learns
//! nothing new back off from [`GET_NODE_INTERVAL`] to
//! [`GET_NODE_MAX_INTERVAL`], except while a friend is searched for.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use toxide_core::PublicKey;

#[cfg(doc)]
use crate::client::Assoc;
use crate::client::Client;
pub use crate::constants::REFRESH_AFTER;
#[cfg(doc)]
use crate::constants::{BAD_NODE_GRACE, BAD_NODE_TIMEOUT, NEAR_FRESH, PING_INTERVAL, STABLE_AFTER};
use crate::constants::{
    GET_NODE_INTERVAL, GET_NODE_MAX_INTERVAL, MAX_BOOTSTRAP_TIMES, STABLE_REFRESH_AFTER,
};

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
    /// The wait before the next random request; `None` is
    /// [`GET_NODE_INTERVAL`].
    pub interval: Option<Duration>,
    /// Whether the list took a node it did not hold since the last random
    /// request.
    pub learned: bool,
}

impl RefreshSchedule {
    /// The list took a node new to it: keep asking at the full rate.
    pub fn learned(&mut self) {
        self.learned = true;
    }

    fn interval(&self) -> Duration {
        self.interval.unwrap_or(GET_NODE_INTERVAL)
    }

    /// A random request went out: the next waits [`GET_NODE_INTERVAL`]
    /// if the list learned something since the last (or `eager`), twice
    /// as long as this one otherwise, at most [`GET_NODE_MAX_INTERVAL`].
    fn sent(&mut self, now: Instant, eager: bool) {
        let next = if eager || self.learned || self.bootstrap_times < MAX_BOOTSTRAP_TIMES {
            GET_NODE_INTERVAL
        } else {
            self.interval().saturating_mul(2).min(GET_NODE_MAX_INTERVAL)
        };
        self.interval = Some(next);
        self.learned = false;
        self.last_get_nodes = Some(now);
        self.bootstrap_times += 1;
    }
}

/// How one list is kept fresh.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy<'a> {
    /// Entries kept on the short tier however stable (the close list's
    /// nearest to our key).
    pub keep_fresh: &'a [PublicKey],
    /// Every entry on the short tier and random requests at the full rate
    /// (a friend's search list).
    pub eager: bool,
}

/// The refresh interval `policy` gives this entry now.
fn tier(policy: &Policy<'_>, pk: &PublicKey, stable: bool) -> Duration {
    if policy.eager || !stable || policy.keep_fresh.contains(pk) {
        REFRESH_AFTER
    } else {
        STABLE_REFRESH_AFTER
    }
}

/// What one refresh round decided.
#[derive(Debug, Default)]
pub struct Refresh {
    /// Nodes to send a nodes request to.
    pub requests: Vec<(SocketAddr, PublicKey)>,
    /// Addresses in the list not yet dead.
    pub alive: usize,
}

/// Runs one refresh round over `clients`, marking the addresses it pings
/// and setting each one's tier by `policy`.
pub fn refresh<'a, R: Rng + ?Sized>(
    clients: impl Iterator<Item = &'a mut Client>,
    schedule: &mut RefreshSchedule,
    policy: Policy<'_>,
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
            // A longer tier applies at once; a shorter one keeps the
            // silence so far, so the entry is asked now and still has
            // its grace to answer before it turns bad.
            let wanted = tier(&policy, &pk, assoc.is_stable());
            assoc.refresh_after = if wanted >= assoc.refresh_after {
                wanted
            } else {
                wanted.max(assoc.silence(now).min(assoc.refresh_after))
            };
            let older = |t: Option<Instant>, age: Duration| {
                t.is_none_or(|t| now.saturating_duration_since(t) >= age)
            };
            let quiet = if assoc.asked_us.is_some() && assoc.asked_us == assoc.last_seen {
                assoc.refresh_after + ASKER_MARGIN
            } else {
                assoc.refresh_after
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
        .is_none_or(|t| now.saturating_duration_since(t) >= schedule.interval())
        || schedule.bootstrap_times < MAX_BOOTSTRAP_TIMES;
    if due && !good.is_empty() {
        let pick = (rng.next_u32() as usize) % good.len();
        if let Some(&chosen) = good.get(pick) {
            out.requests.push(chosen);
        }
        schedule.sent(now, policy.eager);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::{BAD_NODE_GRACE, BAD_NODE_TIMEOUT, STABLE_AFTER};
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use toxide_core::testing::key_first as key;

    const S: Duration = Duration::from_secs(1);

    fn addr() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], 1))
    }

    /// A schedule whose random requests never come due, so only liveness
    /// requests show.
    fn no_random() -> RefreshSchedule {
        RefreshSchedule {
            last_get_nodes: Some(Instant::now()),
            bootstrap_times: MAX_BOOTSTRAP_TIMES,
            interval: Some(Duration::MAX),
            learned: false,
        }
    }

    /// Runs one round over `client` alone; whether it was asked.
    fn asked(client: &mut Client, policy: Policy<'_>, now: Instant) -> bool {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let round = refresh(
            std::iter::once(client),
            &mut no_random(),
            policy,
            now,
            &mut rng,
        );
        !round.requests.is_empty()
    }

    /// A node first heard at `t0` that answered every minute until
    /// `STABLE_AFTER` later: stable, last heard at the returned time.
    fn stable_client(t0: Instant, policy: Policy<'_>) -> (Client, Instant) {
        let mut client = Client::new(key(9), addr(), t0);
        let mut t = t0;
        while t < t0 + STABLE_AFTER {
            asked(&mut client, policy, t);
            t += 60 * S;
            client.heard_from(addr(), t);
        }
        // The round at the tick it answered sets its tier.
        assert!(!asked(&mut client, policy, t));
        assert!(client.v4.unwrap().is_stable());
        (client, t)
    }

    /// The first second at or after `from` at which `client` is asked.
    fn next_ask(client: &mut Client, policy: Policy<'_>, from: Instant) -> Duration {
        let mut t = from;
        while !asked(client, policy, t) {
            t += S;
        }
        t - from
    }

    #[test]
    fn a_stable_far_node_is_asked_after_the_slow_tier_and_dropped_in_bounded_time() {
        let t0 = Instant::now();
        let policy = Policy::default();
        let (mut client, heard) = stable_client(t0, policy);
        assert_eq!(next_ask(&mut client, policy, heard), STABLE_REFRESH_AFTER);
        let assoc = client.v4.unwrap();
        assert!(!assoc.is_bad(heard + STABLE_REFRESH_AFTER + BAD_NODE_GRACE - S));
        assert!(assoc.is_bad(heard + STABLE_REFRESH_AFTER + BAD_NODE_GRACE));
    }

    #[test]
    fn a_young_node_keeps_the_short_tier_and_c_toxcores_bad_timeout() {
        let t0 = Instant::now();
        let policy = Policy::default();
        let mut client = Client::new(key(9), addr(), t0);
        assert!(
            asked(&mut client, policy, t0),
            "a new node is asked at once"
        );
        client.heard_from(addr(), t0 + S);
        assert_eq!(next_ask(&mut client, policy, t0 + S), REFRESH_AFTER);
        let assoc = client.v4.unwrap();
        assert!(!assoc.is_bad(t0 + S + BAD_NODE_TIMEOUT - S));
        assert!(assoc.is_bad(t0 + S + BAD_NODE_TIMEOUT));
    }

    #[test]
    fn nodes_kept_fresh_and_eager_lists_stay_on_the_short_tier() {
        let t0 = Instant::now();
        let near = [key(9)];
        for policy in [
            Policy {
                keep_fresh: &near,
                eager: false,
            },
            Policy {
                keep_fresh: &[],
                eager: true,
            },
        ] {
            let (mut client, heard) = stable_client(t0, policy);
            assert_eq!(next_ask(&mut client, policy, heard), REFRESH_AFTER);
            assert!(client.v4.unwrap().is_bad(heard + BAD_NODE_TIMEOUT));
        }
    }

    #[test]
    fn a_node_back_on_the_short_tier_is_asked_at_once_and_keeps_its_grace() {
        let t0 = Instant::now();
        let (mut client, heard) = stable_client(t0, Policy::default());
        // Five minutes of silence on the slow tier, then it becomes one of
        // the nodes nearest us.
        let later = heard + 300 * S;
        assert!(!asked(&mut client, Policy::default(), later));
        let near = [key(9)];
        let fresh = Policy {
            keep_fresh: &near,
            eager: false,
        };
        assert!(asked(&mut client, fresh, later));
        let assoc = client.v4.unwrap();
        assert!(!assoc.is_bad(later + BAD_NODE_GRACE - S));
        assert!(assoc.is_bad(later + BAD_NODE_GRACE));
        // Once it answers it is on the short tier for good.
        client.heard_from(addr(), later + S);
        asked(&mut client, fresh, later + S);
        assert_eq!(client.v4.unwrap().refresh_after, REFRESH_AFTER);
    }

    #[test]
    fn a_node_heard_after_going_bad_starts_again_young() {
        let t0 = Instant::now();
        let (mut client, heard) = stable_client(t0, Policy::default());
        let back = heard + STABLE_REFRESH_AFTER + BAD_NODE_GRACE;
        client.heard_from(addr(), back);
        let assoc = client.v4.unwrap();
        assert_eq!(assoc.since, back);
        assert!(!assoc.is_stable());
        assert_eq!(assoc.refresh_after, REFRESH_AFTER);
    }

    /// The gaps between the random requests of a one-node list over
    /// `secs` seconds, the list learning a node when `learn(t)`.
    fn random_gaps(eager: bool, secs: u64, learn: impl Fn(u64) -> bool) -> Vec<u64> {
        let t0 = Instant::now();
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let mut client = Client::new(key(9), addr(), t0);
        let mut schedule = RefreshSchedule::default();
        let policy = Policy {
            keep_fresh: &[],
            eager,
        };
        let mut sent = Vec::new();
        for s in 0..secs {
            let now = t0 + Duration::from_secs(s);
            client.heard_from(addr(), now);
            if learn(s) {
                schedule.learned();
            }
            let before = schedule.last_get_nodes;
            refresh(
                std::iter::once(&mut client),
                &mut schedule,
                policy,
                now,
                &mut rng,
            );
            if schedule.last_get_nodes != before {
                sent.push(s);
            }
        }
        sent.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn random_requests_back_off_while_nothing_is_learned() {
        let gaps = random_gaps(false, 900, |_| false);
        // The bootstrap rounds back to back, then 20, 40, 80, 160, 160…
        assert_eq!(gaps[..4], [1, 1, 1, 1]);
        assert_eq!(gaps[4..9], [20, 40, 80, 160, 160]);
        assert!(gaps.iter().all(|&g| g <= GET_NODE_MAX_INTERVAL.as_secs()));
        // A node learned brings the next gap back to 20 s.
        let gaps = random_gaps(false, 900, |s| s == 400);
        assert!(gaps.windows(2).any(|w| w == [160, 20]), "{gaps:?}");
        // A friend not yet found is searched for at c-toxcore's pace.
        let gaps = random_gaps(true, 300, |_| false);
        assert!(gaps[4..].iter().all(|&g| g == GET_NODE_INTERVAL.as_secs()));
    }
}
