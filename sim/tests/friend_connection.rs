//! Friend connections on the simulator (checklist F1): pairs of friends
//! find each other through the onion and the DHT and bring sessions up;
//! then one friend of each pair goes away, either vanishing (its node
//! stops answering) or deleting us while its node stays on the network.
//! The other side keeps reopening the session only until
//! `FRIEND_DHT_TIMEOUT` (122 s) after the session went down, as
//! c-toxcore's `friend_connection` does, then drops the friend's DHT key
//! and its DHT search and sends the friend nothing more; when the friend
//! comes back, its news (an onion DHT-PK announcement or its own session)
//! brings the session back at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use toxide::stack::FRIEND_DHT_TIMEOUT;
use toxide_core::PublicKey;
use toxide_net_crypto::packet::{NET_PACKET_COOKIE_REQUEST, PACKET_IDS};
use toxide_sim::{LinkConfig, Network, StackNode, stack_network};

/// Nodes on the network, the bootstrap node included: enough for onion
/// paths and announce nodes.
const NODES: usize = 24;

/// Steps one run may take: far more than these runs need, so reaching it
/// means a node asks to be woken at the same instant forever.
const STEP_BUDGET: u64 = 5_000_000;

/// What the checks read off a node (see [`StackNode`]).
trait Record {
    /// When the friend last went offline at or after `since`.
    fn offline_at(&self, since: Instant) -> Option<Instant>;
    /// Net_crypto packets with id `id` (any, if `None`) sent to `to` at or
    /// after `since`, as times since `since`.
    fn sent_to(&self, to: SocketAddr, id: Option<u8>, since: Instant) -> Vec<Duration>;
    /// Whether the DHT searches for `key` (read from its debug form: the
    /// search lists are private to the DHT).
    fn searches_for(&self, key: &PublicKey) -> bool;
}

impl Record for Peer {
    fn offline_at(&self, since: Instant) -> Option<Instant> {
        self.status
            .iter()
            .find(|(at, online)| *at >= since && !online)
            .map(|(at, _)| *at)
    }

    fn sent_to(&self, to: SocketAddr, id: Option<u8>, since: Instant) -> Vec<Duration> {
        self.sent
            .iter()
            .filter(|s| PACKET_IDS.contains(&s.id))
            .filter(|s| s.at >= since && s.to == to && id.is_none_or(|id| id == s.id))
            .map(|s| s.at.duration_since(since))
            .collect()
    }

    fn searches_for(&self, key: &PublicKey) -> bool {
        format!("{:?}", self.stack.dht).contains(&format!("target: {key:?}"))
    }
}

type Peer = StackNode;

/// A network of full clients around one bootstrap node (node 0, DHT and
/// onion server only), every client bootstrapped from it.
fn network(start: Instant, seed: u64) -> Network<Peer> {
    stack_network(NODES, 1, LinkConfig::default(), start, seed)
}

/// Runs in one-second slices until `done` holds or `limit` passes;
/// whether it held.
fn run_until(
    net: &mut Network<Peer>,
    limit: Duration,
    mut done: impl FnMut(&Network<Peer>) -> bool,
) -> bool {
    let end = net.now() + limit;
    while net.now() < end {
        if done(net) {
            return true;
        }
        let until = net.now() + Duration::from_secs(1);
        if let Err(stalled) = net.run_until_bounded(until, STEP_BUDGET) {
            panic!("the simulation stalled: {stalled:?}");
        }
    }
    done(net)
}

/// One handshake attempt (8 tries a second apart) may still be under way
/// when the key goes stale.
const MARGIN: Duration = Duration::from_secs(10);

/// Checks that `me` reopened its session to `friend` (node indices) at
/// once after it went down at `down`, and sent the friend no net_crypto
/// packet after `FRIEND_DHT_TIMEOUT` + [`MARGIN`] up to now.
fn check_gave_up(net: &Network<Peer>, case: &str, me: usize, friend: usize, down: Instant) {
    let peer = &net.nodes()[me];
    let to = Network::<Peer>::addr(friend);
    let cookies = peer.sent_to(to, Some(NET_PACKET_COOKIE_REQUEST), down);
    let all = peer.sent_to(to, None, down);
    eprintln!(
        "{case}: {} cookie requests ({} net_crypto packets) to the friend in the {:?} after \
         the session went down, the last at +{:?}",
        cookies.len(),
        all.len(),
        net.now() - down,
        all.last()
    );
    assert!(
        cookies.first().is_some_and(|t| *t < Duration::from_secs(1)),
        "{case}: no session reopened at once: {cookies:?}"
    );
    let quiet_from = FRIEND_DHT_TIMEOUT + MARGIN;
    assert!(
        all.iter().all(|t| *t <= quiet_from),
        "{case}: still sending to the friend after {quiet_from:?}: {all:?}"
    );
    let friend_dht = net.nodes()[friend].dht;
    assert!(
        !peer.searches_for(&friend_dht),
        "{case}: still searching the DHT for the friend's stale key"
    );
}

#[test]
fn a_friend_who_is_gone_costs_nothing_after_friend_dht_timeout_and_news_restarts() {
    let start = Instant::now();
    let mut net = network(start, 0x0f1_0122);
    // Pair 1–2: 2 vanishes. Pair 3–4: 4 deletes 3 but stays on the network.
    let pairs = [(1, 2), (3, 4)];
    for (a, b) in pairs {
        let (a_real, b_real) = (net.nodes()[a].real, net.nodes()[b].real);
        net.node_mut(a).unwrap().stack.add_friend(b_real).unwrap();
        net.node_mut(b).unwrap().stack.add_friend(a_real).unwrap();
    }
    let all_online = |net: &Network<Peer>| {
        pairs.iter().all(|&(a, b)| {
            net.nodes()[a].online_since().is_some() && net.nodes()[b].online_since().is_some()
        })
    };
    assert!(
        run_until(&mut net, Duration::from_secs(240), all_online),
        "the sessions did not come up in 240 s"
    );
    for (a, b) in pairs {
        assert!(net.nodes()[a].searches_for(&net.nodes()[b].dht));
    }

    // Five virtual minutes of absence.
    let left = net.now();
    net.set_online(2, false);
    let a_real = net.nodes()[3].real;
    net.node_mut(4).unwrap().stack.remove_friend(&a_real);
    net.flush(4);
    run_until(&mut net, Duration::from_secs(300), |_| false);
    let down_2 = net.nodes()[1].offline_at(left).expect("1 never saw 2 go");
    let down_4 = net.nodes()[3].offline_at(left).expect("3 never saw 4 go");
    // 1 notices when its friend pings go unanswered; 3 at once, from 4's
    // kill packet.
    assert!(down_4 - left < Duration::from_secs(1));
    check_gave_up(&net, "vanished", 1, 2, down_2);
    check_gave_up(&net, "deleted us", 3, 4, down_4);

    // The friends come back: their news restarts the other side at once.
    let returned = net.now();
    let news_before: Vec<usize> = pairs
        .iter()
        .map(|&(a, _)| net.nodes()[a].news.len())
        .collect();
    net.set_online(2, true);
    let b_real = net.nodes()[3].real;
    net.node_mut(4).unwrap().stack.add_friend(b_real).unwrap();
    net.flush(4);
    let online_again = |net: &Network<Peer>| {
        pairs.iter().all(|&(a, _)| {
            net.nodes()[a]
                .online_since()
                .is_some_and(|at| at >= returned)
        })
    };
    assert!(
        run_until(&mut net, Duration::from_secs(180), online_again),
        "the sessions did not come back within 180 s"
    );
    for (i, (a, b)) in pairs.into_iter().enumerate() {
        let peer = &net.nodes()[a];
        eprintln!(
            "{a}–{b} back online {:?} after the friend returned ({} DHT-PK news meanwhile)",
            peer.online_since().unwrap() - returned,
            peer.news.len() - news_before[i]
        );
        assert!(peer.searches_for(&net.nodes()[b].dht));
    }
}
