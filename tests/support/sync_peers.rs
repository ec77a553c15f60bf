//! Running [`SyncDriver`]s as a C program would: turn each, sleep what
//! they ask (capped), and keep their events per driver until a test
//! waits for one. Shared by tests/sync_driver.rs and
//! node/tests/sync_driver.rs (by `#[path]`). Every wait is bounded.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use toxide::driver::{ClientIdentity, DriverConfig};
use toxide::messenger::messenger::FriendNumber;
use toxide::messenger::packet::MessageKind;
use toxide::stack::StackEvent;
use toxide::sync_driver::SyncDriver;
use toxide::{KeyPair, NoSpam, PublicKey};

/// The longest sleep between turns, whatever a driver asks.
pub(crate) const MAX_SLEEP: Duration = Duration::from_millis(50);

/// A client configuration on 127.0.0.1 with a fresh identity.
pub(crate) fn client_config() -> DriverConfig {
    let mut config = DriverConfig::new([SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]);
    config.onion = Some(toxide::onion::ServerConfig::default());
    config.client = Some(ClientIdentity {
        keys: KeyPair::generate(&mut rand::rng()),
        nospam: NoSpam::random(&mut rand::rng()),
    });
    config
}

/// Drivers turned together, each with the events no wait took yet.
pub(crate) struct Peers {
    pub(crate) drivers: Vec<SyncDriver>,
    backlog: Vec<VecDeque<StackEvent>>,
    /// Turns taken and the sleeps asked for, for checks on the interval.
    pub(crate) sleeps: Vec<Duration>,
}

impl Peers {
    pub(crate) fn new(drivers: Vec<SyncDriver>) -> Self {
        let backlog = drivers.iter().map(|_| VecDeque::new()).collect();
        Self {
            drivers,
            backlog,
            sleeps: Vec::new(),
        }
    }

    /// The long-term key of driver `index`.
    pub(crate) fn real_pk(&self, index: usize) -> PublicKey {
        self.drivers[index].tox_id().unwrap().public_key
    }

    /// Turns every driver until driver `index` hands out an event `want`
    /// takes a value from, within `limit`; panics naming `what` otherwise.
    pub(crate) fn wait<T>(
        &mut self,
        index: usize,
        what: &str,
        limit: Duration,
        mut want: impl FnMut(&StackEvent) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            while let Some(event) = self.backlog[index].pop_front() {
                if let Some(found) = want(&event) {
                    return found;
                }
            }
            assert!(Instant::now() < deadline, "no {what} within {limit:?}");
            let mut sleep = MAX_SLEEP;
            for (driver, backlog) in self.drivers.iter_mut().zip(&mut self.backlog) {
                backlog.extend(driver.iterate(Instant::now()));
                sleep = sleep.min(driver.iteration_interval(Instant::now()));
            }
            self.sleeps.push(sleep);
            std::thread::sleep(sleep);
        }
    }

    /// Waits until driver `index` sees friend `friend` connected.
    pub(crate) fn wait_online(&mut self, index: usize, friend: FriendNumber, limit: Duration) {
        self.wait(index, "friend online", limit, |e| match e {
            StackEvent::FriendConnection {
                friend: f,
                connection,
            } if *f == friend => connection.is_connected().then_some(()),
            _ => None,
        });
    }

    /// The number driver `index` has for the friend with key `pk`.
    pub(crate) fn friend_number(&mut self, index: usize, pk: &PublicKey) -> FriendNumber {
        let stack = self.drivers[index].stack();
        stack.messenger.as_ref().unwrap().friend_number(pk).unwrap()
    }

    /// Driver `from` sends `text` to its friend `to` and `to` receives it
    /// within `limit`; returns how long that took.
    pub(crate) fn message(
        &mut self,
        from: usize,
        to: usize,
        text: &str,
        limit: Duration,
    ) -> Duration {
        let to_pk = self.real_pk(to);
        let from_pk = self.real_pk(from);
        let friend = self.friend_number(from, &to_pk);
        let sender = self.friend_number(to, &from_pk);
        let start = Instant::now();
        let driver = &mut self.drivers[from];
        let bytes = text.as_bytes().to_vec();
        driver
            .stack()
            .with_messenger(start, |m, s| {
                m.send_message(friend, MessageKind::Normal, bytes, s)
            })
            .unwrap()
            .unwrap();
        driver.flush(Instant::now());
        let got = self.wait(to, "the message", limit, |e| match e {
            StackEvent::Messenger(toxide::messenger::messenger::Event::Message {
                friend,
                text,
                ..
            }) if *friend == sender => Some(text.clone()),
            _ => None,
        });
        assert_eq!(got, text.as_bytes());
        start.elapsed()
    }
}
