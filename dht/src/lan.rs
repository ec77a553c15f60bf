//! Which addresses are on a local network (c-toxcore `ip_is_lan`).
//!
//! LAN addresses are handed only to peers that are themselves on a LAN
//! (checklist D5), and LAN discovery packets are accepted only from them
//! (D13).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use toxide_core::packed_node::canonical_ip;

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
}
