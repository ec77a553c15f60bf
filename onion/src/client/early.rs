//! toxide's early schedule: the first seconds after a start, and after a
//! friend is added, goes offline or announces a new DHT key.
//!
//! c-toxcore 0.2.18 takes ~7 s to get announced and ~9.5 s to reconnect
//! two friends, and all of it is timers (ctoxcore-observed §6.1): the
//! client waits 3 s (`ONION_CONNECTION_SECONDS`) before announcing, runs
//! once a second, skips a node for two runs after it first answers, counts
//! as connected only after three more runs, searches friends only then,
//! asks their nodes every 3 s and sends its DHT key once per 30 s. The
//! steady state is fine; the start is slow.
//!
//! The early schedule keeps every c-toxcore timer for the steady state and
//! adds a few bounded shortcuts on top:
//!
//! - announcing starts at the first run, from the bootstrap or saved path
//!   nodes (c-toxcore builds paths from those too when the DHT has none);
//!   until the first announce response, a burst is retried every 250 ms
//!   (at most [`EARLY_ANNOUNCE_BURSTS`]), and the client looks at the DHT
//!   every [`EARLY_TICK`] for its first good nodes;
//! - a node that answers our first announce request is sent the
//!   follow-up with its ping id at once (while we are not connected), not
//!   two runs later;
//! - each friend gets [`EARLY_SEARCH_WAITS`]`.len() + 1` search rounds
//!   (at 0, 0.15, 0.5 and 1.5 s) before c-toxcore's 3 s schedule, and
//!   the search does not wait for us to count as connected;
//! - our DHT-PK announcement goes to a friend as soon as one of its
//!   announce nodes names a data key of theirs we have not sent it to
//!   (through those nodes only: once per data key, and a friend has a new
//!   data key only when it restarts), and while the friend stays offline
//!   it is resent to all of them a second after the last send, at most
//!   [`EARLY_DHT_PK_RESENDS`] times within the window;
//! - once we know a friend's DHT key but not yet its address, our DHT
//!   nodes closest to that key are asked for it every 250 ms (at most
//!   [`EARLY_ADDR_ASKS`] times), as the DHT's own search does once a
//!   second: a node that has just met the friend names it at once (and
//!   `OnionClient::handle_node_learned`, given the DHT's `NodeLearned`
//!   events, asks the friend itself at once, where the DHT would wait for
//!   its next tick).
//!
//! Apart from the early schedule, the bursts that fill our announce list
//! and a friend's list ask each node once and skip nodes already in the
//! list: c-toxcore draws with repeats and asks listed nodes again, which
//! in a network of a few nodes means six requests every second forever.
//!
//! Why it still interoperates: every packet is one c-toxcore sends and
//! answers anyway (announce and search requests, DHT-PK announcements,
//! friend requests), only sooner, and DHT-PK announcements still go out
//! only when a quarter of the friend's live announce nodes know it, as
//! c-toxcore requires; the announce follow-up goes back on the
//! path the answer came on, so the ping id, which the announce node binds
//! to the exit node's address, is still valid; DHT-PK announcements sent
//! within one second carry the same `no_replay`, and a receiver that got
//! the first drops the repeats as replays, which is harmless. Why it does
//! not flood: each shortcut has a fixed budget per start or per friend
//! event (or, for DHT-PKs to new data keys, one per key), and the timed
//! ones end [`EARLY_WINDOW`] after they began; a settled client runs
//! only c-toxcore's schedule.

use std::time::{Duration, Instant};

/// How often the client looks for work while an early schedule runs
/// (for the DHT's first good nodes, say).
pub(crate) const EARLY_TICK: Duration = Duration::from_millis(100);
/// How long an early schedule lasts at most.
pub(crate) const EARLY_WINDOW: Duration = Duration::from_secs(5);
/// Announce bursts before the first announce response.
pub(crate) const EARLY_ANNOUNCE_BURSTS: u32 = 4;
/// Wait before another burst when none was answered.
pub(crate) const EARLY_ANNOUNCE_RETRY: Duration = Duration::from_millis(250);
/// Waits between a friend's early search rounds (one round more than
/// waits: at 0, 0.15, 0.5 and 1.5 s).
pub(crate) const EARLY_SEARCH_WAITS: [Duration; 3] = [
    Duration::from_millis(150),
    Duration::from_millis(350),
    Duration::from_millis(1000),
];
/// Early DHT-PK resends per friend (each goes through every announce
/// node that knows the friend).
pub(crate) const EARLY_DHT_PK_RESENDS: u32 = 4;
/// Wait after a DHT-PK announcement before an early resend.
pub(crate) const EARLY_DHT_PK_RETRY: Duration = Duration::from_secs(1);
/// Asks for a friend's address (nodes requests for its DHT key).
pub(crate) const EARLY_ADDR_ASKS: u32 = 8;
/// Wait between those asks.
pub(crate) const EARLY_ADDR_ASK_INTERVAL: Duration = Duration::from_millis(250);
/// Our DHT nodes asked each time.
pub(crate) const EARLY_ADDR_ASK_NODES: usize = 2;

/// The early schedule of our own announcements.
#[derive(Debug, Default)]
pub(crate) struct EarlyAnnounce {
    /// An announce response for us arrived: the early bursts are over.
    heard: bool,
    /// Bursts sent.
    bursts: u32,
    /// When the next burst is due (`None`: at once).
    next: Option<Instant>,
}

impl EarlyAnnounce {
    /// When the next burst (or look for nodes) is due, for a client
    /// started at `start`; `None` once the early bursts are over.
    pub(crate) fn next(&self, start: Instant) -> Option<Instant> {
        if self.heard || self.bursts >= EARLY_ANNOUNCE_BURSTS {
            return None;
        }
        let at = self.next.unwrap_or(start);
        (at < start + EARLY_WINDOW).then_some(at)
    }

    /// Whether a burst is due at `now`.
    pub(crate) fn due(&self, start: Instant, now: Instant) -> bool {
        self.next(start).is_some_and(|at| now >= at)
    }

    /// A burst of `sent` requests went out at `now` (none: no nodes yet,
    /// look again in a tick).
    pub(crate) fn burst(&mut self, now: Instant, sent: usize) {
        if sent > 0 {
            self.bursts += 1;
            self.next = Some(now + EARLY_ANNOUNCE_RETRY);
        } else {
            self.next = Some(now + EARLY_TICK);
        }
    }

    /// An announce response for us arrived.
    pub(crate) fn heard(&mut self) {
        self.heard = true;
    }
}

/// A friend's early schedule: quick search rounds and DHT-PK
/// announcements, within five seconds of its first round.
#[derive(Debug, Clone, Default)]
pub struct EarlyFriend {
    /// When the first early round ran (`None`: not yet, due at once).
    started: Option<Instant>,
    /// Search rounds that sent something.
    rounds: u32,
    /// When the next search round is due (`None`: at once).
    next_round: Option<Instant>,
    /// Early DHT-PK resends (attempts).
    resends: u32,
    /// The last DHT-PK announcement through the onion, or resend attempt.
    last_dht_pk: Option<Instant>,
    /// Asks for the friend's address so far.
    addr_asks: u32,
    /// The last ask, or when the friend's DHT key arrived (with its own
    /// asks).
    last_addr_ask: Option<Instant>,
}

impl EarlyFriend {
    /// Starts over: the friend is new, went offline, or has a new DHT
    /// key, so it may be reachable at new announce nodes or a new data key.
    pub(crate) fn restart(&mut self) {
        *self = Self::default();
    }

    /// Whether `at` falls within the window (always, before the first
    /// round).
    fn within(&self, at: Instant) -> bool {
        self.started.is_none_or(|s| at < s + EARLY_WINDOW)
    }

    /// When something scheduled for `at` (`None`: at once) is due: at
    /// once means the start of the window once there is one, so that the
    /// wake-up time and the due check agree whatever "now" each uses.
    fn due_at(&self, at: Option<Instant>, at_once: Instant) -> Instant {
        at.or(self.started).unwrap_or(at_once)
    }

    /// When the next search round is due (`at_once` if it is the first);
    /// `None` when the rounds are over.
    fn next_round(&self, at_once: Instant) -> Option<Instant> {
        if self.rounds as usize > EARLY_SEARCH_WAITS.len() {
            return None;
        }
        let at = self.due_at(self.next_round, at_once);
        self.within(at).then_some(at)
    }

    /// When an early DHT-PK resend is due; `None` before the first send
    /// and once the budget or the window is spent.
    fn next_dht_pk(&self) -> Option<Instant> {
        if self.resends >= EARLY_DHT_PK_RESENDS {
            return None;
        }
        let at = self.last_dht_pk? + EARLY_DHT_PK_RETRY;
        self.within(at).then_some(at)
    }

    /// When the next ask for the friend's address is due, if we know its
    /// DHT key (`at_once` if none was made yet).
    fn next_addr_ask(&self, at_once: Instant, dht_pk_known: bool) -> Option<Instant> {
        if !dht_pk_known || self.addr_asks >= EARLY_ADDR_ASKS {
            return None;
        }
        let last = self.last_addr_ask.map(|t| t + EARLY_ADDR_ASK_INTERVAL);
        let at = self.due_at(last, at_once);
        self.within(at).then_some(at)
    }

    /// When this friend's early schedule next has work; `at_once` stands
    /// for "now" (any instant not in the future).
    pub(crate) fn next_wakeup(&self, at_once: Instant, dht_pk_known: bool) -> Option<Instant> {
        [
            self.next_round(at_once),
            self.next_dht_pk(),
            self.next_addr_ask(at_once, dht_pk_known),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether an ask for the friend's address is due at `now`.
    pub(crate) fn addr_ask_due(&self, now: Instant, dht_pk_known: bool) -> bool {
        self.next_addr_ask(now, dht_pk_known)
            .is_some_and(|at| now >= at)
    }

    /// We asked for the friend's address at `now` (`counted`), or its DHT
    /// key just arrived and the DHT asked the nodes it named.
    pub(crate) fn addr_asked(&mut self, now: Instant, counted: bool) {
        self.started.get_or_insert(now);
        if counted {
            self.addr_asks += 1;
        }
        self.last_addr_ask = Some(now);
    }

    /// The friend's address is known: no more asks.
    pub(crate) fn addr_found(&mut self) {
        self.addr_asks = EARLY_ADDR_ASKS;
    }

    /// Whether a search round is due at `now`.
    pub(crate) fn round_due(&self, now: Instant) -> bool {
        self.next_round(now).is_some_and(|at| now >= at)
    }

    /// Whether an early DHT-PK resend is due at `now`.
    pub(crate) fn dht_pk_due(&self, now: Instant) -> bool {
        self.next_dht_pk().is_some_and(|at| now >= at)
    }

    /// A search round ran at `now` and sent `sent` requests (none: no
    /// nodes to ask yet, look again in a tick).
    pub(crate) fn round(&mut self, now: Instant, sent: usize) {
        self.started.get_or_insert(now);
        if sent == 0 {
            self.next_round = Some(now + EARLY_TICK);
            return;
        }
        let wait = EARLY_SEARCH_WAITS.get(self.rounds as usize).copied();
        self.rounds += 1;
        self.next_round = wait.map(|w| now + w);
    }

    /// Our DHT-PK announcement went to the friend through the onion at
    /// `now`: a resend is due a second later (within the window).
    pub(crate) fn dht_pk_sent(&mut self, now: Instant) {
        self.started.get_or_insert(now);
        self.last_dht_pk = Some(now);
    }

    /// An early resend was attempted at `now` (sent or not: no announce
    /// node knew the friend).
    pub(crate) fn resent(&mut self, now: Instant) {
        self.resends += 1;
        self.dht_pk_sent(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_friend_gets_four_search_rounds_then_none() {
        let t0 = Instant::now();
        let mut early = EarlyFriend::default();
        assert!(early.round_due(t0));
        assert_eq!(early.next_wakeup(t0, false), Some(t0));
        // No nodes yet: look again in a tick, not counted.
        early.round(t0, 0);
        assert!(!early.round_due(t0 + 99 * MS));
        assert!(early.round_due(t0 + 100 * MS));
        let mut at = t0 + 100 * MS;
        let mut times = Vec::new();
        while let Some(next) = early.next_wakeup(at, false) {
            at = next;
            assert!(early.round_due(at));
            times.push(at - t0);
            early.round(at, 3);
        }
        assert_eq!(times, [100 * MS, 250 * MS, 600 * MS, 1600 * MS]);
        assert!(!early.round_due(at + Duration::from_secs(10)));
    }

    #[test]
    fn the_window_ends_a_friend_that_never_has_nodes() {
        let t0 = Instant::now();
        let mut early = EarlyFriend::default();
        let mut at = t0;
        let mut ticks = 0;
        while let Some(next) = early.next_wakeup(at, false) {
            at = next;
            early.round(at, 0);
            ticks += 1;
        }
        assert_eq!(ticks, 50, "one look per tick for five seconds");
        assert!(at < t0 + EARLY_WINDOW);
    }

    #[test]
    fn early_dht_pk_resends_are_bounded() {
        let t0 = Instant::now();
        let mut early = EarlyFriend::default();
        early.round(t0, 1);
        for _ in 0..EARLY_SEARCH_WAITS.len() {
            early.round(t0, 1);
        }
        assert!(!early.dht_pk_due(t0), "nothing to resend yet");
        early.dht_pk_sent(t0);
        // A send to a new data key half a second later moves the resend.
        early.dht_pk_sent(t0 + 500 * MS);
        assert!(!early.dht_pk_due(t0 + 1000 * MS));
        let mut at = t0;
        let mut resends = Vec::new();
        while let Some(next) = early.next_wakeup(at, false) {
            at = next;
            assert!(early.dht_pk_due(at));
            early.resent(at);
            resends.push(at - t0);
        }
        assert_eq!(resends, [1500 * MS, 2500 * MS, 3500 * MS, 4500 * MS]);
        early.restart();
        assert!(early.round_due(at));
        assert!(!early.dht_pk_due(at));
    }

    #[test]
    fn a_known_dht_key_is_asked_for_every_quarter_second_eight_times() {
        let t0 = Instant::now();
        let mut early = EarlyFriend::default();
        for _ in 0..=EARLY_SEARCH_WAITS.len() {
            early.round(t0, 1);
        }
        assert_eq!(early.next_wakeup(t0, false), None);
        // The key arrives with its own asks.
        early.addr_asked(t0, false);
        let mut at = t0;
        let mut asks = Vec::new();
        while let Some(next) = early.next_wakeup(at, true) {
            at = next;
            assert!(early.addr_ask_due(at, true));
            asks.push(at - t0);
            early.addr_asked(at, true);
        }
        assert_eq!(asks.len(), EARLY_ADDR_ASKS as usize);
        assert_eq!(asks.last(), Some(&(2000 * MS)));
        let mut found = EarlyFriend::default();
        found.addr_found();
        assert!(!found.addr_ask_due(t0, true));
    }

    #[test]
    fn announce_bursts_stop_at_the_first_answer_or_the_budget() {
        let t0 = Instant::now();
        let mut early = EarlyAnnounce::default();
        assert!(early.due(t0, t0));
        early.burst(t0, 0);
        assert_eq!(early.next(t0), Some(t0 + EARLY_TICK));
        let mut at = t0 + EARLY_TICK;
        for _ in 0..EARLY_ANNOUNCE_BURSTS {
            assert!(early.due(t0, at));
            early.burst(at, 6);
            at += EARLY_ANNOUNCE_RETRY;
        }
        assert_eq!(early.next(t0), None);
        let mut answered = EarlyAnnounce::default();
        answered.burst(t0, 6);
        answered.heard();
        assert_eq!(answered.next(t0), None);
    }
}
