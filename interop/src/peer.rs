//! [`CPeer`]: one real c-toxcore instance (the `tox_peer` helper program).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use toxide_core::{PublicKey, ToxId};

use crate::bootstrapd::Bootstrapd;
use crate::error::{Error, Result};
use crate::event::{Event, escape, unescape};
use crate::process::{
    LineMatcher, Process, TempDir, fresh_tcp_port, fresh_udp_port, hex_decode, hex_encode,
};

/// Path of the compiled `tox_peer` program.
pub const TOX_PEER_BIN: &str = env!("TOX_PEER_BIN");

/// How long `tox_peer` may take to start and print `READY`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a command may take to be answered.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// `Tox_Err_New` value for "could not bind the UDP port".
const TOX_ERR_NEW_PORT_ALLOC: &str = "3";

/// How to start a [`CPeer`]. The default is a fresh identity on a fresh UDP
/// port, UDP on, no TCP server, LAN discovery off, in the test's own network
/// namespace.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    /// UDP port to bind; `None` picks a fresh one. Only set this to restart a
    /// profile on the port it had (a port reused with a new key confuses
    /// c-toxcore's DHT), or to give a peer in its own
    /// [`netns`](Self::netns), where every port is free, a well-known port
    /// such as 33445.
    pub udp_port: Option<u16>,
    /// A c-toxcore profile (as written by [`CPeer::save`]) to start from.
    pub savedata: Option<PathBuf>,
    /// Run a TCP relay server on a fresh port ([`CPeer::tcp_port`]).
    pub tcp_server: bool,
    /// Disable UDP entirely (only TCP relays are used).
    pub no_udp: bool,
    /// Cap on the sleep between `tox_iterate` calls; default 20 ms.
    pub loop_cap: Option<Duration>,
    /// Name for error messages; default `tox_peer:<udp-port>`.
    pub label: Option<String>,
    /// Run `tox_peer` inside this existing network namespace: the command
    /// becomes `ip netns exec NAME tox_peer ...`, which needs root. `ip`
    /// execs `tox_peer`, so killing the child still kills the peer. The peer
    /// binds inside the namespace (on 0.0.0.0: its IPv6 is off), so the
    /// Rust side can reach it only from there too.
    pub netns: Option<String>,
    /// Turn on c-toxcore's LAN discovery (`--local-discovery`, i.e.
    /// `tox_options_set_local_discovery_enabled`); off by default. c-toxcore
    /// then broadcasts to every interface's broadcast address and to
    /// 255.255.255.255 every ~10 s, so this must only be used inside a
    /// network namespace the test created: [`CPeer::spawn`] refuses it
    /// without [`netns`](Self::netns).
    pub local_discovery: bool,
    /// Leave incoming files waiting (`--manual-files`) for the test to
    /// accept, seek or cancel with [`CPeer::file_control`] and
    /// [`CPeer::file_seek`]; by default they are accepted at once. Data is
    /// then written into an existing file of the same name in
    /// [`CPeer::recv_dir`], so a half-received file can be resumed.
    pub manual_files: bool,
    /// Load `libtoxcore.so.2` from this directory instead of the system's
    /// c-toxcore: `tox_peer` runs with `LD_LIBRARY_PATH` set to it (through
    /// [`netns`](Self::netns)'s `ip netns exec` too, which passes its
    /// environment on), so the same unmodified program drives another
    /// build of the library, such as toxide's drop-in one. The label gets
    /// the directory's name as a suffix (`peer-a@toxide`) so failures say
    /// which library ran; [`CPeer::mapped_libtoxcore`] tells which file the
    /// loader really took.
    pub library_dir: Option<PathBuf>,
}

/// A running c-toxcore peer, driven through `tox_peer`'s line protocol.
///
/// Incoming files are accepted automatically into [`CPeer::recv_dir`];
/// conference invitations are accepted automatically. The process is killed
/// and its directory removed on drop.
#[derive(Debug)]
pub struct CPeer {
    process: Process,
    tox_id: ToxId,
    dht_key: PublicKey,
    udp_port: u16,
    tcp_port: Option<u16>,
    recv_dir: PathBuf,
    library_dir: Option<PathBuf>,
    // Declared last: dropped after the process is gone.
    dir: TempDir,
}

impl CPeer {
    /// Starts a peer named `label` in test output, from the save at
    /// `savedata` if given, otherwise with the default options.
    pub fn spawn_labelled(label: &str, savedata: Option<PathBuf>) -> Result<Self> {
        Self::spawn(PeerOptions {
            label: Some(label.to_owned()),
            savedata,
            ..PeerOptions::default()
        })
    }

    /// Starts a peer and waits (bounded) until it is ready.
    pub fn spawn(options: PeerOptions) -> Result<Self> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::spawn_once(&options) {
                // Someone else took the probed port in between: probe again.
                Err(Error::Protocol { line, .. })
                    if options.udp_port.is_none()
                        && attempt < 3
                        && line.strip_prefix("FATAL tox_new ") == Some(TOX_ERR_NEW_PORT_ALLOC) => {}
                result => return result,
            }
        }
    }

    fn spawn_once(options: &PeerOptions) -> Result<Self> {
        if options.local_discovery && options.netns.is_none() {
            return Err(Error::Spawn {
                program: TOX_PEER_BIN.to_owned(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "PeerOptions::local_discovery needs PeerOptions::netns: \
                     LAN discovery broadcasts are sent only inside a network namespace",
                ),
            });
        }
        let dir = TempDir::new("peer")?;
        let recv_dir = dir.path().join("recv");
        std::fs::create_dir_all(&recv_dir).map_err(|source| Error::Io {
            what: format!("creating {}", recv_dir.display()),
            source,
        })?;
        let udp_port = match options.udp_port {
            Some(port) => port,
            None => fresh_udp_port()?,
        };
        let tcp_port = if options.tcp_server {
            Some(fresh_tcp_port()?)
        } else {
            None
        };

        let mut command = match &options.netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", ns.as_str(), TOX_PEER_BIN]);
                command
            }
            None => Command::new(TOX_PEER_BIN),
        };
        if let Some(dir) = &options.library_dir {
            command.env("LD_LIBRARY_PATH", dir);
        }
        command
            .arg("--port")
            .arg(udp_port.to_string())
            .arg("--recv-dir")
            .arg(&recv_dir);
        if let Some(port) = tcp_port {
            command.arg("--tcp-port").arg(port.to_string());
        }
        if let Some(path) = &options.savedata {
            command.arg("--savedata").arg(path);
        }
        if options.no_udp {
            command.arg("--no-udp");
        }
        if options.manual_files {
            command.arg("--manual-files");
        }
        if let Some(cap) = options.loop_cap {
            command.arg("--loop-cap").arg(cap.as_millis().to_string());
        }
        if options.local_discovery {
            command.arg("--local-discovery");
        }
        let mut label = options
            .label
            .clone()
            .unwrap_or_else(|| match &options.netns {
                Some(ns) => format!("tox_peer:{udp_port}@{ns}"),
                None => format!("tox_peer:{udp_port}"),
            });
        if let Some(dir) = &options.library_dir {
            label.push('@');
            match dir.file_name() {
                Some(name) => label.push_str(&name.to_string_lossy()),
                None => label.push_str(&dir.to_string_lossy()),
            }
        }
        let mut process = Process::spawn(label, &mut command)?;

        let line = process.wait_line(
            |l: &str| l.starts_with("READY ") || l.starts_with("FATAL "),
            STARTUP_TIMEOUT,
        )?;
        let protocol_error = |process: &Process| Error::Protocol {
            process: process.label().to_owned(),
            line: line.clone(),
        };
        let mut words = line.split(' ').skip(1);
        let (Some(id), Some(dht), Some(port), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(protocol_error(&process));
        };
        let (Ok(tox_id), Ok(dht_key), Ok(reported_port)) =
            (id.parse(), dht.parse(), port.parse::<u16>())
        else {
            return Err(protocol_error(&process));
        };
        Ok(Self {
            process,
            tox_id,
            dht_key,
            // With UDP off c-toxcore reports port 0; keep the one we chose.
            udp_port: if options.no_udp {
                udp_port
            } else {
                reported_port
            },
            tcp_port,
            recv_dir,
            library_dir: options.library_dir.clone(),
            dir,
        })
    }

    /// Where `tox_peer` was told to load `libtoxcore.so.2` from
    /// ([`PeerOptions::library_dir`]); `None` for the system's c-toxcore.
    pub fn library_dir(&self) -> Option<&Path> {
        self.library_dir.as_deref()
    }

    /// The libtoxcore file the running `tox_peer` has mapped, as the
    /// kernel names it in `/proc/<pid>/maps` (symbolic links resolved):
    /// proof of which library answers the commands, whatever the loader's
    /// search path said. `None` if no file named `libtoxcore*` is mapped.
    pub fn mapped_libtoxcore(&self) -> Result<Option<PathBuf>> {
        let found = crate::process::mapped_libtoxcore(self.pid()).map_err(|source| Error::Io {
            what: format!("{}: reading /proc/{}/maps", self.label(), self.pid()),
            source,
        })?;
        Ok(found.into_iter().next())
    }

    /// Our Tox ID (public key, nospam, checksum).
    pub fn tox_id(&self) -> &ToxId {
        &self.tox_id
    }

    /// Our long-term public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.tox_id.public_key
    }

    /// Our DHT public key (changes on every start).
    pub fn dht_key(&self) -> &PublicKey {
        &self.dht_key
    }

    /// The UDP port c-toxcore bound (with [`PeerOptions::no_udp`]: the port
    /// passed to it, which it leaves unbound).
    pub fn udp_port(&self) -> u16 {
        self.udp_port
    }

    /// The TCP relay port, when started with [`PeerOptions::tcp_server`].
    pub fn tcp_port(&self) -> Option<u16> {
        self.tcp_port
    }

    /// This peer's private scratch directory (removed on drop).
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where received files are written.
    pub fn recv_dir(&self) -> &Path {
        &self.recv_dir
    }

    /// Name used in error messages.
    pub fn label(&self) -> &str {
        self.process.label()
    }

    /// Sends one raw command line and returns what follows `OK` in the reply.
    /// Free text in the command must be escaped with [`escape`].
    pub fn send_command(&mut self, command: &str) -> Result<String> {
        self.process.command(command, REPLY_TIMEOUT)
    }

    /// Waits for the next event line matching `matcher` (a prefix or a
    /// predicate), including ones that arrived earlier and were not claimed.
    /// Lines that do not match stay queued for later waits. A closure needs
    /// its argument type written out: `|line: &str| line.contains("x")`.
    pub fn wait_for(&mut self, matcher: impl LineMatcher, timeout: Duration) -> Result<String> {
        self.process.wait_line(matcher, timeout)
    }

    /// Like [`CPeer::wait_for`], on parsed events.
    pub fn wait_event(
        &mut self,
        predicate: impl FnMut(&Event) -> bool,
        timeout: Duration,
    ) -> Result<Event> {
        self.wait_event_at(predicate, timeout)
            .map(|(event, _)| event)
    }

    /// [`CPeer::wait_event`], with when the harness read the event's line
    /// from the peer's stdout: a reader thread per peer stamps every line
    /// as it arrives, so events of many peers can be timed by draining
    /// them one peer after another, later.
    pub fn wait_event_at(
        &mut self,
        mut predicate: impl FnMut(&Event) -> bool,
        timeout: Duration,
    ) -> Result<(Event, Instant)> {
        let (line, at) = self
            .process
            .wait_line_at(|l: &str| predicate(&Event::parse(l)), timeout)?;
        Ok((Event::parse(&line), at))
    }

    /// Waits for the next file offer and then for that file to be
    /// received whole (the peer accepts offers itself unless it runs with
    /// `manual_files`), each wait within `timeout`.
    pub fn receive_file(&mut self, timeout: Duration) -> Result<ReceivedFile> {
        let Event::FileRecv {
            friend,
            file,
            size,
            name,
        } = self.wait_event(|e| matches!(e, Event::FileRecv { .. }), timeout)?
        else {
            unreachable!("the predicate takes only offers")
        };
        let Event::FileDone { bytes, path, .. } = self.wait_event(
            |e| matches!(e, Event::FileDone { file: f, .. } if *f == file),
            timeout,
        )?
        else {
            unreachable!("the predicate takes only this file's end")
        };
        Ok(ReceivedFile {
            friend,
            file,
            size,
            name,
            bytes,
            path: PathBuf::from(path),
        })
    }

    /// Event lines received but not claimed by any wait yet.
    pub fn unclaimed_events(&self) -> Vec<String> {
        self.process.unclaimed().map(str::to_owned).collect()
    }

    /// Removes and returns every event line received so far that no wait
    /// has claimed, so later waits see only newer lines (a state a friend
    /// pushes again on connecting, such as typing off, cannot then be
    /// mistaken for a later change back to it).
    pub fn take_unclaimed_events(&mut self) -> Vec<String> {
        self.process.take_unclaimed()
    }

    /// Recent output, for assertion messages; first, where the library
    /// came from if not from the system.
    pub fn context(&self) -> String {
        match &self.library_dir {
            Some(dir) => format!(
                "--- {} loads libtoxcore.so.2 from {} ---\n{}",
                self.label(),
                dir.display(),
                self.process.context()
            ),
            None => self.process.context(),
        }
    }

    /// `bootstrap` to a node on 127.0.0.1.
    pub fn bootstrap(&mut self, port: u16, public_key: &PublicKey) -> Result<()> {
        self.send_command(&format!("bootstrap 127.0.0.1 {port} {public_key}"))
            .map(drop)
    }

    /// Bootstraps to a local [`Bootstrapd`], and uses it as TCP relay if it runs one.
    pub fn bootstrap_to(&mut self, node: &Bootstrapd) -> Result<()> {
        self.bootstrap(node.port(), node.public_key())?;
        if let Some(port) = node.tcp_port() {
            self.send_command(&format!(
                "add-tcp-relay 127.0.0.1 {port} {}",
                node.public_key()
            ))?;
        }
        Ok(())
    }

    /// Sends a friend request; returns the new friend number.
    pub fn add_friend(&mut self, id: &ToxId, message: &str) -> Result<u32> {
        let reply = self.send_command(&format!("add-friend {id} {}", escape(message)))?;
        self.number(reply)
    }

    /// Adds (or accepts a request from) a friend without sending a request;
    /// returns the friend number.
    pub fn add_friend_norequest(&mut self, public_key: &PublicKey) -> Result<u32> {
        let reply = self.send_command(&format!("add-friend-norequest {public_key}"))?;
        self.number(reply)
    }

    /// Sends a normal message; returns its message id (for receipts).
    pub fn send_message(&mut self, friend: u32, text: &str) -> Result<u32> {
        let reply = self.send_command(&format!("send {friend} {}", escape(text)))?;
        self.number(reply)
    }

    /// The `tox_peer` process id (benchmarks read its CPU time).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Sends a custom lossless packet (`data` starts with its id, 160–191).
    pub fn send_lossless(&mut self, friend: u32, data: &[u8]) -> Result<()> {
        self.send_command(&format!("send-lossless {friend} {}", hex_encode(data)))
            .map(|_| ())
    }

    /// Offers the file at `path` to a friend; returns the file number. The
    /// data is sent as the friend's c-toxcore asks for it.
    pub fn send_file(&mut self, friend: u32, path: &Path) -> Result<u32> {
        let path = path
            .to_str()
            .ok_or_else(|| Error::InvalidCommand(format!("{path:?}")))?;
        let reply = self.send_command(&format!("send-file {friend} {}", escape(path)))?;
        self.number(reply)
    }

    /// Offers the file at `path` as a stream of unknown size (`UINT64_MAX`);
    /// it ends with the short chunk at the end of the file.
    pub fn send_stream(&mut self, friend: u32, path: &Path) -> Result<u32> {
        self.file_command("send-stream", friend, Some(path))
    }

    /// Offers the file at `path` as our avatar (kind 1, file id its
    /// hash), or "no avatar" (size 0) for `None`.
    pub fn send_avatar(&mut self, friend: u32, path: Option<&Path>) -> Result<u32> {
        self.file_command("send-avatar", friend, path)
    }

    fn file_command(&mut self, command: &str, friend: u32, path: Option<&Path>) -> Result<u32> {
        let path = match path {
            Some(path) => path
                .to_str()
                .ok_or_else(|| Error::InvalidCommand(format!("{path:?}")))?,
            None => "",
        };
        let reply = self.send_command(&format!("{command} {friend} {}", escape(path)))?;
        self.number(reply)
    }

    /// `tox_file_control`: `control` is `resume` (also: accept), `pause`
    /// or `cancel`.
    pub fn file_control(&mut self, friend: u32, file: u32, control: &str) -> Result<()> {
        self.send_command(&format!("file-control {friend} {file} {control}"))?;
        Ok(())
    }

    /// `tox_file_seek` on an incoming file not yet accepted.
    pub fn file_seek(&mut self, friend: u32, file: u32, position: u64) -> Result<()> {
        self.send_command(&format!("file-seek {friend} {file} {position}"))?;
        Ok(())
    }

    /// Writes the c-toxcore profile (`tox_get_savedata`) to `path`.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let path = path
            .to_str()
            .ok_or_else(|| Error::InvalidCommand(format!("{path:?}")))?;
        self.send_command(&format!("savedata {}", escape(path)))
            .map(drop)
    }

    /// Sets our name (`tox_self_set_name`).
    pub fn set_name(&mut self, name: &str) -> Result<()> {
        self.send_command(&format!("set-name {}", escape(name)))
            .map(drop)
    }

    /// Sets our status message (`tox_self_set_status_message`).
    pub fn set_status_message(&mut self, text: &str) -> Result<()> {
        self.send_command(&format!("set-status-message {}", escape(text)))
            .map(drop)
    }

    /// Sets our user status (`tox_self_set_status`): 0 available, 1 away,
    /// 2 busy.
    pub fn set_status(&mut self, status: u8) -> Result<()> {
        self.send_command(&format!("set-status {status}")).map(drop)
    }

    /// Tells friend `friend` whether we are typing (`tox_self_set_typing`).
    pub fn set_typing(&mut self, friend: u32, typing: bool) -> Result<()> {
        self.send_command(&format!("set-typing {friend} {}", u8::from(typing)))
            .map(drop)
    }

    /// Sends an action ("/me …"); returns its message id (for receipts).
    pub fn send_action(&mut self, friend: u32, text: &str) -> Result<u32> {
        let reply = self.send_command(&format!("send-action {friend} {}", escape(text)))?;
        self.number(reply)
    }

    /// Starts a text conference (`tox_conference_new`); returns its number.
    pub fn conference_new(&mut self) -> Result<u32> {
        let reply = self.send_command("conference-new")?;
        self.number(reply)
    }

    /// Invites friend `friend` to `conference` (`tox_conference_invite`).
    /// The peer at the other end, if it is a `tox_peer` too, joins at once.
    pub fn conference_invite(&mut self, conference: u32, friend: u32) -> Result<()> {
        self.send_command(&format!("conference-invite {conference} {friend}"))
            .map(drop)
    }

    /// Sends a normal message to `conference`
    /// (`tox_conference_send_message`).
    pub fn conference_send(&mut self, conference: u32, text: &str) -> Result<()> {
        self.send_command(&format!("conference-send {conference} {}", escape(text)))
            .map(drop)
    }

    /// Sets the title of `conference` (`tox_conference_set_title`); the
    /// other peers' `tox_peer`s print it as a `CONFERENCE_TITLE` line
    /// (conference, peer, title).
    pub fn conference_set_title(&mut self, conference: u32, title: &str) -> Result<()> {
        self.send_command(&format!("conference-title {conference} {}", escape(title)))
            .map(drop)
    }

    /// How many peers `conference` has now, ourselves included
    /// (`tox_conference_peer_count`).
    pub fn conference_peers(&mut self, conference: u32) -> Result<u32> {
        let reply = self.send_command(&format!("conference-peers {conference}"))?;
        self.number(reply)
    }

    /// Our name (`tox_self_get_name`), unescaped.
    pub fn self_name(&mut self) -> Result<String> {
        self.send_command("self-name").map(|t| unescape(&t))
    }

    /// Our status message (`tox_self_get_status_message`), unescaped.
    pub fn self_status_message(&mut self) -> Result<String> {
        self.send_command("self-status-message")
            .map(|t| unescape(&t))
    }

    /// Our Tox ID as `tox_self_get_address` reports it now.
    pub fn address(&mut self) -> Result<ToxId> {
        let reply = self.send_command("address")?;
        reply.parse().map_err(|_| Error::Protocol {
            process: self.label().to_owned(),
            line: reply,
        })
    }

    /// The public keys of our friends, in friend-number order
    /// (`tox_self_get_friend_list`, `tox_friend_get_public_key`).
    pub fn friend_list(&mut self) -> Result<Vec<PublicKey>> {
        let reply = self.send_command("friend-list")?;
        reply
            .split_whitespace()
            .map(|word| {
                word.parse().map_err(|_| Error::Protocol {
                    process: self.label().to_owned(),
                    line: reply.clone(),
                })
            })
            .collect()
    }

    /// `tox_pass_encrypt` (toxencryptsave) of `plain` under `passphrase`.
    pub fn pass_encrypt(&mut self, passphrase: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        let reply = self.send_command(&format!(
            "pass-encrypt {} {}",
            hex_word(passphrase),
            hex_word(plain)
        ))?;
        self.hex(reply)
    }

    /// `tox_pass_decrypt` (toxencryptsave) of `data` under `passphrase`;
    /// `Ok(None)` when it fails with `TOX_ERR_DECRYPTION_FAILED` (wrong
    /// passphrase or altered data). Other refusals are
    /// [`Error::Command`]s carrying the error code.
    pub fn pass_decrypt(&mut self, passphrase: &[u8], data: &[u8]) -> Result<Option<Vec<u8>>> {
        let command = format!("pass-decrypt {} {}", hex_word(passphrase), hex_word(data));
        match self.send_command(&command) {
            Ok(reply) => self.hex(reply).map(Some),
            // Tox_Err_Decryption 5: TOX_ERR_DECRYPTION_FAILED.
            Err(Error::Command { reply, .. }) if reply == "ERR pass-decrypt 5" => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn hex(&self, reply: String) -> Result<Vec<u8>> {
        hex_decode(&reply).ok_or_else(|| Error::Protocol {
            process: self.label().to_owned(),
            line: reply,
        })
    }

    /// Waits until friend `friend` is connected (TCP or UDP).
    pub fn wait_friend_online(&mut self, friend: u32, timeout: Duration) -> Result<Event> {
        self.wait_event(
            |e| matches!(e, Event::FriendConnection { friend: f, status } if *f == friend && status.is_online()),
            timeout,
        )
    }

    /// Waits until friend `friend` is reported offline.
    pub fn wait_friend_offline(&mut self, friend: u32, timeout: Duration) -> Result<Event> {
        self.wait_event(
            |e| matches!(e, Event::FriendConnection { friend: f, status } if *f == friend && !status.is_online()),
            timeout,
        )
    }

    /// Waits for a friend request: the sender's key and the message.
    pub fn wait_friend_request(&mut self, timeout: Duration) -> Result<(PublicKey, String)> {
        self.wait_map(timeout, |e| match e {
            Event::FriendRequest {
                public_key,
                message,
            } => Some((*public_key, message.clone())),
            _ => None,
        })
    }

    /// Waits for a message: the friend number and the text.
    pub fn wait_message(&mut self, timeout: Duration) -> Result<(u32, String)> {
        self.wait_map(timeout, |e| match e {
            Event::Message { friend, text } => Some((*friend, text.clone())),
            _ => None,
        })
    }

    /// Waits for the first event `extract` takes a value from.
    fn wait_map<T>(
        &mut self,
        timeout: Duration,
        extract: impl Fn(&Event) -> Option<T>,
    ) -> Result<T> {
        let event = self.wait_event(|e| extract(e).is_some(), timeout)?;
        extract(&event).ok_or_else(|| Error::Protocol {
            process: self.label().to_owned(),
            line: format!("{event:?}"),
        })
    }

    /// Asks `tox_peer` to exit cleanly (`tox_kill`) and waits (bounded) for
    /// it to exit.
    pub fn quit(mut self) -> Result<()> {
        self.send_command("quit")?;
        // Let it run tox_kill (which sends kill packets to friends)
        // before the drop kills whatever is left.
        self.process.wait_exit(Duration::from_secs(5));
        Ok(())
    }

    fn number(&self, reply: String) -> Result<u32> {
        reply.parse().map_err(|_| Error::Protocol {
            process: self.process.label().to_owned(),
            line: reply,
        })
    }
}

/// The longest message a friend may send, `max` bytes (tox.h's
/// `TOX_MAX_MESSAGE_LENGTH`, 1372, which each caller takes from the build
/// it tests): `start` followed by multi-byte UTF-8 (two-, three- and
/// four-byte characters, so a split or a byte count off by one shows),
/// padded to the byte with dots.
pub fn longest_message(start: &str, max: usize) -> String {
    let mut text = String::from(start);
    for c in " Tox ✓ ünïcödé 🦀 ¿ çà va ? 日本語".chars().cycle() {
        if text.len() + c.len_utf8() > max {
            break;
        }
        text.push(c);
    }
    while text.len() < max {
        text.push('.');
    }
    text
}

/// Bytes as one word of `tox_peer`'s line protocol: hex, or `-` for none.
fn hex_word(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        "-".to_owned()
    } else {
        hex_encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest message is exactly as long as asked, mostly
    /// multi-byte, and starts with the given text.
    #[test]
    fn longest_message_fills_the_limit_with_multibyte_text() {
        let text = longest_message("from A:", 1372);
        assert_eq!(text.len(), 1372);
        assert!(text.starts_with("from A:"));
        assert!(text.chars().filter(|c| c.len_utf8() > 1).count() > 200);
        assert!(text.chars().any(|c| c.len_utf8() == 4));
    }

    /// LAN discovery broadcasts; without a namespace it is refused before
    /// anything starts.
    #[test]
    fn local_discovery_needs_a_namespace() {
        let result = CPeer::spawn(PeerOptions {
            local_discovery: true,
            ..PeerOptions::default()
        });
        assert!(
            matches!(&result, Err(Error::Spawn { source, .. }) if source.kind() == io::ErrorKind::InvalidInput),
            "{result:?}"
        );
    }
}

/// A file a [`CPeer`] received whole ([`CPeer::receive_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFile {
    /// From whom (friend number).
    pub friend: u32,
    /// Its file number.
    pub file: u32,
    /// The size the offer announced.
    pub size: u64,
    /// The name the offer announced.
    pub name: String,
    /// Bytes received.
    pub bytes: u64,
    /// Where the peer wrote them.
    pub path: PathBuf,
}
