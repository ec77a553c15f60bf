//! One of our relay clients (`toxide_relay::ClientConnection`) on a
//! blocking loopback socket, for tests against any relay; every wait is
//! bounded.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use toxide_core::{KeyPair, PublicKey};
use toxide_relay::{ClientConfig, ClientConnection, ClientEvent};

/// How long one relay step (handshake, routing, a packet) may take.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// One of our relay clients on a blocking loopback socket.
pub(crate) struct RelayClient {
    pub(crate) keys: KeyPair,
    pub(crate) conn: ClientConnection,
    stream: TcpStream,
    /// Events seen but not yet claimed by a wait.
    pub(crate) events: VecDeque<ClientEvent>,
}

impl RelayClient {
    pub(crate) fn connect(port: u16, relay_pk: PublicKey, seed: u8) -> Self {
        let keys = KeyPair::generate(&mut rand::rng());
        let stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let conn = ClientConnection::new(
            Instant::now(),
            &keys,
            relay_pk,
            ClientConfig::default(),
            [seed; 32],
        )
        .unwrap();
        Self {
            keys,
            conn,
            stream,
            events: VecDeque::new(),
        }
    }

    /// Writes what is queued.
    pub(crate) fn flush(&mut self) {
        while let Some(bytes) = self.conn.poll_write() {
            self.stream.write_all(&bytes).unwrap();
        }
    }

    /// Writes what is queued, reads what arrived (at most 20 ms), runs
    /// the timers.
    pub(crate) fn pump(&mut self) {
        self.flush();
        let mut buf = [0u8; 4096];
        match self.stream.read(&mut buf) {
            Ok(0) => self.conn.connection_lost(),
            Ok(n) => self.conn.handle_bytes(Instant::now(), &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => self.conn.connection_lost(),
        }
        let now = Instant::now();
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        while let Some(event) = self.conn.poll_event() {
            self.events.push_back(event);
        }
    }

    /// The first event (earlier unclaimed ones included) `want` accepts.
    pub(crate) fn wait<T>(&mut self, what: &str, want: impl FnMut(&ClientEvent) -> Option<T>) -> T {
        self.wait_within(what, STEP_TIMEOUT, want)
    }

    /// [`RelayClient::wait`] with a timeout of its own.
    pub(crate) fn wait_within<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut want: impl FnMut(&ClientEvent) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.events.iter().position(|e| want(e).is_some()) {
                let event = self.events.remove(i).unwrap();
                return want(&event).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {timeout:?}; unclaimed: {:?}; stats {:?}",
                self.events,
                self.conn.stats()
            );
            self.pump();
        }
    }

    /// Pumps until `done` holds.
    pub(crate) fn pump_until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "no {what} within {STEP_TIMEOUT:?}; stats {:?}",
                self.conn.stats()
            );
            self.pump();
        }
    }
}
