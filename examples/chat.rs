//! A terminal chat client on the `Tox` API.
//!
//! ```text
//! cargo run --release --example chat -- --savedata me.tox \
//!     --bootstrap 127.0.0.1:33445:<DHT key hex> [--passphrase SECRET]
//! ```
//!
//! The profile is loaded from `--savedata` (created if missing, encrypted
//! with `--passphrase` if given) and saved on every change and on exit.
//! Keys: Up/Down choose a friend, Enter sends, Esc or `/quit` leaves.
//! Commands: `/add TOXID [message]`, `/me ACTION`, `/name NAME`,
//! `/statusmsg TEXT`, `/status online|away|busy`, `/delete`,
//! `/avatar [PATH]` (none without a path). Friends show online (●) or
//! offline (○), their status and "typing…"; they see us typing while the
//! input line has text.
//!
//! Files: `/send PATH` offers a file to the selected friend. Friend
//! requests, file offers and transfers get numbers from one counter, so
//! `/accept N` takes a request or saves an offered file into the download
//! folder (`--downloads DIR`, default `./downloads`; a name taken already
//! gets a suffix, never overwritten), and `/cancel N` refuses an offer,
//! stops a transfer or drops a request. Running transfers show in their
//! own panel with a gauge, the bytes so far and the rate, redrawn every
//! half second. Friends' avatars are refused: a terminal shows none.
//!
//! Conferences: `/conference new` starts one; it shows below the friends
//! (`#`), and with it selected, Enter talks to everyone in it,
//! `/invite FRIEND` invites a friend by number, `/title TEXT` sets its
//! title and `/leave` leaves it. An invitation gets a number like a
//! request: `/accept N` joins.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use common::parse_node;
use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers};
use futures::StreamExt;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use toxide::messenger::messenger::FriendNumber;
use toxide::messenger::packet::{FILEKIND_DATA, MessageKind, UserStatus};
use toxide::tox::{
    ConferenceInfo, ConferenceInvite, ConferenceNumber, Connection, FileReceiver, FriendInfo,
    IncomingFile, OutgoingFile, Progress, Tox, ToxBuilder, ToxEvent,
};
use toxide::{Bytes, PublicKey, ToxId};

mod common;

#[derive(Debug, Parser)]
#[command(about = "A terminal Tox chat client")]
struct Args {
    /// The profile file (created if missing).
    #[arg(long, default_value = "toxide-chat.tox")]
    savedata: PathBuf,
    /// Encrypt the profile with this passphrase.
    #[arg(long)]
    passphrase: Option<String>,
    /// A node to join through, as HOST:PORT:DHTKEYHEX (repeatable).
    #[arg(long = "bootstrap", value_parser = parse_node)]
    bootstrap: Vec<(std::net::SocketAddr, PublicKey)>,
    /// UDP port (0: any; default: the first free of 33445–33545).
    #[arg(long)]
    port: Option<u16>,
    /// Where accepted files are saved (created when the first is).
    #[arg(long, default_value = "downloads")]
    downloads: PathBuf,
}

type Error = Box<dyn std::error::Error>;

/// How often transfer gauges are redrawn (and friends reloaded).
const TICK: Duration = Duration::from_millis(500);

/// Something waiting for `/accept N` or `/cancel N`, or running.
enum Item {
    /// A friend request from this key.
    Request(PublicKey),
    /// A friend's invitation to a conference.
    Invite {
        friend: FriendNumber,
        invite: ConferenceInvite,
    },
    /// A file offered to us.
    Offer(IncomingFile),
    /// A file we send.
    Sending { file: OutgoingFile, name: String },
    /// A file we save: its progress as its task last reported it, and
    /// the way to stop that task.
    Receiving {
        friend: FriendNumber,
        name: String,
        progress: Option<Progress>,
        stop: Option<oneshot::Sender<()>>,
    },
}

/// What a receiving task tells the screen.
enum Update {
    Progress(usize, Progress),
    /// Over: where the file is and how it went.
    Done(usize, Result<Progress, String>),
}

/// A conversation: with a friend, or in a conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Chat {
    Friend(FriendNumber),
    Conference(ConferenceNumber),
}

/// What the screen shows.
struct App {
    friends: Vec<FriendInfo>,
    /// Below the friends in the list.
    conferences: Vec<ConferenceInfo>,
    selected: ListState,
    /// Conversation lines per chat.
    history: HashMap<Chat, Vec<String>>,
    /// Requests, offers and transfers, by the number commands take.
    items: BTreeMap<usize, Item>,
    next_item: usize,
    /// Status and error lines.
    log: Vec<String>,
    input: String,
    connected: bool,
    typing_to: Option<FriendNumber>,
    downloads: PathBuf,
    updates: mpsc::UnboundedSender<Update>,
}

impl App {
    fn new(downloads: PathBuf, updates: mpsc::UnboundedSender<Update>) -> Self {
        Self {
            friends: Vec::new(),
            conferences: Vec::new(),
            selected: ListState::default(),
            history: HashMap::new(),
            items: BTreeMap::new(),
            next_item: 0,
            log: Vec::new(),
            input: String::new(),
            connected: false,
            typing_to: None,
            downloads,
            updates,
        }
    }

    /// The chat the list's selection points at: friends first, then
    /// conferences.
    fn selected_chat(&self) -> Option<Chat> {
        let index = self.selected.selected()?;
        match self.friends.get(index) {
            Some(f) => Some(Chat::Friend(f.number)),
            None => self
                .conferences
                .get(index - self.friends.len())
                .map(|c| Chat::Conference(c.number)),
        }
    }

    fn selected_friend(&self) -> Option<FriendNumber> {
        match self.selected_chat()? {
            Chat::Friend(friend) => Some(friend),
            Chat::Conference(_) => None,
        }
    }

    fn selected_conference(&self) -> Option<ConferenceNumber> {
        match self.selected_chat()? {
            Chat::Conference(conference) => Some(conference),
            Chat::Friend(_) => None,
        }
    }

    fn conference_line(&mut self, conference: ConferenceNumber, line: String) {
        self.history
            .entry(Chat::Conference(conference))
            .or_default()
            .push(line);
    }

    fn say(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
    }

    fn chat_line(&mut self, friend: FriendNumber, line: String) {
        self.history
            .entry(Chat::Friend(friend))
            .or_default()
            .push(line);
    }

    fn friend_name(&self, friend: FriendNumber) -> String {
        self.friends
            .iter()
            .find(|f| f.number == friend)
            .map(display_name)
            .unwrap_or_else(|| format!("friend {friend}"))
    }

    /// Files an item under the next number.
    fn add_item(&mut self, item: Item) -> usize {
        let number = self.next_item;
        self.next_item += 1;
        self.items.insert(number, item);
        number
    }
}

fn conference_name(conference: &ConferenceInfo) -> String {
    if conference.title.is_empty() {
        format!("conference {}", conference.number.0)
    } else {
        String::from_utf8_lossy(&conference.title).into_owned()
    }
}

fn display_name(friend: &FriendInfo) -> String {
    shown_name(&friend.name, &friend.public_key)
}

/// A name as shown: the name, or the start of the key while it has none.
fn shown_name(name: &[u8], key: &PublicKey) -> String {
    if name.is_empty() {
        let key = key.to_string();
        format!("{}…", key.get(..12).unwrap_or(&key))
    } else {
        String::from_utf8_lossy(name).into_owned()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    if let Err(error) = run(args).await {
        eprintln!("chat: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let mut builder = ToxBuilder::new();
    if let Some(port) = args.port {
        builder = builder.port(port);
    }
    for (addr, key) in &args.bootstrap {
        builder = builder.bootstrap(*addr, *key);
    }
    if let Some(passphrase) = &args.passphrase {
        builder = builder.passphrase(passphrase.as_bytes());
    }
    match std::fs::read(&args.savedata) {
        Ok(bytes) => builder = builder.savedata(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", args.savedata.display()).into()),
    }
    // A profile that cannot be loaded is an error before the terminal is
    // taken over, and the file stays as it was.
    let (tox, mut events) = builder.spawn().await?;
    tox.save_to(&args.savedata).await?;

    let mut terminal = ratatui::init();
    let (updates, mut updates_rx) = mpsc::unbounded_channel();
    let mut app = App::new(args.downloads.clone(), updates);
    app.say(format!("Your Tox ID: {}", tox.address()));
    app.say("/add TOXID [message] to add a friend; /send PATH a file; /quit to leave");
    refresh(&tox, &mut app).await?;
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let result = loop {
        terminal.draw(|frame| draw(frame, &mut app, &tox))?;
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => {
                    match handle_key(&tox, &mut app, key.code, key.modifiers, &args.savedata).await {
                        Ok(true) => break Ok(()),
                        Ok(false) => {}
                        Err(error) => app.say(format!("error: {error}")),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => break Err(Error::from(error)),
                None => break Ok(()),
            },
            event = events.recv() => match event {
                Some(event) => {
                    handle_event(&tox, &mut app, event, &args.savedata).await?;
                }
                None => break Ok(()),
            },
            Some(update) = updates_rx.recv() => handle_update(&mut app, update),
            _ = tick.tick() => {
                refresh(&tox, &mut app).await?;
                check_sending(&mut app);
            }
        }
    };
    ratatui::restore();
    tox.save_to(&args.savedata).await?;
    tox.shutdown().await;
    result
}

/// Reloads the friend list (names, status, online) and the conferences
/// (titles, peers) from the instance.
async fn refresh(tox: &Tox, app: &mut App) -> Result<(), Error> {
    let mut friends = Vec::new();
    for number in tox.friends().await? {
        friends.push(tox.friend(number).await?);
    }
    app.friends = friends;
    let mut conferences = Vec::new();
    for number in tox.conference_list().await? {
        conferences.push(tox.conference(number).await?);
    }
    app.conferences = conferences;
    let total = app.friends.len() + app.conferences.len();
    match app.selected.selected() {
        None if total > 0 => app.selected.select(Some(0)),
        Some(i) if i >= total => app.selected.select(total.checked_sub(1)),
        _ => {}
    }
    Ok(())
}

/// A conference peer's name, from the last refresh.
fn peer_name(app: &App, conference: ConferenceNumber, key: &PublicKey) -> String {
    let name = app
        .conferences
        .iter()
        .find(|c| c.number == conference)
        .and_then(|c| c.peers.iter().find(|p| p.public_key == *key))
        .map_or(&[][..], |p| p.name.as_slice());
    shown_name(name, key)
}

async fn handle_event(
    tox: &Tox,
    app: &mut App,
    event: ToxEvent,
    savedata: &Path,
) -> Result<(), Error> {
    match event {
        ToxEvent::SelfConnection { connection } => {
            app.connected = connection.is_connected();
            app.say(match connection {
                Connection::Udp => "connected to the Tox network (UDP)",
                Connection::Tcp => "connected to the Tox network through TCP relays",
                Connection::None => "offline",
            });
        }
        ToxEvent::FriendRequest {
            public_key,
            message,
        } => {
            let message = String::from_utf8_lossy(&message).into_owned();
            let number = app.add_item(Item::Request(public_key));
            app.say(format!(
                "friend request #{number} from {public_key}: {message} (/accept {number})"
            ));
        }
        ToxEvent::FriendConnection { friend, connection } => {
            refresh(tox, app).await?;
            let name = app.friend_name(friend);
            let how = match connection {
                Connection::Udp => "online",
                Connection::Tcp => "online (through a relay)",
                Connection::None => "offline",
            };
            app.chat_line(friend, format!("* {name} is {how}"));
            tox.save_to(savedata).await?;
        }
        ToxEvent::Message { friend, kind, text } => {
            let name = app.friend_name(friend);
            let text = String::from_utf8_lossy(&text);
            let line = match kind {
                MessageKind::Action => format!("* {name} {text}"),
                _ => format!("{name}: {text}"),
            };
            app.chat_line(friend, line);
        }
        ToxEvent::ReadReceipt { friend, message_id } => {
            app.chat_line(friend, format!("  (read: #{message_id})"));
        }
        ToxEvent::FileOffer(offer) if offer.is_avatar() => {
            // Nothing here could show it.
            let _ = offer.cancel().await;
        }
        ToxEvent::FileOffer(offer) => {
            let friend = offer.friend();
            let name = String::from_utf8_lossy(offer.name()).into_owned();
            let size = offer.size().map_or_else(|| "a stream".to_owned(), mib);
            let number = app.add_item(Item::Offer(offer));
            let who = app.friend_name(friend);
            app.chat_line(
                friend,
                format!("* {who} offers \"{name}\" ({size}): /accept {number} or /cancel {number}"),
            );
            app.say(format!(
                "file #{number} offered by {who}: \"{name}\" ({size})"
            ));
        }
        ToxEvent::ConferenceInvite { friend, invite } => {
            let number = app.add_item(Item::Invite { friend, invite });
            let who = app.friend_name(friend);
            app.say(format!(
                "{who} invites you to a conference: /accept {number}"
            ));
            app.chat_line(
                friend,
                format!("* invites you to a conference: /accept {number}"),
            );
        }
        ToxEvent::ConferenceMessage {
            conference,
            peer_key,
            kind,
            text,
            ..
        } => {
            refresh(tox, app).await?;
            let name = if peer_key == tox.public_key() {
                "me".to_owned()
            } else {
                peer_name(app, conference, &peer_key)
            };
            let text = String::from_utf8_lossy(&text);
            let line = match kind {
                MessageKind::Action => format!("* {name} {text}"),
                _ => format!("{name}: {text}"),
            };
            app.conference_line(conference, line);
        }
        ToxEvent::ConferenceTitle {
            conference, title, ..
        } => {
            refresh(tox, app).await?;
            let title = String::from_utf8_lossy(&title).into_owned();
            app.conference_line(conference, format!("* title: {title}"));
            tox.save_to(savedata).await?;
        }
        ToxEvent::ConferenceConnected { conference } => {
            refresh(tox, app).await?;
            app.conference_line(conference, "* joined".to_owned());
            tox.save_to(savedata).await?;
        }
        ToxEvent::FriendName { .. }
        | ToxEvent::FriendStatus { .. }
        | ToxEvent::FriendStatusMessage { .. }
        | ToxEvent::FriendTyping { .. }
        | ToxEvent::ConferencePeerName { .. }
        | ToxEvent::ConferencePeerListChanged { .. } => refresh(tox, app).await?,
        _ => {}
    }
    Ok(())
}

/// A receiving task's report.
fn handle_update(app: &mut App, update: Update) {
    match update {
        Update::Progress(number, now) => {
            if let Some(Item::Receiving { progress, .. }) = app.items.get_mut(&number) {
                *progress = Some(now);
            }
        }
        Update::Done(number, result) => {
            let Some(Item::Receiving { friend, name, .. }) = app.items.remove(&number) else {
                return;
            };
            let line = match result {
                Ok(progress) => format!(
                    "* received \"{name}\" ({}, {}/s) into {}",
                    mib(progress.position),
                    mib(progress.rate as u64),
                    app.downloads.display()
                ),
                Err(why) => format!("* \"{name}\" not received: {why}"),
            };
            app.chat_line(friend, line.clone());
            app.say(format!("#{number}{}", line.trim_start_matches('*')));
        }
    }
}

/// Files we send that ended leave the panel with a line in the chat.
fn check_sending(app: &mut App) {
    let ended: Vec<usize> = app
        .items
        .iter()
        .filter_map(|(&n, item)| match item {
            Item::Sending { file, .. } if file.progress().ended.is_some() => Some(n),
            _ => None,
        })
        .collect();
    for number in ended {
        let Some(Item::Sending { file, name }) = app.items.remove(&number) else {
            continue;
        };
        let progress = file.progress();
        let line = match progress.ended {
            Some(Ok(())) => format!(
                "* sent \"{name}\" ({}, {}/s)",
                mib(progress.position),
                mib(progress.rate as u64)
            ),
            Some(Err(why)) => format!("* \"{name}\" not sent: {why}"),
            None => continue,
        };
        app.chat_line(file.friend(), line.clone());
        app.say(format!("#{number}{}", line.trim_start_matches('*')));
    }
}

/// Handles one key; `true` to quit.
async fn handle_key(
    tox: &Tox,
    app: &mut App,
    code: KeyCode,
    modifiers: KeyModifiers,
    savedata: &Path,
) -> Result<bool, Error> {
    match code {
        KeyCode::Esc => return Ok(true),
        KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => return Ok(true),
        KeyCode::Up => {
            let i = app.selected.selected().unwrap_or(0).saturating_sub(1);
            app.selected.select(Some(i));
        }
        KeyCode::Down => {
            let last = (app.friends.len() + app.conferences.len()).saturating_sub(1);
            let i = app.selected.selected().map_or(0, |i| (i + 1).min(last));
            app.selected.select(Some(i));
        }
        KeyCode::Backspace => {
            app.input.pop();
        }
        KeyCode::Char(c) => app.input.push(c),
        KeyCode::Enter => {
            let line = std::mem::take(&mut app.input);
            if command(tox, app, line.trim(), savedata).await? {
                return Ok(true);
            }
        }
        _ => {}
    }
    // Friends see us typing while the input line has text.
    let typing = (!app.input.is_empty() && !app.input.starts_with('/'))
        .then(|| app.selected_friend())
        .flatten();
    if typing != app.typing_to {
        if let Some(old) = app.typing_to {
            let _ = tox.set_typing(old, false).await;
        }
        if let Some(new) = typing {
            let _ = tox.set_typing(new, true).await;
        }
        app.typing_to = typing;
    }
    Ok(false)
}

/// Runs a command line or sends a message; `true` to quit.
async fn command(tox: &Tox, app: &mut App, line: &str, savedata: &Path) -> Result<bool, Error> {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    match word {
        "" => {}
        "/quit" => return Ok(true),
        "/add" => {
            let (id, message) = rest.split_once(' ').unwrap_or((rest, "Hi, let's chat"));
            let id: ToxId = id.parse().map_err(|e| format!("Tox ID: {e}"))?;
            let number = tox.add_friend(id, message.as_bytes()).await?;
            app.say(format!("friend request sent (friend {number})"));
            tox.save_to(savedata).await?;
            refresh(tox, app).await?;
        }
        "/accept" => {
            let number: usize = rest.trim().parse().map_err(|_| "usage: /accept N")?;
            accept(tox, app, number, savedata).await?;
        }
        "/cancel" => {
            let number: usize = rest.trim().parse().map_err(|_| "usage: /cancel N")?;
            cancel(app, number).await?;
        }
        "/send" => send_file(tox, app, Path::new(rest.trim())).await?,
        "/avatar" => {
            let image = match rest.trim() {
                "" => None,
                path => Some(Bytes::from(tokio::fs::read(path).await?)),
            };
            let set = image.is_some();
            tox.set_avatar(image).await?;
            app.say(if set { "avatar set" } else { "avatar cleared" });
        }
        "/name" => {
            tox.set_name(rest).await?;
            tox.save_to(savedata).await?;
        }
        "/statusmsg" => {
            tox.set_status_message(rest).await?;
            tox.save_to(savedata).await?;
        }
        "/status" => {
            let status = match rest.trim() {
                "away" => UserStatus::Away,
                "busy" => UserStatus::Busy,
                _ => UserStatus::None,
            };
            tox.set_status(status).await?;
            tox.save_to(savedata).await?;
        }
        "/delete" => {
            let friend = app.selected_friend().ok_or("no friend selected")?;
            tox.delete_friend(friend).await?;
            app.selected.select(None);
            tox.save_to(savedata).await?;
            refresh(tox, app).await?;
        }
        "/me" => send(tox, app, MessageKind::Action, rest).await?,
        "/conference" if rest.trim() == "new" => {
            let conference = tox.conference_new().await?;
            app.say(format!(
                "conference {} started: /invite FRIEND",
                conference.0
            ));
            tox.save_to(savedata).await?;
            refresh(tox, app).await?;
            let index = app.friends.len()
                + app
                    .conferences
                    .iter()
                    .position(|c| c.number == conference)
                    .unwrap_or(0);
            app.selected.select(Some(index));
        }
        "/invite" => {
            let conference = app
                .selected_conference()
                .ok_or("select a conference first")?;
            let friend: FriendNumber = rest
                .trim()
                .parse()
                .map_err(|_| "usage: /invite FRIEND (a friend's number)")?;
            tox.conference_invite(friend, conference).await?;
            let who = app.friend_name(friend);
            app.conference_line(conference, format!("* invited {who}"));
        }
        "/title" => {
            let conference = app
                .selected_conference()
                .ok_or("select a conference first")?;
            tox.conference_set_title(conference, rest).await?;
            tox.save_to(savedata).await?;
        }
        "/leave" => {
            let conference = app
                .selected_conference()
                .ok_or("select a conference first")?;
            tox.conference_delete(conference).await?;
            app.history.remove(&Chat::Conference(conference));
            tox.save_to(savedata).await?;
            refresh(tox, app).await?;
        }
        _ if word.starts_with('/') => return Err(format!("unknown command {word}").into()),
        _ => send(tox, app, MessageKind::Normal, line).await?,
    }
    Ok(false)
}

/// `/accept N`: befriends a request's sender, or saves an offered file.
async fn accept(tox: &Tox, app: &mut App, number: usize, savedata: &Path) -> Result<(), Error> {
    match app.items.remove(&number) {
        Some(Item::Request(key)) => {
            let friend = tox.add_friend_norequest(key).await?;
            app.say(format!("accepted: friend {friend}"));
            tox.save_to(savedata).await?;
            refresh(tox, app).await?;
        }
        Some(Item::Invite { friend, invite }) => {
            let conference = tox.conference_join(friend, invite).await?;
            app.say(format!("joining conference {}", conference.0));
            tox.save_to(savedata).await?;
            refresh(tox, app).await?;
        }
        Some(Item::Offer(offer)) => {
            let friend = offer.friend();
            let name = String::from_utf8_lossy(offer.name()).into_owned();
            let (path, out) = match create_download(&app.downloads, &name).await {
                Ok(created) => created,
                Err(error) => {
                    // Still on offer: another folder may do.
                    app.items.insert(number, Item::Offer(offer));
                    return Err(format!("{}: {error}", app.downloads.display()).into());
                }
            };
            let receiver = match offer.accept().await {
                Ok(receiver) => receiver,
                Err(error) => {
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(error.into());
                }
            };
            let (stop, stopped) = oneshot::channel();
            tokio::spawn(save_file(
                receiver,
                out,
                path.clone(),
                number,
                app.updates.clone(),
                stopped,
            ));
            app.say(format!("#{number}: saving into {}", path.display()));
            app.items.insert(
                number,
                Item::Receiving {
                    friend,
                    name,
                    progress: None,
                    stop: Some(stop),
                },
            );
        }
        Some(other) => {
            app.items.insert(number, other);
            return Err(format!("#{number} is under way already").into());
        }
        None => return Err(format!("nothing numbered {number}").into()),
    }
    Ok(())
}

/// `/cancel N`: refuses an offer, stops a transfer, or drops a request
/// or an invitation.
async fn cancel(app: &mut App, number: usize) -> Result<(), Error> {
    match app.items.get_mut(&number) {
        Some(Item::Request(_) | Item::Invite { .. }) => {
            app.items.remove(&number);
            app.say(format!("#{number} dropped"));
        }
        Some(Item::Offer(_)) => {
            if let Some(Item::Offer(offer)) = app.items.remove(&number) {
                offer.cancel().await?;
                app.say(format!("file #{number} refused"));
            }
        }
        // Ends it: the next tick reports it.
        Some(Item::Sending { file, .. }) => file.cancel().await?,
        // Its task cancels it and reports.
        Some(Item::Receiving { stop, .. }) => {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
        None => return Err(format!("nothing numbered {number}").into()),
    }
    Ok(())
}

/// `/send PATH`: offers the file to the selected friend; it is read as
/// the friend takes it.
async fn send_file(tox: &Tox, app: &mut App, path: &Path) -> Result<(), Error> {
    let friend = app.selected_friend().ok_or("no friend selected")?;
    let source = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let size = source.metadata().await?.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or("/send needs a file's path")?;
    let file = tox
        .send_file(
            friend,
            FILEKIND_DATA,
            Some(size),
            None,
            name.clone(),
            source,
        )
        .await?;
    let number = app.add_item(Item::Sending {
        file,
        name: name.clone(),
    });
    app.chat_line(
        friend,
        format!("* offering \"{name}\" ({}) as #{number}", mib(size)),
    );
    Ok(())
}

/// A new file in `dir` for a received file called `name` (by the sender:
/// only its last component counts, and a name in use gets a number, so
/// nothing outside the folder is written and nothing is overwritten).
async fn create_download(dir: &Path, name: &str) -> std::io::Result<(PathBuf, tokio::fs::File)> {
    tokio::fs::create_dir_all(dir).await?;
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_control() || c == '/' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let clean = match clean.trim() {
        "" | "." | ".." => "file".to_owned(),
        other => other.to_owned(),
    };
    for n in 0..1000 {
        let candidate = if n == 0 {
            clean.clone()
        } else {
            format!("{n}-{clean}")
        };
        let path = dir.join(candidate);
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("1000 files called {clean} already"),
    ))
}

/// The task of one file we save: writes what arrives, reports progress
/// every [`TICK`], and removes the partial file if the transfer fails.
async fn save_file(
    mut receiver: FileReceiver,
    mut out: tokio::fs::File,
    path: PathBuf,
    number: usize,
    updates: mpsc::UnboundedSender<Update>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut reported = tokio::time::Instant::now();
    let result: Result<(), String> = async {
        loop {
            tokio::select! {
                chunk = receiver.next() => match chunk {
                    None => break,
                    Some(Ok(bytes)) => {
                        out.write_all(&bytes).await.map_err(|e| e.to_string())?;
                        if reported.elapsed() >= TICK {
                            reported = tokio::time::Instant::now();
                            let _ = updates.send(Update::Progress(number, receiver.progress()));
                        }
                    }
                    Some(Err(why)) => return Err(why.to_string()),
                },
                _ = &mut stop => {
                    let _ = receiver.cancel().await;
                    return Err("cancelled".to_owned());
                }
            }
        }
        out.flush().await.map_err(|e| e.to_string())
    }
    .await;
    if result.is_err() {
        drop(out);
        let _ = tokio::fs::remove_file(&path).await;
    }
    let _ = updates.send(Update::Done(number, result.map(|()| receiver.progress())));
}

async fn send(tox: &Tox, app: &mut App, kind: MessageKind, text: &str) -> Result<(), Error> {
    if let Some(conference) = app.selected_conference() {
        // Our own line comes back as the peers relay it, as in c-toxcore.
        tox.conference_send(conference, kind, text).await?;
        return Ok(());
    }
    let friend = app.selected_friend().ok_or("no friend selected")?;
    let id = tox.send_message(friend, kind, text).await?;
    let line = match kind {
        MessageKind::Action => format!("* me {text}  #{id}"),
        _ => format!("me: {text}  #{id}"),
    };
    app.chat_line(friend, line);
    Ok(())
}

/// Bytes as MiB with two decimals (KiB below one MiB).
fn mib(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// One line of the transfers panel: number, direction, name, a gauge,
/// bytes so far and the rate.
fn transfer_line(number: usize, item: &Item) -> Option<String> {
    let (arrow, name, progress) = match item {
        Item::Sending { file, name } => ("↑", name.as_str(), Some(file.progress())),
        Item::Receiving { name, progress, .. } => ("↓", name.as_str(), progress.clone()),
        Item::Offer(offer) => {
            let name = String::from_utf8_lossy(offer.name());
            return Some(format!("#{number} ? \"{name}\" offered: /accept {number}"));
        }
        Item::Request(_) | Item::Invite { .. } => return None,
    };
    let Some(progress) = progress else {
        return Some(format!("#{number} {arrow} {name}  starting…"));
    };
    let gauge = match progress.size {
        Some(size) if size > 0 => {
            let fraction = (progress.position as f64 / size as f64).clamp(0.0, 1.0);
            let filled = (fraction * 20.0).round() as usize;
            format!(
                "[{}{}] {:3.0}%",
                "#".repeat(filled),
                "-".repeat(20 - filled.min(20)),
                fraction * 100.0
            )
        }
        _ => "[stream]".to_owned(),
    };
    let state = if !progress.accepted {
        "  waiting for the friend"
    } else if progress.paused_by_us || progress.paused_by_friend {
        "  paused"
    } else {
        ""
    };
    Some(format!(
        "#{number} {arrow} {name} {gauge} {}  {}/s{state}",
        mib(progress.position),
        mib(progress.rate as u64)
    ))
}

fn draw(frame: &mut ratatui::Frame<'_>, app: &mut App, tox: &Tox) {
    let transfers: Vec<Line<'_>> = app
        .items
        .iter()
        .filter_map(|(&n, item)| transfer_line(n, item))
        .map(Line::from)
        .collect();
    let transfers_height = if transfers.is_empty() {
        0
    } else {
        u16::try_from(transfers.len().min(6)).unwrap_or(6) + 2
    };
    let [top, middle, files, log, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(transfers_height),
        Constraint::Length(6),
        Constraint::Length(3),
    ])
    .areas(frame.area());
    let state = if app.connected {
        "online"
    } else {
        "connecting…"
    };
    frame.render_widget(Paragraph::new(format!("{} — {state}", tox.address())), top);

    let [list_area, chat_area] =
        Layout::horizontal([Constraint::Length(32), Constraint::Min(10)]).areas(middle);
    let items: Vec<ListItem<'_>> = app
        .friends
        .iter()
        .map(|f| {
            let dot = if f.connection.is_connected() {
                "●"
            } else {
                "○"
            };
            let status = match f.status {
                UserStatus::Away => " (away)",
                UserStatus::Busy => " (busy)",
                UserStatus::None => "",
            };
            let typing = if f.typing { " typing…" } else { "" };
            ListItem::new(format!("{dot} {}{status}{typing}", display_name(f)))
        })
        .chain(
            app.conferences
                .iter()
                .map(|c| ListItem::new(format!("# {} ({})", conference_name(c), c.peers.len()))),
        )
        .collect();
    let list = List::new(items)
        .block(Block::default().borders(Borders::ALL).title("Friends"))
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    frame.render_stateful_widget(list, list_area, &mut app.selected);

    let selected = app.selected_chat();
    let (title, subtitle) = match selected {
        None => ("No friend selected".to_owned(), String::new()),
        Some(Chat::Friend(f)) => (
            app.friend_name(f),
            app.friends
                .iter()
                .find(|i| i.number == f)
                .map(|i| String::from_utf8_lossy(&i.status_message).into_owned())
                .unwrap_or_default(),
        ),
        Some(Chat::Conference(c)) => {
            let info = app.conferences.iter().find(|i| i.number == c);
            let peers: Vec<String> = info
                .map(|i| {
                    i.peers
                        .iter()
                        .map(|p| peer_name(app, c, &p.public_key))
                        .collect()
                })
                .unwrap_or_default();
            (
                info.map(conference_name).unwrap_or_default(),
                format!("with {}", peers.join(", ")),
            )
        }
    };
    let lines: Vec<Line<'_>> = selected
        .and_then(|chat| app.history.get(&chat))
        .map(|h| h.iter().map(|l| Line::from(l.as_str())).collect())
        .unwrap_or_default();
    let skip = lines
        .len()
        .saturating_sub(usize::from(chat_area.height.saturating_sub(2)));
    let chat = Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>())
        .wrap(Wrap { trim: false })
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!("{title}  {subtitle}")),
        );
    frame.render_widget(chat, chat_area);

    if !transfers.is_empty() {
        let skip = transfers.len().saturating_sub(6);
        frame.render_widget(
            Paragraph::new(transfers.into_iter().skip(skip).collect::<Vec<_>>()).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title("Files (/accept N, /cancel N)"),
            ),
            files,
        );
    }

    let skip = app.log.len().saturating_sub(4);
    let log_lines: Vec<Line<'_>> = app
        .log
        .iter()
        .skip(skip)
        .map(|l| Line::from(l.as_str()))
        .collect();
    frame.render_widget(
        Paragraph::new(log_lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title("Log")),
        log,
    );
    frame.render_widget(
        Paragraph::new(app.input.as_str()).block(
            Block::default()
                .borders(Borders::ALL)
                .title("Message (Enter to send)"),
        ),
        input,
    );
}
