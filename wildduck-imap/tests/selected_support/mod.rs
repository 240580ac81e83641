//! Harness for the Selected-state tests: services on either backend (SQLite with the in-process
//! notifier, MongoDB + Redis), IMAP servers on loopback ports, a raw client that reads literals,
//! and a seeded user.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wildduck_core::model::User;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_imap::net::{Listener, ListenerConfig, Shutdown};
use wildduck_imap::{ImapConfig, ImapServer};

/// Which storage deployment a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Mongo,
}

/// Services plus whatever must live as long as they do.
pub struct Env {
    pub services: Services,
    pub keep: Arc<dyn std::any::Any + Send + Sync>,
}

fn service_config() -> ServiceConfig {
    ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    }
}

pub async fn env(kind: Kind) -> Env {
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = wildduck_core::store::sqlite::SqliteStore::open(dir.path().join("mail.db"))
                .await
                .expect("open sqlite");
            let notifier: Arc<dyn wildduck_core::bus::Notifier> =
                Arc::new(wildduck_core::bus::local::LocalNotifier::new());
            let services = Services::new(store.backend(), Some(notifier), service_config());
            Env {
                services,
                keep: Arc::new((dir, store)),
            }
        }
        Kind::Mongo => {
            let url = wildduck_test_support::mongodb_url().await;
            let db = wildduck_test_support::unique_db_name();
            mongo_env(&url, &db).await
        }
    }
}

/// Services over an existing MongoDB database with their own Redis connection: two of these on
/// the same database are two instances.
pub async fn mongo_env(url: &str, db: &str) -> Env {
    let store = wildduck_core::store::mongo::MongoStore::connect(url, db)
        .await
        .expect("connect mongo");
    store.ensure_indexes(None).await.expect("indexes");
    let bus =
        wildduck_core::bus::redis::RedisBus::connect(&wildduck_test_support::redis_url().await)
            .await
            .expect("redis");
    let services = Services::new(
        store.backend(),
        Some(bus.notifier.clone()),
        service_config(),
    )
    .with_locks(bus.locks.clone())
    .with_counters(bus.counters.clone());
    Env {
        services,
        keep: Arc::new((store, bus)),
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub fn config() -> ImapConfig {
    ImapConfig {
        ignore_starttls: true,
        ..ImapConfig::default()
    }
}

pub async fn start(services: &Services, config: ImapConfig) -> Server {
    let listener = Listener::bind(ListenerConfig {
        drain_timeout: Duration::from_secs(2),
        ..ListenerConfig::plain("127.0.0.1:0".parse().expect("addr"))
    })
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let server = ImapServer::new(services.clone(), config);
    tokio::spawn(server.serve(listener, shutdown.signal()));
    Server { addr, shutdown }
}

pub const PASS: &str = "secretpass";

pub async fn user(services: &Services, username: &str) -> User {
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

/// Appends through the services (not over IMAP).
#[allow(unused_imports)] // each test binary uses a different part
pub use wildduck_test_support::services::put as append;

/// Three small messages.
pub fn fixtures() -> Vec<Vec<u8>> {
    vec![
        b"From: Carol <carol@example.com>\r\nTo: testuser@example.com\r\nSubject: IMAP append one\r\nDate: Wed, 04 Jun 2025 08:00:00 +0000\r\nMessage-ID: <imap-1@example.com>\r\n\r\nHello from the first message.\r\n".to_vec(),
        b"From: alice@example.org\r\nTo: testuser@example.com\r\nSubject: Report with attachment\r\nMessage-ID: <m2@example.org>\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b1\r\nContent-Type: application/octet-stream; name=report.bin\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=report.bin\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\nOTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\r\n--b1--\r\n".to_vec(),
        b"From: dave@example.com\r\nTo: testuser@example.com\r\nSubject: Third\r\nMessage-ID: <m3@example.com>\r\n\r\nthird body\r\nline two\r\n".to_vec(),
    ]
}

pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            (
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    out.sort();
    out
}

/// A raw IMAP client: lines and literals.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    tag: u32,
}

pub async fn connect(addr: SocketAddr) -> Client {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let mut c = Client {
        stream,
        buf: Vec::new(),
        tag: 0,
    };
    let greeting = c.line().await;
    assert!(greeting.starts_with("* OK "), "{greeting}");
    c
}

/// Connects, logs in and selects `mailbox`.
pub async fn session(addr: SocketAddr, username: &str, mailbox: &str) -> Client {
    let mut c = connect(addr).await;
    let r = c.run(&format!("LOGIN {username} {PASS}")).await;
    assert!(r.ends_with_ok(), "{}", r.text());
    let r = c.run(&format!("SELECT {mailbox}")).await;
    assert!(r.ends_with_ok(), "{}", r.text());
    c
}

/// Everything a command produced, as raw bytes, with the tagged line last.
pub struct Answer {
    pub raw: Vec<u8>,
    pub tagged: String,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
    pub fn ends_with_ok(&self) -> bool {
        self.tagged.split(' ').nth(1) == Some("OK")
    }
    /// The untagged lines (literal contents included in their line).
    pub fn untagged(&self) -> Vec<String> {
        let t = self.text();
        let body = t.strip_suffix(&self.tagged).unwrap_or(&t).to_string();
        body.split("\r\n* ")
            .map(|s| {
                s.trim_start_matches("* ")
                    .trim_end_matches("\r\n")
                    .to_string()
            })
            .filter(|s| !s.is_empty())
            .collect()
    }
}

impl Client {
    pub async fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).await.expect("write");
    }

    async fn fill(&mut self, wait: Duration) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Ok(_) => false,
            Err(_) => panic!(
                "no answer within {wait:?}; have {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// One line with its CRLF (a literal inside it is read whole); empty at EOF.
    pub async fn line(&mut self) -> String {
        String::from_utf8_lossy(&self.raw_line(Duration::from_secs(10)).await).into_owned()
    }

    /// One protocol line as bytes, including any literals it announces.
    pub async fn raw_line(&mut self, wait: Duration) -> Vec<u8> {
        let mut from = 0usize;
        loop {
            if let Some(i) = self
                .buf
                .get(from..)
                .and_then(|b| b.iter().position(|b| *b == b'\n'))
            {
                let end = from + i + 1;
                if let Some(n) = literal_len(&self.buf[..end]) {
                    while self.buf.len() < end + n {
                        if !self.fill(wait).await {
                            return self.buf.drain(..).collect();
                        }
                    }
                    from = end + n;
                    continue;
                }
                return self.buf.drain(..end).collect();
            }
            if !self.fill(wait).await {
                return self.buf.drain(..).collect();
            }
        }
    }

    /// Sends `tag command` and reads up to the tagged line.
    pub async fn run(&mut self, command: &str) -> Answer {
        self.run_raw(command.as_bytes()).await
    }

    pub async fn run_raw(&mut self, command: &[u8]) -> Answer {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        let mut line = tag.as_bytes().to_vec();
        line.push(b' ');
        line.extend_from_slice(command);
        line.extend_from_slice(b"\r\n");
        self.send(&line).await;
        self.until_tagged(&tag).await
    }

    pub fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    pub async fn until_tagged(&mut self, tag: &str) -> Answer {
        let mut raw = Vec::new();
        loop {
            let l = self.raw_line(Duration::from_secs(20)).await;
            assert!(
                !l.is_empty(),
                "connection closed; got {:?}",
                String::from_utf8_lossy(&raw)
            );
            raw.extend_from_slice(&l);
            if l.starts_with(format!("{tag} ").as_bytes()) {
                return Answer {
                    tagged: String::from_utf8_lossy(&l).into_owned(),
                    raw,
                };
            }
        }
    }

    /// Reads one line within `wait`, or `None` when nothing arrives.
    pub async fn line_within(&mut self, wait: Duration) -> Option<String> {
        match tokio::time::timeout(wait, self.raw_line(Duration::from_secs(3600))).await {
            Ok(l) => Some(String::from_utf8_lossy(&l).into_owned()),
            Err(_) => None,
        }
    }
}

/// `n` when `line` ends with `{n}\r\n` (or `{n+}`).
fn literal_len(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"\r\n")?;
    let l = l.strip_suffix(b"}")?;
    let open = l.iter().rposition(|b| *b == b'{')?;
    let digits = std::str::from_utf8(&l[open + 1..]).ok()?;
    digits.trim_end_matches('+').parse().ok()
}

/// The literal payloads of an answer, in order.
pub fn literals(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < raw.len() {
        let Some(nl) = raw[i..].iter().position(|b| *b == b'\n') else {
            break;
        };
        let end = i + nl + 1;
        if let Some(n) = literal_len(&raw[..end]) {
            out.push(raw[end..(end + n).min(raw.len())].to_vec());
            i = end + n;
        } else {
            i = end;
        }
    }
    out
}
