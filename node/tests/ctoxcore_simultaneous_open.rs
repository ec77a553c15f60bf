//! Simultaneous open (checklist N5) against real c-toxcore 0.2.18 on
//! 127.0.0.1: both sides open a net_crypto session to each other at once,
//! and one working session must come out of it.
//!
//! The race is forced, not hoped for. toxide only accepts at first
//! (`open_sessions = false`), so the session starts as c-toxcore's: once
//! it knows our DHT key and address it asks us for a cookie. We poll the
//! stack every millisecond; in the driver call that first sees that cookie
//! request answered, and only if no handshake of c-toxcore's has reached us
//! yet, we open our own connection to it. c-toxcore reads its socket once
//! per loop turn (capped here at 20–50 ms), so our cookie request is in its
//! socket, behind our cookie response, before it has read either. Reading
//! both in its next turn it sends its handshake to a connection of ours
//! that is still asking for a cookie, and answers our cookie request: each
//! side gets the other's handshake on a connection it opened itself
//! (c-toxcore's `handle_packet_crypto_hs` in HANDSHAKE_SENT, ours in
//! CookieRequesting), and both must keep one session.
//!
//! Each run checks that we accepted nothing (c-toxcore's handshake was
//! taken by the connection we opened), that exactly one session came up
//! and stayed up for a few seconds with no close on either side, that
//! c-toxcore reports us online (our messenger sends ONLINE itself), and
//! that custom lossless packets cross both ways complete and in order.
//! Three runs with different loop caps share one toxide client and network.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::broadcast;
use toxide::StackEvent;
use toxide::driver::DriverHandle;
use toxide::net_crypto::{CloseReason, ConnectionId, Event, Stats, Status};
use toxide_core::{PublicKey, ToxId};
use toxide_interop::{CPeer, Event as PeerEvent, PeerOptions};
use toxide_onion::ClientEvent;

use common::inprocess::{loopback, runtime, start_client, start_nodes};

/// c-toxcore's loop cap per run: how long its half of the race stays open.
const LOOP_CAPS_MS: [u64; 3] = [20, 35, 50];
const NODES: usize = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const PACKET_TIMEOUT: Duration = Duration::from_secs(20);
/// How often the race polls the stack.
const POLL: Duration = Duration::from_millis(1);
/// How long the session must stay the only one after it came up.
const QUIET: Duration = Duration::from_secs(3);
/// Custom lossless packets sent each way.
const STREAM: u32 = 40;
/// A custom lossless packet id (160–191), delivered to the C API as is.
const CUSTOM_LOSSLESS: u8 = 160;

/// Our session events for one peer, in order, collected from the stack's
/// broadcast channel whenever the test looks.
struct Watch {
    events: broadcast::Receiver<StackEvent>,
    peer: PublicKey,
    log: Vec<(Instant, Event)>,
    lagged: bool,
}

impl Watch {
    fn keep(&mut self, event: StackEvent) -> Option<Event> {
        match event {
            StackEvent::Session { friend, event } if friend == self.peer => {
                self.log.push((Instant::now(), event.clone()));
                Some(event)
            }
            _ => None,
        }
    }

    /// Takes what has arrived without waiting.
    fn drain(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    self.keep(event);
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => self.lagged = true,
                Err(_) => return,
            }
        }
    }

    /// Waits (bounded) for the next session event of the peer that `want`
    /// accepts.
    fn wait(
        &mut self,
        rt: &Runtime,
        timeout: Duration,
        mut want: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next =
                rt.block_on(async { tokio::time::timeout_at(deadline, self.events.recv()).await });
            match next {
                Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => self.lagged = true,
                Ok(Ok(event)) => {
                    if let Some(event) = self.keep(event) {
                        if want(&event) {
                            return Some(event);
                        }
                    }
                }
            }
        }
    }
}

/// What the driver call racing c-toxcore saw.
#[derive(Debug)]
enum Race {
    /// c-toxcore has not asked for a cookie since the run began.
    Waiting,
    /// c-toxcore's handshake got here first: its session was accepted
    /// before we could open ours.
    Lost(Option<Status>),
    /// We opened while c-toxcore's open was under way.
    Opened {
        id: ConnectionId,
        status: Option<Status>,
        stats: Stats,
    },
}

fn net_crypto_stats(rt: &Runtime, client: &DriverHandle) -> Stats {
    rt.block_on(client.stats()).unwrap().net_crypto
}

fn spawn_peer(label: &str, node: &DriverHandle, loop_cap: Duration) -> CPeer {
    let mut peer = CPeer::spawn(PeerOptions {
        label: Some(label.to_owned()),
        loop_cap: Some(loop_cap),
        ..PeerOptions::default()
    })
    .unwrap();
    peer.bootstrap(node.local_addr().port(), &node.public_key())
        .unwrap();
    peer
}

/// One forced simultaneous open with a fresh c-toxcore peer; returns a line
/// for the log.
fn race(
    rt: &Runtime,
    client: &DriverHandle,
    watch: &mut Watch,
    node: &DriverHandle,
    our_id: ToxId,
    loop_cap: Duration,
) -> String {
    let before = net_crypto_stats(rt, client);
    let mut peer = spawn_peer(
        &format!("simopen-{}ms", loop_cap.as_millis()),
        node,
        loop_cap,
    );
    let peer_pk = *peer.public_key();
    let peer_dht = *peer.dht_key();
    let peer_addr: SocketAddr = loopback(peer.udp_port());
    watch.peer = peer_pk;
    watch.log.clear();

    let friend = peer.add_friend(&our_id, "simultaneous open").unwrap();
    let request = rt.block_on(toxide::driver::next_onion_event(
        &mut watch.events,
        Instant::now() + CONNECT_TIMEOUT,
        |e| matches!(e, ClientEvent::FriendRequest { public_key, .. } if *public_key == peer_pk),
    ));
    assert!(request.is_some(), "no friend request from c-toxcore");
    rt.block_on(client.add_friend(peer_pk)).unwrap().unwrap();

    // The race: open in the very call that sees c-toxcore's cookie request
    // answered, unless its handshake is already here.
    let baseline = before.cookie_requests_answered;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut polls = 0u32;
    let (id, opened_stats, opened_at) = loop {
        polls += 1;
        let outcome = rt
            .block_on(client.call(move |stack, now, _| {
                let Some(net_crypto) = &stack.net_crypto else {
                    return Race::Waiting;
                };
                if net_crypto.stats().cookie_requests_answered <= baseline {
                    return Race::Waiting;
                }
                if let Some(id) = net_crypto.connection_to(&peer_pk) {
                    return Race::Lost(net_crypto.status(id));
                }
                let id = stack
                    .connect_friend_at(now, peer_pk, peer_dht, peer_addr)
                    .unwrap();
                let net_crypto = stack.net_crypto.as_ref().unwrap();
                Race::Opened {
                    id,
                    status: net_crypto.status(id),
                    stats: net_crypto.stats().clone(),
                }
            }))
            .unwrap();
        match outcome {
            Race::Waiting => {}
            Race::Lost(status) => panic!(
                "c-toxcore's handshake arrived before we saw its cookie request \
                 answered (our connection is {status:?}); cap {loop_cap:?}"
            ),
            Race::Opened { id, status, stats } => {
                assert_eq!(status, Some(Status::Connecting), "a fresh connection");
                break (id, stats, Instant::now());
            }
        }
        watch.drain();
        assert!(
            Instant::now() < deadline,
            "c-toxcore never asked for a cookie: {:#?}\n{}",
            net_crypto_stats(rt, client),
            peer.context()
        );
        std::thread::sleep(POLL);
    };
    let theirs_answered = opened_stats.cookie_requests_answered - baseline;

    // Our connection's way up, seen every millisecond.
    let mut trace = vec![(Duration::ZERO, Some(Status::Connecting))];
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let status = rt
            .block_on(client.call(move |stack, _, _| stack.net_crypto.as_ref()?.status(id)))
            .unwrap();
        if trace.last().map(|(_, s)| *s) != Some(status) {
            trace.push((opened_at.elapsed(), status));
        }
        watch.drain();
        match status {
            Some(Status::Established) => break,
            None => panic!(
                "our connection closed while handshaking: {trace:?} {:?}",
                watch.log
            ),
            Some(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "no session: {trace:?} {:#?}",
            net_crypto_stats(rt, client)
        );
        std::thread::sleep(POLL);
    }
    let established_at = Instant::now();
    let up_stats = net_crypto_stats(rt, client);
    // Our cookie request reached c-toxcore and was answered. No counter
    // says so; what shows it is the one packet of the handshake our
    // connection had no use for: c-toxcore's cookie response, which came
    // behind its handshake (it answered our request in the turn it sent
    // that) and so found our connection past asking for a cookie.
    let wrong_state = up_stats.dropped_wrong_state - opened_stats.dropped_wrong_state;
    assert!(
        wrong_state >= 1,
        "no sign c-toxcore answered our cookie request: {trace:?} {up_stats:?}"
    );

    // c-toxcore sees us online: our messenger sent ONLINE on its own.
    peer.wait_friend_online(friend, PACKET_TIMEOUT)
        .unwrap_or_else(|e| panic!("c-toxcore never saw us online: {e}"));

    // Custom lossless packets, toxide to c-toxcore, complete and in order.
    for i in 0..STREAM {
        let mut packet = vec![CUSTOM_LOSSLESS];
        packet.extend_from_slice(&i.to_be_bytes());
        packet.extend_from_slice(&[0x3c; 100]);
        rt.block_on(client.send_lossless(peer_pk, toxide::Bytes::from(packet)))
            .unwrap()
            .unwrap();
    }
    for i in 0..STREAM {
        let event = peer
            .wait_event(
                |e: &PeerEvent| matches!(e, PeerEvent::Lossless { .. }),
                PACKET_TIMEOUT,
            )
            .unwrap_or_else(|e| panic!("packet {i} to c-toxcore: {e}"));
        let PeerEvent::Lossless { friend: f, data } = event else {
            unreachable!()
        };
        assert_eq!(f, friend);
        assert_eq!(data.len(), 105);
        assert_eq!(data[0], CUSTOM_LOSSLESS);
        assert_eq!(
            u32::from_be_bytes(data[1..5].try_into().unwrap()),
            i,
            "in order"
        );
    }

    // And c-toxcore to toxide.
    for i in 0..STREAM {
        let mut packet = vec![CUSTOM_LOSSLESS + 1];
        packet.extend_from_slice(&i.to_be_bytes());
        packet.extend_from_slice(&[0xc3; 60]);
        peer.send_lossless(friend, &packet).unwrap();
    }
    for i in 0..STREAM {
        let event = watch.wait(rt, PACKET_TIMEOUT, |e| {
            matches!(e, Event::Lossless { data, .. } if data.first() == Some(&(CUSTOM_LOSSLESS + 1)))
        });
        let Some(Event::Lossless { id: on, data }) = event else {
            panic!("packet {i} from c-toxcore never came: {:?}", watch.log);
        };
        assert_eq!(on, id, "on the session we opened");
        assert_eq!(data.len(), 65);
        assert_eq!(
            u32::from_be_bytes(data[1..5].try_into().unwrap()),
            i,
            "in order"
        );
    }

    // The session stays the only one: no close, no second session, on
    // either side.
    if let Some(left) = QUIET.checked_sub(established_at.elapsed()) {
        std::thread::sleep(left);
    }
    watch.drain();
    assert!(!watch.lagged, "missed stack events");
    let (connection, status, after) = rt
        .block_on(client.call(move |stack, _, _| {
            let net_crypto = stack.net_crypto.as_ref().unwrap();
            (
                stack.friend_connection(&peer_pk),
                net_crypto.status(id),
                net_crypto.stats().clone(),
            )
        }))
        .unwrap();
    assert_eq!(
        connection,
        Some(id),
        "the friend's session is the one we opened"
    );
    assert_eq!(status, Some(Status::Established));
    assert_eq!(after.established - before.established, 1, "{after:?}");
    assert_eq!(
        after.dropped_malformed, before.dropped_malformed,
        "{after:?}"
    );
    let session_events: Vec<&Event> = watch.log.iter().map(|(_, e)| e).collect();
    assert!(
        !session_events
            .iter()
            .any(|e| matches!(e, Event::Accepted { .. } | Event::Closed { .. })),
        "we accepted or closed a session in the race: {session_events:?}"
    );
    let established: Vec<&&Event> = session_events
        .iter()
        .filter(|e| matches!(e, Event::Established { .. }))
        .collect();
    assert_eq!(
        established,
        [&&Event::Established { id }],
        "{session_events:?}"
    );
    let churn: Vec<String> = peer
        .unclaimed_events()
        .into_iter()
        .filter(|l| {
            matches!(PeerEvent::parse(l),
                PeerEvent::FriendConnection { friend: f, status } if f == friend && !status.is_online())
        })
        .collect();
    assert!(churn.is_empty(), "c-toxcore saw us go offline: {churn:?}");

    // The peer quits: its kill packet ends the session we opened.
    peer.quit().unwrap();
    let closed = watch.wait(rt, PACKET_TIMEOUT, |e| matches!(e, Event::Closed { .. }));
    assert_eq!(
        closed,
        Some(Event::Closed {
            id,
            real_pk: peer_pk,
            reason: CloseReason::Killed
        })
    );

    format!(
        "loop cap {loop_cap:?}: opened after {polls} polls with {theirs_answered} cookie \
         request(s) of c-toxcore's answered; our connection {trace:?}; established after \
         {:?}; {wrong_state} packet(s) dropped in the wrong state meanwhile",
        established_at - opened_at,
    )
}

#[test]
fn simultaneous_opens_with_ctoxcore_converge_to_one_session() {
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, NODES);
    let (client, events) = start_client(&rt, &nodes[0]);
    // We accept until the race makes us open.
    rt.block_on(client.call(|stack, _, _| stack.open_sessions = false))
        .unwrap();
    let our_id = client.tox_id().unwrap();
    let mut watch = Watch {
        events,
        peer: client.public_key(),
        log: Vec::new(),
        lagged: false,
    };
    for (run, cap) in LOOP_CAPS_MS.into_iter().enumerate() {
        let node = &nodes[1 + run % (NODES - 1)];
        let line = race(
            &rt,
            &client,
            &mut watch,
            node,
            our_id,
            Duration::from_millis(cap),
        );
        eprintln!("run {run}: {line}");
    }
    eprintln!("{} races in {:?}", LOOP_CAPS_MS.len(), started.elapsed());
    for node in &nodes {
        rt.block_on(node.shutdown());
    }
    rt.block_on(client.shutdown());
}
