//! The SQLite store's commit policies: which writes are fsynced (`synchronous=FULL` at their
//! commit) under `Full`, `Normal` and Dovecot-like `Optimized`, and the narrow flags read.
#![cfg(feature = "embedded")]

use wildduck_core::model::{Flag, FlagOp, Flags, Mailbox, UidSet, User};
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::MessageFilter;
use wildduck_core::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};

const RAW: &[u8] = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: sync\r\n\r\nbody\r\n";

async fn setup(sync: Synchronous) -> (tempfile::TempDir, SqliteStore, Services, User, Mailbox) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_with(
        dir.path().join("mail.db"),
        SqliteOptions {
            synchronous: sync,
            ..SqliteOptions::default()
        },
    )
    .await
    .expect("open");
    let s = Services::new(
        store.backend(),
        None,
        ServiceConfig {
            bcrypt_cost: 4,
            ..Default::default()
        },
    );
    let u = s
        .create_user(NewUser {
            username: "syncer".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    (dir, store, s, u, inbox)
}

async fn append(s: &Services, u: &User, inbox: &Mailbox) -> wildduck_core::model::Uid {
    s.append(
        u.id,
        inbox.id,
        AppendRequest {
            raw: RAW,
            flags: Flags::new(),
            ..Default::default()
        },
    )
    .await
    .expect("append")
    .uid
}

/// Waits until the writer has committed nothing for 100 ms: background writes an earlier call
/// spawned (the correspondents register of an append) must not be counted for the next one.
async fn settle(store: &SqliteStore) {
    let mut last = store.writer_stats().batches;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = store.writer_stats().batches;
        if now == last {
            return;
        }
        last = now;
    }
}

/// (commits, fsynced commits) that `f` caused.
async fn commits<F: std::future::Future<Output = ()>>(store: &SqliteStore, f: F) -> (u64, u64) {
    settle(store).await;
    let before = store.writer_stats();
    f.await;
    let after = store.writer_stats();
    (
        after.batches - before.batches,
        after.full_batches - before.full_batches,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimized_fsyncs_appends_but_not_flag_changes_or_expunges() {
    let (_dir, store, s, u, inbox) = setup(Synchronous::Optimized).await;
    // An append is durable when acknowledged: its commit was fsynced.
    let (n, full) = commits(&store, async {
        append(&s, &u, &inbox).await;
    })
    .await;
    // (A background write the append spawned may land in the window: it is durable too.)
    assert!(
        full >= 1 && full == n,
        "append: fsynced ({n} commits, {full} fsynced)"
    );
    let uid = append(&s, &u, &inbox).await;
    let one = UidSet::range(uid.0, uid.0);
    let deleted: Flags = std::iter::once(Flag::Deleted).collect();
    // A flag change (and its journal entry) commits without a fsync.
    let (n, full) = commits(&store, async {
        let r = s
            .store_flags(u.id, &inbox, &one, &FlagOp::Add(deleted), None, None)
            .await
            .expect("store");
        assert_eq!(r.changed.len(), 1);
    })
    .await;
    assert!(n >= 1, "the flag change committed");
    assert_eq!(full, 0, "no fsync for a flag change");
    // So does an expunge (delete, MODSEQ, quota, journal).
    let (n, full) = commits(&store, async {
        let e = s
            .expunge(u.id, &inbox, Some(&one), None)
            .await
            .expect("expunge");
        assert_eq!(e.uids, vec![uid]);
    })
    .await;
    assert!(n >= 1, "the expunge committed");
    assert_eq!(full, 0, "no fsync for an expunge");
    // The next append is fsynced again, and with it everything committed before.
    let (n, full) = commits(&store, async {
        append(&s, &u, &inbox).await;
    })
    .await;
    assert!(
        full >= 1 && full == n,
        "append after relaxed commits: fsynced ({n} commits, {full} fsynced)"
    );
    let flags = s
        .fetch_flags(u.id, &inbox, &MessageFilter::default())
        .await
        .expect("flags");
    assert_eq!(flags.len(), 2, "the expunged message is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_fsyncs_every_commit_and_normal_none() {
    for (sync, fsynced) in [(Synchronous::Full, true), (Synchronous::Normal, false)] {
        let (_dir, store, s, u, inbox) = setup(sync).await;
        let (n, full) = commits(&store, async {
            let uid = append(&s, &u, &inbox).await;
            let seen: Flags = std::iter::once(Flag::Seen).collect();
            s.store_flags(
                u.id,
                &inbox,
                &UidSet::range(uid.0, uid.0),
                &FlagOp::Add(seen),
                None,
                None,
            )
            .await
            .expect("store");
        })
        .await;
        assert!(n >= 2, "{sync:?}: append and flag change committed");
        assert_eq!(full, if fsynced { n } else { 0 }, "{sync:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_read_matches_the_metadata_read() {
    let (_dir, _store, s, u, inbox) = setup(Synchronous::Full).await;
    let mut uids = Vec::new();
    for _ in 0..5 {
        uids.push(append(&s, &u, &inbox).await);
    }
    let flagged: Flags = [Flag::Flagged, Flag::Seen].into_iter().collect();
    let some: UidSet = [uids[1], uids[3]].into_iter().collect();
    s.store_flags(u.id, &inbox, &some, &FlagOp::Add(flagged), None, None)
        .await
        .expect("store");
    for filter in [
        MessageFilter::default(),
        MessageFilter {
            uids: Some(UidSet::range(uids[1].0, uids[3].0)),
            ..Default::default()
        },
        MessageFilter {
            changed_since: Some(wildduck_core::model::ModSeq(1)),
            ..Default::default()
        },
    ] {
        let narrow = s.fetch_flags(u.id, &inbox, &filter).await.expect("flags");
        let full = s.fetch_meta(u.id, &inbox, &filter).await.expect("meta");
        assert_eq!(narrow.len(), full.len());
        for (n, m) in narrow.iter().zip(&full) {
            assert_eq!((n.uid, n.modseq, &n.flags), (m.uid, m.modseq, &m.flags));
        }
    }
    // Another user's mailbox is refused.
    let other = s
        .create_user(NewUser {
            username: "other".into(),
            ..Default::default()
        })
        .await
        .expect("other");
    let err = s
        .fetch_flags(other.id, &inbox, &MessageFilter::default())
        .await
        .expect_err("not the owner");
    assert_eq!(err.kind(), wildduck_core::ErrorKind::NotFound);
}
