//! The sockets of a client's TCP relay connections: one small task per
//! connection owns its `TcpStream`, and talks to the driver task only by
//! bounded channels, so the stack (which owns each connection's protocol
//! state, [`crate::stack::relays`]) stays in the one driver task.
//!
//! Bytes read go to the driver through one channel shared by all relay
//! tasks; when the driver falls behind, the tasks stop reading (TCP's own
//! flow control then slows the relay). Bytes to write come through a
//! per-connection channel of [`WRITE_QUEUE`] chunks that the driver fills
//! only while there is room (what does not fit stays in the connection's
//! own bounded queue); a task that emptied its channel says so
//! ([`RelayMsg::Drained`]) so the driver refills it at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

use super::proxy::{ProxyConfig, RelayTarget, connect_relay};
use crate::stack::Stack;
use crate::stack::relays::{RelayCommand, RelayId};

/// Chunks queued for one connection's socket.
const WRITE_QUEUE: usize = 16;
/// Messages from all relay tasks to the driver.
const READ_QUEUE: usize = 64;
/// Bytes read at once.
const READ_BUFFER: usize = 16 * 1024;
/// How long a TCP connect may take (the relay handshake deadline, 10 s,
/// covers it too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a relay task tells the driver.
#[derive(Debug)]
pub(crate) enum RelayMsg {
    /// Bytes read from the relay.
    Bytes(RelayId, u64, Vec<u8>),
    /// The socket ended, or never connected.
    Closed(RelayId, u64),
    /// The write channel is empty: refill it.
    Drained,
}

/// The driver's side of every relay socket.
#[derive(Debug)]
pub(crate) struct RelaySockets {
    to_driver: mpsc::Sender<RelayMsg>,
    /// Messages from the tasks.
    pub(crate) from_tasks: mpsc::Receiver<RelayMsg>,
    writers: HashMap<RelayId, (u64, mpsc::Sender<Bytes>)>,
    /// Where every connection goes through, if anywhere.
    proxy: Option<ProxyConfig>,
}

impl RelaySockets {
    pub(crate) fn new(proxy: Option<ProxyConfig>) -> Self {
        let (to_driver, from_tasks) = mpsc::channel(READ_QUEUE);
        Self {
            to_driver,
            from_tasks,
            writers: HashMap::new(),
            proxy,
        }
    }

    /// Opens and closes what the stack asks, then moves its queued bytes
    /// into the sockets' channels while they have room.
    pub(crate) fn flush(&mut self, stack: &mut Stack) {
        while let Some(command) = stack.poll_relay_command() {
            match command {
                RelayCommand::Connect {
                    relay,
                    session,
                    addr,
                } => {
                    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
                    // Replacing the sender ends an older task of the relay.
                    self.writers.insert(relay, (session, tx));
                    let task = relay_task(
                        (relay, session),
                        addr,
                        self.proxy,
                        rx,
                        self.to_driver.clone(),
                    );
                    tokio::spawn(task);
                }
                RelayCommand::Close { relay, session } => {
                    if self.writers.get(&relay).is_some_and(|(s, _)| *s == session) {
                        self.writers.remove(&relay);
                    }
                }
            }
        }
        for (&relay, (session, tx)) in &self.writers {
            while let Ok(permit) = tx.try_reserve() {
                match stack.poll_relay_write(relay, *session) {
                    Some(bytes) => permit.send(bytes),
                    None => break,
                }
            }
        }
    }
}

/// One relay connection's socket: connects, then copies bytes both ways
/// until either side ends.
async fn relay_task(
    (relay, session): (RelayId, u64),
    addr: SocketAddr,
    proxy: Option<ProxyConfig>,
    mut writes: mpsc::Receiver<Bytes>,
    to_driver: mpsc::Sender<RelayMsg>,
) {
    let target = RelayTarget::Addr(addr);
    let stream = match connect_relay(proxy.as_ref(), &target, CONNECT_TIMEOUT).await {
        Ok(stream) => stream,
        Err(error) => {
            tracing::debug!(%error, "TCP relay connect failed");
            let _ = to_driver.send(RelayMsg::Closed(relay, session)).await;
            return;
        }
    };
    // Relay frames are small and latency matters more than packing.
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut buffer = vec![0u8; READ_BUFFER];
    loop {
        tokio::select! {
            read = reader.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let Some(bytes) = buffer.get(..n) else { break };
                    let msg = RelayMsg::Bytes(relay, session, bytes.to_vec());
                    if to_driver.send(msg).await.is_err() {
                        return;
                    }
                }
            },
            write = writes.recv() => match write {
                // The driver closed the connection (or stopped).
                None => return,
                Some(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
                        break;
                    }
                    if writes.is_empty() && to_driver.send(RelayMsg::Drained).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
    let _ = to_driver.send(RelayMsg::Closed(relay, session)).await;
}
