//! The friend-session rule of [`Stack`] (checklist F1), driven alone with
//! every datagram dropped: a friend who never answers is tried until
//! [`FRIEND_DHT_TIMEOUT`] after the last news of its DHT key, and news
//! restarts the tries at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use toxide_core::{KeyPair, PublicKey};
use toxide_dht::{Config, Dht};
use toxide_net_crypto::NetCrypto;
use toxide_net_crypto::packet::NET_PACKET_COOKIE_REQUEST;

use super::{FRIEND_DHT_TIMEOUT, Stack};

/// One handshake attempt (8 tries a second apart) may still be under way
/// when the key goes stale.
const MARGIN: Duration = Duration::from_secs(10);

/// A client stack without the onion, and its clock.
struct Lone {
    stack: Stack,
    now: Instant,
    /// When each cookie request went out.
    cookie_requests: Vec<Instant>,
}

impl Lone {
    fn new(rng: &mut ChaCha20Rng) -> Self {
        let now = Instant::now();
        let (real, dht) = (KeyPair::generate(rng), KeyPair::generate(rng));
        let net_crypto = NetCrypto::new(real, dht.clone(), None, now, [1; 32]);
        let dht = Dht::with_keys(Config::default(), now, [2; 32], dht);
        Self {
            stack: Stack::new(dht, None, None, Some(net_crypto)),
            now,
            cookie_requests: Vec::new(),
        }
    }

    /// Runs the stack's timers until `for_` has passed, dropping (and
    /// counting) what it sends.
    fn run(&mut self, for_: Duration) {
        let until = self.now + for_;
        for _ in 0..100_000 {
            while let Some(transmit) = self.stack.poll_transmit(self.now) {
                if transmit.payload.first() == Some(&NET_PACKET_COOKIE_REQUEST) {
                    self.cookie_requests.push(self.now);
                }
            }
            match self.stack.poll_timeout(self.now) {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.stack.handle_timeout(self.now);
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
        panic!("the stack asks to be woken at the same instant forever");
    }

    /// Cookie requests sent since `since`, as times after it.
    fn sent_since(&self, since: Instant) -> Vec<Duration> {
        self.cookie_requests
            .iter()
            .filter(|t| **t >= since)
            .map(|t| t.duration_since(since))
            .collect()
    }

    /// Whether the DHT searches for `key` (its search lists are private;
    /// their debug form names each target).
    fn searches_for(&self, key: &PublicKey) -> bool {
        format!("{:?}", self.stack.dht).contains(&format!("target: {key:?}"))
    }

    fn dht_pk_of(&self, friend: &PublicKey) -> Option<PublicKey> {
        self.stack.friends.get(friend)?.dht_pk
    }
}

#[test]
fn an_unanswering_friend_is_tried_until_its_key_goes_stale_and_news_restarts_it() {
    let mut rng = ChaCha20Rng::seed_from_u64(0xf1);
    let mut a = Lone::new(&mut rng);
    let (b_real, b_dht) = (
        KeyPair::generate(&mut rng).public,
        KeyPair::generate(&mut rng).public,
    );
    let b_addr: SocketAddr = "10.0.0.2:33445".parse().unwrap();

    // Key and address known at t0: tried again and again, for 122 s.
    let t0 = a.now;
    a.stack
        .connect_friend_at(t0, b_real, b_dht, b_addr)
        .unwrap();
    assert!(a.searches_for(&b_dht));
    a.run(Duration::from_secs(300));
    let sent = a.sent_since(t0);
    assert!(sent.len() > 8, "not retried: {sent:?}");
    assert!(
        sent.iter().any(|t| *t > FRIEND_DHT_TIMEOUT - MARGIN),
        "gave up early: {sent:?}"
    );
    assert!(
        sent.iter().all(|t| *t <= FRIEND_DHT_TIMEOUT + MARGIN),
        "still trying: {sent:?}"
    );
    assert_eq!(a.dht_pk_of(&b_real), None);
    assert!(
        !a.searches_for(&b_dht),
        "the DHT still searches the stale key"
    );

    // News of the key (the onion's DHT-PK) restarts at once: the search,
    // and a session as soon as the DHT finds the address.
    let t1 = a.now;
    a.stack.friend_dht_pk(t1, b_real, b_dht);
    assert_eq!(a.dht_pk_of(&b_real), Some(b_dht));
    assert!(a.searches_for(&b_dht));
    assert!(a.stack.friend_connection(&b_real).is_some());
    a.stack.friend_found(t1, b_dht, b_addr);
    a.run(Duration::from_secs(60));
    assert_eq!(a.sent_since(t1).first(), Some(&Duration::ZERO));

    // The same key again is no news: the tries still end 122 s after t1.
    a.stack.friend_dht_pk(a.now, b_real, b_dht);
    a.run(Duration::from_secs(240));
    let sent = a.sent_since(t1);
    assert!(
        sent.iter().all(|t| *t <= FRIEND_DHT_TIMEOUT + MARGIN),
        "same-key news extended the tries: {sent:?}"
    );
    assert!(!a.searches_for(&b_dht));

    // Removing the friend leaves no search behind.
    a.stack.friend_dht_pk(a.now, b_real, b_dht);
    assert!(a.searches_for(&b_dht));
    a.stack.remove_friend(&b_real);
    assert!(!a.searches_for(&b_dht));
}

/// A client stack with the onion client (which conference peers need, as
/// friends do) and nothing on the wire.
fn with_onion(rng: &mut ChaCha20Rng) -> Stack {
    let now = Instant::now();
    let (real, dht) = (KeyPair::generate(rng), KeyPair::generate(rng));
    let net_crypto = NetCrypto::new(real.clone(), dht.clone(), None, now, [1; 32]);
    let client = toxide_onion::OnionClient::new(
        toxide_onion::ClientConfig { no_replay_base: 1 },
        real,
        toxide_core::NoSpam([1, 2, 3, 4]),
        dht.clone(),
        now,
        [3; 32],
    );
    let dht = Dht::with_keys(Config::default(), now, [2; 32], dht);
    Stack::new(dht, None, Some(client), Some(net_crypto))
}

/// Conference peers (F1): a peer the conferences want gets a friend
/// connection (its DHT key from the peer list tried at once) without
/// becoming a Messenger friend, and loses it when released; a friend who
/// is also a conference peer keeps its connection when unfriended, until
/// the conferences let go too.
#[test]
fn conference_peers_hold_connections_beside_friends() {
    let mut rng = ChaCha20Rng::seed_from_u64(0xc0);
    let mut stack = with_onion(&mut rng);
    let now = Instant::now();
    let (peer, peer_dht) = (
        KeyPair::generate(&mut rng).public,
        KeyPair::generate(&mut rng).public,
    );
    stack.want_peer(now, peer, Some(peer_dht)).unwrap();
    assert!(stack.friend_connection(&peer).is_some(), "a session opened");
    assert_eq!(
        stack.friends.get(&peer).and_then(|s| s.dht_pk),
        Some(peer_dht)
    );
    let messenger = stack.messenger.as_ref().unwrap();
    assert_eq!(messenger.friend_number(&peer), None, "not a friend");
    // Wanted twice: one connection, and a later hint does not replace the
    // key the connection has.
    let other_dht = KeyPair::generate(&mut rng).public;
    stack.want_peer(now, peer, Some(other_dht)).unwrap();
    assert_eq!(
        stack.friends.get(&peer).and_then(|s| s.dht_pk),
        Some(peer_dht)
    );
    stack.release_peer(&peer);
    assert!(stack.friend_connection(&peer).is_none(), "released");
    assert!(!stack.friends.contains_key(&peer));

    // A friend in a conference: unfriending keeps the connection for the
    // conference; releasing it then ends it.
    let friend = KeyPair::generate(&mut rng).public;
    stack.add_friend(friend).unwrap();
    stack.want_peer(now, friend, Some(peer_dht)).unwrap();
    assert!(stack.friend_connection(&friend).is_some());
    stack.remove_friend(&friend);
    let messenger = stack.messenger.as_ref().unwrap();
    assert_eq!(messenger.friend_number(&friend), None, "no longer a friend");
    assert!(
        stack.friend_connection(&friend).is_some(),
        "kept for the conference"
    );
    stack.release_peer(&friend);
    assert!(stack.friend_connection(&friend).is_none());
    // And the other way round: released by the conference, kept as a friend.
    stack.add_friend(friend).unwrap();
    stack.want_peer(now, friend, Some(peer_dht)).unwrap();
    stack.release_peer(&friend);
    assert!(
        stack.friend_connection(&friend).is_some(),
        "kept for the friend"
    );
}
