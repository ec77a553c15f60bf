//! Timers and sizes of c-toxcore 0.2.18's DHT (`DHT.h`, `DHT.c`, `ping.c`).
//!
//! Where the spec says otherwise, these are what 0.2.18 does on the wire
//! (checklist D4, D6, D8).

use std::time::Duration;

/// Buckets in the close list: one per length of the key prefix shared with
/// our own key, the last one also holding every longer prefix
/// (`LCLIENT_LENGTH`; the spec's 256 is SPEC≠CODE).
pub const CLOSE_BUCKETS: usize = 128;
/// Nodes per bucket (`LCLIENT_NODES`).
pub const BUCKET_SIZE: usize = 8;
/// Nodes kept per searched key (`MAX_FRIEND_CLIENTS`).
pub const SEARCH_LIST_SIZE: usize = 8;
/// Random keys searched for to keep the routing table healthy
/// (`DHT_FAKE_FRIEND_NUMBER`).
pub const FAKE_FRIEND_NUMBER: usize = 2;
/// Nodes heard of, queued for a nodes request at the next tick: for the
/// close list (`MAX_CLOSE_TO_BOOTSTRAP_NODES`)…
pub const CLOSE_TO_BOOTSTRAP: usize = 8;
/// …and for each search list (`MAX_SENT_NODES`).
pub const SEARCH_TO_BOOTSTRAP: usize = toxide_core::packed_node::MAX_SENT_NODES;
/// Unknown nodes waiting to be pinged (`MAX_TO_PING`).
pub const MAX_TO_PING: usize = 32;
/// How often queued nodes are pinged (`TIME_TO_PING`).
pub const TIME_TO_PING: Duration = Duration::from_secs(2);
/// Outstanding requests remembered per kind (`PING_NUM_MAX`,
/// `DHT_PING_ARRAY_SIZE`).
pub const MAX_PENDING_REQUESTS: usize = 512;
/// How long a response to our request is accepted (`PING_TIMEOUT`; the
/// spec's 60 s window for nodes responses is SPEC≠CODE).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Each known node gets a nodes request this often (`PING_INTERVAL`).
pub const PING_INTERVAL: Duration = Duration::from_secs(60);
/// A random good node of each list gets a nodes request this often
/// (`GET_NODE_INTERVAL`).
pub const GET_NODE_INTERVAL: Duration = Duration::from_secs(20);
/// A node not heard from for this long is "bad": not handed out, and its
/// slot may be reused (`BAD_NODE_TIMEOUT`). toxide applies it to nodes on
/// the short refresh tier; a node on the slow tier gets the same grace
/// after its own, later, refresh deadline ([`BAD_NODE_GRACE`]).
pub const BAD_NODE_TIMEOUT: Duration = Duration::from_secs(122);
/// A node not heard from for this long is no longer pinged
/// (`KILL_NODE_TIMEOUT`); on the slow tier, [`KILL_NODE_GRACE`] after its
/// refresh deadline.
pub const KILL_NODE_TIMEOUT: Duration = Duration::from_secs(182);
/// Silence from a node after which we ask it whether it is alive: the
/// short tier, which every node is on until it has been
/// [`STABLE_AFTER`] good, and the nodes nearest our key always.
/// c-toxcore asks every node each [`PING_INTERVAL`] (60 s) however long
/// it has been silent; see [`crate::refresh`] for why 90 s of silence.
pub const REFRESH_AFTER: Duration = Duration::from_secs(90);
/// How long past its refresh deadline a silent node turns bad: c-toxcore's
/// [`BAD_NODE_TIMEOUT`] less our [`REFRESH_AFTER`], room for four
/// liveness requests ten seconds apart. Kept the same on both tiers, so a
/// dead node is always dropped within its tier's interval plus 32 s.
pub const BAD_NODE_GRACE: Duration =
    Duration::from_secs(BAD_NODE_TIMEOUT.as_secs() - REFRESH_AFTER.as_secs());
/// How long past its refresh deadline a silent node stops being asked
/// (c-toxcore's [`KILL_NODE_TIMEOUT`] less our [`REFRESH_AFTER`]).
pub const KILL_NODE_GRACE: Duration =
    Duration::from_secs(KILL_NODE_TIMEOUT.as_secs() - REFRESH_AFTER.as_secs());
/// A node good without a break for this long is "stable" and may move to
/// the slow refresh tier. DHT node uptimes are heavy-tailed (Stutzbach &
/// Rejaie, "Understanding churn in peer-to-peer networks", 2006: the
/// longer a peer has been up, the longer it is likely to stay), which is
/// why Kademlia prefers old nodes; five minutes is well past the first
/// minutes in which most short sessions end, and a node rejoining after
/// going bad starts again on the short tier.
pub const STABLE_AFTER: Duration = Duration::from_secs(5 * 60);
/// The slow tier: silence allowed a stable node before it is asked, in
/// the close list beyond the [`NEAR_FRESH`] nodes nearest our key and in
/// the random-key search lists (BitTorrent's DHT, BEP 5, waits 15 minutes
/// before it questions a node; c-toxcore asks every 60 s). A dead stable
/// node is dropped within this plus [`BAD_NODE_GRACE`].
pub const STABLE_REFRESH_AFTER: Duration = Duration::from_secs(10 * 60);
/// The close list's entries nearest our own key stay on the short tier
/// however stable: a nodes request for a key near ours is answered with
/// them, and our DHT-PK announcements name them as where to find us, so a
/// dead one must go within c-toxcore's [`BAD_NODE_TIMEOUT`]. As many as
/// either carries (`MAX_SENT_NODES`).
pub const NEAR_FRESH: usize = toxide_core::packed_node::MAX_SENT_NODES;
/// The longest wait between random nodes requests of a list whose last
/// rounds brought no new node: [`GET_NODE_INTERVAL`] doubles after each
/// such round up to this, and falls back at once when a round brings a
/// node the list takes. New nodes near us are found anyway: joining, they
/// ask the nodes near their key, and we ping whoever asks us. Lists
/// searching for a friend not yet found stay at [`GET_NODE_INTERVAL`].
pub const GET_NODE_MAX_INTERVAL: Duration = Duration::from_secs(160);
/// How many rounds of nodes requests go out back to back, one per tick,
/// when a list is new (`MAX_BOOTSTRAP_TIMES`).
pub const MAX_BOOTSTRAP_TIMES: u32 = 5;
/// The DHT's main loop runs at most once a second (`do_dht` works on whole
/// seconds of monotonic time).
pub const TICK: Duration = Duration::from_secs(1);
/// NAT pings and port-guessing rounds are this far apart (`PUNCH_INTERVAL`).
pub const PUNCH_INTERVAL: Duration = Duration::from_secs(3);
/// Ports guessed per hole-punching round (`MAX_PUNCHING_PORTS`).
pub const MAX_PUNCHING_PORTS: u16 = 48;
/// Rounds of guessing around reported ports before sweeping upwards from
/// port 1024 (`MAX_NORMAL_PUNCHING_TRIES`).
pub const MAX_NORMAL_PUNCHING_TRIES: u32 = 5;
/// Punching state is reset after this long (`PUNCH_RESET_TIME`).
pub const PUNCH_RESET_TIME: Duration = Duration::from_secs(40);
/// Shared keys cached (c-toxcore keeps 256 × 4 per direction).
pub const SHARED_KEY_CACHE_SIZE: usize = 1024;
/// Nodes from a loaded save file asked per tick until we are connected
/// beyond the LAN (`SAVE_BOOTSTAP_FREQUENCY`, sic).
pub const SAVE_BOOTSTRAP_FREQUENCY: usize = 8;
