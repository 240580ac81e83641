//! Database round trips per IMAP command on the MongoDB + Redis deployment, over a real IMAP
//! server on TCP, and the daily download limit of FETCH (`idw:<user>`).
//!
//! MongoDB commands are counted by the store's command monitor ([`MongoStore::command_counts`]);
//! Redis commands with Redis's `MONITOR`, which sees every client of the server, which is why the
//! tests of this file run one at a time. Targets (issue 4; WildDuck 1.50 on the same test server: 5, 5,
//! 10, 6, 607): SELECT ≤ 3, FETCH 1:* FLAGS ≤ 2, UID FETCH BODY[] of an unseen message ≤ 3, STORE
//! on 100 messages ≤ 4, COPY of 100 ≤ 10.
//!
//! A command that changes the mailbox also notifies the user's sessions, its own included; that
//! session then reads the journal once (one `find journal`) on its next command, or on this one
//! when the notification arrives first. That read is reported separately ("refresh") and
//! bounded to one per command.

mod selected_support;

use std::collections::BTreeMap;
use std::time::Duration;

use selected_support::{Client, PASS, connect, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wildduck_core::bus::redis::RedisBus;
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::mongo::MongoStore;
use wildduck_imap::ImapConfig;

/// Redis counts are server-wide: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Services on a fresh MongoDB database and the harness's Redis (notifier, counters, locks).
async fn services() -> (Services, MongoStore, RedisBus) {
    let url = wildduck_test_support::mongodb_url().await;
    let store = MongoStore::connect(&url, &wildduck_test_support::unique_db_name())
        .await
        .expect("connect mongo");
    store.ensure_indexes(None).await.expect("indexes");
    let bus = RedisBus::connect(&wildduck_test_support::redis_url().await)
        .await
        .expect("redis");
    let services = Services::new(
        store.backend(),
        Some(bus.notifier.clone()),
        ServiceConfig {
            bcrypt_cost: 4,
            ..Default::default()
        },
    )
    .with_locks(bus.locks.clone())
    .with_counters(bus.counters.clone());
    (services, store, bus)
}

fn mail(n: usize) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.com>\r\nTo: counter@example.com\r\nSubject: message {n}\r\n\
         Message-ID: <rt{n}@example.com>\r\nDate: Tue, 1 Oct 2024 10:00:00 +0000\r\n\r\n\
         Hello,\r\nthis is message number {n}.\r\n"
    )
    .into_bytes()
}

async fn seed(services: &Services, username: &str, messages: usize) {
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
    for n in 0..messages {
        let raw = mail(n);
        services
            .append(
                user.id,
                inbox.id,
                AppendRequest {
                    raw: &raw,
                    ..Default::default()
                },
            )
            .await
            .expect("append");
    }
}

/// Commands clients send to the harness's Redis while it is watched, as `command → calls`:
/// `MONITOR` shows each command a client sends (commands a Lua script runs are marked `lua` and
/// not counted: they are part of one `EVALSHA`). Read over a plain socket, since the adapter's
/// tests use no Redis client library.
struct RedisMonitor {
    stream: TcpStream,
}

fn redis_addr(url: &str) -> String {
    let rest = url.strip_prefix("redis://").unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_string()
}

impl RedisMonitor {
    async fn start(addr: &str) -> Self {
        let mut stream = TcpStream::connect(addr).await.expect("redis monitor");
        stream.write_all(b"MONITOR\r\n").await.expect("write");
        let mut ok = [0u8; 5];
        stream.read_exact(&mut ok).await.expect("read");
        assert_eq!(&ok, b"+OK\r\n");
        Self { stream }
    }

    async fn finish(mut self) -> BTreeMap<String, u64> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), self.stream.read(&mut chunk)).await
        {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let mut out = BTreeMap::new();
        for line in String::from_utf8_lossy(&buf).lines() {
            // `+1700000000.123456 [0 127.0.0.1:40000] "evalsha" "…" …`
            let Some((client, rest)) = line.split_once("] ") else {
                continue;
            };
            if client.contains("lua") {
                continue;
            }
            let command = rest.split('"').nth(1).unwrap_or("?").to_ascii_lowercase();
            *out.entry(command).or_insert(0) += 1;
        }
        out
    }
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// What one IMAP command cost.
#[derive(Debug)]
struct Cost {
    /// MongoDB commands of the command itself (journal refresh reads excluded).
    own: u64,
    /// Journal refresh reads in the command or on the next one (its own notification).
    refresh: u64,
    /// Redis commands sent by clients.
    redis: u64,
    detail: BTreeMap<String, u64>,
    redis_detail: BTreeMap<String, u64>,
    answer: String,
}

/// The session's journal read (a large read continues with `getMore`).
fn refresh_reads(d: &BTreeMap<String, u64>) -> u64 {
    ["find journal", "getMore journal"]
        .iter()
        .map(|k| d.get(*k).copied().unwrap_or(0))
        .sum()
}

/// Runs `command` on a settled session and counts what it sends to MongoDB and Redis.
async fn measure(c: &mut Client, store: &MongoStore, redis: &str, command: &str) -> Cost {
    // Settle: earlier notifications arrive and are read on a NOOP outside the window.
    c.run("NOOP").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.run("NOOP").await;
    let m0 = store.command_counts();
    let monitor = RedisMonitor::start(redis).await;
    let a = c.run(command).await;
    assert!(a.ends_with_ok(), "{command}: {}", a.tagged);
    // Anything the command started in the background (notification delivery) lands now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m1 = store.command_counts();
    let redis_detail = monitor.finish().await;
    let n = c.run("NOOP").await;
    assert!(n.ends_with_ok());
    let m2 = store.command_counts();
    let detail = delta(&m0, &m1);
    let later = delta(&m1, &m2);
    let total: u64 = detail.values().sum();
    let refresh_now = refresh_reads(&detail);
    Cost {
        own: total - refresh_now,
        refresh: refresh_now + refresh_reads(&later),
        redis: redis_detail.values().sum(),
        detail,
        redis_detail,
        answer: a.text(),
    }
}

fn report(name: &str, cost: &Cost, wildduck: u64, target: u64) {
    println!(
        "{name:<32} mongo {:>2} (+{} refresh)  redis {:>2}  WildDuck {wildduck:>3}  target ≤ {target}   {:?} {:?}",
        cost.own, cost.refresh, cost.redis, cost.detail, cost.redis_detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_commands_per_imap_command() {
    let _serial = SERIAL.lock().await;
    let (services, store, _bus) = services().await;
    let redis = redis_addr(&wildduck_test_support::redis_url().await);
    seed(&services, "counter", 120).await;
    let user = services.authenticate("counter", PASS).await.expect("login");
    services
        .create_mailbox(user.id, "Archive")
        .await
        .expect("archive");
    let server = start(
        &services,
        ImapConfig {
            ignore_starttls: true,
            ..ImapConfig::default()
        },
    )
    .await;
    let mut c = connect(server.addr).await;
    let r = c.run(&format!("LOGIN counter {PASS}")).await;
    assert!(r.ends_with_ok(), "{}", r.text());

    let select = measure(&mut c, &store, &redis, "SELECT INBOX").await;
    assert!(select.answer.contains("* 120 EXISTS"), "{}", select.answer);
    report("SELECT INBOX (120 messages)", &select, 5, 3);

    let flags = measure(&mut c, &store, &redis, "FETCH 1:* (FLAGS)").await;
    assert_eq!(flags.answer.matches(" FETCH (FLAGS ()").count(), 120);
    report("FETCH 1:* (FLAGS)", &flags, 5, 2);

    let body = measure(&mut c, &store, &redis, "UID FETCH 7 (BODY[])").await;
    assert!(
        body.answer.contains("this is message number 6.") && body.answer.contains("FLAGS (\\Seen)"),
        "{}",
        body.answer
    );
    report("UID FETCH n BODY[] (unseen)", &body, 10, 3);

    let again = measure(&mut c, &store, &redis, "UID FETCH 7 (BODY[])").await;
    assert!(again.answer.contains("this is message number 6."));
    report("UID FETCH n BODY[] (seen)", &again, 10, 2);

    let store_100 = measure(&mut c, &store, &redis, "STORE 1:100 +FLAGS (\\Flagged)").await;
    assert_eq!(store_100.answer.matches("\\Flagged").count(), 100);
    report("STORE 1:100 +FLAGS", &store_100, 6, 4);

    let copy = measure(&mut c, &store, &redis, "COPY 1:100 Archive").await;
    assert!(copy.answer.contains("[COPYUID "), "{}", copy.answer);
    report("COPY 1:100 (100 messages)", &copy, 607, 10);

    // The copies really exist, with their flags, and the quota counts them.
    let archive = services
        .find_mailbox(user.id, "Archive")
        .await
        .expect("archive");
    let copied = services
        .fetch_meta(user.id, &archive, &Default::default())
        .await
        .expect("meta");
    assert_eq!(copied.len(), 100);
    assert!(
        copied
            .iter()
            .all(|m| m.flags.to_strings().contains(&"\\Flagged".to_string()))
    );
    let sizes: u64 = services
        .fetch_meta(
            user.id,
            &services
                .find_mailbox(user.id, "INBOX")
                .await
                .expect("inbox"),
            &Default::default(),
        )
        .await
        .expect("meta")
        .iter()
        .chain(copied.iter())
        .map(|m| m.size)
        .sum();
    let used = services.get_user(user.id).await.expect("user").storage_used;
    assert_eq!(used, i64::try_from(sizes).expect("size"), "quota exact");

    let targets = [
        ("SELECT", &select, 3),
        ("FETCH 1:* FLAGS", &flags, 2),
        ("UID FETCH BODY[] (unseen)", &body, 3),
        // Already seen: the same findAndModify matches and changes nothing.
        ("UID FETCH BODY[] (seen)", &again, 2),
        ("STORE on 100", &store_100, 4),
        ("COPY of 100", &copy, 10),
    ];
    for (name, cost, target) in targets {
        assert!(
            cost.own <= target,
            "{name}: {} MongoDB commands, target {target}: {:?}",
            cost.own,
            cost.detail
        );
        assert!(cost.refresh <= 1, "{name}: {} journal reads", cost.refresh);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sessions_see_changes_made_with_fewer_round_trips() {
    let _serial = SERIAL.lock().await;
    let (services, _store, _bus) = services().await;
    seed(&services, "watcher", 3).await;
    let server = start(
        &services,
        ImapConfig {
            ignore_starttls: true,
            ..ImapConfig::default()
        },
    )
    .await;
    let mut a = selected_support::session(server.addr, "watcher", "INBOX").await;
    let mut b = selected_support::session(server.addr, "watcher", "INBOX").await;
    let before = a.run("UID FETCH 1:* (MODSEQ)").await.text();
    // B reads message 2 (implicit \Seen), then flags 1 and 3.
    let r = b.run("UID FETCH 2 (BODY[])").await;
    assert!(r.text().contains("FLAGS (\\Seen)"), "{}", r.text());
    let r = b.run("UID STORE 1,3 +FLAGS (\\Answered)").await;
    assert!(r.ends_with_ok());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A learns every change from the journal, with a MODSEQ above what it saw before.
    let r = a.run("NOOP").await;
    let t = r.text();
    assert!(
        t.contains("FETCH (FLAGS (\\Seen) UID 2"),
        "implicit \\Seen not journaled: {t}"
    );
    assert!(t.contains("FETCH (FLAGS (\\Answered) UID 1"), "{t}");
    assert!(t.contains("FETCH (FLAGS (\\Answered) UID 3"), "{t}");
    let after = a.run("UID FETCH 1:* (MODSEQ)").await.text();
    assert_ne!(before, after);
    let modseq = |text: &str, uid: u32| -> u64 {
        let number_after = |l: &str, key: &str| -> Option<u64> {
            let rest = l.split(key).nth(1)?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        text.lines()
            .find(|l| number_after(l, "UID ") == Some(u64::from(uid)))
            .and_then(|l| number_after(l, "MODSEQ ("))
            .unwrap_or(0)
    };
    assert!(modseq(&after, 2) > modseq(&before, 2), "{before}\n{after}");
    assert!(modseq(&after, 1) > modseq(&after, 2), "{after}");
    assert_eq!(modseq(&after, 1), modseq(&after, 3));
    // Nothing else moved: message 2 is still unflagged apart from \Seen.
    let r = a.run("UID FETCH 2 (FLAGS)").await;
    assert!(r.text().contains("FLAGS (\\Seen)"), "{}", r.text());
}

/// The daily IMAP download limit (`idw:<user>`): FETCHes work under it, every response byte is
/// counted, and once it is reached FETCH answers WildDuck's `NO [TEMPFAIL]` and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_stops_at_the_daily_download_limit() {
    let _serial = SERIAL.lock().await;
    let (services, _store, _bus) = services().await;
    seed(&services, "downloader", 3).await;
    seed(&services, "bigreader", 3).await;
    // A per-user `imapMaxDownload` overrides the server's default.
    let mut big = services
        .authenticate("bigreader", PASS)
        .await
        .expect("login");
    big.limits.imap_max_download = Some(1_000_000);
    let users = &services.backend().users;
    assert!(users.delete_user(big.id).await.expect("delete"));
    users.insert_user(&big).await.expect("insert");

    let limit = 600u64;
    let server = start(
        &services,
        ImapConfig {
            ignore_starttls: true,
            max_download: limit,
            ..ImapConfig::default()
        },
    )
    .await;
    let user = services
        .authenticate("downloader", PASS)
        .await
        .expect("login");
    let inbox = services
        .find_mailbox(user.id, "INBOX")
        .await
        .expect("inbox");
    let mut c = selected_support::session(server.addr, "downloader", "INBOX").await;

    // Under the limit: each FETCH works; the counter holds exactly the bytes sent.
    let mut sent = 0u64;
    for uid in 1..=3 {
        let a = c.run(&format!("UID FETCH {uid} (BODY.PEEK[])")).await;
        assert!(a.ends_with_ok(), "{}", a.text());
        assert!(a.text().contains(&format!("message number {}.", uid - 1)));
        sent += (a.raw.len() - a.tagged.len()) as u64;
    }
    assert!(sent > limit, "the three bodies pass the limit: {sent}");
    let key = format!("idw:{}", user.id);
    assert_eq!(
        services.counters().get(&key).await.expect("counter"),
        Some(i64::try_from(sent).expect("bytes"))
    );

    // Over it: NO [TEMPFAIL] with WildDuck's text, for every FETCH, and nothing is sent.
    let a = c.run("UID FETCH 3 (BODY[])").await;
    assert!(
        a.tagged
            .contains(" NO [TEMPFAIL] Download was rate limited. Try again in "),
        "{}",
        a.text()
    );
    assert!(
        a.tagged.trim_end().ends_with("hours.") || a.tagged.trim_end().ends_with("day."),
        "{}",
        a.tagged
    );
    assert_eq!(a.raw.len(), a.tagged.len(), "no FETCH data: {}", a.text());
    let a = c.run("FETCH 1:* (FLAGS)").await;
    assert!(a.tagged.contains(" NO [TEMPFAIL] "), "{}", a.text());
    // Nothing else changed: no implicit \Seen, the counter did not move, other commands work.
    let metas = services
        .fetch_meta(user.id, &inbox, &Default::default())
        .await
        .expect("meta");
    assert!(metas.iter().all(|m| m.flags.is_empty()), "{metas:?}");
    assert_eq!(
        services.counters().get(&key).await.expect("counter"),
        Some(i64::try_from(sent).expect("bytes"))
    );
    let a = c.run("UID STORE 1 +FLAGS (\\Flagged)").await;
    assert!(a.ends_with_ok(), "{}", a.text());
    let a = c.run("UID SEARCH FLAGGED").await;
    assert!(a.text().contains("* SEARCH 1\r\n"), "{}", a.text());

    // Another user with a higher limit of their own is not held back.
    let mut b = selected_support::session(server.addr, "bigreader", "INBOX").await;
    for _ in 0..3 {
        let a = b.run("FETCH 1:3 (BODY.PEEK[])").await;
        assert!(a.ends_with_ok(), "{}", a.text());
    }
}
