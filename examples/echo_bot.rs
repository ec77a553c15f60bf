//! A bot that accepts every friend request and echoes every message back
//! with the same kind (normal or action). It also takes every file a
//! friend sends, counts its bytes and throws them away, and answers
//! `GOT <bytes> <seconds>` (seconds since it accepted, three decimals):
//! a throughput probe for any Tox client. Avatars are refused: the bot
//! shows none, and answering each one would spam every friend that
//! connects. It joins every conference a friend invites it to and
//! answers each conference message `M` from another peer with `ECHO M`,
//! unless `M` itself starts with `ECHO ` (so two bots in one conference
//! never loop).
//!
//! ```text
//! cargo run --release --example echo_bot -- --port 33445 \
//!     --bootstrap 127.0.0.1:33446:<DHT key hex> --savedata bot.tox
//! ```
//!
//! It prints `ADDRESS <76 hex>`, `DHTKEY <64 hex>`, `PORT <n>`, then
//! `READY`, and one line per event after that (files: `FILE_OFFER`, then
//! `FILE_DONE <friend> <bytes> <seconds>` or `FILE_FAILED`; conferences:
//! `CONFERENCE_JOINED <conference> <friend>`, `CONFERENCE_MESSAGE
//! <conference> <text>`). The save file is created
//! if missing and written (atomically) whenever a friend is added and on
//! exit; a file that cannot be loaded is an error (exit status 1) and is
//! left as it was. `--timeout SECONDS` ends the bot after that long, and
//! so do SIGINT and SIGTERM (after saving, with exit status 0).
//! `--bind-ip` binds one address instead of all interfaces. LAN discovery
//! is off.
//!
//! `node/tests/ctoxcore_echo_bot.rs` runs this binary against c-toxcore.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use common::parse_node;
use futures::StreamExt;
use toxide::PublicKey;
use toxide::messenger::packet::MessageKind;
use toxide::tox::{IncomingFile, Tox, ToxBuilder, ToxError, ToxEvent};

mod common;

#[derive(Debug, Parser)]
#[command(about = "Accepts every friend request and echoes every message")]
struct Args {
    /// UDP port to bind (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Bind this address only (default: every interface, IPv6 with IPv4).
    #[arg(long)]
    bind_ip: Option<IpAddr>,
    /// A node to join through, as HOST:PORT:DHTKEYHEX (repeatable).
    #[arg(long = "bootstrap", value_parser = parse_node)]
    bootstrap: Vec<(SocketAddr, PublicKey)>,
    /// The profile: loaded if it exists, created if not, saved on change.
    #[arg(long)]
    savedata: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long)]
    timeout: Option<u64>,
}

type Error = Box<dyn std::error::Error>;

async fn save(tox: &Tox, path: Option<&PathBuf>) -> Result<(), Error> {
    if let Some(path) = path {
        tox.save_to(path).await?;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(error) = run(Args::parse()).await {
        eprintln!("echo_bot: {error}");
        std::process::exit(1);
    }
}

/// Resolves when SIGINT or SIGTERM arrives. The handlers are in place
/// when this returns, before `READY`, so a stop right after it is not
/// lost (and the save is written).
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler: only the timeout (or a kill) ends the bot.
            std::future::pending::<()>().await;
        }
    })
}

/// Accepts a file, counts and drops its bytes, and tells the sender how
/// many arrived in how long. A transfer that ends early (cancelled, the
/// friend offline) is reported here only: the sender knows already.
async fn count_file(tox: Tox, offer: IncomingFile) {
    let friend = offer.friend();
    let started = Instant::now();
    let mut receiver = match offer.accept().await {
        Ok(receiver) => receiver,
        Err(error) => {
            println!("FILE_FAILED {friend} 0 {error}");
            return;
        }
    };
    let mut bytes = 0u64;
    while let Some(chunk) = receiver.next().await {
        match chunk {
            Ok(data) => bytes += data.len() as u64,
            Err(why) => {
                println!("FILE_FAILED {friend} {bytes} {why}");
                return;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("FILE_DONE {friend} {bytes} {seconds:.3}");
    let report = format!("GOT {bytes} {seconds:.3}");
    if let Err(error) = tox.send_message(friend, MessageKind::Normal, report).await {
        println!("GOT_FAILED {friend} {error}");
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let mut builder = ToxBuilder::new().port(args.port);
    if let Some(ip) = args.bind_ip {
        builder = builder.bind_ip(ip);
    }
    for (addr, key) in &args.bootstrap {
        builder = builder.bootstrap(*addr, *key);
    }
    let mut loaded = false;
    if let Some(path) = &args.savedata {
        match std::fs::read(path) {
            Ok(bytes) => {
                builder = builder.savedata(bytes);
                loaded = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display()).into()),
        }
    }
    let (tox, mut events) = builder.spawn().await.map_err(|error| -> Error {
        match (&error, &args.savedata) {
            (
                ToxError::Save(_) | ToxError::Passphrase(_) | ToxError::PassphraseNeeded,
                Some(path),
            ) if loaded => format!(
                "{}: not a profile this bot can load ({error}); the file was left as it was",
                path.display()
            )
            .into(),
            _ => error.into(),
        }
    })?;
    if tox.name().await?.is_empty() {
        tox.set_name("echo bot").await?;
    }
    save(&tox, args.savedata.as_ref()).await?;
    let stop = stop_signal()?;
    tokio::pin!(stop);
    println!("ADDRESS {}", tox.address());
    println!("DHTKEY {}", tox.dht_key());
    println!("PORT {}", tox.local_addr().port());
    println!("READY");
    let deadline = args
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    loop {
        let next = async {
            match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, events.recv())
                    .await
                    .ok()
                    .flatten(),
                None => events.recv().await,
            }
        };
        let event = tokio::select! {
            event = next => event,
            () = &mut stop => None,
        };
        let Some(event) = event else { break };
        match event {
            ToxEvent::FriendRequest { public_key, .. } => {
                match tox.add_friend_norequest(public_key).await {
                    Ok(number) => {
                        println!("FRIEND_ADDED {number} {public_key}");
                        save(&tox, args.savedata.as_ref()).await?;
                    }
                    Err(error) => println!("FRIEND_ADD_FAILED {public_key} {error}"),
                }
            }
            ToxEvent::Message { friend, kind, text } => {
                println!("ECHO {friend} {}", String::from_utf8_lossy(&text));
                if let Err(error) = tox.send_message(friend, kind, text).await {
                    println!("ECHO_FAILED {friend} {error}");
                }
            }
            ToxEvent::FriendConnection { friend, connection } => {
                println!("FRIEND_CONNECTION {friend} {connection}");
            }
            ToxEvent::ConferenceInvite { friend, invite } => {
                match tox.conference_join(friend, invite).await {
                    Ok(conference) => {
                        println!("CONFERENCE_JOINED {} {friend}", conference.0);
                        save(&tox, args.savedata.as_ref()).await?;
                    }
                    Err(error) => println!("CONFERENCE_JOIN_FAILED {friend} {error}"),
                }
            }
            ToxEvent::ConferenceMessage {
                conference,
                peer_key,
                kind,
                text,
                ..
            } if peer_key != tox.public_key() => {
                println!(
                    "CONFERENCE_MESSAGE {} {}",
                    conference.0,
                    String::from_utf8_lossy(&text)
                );
                if !text.starts_with(b"ECHO ") {
                    let mut echo = b"ECHO ".to_vec();
                    echo.extend_from_slice(&text);
                    if let Err(error) = tox.conference_send(conference, kind, echo).await {
                        println!("CONFERENCE_ECHO_FAILED {} {error}", conference.0);
                    }
                }
            }
            ToxEvent::SelfConnection { connection } => println!("SELF_CONNECTION {connection}"),
            ToxEvent::FileOffer(offer) if offer.is_avatar() => {
                println!("AVATAR_REFUSED {}", offer.friend());
                let _ = offer.cancel().await;
            }
            ToxEvent::FileOffer(offer) => {
                let size = offer.size().map_or("stream".to_owned(), |s| s.to_string());
                println!(
                    "FILE_OFFER {} {size} {}",
                    offer.friend(),
                    String::from_utf8_lossy(offer.name())
                );
                // A task per file: the event loop (and chat) never waits
                // for a transfer.
                tokio::spawn(count_file(tox.clone(), offer));
            }
            _ => {}
        }
    }
    save(&tox, args.savedata.as_ref()).await?;
    tox.shutdown().await;
    Ok(())
}
