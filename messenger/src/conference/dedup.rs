//! Duplicate detection: which of a peer's messages we have seen.
//!
//! Every message is flooded along all group connections, so each arrives
//! several times; these windows let the first copy through and stop the
//! rest (spec "Group": message and lossy message packets; c-toxcore
//! `check_message_info`, `find_message_slot_or_reject` and
//! `lossy_packet_not_received` in `group.c`). Both are fixed-size, so a
//! peer cannot make us remember more by sending more.

use super::message::{GROUP_MESSAGE_NAME_ID, GROUP_MESSAGE_TITLE_ID};

/// How many message numbers are kept per peer
/// (`MAX_LAST_MESSAGE_INFOS`).
pub(super) const MAX_LAST_MESSAGE_INFOS: usize = 8;

/// How many lossy message numbers back are remembered per peer
/// (`MAX_LOSSY_COUNT`).
pub(super) const MAX_LOSSY_COUNT: u16 = 256;

/// One remembered message: its number and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MessageInfo {
    number: u32,
    id: u8,
}

/// The 8 highest message numbers seen from one peer, highest first
/// (c-toxcore `last_message_infos`).
///
/// A number is new unless it is one of them, or lower than all eight of
/// them (then it is taken as seen long ago). Numbers compare modulo 2³²
/// (a number up to 2³¹ ahead counts as higher), so the counter may wrap.
/// A name or title message is also refused when a higher-numbered message
/// of the same id was seen: it is stale.
///
/// While fewer than eight are kept, any unseen number is new, even a low
/// one: a peer we just met may relay its older messages to us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct MessageWindow {
    infos: Vec<MessageInfo>,
}

impl MessageWindow {
    /// Whether message `number` with message id `id` is new; remembers it
    /// if so (`check_message_info`).
    pub(super) fn check(&mut self, number: u32, id: u8) -> bool {
        let ignore_older = id == GROUP_MESSAGE_NAME_ID || id == GROUP_MESSAGE_TITLE_ID;
        let mut slot = self.infos.len();
        for (i, info) in self.infos.iter().enumerate() {
            // `number` is above `info.number` (modulo 2^32).
            if number.wrapping_sub(info.number.wrapping_add(1)) <= 1 << 31 {
                slot = i;
                break;
            }
            if number == info.number || (ignore_older && id == info.id) {
                return false;
            }
        }
        if slot >= MAX_LAST_MESSAGE_INFOS {
            return false;
        }
        self.infos.insert(slot, MessageInfo { number, id });
        self.infos.truncate(MAX_LAST_MESSAGE_INFOS);
        true
    }

    /// The remembered numbers, highest first.
    #[cfg(test)]
    pub(super) fn numbers(&self) -> Vec<u32> {
        self.infos.iter().map(|i| i.number).collect()
    }
}

/// The last [`MAX_LOSSY_COUNT`] lossy message numbers of one peer, as a
/// bitmap over `bottom..=top` (c-toxcore `recv_lossy`,
/// `bottom_lossy_number`, `top_lossy_number`).
///
/// A number inside the window is new unless its bit is set; one ahead of
/// it (by less than 2¹⁵) moves the window up to end there; one further
/// behind is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LossyWindow {
    received: [u64; 4],
    bottom: u16,
    top: u16,
}

impl LossyWindow {
    fn bit(number: u16) -> (usize, u64) {
        let slot = usize::from(number % MAX_LOSSY_COUNT);
        (slot / 64, 1 << (slot % 64))
    }

    fn is_set(&self, number: u16) -> bool {
        let (word, mask) = Self::bit(number);
        self.received.get(word).is_some_and(|w| w & mask != 0)
    }

    fn set(&mut self, number: u16, on: bool) {
        let (word, mask) = Self::bit(number);
        if let Some(w) = self.received.get_mut(word) {
            if on {
                *w |= mask;
            } else {
                *w &= !mask;
            }
        }
    }

    fn restart_at(&mut self, number: u16) {
        self.top = number;
        self.bottom = number.wrapping_sub(MAX_LOSSY_COUNT).wrapping_add(1);
        self.set(number, true);
    }

    /// Whether lossy message `number` is new; remembers it if so
    /// (`lossy_packet_not_received` returning 0).
    pub(super) fn check(&mut self, number: u16) -> bool {
        // c-toxcore's empty state: bottom == top (both 0 at first).
        if self.bottom == self.top {
            self.restart_at(number);
            return true;
        }
        if number.wrapping_sub(self.bottom) < MAX_LOSSY_COUNT {
            if self.is_set(number) {
                return false;
            }
            self.set(number, true);
            return true;
        }
        if number.wrapping_sub(self.bottom) > 1 << 15 {
            return false;
        }
        let top_distance = number.wrapping_sub(self.top);
        if top_distance >= MAX_LOSSY_COUNT {
            self.received = [0; 4];
        } else {
            // The numbers that fall out at the bottom share their bits with
            // the ones coming in at the top.
            for i in 0..top_distance {
                self.set(self.bottom.wrapping_add(i), false);
            }
        }
        self.restart_at(number);
        true
    }
}
