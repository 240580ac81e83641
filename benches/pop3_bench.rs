//! POP3 sessions per second: 200 sessions of USER/PASS/STAT/UIDL/RETR×10/QUIT against our server
//! on the embedded (SQLite) backend, or against any POP3 server (Dovecot, for comparison).
//! Prints figures; not a test.
//!
//! Run ours:        `cargo run --release --example pop3_bench`
//! Options:         `-- [--sessions N] [--concurrency C] [--addr HOST:PORT --user U --pass P]`
//!                  `-- --client-process` runs the client in a child process (its own runtime),
//!                  as it is against Dovecot; without it server and client share one runtime;
//!                  each mode also prints the CPU time per session (server, client) from /proc;
//!                  `-- --client-threads N` worker threads of the client's runtime (default 2;
//!                  1 = a current-thread runtime);
//!                  `-- --write-maildir DIR` writes the same 20 messages as a Maildir and exits;
//!                  `-- --serve SECS` only runs the seeded server (address printed).
//! Against Dovecot: `scripts/pop3-bench-dovecot.sh` (a throwaway Dovecot in a temp dir).
//!
//! Both sides store the password as bcrypt cost 4 (`$2b$04$`/`{BLF-CRYPT}$2y$04$`), so each login
//! pays the same hash check.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wildduck::core::model::Flags;
use wildduck::core::service::messages::AppendRequest;
use wildduck::core::service::users::NewUser;
use wildduck::core::service::{ServiceConfig, Services};
use wildduck::core::store::sqlite::SqliteStore;
use wildduck::pop3::net::{Listener, ListenerConfig, Shutdown};
use wildduck::pop3::{Pop3Config, Pop3Server};

const MESSAGES: usize = 20;

/// 20 messages of 1–8 KiB with dotted lines, deterministic.
fn messages() -> Vec<Vec<u8>> {
    (0..MESSAGES)
        .map(|i| {
            let mut m = format!(
                "From: sender{i}@example.com\r\nTo: bench@example.com\r\nSubject: bench {i}\r\n\
                 Message-ID: <bench{i}@example.com>\r\nDate: Mon, 1 Jan 2024 00:00:{:02} +0000\r\n\r\n",
                i % 60
            );
            let lines = 16 + (i * 97) % 100;
            for l in 0..lines {
                if l % 10 == 0 {
                    m.push_str(".a line starting with a dot\r\n");
                }
                m.push_str(&format!("line {l} of message {i}: lorem ipsum dolor sit amet\r\n"));
            }
            m.into_bytes()
        })
        .collect()
}

#[derive(Clone)]
struct Args {
    sessions: usize,
    concurrency: usize,
    addr: Option<SocketAddr>,
    user: String,
    pass: String,
    write_maildir: Option<String>,
    serve_secs: Option<u64>,
    client_process: bool,
    client_threads: usize,
    label: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        sessions: 200,
        concurrency: 4,
        addr: None,
        user: "bench".into(),
        pass: "benchpass".into(),
        write_maildir: None,
        serve_secs: None,
        client_process: false,
        client_threads: 2,
        label: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--sessions" => a.sessions = val.parse().unwrap_or(a.sessions),
            "--concurrency" => a.concurrency = val.parse().unwrap_or(a.concurrency).max(1),
            "--addr" => a.addr = val.parse().ok(),
            "--user" => a.user = val,
            "--pass" => a.pass = val,
            "--write-maildir" => a.write_maildir = Some(val),
            "--serve" => a.serve_secs = val.parse().ok(),
            "--client-threads" => a.client_threads = val.parse().unwrap_or(2).max(1),
            "--label" => a.label = Some(val),
            "--client-process" => {
                a.client_process = true;
                // A flag: no value follows.
                i += 1;
                continue;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

/// One client session; returns the bytes of the ten RETR answers. Every answer is checked:
/// `+OK`, STAT's count against UIDL's lines, and each RETR body (dot-stuffing undone) against
/// the octet count its status line announced.
async fn session(addr: SocketAddr, user: &str, pass: &str) -> std::io::Result<usize> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    read_until(&mut s, &mut buf, b"\r\n").await?;
    let mut retr_bytes = 0;
    // Each command goes out in one write, as real clients send it (two writes would cost a
    // segment and a server wake-up more per command, on either server).
    let mut line = Vec::with_capacity(64);
    let mut cmd = async |s: &mut TcpStream, buf: &mut Vec<u8>, c: &str, multi: bool| {
        line.clear();
        line.extend_from_slice(c.as_bytes());
        line.extend_from_slice(b"\r\n");
        s.write_all(&line).await?;
        buf.clear();
        read_until(s, buf, b"\r\n").await?;
        if !buf.starts_with(b"+OK") {
            return Err(bad(c, buf));
        }
        if multi {
            read_until(s, buf, b"\r\n.\r\n").await?;
        }
        Ok::<usize, std::io::Error>(buf.len())
    };
    cmd(&mut s, &mut buf, &format!("USER {user}"), false).await?;
    cmd(&mut s, &mut buf, &format!("PASS {pass}"), false).await?;
    cmd(&mut s, &mut buf, "STAT", false).await?;
    let count = status_number(&buf).ok_or_else(|| bad("STAT", &buf))?;
    cmd(&mut s, &mut buf, "UIDL", true).await?;
    // Status line, one line per message, the terminating dot line.
    if buf.iter().filter(|&&b| b == b'\n').count() != count + 2 {
        return Err(bad("UIDL", &buf));
    }
    for n in 1..=10 {
        let c = format!("RETR {n}");
        retr_bytes += cmd(&mut s, &mut buf, &c, true).await?;
        let octets = status_number(&buf).ok_or_else(|| bad(&c, &buf))?;
        if unstuffed_len(&buf) != Some(octets) {
            return Err(bad(&c, &buf));
        }
    }
    cmd(&mut s, &mut buf, "QUIT", false).await?;
    Ok(retr_bytes)
}

fn bad(c: &str, answer: &[u8]) -> std::io::Error {
    let end = answer.len().min(200);
    std::io::Error::other(format!(
        "{c}: unexpected answer {}",
        String::from_utf8_lossy(answer.get(..end).unwrap_or_default())
    ))
}

/// The first number after `+OK ` (STAT's count, RETR's octets).
fn status_number(answer: &[u8]) -> Option<usize> {
    let rest = answer.strip_prefix(b"+OK ")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(rest.get(..digits)?).ok()?.parse().ok()
}

/// The length of a multi-line answer's body: after the status line, before the `.` line, with
/// the doubled dots at line starts counted once.
fn unstuffed_len(answer: &[u8]) -> Option<usize> {
    let start = memchr_nl(answer)? + 1;
    let body = answer.get(start..answer.len().checked_sub(3)?)?;
    let stuffed = body
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.starts_with(b".."))
        .count();
    Some(body.len() - stuffed)
}

fn memchr_nl(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

/// Reads into `buf` until it ends with `end`.
async fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, end: &[u8]) -> std::io::Result<()> {
    while !buf.ends_with(end) {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(16 * 1024);
        }
        if s.read_buf(buf).await? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
    }
    Ok(())
}

async fn run_clients(addr: SocketAddr, a: &Args) -> (Duration, usize) {
    // One warm-up session (connection set-up, caches).
    session(addr, &a.user, &a.pass)
        .await
        .expect("warm-up session");
    let started = Instant::now();
    let per = a.sessions.div_ceil(a.concurrency);
    let mut tasks = Vec::new();
    for w in 0..a.concurrency {
        let (user, pass) = (a.user.clone(), a.pass.clone());
        let n = per.min(a.sessions.saturating_sub(w * per));
        tasks.push(tokio::spawn(async move {
            let mut bytes = 0;
            for _ in 0..n {
                bytes += session(addr, &user, &pass).await.expect("session");
            }
            bytes
        }));
    }
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await.expect("worker");
    }
    (started.elapsed(), bytes)
}

fn report(label: &str, a: &Args, elapsed: Duration, bytes: usize) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{label}: {} sessions (USER/PASS/STAT/UIDL/RETR x10/QUIT), concurrency {}, {:.2} s → {:.0} sessions/s, {:.1} MB/s of RETR",
        a.sessions,
        a.concurrency,
        secs,
        a.sessions as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (Linux; `None`
/// elsewhere). Unlike sessions/s it hardly moves when other programs load the machine.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name's closing parenthesis start at field 3 (state); utime and
    // stime are fields 14 and 15, in USER_HZ ticks (100 per second on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Prints the CPU this process used between `before` and now per session.
fn report_cpu(what: &str, before: Option<Duration>, sessions: usize) {
    if let (Some(b), Some(a)) = (before, process_cpu()) {
        let ms = a.saturating_sub(b).as_secs_f64() * 1000.0 / sessions.max(1) as f64;
        println!("{what}: {ms:.2} ms CPU per session");
    }
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    let mut b = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.enable_all().build().expect("runtime")
}

fn main() {
    let a = args();
    if let Some(dir) = &a.write_maildir {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(format!("{dir}/{sub}")).expect("maildir");
        }
        for (i, m) in messages().iter().enumerate() {
            // Maildir holds LF line endings; the POP3 server sends CRLF (same bytes on the wire).
            let lf: Vec<u8> = String::from_utf8_lossy(m)
                .replace("\r\n", "\n")
                .into_bytes();
            std::fs::write(
                format!("{dir}/cur/{}.M{i}P1.bench:2,", 1_700_000_000 + i),
                lf,
            )
            .expect("write");
        }
        return;
    }
    if let Some(addr) = a.addr {
        let before = process_cpu();
        let (elapsed, bytes) = runtime(a.client_threads).block_on(run_clients(addr, &a));
        let label = a
            .label
            .clone()
            .unwrap_or_else(|| format!("external server {addr}"));
        report(&label, &a, elapsed, bytes);
        report_cpu("client", before, a.sessions);
        return;
    }
    // The server's runtime: tokio's default multi-thread runtime (one worker per core).
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(serve_and_run(a));
}

/// Runs the client in a child process (this binary with `--addr`), as against Dovecot.
fn client_process(addr: SocketAddr, a: &Args) {
    let exe = std::env::current_exe().expect("current exe");
    let status = std::process::Command::new(exe)
        .args([
            "--addr",
            &addr.to_string(),
            "--user",
            &a.user,
            "--pass",
            &a.pass,
        ])
        .args(["--sessions", &a.sessions.to_string()])
        .args(["--concurrency", &a.concurrency.to_string()])
        .args(["--client-threads", &a.client_threads.to_string()])
        .args(["--label", "wildduck-pop3 (SQLite), client process"])
        .status()
        .expect("client process");
    assert!(status.success(), "client process failed: {status}");
}

async fn serve_and_run(a: Args) {
    let dir = std::env::temp_dir().join(format!("pop3-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(dir.join("mail.db")).await.expect("open");
    let services = Services::new(
        store.backend(),
        None,
        ServiceConfig {
            bcrypt_cost: 4,
            ..Default::default()
        },
    );
    let user = services
        .create_user(NewUser {
            username: a.user.clone(),
            password: Some(a.pass.clone()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = services
        .find_mailbox(user.id, "INBOX")
        .await
        .expect("inbox");
    for raw in messages() {
        services
            .append(
                user.id,
                inbox.id,
                AppendRequest {
                    raw: &raw,
                    flags: Flags::new(),
                    ..Default::default()
                },
            )
            .await
            .expect("append");
    }
    let listener = Listener::bind(ListenerConfig::plain("127.0.0.1:0".parse().expect("addr")))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let server = tokio::spawn(
        Pop3Server::new(services.clone(), Pop3Config::default()).serve(listener, shutdown.signal()),
    );
    if let Some(secs) = a.serve_secs {
        // Serve only, for driving the server with another client.
        println!("serving on {addr} for {secs} s");
        tokio::time::sleep(Duration::from_secs(secs)).await;
    } else if a.client_process {
        let a2 = a.clone();
        let before = process_cpu();
        tokio::task::spawn_blocking(move || client_process(addr, &a2))
            .await
            .expect("client process");
        report_cpu(
            "wildduck-pop3 server (client not counted)",
            before,
            a.sessions,
        );
    } else {
        let before = process_cpu();
        let (elapsed, bytes) = run_clients(addr, &a).await;
        report("wildduck-pop3 (SQLite)", &a, elapsed, bytes);
        report_cpu(
            "wildduck-pop3 server and client together",
            before,
            a.sessions,
        );
    }
    shutdown.trigger();
    let _ = server.await;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
