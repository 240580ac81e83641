//! Harness for the session tests: services on either backend, an IMAP server on a loopback port
//! (plain, STARTTLS or implicit TLS with certificates made at test time), a raw line client that
//! understands literals, and a seeded user.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use wildduck_core::model::User;
use wildduck_core::service::Services;
use wildduck_core::service::users::NewUser;
use wildduck_imap::net::{CertResolver, Listener, ListenerConfig, Shutdown, TlsMode};
use wildduck_imap::{ImapConfig, ImapServer};

#[allow(unused_imports)] // each test binary uses a different part
pub use wildduck_test_support::services::{BOTH, Env, Kind};

/// Services on `kind`; SQLite gets the in-process notifier, as the daemon gives it, so IDLE works.
pub async fn env(kind: Kind) -> Env {
    wildduck_test_support::services::env_with(
        kind,
        wildduck_test_support::services::EnvOptions {
            sqlite_notifier: true,
            ..Default::default()
        },
    )
    .await
}

pub struct Server {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// A config for tests: plaintext logins allowed (the plain listener offers no STARTTLS anyway).
pub fn config() -> ImapConfig {
    ImapConfig::default()
}

pub async fn start(services: &Services, config: ImapConfig, tls: TlsMode) -> Server {
    let listener = Listener::bind(ListenerConfig {
        tls,
        drain_timeout: Duration::from_secs(2),
        ..ListenerConfig::plain("127.0.0.1:0".parse().unwrap())
    })
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let server = ImapServer::new(services.clone(), config);
    let task = tokio::spawn(server.serve(listener, shutdown.signal()));
    Server {
        addr,
        shutdown,
        task,
    }
}

pub const PASS: &str = "secretpass";

pub async fn seed(services: &Services, username: &str) -> User {
    services
        .create_user(NewUser {
            username: username.into(),
            password: Some(PASS.into()),
            address: Some(format!("{username}@example.com")),
            ..Default::default()
        })
        .await
        .expect("user")
}

/// TLS material made at test time: an acceptor for the server, a connector trusting it.
pub struct Tls {
    pub acceptor: wildduck_imap::net::TlsAcceptor,
    pub connector: tokio_rustls::TlsConnector,
    /// The certificate (PEM), for clients in other processes.
    pub cert_pem: String,
}

pub fn tls() -> Tls {
    let d = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let r = CertResolver::from_pem(
        d.cert.pem().as_bytes(),
        d.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(d.cert.der().clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Tls {
        acceptor: r.acceptor().unwrap(),
        connector: tokio_rustls::TlsConnector::from(Arc::new(cfg)),
        cert_pem: d.cert.pem(),
    }
}

/// A raw IMAP client.
pub struct Client<S> {
    pub stream: S,
    buf: Vec<u8>,
}

pub async fn connect(addr: SocketAddr) -> Client<TcpStream> {
    Client::new(TcpStream::connect(addr).await.expect("connect"))
}

/// Connects and reads the greeting.
pub async fn connect_greeted(addr: SocketAddr) -> Client<TcpStream> {
    let mut c = connect(addr).await;
    let g = c.line().await;
    assert!(g.starts_with("* OK "), "{g}");
    c
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn into_inner(self) -> S {
        assert!(
            self.buf.is_empty(),
            "unread: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.stream
    }

    pub async fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).await.expect("write");
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(15), self.stream.read(&mut chunk))
            .await
            .expect("server answered in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// One line with CRLF (a `{n}` literal at its end is read into the line too); empty at EOF.
    pub async fn line(&mut self) -> String {
        let mut out = Vec::new();
        loop {
            let Some(i) = self.buf.iter().position(|b| *b == b'\n') else {
                if !self.fill().await {
                    out.append(&mut self.buf);
                    return String::from_utf8_lossy(&out).into_owned();
                }
                continue;
            };
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let lit = literal_len(&line);
            out.extend_from_slice(&line);
            let Some(n) = lit else {
                return String::from_utf8_lossy(&out).into_owned();
            };
            while self.buf.len() < n {
                assert!(self.fill().await, "closed inside a literal");
            }
            out.extend(self.buf.drain(..n));
        }
    }

    /// Sends `tag cmd` and returns every line up to and including the tagged one.
    pub async fn cmd(&mut self, tag: &str, cmd: &str) -> Vec<String> {
        self.send(format!("{tag} {cmd}\r\n").as_bytes()).await;
        self.until_tagged(tag).await
    }

    pub async fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await;
            assert!(!l.is_empty(), "connection closed; got {lines:?}");
            let done = l.starts_with(&format!("{tag} "));
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// Reads until EOF.
    pub async fn rest(&mut self) -> String {
        while self.fill().await {}
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }

    pub async fn login(&mut self, user: &str) {
        let r = self.cmd("L1", &format!("LOGIN {user} {PASS}")).await;
        assert!(
            r.last().unwrap().starts_with("L1 OK"),
            "login failed: {r:?}"
        );
    }
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"\r\n").unwrap_or(line);
    let l = l.strip_suffix(b"}")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&l[open + 1..]).ok()?.parse().ok()
}

/// The tagged (last) line of an answer.
pub fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or("")
}
