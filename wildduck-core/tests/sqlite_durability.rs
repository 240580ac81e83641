//! Durability of the embedded backend under a real crash: a child process (this test binary
//! re-executed with `WILDDUCK_DURABILITY_CHILD=<db>`) appends, copies and expunges in a loop through
//! the services, printing every acknowledged change; the parent SIGKILLs it at a random moment,
//! reopens the database and checks that
//!
//! - no acknowledged message is lost (appends and copies are there, acknowledged expunges are gone),
//! - no partial message is visible (every message loads, rebuilds byte for byte, and its blobs exist),
//! - `storageUsed` equals the sum of message sizes, and every blob's reference count and magic sum
//!   match the messages that reference it.
//!
//! Several kill/reopen rounds run on the same file. `harness = false`: `main` is the test.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wildduck_core::message::rebuild::rebuild;
use wildduck_core::model::{Flag, FlagOp, Flags, Uid, UidSet};
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::MessageFilter;
use wildduck_core::store::sqlite::SqliteStore;

const CHILD_ENV: &str = "WILDDUCK_DURABILITY_CHILD";
const ROUNDS: usize = 4;
const USER: &str = "storm";

fn config() -> ServiceConfig {
    ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    }
}

/// The message for `token`: kind 0 plain text (~2 KB), kind 1 with a shared attachment (the same
/// blob in many messages), kind 2 with an attachment of its own.
fn make_message(token: u64) -> Vec<u8> {
    let kind = token % 3;
    let mut m = format!(
        "From: Storm <storm@example.com>\r\nTo: storm@example.com\r\nSubject: storm {token}\r\n\
         Message-ID: <{token}@storm.test>\r\nMIME-Version: 1.0\r\n"
    );
    let text: String = (0..24)
        .map(|i| format!("line {i} of message {token}: the quick brown fox jumps over\r\n"))
        .collect();
    if kind == 0 {
        m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        m.push_str(&text);
        return m.into_bytes();
    }
    let payload: Vec<u8> = if kind == 1 {
        (0..3000u32).map(|i| (i % 251) as u8).collect()
    } else {
        (0..3000u64)
            .map(|i| (i.wrapping_mul(token).wrapping_add(i / 7) % 256) as u8)
            .collect()
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&payload);
    m.push_str("Content-Type: multipart/mixed; boundary=\"sb\"\r\n\r\n--sb\r\n");
    m.push_str("Content-Type: text/plain\r\n\r\n");
    m.push_str(&text);
    m.push_str("--sb\r\nContent-Type: application/octet-stream\r\n");
    m.push_str("Content-Disposition: attachment; filename=\"data.bin\"\r\n");
    m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    for line in b64.as_bytes().chunks(76) {
        m.push_str(std::str::from_utf8(line).unwrap_or(""));
        m.push_str("\r\n");
    }
    m.push_str("--sb--\r\n");
    m.into_bytes()
}

fn token_of(subject: &str) -> Option<u64> {
    subject.strip_prefix("storm ")?.parse().ok()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var(CHILD_ENV) {
        Ok(db) => rt.block_on(child(Path::new(&db))),
        Err(_) => {
            rt.block_on(parent());
            println!("sqlite_durability: ok");
        }
    }
}

/// The storm: runs until killed. Each line is printed only after the change was acknowledged.
async fn child(db: &Path) {
    let store = SqliteStore::open(db).await.expect("child open");
    let s = Services::new(store.backend(), None, config());
    let user = match s.resolve_user(USER).await {
        Ok(u) => u,
        Err(_) => s
            .create_user(NewUser {
                username: USER.into(),
                ..Default::default()
            })
            .await
            .expect("user"),
    };
    let inbox = s.find_mailbox(user.id, "INBOX").await.expect("inbox");
    let trash = s.find_mailbox(user.id, "Trash").await.expect("trash");
    let mut token: u64 = rand::random::<u32>().into();
    let mut recent: Vec<Uid> = Vec::new();
    println!("READY");
    loop {
        token += 1;
        let raw = make_message(token);
        let a = s
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
        println!("A {} {}", a.uid.0, token);
        recent.push(a.uid);
        let roll: u8 = rand::random();
        if roll.is_multiple_of(4) && recent.len() >= 2 {
            let set: UidSet = recent.iter().rev().take(2).copied().collect();
            let c = s
                .copy_messages(user.id, &inbox, &set, trash.id, None)
                .await
                .expect("copy");
            for p in c.uids {
                println!("C {} {}", p.source.0, p.target.0);
            }
        }
        if roll.is_multiple_of(3)
            && let Some(victim) = recent.first().copied()
        {
            recent.remove(0);
            // Announced before it starts: a kill after its commit but before "X" may remove it.
            println!("E {}", victim.0);
            let set = UidSet::range(victim.0, victim.0);
            let del = FlagOp::Add(Flags::parse(["\\Deleted"]).expect("flag"));
            s.store_flags(user.id, &inbox, &set, &del, None, None)
                .await
                .expect("flag");
            let x = s
                .expunge(user.id, &inbox, Some(&set), None)
                .await
                .expect("expunge");
            for u in x.uids {
                println!("X {}", u.0);
            }
        }
    }
}

#[derive(Default)]
struct Acked {
    /// INBOX UID → token, for acknowledged appends not acknowledged as expunged.
    inbox: HashMap<u32, u64>,
    /// Acknowledged expunges.
    expunged: BTreeSet<u32>,
    /// Expunges started (acknowledged or not): these may be gone.
    expunging: BTreeSet<u32>,
    /// Trash UID → source INBOX UID of acknowledged copies.
    trash: HashMap<u32, u32>,
    /// Tokens by INBOX UID, kept after expunge (copies keep their content).
    tokens: HashMap<u32, u64>,
}

async fn parent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("storm.db");
    let exe = std::env::current_exe().expect("current exe");
    let mut acked = Acked::default();
    let mut total_lines = 0usize;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, &db)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        // Kill after a random number of acknowledgements (at least a few dozen), mid-storm.
        let kill_after = 40 + usize::from(rand::random::<u8>());
        let deadline = Instant::now() + Duration::from_secs(120);
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = 0usize;
        let mut ready = false;
        while lines < kill_after {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                panic!("round {round}: child stopped or stalled after {lines} lines");
            };
            if line == "READY" {
                ready = true;
                continue;
            }
            record(&mut acked, &line);
            lines += 1;
        }
        assert!(ready, "child never got ready");
        // A random pause so the kill lands anywhere inside the next primitive.
        tokio::time::sleep(Duration::from_micros(u64::from(
            rand::random::<u16>() % 5000,
        )))
        .await;
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(!status.success(), "the child was killed, not finished");
        // Lines already written before the kill were acknowledged too.
        reader.join().expect("reader");
        while let Ok(line) = rx.try_recv() {
            if line != "READY" {
                record(&mut acked, &line);
                lines += 1;
            }
        }
        total_lines += lines;
        verify(&db, &acked, round).await;
    }
    assert!(total_lines >= ROUNDS * 40);
    println!(
        "sqlite_durability: {ROUNDS} kills, {total_lines} acknowledged changes, {} messages in INBOX",
        acked.inbox.len()
    );
}

fn record(acked: &mut Acked, line: &str) {
    let parts: Vec<&str> = line.split(' ').collect();
    let num = |i: usize| -> u64 {
        parts
            .get(i)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad line {line:?}"))
    };
    match parts.first().copied() {
        Some("A") => {
            let uid = num(1) as u32;
            acked.inbox.insert(uid, num(2));
            acked.tokens.insert(uid, num(2));
        }
        Some("C") => {
            acked.trash.insert(num(2) as u32, num(1) as u32);
        }
        Some("E") => {
            acked.expunging.insert(num(1) as u32);
        }
        Some("X") => {
            let uid = num(1) as u32;
            acked.inbox.remove(&uid);
            acked.expunged.insert(uid);
        }
        _ => panic!("unexpected line {line:?}"),
    }
}

async fn verify(db: &Path, acked: &Acked, round: usize) {
    let store = SqliteStore::open(db).await.expect("reopen");
    assert!(
        store.open_report().repaired,
        "round {round}: a killed writer must trigger the repair"
    );
    let s = Services::new(store.backend(), None, config());
    let b = s.backend().clone();
    let user = s.resolve_user(USER).await.expect("user");
    let inbox = s.find_mailbox(user.id, "INBOX").await.expect("inbox");
    let trash = s.find_mailbox(user.id, "Trash").await.expect("trash");

    let inbox_uids: BTreeSet<u32> = b
        .messages
        .list_uids(inbox.id)
        .await
        .expect("uids")
        .iter()
        .map(|u| u.0)
        .collect();
    for uid in acked.inbox.keys() {
        assert!(
            inbox_uids.contains(uid) || acked.expunging.contains(uid),
            "round {round}: acknowledged INBOX UID {uid} lost"
        );
    }
    for uid in &acked.expunged {
        assert!(
            !inbox_uids.contains(uid),
            "round {round}: acknowledged expunge of {uid} undone"
        );
    }
    let trash_uids: BTreeSet<u32> = b
        .messages
        .list_uids(trash.id)
        .await
        .expect("uids")
        .iter()
        .map(|u| u.0)
        .collect();
    for uid in acked.trash.keys() {
        assert!(
            trash_uids.contains(uid),
            "round {round}: acknowledged copy {uid} lost"
        );
    }

    // Every visible message is whole: content loads, blobs exist, bytes are exactly the original.
    let mut sum = 0i64;
    let mut refs: HashMap<String, (i64, i64)> = HashMap::new();
    for mb in [&inbox, &trash] {
        let metas = b
            .messages
            .find_meta(mb.id, &MessageFilter::default())
            .await
            .expect("meta");
        let loaded = b
            .messages
            .load_messages(mb.id, &UidSet::all())
            .await
            .expect("load");
        assert_eq!(
            loaded.len(),
            metas.len(),
            "round {round}: metadata without content"
        );
        for (meta, content) in &loaded {
            sum += meta.size as i64;
            for h in &meta.blobs {
                let e = refs.entry(h.clone()).or_default();
                e.0 += 1;
                e.1 += i64::from(meta.magic);
            }
            let blobs = b.attachments.get_blobs(&meta.blobs).await.expect("blobs");
            let bytes = rebuild(&content.tree, &blobs).unwrap_or_else(|e| {
                panic!("round {round}: UID {} does not rebuild: {e}", meta.uid)
            });
            let token = token_of(&meta.subject)
                .unwrap_or_else(|| panic!("round {round}: odd subject {:?}", meta.subject));
            assert_eq!(
                bytes,
                make_message(token),
                "round {round}: UID {} differs",
                meta.uid
            );
            assert_eq!(bytes.len() as u64, meta.size);
            if mb.id == inbox.id
                && let Some(t) = acked.tokens.get(&meta.uid.0)
            {
                assert_eq!(
                    *t, token,
                    "round {round}: UID {} has another message",
                    meta.uid
                );
            }
            assert!(!meta.flags.contains(&Flag::Deleted) || mb.id == inbox.id);
        }
    }
    // Archived (expunged) messages keep their references until purged; they do not count as
    // storage.
    for a in b.archive.list_archived(user.id).await.expect("archived") {
        for h in &a.meta.blobs {
            let e = refs.entry(h.clone()).or_default();
            e.0 += 1;
            e.1 += i64::from(a.meta.magic);
        }
    }
    let used = s.get_user(user.id).await.expect("user").storage_used;
    assert_eq!(used, sum, "round {round}: storageUsed drifted");
    for (hash, (count, magic)) in &refs {
        let got = b.attachments.blob_refs(hash).await.expect("refs");
        assert_eq!(
            got,
            Some((*count, *magic)),
            "round {round}: blob {hash} reference count"
        );
    }
    println!(
        "round {round}: INBOX {} Trash {} messages, {} blobs, storageUsed {used}",
        inbox_uids.len(),
        trash_uids.len(),
        refs.len()
    );
}
