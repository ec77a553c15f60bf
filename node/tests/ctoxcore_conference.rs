//! Conferences against real c-toxcore 0.2.18 on 127.0.0.1 (checklist L8):
//! toxide's `Tox` on one side, `tox_peer` (which joins every text
//! invite at once) on the other, toxide-node instances as the only
//! bootstrap nodes.
//!
//! Proven on the wire:
//! - toxide founds a conference and invites c-toxcore, and the reverse:
//!   each joins, both see two peers, messages cross both ways, and the
//!   title and names set on one side are seen on the other;
//! - a chain of four where every second peer is c-toxcore (toxide A,
//!   c-toxcore P, toxide B, c-toxcore Q; friends only along the chain):
//!   everyone ends with four peers and hears everyone, over connections
//!   between peers that are not friends, toxide and c-toxcore alike;
//! - six peers, three of each, friends only along a chain: every peer
//!   hears every other's messages exactly once and in each author's
//!   order, a c-toxcore title and everyone's names reach every toxide
//!   peer, a toxide peer that leaves and is invited back catches up on
//!   title and names, and one restarted from its save is back in the
//!   conference and heard by all.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use toxide::messenger::packet::MessageKind;
use toxide::tox::{ConferenceNumber, ToxEvent};
use toxide_interop::{CPeer, Event as PeerEvent};

use common::inprocess::{runtime, spawn_peer, start_nodes};
use common::toxide::{EVENT_TIMEOUT, Toxide, both_online, toxide_asks};

/// Bound on a whole conference forming (joins, peer queries, the
/// connections between peers that are not friends).
const FORM_TIMEOUT: Duration = Duration::from_secs(90);

/// toxide joins the conference friend `friend` invites it to.
fn toxide_joins(toxide: &mut Toxide) -> ConferenceNumber {
    let (friend, invite) = toxide.wait("a conference invite", EVENT_TIMEOUT, |e| match e {
        ToxEvent::ConferenceInvite { friend, invite } => Some((*friend, *invite)),
        _ => None,
    });
    let number = toxide
        .block(toxide.tox.conference_join(friend, invite))
        .unwrap();
    toxide.wait("conference connected", FORM_TIMEOUT, |e| match e {
        ToxEvent::ConferenceConnected { conference } if *conference == number => Some(()),
        _ => None,
    });
    number
}

/// The peer's automatic join of an invite, until it is connected in the
/// conference (it can invite and send from then on): its conference
/// number.
fn peer_joins(peer: &mut CPeer) -> u32 {
    let conference = match peer
        .wait_event(
            |e| matches!(e, PeerEvent::ConferenceJoined { .. }),
            EVENT_TIMEOUT,
        )
        .unwrap()
    {
        PeerEvent::ConferenceJoined { conference, .. } => conference,
        other => panic!("{other:?}"),
    };
    peer.wait_event(
        |e| *e == PeerEvent::ConferenceConnected { conference },
        FORM_TIMEOUT,
    )
    .unwrap();
    conference
}

/// Waits until toxide's `conference` lists `count` peers.
fn toxide_sees_peers(toxide: &Toxide, conference: ConferenceNumber, count: usize) {
    let deadline = Instant::now() + FORM_TIMEOUT;
    loop {
        let info = toxide.block(toxide.tox.conference(conference)).unwrap();
        if info.peers.len() == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "toxide never saw {count} peers: {info:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the peer reports `count` peers in `conference`.
fn peer_sees_peers(peer: &mut CPeer, conference: u32, count: u32) {
    peer.wait_event(
        |e| *e == PeerEvent::ConferencePeers { conference, count },
        FORM_TIMEOUT,
    )
    .unwrap();
}

/// The next message toxide hears in `conference` with this text.
fn toxide_hears(toxide: &mut Toxide, conference: ConferenceNumber, text: &str) {
    let want = text.as_bytes().to_vec();
    toxide.wait(
        &format!("conference message {text:?}"),
        EVENT_TIMEOUT,
        |e| match e {
            ToxEvent::ConferenceMessage {
                conference: c,
                text,
                ..
            } if *c == conference && *text == want => Some(()),
            _ => None,
        },
    );
}

/// The peer hears `text` in `conference`.
fn peer_hears(peer: &mut CPeer, conference: u32, text: &str) {
    peer.wait_event(
        |e| {
            matches!(e, PeerEvent::ConferenceMessage { conference: c, text: t, .. }
            if *c == conference && t == text)
        },
        EVENT_TIMEOUT,
    )
    .unwrap();
}

#[test]
fn toxide_and_ctoxcore_invite_each_other_and_talk() {
    let rt = runtime();
    let nodes = start_nodes(&rt, 2);
    let mut toxide = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut peer = spawn_peer("peer", &nodes[1], None);
    toxide.block(toxide.tox.set_name("toxide")).unwrap();
    peer.set_name("c-toxcore").unwrap();
    let (friend, number) = toxide_asks(&mut toxide, &mut peer, "conference?");
    both_online(&mut toxide, friend, &mut peer, number);

    // toxide founds, c-toxcore joins.
    let ours = toxide.block(toxide.tox.conference_new()).unwrap();
    toxide
        .block(toxide.tox.conference_set_title(ours, "toxide's room"))
        .unwrap();
    toxide
        .block(toxide.tox.conference_invite(friend, ours))
        .unwrap();
    let theirs = peer_joins(&mut peer);
    peer_sees_peers(&mut peer, theirs, 2);
    toxide_sees_peers(&toxide, ours, 2);
    peer.wait_for(format!("CONFERENCE_TITLE {theirs} "), EVENT_TIMEOUT)
        .map(|line| assert!(line.ends_with("toxide's room"), "{line}"))
        .unwrap();
    toxide
        .block(
            toxide
                .tox
                .conference_send(ours, MessageKind::Normal, "hello c-toxcore"),
        )
        .unwrap();
    peer_hears(&mut peer, theirs, "hello c-toxcore");
    peer.send_command(&format!("conference-send {theirs} hello toxide"))
        .unwrap();
    toxide_hears(&mut toxide, ours, "hello toxide");
    let info = toxide.block(toxide.tox.conference(ours)).unwrap();
    let names: Vec<&[u8]> = info.peers.iter().map(|p| p.name.as_slice()).collect();
    assert!(names.contains(&&b"c-toxcore"[..]), "{info:?}");
    // c-toxcore sets a title: toxide sees it.
    peer.send_command(&format!("conference-title {theirs} renamed by c-toxcore"))
        .unwrap();
    let title = toxide.wait("a title", EVENT_TIMEOUT, |e| match e {
        ToxEvent::ConferenceTitle {
            conference, title, ..
        } if *conference == ours && title.as_slice() == b"renamed by c-toxcore" => {
            Some(title.clone())
        }
        _ => None,
    });
    assert_eq!(title, b"renamed by c-toxcore");

    // c-toxcore founds, toxide joins.
    let founded: u32 = peer
        .send_command("conference-new")
        .unwrap()
        .parse()
        .unwrap();
    peer.send_command(&format!("conference-invite {founded} {number}"))
        .unwrap();
    let joined = toxide_joins(&mut toxide);
    assert_ne!(joined, ours);
    toxide_sees_peers(&toxide, joined, 2);
    peer_sees_peers(&mut peer, founded, 2);
    peer.send_command(&format!("conference-send {founded} welcome"))
        .unwrap();
    toxide_hears(&mut toxide, joined, "welcome");
    toxide
        .block(
            toxide
                .tox
                .conference_send(joined, MessageKind::Normal, "thanks"),
        )
        .unwrap();
    peer_hears(&mut peer, founded, "thanks");
}

#[test]
fn a_chain_of_toxide_and_ctoxcore_peers_forms_one_conference() {
    let rt = runtime();
    let nodes = start_nodes(&rt, 2);
    let mut a = Toxide::spawn(&rt, &nodes[0], |b| b);
    let mut b = Toxide::spawn(&rt, &nodes[1], |b| b);
    let mut p = spawn_peer("p", &nodes[0], None);
    let mut q = spawn_peer("q", &nodes[1], None);
    // Friends along the chain only: A–P, P–B (B asks), B–Q.
    let (p_at_a, a_at_p) = toxide_asks(&mut a, &mut p, "chain a-p");
    both_online(&mut a, p_at_a, &mut p, a_at_p);
    let (p_at_b, b_at_p) = toxide_asks(&mut b, &mut p, "chain b-p");
    both_online(&mut b, p_at_b, &mut p, b_at_p);
    let (q_at_b, b_at_q) = toxide_asks(&mut b, &mut q, "chain b-q");
    both_online(&mut b, q_at_b, &mut q, b_at_q);

    let at_a = a.block(a.tox.conference_new()).unwrap();
    a.block(a.tox.conference_invite(p_at_a, at_a)).unwrap();
    let at_p = peer_joins(&mut p);
    peer_sees_peers(&mut p, at_p, 2);
    p.send_command(&format!("conference-invite {at_p} {b_at_p}"))
        .unwrap();
    let at_b = toxide_joins(&mut b);
    b.block(b.tox.conference_invite(q_at_b, at_b)).unwrap();
    let at_q = peer_joins(&mut q);

    toxide_sees_peers(&a, at_a, 4);
    toxide_sees_peers(&b, at_b, 4);
    peer_sees_peers(&mut q, at_q, 4);
    // P may have passed 4 before this wait: ask it.
    let deadline = Instant::now() + FORM_TIMEOUT;
    loop {
        let count: u32 = p
            .send_command(&format!("conference-peers {at_p}"))
            .unwrap()
            .parse()
            .unwrap();
        if count == 4 {
            break;
        }
        assert!(Instant::now() < deadline, "P sees {count} peers");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Each end of the chain is heard at the other end and in between.
    a.block(a.tox.conference_send(at_a, MessageKind::Normal, "from A"))
        .unwrap();
    peer_hears(&mut p, at_p, "from A");
    toxide_hears(&mut b, at_b, "from A");
    peer_hears(&mut q, at_q, "from A");
    q.send_command(&format!("conference-send {at_q} from Q"))
        .unwrap();
    toxide_hears(&mut a, at_a, "from Q");
    toxide_hears(&mut b, at_b, "from Q");
    peer_hears(&mut p, at_p, "from Q");
}

/// The messages `who` heard until `done` holds for them, each taken by
/// `next` within what is left of [`FORM_TIMEOUT`].
fn collect_until(
    who: &str,
    mut next: impl FnMut(Duration) -> String,
    mut done: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let mut heard = Vec::new();
    let deadline = Instant::now() + FORM_TIMEOUT;
    while !done(&heard) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{who} heard only {heard:?}");
        heard.push(next(left));
    }
    heard
}

/// The texts a toxide peer heard in `conference` until `done` holds.
fn toxide_collect(
    toxide: &mut Toxide,
    conference: ConferenceNumber,
    done: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let next = |left| {
        toxide.wait("a conference message", left, |e| match e {
            ToxEvent::ConferenceMessage {
                conference: c,
                text,
                ..
            } if *c == conference => Some(String::from_utf8_lossy(text).into_owned()),
            _ => None,
        })
    };
    collect_until("toxide", next, done)
}

/// The same for a c-toxcore peer.
fn peer_collect(
    peer: &mut CPeer,
    conference: u32,
    done: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let who = peer.label().to_owned();
    let next = |left| match peer
        .wait_event(
            |e| matches!(e, PeerEvent::ConferenceMessage { conference: c, .. } if *c == conference),
            left,
        )
        .unwrap()
    {
        PeerEvent::ConferenceMessage { text, .. } => text,
        other => panic!("{other:?}"),
    };
    collect_until(&who, next, done)
}

/// Every message of every other author exactly once, and each author's
/// in the order sent (own messages, which c-toxcore shows when they come
/// back, are not counted).
fn check_heard(who: &str, heard: &[String], authors: &[&str], own: &str, per_author: usize) {
    for author in authors.iter().filter(|a| **a != own) {
        let theirs: Vec<&String> = heard
            .iter()
            .filter(|t| t.starts_with(&format!("{author}-")))
            .collect();
        let expected: Vec<String> = (0..per_author).map(|i| format!("{author}-{i}")).collect();
        assert_eq!(
            theirs,
            expected.iter().collect::<Vec<_>>(),
            "{who} from {author}"
        );
    }
}

/// Six peers, three toxide and three c-toxcore, friends only along a
/// chain T0–C0–T1–C1–T2–C2, in one conference built by invites along the
/// chain: every peer hears every other's messages exactly once and in
/// order; the title set by one c-toxcore peer and everyone's names reach
/// the toxide peers; a toxide peer that leaves and is invited back has
/// the title and every name again; a toxide peer restarted from its save
/// is back in the conference and heard by all.
#[test]
fn six_peers_toxide_and_ctoxcore_share_one_conference() {
    const PER_AUTHOR: usize = 3;
    let rt = runtime();
    let nodes = start_nodes(&rt, 2);
    let mut t: Vec<Toxide> = (0..3)
        .map(|i| Toxide::spawn(&rt, &nodes[i % 2], |b| b))
        .collect();
    let mut c: Vec<CPeer> = (0..3)
        .map(|i| spawn_peer(&format!("c{i}"), &nodes[(i + 1) % 2], None))
        .collect();
    for (i, toxide) in t.iter().enumerate() {
        toxide.block(toxide.tox.set_name(format!("T{i}"))).unwrap();
    }
    for (i, peer) in c.iter_mut().enumerate() {
        peer.set_name(&format!("C{i}")).unwrap();
    }
    // The chain T0–C0–T1–C1–T2–C2: each link's toxide side asks, the
    // peer accepts; (peer's number at toxide, toxide's number at peer).
    let mut links = std::collections::HashMap::new();
    for (ti, ci) in [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2)] {
        let (friend, number) = toxide_asks(&mut t[ti], &mut c[ci], &format!("chain {ti}-{ci}"));
        both_online(&mut t[ti], friend, &mut c[ci], number);
        links.insert((ti, ci), (friend, number));
    }

    // T0 founds; invites go along the chain: Ti invites Ci, Ci invites
    // T(i+1).
    let mut tc = [ConferenceNumber(u32::MAX); 3];
    let mut cc = [u32::MAX; 3];
    tc[0] = t[0].block(t[0].tox.conference_new()).unwrap();
    for i in 0..3 {
        if i > 0 {
            let (_, ti_at_prev) = links[&(i, i - 1)];
            c[i - 1]
                .send_command(&format!("conference-invite {} {ti_at_prev}", cc[i - 1]))
                .unwrap();
            tc[i] = toxide_joins(&mut t[i]);
        }
        let (ci_at_ti, _) = links[&(i, i)];
        t[i].block(t[i].tox.conference_invite(ci_at_ti, tc[i]))
            .unwrap();
        cc[i] = peer_joins(&mut c[i]);
    }
    let (_, t2_at_c1) = links[&(2, 1)];
    for i in 0..3 {
        toxide_sees_peers(&t[i], tc[i], 6);
    }

    // C1 sets the title; every toxide peer sees it.
    c[1].send_command(&format!("conference-title {} the six", cc[1]))
        .unwrap();
    for i in 0..3 {
        let conference = tc[i];
        t[i].wait("the title", FORM_TIMEOUT, |e| match e {
            ToxEvent::ConferenceTitle {
                conference: c,
                title,
                ..
            } if *c == conference && title.as_slice() == b"the six" => Some(()),
            _ => None,
        });
    }

    // Everyone sends PER_AUTHOR numbered messages, interleaved.
    let authors = ["T0", "T1", "T2", "C0", "C1", "C2"];
    for n in 0..PER_AUTHOR {
        for i in 0..3 {
            let text = format!("T{i}-{n}");
            t[i].block(t[i].tox.conference_send(tc[i], MessageKind::Normal, text))
                .unwrap();
            c[i].send_command(&format!("conference-send {} C{i}-{n}", cc[i]))
                .unwrap();
        }
    }
    let others = |own: &'static str| {
        move |heard: &[String]| {
            authors.iter().filter(|a| **a != own).all(|a| {
                heard
                    .iter()
                    .filter(|t| t.starts_with(&format!("{a}-")))
                    .count()
                    >= PER_AUTHOR
            })
        }
    };
    for i in 0..3 {
        let own = authors[i];
        let heard = toxide_collect(&mut t[i], tc[i], others(own));
        check_heard(own, &heard, &authors, own, PER_AUTHOR);
        let own = authors[3 + i];
        let heard = peer_collect(&mut c[i], cc[i], others(own));
        check_heard(own, &heard, &authors, own, PER_AUTHOR);
    }
    // Nothing of the others arrives twice later either (our own messages
    // come back once each as peers relay them, as c-toxcore shows them).
    std::thread::sleep(Duration::from_secs(2));
    for (i, toxide) in t.iter_mut().enumerate() {
        let (conference, own) = (tc[i], toxide.tox.public_key());
        toxide.idle(Duration::from_millis(100));
        let late: Vec<&ToxEvent> = toxide
            .backlog
            .iter()
            .filter(|e| {
                matches!(e, ToxEvent::ConferenceMessage { conference: c, peer_key, .. }
                if *c == conference && *peer_key != own)
            })
            .collect();
        assert!(late.is_empty(), "T{i} got more: {late:?}");
        let mut echoes: Vec<Vec<u8>> = toxide
            .history
            .iter()
            .filter_map(|e| match e {
                ToxEvent::ConferenceMessage {
                    conference: c,
                    peer_key,
                    text,
                    ..
                } if *c == conference && *peer_key == own => Some(text.clone()),
                _ => None,
            })
            .collect();
        let all = echoes.len();
        echoes.sort();
        echoes.dedup();
        assert_eq!(echoes.len(), all, "T{i} saw its own message twice");
    }

    // Names: each toxide peer lists all six.
    for i in 0..3 {
        let info = t[i].block(t[i].tox.conference(tc[i])).unwrap();
        let mut names: Vec<String> = info
            .peers
            .iter()
            .map(|p| String::from_utf8_lossy(&p.name).into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["C0", "C1", "C2", "T0", "T1", "T2"], "T{i}");
    }

    // And each c-toxcore peer was told every toxide peer's name.
    for (i, peer) in c.iter_mut().enumerate() {
        for name in ["T0", "T1", "T2"] {
            let prefix = format!("CONFERENCE_PEER_NAME {} ", cc[i]);
            peer.wait_for(
                |line: &str| line.starts_with(&prefix) && line.ends_with(&format!(" {name}")),
                FORM_TIMEOUT,
            )
            .unwrap();
        }
    }

    // T2 leaves, is invited back by C1, and has the title and names again.
    t[2].block(t[2].tox.conference_delete(tc[2])).unwrap();
    toxide_sees_peers(&t[0], tc[0], 5);
    c[1].send_command(&format!("conference-invite {} {t2_at_c1}", cc[1]))
        .unwrap();
    tc[2] = toxide_joins(&mut t[2]);
    toxide_sees_peers(&t[2], tc[2], 6);
    let deadline = Instant::now() + FORM_TIMEOUT;
    loop {
        let info = t[2].block(t[2].tox.conference(tc[2])).unwrap();
        let named = info.peers.iter().filter(|p| !p.name.is_empty()).count();
        if info.title == b"the six" && named == 6 {
            break;
        }
        assert!(Instant::now() < deadline, "T2 did not catch up: {info:?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // T0 restarts from its save: the conference is back and everyone
    // hears it.
    let saved = t[0].block(t[0].tox.savedata()).unwrap();
    t[0].block(t[0].tox.shutdown());
    let t0 = Toxide::spawn(&rt, &nodes[0], |b| b.savedata(saved));
    assert_eq!(t0.block(t0.tox.conference_list()).unwrap(), [tc[0]]);
    let deadline = Instant::now() + FORM_TIMEOUT;
    while t0
        .block(
            t0.tox
                .conference_send(tc[0], MessageKind::Normal, "T0 is back"),
        )
        .is_err()
    {
        assert!(Instant::now() < deadline, "T0 never back in the conference");
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 1..3 {
        toxide_hears(&mut t[i], tc[i], "T0 is back");
    }
    for i in 0..3 {
        peer_hears(&mut c[i], cc[i], "T0 is back");
    }
    drop(t0);
}
