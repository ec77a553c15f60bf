//! One conference: its members, connections and counters, and the
//! operations `group.c` builds everything from (adding, removing,
//! freezing and thawing peers; names and title; sending to the group).
//!
//! The packet handlers are in `receive`, the periodic work in `timers`;
//! [`Conferences`](super::Conferences) owns the groups and lends each
//! call a [`Ctx`] with what is shared: our keys and name, the sessions
//! that are up, the clock reading, the RNG and the output queues.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use toxide_core::{Encode, PublicKey};

use super::ConferencePayload;
use super::closest::Closest;
use super::connections::{Connections, LinkState, Reasons};
use super::direct::{DirectBody, DirectPacket, PeerInfo, peer_responses};
use super::event::{
    ConferenceError, ConferenceEvent, ConferenceNumber, ConferenceTransmit, PeerIndex,
};
use super::id::{ConferenceId, GroupNumber, PeerNumber};
use super::message::{MessageBody, MessagePacket};
use super::online::OnlinePacket;
use super::peers::{FrozenPeer, MAX_PEERS, Members, Peer};
use super::rejoin::RejoinPacket;
use super::text::{PeerName, Title};
use crate::packet::{ConferencePacket, ConferencePacketKind};

/// Who we are, for every conference.
#[derive(Debug, Clone)]
pub(super) struct Me {
    /// Our long-term key (c-toxcore `g->real_pk`).
    pub(super) real_pk: PublicKey,
    /// Our DHT key, sent in peer lists.
    pub(super) dht_pk: PublicKey,
    /// Our name (Messenger's, as c-toxcore takes it).
    pub(super) name: PeerName,
    /// When our name last changed (or was first given), if ever.
    pub(super) name_changed: Option<Instant>,
}

/// What the driver told us about the sessions below.
#[derive(Debug, Clone, Default)]
pub(super) struct Net {
    /// Peers with a session up (c-toxcore `friend_con_connected`).
    pub(super) sessions: HashSet<PublicKey>,
    /// The DHT key each session's peer uses (c-toxcore
    /// `get_friendcon_public_keys`).
    pub(super) dht_keys: HashMap<PublicKey, PublicKey>,
}

/// Turns instants into the Unix seconds c-toxcore saves and reports as
/// `last_active`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Clock {
    anchor: Option<(Instant, u64)>,
}

impl Clock {
    /// `now` is `unix` seconds.
    pub(super) fn set(&mut self, now: Instant, unix: u64) {
        self.anchor = Some((now, unix));
    }

    /// Anchors at 0 seconds on the first instant seen, if not anchored.
    pub(super) fn touch(&mut self, now: Instant) {
        if self.anchor.is_none() {
            self.anchor = Some((now, 0));
        }
    }

    /// `at` in seconds.
    pub(super) fn secs(&self, at: Instant) -> u64 {
        match self.anchor {
            None => 0,
            Some((base, secs)) if at >= base => {
                secs.saturating_add(at.duration_since(base).as_secs())
            }
            Some((base, secs)) => secs.saturating_sub(base.duration_since(at).as_secs()),
        }
    }
}

/// The queues a call fills.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Packets to send.
    pub(super) transmits: VecDeque<ConferenceTransmit>,
    /// Things to tell the client.
    pub(super) events: VecDeque<ConferenceEvent>,
}

impl Output {
    /// Queues a ready packet.
    pub(super) fn send_packet(&mut self, to: PublicKey, packet: ConferencePacket) {
        let lossy = packet.kind() == ConferencePacketKind::Lossy;
        self.transmits
            .push_back(ConferenceTransmit { to, lossy, packet });
    }
}

/// What one call on one group may use besides the group.
#[derive(Debug)]
pub(super) struct Ctx<'a> {
    /// The time of the call.
    pub(super) now: Instant,
    /// The group's number for the client.
    pub(super) conference: ConferenceNumber,
    /// The group's number on the wire (the same, 16 bits).
    pub(super) group_number: GroupNumber,
    /// Us.
    pub(super) me: &'a Me,
    /// The sessions.
    pub(super) net: &'a Net,
    /// Seconds for `last_active`.
    pub(super) clock: &'a Clock,
    /// Peer numbers.
    pub(super) rng: &'a mut ChaCha20Rng,
    /// Where packets and events go.
    pub(super) out: &'a mut Output,
}

impl Ctx<'_> {
    /// Queues a packet.
    pub(super) fn transmit(&mut self, to: PublicKey, payload: &ConferencePayload) {
        self.send_packet(to, payload.to_packet());
    }

    /// Queues a ready packet.
    pub(super) fn send_packet(&mut self, to: PublicKey, packet: ConferencePacket) {
        self.out.send_packet(to, packet);
    }

    /// Queues an event.
    pub(super) fn event(&mut self, event: ConferenceEvent) {
        self.out.events.push_back(event);
    }

    /// Whether a session to `pk` is up.
    pub(super) fn connected(&self, pk: &PublicKey) -> bool {
        self.net.sessions.contains(pk)
    }
}

/// A peer index as tox.h hands it out.
pub(super) fn peer_index(index: usize) -> PeerIndex {
    PeerIndex::try_from(index).unwrap_or(PeerIndex::MAX)
}

/// `data` (a packet's bytes after its id, group number first) addressed
/// to another receiver: relays change nothing else.
pub(super) fn readdress(
    kind: ConferencePacketKind,
    data: &[u8],
    group_number: GroupNumber,
) -> Option<ConferencePacket> {
    let mut bytes = data.to_vec();
    bytes
        .get_mut(..2)?
        .copy_from_slice(&group_number.0.to_be_bytes());
    ConferencePacket::new(kind, bytes).ok()
}

/// How far a conference has got (`Groupchat_Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Joined, waiting for the peer list to learn our peer number
    /// (`GROUPCHAT_STATUS_VALID`).
    Valid,
    /// A member (`GROUPCHAT_STATUS_CONNECTED`).
    Connected,
}

/// One conference (c-toxcore `Group_c`).
#[derive(Debug, Clone)]
pub(super) struct Group {
    /// Joining or member.
    pub(super) status: Status,
    /// Type and id.
    pub(super) id: ConferenceId,
    /// The members.
    pub(super) members: Members,
    /// The group connections.
    pub(super) connections: Connections,
    /// The closest peers.
    pub(super) closest: Closest,
    /// The title, if set.
    pub(super) title: Option<Title>,
    /// Whether the title was set since the conference last had no other
    /// active peer: a title from a peer list then does not overwrite it.
    pub(super) title_fresh: bool,
    /// Whether our name goes out at the next maintenance.
    pub(super) need_send_name: bool,
    /// Our last message number.
    pub(super) message_number: u32,
    /// Our next lossy message number.
    pub(super) lossy_message_number: u16,
    /// Our peer number.
    pub(super) peer_number: PeerNumber,
    /// When our last ping went out.
    pub(super) last_sent_ping: Option<Instant>,
}

impl Group {
    /// An empty conference.
    pub(super) fn new(status: Status, id: ConferenceId) -> Self {
        Self {
            status,
            id,
            members: Members::default(),
            connections: Connections::default(),
            closest: Closest::default(),
            title: None,
            title_fresh: false,
            need_send_name: false,
            message_number: 0,
            lossy_message_number: 0,
            peer_number: PeerNumber(0),
            last_sent_ping: None,
        }
    }

    /// The DHT key to give for `pk`: the session's, else the one on file.
    pub(super) fn dht_of(&self, ctx: &Ctx<'_>, pk: &PublicKey) -> Option<PublicKey> {
        ctx.net.dht_keys.get(pk).copied().or_else(|| {
            self.members
                .index_of(pk)
                .and_then(|i| self.members.active.get(i))
                .map(|p| p.temp_pk)
                .or_else(|| {
                    self.members
                        .frozen_index_of(pk)
                        .and_then(|i| self.members.frozen.get(i))
                        .map(|p| p.peer.temp_pk)
                })
        })
    }

    // ---- sending ---------------------------------------------------

    /// Our online packet to `to` (`send_packet_online`).
    pub(super) fn send_online(&self, ctx: &mut Ctx<'_>, to: PublicKey) {
        let online = OnlinePacket {
            group_number: ctx.group_number,
            id: self.id,
        };
        ctx.transmit(to, &ConferencePayload::Online(online));
    }

    /// A direct packet (98) to `to`, whose number for the conference is
    /// `group_number`.
    pub(super) fn send_direct(
        ctx: &mut Ctx<'_>,
        to: PublicKey,
        group_number: GroupNumber,
        body: DirectBody,
    ) {
        let packet = DirectPacket { group_number, body };
        ctx.transmit(to, &ConferencePayload::Direct(packet));
    }

    /// Our peer list, then the title (`send_peers`).
    pub(super) fn send_peers(&self, ctx: &mut Ctx<'_>, to: PublicKey, group_number: GroupNumber) {
        let infos: Vec<PeerInfo> = self
            .members
            .active
            .iter()
            .map(|p| PeerInfo {
                peer_number: p.peer_number,
                real_pk: p.real_pk,
                temp_pk: p.temp_pk,
                name: p.nick.clone(),
            })
            .collect();
        for packet in peer_responses(group_number, &infos) {
            ctx.transmit(to, &ConferencePayload::Direct(packet));
        }
        if let Some(title) = &self.title {
            Self::send_direct(ctx, to, group_number, DirectBody::Title(title.clone()));
        }
    }

    /// A rejoin packet to a frozen peer whose session is up, and a
    /// connection to it marked as introducing us (`try_send_rejoin`);
    /// whether it went.
    pub(super) fn try_send_rejoin(&mut self, ctx: &mut Ctx<'_>, real_pk: PublicKey) -> bool {
        if !ctx.connected(&real_pk) {
            return false;
        }
        ctx.transmit(
            real_pk,
            &ConferencePayload::Rejoin(RejoinPacket { id: self.id }),
        );
        let dht = self.dht_of(ctx, &real_pk);
        self.connections.add(real_pk, dht, Reasons::INTRODUCER);
        true
    }

    /// A new message of ours to every online connection
    /// (`send_message_group`): needs our peer number and an online
    /// connection. Message number 0 is skipped when the counter wraps.
    pub(super) fn send_message_group(
        &mut self,
        ctx: &mut Ctx<'_>,
        body: MessageBody,
    ) -> Result<(), ConferenceError> {
        if self.status != Status::Connected || self.connections.count_online() == 0 {
            return Err(ConferenceError::NoConnection(ctx.conference.0));
        }
        self.message_number = self.message_number.wrapping_add(1);
        if self.message_number == 0 {
            self.message_number = 1;
        }
        let data = MessagePacket {
            group_number: GroupNumber(0),
            peer_number: self.peer_number,
            message_number: self.message_number,
            body,
        }
        .to_bytes();
        let sent = self.send_message_all_connections(ctx, &data, None);
        if sent == 0 {
            return Err(ConferenceError::FailSend(ctx.conference.0));
        }
        Ok(())
    }

    /// A message packet's bytes to every online connection but slot
    /// `except` (`send_message_all_connections`); how many.
    pub(super) fn send_message_all_connections(
        &self,
        ctx: &mut Ctx<'_>,
        data: &[u8],
        except: Option<usize>,
    ) -> usize {
        let mut sent = 0;
        for (slot, connection) in self.connections.iter() {
            if connection.state != LinkState::Online || Some(slot) == except {
                continue;
            }
            if let Some(packet) =
                readdress(ConferencePacketKind::Message, data, connection.group_number)
            {
                ctx.send_packet(connection.real_pk, packet);
                sent += 1;
            }
        }
        sent
    }

    /// Takes a reason off a connection, telling an introducer we no
    /// longer need it (`remove_connection_reason`).
    pub(super) fn remove_connection_reason(
        &mut self,
        ctx: &mut Ctx<'_>,
        slot: usize,
        reason: Reasons,
    ) {
        if let Some(introduced) = self.connections.remove_reason(slot, reason) {
            Self::send_direct(
                ctx,
                introduced.to,
                introduced.group_number,
                DirectBody::PeerIntroduced,
            );
        }
    }

    // ---- members -----------------------------------------------------

    /// Marks the peer with `peer_number` active, thawing it if frozen
    /// (`note_peer_active`); its index. A thawed peer joins the closest
    /// candidates and makes us announce our name again.
    pub(super) fn note_peer_active(
        &mut self,
        ctx: &mut Ctx<'_>,
        peer_number: PeerNumber,
    ) -> Option<usize> {
        if let Some(index) = self.members.index(peer_number) {
            if let Some(peer) = self.members.active.get_mut(index) {
                peer.last_active = ctx.now;
            }
            return Some(index);
        }
        let frozen = self.members.frozen_index(peer_number)?;
        if self.members.active.len() >= MAX_PEERS {
            return None;
        }
        let FrozenPeer {
            mut peer,
            last_active,
        } = self.members.delete_frozen(frozen)?;
        peer.temp_pk_updated = false;
        peer.last_active = ctx.now;
        self.closest
            .add(&ctx.me.real_pk, peer.real_pk, peer.temp_pk);
        self.members.active.push(peer);
        ctx.event(ConferenceEvent::PeerListChanged(ctx.conference));
        // c-toxcore re-announces our name to the whole conference on every
        // thaw, so that the returning peer has it; under churn that was
        // most of a conference's traffic (866 of 1,200 packets per peer per
        // minute in the 50-peer simulation). The returning peer kept our
        // name while frozen (c-toxcore keeps frozen peers' names, in its
        // save too), so we announce only if our name changed since the
        // peer was last heard from: what it may have missed.
        let changed = ctx.me.name_changed.map(|at| ctx.clock.secs(at));
        if changed.is_some_and(|changed| changed >= last_active) {
            self.need_send_name = true;
        }
        Some(self.members.active.len() - 1)
    }

    /// Adds a peer or updates the one with that number (`addpeer`); its
    /// index, or `None` when the number belongs to another key, when a
    /// frozen peer has it and the news is not `fresh` (a peer list: the
    /// frozen peer only gets the DHT key), or when the list is full.
    ///
    /// `fresh` news (a new-peer message, a rejoin, an accept) marks the
    /// peer active and always takes its DHT key; `notify` tells the client
    /// of a change in the list.
    pub(super) fn addpeer(
        &mut self,
        ctx: &mut Ctx<'_>,
        real_pk: PublicKey,
        temp_pk: PublicKey,
        peer_number: PeerNumber,
        fresh: bool,
        notify: bool,
    ) -> Option<usize> {
        let existing = if fresh {
            self.note_peer_active(ctx, peer_number)
        } else {
            self.members.index(peer_number)
        };
        if let Some(index) = existing {
            let peer = self.members.active.get_mut(index)?;
            if peer.real_pk != real_pk {
                return None;
            }
            if fresh || !peer.temp_pk_updated {
                peer.temp_pk = temp_pk;
                peer.temp_pk_updated = true;
            }
            return Some(index);
        }
        if !fresh {
            if let Some(frozen) = self.members.frozen_index(peer_number) {
                if let Some(peer) = self.members.frozen.get_mut(frozen) {
                    if peer.peer.real_pk == real_pk {
                        peer.peer.temp_pk = temp_pk;
                    }
                }
                return None;
            }
        }
        self.delete_any_peer_with_pk(ctx, &real_pk);
        if self.members.active.len() >= MAX_PEERS {
            return None;
        }
        self.members
            .active
            .push(Peer::new(real_pk, temp_pk, peer_number, ctx.now));
        self.closest.add(&ctx.me.real_pk, real_pk, temp_pk);
        if notify {
            ctx.event(ConferenceEvent::PeerListChanged(ctx.conference));
        }
        Some(self.members.active.len() - 1)
    }

    /// Removes every entry for `real_pk`, active or frozen
    /// (`delete_any_peer_with_pk`): a key has one peer number.
    fn delete_any_peer_with_pk(&mut self, ctx: &mut Ctx<'_>, real_pk: &PublicKey) {
        if let Some(index) = self.members.index_of(real_pk) {
            self.delpeer(ctx, index);
        }
        if let Some(frozen) = self.members.frozen_index_of(real_pk) {
            self.members.delete_frozen(frozen);
        }
    }

    /// Removes an active peer and our connection to it (`delpeer`); the
    /// last peer takes its index.
    pub(super) fn delpeer(&mut self, ctx: &mut Ctx<'_>, index: usize) -> Option<Peer> {
        let real_pk = self.members.active.get(index)?.real_pk;
        self.closest.remove(&real_pk);
        if let Some(slot) = self.connections.find(&real_pk) {
            self.connections.remove(slot);
        }
        let peer = self.members.active.swap_remove(index);
        ctx.event(ConferenceEvent::PeerListChanged(ctx.conference));
        Some(peer)
    }

    /// Moves an active peer to the frozen list (`freeze_peer`), tries to
    /// get it back at once if its session is up, and drops the
    /// longest-silent frozen peers beyond the limit.
    pub(super) fn freeze_peer(&mut self, ctx: &mut Ctx<'_>, index: usize) {
        let Some(peer) = self.delpeer(ctx, index) else {
            return;
        };
        self.try_send_rejoin(ctx, peer.real_pk);
        let last_active = ctx.clock.secs(peer.last_active);
        self.members.frozen.push(FrozenPeer { peer, last_active });
        self.members.delete_old_frozen();
    }

    /// Sets a peer's name (`setnick`); tells the client if it changed and
    /// `notify`.
    pub(super) fn setnick(
        &mut self,
        ctx: &mut Ctx<'_>,
        index: usize,
        nick: &PeerName,
        notify: bool,
    ) {
        let Some(peer) = self.members.active.get_mut(index) else {
            return;
        };
        peer.nick_updated = true;
        if &peer.nick == nick {
            return;
        }
        peer.nick = nick.clone();
        let peer_pk = peer.real_pk;
        if notify {
            ctx.event(ConferenceEvent::PeerName {
                conference: ctx.conference,
                peer: peer_index(index),
                peer_pk,
                name: nick.as_bytes().to_vec(),
            });
        }
    }

    /// Sets the title (`settitle`); tells the client if it changed.
    /// `peer` is who set it, `None` for a title from a peer list.
    pub(super) fn settitle(&mut self, ctx: &mut Ctx<'_>, peer: Option<usize>, title: &Title) {
        if self.title.as_ref() == Some(title) {
            return;
        }
        self.title = Some(title.clone());
        self.title_fresh = true;
        ctx.event(ConferenceEvent::Title {
            conference: ctx.conference,
            peer: peer.map(peer_index),
            title: title.as_bytes().to_vec(),
        });
    }

    /// With no connection online left, freezes everyone but us
    /// (`check_disconnected`): we cannot tell who is still there.
    pub(super) fn check_disconnected(&mut self, ctx: &mut Ctx<'_>) {
        if self.connections.count_online() > 0 {
            return;
        }
        while let Some(index) = self
            .members
            .active
            .iter()
            .position(|p| p.real_pk != ctx.me.real_pk)
        {
            self.freeze_peer(ctx, index);
        }
    }

    /// The session to `pk` came up or went down
    /// (`set_conns_type_connections`): up, we say online on our
    /// connection to it; down, the connection waits again, and with none
    /// online left everyone is frozen.
    pub(super) fn session_changed(&mut self, ctx: &mut Ctx<'_>, pk: PublicKey, up: bool) {
        let Some(slot) = self.connections.find(&pk) else {
            return;
        };
        if up {
            self.send_online(ctx, pk);
        } else {
            if let Some(connection) = self.connections.get_mut(slot) {
                connection.state = LinkState::Connecting;
            }
            self.check_disconnected(ctx);
        }
    }
}
