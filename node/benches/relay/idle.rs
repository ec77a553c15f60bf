//! Case 3: idle relay clients held open. A few threads each open their
//! share of the connections in batches (non-blocking sockets, so a batch's
//! handshakes run at once; all batches together stay under the relay's
//! 256 unconfirmed handshakes), then keep every connection alive —
//! answering the relay's pings — until told to stop.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use toxide_core::{KeyPair, PublicKey};
use toxide_relay::{ClientConfig, ClientConnection, ClientEvent};

use crate::node::Node;

/// Threads opening and holding connections.
const THREADS: usize = 4;
/// Handshakes one thread runs at once.
const BATCH: usize = 48;
/// How long one batch's connects and handshakes may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long opening all of them may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(300);
/// How often held connections are served while more are opened.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// One relay client on a non-blocking socket.
struct Idle {
    conn: ClientConnection,
    stream: TcpStream,
    /// Bytes `conn` queued that the socket did not take yet.
    out: Vec<u8>,
    /// Why the connection closed, once it has.
    closed: Option<String>,
}

impl Idle {
    fn open(addr: SocketAddr, relay_pk: PublicKey, seed: u64) -> Result<Self, String> {
        let stream = TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT)
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .set_nonblocking(true)
            .map_err(|e| format!("set_nonblocking: {e}"))?;
        let keys = KeyPair::generate(&mut rand::rng());
        let mut seed_bytes = [0u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let conn = ClientConnection::new(
            Instant::now(),
            &keys,
            relay_pk,
            ClientConfig::default(),
            seed_bytes,
        )
        .map_err(|e| format!("handshake: {e:?}"))?;
        Ok(Self {
            conn,
            stream,
            out: Vec::new(),
            closed: None,
        })
    }

    /// Writes what is queued, reads what arrived, runs the timers; false
    /// once the connection is over.
    fn pump(&mut self, buf: &mut [u8]) -> bool {
        while let Some(bytes) = self.conn.poll_write() {
            self.out.extend_from_slice(&bytes);
        }
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => self.conn.connection_lost(),
                Ok(n) => {
                    self.out.drain(..n);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => self.conn.connection_lost(),
            }
            break;
        }
        loop {
            match self.stream.read(buf) {
                Ok(0) => self.conn.connection_lost(),
                Ok(n) => {
                    self.conn.handle_bytes(Instant::now(), &buf[..n]);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => self.conn.connection_lost(),
            }
            break;
        }
        let now = Instant::now();
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        while let Some(event) = self.conn.poll_event() {
            if let ClientEvent::Closed(reason) = event {
                self.closed = Some(format!("{reason:?}"));
            }
        }
        !self.conn.is_closed()
    }
}

/// What one thread's opening came to.
#[derive(Default)]
struct Opened {
    established: usize,
    failed: usize,
    first_error: Option<String>,
}

impl Opened {
    fn fail(&mut self, error: String) {
        self.failed += 1;
        self.first_error.get_or_insert(error);
    }
}

/// Runs `pending` handshakes until each is established (moved to `held`),
/// closed or out of time.
fn handshake(pending: &mut Vec<Idle>, held: &mut Vec<Idle>, opened: &mut Opened, buf: &mut [u8]) {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    while !pending.is_empty() && Instant::now() < deadline {
        let mut i = 0;
        while i < pending.len() {
            let open = pending[i].pump(buf);
            if pending[i].conn.is_established() {
                // Our first frame (a ping) confirms us to the relay: send
                // it now, or the relay evicts us as unconfirmed.
                let mut conn = pending.swap_remove(i);
                conn.pump(buf);
                held.push(conn);
                opened.established += 1;
            } else if !open {
                let closed = pending.swap_remove(i).closed.unwrap_or_default();
                opened.fail(format!("closed during the handshake: {closed}"));
            } else {
                i += 1;
            }
        }
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for _ in pending.drain(..) {
        opened.fail(format!("no handshake within {HANDSHAKE_TIMEOUT:?}"));
    }
}

/// Serves every held connection once; how many are still open.
fn sweep(held: &mut [Idle], buf: &mut [u8]) -> usize {
    held.iter_mut()
        .filter(|c| !c.conn.is_closed())
        .fold(0, |open, c| open + usize::from(c.pump(buf)))
}

/// One thread: opens `count` connections, reports, holds them until
/// `stop`; returns how many were still open then and why the first of
/// the others closed.
fn worker(
    addr: SocketAddr,
    relay_pk: PublicKey,
    count: usize,
    thread: u64,
    stop: &AtomicBool,
    report: &mpsc::Sender<Opened>,
) -> (usize, Option<String>) {
    let mut held = Vec::with_capacity(count);
    let mut opened = Opened::default();
    let mut buf = vec![0u8; 4096];
    let mut last_sweep = Instant::now();
    let mut started = 0;
    while started < count && !stop.load(Ordering::Relaxed) {
        let n = BATCH.min(count - started);
        let mut pending = Vec::with_capacity(n);
        for i in started..started + n {
            match Idle::open(addr, relay_pk, (thread << 32) | i as u64) {
                Ok(conn) => pending.push(conn),
                Err(error) => opened.fail(error),
            }
        }
        started += n;
        handshake(&mut pending, &mut held, &mut opened, &mut buf);
        if last_sweep.elapsed() >= SWEEP_EVERY {
            sweep(&mut held, &mut buf);
            last_sweep = Instant::now();
        }
    }
    let _ = report.send(opened);
    while !stop.load(Ordering::Relaxed) {
        sweep(&mut held, &mut buf);
        std::thread::sleep(Duration::from_millis(100));
    }
    let open = sweep(&mut held, &mut buf);
    (open, held.into_iter().find_map(|c| c.closed))
}

/// The idle-connections case's figures.
struct Held {
    wanted: usize,
    opened: Opened,
    open_time: Duration,
    rss_before_kb: u64,
    rss_after_kb: u64,
    peak_kb: u64,
    still_open: usize,
    node_running: bool,
}

impl Held {
    fn report(&self, hold: Duration) {
        let Self { wanted, opened, .. } = self;
        let per_s = opened.established as f64 / self.open_time.as_secs_f64();
        let growth_kb = self.rss_after_kb.saturating_sub(self.rss_before_kb);
        let per_conn = growth_kb as f64 * 1024.0 / opened.established.max(1) as f64;
        println!(
            "idle: {} of {wanted} connections established in {:.2} s ({per_s:.0}/s), {} failed{}",
            opened.established,
            self.open_time.as_secs_f64(),
            opened.failed,
            opened
                .first_error
                .as_ref()
                .map_or(String::new(), |e| format!(" (first: {e})")),
        );
        println!(
            "idle: node RSS {} kB before, {} kB holding them ({} kB more, {per_conn:.0} B per connection), peak {} kB; {} still open after {hold:?} held; node {}",
            self.rss_before_kb,
            self.rss_after_kb,
            growth_kb,
            self.peak_kb,
            self.still_open,
            if self.node_running { "running" } else { "GONE" },
        );
        println!("BENCH idle_established {} connections", opened.established);
        println!("BENCH idle_failed {} connections", opened.failed);
        println!("BENCH idle_open_time {:.2} s", self.open_time.as_secs_f64());
        println!("BENCH idle_open_rate {per_s:.0} conn/s");
        println!("BENCH idle_node_rss_before {} kB", self.rss_before_kb);
        println!("BENCH idle_node_rss_after {} kB", self.rss_after_kb);
        println!("BENCH idle_node_rss_growth {growth_kb} kB");
        println!("BENCH idle_node_rss_per_connection {per_conn:.0} B");
        println!("BENCH idle_node_peak_rss {} kB", self.peak_kb);
        println!("BENCH idle_still_open {} connections", self.still_open);
    }
}

/// Case 3: a node allowing 12,000 relay connections; `count` idle clients
/// opened and held for `hold`.
pub(crate) fn idle_connections(count: usize, hold: Duration) {
    let mut node = Node::start("tcp-max-connections = 12000\n");
    std::thread::sleep(Duration::from_millis(500));
    let rss_before_kb = node.rss_kb().unwrap_or(0);
    let addr = SocketAddr::from(([127, 0, 0, 1], node.tcp_port));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let workers: Vec<JoinHandle<(usize, Option<String>)>> = (0..THREADS)
        .map(|t| {
            let share = count / THREADS + usize::from(t < count % THREADS);
            let (stop, tx, pk) = (Arc::clone(&stop), tx.clone(), node.public_key);
            std::thread::spawn(move || worker(addr, pk, share, t as u64, &stop, &tx))
        })
        .collect();
    let mut opened = Opened::default();
    let deadline = started + OPEN_TIMEOUT;
    for _ in 0..THREADS {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(part) = rx.recv_timeout(left) else {
            println!("idle: not all threads finished opening within {OPEN_TIMEOUT:?}");
            break;
        };
        opened.established += part.established;
        opened.failed += part.failed;
        if opened.first_error.is_none() {
            opened.first_error = part.first_error;
        }
    }
    let open_time = started.elapsed();
    std::thread::sleep(hold);
    let rss_after_kb = node.rss_kb().unwrap_or(0);
    let peak_kb = node.peak_rss_kb().unwrap_or(0);
    let node_running = node.running();
    stop.store(true, Ordering::Relaxed);
    // A worker still opening stops after its current batch (bounded).
    let mut still_open = 0;
    let mut closed_reason = None;
    for worker in workers {
        let (open, reason) = worker.join().unwrap_or((0, None));
        still_open += open;
        closed_reason = closed_reason.or(reason);
    }
    let held = Held {
        wanted: count,
        opened,
        open_time,
        rss_before_kb,
        rss_after_kb,
        peak_kb,
        still_open,
        node_running,
    };
    held.report(hold);
    if let Some(reason) = closed_reason {
        println!("idle: first held connection that closed: {reason}");
    }
    if held.opened.failed > 0 || !node_running {
        println!("idle: node stderr (end):\n{}", node.stderr_tail());
    }
}
