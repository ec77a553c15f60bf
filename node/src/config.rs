//! The configuration file and the settings the node runs with.
//!
//! The file is TOML with the flags' names as keys:
//!
//! ```toml
//! udp-address = ["0.0.0.0:33445", "[::]:33445"]   # or one string
//! tcp-address = ["0.0.0.0:33445", "0.0.0.0:3389"]  # TCP relay; none by default
//! tcp-max-connections = 4096      # sockets held at once; more are refused
//! tcp-max-unconfirmed = 256       # handshakes in progress; the oldest is evicted
//! tcp-queue-control-frames = 256  # per connection; overflowing closes it
//! tcp-queue-data-bytes = 65536    # per connection; beyond it data is dropped
//! keys-file = "/var/lib/toxide-node/keys"
//! motd = "toxide-node"
//! lan-discovery = false
//! dual-stack = false
//! rate-limit = 200       # requests/s per host (IPv4 address, IPv6 /64); 0 = off
//! log-level = "info"
//!
//! [[bootstrap-nodes]]
//! pk = "F404ABAA1C99A9D37D61AB54898F56793E1DEF8BD46B1038B9D822E8460FAB67"
//! addr = "node.example.org:33445"
//! ```
//!
//! Unknown keys are reported as warnings (a typo must not pass silently,
//! nor stop a node that an upgrade gave a new key); anything else that is
//! wrong is an error that names the key. There is deliberately no key for
//! the secret key: see [`crate::keys_file`].

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toxide_core::{PackedNode, PublicKey};
use toxide_dht::RateLimit;
use toxide_dht::packet::{AMBIGUOUS_MOTD_SIZE, BOOTSTRAP_INFO_REQUEST_SIZE, MAX_MOTD_SIZE};

use toxide_relay::{QueueLimits, ServerConfig};

use crate::cli::Cli;

/// The smallest `tcp-queue-data-bytes`: one frame of the largest size
/// (`MAX_PACKET_SIZE`), so every packet a client may send fits.
pub const MIN_TCP_QUEUE_DATA_BYTES: usize = 2048;

/// The port tox-bootstrapd and tox-node listen on by default.
pub const DEFAULT_PORT: u16 = 33445;
/// The message of the day unless configured.
pub const DEFAULT_MOTD: &str = "toxide-node";
/// The log filter unless configured (and RUST_LOG is unset).
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Requests per second answered per host (IPv4 address or IPv6 /64)
/// unless configured: the DHT's own default ([`RateLimit::default`]).
pub const DEFAULT_RATE_LIMIT: u32 = 200;

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a value of the wrong type.
    #[error("config file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value has the right type but is not usable.
    #[error("{key} {value:?}: {reason}")]
    Invalid {
        /// The flag or config key.
        key: &'static str,
        /// What was given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(key: &'static str, value: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.into(),
        reason: reason.into(),
    }
}

/// One value or a list of them (`udp-address = "…"` or `= ["…", "…"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// A list.
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// A `[[bootstrap-nodes]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileBootstrapNode {
    /// The node's DHT public key, 64 hex digits.
    pub pk: String,
    /// `HOST:PORT` or `IP:PORT`.
    pub addr: String,
    /// Keys this version does not know.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, toml::Value>,
}

/// The configuration file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileConfig {
    /// `udp-address`.
    pub udp_address: Option<OneOrMany>,
    /// `keys-file`.
    pub keys_file: Option<PathBuf>,
    /// `tcp-address`.
    pub tcp_address: Option<OneOrMany>,
    /// `tcp-max-connections`.
    pub tcp_max_connections: Option<usize>,
    /// `tcp-max-unconfirmed`.
    pub tcp_max_unconfirmed: Option<usize>,
    /// `tcp-queue-control-frames`.
    pub tcp_queue_control_frames: Option<usize>,
    /// `tcp-queue-data-bytes`.
    pub tcp_queue_data_bytes: Option<usize>,
    /// `bootstrap-nodes`.
    #[serde(default)]
    pub bootstrap_nodes: Vec<FileBootstrapNode>,
    /// `motd`.
    pub motd: Option<String>,
    /// `lan-discovery`.
    pub lan_discovery: Option<bool>,
    /// `dual-stack`.
    pub dual_stack: Option<bool>,
    /// `rate-limit`.
    pub rate_limit: Option<u32>,
    /// `log-level`.
    pub log_level: Option<String>,
    /// Keys this version does not know.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, toml::Value>,
}

impl FileConfig {
    /// Parses TOML text; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// One warning per unknown key, top-level and in bootstrap node entries.
    pub fn unknown_keys(&self) -> Vec<String> {
        let top = self.unknown.keys().cloned();
        let nested = self
            .bootstrap_nodes
            .iter()
            .enumerate()
            .flat_map(|(i, node)| {
                node.unknown
                    .keys()
                    .map(move |k| format!("bootstrap-nodes[{i}].{k}"))
            });
        top.chain(nested).collect()
    }
}

/// What the node runs with: the file's values, overridden by the flags,
/// checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Sockets to bind.
    pub udp_addresses: Vec<SocketAddr>,
    /// TCP relay sockets to listen on; none serves no relay.
    pub tcp_addresses: Vec<SocketAddr>,
    /// The TCP relay's limits.
    pub tcp_relay: ServerConfig,
    /// The keys file, if any.
    pub keys_file: Option<PathBuf>,
    /// Nodes to bootstrap from, names resolved.
    pub bootstrap_nodes: Vec<PackedNode>,
    /// The message of the day, at most 255 bytes.
    pub motd: String,
    /// Answer LAN discovery.
    pub lan_discovery: bool,
    /// IPv6 sockets carry IPv4 too.
    pub dual_stack: bool,
    /// Requests answered per second per host (IPv4 address or IPv6 /64);
    /// 0 is no limit.
    pub rate_limit: u32,
    /// The log filter given, if any.
    pub log_level: Option<String>,
    /// Things worth telling the operator that do not stop the node
    /// (unknown keys, names that did not resolve).
    pub warnings: Vec<String>,
}

impl Settings {
    /// Merges `file` (if any) and `cli`; flags win. Repeatable flags given
    /// on the command line replace the file's list.
    pub fn resolve(cli: &Cli, file: Option<FileConfig>) -> Result<Self, ConfigError> {
        let file = file.unwrap_or_default();
        let mut warnings: Vec<String> = file
            .unknown_keys()
            .into_iter()
            .map(|k| format!("unknown config key `{k}` ignored"))
            .collect();

        let udp_addresses = if cli.udp_address.is_empty() {
            match file.udp_address {
                Some(list) => list
                    .into_vec()
                    .into_iter()
                    .map(|a| {
                        a.trim()
                            .parse()
                            .map_err(|_| invalid("udp-address", a, "not an IP:PORT socket address"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                None => vec![SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))],
            }
        } else {
            cli.udp_address.clone()
        };
        if udp_addresses.is_empty() {
            return Err(invalid(
                "udp-address",
                "[]",
                "at least one address is needed",
            ));
        }

        let tcp_addresses = if cli.tcp_address.is_empty() {
            file.tcp_address
                .map(OneOrMany::into_vec)
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    a.trim()
                        .parse()
                        .map_err(|_| invalid("tcp-address", a, "not an IP:PORT socket address"))
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            cli.tcp_address.clone()
        };
        let defaults = ServerConfig::default();
        let positive = |key: &'static str, value: Option<usize>, default: usize| match value {
            Some(0) => Err(invalid(key, "0", "must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let tcp_relay = ServerConfig {
            max_connections: positive(
                "tcp-max-connections",
                file.tcp_max_connections,
                defaults.max_connections,
            )?,
            max_unconfirmed: positive(
                "tcp-max-unconfirmed",
                file.tcp_max_unconfirmed,
                defaults.max_unconfirmed,
            )?,
            queue: QueueLimits {
                max_control_frames: positive(
                    "tcp-queue-control-frames",
                    file.tcp_queue_control_frames,
                    defaults.queue.max_control_frames,
                )?,
                // Below one full frame nothing but the smallest packets
                // could ever be queued.
                max_data_bytes: match file.tcp_queue_data_bytes {
                    Some(n) if n < MIN_TCP_QUEUE_DATA_BYTES => {
                        return Err(invalid(
                            "tcp-queue-data-bytes",
                            n.to_string(),
                            format!("must be at least {MIN_TCP_QUEUE_DATA_BYTES}"),
                        ));
                    }
                    Some(n) => n,
                    None => defaults.queue.max_data_bytes,
                },
            },
        };

        let pairs: Vec<(String, String)> = if cli.bootstrap_node.is_empty() {
            file.bootstrap_nodes
                .into_iter()
                .map(|n| (n.pk, n.addr))
                .collect()
        } else {
            cli.bootstrap_node
                .chunks(2)
                .map(|pair| match pair {
                    [pk, addr] => Ok((pk.clone(), addr.clone())),
                    _ => Err(invalid(
                        "bootstrap-node",
                        pair.concat(),
                        "needs PK and ADDR:PORT",
                    )),
                })
                .collect::<Result<_, _>>()?
        };
        let mut bootstrap_nodes = Vec::new();
        for (pk, addr) in pairs {
            let public_key: PublicKey = pk
                .trim()
                .parse()
                .map_err(|_| invalid("bootstrap-node", &pk, "the key must be 64 hex digits"))?;
            match resolve_addr(&addr) {
                Ok(addrs) => bootstrap_nodes
                    .extend(addrs.into_iter().map(|a| PackedNode::udp(a, public_key))),
                Err(Unresolved::Syntax) => {
                    return Err(invalid(
                        "bootstrap-node",
                        addr,
                        "expected HOST:PORT or IP:PORT",
                    ));
                }
                Err(Unresolved::Lookup(reason)) => {
                    warnings.push(format!("bootstrap node {addr} skipped: {reason}"));
                }
            }
        }

        let motd = cli
            .motd
            .clone()
            .or(file.motd)
            .unwrap_or_else(|| DEFAULT_MOTD.to_owned());
        if motd.len() >= MAX_MOTD_SIZE {
            return Err(invalid(
                "motd",
                motd.clone(),
                format!("{} bytes; at most {} fit", motd.len(), MAX_MOTD_SIZE - 1),
            ));
        }
        if motd.contains('\0') {
            return Err(invalid("motd", motd.clone(), "contains a NUL character"));
        }
        if motd.len() + 1 == AMBIGUOUS_MOTD_SIZE {
            // from_text would pad it with a second NUL; say so rather than
            // send something other than what the operator wrote.
            return Err(invalid(
                "motd",
                motd.clone(),
                format!(
                    "{} bytes make a bootstrap info response the size of a request \
                     ({} bytes), which other nodes would answer; add or remove a character",
                    motd.len(),
                    BOOTSTRAP_INFO_REQUEST_SIZE
                ),
            ));
        }

        Ok(Self {
            udp_addresses,
            tcp_addresses,
            tcp_relay,
            keys_file: cli.keys_file.clone().or(file.keys_file),
            bootstrap_nodes,
            motd,
            lan_discovery: cli.lan_discovery || file.lan_discovery.unwrap_or(false),
            dual_stack: cli.dual_stack || file.dual_stack.unwrap_or(false),
            rate_limit: cli
                .rate_limit
                .or(file.rate_limit)
                .unwrap_or(DEFAULT_RATE_LIMIT),
            log_level: cli.log_level.clone().or(file.log_level),
            warnings,
        })
    }

    /// The DHT's per-source budget: [`Settings::rate_limit`] requests per
    /// second with bursts of twice that (the DHT default's proportion),
    /// `None` when it is 0.
    pub fn dht_rate_limit(&self) -> Option<RateLimit> {
        (self.rate_limit > 0).then(|| {
            let per_second = f64::from(self.rate_limit);
            RateLimit {
                per_second,
                burst: 2.0 * per_second,
                ..RateLimit::default()
            }
        })
    }
}

enum Unresolved {
    Syntax,
    Lookup(String),
}

/// `IP:PORT` as is; `HOST:PORT` through the system resolver (once, at start).
fn resolve_addr(text: &str) -> Result<Vec<SocketAddr>, Unresolved> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(Unresolved::Syntax);
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(Unresolved::Syntax);
    };
    if host.is_empty() || host.contains(':') {
        return Err(Unresolved::Syntax);
    }
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(Unresolved::Lookup("no address found".to_owned()))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(Unresolved::Lookup(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "F404ABAA1C99A9D37D61AB54898F56793E1DEF8BD46B1038B9D822E8460FAB67";

    fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        FileConfig::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn defaults() {
        let s = Settings::resolve(&Cli::default(), None).unwrap();
        assert_eq!(
            s.udp_addresses,
            vec!["0.0.0.0:33445".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(s.motd, DEFAULT_MOTD);
        assert!(!s.lan_discovery && !s.dual_stack);
        assert!(s.bootstrap_nodes.is_empty() && s.keys_file.is_none() && s.warnings.is_empty());
        assert_eq!(s.rate_limit, DEFAULT_RATE_LIMIT);
        assert_eq!(s.dht_rate_limit(), Some(RateLimit::default()));
    }

    #[test]
    fn motd_the_size_of_a_request_is_refused() {
        let cli = |motd: &str| Cli {
            motd: Some(motd.to_owned()),
            ..Cli::default()
        };
        let err = Settings::resolve(&cli(&"m".repeat(72)), None).unwrap_err();
        assert!(err.to_string().contains("the size of a request"), "{err}");
        for ok in [71, 73] {
            assert!(Settings::resolve(&cli(&"m".repeat(ok)), None).is_ok());
        }
    }

    #[test]
    fn rate_limit_from_file_and_flag() {
        let file = parse("rate-limit = 200\n").unwrap();
        let s = Settings::resolve(&Cli::default(), Some(file.clone())).unwrap();
        assert_eq!(s.rate_limit, 200);
        let limit = s.dht_rate_limit().unwrap();
        assert_eq!((limit.per_second, limit.burst), (200.0, 400.0));
        assert_eq!(limit.max_hosts, RateLimit::default().max_hosts);

        let off = Cli {
            rate_limit: Some(0),
            ..Cli::default()
        };
        let s = Settings::resolve(&off, Some(file)).unwrap();
        assert_eq!(s.rate_limit, 0);
        assert_eq!(s.dht_rate_limit(), None);

        assert!(matches!(
            parse("rate-limit = -1"),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            parse("rate-limit = \"fast\""),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn file_values_and_flag_overrides() {
        let file = parse(&format!(
            "udp-address = \"127.0.0.1:5000\"\nmotd = \"from file\"\nlan-discovery = true\nkeys-file = \"/k\"\n\
             [[bootstrap-nodes]]\npk = \"{PK}\"\naddr = \"127.0.0.1:33445\"\n"
        ))
        .unwrap();
        let s = Settings::resolve(&Cli::default(), Some(file.clone())).unwrap();
        assert_eq!(
            s.udp_addresses,
            vec!["127.0.0.1:5000".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(s.motd, "from file");
        assert!(s.lan_discovery);
        assert_eq!(s.keys_file.as_deref(), Some(Path::new("/k")));
        assert_eq!(s.bootstrap_nodes.len(), 1);
        assert_eq!(s.bootstrap_nodes[0].public_key.to_string(), PK);

        let cli = Cli {
            udp_address: vec![
                "127.0.0.1:6000".parse().unwrap(),
                "[::1]:6000".parse().unwrap(),
            ],
            motd: Some("from flag".to_owned()),
            bootstrap_node: vec![PK.to_owned(), "10.1.1.1:1".to_owned()],
            ..Cli::default()
        };
        let s = Settings::resolve(&cli, Some(file)).unwrap();
        assert_eq!(s.udp_addresses.len(), 2);
        assert_eq!(s.motd, "from flag");
        assert_eq!(s.bootstrap_nodes[0].addr, "10.1.1.1:1".parse().unwrap());
    }

    #[test]
    fn tcp_relay_from_file_and_flag() {
        let s = Settings::resolve(&Cli::default(), None).unwrap();
        assert!(s.tcp_addresses.is_empty(), "no relay unless asked for");
        assert_eq!(s.tcp_relay, ServerConfig::default());

        let file = parse(
            "tcp-address = [\"127.0.0.1:3389\", \"[::1]:0\"]\ntcp-max-connections = 10\n\
             tcp-max-unconfirmed = 5\ntcp-queue-control-frames = 32\ntcp-queue-data-bytes = 4096\n",
        )
        .unwrap();
        let s = Settings::resolve(&Cli::default(), Some(file.clone())).unwrap();
        assert_eq!(s.tcp_addresses.len(), 2);
        assert_eq!(s.tcp_relay.max_connections, 10);
        assert_eq!(s.tcp_relay.max_unconfirmed, 5);
        assert_eq!(s.tcp_relay.queue.max_control_frames, 32);
        assert_eq!(s.tcp_relay.queue.max_data_bytes, 4096);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);

        let cli = Cli {
            tcp_address: vec!["127.0.0.1:0".parse().unwrap()],
            ..Cli::default()
        };
        let s = Settings::resolve(&cli, Some(file)).unwrap();
        assert_eq!(s.tcp_addresses, cli.tcp_address);

        let one = parse("tcp-address = \"0.0.0.0:33445\"").unwrap();
        let s = Settings::resolve(&Cli::default(), Some(one)).unwrap();
        assert_eq!(s.tcp_addresses.len(), 1);

        for bad in [
            "tcp-address = \"localhost\"",
            "tcp-max-connections = 0",
            "tcp-queue-data-bytes = 100",
        ] {
            let e = Settings::resolve(&Cli::default(), Some(parse(bad).unwrap())).unwrap_err();
            assert!(e.to_string().contains("tcp-"), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_keys_warn() {
        let file = parse(&format!(
            "udp-adress = \"x\"\n[[bootstrap-nodes]]\npk = \"{PK}\"\naddr = \"127.0.0.1:1\"\nport = 3\n"
        ))
        .unwrap();
        let s = Settings::resolve(&Cli::default(), Some(file)).unwrap();
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("udp-adress"));
        assert!(s.warnings[1].contains("bootstrap-nodes[0].port"));
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(matches!(parse("motd = 5"), Err(ConfigError::Parse { .. })));
        assert!(matches!(
            parse("udp-address = ["),
            Err(ConfigError::Parse { .. })
        ));
        let bad_addr = parse("udp-address = \"localhost\"").unwrap();
        let e = Settings::resolve(&Cli::default(), Some(bad_addr)).unwrap_err();
        assert!(e.to_string().contains("udp-address"), "{e}");
        let bad_pk = Cli {
            bootstrap_node: vec!["abc".to_owned(), "127.0.0.1:1".to_owned()],
            ..Cli::default()
        };
        assert!(Settings::resolve(&bad_pk, None).is_err());
        let bad_node_addr = Cli {
            bootstrap_node: vec![PK.to_owned(), "127.0.0.1".to_owned()],
            ..Cli::default()
        };
        assert!(Settings::resolve(&bad_node_addr, None).is_err());
        let long_motd = Cli {
            motd: Some("x".repeat(256)),
            ..Cli::default()
        };
        assert!(Settings::resolve(&long_motd, None).is_err());
        let ok_motd = Cli {
            motd: Some("x".repeat(255)),
            ..Cli::default()
        };
        assert!(Settings::resolve(&ok_motd, None).is_ok());
    }
}
