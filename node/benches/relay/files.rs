//! Cases 1 and 2: one file through one TCP relay, both clients without
//! UDP. toxide→toxide through toxide-node's relay, c-toxcore→c-toxcore
//! through tox-bootstrapd's.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::AsyncReadExt;
use toxide::tox::IncomingFile;
use toxide::{Tox, ToxBuilder, ToxEvent, ToxEvents};
use toxide_interop::measure::{process_cpu, status_kb};
use toxide_interop::{
    Bootstrapd, BootstrapdOptions, CPeer, Event as PeerEvent, PeerOptions, TempDir,
};

use crate::node::Node;

/// How long befriending and coming online may take (c-toxcore's onion
/// over a relay needs ~10 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(90);
/// The longest a transfer may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest c-toxcore's transfer may take (~2 MB/s of at most 16 MB).
const CTOXCORE_TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);
/// The byte every file is made of.
const FILL: u8 = 0x5a;

/// One transfer's figures.
pub(crate) struct Transfer {
    pub(crate) bytes: u64,
    pub(crate) elapsed: Duration,
    /// CPU the relay's process spent during the transfer.
    pub(crate) relay_cpu: Duration,
    /// The relay process's peak RSS (`VmHWM`) after the transfer, kB.
    pub(crate) relay_peak_kb: Option<u64>,
}

impl Transfer {
    pub(crate) fn report(&self, case: &str, relay: &str) {
        let mb_per_s = self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64();
        let s_per_gb = self.relay_cpu.as_secs_f64() / (self.bytes as f64 / 1e9);
        println!(
            "{case}: {} bytes in {:.2} s = {mb_per_s:.1} MB/s; {relay} CPU {:.2} s = {s_per_gb:.2} s/GB, peak RSS {} kB",
            self.bytes,
            self.elapsed.as_secs_f64(),
            self.relay_cpu.as_secs_f64(),
            self.relay_peak_kb
                .map_or("?".to_owned(), |kb| kb.to_string()),
        );
        println!("BENCH {case}_throughput {mb_per_s:.1} MB/s");
        println!("BENCH {case}_relay_cpu {s_per_gb:.2} s/GB");
        if let Some(kb) = self.relay_peak_kb {
            println!("BENCH {case}_relay_peak_rss {kb} kB");
        }
    }
}

/// Waits (bounded) for the first event `pick` takes, skipping others.
async fn wait_for<T>(
    events: &mut ToxEvents,
    what: &str,
    mut pick: impl FnMut(ToxEvent) -> Option<T>,
) -> T {
    let found = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            let event = events.recv().await.expect("the Tox runs");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within {CONNECT_TIMEOUT:?}"))
}

/// A toxide client without UDP whose only way out is `node`'s relay.
async fn toxide_client(node: &Node) -> (Tox, ToxEvents) {
    let udp = SocketAddr::from((Ipv4Addr::LOCALHOST, node.udp_port));
    let tcp = SocketAddr::from((Ipv4Addr::LOCALHOST, node.tcp_port));
    ToxBuilder::new()
        .bind_ip(Ipv4Addr::LOCALHOST.into())
        .udp(false)
        .bootstrap(udp, node.public_key)
        .tcp_relay(tcp, node.public_key)
        .spawn()
        .await
        .expect("a Tox on loopback starts")
}

/// `alice` and `bob` know each other's keys (as from a save) and connect
/// through the relay; returns bob's number at alice once both are online.
async fn befriend(
    alice: &Tox,
    alice_events: &mut ToxEvents,
    bob: &Tox,
    bob_events: &mut ToxEvents,
) -> u32 {
    let bob_number = alice.add_friend_norequest(bob.public_key()).await.unwrap();
    let alice_number = bob.add_friend_norequest(alice.public_key()).await.unwrap();
    for (me, other) in [(alice, bob), (bob, alice)] {
        let (real, dht) = (other.public_key(), other.dht_key());
        me.driver()
            .call(move |stack, now, _| stack.connect_friend(now, real, dht))
            .await
            .unwrap()
            .unwrap();
    }
    for (events, number) in [(alice_events, bob_number), (bob_events, alice_number)] {
        wait_for(events, "friend online", |e| {
            matches!(e, ToxEvent::FriendConnection { friend, connection } if friend == number && connection.is_connected())
                .then_some(())
        })
        .await;
    }
    bob_number
}

/// Accepts `offer` and counts it to the end: bytes (all checked to be
/// [`FILL`]) and the time from the accept to the last byte.
async fn receive(offer: IncomingFile) -> (u64, Duration) {
    let accepted = Instant::now();
    let mut data = offer.accept().await.expect("the offer stands");
    let mut bytes = 0u64;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.expect("the transfer completes");
        assert!(chunk.iter().all(|&b| b == FILL), "every byte as sent");
        bytes += chunk.len() as u64;
    }
    (bytes, accepted.elapsed())
}

/// Case 1: toxide→toxide through toxide-node's relay.
pub(crate) async fn toxide_through_node(bytes: u64) -> Transfer {
    let node = Node::start("");
    let (alice, mut alice_events) = toxide_client(&node).await;
    let (bob, mut bob_events) = toxide_client(&node).await;
    let friend = befriend(&alice, &mut alice_events, &bob, &mut bob_events).await;
    println!("toxide clients online through toxide-node's relay");
    let cpu_before = node.cpu();
    let source = tokio::io::repeat(FILL).take(bytes);
    let _outgoing = alice
        .send_file(friend, 0, Some(bytes), None, "relay.bin", source)
        .await
        .expect("the friend is online");
    let offer = wait_for(&mut bob_events, "file offer", |e| match e {
        ToxEvent::FileOffer(offer) => Some(offer),
        _ => None,
    })
    .await;
    // Undrained event channels would stall the drivers.
    let drains = [alice_events, bob_events]
        .map(|mut events| tokio::spawn(async move { while events.recv().await.is_some() {} }));
    let (got, elapsed) = tokio::time::timeout(TRANSFER_TIMEOUT, receive(offer))
        .await
        .unwrap_or_else(|_| panic!("the file did not arrive within {TRANSFER_TIMEOUT:?}"));
    assert_eq!(got, bytes, "the whole file arrived");
    let transfer = Transfer {
        bytes: got,
        elapsed,
        relay_cpu: node.cpu().saturating_sub(cpu_before),
        relay_peak_kb: node.peak_rss_kb(),
    };
    for drain in drains {
        drain.abort();
    }
    alice.shutdown().await;
    bob.shutdown().await;
    transfer
}

/// A c-toxcore peer without UDP whose only relay is `node`'s.
fn ctoxcore_without_udp(node: &Bootstrapd, label: &str) -> CPeer {
    let mut peer = CPeer::spawn(PeerOptions {
        label: Some(label.to_owned()),
        no_udp: true,
        loop_cap: Some(Duration::from_millis(1)),
        ..PeerOptions::default()
    })
    .expect("the c-toxcore peer starts");
    peer.bootstrap(node.port(), node.public_key()).unwrap();
    let tcp = node.tcp_port().expect("started with a relay");
    peer.send_command(&format!(
        "add-tcp-relay 127.0.0.1 {tcp} {}",
        node.public_key()
    ))
    .unwrap();
    peer
}

/// Case 2: c-toxcore→c-toxcore through tox-bootstrapd's relay; they
/// befriend through the onion over the relay. A transfer that breaks (the
/// friend connection dropping) is an `Err` saying where.
pub(crate) fn ctoxcore_through_bootstrapd(bytes: u64) -> Result<Transfer, String> {
    let node = Bootstrapd::spawn_with(BootstrapdOptions {
        tcp_relay: true,
        ..BootstrapdOptions::default()
    })
    .expect("tox-bootstrapd starts");
    let mut sender = ctoxcore_without_udp(&node, "relay-bench-sender");
    let mut receiver = ctoxcore_without_udp(&node, "relay-bench-receiver");
    let receiver_id = *receiver.tox_id();
    let friend = sender.add_friend(&receiver_id, "bench").unwrap();
    let (key, _) = receiver.wait_friend_request(CONNECT_TIMEOUT).unwrap();
    receiver.add_friend_norequest(&key).unwrap();
    sender.wait_friend_online(friend, CONNECT_TIMEOUT).unwrap();
    println!("c-toxcore peers online through tox-bootstrapd's relay");
    let dir = TempDir::new("relay-bench-file").unwrap();
    let file = dir.path().join("payload.bin");
    std::fs::write(&file, vec![FILL; usize::try_from(bytes).unwrap()]).unwrap();
    let cpu_before = process_cpu(node.pid());
    let started = Instant::now();
    sender.send_file(friend, &file).unwrap();
    let end = receiver
        .wait_event(
            |e: &PeerEvent| {
                matches!(
                    e,
                    PeerEvent::FileDone { .. } | PeerEvent::FileBroken { incoming: true, .. }
                )
            },
            CTOXCORE_TRANSFER_TIMEOUT,
        )
        .map_err(|e| format!("no FILE_DONE within {CTOXCORE_TRANSFER_TIMEOUT:?}: {e}"))?;
    let elapsed = started.elapsed();
    let got = match end {
        PeerEvent::FileDone { bytes, .. } => bytes,
        PeerEvent::FileBroken { bytes: at, .. } => {
            let mb_per_s = at as f64 / 1e6 / elapsed.as_secs_f64();
            return Err(format!(
                "the friend connection dropped and the file broke at {at} of {bytes} bytes after {:.2} s ({mb_per_s:.2} MB/s until then)",
                elapsed.as_secs_f64()
            ));
        }
        _ => unreachable!("the matcher takes FILE_DONE and FILE_BROKEN only"),
    };
    assert_eq!(got, bytes, "the whole file arrived");
    Ok(Transfer {
        bytes: got,
        elapsed,
        relay_cpu: process_cpu(node.pid()).saturating_sub(cpu_before),
        relay_peak_kb: status_kb(node.pid(), "VmHWM"),
    })
}
