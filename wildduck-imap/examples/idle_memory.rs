//! Memory per idle authenticated IMAP session (issue 4 target: ≤ 4 KiB on plain connections).
//!
//! Starts the server on the embedded (SQLite) backend, then a python3 client process opens N
//! connections that each LOGIN, SELECT INBOX and stay idle; the server process's RSS growth
//! divided by N is printed. The clients live in another process so their memory is not counted.
//!
//! ```text
//! ulimit -n 65536; cargo run --release -p wildduck-imap --example idle_memory -- 10000
//! ```

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_imap::net::{Listener, ListenerConfig, Shutdown};
use wildduck_imap::{ImapConfig, ImapServer};

const CLIENT: &str = r#"
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
def cmd(s, line, tag):
    s.sendall(line)
    buf = b""
    while not any(l.startswith(tag + b" ") for l in buf.split(b"\r\n")):
        buf += s.recv(65536)
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(4096)
    cmd(s, b"a LOGIN idler secretpass\r\n", b"a")
    cmd(s, b"b SELECT INBOX\r\n", b"b")
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
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
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
    let listener = Listener::bind(ListenerConfig::plain("127.0.0.1:0".parse()?)).await?;
    let port = listener.local_addr()?.port();
    let shutdown = Shutdown::new();
    let config = ImapConfig {
        max_connections: u64::MAX / 2,
        ..ImapConfig::default()
    };
    tokio::spawn(ImapServer::new(services, config).serve(listener, shutdown.signal()));
    // Warm up: one session so lazily built state (pools, caches) is not counted per session.
    run_clients(port, 1).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib();
    let mut child = run_clients(port, n).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib();
    println!(
        "{n} idle sessions (LOGIN + SELECT): RSS {before} KiB -> {after} KiB, {:.2} KiB per session",
        (after.saturating_sub(before)) as f64 / n as f64
    );
    let _ = child.kill().await;
    shutdown.trigger();
    Ok(())
}

async fn run_clients(
    port: u16,
    n: usize,
) -> Result<tokio::process::Child, Box<dyn std::error::Error>> {
    let mut child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .arg(port.to_string())
        .arg(n.to_string())
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
