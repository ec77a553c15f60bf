//! toxide-node run in-process, composed exactly as the binary composes it
//! (`toxide_node::driver_config`), so tests can read its lists and counters.

use std::net::SocketAddr;

use tokio::runtime::Runtime;
use toxide::driver::{Driver, DriverHandle};
use toxide_core::{KeyPair, PackedNode};
use toxide_node::cli::Cli;
use toxide_node::config::Settings;

/// A runtime whose workers keep the nodes running while the test thread
/// blocks on c-toxcore peers.
pub(crate) fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// toxide-node on a fresh loopback port with a fresh key.
pub(crate) fn start_node(rt: &Runtime, bootstrap: Vec<PackedNode>) -> DriverHandle {
    start_node_at(rt, 0, KeyPair::generate(&mut rand::rng()), bootstrap)
}

/// toxide-node on 127.0.0.1:`port` (0 picks one) with the DHT key pair
/// `keys`.
pub(crate) fn start_node_at(
    rt: &Runtime,
    port: u16,
    keys: KeyPair,
    bootstrap: Vec<PackedNode>,
) -> DriverHandle {
    let cli = Cli {
        udp_address: vec![loopback(port)],
        ..Cli::default()
    };
    let mut settings = Settings::resolve(&cli, None).unwrap();
    settings.bootstrap_nodes = bootstrap;
    let config = toxide_node::driver_config(&settings, keys);
    let handle = rt.block_on(Driver::spawn(config)).unwrap();
    for node in &settings.bootstrap_nodes {
        rt.block_on(handle.bootstrap(*node)).unwrap();
    }
    handle
}
