//! Every layer of a Tox node as one sans-IO state machine: the type the
//! tokio driver, the simulator (and later the C API's synchronous driver)
//! all run.
//!
//! The composition lives here, above every layer, because no layer holds
//! another: the stack owns the [`Dht`], the [`OnionServer`] every node
//! provides and, in a client, the [`OnionClient`] and [`NetCrypto`]; it
//! dispatches datagrams by their first byte (checklist §0), gives each
//! layer what it needs of the ones below as an argument (the onion borrows
//! the DHT for close nodes, DHT-PK routing and searches), and turns one
//! layer's events into another's input. Calls go down, events come up.
//!
//! Friend sessions ([`Stack::add_friend`]) are the events' main route
//! today: the onion client learns a friend's DHT key, the DHT finds the
//! address that key answers from, and net_crypto opens (or accepts) a
//! session there; when the session ends it is opened again while the
//! friend's DHT key is fresh: until [`FRIEND_DHT_TIMEOUT`] after the last
//! news of it, after which the key and its DHT search are dropped until
//! the onion brings news again. This is the core of c-toxcore's
//! `friend_connection` (checklist F1). The [`Messenger`]
//! rides on those sessions: the stack tells it when one comes up, carries
//! a packet or an acknowledgement, or goes down, and lends it the
//! sessions to send on.
//!
//! A client may also keep connections to TCP relays ([`relays`], checklist
//! R13): each friend's DHT key is asked for on every relay, packets that
//! come through relays enter net_crypto as [`Path::Tcp`], and net_crypto's
//! packets for that path leave through the relays, so a session moves
//! between direct UDP and relays without noticing (N15). The driver only
//! moves the relays' bytes ([`Stack::poll_relay_command`]). Friends with a
//! session are told our relays every [`SHARE_RELAYS_INTERVAL`] (F3), and
//! a client that uses relays connects to the relays friends name there and
//! in their DHT-PK announcements.

mod conference;
pub mod relays;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use toxide_core::PublicKey;
use toxide_dht::{Dht, Transmit};
use toxide_messenger::conference::{ConferenceEvent, Conferences, Invite};
use toxide_messenger::friend_connection::Keepalive;
use toxide_messenger::messenger::{self, Messenger, Sessions};
use toxide_messenger::packet::{Alive, PACKET_ID_SHARE_RELAYS, ShareRelays};
use toxide_net_crypto::{ConnectionId, NetCrypto, Path};
use toxide_onion::client::{ClientEvent, FriendError, OnionClient};
use toxide_onion::server::OnionServer;

use relays::{RelayCommand, RelayEvent, RelayId, Relays};

/// Something the stack reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackEvent {
    /// From the DHT (DHT-PK requests are consumed by the onion client when
    /// there is one).
    Dht(toxide_dht::Event),
    /// From the onion client.
    Onion(ClientEvent),
    /// From net_crypto, for a friend's session.
    Session {
        /// The friend's long-term key.
        friend: PublicKey,
        /// What happened.
        event: toxide_net_crypto::Event,
    },
    /// From the messenger: what friends said and did.
    Messenger(messenger::Event),
    /// How we are connected to the network changed (tox.h's self
    /// connection status).
    SelfConnection(Connection),
    /// How a friend is connected changed: online or offline (the
    /// messenger's `ConnectionStatus` comes just before), or moved
    /// between a relay and direct UDP (tox.h's friend connection status).
    FriendConnection {
        /// Who.
        friend: messenger::FriendNumber,
        /// How now.
        connection: Connection,
    },
    /// From the conferences; invites come as [`StackEvent::ConferenceInvite`].
    Conference(ConferenceEvent),
    /// A friend invites us to a conference (the conferences' `Invited`,
    /// with the friend's number).
    ConferenceInvite {
        /// Who invites.
        friend: messenger::FriendNumber,
        /// What to join with.
        invite: Invite,
    },
    /// A file offer (the messenger's `FileReceive`) the `Tox` API holds a
    /// handle for, with the driver's number for that transfer: commands
    /// for it name the number, so they never reach a later file in the
    /// same slot.
    FileOffered {
        /// The driver's number for the transfer.
        transfer: u64,
        /// The messenger's `FileReceive`.
        event: messenger::Event,
    },
}

/// How we, or a friend, are connected (tox.h `Tox_Connection`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Connection {
    /// Not at all.
    #[default]
    None,
    /// Through TCP relays only.
    Tcp,
    /// Over UDP: for us, the DHT has good nodes; for a friend, its
    /// packets come directly.
    Udp,
}

impl Connection {
    /// Whether connected at all.
    pub const fn is_connected(self) -> bool {
        !matches!(self, Self::None)
    }
}

impl std::fmt::Display for Connection {
    /// `none`, `tcp` or `udp`, as the test peers and examples print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// How long a friend's DHT key is kept without news while no session
/// with them is up (c-toxcore `FRIEND_DHT_TIMEOUT`, its DHT's
/// `BAD_NODE_TIMEOUT`: 122 s). Until then a session that ends is opened
/// again; after it the key, its DHT search and the reopening stop until
/// the onion (or the friend's own session) brings the key again, so a
/// friend who is gone stops costing traffic.
pub const FRIEND_DHT_TIMEOUT: Duration = toxide_dht::constants::BAD_NODE_TIMEOUT;

/// How often a friend with a session is told our connected relays
/// (checklist F3, **SPEC≠CODE**: c-toxcore's `SHARE_RELAYS_INTERVAL` is
/// 120 s, the spec says 5 min): it binds them to the session, so either
/// side can reach the other there when direct UDP stops.
pub const SHARE_RELAYS_INTERVAL: Duration = Duration::from_secs(120);

/// What the stack knows of one friend's session: c-toxcore's
/// `Friend_Conn` (checklist F1; the relays a friend is reached by live in
/// [`Relays`], keyed by its DHT key).
#[derive(Debug, Clone, Default)]
struct FriendSession {
    /// The friend's DHT key while it is fresh (`dht_temp_pk`); the stack
    /// holds one DHT search for it (`dht_lock`).
    dht_pk: Option<PublicKey>,
    /// When the key was last news (`dht_pk_lastrecv`): learned or
    /// changed, or a session that was up ended.
    dht_pk_at: Option<Instant>,
    /// Where the friend last answered from, and when (`dht_ip_port`,
    /// `dht_ip_port_lastrecv`): a new session goes there while it is less
    /// than [`FRIEND_DHT_TIMEOUT`] old and the DHT knows no better.
    addr: Option<(SocketAddr, Instant)>,
    /// The net_crypto connection, while there is one.
    connection: Option<ConnectionId>,
    /// Whether that connection is up (`FRIENDCONN_STATUS_CONNECTED`): the
    /// key does not go stale meanwhile.
    established: bool,
    /// The onion client's own search for this key, which the stack ended
    /// when the key went stale (the client keeps the key, and searches
    /// again only for a different one); resumed when news of the key
    /// arrives.
    paused_search: Option<PublicKey>,
    /// When our relays last went to the friend over the current session
    /// (`share_relays_lastsent`); `None`: not yet, due as soon as we have
    /// a relay.
    relays_shared_at: Option<Instant>,
    /// Who keeps this connection (c-toxcore's `lock_count`): the session
    /// lives while either does.
    holders: Holders,
}

/// Who keeps a friend connection (checklist F1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Holders {
    /// A Messenger friend ([`Stack::add_friend`]).
    friend: bool,
    /// The conferences ([`Stack::want_peer`]): a peer met in a conference
    /// need not be a friend.
    conference: bool,
}

impl Holders {
    fn any(self) -> bool {
        self.friend || self.conference
    }
}

impl FriendSession {
    /// When the DHT key goes stale, if it can.
    fn dht_pk_expires(&self) -> Option<Instant> {
        if self.established || self.dht_pk.is_none() {
            return None;
        }
        self.dht_pk_at?.checked_add(FRIEND_DHT_TIMEOUT)
    }

    /// When our relays are next due to this friend, if it has a session
    /// and had a share on it (see [`FriendSession::relays_shared_at`]).
    fn share_due(&self) -> Option<Instant> {
        if !self.established || self.connection.is_none() {
            return None;
        }
        self.relays_shared_at?.checked_add(SHARE_RELAYS_INTERVAL)
    }

    /// The remembered address, if it is still fresh at `now`.
    fn fresh_addr(&self, now: Instant) -> Option<SocketAddr> {
        self.addr
            .filter(|(_, at)| now.saturating_duration_since(*at) < FRIEND_DHT_TIMEOUT)
            .map(|(addr, _)| addr)
    }
}

/// The layers of one node.
#[derive(Debug)]
pub struct Stack {
    /// The DHT.
    pub dht: Dht,
    /// The onion relay and announce service; `None` serves nothing.
    pub server: Option<OnionServer>,
    /// The onion client; `None` on a bootstrap node.
    pub client: Option<OnionClient>,
    /// Encrypted sessions with friends; `None` on a bootstrap node.
    pub net_crypto: Option<NetCrypto>,
    /// Friends by number and what passes between us; present with
    /// net_crypto.
    pub messenger: Option<Messenger>,
    /// The TCP relays a client keeps connections to; `None` uses none.
    pub relays: Option<Relays>,
    /// The conferences (old group chats); present with the messenger
    /// once given ([`Stack::with_conferences`]).
    pub conferences: Option<Conferences>,
    /// Whether the stack opens sessions to friends itself (the default),
    /// or only accepts the sessions friends open: each side opens as soon
    /// as it knows the other's DHT key and address, so the accepting side
    /// is exercised on its own only with this off (tests against
    /// c-toxcore do that).
    pub open_sessions: bool,
    friends: HashMap<PublicKey, FriendSession>,
    /// Whose each connection is: session events name only the connection,
    /// and every data packet needs its friend.
    connection_friends: HashMap<ConnectionId, PublicKey>,
    /// Alive packets and the silence timeout of every live session.
    keepalive: Keepalive,
    /// What [`StackEvent::SelfConnection`] last said.
    self_connection: Connection,
    /// What [`StackEvent::FriendConnection`] last said, for friends that
    /// are connected.
    friend_connections: HashMap<messenger::FriendNumber, Connection>,
    events: VecDeque<StackEvent>,
}

impl Stack {
    /// A stack of the given layers.
    pub fn new(
        dht: Dht,
        server: Option<OnionServer>,
        client: Option<OnionClient>,
        net_crypto: Option<NetCrypto>,
    ) -> Self {
        let messenger = net_crypto.as_ref().map(|_| Messenger::new());
        Self {
            dht,
            server,
            client,
            net_crypto,
            messenger,
            relays: None,
            conferences: None,
            open_sessions: true,
            friends: HashMap::new(),
            connection_friends: HashMap::new(),
            keepalive: Keepalive::new(),
            self_connection: Connection::None,
            friend_connections: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// How we are connected now: the onion reaches us (c-toxcore
    /// `onion_connection_status`), over UDP if the DHT has good nodes,
    /// else through relays.
    pub fn self_connection(&self, now: Instant) -> Connection {
        match &self.client {
            Some(client) if client.is_connected() => {
                if self.dht.is_connected(now) {
                    Connection::Udp
                } else {
                    Connection::Tcp
                }
            }
            _ => Connection::None,
        }
    }

    /// How friend `friend` is connected now (c-toxcore
    /// `m_get_friend_connectionstatus`): not at all unless the messenger
    /// has it online, then UDP while its packets come directly, else TCP.
    pub fn friend_connection_kind(
        &self,
        now: Instant,
        friend: messenger::FriendNumber,
    ) -> Connection {
        let Some(messenger) = self.messenger.as_ref().filter(|m| m.is_online(friend)) else {
            return Connection::None;
        };
        let direct = messenger
            .friend_key(friend)
            .and_then(|pk| self.friends.get(&pk))
            .and_then(|session| session.connection)
            .zip(self.net_crypto.as_ref())
            .is_some_and(|(id, net_crypto)| net_crypto.is_direct(now, id));
        if direct {
            Connection::Udp
        } else {
            Connection::Tcp
        }
    }

    /// Reports changes of our and our friends' connection kinds (c-toxcore
    /// checks them on every iteration).
    fn report_connections(&mut self, now: Instant) {
        let ours = self.self_connection(now);
        if ours != self.self_connection {
            self.self_connection = ours;
            self.events.push_back(StackEvent::SelfConnection(ours));
        }
        let online: Vec<messenger::FriendNumber> =
            self.friend_connections.keys().copied().collect();
        for friend in online {
            self.note_friend_connection(now, friend);
        }
    }

    /// Reports friend `friend`'s connection kind if it changed.
    fn note_friend_connection(&mut self, now: Instant, friend: messenger::FriendNumber) {
        let connection = self.friend_connection_kind(now, friend);
        let before = if connection.is_connected() {
            self.friend_connections.insert(friend, connection)
        } else {
            self.friend_connections.remove(&friend)
        };
        if before.unwrap_or_default() != connection {
            self.events
                .push_back(StackEvent::FriendConnection { friend, connection });
        }
    }

    /// Starts joining the network through `node` ([`Dht::bootstrap`]); a
    /// client also builds its first onion paths through it.
    pub fn bootstrap(&mut self, now: Instant, node: toxide_core::PackedNode) {
        self.dht.bootstrap(now, node);
        if let Some(client) = &mut self.client {
            client.add_bootstrap_node(node);
        }
    }

    /// The stack with conferences (a client's; see [`conference`]).
    pub fn with_conferences(mut self, conferences: Conferences) -> Self {
        self.conferences = Some(conferences);
        self
    }

    /// Moves what the layers produced during a call from outside (the
    /// `Tox` API's conference calls): packets into sessions, events out.
    pub fn flush(&mut self, now: Instant) {
        self.pump(now);
    }

    /// The stack with relay connections (a client's; see [`relays`]).
    pub fn with_relays(mut self, relays: Relays) -> Self {
        self.relays = Some(relays);
        self
    }

    /// Keeps a connection to the TCP relay at `addr` with key `pk`;
    /// `false` without relays, or if it is known or there are too many.
    pub fn add_tcp_relay(&mut self, now: Instant, addr: SocketAddr, pk: PublicKey) -> bool {
        let added = self
            .relays
            .as_mut()
            .and_then(|r| r.add(now, addr, pk))
            .is_some();
        self.pump(now);
        added
    }

    /// The next socket command for the driver's relay connections.
    pub fn poll_relay_command(&mut self) -> Option<RelayCommand> {
        self.relays.as_mut()?.poll_command()
    }

    /// Bytes to write to `relay`'s socket of `session`.
    pub fn poll_relay_write(&mut self, relay: RelayId, session: u64) -> Option<Bytes> {
        self.relays.as_mut()?.poll_write(relay, session)
    }

    /// Bytes read from `relay`'s socket of `session`.
    pub fn handle_relay_bytes(&mut self, now: Instant, relay: RelayId, session: u64, bytes: &[u8]) {
        if let Some(relays) = &mut self.relays {
            relays.handle_bytes(now, relay, session, bytes);
        }
        self.pump(now);
    }

    /// `relay`'s socket of `session` ended or could not connect.
    pub fn handle_relay_closed(&mut self, now: Instant, relay: RelayId, session: u64) {
        if let Some(relays) = &mut self.relays {
            relays.handle_closed(now, relay, session);
        }
        self.pump(now);
    }

    /// Makes `real_pk` a friend: the onion client searches for them and
    /// announces our DHT key to them, and a session is opened (or
    /// accepted) as soon as their DHT key and address are known.
    pub fn add_friend(&mut self, real_pk: PublicKey) -> Result<(), FriendError> {
        self.hold(real_pk)?.holders.friend = true;
        if let Some(messenger) = &mut self.messenger {
            // Already a friend is fine: adding twice changes nothing.
            let _ = messenger.add_friend(real_pk);
        }
        Ok(())
    }

    /// Keeps a connection to `real_pk` for the conferences, friend or not
    /// (c-toxcore `new_friend_connection` from `group.c`): found and
    /// reached like a friend, with `dht_pk` (from a conference's peer
    /// list) as the key to try if none is known yet, until the onion says
    /// otherwise (`connect_to_closest` calls `set_dht_temp_pk` only for a
    /// connection it just made). The Messenger never sees a peer that is
    /// not its friend.
    pub fn want_peer(
        &mut self,
        now: Instant,
        real_pk: PublicKey,
        dht_pk: Option<PublicKey>,
    ) -> Result<(), FriendError> {
        let session = self.hold(real_pk)?;
        session.holders.conference = true;
        if let Some(dht_pk) = dht_pk.filter(|_| session.dht_pk.is_none()) {
            self.friend_dht_pk(now, real_pk, dht_pk);
        }
        Ok(())
    }

    /// The conferences no longer need `real_pk`: its connection ends
    /// unless it is a friend's too.
    pub fn release_peer(&mut self, real_pk: &PublicKey) {
        let Some(session) = self.friends.get_mut(real_pk) else {
            return;
        };
        session.holders.conference = false;
        if !session.holders.any() {
            self.drop_connection(real_pk);
        }
    }

    /// The friend connection to `real_pk`, made if nobody held one yet:
    /// the onion client searches for the peer and takes its DHT-PK
    /// announcements, and net_crypto accepts its sessions.
    fn hold(&mut self, real_pk: PublicKey) -> Result<&mut FriendSession, FriendError> {
        let held = self.friends.get(&real_pk).is_some_and(|s| s.holders.any());
        if !held {
            let (Some(client), Some(net_crypto)) = (&mut self.client, &mut self.net_crypto) else {
                return Err(FriendError::NotFound);
            };
            client.add_friend(real_pk)?;
            net_crypto.accept_from(real_pk);
        }
        Ok(self.friends.entry(real_pk).or_default())
    }

    /// Sends a friend request to the owner of `id` (resent until they
    /// accept); the onion client makes them a friend, and sessions follow
    /// as for [`Stack::add_friend`].
    pub fn send_friend_request(
        &mut self,
        now: Instant,
        id: &toxide_core::ToxId,
        message: &[u8],
    ) -> Result<(), FriendError> {
        match (&mut self.client, &self.net_crypto) {
            (Some(client), Some(_)) => client.send_friend_request(now, id, message)?,
            _ => return Err(FriendError::NotFound),
        }
        self.add_friend(id.public_key)?;
        if let Some(messenger) = &mut self.messenger {
            if let Some(number) = messenger.friend_number(&id.public_key) {
                let request = messenger::SentRequest {
                    nospam: id.nospam,
                    message: message.to_vec(),
                };
                let _ = messenger.set_sent_request(number, request);
            }
        }
        Ok(())
    }

    /// Forgets a friend: unless a conference still needs the peer, the
    /// search stops and the session ends with a kill packet, so the
    /// friend sees us offline at once.
    pub fn remove_friend(&mut self, real_pk: &PublicKey) {
        let Some(session) = self.friends.get_mut(real_pk) else {
            return;
        };
        session.holders.friend = false;
        let keep = session.holders.any();
        if let Some(messenger) = &mut self.messenger {
            if let Some(number) = messenger.friend_number(real_pk) {
                let _ = messenger.remove_friend(number);
                // No event for a friend that is gone (c-toxcore sends none).
                self.friend_connections.remove(&number);
            }
        }
        if !keep {
            self.drop_connection(real_pk);
        }
    }

    /// Ends the friend connection to `real_pk`: the searches stop, the
    /// relays let go and the session ends with a kill packet.
    fn drop_connection(&mut self, real_pk: &PublicKey) {
        let Some(friend) = self.friends.remove(real_pk) else {
            return;
        };
        self.keepalive.session_down(real_pk);
        if let Some(client) = &mut self.client {
            if let Some(dht_pk) = client.remove_friend(real_pk) {
                // The client's search, unless the stack paused it already.
                if friend.paused_search != Some(dht_pk) {
                    self.dht.stop_search(&dht_pk);
                }
            }
        }
        if let Some(dht_pk) = friend.dht_pk {
            self.dht.stop_search(&dht_pk);
            if let Some(relays) = &mut self.relays {
                relays.unwant(&dht_pk);
            }
        }
        if let Some(id) = friend.connection {
            self.connection_friends.remove(&id);
        }
        if let Some(net_crypto) = &mut self.net_crypto {
            net_crypto.refuse(real_pk);
            if let Some(id) = friend.connection {
                net_crypto.kill(id);
            }
        }
    }

    /// Records `id` (or none) as `friend`'s connection.
    fn set_connection(&mut self, friend: PublicKey, id: Option<ConnectionId>) {
        let Some(session) = self.friends.get_mut(&friend) else {
            return;
        };
        if session.connection != id {
            session.established = false;
            session.relays_shared_at = None;
        }
        if let Some(old) = std::mem::replace(&mut session.connection, id) {
            self.connection_friends.remove(&old);
        }
        if let Some(id) = id {
            self.connection_friends.insert(id, friend);
        }
    }

    /// Opens a session to a friend whose DHT key and address are already
    /// known (from a save, the LAN, or a benchmark's setup), without the
    /// onion search: the friend is registered as by [`Stack::add_friend`]
    /// for sessions only. The key and address count as news at `now`:
    /// sessions are reopened for [`FRIEND_DHT_TIMEOUT`] after the last one
    /// that was up. Fails on a bootstrap node or a low-order key.
    pub fn connect_friend_at(
        &mut self,
        now: Instant,
        real_pk: PublicKey,
        dht_pk: PublicKey,
        addr: SocketAddr,
    ) -> Result<ConnectionId, FriendError> {
        let Some(net_crypto) = &mut self.net_crypto else {
            return Err(FriendError::NotFound);
        };
        let id = net_crypto
            .connect(real_pk, dht_pk)
            .ok_or(FriendError::LowOrderKey)?;
        net_crypto.set_direct_addr(id, addr);
        self.friends.entry(real_pk).or_default().addr = Some((addr, now));
        self.note_dht_pk(now, real_pk, dht_pk);
        self.set_connection(real_pk, Some(id));
        Ok(id)
    }

    /// Opens a session to a friend whose DHT key is known but not its
    /// address (from a save, or a test's setup): it goes through the TCP
    /// relays until the DHT finds a direct path. Registered as
    /// [`Stack::connect_friend_at`] does.
    pub fn connect_friend(
        &mut self,
        now: Instant,
        real_pk: PublicKey,
        dht_pk: PublicKey,
    ) -> Result<ConnectionId, FriendError> {
        let Some(net_crypto) = &mut self.net_crypto else {
            return Err(FriendError::NotFound);
        };
        let id = net_crypto
            .connect(real_pk, dht_pk)
            .ok_or(FriendError::LowOrderKey)?;
        self.friends.entry(real_pk).or_default();
        self.note_dht_pk(now, real_pk, dht_pk);
        self.set_connection(real_pk, Some(id));
        self.update_tcp_routes();
        self.pump(now);
        Ok(id)
    }

    /// Tells the relays which friends are reached directly over UDP now:
    /// their links sleep meanwhile (c-toxcore's `do_tcp` in
    /// net_crypto.c).
    fn update_direct(&mut self, now: Instant) {
        let (Some(relays), Some(net_crypto)) = (&mut self.relays, &self.net_crypto) else {
            return;
        };
        for session in self.friends.values() {
            if let Some(dht_pk) = session.dht_pk {
                let direct = session
                    .connection
                    .is_some_and(|id| net_crypto.is_direct(now, id));
                relays.set_direct(now, dht_pk, direct);
            }
        }
    }

    /// Tells net_crypto which friends' sessions can go through relays,
    /// and the onion client which relays to name (after any change on
    /// the relays).
    fn update_tcp_routes(&mut self) {
        let (Some(relays), Some(net_crypto)) = (&self.relays, &mut self.net_crypto) else {
            return;
        };
        for session in self.friends.values() {
            if let (Some(id), Some(dht_pk)) = (session.connection, session.dht_pk) {
                net_crypto.set_tcp(id, relays.is_reachable(&dht_pk));
            }
        }
        if let Some(client) = &mut self.client {
            client.set_tcp_relays(relays.connected());
        }
    }

    /// The session with `real_pk`, if one exists.
    pub fn friend_connection(&self, real_pk: &PublicKey) -> Option<ConnectionId> {
        self.friends.get(real_pk)?.connection
    }

    /// Handles one datagram; `false` if no layer here takes its id.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> bool {
        let Some(&id) = bytes.first() else {
            return false;
        };
        let handled = if toxide_dht::packet::PACKET_IDS.contains(&id) {
            self.dht.handle_datagram(now, from, bytes);
            true
        } else if toxide_net_crypto::packet::PACKET_IDS.contains(&id) {
            match &mut self.net_crypto {
                Some(net_crypto) => {
                    net_crypto.handle_datagram(now, Path::Udp(from), bytes);
                    true
                }
                None => false,
            }
        } else if matches!(id, 0x84 | 0x86 | 0x88) && self.client.is_some() {
            if let Some(client) = &mut self.client {
                client.handle_datagram(now, from, bytes, &mut self.dht);
            }
            true
        } else if toxide_onion::packet::PACKET_IDS.contains(&id) {
            match &mut self.server {
                Some(server) => {
                    server.handle_datagram(now, from, bytes, &self.dht);
                    true
                }
                None => false,
            }
        } else {
            false
        };
        self.pump(now);
        handled
    }

    /// An onion request from a client of the node's TCP relay, which uses
    /// the relay as its path's first hop (checklist R9): it enters the
    /// onion server as if it had arrived as a 0x80. `false` if this stack
    /// serves no onion.
    pub fn handle_tcp_onion_request(
        &mut self,
        now: Instant,
        client: toxide_onion::relay::TcpClient,
        nonce: toxide_core::Nonce,
        payload: &[u8],
    ) -> bool {
        match &mut self.server {
            Some(server) => {
                server.handle_tcp_request(now, client, nonce, payload);
                true
            }
            None => false,
        }
    }

    /// The next onion response for a client of the node's TCP relay.
    pub fn poll_tcp_onion_response(&mut self) -> Option<toxide_onion::server::TcpResponse> {
        self.server.as_mut()?.poll_tcp_response()
    }

    /// Runs the layers' timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dht.poll_timeout().is_some_and(|t| t <= now) {
            self.dht.handle_timeout(now);
        }
        if let Some(client) = &mut self.client {
            if client.poll_timeout().is_some_and(|t| t <= now) {
                client.handle_timeout(now, &mut self.dht);
            }
        }
        if let Some(net_crypto) = &mut self.net_crypto {
            net_crypto.handle_timeout(now);
        }
        self.update_direct(now);
        self.report_connections(now);
        if let Some(relays) = &mut self.relays {
            if relays.poll_timeout().is_some_and(|t| t <= now) {
                relays.handle_timeout(now);
            }
        }
        if self.keepalive.poll_timeout().is_some_and(|t| t <= now) {
            self.keep_sessions_alive(now);
        }
        if let Some(conferences) = &mut self.conferences {
            if conferences.poll_timeout().is_some_and(|t| t <= now) {
                conferences.handle_timeout(now);
            }
        }
        let stale: Vec<PublicKey> = self
            .friends
            .iter()
            .filter(|(_, s)| s.dht_pk_expires().is_some_and(|t| t <= now))
            .map(|(friend, _)| *friend)
            .collect();
        for friend in stale {
            self.forget_dht_pk(friend);
        }
        self.share_relays(now);
        self.pump(now);
    }

    /// Sends our connected relays (at most three) to every friend with a
    /// session who has had none on it, or whose last share is
    /// [`SHARE_RELAYS_INTERVAL`] old (c-toxcore `send_relays`).
    fn share_relays(&mut self, now: Instant) {
        let (Some(relays), Some(net_crypto)) = (&self.relays, &mut self.net_crypto) else {
            return;
        };
        if !relays.has_connected() {
            return;
        }
        let ours: Vec<toxide_core::PackedNode> = relays
            .connected()
            .into_iter()
            .take(toxide_messenger::packet::MAX_SHARED_RELAYS)
            .collect();
        let Ok(packet) = ShareRelays::new(ours) else {
            return;
        };
        let bytes = Bytes::from(toxide_core::Encode::to_bytes(&packet));
        for session in self.friends.values_mut() {
            let (Some(id), true) = (session.connection, session.established) else {
                continue;
            };
            if session.share_due().is_none_or(|t| t <= now) {
                // Marked sent either way: a full queue must not make the
                // timer fire at once again.
                session.relays_shared_at = Some(now);
                let _ = net_crypto.send_lossless(id, bytes.clone());
            }
        }
    }

    /// A friend's share-relays packet (c-toxcore `handle_packet`): its
    /// relays are kept too (if we use relays at all), and an entry with a
    /// loopback address under the friend's own DHT key is a relay the
    /// friend hosts, reached at the friend's known address.
    fn shared_relays(&mut self, now: Instant, friend: PublicKey, data: &[u8]) {
        let Ok(packet) = <ShareRelays as toxide_core::Decode>::from_bytes(data) else {
            return;
        };
        let Some(session) = self.friends.get(&friend) else {
            return;
        };
        let (dht_pk, friend_ip) = (session.dht_pk, session.addr.map(|(a, _)| a.ip()));
        let Some(relays) = self.relays.as_mut().filter(|r| r.count() > 0) else {
            return;
        };
        for node in packet.into_relays() {
            let mut addr = node.addr;
            if addr.ip().is_loopback() && Some(node.public_key) == dht_pk {
                match friend_ip {
                    Some(ip) => addr.set_ip(ip),
                    None => continue,
                }
            }
            match &dht_pk {
                Some(peer) => relays.add_for_peer(now, addr, node.public_key, peer),
                None => {
                    relays.add(now, addr, node.public_key);
                }
            }
        }
    }

    /// The earliest timer.
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let client = self.client.as_ref().and_then(OnionClient::poll_timeout);
        let net_crypto = self.net_crypto.as_ref().and_then(|n| n.poll_timeout(now));
        let keepalive = self.keepalive.poll_timeout();
        let conferences = self
            .conferences
            .as_ref()
            .and_then(Conferences::poll_timeout);
        let relays = self.relays.as_ref().and_then(Relays::poll_timeout);
        let stale = self
            .friends
            .values()
            .filter_map(FriendSession::dht_pk_expires)
            .min();
        // Shares not yet made go out on the events that make them
        // possible (a session up, a relay connected); only repeats wait.
        let share = self
            .relays
            .as_ref()
            .filter(|r| r.has_connected())
            .and_then(|_| {
                self.friends
                    .values()
                    .filter_map(FriendSession::share_due)
                    .min()
            });
        [
            self.dht.poll_timeout(),
            client,
            net_crypto,
            keepalive,
            conferences,
            relays,
            stale,
            share,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next datagram to send, from whichever layer has one.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let Some(client) = &mut self.client {
            while let Some((relay, request)) = client.poll_tcp_transmit() {
                if let Some(relays) = &mut self.relays {
                    relays.send_onion(&relay, Bytes::from(request));
                }
            }
        }
        self.dht
            .poll_transmit()
            .or_else(|| self.server.as_mut().and_then(OnionServer::poll_transmit))
            .or_else(|| self.client.as_mut().and_then(OnionClient::poll_transmit))
            .or_else(|| {
                loop {
                    let transmit = self.net_crypto.as_mut()?.poll_transmit(now)?;
                    match transmit.path {
                        Path::Udp(destination) => {
                            return Some(Transmit {
                                destination,
                                payload: transmit.payload,
                            });
                        }
                        // Through the relays, which queue it on their
                        // connections (or count it unsent).
                        Path::Tcp(peer) => {
                            if let Some(relays) = &mut self.relays {
                                relays.send(&peer, Bytes::from(transmit.payload));
                            }
                        }
                        _ => {}
                    }
                }
            })
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<StackEvent> {
        self.events.pop_front()
    }

    /// Moves events between layers and into the outgoing queue.
    fn pump(&mut self, now: Instant) {
        let mut relays_changed = false;
        while let Some(event) = self.relays.as_mut().and_then(Relays::poll_event) {
            match event {
                RelayEvent::Packet { from, data } => {
                    let is_net_crypto = data
                        .first()
                        .is_some_and(|id| toxide_net_crypto::packet::PACKET_IDS.contains(id));
                    if let (true, Some(net_crypto)) = (is_net_crypto, &mut self.net_crypto) {
                        net_crypto.handle_datagram(now, Path::Tcp(from), &data);
                    }
                }
                // An onion response the relay, as hop A, passed back: as
                // if it had arrived from the relay over UDP (O16).
                RelayEvent::Onion { relay, data } => {
                    let from = self.relays.as_ref().and_then(|r| r.addr(relay));
                    let is_response = matches!(data.first(), Some(0x84 | 0x86 | 0x88));
                    if let (Some(client), Some(from), true) = (&mut self.client, from, is_response)
                    {
                        client.handle_datagram(now, from, &data, &mut self.dht);
                    }
                }
                RelayEvent::Changed => relays_changed = true,
            }
        }
        if relays_changed {
            self.update_tcp_routes();
            self.share_relays(now);
        }
        while let Some(event) = self.dht.poll_event() {
            match (event, &mut self.client) {
                (toxide_dht::Event::DhtPkRequest { sender, data, .. }, Some(client)) => {
                    client.handle_dht_pk_request(now, sender, &data, &mut self.dht)
                }
                // A node the DHT just learned may be a friend we look for:
                // the client asks it at once instead of at the DHT's next
                // tick (c-toxcore does within one ~50 ms loop).
                (toxide_dht::Event::NodeLearned(node), Some(client)) => {
                    client.handle_node_learned(now, node, &mut self.dht);
                    self.events
                        .push_back(StackEvent::Dht(toxide_dht::Event::NodeLearned(node)));
                }
                (event, _) => {
                    if let toxide_dht::Event::Found { public_key, addr } = &event {
                        self.friend_found(now, *public_key, *addr);
                    }
                    self.events.push_back(StackEvent::Dht(event));
                }
            }
        }
        while let Some(event) = self.client.as_mut().and_then(OnionClient::poll_event) {
            if let ClientEvent::FriendDhtPk {
                friend,
                dht_pk,
                tcp_relays,
            } = &event
            {
                self.friend_dht_pk(now, *friend, *dht_pk);
                // The relays the friend is on: connecting to them is what
                // lets both ask the same relay for each other (R5). Only
                // for a client that uses relays at all (one was given), so
                // a UDP-only client stays UDP-only.
                if let Some(relays) = self.relays.as_mut().filter(|r| r.count() > 0) {
                    for node in tcp_relays {
                        relays.add_for_peer(now, node.addr, node.public_key, dht_pk);
                    }
                }
            }
            self.events.push_back(StackEvent::Onion(event));
        }
        while let Some(event) = self.net_crypto.as_mut().and_then(NetCrypto::poll_event) {
            self.session_event(now, event);
        }
        while let Some(event) = self.messenger.as_mut().and_then(Messenger::poll_event) {
            let status = match &event {
                messenger::Event::ConnectionStatus { friend, .. } => Some(*friend),
                _ => None,
            };
            self.events.push_back(StackEvent::Messenger(event));
            if let Some(friend) = status {
                self.note_friend_connection(now, friend);
            }
        }
        self.pump_conferences(now);
    }

    /// Lets the messenger fill the bulk room sessions freed by sending
    /// ([`Messenger::pump_files`]); its chunk requests become events.
    /// Returns whether a transfer of ours was running.
    pub fn pump_files(&mut self, now: Instant) -> bool {
        let sending = self
            .lend_messenger(now, |m, s| m.pump_files(s))
            .unwrap_or(false);
        if sending {
            self.pump(now);
        }
        sending
    }

    /// Lends the messenger the friend sessions for one call; sessions it
    /// killed (silent too long) are then reopened.
    pub fn with_messenger<T>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Messenger, &mut dyn Sessions) -> T,
    ) -> Option<T> {
        let out = self.lend_messenger(now, f)?;
        self.pump(now);
        Some(out)
    }

    /// [`Stack::with_messenger`] without moving events on (for callers
    /// that do, or that run inside [`Stack::pump`]).
    fn lend_messenger<T>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Messenger, &mut dyn Sessions) -> T,
    ) -> Option<T> {
        let (Some(messenger), Some(net_crypto)) = (&mut self.messenger, &mut self.net_crypto)
        else {
            return None;
        };
        let mut sessions = FriendSessions::new(net_crypto, &self.friends);
        let out = f(messenger, &mut sessions);
        let killed = sessions.killed;
        for friend in killed {
            self.session_killed(now, friend);
        }
        Some(out)
    }

    /// Sends the alive packets that are due and ends the sessions that went
    /// silent (checklist F2), for every session whoever holds it.
    fn keep_sessions_alive(&mut self, now: Instant) {
        let due = self.keepalive.handle_timeout(now);
        let alive = Bytes::from(toxide_core::Encode::to_bytes(&Alive));
        for peer in &due.ping {
            let id = self.friends.get(peer).and_then(|s| s.connection);
            if let (Some(id), Some(net_crypto)) = (id, &mut self.net_crypto) {
                let _ = net_crypto.send_lossless(id, alive.clone());
            }
        }
        for peer in due.dead {
            let id = self.friends.get(&peer).and_then(|s| s.connection);
            if let (Some(id), Some(net_crypto)) = (id, &mut self.net_crypto) {
                net_crypto.kill(id);
            }
            if let Some(messenger) = &mut self.messenger {
                messenger.session_down(&peer);
            }
            self.session_ended(now, peer);
        }
    }

    /// The messenger killed `friend`'s session: forget it and open a new
    /// one, as when the peer ends it.
    fn session_killed(&mut self, now: Instant, friend: PublicKey) {
        self.session_ended(now, friend);
    }

    /// `friend`'s session is gone (c-toxcore's `handle_status` going
    /// offline, then its next `do_friend_connections` pass): the end of a
    /// session that was up is news of the DHT key; then a stale key is
    /// dropped, a fresh one gets a new session at once.
    fn session_ended(&mut self, now: Instant, friend: PublicKey) {
        self.keepalive.session_down(&friend);
        self.conference_session(now, friend, false);
        if let Some(session) = self.friends.get_mut(&friend) {
            if session.established {
                session.dht_pk_at = Some(now);
            }
        }
        self.set_connection(friend, None);
        if let Some(client) = &mut self.client {
            client.set_friend_online(&friend, false);
        }
        let Some(session) = self.friends.get(&friend) else {
            return;
        };
        if session.dht_pk_expires().is_some_and(|t| t <= now) {
            self.forget_dht_pk(friend);
        } else {
            self.open_session(now, friend);
        }
    }

    /// A friend announced its DHT key (c-toxcore `dht_pk_callback`). The
    /// key we hold already is no news (its timer runs on); a new one, or
    /// any after ours went stale, ends the session to the old key and
    /// starts one to the new key.
    fn friend_dht_pk(&mut self, now: Instant, friend: PublicKey, dht_pk: PublicKey) {
        let Some(session) = self.friends.get(&friend) else {
            return;
        };
        if session.dht_pk == Some(dht_pk) {
            if session.connection.is_none() {
                self.open_session(now, friend);
            }
            return;
        }
        let (old, was_up) = (session.connection, session.established);
        self.note_dht_pk(now, friend, dht_pk);
        self.set_connection(friend, None);
        if let Some(id) = old {
            if let Some(net_crypto) = &mut self.net_crypto {
                net_crypto.kill(id);
            }
            if let Some(client) = &mut self.client {
                client.set_friend_online(&friend, false);
            }
            if let (Some(messenger), true) = (&mut self.messenger, was_up) {
                messenger.session_down(&friend);
            }
            self.keepalive.session_down(&friend);
            self.conference_session(now, friend, false);
        }
        self.open_session(now, friend);
    }

    /// `dht_pk` is news of `friend`'s DHT key at `now` (c-toxcore
    /// `change_dht_pk`): the stale timer restarts, and the DHT searches
    /// for the key (the stack's own search moves to it; the onion client's,
    /// if the stack paused it, resumes).
    fn note_dht_pk(&mut self, now: Instant, friend: PublicKey, dht_pk: PublicKey) {
        let onion_pk = self.client.as_ref().and_then(|c| c.friend_dht_pk(&friend));
        let Some(session) = self.friends.get_mut(&friend) else {
            return;
        };
        session.dht_pk_at = Some(now);
        if session.dht_pk != Some(dht_pk) {
            if let Some(old) = session.dht_pk.replace(dht_pk) {
                self.dht.stop_search(&old);
                if let Some(relays) = &mut self.relays {
                    relays.unwant(&old);
                }
            }
            self.dht.search(dht_pk);
            if let Some(relays) = &mut self.relays {
                relays.want(now, dht_pk);
            }
        }
        if session.paused_search != onion_pk {
            // The client moved to another key, ending its own search.
            session.paused_search = None;
        }
        if session.paused_search == Some(dht_pk) {
            self.dht.search(dht_pk);
            session.paused_search = None;
        }
    }

    /// `friend`'s DHT key went stale (c-toxcore `do_friend_connections`):
    /// forget it and stop searching for it, the onion client's search
    /// included; no session is reopened until news of a key. A connection
    /// still handshaking is left to finish or time out.
    fn forget_dht_pk(&mut self, friend: PublicKey) {
        let onion_pk = self.client.as_ref().and_then(|c| c.friend_dht_pk(&friend));
        let Some(session) = self.friends.get_mut(&friend) else {
            return;
        };
        session.dht_pk_at = None;
        let Some(dht_pk) = session.dht_pk.take() else {
            return;
        };
        self.dht.stop_search(&dht_pk);
        if let Some(relays) = &mut self.relays {
            relays.unwant(&dht_pk);
        }
        if session.paused_search != onion_pk {
            session.paused_search = None;
        }
        if onion_pk == Some(dht_pk) && session.paused_search.is_none() {
            self.dht.stop_search(&dht_pk);
            session.paused_search = Some(dht_pk);
        }
    }

    /// Opens a session to `friend` at its DHT key, with the address the
    /// DHT knows for it, or else the one last seen if still fresh.
    fn open_session(&mut self, now: Instant, friend: PublicKey) {
        if !self.open_sessions {
            return;
        }
        let (Some(net_crypto), Some(session)) =
            (&mut self.net_crypto, self.friends.get_mut(&friend))
        else {
            return;
        };
        let Some(dht_pk) = session.dht_pk else {
            return;
        };
        let Some(id) = net_crypto.connect(friend, dht_pk) else {
            return;
        };
        let addr = self
            .dht
            .found_addr(now, &dht_pk)
            .or_else(|| session.fresh_addr(now));
        if let Some(addr) = addr {
            net_crypto.set_direct_addr(id, addr);
        }
        if self
            .relays
            .as_ref()
            .is_some_and(|r| r.is_reachable(&dht_pk))
        {
            net_crypto.set_tcp(id, true);
        }
        self.set_connection(friend, Some(id));
    }

    /// The DHT found the address a DHT key answers from: if a friend has
    /// that key, it is remembered and its session goes there.
    fn friend_found(&mut self, now: Instant, dht_pk: PublicKey, addr: SocketAddr) {
        for session in self.friends.values_mut() {
            if session.dht_pk != Some(dht_pk) {
                continue;
            }
            session.addr = Some((addr, now));
            if let (Some(id), Some(net_crypto)) = (session.connection, &mut self.net_crypto) {
                net_crypto.set_direct_addr(id, addr);
            }
        }
    }

    fn session_event(&mut self, now: Instant, event: toxide_net_crypto::Event) {
        use toxide_net_crypto::Event;
        let friend = match &event {
            Event::Accepted {
                id,
                real_pk,
                dht_pk,
            } => {
                self.set_connection(*real_pk, Some(*id));
                // A session from the friend is news of a key we lack
                // (c-toxcore `handle_new_connections`).
                if self
                    .friends
                    .get(real_pk)
                    .is_some_and(|s| s.dht_pk != Some(*dht_pk))
                {
                    self.note_dht_pk(now, *real_pk, *dht_pk);
                }
                Some(*real_pk)
            }
            Event::Closed { real_pk, .. } => {
                self.session_ended(now, *real_pk);
                Some(*real_pk)
            }
            Event::Established { id } => {
                let friend = self.friend_of(*id);
                if let Some(session) = friend.and_then(|f| self.friends.get_mut(&f)) {
                    session.established = true;
                }
                if let Some(friend) = friend {
                    self.keepalive.session_up(now, friend);
                }
                if let (Some(client), Some(friend)) = (&mut self.client, friend) {
                    client.set_friend_online(&friend, true);
                }
                friend
            }
            Event::Lossless { id, data } => {
                let friend = self.friend_of(*id);
                if let Some(friend) = &friend {
                    self.keepalive.received(now, friend);
                }
                let share = data.first() == Some(&PACKET_ID_SHARE_RELAYS);
                if let (Some(friend), true) = (friend, share) {
                    self.shared_relays(now, friend, data);
                }
                friend
            }
            Event::Lossy { id, .. } => {
                let friend = self.friend_of(*id);
                if let Some(friend) = &friend {
                    self.keepalive.received(now, friend);
                }
                friend
            }
            Event::Acked { id, .. } | Event::PeerDhtKey { id, .. } => self.friend_of(*id),
        };

        if let Some(friend) = friend {
            let conference = match &event {
                Event::Lossless { data, .. } | Event::Lossy { data, .. } => {
                    self.conference_packet(now, friend, data)
                }
                _ => false,
            };
            if !conference {
                self.feed_messenger(now, friend, &event);
            }
            let established = matches!(event, Event::Established { .. });
            if established {
                self.conference_session(now, friend, true);
            }
            self.events.push_back(StackEvent::Session { friend, event });
            if established {
                // After the messenger's ONLINE, as c-toxcore's next
                // friend-connection pass would.
                self.share_relays(now);
            }
        }
    }

    /// Tells the messenger what a friend's session did.
    fn feed_messenger(
        &mut self,
        now: Instant,
        friend: PublicKey,
        event: &toxide_net_crypto::Event,
    ) {
        use toxide_net_crypto::Event;
        self.lend_messenger(now, |messenger, sessions| match event {
            Event::Established { .. } => messenger.session_up(&friend, sessions),
            Event::Closed { .. } => messenger.session_down(&friend),
            Event::Lossless { data, .. } | Event::Lossy { data, .. } => {
                messenger.handle_packet(&friend, data, sessions)
            }
            Event::Acked { buffer_start, .. } => messenger.acked(&friend, *buffer_start, sessions),
            Event::Accepted { .. } | Event::PeerDhtKey { .. } => {}
        });
    }

    /// Ends every friend session with a kill packet, so friends see us go
    /// offline at once (shutting down); nothing reopens them.
    pub fn end_sessions(&mut self, now: Instant) {
        self.open_sessions = false;
        if let Some(conferences) = &mut self.conferences {
            // Freeze messages first (c-toxcore `kill_groupchats`), queued
            // before the kill packets; what the kills cut off, peers make
            // up for by freezing us after their own timeout.
            conferences.shutdown(now);
        }
        self.pump_conferences(now);
        let connections: Vec<ConnectionId> = self.connection_friends.keys().copied().collect();
        if let Some(net_crypto) = &mut self.net_crypto {
            for id in connections {
                net_crypto.kill(id);
            }
        }
        let friends: Vec<PublicKey> = self.friends.keys().copied().collect();
        for friend in friends {
            self.set_connection(friend, None);
            if let Some(messenger) = &mut self.messenger {
                messenger.session_down(&friend);
            }
        }
        self.pump(now);
    }

    fn friend_of(&self, id: ConnectionId) -> Option<PublicKey> {
        self.connection_friends.get(&id).copied()
    }
}

/// The friend sessions as the messenger sees them: by friend key.
struct FriendSessions<'a> {
    net_crypto: &'a mut NetCrypto,
    friends: &'a HashMap<PublicKey, FriendSession>,
    /// Sessions the messenger ended; the stack forgets them after the call.
    killed: Vec<PublicKey>,
}

impl<'a> FriendSessions<'a> {
    fn new(net_crypto: &'a mut NetCrypto, friends: &'a HashMap<PublicKey, FriendSession>) -> Self {
        Self {
            net_crypto,
            friends,
            killed: Vec::new(),
        }
    }

    fn connection(&self, friend: &PublicKey) -> Option<ConnectionId> {
        self.friends.get(friend)?.connection
    }
}

impl Sessions for FriendSessions<'_> {
    fn send_lossless(&mut self, friend: &PublicKey, data: bytes::Bytes) -> Option<u32> {
        let id = self.connection(friend)?;
        self.net_crypto.send_lossless(id, data).ok()
    }

    fn send_lossy(&mut self, friend: &PublicKey, data: bytes::Bytes) -> bool {
        self.connection(friend)
            .is_some_and(|id| self.net_crypto.send_lossy(id, &data).is_ok())
    }

    fn kill(&mut self, friend: &PublicKey) {
        if let Some(id) = self.connection(friend) {
            self.net_crypto.kill(id);
            self.killed.push(*friend);
        }
    }

    fn send_bulk(&mut self, friend: &PublicKey, data: bytes::Bytes) -> bool {
        self.connection(friend)
            .is_some_and(|id| self.net_crypto.send_bulk(id, data).is_ok())
    }

    fn bulk_space(&self, friend: &PublicKey) -> usize {
        self.connection(friend)
            .map_or(0, |id| self.net_crypto.bulk_space(id))
    }

    fn bulk_progress(&self, friend: &PublicKey) -> Option<messenger::BulkProgress> {
        let id = self.connection(friend)?;
        Some(messenger::BulkProgress {
            waiting: self.net_crypto.bulk_waiting(id),
            next_number: self.net_crypto.next_number(id)?,
        })
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod relay_tests;
