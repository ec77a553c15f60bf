//! What the examples share: reading bootstrap nodes from the command line.

use std::net::SocketAddr;

use toxide::PublicKey;

/// Parses `HOST:PORT:DHTKEYHEX` (the host may be a name, resolved here).
pub(crate) fn parse_node(text: &str) -> Result<(SocketAddr, PublicKey), String> {
    let (addr, key) = text
        .rsplit_once(':')
        .ok_or("expected HOST:PORT:DHTKEYHEX")?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let key: PublicKey = key.parse().map_err(|e| format!("DHT key: {e}"))?;
    Ok((addr, key))
}
