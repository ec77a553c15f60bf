//! A member conference's periodic work (c-toxcore `do_groupchats`:
//! `connect_to_closest`, `ping_groupchat`, `groupchat_freeze_timedout`,
//! `clean_connections`, and the name announcement; checklist G10, G11).
//!
//! c-toxcore does all of it on every `tox_iterate`; here it runs from
//! [`Conferences::handle_timeout`](super::Conferences::handle_timeout),
//! which [`Group::deadline`] schedules: at once when the closest set
//! changed, our name is due or slots need freeing, else at the next ping
//! or the next peer's freeze.

use std::time::{Duration, Instant};

use super::closest::Change;
use super::connections::{LinkState, Reasons};
use super::group::{Ctx, Group, Status};
use super::message::MessageBody;

/// How often we ping every conference (`GROUP_PING_INTERVAL`).
pub const GROUP_PING_INTERVAL: Duration = Duration::from_secs(20);

/// A peer silent this long is frozen (`FREEZE_TIMEOUT`, 3 pings).
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(60);

impl Group {
    /// One round of periodic work; only for conferences we are a member
    /// of.
    pub(super) fn maintain(&mut self, ctx: &mut Ctx<'_>) {
        if self.status != Status::Connected {
            return;
        }
        self.connect_to_closest(ctx);
        self.ping(ctx);
        self.freeze_timedout(ctx);
        self.connections.clean();
        if self.need_send_name {
            let name = MessageBody::Name(ctx.me.name.clone());
            let _ = self.send_message_group(ctx, name);
            self.need_send_name = false;
        }
    }

    /// When [`Group::maintain`] has work next; `now` is the last time
    /// the caller saw.
    pub(super) fn deadline(&self, now: Instant) -> Option<Instant> {
        if self.status != Status::Connected {
            return None;
        }
        if self.closest.changed != Change::None
            || self.need_send_name
            || self.connections.to_clear() > 0
        {
            return Some(now);
        }
        let ping = (self.connections.count_online() > 0).then(|| match self.last_sent_ping {
            None => now,
            Some(last) => last + GROUP_PING_INTERVAL,
        });
        let freeze = self
            .members
            .active
            .iter()
            .filter(|p| p.peer_number != self.peer_number)
            .map(|p| p.last_active + FREEZE_TIMEOUT)
            .min();
        [ping, freeze].into_iter().flatten().min()
    }

    /// Brings the connections in line with the closest set
    /// (`connect_to_closest`, `purge_closest`,
    /// `add_closest_connections`): a closest connection whose peer left
    /// the set loses that reason; each closest peer gets a connection, and
    /// one whose session is already up hears our online packet at once.
    fn connect_to_closest(&mut self, ctx: &mut Ctx<'_>) {
        if self.closest.changed == Change::None {
            return;
        }
        if self.closest.changed == Change::Removed {
            let own = ctx.me.real_pk;
            for peer in &self.members.active {
                self.closest.add(&own, peer.real_pk, peer.temp_pk);
            }
        }
        let stale: Vec<usize> = self
            .connections
            .iter()
            .filter(|(_, c)| {
                c.reasons.contains(Reasons::CLOSEST) && !self.closest.contains(&c.real_pk)
            })
            .map(|(slot, _)| slot)
            .collect();
        for slot in stale {
            self.remove_connection_reason(ctx, slot, Reasons::CLOSEST);
        }
        let closest: Vec<_> = self.closest.peers().collect();
        for peer in closest {
            let Some(slot) =
                self.connections
                    .add(peer.real_pk, Some(peer.temp_pk), Reasons::CLOSEST)
            else {
                continue;
            };
            let connecting = self
                .connections
                .get(slot)
                .is_some_and(|c| c.state == LinkState::Connecting);
            if connecting && ctx.connected(&peer.real_pk) {
                self.send_online(ctx, peer.real_pk);
            }
        }
        self.closest.changed = Change::None;
    }

    /// A ping to the group if the last one is [`GROUP_PING_INTERVAL`] old
    /// (`ping_groupchat`); it counts only if some connection took it.
    pub(super) fn ping(&mut self, ctx: &mut Ctx<'_>) {
        let due = self
            .last_sent_ping
            .is_none_or(|last| ctx.now >= last + GROUP_PING_INTERVAL);
        if due && self.send_message_group(ctx, MessageBody::Ping).is_ok() {
            self.last_sent_ping = Some(ctx.now);
        }
    }

    /// Freezes every other peer silent for [`FREEZE_TIMEOUT`]
    /// (`groupchat_freeze_timedout`); alone again, a title from the next
    /// peer list may replace ours.
    fn freeze_timedout(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(index) = self.members.active.iter().position(|p| {
            p.peer_number != self.peer_number && ctx.now >= p.last_active + FREEZE_TIMEOUT
        }) {
            self.freeze_peer(ctx, index);
        }
        if self.members.active.len() <= 1 {
            self.title_fresh = false;
        }
    }
}
