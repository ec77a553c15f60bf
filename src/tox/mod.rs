//! The `Tox` handle: a Tox client as an application uses it.
//!
//! [`ToxBuilder`] makes one (a new profile or a save, plain or encrypted;
//! ports; bootstrap nodes) and starts it on the current tokio runtime.
//! [`Tox`] is a cheap clone that talks to the running instance; every
//! call runs inside the driver task against the sans-IO stack, so no lock
//! is taken and nothing waits on the network. [`ToxEvents`] is the one
//! ordered stream of what happened.
//!
//! Friends have numbers (the lowest free one when added, file order when
//! loaded), as tox.h hands them out, and messages have per-friend ids,
//! so the C API maps onto this one to one.
//!
//! Files go out with [`Tox::send_file`] (an [`OutgoingFile`] handle) and
//! come in as [`ToxEvent::FileOffer`] (an [`IncomingFile`] that becomes a
//! [`FileReceiver`] stream); each transfer's data has its own channel, so
//! a slow file never holds up the event stream. Our avatar is set once
//! with [`Tox::set_avatar`] and the instance offers it to friends itself;
//! theirs arrive as offers whose [`IncomingFile::is_avatar`] is true.
//!
//! ```no_run
//! # async fn demo() -> Result<(), toxide::tox::ToxError> {
//! use toxide::tox::{ToxBuilder, ToxEvent};
//! let (tox, mut events) = ToxBuilder::new().spawn().await?;
//! println!("my Tox ID: {}", tox.address());
//! while let Some(event) = events.recv().await {
//!     if let ToxEvent::Message { friend, kind, text } = event {
//!         tox.send_message(friend, kind, text).await?;
//!     }
//! }
//! # Ok(()) }
//! ```

mod conference;
mod event;
mod file;
pub mod ops;
mod profile;
mod transfer;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::Rng as _;
use toxide_core::{KeyPair, NoSpam, PackedNode, PublicKey, ToxId};
use toxide_messenger::file::FileError;
use toxide_messenger::messenger::{FriendNumber, MessageId, MessengerError};
use toxide_messenger::packet::FILE_ID_LENGTH;
use toxide_messenger::packet::{MessageKind, UserStatus};
use toxide_messenger::save::{PassError, PassKey, SaveError};
use toxide_onion::client::FriendError;

use crate::driver::{
    ClientIdentity, Driver, DriverClosed, DriverConfig, DriverError, DriverHandle,
};

pub use crate::stack::Connection;
pub use conference::{ConferenceInfo, ConferencePeer};
pub use event::{ToxEvent, ToxEvents};
pub use file::write_atomic;
use ops::Kept;
pub use toxide_messenger::conference::{
    ConferenceId, ConferenceNumber, ConferenceType, Invite as ConferenceInvite, PeerIndex,
};
pub use transfer::{FileEnded, FileReceiver, IncomingFile, OutgoingFile, Progress};

/// The ports c-toxcore tries by default (`TOX_PORTRANGE_FROM`..=`TO`).
pub const DEFAULT_PORT_RANGE: std::ops::RangeInclusive<u16> = 33445..=33545;

/// Why a [`Tox`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToxError {
    /// The save could not be read; nothing was written.
    #[error("cannot load the save: {0}")]
    Save(#[from] SaveError),
    /// The encrypted save could not be opened (or encrypted).
    #[error("encrypted save: {0}")]
    Passphrase(#[from] PassError),
    /// The save is encrypted and no passphrase was given.
    #[error("the save is encrypted: give its passphrase")]
    PassphraseNeeded,
    /// No port of the range could be bound (or the driver failed to start).
    #[error("cannot start: {0}")]
    Start(#[from] DriverError),
    /// The instance has shut down.
    #[error(transparent)]
    Closed(#[from] DriverClosed),
    /// A friend request or friend could not be added.
    #[error("friend: {0}")]
    Friend(#[from] FriendError),
    /// That key is already a friend (under this number) and nothing
    /// changed (c-toxcore's `TOX_ERR_FRIEND_ADD_ALREADY_SENT`).
    #[error("already a friend (number {0})")]
    AlreadyFriend(FriendNumber),
    /// That key is a friend we are still asking, and the request now goes
    /// to the new nospam (c-toxcore's `TOX_ERR_FRIEND_ADD_SET_NEW_NOSPAM`).
    #[error("friend {0} was asked before; the request now quotes the new nospam")]
    NospamUpdated(FriendNumber),
    /// A messenger call failed (no such friend, not online, too long…).
    #[error(transparent)]
    Messenger(#[from] MessengerError),
    /// Writing the save failed.
    #[error("cannot write the save: {0}")]
    Io(#[from] std::io::Error),
    /// A file transfer call failed (no such transfer, wrong state…).
    #[error("file transfer: {0}")]
    File(#[from] FileError),
    /// A conference call failed (no such conference, not connected…).
    #[error("conference: {0}")]
    Conference(#[from] toxide_messenger::conference::ConferenceError),
}

/// How to start a [`Tox`].
#[derive(Debug, Clone)]
pub struct ToxBuilder {
    savedata: Option<Vec<u8>>,
    passphrase: Option<Vec<u8>>,
    ports: std::ops::RangeInclusive<u16>,
    bind_ip: Option<IpAddr>,
    ipv6: bool,
    lan_discovery: bool,
    bootstrap: Vec<PackedNode>,
    udp: bool,
    tcp_relays: Vec<(SocketAddr, PublicKey)>,
    proxy: Option<crate::driver::proxy::ProxyConfig>,
}

impl Default for ToxBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ToxBuilder {
    /// A new profile on the first free port of 33445–33545, IPv6 with
    /// IPv4 (dual stack), LAN discovery off.
    pub fn new() -> Self {
        Self {
            savedata: None,
            passphrase: None,
            ports: DEFAULT_PORT_RANGE,
            bind_ip: None,
            ipv6: true,
            lan_discovery: false,
            bootstrap: Vec::new(),
            udp: true,
            tcp_relays: Vec::new(),
            proxy: None,
        }
    }

    /// Starts from a save (c-toxcore's format, plain or encrypted with
    /// toxencryptsave) instead of a new profile.
    pub fn savedata(mut self, bytes: Vec<u8>) -> Self {
        self.savedata = Some(bytes);
        self
    }

    /// The passphrase of an encrypted save; with it, [`Tox::savedata`]
    /// encrypts too (a new profile is encrypted from its first save).
    pub fn passphrase(mut self, passphrase: impl Into<Vec<u8>>) -> Self {
        self.passphrase = Some(passphrase.into());
        self
    }

    /// Binds this UDP port (0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.ports = port..=port;
        self
    }

    /// Binds the first free port of this range.
    pub fn port_range(mut self, ports: std::ops::RangeInclusive<u16>) -> Self {
        self.ports = ports;
        self
    }

    /// Binds this address instead of all interfaces (tests use 127.0.0.1).
    pub fn bind_ip(mut self, ip: IpAddr) -> Self {
        self.bind_ip = Some(ip);
        self
    }

    /// IPv6 (with IPv4 on the same socket) or IPv4 only.
    pub fn ipv6(mut self, enabled: bool) -> Self {
        self.ipv6 = enabled;
        self
    }

    /// Finds peers on the local network by broadcast (off by default).
    pub fn lan_discovery(mut self, enabled: bool) -> Self {
        self.lan_discovery = enabled;
        self
    }

    /// Uses UDP (the default) or not (tox.h's `udp_enabled`): without it
    /// no UDP socket is bound and friends are reached only through the
    /// TCP relays ([`ToxBuilder::tcp_relay`]); onion paths then start at
    /// a relay, and [`Tox::local_addr`] reports `0.0.0.0:0`.
    pub fn udp(mut self, enabled: bool) -> Self {
        self.udp = enabled;
        self
    }

    /// Keeps a connection to the TCP relay at `addr` with key `relay_key`
    /// (repeatable; tox.h's `tox_add_tcp_relay`): friends that cannot be
    /// reached directly are reached through it.
    pub fn tcp_relay(mut self, addr: SocketAddr, relay_key: PublicKey) -> Self {
        self.tcp_relays.push((addr, relay_key));
        self
    }

    /// Opens every TCP relay connection through this proxy (tox.h's
    /// `proxy_type`, `proxy_host`, `proxy_port`). UDP does not go through
    /// a proxy: turn it off with [`ToxBuilder::udp`] for a client that
    /// must be reached only through the proxy.
    pub fn proxy(mut self, proxy: crate::driver::proxy::ProxyConfig) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Joins the network through this node (repeatable).
    pub fn bootstrap(mut self, addr: SocketAddr, dht_key: PublicKey) -> Self {
        self.bootstrap.push(PackedNode::udp(addr, dht_key));
        self
    }

    /// Starts the instance on the current tokio runtime.
    pub async fn spawn(self) -> Result<(Tox, ToxEvents), ToxError> {
        let ops::Profile {
            keys,
            nospam,
            pass_key,
            save,
            kept,
        } = ops::Profile::load(self.savedata.as_deref(), self.passphrase.as_deref())?;
        let mut driver = self.bind(&keys, nospam).await?;
        driver.route_files();
        let handle = driver.handle();
        let events = driver
            .take_events_where(ToxEvent::wanted)
            .map(|rx| ToxEvents::new(rx, handle.downgrade()));
        tokio::spawn(driver.run());
        let bootstrap = self.bootstrap.clone();
        handle
            .call(move |stack, now, _| ops::restore(stack, now, save.as_ref(), &bootstrap))
            .await?;
        let tox = Tox {
            handle,
            shared: Arc::new(Shared {
                keys,
                nospam: Mutex::new(nospam),
                pass_key,
                kept,
            }),
        };
        // The receiver was just created: `take_events_where` gives it once.
        let events = events.ok_or(ToxError::Closed(DriverClosed))?;
        Ok((tox, events))
    }

    /// The driver configurations to try, one per port of the range, in
    /// order (the first that binds is used).
    pub fn driver_configs(
        &self,
        keys: &KeyPair,
        nospam: NoSpam,
    ) -> impl Iterator<Item = DriverConfig> + '_ {
        let ip = self.bind_ip.unwrap_or(if self.ipv6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        });
        // Without UDP nothing is bound: no other port would do better.
        let ports = if self.udp {
            self.ports.clone()
        } else {
            let first = *self.ports.start();
            first..=first
        };
        let keys = keys.clone();
        ports.map(move |port| {
            let mut config = DriverConfig::new([SocketAddr::new(ip, port)]);
            config.dual_stack = ip.is_ipv6();
            config.udp = self.udp;
            config.tcp_relays = self.tcp_relays.clone();
            config.proxy = self.proxy;
            config.dht.lan_discovery = self.lan_discovery;
            config.onion = Some(toxide_onion::ServerConfig::default());
            config.client = Some(ClientIdentity {
                keys: keys.clone(),
                nospam,
            });
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            config.seed = Some(seed);
            config
        })
    }

    /// Binds the first free port of the range.
    async fn bind(&self, keys: &KeyPair, nospam: NoSpam) -> Result<Driver, ToxError> {
        let mut last = None;
        for config in self.driver_configs(keys, nospam) {
            match Driver::bind(config).await {
                Ok(driver) => return Ok(driver),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or(DriverError::NoAddress).into())
    }
}

/// What every clone of a [`Tox`] shares.
#[derive(Debug)]
struct Shared {
    keys: KeyPair,
    nospam: Mutex<NoSpam>,
    pass_key: Option<PassKey>,
    kept: Kept,
}

/// Everything a friend told us, at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FriendInfo {
    /// Their number.
    pub number: FriendNumber,
    /// Their long-term key.
    pub public_key: PublicKey,
    /// How they are connected now ([`Connection::None`]: offline).
    pub connection: Connection,
    /// Their name.
    pub name: Vec<u8>,
    /// Their status message.
    pub status_message: Vec<u8>,
    /// Their user status.
    pub status: UserStatus,
    /// Typing now.
    pub typing: bool,
}

/// A running Tox client. Clones are cheap and talk to the same instance;
/// the instance stops on [`Tox::shutdown`] or when the last clone is
/// dropped, ending friends' sessions with kill packets either way.
#[derive(Debug, Clone)]
pub struct Tox {
    handle: DriverHandle,
    shared: Arc<Shared>,
}

impl Tox {
    /// Our Tox ID: what a friend adds us by.
    pub fn address(&self) -> ToxId {
        ToxId::new(self.shared.keys.public, self.nospam())
    }

    /// Our long-term public key.
    pub fn public_key(&self) -> PublicKey {
        self.shared.keys.public
    }

    /// Our DHT key (new every start, as c-toxcore's).
    pub fn dht_key(&self) -> PublicKey {
        self.handle.public_key()
    }

    /// The UDP address we listen on.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// The driver underneath, for what this API does not offer yet.
    pub fn driver(&self) -> &DriverHandle {
        &self.handle
    }

    fn nospam(&self) -> NoSpam {
        self.shared.nospam.lock().map_or(NoSpam([0; 4]), |n| *n)
    }

    /// Sends a friend request to the owner of `id` (resent until they
    /// answer by coming online); returns their friend number.
    ///
    /// Adding a friend again is an error, as in c-toxcore: one who is
    /// confirmed or asked with the same nospam gives
    /// [`ToxError::AlreadyFriend`]; one still asked under another nospam
    /// gets the request under the new one ([`ToxError::NospamUpdated`]).
    pub async fn add_friend(&self, id: ToxId, message: &[u8]) -> Result<FriendNumber, ToxError> {
        let message = message.to_vec();
        self.call(move |stack, now| ops::add_friend(stack, now, &id, &message))
            .await?
    }

    /// Changes the nospam part of our Tox ID: requests quoting the old one
    /// are dropped from now on (friends are not affected).
    pub async fn set_nospam(&self, nospam: NoSpam) -> Result<(), ToxError> {
        self.call(move |stack, _| ops::set_nospam(stack, nospam))
            .await?;
        if let Ok(mut ours) = self.shared.nospam.lock() {
            *ours = nospam;
        }
        Ok(())
    }

    /// Adds a friend without a request (accepting theirs); returns their
    /// friend number.
    pub async fn add_friend_norequest(
        &self,
        public_key: PublicKey,
    ) -> Result<FriendNumber, ToxError> {
        self.call(move |stack, _| ops::add_friend_norequest(stack, public_key))
            .await?
    }

    /// Keeps a connection to the TCP relay at `addr` with key `relay_key`
    /// from now on (tox.h's `tox_add_tcp_relay`); `false` if it is known
    /// already or enough relays are kept.
    pub async fn add_tcp_relay(
        &self,
        addr: SocketAddr,
        relay_key: PublicKey,
    ) -> Result<bool, ToxError> {
        Ok(self
            .handle
            .call(move |stack, now, _| stack.add_tcp_relay(now, addr, relay_key))
            .await?)
    }

    /// Removes a friend; a live session ends with a kill packet, so they
    /// see us offline at once.
    ///
    /// Their file transfers end with
    /// [`FileEnded::FriendRemoved`].
    pub async fn delete_friend(&self, friend: FriendNumber) -> Result<(), ToxError> {
        self.handle
            .downgrade()
            .call_files(move |stack, router, now| {
                ops::delete_friend(stack, friend)?;
                router.forget_friend(now, friend);
                Ok(())
            })
            .await?
    }

    /// Every friend number, in order.
    pub async fn friends(&self) -> Result<Vec<FriendNumber>, ToxError> {
        self.call(|stack, _| {
            stack
                .messenger
                .as_ref()
                .map(|m| m.friend_numbers().collect())
                .unwrap_or_default()
        })
        .await
    }

    /// What we know of friend `friend`.
    pub async fn friend(&self, friend: FriendNumber) -> Result<FriendInfo, ToxError> {
        self.call(move |stack, now| ops::friend_info(stack, now, friend))
            .await?
    }

    /// How we are connected to the network now (tox.h
    /// `tox_self_get_connection_status`).
    pub async fn self_connection(&self) -> Result<Connection, ToxError> {
        self.call(|stack, now| stack.self_connection(now)).await
    }

    /// The number of the friend with this key.
    pub async fn friend_by_key(
        &self,
        public_key: PublicKey,
    ) -> Result<Option<FriendNumber>, ToxError> {
        self.call(move |stack, _| stack.messenger.as_ref()?.friend_number(&public_key))
            .await
    }

    /// Sends a message (1–1372 bytes) to an online friend; its id comes
    /// back in a [`ToxEvent::ReadReceipt`].
    pub async fn send_message(
        &self,
        friend: FriendNumber,
        kind: MessageKind,
        text: impl Into<Vec<u8>>,
    ) -> Result<MessageId, ToxError> {
        let text = text.into();
        self.messenger(move |m, s| m.send_message(friend, kind, text, s))
            .await
    }

    /// Offers an online friend a file and sends it from `source` once
    /// they accept: `kind` 0 ([`FILEKIND_DATA`]) for data; `size` in
    /// bytes, or `None` for a stream that ends where `source` does;
    /// `file_id` to recognise the file again (to resume it after a broken
    /// transfer, offer it again with the same id), `None` for a random
    /// one; `name` at most 255 bytes.
    ///
    /// `source` is read only as the session asks for chunks, so a file of
    /// any size streams through a few dozen kilobytes. If the receiver
    /// seeks, the bytes before the seek are read and skipped.
    ///
    /// [`FILEKIND_DATA`]: crate::messenger::packet::FILEKIND_DATA
    pub async fn send_file(
        &self,
        friend: FriendNumber,
        kind: u32,
        size: Option<u64>,
        file_id: Option<[u8; FILE_ID_LENGTH]>,
        name: impl Into<Vec<u8>>,
        source: impl tokio::io::AsyncRead + Send + Unpin + 'static,
    ) -> Result<OutgoingFile, ToxError> {
        // The wire's "unknown size" is a stream here too.
        let size = size.filter(|&s| s != toxide_messenger::packet::FILESIZE_UNKNOWN);
        let file_id = file_id.unwrap_or_else(|| {
            let mut id = [0; FILE_ID_LENGTH];
            rand::rng().fill_bytes(&mut id);
            id
        });
        transfer::send_file(
            self.handle.downgrade(),
            friend,
            kind,
            size,
            file_id,
            name.into(),
            source,
        )
        .await
    }

    /// Sets our avatar (`None`: we have none), at most
    /// [`MAX_AVATAR_SIZE`] bytes, and offers it to every online friend
    /// (cancelling an older one still on its way) and from now on to each
    /// friend that comes online. Friends see an offer of kind
    /// [`FILEKIND_AVATAR`] whose file id is the image's SHA-256
    /// ([`avatar_hash`]), so one that has the image already can refuse it;
    /// `None` is offered as "no avatar" (size 0). Until the first call
    /// nothing is offered.
    ///
    /// The image is kept in memory only, not in [`Tox::savedata`]
    /// (c-toxcore keeps no avatar in its save either): set it again after
    /// every start.
    ///
    /// [`FILEKIND_AVATAR`]: crate::messenger::packet::FILEKIND_AVATAR
    /// [`MAX_AVATAR_SIZE`]: crate::messenger::file::MAX_AVATAR_SIZE
    /// [`avatar_hash`]: crate::messenger::file::avatar_hash
    pub async fn set_avatar(&self, image: Option<bytes::Bytes>) -> Result<(), ToxError> {
        self.call(move |stack, now| {
            stack
                .with_messenger(now, |m, s| m.set_avatar(image, s))
                .unwrap_or(Ok(()))
        })
        .await?
        .map_err(ToxError::from)
    }

    /// Our avatar as last set (`None` if never set or set to none).
    pub async fn avatar(&self) -> Result<Option<bytes::Bytes>, ToxError> {
        self.call(|stack, _| {
            stack
                .messenger
                .as_ref()
                .and_then(|m| m.avatar())
                .filter(|image| !image.is_empty())
                .cloned()
        })
        .await
    }

    /// Sets our name (at most 128 bytes).
    pub async fn set_name(&self, name: impl Into<Vec<u8>>) -> Result<(), ToxError> {
        let name = name.into();
        self.call(move |stack, now| ops::set_name(stack, now, name))
            .await?
    }

    /// Sets our status message (at most 1007 bytes).
    pub async fn set_status_message(&self, text: impl Into<Vec<u8>>) -> Result<(), ToxError> {
        let text = text.into();
        self.messenger(move |m, s| m.set_status_message(text, s))
            .await
    }

    /// Sets our user status.
    pub async fn set_status(&self, status: UserStatus) -> Result<(), ToxError> {
        self.messenger(move |m, s| {
            m.set_status(status, s);
            Ok(())
        })
        .await
    }

    /// Tells a friend whether we are typing to them.
    pub async fn set_typing(&self, friend: FriendNumber, typing: bool) -> Result<(), ToxError> {
        self.messenger(move |m, s| m.set_typing(friend, typing, s))
            .await
    }

    /// Our name.
    pub async fn name(&self) -> Result<Vec<u8>, ToxError> {
        self.call(|stack, _| {
            stack
                .messenger
                .as_ref()
                .map(|m| m.name().to_vec())
                .unwrap_or_default()
        })
        .await
    }

    /// The save of this instance now, in c-toxcore's format; encrypted
    /// when a passphrase was given.
    pub async fn savedata(&self) -> Result<Vec<u8>, ToxError> {
        let shared = Arc::clone(&self.shared);
        let nospam = self.nospam();
        let unix_now = ops::unix_now();
        let plain = self
            .call(move |stack, _| {
                ops::savedata(stack, &shared.keys, nospam, &shared.kept, unix_now)
            })
            .await?;
        match &self.shared.pass_key {
            Some(key) => Ok(key.encrypt(&plain, &mut rand::rng())?),
            None => Ok(plain),
        }
    }

    /// Writes [`Tox::savedata`] to `path` atomically (temporary file,
    /// fsync, rename, fsync of the folder): a crash leaves the old save or
    /// the new one, never half of either.
    pub async fn save_to(&self, path: &Path) -> Result<(), ToxError> {
        let bytes = self.savedata().await?;
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(())
    }

    /// Stops the instance: friends' sessions end with kill packets, the
    /// socket closes, the event stream ends.
    pub async fn shutdown(&self) {
        self.handle.shutdown().await;
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut crate::Stack, std::time::Instant) -> T + Send + 'static,
    ) -> Result<T, ToxError> {
        Ok(self.handle.call(move |stack, now, _| f(stack, now)).await?)
    }

    async fn messenger<T: Send + 'static>(
        &self,
        f: impl FnOnce(
            &mut toxide_messenger::messenger::Messenger,
            &mut dyn toxide_messenger::messenger::Sessions,
        ) -> Result<T, MessengerError>
        + Send
        + 'static,
    ) -> Result<T, ToxError> {
        self.call(move |stack, now| {
            stack
                .with_messenger(now, f)
                .unwrap_or(Err(MessengerError::NoFriend(0)))
        })
        .await?
        .map_err(ToxError::from)
    }
}
