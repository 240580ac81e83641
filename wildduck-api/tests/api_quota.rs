//! `POST /quota/reset` (WildDuck's recalculateQuotaAllUsers): queues the `quota` task, which the
//! task runner turns into a corrected `storageUsed` for every user whose figure was off; on SQLite
//! and on MongoDB.

mod common;

use common::{Kind, simple, start};
use serde_json::json;
use wildduck_core::model::UserId;

async fn storage_used(api: &common::Api, id: &str) -> i64 {
    let (s, b) = api.get(&format!("/users/{id}")).await;
    assert_eq!(s, 200, "{b}");
    b["limits"]["quota"]["used"].as_i64().expect("quota used")
}

async fn reset_all(kind: Kind) {
    let api = start(kind).await;
    let a = api.user("quota.one").await;
    let b = api.user("quota.two").await;
    let inbox = api.mailbox(&a, "INBOX").await;
    api.upload(&a, &inbox, &simple("counted"), "").await;
    let right_a = storage_used(&api, &a).await;
    assert!(right_a > 0);
    assert_eq!(storage_used(&api, &b).await, 0);

    // Both figures drift (as after a crash on a backend without transactions).
    let users = &api.services.backend().users;
    for (id, wrong) in [(&a, right_a + 12_345), (&b, 777)] {
        users
            .set_storage(UserId(id.parse().expect("id")), wrong)
            .await
            .expect("set");
    }
    assert_eq!(storage_used(&api, &b).await, 777);

    // Unknown parameters are refused and queue nothing.
    let (s, body) = api.post("/quota/reset", json!({"everyone": true})).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("InputValidationError"))
    );

    let (s, body) = api.post("/quota/reset", json!({})).await;
    assert_eq!(s, 200, "{body}");
    let task = body["task"].as_str().expect("task id");
    assert_eq!(task.len(), 24, "{body}");
    // Queued, not run in the request.
    assert_eq!(storage_used(&api, &b).await, 777);

    let pass = api.run_tasks().await;
    assert_eq!((pass.completed, pass.failed), (1, 0), "{pass:?}");
    assert_eq!(storage_used(&api, &a).await, right_a);
    assert_eq!(storage_used(&api, &b).await, 0);
    // Nothing left to run.
    let again = api.run_tasks().await;
    assert_eq!(again.completed + again.failed, 0);
}

#[tokio::test]
async fn quota_reset_for_all_users_on_sqlite() {
    reset_all(Kind::Sqlite).await;
}

#[tokio::test]
async fn quota_reset_for_all_users_on_mongodb() {
    reset_all(Kind::Mongo).await;
}
