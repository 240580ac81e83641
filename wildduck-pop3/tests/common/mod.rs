//! Test harness: services on either backend, a POP3 server on a loopback port, a raw line client,
//! and a seeded mailbox.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use wildduck_core::model::{Flags, User};
use wildduck_core::service::Services;
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_net::{Listener, ListenerConfig, Shutdown, TlsMode};
use wildduck_pop3::{Pop3Config, Pop3Server};

#[allow(unused_imports)] // each test binary uses a different part
pub use wildduck_test_support::services::{BOTH, Kind, env};

/// A running server.
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

pub async fn start(services: &Services, config: Pop3Config, tls: TlsMode) -> Server {
    let listener = Listener::bind(ListenerConfig {
        tls,
        idle_timeout: Duration::from_secs(5),
        drain_timeout: Duration::from_secs(2),
        ..ListenerConfig::plain("127.0.0.1:0".parse().unwrap())
    })
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let server = Pop3Server::new(services.clone(), config);
    let task = tokio::spawn(server.serve(listener, shutdown.signal()));
    Server {
        addr,
        shutdown,
        task,
    }
}

pub const USER: &str = "popuser";
pub const PASS: &str = "secretpass";

/// Three messages like the reference run's: a plain one, one whose lines start with dots, one
/// without a final newline.
pub fn fixtures() -> Vec<Vec<u8>> {
    vec![
        b"From: a@example.com\r\nTo: popuser@example.com\r\nSubject: first\r\nMessage-ID: <m1@example.com>\r\n\r\nHello\r\nWorld\r\n".to_vec(),
        b"From: b@example.com\r\nTo: popuser@example.com\r\nSubject: dots\r\nMessage-ID: <m2@example.com>\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nline 4\r\nline 5\r\n".to_vec(),
        b"From: c@example.com\r\nTo: popuser@example.com\r\nSubject: third\r\nMessage-ID: <m3@example.com>\r\n\r\nno final newline".to_vec(),
    ]
}

pub async fn seed(services: &Services, username: &str, messages: &[Vec<u8>]) -> User {
    let user = services
        .create_user(NewUser {
            username: username.into(),
            password: Some(PASS.into()),
            address: Some(format!("{username}@example.com")),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = services
        .find_mailbox(user.id, "INBOX")
        .await
        .expect("inbox");
    for raw in messages {
        services
            .append(
                user.id,
                inbox.id,
                AppendRequest {
                    raw,
                    flags: Flags::new(),
                    ..Default::default()
                },
            )
            .await
            .expect("append");
    }
    user
}

/// A line client over any stream.
pub struct Client<S> {
    pub stream: S,
    buf: Vec<u8>,
}

pub async fn connect(addr: SocketAddr) -> Client<TcpStream> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    Client::new(stream)
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
            "unread data left: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.stream
    }

    pub async fn send(&mut self, data: &str) {
        self.stream.write_all(data.as_bytes()).await.expect("write");
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
            .await
            .expect("server answered in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// One line with its CRLF; empty string at EOF.
    pub async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            if !self.fill().await {
                let rest: Vec<u8> = self.buf.drain(..).collect();
                return String::from_utf8_lossy(&rest).into_owned();
            }
        }
    }

    /// Sends a command and returns its one-line answer.
    pub async fn cmd(&mut self, c: &str) -> String {
        self.send(&format!("{c}\r\n")).await;
        self.line().await
    }

    /// Reads a multi-line body up to the terminating dot line; returns the raw (still stuffed)
    /// bytes without the terminator.
    pub async fn multiline_raw(&mut self) -> Vec<u8> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n.\r\n") {
                let body: Vec<u8> = self.buf.drain(..i + 5).collect();
                return body[..i + 2].to_vec();
            }
            if self.buf.starts_with(b".\r\n") {
                self.buf.drain(..3);
                return Vec::new();
            }
            assert!(
                self.fill().await,
                "connection closed inside a multi-line answer"
            );
        }
    }

    /// A multi-line body, un-stuffed.
    pub async fn multiline(&mut self) -> Vec<u8> {
        unstuff(&self.multiline_raw().await)
    }

    /// Reads until EOF (the server closed).
    pub async fn rest(&mut self) -> String {
        while self.fill().await {}
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }
}

pub fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

pub fn unstuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut start = true;
    for &b in body {
        if start && b == b'.' {
            start = false;
            continue;
        }
        start = b == b'\n';
        out.push(b);
    }
    out
}

/// The message as RETR must deliver it: CRLF added when missing.
pub fn retr_form(raw: &[u8]) -> Vec<u8> {
    let mut v = raw.to_vec();
    if !v.ends_with(b"\n") {
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Logs in with USER/PASS and checks the answer.
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(c: &mut Client<S>, user: &str) -> String {
    assert_eq!(c.cmd(&format!("USER {user}")).await, "+OK send PASS\r\n");
    let a = c.cmd(&format!("PASS {PASS}")).await;
    assert!(a.starts_with("+OK maildrop has "), "{a}");
    a
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
