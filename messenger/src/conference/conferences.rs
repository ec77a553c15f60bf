//! All conferences of one client: the tox.h calls, the packets in, and
//! the transmits, connection requests and events out (c-toxcore
//! `Group_Chats` and its public functions in `group.c`).
//!
//! The machine owns no socket, clock or task. The driver:
//! - feeds [`Conferences::handle_friend_packet`] with packet 96 from an
//!   online Messenger friend, [`Conferences::handle_packet`] with 97–100
//!   and 199 from any session, and [`Conferences::set_connected`] (and
//!   [`Conferences::set_peer_dht_pk`]) for *every* session that comes up
//!   or goes down, friends included: a frozen peer is asked back over any
//!   session (G8), and an invite can only be answered over a live one;
//! - calls [`Conferences::handle_timeout`] when [`Conferences::poll_timeout`]
//!   says (it asks for "now" after inputs that leave work, as c-toxcore
//!   does it on the next `tox_iterate`);
//! - drains [`Conferences::poll_transmit`], [`Conferences::poll_connection`]
//!   and [`Conferences::poll_event`] after each call. Events name peers by
//!   index (tox.h's peer number), valid until the next peer list change,
//!   so they are best drained after every input.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use toxide_core::{Decode, PublicKey, Reader};

use super::ConferencePayload;
use super::event::{
    ConferenceError, ConferenceEvent, ConferenceNumber, ConferenceTransmit, ConnectionRequest,
    PeerIndex,
};
use super::group::{Clock, Ctx, Group, Me, Net, Output, Status};
use super::id::{ConferenceId, ConferenceType, GROUP_ID_LENGTH, GroupNumber, PeerNumber};
use super::invite::{Invite, InvitePacket};
use super::lossy::{LossyPacket, MAX_LOSSY_DATA_LEN};
use super::message::{ChatText, MAX_GROUP_MESSAGE_DATA_LEN, MessageBody, MessagePacket};
use super::peers::{FrozenPeer, Peer};
use super::receive::MessageHeader;
use super::save::{
    SavedConference, SavedConferences, SavedPeer, saved_lossy_message_number, saved_message_number,
};
use super::text::{PeerName, Title};
use crate::packet::{ConferencePacket, ConferencePacketKind, MAX_NAME_LENGTH, MessageKind};

/// The most conferences at once: group numbers are 16 bits.
pub const MAX_CONFERENCES: usize = 1 << 16;

/// Every conference of one client (c-toxcore `Group_Chats`).
#[derive(Debug)]
pub struct Conferences {
    me: Me,
    rng: ChaCha20Rng,
    net: Net,
    clock: Clock,
    out: Output,
    groups: Vec<Option<Group>>,
    /// The connections we asked for, with the DHT key we gave.
    wanted: BTreeMap<PublicKey, Option<PublicKey>>,
    requests: std::collections::VecDeque<ConnectionRequest>,
    /// The last time a call told us.
    last_now: Option<Instant>,
}

impl Conferences {
    /// No conferences yet, for the client with long-term key
    /// `self_real_pk` and DHT key `self_dht_pk`. `seed` drives all
    /// randomness (conference ids, peer numbers): give it 32 bytes from
    /// the operating system, or a fixed value to replay a simulation.
    pub fn new(self_real_pk: PublicKey, self_dht_pk: PublicKey, seed: [u8; 32]) -> Self {
        Self {
            me: Me {
                real_pk: self_real_pk,
                dht_pk: self_dht_pk,
                name: PeerName::default(),
                name_changed: None,
            },
            rng: ChaCha20Rng::from_seed(seed),
            net: Net::default(),
            clock: Clock::default(),
            out: Output::default(),
            groups: Vec::new(),
            wanted: BTreeMap::new(),
            requests: std::collections::VecDeque::new(),
            last_now: None,
        }
    }

    /// Our DHT key changed: peer lists we send carry it from now on.
    pub fn set_dht_pk(&mut self, dht_pk: PublicKey) {
        self.me.dht_pk = dht_pk;
        let own = self.me.real_pk;
        for group in self.groups.iter_mut().flatten() {
            if let Some(peer) = group.members.active.iter_mut().find(|p| p.real_pk == own) {
                peer.temp_pk = dht_pk;
            }
        }
    }

    /// Says that `now` is `unix_secs` seconds since the Unix epoch, so
    /// that `last_active` times ([`Conferences::offline_peer_last_active`],
    /// the save) read as c-toxcore's do. Without it they count from the
    /// first instant this machine was given.
    pub fn set_unix_time(&mut self, now: Instant, unix_secs: u64) {
        self.clock.set(now, unix_secs);
    }

    /// Our name changed (c-toxcore `send_name_all_groups`): a name
    /// message to every conference we are a member of. Names are at most
    /// 128 bytes (Messenger refuses longer ones first); more is cut.
    /// Our own entry in each peer list changes when the message comes back
    /// to us, as in c-toxcore.
    pub fn set_name(&mut self, now: Instant, name: &[u8]) {
        self.touch(now);
        let cut = name.get(..MAX_NAME_LENGTH).unwrap_or(name);
        let name = PeerName::new(cut).unwrap_or_default();
        if self.me.name_changed.is_none() || name != self.me.name {
            self.me.name_changed = Some(now);
        }
        self.me.name = name;
        for index in 0..self.groups.len() {
            self.with_group(now, index, |group, ctx| {
                if group.status == Status::Connected {
                    let body = MessageBody::Name(ctx.me.name.clone());
                    let _ = group.send_message_group(ctx, body);
                    group.need_send_name = false;
                }
            });
        }
        self.sync_connections();
    }

    // ---- tox.h operations -------------------------------------------

    /// Starts a conference of which we are the only member, with peer
    /// number 0 (`add_groupchat`, `tox_conference_new`).
    pub fn create(
        &mut self,
        now: Instant,
        kind: ConferenceType,
    ) -> Result<ConferenceNumber, ConferenceError> {
        self.touch(now);
        let index = self.free_index()?;
        let mut id = [0; GROUP_ID_LENGTH];
        self.rng.fill_bytes(&mut id);
        let id = ConferenceId {
            conference_type: kind,
            id,
        };
        self.put(index, Group::new(Status::Connected, id));
        self.with_group(now, index, |group, ctx| {
            let (pk, dht) = (ctx.me.real_pk, ctx.me.dht_pk);
            if let Some(peer) = group.addpeer(ctx, pk, dht, PeerNumber(0), true, false) {
                let name = ctx.me.name.clone();
                group.setnick(ctx, peer, &name, false);
            }
        });
        Ok(number(index))
    }

    /// Leaves a conference for good (`del_groupchat`,
    /// `tox_conference_delete`): a kill-peer message to the group, then
    /// every connection released.
    pub fn delete(&mut self, now: Instant, c: ConferenceNumber) -> Result<(), ConferenceError> {
        self.touch(now);
        let index = self.index(c)?;
        self.with_group(now, index, |group, ctx| {
            let _ = group.send_message_group(ctx, MessageBody::KillPeer);
        });
        if let Some(slot) = self.groups.get_mut(index) {
            *slot = None;
        }
        while self.groups.last().is_some_and(Option::is_none) {
            self.groups.pop();
        }
        self.sync_connections();
        Ok(())
    }

    /// Leaves every conference for now, as c-toxcore does when the client
    /// shuts down (`kill_groupchats`): a freeze-peer message to each, so
    /// that members keep us frozen and take us back when we return. Save
    /// first: the conferences are gone afterwards.
    pub fn shutdown(&mut self, now: Instant) {
        self.touch(now);
        for index in 0..self.groups.len() {
            self.with_group(now, index, |group, ctx| {
                let _ = group.send_message_group(ctx, MessageBody::FreezePeer);
            });
        }
        self.groups.clear();
        self.sync_connections();
    }

    /// Invites a Messenger friend (`invite_friend`,
    /// `tox_conference_invite`): packet 96/0 over its session. Needs our
    /// peer number (a conference we joined counts once it is connected).
    pub fn invite(
        &mut self,
        c: ConferenceNumber,
        friend: PublicKey,
    ) -> Result<(), ConferenceError> {
        let index = self.index(c)?;
        let group = self.group(index)?;
        if group.status != Status::Connected {
            return Err(ConferenceError::NoConnection(c.0));
        }
        if !self.net.sessions.contains(&friend) {
            return Err(ConferenceError::FriendNotConnected(friend));
        }
        let invite = Invite {
            group_number: group_number(index),
            id: group.id,
        };
        let packet = ConferencePayload::Invite(InvitePacket::Invite(invite)).to_packet();
        self.out.transmits.push_back(ConferenceTransmit {
            to: friend,
            lossy: false,
            packet,
        });
        Ok(())
    }

    /// Accepts an invite from `friend` (`join_groupchat`,
    /// `tox_conference_join`): a new conference that waits for its peer
    /// list ([`ConferenceEvent::Connected`] when it came). Refused for a
    /// conference we are in already: c-toxcore answers an invite to one of
    /// those by itself, with a member accept (G4), when it arrives.
    pub fn join(
        &mut self,
        now: Instant,
        friend: PublicKey,
        invite: &Invite,
    ) -> Result<ConferenceNumber, ConferenceError> {
        self.touch(now);
        if !self.net.sessions.contains(&friend) {
            return Err(ConferenceError::FriendNotConnected(friend));
        }
        if let Some(existing) = self.find_id(&invite.id) {
            return Err(ConferenceError::Duplicate(number(existing).0));
        }
        let index = self.free_index()?;
        self.put(index, Group::new(Status::Valid, invite.id));
        let answered = self
            .with_group(now, index, |group, ctx| {
                group.respond_to_invite(ctx, friend, invite)
            })
            .unwrap_or(false);
        if !answered {
            if let Some(slot) = self.groups.get_mut(index) {
                *slot = None;
            }
            return Err(ConferenceError::FriendNotConnected(friend));
        }
        self.sync_connections();
        Ok(number(index))
    }

    /// Sends a chat message or action (`group_message_send`,
    /// `group_action_send`). It comes back as a
    /// [`ConferenceEvent::Message`] from us once a peer relays it.
    pub fn send_message(
        &mut self,
        now: Instant,
        c: ConferenceNumber,
        kind: MessageKind,
        text: &[u8],
    ) -> Result<(), ConferenceError> {
        self.touch(now);
        let index = self.index(c)?;
        let text = ChatText::new(text).map_err(|_| ConferenceError::InvalidLength {
            what: "conference message",
            len: text.len(),
            min: 1,
            max: MAX_GROUP_MESSAGE_DATA_LEN,
        })?;
        let body = match kind {
            MessageKind::Normal => MessageBody::Message(text),
            MessageKind::Action => MessageBody::Action(text),
        };
        let result = self
            .with_group(now, index, |group, ctx| group.send_message_group(ctx, body))
            .unwrap_or(Err(ConferenceError::NotFound(c.0)));
        self.sync_connections();
        result
    }

    /// Sets the title (`group_title_send`, `tox_conference_set_title`):
    /// kept even if it cannot be sent; sent unless we are alone.
    pub fn set_title(
        &mut self,
        now: Instant,
        c: ConferenceNumber,
        title: &[u8],
    ) -> Result<(), ConferenceError> {
        self.touch(now);
        let index = self.index(c)?;
        let title = Title::new(title).map_err(|_| ConferenceError::InvalidLength {
            what: "conference title",
            len: title.len(),
            min: 1,
            max: MAX_NAME_LENGTH,
        })?;
        let result = self
            .with_group(now, index, |group, ctx| {
                if group.title.as_ref() == Some(&title) {
                    return Ok(());
                }
                group.title = Some(title.clone());
                if group.members.active.len() == 1 {
                    return Ok(());
                }
                group.send_message_group(ctx, MessageBody::Title(title))
            })
            .unwrap_or(Err(ConferenceError::NotFound(c.0)));
        self.sync_connections();
        result
    }

    /// Sends a lossy packet (`send_group_lossy_packet`): `data` starts
    /// with the handler id (192 for group audio). It goes to the
    /// non-closest online connections and two closest ones; the lossy
    /// message number advances only if some connection took it.
    pub fn send_lossy(&mut self, c: ConferenceNumber, data: &[u8]) -> Result<(), ConferenceError> {
        let index = self.index(c)?;
        let bad_length = ConferenceError::InvalidLength {
            what: "conference lossy packet",
            len: data.len(),
            min: 1,
            max: MAX_LOSSY_DATA_LEN + 1,
        };
        let (&message_id, rest) = data.split_first().ok_or(bad_length.clone())?;
        let Self {
            groups, me, out, ..
        } = self;
        let group = groups
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or(ConferenceError::NotFound(c.0))?;
        let packet = LossyPacket::new(
            GroupNumber(0),
            group.peer_number,
            group.lossy_message_number,
            message_id,
            rest.to_vec(),
        )
        .map_err(|_| bad_length)?;
        let bytes = toxide_core::Encode::to_bytes(&packet);
        if group.send_lossy_all_connections(&me.real_pk, out, &bytes, None) == 0 {
            return Err(ConferenceError::FailSend(c.0));
        }
        group.lossy_message_number = group.lossy_message_number.wrapping_add(1);
        Ok(())
    }

    /// How many frozen peers conference `c` keeps
    /// (`group_set_max_frozen`, `tox_conference_set_max_offline`); the
    /// longest-silent beyond it go at once.
    pub fn set_max_offline(
        &mut self,
        c: ConferenceNumber,
        max: u32,
    ) -> Result<(), ConferenceError> {
        let index = self.index(c)?;
        let group = self
            .groups
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or(ConferenceError::NotFound(c.0))?;
        group.members.max_frozen = max;
        group.members.delete_old_frozen();
        Ok(())
    }

    // ---- getters for tox.h -------------------------------------------

    /// Our conferences, by number (`copy_chatlist`).
    pub fn list(&self) -> Vec<ConferenceNumber> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.is_some())
            .map(|(i, _)| number(i))
            .collect()
    }

    /// Text or audio/video (`group_get_type`).
    pub fn kind(&self, c: ConferenceNumber) -> Option<ConferenceType> {
        self.get(c).map(|g| g.id.conference_type)
    }

    /// The conference's type and 32-byte id (`conference_get_id`).
    pub fn id(&self, c: ConferenceNumber) -> Option<ConferenceId> {
        self.get(c).map(|g| g.id)
    }

    /// The conference with this 32-byte id, whatever its type
    /// (`conference_by_id`).
    pub fn by_id(&self, id: &[u8; GROUP_ID_LENGTH]) -> Option<ConferenceNumber> {
        self.groups
            .iter()
            .position(|g| g.as_ref().is_some_and(|g| &g.id.id == id))
            .map(number)
    }

    /// Whether we have our peer number in `c` (c-toxcore's "connected"
    /// status; `false` for a conference still waiting for its peer list).
    pub fn is_connected(&self, c: ConferenceNumber) -> bool {
        self.get(c).is_some_and(|g| g.status == Status::Connected)
    }

    /// How many group connections of `c` are online (diagnostics).
    pub fn online_connections(&self, c: ConferenceNumber) -> Option<usize> {
        self.get(c).map(|g| g.connections.count_online())
    }

    /// The title, if set (`group_title_get`).
    pub fn title(&self, c: ConferenceNumber) -> Option<&[u8]> {
        self.get(c)?.title.as_ref().map(Title::as_bytes)
    }

    /// How many active peers, ourselves included (`group_number_peers`).
    pub fn peer_count(&self, c: ConferenceNumber) -> Option<u32> {
        self.get(c)
            .map(|g| u32::try_from(g.members.active.len()).unwrap_or(u32::MAX))
    }

    /// An active peer's name (`group_peername`).
    pub fn peer_name(&self, c: ConferenceNumber, peer: PeerIndex) -> Option<&[u8]> {
        self.peer(c, peer).map(|p| p.nick.as_bytes())
    }

    /// An active peer's long-term key (`group_peer_pubkey`).
    pub fn peer_public_key(&self, c: ConferenceNumber, peer: PeerIndex) -> Option<PublicKey> {
        self.peer(c, peer).map(|p| p.real_pk)
    }

    /// Whether an active peer is us (`group_peernumber_is_ours`); an
    /// error without our peer number yet.
    pub fn peer_is_ours(
        &self,
        c: ConferenceNumber,
        peer: PeerIndex,
    ) -> Result<bool, ConferenceError> {
        let group = self.get(c).ok_or(ConferenceError::NotFound(c.0))?;
        let found = self.peer(c, peer).ok_or(ConferenceError::PeerNotFound {
            conference: c.0,
            peer,
        })?;
        if group.status != Status::Connected {
            return Err(ConferenceError::NoConnection(c.0));
        }
        Ok(found.peer_number == group.peer_number)
    }

    /// The index of the active peer with long-term key `pk`.
    pub fn peer_index_of(&self, c: ConferenceNumber, pk: &PublicKey) -> Option<PeerIndex> {
        self.get(c)?
            .members
            .index_of(pk)
            .map(super::group::peer_index)
    }

    /// How many frozen ("offline") peers (`group_number_peers` frozen).
    pub fn offline_peer_count(&self, c: ConferenceNumber) -> Option<u32> {
        self.get(c)
            .map(|g| u32::try_from(g.members.frozen.len()).unwrap_or(u32::MAX))
    }

    /// A frozen peer's name.
    pub fn offline_peer_name(&self, c: ConferenceNumber, peer: PeerIndex) -> Option<&[u8]> {
        self.frozen(c, peer).map(|p| p.peer.nick.as_bytes())
    }

    /// A frozen peer's long-term key.
    pub fn offline_peer_public_key(
        &self,
        c: ConferenceNumber,
        peer: PeerIndex,
    ) -> Option<PublicKey> {
        self.frozen(c, peer).map(|p| p.peer.real_pk)
    }

    /// When a frozen peer was last active, in seconds
    /// (`group_frozen_last_active`; see [`Conferences::set_unix_time`]).
    pub fn offline_peer_last_active(&self, c: ConferenceNumber, peer: PeerIndex) -> Option<u64> {
        self.frozen(c, peer).map(|p| p.last_active)
    }

    // ---- inputs -------------------------------------------------------

    /// Packet 96 from an online Messenger friend
    /// (`handle_friend_invite_packet`). An invite to a conference we are
    /// not in becomes [`ConferenceEvent::Invited`]; one to a conference we
    /// are a member of is answered with a member accept at once (G4); an
    /// accept of our invite makes the friend a member.
    pub fn handle_friend_packet(
        &mut self,
        now: Instant,
        friend: PublicKey,
        packet: &ConferencePacket,
    ) {
        self.touch(now);
        let Ok(ConferencePayload::Invite(invite)) = ConferencePayload::from_packet(packet) else {
            return;
        };
        match invite {
            InvitePacket::Invite(invite) => match self.find_id(&invite.id) {
                None => self.out.events.push_back(ConferenceEvent::Invited {
                    friend,
                    kind: invite.id.conference_type,
                    invite,
                }),
                Some(index) => {
                    self.with_group(now, index, |group, ctx| {
                        if group.status == Status::Connected {
                            group.respond_to_invite(ctx, friend, &invite);
                        }
                    });
                }
            },
            InvitePacket::Accept(accept) => {
                let index = usize::from(accept.inviter_group_number.0);
                self.with_group(now, index, |group, ctx| {
                    if group.id == accept.id {
                        group.handle_accept(ctx, friend, &accept);
                    }
                });
            }
        }
        self.sync_connections();
    }

    /// Packets 97–100 and 199 over the session with `from`, friend or not
    /// (`g_handle_packet`, `handle_lossy`). Anything malformed, for a
    /// conference we do not have, or (except online and rejoin packets)
    /// from a peer we hold no connection to in it, is dropped.
    pub fn handle_packet(&mut self, now: Instant, from: PublicKey, packet: &ConferencePacket) {
        self.touch(now);
        match packet.kind() {
            ConferencePacketKind::Message => self.handle_message_packet(now, from, packet.data()),
            _ => {
                let Ok(payload) = ConferencePayload::from_packet(packet) else {
                    return;
                };
                match payload {
                    ConferencePayload::Online(online) => {
                        if let Some(index) = self.find_id(&online.id) {
                            self.with_group(now, index, |group, ctx| {
                                group.handle_online(ctx, from, online.group_number);
                            });
                        }
                    }
                    ConferencePayload::Rejoin(rejoin) => {
                        if let Some(index) = self.find_id(&rejoin.id) {
                            self.with_group(now, index, |group, ctx| {
                                group.handle_rejoin(ctx, from);
                            });
                        }
                    }
                    ConferencePayload::Direct(direct) => {
                        let index = usize::from(direct.group_number.0);
                        self.with_group(now, index, |group, ctx| {
                            if let Some(slot) = group.connections.find(&from) {
                                group.handle_direct(ctx, slot, direct.body);
                            }
                        });
                    }
                    ConferencePayload::Lossy(lossy) => {
                        let index = usize::from(lossy.group_number.0);
                        let data = packet.data();
                        self.with_group(now, index, |group, ctx| {
                            if let Some(slot) = group.connections.find(&from) {
                                group.handle_lossy(ctx, slot, data, lossy);
                            }
                        });
                    }
                    ConferencePayload::Invite(_) | ConferencePayload::Message(_) => {}
                }
            }
        }
        self.sync_connections();
    }

    /// A message packet: the header is read on its own, because c-toxcore
    /// counts a message against its author even when it will not act on
    /// the body.
    fn handle_message_packet(&mut self, now: Instant, from: PublicKey, data: &[u8]) {
        let mut reader = Reader::new(data);
        let (Ok(group), Ok(peer_number), Ok(message_number), Ok(message_id)) = (
            GroupNumber::decode(&mut reader),
            PeerNumber::decode(&mut reader),
            reader.u32_be("conference message number"),
            reader.u8("conference message id"),
        ) else {
            return;
        };
        let header = MessageHeader {
            peer_number,
            message_number,
            message_id,
        };
        let body = MessagePacket::from_bytes(data).ok().map(|p| p.body);
        self.with_group(now, usize::from(group.0), |group, ctx| {
            if let Some(slot) = group.connections.find(&from) {
                group.handle_message(ctx, slot, data, header, body);
            }
        });
    }

    /// The session to `peer` came up or went down (friend connection
    /// status). Up: we ask back any conference's frozen peer with that key
    /// (rejoin, G8), then say online on our connections to it. Down: those
    /// connections wait again; a conference left with none online freezes
    /// everyone.
    pub fn set_connected(&mut self, now: Instant, peer: PublicKey, connected: bool) {
        self.touch(now);
        let changed = if connected {
            self.net.sessions.insert(peer)
        } else {
            self.net.dht_keys.remove(&peer);
            self.net.sessions.remove(&peer)
        };
        if !changed {
            return;
        }
        if connected {
            for index in 0..self.groups.len() {
                self.with_group(now, index, |group, ctx| {
                    if group.members.frozen_index_of(&peer).is_some() {
                        group.try_send_rejoin(ctx, peer);
                    }
                });
            }
        }
        for index in 0..self.groups.len() {
            self.with_group(now, index, |group, ctx| {
                group.session_changed(ctx, peer, connected);
            });
        }
        self.sync_connections();
    }

    /// The DHT key the session with `peer` uses (c-toxcore reads it from
    /// the friend connection). It goes into the new-peer message when we
    /// introduce `peer`, and replaces what a rejoining peer had on file;
    /// without it we use what the conference heard last (or zeros for a
    /// friend never seen in a conference).
    pub fn set_peer_dht_pk(&mut self, peer: PublicKey, dht_pk: PublicKey) {
        self.net.dht_keys.insert(peer, dht_pk);
    }

    /// Periodic work for every member conference: closest connections,
    /// pings, freezing, cleaning, our name (`do_groupchats`).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        for index in 0..self.groups.len() {
            self.with_group(now, index, Group::maintain);
        }
        self.sync_connections();
    }

    /// When [`Conferences::handle_timeout`] wants calling next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let now = self.last_now?;
        self.groups
            .iter()
            .flatten()
            .filter_map(|g| g.deadline(now))
            .min()
    }

    // ---- outputs ------------------------------------------------------

    /// The next packet to send.
    pub fn poll_transmit(&mut self) -> Option<ConferenceTransmit> {
        self.out.transmits.pop_front()
    }

    /// The next change in the connections we hold.
    pub fn poll_connection(&mut self) -> Option<ConnectionRequest> {
        self.requests.pop_front()
    }

    /// The next event for the client.
    pub fn poll_event(&mut self) -> Option<ConferenceEvent> {
        self.out.events.pop_front()
    }

    // ---- persistence --------------------------------------------------

    /// The conferences section of the save (`conferences_save`): every
    /// conference we are a member of, with every peer but us, and our
    /// message numbers written [`super::SAVE_OFFSET_MESSAGE_NUMBER`]
    /// (lossy: [`super::SAVE_OFFSET_LOSSY_MESSAGE_NUMBER`]) ahead, so that
    /// after a restart from this save our messages are not taken for old
    /// ones.
    pub fn save(&self) -> SavedConferences {
        let own = self.me.real_pk;
        let conferences = self
            .groups
            .iter()
            .flatten()
            .filter(|g| g.status == Status::Connected)
            .map(|g| {
                let active = g
                    .members
                    .active
                    .iter()
                    .map(|p| (p, self.clock.secs(p.last_active)));
                let frozen = g.members.frozen.iter().map(|f| (&f.peer, f.last_active));
                SavedConference {
                    id: g.id,
                    message_number: saved_message_number(g.message_number),
                    lossy_message_number: saved_lossy_message_number(g.lossy_message_number),
                    peer_number: g.peer_number,
                    title: g.title.clone(),
                    peers: active
                        .chain(frozen)
                        .filter(|(p, _)| p.real_pk != own)
                        .map(|(p, last_active)| SavedPeer {
                            real_pk: p.real_pk,
                            temp_pk: p.temp_pk,
                            peer_number: p.peer_number,
                            last_active,
                            name: p.nick.clone(),
                        })
                        .collect(),
                }
            })
            .collect();
        SavedConferences(conferences)
    }

    /// Restores saved conferences (`load_conferences`): members again,
    /// with the saved message numbers as they are, every saved peer
    /// frozen, and us as the only active peer. They come back to life when
    /// a session to one of those peers comes up ([`Conferences::set_connected`]
    /// sends it a rejoin, G8). Conferences beyond the 65536 numbers are
    /// dropped.
    pub fn load(&mut self, now: Instant, saved: SavedConferences) {
        self.touch(now);
        for conference in saved.0 {
            let Ok(index) = self.free_index() else {
                break;
            };
            let mut group = Group::new(Status::Connected, conference.id);
            group.message_number = conference.message_number;
            group.lossy_message_number = conference.lossy_message_number;
            group.peer_number = conference.peer_number;
            group.title = conference.title;
            let count = u32::try_from(conference.peers.len()).unwrap_or(u32::MAX);
            group.members.max_frozen = group.members.max_frozen.max(count);
            group.members.frozen = conference
                .peers
                .into_iter()
                .map(|p| {
                    let mut peer = Peer::new(p.real_pk, p.temp_pk, p.peer_number, now);
                    peer.nick = p.name;
                    FrozenPeer {
                        peer,
                        last_active: p.last_active,
                    }
                })
                .collect();
            self.put(index, group);
            self.with_group(now, index, |group, ctx| {
                let (pk, dht, number) = (ctx.me.real_pk, ctx.me.dht_pk, group.peer_number);
                if let Some(peer) = group.addpeer(ctx, pk, dht, number, true, false) {
                    let name = ctx.me.name.clone();
                    group.setnick(ctx, peer, &name, false);
                }
            });
        }
        self.sync_connections();
    }

    // ---- internals ----------------------------------------------------

    fn touch(&mut self, now: Instant) {
        self.clock.touch(now);
        self.last_now = Some(self.last_now.map_or(now, |last| last.max(now)));
    }

    /// The lowest free number (`create_group_chat`).
    fn free_index(&self) -> Result<usize, ConferenceError> {
        let index = self
            .groups
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.groups.len());
        if index >= MAX_CONFERENCES {
            return Err(ConferenceError::TooMany);
        }
        Ok(index)
    }

    fn put(&mut self, index: usize, group: Group) {
        if index >= self.groups.len() {
            self.groups.resize_with(index + 1, || None);
        }
        if let Some(slot) = self.groups.get_mut(index) {
            *slot = Some(group);
        }
    }

    /// The conference with this type and id (`get_group_num`).
    fn find_id(&self, id: &ConferenceId) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.as_ref().is_some_and(|g| &g.id == id))
    }

    fn index(&self, c: ConferenceNumber) -> Result<usize, ConferenceError> {
        let index = usize::try_from(c.0).map_err(|_| ConferenceError::NotFound(c.0))?;
        self.group(index)?;
        Ok(index)
    }

    fn group(&self, index: usize) -> Result<&Group, ConferenceError> {
        self.groups
            .get(index)
            .and_then(Option::as_ref)
            .ok_or(ConferenceError::NotFound(number(index).0))
    }

    fn get(&self, c: ConferenceNumber) -> Option<&Group> {
        self.groups.get(usize::try_from(c.0).ok()?)?.as_ref()
    }

    fn peer(&self, c: ConferenceNumber, peer: PeerIndex) -> Option<&Peer> {
        self.get(c)?.members.active.get(usize::try_from(peer).ok()?)
    }

    fn frozen(&self, c: ConferenceNumber, peer: PeerIndex) -> Option<&FrozenPeer> {
        self.get(c)?.members.frozen.get(usize::try_from(peer).ok()?)
    }

    /// Runs `f` on conference `index` with the shared context.
    fn with_group<R>(
        &mut self,
        now: Instant,
        index: usize,
        f: impl FnOnce(&mut Group, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let Self {
            me,
            rng,
            net,
            clock,
            out,
            groups,
            ..
        } = self;
        let group = groups.get_mut(index)?.as_mut()?;
        let mut ctx = Ctx {
            now,
            conference: number(index),
            group_number: group_number(index),
            me,
            net,
            clock,
            rng,
            out,
        };
        Some(f(group, &mut ctx))
    }

    /// Turns the connections every conference holds into one lock per
    /// peer: a [`ConnectionRequest::Want`] for a peer the first conference
    /// now needs, a [`ConnectionRequest::Release`] for one none needs any
    /// more.
    fn sync_connections(&mut self) {
        let mut now_wanted: BTreeMap<PublicKey, Option<PublicKey>> = BTreeMap::new();
        for group in self.groups.iter().flatten() {
            for (pk, dht) in group.connections.peers() {
                let entry = now_wanted.entry(pk).or_insert(dht);
                if entry.is_none() {
                    *entry = dht;
                }
            }
        }
        for pk in self.wanted.keys() {
            if !now_wanted.contains_key(pk) {
                self.requests
                    .push_back(ConnectionRequest::Release { real_pk: *pk });
            }
        }
        for (pk, dht) in &now_wanted {
            if !self.wanted.contains_key(pk) {
                self.requests.push_back(ConnectionRequest::Want {
                    real_pk: *pk,
                    dht_pk: dht.or_else(|| self.net.dht_keys.get(pk).copied()),
                });
            }
        }
        self.wanted = now_wanted;
    }
}

fn number(index: usize) -> ConferenceNumber {
    ConferenceNumber(u32::try_from(index).unwrap_or(u32::MAX))
}

fn group_number(index: usize) -> GroupNumber {
    GroupNumber(u16::try_from(index).unwrap_or(u16::MAX))
}

#[cfg(test)]
impl Conferences {
    /// Each group connection of `c`: the peer, whether online, and
    /// whether kept as closest, introducing, introducer.
    pub(super) fn connection_states(
        &self,
        c: ConferenceNumber,
    ) -> Vec<(PublicKey, bool, [bool; 3])> {
        use super::connections::{LinkState, Reasons};
        self.get(c)
            .map(|g| {
                g.connections
                    .iter()
                    .map(|(_, conn)| {
                        (
                            conn.real_pk,
                            conn.state == LinkState::Online,
                            [Reasons::CLOSEST, Reasons::INTRODUCING, Reasons::INTRODUCER]
                                .map(|r| conn.reasons.contains(r)),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
