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
//! Commands: `/add TOXID [message]`, `/accept N` (a pending request),
//! `/me ACTION`, `/name NAME`, `/statusmsg TEXT`, `/status
//! online|away|busy`, `/delete`. Friends show online (●) or offline (○),
//! their status and "typing…"; they see us typing while the input line
//! has text.

use std::collections::HashMap;
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
use toxide::messenger::messenger::FriendNumber;
use toxide::messenger::packet::{MessageKind, UserStatus};
use toxide::tox::{FriendInfo, Tox, ToxBuilder, ToxEvent};
use toxide::{PublicKey, ToxId};

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
}

type Error = Box<dyn std::error::Error>;

/// What the screen shows.
#[derive(Default)]
struct App {
    friends: Vec<FriendInfo>,
    selected: ListState,
    /// Conversation lines per friend.
    history: HashMap<FriendNumber, Vec<String>>,
    /// Requests not yet accepted: key and message.
    requests: Vec<(PublicKey, String)>,
    /// Status and error lines.
    log: Vec<String>,
    input: String,
    connected: bool,
    typing_to: Option<FriendNumber>,
}

impl App {
    fn selected_friend(&self) -> Option<FriendNumber> {
        let index = self.selected.selected()?;
        self.friends.get(index).map(|f| f.number)
    }

    fn say(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
    }

    fn chat_line(&mut self, friend: FriendNumber, line: String) {
        self.history.entry(friend).or_default().push(line);
    }

    fn friend_name(&self, friend: FriendNumber) -> String {
        self.friends
            .iter()
            .find(|f| f.number == friend)
            .map(display_name)
            .unwrap_or_else(|| format!("friend {friend}"))
    }
}

fn display_name(friend: &FriendInfo) -> String {
    if friend.name.is_empty() {
        let key = friend.public_key.to_string();
        format!("{}…", key.get(..12).unwrap_or(&key))
    } else {
        String::from_utf8_lossy(&friend.name).into_owned()
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
    let mut app = App::default();
    app.say(format!("Your Tox ID: {}", tox.address()));
    app.say("/add TOXID [message] to add a friend; /quit to leave");
    refresh(&tox, &mut app).await?;
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
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
            _ = tick.tick() => refresh(&tox, &mut app).await?,
        }
    };
    ratatui::restore();
    tox.save_to(&args.savedata).await?;
    tox.shutdown().await;
    result
}

/// Reloads the friend list (names, status, online) from the instance.
async fn refresh(tox: &Tox, app: &mut App) -> Result<(), Error> {
    let mut friends = Vec::new();
    for number in tox.friends().await? {
        friends.push(tox.friend(number).await?);
    }
    app.friends = friends;
    if app.selected.selected().is_none() && !app.friends.is_empty() {
        app.selected.select(Some(0));
    }
    Ok(())
}

async fn handle_event(
    tox: &Tox,
    app: &mut App,
    event: ToxEvent,
    savedata: &Path,
) -> Result<(), Error> {
    match event {
        ToxEvent::SelfConnection { connected } => {
            app.connected = connected;
            app.say(if connected {
                "connected to the Tox network"
            } else {
                "offline"
            });
        }
        ToxEvent::FriendRequest {
            public_key,
            message,
        } => {
            let message = String::from_utf8_lossy(&message).into_owned();
            app.say(format!(
                "friend request #{} from {public_key}: {message} (/accept {})",
                app.requests.len(),
                app.requests.len()
            ));
            app.requests.push((public_key, message));
        }
        ToxEvent::FriendConnection { friend, online } => {
            refresh(tox, app).await?;
            let name = app.friend_name(friend);
            app.chat_line(
                friend,
                format!("* {name} is {}", if online { "online" } else { "offline" }),
            );
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
        ToxEvent::FriendName { .. }
        | ToxEvent::FriendStatus { .. }
        | ToxEvent::FriendStatusMessage { .. }
        | ToxEvent::FriendTyping { .. } => refresh(tox, app).await?,
        _ => {}
    }
    Ok(())
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
            let last = app.friends.len().saturating_sub(1);
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
            let index: usize = rest.trim().parse().map_err(|_| "usage: /accept N")?;
            let Some((key, _)) = app.requests.get(index).cloned() else {
                return Err("no such request".into());
            };
            let number = tox.add_friend_norequest(key).await?;
            app.say(format!("accepted: friend {number}"));
            tox.save_to(savedata).await?;
            refresh(tox, app).await?;
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
        _ if word.starts_with('/') => return Err(format!("unknown command {word}").into()),
        _ => send(tox, app, MessageKind::Normal, line).await?,
    }
    Ok(false)
}

async fn send(tox: &Tox, app: &mut App, kind: MessageKind, text: &str) -> Result<(), Error> {
    let friend = app.selected_friend().ok_or("no friend selected")?;
    let id = tox.send_message(friend, kind, text).await?;
    let line = match kind {
        MessageKind::Action => format!("* me {text}  #{id}"),
        _ => format!("me: {text}  #{id}"),
    };
    app.chat_line(friend, line);
    Ok(())
}

fn draw(frame: &mut ratatui::Frame<'_>, app: &mut App, tox: &Tox) {
    let [top, middle, log, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
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
            let dot = if f.online { "●" } else { "○" };
            let status = match f.status {
                UserStatus::Away => " (away)",
                UserStatus::Busy => " (busy)",
                UserStatus::None => "",
            };
            let typing = if f.typing { " typing…" } else { "" };
            ListItem::new(format!("{dot} {}{status}{typing}", display_name(f)))
        })
        .collect();
    let list = List::new(items)
        .block(Block::default().borders(Borders::ALL).title("Friends"))
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    frame.render_stateful_widget(list, list_area, &mut app.selected);

    let selected = app.selected_friend();
    let title = selected.map_or_else(|| "No friend selected".to_owned(), |f| app.friend_name(f));
    let subtitle = selected
        .and_then(|n| app.friends.iter().find(|f| f.number == n))
        .map(|f| String::from_utf8_lossy(&f.status_message).into_owned())
        .unwrap_or_default();
    let lines: Vec<Line<'_>> = selected
        .and_then(|f| app.history.get(&f))
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
