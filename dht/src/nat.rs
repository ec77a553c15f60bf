//! UDP hole punching towards a friend behind a NAT (checklist D11, D12).
//!
//! When at least half of the nodes near a friend report an address for it
//! but the friend never answers us directly, the friend is probably behind
//! a NAT that drops unsolicited packets. We then send a NAT ping request,
//! routed through those nodes; the friend's reply shows it is online and
//! punching too, and both sides fire pings at the friend's reported IP: at
//! the one reported port if all reports agree, else at ports guessed
//! around the reported ones, and after a few rounds at a sweep upwards
//! from 1024. The guessing rule below follows c-toxcore 0.2.18 so the two
//! sides' guesses meet.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::constants::{MAX_NORMAL_PUNCHING_TRIES, MAX_PUNCHING_PORTS};

/// Hole-punching state for one searched friend.
#[derive(Debug, Clone, Default)]
pub struct NatState {
    /// Id of our outstanding NAT ping request (echoed in the response).
    pub ping_id: u64,
    /// When we last sent a NAT ping request.
    pub ping_sent: Option<Instant>,
    /// When the friend last sent us a NAT ping request.
    pub ping_received: Option<Instant>,
    /// Set by a matching NAT ping response: punch at the next chance.
    pub punch_pending: bool,
    /// When we last punched.
    pub punched: Option<Instant>,
    /// Rounds punched since the last reset.
    pub tries: u32,
    /// Position in the guessing sequence around reported ports.
    pub guess_index: u32,
    /// Position in the sweep upwards from port 1024.
    pub sweep_index: u32,
}

impl NatState {
    /// Forgets the guessing progress (after `PUNCH_RESET_TIME`).
    pub fn reset_guessing(&mut self) {
        self.tries = 0;
        self.guess_index = 0;
        self.sweep_index = 0;
    }
}

/// The IP reported by at least `min` of `reports`, if any.
pub fn common_ip(reports: &[SocketAddr], min: usize) -> Option<IpAddr> {
    reports
        .iter()
        .map(SocketAddr::ip)
        .find(|ip| reports.iter().filter(|r| r.ip() == *ip).count() >= min)
}

/// The ports reported for `ip`, in report order.
pub fn ports_for(reports: &[SocketAddr], ip: IpAddr) -> Vec<u16> {
    reports
        .iter()
        .filter(|r| r.ip() == ip)
        .map(SocketAddr::port)
        .collect()
}

/// The ports to ping in this punching round, advancing `state`.
///
/// All reports agree → that one port. Otherwise [`MAX_PUNCHING_PORTS`]
/// guesses walking outwards from the reported ports, alternating above and
/// below; after [`MAX_NORMAL_PUNCHING_TRIES`] rounds also a window sweeping
/// upwards from 1024.
pub fn punch_ports(state: &mut NatState, reported: &[u16]) -> Vec<u16> {
    let mut out = Vec::new();
    let Some(&first) = reported.first() else {
        return out;
    };
    let n = reported.len() as u32;
    if reported.iter().all(|&p| p == first) {
        out.push(first);
    } else {
        for i in 0..u32::from(MAX_PUNCHING_PORTS) {
            let it = i.wrapping_add(state.guess_index);
            let delta = it / (2 * n);
            let base = reported
                .get(((it / 2) % n) as usize)
                .copied()
                .unwrap_or(first);
            let port = if it % 2 == 1 {
                base.wrapping_sub(delta as u16)
            } else {
                base.wrapping_add(delta as u16)
            };
            out.push(port);
        }
        state.guess_index = state
            .guess_index
            .wrapping_add(u32::from(MAX_PUNCHING_PORTS));
    }
    if state.tries > MAX_NORMAL_PUNCHING_TRIES {
        for i in 0..u32::from(MAX_PUNCHING_PORTS) {
            out.push(1024u16.wrapping_add(i.wrapping_add(state.sweep_index) as u16));
        }
        state.sweep_index = state
            .sweep_index
            .wrapping_add(u32::from(MAX_PUNCHING_PORTS / 2));
    }
    state.tries += 1;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreeing_reports_give_one_port() {
        let mut s = NatState::default();
        assert_eq!(punch_ports(&mut s, &[5000, 5000, 5000, 5000]), vec![5000]);
        assert_eq!(s.tries, 1);
    }

    #[test]
    fn differing_reports_walk_outwards() {
        let mut s = NatState::default();
        let ports = punch_ports(&mut s, &[5000, 6000]);
        assert_eq!(ports.len(), usize::from(MAX_PUNCHING_PORTS));
        assert_eq!(&ports[..6], &[5000, 5000, 6000, 6000, 5001, 4999]);
        let next = punch_ports(&mut s, &[5000, 6000]);
        assert_ne!(ports, next, "later rounds continue the walk");
    }

    #[test]
    fn sweep_starts_after_normal_tries() {
        let mut s = NatState::default();
        for _ in 0..=MAX_NORMAL_PUNCHING_TRIES {
            assert_eq!(punch_ports(&mut s, &[7, 7]).len(), 1);
        }
        let ports = punch_ports(&mut s, &[7, 7]);
        assert_eq!(ports.len(), 1 + usize::from(MAX_PUNCHING_PORTS));
        assert_eq!(ports[1], 1024);
    }

    #[test]
    fn common_ip_needs_a_quorum() {
        let r: Vec<SocketAddr> = ["1.1.1.1:1", "2.2.2.2:2", "1.1.1.1:3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(common_ip(&r, 2), Some("1.1.1.1".parse().unwrap()));
        assert_eq!(common_ip(&r, 3), None);
        assert_eq!(ports_for(&r, "1.1.1.1".parse().unwrap()), vec![1, 3]);
    }
}
