//! The conferences in the stack (checklist L8; c-toxcore `group.c` on top
//! of `friend_connection.c`): [`Conferences`] is sans-IO like every layer,
//! and this is where its inputs come from and its outputs go.
//!
//! - Packets 97–100 and lossy 199 from any session go to the conferences,
//!   never to the Messenger; packet 96 (invites) only from a Messenger
//!   friend that is online, as c-toxcore's Messenger hands it on.
//! - Sessions coming up or going down are told to the conferences, with
//!   the DHT key each session uses.
//! - The connections the conferences want become friend connections held
//!   for them ([`Stack::want_peer`], [`Stack::release_peer`]); their
//!   packets leave over those sessions; their events become
//!   [`StackEvent::Conference`].

use std::time::Instant;

use bytes::Bytes;
use toxide_core::{Decode, PublicKey};
use toxide_messenger::conference::{ConferenceEvent, ConferenceTransmit, ConnectionRequest};
use toxide_messenger::packet::{ConferencePacket, ConferencePacketKind};

use super::{Stack, StackEvent};

impl Stack {
    /// Takes a session's packet if it is a conference packet; `false`
    /// leaves it to the Messenger.
    pub(super) fn conference_packet(&mut self, now: Instant, from: PublicKey, data: &[u8]) -> bool {
        let Some(kind) = data
            .first()
            .and_then(|id| ConferencePacketKind::from_packet_id(*id))
        else {
            return false;
        };
        let from_online_friend = || {
            self.messenger.as_ref().is_some_and(|m| {
                m.friend_number(&from)
                    .is_some_and(|number| m.is_online(number))
            })
        };
        // Invites come from friends past the ONLINE gate only.
        let invite = kind == ConferencePacketKind::Invite;
        if invite && !from_online_friend() {
            return true;
        }
        let Some(conferences) = &mut self.conferences else {
            return true;
        };
        let Ok(packet) = ConferencePacket::from_bytes(data) else {
            return true;
        };
        if invite {
            conferences.handle_friend_packet(now, from, &packet);
        } else {
            conferences.handle_packet(now, from, &packet);
        }
        true
    }

    /// A session came up or went down: the conferences' connections to
    /// that peer follow it.
    pub(super) fn conference_session(&mut self, now: Instant, peer: PublicKey, connected: bool) {
        let dht_pk = self.friends.get(&peer).and_then(|s| s.dht_pk);
        let Some(conferences) = &mut self.conferences else {
            return;
        };
        if let (true, Some(dht_pk)) = (connected, dht_pk) {
            conferences.set_peer_dht_pk(peer, dht_pk);
        }
        conferences.set_connected(now, peer, connected);
    }

    /// Moves what the conferences produced: connections to hold or let
    /// go, packets to send, events for the application.
    pub(super) fn pump_conferences(&mut self, now: Instant) {
        let Some(conferences) = &mut self.conferences else {
            return;
        };
        let mut requests = Vec::new();
        while let Some(request) = conferences.poll_connection() {
            requests.push(request);
        }
        let mut transmits = Vec::new();
        while let Some(transmit) = conferences.poll_transmit() {
            transmits.push(transmit);
        }
        while let Some(event) = conferences.poll_event() {
            let event = match event {
                ConferenceEvent::Invited { friend, invite, .. } => {
                    // Invites come from friends only; the application
                    // knows them by number.
                    let number = self
                        .messenger
                        .as_ref()
                        .and_then(|m| m.friend_number(&friend));
                    let Some(friend) = number else { continue };
                    StackEvent::ConferenceInvite { friend, invite }
                }
                event => StackEvent::Conference(event),
            };
            self.events.push_back(event);
        }
        for request in requests {
            match request {
                ConnectionRequest::Want { real_pk, dht_pk } => {
                    if let Err(error) = self.want_peer(now, real_pk, dht_pk) {
                        tracing::debug!(%error, "no connection for a conference peer");
                    }
                }
                ConnectionRequest::Release { real_pk } => self.release_peer(&real_pk),
            }
        }
        for transmit in transmits {
            self.send_conference(transmit);
        }
    }

    /// One conference packet over the session with its peer (dropped if
    /// there is none: the conference resends what matters on its own
    /// schedule, as c-toxcore's does).
    fn send_conference(&mut self, transmit: ConferenceTransmit) {
        let id = self.friends.get(&transmit.to).and_then(|s| s.connection);
        let (Some(id), Some(net_crypto)) = (id, &mut self.net_crypto) else {
            return;
        };
        let bytes = Bytes::from(toxide_core::Encode::to_bytes(&transmit.packet));
        let _ = if transmit.lossy {
            net_crypto.send_lossy(id, &bytes)
        } else {
            net_crypto.send_lossless(id, bytes).map(|_| ())
        };
    }
}
