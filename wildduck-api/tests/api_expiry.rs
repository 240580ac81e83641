//! `metaData` and `expires` of messages on both backends: stored by an upload, changed by an
//! update of one message or a UID range, shown by the message and (on request) the listing;
//! bad values refused with nothing changed; another user's mailbox not found; an expired
//! message deleted into the archive by the collector, its quota released; an upload's
//! `replacePrevious`.

mod common;

use common::{Api, Kind, start};
use serde_json::{Value, json};

fn raw(subject: &str) -> String {
    format!("From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n")
}

async fn upload(api: &Api, user: &str, mb: &str, body: Value) -> (u16, Value) {
    api.post(&format!("/users/{user}/mailboxes/{mb}/messages"), body)
        .await
}

async fn message(api: &Api, user: &str, mb: &str, uid: u64) -> Value {
    let (s, b) = api
        .get(&format!("/users/{user}/mailboxes/{mb}/messages/{uid}"))
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn storage(api: &Api, user: &str) -> u64 {
    let (s, b) = api.get(&format!("/users/{user}")).await;
    assert_eq!(s, 200, "{b}");
    b["limits"]["quota"]["used"].as_u64().expect("used")
}

async fn scenario(kind: Kind) {
    let api = start(kind).await;
    let u = api.user("expiry").await;
    let other = api.user("expiry-other").await;
    let inbox = api.mailbox(&u, "INBOX").await;
    let path = |uid: u64| format!("/users/{u}/mailboxes/{inbox}/messages/{uid}");

    // Upload with metaData as an object and as JSON text.
    let (s, b) = upload(
        &api,
        &u,
        &inbox,
        json!({"raw": raw("one"), "metaData": {"src": "upload", "n": [1, 2]}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let one = b["message"]["id"].as_u64().expect("uid");
    let (s, b) = upload(
        &api,
        &u,
        &inbox,
        json!({"raw": raw("two"), "metaData": "{\"s\":1}"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let two = b["message"]["id"].as_u64().expect("uid");
    let m = message(&api, &u, &inbox, one).await;
    assert_eq!(m["metaData"], json!({"src": "upload", "n": [1, 2]}));
    assert!(m.get("expires").is_none(), "INBOX keeps: {m}");
    assert_eq!(
        message(&api, &u, &inbox, two).await["metaData"],
        json!({"s": 1})
    );

    // A bad metaData on upload: 400, nothing stored.
    for bad in [json!("[1]"), json!("{nope"), json!(5), json!([1])] {
        let (s, b) = upload(
            &api,
            &u,
            &inbox,
            json!({"raw": raw("bad"), "metaData": bad}),
        )
        .await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["code"], "InputValidationError");
        assert!(b["details"]["metaData"].is_string(), "{b}");
    }
    let (_, list) = api
        .get(&format!("/users/{u}/mailboxes/{inbox}/messages"))
        .await;
    assert_eq!(list["total"], 2, "{list}");

    // Update one: metaData and expires; then expires off.
    let (s, b) = api
        .put(
            &path(one),
            json!({"metaData": {"x": [1]}, "expires": "2099-01-01T00:00:00.000Z"}),
        )
        .await;
    assert_eq!((s, &b["updated"]), (200, &json!(1)), "{b}");
    let m = message(&api, &u, &inbox, one).await;
    assert_eq!(m["metaData"], json!({"x": [1]}));
    assert_eq!(m["expires"], "2099-01-01T00:00:00.000Z");
    let (s, b) = api.put(&path(one), json!({"expires": false})).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        message(&api, &u, &inbox, one)
            .await
            .get("expires")
            .is_none()
    );

    // Bad values: 400 and nothing changes.
    for bad in [
        json!({"metaData": 5}),
        json!({"metaData": "[1]"}),
        json!({"expires": "not a date"}),
        json!({"expires": true}),
        json!({"expires": {"at": 1}}),
    ] {
        let (s, b) = api.put(&path(one), bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert_eq!(b["code"], "InputValidationError");
    }
    let m = message(&api, &u, &inbox, one).await;
    assert_eq!(m["metaData"], json!({"x": [1]}));
    assert!(m.get("expires").is_none());

    // A UID range, then the listing with and without metaData.
    let (s, b) = api
        .put(
            &format!("/users/{u}/mailboxes/{inbox}/messages"),
            json!({"message": "1:*", "metaData": "{\"all\":true}"}),
        )
        .await;
    assert_eq!((s, &b["updated"]), (200, &json!(2)), "{b}");
    let (s, b) = api
        .get(&format!(
            "/users/{u}/mailboxes/{inbox}/messages?metaData=true"
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    let results = b["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r["metaData"] == json!({"all": true})),
        "{b}"
    );
    let (_, b) = api
        .get(&format!("/users/{u}/mailboxes/{inbox}/messages"))
        .await;
    assert!(b["results"][0].get("metaData").is_none(), "{b}");

    // Another user's mailbox, and a UID that is not there.
    let (s, b) = api
        .put(
            &format!("/users/{other}/mailboxes/{inbox}/messages/{one}"),
            json!({"metaData": {"stolen": 1}}),
        )
        .await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = api.put(&path(999), json!({"metaData": {"a": 1}})).await;
    assert_eq!((s, &b["code"]), (404, &json!("MessageNotFound")), "{b}");
    assert_eq!(
        message(&api, &u, &inbox, one).await["metaData"],
        json!({"all": true})
    );

    // An expiry in the past: the collector deletes the message into the archive.
    let used = storage(&api, &u).await;
    let size = message(&api, &u, &inbox, two).await["size"]
        .as_u64()
        .expect("size");
    let (s, b) = api
        .put(&path(two), json!({"expires": "2000-01-01T00:00:00.000Z"}))
        .await;
    assert_eq!(s, 200, "{b}");
    let c = api
        .services
        .collect_expired(wildduck_core::model::Timestamp::now())
        .await
        .expect("collect");
    assert!(c.expired >= 1, "{c:?}");
    let (s, _) = api.get(&path(two)).await;
    assert_eq!(s, 404, "the expired message is gone");
    assert_eq!(message(&api, &u, &inbox, one).await["subject"], "one");
    assert_eq!(storage(&api, &u).await, used - size, "quota released");
    let (s, b) = api.get(&format!("/users/{u}/archived/messages")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["results"][0]["subject"], "two", "{b}");

    // replacePrevious: a draft's new version replaces the old one (not archived: a draft).
    let drafts = api.mailbox(&u, "Drafts").await;
    let (s, b) = upload(
        &api,
        &u,
        &drafts,
        json!({"raw": raw("draft v1"), "draft": true}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let v1 = b["message"]["id"].as_u64().expect("uid");
    let (s, b) = upload(
        &api,
        &u,
        &drafts,
        json!({"raw": raw("draft v2"), "draft": true, "replacePrevious": {"id": v1}}),
    )
    .await;
    assert_eq!((s, &b["previousDeleted"]), (200, &json!(true)), "{b}");
    let (s, _) = api
        .get(&format!("/users/{u}/mailboxes/{drafts}/messages/{v1}"))
        .await;
    assert_eq!(s, 404, "the previous version is gone");
    let (_, b) = api.get(&format!("/users/{u}/archived/messages")).await;
    assert!(
        !b["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|m| m["subject"] == "draft v1"),
        "drafts are not archived: {b}"
    );
    // A previous message that is not there: stored anyway, the failure reported.
    let (s, b) = upload(
        &api,
        &u,
        &drafts,
        json!({"raw": raw("draft v3"), "replacePrevious": {"mailbox": inbox, "id": 999}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["previousDeleteError"],
        "Failed to delete previous message. Message was not found"
    );
    // Malformed: 400, nothing stored.
    let (_, before) = api
        .get(&format!("/users/{u}/mailboxes/{drafts}/messages"))
        .await;
    for bad in [
        json!({"mailbox": "nope", "id": 1}),
        json!({"mailbox": inbox}),
        json!({"id": 0}),
        json!(7),
    ] {
        let (s, b) = upload(
            &api,
            &u,
            &drafts,
            json!({"raw": raw("bad"), "replacePrevious": bad}),
        )
        .await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    let (_, after) = api
        .get(&format!("/users/{u}/mailboxes/{drafts}/messages"))
        .await;
    assert_eq!(before["total"], after["total"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_meta_data_on_sqlite() {
    scenario(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_meta_data_on_mongodb() {
    scenario(Kind::Mongo).await;
}
