//! The local network: which addresses are on it (c-toxcore `ip_is_lan`)
//! and when and where LAN discovery announcements go (checklist D13).
//!
//! LAN addresses are handed only to peers that are themselves on a LAN
//! (checklist D5), and LAN discovery packets are accepted only from them
//! (D13).
//!
//! # Sending LAN discovery, as c-toxcore 0.2.18 does it
//!
//! `lan_discovery` in `friend_connection.c` runs on every
//! `do_friend_connections` (every `tox_iterate`) and sends a round when
//! `last_lan_discovery + LAN_DISCOVERY_INTERVAL < mono_time_get(..)`, a
//! clock of whole seconds: the first round at start-up, then one every
//! 10–11 s of real time. A round calls `lan_discovery_send`
//! (`LAN_discovery.c`) for port 33445 (`TOX_PORT_DEFAULT`) and then for
//! the ports `next_lan_port .. min(next_lan_port + PORTS_PER_DISCOVERY,
//! TOX_PORTRANGE_TO)`, end exclusive; `next_lan_port` starts at 33446 and
//! moves to the window's end, back to 33446 once the end reaches 33545. So
//! ten rounds sweep 33446–33544 (the last window has nine ports) and 33545
//! itself is never swept. Each `lan_discovery_send` sends the 33-byte
//! packet to every IPv4 broadcast address of the machine's interfaces
//! (`fetch_broadcast_info`: `SIOCGIFCONF`, then `SIOCGIFBRDADDR` per
//! interface), to `ff02::1` if its socket is IPv6 and to
//! 255.255.255.255 (as `::ffff:255.255.255.255` on its dual-stack IPv6
//! socket). tox-bootstrapd sends instead to its own port only, every 10 s.
//!
//! [`LanSchedule`] follows the client's schedule and port sweep, with two
//! differences:
//! - a round is due once [`LAN_DISCOVERY_INTERVAL`] has passed, which on
//!   the DHT's one-second tick is every 10 s (c-toxcore's strict test on
//!   whole seconds gives 10–11 s);
//! - our own ports ([`LanSchedule::set_local_ports`]) that the sweep never
//!   reaches (below 33445, 33545, above it) are added to every round, so
//!   nodes that share a non-default port find each other.
//!
//! Destinations are the limited broadcast 255.255.255.255 and the IPv6
//! all-nodes group `ff02::1` only: enumerating each interface's broadcast
//! address needs `ioctl` (`unsafe`, forbidden outside `ffi/`) or another
//! crate. The cost: the kernel sends a limited broadcast out of the
//! interface its routing table picks for it (on Linux, the default
//! route's), so a LAN that is not on that interface, or a machine with no
//! default route, hears nothing from us (the sendto fails with
//! "network unreachable" there), where c-toxcore reaches every interface.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use toxide_core::packed_node::canonical_ip;

/// How often LAN discovery announcements go out
/// (`LAN_DISCOVERY_INTERVAL`, `LAN_discovery.h`).
pub const LAN_DISCOVERY_INTERVAL: Duration = Duration::from_secs(10);
/// The default Tox port, announced to in every round
/// (`TOX_PORT_DEFAULT` = `TOX_PORTRANGE_FROM`, `network.h`).
pub const TOX_PORT_DEFAULT: u16 = 33445;
/// The end of the Tox port range (`TOX_PORTRANGE_TO`); as the exclusive
/// end of c-toxcore's sweep it is itself never swept.
pub const TOX_PORTRANGE_TO: u16 = 33545;
/// Further ports announced to per round (`PORTS_PER_DISCOVERY`,
/// `friend_connection.c`).
pub const PORTS_PER_DISCOVERY: u16 = 10;
/// Where each announcement goes, on every port of a round: the IPv6
/// all-nodes link-local group (RFC 4291) and the IPv4 limited broadcast,
/// in c-toxcore's order. The driver skips a family it has no socket for.
pub const LAN_DISCOVERY_DESTINATIONS: [IpAddr; 2] = [
    IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::BROADCAST),
];

/// The first port of the sweep after the default one.
const SWEEP_START: u16 = TOX_PORT_DEFAULT + 1;

/// When LAN discovery rounds are due and which ports each covers
/// (c-toxcore `lan_discovery` in `friend_connection.c`; see the module
/// documentation for the two differences).
#[derive(Debug, Clone)]
pub struct LanSchedule {
    last_round: Option<Instant>,
    /// The first port of the next round's window (`next_lan_port`).
    next_port: u16,
    /// Our own ports outside the sweep, announced to every round.
    extra_ports: Vec<u16>,
}

impl Default for LanSchedule {
    fn default() -> Self {
        Self {
            last_round: None,
            next_port: SWEEP_START,
            extra_ports: Vec::new(),
        }
    }
}

impl LanSchedule {
    /// Tells the schedule which UDP ports this node listens on; those the
    /// sweep never reaches are announced to in every round from now on.
    pub fn set_local_ports(&mut self, ports: impl IntoIterator<Item = u16>) {
        let mut extra: Vec<u16> = ports
            .into_iter()
            .filter(|&port| port != 0 && !is_swept(port))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        self.extra_ports = extra;
    }

    /// The destinations of the round due at `now`, if one is: the first at
    /// the first call, then one every [`LAN_DISCOVERY_INTERVAL`]. Each call
    /// that returns a round moves the port window on.
    pub fn poll_round(&mut self, now: Instant) -> Option<Vec<SocketAddr>> {
        if self
            .last_round
            .is_some_and(|last| now.saturating_duration_since(last) < LAN_DISCOVERY_INTERVAL)
        {
            return None;
        }
        self.last_round = Some(now);
        let ports = self.next_ports();
        Some(
            ports
                .into_iter()
                .flat_map(|port| {
                    LAN_DISCOVERY_DESTINATIONS
                        .iter()
                        .map(move |&ip| SocketAddr::new(ip, port))
                })
                .collect(),
        )
    }

    /// The ports of one round, in sending order, advancing the window:
    /// 33445, the window, then our own ports outside the sweep.
    fn next_ports(&mut self) -> Vec<u16> {
        let first = self.next_port;
        let last = first
            .saturating_add(PORTS_PER_DISCOVERY)
            .min(TOX_PORTRANGE_TO);
        self.next_port = if last == TOX_PORTRANGE_TO {
            SWEEP_START
        } else {
            last
        };
        std::iter::once(TOX_PORT_DEFAULT)
            .chain(first..last)
            .chain(self.extra_ports.iter().copied())
            .collect()
    }
}

/// Whether c-toxcore's rounds ever announce to `port`: 33445 always,
/// 33446–33544 in turn.
fn is_swept(port: u16) -> bool {
    (TOX_PORT_DEFAULT..TOX_PORTRANGE_TO).contains(&port)
}

/// Whether `ip` is loopback, private, link-local or carrier-grade NAT.
pub fn is_lan(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => is_lan_v4(v4),
        IpAddr::V6(v6) => is_lan_v6(v6),
    }
}

fn is_lan_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        // 100.64.0.0/10, shared address space behind carrier NAT.
        || (a == 100 && (b & 0xc0) == 64)
}

fn is_lan_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments().first().copied().unwrap_or(0);
    ip.is_loopback()
        // fe80::/10 link-local.
        || (first & 0xffc0) == 0xfe80
        // fc00::/7 unique local.
        || (first & 0xfe00) == 0xfc00
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        for lan in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(is_lan(lan.parse().unwrap()), "{lan}");
        }
        for wan in ["8.8.8.8", "100.128.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!is_lan(wan.parse().unwrap()), "{wan}");
        }
    }

    fn ports(round: &[SocketAddr]) -> Vec<u16> {
        let mut ports: Vec<u16> = round.iter().map(SocketAddr::port).collect();
        ports.dedup();
        ports
    }

    #[test]
    fn rounds_are_ten_seconds_apart_and_the_first_is_at_once() {
        let start = Instant::now();
        let mut lan = LanSchedule::default();
        assert!(lan.poll_round(start).is_some());
        for s in 1..10 {
            assert!(
                lan.poll_round(start + Duration::from_secs(s)).is_none(),
                "{s} s"
            );
        }
        assert!(
            lan.poll_round(start + Duration::from_millis(9_999))
                .is_none()
        );
        assert!(lan.poll_round(start + Duration::from_secs(10)).is_some());
        assert!(lan.poll_round(start + Duration::from_secs(11)).is_none());
        // A late call counts from when it ran.
        assert!(lan.poll_round(start + Duration::from_secs(25)).is_some());
        assert!(lan.poll_round(start + Duration::from_secs(34)).is_none());
        assert!(lan.poll_round(start + Duration::from_secs(35)).is_some());
    }

    #[test]
    fn each_port_goes_to_both_broadcast_addresses_in_order() {
        let start = Instant::now();
        let round = LanSchedule::default().poll_round(start).unwrap();
        let expected: Vec<SocketAddr> = std::iter::once(33445)
            .chain(33446..33456)
            .flat_map(|port| {
                [
                    SocketAddr::new("ff02::1".parse().unwrap(), port),
                    SocketAddr::new("255.255.255.255".parse().unwrap(), port),
                ]
            })
            .collect();
        assert_eq!(round, expected);
    }

    #[test]
    fn the_window_sweeps_33446_to_33544_then_starts_again() {
        let mut now = Instant::now();
        let mut lan = LanSchedule::default();
        let mut swept = Vec::new();
        for round in 0..10 {
            let ports = ports(&lan.poll_round(now).unwrap());
            assert_eq!(ports.first(), Some(&33445), "round {round}");
            let window = &ports[1..];
            let first = 33446 + 10 * round;
            let expected: Vec<u16> = (first..(first + 10).min(33545)).collect();
            assert_eq!(window, expected.as_slice(), "round {round}");
            swept.extend_from_slice(window);
            now += LAN_DISCOVERY_INTERVAL;
        }
        // c-toxcore's last window stops short of 33545 and wraps.
        assert_eq!(swept, (33446..33545).collect::<Vec<_>>());
        let again = ports(&lan.poll_round(now).unwrap());
        assert_eq!(again, (33445..33456).collect::<Vec<_>>());
    }

    #[test]
    fn own_ports_outside_the_sweep_join_every_round() {
        let mut now = Instant::now();
        let mut lan = LanSchedule::default();
        lan.set_local_ports([40000, 33445, 33500, 0, 33545, 40000, 1024]);
        for _ in 0..12 {
            let ports = ports(&lan.poll_round(now).unwrap());
            assert_eq!(&ports[ports.len() - 3..], &[1024, 33545, 40000]);
            // Ports the sweep reaches are not repeated every round.
            assert_eq!(ports.iter().filter(|&&p| p == 33445).count(), 1);
            assert!(ports.len() <= 1 + 10 + 3);
            now += LAN_DISCOVERY_INTERVAL;
        }
        let mut fresh = LanSchedule::default();
        fresh.set_local_ports([33445, 33450]);
        let ports = ports(&fresh.poll_round(now).unwrap());
        assert_eq!(ports, (33445..33456).collect::<Vec<_>>());
    }
}
