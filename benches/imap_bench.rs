//! IMAP operations per second: N concurrent clients, each with one persistent session, against our
//! server on the embedded (SQLite) backend or against any IMAP server (Dovecot, for comparison).
//! Prints figures; not a test.
//!
//! Each client logs in once, then repeats until the time is up:
//! `SELECT INBOX`, `FETCH 1:* (FLAGS)`, `FETCH a,b,c (BODY.PEEK[])`, `STORE x:y ±FLAGS (\Seen)`
//! (alternating, so every STORE changes flags), `APPEND` of a 2 KB message (LITERAL+ when offered),
//! `UID STORE <it> +FLAGS.SILENT (\Deleted)`, `UID EXPUNGE <it>`; and logs out. One command is one
//! operation; per-command latency is printed too. Commands are sent one at a time (no pipelining).
//!
//! Run ours:        `cargo run --release --example imap_bench -- --clients 16`
//! Options:         `-- [--clients N] [--secs S] [--messages M] [--store-count K]`
//!                  `-- [--sync full|optimized|normal]` the SQLite commit policy (default full);
//!                  `optimized` is Dovecot's `mail_fsync = optimized` (appends fsynced, flag
//!                  changes and expunges not)
//!                  `-- [--connect HOST:PORT --user U --pass P]`
//!                  `-- --write-maildir DIR` writes the same M messages as a Maildir and exits;
//!                  `-- --serve SECS` only runs the seeded server (address printed), for profiling.
//! Against Dovecot: `scripts/imap-bench-dovecot.sh --clients 16` (a throwaway Dovecot in a temp dir).
//!
//! Both sides store the password as bcrypt cost 4 (`$2b$04$` / `{BLF-CRYPT}$2y$04$`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wildduck::core::model::Flags;
use wildduck::core::service::messages::AppendRequest;
use wildduck::core::service::users::NewUser;
use wildduck::core::service::{ServiceConfig, Services};
use wildduck::core::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use wildduck::imap::net::{Listener, ListenerConfig, Shutdown};
use wildduck::imap::{ImapConfig, ImapServer};

/// The measured commands, in the order a round sends them.
const OPS: [&str; 9] = [
    "LOGIN",
    "SELECT",
    "FETCH FLAGS",
    "FETCH BODY",
    "STORE",
    "APPEND",
    "UID STORE",
    "UID EXPUNGE",
    "LOGOUT",
];
const LOGIN: usize = 0;
const SELECT: usize = 1;
const FETCH_FLAGS: usize = 2;
const FETCH_BODY: usize = 3;
const STORE: usize = 4;
const APPEND: usize = 5;
const UID_STORE: usize = 6;
const UID_EXPUNGE: usize = 7;
const LOGOUT: usize = 8;

/// Message `i` of the seeded mailbox: 1–4 KB, deterministic.
fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: sender{i}@example.com\r\nTo: bench@example.com\r\nSubject: bench message {i}\r\n\
         Message-ID: <seed{i}@example.com>\r\nDate: Mon, 1 Jan 2024 00:{:02}:{:02} +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n",
        (i / 60) % 60,
        i % 60
    );
    let lines = 16 + (i * 37) % 48;
    for l in 0..lines {
        m.push_str(&format!(
            "line {l} of message {i}: lorem ipsum dolor sit amet\r\n"
        ));
    }
    m.into_bytes()
}

/// The message each round appends: exactly 2,048 bytes.
fn append_message(client: usize) -> Vec<u8> {
    let mut m = format!(
        "From: client{client}@example.com\r\nTo: bench@example.com\r\nSubject: appended\r\n\
         Message-ID: <append{client}@example.com>\r\nDate: Mon, 1 Jan 2024 12:00:00 +0000\r\n\r\n"
    )
    .into_bytes();
    let line = b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n";
    while m.len() + line.len() <= 2048 {
        m.extend_from_slice(line);
    }
    while m.len() < 2046 {
        m.push(b'x');
    }
    m.extend_from_slice(b"\r\n");
    m
}

#[derive(Clone)]
struct Args {
    clients: usize,
    secs: u64,
    messages: usize,
    store_count: usize,
    connect: Option<SocketAddr>,
    user: String,
    pass: String,
    write_maildir: Option<String>,
    serve_secs: Option<u64>,
    sync: Synchronous,
}

fn args() -> Args {
    let mut a = Args {
        clients: 4,
        secs: 10,
        messages: 1000,
        store_count: 20,
        connect: None,
        user: "bench".into(),
        pass: "benchpass".into(),
        write_maildir: None,
        serve_secs: None,
        sync: Synchronous::Full,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--clients" => a.clients = val.parse().unwrap_or(a.clients).max(1),
            "--secs" => a.secs = val.parse().unwrap_or(a.secs).max(1),
            "--messages" => a.messages = val.parse().unwrap_or(a.messages).max(10),
            "--store-count" => a.store_count = val.parse().unwrap_or(a.store_count).max(1),
            "--connect" => a.connect = val.parse().ok(),
            "--user" => a.user = val,
            "--pass" => a.pass = val,
            "--write-maildir" => a.write_maildir = Some(val),
            "--serve" => a.serve_secs = val.parse().ok(),
            "--sync" => {
                a.sync = match val.as_str() {
                    "full" => Synchronous::Full,
                    "optimized" => Synchronous::Optimized,
                    "normal" => Synchronous::Normal,
                    other => {
                        eprintln!("--sync takes full, optimized or normal, not {other}");
                        std::process::exit(2);
                    }
                }
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

fn err(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::other(msg.into())
}

/// What a command ended with.
enum Answer {
    /// The tagged completion line (without CRLF).
    Tagged(String),
    /// A `+` continuation request.
    Continue,
}

/// A minimal IMAP client: sends one command, reads untagged lines (skipping literals) up to the
/// tagged completion.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    /// Start of the unread part of `buf`.
    head: usize,
    tag: u32,
    /// The last `* n EXISTS` seen.
    exists: u32,
    literal_plus: bool,
    /// The last `* CAPABILITY` line.
    caps: String,
}

impl Client {
    async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let mut c = Self {
            s,
            buf: Vec::with_capacity(64 * 1024),
            head: 0,
            tag: 0,
            exists: 0,
            literal_plus: false,
            caps: String::new(),
        };
        c.read_answer("*", false).await?;
        Ok(c)
    }

    /// Reads more bytes onto the end of `buf` (positions in it stay valid).
    async fn fill(&mut self) -> std::io::Result<()> {
        let len = self.buf.len();
        self.buf.resize(len + 64 * 1024, 0);
        let n = self.s.read(&mut self.buf[len..]).await;
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(len);
                return Err(e);
            }
        };
        self.buf.truncate(len + n);
        if n == 0 {
            return Err(err("connection closed"));
        }
        Ok(())
    }

    /// Reads logical response lines until one starts with `tag ` (or, for the greeting, `* `), or
    /// a continuation request when `want_continue`. Returns that line without CRLF.
    async fn read_answer(&mut self, tag: &str, want_continue: bool) -> std::io::Result<Answer> {
        loop {
            // Consumed bytes are dropped between logical lines, in large steps (not per line).
            if self.head >= 32 * 1024 {
                self.buf.drain(..self.head);
                self.head = 0;
            }
            // One logical line: physical lines joined by literals.
            let mut scan = self.head;
            let line_end = loop {
                match self.buf[scan..].iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        let eol = scan + i;
                        match literal_len(&self.buf[scan..eol]) {
                            Some(n) => {
                                let after = eol + 1 + n;
                                while self.buf.len() < after {
                                    self.fill().await?;
                                }
                                scan = after;
                            }
                            None => break eol,
                        }
                    }
                    None => self.fill().await?,
                }
            };
            let first_nl = self.buf[self.head..=line_end]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(line_end, |i| self.head + i);
            let first = String::from_utf8_lossy(&self.buf[self.head..first_nl])
                .trim_end()
                .to_string();
            self.head = line_end + 1;
            if let Some(rest) = first.strip_prefix("* ")
                && let Some(n) = rest.strip_suffix(" EXISTS")
                && let Ok(n) = n.parse()
            {
                self.exists = n;
            }
            if first.starts_with("* CAPABILITY ") {
                self.caps = first.to_ascii_uppercase();
            }
            if tag == "*" && first.starts_with("* ") {
                return Ok(Answer::Tagged(first));
            }
            if want_continue && first.starts_with('+') {
                return Ok(Answer::Continue);
            }
            if first.len() > tag.len()
                && first.starts_with(tag)
                && first.as_bytes().get(tag.len()) == Some(&b' ')
            {
                return Ok(Answer::Tagged(first));
            }
        }
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("A{}", self.tag)
    }

    /// Sends `command` and waits for its tagged OK.
    async fn cmd(&mut self, command: &str) -> std::io::Result<String> {
        let tag = self.next_tag();
        self.s
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        match self.read_answer(&tag, false).await? {
            Answer::Tagged(line) if line[tag.len()..].starts_with(" OK") => Ok(line),
            Answer::Tagged(line) => Err(err(format!("{command}: {line}"))),
            Answer::Continue => Err(err(format!("{command}: unexpected continuation"))),
        }
    }

    /// APPENDs `msg` to INBOX; returns the APPENDUID UID.
    async fn append(&mut self, msg: &[u8]) -> std::io::Result<u32> {
        let tag = self.next_tag();
        let plus = if self.literal_plus { "+" } else { "" };
        let head = format!("{tag} APPEND INBOX () {{{}{plus}}}\r\n", msg.len());
        if self.literal_plus {
            let mut all = head.into_bytes();
            all.extend_from_slice(msg);
            all.extend_from_slice(b"\r\n");
            self.s.write_all(&all).await?;
        } else {
            self.s.write_all(head.as_bytes()).await?;
            match self.read_answer(&tag, true).await? {
                Answer::Continue => {}
                Answer::Tagged(line) => return Err(err(format!("APPEND: {line}"))),
            }
            self.s.write_all(msg).await?;
            self.s.write_all(b"\r\n").await?;
        }
        let line = match self.read_answer(&tag, false).await? {
            Answer::Tagged(line) if line[tag.len()..].starts_with(" OK") => line,
            Answer::Tagged(line) => return Err(err(format!("APPEND: {line}"))),
            Answer::Continue => return Err(err("APPEND: second continuation")),
        };
        // `A5 OK [APPENDUID <validity> <uid>] …`
        line.split_once("[APPENDUID ")
            .and_then(|(_, r)| r.split_once(']'))
            .and_then(|(v, _)| v.split_whitespace().nth(1))
            .and_then(|u| u.parse().ok())
            .ok_or_else(|| err(format!("APPEND without APPENDUID: {line}")))
    }
}

/// `{n}` (or `{n+}`) at the end of a physical line (CR and LF already cut or not).
fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Latencies per operation kind, in microseconds.
#[derive(Default)]
struct Stats {
    lat: Vec<Vec<u32>>,
}

impl Stats {
    fn new() -> Self {
        Self {
            lat: vec![Vec::new(); OPS.len()],
        }
    }

    async fn time<T>(
        &mut self,
        op: usize,
        f: impl Future<Output = std::io::Result<T>>,
    ) -> std::io::Result<T> {
        let t = Instant::now();
        let r = f.await;
        let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
        if let Some(v) = self.lat.get_mut(op) {
            v.push(us);
        }
        r
    }

    fn merge(&mut self, other: Stats) {
        for (a, b) in self.lat.iter_mut().zip(other.lat) {
            a.extend(b);
        }
    }

    fn ops(&self) -> usize {
        self.lat.iter().map(Vec::len).sum()
    }
}

/// One persistent session: LOGIN, rounds until `deadline`, LOGOUT.
async fn client(
    addr: SocketAddr,
    a: Arc<Args>,
    id: usize,
    deadline: Instant,
    min_rounds: usize,
) -> std::io::Result<Stats> {
    let mut st = Stats::new();
    let mut c = Client::connect(addr).await?;
    st.time(LOGIN, c.cmd(&format!("LOGIN {} {}", a.user, a.pass)))
        .await?;
    // The capability list may change after login; ask again (not measured).
    c.cmd("CAPABILITY").await?;
    c.literal_plus = c.caps.contains("LITERAL+");
    let msg = append_message(id);
    let mut round = 0usize;
    while round < min_rounds || Instant::now() < deadline {
        st.time(SELECT, c.cmd("SELECT INBOX")).await?;
        // Only seeded messages are addressed: other clients' appends may vanish at any time.
        let n = (c.exists as usize).clamp(1, a.messages);
        st.time(FETCH_FLAGS, c.cmd("FETCH 1:* (FLAGS)")).await?;
        // Three bodies spread over the mailbox, different for every client and round.
        let seqs: Vec<String> = (0..3)
            .map(|k| ((id * 131 + round * 17 + k * 331) % n + 1).to_string())
            .collect();
        st.time(
            FETCH_BODY,
            c.cmd(&format!("FETCH {} (BODY.PEEK[])", seqs.join(","))),
        )
        .await?;
        // `--store-count` messages (20); + and - alternate so each STORE changes something.
        let k = a.store_count.min(n);
        let from = (id * 97 + round * k) % (n - k + 1) + 1;
        let sign = if round.is_multiple_of(2) { '+' } else { '-' };
        st.time(
            STORE,
            c.cmd(&format!(
                "STORE {from}:{} {sign}FLAGS (\\Seen)",
                from + k - 1
            )),
        )
        .await?;
        let uid = st.time(APPEND, c.append(&msg)).await?;
        st.time(
            UID_STORE,
            c.cmd(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)")),
        )
        .await?;
        st.time(UID_EXPUNGE, c.cmd(&format!("UID EXPUNGE {uid}")))
            .await?;
        round += 1;
    }
    // LOGOUT answers `* BYE` then the tagged OK.
    st.time(LOGOUT, c.cmd("LOGOUT")).await?;
    Ok(st)
}

async fn run_clients(addr: SocketAddr, a: &Args) -> std::io::Result<(Duration, Stats)> {
    let a = Arc::new(a.clone());
    // Warm-up (index building on Dovecot's side, caches on ours): two rounds, not counted.
    client(addr, a.clone(), a.clients, Instant::now(), 2).await?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.secs);
    let mut tasks = Vec::new();
    for id in 0..a.clients {
        tasks.push(tokio::spawn(client(addr, a.clone(), id, deadline, 1)));
    }
    let mut all = Stats::new();
    for t in tasks {
        all.merge(t.await.map_err(|e| err(e.to_string()))??);
    }
    Ok((started.elapsed(), all))
}

fn report(label: &str, a: &Args, elapsed: Duration, mut st: Stats) {
    let secs = elapsed.as_secs_f64();
    let ops = st.ops();
    println!(
        "{label}: {} clients, {:.2} s, {ops} commands → {:.0} ops/s ({} rounds)",
        a.clients,
        secs,
        ops as f64 / secs,
        st.lat.get(SELECT).map_or(0, Vec::len)
    );
    println!(
        "  {:<12} {:>8} {:>10} {:>10} {:>10}",
        "command", "count", "mean ms", "p50 ms", "p99 ms"
    );
    for (name, v) in OPS.iter().zip(st.lat.iter_mut()) {
        if v.is_empty() {
            continue;
        }
        v.sort_unstable();
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64 / 1000.0;
        let pct = |p: f64| {
            let i = ((v.len() - 1) as f64 * p).round() as usize;
            f64::from(v.get(i).copied().unwrap_or(0)) / 1000.0
        };
        println!(
            "  {:<12} {:>8} {:>10.3} {:>10.3} {:>10.3}",
            name,
            v.len(),
            mean,
            pct(0.5),
            pct(0.99)
        );
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    if let Some(dir) = &a.write_maildir {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(format!("{dir}/{sub}")).expect("maildir");
        }
        for i in 0..a.messages {
            // Maildir holds LF line endings; the server sends CRLF (same bytes on the wire).
            let lf: Vec<u8> = String::from_utf8_lossy(&message(i))
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
    if let Some(addr) = a.connect {
        match run_clients(addr, &a).await {
            Ok((elapsed, st)) => report(&format!("external server {addr}"), &a, elapsed, st),
            Err(e) => {
                eprintln!("benchmark failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("imap-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open_with(
        dir.join("mail.db"),
        SqliteOptions {
            synchronous: a.sync,
            ..SqliteOptions::default()
        },
    )
    .await
    .expect("open");
    // In-process notifications, so sessions see each other's changes as on a real deployment.
    let notifier: Arc<dyn wildduck::core::bus::Notifier> =
        Arc::new(wildduck::core::bus::local::LocalNotifier::new());
    let services = Services::new(
        store.backend(),
        Some(notifier),
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
    let seeded = Instant::now();
    // Eight appenders share the commits (group commit), in message order per appender.
    let mut seeders = Vec::new();
    for w in 0..8 {
        let services = services.clone();
        let total = a.messages;
        seeders.push(tokio::spawn(async move {
            for i in (w..total).step_by(8) {
                let raw = message(i);
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
        }));
    }
    for s in seeders {
        s.await.expect("seeder");
    }
    eprintln!(
        "seeded {} messages in {:.1} s",
        a.messages,
        seeded.elapsed().as_secs_f64()
    );
    let listener = Listener::bind(ListenerConfig::plain("127.0.0.1:0".parse().expect("addr")))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let config = ImapConfig {
        // Every client is the same user; WildDuck's default of 15 would refuse the rest.
        max_connections: 100_000,
        // WildDuck's flood guard (1,000 SELECTs / EXPUNGEs per connection) would end a
        // persistent session after 1,000 rounds; Dovecot has none.
        max_selects: u32::MAX,
        ..ImapConfig::default()
    };
    let server =
        tokio::spawn(ImapServer::new(services.clone(), config).serve(listener, shutdown.signal()));
    if let Some(secs) = a.serve_secs {
        println!("serving on {addr} for {secs} s");
        tokio::time::sleep(Duration::from_secs(secs)).await;
    } else {
        match run_clients(addr, &a).await {
            Ok((elapsed, st)) => report(
                &format!("wildduck-imap (SQLite, synchronous {:?})", a.sync),
                &a,
                elapsed,
                st,
            ),
            Err(e) => eprintln!("benchmark failed: {e}"),
        }
    }
    shutdown.trigger();
    let _ = server.await;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
