//! A conference's group connections: the (at most 16) peers it exchanges
//! packets with directly, and why it keeps each (checklist G5, G10; spec
//! "Group"; c-toxcore `Groupchat_Connection`, `add_conn_to_groupchat`,
//! `remove_connection`, `remove_connection_reason`, `clean_connections`
//! and `squash_connections` in `group.c`).
//!
//! A connection is *connecting* until both sides have sent an online
//! packet over a live session, then *online*; only online connections
//! carry messages. Each holds one lock on the friend connection below
//! (counted across conferences by [`Conferences`](super::Conferences)),
//! and is dropped when its last reason goes.
//!
//! The slots keep c-toxcore's order because it decides which connection
//! goes when space runs out: a new connection takes the last free slot,
//! cleaning prefers connecting over online ones and earlier slots, and
//! then packs the slots to the front.

use toxide_core::PublicKey;

use super::id::GroupNumber;

/// The most group connections a conference holds
/// (`MAX_GROUP_CONNECTIONS`).
pub(super) const MAX_GROUP_CONNECTIONS: usize = 16;

/// How many slots cleaning keeps free for newcomers
/// (`MIN_EMPTY_CONNECTIONS`).
pub(super) const MIN_EMPTY_CONNECTIONS: usize = 1 + MAX_GROUP_CONNECTIONS / 10;

/// Why a connection is kept (`GROUPCHAT_CONNECTION_REASON_*`), a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Reasons(u8);

impl Reasons {
    /// The peer is one of our closest (`…_REASON_CLOSEST`).
    pub(super) const CLOSEST: Self = Self(1);
    /// We are introducing the peer to the conference
    /// (`…_REASON_INTRODUCING`): kept until it says it is well connected.
    pub(super) const INTRODUCING: Self = Self(1 << 1);
    /// The peer introduces us (`…_REASON_INTRODUCER`): kept until we hear
    /// it through someone else.
    pub(super) const INTRODUCER: Self = Self(1 << 2);

    /// Whether `reason` is among them.
    pub(super) const fn contains(self, reason: Self) -> bool {
        self.0 & reason.0 != 0
    }

    const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Whether a connection carries messages yet (`Groupchat_Connection_Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkState {
    /// Waiting for the session, or for the peer's online packet.
    Connecting,
    /// Both sides sent online packets.
    Online,
}

/// One group connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Connection {
    /// The peer's long-term key (what c-toxcore's friend connection id
    /// stands for).
    pub(super) real_pk: PublicKey,
    /// The DHT key to ask the connection with, when known.
    pub(super) dht_pk: Option<PublicKey>,
    /// Connecting or online.
    pub(super) state: LinkState,
    /// Why it is kept.
    pub(super) reasons: Reasons,
    /// The peer's number for the conference, from its online packet (or
    /// the invite exchange): what our packets to it carry.
    pub(super) group_number: GroupNumber,
}

/// What removing a reason asks of the conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Introduced {
    /// Send a peer introduced packet to this peer...
    pub(super) to: PublicKey,
    /// ...addressed with this group number.
    pub(super) group_number: GroupNumber,
}

/// The connection slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Connections {
    slots: [Option<Connection>; MAX_GROUP_CONNECTIONS],
}

impl Connections {
    /// The slot holding a connection to `real_pk` (`friend_in_connections`).
    pub(super) fn find(&self, real_pk: &PublicKey) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|c| &c.real_pk == real_pk))
    }

    /// The connection in slot `index`.
    pub(super) fn get(&self, index: usize) -> Option<&Connection> {
        self.slots.get(index)?.as_ref()
    }

    /// The connection in slot `index`, to change.
    pub(super) fn get_mut(&mut self, index: usize) -> Option<&mut Connection> {
        self.slots.get_mut(index)?.as_mut()
    }

    /// Every connection with its slot.
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &Connection)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|c| (i, c)))
    }

    /// Adds `reason` to the connection to `real_pk`, making one in the
    /// last free slot if there is none (`add_conn_to_groupchat`); its slot,
    /// or `None` when all 16 are taken.
    pub(super) fn add(
        &mut self,
        real_pk: PublicKey,
        dht_pk: Option<PublicKey>,
        reason: Reasons,
    ) -> Option<usize> {
        let index = match self.find(&real_pk) {
            Some(index) => index,
            None => {
                let empty = self.slots.iter().rposition(Option::is_none)?;
                if let Some(slot) = self.slots.get_mut(empty) {
                    *slot = Some(Connection {
                        real_pk,
                        dht_pk,
                        state: LinkState::Connecting,
                        reasons: Reasons::default(),
                        group_number: GroupNumber(0),
                    });
                }
                empty
            }
        };
        let connection = self.get_mut(index)?;
        connection.reasons.0 |= reason.0;
        if connection.dht_pk.is_none() {
            connection.dht_pk = dht_pk;
        }
        Some(index)
    }

    /// Drops the connection in slot `index` whatever its reasons
    /// (`remove_connection`).
    pub(super) fn remove(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = None;
        }
    }

    /// Takes `reason` off the connection in slot `index`, dropping it if
    /// none is left (`remove_connection_reason`). Losing the introducer
    /// reason on an online connection tells the introducer, so that it
    /// drops its side: the returned [`Introduced`] says to whom.
    pub(super) fn remove_reason(&mut self, index: usize, reason: Reasons) -> Option<Introduced> {
        let slot = self.slots.get_mut(index)?;
        let connection = slot.as_mut()?;
        if !connection.reasons.contains(reason) {
            return None;
        }
        connection.reasons.0 &= !reason.0;
        let introduced = (reason == Reasons::INTRODUCER && connection.state == LinkState::Online)
            .then_some(Introduced {
                to: connection.real_pk,
                group_number: connection.group_number,
            });
        if connection.reasons.is_empty() {
            *slot = None;
        }
        introduced
    }

    /// How many are online (`count_connected`).
    pub(super) fn count_online(&self) -> usize {
        self.iter()
            .filter(|(_, c)| c.state == LinkState::Online)
            .count()
    }

    /// How many keep an introducer (`num_introducer_connections`).
    pub(super) fn count_introducers(&self) -> usize {
        self.iter()
            .filter(|(_, c)| c.reasons.contains(Reasons::INTRODUCER))
            .count()
    }

    /// How many more slots cleaning must free (`empty_connection_count`).
    pub(super) fn to_clear(&self) -> usize {
        let empty = self.slots.iter().filter(|s| s.is_none()).count();
        MIN_EMPTY_CONNECTIONS.saturating_sub(empty)
    }

    /// Frees slots until [`MIN_EMPTY_CONNECTIONS`] are free, then packs
    /// the rest to the front (`clean_connections`, `squash_connections`).
    /// A connection that is neither closest nor online goes first, then
    /// one that is online but not closest, earliest slot first; failing
    /// both, c-toxcore drops whatever is in the slot its search ended at.
    pub(super) fn clean(&mut self) {
        let mut to_clear = self.to_clear();
        while to_clear > 0 {
            let victim = |c: &Option<Connection>, state: LinkState| {
                c.as_ref()
                    .is_some_and(|c| c.state == state && !c.reasons.contains(Reasons::CLOSEST))
            };
            let index = self
                .slots
                .iter()
                .position(|c| victim(c, LinkState::Connecting))
                .unwrap_or_else(|| {
                    let end = MAX_GROUP_CONNECTIONS - to_clear;
                    self.slots
                        .iter()
                        .take(end)
                        .position(|c| victim(c, LinkState::Online))
                        .unwrap_or(end)
                });
            self.remove(index);
            to_clear -= 1;
        }
        let mut packed: [Option<Connection>; MAX_GROUP_CONNECTIONS] = Default::default();
        for (slot, connection) in packed
            .iter_mut()
            .zip(self.slots.iter_mut().filter_map(Option::take))
        {
            *slot = Some(connection);
        }
        self.slots = packed;
    }

    /// The connected peers' keys, for the lock count.
    pub(super) fn peers(&self) -> impl Iterator<Item = (PublicKey, Option<PublicKey>)> + '_ {
        self.iter().map(|(_, c)| (c.real_pk, c.dht_pk))
    }
}
