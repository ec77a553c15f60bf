//! How long a caller of [`super::SyncDriver::iterate`] may sleep: the
//! policy behind `tox_iteration_interval`.
//!
//! c-toxcore answers 50 ms always (1–2 ms during bulk transfers), so an
//! idle client wakes 20 times a second. Here the sleep follows how
//! recently the application's traffic moved:
//! - within [`BUSY_WINDOW`]: [`BUSY_INTERVAL`] (a chat burst, a transfer);
//! - within [`RECENT_WINDOW`]: [`RECENT_INTERVAL`];
//! - within [`CONVERSATION_WINDOW`]: [`CONVERSATION_INTERVAL`], c-toxcore's
//!   own 50 ms, so a reply that comes after a pause in a conversation is
//!   read no later than c-toxcore would read it;
//! - after that the client is idle: it sleeps until the stack's next timer
//!   but at least [`IDLE_MIN_SLEEP`] and at most [`IDLE_INTERVAL`], so it
//!   wakes at most twice a second however many friends' sessions keep
//!   their own timers (goal: ten times fewer wake-ups than c-toxcore).
//!   Timers are then late by up to [`IDLE_MIN_SLEEP`], which no protocol
//!   timer minds (the shortest keep-alive is a second), and data that
//!   arrives during an idle sleep waits for its end: the price of not
//!   waking.
//!
//! "Session traffic" is what the application sees of its friends: any
//! event handed out except the DHT's, the onion client's (but for friend
//! requests), the self connection's and net_crypto's raw session events
//! (but for a session opening or closing), plus every
//! [`super::SyncDriver::flush`] the application calls after changing the
//! stack (a message sent: its receipt and the reply are coming). Raw
//! session events and net_crypto data packets (id 0x1b) do not count:
//! sessions exchange keep-alives (packet requests every second, friend
//! pings every 8 s, c-toxcore's too), which would keep every client with
//! an online friend in the fast lane forever.

use std::time::{Duration, Instant};

use crate::stack::StackEvent;

/// Sleep when the last session traffic is within [`BUSY_WINDOW`]: a chat
/// burst or a file transfer, where each turn's delay adds to a round trip
/// and to the transfer's pacing.
pub const BUSY_INTERVAL: Duration = Duration::from_millis(1);
/// How recent traffic must be for [`BUSY_INTERVAL`].
pub const BUSY_WINDOW: Duration = Duration::from_millis(500);
/// Sleep when the last session traffic is within [`RECENT_WINDOW`]: a
/// conversation that may go on, read at 100 Hz (replies come in seconds,
/// and 10 ms is well under c-toxcore's 50 ms).
pub const RECENT_INTERVAL: Duration = Duration::from_millis(10);
/// How recent traffic must be for [`RECENT_INTERVAL`].
pub const RECENT_WINDOW: Duration = Duration::from_secs(5);
/// Sleep when the last session traffic is within [`CONVERSATION_WINDOW`]:
/// c-toxcore's constant interval, so a reply after a pause is never read
/// later than c-toxcore reads it.
pub const CONVERSATION_INTERVAL: Duration = Duration::from_millis(50);
/// How recent traffic must be for [`CONVERSATION_INTERVAL`]: replies in a
/// conversation mostly come within half a minute.
pub const CONVERSATION_WINDOW: Duration = Duration::from_secs(30);
/// The longest sleep: an idle client wakes once a second (twenty times
/// fewer than c-toxcore's 50 ms), or sooner when a timer of the stack is
/// due, but see [`IDLE_MIN_SLEEP`].
pub const IDLE_INTERVAL: Duration = Duration::from_millis(1000);
/// The shortest sleep of an idle client: timers due sooner wait for it,
/// so each friend's session timers (requests every 3 s, a rate check
/// 50 ms after a keep-alive, each at its own phase) do not add wake-ups.
pub const IDLE_MIN_SLEEP: Duration = Duration::from_millis(500);

/// What the interval policy remembers.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pace {
    /// When session traffic last moved.
    last_traffic: Option<Instant>,
    /// The last turn's read budget ran out: more is waiting.
    pub(crate) left_over: bool,
}

impl Pace {
    /// Session traffic moved at `now`.
    pub(crate) fn traffic(&mut self, now: Instant) {
        self.last_traffic = Some(now);
    }

    /// Notes the events handed out at `now` (see the module doc).
    pub(crate) fn saw(&mut self, now: Instant, events: &[StackEvent]) {
        if events.iter().any(is_session_traffic) {
            self.traffic(now);
        }
    }

    /// How long to sleep at `now` when the next deadline (a stack timer,
    /// a relay connection's) is `next`; `busy` caps it at
    /// [`RECENT_INTERVAL`] (relay sockets still connecting or with bytes
    /// unsent, which only a turn moves on).
    pub(crate) fn interval(&self, now: Instant, next: Option<Instant>, busy: bool) -> Duration {
        if self.left_over {
            return Duration::ZERO;
        }
        let since = self.last_traffic.map(|t| now.saturating_duration_since(t));
        let (floor, cap) = match since {
            Some(since) if since < BUSY_WINDOW => (Duration::ZERO, BUSY_INTERVAL),
            Some(since) if since < RECENT_WINDOW => (Duration::ZERO, RECENT_INTERVAL),
            Some(since) if since < CONVERSATION_WINDOW => (Duration::ZERO, CONVERSATION_INTERVAL),
            _ => (IDLE_MIN_SLEEP, IDLE_INTERVAL),
        };
        if busy {
            // Relay sockets that only a turn moves on: no idle floor.
            return next.map_or(RECENT_INTERVAL, |next| {
                next.saturating_duration_since(now).min(RECENT_INTERVAL)
            });
        }
        next.map_or(cap, |next| {
            next.saturating_duration_since(now).clamp(floor, cap)
        })
    }
}

/// Whether `event` is session traffic (see the module doc).
fn is_session_traffic(event: &StackEvent) -> bool {
    use toxide_net_crypto::Event as Session;
    match event {
        // A friend request is what a person sent, whichever way it came.
        StackEvent::Onion(toxide_onion::ClientEvent::FriendRequest { .. }) => true,
        // A session opening or closing: a friend is arriving (its
        // handshake's last steps and the messenger's greeting follow at
        // once) or leaving. Data and acknowledgements are not: keep-alives
        // are both.
        StackEvent::Session { event, .. } => matches!(
            event,
            Session::Accepted { .. } | Session::Established { .. } | Session::Closed { .. }
        ),
        StackEvent::Dht(_) | StackEvent::Onion(_) | StackEvent::SelfConnection(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toxide_messenger::messenger::Event;

    fn message() -> StackEvent {
        StackEvent::Messenger(Event::Typing {
            friend: 0,
            typing: true,
        })
    }

    #[test]
    fn idle_sleeps_until_a_timer_but_at_least_the_idle_floor() {
        let now = Instant::now();
        let pace = Pace::default();
        assert_eq!(pace.interval(now, None, false), IDLE_INTERVAL);
        let timer = now + Duration::from_millis(700);
        assert_eq!(
            pace.interval(now, Some(timer), false),
            Duration::from_millis(700)
        );
        // Timers due sooner (or overdue) wait for the floor: many
        // friends' session timers cost no extra wake-ups.
        let soon = now + Duration::from_millis(30);
        assert_eq!(pace.interval(now, Some(soon), false), IDLE_MIN_SLEEP);
        assert_eq!(pace.interval(now, Some(now), false), IDLE_MIN_SLEEP);
        let past = now.checked_sub(Duration::from_secs(1)).unwrap();
        assert_eq!(pace.interval(now, Some(past), false), IDLE_MIN_SLEEP);
    }

    #[test]
    fn traffic_shortens_the_sleep_then_it_grows_back() {
        let start = Instant::now();
        let mut pace = Pace::default();
        pace.saw(start, &[message()]);
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(pace.interval(at(0), None, false), BUSY_INTERVAL);
        assert_eq!(pace.interval(at(499), None, false), BUSY_INTERVAL);
        assert_eq!(pace.interval(at(500), None, false), RECENT_INTERVAL);
        assert_eq!(pace.interval(at(4_999), None, false), RECENT_INTERVAL);
        assert_eq!(pace.interval(at(5_000), None, false), CONVERSATION_INTERVAL);
        assert_eq!(
            pace.interval(at(29_999), None, false),
            CONVERSATION_INTERVAL
        );
        assert_eq!(pace.interval(at(30_000), None, false), IDLE_INTERVAL);
        // Before idleness a timer sooner than the cap still wins, however
        // soon.
        assert_eq!(
            pace.interval(at(600), Some(at(603)), false),
            Duration::from_millis(3)
        );
        assert_eq!(
            pace.interval(at(20_000), Some(at(20_000)), false),
            Duration::ZERO
        );
    }

    #[test]
    fn network_housekeeping_is_not_traffic() {
        let now = Instant::now();
        let mut pace = Pace::default();
        pace.saw(
            now,
            &[StackEvent::SelfConnection(crate::stack::Connection::Udp)],
        );
        assert_eq!(pace.interval(now, None, false), IDLE_INTERVAL);
        pace.traffic(now);
        assert_eq!(pace.interval(now, None, false), BUSY_INTERVAL);
    }

    #[test]
    fn a_session_opening_is_traffic_but_its_keepalives_are_not() {
        use toxide_net_crypto::{ConnectionId, Event as Session};
        let now = Instant::now();
        let friend = toxide_core::PublicKey::new([7; 32]);
        let id = ConnectionId(0);
        let mut pace = Pace::default();
        let acked = StackEvent::Session {
            friend,
            event: Session::Acked {
                id,
                buffer_start: 3,
            },
        };
        pace.saw(now, &[acked]);
        assert_eq!(pace.interval(now, None, false), IDLE_INTERVAL);
        let opened = StackEvent::Session {
            friend,
            event: Session::Established { id },
        };
        pace.saw(now, &[opened]);
        assert_eq!(pace.interval(now, None, false), BUSY_INTERVAL);
    }

    #[test]
    fn leftover_work_means_no_sleep_and_pending_relays_a_short_one() {
        let now = Instant::now();
        let mut pace = Pace::default();
        assert_eq!(pace.interval(now, None, true), RECENT_INTERVAL);
        pace.left_over = true;
        assert_eq!(pace.interval(now, None, false), Duration::ZERO);
    }
}
