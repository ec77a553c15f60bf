//! What the toxide side of several benchmarks shares: threads that each
//! run a single-threaded runtime (a `Tox` per thread, as separate
//! processes would have), and the in-process bootstrap node every client
//! starts from, all on 127.0.0.1.

#![allow(dead_code)] // each benchmark uses part of it

use std::net::{Ipv4Addr, SocketAddr};

use tokio::runtime::{Builder, Handle, Runtime};
use toxide::driver::{Driver, DriverConfig, DriverHandle};
use toxide::{PublicKey, ToxBuilder};

/// A single-threaded runtime with timers and I/O.
pub(crate) fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// A thread running a single-threaded runtime until the program ends;
/// what is spawned on its handle runs there.
pub(crate) fn runtime_thread(name: &str) -> Handle {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let rt = current_thread();
            tx.send(rt.handle().clone()).unwrap();
            rt.block_on(std::future::pending::<()>());
        })
        .unwrap();
    rx.recv().unwrap()
}

/// The bootstrap node: DHT and onion server on 127.0.0.1.
pub(crate) async fn node() -> DriverHandle {
    let mut config = DriverConfig::new([SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]);
    config.onion = Some(toxide::onion::ServerConfig::default());
    Driver::spawn(config).await.unwrap()
}

/// A client on 127.0.0.1, on a fresh port, bootstrapping from `node`.
pub(crate) fn builder(node: (SocketAddr, PublicKey)) -> ToxBuilder {
    ToxBuilder::new()
        .bind_ip(Ipv4Addr::LOCALHOST.into())
        .port(0)
        .bootstrap(node.0, node.1)
}
