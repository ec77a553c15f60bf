//! What both drivers build at start: the UDP sockets and the [`Stack`]
//! with every layer a [`DriverConfig`] asks for. One function each, so the
//! tokio [`super::Driver`] and the synchronous
//! [`crate::sync_driver::SyncDriver`] cannot drift apart.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use rand::Rng as _;
use socket2::{Domain, Protocol, Socket, Type};
use toxide_core::{KeyPair, ToxId};
use toxide_dht::Dht;
use toxide_net_crypto::NetCrypto;
use toxide_onion::{ClientConfig, OnionClient, OnionServer};

use super::routing::Bound;
use super::udp::{BatchSocket, UdpIo};
use super::{DriverConfig, DriverError};
use crate::stack::Stack;
use crate::stack::relays::Relays;

/// Socket buffer sizes asked for, each way (c-toxcore's figure).
const SOCKET_BUFFER_SIZE: usize = 2 * 1024 * 1024;

/// Binds one socket, through socket2 because IPV6_V6ONLY and the buffer
/// sizes must be set before `bind`, which std and tokio cannot do. The
/// socket is non-blocking; the tokio driver hands it to its reactor.
///
/// With `broadcast` (LAN discovery on), sockets that carry IPv4 may send
/// to 255.255.255.255 (SO_BROADCAST; without it the kernel refuses with
/// EACCES, also for `::ffff:255.255.255.255` on a dual-stack socket).
/// IPv6 multicast to `ff02::1` needs no option: Linux sends it, unscoped,
/// out of the interface its `ff00::/8` route names.
pub(crate) fn bind_socket(
    addr: SocketAddr,
    dual_stack: bool,
    broadcast: bool,
) -> io::Result<std::net::UdpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => {
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_broadcast(broadcast)?;
            socket
        }
        SocketAddr::V6(_) => {
            let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_only_v6(!dual_stack)?;
            socket.set_broadcast(broadcast && dual_stack)?;
            socket
        }
    };
    // c-toxcore asks for 2 MiB each way (network.c): the kernel default
    // (~208 KiB, 256 small datagrams) overflows under a burst long before
    // the task falls behind. Best effort: a smaller grant is not an error.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_SIZE);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_SIZE);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Binds every socket `config` asks for (none with UDP off), each turned
/// into the driver's kind by `wrap`.
pub(crate) fn bind_all<S: UdpIo>(
    config: &DriverConfig,
    wrap: impl Fn(std::net::UdpSocket) -> io::Result<S>,
) -> Result<Vec<Bound<S>>, DriverError> {
    if config.udp && config.bind.is_empty() {
        return Err(DriverError::NoAddress);
    }
    let bind: &[SocketAddr] = if config.udp { &config.bind } else { &[] };
    let mut sockets = Vec::with_capacity(bind.len());
    for &addr in bind {
        let bind_error = |source| DriverError::Bind { addr, source };
        let socket =
            bind_socket(addr, config.dual_stack, config.dht.lan_discovery).map_err(bind_error)?;
        let local = socket.local_addr().map_err(bind_error)?;
        let socket = wrap(socket).map_err(bind_error)?;
        sockets.push(Bound {
            socket: BatchSocket::new(socket, config.client.is_some()),
            local,
            dual_stack: local.is_ipv6() && config.dual_stack,
        });
    }
    Ok(sockets)
}

/// The stack `config` describes, for sockets bound on `ports` (LAN
/// discovery announces them), and the client's Tox ID (`None` on a
/// bootstrap node).
pub(crate) fn build_stack(
    config: DriverConfig,
    ports: impl IntoIterator<Item = u16>,
    now: Instant,
) -> (Stack, Option<ToxId>) {
    let is_client = config.client.is_some();
    let seed = config.seed.unwrap_or_else(layer_seed);
    let keys = config
        .keys
        .unwrap_or_else(|| KeyPair::generate(&mut rand::rng()));
    let server = config
        .onion
        .map(|onion| OnionServer::new(onion, keys.clone(), now, layer_seed()));
    let tox_id = config
        .client
        .as_ref()
        .map(|c| ToxId::new(c.keys.public, c.nospam));
    let conferences = config.client.as_ref().map(|identity| {
        let mut conferences = toxide_messenger::conference::Conferences::new(
            identity.keys.public,
            keys.public,
            layer_seed(),
        );
        // Offline peers' last-active times read as c-toxcore's.
        conferences.set_unix_time(now, unix_seconds());
        conferences
    });
    let net_crypto = config.client.as_ref().map(|identity| {
        NetCrypto::new(
            identity.keys.clone(),
            keys.clone(),
            config.dht.rate_limit,
            now,
            layer_seed(),
        )
    });
    let udp = config.udp;
    let client = config.client.map(|identity| {
        // UNIX seconds: a restarted client's DHT-PK announcements must
        // still look new to friends (see `ClientConfig`).
        let mut client = OnionClient::new(
            ClientConfig {
                no_replay_base: unix_seconds(),
            },
            identity.keys,
            identity.nospam,
            keys.clone(),
            now,
            layer_seed(),
        );
        // Without UDP the relays are the only first hop there is.
        client.set_tcp_only(!udp);
        client
    });
    let relays = is_client.then(|| Relays::new(keys.clone(), layer_seed()));
    let mut dht = Dht::with_keys(config.dht, now, seed, keys);
    // LAN discovery also announces on our own ports (port 0 is only
    // resolved by binding).
    dht.set_local_ports(ports);
    let mut stack = Stack::new(dht, server, client, net_crypto);
    if let Some(conferences) = conferences {
        stack = stack.with_conferences(conferences);
    }
    if let Some(relays) = relays {
        stack = stack.with_relays(relays);
        for (addr, pk) in &config.tcp_relays {
            stack.add_tcp_relay(now, *addr, *pk);
        }
    }
    if let (Some(messenger), Some(id)) = (&mut stack.messenger, tox_id) {
        // Friend requests over a session must quote it, as through the
        // onion.
        messenger.set_nospam(id.nospam);
    }
    (stack, tox_id)
}

/// 32 bytes from the operating system's RNG: each layer's own seed.
fn layer_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    seed
}

/// Seconds since 1970 (0 on a clock before it).
fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::routing::is_lan_discovery_broadcast;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Only the option is checked: LAN broadcasts are sent only inside
    /// network namespaces (node/tests/lan_netns.rs), never from here.
    #[test]
    fn lan_discovery_lets_ipv4_sockets_broadcast() {
        let broadcasts =
            |socket: &std::net::UdpSocket| socket2::SockRef::from(socket).broadcast().unwrap();
        let v4 = (Ipv4Addr::LOCALHOST, 0).into();
        assert!(broadcasts(&bind_socket(v4, false, true).unwrap()));
        assert!(!broadcasts(&bind_socket(v4, false, false).unwrap()));
        let v6 = (Ipv6Addr::UNSPECIFIED, 0).into();
        let (Ok(dual), Ok(only)) = (bind_socket(v6, true, true), bind_socket(v6, false, true))
        else {
            return; // no IPv6 on this machine
        };
        assert!(broadcasts(&dual), "a dual-stack socket carries IPv4");
        assert!(!broadcasts(&only));
        assert!(is_lan_discovery_broadcast(
            "255.255.255.255".parse().unwrap()
        ));
        assert!(is_lan_discovery_broadcast("ff02::1".parse().unwrap()));
        assert!(!is_lan_discovery_broadcast("10.0.0.255".parse().unwrap()));
    }
}
