//! Memory per idle authenticated IMAP session (issue 4 targets: ≤ 4 KiB on plain connections,
//! ≤ 16 KiB with TLS).
//!
//! Starts the server on the embedded (SQLite) backend, then a python3 client process opens N
//! connections that each LOGIN, SELECT INBOX and stay idle (with `--idle`: then enter IDLE and
//! wait there); the server process's RSS growth divided by N is printed. With `--tls` the listener
//! is implicit TLS (rustls, a self-signed certificate made in-process) and the clients connect
//! with python's `ssl`. The clients live in another process so their memory is not counted.
//!
//! ```text
//! ulimit -n 20000; cargo run --release -p wildduck-imap --example idle_memory -- 10000 [--idle] [--tls]
//! ```

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_imap::net::{CertResolver, Listener, ListenerConfig, Shutdown, TlsMode};
use wildduck_imap::{ImapConfig, ImapServer};

const CLIENT: &str = r#"
import socket, ssl, sys, time
port, n, idle, tls = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
socks = []
def until(s, done):
    buf = b""
    while not any(done(l) for l in buf.split(b"\r\n")):
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed: %r" % buf)
        buf += chunk
def cmd(s, line, tag):
    s.sendall(line)
    until(s, lambda l: l.startswith(tag + b" "))
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if tls:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    until(s, lambda l: l.startswith(b"* OK"))
    cmd(s, b"a LOGIN idler secretpass\r\n", b"a")
    cmd(s, b"b SELECT INBOX\r\n", b"b")
    if idle:
        s.sendall(b"c IDLE\r\n")
        until(s, lambda l: l.startswith(b"+"))
    socks.append(s)
print("ready", flush=True)
sys.stdin.readline()
"#;

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1000);
    let idle = args.iter().any(|a| a == "--idle");
    let tls = args.iter().any(|a| a == "--tls");
    let dir = tempfile::tempdir()?;
    let store = wildduck_core::store::sqlite::SqliteStore::open(dir.path().join("m.db")).await?;
    let notifier: std::sync::Arc<dyn wildduck_core::bus::Notifier> =
        std::sync::Arc::new(wildduck_core::bus::local::LocalNotifier::new());
    let services = Services::new(
        store.backend(),
        Some(notifier),
        ServiceConfig {
            bcrypt_cost: 4,
            ..Default::default()
        },
    );
    services
        .create_user(NewUser {
            username: "idler".into(),
            password: Some("secretpass".into()),
            ..Default::default()
        })
        .await?;
    let mut listener_config = ListenerConfig::plain("127.0.0.1:0".parse()?);
    if tls {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
        let acceptor = CertResolver::from_pem(
            cert.cert.pem().as_bytes(),
            cert.signing_key.serialize_pem().as_bytes(),
        )?
        .acceptor()?;
        listener_config.tls = TlsMode::Implicit(acceptor);
    }
    let listener = Listener::bind(listener_config).await?;
    let port = listener.local_addr()?.port();
    let shutdown = Shutdown::new();
    let config = ImapConfig {
        max_connections: u64::MAX / 2,
        ..ImapConfig::default()
    };
    tokio::spawn(ImapServer::new(services, config).serve(listener, shutdown.signal()));
    // Warm up: one session so lazily built state (pools, caches) is not counted per session.
    let warm = run_clients(port, 1, idle, tls).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib();
    let mut child = run_clients(port, n, idle, tls).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib();
    let what = match (idle, tls) {
        (false, false) => "LOGIN + SELECT, plain",
        (true, false) => "LOGIN + SELECT + IDLE, plain",
        (false, true) => "LOGIN + SELECT, implicit TLS",
        (true, true) => "LOGIN + SELECT + IDLE, implicit TLS",
    };
    println!(
        "{n} idle sessions ({what}): RSS {before} KiB -> {after} KiB, {:.2} KiB per session",
        (after.saturating_sub(before)) as f64 / n as f64
    );
    let _ = child.kill().await;
    drop(warm);
    shutdown.trigger();
    Ok(())
}

async fn run_clients(
    port: u16,
    n: usize,
    idle: bool,
    tls: bool,
) -> Result<tokio::process::Child, Box<dyn std::error::Error>> {
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .arg(port.to_string())
        .arg(n.to_string())
        .arg(flag(idle))
        .arg(flag(tls))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(out).lines();
    while let Some(l) = lines.next_line().await? {
        if l == "ready" {
            break;
        }
    }
    Ok(child)
}
