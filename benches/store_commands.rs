//! Database commands per use case and append throughput on the MongoDB backend, against the test
//! servers the harness starts (or `WILDDUCK_TEST_MONGODB_URL` / `WILDDUCK_TEST_REDIS_URL`).
//! Commands are counted by the driver's command monitor ([`MongoStore::command_count`]); handshakes
//! and monitoring are not counted. Prints figures; not a test.
//!
//! Run: `cargo run --release --example store_commands [-- APPENDS]`

use std::time::Instant;

use wildduck::core::bus::redis::RedisBus;
use wildduck::core::model::{FlagOp, Flags, UidSet};
use wildduck::core::service::messages::AppendRequest;
use wildduck::core::service::users::NewUser;
use wildduck::core::service::{ServiceConfig, Services};
use wildduck::core::store::mongo::MongoStore;

/// WildDuck 1.50 on the same test server (issue 3): append, copy of 100, expunge of 10, flag
/// change on 100, login.
const WILDDUCK: [(&str, u64); 5] = [
    ("append", 17),
    ("copy of 100", 607),
    ("expunge of 10", 77),
    ("flag change on 100", 6),
    ("login", 5),
];

fn mail(n: usize) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.com>\r\nTo: rcpt@example.com\r\nSubject: benchmark {n}\r\n\
         Message-ID: <bench{n}@example.com>\r\nDate: Tue, 1 Oct 2024 10:00:00 +0000\r\n\r\n\
         Hello,\r\nthis is message {n}.\r\n"
    )
    .into_bytes()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let appends: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let mongo = wildduck_test_support::mongodb_url().await;
    let redis = wildduck_test_support::redis_url().await;
    let store = MongoStore::connect(&mongo, &wildduck_test_support::unique_db_name())
        .await
        .expect("mongodb");
    store.ensure_indexes(None).await.expect("indexes");
    let bus = RedisBus::connect(&redis).await.expect("redis");
    let config = ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    };
    let s = Services::new(store.backend(), Some(bus.notifier.clone()), config)
        .with_locks(bus.locks.clone());
    let user = s
        .create_user(NewUser {
            username: "bench".into(),
            password: Some("bench password".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(user.id, "INBOX").await.expect("inbox");
    let archive = s.create_mailbox(user.id, "Archive").await.expect("archive");

    // Appends, one after another: commands for each and the rate.
    let count = |f: u64| store.command_count() - f;
    let before = store.command_count();
    let started = Instant::now();
    for n in 0..appends {
        let raw = mail(n);
        s.append(
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
    let serial = started.elapsed().as_secs_f64();
    let append_cmds = count(before) as f64 / appends as f64;

    // The same number again from 8 concurrent tasks.
    let started = Instant::now();
    let per_task = appends.div_ceil(8);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        let (u, mb) = (user.id, inbox.id);
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let raw = mail(10_000 + t * per_task + i);
                s.append(
                    u,
                    mb,
                    AppendRequest {
                        raw: &raw,
                        ..Default::default()
                    },
                )
                .await
                .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let concurrent = started.elapsed().as_secs_f64();

    let hundred = UidSet::range(1, 100);
    let before = store.command_count();
    let flag_result = s
        .store_flags(
            user.id,
            &inbox,
            &hundred,
            &FlagOp::Add(Flags::parse(["\\Seen"]).expect("flag")),
            None,
            None,
        )
        .await
        .expect("flags");
    let flag_cmds = count(before);
    assert_eq!(flag_result.changed.len(), 100);

    let before = store.command_count();
    let copied = s
        .copy_messages(user.id, &inbox, &hundred, archive.id, None)
        .await
        .expect("copy");
    let copy_cmds = count(before);
    assert_eq!(copied.uids.len(), 100);

    s.store_flags(
        user.id,
        &inbox,
        &UidSet::range(1, 10),
        &FlagOp::Add(Flags::parse(["\\Deleted"]).expect("flag")),
        None,
        None,
    )
    .await
    .expect("flags");
    let before = store.command_count();
    let expunged = s
        .expunge(user.id, &inbox, None, None)
        .await
        .expect("expunge");
    let expunge_cmds = count(before);
    assert_eq!(expunged.uids.len(), 10);

    let before = store.command_count();
    let moved = s
        .move_messages(user.id, &inbox, &UidSet::range(11, 110), archive.id, None)
        .await
        .expect("move");
    let move_cmds = count(before);
    assert_eq!(moved.uids.len(), 100);

    let before = store.command_count();
    let fetched = s
        .fetch_messages(user.id, &archive, &UidSet::range(1, 100))
        .await
        .expect("fetch");
    let fetch_cmds = count(before);
    assert_eq!(fetched.len(), 100);

    let before = store.command_count();
    let who = s
        .authenticate("bench", "bench password")
        .await
        .expect("login");
    let login_cmds = count(before);
    assert_eq!(who.id, user.id);

    println!("MongoDB backend on {mongo}");
    println!(
        "append: {appends} one after another in {serial:.1} s = {:.1} appends/s; \
         {} from 8 tasks in {concurrent:.1} s = {:.1} appends/s",
        appends as f64 / serial,
        per_task * 8,
        (per_task * 8) as f64 / concurrent
    );
    println!("{:<24} {:>8} {:>10}", "use case", "ours", "WildDuck");
    let ours = [
        format!("{append_cmds:.1}"),
        copy_cmds.to_string(),
        expunge_cmds.to_string(),
        flag_cmds.to_string(),
        login_cmds.to_string(),
    ];
    for ((name, wd), o) in WILDDUCK.iter().zip(ours.iter()) {
        println!("{name:<24} {o:>8} {wd:>10}");
    }
    println!("{:<24} {:>8} {:>10}", "move of 100", move_cmds, "-");
    println!(
        "{:<24} {:>8} {:>10}",
        "fetch BODY[] of 100", fetch_cmds, "-"
    );
}
