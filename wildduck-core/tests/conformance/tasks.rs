//! The task queue (claims, leases, takeover, cancel) and user deletion with restore and purge,
//! on every backend. Every task this module creates is finished or cancelled before it returns,
//! so later passes of the runner see an empty queue.

use serde_json::json;
use wildduck_core::ErrorKind;
use wildduck_core::model::{MessageId, Timestamp, UserId};
use wildduck_core::service::Services;
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::tasks::{CLEAR_FOLDER, USER_DELETE};
use wildduck_core::service::users::{NewUser, UserDeleteOptions, UserDeletion};
use wildduck_core::store::{Task, TaskStatus};

use super::messages::{mail, mail_with_attachment};

/// Runs every check.
pub async fn run_all(s: &Services) {
    task_store(s).await;
    ensure_task(s).await;
    delete_and_restore(s).await;
    delete_and_purge(s).await;
}

fn at(t: Timestamp, ms: i64) -> Timestamp {
    Timestamp(t.0 + ms)
}

async fn task_store(s: &Services) {
    let q = &s.backend().tasks;
    let now = Timestamp::now();
    let (u1, u2) = (UserId::new(), UserId::new());
    let waiting = Task::new(USER_DELETE, Some(u1), json!({"note": "x", "n": 5}), None);
    q.insert_task(&waiting).await.expect("insert");
    let delayed = Task::new(USER_DELETE, Some(u2), json!({}), Some(at(now, 3_600_000)));
    q.insert_task(&delayed).await.expect("insert delayed");

    let got = q.get_task(waiting.id).await.expect("get").expect("stored");
    assert_eq!(got.kind, USER_DELETE);
    assert_eq!(got.user, Some(u1));
    assert_eq!(got.data, json!({"note": "x", "n": 5}));
    assert_eq!(
        (got.status, got.locked, got.run_count),
        (TaskStatus::Waiting, false, 0)
    );
    let got = q.get_task(delayed.id).await.expect("get").expect("stored");
    assert_eq!((got.status, got.locked), (TaskStatus::Delayed, true));
    assert_eq!(got.locked_until, delayed.locked_until);
    let found = q.find_tasks(USER_DELETE, u1).await.expect("find");
    assert_eq!(found.iter().map(|t| t.id).collect::<Vec<_>>(), [waiting.id]);
    assert!(q.find_tasks("restore", u1).await.expect("find").is_empty());

    // Only the kinds asked for are claimed.
    let token_a: [u8; 12] = rand::random();
    assert!(
        q.claim_task(&["no-such-kind"], now, at(now, 60_000), token_a)
            .await
            .expect("claim")
            .is_none()
    );
    let claimed = q
        .claim_task(&[USER_DELETE], now, at(now, 60_000), token_a)
        .await
        .expect("claim")
        .expect("the waiting task is due");
    assert_eq!(claimed.id, waiting.id);
    assert_eq!((claimed.status, claimed.run_count), (TaskStatus::Active, 1));
    assert!(claimed.locked);
    // Held: not due again, not cancellable, not reschedulable; the delayed one is not due yet.
    assert!(
        q.claim_task(&[USER_DELETE], now, at(now, 60_000), rand::random())
            .await
            .expect("claim")
            .is_none()
    );
    assert!(!q.cancel_task(waiting.id).await.expect("cancel"));
    assert!(!q.reschedule_task(waiting.id, now).await.expect("resched"));
    // Only the holder's token completes, extends or releases it.
    assert!(
        !q.complete_task(waiting.id, rand::random())
            .await
            .expect("complete")
    );
    assert!(
        q.extend_task(waiting.id, token_a, at(now, 120_000))
            .await
            .expect("extend")
    );
    let got = q.get_task(waiting.id).await.expect("get").expect("kept");
    assert_eq!(
        (got.status, got.locked_until),
        (TaskStatus::Processing, at(now, 120_000))
    );
    assert!(
        q.release_task(waiting.id, token_a, at(now, 10_000))
            .await
            .expect("release")
    );
    let got = q.get_task(waiting.id).await.expect("get").expect("kept");
    assert_eq!((got.status, got.locked), (TaskStatus::Delayed, true));
    assert!(
        q.claim_task(
            &[USER_DELETE],
            at(now, 5_000),
            at(now, 65_000),
            rand::random()
        )
        .await
        .expect("claim")
        .is_none(),
        "a released task waits for its retry time"
    );
    let token_b: [u8; 12] = rand::random();
    let again = q
        .claim_task(&[USER_DELETE], at(now, 11_000), at(now, 71_000), token_b)
        .await
        .expect("claim")
        .expect("due after its retry time");
    assert_eq!((again.id, again.run_count), (waiting.id, 2));
    // The holder dies: once its lease has run out another runner takes the task over, and the
    // old holder can no longer finish it.
    let token_c: [u8; 12] = rand::random();
    assert!(
        q.claim_task(&[USER_DELETE], at(now, 70_000), at(now, 130_000), token_c)
            .await
            .expect("claim")
            .is_none(),
        "lease still running"
    );
    let taken = q
        .claim_task(&[USER_DELETE], at(now, 72_000), at(now, 132_000), token_c)
        .await
        .expect("claim")
        .expect("lease ran out");
    assert_eq!((taken.id, taken.run_count), (waiting.id, 3));
    assert!(
        !q.complete_task(waiting.id, token_b)
            .await
            .expect("old holder")
    );
    assert!(
        !q.extend_task(waiting.id, token_b, at(now, 999_999))
            .await
            .expect("old holder")
    );
    assert!(
        q.complete_task(waiting.id, token_c)
            .await
            .expect("complete")
    );
    assert!(q.get_task(waiting.id).await.expect("get").is_none());

    // A task nobody holds can be moved and cancelled.
    assert!(
        q.reschedule_task(delayed.id, at(now, 7_200_000))
            .await
            .expect("resched")
    );
    let got = q.get_task(delayed.id).await.expect("get").expect("kept");
    assert_eq!(got.locked_until, at(now, 7_200_000));
    assert!(q.cancel_task(delayed.id).await.expect("cancel"));
    assert!(!q.cancel_task(delayed.id).await.expect("cancel twice"));
    assert!(q.get_task(delayed.id).await.expect("get").is_none());

    // Scheduling through the service checks the kind and the data.
    assert_eq!(
        s.schedule_task("no-such-kind", None, json!({}), None)
            .await
            .expect_err("unknown kind")
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        s.schedule_task(USER_DELETE, None, json!([1]), None)
            .await
            .expect_err("not an object")
            .kind(),
        ErrorKind::Invalid
    );
}

/// `ensure_task` (WildDuck's `ensure`): requests at once leave one task per user and key value.
async fn ensure_task(s: &Services) {
    let q = &s.backend().tasks;
    let user = UserId::new();
    let mb = |hex: &str| json!({ "mailbox": { "$oid": hex }, "skipArchive": false });
    let (a, b) = ("5f0000000000000000000001", "5f0000000000000000000002");
    let tasks: Vec<Task> = (0..4)
        .map(|_| Task::new(CLEAR_FOLDER, Some(user), mb(a), None))
        .collect();
    let results =
        futures::future::join_all(tasks.iter().map(|t| q.ensure_task(t, &["mailbox"]))).await;
    let ids: Vec<_> = results.into_iter().map(|r| r.expect("ensure")).collect();
    let first = ids[0].0;
    assert!(ids.iter().all(|(id, _)| *id == first), "{ids:?}");
    assert_eq!(
        ids.iter().filter(|(_, existing)| !existing).count(),
        1,
        "{ids:?}"
    );
    let other = Task::new(CLEAR_FOLDER, Some(user), mb(b), None);
    let (id_b, existing) = q.ensure_task(&other, &["mailbox"]).await.expect("ensure b");
    assert_eq!((id_b, existing), (other.id, false));
    let someone = Task::new(CLEAR_FOLDER, Some(UserId::new()), mb(a), None);
    let (id_c, existing) = q
        .ensure_task(&someone, &["mailbox"])
        .await
        .expect("ensure c");
    assert_eq!((id_c, existing), (someone.id, false));
    let stored = q.get_task(first).await.expect("get").expect("stored");
    assert_eq!(stored.data, mb(a));
    assert_eq!(
        q.find_tasks(CLEAR_FOLDER, user).await.expect("find").len(),
        2
    );
    for id in [first, id_b, id_c] {
        assert!(q.cancel_task(id).await.expect("cancel"));
    }
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password: Some("secret pass".into()),
        address: Some(format!("{name}@example.com")),
        ..Default::default()
    }
}

async fn delete_and_restore(s: &Services) {
    let u = s.create_user(new_user("gone.soon")).await.expect("user");
    s.add_address(u.id, "alias.gone@example.com", None, false)
        .await
        .expect("alias");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let raw = mail("kept while deleted", "", "body");
    s.append(
        u.id,
        inbox.id,
        AppendRequest {
            raw: &raw,
            ..Default::default()
        },
    )
    .await
    .expect("append");

    let when = at(Timestamp::now(), 3_600_000);
    let done = delete_after(s, u.id, when).await;
    assert_eq!(
        (done.user, done.addresses_deleted, done.delete_after),
        (u.id, 2, when)
    );
    // Gone at once: no login, no lookup, addresses free.
    assert_eq!(
        s.get_user(u.id).await.expect_err("gone").kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.authenticate("gone.soon", "secret pass")
            .await
            .expect_err("no login")
            .kind(),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        s.resolve_address("gone.soon@example.com", false)
            .await
            .expect_err("released")
            .kind(),
        ErrorKind::NotFound
    );
    // Someone takes the alias meanwhile.
    let taker = s
        .create_user(NewUser {
            address: Some("alias.gone@example.com".into()),
            ..new_user("alias.taker")
        })
        .await
        .expect("taker");
    let info = s.deleted_user_info(u.id).await.expect("info");
    assert_eq!(info.snapshot.user.username, "gone.soon");
    assert_eq!(
        info.snapshot.main_address.as_deref(),
        Some("gone.soon@example.com")
    );
    assert_eq!(info.snapshot.addresses.len(), 2);
    assert_eq!(info.recoverable_addresses, ["gone.soon@example.com"]);
    assert_eq!(
        (info.delete_after, info.task),
        (Some(when), Some(done.task))
    );
    // Not due yet: the runner leaves it, the data stays.
    let pass = s.run_due_tasks(Timestamp::now()).await.expect("pass");
    assert_eq!(pass.completed, 0);
    assert_eq!(s.list_mailboxes(u.id, false).await.expect("boxes").len(), 5);
    // Deleting again moves the pending purge.
    let later = at(when, 60_000);
    let again = delete_after(s, u.id, later).await;
    assert_eq!(
        (again.task, again.delete_after, again.addresses_deleted),
        (done.task, later, 0)
    );

    let restored = s.restore_user(u.id, None, None).await.expect("restore");
    assert_eq!(restored.task, Some(done.task));
    assert_eq!(restored.recovered, ["gone.soon@example.com"]);
    assert_eq!(restored.main.as_deref(), Some("gone.soon@example.com"));
    let back = s.get_user(u.id).await.expect("back");
    assert_eq!(back.address.as_deref(), Some("gone.soon@example.com"));
    assert!(
        s.authenticate("gone.soon@example.com", "secret pass")
            .await
            .is_ok()
    );
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox kept");
    assert_eq!(s.message_counts(&inbox).await.expect("counts").0, 1);
    assert!(
        s.backend()
            .tasks
            .find_tasks(USER_DELETE, u.id)
            .await
            .expect("tasks")
            .is_empty()
    );
    assert_eq!(
        s.resolve_address("alias.gone@example.com", false)
            .await
            .expect("alias")
            .user,
        Some(taker.id),
        "the taken alias stays with its new owner"
    );
    // Nothing left to restore; unknown users cannot be deleted.
    assert_eq!(
        s.restore_user(u.id, None, None)
            .await
            .expect_err("twice")
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.deleted_user_info(u.id)
            .await
            .expect_err("no snapshot")
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.delete_user(UserId::new(), UserDeleteOptions::default())
            .await
            .expect_err("unknown")
            .kind(),
        ErrorKind::NotFound
    );

    // A restore is refused while the username is taken again.
    delete_after(s, u.id, when).await;
    let clone = s
        .create_user(NewUser {
            address: None,
            ..new_user("gone.soon")
        })
        .await
        .expect("username free again");
    assert_eq!(
        s.restore_user(u.id, None, None)
            .await
            .expect_err("taken")
            .kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        s.backend()
            .tasks
            .find_tasks(USER_DELETE, u.id)
            .await
            .expect("tasks")
            .len(),
        1,
        "a refused restore keeps the pending purge"
    );
    s.delete_user(clone.id, UserDeleteOptions::default())
        .await
        .expect("delete clone");
    s.delete_user(taker.id, UserDeleteOptions::default())
        .await
        .expect("delete taker");
    // Purge the leftovers now, so later checks start from an empty queue.
    s.delete_user(u.id, UserDeleteOptions::default())
        .await
        .expect("delete now");
    let pass = s
        .run_due_tasks(at(Timestamp::now(), 1))
        .await
        .expect("pass");
    assert_eq!((pass.completed, pass.failed), (3, 0));
}

async fn delete_and_purge(s: &Services) {
    let u = s.create_user(new_user("purge.me")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let token = format!("purge-{}", MessageId::new());
    let raw = mail_with_attachment("to purge", &token);
    let ingested = wildduck_core::message::ingest(&raw).expect("ingest");
    let hash = ingested
        .blobs
        .first()
        .map(|b| b.hash.clone())
        .unwrap_or_default();
    s.append(
        u.id,
        inbox.id,
        AppendRequest {
            raw: &raw,
            ..Default::default()
        },
    )
    .await
    .expect("append");
    assert!(
        s.backend()
            .attachments
            .blob_refs(&hash)
            .await
            .expect("refs")
            .is_some()
    );

    let done = s
        .delete_user(u.id, UserDeleteOptions::default())
        .await
        .expect("delete");
    // A purge in progress cannot be cancelled.
    let q = &s.backend().tasks;
    let now = Timestamp::now();
    let token_a: [u8; 12] = rand::random();
    let held = q
        .claim_task(&[USER_DELETE], at(now, 1), at(now, 60_000), token_a)
        .await
        .expect("claim")
        .expect("due now");
    assert_eq!(held.id, done.task);
    assert_eq!(
        s.restore_user(u.id, None, None)
            .await
            .expect_err("running")
            .kind(),
        ErrorKind::Conflict
    );
    assert!(
        q.release_task(held.id, token_a, now)
            .await
            .expect("release")
    );

    let pass = s
        .run_due_tasks(at(Timestamp::now(), 1))
        .await
        .expect("pass");
    assert_eq!((pass.completed, pass.failed), (1, 0));
    assert!(
        s.list_mailboxes(u.id, false)
            .await
            .expect("boxes")
            .is_empty()
    );
    assert_eq!(s.message_counts(&inbox).await.expect("counts").0, 0);
    assert!(
        s.backend()
            .attachments
            .blob_refs(&hash)
            .await
            .expect("refs")
            .is_none_or(|(count, _)| count <= 0),
        "the attachment reference is released"
    );
    assert_eq!(
        s.deleted_user_info(u.id).await.expect_err("purged").kind(),
        ErrorKind::NotFound
    );
    assert!(q.get_task(done.task).await.expect("task").is_none());
    // The username is free for a new account.
    s.create_user(NewUser {
        address: None,
        ..new_user("purge.me")
    })
    .await
    .expect("username reusable");
}

/// Deletes `user` with its purge due at `when` (the test's one way of deleting).
async fn delete_after(s: &Services, user: UserId, when: Timestamp) -> UserDeletion {
    s.delete_user(
        user,
        UserDeleteOptions {
            delete_after: Some(when),
            ..Default::default()
        },
    )
    .await
    .expect("delete")
}
