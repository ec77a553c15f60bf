//! What one conference does with each packet (c-toxcore
//! `handle_friend_invite_packet`, `send_invite_response`,
//! `handle_packet_online`, `handle_packet_rejoin`, `handle_direct_packet`,
//! `handle_send_peers`, `handle_message_packet_group` and `handle_lossy`
//! in `group.c`).
//!
//! [`Conferences`](super::Conferences) finds the conference (by id for
//! invites, online and rejoin packets; by our group number otherwise) and
//! the connection the packet came over; here is what follows.

use rand::Rng;
use toxide_core::PublicKey;

use super::ConferencePayload;
use super::closest::{DESIRED_CLOSEST, comp_value};
use super::connections::{LinkState, Reasons};
use super::direct::{DirectBody, PeerInfo};
use super::event::ConferenceEvent;
use super::group::{Ctx, Group, Output, Status, peer_index, readdress};
use super::id::{GroupNumber, PeerNumber};
use super::invite::{Invite, InviteAccept, InvitePacket};
use super::lossy::LossyPacket;
use super::message::{GROUP_MESSAGE_FREEZE_PEER_ID, MessageBody};
use crate::packet::{ConferencePacketKind, MessageKind};

/// How many times the inviter draws a peer number for a newcomer before
/// giving up (c-toxcore: once, then up to 32 more).
const PEER_NUMBER_TRIES: usize = 33;

/// The fixed part of a message packet, readable even when the body is
/// not: c-toxcore counts a message against its author before looking at
/// the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MessageHeader {
    /// The author.
    pub(super) peer_number: PeerNumber,
    /// The author's message number.
    pub(super) message_number: u32,
    /// The message id.
    pub(super) message_id: u8,
}

impl Group {
    /// Answers an invite we accept, or one to a conference we are in
    /// already (a member accept, G4) (`send_invite_response`): the inviter
    /// becomes our introducer (and we its, for a member), the connection
    /// is online at once since the invite came over it, and we ask for the
    /// peer list. Whether the answer could leave.
    pub(super) fn respond_to_invite(
        &mut self,
        ctx: &mut Ctx<'_>,
        friend: PublicKey,
        invite: &Invite,
    ) -> bool {
        if !ctx.connected(&friend) {
            return false;
        }
        let member = self.status == Status::Connected;
        let accept = InviteAccept {
            group_number: ctx.group_number,
            inviter_group_number: invite.group_number,
            id: invite.id,
            member_peer_number: member.then_some(self.peer_number),
        };
        ctx.transmit(
            friend,
            &ConferencePayload::Invite(InvitePacket::Accept(accept)),
        );
        let dht = self.dht_of(ctx, &friend);
        let slot = self.connections.add(friend, dht, Reasons::INTRODUCER);
        if member {
            self.connections.add(friend, dht, Reasons::INTRODUCING);
        }
        if let Some(connection) = slot.and_then(|s| self.connections.get_mut(s)) {
            connection.group_number = invite.group_number;
            connection.state = LinkState::Online;
        }
        Self::send_direct(ctx, friend, invite.group_number, DirectBody::PeerQuery);
        true
    }

    /// A friend accepted our invite (the caller checked the conference id)
    /// (`handle_friend_invite_packet`, sub-ids 1 and 2): it becomes a peer
    /// (with a fresh random peer number, or the one it has as a member),
    /// we introduce it over an online connection, and tell the group.
    pub(super) fn handle_accept(
        &mut self,
        ctx: &mut Ctx<'_>,
        friend: PublicKey,
        accept: &InviteAccept,
    ) {
        let peer_number = match accept.member_peer_number {
            Some(number) => number,
            None => {
                let mut drawn = None;
                for _ in 0..PEER_NUMBER_TRIES {
                    let number = PeerNumber(ctx.rng.next_u32() as u16);
                    if !self.members.number_taken(number) {
                        drawn = Some(number);
                        break;
                    }
                }
                let Some(number) = drawn else {
                    return;
                };
                number
            }
        };
        // Without the session's DHT key the joiner is announced with an
        // all-zero one (c-toxcore's friend connection holds zeros until it
        // learns one); peers then find it through the onion.
        let known = self.dht_of(ctx, &friend);
        let temp_pk = known.unwrap_or(PublicKey::new([0; 32]));
        self.addpeer(ctx, friend, temp_pk, peer_number, true, true);
        let slot = self.connections.add(friend, known, Reasons::INTRODUCING);
        if accept.member_peer_number.is_some() {
            self.connections.add(friend, known, Reasons::INTRODUCER);
            Self::send_direct(ctx, friend, accept.group_number, DirectBody::PeerQuery);
        }
        if let Some(connection) = slot.and_then(|s| self.connections.get_mut(s)) {
            connection.group_number = accept.group_number;
            connection.state = LinkState::Online;
        }
        let new_peer = MessageBody::NewPeer {
            peer_number,
            real_pk: friend,
            temp_pk,
        };
        // This cannot fail now that the joiner's connection is online,
        // unless we are still waiting for our own peer number; then the
        // others learn of the joiner from its first message (an unknown
        // author makes them ask the relaying peer for its list).
        let _ = self.send_message_group(ctx, new_peer);
    }

    /// A peer's online packet (`handle_packet_online`): only on a
    /// connection we want too and that is not online yet. The connection
    /// goes online and we answer in kind; we ask for the peer list if it
    /// is our first online connection or the peer introduces us, and
    /// announce the peer if we introduce it.
    pub(super) fn handle_online(
        &mut self,
        ctx: &mut Ctx<'_>,
        from: PublicKey,
        their_group_number: GroupNumber,
    ) {
        let Some(slot) = self.connections.find(&from) else {
            return;
        };
        let Some(connection) = self.connections.get(slot) else {
            return;
        };
        if connection.state == LinkState::Online {
            return;
        }
        let reasons = connection.reasons;
        if self.connections.count_online() == 0 || reasons.contains(Reasons::INTRODUCER) {
            Self::send_direct(ctx, from, their_group_number, DirectBody::PeerQuery);
        }
        if let Some(connection) = self.connections.get_mut(slot) {
            connection.group_number = their_group_number;
            connection.state = LinkState::Online;
        }
        self.send_online(ctx, from);
        if reasons.contains(Reasons::INTRODUCING) {
            if let Some(peer) = self
                .members
                .index_of(&from)
                .and_then(|i| self.members.active.get(i))
            {
                let body = MessageBody::NewPeer {
                    peer_number: peer.peer_number,
                    real_pk: from,
                    temp_pk: ctx.net.dht_keys.get(&from).copied().unwrap_or(peer.temp_pk),
                };
                let _ = self.send_message_group(ctx, body);
            }
            self.need_send_name = true;
        }
        self.ping(ctx);
    }

    /// A peer we hold (active or frozen) is back (`handle_packet_rejoin`):
    /// thaw it with the session's DHT key, introduce it over a connection,
    /// and say online.
    pub(super) fn handle_rejoin(&mut self, ctx: &mut Ctx<'_>, from: PublicKey) {
        let Some(peer_number) = self.members.peer_number_of(&from) else {
            return;
        };
        let Some(temp_pk) = self.dht_of(ctx, &from) else {
            return;
        };
        self.addpeer(ctx, from, temp_pk, peer_number, true, true);
        if self
            .connections
            .add(from, Some(temp_pk), Reasons::INTRODUCING)
            .is_some()
        {
            self.send_online(ctx, from);
        }
    }

    /// A direct packet over the connection in `slot`
    /// (`handle_direct_packet`).
    pub(super) fn handle_direct(&mut self, ctx: &mut Ctx<'_>, slot: usize, body: DirectBody) {
        match body {
            DirectBody::PeerIntroduced => {
                self.remove_connection_reason(ctx, slot, Reasons::INTRODUCING);
            }
            DirectBody::PeerQuery => {
                let Some(connection) = self.connections.get(slot) else {
                    return;
                };
                if connection.state != LinkState::Online {
                    return;
                }
                let (to, group_number) = (connection.real_pk, connection.group_number);
                self.send_peers(ctx, to, group_number);
            }
            DirectBody::PeerResponse(response) => {
                self.handle_send_peers(ctx, response.into_peers());
            }
            DirectBody::Title(title) => {
                if !self.title_fresh {
                    self.settitle(ctx, None, &title);
                }
            }
        }
    }

    /// Part of a peer list (`handle_send_peers`). A joiner finds itself
    /// by its key and so learns its peer number. Names from the list are
    /// taken only for peers whose own name message has not come yet.
    ///
    /// As in c-toxcore, the first entry that cannot be added stops the
    /// rest: one whose number another key has, or one we hold frozen
    /// (which only gets the DHT key; it thaws when its next message
    /// comes, within a ping interval). The spec only says a frozen peer's
    /// DHT key is updated (SPEC≠CODE).
    fn handle_send_peers(&mut self, ctx: &mut Ctx<'_>, peers: Vec<PeerInfo>) {
        for info in peers {
            if self.status == Status::Valid && info.real_pk == ctx.me.real_pk {
                self.peer_number = info.peer_number;
                self.status = Status::Connected;
                ctx.event(ConferenceEvent::Connected(ctx.conference));
                self.need_send_name = true;
            }
            let Some(index) = self.addpeer(
                ctx,
                info.real_pk,
                info.temp_pk,
                info.peer_number,
                false,
                true,
            ) else {
                return;
            };
            if self
                .members
                .active
                .get(index)
                .is_some_and(|p| !p.nick_updated)
            {
                self.setnick(ctx, index, &info.name, true);
            }
        }
    }

    /// A message packet over the connection in `slot`
    /// (`handle_message_packet_group`): `data` is the packet after its id,
    /// `body` what it says if c-toxcore would act on it.
    ///
    /// The author is marked active (thawed if frozen, except by its own
    /// freeze message); an unknown author makes us ask the relaying peer
    /// for its list. A message from an author who introduces us, heard
    /// through someone else once we have more than [`DESIRED_CLOSEST`]
    /// connections, proves we are well connected: the introducer is let
    /// go. Then the duplicate window decides, the body is acted on, and
    /// the same bytes go on to every other online connection, and back to
    /// the author too when it sent them to us itself, so that an author
    /// with a single connection sees its own message: clients show their
    /// own messages when they come back. The spec says "all except the one
    /// it was received from" (SPEC≠CODE).
    pub(super) fn handle_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        slot: usize,
        data: &[u8],
        header: MessageHeader,
        body: Option<MessageBody>,
    ) {
        let Some(source) = self.connections.get(slot).cloned() else {
            return;
        };
        let ignore_frozen = header.message_id == GROUP_MESSAGE_FREEZE_PEER_ID;
        let index = if ignore_frozen {
            self.members.index(header.peer_number)
        } else {
            self.note_peer_active(ctx, header.peer_number)
        };
        let Some(index) = index else {
            if !ignore_frozen && source.state == LinkState::Online {
                Self::send_direct(
                    ctx,
                    source.real_pk,
                    source.group_number,
                    DirectBody::PeerQuery,
                );
            }
            return;
        };
        let Some(author) = self.members.active.get(index).map(|p| p.real_pk) else {
            return;
        };
        if self.connections.count_introducers() > 0
            && self.connections.count_online() > DESIRED_CLOSEST
        {
            let introducers: Vec<usize> = self
                .connections
                .iter()
                .filter(|(s, c)| {
                    *s != slot && c.reasons.contains(Reasons::INTRODUCER) && c.real_pk == author
                })
                .map(|(s, _)| s)
                .collect();
            for introducer in introducers {
                self.remove_connection_reason(ctx, introducer, Reasons::INTRODUCER);
            }
        }
        let Some(peer) = self.members.active.get_mut(index) else {
            return;
        };
        if !peer
            .messages
            .check(header.message_number, header.message_id)
        {
            return;
        }
        let direct_from_sender = author == source.real_pk;
        let Some(body) = body else {
            return;
        };
        match body {
            MessageBody::Ping => {}
            MessageBody::NewPeer {
                peer_number,
                real_pk,
                temp_pk,
            } => {
                self.addpeer(ctx, real_pk, temp_pk, peer_number, true, true);
            }
            MessageBody::KillPeer => {
                self.delpeer(ctx, index);
            }
            MessageBody::FreezePeer => self.freeze_peer(ctx, index),
            MessageBody::Name(name) => self.setnick(ctx, index, &name, true),
            MessageBody::Title(title) => self.settitle(ctx, Some(index), &title),
            MessageBody::Message(text) | MessageBody::Action(text) => {
                let kind = if header.message_id == MessageKind::Action.packet_id() {
                    MessageKind::Action
                } else {
                    MessageKind::Normal
                };
                ctx.event(ConferenceEvent::Message {
                    conference: ctx.conference,
                    peer: peer_index(index),
                    peer_pk: author,
                    kind,
                    text: text.as_bytes().to_vec(),
                });
            }
        }
        let except = (!direct_from_sender).then_some(slot);
        self.send_message_all_connections(ctx, data, except);
    }

    /// A lossy packet over the connection in `slot` (`handle_lossy`):
    /// only in audio/video conferences, only from another known active
    /// peer, once per number; passed on (see
    /// [`Group::send_lossy_all_connections`]) and to the client.
    pub(super) fn handle_lossy(
        &mut self,
        ctx: &mut Ctx<'_>,
        slot: usize,
        data: &[u8],
        packet: LossyPacket,
    ) {
        if self.id.conference_type != super::ConferenceType::Av
            || packet.peer_number == self.peer_number
        {
            return;
        }
        let Some(index) = self.members.index(packet.peer_number) else {
            return;
        };
        let Some(peer) = self.members.active.get_mut(index) else {
            return;
        };
        if !peer.lossy.check(packet.message_number) {
            return;
        }
        self.send_lossy_all_connections(&ctx.me.real_pk, ctx.out, data, Some(slot));
        ctx.event(ConferenceEvent::Lossy {
            conference: ctx.conference,
            peer: peer_index(index),
            message_id: packet.message_id,
            data: packet.data().to_vec(),
        });
    }

    /// A lossy packet's bytes to every online connection but `except`
    /// that is not a closest one, and to two closest ones: the nearest on
    /// each side of us (`send_lossy_all_connections`); how many.
    ///
    /// The spec says "the 2 closest connected peers". c-toxcore 0.2.18
    /// means the one with the smallest and the one with the largest
    /// `ours − theirs`, but starts its search for the largest at
    /// `u64::MAX`, so its second pick is always connection slot 0,
    /// whatever is there (SPEC≠CODE, a c-toxcore bug). We send to the
    /// intended one; receivers cannot tell, since relays are deduplicated.
    pub(super) fn send_lossy_all_connections(
        &self,
        own: &PublicKey,
        out: &mut Output,
        data: &[u8],
        except: Option<usize>,
    ) -> usize {
        let mut sent = 0;
        let mut nearest: Option<(u64, usize)> = None;
        let mut farthest: Option<(u64, usize)> = None;
        let mut targets = Vec::new();
        for (slot, connection) in self.connections.iter() {
            if connection.state != LinkState::Online || Some(slot) == except {
                continue;
            }
            if connection.reasons.contains(Reasons::CLOSEST) {
                let comp = comp_value(own, &connection.real_pk);
                if nearest.is_none_or(|(c, _)| comp < c) {
                    nearest = Some((comp, slot));
                }
                if farthest.is_none_or(|(c, _)| comp > c) {
                    farthest = Some((comp, slot));
                }
                continue;
            }
            targets.push(slot);
        }
        targets.extend(nearest.map(|(_, s)| s));
        if farthest != nearest {
            targets.extend(farthest.map(|(_, s)| s));
        }
        for slot in targets {
            let Some(connection) = self.connections.get(slot) else {
                continue;
            };
            if let Some(packet) =
                readdress(ConferencePacketKind::Lossy, data, connection.group_number)
            {
                out.send_packet(connection.real_pk, packet);
                sent += 1;
            }
        }
        sent
    }
}
