//! What the `Tox` API tests share: a bootstrap node on loopback, a
//! builder pointed at it, and a bounded wait for an event.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use toxide::driver::{Driver, DriverConfig, DriverHandle};
use toxide::tox::{ToxBuilder, ToxEvent, ToxEvents};

/// Bound on any one step (a friend request, a connection, a message).
pub(crate) const STEP: Duration = Duration::from_secs(60);

/// A bootstrap node serving the DHT and the onion on 127.0.0.1.
pub(crate) async fn node() -> DriverHandle {
    let mut config = DriverConfig::new([SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]);
    config.onion = Some(toxide::onion::ServerConfig::default());
    Driver::spawn(config).await.unwrap()
}

/// A client on 127.0.0.1 bootstrapped from `node`.
pub(crate) fn builder(node: &DriverHandle) -> ToxBuilder {
    ToxBuilder::new()
        .bind_ip(Ipv4Addr::LOCALHOST.into())
        .port(0)
        .bootstrap(node.local_addr(), node.public_key())
}

/// The next event `want` takes a value from, within [`STEP`]; panics
/// naming `what` otherwise.
pub(crate) async fn wait<T>(
    events: &mut ToxEvents,
    what: &str,
    mut want: impl FnMut(ToxEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(STEP, async {
        loop {
            let event = events.recv().await.expect("the instance stopped");
            if let Some(value) = want(event) {
                return value;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within {STEP:?}"))
}
