//! The `wildduck` binary as a child process with a temporary config: every listener answers, TLS
//! works with the generated certificate, bad configurations fail naming the key, SIGTERM closes
//! sessions with a goodbye, and `wildduck user add` creates a user the daemon then serves.

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

const BIN: &str = env!("CARGO_BIN_EXE_wildduck");

/// A config with every service on loopback port 0 (the daemon prints the chosen ports), cheap
/// bcrypt, and a short grace time; `extra` is appended (later tables win nothing: it must only
/// add keys not set here).
fn config(dir: &Path, extra: &str) -> PathBuf {
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
struct Daemon {
    child: Child,
    lines: Vec<String>,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path) -> Self {
        Self::start_with(Command::new(BIN).arg("--config").arg(config), config)
    }

    /// Starts the daemon; its logs (stderr) go to `<config dir>/daemon-<n>.log`.
    fn start_with(cmd: &mut Command, config: &Path) -> Self {
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
    fn addrs(&self, protocol: &str, mode: &str) -> Vec<SocketAddr> {
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

    fn addr(&self, protocol: &str, mode: &str) -> SocketAddr {
        let a = self.addrs(protocol, mode);
        assert_eq!(a.len(), 1, "{protocol} {mode} in {:?}", self.lines);
        a[0]
    }

    fn line(&self, prefix: &str) -> &str {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {:?}", self.lines))
    }

    fn sigterm(&self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits for the exit (bounded) and returns whether it was successful.
    fn wait(mut self, within: Duration) -> bool {
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

async fn read_line<S: AsyncRead + Unpin>(r: &mut tokio::io::BufReader<S>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
        .await
        .expect("answer in time")
        .expect("read");
    line
}

async fn send<S: AsyncWrite + AsyncRead + Unpin>(r: &mut tokio::io::BufReader<S>, data: &str) {
    r.get_mut().write_all(data.as_bytes()).await.expect("write");
}

fn connector(cert: &Path) -> tokio_rustls::TlsConnector {
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

async fn tls(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> tokio::io::BufReader<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let s = connector
        .connect(name, tcp)
        .await
        .expect("TLS handshake trusting the generated certificate");
    tokio::io::BufReader::new(s)
}

async fn plain(addr: SocketAddr) -> tokio::io::BufReader<TcpStream> {
    tokio::io::BufReader::new(TcpStream::connect(addr).await.expect("connect"))
}

/// One HTTP/1.1 request; returns (status line, body).
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (String, String) {
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

#[tokio::test]
async fn every_listener_answers_and_tls_uses_the_generated_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(&config(dir.path(), ""));
    let cert = PathBuf::from(d.line("tls: self-signed certificate "));
    assert!(cert.starts_with(dir.path()), "{}", cert.display());
    assert!(d.line("storage: ").starts_with("embedded SQLite at "));
    let tlsc = connector(&cert);

    // POP3: implicit TLS and plaintext with STLS.
    let mut p = tls(&tlsc, d.addr("pop3", "TLS")).await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    let mut pp = plain(d.addr("pop3", "plain+STLS")).await;
    assert!(read_line(&mut pp).await.starts_with("+OK"));
    send(&mut pp, "CAPA\r\n").await;
    let mut caps = Vec::new();
    loop {
        let l = read_line(&mut pp).await;
        if l == ".\r\n" || l.is_empty() {
            break;
        }
        caps.push(l);
    }
    assert!(caps.iter().any(|c| c == "STLS\r\n"), "{caps:?}");

    // IMAP: implicit TLS and plaintext with STARTTLS.
    let mut i = tls(&tlsc, d.addr("imap", "TLS")).await;
    assert!(read_line(&mut i).await.starts_with("* OK"));
    let mut ip = plain(d.addr("imap", "plain+STARTTLS")).await;
    assert!(read_line(&mut ip).await.starts_with("* OK"));
    send(&mut ip, "a CAPABILITY\r\n").await;
    assert!(read_line(&mut ip).await.contains("STARTTLS"));

    // HTTP: health, a user through the API (the printed hint's route), metrics.
    let api = d.addr("http", "plain");
    let (status, body) = http(api, "GET", "/health", "").await;
    assert!(status.contains(" 200 "), "{status} {body}");
    assert!(body.contains("\"success\":true"), "{body}");
    let hint = d.line("create a first user: ");
    assert!(hint.contains(&format!("http://{api}/users")), "{hint}");
    let (status, body) = http(
        api,
        "POST",
        "/users",
        r#"{"username":"alice","password":"change-me","address":"alice@example.com"}"#,
    )
    .await;
    assert!(status.contains(" 200 "), "{status} {body}");

    // The new user logs in over POP3 with TLS.
    send(&mut p, "USER alice\r\n").await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    send(&mut p, "PASS change-me\r\n").await;
    let l = read_line(&mut p).await;
    assert!(l.starts_with("+OK"), "{l}");
    send(&mut p, "QUIT\r\n").await;
    assert!(read_line(&mut p).await.starts_with("+OK"));

    let (status, metrics) = http(api, "GET", "/metrics", "").await;
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        metrics.contains("wildduck_connections_total{protocol=\"pop3\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wildduck_connections_total{protocol=\"imap\"}"),
        "{metrics}"
    );

    // JSON logs; lines logged inside a connection carry its session span (id, protocol, peer).
    let logs = std::fs::read_to_string(&d.log).expect("logs");
    let in_session: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"name\":\"session\"") && l.contains("\"protocol\":\"pop3\""))
        .collect();
    assert!(!in_session.is_empty(), "{logs}");
    assert!(
        in_session
            .iter()
            .all(|l| l.starts_with('{') && l.contains("\"id\":\"")),
        "{in_session:?}"
    );

    drop((p, pp, i, ip));
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)), "clean exit");
}

#[tokio::test]
async fn sigterm_says_goodbye_to_open_sessions_and_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(&config(dir.path(), ""));
    let mut pop = plain(d.addr("pop3", "plain+STLS")).await;
    assert!(read_line(&mut pop).await.starts_with("+OK"));
    let mut imap = plain(d.addr("imap", "plain+STARTTLS")).await;
    assert!(read_line(&mut imap).await.starts_with("* OK"));
    let started = Instant::now();
    d.sigterm();
    let bye = read_line(&mut pop).await;
    assert!(bye.starts_with("-ERR [SYS/TEMP]"), "POP3 goodbye: {bye:?}");
    let bye = read_line(&mut imap).await;
    assert!(bye.starts_with("* BYE"), "IMAP goodbye: {bye:?}");
    // Both sessions are closed by the server.
    assert_eq!(read_line(&mut pop).await, "");
    assert_eq!(read_line(&mut imap).await, "");
    assert!(d.wait(Duration::from_secs(10)), "clean exit");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Runs the daemon expecting a start-up failure; returns stderr.
fn fails(config: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run wildduck");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "should fail: {stderr}");
    // Never half-started: nothing was announced as listening.
    assert!(!stdout.contains("listening:"), "{stdout}");
    stderr
}

#[tokio::test]
async fn invalid_configuration_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = config(dir.path(), "");
    let text = std::fs::read_to_string(&base).expect("read");
    let variant = |name: &str, from: &str, to: &str| -> PathBuf {
        assert!(text.contains(from), "{from}");
        let p = dir.path().join(name);
        std::fs::write(&p, text.replacen(from, to, 1)).expect("write");
        p
    };

    let e = fails(
        &variant("unknown.toml", "[pop3]\n", "[pop3]\nprot = 1\n"),
        &[],
    );
    assert!(e.contains("pop3.prot"), "{e}");

    let e = fails(
        &variant(
            "port.toml",
            "[imap]\nhost = \"127.0.0.1\"\nport = 0",
            "[imap]\nhost = \"127.0.0.1\"\nport = 70000",
        ),
        &[],
    );
    assert!(e.contains("imap.port"), "{e}");

    let e = fails(&base, &[("WILDDUCK_POP3__PORT", "\"pop\"")]);
    assert!(e.contains("pop3.port"), "{e}");

    let e = fails(&base, &[("WILDDUCK_POP3__PROT", "1")]);
    assert!(e.contains("WILDDUCK_POP3__PROT"), "{e}");

    let e = fails(
        &variant(
            "cert.toml",
            "[log]\n",
            "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n[log]\n",
        ),
        &[],
    );
    assert!(
        e.contains("tls.cert") && e.contains("/nonexistent/cert.pem"),
        "{e}"
    );

    // A port already taken: the error names the key, and no other listener was left serving.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let e = fails(
        &variant(
            "taken.toml",
            "[pop3]\nhost = \"127.0.0.1\"\nport = 0",
            &format!("[pop3]\nhost = \"127.0.0.1\"\nport = {port}"),
        ),
        &[],
    );
    assert!(e.contains("pop3.port"), "{e}");

    // Unreachable MongoDB: fails within the selection timeout, naming the URL.
    let started = Instant::now();
    let e = fails(
        &variant(
            "mongo.toml",
            "[log]\n",
            "[dbs]\nmongo = \"mongodb://127.0.0.1:9/wd\"\nredis = \"redis://127.0.0.1:9/3\"\n[log]\n",
        ),
        &[],
    );
    assert!(
        e.contains("dbs.mongo") && e.contains("mongodb://127.0.0.1:9/wd"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn user_add_cli_and_the_certificate_kept_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without the API the hint is the CLI.
    let cfg = config(dir.path(), "enabled = false");
    let d = Daemon::start(&cfg);
    let cert = PathBuf::from(d.line("tls: self-signed certificate "));
    let first = std::fs::read(&cert).expect("cert");
    assert!(d.line("create a first user").contains("user add"));
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)));

    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args([
            "user",
            "add",
            "--username",
            "bob",
            "--address",
            "bob@example.com",
        ])
        .env("WILDDUCK_USER_PASSWORD", "hunter22")
        .output()
        .expect("user add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user bob"));

    let d = Daemon::start(&cfg);
    assert_eq!(PathBuf::from(d.line("tls: self-signed certificate ")), cert);
    assert_eq!(
        std::fs::read(&cert).expect("cert"),
        first,
        "certificate kept"
    );
    let mut p = tls(&connector(&cert), d.addr("pop3", "TLS")).await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    send(&mut p, "USER bob\r\nPASS hunter22\r\n").await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    let l = read_line(&mut p).await;
    assert!(l.starts_with("+OK"), "{l}");
    // A second user add while the daemon holds the embedded database fails clearly.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args([
            "user",
            "add",
            "--username",
            "carol",
            "--password",
            "x1234567",
        ])
        .output()
        .expect("user add");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dataDir"));
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)));
}
