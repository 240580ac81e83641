//! The task queue with several instances on one MongoDB: a task is never held (or run) by two
//! instances at once, a dead instance's task is taken over once its lease runs out, and the
//! background loop purges a deleted user when its time comes.
#![cfg(feature = "scale-out")]

use std::collections::HashSet;
use std::time::Duration;

use wildduck_core::model::{ObjectId, Timestamp, UserId};
use wildduck_core::service::tasks::{TaskRunnerOptions, USER_DELETE};
use wildduck_core::service::users::{NewUser, UserDeleteOptions};
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::Task;
use wildduck_core::store::mongo::MongoStore;

/// Two instances: separate clients (connection pools) on one database.
async fn two_instances() -> (Services, Services) {
    let url = wildduck_test_support::mongodb_url().await;
    let db = wildduck_test_support::unique_db_name();
    let config = ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    };
    let a = MongoStore::connect(&url, &db).await.expect("connect a");
    a.ensure_indexes(None).await.expect("indexes");
    let b = MongoStore::connect(&url, &db).await.expect("connect b");
    (
        Services::new(a.backend(), None, config.clone()),
        Services::new(b.backend(), None, config),
    )
}

/// Claims until nothing is due; returns the ids claimed.
async fn claim_all(s: &Services) -> Vec<ObjectId> {
    let mut out = Vec::new();
    let now = Timestamp::now();
    while let Some(t) = s
        .backend()
        .tasks
        .claim_task(
            &[USER_DELETE],
            now,
            Timestamp(now.0 + 60_000),
            rand::random(),
        )
        .await
        .expect("claim")
    {
        out.push(t.id);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_claim_one_task_twice() {
    let (a, b) = two_instances().await;
    const N: usize = 40;
    let mut ids = HashSet::new();
    for _ in 0..N {
        let t = Task::new(
            USER_DELETE,
            Some(UserId::new()),
            serde_json::json!({}),
            None,
        );
        a.backend().tasks.insert_task(&t).await.expect("insert");
        ids.insert(t.id);
    }
    let (got_a, got_b) = tokio::join!(claim_all(&a), claim_all(&b));
    let set_a: HashSet<_> = got_a.iter().copied().collect();
    let set_b: HashSet<_> = got_b.iter().copied().collect();
    assert_eq!(
        set_a.len(),
        got_a.len(),
        "one instance claimed a task twice"
    );
    assert!(
        set_a.is_disjoint(&set_b),
        "both instances hold {:?}",
        set_a.intersection(&set_b).collect::<Vec<_>>()
    );
    let all: HashSet<_> = set_a.union(&set_b).copied().collect();
    assert_eq!(all, ids, "every task claimed exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_purge_each_deleted_user_once() {
    let (a, b) = two_instances().await;
    const N: usize = 12;
    let mut users = Vec::new();
    for i in 0..N {
        let u = a
            .create_user(NewUser {
                username: format!("racer{i}"),
                password: Some("pw".into()),
                address: Some(format!("racer{i}@example.com")),
                ..Default::default()
            })
            .await
            .expect("user");
        a.delete_user(u.id, UserDeleteOptions::default())
            .await
            .expect("delete");
        users.push(u.id);
    }
    let now = Timestamp(Timestamp::now().0 + 1);
    let (pa, pb) = tokio::join!(a.run_due_tasks(now), b.run_due_tasks(now));
    let (pa, pb) = (pa.expect("pass a"), pb.expect("pass b"));
    assert_eq!(pa.completed + pb.completed, N, "{pa:?} {pb:?}");
    assert_eq!((pa.failed + pb.failed, pa.lost + pb.lost), (0, 0));
    for id in users {
        assert!(b.list_mailboxes(id, false).await.expect("boxes").is_empty());
        assert!(
            b.deleted_user_info(id).await.is_err(),
            "snapshot of {id} purged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instances_task_is_taken_over_after_its_lease() {
    let (a, b) = two_instances().await;
    let u = a
        .create_user(NewUser {
            username: "orphan".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let done = a
        .delete_user(u.id, UserDeleteOptions::default())
        .await
        .expect("delete");
    // Instance A claims the purge and dies before finishing it.
    let now = Timestamp::now();
    let held = a
        .backend()
        .tasks
        .claim_task(
            &[USER_DELETE],
            now,
            Timestamp(now.0 + 2_000),
            rand::random(),
        )
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(held.id, done.task);
    let pass = b
        .run_due_tasks(Timestamp(now.0 + 1_000))
        .await
        .expect("pass");
    assert_eq!(pass.completed, 0, "the lease is still running");
    assert_eq!(b.list_mailboxes(u.id, false).await.expect("boxes").len(), 5);
    let pass = b
        .run_due_tasks(Timestamp(now.0 + 3_000))
        .await
        .expect("pass");
    assert_eq!(pass.completed, 1, "taken over once the lease ran out");
    assert!(
        b.list_mailboxes(u.id, false)
            .await
            .expect("boxes")
            .is_empty()
    );
    assert!(
        b.backend()
            .tasks
            .get_task(done.task)
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_loop_purges_when_delete_after_passes() {
    let (a, b) = two_instances().await;
    let runner = b.spawn_task_runner(TaskRunnerOptions {
        idle: Duration::from_millis(50),
        ..Default::default()
    });
    let u = a
        .create_user(NewUser {
            username: "later".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    a.delete_user(
        u.id,
        UserDeleteOptions {
            delete_after: Some(Timestamp(Timestamp::now().0 + 700)),
            ..Default::default()
        },
    )
    .await
    .expect("delete");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        a.deleted_user_info(u.id).await.is_ok(),
        "not purged before deleteAfter"
    );
    let mut purged = false;
    for _ in 0..100 {
        if a.deleted_user_info(u.id).await.is_err() {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    runner.stop().await;
    assert!(purged, "the loop purged the user after deleteAfter");
    assert!(
        a.list_mailboxes(u.id, false)
            .await
            .expect("boxes")
            .is_empty()
    );
}
