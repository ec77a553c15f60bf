use super::*;
use toxide_core::KeyPair;

/// A fake of friend sessions: records what was sent, numbers lossless
/// packets per friend from 0.
#[derive(Default)]
struct Wire {
    sent: Vec<(PublicKey, Vec<u8>)>,
    lossy: Vec<(PublicKey, Vec<u8>)>,
    killed: Vec<PublicKey>,
    bulk: Vec<(PublicKey, Vec<u8>)>,
    next: HashMap<PublicKey, u32>,
    full: bool,
}

impl Sessions for Wire {
    fn send_lossless(&mut self, friend: &PublicKey, data: Bytes) -> Option<u32> {
        if self.full {
            return None;
        }
        self.sent.push((*friend, data.to_vec()));
        let next = self.next.entry(*friend).or_default();
        let number = *next;
        *next = next.wrapping_add(1);
        Some(number)
    }
    fn send_lossy(&mut self, friend: &PublicKey, data: Bytes) -> bool {
        self.lossy.push((*friend, data.to_vec()));
        true
    }
    fn kill(&mut self, friend: &PublicKey) {
        self.killed.push(*friend);
    }
    fn send_bulk(&mut self, friend: &PublicKey, data: Bytes) -> bool {
        self.bulk.push((*friend, data.to_vec()));
        true
    }
    fn bulk_space(&self, _: &PublicKey) -> usize {
        8
    }
    fn bulk_progress(&self, _: &PublicKey) -> Option<BulkProgress> {
        Some(BulkProgress {
            waiting: 0,
            next_number: 0,
        })
    }
}

impl Wire {
    fn ids(&self) -> Vec<u8> {
        self.sent
            .iter()
            .filter_map(|(_, d)| d.first().copied())
            .collect()
    }
}

fn key(seed: u8) -> PublicKey {
    use rand::SeedableRng;
    KeyPair::generate(&mut rand_chacha::ChaCha20Rng::from_seed([seed; 32])).public
}

fn events(m: &mut Messenger) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

/// A messenger with friend 0 online.
fn online() -> (Messenger, Wire, PublicKey) {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    let friend = key(1);
    assert_eq!(m.add_friend(friend), Ok(0));
    m.session_up(&friend, &mut wire);
    m.handle_packet(&friend, &[24], &mut wire);
    (m, wire, friend)
}

#[test]
fn numbers_are_the_lowest_free_and_keys_unique() {
    let mut m = Messenger::new();
    assert_eq!(m.add_friend(key(1)), Ok(0));
    assert_eq!(m.add_friend(key(2)), Ok(1));
    assert_eq!(m.add_friend(key(3)), Ok(2));
    assert_eq!(m.add_friend(key(2)), Err(MessengerError::AlreadyFriend(1)));
    assert_eq!(m.remove_friend(1), Ok(key(2)));
    assert_eq!(m.remove_friend(1), Err(MessengerError::NoFriend(1)));
    assert_eq!(m.add_friend(key(4)), Ok(1));
    assert_eq!(m.friend_numbers().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(m.friend_number(&key(4)), Some(1));
    assert_eq!(m.friend_key(2), Some(key(3)));
}

#[test]
fn online_gate_then_state_push_both_ways() {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    let friend = key(1);
    m.add_friend(friend).unwrap();
    m.set_name(b"me".to_vec(), &mut wire).unwrap();
    m.set_status_message(b"here".to_vec(), &mut wire).unwrap();
    assert!(wire.sent.is_empty(), "nobody online to tell");
    m.session_up(&friend, &mut wire);
    assert_eq!(wire.ids(), [24], "ONLINE first");
    // Before the friend's ONLINE its other packets are dropped.
    m.handle_packet(&friend, &[64, b'h', b'i'], &mut wire);
    assert!(events(&mut m).is_empty());
    assert_eq!(m.stats().dropped_before_online, 1);
    m.handle_packet(&friend, &[24], &mut wire);
    assert_eq!(
        events(&mut m),
        [Event::ConnectionStatus {
            friend: 0,
            online: true
        }]
    );
    assert!(m.is_online(0));
    // Our name, status message and status follow.
    assert_eq!(wire.ids(), [24, 48, 49, 50]);
    assert_eq!(wire.sent[1].1, b"\x30me");
    // A second ONLINE changes nothing.
    m.handle_packet(&friend, &[24], &mut wire);
    assert!(events(&mut m).is_empty());
    assert_eq!(wire.ids().len(), 4);
}

#[test]
fn friends_state_and_messages_become_events() {
    let (mut m, mut wire, friend) = online();
    events(&mut m);
    m.handle_packet(&friend, b"\x30Bob", &mut wire);
    m.handle_packet(&friend, b"\x31busy day", &mut wire);
    m.handle_packet(&friend, &[50, 2], &mut wire);
    m.handle_packet(&friend, &[51, 1], &mut wire);
    m.handle_packet(&friend, b"\x40hello", &mut wire);
    m.handle_packet(&friend, b"\x41waves", &mut wire);
    m.handle_packet(&friend, &[160, 1, 2], &mut wire);
    m.handle_packet(&friend, &[200, 3], &mut wire);
    m.handle_packet(&friend, &[192, 3], &mut wire); // AV: not the client's
    m.handle_packet(&friend, &[64], &mut wire); // empty message: malformed
    assert_eq!(
        events(&mut m),
        [
            Event::Name {
                friend: 0,
                name: b"Bob".to_vec()
            },
            Event::StatusMessage {
                friend: 0,
                text: b"busy day".to_vec()
            },
            Event::UserStatus {
                friend: 0,
                status: UserStatus::Busy
            },
            Event::Typing {
                friend: 0,
                typing: true
            },
            Event::Message {
                friend: 0,
                kind: MessageKind::Normal,
                text: b"hello".to_vec()
            },
            Event::Message {
                friend: 0,
                kind: MessageKind::Action,
                text: b"waves".to_vec()
            },
            Event::CustomLossless {
                friend: 0,
                data: vec![160, 1, 2]
            },
            Event::CustomLossy {
                friend: 0,
                data: vec![200, 3]
            },
        ]
    );
    assert_eq!(m.friend_name(0), Some(&b"Bob"[..]));
    assert_eq!(m.friend_status(0), Some(UserStatus::Busy));
    assert_eq!(m.stats().dropped_malformed, 1);
    assert_eq!(m.stats().unhandled, 1);
    // Going offline stops the typing and says so.
    m.session_down(&friend);
    assert_eq!(
        events(&mut m),
        [
            Event::Typing {
                friend: 0,
                typing: false
            },
            Event::ConnectionStatus {
                friend: 0,
                online: false
            },
        ]
    );
}

#[test]
fn receipts_follow_the_acknowledgement_and_die_with_the_session() {
    let (mut m, mut wire, friend) = online();
    events(&mut m);
    // ONLINE and the three state packets took numbers 0–3.
    let a = m
        .send_message(0, MessageKind::Normal, b"a".to_vec(), &mut wire)
        .unwrap();
    let b = m
        .send_message(0, MessageKind::Action, b"b".to_vec(), &mut wire)
        .unwrap();
    let c = m
        .send_message(0, MessageKind::Normal, b"c".to_vec(), &mut wire)
        .unwrap();
    assert_eq!((a, b, c), (0, 1, 2));
    assert_eq!(wire.sent.last().unwrap().1, b"\x40c");
    m.acked(&friend, 5, &mut wire); // packets 0–4: messages a (4) only
    assert_eq!(
        events(&mut m),
        [Event::ReadReceipt {
            friend: 0,
            message_id: 0
        }]
    );
    m.acked(&friend, 7, &mut wire);
    assert_eq!(
        events(&mut m),
        [
            Event::ReadReceipt {
                friend: 0,
                message_id: 1
            },
            Event::ReadReceipt {
                friend: 0,
                message_id: 2
            },
        ]
    );
    let d = m
        .send_message(0, MessageKind::Normal, b"d".to_vec(), &mut wire)
        .unwrap();
    assert_eq!(d, 3);
    m.session_down(&friend);
    m.acked(&friend, 100, &mut wire);
    assert_eq!(
        events(&mut m),
        [Event::ConnectionStatus {
            friend: 0,
            online: false
        }],
        "no receipt after the session died"
    );
    assert_eq!(
        m.send_message(0, MessageKind::Normal, b"e".to_vec(), &mut wire),
        Err(MessengerError::NotOnline(0))
    );
}

#[test]
fn receipts_survive_packet_number_wrap() {
    let (mut m, mut wire, friend) = online();
    events(&mut m);
    wire.next.insert(friend, u32::MAX - 1);
    let a = m
        .send_message(0, MessageKind::Normal, b"a".to_vec(), &mut wire)
        .unwrap();
    let b = m
        .send_message(0, MessageKind::Normal, b"b".to_vec(), &mut wire)
        .unwrap();
    let c = m
        .send_message(0, MessageKind::Normal, b"c".to_vec(), &mut wire)
        .unwrap();
    m.acked(&friend, u32::MAX, &mut wire); // only packet MAX-1
    m.acked(&friend, 1, &mut wire); // MAX and 0
    assert_eq!(
        events(&mut m),
        [a, b, c].map(|message_id| Event::ReadReceipt {
            friend: 0,
            message_id
        })
    );
}

#[test]
fn limits_and_failures_are_errors() {
    let (mut m, mut wire, _) = online();
    let too_long = vec![b'x'; 1373];
    assert!(matches!(
        m.send_message(0, MessageKind::Normal, too_long, &mut wire),
        Err(MessengerError::Packet(PacketError::Unsendable { .. }))
    ));
    assert!(
        m.send_message(0, MessageKind::Normal, vec![], &mut wire)
            .is_err()
    );
    assert!(m.set_name(vec![b'n'; 129], &mut wire).is_err());
    assert!(m.send_custom_lossless(0, &[24, 1], &mut wire).is_err());
    assert!(m.send_custom_lossy(0, &[160, 1], &mut wire).is_err());
    assert_eq!(
        m.send_message(7, MessageKind::Normal, b"x".to_vec(), &mut wire),
        Err(MessengerError::NoFriend(7))
    );
    wire.full = true;
    assert_eq!(
        m.send_message(0, MessageKind::Normal, b"x".to_vec(), &mut wire),
        Err(MessengerError::SendFailed(0))
    );
    wire.full = false;
    m.send_custom_lossy(0, &[201, 9], &mut wire).unwrap();
    assert_eq!(wire.lossy.last().unwrap().1, [201, 9]);
}

#[test]
fn typing_is_pushed_on_connect_and_sent_when_online() {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    let friend = key(1);
    m.add_friend(friend).unwrap();
    m.set_typing(0, true, &mut wire).unwrap();
    assert!(wire.sent.is_empty());
    m.session_up(&friend, &mut wire);
    m.handle_packet(&friend, &[24], &mut wire);
    assert_eq!(wire.ids(), [24, 48, 49, 50, 51]);
    m.set_typing(0, false, &mut wire).unwrap();
    assert_eq!(wire.sent.last().unwrap().1, [51, 0]);
}

#[test]
fn garbage_never_panics() {
    use proptest::prelude::*;
    proptest!(|(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..32))| {
        let (mut m, mut wire, friend) = online();
        for p in &packets {
            m.handle_packet(&friend, p, &mut wire);
            m.acked(&friend, u32::from(p.first().copied().unwrap_or(0)), &mut wire);
        }
        let _ = events(&mut m);
    });
}

#[test]
fn records_restore_and_a_request_is_confirmed_by_online() {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    let record = FriendRecord {
        name: b"Ann".to_vec(),
        status_message: b"away for lunch".to_vec(),
        status: UserStatus::Away,
        last_seen: 1_700_000_000,
        request: Some(SentRequest {
            nospam: NoSpam([1, 2, 3, 4]),
            message: b"hi, it's me".to_vec(),
        }),
    };
    assert_eq!(m.restore_friend(key(1), record.clone()), Ok(0));
    assert_eq!(m.friend_record(0).as_ref(), Some(&record));
    assert_eq!(m.friend_name(0), Some(&b"Ann"[..]));
    m.restore_profile(b"me".to_vec(), b"hello".to_vec(), UserStatus::Busy)
        .unwrap();
    assert!(
        m.restore_profile(vec![0; 129], vec![], UserStatus::None)
            .is_err()
    );
    assert_eq!(m.name(), b"me");
    m.session_up(&key(1), &mut wire);
    m.handle_packet(&key(1), &[24], &mut wire);
    assert_eq!(m.friend_record(0).unwrap().request, None, "confirmed");
    m.set_last_seen(0, 5);
    assert_eq!(m.friend_record(0).unwrap().last_seen, 5);
}

/// Packet 18 quoting `nospam` with `message`.
fn request(nospam: [u8; 4], message: &[u8]) -> Vec<u8> {
    let mut packet = vec![18];
    packet.extend_from_slice(&nospam);
    packet.extend_from_slice(message);
    packet
}

#[test]
fn a_request_over_a_session_with_our_nospam_is_delivered_once() {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    m.set_nospam(NoSpam([1, 2, 3, 4]));
    assert_eq!(m.nospam(), NoSpam([1, 2, 3, 4]));
    let stranger = key(7);
    m.handle_packet(&stranger, &request([1, 2, 3, 4], b"hi, add me"), &mut wire);
    assert_eq!(
        events(&mut m),
        [Event::FriendRequest {
            public_key: stranger,
            message: b"hi, add me".to_vec()
        }]
    );
    // The same sender again, even with another message: dropped.
    m.handle_packet(&stranger, &request([1, 2, 3, 4], b"again"), &mut wire);
    assert!(events(&mut m).is_empty());
    assert_eq!(m.stats().dropped_repeated_request, 1);
    assert!(wire.sent.is_empty(), "nothing is answered");
}

#[test]
fn a_request_with_a_wrong_nospam_is_dropped_and_counted() {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    m.set_nospam(NoSpam([1, 2, 3, 4]));
    let stranger = key(7);
    m.handle_packet(&stranger, &request([1, 2, 3, 5], b"hi"), &mut wire);
    assert!(events(&mut m).is_empty());
    assert_eq!(m.stats().dropped_wrong_nospam, 1);
    // A wrong nospam is not remembered: the right one still gets through,
    // and after a nospam change only the new one does.
    m.set_nospam(NoSpam([9; 4]));
    m.handle_packet(&stranger, &request([1, 2, 3, 4], b"hi"), &mut wire);
    assert_eq!(m.stats().dropped_wrong_nospam, 2);
    m.handle_packet(&stranger, &request([9; 4], b"hi"), &mut wire);
    assert_eq!(events(&mut m).len(), 1);
}

#[test]
fn a_request_from_a_friend_is_dropped_until_removed() {
    let (mut m, mut wire, friend) = online();
    events(&mut m);
    let nospam = [4, 3, 2, 1];
    m.set_nospam(NoSpam(nospam));
    m.handle_packet(&friend, &request(nospam, b"be my friend"), &mut wire);
    assert!(events(&mut m).is_empty());
    assert_eq!(m.stats().dropped_request_from_friend, 1);
    assert_eq!(m.stats().unhandled, 0);
    // Before its ONLINE too: requests are not behind the gate.
    let other = key(2);
    m.add_friend(other).unwrap();
    m.session_up(&other, &mut wire);
    m.handle_packet(&other, &request(nospam, b"x"), &mut wire);
    assert_eq!(m.stats().dropped_request_from_friend, 2);
    assert_eq!(m.stats().dropped_before_online, 0);
    // A removed friend may ask again.
    m.remove_friend(0).unwrap();
    m.handle_packet(&friend, &request(nospam, b"back?"), &mut wire);
    assert_eq!(
        events(&mut m),
        [Event::FriendRequest {
            public_key: friend,
            message: b"back?".to_vec()
        }]
    );
}

#[test]
fn malformed_requests_are_counted_and_other_strangers_packets_ignored() {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    let stranger = key(7);
    m.handle_packet(&stranger, &[18, 0, 0, 0, 0], &mut wire); // no message
    let mut long = request([0; 4], &[b'x'; 1017]);
    m.handle_packet(&stranger, &long, &mut wire);
    assert_eq!(m.stats().dropped_malformed, 2);
    long.pop();
    m.handle_packet(&stranger, &long, &mut wire); // 1016: the limit
    assert_eq!(events(&mut m).len(), 1);
    m.handle_packet(&key(8), b"\x40hello", &mut wire);
    assert!(events(&mut m).is_empty());
    assert_eq!(m.stats().dropped_malformed, 2);
}

#[test]
fn the_last_32_senders_are_remembered() {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    for seed in 0..=MAX_RECEIVED_STORED as u8 {
        m.handle_packet(&key(100 + seed), &request([0; 4], b"hi"), &mut wire);
    }
    assert_eq!(events(&mut m).len(), MAX_RECEIVED_STORED + 1);
    // The first sender was pushed out; the second is still remembered.
    m.handle_packet(&key(101), &request([0; 4], b"hi"), &mut wire);
    m.handle_packet(&key(100), &request([0; 4], b"hi"), &mut wire);
    assert_eq!(
        events(&mut m),
        [Event::FriendRequest {
            public_key: key(100),
            message: b"hi".to_vec()
        }]
    );
    assert_eq!(m.stats().dropped_repeated_request, 1);
}

#[test]
fn our_unconfirmed_request_goes_over_a_session_that_comes_up() {
    let mut m = Messenger::new();
    let mut wire = Wire::default();
    let friend = key(1);
    m.add_friend(friend).unwrap();
    let sent = SentRequest {
        nospam: NoSpam([5, 6, 7, 8]),
        message: b"it's me".to_vec(),
    };
    m.set_sent_request(0, sent).unwrap();
    m.session_up(&friend, &mut wire);
    assert_eq!(wire.ids(), [24, 18]);
    assert_eq!(wire.sent[1].1, request([5, 6, 7, 8], b"it's me"));
    // ONLINE confirms it: the next session carries no request.
    m.handle_packet(&friend, &[24], &mut wire);
    assert_eq!(m.friend_record(0).unwrap().request, None);
    m.session_down(&friend);
    wire.sent.clear();
    m.session_up(&friend, &mut wire);
    assert_eq!(wire.ids(), [24]);
}

#[test]
fn a_request_round_trips_from_one_messenger_to_another() {
    use proptest::prelude::*;
    proptest!(|(nospam in any::<[u8; 4]>(), message in proptest::collection::vec(any::<u8>(), 1..=1016))| {
        let (alice, bob) = (key(1), key(2));
        let mut sender = Messenger::new();
        let mut wire = Wire::default();
        sender.add_friend(bob).unwrap();
        sender
            .set_sent_request(0, SentRequest { nospam: NoSpam(nospam), message: message.clone() })
            .unwrap();
        sender.session_up(&bob, &mut wire);
        let mut receiver = Messenger::new();
        receiver.set_nospam(NoSpam(nospam));
        for (_, packet) in &wire.sent {
            receiver.handle_packet(&alice, packet, &mut Wire::default());
        }
        prop_assert_eq!(
            events(&mut receiver),
            vec![Event::FriendRequest { public_key: alice, message }]
        );
    });
}
