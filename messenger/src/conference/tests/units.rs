//! One concept at a time: the duplicate windows, the closest set, the
//! connection slots.

use toxide_core::PublicKey;

use crate::conference::closest::{Change, Closest};
use crate::conference::connections::{Connections, LinkState, MAX_GROUP_CONNECTIONS, Reasons};
use crate::conference::dedup::{LossyWindow, MessageWindow};
use crate::conference::{GROUP_MESSAGE_NAME_ID, GROUP_MESSAGE_PING_ID, GroupNumber};
use crate::packet::PACKET_ID_MESSAGE;

/// A key whose first byte is `head` (the closest set looks at the first
/// eight).
fn key(head: u8) -> PublicKey {
    let mut bytes = [0; 32];
    bytes[0] = head;
    PublicKey::new(bytes)
}

#[test]
fn message_window_takes_each_number_once() {
    let mut w = MessageWindow::default();
    for n in 1..=20 {
        assert!(w.check(n, PACKET_ID_MESSAGE), "{n} is new");
        assert!(!w.check(n, PACKET_ID_MESSAGE), "{n} again is a duplicate");
    }
    assert_eq!(w.numbers(), (13..=20).rev().collect::<Vec<_>>());
    // Lower than all eight kept: taken as seen long ago.
    assert!(!w.check(12, PACKET_ID_MESSAGE));
    // Inside the window and unseen: a message that took a slower path.
    let mut w = MessageWindow::default();
    for n in [1, 2, 3, 5, 6, 7, 8, 9] {
        assert!(w.check(n, PACKET_ID_MESSAGE));
    }
    assert!(w.check(4, PACKET_ID_MESSAGE));
    assert!(!w.check(4, PACKET_ID_MESSAGE));
    assert_eq!(w.numbers(), vec![9, 8, 7, 6, 5, 4, 3, 2]);
}

#[test]
fn message_window_takes_old_numbers_while_not_full() {
    // A peer met late may relay the author's older messages: while fewer
    // than eight are kept, any unseen number counts.
    let mut w = MessageWindow::default();
    assert!(w.check(100, GROUP_MESSAGE_PING_ID));
    assert!(w.check(3, PACKET_ID_MESSAGE));
    assert_eq!(w.numbers(), vec![100, 3]);
}

#[test]
fn message_window_drops_stale_names() {
    let mut w = MessageWindow::default();
    assert!(w.check(5, GROUP_MESSAGE_NAME_ID));
    // An older name is stale even though its number is unseen...
    assert!(!w.check(4, GROUP_MESSAGE_NAME_ID));
    // ...but an older chat message is not.
    assert!(w.check(4, PACKET_ID_MESSAGE));
    assert!(w.check(6, GROUP_MESSAGE_NAME_ID));
}

#[test]
fn message_window_wraps() {
    let mut w = MessageWindow::default();
    for n in [u32::MAX - 2, u32::MAX - 1, u32::MAX, 1, 2] {
        assert!(w.check(n, PACKET_ID_MESSAGE), "{n}");
    }
    assert_eq!(
        w.numbers(),
        vec![2, 1, u32::MAX, u32::MAX - 1, u32::MAX - 2]
    );
    assert!(!w.check(u32::MAX, PACKET_ID_MESSAGE));
}

#[test]
fn lossy_window_of_256() {
    let mut w = LossyWindow::default();
    assert!(w.check(1000));
    assert!(!w.check(1000));
    // Behind, inside the 256: new once.
    assert!(w.check(800));
    assert!(!w.check(800));
    // Ahead: the window moves, keeping what is still inside it.
    assert!(w.check(1100));
    assert!(!w.check(1000));
    assert!(!w.check(1100));
    // 800 fell out of the bottom (845..=1100 now) and is dropped as old.
    assert!(!w.check(800));
    assert!(w.check(900));
    // Far ahead: everything forgotten.
    assert!(w.check(5000));
    assert!(w.check(4990));
    assert!(!w.check(4990));
    // More than 2^15 past the bottom counts as behind: dropped.
    assert!(!w.check(5000u16.wrapping_sub(300)));
    // The bitmap is shared by numbers 256 apart: moving up clears the bits
    // of those that left.
    let mut w = LossyWindow::default();
    assert!(w.check(10));
    assert!(w.check(12));
    assert!(w.check(266));
    assert!(w.check(268));
    assert!(!w.check(268));
}

#[test]
fn lossy_window_wraps() {
    let mut w = LossyWindow::default();
    assert!(w.check(65530));
    for n in [65531, 65535, 0, 1, 200] {
        assert!(w.check(n), "{n}");
        assert!(!w.check(n), "{n} twice");
    }
}

#[test]
fn closest_keeps_two_on_each_side() {
    let own = key(0x80);
    let mut c = Closest::default();
    assert!(!c.add(&own, own, own), "never ourselves");
    for head in [0x70, 0x60, 0x90, 0xa0] {
        assert!(c.add(&own, key(head), key(head)));
    }
    assert!(c.add(&own, key(0x70), key(0x70)), "already in");
    c.changed = Change::None;
    // Closer below: replaces the farther one below, which cannot go above.
    assert!(c.add(&own, key(0x7f), key(0x7f)));
    let mut heads: Vec<u8> = c.peers().map(|p| p.real_pk.as_bytes()[0]).collect();
    heads.sort_unstable();
    assert_eq!(heads, vec![0x70, 0x7f, 0x90, 0xa0]);
    assert_eq!(c.changed, Change::Added);
    // Farther than both on its side: not taken.
    assert!(!c.add(&own, key(0x20), key(0x20)));
    c.remove(&key(0x90));
    assert_eq!(c.changed, Change::Removed);
    assert!(!c.contains(&key(0x90)));
    assert_eq!(c.peers().count(), 3);
}

#[test]
fn closest_fills_empty_slots_from_either_side() {
    // c-toxcore's quirk, kept so that every member picks the same ring:
    // free slots take any peer; a peer from the other side then takes
    // the slot of the farthest one there.
    let own = key(0x80);
    let mut c = Closest::default();
    for head in [0x70, 0x60, 0x50, 0x40] {
        assert!(c.add(&own, key(head), key(head)));
    }
    assert!(c.add(&own, key(0x90), key(0x90)));
    let mut heads: Vec<u8> = c.peers().map(|p| p.real_pk.as_bytes()[0]).collect();
    heads.sort_unstable();
    assert_eq!(heads, vec![0x40, 0x60, 0x70, 0x90]);
}

#[test]
fn connections_take_the_last_free_slot_and_count_reasons() {
    let mut c = Connections::default();
    let a = c.add(key(1), None, Reasons::CLOSEST).unwrap();
    assert_eq!(a, MAX_GROUP_CONNECTIONS - 1);
    assert_eq!(c.add(key(1), Some(key(9)), Reasons::INTRODUCER), Some(a));
    assert_eq!(c.get(a).unwrap().dht_pk, Some(key(9)));
    assert_eq!(c.count_introducers(), 1);
    // Not online: losing the introducer reason says nothing.
    assert_eq!(c.remove_reason(a, Reasons::INTRODUCER), None);
    assert!(c.get(a).is_some(), "still closest");
    c.get_mut(a).unwrap().state = LinkState::Online;
    c.add(key(1), None, Reasons::INTRODUCER);
    c.get_mut(a).unwrap().group_number = GroupNumber(7);
    let introduced = c.remove_reason(a, Reasons::INTRODUCER).unwrap();
    assert_eq!(
        (introduced.to, introduced.group_number),
        (key(1), GroupNumber(7))
    );
    assert_eq!(c.remove_reason(a, Reasons::CLOSEST), None);
    assert!(c.get(a).is_none(), "no reason left");
}

#[test]
fn cleaning_keeps_two_slots_free() {
    let mut c = Connections::default();
    for i in 0..MAX_GROUP_CONNECTIONS {
        let head = u8::try_from(i).unwrap() + 1;
        let reason = if i < 4 {
            Reasons::CLOSEST
        } else {
            Reasons::INTRODUCING
        };
        let slot = c.add(key(head), None, reason).unwrap();
        // Odd keys online, even ones connecting.
        if head % 2 == 1 {
            c.get_mut(slot).unwrap().state = LinkState::Online;
        }
    }
    assert_eq!(c.add(key(100), None, Reasons::CLOSEST), None, "full");
    assert_eq!(c.to_clear(), 2);
    c.clean();
    assert_eq!(c.to_clear(), 0);
    let left: Vec<u8> = c.iter().map(|(_, x)| x.real_pk.as_bytes()[0]).collect();
    assert_eq!(left.len(), MAX_GROUP_CONNECTIONS - 2);
    // Packed to the front; the closest ones all stayed; two connecting
    // non-closest ones went first.
    assert!(c.iter().all(|(slot, _)| slot < MAX_GROUP_CONNECTIONS - 2));
    for head in 1..=4 {
        assert!(left.contains(&head), "closest {head} kept");
    }
    let connecting_left = left.iter().filter(|h| **h > 4 && **h % 2 == 0).count();
    assert_eq!(connecting_left, 4, "two of the six connecting ones went");
}
