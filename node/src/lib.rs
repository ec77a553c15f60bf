//! toxide-node: a Tox bootstrap node.
//!
//! The server composition of toxide's layers, the way the client is the
//! other one: the DHT (answering pings, nodes requests and bootstrap-info
//! requests, keeping a close list) and the onion server, run by the root
//! crate's tokio [`Driver`], and optionally a TCP relay ([`tcp`]) whose
//! clients' onion requests go to that onion server. Operator-facing
//! choices follow tox-bootstrapd and tox-node: a keys file in
//! tox-bootstrapd's format, the secret key never on argv, one socket per
//! configured address, LAN discovery off unless asked for, and warnings for
//! unknown configuration keys.
//!
//! The binary is a thin `main` over [`start`]; the pieces are public so
//! tests can run the same node in-process.

pub mod cli;
pub mod config;
pub mod keys_file;
pub mod report;
pub mod tcp;

use std::io::{self, Write};
use std::net::SocketAddr;

use toxide::driver::{Driver, DriverConfig, DriverError, DriverHandle};
use toxide_core::KeyPair;
use toxide_dht::packet::BootstrapInfoResponse;
use tracing_subscriber::filter::Targets;

use crate::cli::Cli;
use crate::config::{ConfigError, DEFAULT_LOG_LEVEL, FileConfig, Settings};
use crate::keys_file::{KeysError, KeysOrigin, SECRET_KEY_ENV};
use crate::tcp::{TcpBindError, TcpRelay};

/// The version number sent in bootstrap-info responses: `4AAABBBCCC` for
/// toxide-node `AAA.BBB.CCC`.
///
/// Node-list checkers show this number to people, so it follows the
/// decimal schemes already in use and picks the next leading digit:
/// tox-bootstrapd sends `1AAABBBCCC` with c-toxcore's version (0.2.18 sends
/// 1000002018; `DAEMON_VERSION_NUMBER` in
/// `other/bootstrap_daemon/src/global.h`), its older releases sent a
/// `YYYYMMDDVV` date (leading 2), and tox-rs's tox-node sends `3AAABBBCCC`.
/// The leading 4 tells toxide-node apart from all three; it stays below
/// `u32::MAX` for any major version up to 294.
pub const BOOTSTRAP_INFO_VERSION: u32 = 4_000_001_000;

/// Why the node did not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The keys could not be read or created.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// A socket could not be bound.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// A TCP relay socket could not be opened.
    #[error(transparent)]
    Tcp(#[from] TcpBindError),
    /// The log filter is not valid.
    #[error("log level {level:?}: {reason}")]
    LogLevel {
        /// What was given.
        level: String,
        /// The parser's message.
        reason: String,
    },
    /// Writing the start-up lines, starting the runtime or listening for
    /// signals failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// What the operating system said.
        source: io::Error,
    },
}

/// Shared keys a node's DHT caches at most: every client that asks again
/// within the next 8,192 new keys is answered without a scalar
/// multiplication (52 µs each here, where a whole request answered with a
/// cached key costs about 9 µs). With c-toxcore's 1,024, a node that 1,024
/// clients asked in turn computed a key for every request and answered
/// 16,000 a second per CPU-second; with this, 100,000 and more, at 4,096
/// clients too (`benches/flood`). At most 16,384 ×
/// [`toxide_dht::shared_keys::SharedKeyCache::BYTES_PER_ENTRY`] = 2.5 MiB,
/// and only while that many clients come back: keys seen once are not
/// cached, and 4,096 active clients cost about 0.6 MiB.
pub const NODE_SHARED_KEY_CACHE: usize = 16_384;

/// The DHT configuration of a bootstrap node: bootstrap info answered,
/// requests rate-limited per host (unless `rate-limit` is 0), LAN
/// discovery as configured, no hole punching (a bootstrap node has no
/// friends to punch towards), a shared-key cache sized for many clients.
pub fn dht_config(settings: &Settings) -> toxide_dht::Config {
    let info = BootstrapInfoResponse::from_text(BOOTSTRAP_INFO_VERSION, &settings.motd);
    toxide_dht::Config {
        lan_discovery: settings.lan_discovery,
        bootstrap_info: Some((info.version(), info.motd().to_vec())),
        rate_limit: settings.dht_rate_limit(),
        hole_punching: false,
        shared_key_cache: NODE_SHARED_KEY_CACHE,
    }
}

/// The driver configuration for `settings` and the node's keys.
pub fn driver_config(settings: &Settings, keys: KeyPair) -> DriverConfig {
    DriverConfig {
        bind: settings.udp_addresses.clone(),
        dual_stack: settings.dual_stack,
        dht: dht_config(settings),
        // Every node serves the onion: c-toxcore clients build their paths
        // and announce through whatever nodes their DHT knows.
        onion: Some(toxide_onion::ServerConfig {
            rate_limit: settings.dht_rate_limit(),
        }),
        client: None,
        keys: Some(keys),
        seed: None,
        udp: true,
        tcp_relays: Vec::new(),
        proxy: None,
    }
}

/// Reads the file named by `--config` (if any), merges the flags and
/// prints warnings on stderr.
pub fn settings(cli: &Cli) -> Result<Settings, NodeError> {
    let file = cli.config.as_deref().map(FileConfig::load).transpose()?;
    let settings = Settings::resolve(cli, file)?;
    for warning in &settings.warnings {
        eprintln!("toxide-node: warning: {warning}");
    }
    Ok(settings)
}

/// The node's DHT key pair: from [`SECRET_KEY_ENV`], else the keys file,
/// else a fresh one.
pub fn node_keys(settings: &Settings) -> Result<KeyPair, NodeError> {
    if let Some(hex) = std::env::var_os(SECRET_KEY_ENV) {
        let keys = keys_file::from_hex_secret(hex.to_str().unwrap_or_default())?;
        if settings.keys_file.is_some() {
            tracing::warn!("{SECRET_KEY_ENV} is set: the keys file is not used");
        }
        return Ok(keys);
    }
    let Some(path) = &settings.keys_file else {
        tracing::info!("no keys file: using a new DHT key for this run only");
        return Ok(KeyPair::generate(&mut rand::rng()));
    };
    let (keys, origin) = keys_file::load_or_create(path)?;
    match origin {
        KeysOrigin::Created => tracing::info!(path = %path.display(), "created keys file"),
        KeysOrigin::Loaded { loose_permissions } => {
            if loose_permissions {
                tracing::warn!(path = %path.display(), "keys file is readable by other users; chmod 600 it");
            }
        }
    }
    Ok(keys)
}

/// Sets up logging on stderr: `--log-level`, else RUST_LOG, else info.
pub fn init_logging(settings: &Settings) -> Result<(), NodeError> {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let level = settings
        .log_level
        .clone()
        .or(from_env)
        .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned());
    // `Targets` takes the directives operators use (`info`,
    // `toxide_dht=debug,warn`) without EnvFilter's regex engine, which
    // alone cost a third of the node's resident code. It would read a
    // mistyped directive as a target name, so the syntax is checked first.
    let filter: Targets = check_log_directives(&level)
        .and_then(|()| {
            level
                .parse()
                .map_err(|e: tracing_subscriber::filter::ParseError| e.to_string())
        })
        .map_err(|reason| NodeError::LogLevel {
            level: level.clone(),
            reason,
        })?;
    use std::io::IsTerminal;
    // A second initialisation (tests) keeps the first subscriber.
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal());
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init();
    Ok(())
}

/// Checks `LEVEL` or `TARGET=LEVEL` directives, comma-separated, where a
/// target is a Rust module path.
fn check_log_directives(text: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(target), level),
            None => (None, directive),
        };
        if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            return Err(format!("{level:?} is not one of {}", LEVELS.join(", ")));
        }
        if let Some(target) = target {
            let valid = !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !valid {
                return Err(format!("{target:?} is not a module path"));
            }
        }
    }
    Ok(())
}

/// Everything `main` does: settings, logging, keys, then the node until a
/// signal.
pub fn start(cli: &Cli) -> Result<(), NodeError> {
    let settings = settings(cli)?;
    init_logging(&settings)?;
    let keys = node_keys(&settings)?;
    // One task owns the DHT; a second thread would only add locking.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| NodeError::Io {
            what: "starting the tokio runtime",
            source,
        })?;
    runtime.block_on(run(&settings, keys, &mut io::stdout()))
}

/// Starts the driver, prints the start-up lines to `out`, bootstraps, and
/// serves until SIGINT or SIGTERM.
pub async fn run(
    settings: &Settings,
    keys: KeyPair,
    out: &mut impl Write,
) -> Result<(), NodeError> {
    // Listen before announcing readiness: a signal sent as soon as the
    // start-up lines are read must find the handler, not the default
    // action.
    let mut stop = Stop::listen()?;
    let mut driver = Driver::bind(driver_config(settings, keys.clone())).await?;
    let handle = driver.handle();
    let relay = spawn_tcp_relay(settings, keys, &mut driver)?;
    tokio::spawn(driver.run());
    let tcp_addrs = relay.as_ref().map_or(&[][..], TcpRelay::local_addrs);
    announce(&handle, tcp_addrs, out).map_err(|source| NodeError::Io {
        what: "writing the start-up lines",
        source,
    })?;
    if !tcp_addrs.is_empty() {
        tracing::info!(addresses = ?tcp_addrs, "serving a TCP relay");
    }
    tracing::info!(
        public_key = %handle.public_key(),
        addresses = ?handle.local_addrs(),
        version = BOOTSTRAP_INFO_VERSION,
        "toxide-node serving the DHT"
    );
    if settings.bootstrap_nodes.is_empty() {
        tracing::info!("no bootstrap nodes: waiting to be found");
    }
    for node in &settings.bootstrap_nodes {
        if handle.bootstrap(*node).await.is_err() {
            break;
        }
    }
    let signal = stop.wait().await;
    tracing::info!(signal, "stopping");
    if let Some(relay) = relay {
        if let Some(stats) = relay.shutdown().await {
            tracing::info!(
                "final TCP relay counters:\n{}",
                report::counter_table(&stats)
            );
        }
    }
    if let Ok(stats) = handle.stats().await {
        tracing::info!("final counters:\n{}", report::counter_table(&stats));
    }
    handle.shutdown().await;
    Ok(())
}

/// Starts the TCP relay on the configured addresses (none: no relay), with
/// the node's DHT key as relay key (as tox-bootstrapd) and its clients'
/// onion requests going to `driver`'s onion server. Call before the driver
/// runs.
pub fn spawn_tcp_relay(
    settings: &Settings,
    keys: KeyPair,
    driver: &mut Driver,
) -> Result<Option<TcpRelay>, NodeError> {
    if settings.tcp_addresses.is_empty() {
        return Ok(None);
    }
    let relay = TcpRelay::spawn(
        &settings.tcp_addresses,
        settings.dual_stack,
        keys,
        settings.tcp_relay,
        driver.tcp_onion_channels(),
    )?;
    Ok(Some(relay))
}

/// Prints `DHT_PUBLIC_KEY <hex>`, one `PORT <port>` per UDP socket and one
/// `TCP_PORT <port>` per TCP relay socket (the real ports when 0 was asked
/// for), in that order.
pub fn announce(
    handle: &DriverHandle,
    tcp_addrs: &[SocketAddr],
    out: &mut impl Write,
) -> io::Result<()> {
    writeln!(out, "DHT_PUBLIC_KEY {}", handle.public_key())?;
    for addr in handle.local_addrs() {
        writeln!(out, "PORT {}", addr.port())?;
    }
    for addr in tcp_addrs {
        writeln!(out, "TCP_PORT {}", addr.port())?;
    }
    out.flush()
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere).
struct Stop {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    fn listen() -> Result<Self, NodeError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let error = |source| NodeError::Io {
                what: "listening for signals",
                source,
            };
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).map_err(error)?,
                terminate: signal(SignalKind::terminate()).map_err(error)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for a signal; returns its name.
    async fn wait(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_the_package() {
        let part = |s: &str| s.parse::<u32>().unwrap();
        let expected = 4_000_000_000
            + part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
            + part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
            + part(env!("CARGO_PKG_VERSION_PATCH"));
        assert_eq!(BOOTSTRAP_INFO_VERSION, expected);
    }

    #[test]
    fn motd_is_sent_with_a_nul_like_tox_bootstrapd() {
        let settings = Settings::resolve(&Cli::default(), None).unwrap();
        let config = dht_config(&settings);
        let (version, motd) = config.bootstrap_info.unwrap();
        assert_eq!(version, BOOTSTRAP_INFO_VERSION);
        assert_eq!(motd, b"toxide-node\0");
        assert!(config.rate_limit.is_some() && !config.lan_discovery && !config.hole_punching);
    }
}

#[cfg(test)]
mod log_tests {
    use super::check_log_directives;

    #[test]
    fn log_directives_are_levels_with_optional_module_paths() {
        for good in [
            "info",
            "DEBUG",
            "toxide_dht=debug,warn",
            "toxide::driver=trace",
            " warn , off ",
        ] {
            assert_eq!(check_log_directives(good), Ok(()), "{good}");
        }
        for bad in [
            "[[[",
            "loud",
            "toxide=loud",
            "=info",
            "a-b=info",
            "x[span]=info",
        ] {
            assert!(check_log_directives(bad).is_err(), "{bad}");
        }
    }
}
