//! Two service instances in one process, each with its own MongoDB and Redis connections to the
//! same real servers (started by the test harness), behaving as two WildDuck processes would.
#![cfg(feature = "scale-out")]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wildduck_core::bus::redis::RedisBus;
use wildduck_core::bus::{BusEvent, Notifier};
use wildduck_core::model::{JournalCommand, ModSeq, Uid};
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::mongo::MongoStore;

struct Instance {
    services: Services,
    notifier: Arc<dyn Notifier>,
    store: MongoStore,
}

async fn instance(mongo: &str, db: &str, redis: &str) -> Instance {
    let store = MongoStore::connect(mongo, db).await.expect("mongodb");
    let bus = RedisBus::connect(redis).await.expect("redis");
    let notifier: Arc<dyn Notifier> = bus.notifier.clone();
    let config = ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    };
    let services =
        Services::new(store.backend(), Some(notifier.clone()), config).with_locks(bus.locks);
    Instance {
        services,
        notifier,
        store,
    }
}

async fn pair() -> (Instance, Instance) {
    let mongo = wildduck_test_support::mongodb_url().await;
    let redis = wildduck_test_support::redis_url().await;
    let db = wildduck_test_support::unique_db_name();
    let a = instance(&mongo, &db, &redis).await;
    let b = instance(&mongo, &db, &redis).await;
    a.store.ensure_indexes(None).await.expect("indexes");
    (a, b)
}

fn mail(n: usize) -> Vec<u8> {
    format!(
        "From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: message {n}\r\n\
         Message-ID: <m{n}@example.com>\r\n\r\n{}\r\n",
        "x".repeat(n % 97)
    )
    .into_bytes()
}

/// An append through A reaches a subscriber on B, which reads the journal through its own
/// connection and finds the new UID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_on_a_is_seen_by_b() {
    let (a, b) = pair().await;
    let u = a
        .services
        .create_user(NewUser {
            username: "multi.notify".into(),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox_on_b = b.services.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let seen_modseq = inbox_on_b.modify_index;
    let mut sub = b.notifier.subscribe();

    let raw = mail(1);
    let appended = a
        .services
        .append(
            u.id,
            inbox_on_b.id,
            AppendRequest {
                raw: &raw,
                session: Some("session-on-a"),
                ..Default::default()
            },
        )
        .await
        .expect("append");

    let event = tokio::time::timeout(Duration::from_secs(5), sub.recv_for(&u.id.to_string()))
        .await
        .expect("notification within 5 s")
        .expect("subscription open");
    match event {
        BusEvent::Notify(n) => assert_eq!(n.user, u.id.to_string()),
        BusEvent::Missed => {} // also means "re-read the journal"
    }
    let entries = b
        .services
        .backend()
        .journal
        .since(inbox_on_b.id, seen_modseq)
        .await
        .expect("journal");
    let exists: Vec<_> = entries
        .iter()
        .filter(|e| e.command == Some(JournalCommand::Exists))
        .collect();
    assert_eq!(exists.len(), 1);
    let e = exists.first().expect("entry");
    assert_eq!(e.uid, Some(appended.uid));
    assert_eq!(e.modseq, appended.modseq);
    assert_eq!(e.ignore.as_deref(), Some("session-on-a"));
    // B's view of the mailbox has it too.
    let uids = b
        .services
        .backend()
        .messages
        .list_uids(inbox_on_b.id)
        .await
        .expect("uids");
    assert_eq!(uids, [appended.uid]);
}

const TASKS: usize = 8;
const PER_TASK: usize = 250;

/// 8 tasks × 250 appends spread over both instances: unique UIDs in allocation order, strictly
/// increasing MODSEQs along the UIDs, and `storageUsed` equal to the sum of sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_from_two_instances() {
    let (a, b) = pair().await;
    let u = a
        .services
        .create_user(NewUser {
            username: "multi.concurrent".into(),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = a.services.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let s = if t % 2 == 0 {
            a.services.clone()
        } else {
            b.services.clone()
        };
        let (user, mailbox) = (u.id, inbox.id);
        handles.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(PER_TASK);
            for i in 0..PER_TASK {
                let raw = mail(t * PER_TASK + i);
                let r = s
                    .append(
                        user,
                        mailbox,
                        AppendRequest {
                            raw: &raw,
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("append");
                out.push((r.uid, r.modseq, r.size));
            }
            out
        }));
    }
    let mut all: Vec<(Uid, ModSeq, u64)> = Vec::new();
    for h in handles {
        let one = h.await.expect("task");
        // Within one task the UIDs and MODSEQs it got only grow.
        assert!(
            one.windows(2)
                .all(|w| matches!(w, [x, y] if x.0 < y.0 && x.1 < y.1))
        );
        all.extend(one);
    }
    let elapsed = started.elapsed();
    let n = TASKS * PER_TASK;
    println!(
        "{n} appends from 2 instances in {:.1} s ({:.0} appends/s)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(all.len(), n);
    let unique: HashSet<Uid> = all.iter().map(|x| x.0).collect();
    assert_eq!(unique.len(), n, "UIDs never repeat");
    all.sort_by_key(|x| x.0);
    assert!(
        all.windows(2).all(|w| matches!(w, [x, y] if x.1 < y.1)),
        "MODSEQ strictly increases along the UIDs"
    );
    assert_eq!(all.first().map(|x| x.0), Some(Uid(1)));
    assert_eq!(all.last().map(|x| x.0), Some(Uid(n as u32)), "no UID lost");
    let total: u64 = all.iter().map(|x| x.2).sum();
    let user = b.services.get_user(u.id).await.expect("user");
    assert_eq!(
        user.storage_used, total as i64,
        "storageUsed == sum of sizes"
    );
    let stored = b
        .services
        .backend()
        .messages
        .list_uids(inbox.id)
        .await
        .expect("uids");
    assert_eq!(stored.len(), n);
    let mb = b.services.get_mailbox(u.id, inbox.id).await.expect("mb");
    assert_eq!(mb.uid_next, Uid(n as u32 + 1));
    assert_eq!(Some(mb.modify_index), all.last().map(|x| x.1));
}
