//! Debian's unmodified `toxic` 0.11.1 (a curses Tox client) running on
//! toxide's drop-in `libtoxcore.so.2` (the `toxide-ffi` cdylib), driven
//! through tmux as a person drives it, against a real c-toxcore peer.
//!
//! # Design
//!
//! - Everything runs in a private network namespace ([`Netns`], deleted
//!   on drop) with only `lo`: toxic's fetch of the public node list
//!   (curl to nodes.tox.chat) and any bootstrap to the internet go
//!   nowhere, and no packet leaves the machine. The test needs root (CI
//!   runs as root) and fails without it.
//! - In it: a `toxide-node` on 127.0.0.1 as the only bootstrap node, a
//!   c-toxcore peer ([`CPeer`], `tox_peer` on Debian's libtoxcore) and
//!   toxic in a tmux session, started with `LD_LIBRARY_PATH` at a
//!   directory whose `libtoxcore.so.2` links to our cdylib, its own HOME
//!   and XDG directories, a profile (`-f`), a config (`-c`: no alerts,
//!   no logs, no auto-away, downloads into the test's directory), a
//!   nodes file (`-n`) and no LAN discovery (`-L`). The cdylib is the one
//!   cargo built for this test (node's dev-dependency `toxide-ffi`:
//!   a dependency's crate types are built together, into `deps/` beside
//!   the test binary). `/proc/<toxic>/maps` must map it, and no other
//!   libtoxcore.
//! - The nodes file is what toxic 0.11.1's `bootstrap.c` parses: one
//!   line of nodes.tox.chat's JSON, `"last_scan"` first and recent (an
//!   older one than `nodeslist_update_freq` days makes toxic fetch a new
//!   list), and per node `"ipv4"`, `"ipv6"`, `"port"`, `"public_key"`
//!   and a `"last_ping"` less than two days old (older nodes count as
//!   offline and are skipped).
//! - The steps, as a person: no encryption for the new profile; `/add`
//!   the peer's Tox ID, the peer accepts; a second c-toxcore peer asks
//!   by the ID `/myid` shows, toxic `/accept`s; open the first friend's
//!   chat from the contact list and exchange messages; `/sendfile` to the
//!   peer (exact bytes received) and `/savefile` one from it (exact bytes
//!   in the download directory); the peer starts a conference and invites
//!   toxic, which `/join`s, and a message passes each way; `/exit`, start
//!   toxic again on the same profile and see both friends online again.
//!   Every wait is bounded ([`SCREEN_TIMEOUT`], [`PEER_TIMEOUT`]).
//! - With `TOXIDE_TOXIC_ON_SYSTEM_LIBRARY=1` the same steps run on
//!   Debian's libtoxcore, to tell toxic's behaviour from ours when a step
//!   fails.
//!
//! # Observed
//!
//! A debug build, all steps: 13–16 s on our library, 25–26 s on
//! Debian's (c-toxcore takes longer to connect the friends). On both,
//! toxic 0.11.1 sends the `/add` message's first word only (it takes the
//! quoted message from one word of the line).
//!
//! One difference: in the conference window toxic prints "carol is now
//! known as carol" on ours. The library dispatches a `tox_iterate`'s
//! callbacks after the iteration; the peer-list-changed callback comes
//! first, toxic reads every name there (carol's is already known), and
//! the peer-name callback that follows looks like a rename to it.
//! c-toxcore calls back while it processes, so toxic reads the name
//! still empty.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use toxide_core::ToxId;
use toxide_interop::{CPeer, Event, PeerOptions, TempDir, mapped_libtoxcore};

use common::binary::{NODE_BIN, NodeProcess, isolate};
use common::clib::{library_dir, library_under_test};
use common::netns::Netns;
use common::tmux::Tmux;

/// How long one expected change may take to show on toxic's screen.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the c-toxcore peer may take to see one expected event
/// (friends connect in ~10 s).
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long toxic may take to exit after `/exit`.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The tmux session toxic runs in.
const TOXIC: &str = "toxic";
/// The c-toxcore peer's name, as toxic shows it.
const PEER_NAME: &str = "carol";
/// The second c-toxcore peer's, which asks toxic for friendship; after
/// [`PEER_NAME`] in toxic's contact list, which sorts by name.
const ASKER_NAME: &str = "dave";

/// Set to run the same steps on Debian's libtoxcore instead (a
/// comparison when a step fails on ours).
const SYSTEM_LIBRARY_ENV: &str = "TOXIDE_TOXIC_ON_SYSTEM_LIBRARY";
/// One line of nodes.tox.chat's JSON naming only `node`, as toxic 0.11.1
/// reads it.
fn nodes_json(node: &NodeProcess) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "{{\"last_scan\":{now},\"last_refresh\":{now},\"nodes\":[{{\"ipv4\":\"127.0.0.1\",\
         \"ipv6\":\"-\",\"port\":{},\"tcp_ports\":[],\"public_key\":\"{}\",\
         \"maintainer\":\"toxide test\",\"location\":\"LO\",\"status_udp\":true,\
         \"status_tcp\":false,\"version\":\"\",\"motd\":\"\",\"last_ping\":{now}}}]}}\n",
        node.ports[0], node.public_key
    )
}

/// toxic's config (libconfig): nothing that beeps, logs or goes away by
/// itself; received files into `downloads`.
fn toxic_config(downloads: &Path) -> String {
    format!(
        "ui = {{\n  alerts = false;\n  bell_on_message = 0;\n  bell_on_filetrans = 0;\n  \
         bell_on_filetrans_accept = 0;\n  bell_on_invite = 0;\n  autolog = false;\n  \
         native_colors = true;\n  show_welcome_msg = false;\n  mplex_away = false;\n  \
         nodeslist_update_freq = 7;\n}};\ntox = {{\n  download_path = \"{}/\";\n}};\n",
        downloads.display()
    )
}

/// toxic's files and the command line that runs it in the namespace on
/// our library.
struct Toxic {
    dir: PathBuf,
    command: String,
}

impl Toxic {
    fn new(dir: &Path, ns: &Netns, library: &Path, node: &NodeProcess) -> Self {
        let lib_dir = library_dir(dir, library);
        let home = dir.join("home");
        let downloads = dir.join("downloads");
        for d in [&home, &downloads] {
            std::fs::create_dir_all(d).unwrap();
        }
        let nodes = dir.join("nodes.json");
        std::fs::write(&nodes, nodes_json(node)).unwrap();
        let config = dir.join("toxic.conf");
        std::fs::write(&config, toxic_config(&downloads)).unwrap();
        let path = |p: &Path| {
            let p = p.to_str().unwrap();
            assert!(!p.contains('\''), "{p}");
            format!("'{p}'")
        };
        let command = format!(
            "env HOME={home} XDG_CONFIG_HOME={home}/.config XDG_DATA_HOME={home}/.local/share \
             LD_LIBRARY_PATH={lib} ip netns exec {ns} toxic -f {profile} -c {config} \
             -n {nodes} -L 2>>{err}",
            home = path(&home),
            lib = path(&lib_dir),
            ns = ns.name(),
            profile = path(&dir.join("profile.tox")),
            config = path(&config),
            nodes = path(&nodes),
            err = path(&dir.join("toxic.stderr")),
        );
        Self {
            dir: dir.to_path_buf(),
            command,
        }
    }

    fn downloads(&self) -> PathBuf {
        self.dir.join("downloads")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("toxic.stderr")).unwrap_or_default()
    }
}

/// The id of the `toxic` process in `ns`, once there is one.
fn toxic_pid(ns: &Netns) -> Option<u32> {
    ns.pids().into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| comm.trim() == "toxic")
    })
}

/// Fails unless the toxic running in `ns` has `library` mapped and no
/// other libtoxcore (such as Debian's, which it loads by default).
fn assert_runs_on(ns: &Netns, library: &Path) {
    let pid = poll("toxic process", SCREEN_TIMEOUT, || toxic_pid(ns));
    assert_eq!(
        mapped_libtoxcore(pid).unwrap(),
        vec![library.to_path_buf()],
        "toxic must run on the library under test"
    );
}

/// Waits until toxic's contact list shows both peers online by name, the
/// first ([`PEER_NAME`]) selected.
fn contacts_show_both(tmux: &Tmux) {
    tmux.wait(TOXIC, "both friends online", |screen| {
        let lines: Vec<&str> = screen.lines().map(str::trim).collect();
        (lines.contains(&"Online: 2/2")
            && lines.contains(&format!("> o {PEER_NAME}").as_str())
            && lines.contains(&format!("o {ASKER_NAME}").as_str()))
        .then_some(())
    });
}

/// Waits (bounded) until `probe` returns `Some`.
fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    common::wait_for(timeout, &mut probe).unwrap_or_else(|| panic!("no {what} within {timeout:?}"))
}

/// Bytes that show a shifted or dropped chunk: a counter run through a
/// multiplier, over many of tox.h's 1371-byte file chunks.
fn file_bytes(seed: u32, len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

#[test]
fn debian_toxic_chats_sends_files_and_joins_a_conference_on_our_library() {
    let started = Instant::now();
    let library = library_under_test(SYSTEM_LIBRARY_ENV);
    let ns = Netns::create(
        "toxide-toxic",
        "t",
        "toxic runs in a namespace with only lo, so it cannot reach the internet",
    );
    let dir = TempDir::new("toxic-on-toxide").unwrap();

    let mut node_command = ns.command(NODE_BIN);
    node_command.args(["--udp-address", "127.0.0.1:0", "--log-level", "info"]);
    isolate(&mut node_command);
    let node = NodeProcess::start(node_command, 1);

    let peer_in_ns = |name: &str| {
        let mut peer = CPeer::spawn(PeerOptions {
            netns: Some(ns.name().to_owned()),
            label: Some(format!("c-toxcore peer {name}")),
            ..PeerOptions::default()
        })
        .unwrap();
        peer.set_name(name).unwrap();
        peer.bootstrap(node.ports[0], &node.public_key).unwrap();
        peer
    };
    let mut peer = peer_in_ns(PEER_NAME);
    let mut asker = peer_in_ns(ASKER_NAME);

    let toxic = Toxic::new(dir.path(), &ns, &library, &node);
    let tmux = Tmux::new("toxide-toxic-test", SCREEN_TIMEOUT);
    tmux.start(TOXIC, &toxic.command);
    let fail = |what: &str, peer: &CPeer| -> String {
        format!(
            "{what}\ntoxic's screen:\n{}\ntoxic's stderr:\n{}\n{}\ntoxide-node stderr:\n{}",
            tmux.last_screen(TOXIC),
            toxic.stderr(),
            peer.context(),
            node.stderr()
        )
    };

    // A new profile: toxic asks whether to encrypt it.
    tmux.wait_text(TOXIC, "Would you like to encrypt it?");
    tmux.type_line(TOXIC, "n");
    tmux.wait_text(TOXIC, "[Online]");
    assert_runs_on(&ns, &library);
    eprintln!("toxic online after {:?}", started.elapsed());

    // Friends: toxic asks, the peer accepts.
    // toxic 0.11.1 takes the quoted message from one word of the line.
    tmux.type_line(TOXIC, &format!("/add {} \"hello\"", peer.tox_id()));
    let (toxic_pk, message) = peer
        .wait_friend_request(PEER_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}", fail(&format!("no friend request: {e}"), &peer)));
    assert_eq!(message, "hello");
    let friend = peer.add_friend_norequest(&toxic_pk).unwrap();
    peer.wait_friend_online(friend, PEER_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}", fail(&format!("toxic not online: {e}"), &peer)));
    eprintln!("friends after {:?}", started.elapsed());

    // The other peer asks by toxic's Tox ID (`/myid`); toxic accepts.
    tmux.type_line(TOXIC, "/myid");
    let toxic_id: ToxId = tmux.wait(TOXIC, "Tox ID", |screen| {
        screen
            .lines()
            .map(str::trim)
            .find(|line| line.len() == 76 && line.chars().all(|c| c.is_ascii_hexdigit()))
            .and_then(|line| line.parse().ok())
    });
    assert_eq!(toxic_id.public_key, toxic_pk);
    asker.add_friend(&toxic_id, "hi from dave").unwrap();
    tmux.wait_text(TOXIC, "Friend request with the message 'hi from dave'");
    tmux.wait_text(TOXIC, "Type \"/accept 0\"");
    tmux.type_line(TOXIC, "/accept 0");
    asker
        .wait_friend_online(0, PEER_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}", fail(&format!("toxic did not accept: {e}"), &asker)));
    eprintln!("second friend after {:?}", started.elapsed());

    // The contact list (next tab) counts both friends online, by name,
    // the first selected; Enter opens its chat window, whose tab shows
    // its name.
    tmux.key(TOXIC, "C-p");
    contacts_show_both(&tmux);
    tmux.key(TOXIC, "Enter");
    tmux.wait_text(TOXIC, &format!("[{PEER_NAME}]"));
    tmux.type_line(TOXIC, "hello c-toxcore");
    let (from, text) = peer
        .wait_message(PEER_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}", fail(&format!("no message: {e}"), &peer)));
    assert_eq!((from, text.as_str()), (friend, "hello c-toxcore"));
    peer.send_message(friend, "hello toxic").unwrap();
    tmux.wait_text(TOXIC, "hello toxic");
    eprintln!("chatted after {:?}", started.elapsed());

    // A file from toxic to the peer.
    let outgoing = dir.path().join("to-peer.bin");
    let sent = file_bytes(1, 150_000);
    std::fs::write(&outgoing, &sent).unwrap();
    // toxic sent its empty avatar on connecting, a file of the same number
    // (the first incoming slot) that is done already: forget its events.
    peer.take_unclaimed_events();
    tmux.type_line(TOXIC, &format!("/sendfile {}", outgoing.display()));
    let offer = peer
        .wait_event(
            |e| matches!(e, Event::FileRecv { name, .. } if name == "to-peer.bin"),
            PEER_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{}", fail(&format!("no file offer: {e}"), &peer)));
    let Event::FileRecv { file, size, .. } = offer else {
        unreachable!()
    };
    assert_eq!(size, sent.len() as u64);
    let done = peer
        .wait_event(
            |e| matches!(e, Event::FileDone { file: f, .. } if *f == file),
            PEER_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{}", fail(&format!("file not received: {e}"), &peer)));
    let Event::FileDone { path, bytes, .. } = done else {
        unreachable!()
    };
    assert_eq!(bytes, sent.len() as u64, "{}", fail("short file", &peer));
    assert!(
        std::fs::read(&path).unwrap() == sent,
        "the peer got other bytes"
    );
    tmux.wait_text(TOXIC, "File 'to-peer.bin' successfully sent.");

    // A file from the peer to toxic.
    let incoming = peer.work_dir().join("to-toxic.bin");
    let offered = file_bytes(2, 90_000);
    std::fs::write(&incoming, &offered).unwrap();
    peer.send_file(friend, &incoming).unwrap();
    tmux.wait_text(TOXIC, "Type '/savefile 0' to accept the file transfer.");
    tmux.type_line(TOXIC, "/savefile 0");
    tmux.wait_text(TOXIC, "File 'to-toxic.bin' successfully received.");
    let saved = std::fs::read(toxic.downloads().join("to-toxic.bin")).unwrap();
    assert!(saved == offered, "toxic saved other bytes");
    eprintln!("files after {:?}", started.elapsed());

    // The peer starts a conference and invites toxic, which joins.
    let conference = peer.conference_new().unwrap();
    peer.conference_invite(conference, friend).unwrap();
    tmux.wait_text(TOXIC, "Type \"/join\" to join the chat.");
    let chat_window = tmux.screen(TOXIC);
    tmux.type_line(TOXIC, "/join");
    peer.wait_event(
        |e| matches!(e, Event::ConferencePeers { conference: c, count: 2 } if *c == conference),
        PEER_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{}", fail(&format!("toxic did not join: {e}"), &peer)));
    peer.conference_send(conference, "hi all from c-toxcore")
        .unwrap();
    tmux.wait_text(TOXIC, "hi all from c-toxcore");
    tmux.type_line(TOXIC, "hi all from toxic");
    peer.wait_event(
        |e| matches!(e, Event::ConferenceMessage { conference: c, text, .. } if *c == conference && text == "hi all from toxic"),
        PEER_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{}", fail(&format!("no conference message: {e}"), &peer)));
    // toxic shows its own message as the library echoes it (c-toxcore
    // calls the conference message callback for our own messages too).
    tmux.wait_text(TOXIC, "Toxic User: hi all from toxic");
    eprintln!("conference after {:?}", started.elapsed());
    eprintln!("toxic's chat window:\n{chat_window}");
    eprintln!("toxic's conference window:\n{}", tmux.screen(TOXIC));

    // Quit, start again on the same profile: the friend is still there
    // and comes online again.
    tmux.type_line(TOXIC, "/exit");
    poll("toxic exit", EXIT_TIMEOUT, || {
        toxic_pid(&ns).is_none().then_some(())
    });
    peer.wait_friend_offline(friend, PEER_TIMEOUT)
        .unwrap_or_else(|e| panic!("{}", fail(&format!("toxic not offline: {e}"), &peer)));
    tmux.start(TOXIC, &toxic.command);
    tmux.wait_text(TOXIC, "[Online]");
    assert_runs_on(&ns, &library);
    tmux.key(TOXIC, "C-p");
    for (peer, friend) in [(&mut peer, friend), (&mut asker, 0)] {
        peer.wait_friend_online(friend, PEER_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}", fail(&format!("toxic not back: {e}"), peer)));
    }
    contacts_show_both(&tmux);
    eprintln!("after the restart:\n{}", tmux.screen(TOXIC));
    eprintln!("the whole run took {:?}", started.elapsed());
}
