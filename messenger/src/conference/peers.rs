//! A conference's members: the active ones (ourselves included) and the
//! frozen ones we have not heard from lately (checklist G7, G11; spec
//! "Group", "Timeouts and reconnection"; c-toxcore `Group_Peer`,
//! `get_peer_index`, `peer_in_group`, `get_frozen_index`,
//! `frozen_in_group`, `delete_frozen` and `delete_old_frozen` in
//! `group.c`).
//!
//! A peer is known by its peer number in packets and by its long-term key
//! everywhere else; both are unique among active and frozen peers
//! together (`addpeer` removes any older entry for the same key).
//!
//! Bounds: c-toxcore keeps at most `maxfrozen` frozen peers (128 unless
//! the client changes it) but any number of active ones; here at most
//! [`MAX_PEERS`] are active, so a peer announcing made-up members cannot
//! make us hold more.

use std::time::Instant;

use toxide_core::PublicKey;

use super::dedup::{LossyWindow, MessageWindow};
use super::id::PeerNumber;
use super::text::PeerName;

/// Frozen peers kept unless the client says otherwise
/// (`MAX_FROZEN_DEFAULT`).
pub const MAX_FROZEN_DEFAULT: u32 = 128;

/// The most active peers a conference holds, ourselves included (ours:
/// c-toxcore has no bound). Peers announced beyond it are ignored, and
/// frozen ones are not thawed.
pub const MAX_PEERS: usize = 1024;

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Peer {
    /// Long-term key.
    pub(super) real_pk: PublicKey,
    /// DHT key, as last heard.
    pub(super) temp_pk: PublicKey,
    /// Whether `temp_pk` was set since the peer was last thawed: a peer
    /// response overwrites it only otherwise.
    pub(super) temp_pk_updated: bool,
    /// When we last heard from it (a message, a rejoin, a new-peer
    /// message about it).
    pub(super) last_active: Instant,
    /// Its message numbers seen.
    pub(super) messages: MessageWindow,
    /// Its name.
    pub(super) nick: PeerName,
    /// Whether a name message (or our own setting) gave the name: a peer
    /// response then does not overwrite it.
    pub(super) nick_updated: bool,
    /// Its peer number.
    pub(super) peer_number: PeerNumber,
    /// Its lossy message numbers seen.
    pub(super) lossy: LossyWindow,
}

impl Peer {
    /// A peer just heard of.
    pub(super) fn new(
        real_pk: PublicKey,
        temp_pk: PublicKey,
        peer_number: PeerNumber,
        now: Instant,
    ) -> Self {
        Self {
            real_pk,
            temp_pk,
            temp_pk_updated: true,
            last_active: now,
            messages: MessageWindow::default(),
            nick: PeerName::default(),
            nick_updated: false,
            peer_number,
            lossy: LossyWindow::default(),
        }
    }
}

/// A frozen member: all it had when active (its message windows too, so
/// that a thawed peer's old messages stay duplicates), and when it was
/// last active in the seconds c-toxcore saves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FrozenPeer {
    /// The peer as it was.
    pub(super) peer: Peer,
    /// Last active, in Unix seconds (see
    /// [`Conferences::set_unix_time`](super::Conferences::set_unix_time)).
    pub(super) last_active: u64,
}

/// Active and frozen members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Members {
    /// Active peers; tox.h's peer numbers index this.
    pub(super) active: Vec<Peer>,
    /// Frozen peers; tox.h's offline peer numbers index this.
    pub(super) frozen: Vec<FrozenPeer>,
    /// How many frozen peers to keep (`maxfrozen`).
    pub(super) max_frozen: u32,
}

impl Default for Members {
    fn default() -> Self {
        Self {
            active: Vec::new(),
            frozen: Vec::new(),
            max_frozen: MAX_FROZEN_DEFAULT,
        }
    }
}

impl Members {
    /// The active peer with `peer_number` (`get_peer_index`).
    pub(super) fn index(&self, peer_number: PeerNumber) -> Option<usize> {
        self.active
            .iter()
            .position(|p| p.peer_number == peer_number)
    }

    /// The active peer with `real_pk` (`peer_in_group`).
    pub(super) fn index_of(&self, real_pk: &PublicKey) -> Option<usize> {
        self.active.iter().position(|p| &p.real_pk == real_pk)
    }

    /// The frozen peer with `peer_number` (`get_frozen_index`).
    pub(super) fn frozen_index(&self, peer_number: PeerNumber) -> Option<usize> {
        self.frozen
            .iter()
            .position(|p| p.peer.peer_number == peer_number)
    }

    /// The frozen peer with `real_pk` (`frozen_in_group`).
    pub(super) fn frozen_index_of(&self, real_pk: &PublicKey) -> Option<usize> {
        self.frozen.iter().position(|p| &p.peer.real_pk == real_pk)
    }

    /// The peer number of `real_pk`, active or frozen (`get_peer_number`).
    pub(super) fn peer_number_of(&self, real_pk: &PublicKey) -> Option<PeerNumber> {
        self.index_of(real_pk)
            .and_then(|i| self.active.get(i))
            .map(|p| p.peer_number)
            .or_else(|| {
                self.frozen_index_of(real_pk)
                    .and_then(|i| self.frozen.get(i))
                    .map(|p| p.peer.peer_number)
            })
    }

    /// Whether an active or frozen peer has `peer_number`.
    pub(super) fn number_taken(&self, peer_number: PeerNumber) -> bool {
        self.index(peer_number).is_some() || self.frozen_index(peer_number).is_some()
    }

    /// Removes a frozen peer, the last one taking its place
    /// (`delete_frozen`).
    pub(super) fn delete_frozen(&mut self, index: usize) -> Option<FrozenPeer> {
        (index < self.frozen.len()).then(|| self.frozen.swap_remove(index))
    }

    /// Drops the longest-silent frozen peers beyond `max_frozen`
    /// (`delete_old_frozen`). c-toxcore keeps friends first; this layer
    /// does not know who is a Messenger friend, so it orders by last
    /// activity alone.
    pub(super) fn delete_old_frozen(&mut self) {
        let max = usize::try_from(self.max_frozen).unwrap_or(usize::MAX);
        if self.frozen.len() <= max {
            return;
        }
        self.frozen
            .sort_by_key(|p| std::cmp::Reverse(p.last_active));
        self.frozen.truncate(max);
    }
}
