//! User deletion with a delay, restore info and restore (WildDuck's `DELETE /users/:user`,
//! `GET`/`POST /users/:user/restore`) over HTTP, on SQLite and on MongoDB.

mod common;

use common::{Api, Kind, simple, start};
use serde_json::json;
use wildduck_core::model::Timestamp;
use wildduck_core::service::tasks::USER_DELETE;

const NOBODY: &str = "0123456789abcdef01234567";

async fn login(api: &Api, name: &str) -> u16 {
    api.post(
        "/authenticate",
        json!({"username": name, "password": "secretpass", "scope": "master"}),
    )
    .await
    .0
}

async fn delete_and_restore(kind: Kind) {
    let api = start(kind).await;
    let id = api.user("leaving").await;
    let (s, b) = api
        .post(
            &format!("/users/{id}/addresses"),
            json!({"address": "leaving.alias@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let inbox = api.mailbox(&id, "INBOX").await;
    api.upload(&id, &inbox, &simple("kept"), "").await;
    assert_eq!(login(&api, "leaving").await, 200);

    // Bad dates are refused before anything happens.
    let (s, b) = api
        .delete(&format!("/users/{id}?deleteAfter=not-a-date"))
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("InputValidationError")));
    assert_eq!(api.get(&format!("/users/{id}")).await.0, 200);

    let mut events = api.services.notifier().map(|n| n.subscribe());
    let (s, b) = api
        .delete(&format!("/users/{id}?deleteAfter=2099-01-02T03:04:05.678Z"))
        .await;
    // With a notifier (MongoDB + Redis here), open IMAP sessions are told to log out.
    if let Some(sub) = events.as_mut() {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(5), sub.recv_for(&id))
            .await
            .expect("notification in time");
        match ev {
            Some(wildduck_core::bus::BusEvent::Notify(n)) => {
                assert_eq!(
                    n.payload,
                    Some(json!({"command": "LOGOUT", "reason": "Account deleted"}))
                );
            }
            other => panic!("expected the LOGOUT notification, got {other:?}"),
        }
    }
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(b["code"], "TaskScheduled");
    assert_eq!(b["user"], id.as_str());
    assert_eq!(b["addresses"], json!({"deleted": 2}));
    assert_eq!(b["deleteAfter"], "2099-01-02T03:04:05.678Z");
    let task = b["task"].as_str().expect("task id").to_string();
    assert_eq!(task.len(), 24);

    // Gone at once: no account, no login, not listed, addresses free.
    let (s, b) = api.get(&format!("/users/{id}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));
    assert_ne!(login(&api, "leaving").await, 200);
    let (_, b) = api.get("/users?query=leaving").await;
    assert_eq!(b["results"], json!([]), "{b}");
    let taker = api.user("taker").await;
    let (s, b) = api
        .post(
            &format!("/users/{taker}/addresses"),
            json!({"address": "leaving.alias@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "the alias is free: {b}");

    let (s, b) = api.get(&format!("/users/{id}/restore")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(b["user"], id.as_str());
    assert_eq!(b["username"], "leaving");
    assert!(b["storageUsed"].as_u64().is_some_and(|n| n > 0), "{b}");
    assert_eq!(b["tags"], json!([]));
    assert!(
        b["deleted"].as_str().is_some_and(|d| d.ends_with('Z')),
        "{b}"
    );
    assert_eq!(b["recoverableAddresses"], json!(["leaving@example.com"]));
    assert_eq!(b["deleteAfter"], "2099-01-02T03:04:05.678Z");
    let (s, b) = api.get(&format!("/users/{NOBODY}/restore")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AccountNotFound")));

    let (s, b) = api.post(&format!("/users/{id}/restore"), json!({})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({
            "success": true,
            "code": "TaskCancelled",
            "user": id,
            "task": task,
            "addresses": {"recovered": 1, "main": "leaving@example.com"},
        })
    );
    let (s, b) = api.post(&format!("/users/{id}/restore"), json!({})).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AccountNotFound")));
    let (s, b) = api.get(&format!("/users/{id}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["address"], "leaving@example.com");
    assert_eq!(login(&api, "leaving").await, 200);
    let (_, b) = api
        .get(&format!("/users/{id}/mailboxes/{inbox}/messages"))
        .await;
    assert_eq!(b["total"], 1, "{b}");

    // A purge that has started cannot be cancelled.
    let (s, b) = api.delete(&format!("/users/{taker}")).await;
    assert_eq!(s, 200, "{b}");
    let q = &api.services.backend().tasks;
    let now = Timestamp::now();
    let token: [u8; 12] = rand::random();
    let held = q
        .claim_task(
            &[USER_DELETE],
            Timestamp(now.0 + 1),
            Timestamp(now.0 + 60_000),
            token,
        )
        .await
        .expect("claim")
        .expect("due now");
    let (s, b) = api
        .post(&format!("/users/{taker}/restore"), json!({}))
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("DeleteInProgress")));
    assert!(q.release_task(held.id, token, now).await.expect("release"));

    // Without deleteAfter the purge is due now; after it nothing is left to restore.
    let (s, b) = api.delete(&format!("/users/{id}")).await;
    assert_eq!(s, 200, "{b}");
    let pass = api.run_tasks().await;
    assert_eq!((pass.completed, pass.failed), (2, 0));
    let (s, b) = api.get(&format!("/users/{id}/restore")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AccountNotFound")));
    let (s, b) = api.post(&format!("/users/{id}/restore"), json!({})).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AccountNotFound")));
    let (s, b) = api.delete(&format!("/users/{id}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));
    // The username can be registered again.
    api.user("leaving").await;
}

#[tokio::test]
async fn delete_and_restore_on_sqlite() {
    delete_and_restore(Kind::Sqlite).await;
}

#[tokio::test]
async fn delete_and_restore_on_mongodb() {
    delete_and_restore(Kind::Mongo).await;
}

#[tokio::test]
async fn restore_routes_are_in_the_openapi_document() {
    let api = start(Kind::Sqlite).await;
    let (s, b) = api.get("/openapi.json").await;
    assert_eq!(s, 200);
    let path = &b["paths"]["/users/{user}/restore"];
    assert_eq!(path["get"]["operationId"], "restoreUserInfo", "{path}");
    assert_eq!(path["post"]["operationId"], "cancelUserDelete", "{path}");
}
