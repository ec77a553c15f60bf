//! toxide's messenger against real c-toxcore 0.2.18 on 127.0.0.1, through
//! toxide-node infrastructure only: a c-toxcore peer asks a toxide client
//! to be friends, the toxide client accepts, and the two chat.
//!
//! Proven on the wire: the ONLINE gate both ways (each side reports the
//! other online), names pushed on connecting and changed later, messages
//! and actions both ways with their text intact, read receipts both ways
//! (ours from c-toxcore's acknowledgements, c-toxcore's from ours), and
//! the friend going offline when the c-toxcore peer quits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::broadcast;
use toxide::StackEvent;
use toxide::messenger::messenger::Event;
use toxide::messenger::packet::MessageKind;
use toxide_interop::Event as PeerEvent;
use toxide_onion::ClientEvent;

use common::inprocess::{runtime, spawn_peer, start_client, start_nodes};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(90);
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Waits (bounded) for the next messenger event `want` takes a value from.
fn wait_messenger<T>(
    rt: &Runtime,
    events: &mut broadcast::Receiver<StackEvent>,
    timeout: Duration,
    mut want: impl FnMut(&Event) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    rt.block_on(async {
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Ok(StackEvent::Messenger(event))) => {
                    if let Some(value) = want(&event) {
                        return Some(value);
                    }
                }
                Ok(Ok(_)) => {}
            }
        }
    })
}

#[test]
fn toxide_and_ctoxcore_chat_with_names_and_read_receipts() {
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let (client, mut events) = start_client(&rt, &nodes[0]);
    rt.block_on(client.set_name(b"toxide".to_vec()))
        .unwrap()
        .unwrap();
    let our_id = client.tox_id().unwrap();

    let mut peer = spawn_peer("chat-peer", &nodes[1], None);
    peer.send_command("set-name c-toxcore peer").unwrap();
    let peer_pk = *peer.public_key();
    let friend_in_c = peer.add_friend(&our_id, "let us chat").unwrap();

    // The request arrives over the onion; accepting makes them friend 0.
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let request = rt.block_on(async {
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(StackEvent::Onion(ClientEvent::FriendRequest {
                    public_key,
                    message,
                }))) => return Some((public_key, message)),
                Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
                _ => return None,
            }
        }
    });
    let (from, message) = request.expect("no friend request from c-toxcore");
    assert_eq!((from, message.as_slice()), (peer_pk, &b"let us chat"[..]));
    rt.block_on(client.add_friend(peer_pk)).unwrap().unwrap();
    let friend = rt.block_on(client.friend_number(peer_pk)).unwrap().unwrap();
    assert_eq!(friend, 0, "the first friend gets number 0, as in c-toxcore");

    // Each side reports the other online: ONLINE crossed both ways.
    let online = wait_messenger(&rt, &mut events, CONNECT_TIMEOUT, |e| {
        matches!(
            e,
            Event::ConnectionStatus {
                friend: 0,
                online: true
            }
        )
        .then_some(())
    });
    assert!(
        online.is_some(),
        "c-toxcore never came online to us: {:#?}",
        rt.block_on(client.stats()).unwrap()
    );
    peer.wait_friend_online(friend_in_c, EVENT_TIMEOUT).unwrap();

    // Names are pushed on connecting.
    let name = wait_messenger(&rt, &mut events, EVENT_TIMEOUT, |e| match e {
        Event::Name { friend: 0, name } if !name.is_empty() => Some(name.clone()),
        _ => None,
    });
    assert_eq!(name.as_deref(), Some(&b"c-toxcore peer"[..]));
    peer.wait_event(
        |e| matches!(e, PeerEvent::FriendName { name, .. } if name == "toxide"),
        EVENT_TIMEOUT,
    )
    .unwrap();

    // c-toxcore → toxide: a message and an action, and our
    // acknowledgement gives c-toxcore its read receipt.
    let reply = peer
        .send_command(&format!("send {friend_in_c} hello from c-toxcore"))
        .unwrap();
    let c_message_id: u32 = reply.split_whitespace().last().unwrap().parse().unwrap();
    let got = wait_messenger(&rt, &mut events, EVENT_TIMEOUT, |e| match e {
        Event::Message {
            friend: 0,
            kind,
            text,
        } => Some((*kind, text.clone())),
        _ => None,
    });
    assert_eq!(
        got,
        Some((MessageKind::Normal, b"hello from c-toxcore".to_vec()))
    );
    peer.wait_event(
        |e| matches!(e, PeerEvent::Receipt { message_id, .. } if *message_id == c_message_id),
        EVENT_TIMEOUT,
    )
    .unwrap();
    peer.send_command(&format!("send-action {friend_in_c} waves"))
        .unwrap();
    let got = wait_messenger(&rt, &mut events, EVENT_TIMEOUT, |e| match e {
        Event::Message {
            friend: 0,
            kind,
            text,
        } => Some((*kind, text.clone())),
        _ => None,
    });
    assert_eq!(got, Some((MessageKind::Action, b"waves".to_vec())));

    // toxide → c-toxcore: messages in order, and read receipts for each.
    let texts = ["hello from toxide", "second", "ünïcödé ✓"];
    let mut ids = Vec::new();
    for text in texts {
        let id = rt
            .block_on(client.send_message(friend, MessageKind::Normal, text.as_bytes().to_vec()))
            .unwrap()
            .unwrap();
        ids.push(id);
    }
    assert_eq!(ids, [0, 1, 2]);
    for text in texts {
        let (f, got) = peer.wait_message(EVENT_TIMEOUT).unwrap();
        assert_eq!((f, got.as_str()), (friend_in_c, text));
    }
    let mut receipts = Vec::new();
    while receipts.len() < ids.len() {
        let id = wait_messenger(&rt, &mut events, EVENT_TIMEOUT, |e| match e {
            Event::ReadReceipt {
                friend: 0,
                message_id,
            } => Some(*message_id),
            _ => None,
        });
        receipts.push(id.expect("a read receipt from c-toxcore's acknowledgement"));
    }
    assert_eq!(receipts, ids);

    // A name change reaches an online friend at once.
    rt.block_on(client.set_name(b"toxide, renamed".to_vec()))
        .unwrap()
        .unwrap();
    peer.wait_event(
        |e| matches!(e, PeerEvent::FriendName { name, .. } if name == "toxide, renamed"),
        EVENT_TIMEOUT,
    )
    .unwrap();

    // The peer quits: its kill packet takes it offline for us.
    peer.quit().unwrap();
    let offline = wait_messenger(&rt, &mut events, EVENT_TIMEOUT, |e| {
        matches!(
            e,
            Event::ConnectionStatus {
                friend: 0,
                online: false
            }
        )
        .then_some(())
    });
    assert!(offline.is_some(), "c-toxcore's quit never took it offline");
    rt.block_on(client.shutdown());
    for node in nodes {
        rt.block_on(node.shutdown());
    }
}
