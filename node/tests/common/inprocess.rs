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

/// `count` toxide-node instances, the first bootstrapped from nothing, the
/// others from the first: a network of toxide nodes only.
pub(crate) fn start_nodes(rt: &Runtime, count: usize) -> Vec<DriverHandle> {
    let first = start_node(rt, Vec::new());
    let first_node = PackedNode::udp(loopback(first.local_addr().port()), first.public_key());
    let mut nodes = vec![first];
    for _ in 1..count {
        nodes.push(start_node(rt, vec![first_node]));
    }
    nodes
}

/// A toxide client (DHT, onion server, onion client, net_crypto) with a
/// fresh identity on loopback, bootstrapped from `node`, and its events.
pub(crate) fn start_client(
    rt: &Runtime,
    node: &DriverHandle,
) -> (
    DriverHandle,
    tokio::sync::broadcast::Receiver<toxide::StackEvent>,
) {
    let mut rng = rand::rng();
    let mut config = toxide::driver::DriverConfig::new([loopback(0)]);
    config.onion = Some(toxide_onion::ServerConfig::default());
    config.client = Some(toxide::driver::ClientIdentity {
        keys: KeyPair::generate(&mut rng),
        nospam: toxide_core::NoSpam::random(&mut rng),
    });
    let handle = rt.block_on(Driver::spawn(config)).unwrap();
    let events = handle.subscribe();
    let boot = PackedNode::udp(loopback(node.local_addr().port()), node.public_key());
    rt.block_on(handle.bootstrap(boot)).unwrap();
    (handle, events)
}

/// A c-toxcore peer (optionally from a saved profile) bootstrapped from
/// `node` only.
pub(crate) fn spawn_peer(
    label: &str,
    node: &DriverHandle,
    savedata: Option<&std::path::Path>,
) -> toxide_interop::CPeer {
    let mut peer =
        toxide_interop::CPeer::spawn_labelled(label, savedata.map(std::path::Path::to_path_buf))
            .unwrap();
    peer.bootstrap(node.local_addr().port(), &node.public_key())
        .unwrap();
    peer
}

/// The longest message a friend may send (`MAX_MESSAGE_LENGTH`, 1372
/// bytes): `start` followed by multi-byte UTF-8, padded to the byte.
pub(crate) fn longest_message(start: &str) -> String {
    let max = toxide::messenger::packet::MAX_MESSAGE_LENGTH;
    let text = toxide_interop::longest_message(start, max);
    assert_eq!(text.len(), max);
    assert!(text.chars().filter(|c| c.len_utf8() > 1).count() > 200);
    text
}

/// The C peer's next message or action from friend `number`, in arrival
/// order, with its kind.
pub(crate) fn peer_message(
    peer: &mut toxide_interop::CPeer,
    number: u32,
    timeout: std::time::Duration,
) -> toxide_interop::Result<(toxide::messenger::packet::MessageKind, String)> {
    use toxide::messenger::packet::MessageKind;
    use toxide_interop::Event;
    let event = peer.wait_event(
        |e| {
            matches!(e, Event::Message { friend, .. } | Event::Action { friend, .. }
                if *friend == number)
        },
        timeout,
    )?;
    Ok(match event {
        Event::Action { text, .. } => (MessageKind::Action, text),
        Event::Message { text, .. } => (MessageKind::Normal, text),
        other => unreachable!("{other:?}"),
    })
}
