//! Shared by the daemon process tests: start the `wildduck` binary with a temp config, read its
//! start-up summary, talk to its listeners.
#![allow(dead_code)]
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _,
};
use tokio::net::TcpStream;

pub const BIN: &str = env!("CARGO_BIN_EXE_wildduck");

/// A config with every service on loopback port 0 (the daemon prints the chosen ports), cheap
/// bcrypt, and a short grace time; `extra` is appended (later tables win nothing: it must only
/// add keys not set here).
pub fn config(dir: &Path, extra: &str) -> PathBuf {
    let text = format!(
        r#"dataDir = "{data}"
bcryptCost = 4
shutdownTimeout = 3

[log]
level = "info,wildduck=debug"
format = "json"

[imap]
host = "127.0.0.1"
port = 0
secure = true
[[imap.listeners]]
host = "127.0.0.1"
port = 0
secure = false

[pop3]
host = "127.0.0.1"
port = 0
secure = true
[[pop3.listeners]]
host = "127.0.0.1"
port = 0
secure = false

[api]
port = 0
{extra}
"#,
        data = dir.join("data").display()
    );
    let path = dir.join("wildduck.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// A running daemon and what it printed at start-up.
pub struct Daemon {
    pub child: Child,
    pub lines: Vec<String>,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(config: &Path) -> Self {
        Self::start_with(Command::new(BIN).arg("--config").arg(config), config)
    }

    /// Starts the daemon; its logs (stderr) go to `<config dir>/daemon-<n>.log`.
    pub fn start_with(cmd: &mut Command, config: &Path) -> Self {
        let dir = config.parent().expect("config dir");
        let log = (0..)
            .map(|n| dir.join(format!("daemon-{n}.log")))
            .find(|p| !p.exists())
            .expect("log name");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn wildduck");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        // The summary ends with the first-user hint.
        while !lines
            .last()
            .is_some_and(|l: &String| l.starts_with("create a first user"))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => lines.push(l),
                Err(_) => {
                    let _ = child.kill();
                    let logs = std::fs::read_to_string(&log).unwrap_or_default();
                    panic!("daemon did not finish starting; printed {lines:?}; logs:\n{logs}");
                }
            }
        }
        Self { child, lines, log }
    }

    /// Addresses of the listeners of `protocol` in `mode` (`TLS`, `plain+STLS`, …).
    pub fn addrs(&self, protocol: &str, mode: &str) -> Vec<SocketAddr> {
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix("listening: "))
            .filter_map(|l| {
                let (p, rest) = l.split_once(" on ")?;
                let (addr, m) = rest.split_once(' ')?;
                (p == protocol && m == format!("({mode})")).then(|| addr.parse().ok())?
            })
            .collect()
    }

    pub fn addr(&self, protocol: &str, mode: &str) -> SocketAddr {
        let a = self.addrs(protocol, mode);
        assert_eq!(a.len(), 1, "{protocol} {mode} in {:?}", self.lines);
        a[0]
    }

    pub fn line(&self, prefix: &str) -> &str {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {:?}", self.lines))
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits for the exit (bounded) and returns whether it was successful.
    pub fn wait(mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("daemon did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn read_line<S: AsyncRead + Unpin>(r: &mut tokio::io::BufReader<S>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
        .await
        .expect("answer in time")
        .expect("read");
    line
}

pub async fn send<S: AsyncWrite + AsyncRead + Unpin>(r: &mut tokio::io::BufReader<S>, data: &str) {
    r.get_mut().write_all(data.as_bytes()).await.expect("write");
}

pub fn connector(cert: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("read generated cert") {
        roots.add(c.expect("pem")).expect("add root");
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

pub async fn tls(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> tokio::io::BufReader<tokio_rustls::client::TlsStream<TcpStream>> {
    tls_named(connector, addr, "localhost").await
}

/// A TLS connection sending `name` as SNI (and checking the certificate against it).
pub async fn tls_named(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    name: &str,
) -> tokio::io::BufReader<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from(name.to_string()).expect("name");
    let s = connector
        .connect(name, tcp)
        .await
        .expect("TLS handshake trusting the expected certificate");
    tokio::io::BufReader::new(s)
}

pub async fn plain(addr: SocketAddr) -> tokio::io::BufReader<TcpStream> {
    tokio::io::BufReader::new(TcpStream::connect(addr).await.expect("connect"))
}

/// One HTTP/1.1 request; returns (status line, body).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect http");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .expect("http answer in time")
        .expect("read");
    let status = out.lines().next().unwrap_or_default().to_string();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
