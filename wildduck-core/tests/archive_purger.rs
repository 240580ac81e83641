//! The background purge of expired archive entries (what the daemon runs every 15 minutes), with a
//! short archive time so entries expire during the test; and `archive_time` zero keeping no
//! archive at all.
#![cfg(feature = "embedded")]

use std::time::Duration;

use wildduck_core::model::{Flag, Flags, Timestamp};
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::sqlite::SqliteStore;

fn raw(token: &str) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nSubject: purge\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\n\
         --xx\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --xx\r\nContent-Type: application/octet-stream\r\n\r\n{token}\r\n--xx--\r\n"
    )
    .into_bytes()
}

async fn services(dir: &tempfile::TempDir, archive_time: Duration) -> (SqliteStore, Services) {
    let store = SqliteStore::open(dir.path().join("mail.db"))
        .await
        .expect("open");
    let s = Services::new(
        store.backend(),
        None,
        ServiceConfig {
            bcrypt_cost: 4,
            archive_time,
            ..Default::default()
        },
    );
    (store, s)
}

/// Appends one message with an attachment flagged `\Deleted`, expunges it, returns the blob hash.
async fn append_and_expunge(s: &Services, name: &str) -> (wildduck_core::model::UserId, String) {
    let u = s
        .create_user(NewUser {
            username: name.into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let m = raw(&format!("token-{name}"));
    let hash = wildduck_core::message::ingest(&m)
        .expect("ingest")
        .blobs
        .first()
        .map(|b| b.hash.clone())
        .expect("one blob");
    let flags: Flags = [Flag::Deleted].into_iter().collect();
    s.append(
        u.id,
        inbox.id,
        AppendRequest {
            raw: &m,
            flags,
            ..Default::default()
        },
    )
    .await
    .expect("append");
    let gone = s.expunge(u.id, &inbox, None, None).await.expect("expunge");
    assert_eq!(gone.uids.len(), 1);
    (u.id, hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purger_removes_expired_entries_and_their_references() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, s) = services(&dir, Duration::from_millis(200)).await;
    let (user, hash) = append_and_expunge(&s, "purged").await;
    assert_eq!(s.list_archived(user).await.expect("list").len(), 1);
    assert_eq!(
        s.backend()
            .attachments
            .blob_refs(&hash)
            .await
            .expect("refs")
            .map(|r| r.0),
        Some(1)
    );
    let purger = s.spawn_collector(Duration::from_secs(1));
    let started = std::time::Instant::now();
    while !s.list_archived(user).await.expect("list").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the expired entry was not purged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    purger.abort();
    assert_eq!(
        s.backend()
            .attachments
            .blob_refs(&hash)
            .await
            .expect("refs")
            .map(|r| r.0),
        Some(0),
        "the purge released the archived reference"
    );
    // Nothing left to purge.
    assert_eq!(
        s.purge_expired_archived(Timestamp::now())
            .await
            .expect("purge"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_archive_time_keeps_no_archive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, s) = services(&dir, Duration::ZERO).await;
    let (user, hash) = append_and_expunge(&s, "unarchived").await;
    assert!(s.list_archived(user).await.expect("list").is_empty());
    assert_eq!(
        s.backend()
            .attachments
            .blob_refs(&hash)
            .await
            .expect("refs")
            .map(|r| r.0),
        Some(0),
        "released at once"
    );
}
