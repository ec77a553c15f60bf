//! The `echo_bot` example, run as a binary, against a real c-toxcore
//! 0.2.18 peer (`tox_peer`) on 127.0.0.1, with toxide-node instances as
//! the only bootstrap nodes.
//!
//! The bot's contract (README, `examples/echo_bot.rs`):
//! - `--port P`, `--bootstrap HOST:PORT:DHTKEYHEX`, `--savedata FILE`
//!   (created if missing, saved on change and on exit), `--timeout
//!   SECONDS`; it prints `ADDRESS <76 hex>`, `DHTKEY <64 hex>`, `PORT <n>`,
//!   then `READY`;
//! - it accepts every friend request and echoes every message with the
//!   same kind (normal or action), the 1372-byte maximum and multi-byte
//!   UTF-8 included;
//! - it takes every file and answers `GOT <bytes> <seconds>` (three
//!   decimals) once the whole file arrived;
//! - restarted from its save it has the same address and its friends
//!   reconnect without a new request;
//! - a save it cannot load ends it with a non-zero status and a message
//!   naming the file, which is left byte for byte as it was.
//!
//! `cargo test -p toxide-node` does not build the root package's
//! examples, so the test builds `echo_bot` itself (a no-op when `cargo
//! test --workspace` built it already) into its own target directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use toxide::messenger::packet::MessageKind;
use toxide::messenger::save::{SaveData, SavedFriend};
use toxide_core::{PublicKey, ToxId};
use toxide_interop::{CPeer, Event as PeerEvent, TempDir, fresh_udp_port};

use common::binary::{
    EXIT_TIMEOUT, STARTUP_TIMEOUT, collect_into, example_binary, isolate, line_reader, terminate,
    wait_bounded,
};
use common::inprocess::{longest_message, peer_message, runtime, spawn_peer, start_nodes};

/// Bound on a friend request or a (re)connection through the onion.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on anything crossing a live session.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `echo_bot`, its start-up lines read; killed on drop if still
/// running.
struct EchoBot {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Every line after `READY`, in order, claimed or not.
    history: Vec<String>,
    /// Lines no wait has claimed yet.
    backlog: Vec<String>,
    address: ToxId,
    dht_key: PublicKey,
    port: u16,
}

impl EchoBot {
    /// Starts the bot on 127.0.0.1:`port`, bootstrapped from `bootstrap`,
    /// with the save at `save`, ending by itself after two minutes at the
    /// latest; reads its start-up lines (bounded).
    fn start(bin: &Path, port: u16, bootstrap: &str, save: &Path) -> Self {
        let mut command = Command::new(bin);
        command
            .args(["--bind-ip", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--bootstrap", bootstrap, "--savedata"])
            .arg(save)
            .args(["--timeout", "120"]);
        isolate(&mut command);
        let mut child = command.spawn().unwrap();
        let lines = line_reader(child.stdout.take().unwrap());
        let stderr = Arc::new(Mutex::new(String::new()));
        collect_into(child.stderr.take().unwrap(), Arc::clone(&stderr));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut field = |name: &str| {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).unwrap_or_else(|e| {
                let _ = child.kill();
                panic!(
                    "no {name} line from echo_bot ({e}); stderr:\n{}",
                    stderr.lock().unwrap()
                )
            });
            match line.strip_prefix(name) {
                Some(rest) if name == "READY" && rest.is_empty() => String::new(),
                Some(rest) if rest.starts_with(' ') => rest[1..].to_owned(),
                _ => panic!("expected a {name} line, got {line:?}"),
            }
        };
        let address = field("ADDRESS");
        let dht_key = field("DHTKEY");
        let printed_port = field("PORT");
        field("READY");
        let is_hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
        assert!(address.len() == 76 && is_hex(&address), "{address}");
        assert!(dht_key.len() == 64 && is_hex(&dht_key), "{dht_key}");
        Self {
            child,
            lines,
            stderr,
            history: Vec::new(),
            backlog: Vec::new(),
            address: address.parse().unwrap(),
            dht_key: dht_key.parse().unwrap(),
            port: printed_port.parse().unwrap(),
        }
    }

    /// The first line, queued or new, that starts with `prefix`, within
    /// `timeout`; panics otherwise.
    fn wait_line(&mut self, prefix: &str, timeout: Duration) -> String {
        if let Some(i) = self.backlog.iter().position(|l| l.starts_with(prefix)) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|e| {
                panic!(
                    "echo_bot: no {prefix} line within {timeout:?} ({e}); lines so far: {:#?}; \
                     stderr:\n{}",
                    self.history,
                    self.stderr.lock().unwrap()
                )
            });
            self.history.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
            self.backlog.push(line);
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit: its status and the
    /// whole stderr.
    fn terminate(mut self) -> (ExitStatus, String) {
        terminate(&mut self.child, &self.stderr)
    }
}

impl Drop for EchoBot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The peer sends each message to the bot (friend `number`), then gets
/// each back, in order and of the same kind.
fn echoes(peer: &mut CPeer, number: u32, messages: &[(MessageKind, String)]) {
    for (kind, text) in messages {
        match kind {
            MessageKind::Normal => peer.send_message(number, text),
            MessageKind::Action => peer.send_action(number, text),
        }
        .unwrap();
    }
    for expected in messages {
        let echoed = peer_message(peer, number, EVENT_TIMEOUT)
            .unwrap_or_else(|e| panic!("no echo of {expected:?}: {e}"));
        assert_eq!(&echoed, expected);
    }
}

/// The peer sends the bot a file of `len` bytes; the bot accepts it, the
/// peer hears it has it all (FILE_SENT) and gets `GOT <len> <seconds>`.
fn got_file(bot: &mut EchoBot, peer: &mut CPeer, number: u32, len: usize) {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let source = peer.work_dir().join("for-the-bot.bin");
    std::fs::write(&source, &data).unwrap();
    let file = peer.send_file(number, &source).unwrap();
    peer.wait_event(
        |e| {
            *e == PeerEvent::FileSent {
                friend: number,
                file,
            }
        },
        EVENT_TIMEOUT,
    )
    .unwrap();
    let (kind, text) = peer_message(peer, number, EVENT_TIMEOUT).unwrap();
    assert_eq!(kind, MessageKind::Normal);
    let words: Vec<&str> = text.split(' ').collect();
    let [got, bytes, seconds] = words[..] else {
        panic!("not a GOT line: {text:?}")
    };
    assert_eq!((got, bytes), ("GOT", len.to_string().as_str()), "{text:?}");
    let (whole, decimals) = seconds.split_once('.').unwrap();
    assert!(
        decimals.len() == 3 && whole.parse::<u64>().is_ok() && decimals.parse::<u16>().is_ok(),
        "seconds with three decimals: {text:?}"
    );
    bot.wait_line(&format!("FILE_DONE 0 {len} {seconds}"), EVENT_TIMEOUT);
}

/// c-toxcore invites the bot to a conference: it joins and answers each
/// message `M` with `ECHO M`, but not a message that starts with `ECHO `
/// (the next answer is for the message after it).
fn conference_echoes(bot: &mut EchoBot, peer: &mut CPeer, number: u32) {
    let conference: u32 = peer
        .send_command("conference-new")
        .unwrap()
        .parse()
        .unwrap();
    peer.send_command(&format!("conference-invite {conference} {number}"))
        .unwrap();
    bot.wait_line("CONFERENCE_JOINED 0 0", EVENT_TIMEOUT);
    peer.wait_event(
        |e| {
            *e == PeerEvent::ConferencePeers {
                conference,
                count: 2,
            }
        },
        EVENT_TIMEOUT,
    )
    .unwrap();
    let heard = |peer: &mut CPeer| match peer
        .wait_event(
            |e| matches!(e, PeerEvent::ConferenceMessage { conference: c, .. } if *c == conference),
            EVENT_TIMEOUT,
        )
        .unwrap()
    {
        PeerEvent::ConferenceMessage { text, .. } => text,
        other => panic!("{other:?}"),
    };
    // Until `expected`, skipping c-toxcore's own messages as they come
    // back; an echo of an echo is a failure.
    let answer = |peer: &mut CPeer, expected: &str| loop {
        let text = heard(peer);
        assert_ne!(text, "ECHO ECHO not again", "the bot echoed an echo");
        if text == expected {
            return;
        }
    };
    peer.send_command(&format!("conference-send {conference} hello bots"))
        .unwrap();
    answer(peer, "ECHO hello bots");
    bot.wait_line("CONFERENCE_MESSAGE 0 hello bots", EVENT_TIMEOUT);
    peer.send_command(&format!("conference-send {conference} ECHO not again"))
        .unwrap();
    peer.send_command(&format!("conference-send {conference} once more"))
        .unwrap();
    answer(peer, "ECHO once more");
}

/// Runs the bot on a save it must refuse, bounded; returns its status,
/// stdout and stderr.
fn run_on_bad_save(bin: &Path, bootstrap: &str, save: &Path) -> (ExitStatus, String, String) {
    let mut command = Command::new(bin);
    command
        .args(["--bind-ip", "127.0.0.1", "--port", "0"])
        .args(["--bootstrap", bootstrap, "--savedata"])
        .arg(save)
        .args(["--timeout", "5"]);
    isolate(&mut command);
    wait_bounded(command.spawn().unwrap(), EXIT_TIMEOUT)
}

#[test]
fn echo_bot_befriends_echoes_restarts_and_refuses_a_bad_save() {
    let build_started = Instant::now();
    let bin = example_binary("echo_bot");
    eprintln!("echo_bot built: {:?}", build_started.elapsed());
    let started = Instant::now();
    let rt = runtime();
    let nodes = start_nodes(&rt, 3);
    let bootstrap = format!(
        "127.0.0.1:{}:{}",
        nodes[0].local_addr().port(),
        nodes[0].public_key()
    );
    let dir = TempDir::new("echo-bot").unwrap();
    let save = dir.path().join("bot.tox");

    // (1) A new bot: the save is created before READY. c-toxcore asks by
    // the printed address, is accepted, and gets its messages back.
    let port = fresh_udp_port().unwrap();
    let mut bot = EchoBot::start(&bin, port, &bootstrap, &save);
    assert_eq!(bot.port, port);
    assert_ne!(bot.dht_key, bot.address.public_key);
    let created = SaveData::load(&std::fs::read(&save).unwrap()).unwrap();
    assert_eq!(created.keys.public, bot.address.public_key);
    assert_eq!(created.nospam, bot.address.nospam);
    assert!(created.friends.is_empty());
    let mut peer = spawn_peer("befriends-echo-bot", &nodes[1], None);
    let number = peer.add_friend(&bot.address, "echo bot, add me ✓").unwrap();
    let added = bot.wait_line("FRIEND_ADDED ", CONNECT_TIMEOUT);
    assert_eq!(added, format!("FRIEND_ADDED 0 {}", peer.public_key()));
    peer.wait_friend_online(number, CONNECT_TIMEOUT).unwrap();
    eprintln!("befriended and online: {:?}", started.elapsed());
    echoes(
        &mut peer,
        number,
        &[
            (MessageKind::Normal, "hello echo bot".to_owned()),
            (MessageKind::Action, "waves at the bot 👋".to_owned()),
            (MessageKind::Normal, longest_message("echo this:")),
            (MessageKind::Action, "nods ✓ ünï 日本".to_owned()),
        ],
    );
    eprintln!("echoes: {:?}", started.elapsed());
    // A file from c-toxcore: the bot takes it whole and says how much
    // arrived in how long.
    got_file(&mut bot, &mut peer, number, 300_000);
    eprintln!("file counted: {:?}", started.elapsed());
    conference_echoes(&mut bot, &mut peer, number);
    eprintln!("conference echoes: {:?}", started.elapsed());

    // (2) Stopped, the bot saves (the friend included) and goes offline at
    // once; restarted from the save it has the same address, and the peer
    // reconnects and is echoed without a new request.
    let address = bot.address;
    let (status, stderr) = bot.terminate();
    assert!(status.success(), "{status}: {stderr}");
    let saved = std::fs::read(&save).unwrap();
    let profile = SaveData::load(&saved).unwrap();
    assert_eq!(profile.keys.public, address.public_key);
    match &profile.friends[..] {
        // Last seen is set only by the save on exit: the one after the
        // friend was added came before it was online.
        [SavedFriend::Confirmed(friend)] => {
            assert_eq!(friend.public_key, *peer.public_key());
            assert_ne!(friend.last_seen, 0, "not saved on exit");
        }
        other => panic!("the save should hold the peer, confirmed: {other:#?}"),
    }
    peer.wait_friend_offline(number, EVENT_TIMEOUT).unwrap();
    // What came before the restart must not answer the waits after it.
    peer.take_unclaimed_events();
    let port = fresh_udp_port().unwrap();
    let mut bot = EchoBot::start(&bin, port, &bootstrap, &save);
    assert_eq!(bot.address, address);
    assert_eq!(bot.port, port);
    peer.wait_friend_online(number, CONNECT_TIMEOUT).unwrap();
    bot.wait_line("FRIEND_CONNECTION 0 udp", EVENT_TIMEOUT);
    eprintln!("restarted bot back online: {:?}", started.elapsed());
    echoes(
        &mut peer,
        number,
        &[
            (MessageKind::Normal, "still there? ✓".to_owned()),
            (MessageKind::Action, "knocks 🚪".to_owned()),
        ],
    );
    assert_eq!(peer.friend_list().unwrap(), [address.public_key]);
    assert!(
        !bot.history.iter().any(|l| l.starts_with("FRIEND_ADDED")),
        "no new request after the restart: {:#?}",
        bot.history
    );
    let (status, stderr) = bot.terminate();
    assert!(status.success(), "{status}: {stderr}");
    eprintln!("echoes after the restart: {:?}", started.elapsed());

    // (3) A save that cannot be loaded (cut short, or random bytes) ends
    // the bot with status 1 and a message naming the file; the file is
    // left byte for byte as it was and nothing starts.
    let saved = std::fs::read(&save).unwrap();
    let mut random = vec![0u8; 400];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut random);
    // 40 bytes end inside the first section (the keys).
    for (name, bytes) in [("truncated.tox", &saved[..40]), ("random.tox", &random[..])] {
        let bad = dir.path().join(name);
        std::fs::write(&bad, bytes).unwrap();
        let (status, stdout, stderr) = run_on_bad_save(&bin, &bootstrap, &bad);
        assert_eq!(status.code(), Some(1), "{name}: {status}; stderr: {stderr}");
        assert!(
            stderr.starts_with("echo_bot: ")
                && stderr.contains(&bad.display().to_string())
                && stderr.contains("left as it was"),
            "{name}: unclear message: {stderr:?}"
        );
        assert!(!stdout.contains("READY"), "{name}: {stdout}");
        assert_eq!(std::fs::read(&bad).unwrap(), bytes, "{name} was changed");
    }

    // (4) `--timeout` ends a bot by itself, which saves its new profile.
    let fresh = dir.path().join("fresh.tox");
    let mut command = Command::new(&bin);
    command
        .args(["--bind-ip", "127.0.0.1", "--port", "0"])
        .args(["--bootstrap", &bootstrap, "--savedata"])
        .arg(&fresh)
        .args(["--timeout", "1"]);
    isolate(&mut command);
    let (status, stdout, stderr) = wait_bounded(
        command.spawn().unwrap(),
        EXIT_TIMEOUT + Duration::from_secs(1),
    );
    assert!(status.success(), "{status}: {stderr}");
    assert!(stdout.lines().any(|l| l == "READY"), "{stdout}");
    let fresh = SaveData::load(&std::fs::read(&fresh).unwrap()).unwrap();
    assert_ne!(fresh.keys.public, address.public_key);
    eprintln!(
        "bad saves refused, timeout honoured: {:?}",
        started.elapsed()
    );

    peer.quit().unwrap();
    for node in nodes {
        rt.block_on(node.shutdown());
    }
}
