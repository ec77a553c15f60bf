//! Conference message fan-out latency on loopback (issue 13's
//! performance goal): in a conference of `--peers` (20), from one peer's
//! send to the last of the others receiving it; toxide alone, c-toxcore
//! alone, and half of each, in one run.
//!
//! Every member bootstraps from one toxide node (a driver serving the DHT
//! and the onion) on 127.0.0.1. The members' friendships form a tree,
//! member i's parent being member (i - 1) / `--fanout` (3): member 0
//! founds the conference and each member, once in, invites its children.
//! The conference itself then links the members as the protocol does
//! (each holds connections to the peers closest to it, friends or not).
//! A star (`--fanout 19`: member 0 invites everyone) does not form: a
//! member holds at most 16 group connections (`MAX_GROUP_CONNECTIONS`,
//! c-toxcore's and toxide's), and the 17th joiner at once never gets in.
//! Once every member lists every peer and `--settle` seconds (2) have
//! passed, `--messages` messages (200) go out `--gap` ms (10) apart from
//! rotating senders, and each one's fan-out latency is the time from just
//! before the send call to the moment the last of the other members had
//! it. Reported per case: median, p99 and maximum of those, the median
//! over single receipts, messages lost (some member never had them within
//! `--drain` seconds, 10), and the rate complete messages were delivered
//! at (bounded by the send rate `1000 / gap`).
//!
//! Where "had it" is measured:
//! - a toxide member runs on a thread of its own with a single-threaded
//!   runtime, as a separate process would; a task there stamps each event
//!   as the application receives it;
//! - a c-toxcore member is the interop `tox_peer` process (c-toxcore
//!   0.2.18, which joins every invite at once); the harness stamps each
//!   of its output lines as its reader thread reads it, so a message event
//!   is timed to within a pipe write of the callback. Its loop sleeps
//!   what `tox_iteration_interval` asks (50 ms when idle), capped at
//!   `--c-loop-cap` ms (50: no cap; the harness's usual 20 gives faster
//!   c-toxcore figures than a client would see). It wakes early only for
//!   its commands, not for packets, as a client sleeping on that interval
//!   does.
//!
//! Cases: 1 toxide only, 2 c-toxcore only, 3 mixed (`--peers / 2` toxide
//! members and the rest c-toxcore, alternating from member 0, a toxide
//! one, so that each kind invites and relays for the other); `--only N`
//! runs one. A case that fails prints why and the others still run.
//!
//! `cargo bench -p toxide-interop --bench conference -- --peers 20
//! --messages 200`. Every line `BENCH <case> <value> <unit>` is one
//! figure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::VecDeque;
use std::error::Error;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use toxide::messenger::packet::MessageKind;
use toxide::tox::ConferenceNumber;
use toxide::{PublicKey, Tox, ToxEvent, ToxEvents, ToxId};
use toxide_interop::measure::{Latencies, print_load_average};
use toxide_interop::{CPeer, Event as PeerEvent, PeerOptions, bench_arg};

use common::{builder, current_thread, node, runtime_thread};

/// What a failed step reports.
type Res<T> = Result<T, Box<dyn Error>>;

/// The longest one befriending or joining step may take.
const STEP: Duration = Duration::from_secs(60);
/// The longest the whole conference may take to form.
const FORM: Duration = Duration::from_secs(180);

/// The text of message `i`; [`message_index`] reads it back.
fn message_text(i: usize) -> String {
    format!("fan-out {i}")
}

fn message_index(text: &str) -> Option<usize> {
    text.strip_prefix("fan-out ")?.parse().ok()
}

/// A toxide member's events, each stamped by a task on the member's own
/// thread as it arrives there: the instant its application had it, and
/// its driver is never held up by a full event queue meanwhile. Events no
/// wait has taken stay queued for later waits, as a [`CPeer`]'s lines do.
struct Stamped {
    incoming: UnboundedReceiver<(Instant, ToxEvent)>,
    pending: VecDeque<(Instant, ToxEvent)>,
}

impl Stamped {
    fn spawn(side: &Handle, mut events: ToxEvents) -> Self {
        let (tx, incoming) = unbounded_channel();
        side.spawn(async move {
            while let Some(event) = events.recv().await {
                if tx.send((Instant::now(), event)).is_err() {
                    break;
                }
            }
        });
        Self {
            incoming,
            pending: VecDeque::new(),
        }
    }

    /// The first event, queued or new, `want` takes a value from before
    /// `deadline`, and when it arrived.
    async fn take<T>(
        &mut self,
        deadline: Instant,
        mut want: impl FnMut(&ToxEvent) -> Option<T>,
    ) -> Option<(Instant, T)> {
        if let Some((i, value)) = self
            .pending
            .iter()
            .enumerate()
            .find_map(|(i, (_, e))| Some((i, want(e)?)))
        {
            let (at, _) = self.pending.remove(i)?;
            return Some((at, value));
        }
        loop {
            let (at, event) = tokio::time::timeout_at(deadline.into(), self.incoming.recv())
                .await
                .ok()??;
            match want(&event) {
                Some(value) => return Some((at, value)),
                None => self.pending.push_back((at, event)),
            }
        }
    }

    /// [`Stamped::take`] within [`STEP`].
    async fn wait<T>(&mut self, what: &str, want: impl FnMut(&ToxEvent) -> Option<T>) -> Res<T> {
        match self.take(Instant::now() + STEP, want).await {
            Some((_, value)) => Ok(value),
            None => Err(format!("no {what} within {STEP:?}").into()),
        }
    }
}

/// One conference member: a toxide `Tox` or a c-toxcore `tox_peer`.
enum Member {
    Toxide { tox: Tox, events: Stamped },
    C(Box<CPeer>),
}

impl Member {
    async fn toxide(index: usize, node: (SocketAddr, PublicKey)) -> Res<Self> {
        let side = runtime_thread(&format!("toxide-{index}"));
        let (tox, events) = side.spawn(builder(node).spawn()).await??;
        let events = Stamped::spawn(&side, events);
        Ok(Self::Toxide { tox, events })
    }

    fn c(index: usize, node: (SocketAddr, PublicKey), loop_cap: Duration) -> Res<Self> {
        let mut peer = CPeer::spawn(PeerOptions {
            label: Some(format!("c-{index}")),
            loop_cap: Some(loop_cap),
            ..PeerOptions::default()
        })?;
        peer.bootstrap(node.0.port(), &node.1)?;
        Ok(Self::C(Box::new(peer)))
    }

    fn is_toxide(&self) -> bool {
        matches!(self, Self::Toxide { .. })
    }

    fn address(&self) -> ToxId {
        match self {
            Self::Toxide { tox, .. } => tox.address(),
            Self::C(peer) => *peer.tox_id(),
        }
    }

    /// Sends a friend request to `id`; the friend's number.
    async fn add_friend(&mut self, id: ToxId) -> Res<u32> {
        Ok(match self {
            Self::Toxide { tox, .. } => tox.add_friend(id, b"conference bench").await?,
            Self::C(peer) => peer.add_friend(&id, "conference bench")?,
        })
    }

    /// Accepts the first friend request; the friend's number.
    async fn accept_request(&mut self) -> Res<u32> {
        Ok(match self {
            Self::Toxide { tox, events } => {
                let from = events
                    .wait("friend request", |e| match e {
                        ToxEvent::FriendRequest { public_key, .. } => Some(*public_key),
                        _ => None,
                    })
                    .await?;
                tox.add_friend_norequest(from).await?
            }
            Self::C(peer) => {
                let (from, _) = peer.wait_friend_request(STEP)?;
                peer.add_friend_norequest(&from)?
            }
        })
    }

    async fn wait_online(&mut self, friend: u32) -> Res<()> {
        match self {
            Self::Toxide { events, .. } => {
                events
                    .wait("friend online", |e| {
                        matches!(e, ToxEvent::FriendConnection { friend: f, connection }
                            if *f == friend && connection.is_connected())
                        .then_some(())
                    })
                    .await
            }
            Self::C(peer) => peer
                .wait_friend_online(friend, STEP)
                .map(drop)
                .map_err(Into::into),
        }
    }

    async fn conference_new(&mut self) -> Res<u32> {
        Ok(match self {
            Self::Toxide { tox, .. } => tox.conference_new().await?.0,
            Self::C(peer) => peer.conference_new()?,
        })
    }

    async fn invite(&mut self, conference: u32, friend: u32) -> Res<()> {
        match self {
            Self::Toxide { tox, .. } => Ok(tox
                .conference_invite(friend, ConferenceNumber(conference))
                .await?),
            Self::C(peer) => Ok(peer.conference_invite(conference, friend)?),
        }
    }

    /// Joins the conference we are invited to; its number here.
    async fn join(&mut self) -> Res<u32> {
        match self {
            Self::Toxide { tox, events } => {
                let (friend, invite) = events
                    .wait("conference invite", |e| match e {
                        ToxEvent::ConferenceInvite { friend, invite } => Some((*friend, *invite)),
                        _ => None,
                    })
                    .await?;
                Ok(tox.conference_join(friend, invite).await?.0)
            }
            // tox_peer joins every invite by itself.
            Self::C(peer) => match peer.wait_event(
                |e| {
                    matches!(
                        e,
                        PeerEvent::ConferenceJoined { .. } | PeerEvent::ConferenceJoinFailed { .. }
                    )
                },
                STEP,
            )? {
                PeerEvent::ConferenceJoined { conference, .. } => Ok(conference),
                other => Err(format!("{}: {other:?}", peer.label()).into()),
            },
        }
    }

    /// Waits until we have our place in `conference`.
    async fn wait_connected(&mut self, conference: u32) -> Res<()> {
        match self {
            Self::Toxide { events, .. } => {
                events
                    .wait("conference connected", |e| {
                        matches!(e, ToxEvent::ConferenceConnected { conference: c } if c.0 == conference)
                            .then_some(())
                    })
                    .await
            }
            Self::C(peer) => Ok(peer
                .wait_event(
                    |e| *e == PeerEvent::ConferenceConnected { conference },
                    STEP,
                )
                .map(drop)?),
        }
    }

    async fn peer_count(&mut self, conference: u32) -> Res<usize> {
        Ok(match self {
            Self::Toxide { tox, .. } => tox
                .conference(ConferenceNumber(conference))
                .await?
                .peers
                .len(),
            Self::C(peer) => peer.conference_peers(conference)? as usize,
        })
    }

    async fn send(&mut self, conference: u32, text: String) -> Res<()> {
        match self {
            Self::Toxide { tox, .. } => Ok(tox
                .conference_send(ConferenceNumber(conference), MessageKind::Normal, text)
                .await?),
            Self::C(peer) => Ok(peer.conference_send(conference, &text)?),
        }
    }

    /// The next message heard in `conference` before `deadline`: when it
    /// arrived, and its text.
    async fn next_message(
        &mut self,
        conference: u32,
        deadline: Instant,
    ) -> Option<(Instant, String)> {
        match self {
            Self::Toxide { events, .. } => {
                events
                    .take(deadline, |e| match e {
                        ToxEvent::ConferenceMessage {
                            conference: c,
                            text,
                            ..
                        } if c.0 == conference => Some(String::from_utf8_lossy(text).into_owned()),
                        _ => None,
                    })
                    .await
            }
            Self::C(peer) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let wanted = |e: &PeerEvent| matches!(e, PeerEvent::ConferenceMessage { conference: c, .. } if *c == conference);
                match peer.wait_event_at(wanted, left).ok()? {
                    (PeerEvent::ConferenceMessage { text, .. }, at) => Some((at, text)),
                    _ => None,
                }
            }
        }
    }

    async fn stop(self) {
        match self {
            Self::Toxide { tox, .. } => tox.shutdown().await,
            // Dropping the peer kills it.
            Self::C(peer) => drop(peer),
        }
    }
}

/// The options every case runs with.
#[derive(Clone, Copy)]
struct Options {
    messages: usize,
    gap: Duration,
    settle: Duration,
    drain: Duration,
    c_loop_cap: Duration,
    fanout: usize,
}

/// What one case measured.
struct Figures {
    peers: usize,
    /// From starting the members until every one listed every peer.
    formed: Duration,
    /// Per complete message: send → last receiver, seconds; and whether a
    /// toxide member sent it.
    fan_out: Vec<(f64, bool)>,
    /// Every single receipt, send → that receiver, seconds.
    receipts: Vec<f64>,
    /// Messages some member never had (or whose send failed).
    lost: usize,
    /// Complete messages per second, first send to last receipt.
    rate: f64,
}

impl Figures {
    /// Prints the figures; the fan-out summary, when there is one.
    fn report(&self, case: &str) -> Option<Latencies> {
        let n = self.peers;
        println!(
            "{case}: {n} peers formed one conference in {:.1} s",
            self.formed.as_secs_f64()
        );
        println!(
            "BENCH {case}_{n}peers_form {:.2} s",
            self.formed.as_secs_f64()
        );
        let mut all: Vec<f64> = self.fan_out.iter().map(|f| f.0).collect();
        let Some(l) = Latencies::of(&mut all) else {
            println!("{case}: no message reached every peer ({} lost)", self.lost);
            return None;
        };
        let receipt = Latencies::of(&mut self.receipts.clone()).map_or(f64::NAN, |r| r.median_ms);
        println!(
            "{case}: fan-out to the last of {} receivers: median {:.2} ms, p99 {:.2} ms, max {:.2} ms \
             ({} messages, {} lost); single receipt median {receipt:.2} ms; {:.1} messages/s delivered",
            n - 1,
            l.median_ms,
            l.p99_ms,
            l.max_ms,
            l.count,
            self.lost,
            self.rate
        );
        let mixed = self.fan_out.iter().any(|f| f.1) && self.fan_out.iter().any(|f| !f.1);
        if mixed {
            for (who, toxide) in [("toxide", true), ("c-toxcore", false)] {
                let mut some: Vec<f64> = self
                    .fan_out
                    .iter()
                    .filter(|f| f.1 == toxide)
                    .map(|f| f.0)
                    .collect();
                if let Some(s) = Latencies::of(&mut some) {
                    println!(
                        "{case}: sent by {who} members: median {:.2} ms, p99 {:.2} ms ({} messages)",
                        s.median_ms, s.p99_ms, s.count
                    );
                }
            }
        }
        let name = format!("{case}_{n}peers_fanout");
        println!("BENCH {name}_median {:.2} ms", l.median_ms);
        println!("BENCH {name}_p99 {:.2} ms", l.p99_ms);
        println!("BENCH {name}_max {:.2} ms", l.max_ms);
        println!("BENCH {case}_{n}peers_receipt_median {receipt:.2} ms");
        println!("BENCH {case}_{n}peers_lost {} messages", self.lost);
        println!(
            "BENCH {case}_{n}peers_delivered {:.1} messages/s",
            self.rate
        );
        Some(l)
    }
}

/// Starts `toxide` toxide members and `c` c-toxcore ones (alternating),
/// forms the conference and measures it.
async fn run_case(toxide: usize, c: usize, options: Options) -> Res<Figures> {
    let node_side = runtime_thread("node");
    let node = node_side.spawn(node()).await?;
    let result = measure_case(toxide, c, options, (node.local_addr(), node.public_key())).await;
    node.shutdown().await;
    result
}

async fn measure_case(
    toxide: usize,
    c: usize,
    options: Options,
    node: (SocketAddr, PublicKey),
) -> Res<Figures> {
    let n = toxide + c;
    if n < 2 {
        return Err("a conference needs two peers".into());
    }
    let started = Instant::now();
    let mut members = Vec::with_capacity(n);
    let (mut toxide_left, mut c_left) = (toxide, c);
    for i in 0..n {
        // Alternating, toxide first, while both kinds are left: in the
        // mixed case each kind invites the other and relays for it.
        if toxide_left > 0 && (c_left == 0 || i % 2 == 0) {
            toxide_left -= 1;
            members.push(Member::toxide(i, node).await?);
        } else {
            c_left -= 1;
            members.push(Member::c(i, node, options.c_loop_cap)?);
        }
    }
    let result = form_and_send(&mut members, started, options).await;
    for member in members {
        member.stop().await;
    }
    result
}

/// Members `a` and `b` (`a < b`) at once.
fn pair(members: &mut [Member], a: usize, b: usize) -> (&mut Member, &mut Member) {
    let (low, high) = members.split_at_mut(b);
    (&mut low[a], &mut high[0])
}

async fn form_and_send(members: &mut [Member], started: Instant, options: Options) -> Res<Figures> {
    let n = members.len();
    // A tree: member i's friend and inviter is its parent. Each member
    // holds at most 16 group connections (c-toxcore's and toxide's
    // MAX_GROUP_CONNECTIONS), so one member cannot take 19 joiners at once.
    let fanout = options.fanout.max(1);
    let parent = |i: usize| (i - 1) / fanout;

    // Friendships along the tree: every request first, so that they all
    // make their way at once.
    let mut at_parent = vec![0; n];
    let mut parent_at = vec![0; n];
    for (i, friend) in at_parent.iter_mut().enumerate().skip(1) {
        let (p, child) = pair(members, parent(i), i);
        *friend = p.add_friend(child.address()).await?;
    }
    for i in 1..n {
        parent_at[i] = members[i].accept_request().await?;
    }
    for i in 1..n {
        let (p, child) = pair(members, parent(i), i);
        p.wait_online(at_parent[i]).await?;
        child.wait_online(parent_at[i]).await?;
    }
    println!(
        "  friends along the tree after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Member 0 founds the conference; each member, once in, invites its
    // children.
    let mut conferences = vec![0; n];
    conferences[0] = members[0].conference_new().await?;
    for p in 0..n {
        let children = (p * fanout + 1..=p * fanout + fanout).filter(|&i| i < n);
        for i in children.clone() {
            members[p].invite(conferences[p], at_parent[i]).await?;
        }
        for i in children {
            conferences[i] = members[i].join().await?;
            members[i].wait_connected(conferences[i]).await?;
        }
    }
    let deadline = Instant::now() + FORM;
    for (i, member) in members.iter_mut().enumerate() {
        loop {
            let count = member.peer_count(conferences[i]).await?;
            if count == n {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("member {i} lists {count} of {n} peers after {FORM:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let formed = started.elapsed();
    println!(
        "  all {n} list {n} peers after {:.1} s",
        formed.as_secs_f64()
    );
    tokio::time::sleep(options.settle).await;

    // Rotating senders, on a fixed schedule.
    let mut sent_at = vec![None; options.messages];
    let first = Instant::now();
    for (i, sent) in sent_at.iter_mut().enumerate() {
        let slot = first + options.gap * u32::try_from(i)?;
        tokio::time::sleep_until(slot.into()).await;
        let from = i % n;
        let at = Instant::now();
        match members[from].send(conferences[from], message_text(i)).await {
            Ok(()) => *sent = Some(at),
            Err(error) => println!("  message {i} from member {from} not sent: {error}"),
        }
    }

    // Each member's messages, stamped on arrival, read one member after
    // another.
    let deadline = Instant::now() + options.drain;
    let mut last = vec![None::<Instant>; options.messages];
    let mut heard_by = vec![0usize; options.messages];
    let mut receipts = Vec::new();
    for (m, member) in members.iter_mut().enumerate() {
        let mut heard = vec![false; options.messages];
        let expected = (0..options.messages)
            .filter(|&i| i % n != m && sent_at[i].is_some())
            .count();
        let mut got = 0;
        while got < expected {
            let Some((at, text)) = member.next_message(conferences[m], deadline).await else {
                break;
            };
            let Some(i) = message_index(&text).filter(|&i| i < options.messages) else {
                continue;
            };
            let Some(sent) = sent_at[i] else { continue };
            if i % n == m || heard[i] {
                // Our own message relayed back, or a repeat.
                continue;
            }
            heard[i] = true;
            got += 1;
            heard_by[i] += 1;
            receipts.push(at.saturating_duration_since(sent).as_secs_f64());
            last[i] = last[i].max(Some(at));
        }
    }
    let mut fan_out = Vec::new();
    let mut lost = 0;
    let mut last_receipt = first;
    for i in 0..options.messages {
        match (sent_at[i], last[i]) {
            (Some(sent), Some(at)) if heard_by[i] == n - 1 => {
                fan_out.push((
                    at.saturating_duration_since(sent).as_secs_f64(),
                    members[i % n].is_toxide(),
                ));
                last_receipt = last_receipt.max(at);
            }
            _ => lost += 1,
        }
    }
    let span = last_receipt.saturating_duration_since(first).as_secs_f64();
    Ok(Figures {
        peers: n,
        formed,
        rate: if span > 0.0 {
            fan_out.len() as f64 / span
        } else {
            0.0
        },
        fan_out,
        receipts,
        lost,
    })
}

fn main() {
    let peers = usize::try_from(bench_arg("--peers", 20)).unwrap();
    let options = Options {
        messages: usize::try_from(bench_arg("--messages", 200)).unwrap(),
        gap: Duration::from_millis(bench_arg("--gap", 10)),
        settle: Duration::from_secs(bench_arg("--settle", 2)),
        drain: Duration::from_secs(bench_arg("--drain", 10)),
        c_loop_cap: Duration::from_millis(bench_arg("--c-loop-cap", 50)),
        fanout: usize::try_from(bench_arg("--fanout", 3)).unwrap(),
    };
    let only = usize::try_from(bench_arg("--only", 0)).unwrap();
    print_load_average("start");
    let half = peers / 2;
    let cases = [
        (1, "toxide", peers, 0),
        (2, "ctoxcore", 0, peers),
        (3, "mixed", half, peers - half),
    ];
    let main = current_thread();
    let mut p99 = [None; 3];
    for (number, case, toxide, c) in cases {
        if only != 0 && only != number {
            continue;
        }
        println!("{case}: {toxide} toxide and {c} c-toxcore members");
        match main.block_on(run_case(toxide, c, options)) {
            Ok(figures) => p99[number - 1] = figures.report(case).map(|l| l.p99_ms),
            Err(error) => println!("{case}: failed: {error}"),
        }
    }
    // The goals: p99 under 50 ms toxide alone; mixed no slower
    // than c-toxcore alone.
    if let Some(t) = p99[0] {
        let verdict = if t < 50.0 { "met" } else { "missed" };
        println!("goal p99 < 50 ms toxide alone: {verdict} ({t:.2} ms)");
    }
    if let [_, Some(c), Some(mixed)] = p99 {
        let verdict = if mixed <= c { "met" } else { "missed" };
        println!("goal mixed p99 <= c-toxcore-only p99: {verdict} ({mixed:.2} vs {c:.2} ms)");
        println!(
            "BENCH ratio_mixed_over_ctoxcore_{peers}peers_p99 {:.2} x",
            mixed / c
        );
    }
    print_load_average("end");
}
