//! Debian's proxies on loopback, for relay connections through a proxy
//! (checklist R12): `microsocks` (SOCKS5) and `tinyproxy` (HTTP CONNECT),
//! each on a fresh port, stopped when dropped. `scripts/test` installs
//! both packages; a missing one is an error, never a skipped test.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Result, TempDir, fresh_tcp_port, running_as_root};

/// How long a proxy may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Which proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProgram {
    /// `microsocks`: SOCKS5 without authentication.
    Microsocks,
    /// `tinyproxy`: HTTP CONNECT to any port.
    Tinyproxy,
}

/// A running proxy.
#[derive(Debug)]
pub struct ProxyProcess {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl ProxyProcess {
    /// Starts `program` on a fresh loopback port and waits until it
    /// accepts connections.
    pub fn spawn(program: ProxyProgram) -> Result<Self> {
        let port = fresh_tcp_port()?;
        let dir = TempDir::new("proxy")?;
        let (name, args) = match program {
            ProxyProgram::Microsocks => (
                "microsocks",
                vec![
                    "-i".to_owned(),
                    "127.0.0.1".to_owned(),
                    "-p".to_owned(),
                    port.to_string(),
                ],
            ),
            ProxyProgram::Tinyproxy => {
                // No ConnectPort line: CONNECT to any port (relays listen
                // on 33445, 443 and others). As root it wants a user to
                // drop to.
                let user = if running_as_root() {
                    "User nobody\nGroup nogroup\n"
                } else {
                    ""
                };
                let config = dir.path().join("tinyproxy.conf");
                let text = format!(
                    "{user}Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 32\nLogLevel Critical\n"
                );
                std::fs::write(&config, text).map_err(|source| Error::Io {
                    what: format!("writing {}", config.display()),
                    source,
                })?;
                let config = config.display().to_string();
                ("tinyproxy", vec!["-d".to_owned(), "-c".to_owned(), config])
            }
        };
        let child = Command::new(name)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| Error::Spawn {
                program: format!("{name} (Debian package {name})"),
                source,
            })?;
        let mut process = Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            _dir: dir,
        };
        process.wait_listening(name)?;
        Ok(process)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn wait_listening(&mut self, name: &str) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Exited {
                    process: name.to_owned(),
                    what: format!("to listen (it exited: {status})"),
                    context: String::new(),
                });
            }
            if TcpStream::connect(self.addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Error::Timeout {
            process: name.to_owned(),
            what: "listening".to_owned(),
            waited: START_TIMEOUT,
            context: String::new(),
        })
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
