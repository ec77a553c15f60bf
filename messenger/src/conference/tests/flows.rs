//! Two or three instances through the handshakes: invite and accept, a
//! member's accept (G4), freezing and thawing on a virtual clock, the
//! save round trip with its skip-ahead, and the bounds.

use std::time::{Duration, Instant};

use toxide_core::{Decode, Encode, PublicKey};

use super::sim::{Config, Sim};
use crate::conference::{
    ConferenceError, ConferenceEvent, ConferenceNumber, ConferencePayload, ConferenceType,
    Conferences, ConnectionRequest, DirectBody, GroupNumber, Invite, InvitePacket,
    MAX_FROZEN_DEFAULT, MAX_PEERS, MessageBody, MessagePacket, PeerNumber,
    SAVE_OFFSET_LOSSY_MESSAGE_NUMBER, SAVE_OFFSET_MESSAGE_NUMBER, SavedConferences,
};
use crate::packet::{ConferencePacket, ConferencePacketKind, MessageKind};

fn key(byte: u8) -> PublicKey {
    PublicKey::new([byte; 32])
}

/// Two machines whose sessions with each other are up, and a wire that
/// carries their transmits until both are quiet.
struct Pair {
    a: Conferences,
    b: Conferences,
    now: Instant,
    /// Every packet carried, `true` for a → b.
    log: Vec<(bool, ConferencePayload)>,
}

const A: u8 = 0x10;
const B: u8 = 0xa0;

impl Pair {
    /// A pair where A created a text conference and B joined it from
    /// A's invite: the pair, A's and B's numbers, and the invite.
    fn joined() -> (Self, ConferenceNumber, ConferenceNumber, Invite) {
        let mut p = Pair::new();
        let ca = p.a.create(p.now, ConferenceType::Text).unwrap();
        p.a.invite(ca, key(B)).unwrap();
        p.shuttle();
        let invite = events(&mut p.b)
            .into_iter()
            .find_map(|e| match e {
                ConferenceEvent::Invited { invite, .. } => Some(invite),
                _ => None,
            })
            .unwrap();
        let cb = p.b.join(p.now, key(A), &invite).unwrap();
        p.shuttle();
        (p, ca, cb, invite)
    }

    fn new() -> Self {
        let now = Instant::now();
        let mut a = Conferences::new(key(A), key(A + 1), [1; 32]);
        let mut b = Conferences::new(key(B), key(B + 1), [2; 32]);
        a.set_name(now, b"alice");
        b.set_name(now, b"bob");
        a.set_peer_dht_pk(key(B), key(B + 1));
        a.set_connected(now, key(B), true);
        b.set_peer_dht_pk(key(A), key(A + 1));
        b.set_connected(now, key(A), true);
        Self {
            a,
            b,
            now,
            log: Vec::new(),
        }
    }

    fn deliver(to: &mut Conferences, from: PublicKey, now: Instant, packet: &ConferencePacket) {
        if packet.kind() == ConferencePacketKind::Invite {
            to.handle_friend_packet(now, from, packet);
        } else {
            to.handle_packet(now, from, packet);
        }
    }

    fn shuttle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                assert_eq!(t.to, key(B));
                self.log
                    .push((true, ConferencePayload::from_packet(&t.packet).unwrap()));
                Self::deliver(&mut self.b, key(A), self.now, &t.packet);
                moved = true;
            }
            while let Some(t) = self.b.poll_transmit() {
                assert_eq!(t.to, key(A));
                self.log
                    .push((false, ConferencePayload::from_packet(&t.packet).unwrap()));
                Self::deliver(&mut self.a, key(B), self.now, &t.packet);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Runs both machines' periodic work for `d`, a second at a time.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_secs(1);
            self.a.handle_timeout(self.now);
            self.b.handle_timeout(self.now);
            self.shuttle();
        }
    }
}

fn events(c: &mut Conferences) -> Vec<ConferenceEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn requests(c: &mut Conferences) -> Vec<ConnectionRequest> {
    std::iter::from_fn(|| c.poll_connection()).collect()
}

#[test]
fn invite_and_accept_between_two_instances() {
    let mut p = Pair::new();
    let now = p.now;
    let ca = p.a.create(now, ConferenceType::Text).unwrap();
    assert_eq!(p.a.peer_count(ca), Some(1));
    assert_eq!(p.a.peer_is_ours(ca, 0), Ok(true));
    assert_eq!(p.a.peer_name(ca, 0), Some(&b"alice"[..]));
    // Alone: nothing to send over.
    assert_eq!(
        p.a.send_message(now, ca, MessageKind::Normal, b"hi"),
        Err(ConferenceError::NoConnection(0))
    );
    p.a.invite(ca, key(B)).unwrap();
    let invite = p.a.poll_transmit().unwrap();
    assert_eq!(invite.to, key(B));
    let Ok(ConferencePayload::Invite(InvitePacket::Invite(sent))) =
        ConferencePayload::from_packet(&invite.packet)
    else {
        panic!("not an invite");
    };
    assert_eq!(sent.group_number, GroupNumber(0));
    assert_eq!(sent.id, p.a.id(ca).unwrap());

    p.b.handle_friend_packet(now, key(A), &invite.packet);
    let [
        ConferenceEvent::Invited {
            friend,
            kind,
            invite,
        },
    ] = events(&mut p.b)[..]
    else {
        panic!("no invite event");
    };
    assert_eq!((friend, kind), (key(A), ConferenceType::Text));
    let cb = p.b.join(now, key(A), &invite).unwrap();
    assert!(!p.b.is_connected(cb), "waits for the peer list");
    assert_eq!(
        requests(&mut p.b),
        vec![ConnectionRequest::Want {
            real_pk: key(A),
            dht_pk: Some(key(A + 1)),
        }]
    );
    p.shuttle();

    // The handshake: accept and peer query from the joiner; the inviter
    // announces it and answers with its list.
    let first: Vec<_> = p.log.iter().take(3).collect();
    assert!(matches!(
        first[0],
        (false, ConferencePayload::Invite(InvitePacket::Accept(acc)))
            if acc.member_peer_number.is_none() && acc.inviter_group_number == GroupNumber(0)
    ));
    assert!(matches!(
        first[1],
        (false, ConferencePayload::Direct(d)) if d.body == DirectBody::PeerQuery
    ));
    assert!(matches!(
        first[2],
        (true, ConferencePayload::Message(MessagePacket { body: MessageBody::NewPeer { real_pk, .. }, .. }))
            if *real_pk == key(B)
    ));
    assert_eq!(
        requests(&mut p.a),
        vec![ConnectionRequest::Want {
            real_pk: key(B),
            dht_pk: Some(key(B + 1)),
        }]
    );
    assert!(p.b.is_connected(cb));
    let b_events = events(&mut p.b);
    assert!(b_events.contains(&ConferenceEvent::Connected(cb)));
    assert_eq!(p.a.peer_count(ca), Some(2));
    assert_eq!(p.b.peer_count(cb), Some(2));
    let b_number = p.log.iter().find_map(|(_, x)| match x {
        ConferencePayload::Message(MessagePacket {
            body: MessageBody::NewPeer { peer_number, .. },
            ..
        }) => Some(*peer_number),
        _ => None,
    });
    // The joiner took the number the inviter drew for it.
    let b_index = p.b.peer_index_of(cb, &key(B)).unwrap();
    assert_eq!(p.b.peer_is_ours(cb, b_index), Ok(true));
    let a_sees_b = p.a.peer_index_of(ca, &key(B)).unwrap();
    assert!(b_number.is_some());
    assert_eq!(p.a.peer_is_ours(ca, a_sees_b), Ok(false));
    assert_eq!(
        p.b.peer_name(cb, p.b.peer_index_of(cb, &key(A)).unwrap()),
        Some(&b"alice"[..])
    );

    // The joiner's name goes out at its next maintenance.
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.a.peer_name(ca, p.a.peer_index_of(ca, &key(B)).unwrap()),
        Some(&b"bob"[..])
    );
    // One online connection each way: closest for both; A introduces B,
    // B keeps A as its introducer (a two-member conference never has
    // more than 4 connections, so both reasons stay).
    assert_eq!(
        p.a.connection_states(ca),
        vec![(key(B), true, [true, true, false])]
    );
    assert_eq!(
        p.b.connection_states(cb),
        vec![(key(A), true, [true, false, true])]
    );

    // A message reaches the other side once, and comes back to its author
    // (relayed back by the peer it reached directly).
    events(&mut p.a);
    events(&mut p.b);
    p.a.send_message(p.now, ca, MessageKind::Action, b"waves")
        .unwrap();
    p.shuttle();
    let message = |e: &ConferenceEvent| match e {
        ConferenceEvent::Message {
            peer_pk,
            kind,
            text,
            ..
        } => Some((*peer_pk, *kind, text.clone())),
        _ => None,
    };
    let want = vec![(key(A), MessageKind::Action, b"waves".to_vec())];
    assert_eq!(
        events(&mut p.b)
            .iter()
            .filter_map(message)
            .collect::<Vec<_>>(),
        want
    );
    assert_eq!(
        events(&mut p.a)
            .iter()
            .filter_map(message)
            .collect::<Vec<_>>(),
        want
    );

    // Invited again to a conference it is in: B answers by itself with a
    // member accept carrying its peer number (G4), and nothing changes.
    p.log.clear();
    p.a.invite(ca, key(B)).unwrap();
    p.shuttle();
    assert!(
        events(&mut p.b)
            .iter()
            .all(|e| !matches!(e, ConferenceEvent::Invited { .. }))
    );
    assert!(p.log.iter().any(|(to_b, x)| !to_b
        && matches!(x, ConferencePayload::Invite(InvitePacket::Accept(acc)) if acc.member_peer_number == b_number)));
    assert_eq!(p.a.peer_count(ca), Some(2));
    // B kept the peer number A drew for it.
    let saved_b = p.a.save().0[0]
        .peers
        .iter()
        .find(|x| x.real_pk == key(B))
        .map(|x| x.peer_number);
    assert_eq!(saved_b, b_number);
    assert_eq!(
        p.b.join(p.now, key(A), &invite),
        Err(ConferenceError::Duplicate(cb.0))
    );

    // Leaving: a kill-peer message, and the connection released.
    p.b.delete(p.now, cb).unwrap();
    assert_eq!(
        requests(&mut p.b),
        vec![ConnectionRequest::Release { real_pk: key(A) }]
    );
    p.shuttle();
    assert_eq!(p.a.peer_count(ca), Some(1));
    assert_eq!(p.a.offline_peer_count(ca), Some(0));
    assert!(p.b.list().is_empty());
}

#[test]
fn title_and_names_reach_a_joiner() {
    let mut p = Pair::new();
    let ca = p.a.create(p.now, ConferenceType::Av).unwrap();
    p.a.set_title(p.now, ca, b"AV room").unwrap();
    assert!(events(&mut p.a).is_empty(), "our own title: no event");
    assert_eq!(
        p.a.set_title(p.now, ca, b""),
        Err(ConferenceError::InvalidLength {
            what: "conference title",
            len: 0,
            min: 1,
            max: 128
        })
    );
    p.a.invite(ca, key(B)).unwrap();
    p.shuttle();
    let invite = events(&mut p.b)
        .into_iter()
        .find_map(|e| match e {
            ConferenceEvent::Invited { invite, kind, .. } => {
                assert_eq!(kind, ConferenceType::Av);
                Some(invite)
            }
            _ => None,
        })
        .unwrap();
    let cb = p.b.join(p.now, key(A), &invite).unwrap();
    p.shuttle();
    assert_eq!(p.b.title(cb), Some(&b"AV room"[..]));
    assert!(events(&mut p.b).contains(&ConferenceEvent::Title {
        conference: cb,
        peer: None,
        title: b"AV room".to_vec()
    }));
    // Lossy packets go both ways in an AV conference, once each.
    p.advance(Duration::from_secs(1));
    events(&mut p.a);
    p.b.send_lossy(cb, &[192, 1, 2, 3]).unwrap();
    p.b.send_lossy(cb, &[192, 4]).unwrap();
    p.shuttle();
    let lossy: Vec<_> = events(&mut p.a)
        .into_iter()
        .filter_map(|e| match e {
            ConferenceEvent::Lossy {
                message_id, data, ..
            } => Some((message_id, data)),
            _ => None,
        })
        .collect();
    assert_eq!(lossy, vec![(192, vec![1, 2, 3]), (192, vec![4])]);
}

/// Three nodes in one conference, built by invites along a chain (0
/// invites 1, 1 invites 2) and settled for 5 s: the world, the
/// conference's id and each node's number for it.
fn chain_of_three(seed: u64) -> (Sim, [u8; 32], [ConferenceNumber; 3]) {
    let mut sim = Sim::new(3, seed, Config::default());
    let c0 = sim
        .with(0, |c, now| c.create(now, ConferenceType::Text))
        .unwrap();
    let id = sim.nodes[0].conf.id(c0).unwrap().id;
    sim.invite_and_join(0, 1, c0);
    let c1 = sim.joined(1, &id).unwrap();
    sim.invite_and_join(1, 2, c1);
    let c2 = sim.joined(2, &id).unwrap();
    sim.run_for(Duration::from_secs(5));
    (sim, id, [c0, c1, c2])
}

#[test]
fn silent_peers_freeze_and_thaw_on_rejoin() {
    let (mut sim, id, [c0, c1, c2]) = chain_of_three(7);
    for i in 0..3 {
        let c = sim.joined(i, &id).unwrap();
        assert_eq!(sim.nodes[i].conf.peer_count(c), Some(3), "node {i}");
    }
    // Node 2 drops off the network. Its machine freezes everyone at once
    // (no connection online); the others, after 60 s of silence.
    sim.set_online(2, false);
    let cut = sim.now;
    assert_eq!(sim.nodes[2].conf.peer_count(c2), Some(1));
    assert_eq!(sim.nodes[2].conf.offline_peer_count(c2), Some(2));
    sim.run_for(Duration::from_secs(55));
    assert_eq!(sim.nodes[0].conf.peer_count(c0), Some(3), "not yet");
    sim.run_for(Duration::from_secs(10));
    for (i, c) in [(0, c0), (1, c1)] {
        assert_eq!(sim.nodes[i].conf.peer_count(c), Some(2), "node {i}");
        assert_eq!(sim.nodes[i].conf.offline_peer_count(c), Some(1));
        assert_eq!(
            sim.nodes[i].conf.offline_peer_public_key(c, 0),
            Some(sim.nodes[2].pk)
        );
        let last = sim.nodes[i].conf.offline_peer_last_active(c, 0).unwrap();
        let cut_secs = (cut - sim.start).as_secs();
        assert!(
            last <= cut_secs && last + 25 >= cut_secs,
            "{last} vs {cut_secs}"
        );
    }
    // Back: its friend connection to node 1 comes up, each side sends a
    // rejoin, and the conference is whole again.
    sim.set_online(2, true);
    sim.run_for(Duration::from_secs(25));
    for (i, c) in [(0, c0), (1, c1), (2, c2)] {
        assert_eq!(sim.nodes[i].conf.peer_count(c), Some(3), "node {i}");
        assert_eq!(sim.nodes[i].conf.offline_peer_count(c), Some(0), "node {i}");
    }
    sim.with(2, |c, now| {
        c.send_message(now, c2, MessageKind::Normal, b"back")
    })
    .unwrap();
    sim.run_for(Duration::from_secs(2));
    assert!(sim.nodes[0].events.iter().any(|(_, e)| matches!(
        e,
        ConferenceEvent::Message { text, .. } if text == b"back"
    )));
}

/// A save taken, then more messages sent, then a crash: the restarted
/// client must not reuse the numbers of those messages.
fn restart_from_stale_save(skip_ahead: bool) -> bool {
    let mut sim = Sim::new(2, 11, Config::default());
    let c0 = sim
        .with(0, |c, now| c.create(now, ConferenceType::Text))
        .unwrap();
    let id = sim.nodes[0].conf.id(c0).unwrap().id;
    sim.invite_and_join(0, 1, c0);
    sim.with(0, |c, now| c.set_title(now, c0, b"saved"))
        .unwrap();
    sim.run_for(Duration::from_secs(3));
    let mut saved = sim.nodes[0].conf.save();
    for n in 0..12 {
        sim.with(0, |c, now| {
            c.send_message(
                now,
                c0,
                MessageKind::Normal,
                format!("after save {n}").as_bytes(),
            )
        })
        .unwrap();
    }
    sim.run_for(Duration::from_secs(2));
    if !skip_ahead {
        let conf = &mut saved.0[0];
        conf.message_number = conf.message_number.wrapping_sub(SAVE_OFFSET_MESSAGE_NUMBER);
    }
    // Through the bytes of the save file.
    let saved = SavedConferences::from_bytes(&saved.to_bytes()).unwrap();
    let (pk, dht) = (sim.nodes[0].pk, sim.nodes[0].dht);
    let mut restarted = Conferences::new(pk, dht, [9; 32]);
    restarted.load(sim.now, saved);
    let c = restarted.by_id(&id).unwrap();
    assert!(restarted.is_connected(c));
    assert_eq!(restarted.peer_count(c), Some(1));
    assert_eq!(restarted.offline_peer_count(c), Some(1));
    assert_eq!(restarted.title(c), Some(&b"saved"[..]));
    sim.replace(0, restarted);
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.nodes[0].conf.peer_count(c), Some(2), "rejoined");
    sim.with(0, |conf, now| {
        conf.send_message(now, c, MessageKind::Normal, b"after restart")
    })
    .unwrap();
    sim.run_for(Duration::from_secs(2));
    sim.nodes[1].events.iter().any(
        |(_, e)| matches!(e, ConferenceEvent::Message { text, .. } if text == b"after restart"),
    )
}

#[test]
fn save_skips_message_numbers_ahead() {
    let (mut p, _, cb, invite) = Pair::joined();
    p.advance(Duration::from_secs(2));
    // Not yet connected conferences are not saved.
    let mut c = Conferences::new(key(0x33), key(0x34), [3; 32]);
    c.set_connected(p.now, key(A), true);
    c.join(p.now, key(A), &invite).unwrap();
    assert_eq!(c.save(), SavedConferences::default());

    let saved = p.b.save();
    assert_eq!(saved.0.len(), 1);
    let conf = &saved.0[0];
    // B sent: its name, its pings; the save is 65536 past them.
    assert!(conf.message_number > SAVE_OFFSET_MESSAGE_NUMBER);
    assert!(conf.message_number < SAVE_OFFSET_MESSAGE_NUMBER + 10);
    assert_eq!(conf.lossy_message_number, SAVE_OFFSET_LOSSY_MESSAGE_NUMBER);
    assert_eq!(conf.peers.len(), 1, "everyone but us");
    assert_eq!(conf.peers[0].real_pk, key(A));
    assert_eq!(conf.peers[0].name.as_bytes(), b"alice");
    let b_index = p.b.peer_index_of(cb, &key(B)).unwrap();
    assert_eq!(p.b.peer_is_ours(cb, b_index), Ok(true));
    // Loading takes the numbers as they are: saving again adds the offset
    // once more.
    let mut reloaded = Conferences::new(key(B), key(B + 1), [4; 32]);
    reloaded.load(p.now, saved.clone());
    let again = reloaded.save();
    assert_eq!(
        again.0[0].message_number,
        conf.message_number.wrapping_add(SAVE_OFFSET_MESSAGE_NUMBER)
    );
    assert_eq!(again.0[0].peers, conf.peers);
    assert_eq!(
        reloaded.offline_peer_name(ConferenceNumber(0), 0),
        Some(&b"alice"[..])
    );
}

#[test]
fn restart_from_a_stale_save_is_heard_thanks_to_the_skip_ahead() {
    assert!(restart_from_stale_save(true));
    // The control: without the offset the peer takes the restarted
    // client's messages for ones it has seen.
    assert!(!restart_from_stale_save(false));
}

#[test]
fn a_peer_cannot_make_us_hold_unbounded_state() {
    let (mut p, ca, cb, _) = Pair::joined();
    assert!(p.b.is_connected(cb));
    let b_number = p.b.save().0[0].peer_number;
    // B announces 3000 made-up members to A.
    for n in 0..3000u32 {
        let mut made_up = [0; 32];
        made_up[..4].copy_from_slice(&n.to_be_bytes());
        made_up[4] = 0xee;
        let packet = ConferencePayload::Message(MessagePacket {
            group_number: GroupNumber(ca.0 as u16),
            peer_number: b_number,
            message_number: 1000 + n,
            body: MessageBody::NewPeer {
                peer_number: PeerNumber(u16::try_from(n % 60000).unwrap() + 2),
                real_pk: PublicKey::new(made_up),
                temp_pk: PublicKey::new(made_up),
            },
        })
        .to_packet();
        p.a.handle_packet(p.now, key(B), &packet);
        while p.a.poll_transmit().is_some() {}
    }
    assert_eq!(p.a.peer_count(ca), Some(u32::try_from(MAX_PEERS).unwrap()));
    // They never speak: frozen after 60 s, and at most 128 kept.
    p.now += Duration::from_secs(61);
    p.a.handle_timeout(p.now);
    let frozen = p.a.offline_peer_count(ca).unwrap();
    assert_eq!(frozen, MAX_FROZEN_DEFAULT);
    assert!(p.a.peer_count(ca).unwrap() <= 2);
    p.a.set_max_offline(ca, 5).unwrap();
    assert_eq!(p.a.offline_peer_count(ca), Some(5));
}

/// A peer that comes back after being frozen is told our name again if it
/// changed while the peer was away (we announce it on a thaw only then;
/// `fifty_peers_with_churn_and_loss` bounds how often that is).
#[test]
fn a_returning_peer_hears_the_name_we_took_while_it_was_away() {
    let (mut sim, _, [_, _, c2]) = chain_of_three(8);
    for i in 0..3 {
        sim.with(i, |c, now| c.set_name(now, format!("node {i}").as_bytes()));
    }
    sim.run_for(Duration::from_secs(1));

    // Away; node 0 is renamed meanwhile: on its return node 2 is told the
    // new name.
    sim.set_online(2, false);
    sim.run_for(Duration::from_secs(70));
    sim.with(0, |c, now| c.set_name(now, b"node zero"));
    sim.run_for(Duration::from_secs(1));
    sim.set_online(2, true);
    sim.run_for(Duration::from_secs(25));
    assert_eq!(sim.nodes[2].conf.peer_count(c2), Some(3));
    let zero = sim.nodes[0].pk;
    let index = sim.nodes[2].conf.peer_index_of(c2, &zero).unwrap();
    assert_eq!(
        sim.nodes[2].conf.peer_name(c2, index),
        Some(&b"node zero"[..])
    );
}
