//! The four peers each member connects to: two on each side of it on the
//! circle of public keys (checklist G10; spec "Group"; c-toxcore
//! `add_to_closest`, `calculate_comp_value`, `remove_from_closest` and
//! `pk_in_closest_peers` in `group.c`).
//!
//! Distance is the wrapping difference of the keys' first 8 bytes read
//! big-endian: slots 0 and 1 hold the peers with the smallest
//! `ours − theirs`, slots 2 and 3 the smallest `theirs − ours`. If every
//! member keeps these and connects to them, the members form a ring in
//! which messages reach everyone.
//!
//! This follows c-toxcore's procedure and its quirks, since the ring only
//! closes when every member picks the same neighbours: an empty slot takes
//! any peer regardless of side; a full set replaces the farthest peer
//! farther than the newcomer on the newcomer's side, where the second
//! side's search starts from the first side's best distance; and a peer
//! pushed out is offered again, so it may move to the other side.

use toxide_core::PublicKey;

/// How many closest peers each member connects to (`DESIRED_CLOSEST`).
pub(super) const DESIRED_CLOSEST: usize = 4;

/// `pk1 − pk2` over the first 8 bytes, big-endian, wrapping
/// (`calculate_comp_value`).
pub(super) fn comp_value(pk1: &PublicKey, pk2: &PublicKey) -> u64 {
    fn head(pk: &PublicKey) -> u64 {
        let mut bytes = [0; 8];
        for (slot, byte) in bytes.iter_mut().zip(pk.as_bytes()) {
            *slot = *byte;
        }
        u64::from_be_bytes(bytes)
    }
    head(pk1).wrapping_sub(head(pk2))
}

/// What changed in the set since the connections were last brought in
/// line (c-toxcore `Groupchat_Closest_Change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Change {
    /// Nothing.
    #[default]
    None,
    /// Peers were added.
    Added,
    /// A peer was removed: the set is rebuilt from the whole peer list.
    Removed,
}

/// One closest peer: its long-term and DHT keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClosestPeer {
    /// Long-term key.
    pub(super) real_pk: PublicKey,
    /// DHT key, to connect without an onion search.
    pub(super) temp_pk: PublicKey,
}

/// A conference's closest peers (c-toxcore `closest_peers`, `changed`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Closest {
    slots: [Option<ClosestPeer>; DESIRED_CLOSEST],
    /// Whether the connections need bringing in line.
    pub(super) changed: Change,
}

impl Closest {
    /// Offers a peer to the set (`add_to_closest`); whether it is in it
    /// now. `own` is our long-term key: we are never our own neighbour.
    pub(super) fn add(&mut self, own: &PublicKey, real_pk: PublicKey, temp_pk: PublicKey) -> bool {
        let mut offered = ClosestPeer { real_pk, temp_pk };
        let mut first = true;
        let mut added = false;
        // Each peer pushed out is offered again; every replacement puts a
        // strictly closer peer in its slot, so this ends. The bound only
        // guards against a mistake.
        for _ in 0..4 * DESIRED_CLOSEST {
            let Some(index) = self.slot_for(own, &offered.real_pk) else {
                break;
            };
            if first {
                added = true;
            }
            let old = self
                .slots
                .get_mut(index)
                .and_then(|slot| slot.replace(offered));
            if self.changed == Change::None {
                self.changed = Change::Added;
            }
            match old {
                Some(old) => offered = old,
                None => break,
            }
            first = false;
        }
        added || self.contains(&real_pk)
    }

    /// Where `real_pk` goes, if anywhere; `None` also when it is there
    /// already (c-toxcore then reports it as added, see [`Closest::add`]).
    fn slot_for(&self, own: &PublicKey, real_pk: &PublicKey) -> Option<usize> {
        if real_pk == own || self.contains(real_pk) {
            return None;
        }
        if let Some(empty) = self.slots.iter().position(Option::is_none) {
            return Some(empty);
        }
        let mut index = None;
        let mut comp_d = 0;
        let comp_val = comp_value(own, real_pk);
        for (i, slot) in self.slots.iter().enumerate().take(DESIRED_CLOSEST / 2) {
            if let Some(peer) = slot {
                let comp = comp_value(own, &peer.real_pk);
                if comp > comp_val && comp > comp_d {
                    index = Some(i);
                    comp_d = comp;
                }
            }
        }
        let comp_val = comp_value(real_pk, own);
        for (i, slot) in self.slots.iter().enumerate().skip(DESIRED_CLOSEST / 2) {
            if let Some(peer) = slot {
                let comp = comp_value(&peer.real_pk, own);
                if comp > comp_val && comp > comp_d {
                    index = Some(i);
                    comp_d = comp;
                }
            }
        }
        index
    }

    /// Whether `real_pk` is one of them (`pk_in_closest_peers`).
    pub(super) fn contains(&self, real_pk: &PublicKey) -> bool {
        self.slots.iter().flatten().any(|p| &p.real_pk == real_pk)
    }

    /// Takes a peer out (`remove_from_closest`): the set is then rebuilt
    /// from the whole list at the next maintenance.
    pub(super) fn remove(&mut self, real_pk: &PublicKey) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|p| &p.real_pk == real_pk) {
                *slot = None;
                self.changed = Change::Removed;
                break;
            }
        }
    }

    /// The peers in slot order.
    pub(super) fn peers(&self) -> impl Iterator<Item = ClosestPeer> + '_ {
        self.slots.iter().flatten().copied()
    }
}
