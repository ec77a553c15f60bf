//! Conferences through the [`Tox`] handle (tox.h's `tox_conference_*`):
//! numbers as c-toxcore hands them out, peers by index within a
//! conference (valid until the next
//! [`ToxEvent::ConferencePeerListChanged`](super::ToxEvent::ConferencePeerListChanged)), events in
//! the same stream as everything else.

use std::time::Instant;

use toxide_core::PublicKey;
use toxide_messenger::conference::{
    ConferenceError, ConferenceId, ConferenceNumber, ConferenceType, Conferences, Invite, PeerIndex,
};
use toxide_messenger::messenger::{FriendNumber, MessengerError};
use toxide_messenger::packet::MessageKind;

use super::{Tox, ToxError};

/// One peer of a conference, as [`Tox::conference`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferencePeer {
    /// Its index now (tox.h's `peer_number`).
    pub index: PeerIndex,
    /// Its long-term key.
    pub public_key: PublicKey,
    /// Its name (may be empty).
    pub name: Vec<u8>,
    /// Whether it is us.
    pub is_ours: bool,
}

/// What we know of one conference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceInfo {
    /// Its number.
    pub number: ConferenceNumber,
    /// Text or audio/video.
    pub kind: ConferenceType,
    /// Its id (tox.h `tox_conference_get_id`).
    pub id: ConferenceId,
    /// Its title (empty until one is set or heard).
    pub title: Vec<u8>,
    /// Whether we have our place in it and can send.
    pub connected: bool,
    /// The peers online now, us included.
    pub peers: Vec<ConferencePeer>,
    /// Peers known but not heard from lately (frozen), by key and name.
    pub offline_peers: Vec<(PublicKey, Vec<u8>)>,
}

impl Tox {
    /// Starts a text conference of which we are the only member
    /// (`tox_conference_new`).
    pub async fn conference_new(&self) -> Result<ConferenceNumber, ToxError> {
        self.conference_call(|c, now, _| Ok(c.create(now, ConferenceType::Text)?))
            .await
    }

    /// Leaves `conference`: the others see us go, and its number becomes
    /// free (`tox_conference_delete`).
    pub async fn conference_delete(&self, conference: ConferenceNumber) -> Result<(), ToxError> {
        self.conference_call(move |c, now, _| Ok(c.delete(now, conference)?))
            .await
    }

    /// Invites friend `friend`, who must be online
    /// (`tox_conference_invite`).
    pub async fn conference_invite(
        &self,
        friend: FriendNumber,
        conference: ConferenceNumber,
    ) -> Result<(), ToxError> {
        self.conference_call(move |c, _, key| Ok(c.invite(conference, key(friend)?)?))
            .await
    }

    /// Joins the conference friend `friend` invited us to (the invite of
    /// a [`ToxEvent::ConferenceInvite`](super::ToxEvent::ConferenceInvite))
    /// (`tox_conference_join`).
    pub async fn conference_join(
        &self,
        friend: FriendNumber,
        invite: Invite,
    ) -> Result<ConferenceNumber, ToxError> {
        self.conference_call(move |c, now, key| Ok(c.join(now, key(friend)?, &invite)?))
            .await
    }

    /// Sends a message or action to everyone in `conference`
    /// (`tox_conference_send_message`).
    pub async fn conference_send(
        &self,
        conference: ConferenceNumber,
        kind: MessageKind,
        text: impl Into<Vec<u8>>,
    ) -> Result<(), ToxError> {
        let text = text.into();
        self.conference_call(move |c, now, _| Ok(c.send_message(now, conference, kind, &text)?))
            .await
    }

    /// Sets the title of `conference` for everyone
    /// (`tox_conference_set_title`).
    pub async fn conference_set_title(
        &self,
        conference: ConferenceNumber,
        title: impl Into<Vec<u8>>,
    ) -> Result<(), ToxError> {
        let title = title.into();
        self.conference_call(move |c, now, _| Ok(c.set_title(now, conference, &title)?))
            .await
    }

    /// Our conferences (`tox_conference_get_chatlist`).
    pub async fn conference_list(&self) -> Result<Vec<ConferenceNumber>, ToxError> {
        self.conference_call(|c, _, _| Ok(c.list())).await
    }

    /// What we know of `conference`: title, peers, offline peers.
    pub async fn conference(
        &self,
        conference: ConferenceNumber,
    ) -> Result<ConferenceInfo, ToxError> {
        self.conference_call(move |c, _, _| {
            let missing = || ToxError::Conference(ConferenceError::NotFound(conference.0));
            let kind = c.kind(conference).ok_or_else(missing)?;
            let id = c.id(conference).ok_or_else(missing)?;
            let count = c.peer_count(conference).unwrap_or(0);
            let peers = (0..count)
                .filter_map(|index| {
                    Some(ConferencePeer {
                        index,
                        public_key: c.peer_public_key(conference, index)?,
                        name: c.peer_name(conference, index).unwrap_or_default().to_vec(),
                        is_ours: c.peer_is_ours(conference, index).unwrap_or(false),
                    })
                })
                .collect();
            let offline = c.offline_peer_count(conference).unwrap_or(0);
            let offline_peers = (0..offline)
                .filter_map(|index| {
                    let key = c.offline_peer_public_key(conference, index)?;
                    let name = c.offline_peer_name(conference, index).unwrap_or_default();
                    Some((key, name.to_vec()))
                })
                .collect();
            Ok(ConferenceInfo {
                number: conference,
                kind,
                id,
                title: c.title(conference).unwrap_or_default().to_vec(),
                connected: c.is_connected(conference),
                peers,
                offline_peers,
            })
        })
        .await
    }

    /// Runs `f` on the conferences with the clock and a lookup of
    /// friends' keys by number, then lets what it produced go out.
    async fn conference_call<T: Send + 'static>(
        &self,
        f: impl FnOnce(
            &mut Conferences,
            Instant,
            &dyn Fn(FriendNumber) -> Result<PublicKey, ToxError>,
        ) -> Result<T, ToxError>
        + Send
        + 'static,
    ) -> Result<T, ToxError> {
        self.call(move |stack, now| {
            // Disjoint fields: the friend lookup reads the messenger while
            // the conferences change.
            let messenger = stack.messenger.as_ref();
            let key = |friend: FriendNumber| {
                messenger
                    .and_then(|m| m.friend_key(friend))
                    .ok_or(ToxError::Messenger(MessengerError::NoFriend(friend)))
            };
            let out = match stack.conferences.as_mut() {
                Some(conferences) => f(conferences, now, &key),
                // Only a bootstrap node's stack lacks them, and it has no
                // `Tox` handle.
                None => Err(ToxError::Conference(ConferenceError::NotFound(0))),
            };
            stack.flush(now);
            out
        })
        .await?
    }
}
