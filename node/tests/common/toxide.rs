//! A toxide `Tox` driven from a test thread, and the ways it befriends
//! the c-toxcore test peer: shared by the c-toxcore API tests.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use toxide::driver::DriverHandle;
use toxide::messenger::packet::MessageKind;
use toxide::tox::{Tox, ToxBuilder, ToxEvent, ToxEvents};
use toxide_interop::CPeer;

use super::inprocess::loopback;

/// Bound on a friend request or a (re)connection through the onion.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on anything crossing a live session.
pub(crate) const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A toxide [`Tox`] and its events, driven from the test thread.
///
/// Waits work like [`CPeer`]'s: events no wait claimed stay queued for
/// later waits, so what arrives in a different order than it is asked for
/// is not lost; [`Toxide::history`] keeps every event in arrival order.
pub(crate) struct Toxide {
    pub(crate) rt: Handle,
    pub(crate) tox: Tox,
    pub(crate) events: ToxEvents,
    pub(crate) backlog: VecDeque<ToxEvent>,
    pub(crate) history: Vec<ToxEvent>,
}

impl Toxide {
    /// A `Tox` on 127.0.0.1 bootstrapped from `node`; `configure` adds to
    /// its builder (a save, a passphrase).
    pub(crate) fn spawn(
        rt: &Runtime,
        node: &DriverHandle,
        configure: impl FnOnce(ToxBuilder) -> ToxBuilder,
    ) -> Self {
        let builder = ToxBuilder::new()
            .bind_ip(Ipv4Addr::LOCALHOST.into())
            .port(0)
            .bootstrap(loopback(node.local_addr().port()), node.public_key());
        let (tox, events) = rt.block_on(configure(builder).spawn()).unwrap();
        assert!(tox.local_addr().ip().is_loopback());
        Self {
            rt: rt.handle().clone(),
            tox,
            events,
            backlog: VecDeque::new(),
            history: Vec::new(),
        }
    }

    /// Runs one `Tox` call to completion.
    pub(crate) fn block<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// The first event, queued or new, that `want` takes a value from,
    /// within `timeout`; panics naming `what` otherwise.
    pub(crate) fn wait<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut want: impl FnMut(&ToxEvent) -> Option<T>,
    ) -> T {
        for i in 0..self.backlog.len() {
            if let Some(value) = want(&self.backlog[i]) {
                self.backlog.remove(i);
                return value;
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let events = &mut self.events;
            let next = self
                .rt
                .block_on(async { tokio::time::timeout_at(deadline, events.recv()).await });
            let event = match next {
                Ok(Some(event)) => event,
                Ok(None) => panic!("toxide stopped while waiting for {what}"),
                Err(_) => panic!(
                    "toxide: no {what} within {timeout:?}; unclaimed events: {:#?}",
                    self.backlog
                ),
            };
            self.history.push(event.clone());
            if let Some(value) = want(&event) {
                return value;
            }
            self.backlog.push_back(event);
        }
    }

    /// Takes every event for `period` (claimed by nobody, all queued).
    pub(crate) fn idle(&mut self, period: Duration) {
        let deadline = tokio::time::Instant::now() + period;
        loop {
            let events = &mut self.events;
            let Ok(next) = self
                .rt
                .block_on(async { tokio::time::timeout_at(deadline, events.recv()).await })
            else {
                return;
            };
            let event = next.expect("toxide stopped while idle");
            self.history.push(event.clone());
            self.backlog.push_back(event);
        }
    }

    /// Drops the queued events `stale` matches (a state pushed again on
    /// connecting must not pass for a later change back to it).
    pub(crate) fn forget(&mut self, stale: impl Fn(&ToxEvent) -> bool) {
        self.backlog.retain(|e| !stale(e));
    }

    pub(crate) fn connection(&mut self, who: u32, online: bool, timeout: Duration) {
        let what = format!(
            "friend {who} going {}",
            if online { "online" } else { "offline" }
        );
        self.wait(&what, timeout, |e| {
            matches!(e, ToxEvent::FriendConnection { friend, connection }
                if *friend == who && connection.is_connected() == online)
            .then_some(())
        });
    }

    /// The next message or action from `who`.
    pub(crate) fn message(&mut self, who: u32) -> (MessageKind, Vec<u8>) {
        self.wait(&format!("message from {who}"), EVENT_TIMEOUT, |e| match e {
            ToxEvent::Message { friend, kind, text } if *friend == who => {
                Some((*kind, text.clone()))
            }
            _ => None,
        })
    }

    /// `who`'s read receipt for our message `id`.
    pub(crate) fn receipt(&mut self, who: u32, id: u32) {
        self.wait(
            &format!("read receipt {id} from {who}"),
            EVENT_TIMEOUT,
            |e| {
                (*e == ToxEvent::ReadReceipt {
                    friend: who,
                    message_id: id,
                })
                .then_some(())
            },
        );
    }

    pub(crate) fn send(&self, friend: u32, kind: MessageKind, text: &str) -> u32 {
        self.block(
            self.tox
                .send_message(friend, kind, text.as_bytes().to_vec()),
        )
        .unwrap()
    }
}

/// toxide asks (`Tox::add_friend`), the c-toxcore peer accepts; returns
/// the peer's number at toxide and toxide's number at the peer.
pub(crate) fn toxide_asks(toxide: &mut Toxide, peer: &mut CPeer, message: &str) -> (u32, u32) {
    let friend = toxide
        .block(toxide.tox.add_friend(*peer.tox_id(), message.as_bytes()))
        .unwrap();
    let (from, got) = peer.wait_friend_request(CONNECT_TIMEOUT).unwrap();
    assert_eq!((from, got.as_str()), (toxide.tox.public_key(), message));
    let number = peer.add_friend_norequest(&from).unwrap();
    (friend, number)
}

/// The c-toxcore peer asks (`tox_friend_add`), toxide accepts the
/// [`ToxEvent::FriendRequest`]; returns the same pair of numbers.
pub(crate) fn peer_asks(toxide: &mut Toxide, peer: &mut CPeer, message: &str) -> (u32, u32) {
    let number = peer.add_friend(&toxide.tox.address(), message).unwrap();
    let (from, got) = toxide.wait("a friend request", CONNECT_TIMEOUT, |e| match e {
        ToxEvent::FriendRequest {
            public_key,
            message,
        } => Some((*public_key, message.clone())),
        _ => None,
    });
    assert_eq!(
        (from, got.as_slice()),
        (*peer.public_key(), message.as_bytes())
    );
    let friend = toxide.block(toxide.tox.add_friend_norequest(from)).unwrap();
    (friend, number)
}

/// Each side reports the other online: ONLINE crossed both ways.
pub(crate) fn both_online(toxide: &mut Toxide, friend: u32, peer: &mut CPeer, number: u32) {
    toxide.connection(friend, true, CONNECT_TIMEOUT);
    peer.wait_friend_online(number, CONNECT_TIMEOUT).unwrap();
    assert!(
        toxide
            .block(toxide.tox.friend(friend))
            .unwrap()
            .connection
            .is_connected()
    );
}
