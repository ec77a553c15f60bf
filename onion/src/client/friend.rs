//! What the onion client keeps per friend (c-toxcore `Onion_Friend`), and
//! the friend request we may owe them.

use std::time::{Duration, Instant};

use toxide_core::{CryptoError, CryptoRng, KeyPair, NoSpam, PublicKey, SharedKey};

use super::early::EarlyFriend;
use super::nodes::{NodeList, RecentPings};

/// Announce nodes kept per friend (`MAX_ONION_CLIENTS`).
pub const MAX_ONION_CLIENTS: usize = 8;
/// First wait before a friend request is sent again
/// (`FRIENDREQUEST_TIMEOUT`, doubling; **SPEC≠CODE**: the spec says 2 s).
pub const FRIEND_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A friend request still to deliver.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    /// The nospam from the friend's Tox ID.
    pub nospam: NoSpam,
    /// The message.
    pub message: Vec<u8>,
    /// When to try next.
    pub next_send: Instant,
    /// The wait after the next successful send.
    pub backoff: Duration,
}

/// One friend, as the onion sees them.
#[derive(Debug)]
pub struct Friend {
    /// Their real (long-term) key.
    pub real_pk: PublicKey,
    /// DH of our real key with theirs: seals and opens onion data.
    pub shared_real: SharedKey,
    /// The temporary key we search for them with (so announce nodes cannot
    /// link our searches to us).
    pub temp: KeyPair,
    /// The announce nodes closest to their real key.
    pub clients: NodeList,
    /// Nodes recently asked about them.
    pub recent: RecentPings,
    /// Search rounds so far (the search slows down as it grows).
    pub run_count: u32,
    /// Search requests sent.
    pub pings: u32,
    /// Last search request.
    pub time_last_pinged: Option<Instant>,
    /// Last refill of the node list.
    pub last_populated: Option<Instant>,
    /// Their DHT key, once they told us.
    pub dht_pk: Option<PublicKey>,
    /// The highest no_replay they sent.
    pub last_no_replay: u64,
    /// Our last DHT-PK announcement to them through the onion.
    pub last_dht_pk_onion_sent: Option<Instant>,
    /// Our last DHT-PK announcement to them through the DHT.
    pub last_dht_pk_dht_sent: Option<Instant>,
    /// The data keys of theirs our DHT-PK announcement last went to
    /// (at most [`MAX_ONION_CLIENTS`]): a node naming another one has
    /// news (they restarted), and is sent it at once.
    pub dht_pk_sent_to: Vec<PublicKey>,
    /// Connected by a higher layer: the search stops.
    pub is_online: bool,
    /// A friend request we still owe them.
    pub request: Option<OutgoingRequest>,
    /// The address their DHT key was last asked at when a node named it
    /// ([`super::OnionClient::handle_node_learned`]), and when.
    pub last_node_learned: Option<(std::net::SocketAddr, Instant)>,
    /// toxide's early schedule for them (quick search rounds and DHT-PK
    /// announcements while they are new, just went offline or just
    /// announced a new DHT key).
    pub early: EarlyFriend,
}

impl Friend {
    /// A friend known by `real_pk`, for a client whose real key pair is
    /// `ours`; refused if `real_pk` is a low-order point.
    pub fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        ours: &KeyPair,
        real_pk: PublicKey,
    ) -> Result<Self, CryptoError> {
        Ok(Self {
            real_pk,
            shared_real: SharedKey::new(&real_pk, &ours.secret)?,
            temp: KeyPair::generate(rng),
            clients: NodeList::new(real_pk, MAX_ONION_CLIENTS),
            recent: RecentPings::default(),
            run_count: 0,
            pings: 0,
            time_last_pinged: None,
            last_populated: None,
            dht_pk: None,
            last_no_replay: 0,
            last_dht_pk_onion_sent: None,
            last_dht_pk_dht_sent: None,
            dht_pk_sent_to: Vec::new(),
            is_online: false,
            request: None,
            last_node_learned: None,
            early: EarlyFriend::default(),
        })
    }
}
