//! The command line. Flag names follow tox-node (tox-rs) so operators can
//! switch daemons without relearning them; every flag overrides the same
//! key of the `--config` file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A Tox DHT bootstrap node.
///
/// On start it prints `DHT_PUBLIC_KEY <hex>`, one `PORT <port>` line per
/// bound UDP socket and one `TCP_PORT <port>` line per TCP relay socket on
/// stdout, then serves until SIGINT or SIGTERM. The DHT
/// secret key is read from --keys-file or from the environment variable
/// TOXIDE_NODE_SECRET_KEY (64 hex digits), never from the command line.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "toxide-node", version)]
pub struct Cli {
    /// TOML configuration file; flags override its keys.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// UDP address to serve the DHT on; repeat for several sockets.
    /// Port 0 picks a free port. [default: 0.0.0.0:33445]
    #[arg(long = "udp-address", value_name = "ADDR:PORT")]
    pub udp_address: Vec<SocketAddr>,

    /// TCP address to serve a TCP relay on (for peers without UDP, as
    /// tox-bootstrapd's `tcp_relay_ports`); repeat for several sockets.
    /// Port 0 picks a free port. The relay key is the DHT key. [default:
    /// none, no relay]
    #[arg(long = "tcp-address", value_name = "ADDR:PORT")]
    pub tcp_address: Vec<SocketAddr>,

    /// Keys file (tox-bootstrapd format: public key, then secret key, 64
    /// bytes), created with mode 0600 if missing. Without it (and without
    /// TOXIDE_NODE_SECRET_KEY) the node has a new key each run.
    #[arg(long, value_name = "PATH")]
    pub keys_file: Option<PathBuf>,

    /// A node to join the network through; repeatable.
    #[arg(long, num_args = 2, value_names = ["PK", "ADDR:PORT"])]
    pub bootstrap_node: Vec<String>,

    /// Message of the day returned to bootstrap-info requests (at most 255
    /// bytes). [default: toxide-node]
    #[arg(long, value_name = "TEXT")]
    pub motd: Option<String>,

    /// LAN discovery: announce this node to the local network every 10 s
    /// (limited broadcast and ff02::1, c-toxcore's ports) and answer such
    /// announcements from LAN addresses. Off unless given.
    #[arg(long)]
    pub lan_discovery: bool,

    /// Let IPv6 sockets carry IPv4 too (IPV6_V6ONLY off), so `[::]:PORT`
    /// serves both families.
    #[arg(long)]
    pub dual_stack: bool,

    /// Requests answered per second per host, an IPv4 address or an IPv6
    /// /64 (DHT pings, nodes requests, bootstrap info, routed DHT
    /// requests; onion requests from clients, and from relays, each with
    /// a budget of its own), with bursts of twice that; charged only once
    /// a request's box opens. Also turns on the global budget for new
    /// shared keys. 0 turns all limits off (for benchmarks on a trusted
    /// network, never on a public node). [default: 200]
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// Log filter for stderr: error, warn, info, debug, trace, or a
    /// tracing directive such as `toxide=debug`. [default: RUST_LOG, else
    /// info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn repeated_flags_collect() {
        let cli = Cli::try_parse_from([
            "toxide-node",
            "--udp-address",
            "127.0.0.1:0",
            "--udp-address",
            "[::1]:33445",
            "--tcp-address",
            "127.0.0.1:0",
            "--bootstrap-node",
            "AA",
            "1.2.3.4:5",
            "--bootstrap-node",
            "BB",
            "host:6",
            "--lan-discovery",
            "--rate-limit",
            "0",
        ])
        .unwrap();
        assert_eq!(cli.udp_address.len(), 2);
        assert_eq!(cli.tcp_address.len(), 1);
        assert_eq!(cli.bootstrap_node, ["AA", "1.2.3.4:5", "BB", "host:6"]);
        assert!(cli.lan_discovery);
        assert!(!cli.dual_stack);
        assert_eq!(cli.rate_limit, Some(0));
    }

    #[test]
    fn no_secret_key_flag() {
        assert!(Cli::try_parse_from(["toxide-node", "--secret-key", "00"]).is_err());
    }
}
