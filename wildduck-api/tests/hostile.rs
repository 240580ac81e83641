//! Hostile input never gets a 5xx and never changes another user's data: every route is called
//! with wrong types, odd ids and odd bodies.

mod common;

use common::{Kind, simple, start};
use serde_json::{Value, json};

#[tokio::test]
async fn no_server_errors_on_odd_input() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("hostile").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    api.upload(&user, &inbox, &simple("h"), "").await;
    let victim = api.user("victim").await;
    let vinbox = api.mailbox(&victim, "INBOX").await;
    api.upload(&victim, &vinbox, &simple("secret"), "").await;

    let ids = [
        user.as_str(),
        "zzzzzzzzzzzzzzzzzzzzzzzz",
        "0",
        "%00",
        "%E2%9C%94",
        "ffffffffffffffffffffffff",
        "resolve",
    ];
    let mut paths = Vec::new();
    for id in ids {
        paths.push(format!("/users/{id}"));
        paths.push(format!("/users/{id}/addresses"));
        paths.push(format!("/users/{id}/addresses/{id}"));
        paths.push(format!("/users/{id}/mailboxes"));
        paths.push(format!("/users/{user}/mailboxes/{id}"));
        paths.push(format!("/users/{user}/mailboxes/{vinbox}/messages"));
        paths.push(format!("/users/{user}/mailboxes/{inbox}/messages/{id}"));
        paths.push(format!(
            "/users/{user}/mailboxes/{inbox}/messages/{id}/message.eml"
        ));
        paths.push(format!(
            "/users/{user}/mailboxes/{inbox}/messages/1/attachments/{id}"
        ));
        paths.push(format!("/addresses/resolve/{id}"));
        paths.push(format!("/users/resolve/{id}"));
    }
    paths.push(format!(
        "/users/{user}/mailboxes/{inbox}/messages/99999999999999999999"
    ));
    paths.push(format!("/users/{user}/mailboxes/{inbox}/messages/1.5"));
    paths.push(format!(
        "/users/{user}/mailboxes/{inbox}/messages?limit=1e400&next=%FF&order=%00"
    ));
    paths.push("/users?query=%5B(&tags=,,,&limit=-1".to_string());
    paths.push(format!(
        "/users/{user}/search?datestart=999999999999999-01-01&dateend=0-0-0&minSize=1e300"
    ));
    let bodies = [
        json!({}),
        json!({"username": ["x"], "password": {"a": 1}, "quota": "1e999", "tags": [1, 2], "seen": "maybe"}),
        json!({"path": "", "subscribed": [], "moveTo": 5, "message": "1:*:*", "raw": 7}),
        json!({"address": "not an address", "main": "perhaps", "name": null}),
        json!({"disabledScopes": "imap,nonsense", "retention": -5, "date": "2025-99-99"}),
        json!({"path": "a/".repeat(5000)}),
        json!({"date": "999999999999999-12-31T23:59:59.999Z", "datestart": "-99999-01-01", "raw": "x"}),
    ];
    for path in &paths {
        for method in ["GET", "PUT", "DELETE", "POST"] {
            let list: Vec<Option<Value>> = if method == "GET" || method == "DELETE" {
                vec![None]
            } else {
                bodies.iter().cloned().map(Some).collect()
            };
            for body in list {
                let (s, b) = api.call(method, path, body.clone()).await;
                assert!(s < 500, "{method} {path} {body:?} -> {s} {b}");
                if s >= 400 {
                    assert!(
                        b["code"].is_string() && b["error"].is_string(),
                        "{method} {path}: {b}"
                    );
                }
            }
        }
    }
    // The victim's data is untouched and was never shown.
    let (s, b) = api
        .get(&format!("/users/{victim}/mailboxes/{vinbox}/messages"))
        .await;
    assert_eq!((s, b["total"].as_u64()), (200, Some(1)));
    assert_eq!(b["results"][0]["subject"], "secret");
    let (_, b) = api.get(&format!("/users/{victim}")).await;
    assert_eq!(b["username"], "victim");
}
