//! Embedded (SQLite) backend benchmark: appends/s of 2 KB messages through the append use case
//! with durable commits, FETCH FLAGS of 10,000 messages (`find_meta`), and SELECT of a
//! 100,000-message mailbox (`list_uids` + `counts`): time and memory.
//!
//! Run: `cargo run --release --example sqlite_bench [-- <appends> <mailbox size>]`
//! (defaults 2000 and 100000; `SQLITE_BENCH_MMAP_MIB=0` turns the memory map off). Figures are
//! recorded in `docs/benchmarks.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wildduck_core::message::ingest;
use wildduck_core::model::{Flags, MessageId, MessageMeta, Timestamp, UidSet};
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use wildduck_core::store::{MessageFilter, NewMessage};

/// Counts the Rust heap (SQLite allocates its page cache with its own malloc calls, measured
/// through RSS below).
#[global_allocator]
static ALLOC: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

fn message(n: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Bench <bench@example.com>\r\nTo: user@example.com\r\nSubject: bench message {n}\r\n\
         Message-ID: <{n}@bench.test>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    .into_bytes();
    while m.len() < 2048 {
        m.extend_from_slice(b"The quick brown fox jumps over the lazy dog, again and again.\r\n");
    }
    m.truncate(2046);
    m.extend_from_slice(b"\r\n");
    m
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the RSS high-water mark (Linux `clear_refs` 5).
fn reset_hwm() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn services(path: &std::path::Path, sync: Synchronous) -> (SqliteStore, Services) {
    let store = SqliteStore::open_with(
        path,
        SqliteOptions {
            synchronous: sync,
            // `SQLITE_BENCH_MMAP_MIB=0` measures without the memory map.
            mmap_mib: std::env::var("SQLITE_BENCH_MMAP_MIB")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(SqliteOptions::default().mmap_mib),
            ..Default::default()
        },
    )
    .await
    .expect("open");
    let s = Services::new(
        store.backend(),
        None,
        ServiceConfig {
            bcrypt_cost: 4,
            default_quota: u64::MAX / 2,
            ..Default::default()
        },
    );
    (store, s)
}

/// Appends/s, and the writer's average jobs per commit and time per commit (ms).
async fn appends(
    dir: &std::path::Path,
    sync: Synchronous,
    n: usize,
    tasks: usize,
) -> (f64, f64, f64) {
    let path = dir.join(format!("appends-{sync:?}-{tasks}.db"));
    let (store, s) = services(&path, sync).await;
    let user = s
        .create_user(NewUser {
            username: format!("appender{tasks}"),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(user.id, "INBOX").await.expect("inbox");
    let msgs: Arc<Vec<Vec<u8>>> = Arc::new((0..n).map(message).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let before = store.writer_stats();
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (s, msgs, next) = (s.clone(), msgs.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(raw) = msgs.get(i) else { break };
                s.append(
                    user.id,
                    inbox.id,
                    AppendRequest {
                        raw,
                        ..Default::default()
                    },
                )
                .await
                .expect("append");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let secs = started.elapsed().as_secs_f64();
    let after = store.writer_stats();
    let (count, _) = s.backend().messages.counts(inbox.id).await.expect("counts");
    assert_eq!(count as usize, n);
    let batches = after.batches.saturating_sub(before.batches).max(1) as f64;
    let jobs = after.jobs.saturating_sub(before.jobs) as f64;
    let commit = after.commit_time.saturating_sub(before.commit_time);
    (n as f64 / secs, jobs / batches, ms(commit) / batches)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n_appends = args.first().copied().unwrap_or(2000);
    let mailbox_size = args.get(1).copied().unwrap_or(100_000).max(10_000);
    // `SQLITE_BENCH_DIR=<dir>` keeps the databases there (to inspect them afterwards).
    let (_cleanup, dir) = match std::env::var_os("SQLITE_BENCH_DIR") {
        Some(d) => {
            let kept = tempfile::Builder::new()
                .prefix("sqlite-bench-")
                .tempdir_in(d)
                .expect("tempdir")
                .keep();
            (None, kept)
        }
        None => {
            let t = tempfile::tempdir().expect("tempdir");
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    println!("sqlite_bench: {n_appends} appends of 2 KB, mailbox of {mailbox_size} messages");

    for sync in [Synchronous::Full, Synchronous::Normal] {
        for tasks in [1, 8, 32] {
            let (rate, per_batch, commit_ms) = appends(&dir, sync, n_appends, tasks).await;
            println!(
                "append (service, synchronous={sync:?}, {tasks} concurrent): {rate:.0} appends/s \
                 ({per_batch:.1} writes per commit, {commit_ms:.2} ms per commit)"
            );
        }
    }

    // A large mailbox, filled through the batch primitive (the append path is measured above).
    let path = dir.join("big.db");
    let (store, s) = services(&path, Synchronous::Full).await;
    let user = s
        .create_user(NewUser {
            username: "big".into(),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(user.id, "INBOX").await.expect("inbox");
    let b = s.backend().clone();
    let content = Arc::new(ingest(&message(0)).expect("ingest").message);
    let fill = Instant::now();
    let seen = Flags::parse(["\\Seen"]).expect("flags");
    let mut done = 0usize;
    while done < mailbox_size {
        let batch = (mailbox_size - done).min(5000);
        let (first, modseq) = b
            .mailboxes
            .allocate(inbox.id, batch as u32)
            .await
            .expect("allocate")
            .expect("mailbox");
        let new: Vec<NewMessage> = (0..batch)
            .map(|k| {
                let id = MessageId::new();
                NewMessage {
                    meta_data: None,
                    meta: MessageMeta {
                        id,
                        root: id,
                        user: user.id,
                        mailbox: inbox.id,
                        uid: wildduck_core::model::Uid(first.0 + k as u32),
                        modseq,
                        idate: Timestamp::now(),
                        hdate: Timestamp::now(),
                        flags: if (done + k).is_multiple_of(3) {
                            Flags::new()
                        } else {
                            seen.clone()
                        },
                        size: content.size,
                        subject: "bench".into(),
                        ..Default::default()
                    },
                    content: content.clone(),
                }
            })
            .collect();
        b.messages.insert_messages(&new).await.expect("insert");
        done += batch;
    }
    println!(
        "fill: {mailbox_size} messages in {:.1} s (batches of 5000)",
        fill.elapsed().as_secs_f64()
    );
    drop((b, s, store));

    // Reopen: SELECT on a cold page cache first.
    let (_store, s) = services(&path, Synchronous::Full).await;
    let b = s.backend().clone();
    let peak = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(ALLOC.allocated(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(20));
            }
        })
    };
    let heap_before = ALLOC.allocated();
    peak.store(heap_before, Ordering::Relaxed);
    reset_hwm();
    let rss_before = rss_kib("VmRSS:");
    let t = Instant::now();
    let uids = b.messages.list_uids(inbox.id).await.expect("uids");
    let (total, unseen) = b.messages.counts(inbox.id).await.expect("counts");
    let cold = t.elapsed();
    let rss_peak = rss_kib("VmHWM:");
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let heap_peak = peak.load(Ordering::Relaxed).saturating_sub(heap_before);
    let uid_list = uids.capacity() * std::mem::size_of::<wildduck_core::model::Uid>();
    assert_eq!((uids.len(), total as usize), (mailbox_size, mailbox_size));
    drop(uids);
    let mut warm = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let uids = b.messages.list_uids(inbox.id).await.expect("uids");
        let counts = b.messages.counts(inbox.id).await.expect("counts");
        warm.push(t.elapsed());
        assert_eq!((uids.len() as u64, counts.0), (total, total));
    }
    println!(
        "SELECT {mailbox_size} (list_uids + counts): cold {:.1} ms, warm median {:.1} ms; \
         unseen {unseen}",
        ms(cold),
        ms(median(warm))
    );
    println!(
        "SELECT memory: UID list {} KiB; Rust heap peak {} KiB ({} KiB beyond the UID list); \
         RSS peak +{} KiB (includes SQLite's page cache)",
        uid_list / 1024,
        heap_peak / 1024,
        heap_peak.saturating_sub(uid_list) / 1024,
        rss_peak.saturating_sub(rss_before)
    );

    let filter = MessageFilter {
        uids: Some(UidSet::range(1, 10_000)),
        ..Default::default()
    };
    let mut fetch = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let metas = b.messages.find_meta(inbox.id, &filter).await.expect("meta");
        fetch.push(t.elapsed());
        assert_eq!(metas.len(), 10_000);
    }
    let first = fetch.first().copied().unwrap_or_default();
    println!(
        "FETCH FLAGS 10000 (find_meta): first {:.1} ms, median {:.1} ms",
        ms(first),
        ms(median(fetch))
    );
    drop((b, s, _store));

    // Cold SELECT, repeated: each round reopens the store (new connections, empty SQLite page
    // cache). `os_cold` also evicts the file from the OS page cache first (GNU dd's
    // `iflag=nocache`, i.e. POSIX_FADV_DONTNEED on this file only), so pages come from the disk.
    for os_cold in [false, true] {
        let mut uids_t = Vec::new();
        let mut counts_t = Vec::new();
        let mut total_t = Vec::new();
        for _ in 0..5 {
            if os_cold && !evict(&path) {
                println!("cold SELECT from disk: skipped (dd iflag=nocache failed)");
                break;
            }
            let (_store, s) = services(&path, Synchronous::Full).await;
            let b = s.backend().clone();
            let t = Instant::now();
            let uids = b.messages.list_uids(inbox.id).await.expect("uids");
            let t_uids = t.elapsed();
            let (n, _) = b.messages.counts(inbox.id).await.expect("counts");
            let t_total = t.elapsed();
            assert_eq!((uids.len(), n as usize), (mailbox_size, mailbox_size));
            uids_t.push(t_uids);
            counts_t.push(t_total.saturating_sub(t_uids));
            total_t.push(t_total);
        }
        if total_t.is_empty() {
            continue;
        }
        let what = if os_cold {
            "reopened, file evicted from the OS cache"
        } else {
            "reopened, OS cache warm"
        };
        let list = |v: &[Duration]| {
            v.iter()
                .map(|d| format!("{:.1}", ms(*d)))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        println!(
            "cold SELECT {mailbox_size} ({what}), 5 rounds: list_uids + counts {} ms \
             (median {:.1}, max {:.1}); list_uids alone (IMAP SELECT's query) median {:.1} ms, \
             counts median {:.1} ms",
            list(&total_t),
            ms(median(total_t.clone())),
            ms(total_t.iter().max().copied().unwrap_or_default()),
            ms(median(uids_t)),
            ms(median(counts_t)),
        );
    }
}

/// Drops `path` (and its WAL) from the OS page cache; `false` when `dd` is missing or fails.
fn evict(path: &std::path::Path) -> bool {
    let mut ok = true;
    for suffix in ["", "-wal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if !std::path::Path::new(&p).exists() {
            continue;
        }
        let mut arg = std::ffi::OsString::from("if=");
        arg.push(&p);
        ok &= std::process::Command::new("dd")
            .arg(arg)
            .args(["iflag=nocache", "count=0", "status=none"])
            .status()
            .is_ok_and(|s| s.success());
    }
    ok
}
