//! Counters of what the DHT did and dropped.
//!
//! A public node sees junk all day. Every dropped datagram is counted here
//! by reason instead of being logged, so an operator can see what is
//! happening without the node becoming a log-flooding target.

/// Counters since the DHT was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to the DHT.
    pub received: u64,
    /// Datagrams the DHT queued for sending.
    pub sent: u64,
    /// Dropped: malformed or wrong-sized.
    pub dropped_malformed: u64,
    /// Dropped: a nodes response listing no node, which c-toxcore sends
    /// while its lists are empty (well-formed, but useless).
    pub dropped_empty_nodes_response: u64,
    /// Dropped: the box did not open (wrong key, forged or corrupted).
    pub dropped_undecryptable: u64,
    /// Dropped: a response to no request of ours, from the wrong node or
    /// address, or too late.
    pub dropped_unsolicited: u64,
    /// Dropped: the sender used our own key (a reflection).
    pub dropped_from_self: u64,
    /// Dropped: the sender's host exceeded its request budget.
    pub dropped_rate_limited: u64,
    /// Dropped: the sender's key was not cached and the global budget for
    /// computing new shared keys was spent.
    pub dropped_key_budget: u64,
    /// Shared keys computed (cache misses, one scalar multiplication
    /// each): how well the key cache fits the load.
    pub shared_keys_computed: u64,
    /// Dropped: the sender's key is a low-order point (no secret can be
    /// shared with it; libsodium refuses it too).
    pub dropped_low_order_key: u64,
    /// Dropped: LAN discovery while disabled, or from a non-LAN address.
    pub dropped_lan_discovery: u64,
    /// Dropped: a DHT request for a key not in our close list.
    pub dropped_unroutable: u64,
    /// Dropped: a NAT ping from a key we are not searching for.
    pub dropped_nat_ping_stranger: u64,
    /// Dropped: a packet kind this node does not serve (e.g. bootstrap info
    /// on a client).
    pub dropped_unserved: u64,
    /// Nodes requests answered.
    pub nodes_requests_answered: u64,
    /// Ping requests answered.
    pub pings_answered: u64,
    /// DHT requests forwarded to a node in our close list.
    pub requests_routed: u64,
}
