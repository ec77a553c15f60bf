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
//!   between peers that are not friends, toxide and c-toxcore alike.

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

/// The peer's automatic join of an invite: its conference number.
fn peer_joins(peer: &mut CPeer) -> u32 {
    match peer
        .wait_event(
            |e| matches!(e, PeerEvent::ConferenceJoined { .. }),
            EVENT_TIMEOUT,
        )
        .unwrap()
    {
        PeerEvent::ConferenceJoined { conference, .. } => conference,
        other => panic!("{other:?}"),
    }
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
