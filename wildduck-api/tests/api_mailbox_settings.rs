//! Mailbox settings on both backends: `retention`, `hidden` and `encryptMessages` on create and
//! update, shown by the mailbox and the listing (`hidden` ones only with `showHidden`), the
//! retention giving new messages their `expires`; hidden mailboxes cannot be renamed or deleted;
//! bad values refused.

mod common;

use common::{Kind, start};
use serde_json::json;

async fn scenario(kind: Kind) {
    let api = start(kind).await;
    let u = api.user("settings").await;
    let boxes = format!("/users/{u}/mailboxes");

    let (s, b) = api
        .post(
            &boxes,
            json!({"path": "Archive/2026", "retention": 86_400_000u64, "hidden": true,
                   "encryptMessages": true}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["id"].as_str().expect("id").to_string();
    let (s, m) = api.get(&format!("{boxes}/{id}")).await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(
        (&m["retention"], &m["hidden"], &m["encryptMessages"]),
        (&json!(86_400_000u64), &json!(true), &json!(true)),
        "{m}"
    );
    let listed = |b: &serde_json::Value| {
        b["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|m| m["id"] == id.as_str())
    };
    let (_, b) = api.get(&boxes).await;
    assert!(!listed(&b), "hidden is not listed: {b}");
    let (_, b) = api.get(&format!("{boxes}?showHidden=true")).await;
    assert!(listed(&b), "listed with showHidden: {b}");

    // Hidden: rename and delete refused.
    let (s, b) = api
        .put(&format!("{boxes}/{id}"), json!({"path": "Elsewhere"}))
        .await;
    assert_eq!(
        (s, &b["code"]),
        (400, &json!("DisallowedMailboxMethod")),
        "{b}"
    );
    let (s, b) = api.delete(&format!("{boxes}/{id}")).await;
    assert_eq!(
        (s, &b["code"]),
        (400, &json!("DisallowedMailboxMethod")),
        "{b}"
    );

    // Update: unhide, new retention, unsubscribe; encryptMessages stays.
    let (s, b) = api
        .put(
            &format!("{boxes}/{id}"),
            json!({"hidden": false, "retention": 3_600_000, "subscribed": false}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, m) = api.get(&format!("{boxes}/{id}")).await;
    assert_eq!(
        (
            &m["retention"],
            &m["hidden"],
            &m["encryptMessages"],
            &m["subscribed"]
        ),
        (
            &json!(3_600_000),
            &json!(false),
            &json!(true),
            &json!(false)
        ),
        "{m}"
    );
    let (_, b) = api.get(&boxes).await;
    assert!(listed(&b), "visible again: {b}");

    // A message added now expires with the mailbox's retention.
    let (s, b) = api
        .post(
            &format!("{boxes}/{id}/messages"),
            json!({"raw": "Subject: kept an hour\r\n\r\nbody\r\n"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let uid = b["message"]["id"].as_u64().expect("uid");
    let (_, msg) = api.get(&format!("{boxes}/{id}/messages/{uid}")).await;
    let expires = msg["expires"].as_str().expect("expires").to_string();
    assert!(expires.ends_with('Z') && expires.len() == 24, "{msg}");

    // Bad values change nothing; another user's mailbox is not found.
    for bad in [
        json!({"retention": -1}),
        json!({"retention": "soon"}),
        json!({"hidden": "perhaps"}),
        json!({"encryptMessages": 7}),
    ] {
        let (s, b) = api.put(&format!("{boxes}/{id}"), bad.clone()).await;
        assert_eq!(
            (s, &b["code"]),
            (400, &json!("InputValidationError")),
            "{bad}: {b}"
        );
        let (s, b) = api
            .post(&boxes, {
                let mut o = bad.clone();
                o["path"] = json!("Bad");
                o
            })
            .await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    let (_, m) = api.get(&format!("{boxes}/{id}")).await;
    assert_eq!(m["retention"], 3_600_000, "{m}");
    let other = api.user("settings-other").await;
    let (s, b) = api
        .put(
            &format!("/users/{other}/mailboxes/{id}"),
            json!({"hidden": true}),
        )
        .await;
    assert_eq!(s, 404, "{b}");
    let (_, m) = api.get(&format!("{boxes}/{id}")).await;
    assert_eq!(m["hidden"], false, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_settings_on_sqlite() {
    scenario(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_settings_on_mongodb() {
    scenario(Kind::Mongo).await;
}
