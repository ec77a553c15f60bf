//! A bot that accepts every friend request and echoes every message back
//! with the same kind (normal or action).
//!
//! ```text
//! cargo run --release --example echo_bot -- --port 33445 \
//!     --bootstrap 127.0.0.1:33446:<DHT key hex> --savedata bot.tox
//! ```
//!
//! It prints `ADDRESS <76 hex>`, `DHTKEY <64 hex>`, `PORT <n>`, then
//! `READY`, and one line per event after that. The save file is created
//! if missing and written (atomically) whenever a friend is added and on
//! exit; a file that cannot be loaded is an error (exit status 1) and is
//! left as it was. `--timeout SECONDS` ends the bot after that long.
//! LAN discovery is off.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use common::parse_node;
use toxide::PublicKey;
use toxide::tox::{Tox, ToxBuilder, ToxEvent};

mod common;

#[derive(Debug, Parser)]
#[command(about = "Accepts every friend request and echoes every message")]
struct Args {
    /// UDP port to bind (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
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

async fn run(args: Args) -> Result<(), Error> {
    let mut builder = ToxBuilder::new().port(args.port);
    for (addr, key) in &args.bootstrap {
        builder = builder.bootstrap(*addr, *key);
    }
    if let Some(path) = &args.savedata {
        match std::fs::read(path) {
            Ok(bytes) => builder = builder.savedata(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display()).into()),
        }
    }
    let (tox, mut events) = builder.spawn().await?;
    if tox.name().await?.is_empty() {
        tox.set_name("echo bot").await?;
    }
    save(&tox, args.savedata.as_ref()).await?;
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
        let Some(event) = next.await else { break };
        match event {
            ToxEvent::FriendRequest { public_key, .. } => {
                let number = tox.add_friend_norequest(public_key).await?;
                println!("FRIEND_ADDED {number} {public_key}");
                save(&tox, args.savedata.as_ref()).await?;
            }
            ToxEvent::Message { friend, kind, text } => {
                println!("ECHO {friend} {}", String::from_utf8_lossy(&text));
                if let Err(error) = tox.send_message(friend, kind, text).await {
                    println!("ECHO_FAILED {friend} {error}");
                }
            }
            ToxEvent::FriendConnection { friend, online } => {
                println!("FRIEND_CONNECTION {friend} {online}");
            }
            ToxEvent::SelfConnection { connected } => println!("SELF_CONNECTION {connected}"),
            _ => {}
        }
    }
    save(&tox, args.savedata.as_ref()).await?;
    tox.shutdown().await;
    Ok(())
}
