//! An in-memory world for [`Conferences`] instances: a virtual clock, and
//! a model of the friend connection layer below them.
//!
//! - A session between two nodes comes up a little after both *want*
//!   each other (a conference asked for it with `Want`, or they are
//!   Messenger friends) while both are online, and goes down as soon as
//!   one stops wanting it or goes offline. Both sides then hear
//!   `set_connected` (and the other's DHT key first).
//! - Lossless transmits are delivered in order after the link's latency,
//!   unless the session died meanwhile (a new session is a new epoch). A
//!   lossless packet lost on the wire (`lossless_loss`) is what net_crypto
//!   makes of it: resent once the receiver's request comes back, so it
//!   arrives two round trips late and holds up everything after it on
//!   that session (in-order delivery). Lossy ones are dropped with
//!   `lossy_loss`.
//! - Packet 96 is a Messenger packet: delivered only between friends.
//! - The clock jumps to the next delivery, session or timeout.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide_core::PublicKey;

use crate::conference::{
    ConferenceEvent, ConferenceNumber, ConferenceTransmit, Conferences, ConnectionRequest,
};
use crate::packet::{ConferencePacket, ConferencePacketKind, PACKET_ID_ACTION, PACKET_ID_MESSAGE};

/// How the world behaves.
#[derive(Debug, Clone)]
pub(super) struct Config {
    /// One-way latency of a link, drawn per link in this range (ms).
    pub(super) latency_ms: (u64, u64),
    /// From both wanting to the session being up.
    pub(super) connect_delay: Duration,
    /// Probability that a lossy packet is lost.
    pub(super) lossy_loss: f64,
    /// Probability that a lossless packet's first copy is lost (it then
    /// comes two round trips late, and everything after it waits).
    pub(super) lossless_loss: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            latency_ms: (20, 120),
            connect_delay: Duration::from_millis(1500),
            lossy_loss: 0.0,
            lossless_loss: 0.0,
        }
    }
}

/// What a node sent, by category.
#[derive(Debug, Clone, Default)]
pub(super) struct Sent {
    /// Chat messages and actions (first sends and relays).
    pub(super) chat: u64,
    /// Everything else: pings, names, online, peer lists, invites...
    pub(super) overhead: u64,
    /// Lossy packets.
    pub(super) lossy: u64,
    /// The overhead by kind: packet id, and message id for 99.
    pub(super) by_kind: BTreeMap<(u8, Option<u8>), u64>,
}

/// One client.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) pk: PublicKey,
    pub(super) dht: PublicKey,
    pub(super) conf: Conferences,
    pub(super) online: bool,
    /// Peers a conference asked a session for.
    pub(super) wants: BTreeSet<PublicKey>,
    /// Messenger friends: always wanted.
    pub(super) friends: BTreeSet<PublicKey>,
    /// Every event, with its time.
    pub(super) events: Vec<(Instant, ConferenceEvent)>,
    /// Accept every invite at once.
    pub(super) auto_join: bool,
    pub(super) sent: Sent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Down,
    Connecting(u64),
    Up(u64),
}

#[derive(Debug)]
struct Link {
    state: LinkState,
    epochs: u64,
    latency: Duration,
    /// When the last lossless packet scheduled on it arrives, each way
    /// (lower index to higher, then back): nothing after it arrives
    /// earlier.
    last_delivery: [Option<Instant>; 2],
}

#[derive(Debug)]
enum Action {
    Deliver {
        from: usize,
        to: usize,
        epoch: u64,
        packet: ConferencePacket,
    },
    LinkUp {
        a: usize,
        b: usize,
        epoch: u64,
    },
}

/// The world.
#[derive(Debug)]
pub(super) struct Sim {
    pub(super) start: Instant,
    pub(super) now: Instant,
    pub(super) nodes: Vec<Node>,
    index: HashMap<PublicKey, usize>,
    links: BTreeMap<(usize, usize), Link>,
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    actions: HashMap<u64, Action>,
    seq: u64,
    dirty: VecDeque<usize>,
    /// Each node's `poll_timeout`, refreshed whenever it was called.
    timers: Vec<Option<Instant>>,
    pub(super) rng: ChaCha20Rng,
    cfg: Config,
    /// Transmits to a peer without a session, and lost lossy ones.
    pub(super) dropped: u64,
    /// Lossless packets whose first copy was lost (see
    /// [`Config::lossless_loss`]).
    pub(super) resent: u64,
    /// Join attempts that failed.
    pub(super) join_errors: Vec<String>,
}

fn key(rng: &mut ChaCha20Rng) -> PublicKey {
    let mut bytes = [0; 32];
    rng.fill_bytes(&mut bytes);
    PublicKey::new(bytes)
}

impl Sim {
    /// `n` nodes, all online, none friends.
    pub(super) fn new(n: usize, seed: u64, cfg: Config) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let start = Instant::now();
        let mut sim = Self {
            start,
            now: start,
            nodes: Vec::new(),
            index: HashMap::new(),
            links: BTreeMap::new(),
            queue: BinaryHeap::new(),
            actions: HashMap::new(),
            seq: 0,
            dirty: VecDeque::new(),
            timers: Vec::new(),
            rng: ChaCha20Rng::seed_from_u64(seed ^ 0x5eed),
            cfg,
            dropped: 0,
            resent: 0,
            join_errors: Vec::new(),
        };
        for _ in 0..n {
            let (pk, dht) = (key(&mut rng), key(&mut rng));
            let mut seed = [0; 32];
            rng.fill_bytes(&mut seed);
            sim.add_node(pk, dht, Conferences::new(pk, dht, seed));
        }
        sim
    }

    /// Adds a node (e.g. a restarted client with a loaded save).
    pub(super) fn add_node(&mut self, pk: PublicKey, dht: PublicKey, conf: Conferences) -> usize {
        let i = self.nodes.len();
        self.nodes.push(Node {
            pk,
            dht,
            conf,
            online: true,
            wants: BTreeSet::new(),
            friends: BTreeSet::new(),
            events: Vec::new(),
            auto_join: true,
            sent: Sent::default(),
        });
        self.index.insert(pk, i);
        self.timers.push(None);
        self.dirty.push_back(i);
        i
    }

    /// Replaces node `i`'s machine (a restart), dropping its sessions
    /// and wants first.
    pub(super) fn replace(&mut self, i: usize, conf: Conferences) {
        self.nodes[i].online = false;
        self.refresh_node(i);
        self.pump();
        self.nodes[i].conf = conf;
        self.nodes[i].wants.clear();
        self.nodes[i].online = true;
        self.refresh_node(i);
        self.dirty.push_back(i);
        self.pump();
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Makes `a` and `b` Messenger friends: their session is always
    /// wanted.
    pub(super) fn befriend(&mut self, a: usize, b: usize) {
        let (pa, pb) = (self.nodes[a].pk, self.nodes[b].pk);
        self.nodes[a].friends.insert(pb);
        self.nodes[b].friends.insert(pa);
        self.refresh_link(a, b);
        self.pump();
    }

    /// Cuts node `i` off the network, or brings it back. Its machine keeps
    /// running (timers fire), but its sessions die.
    pub(super) fn set_online(&mut self, i: usize, online: bool) {
        self.nodes[i].online = online;
        self.refresh_node(i);
        self.pump();
    }

    /// Whether the session between `a` and `b` is up.
    pub(super) fn linked(&self, a: usize, b: usize) -> bool {
        matches!(
            self.links.get(&(a.min(b), a.max(b))).map(|l| l.state),
            Some(LinkState::Up(_))
        )
    }

    /// Calls `f` on node `i`'s machine at the current time, then lets the
    /// world react.
    pub(super) fn with<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Conferences, Instant) -> R,
    ) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[i].conf, now);
        self.dirty.push_back(i);
        self.pump();
        r
    }

    fn refresh_node(&mut self, i: usize) {
        let others: Vec<usize> = (0..self.nodes.len()).filter(|j| *j != i).collect();
        for j in others {
            self.refresh_link(i, j);
        }
    }

    fn wants(&self, a: usize, b: usize) -> bool {
        let pb = self.nodes[b].pk;
        self.nodes[a].wants.contains(&pb) || self.nodes[a].friends.contains(&pb)
    }

    fn refresh_link(&mut self, a: usize, b: usize) {
        let key = (a.min(b), a.max(b));
        let desired =
            self.nodes[a].online && self.nodes[b].online && self.wants(a, b) && self.wants(b, a);
        let (lo, hi) = self.cfg.latency_ms;
        let latency = Duration::from_millis(self.rng.random_range(lo..=hi));
        let link = self.links.entry(key).or_insert(Link {
            state: LinkState::Down,
            epochs: 0,
            latency,
            last_delivery: [None; 2],
        });
        match (link.state, desired) {
            (LinkState::Down, true) => {
                link.last_delivery = [None; 2];
                link.epochs += 1;
                let epoch = link.epochs;
                link.state = LinkState::Connecting(epoch);
                let at = self.now + self.cfg.connect_delay;
                self.schedule(
                    at,
                    Action::LinkUp {
                        a: key.0,
                        b: key.1,
                        epoch,
                    },
                );
            }
            (LinkState::Connecting(_), false) => link.state = LinkState::Down,
            (LinkState::Up(_), false) => {
                link.state = LinkState::Down;
                let now = self.now;
                let (pa, pb) = (self.nodes[a].pk, self.nodes[b].pk);
                self.nodes[a].conf.set_connected(now, pb, false);
                self.nodes[b].conf.set_connected(now, pa, false);
                self.dirty.push_back(a);
                self.dirty.push_back(b);
            }
            _ => {}
        }
    }

    fn schedule(&mut self, at: Instant, action: Action) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq)));
        self.actions.insert(self.seq, action);
    }

    /// Drains every machine's outputs until the world is quiet.
    fn pump(&mut self) {
        while let Some(i) = self.dirty.pop_front() {
            while let Some(t) = self.nodes[i].conf.poll_transmit() {
                self.transmit(i, t);
            }
            while let Some(request) = self.nodes[i].conf.poll_connection() {
                let (pk, want) = match request {
                    ConnectionRequest::Want { real_pk, .. } => (real_pk, true),
                    ConnectionRequest::Release { real_pk } => (real_pk, false),
                };
                if want {
                    assert!(self.nodes[i].wants.insert(pk), "one Want per peer");
                } else {
                    assert!(self.nodes[i].wants.remove(&pk), "Release after Want");
                }
                if let Some(&j) = self.index.get(&pk) {
                    self.refresh_link(i, j);
                }
            }
            self.timers[i] = self.nodes[i].conf.poll_timeout();
            while let Some(event) = self.nodes[i].conf.poll_event() {
                if let ConferenceEvent::Invited { friend, invite, .. } = &event {
                    if self.nodes[i].auto_join {
                        let now = self.now;
                        if let Err(e) = self.nodes[i].conf.join(now, *friend, invite) {
                            self.join_errors.push(e.to_string());
                        }
                        self.dirty.push_back(i);
                    }
                }
                let now = self.now;
                self.nodes[i].events.push((now, event));
            }
        }
    }

    fn transmit(&mut self, from: usize, t: ConferenceTransmit) {
        let chat = t.packet.kind() == ConferencePacketKind::Message
            && matches!(
                t.packet.data().get(8),
                Some(&PACKET_ID_MESSAGE | &PACKET_ID_ACTION)
            );
        let sent = &mut self.nodes[from].sent;
        if t.lossy {
            sent.lossy += 1;
        } else if chat {
            sent.chat += 1;
        } else {
            sent.overhead += 1;
            let id = t.packet.kind().packet_id();
            let sub = match t.packet.kind() {
                ConferencePacketKind::Message => t.packet.data().get(8).copied(),
                ConferencePacketKind::Direct => t.packet.data().get(2).copied(),
                _ => None,
            };
            *sent.by_kind.entry((id, sub)).or_default() += 1;
        }
        let Some(&to) = self.index.get(&t.to) else {
            self.dropped += 1;
            return;
        };
        let link = self.links.get(&(from.min(to), from.max(to)));
        let (Some(LinkState::Up(epoch)), Some(latency)) =
            (link.map(|l| l.state), link.map(|l| l.latency))
        else {
            self.dropped += 1;
            return;
        };
        if t.lossy && self.rng.random_bool(self.cfg.lossy_loss) {
            self.dropped += 1;
            return;
        }
        let mut at = self.now + latency;
        if !t.lossy {
            if self.rng.random_bool(self.cfg.lossless_loss) {
                self.resent += 1;
                at += latency * 4;
            }
            let way = usize::from(from > to);
            if let Some(link) = self.links.get_mut(&(from.min(to), from.max(to))) {
                if let Some(slot) = link.last_delivery.get_mut(way) {
                    at = slot.map_or(at, |last| at.max(last));
                    *slot = Some(at);
                }
            }
        }
        self.schedule(
            at,
            Action::Deliver {
                from,
                to,
                epoch,
                packet: t.packet,
            },
        );
    }

    fn act(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Deliver {
                from,
                to,
                epoch,
                packet,
            } => {
                let key = (from.min(to), from.max(to));
                if self.links.get(&key).map(|l| l.state) != Some(LinkState::Up(epoch)) {
                    self.dropped += 1;
                    return;
                }
                let sender = self.nodes[from].pk;
                let node = &mut self.nodes[to];
                if packet.kind() == ConferencePacketKind::Invite {
                    if node.friends.contains(&sender) {
                        node.conf.handle_friend_packet(now, sender, &packet);
                    }
                } else {
                    node.conf.handle_packet(now, sender, &packet);
                }
                self.dirty.push_back(to);
            }
            Action::LinkUp { a, b, epoch } => {
                let link = self.links.get_mut(&(a, b)).expect("link");
                if link.state != LinkState::Connecting(epoch) {
                    return;
                }
                link.state = LinkState::Up(epoch);
                let (pa, da, pb, db) = (
                    self.nodes[a].pk,
                    self.nodes[a].dht,
                    self.nodes[b].pk,
                    self.nodes[b].dht,
                );
                self.nodes[a].conf.set_peer_dht_pk(pb, db);
                self.nodes[a].conf.set_connected(now, pb, true);
                self.nodes[b].conf.set_peer_dht_pk(pa, da);
                self.nodes[b].conf.set_connected(now, pa, true);
                self.dirty.push_back(a);
                self.dirty.push_back(b);
            }
        }
    }

    /// Runs the world until `end`.
    pub(super) fn run_until(&mut self, end: Instant) {
        let mut spins = 0u32;
        loop {
            self.pump();
            let next_action = self.queue.peek().map(|Reverse((t, _))| *t);
            let next_timer = self.timers.iter().flatten().min().copied();
            let next = [next_action, next_timer].into_iter().flatten().min();
            match next {
                Some(t) if t <= end => {
                    if t <= self.now {
                        spins += 1;
                        assert!(
                            spins < 100_000,
                            "time does not advance at {:?}",
                            self.elapsed()
                        );
                    } else {
                        spins = 0;
                        self.now = t;
                    }
                }
                _ => {
                    self.now = self.now.max(end);
                    return;
                }
            }
            while let Some(Reverse((t, seq))) = self.queue.peek().copied() {
                if t > self.now {
                    break;
                }
                self.queue.pop();
                if let Some(action) = self.actions.remove(&seq) {
                    self.act(action);
                    self.pump();
                }
            }
            for i in 0..self.nodes.len() {
                if self.timers[i].is_some_and(|t| t <= self.now) {
                    let now = self.now;
                    self.nodes[i].conf.handle_timeout(now);
                    self.dirty.push_back(i);
                    self.pump();
                }
            }
        }
    }

    /// Runs the world for `d`.
    pub(super) fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end);
    }

    /// Runs until `done` holds (checked after every step of `step`), at
    /// most `limit`; whether it held.
    pub(super) fn run_until_cond(
        &mut self,
        limit: Duration,
        step: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.run_for(step);
        }
        done(self)
    }

    /// Invites node `b` into node `a`'s conference `c` (befriending them
    /// first) and waits until `b` is connected to it; how long it took
    /// from the invite.
    pub(super) fn invite_and_join(&mut self, a: usize, b: usize, c: ConferenceNumber) -> Duration {
        self.befriend(a, b);
        assert!(
            self.run_until_cond(Duration::from_secs(30), Duration::from_millis(100), |s| {
                s.linked(a, b)
            }),
            "friends {a} and {b} never connected"
        );
        let t0 = self.now;
        let friend = self.nodes[b].pk;
        self.with(a, |conf, _| conf.invite(c, friend))
            .expect("invite");
        let id = self.nodes[a].conf.id(c).expect("conference").id;
        assert!(
            self.run_until_cond(Duration::from_secs(30), Duration::from_millis(50), |s| {
                s.joined(b, &id).is_some()
            }),
            "{b} never got into {a}'s conference"
        );
        self.now - t0
    }

    /// Node `i`'s number for the conference with this id, once it has
    /// its peer number there.
    pub(super) fn joined(&self, i: usize, id: &[u8; 32]) -> Option<ConferenceNumber> {
        let conf = &self.nodes[i].conf;
        conf.by_id(id).filter(|c| conf.is_connected(*c))
    }
}
