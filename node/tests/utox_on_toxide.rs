//! Debian's unmodified uTox 0.18.1 (a GUI Tox client, Xlib) starts on
//! toxide's drop-in `libtoxcore.so.2` (the `toxide-ffi` cdylib) under
//! Xvfb and comes online.
//!
//! # Design
//!
//! - Everything runs in a private network namespace ([`Netns`], deleted
//!   on drop) with only `lo`: uTox bootstraps from the public nodes built
//!   into it (`tox_bootstrap.h`) every 10 s while offline, and those
//!   sends fail there ("network unreachable"); no packet leaves the
//!   machine. The test needs root (CI runs as root; uTox then needs
//!   `--allow-root`) and fails without it.
//! - uTox has no option or file for other bootstrap nodes, but it loads
//!   its profile, `$HOME/.config/tox/tox_save.tox`, a plain Tox save, and
//!   the library asks the nodes of the save's DHT section (c-toxcore
//!   `dht_connect_after_load`). The test writes that save with toxide's
//!   `SaveData`: a new key pair, a name, our first node in the DHT
//!   section, and (as uTox's own saves hold the public nodes its last run
//!   bootstrapped from) eight path nodes that cannot be reached.
//! - In the namespace: four `toxide-node`s on 127.0.0.1, the other three
//!   bootstrapped from the first (onion paths and announcements need a
//!   few nodes; one is not a network), `Xvfb -displayfd` on a free
//!   display, and uTox (`-vv`: notices on stdout, line-buffered through
//!   `stdbuf`) with `LD_LIBRARY_PATH` at a directory whose
//!   `libtoxcore.so.2` links to our cdylib, and its own HOME and XDG
//!   directories.
//! - "Online" is uTox's own word: it prints `Connected to DHT!` when
//!   `tox_self_get_connection_status` stops being `TOX_CONNECTION_NONE`
//!   (the green dot on its status button). `/proc/<utox>/maps` must map
//!   our library and no other libtoxcore. Every wait is bounded
//!   ([`START_TIMEOUT`], [`ONLINE_TIMEOUT`]); uTox and Xvfb are killed on
//!   drop (uTox leaves on SIGTERM only at its next X event).
//! - With `TOXIDE_UTOX_ON_SYSTEM_LIBRARY=1` the same runs on Debian's
//!   libtoxcore, to tell uTox's behaviour from ours when it fails.
//!
//! # Observed
//!
//! A debug build: uTox online 7–8 s after its start, on our library as
//! on Debian's. Before the save's path nodes went to the onion
//! client's bootstrap pool (as c-toxcore's `load_path_nodes` puts them),
//! it never came online on ours: eight dead nodes in the live pool, and
//! `onion_isconnected` wants announce nodes for half of (at most twelve)
//! path nodes, more than this network has.
//!
//! A screenshot by hand, while it runs: `xwd -root -display :<n>` (the
//! display is in the failure message and on stderr).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use toxide::dht::DhtState;
use toxide::messenger::save::{Name, SaveData};
use toxide_core::{KeyPair, NoSpam, PackedNode};
use toxide_interop::{TempDir, mapped_libtoxcore};

use common::binary::{NODE_BIN, NodeProcess, isolate, line_reader};
use common::clib::{library_dir, library_under_test};
use common::netns::Netns;

/// How long Xvfb may take to name its display.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long uTox may take to come online (a few seconds).
const ONLINE_TIMEOUT: Duration = Duration::from_secs(30);
/// What uTox prints (at notice level) when the library reports a
/// connection.
const ONLINE_LINE: &str = "Connected to DHT!";
/// The nodes in the namespace.
const NODES: usize = 4;
/// Path nodes in uTox's profile: as many as c-toxcore saves
/// (`NUM_SAVED_PATH_NODES`).
const SAVED_PATH_NODES: u8 = 8;
/// The name in uTox's profile.
const NAME: &str = "uTox on toxide";

/// Set to run uTox on Debian's libtoxcore instead.
const SYSTEM_LIBRARY_ENV: &str = "TOXIDE_UTOX_ON_SYSTEM_LIBRARY";

/// A child process killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `Xvfb` on the first free display in `ns`; its number once it is ready.
fn start_xvfb(ns: &Netns, dir: &Path) -> (Killed, u32) {
    let mut command = ns.command("Xvfb");
    command
        .args(["-displayfd", "1", "-nolisten", "tcp"])
        .args(["-screen", "0", "800x600x24"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("xvfb.stderr")).unwrap());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run Xvfb (Debian's xvfb): {e}"));
    let lines = line_reader(child.stdout.take().unwrap());
    let xvfb = Killed(child);
    let display = lines
        .recv_timeout(START_TIMEOUT)
        .ok()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "Xvfb named no display within {START_TIMEOUT:?}: {}",
                read(&dir.join("xvfb.stderr"))
            )
        });
    (xvfb, display)
}

/// uTox's profile: a save that names `node` as the DHT node to ask.
fn write_profile(home: &Path, node: &NodeProcess) -> PathBuf {
    let mut rng = rand::rng();
    let mut save = SaveData::new(KeyPair::generate(&mut rng), NoSpam::random(&mut rng));
    save.name = Name::new(NAME.as_bytes().to_vec()).unwrap();
    save.dht = DhtState::new(vec![PackedNode::udp(node.addr(), node.public_key)]).unwrap();
    // As many path nodes as c-toxcore saves, in TEST-NET-1: no route in
    // the namespace, as the public nodes of a real uTox save have none.
    save.path_nodes = (1..=SAVED_PATH_NODES)
        .map(|i| {
            let addr = format!("192.0.2.{i}:33445").parse().unwrap();
            PackedNode::udp(addr, KeyPair::generate(&mut rng).public)
        })
        .collect();
    let profile_dir = home.join(".config/tox");
    std::fs::create_dir_all(&profile_dir).unwrap();
    let profile = profile_dir.join("tox_save.tox");
    std::fs::write(&profile, save.to_bytes()).unwrap();
    profile
}

/// uTox in `ns` on the display, with its own HOME and our library.
fn start_utox(ns: &Netns, dir: &Path, lib_dir: &Path, display: u32) -> Killed {
    let home = dir.join("home");
    let mut command: Command = ns.command("stdbuf");
    command
        .args(["-oL", "utox", "--allow-root", "-vv"])
        .current_dir(dir)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("DISPLAY", format!(":{display}"))
        .env("LD_LIBRARY_PATH", lib_dir)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("utox.stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("utox.stderr")).unwrap());
    Killed(
        command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run uTox (Debian's utox): {e}")),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn debian_utox_comes_online_on_our_library_under_xvfb() {
    let started = Instant::now();
    let library = library_under_test(SYSTEM_LIBRARY_ENV);
    let ns = Netns::create(
        "toxide-utox",
        "o",
        "uTox runs in a namespace with only lo, so it cannot reach its built-in public nodes",
    );
    let dir = TempDir::new("utox-on-toxide").unwrap();

    let node_in_ns = |bootstrap: Option<&NodeProcess>| {
        let mut command = ns.command(NODE_BIN);
        command.args(["--udp-address", "127.0.0.1:0"]);
        if let Some(first) = bootstrap {
            command
                .arg("--bootstrap-node")
                .arg(first.public_key.to_string())
                .arg(first.addr().to_string());
        }
        isolate(&mut command);
        NodeProcess::start(command, 1)
    };
    let first = node_in_ns(None);
    let others: Vec<NodeProcess> = (1..NODES).map(|_| node_in_ns(Some(&first))).collect();

    let home = dir.path().join("home");
    write_profile(&home, &first);
    let lib_dir = library_dir(dir.path(), &library);
    let (_xvfb, display) = start_xvfb(&ns, dir.path());
    eprintln!("Xvfb on :{display} after {:?}", started.elapsed());
    let utox_started = Instant::now();
    let utox = start_utox(&ns, dir.path(), &lib_dir, display);
    let fail = |what: &str| -> String {
        format!(
            "{what} (display :{display})\nuTox's stdout:\n{}\nuTox's stderr:\n{}\n\
             first toxide-node's stderr:\n{}\nanother's:\n{}",
            read(&dir.path().join("utox.stdout")),
            read(&dir.path().join("utox.stderr")),
            first.stderr(),
            others.first().map(NodeProcess::stderr).unwrap_or_default(),
        )
    };

    common::wait_for(ONLINE_TIMEOUT, || {
        read(&dir.path().join("utox.stdout"))
            .lines()
            .any(|line| line.contains(ONLINE_LINE))
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{}",
            fail(&format!("uTox not online within {ONLINE_TIMEOUT:?}"))
        )
    });
    eprintln!("uTox online {:?} after its start", utox_started.elapsed());
    assert_eq!(
        mapped_libtoxcore(utox.0.id()).unwrap(),
        vec![library.clone()],
        "{}",
        fail("uTox must run on the library under test")
    );
    eprintln!("the whole run took {:?}", started.elapsed());
}
