//! The HTTP API over a real TCP listener with a real HTTP client, on the SQLite backend.

mod common;

use common::{Api, Kind, attachment_payload, multipart, simple, start, start_with};
use serde_json::json;
use wildduck_api::ApiConfig;

const NOBODY: &str = "0123456789abcdef01234567";

#[tokio::test]
async fn health_and_unknown_route() {
    let api = start(Kind::Sqlite).await;
    assert_eq!(api.get("/health").await, (200, json!({"success": true})));
    let (s, b) = api.get("/no/such/route").await;
    assert_eq!(s, 404);
    assert_eq!(b["code"], "ResourceNotFound");
}

#[tokio::test]
async fn users_create_get_update_delete() {
    let api = start(Kind::Sqlite).await;
    let id = api.user("testuser").await;
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let (s, b) = api.get(&format!("/users/{id}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(b["id"], id);
    assert_eq!(b["username"], "testuser");
    assert_eq!(b["name"], "Test User");
    assert_eq!(b["address"], "testuser@example.com");
    assert_eq!(b["limits"]["quota"]["allowed"], 1024u64 * 1024 * 1024);
    assert_eq!(b["limits"]["quota"]["used"], 0);
    assert_eq!(b["hasPasswordSet"], true);
    assert_eq!(b["disabled"], false);

    // Duplicate username.
    let (s, b) = api
        .post(
            "/users",
            json!({"username": "testuser", "password": "x12345678"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("UserExistsError")));

    let (s, b) = api
        .put(
            &format!("/users/{id}"),
            json!({"name": "Renamed", "quota": 5000, "tags": ["a", "b"], "disabledScopes": ["pop3"]}),
        )
        .await;
    assert_eq!((s, &b), (200, &json!({"success": true})));
    let (_, b) = api.get(&format!("/users/{id}")).await;
    assert_eq!(b["name"], "Renamed");
    assert_eq!(b["limits"]["quota"]["allowed"], 5000);
    assert_eq!(b["tags"], json!(["a", "b"]));
    assert_eq!(b["disabledScopes"], json!(["pop3"]));

    // Unknown fields are refused, as Joi does without allowUnknown.
    let (s, b) = api.put(&format!("/users/{id}"), json!({"nosuch": 1})).await;
    assert_eq!(s, 400);
    assert_eq!(b["code"], "InputValidationError");
    assert_eq!(b["details"]["nosuch"], "\"nosuch\" is not allowed");

    let (s, _) = api.delete(&format!("/users/{id}")).await;
    assert_eq!(s, 200);
    let (s, b) = api.get(&format!("/users/{id}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));
    // Deleting a deleted (not yet purged) user again is allowed, as in WildDuck.
    let (s, b) = api.delete(&format!("/users/{id}")).await;
    assert_eq!((s, b["code"].as_str()), (200, Some("TaskScheduled")));
    let (s, b) = api.delete(&format!("/users/{NOBODY}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));
}

#[tokio::test]
async fn users_validation() {
    let api = start(Kind::Sqlite).await;
    let (s, b) = api.get("/users/xyz").await;
    assert_eq!(s, 400);
    assert_eq!(b["code"], "InputValidationError");
    assert_eq!(
        b["details"]["user"],
        "\"user\" must only contain hexadecimal characters"
    );
    let (s, b) = api.get("/users/abcdef").await;
    assert_eq!(s, 400);
    assert_eq!(
        b["details"]["user"],
        "\"user\" length must be 24 characters long"
    );
    let (s, b) = api.get(&format!("/users/{NOBODY}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));

    // Several bad fields at once: all reported.
    let (s, b) = api
        .post(
            "/users",
            json!({"password": 5, "quota": -1, "hashedPassword": "maybe"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["details"]["username"], "\"username\" is required");
    assert_eq!(b["details"]["password"], "\"password\" must be a string");
    assert_eq!(
        b["details"]["quota"],
        "\"quota\" must be greater than or equal to 0"
    );
    assert_eq!(
        b["details"]["hashedPassword"],
        "\"hashedPassword\" must be a boolean"
    );
    let (s, b) = api.post("/users", json!({"username": "bad name!"})).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("InputValidationError")));

    // Bad JSON and a non-object body.
    let resp = api
        .client
        .post(api.url("/users"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let b: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(b["code"], "InvalidContent");
    let (s, _) = api.call("POST", "/users", Some(json!([1, 2]))).await;
    assert_eq!(s, 400);

    // Form bodies and boolean coercion as WildDuck accepts them.
    let resp = api
        .client
        .post(api.url("/users"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=formuser&password=secret%20pass&hashedPassword=no")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn body_over_limit_is_413() {
    let api = start_with(
        Kind::Sqlite,
        ApiConfig {
            body_limit: 1024,
            ..Default::default()
        },
    )
    .await;
    let big = "x".repeat(4096);
    let (s, b) = api
        .post("/users", json!({"username": "u", "name": big}))
        .await;
    assert_eq!(s, 413);
    assert_eq!(b["code"], "PayloadTooLarge");
    let (s, _) = api
        .post(
            "/users",
            json!({"username": "small", "password": "pw123456"}),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn master_token_from_header_query_and_bearer() {
    let api = start_with(
        Kind::Sqlite,
        ApiConfig {
            access_token: Some("s3cret-token".into()),
            ..Default::default()
        },
    )
    .await;
    let (s, b) = api.get("/health").await;
    assert_eq!((s, b["code"].as_str()), (403, Some("InvalidToken")));
    let ok = |r: reqwest::Response| r.status().as_u16();
    let c = &api.client;
    assert_eq!(
        ok(c.get(api.url("/health"))
            .header("X-Access-Token", "s3cret-token")
            .send()
            .await
            .expect("send")),
        200
    );
    assert_eq!(
        ok(c.get(api.url("/health?accessToken=s3cret-token"))
            .send()
            .await
            .expect("send")),
        200
    );
    assert_eq!(
        ok(c.get(api.url("/health"))
            .bearer_auth("s3cret-token")
            .send()
            .await
            .expect("send")),
        200
    );
    assert_eq!(
        ok(c.get(api.url("/health"))
            .bearer_auth("wrong")
            .send()
            .await
            .expect("send")),
        403
    );
    // The token is not a parameter: a strict route does not refuse it as unknown.
    let resp = c
        .post(api.url("/users?accessToken=s3cret-token"))
        .json(&json!({"username": "tokuser", "password": "pw123456"}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn a_token_without_access_control_is_refused() {
    let api = start(Kind::Sqlite).await;
    let resp = api
        .client
        .get(api.url("/health"))
        .header("X-Access-Token", "0123456789abcdef0123456789abcdef01234567")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 403);
}

#[tokio::test]
async fn addresses() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("addruser").await;
    let (s, b) = api
        .post(
            &format!("/users/{user}/addresses"),
            json!({"address": "Alias@Example.com", "name": "Alias"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let alias = b["id"].as_str().expect("id").to_string();
    let (s, b) = api
        .post(
            &format!("/users/{user}/addresses"),
            json!({"address": "alias@example.com"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("AddressExistsError")));
    let (s, b) = api
        .post(
            &format!("/users/{user}/addresses"),
            json!({"address": "*@example.net"}),
        )
        .await;
    assert_eq!(s, 400, "wildcard needs allowWildcard: {b}");

    let (s, b) = api.get(&format!("/users/{user}/addresses")).await;
    assert_eq!(s, 200);
    let list = b["results"].as_array().expect("results");
    assert_eq!(list.len(), 2);
    let main: Vec<_> = list.iter().filter(|a| a["main"] == true).collect();
    assert_eq!(main.len(), 1);
    assert_eq!(main[0]["address"], "addruser@example.com");
    assert!(
        list.iter()
            .any(|a| a["id"] == alias && a["name"] == "Alias")
    );

    let (s, b) = api.get("/addresses/resolve/alias@example.com").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["id"], alias);
    assert_eq!(b["user"], user);
    let (s, b) = api.get("/addresses/resolve/nobody@example.com").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AddressNotFound")));
    let (s, _) = api.get(&format!("/addresses/resolve/{alias}")).await;
    assert_eq!(s, 200);

    // The main address cannot be deleted; after moving "main" the old one can.
    let main_id = main[0]["id"].as_str().expect("id").to_string();
    let (s, b) = api
        .delete(&format!("/users/{user}/addresses/{main_id}"))
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("NotPermitted")));
    let (s, _) = api
        .put(
            &format!("/users/{user}/addresses/{alias}"),
            json!({"main": true}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, b) = api.get(&format!("/users/{user}")).await;
    assert_eq!(b["address"], "alias@example.com");
    let (s, _) = api
        .delete(&format!("/users/{user}/addresses/{main_id}"))
        .await;
    assert_eq!(s, 200);
    let (s, b) = api.get(&format!("/users/{user}/addresses/{main_id}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AddressNotFound")));

    // Another user's address id reads as absent.
    let other = api.user("otheruser").await;
    let (s, b) = api.get(&format!("/users/{other}/addresses/{alias}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AddressNotFound")));
    let (s, _) = api
        .delete(&format!("/users/{other}/addresses/{alias}"))
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn mailboxes() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("mbuser").await;
    let (s, b) = api.get(&format!("/users/{user}/mailboxes")).await;
    assert_eq!(s, 200);
    let paths: Vec<&str> = b["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|m| m["path"].as_str())
        .collect();
    assert_eq!(paths, ["INBOX", "Drafts", "Junk", "Sent Mail", "Trash"]);
    let junk = &b["results"][2];
    assert_eq!(junk["specialUse"], "\\Junk");
    assert_eq!(junk["retention"], 2_592_000_000u64);
    assert_eq!(junk["modifyIndex"], 1);
    assert_eq!(b["results"][0]["specialUse"], serde_json::Value::Null);
    assert!(b["results"][0].get("total").is_none());

    let (s, b) = api
        .post(
            &format!("/users/{user}/mailboxes"),
            json!({"path": "Projects/2026"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["id"].as_str().expect("id").to_string();
    let (s, b) = api
        .post(
            &format!("/users/{user}/mailboxes"),
            json!({"path": "Projects/2026"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("MailboxExistsError")));
    let (s, b) = api
        .post(
            &format!("/users/{user}/mailboxes"),
            json!({"path": "bad//path"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("InputValidationError")));

    let (s, b) = api.get(&format!("/users/{user}/mailboxes/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(b["name"], "2026");
    assert_eq!(b["path"], "Projects/2026");
    assert_eq!(
        (b["total"].as_u64(), b["unseen"].as_u64()),
        (Some(0), Some(0))
    );
    let (s, b) = api
        .get(&format!(
            "/users/{user}/mailboxes/resolve?path=Projects/2026"
        ))
        .await;
    assert_eq!((s, b["id"].as_str()), (200, Some(id.as_str())));

    let (s, _) = api
        .put(
            &format!("/users/{user}/mailboxes/{id}"),
            json!({"path": "Archive/2026", "subscribed": false}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, b) = api.get(&format!("/users/{user}/mailboxes/{id}")).await;
    assert_eq!(b["path"], "Archive/2026");
    assert_eq!(b["subscribed"], false);

    let inbox = api.mailbox(&user, "INBOX").await;
    let (s, b) = api
        .delete(&format!("/users/{user}/mailboxes/{inbox}"))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("DisallowedMailboxMethod"))
    );
    let (s, _) = api.delete(&format!("/users/{user}/mailboxes/{id}")).await;
    assert_eq!(s, 200);
    let (s, b) = api.get(&format!("/users/{user}/mailboxes/{id}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("NoSuchMailbox")));

    // Another user's mailbox id is not found for this user.
    let other = api.user("mbother").await;
    let (s, _) = api.get(&format!("/users/{other}/mailboxes/{inbox}")).await;
    assert_eq!(s, 404);
    let (s, _) = api
        .delete(&format!("/users/{other}/mailboxes/{inbox}"))
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn message_upload_get_raw_attachment() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("testuser").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let raw = multipart();
    let uid = api
        .upload(&user, &inbox, &raw, "?unseen=true&flagged=true")
        .await;
    assert_eq!(uid, 1);

    let base = format!("/users/{user}/mailboxes/{inbox}/messages/{uid}");
    let (s, b) = api.get(&base).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["id"], 1);
    assert_eq!(b["mailbox"], inbox);
    assert_eq!(b["user"], user);
    assert_eq!(b["subject"], "Report with attachment ✔");
    assert_eq!(
        b["from"],
        json!({"address": "jurgen@example.org", "name": "Jürgen Müller"})
    );
    assert_eq!(
        b["to"][1],
        json!({"address": "second@example.com", "name": "Second, Person"})
    );
    assert_eq!(b["messageId"], "<multi-att-1@example.org>");
    assert_eq!(b["date"], "2025-06-03T10:34:56.000Z");
    assert_eq!(b["seen"], false);
    assert_eq!(b["flagged"], true);
    assert_eq!(b["size"], raw.len());
    assert!(b["text"].as_str().unwrap_or("").contains("Grüße"));
    assert_eq!(
        b["html"][0],
        "<p>Please find the <b>report</b> attached.</p>"
    );
    assert_eq!(
        b["references"],
        json!(["<a@example.org>", "<b@example.org>"])
    );
    assert_eq!(
        b["contentType"],
        json!({"value": "multipart/mixed", "params": {"boundary": "outer-boundary"}})
    );
    let att = &b["attachments"][0];
    assert_eq!(att["id"], "ATT00001");
    assert_eq!(att["filename"], "report.bin");
    assert_eq!(att["contentType"], "application/octet-stream");
    assert_eq!(att["transferEncoding"], "base64");
    assert!(att["hash"].is_string());

    let got = api
        .client
        .get(api.url(&format!("{base}/message.eml")))
        .send()
        .await
        .expect("send");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), raw);

    let got = api
        .client
        .get(api.url(&format!("{base}/attachments/ATT00001")))
        .send()
        .await
        .expect("send");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(
        got.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/octet-stream")
    );
    assert_eq!(
        got.bytes().await.expect("bytes").to_vec(),
        attachment_payload()
    );
    let (s, b) = api.get(&format!("{base}/attachments/ATT00009")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("FileNotFound")));
    let (s, _) = api.get(&format!("{base}/attachments/nope")).await;
    assert_eq!(s, 400);

    // markAsSeen.
    let (_, b) = api.get(&format!("{base}?markAsSeen=true")).await;
    assert_eq!(b["seen"], true);
    let (_, b) = api.get(&base).await;
    assert_eq!(b["seen"], true);

    // Unknown message, bad message id, another user's mailbox.
    let (s, b) = api
        .get(&format!("/users/{user}/mailboxes/{inbox}/messages/99"))
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("MessageNotFound")));
    let (s, b) = api
        .get(&format!("/users/{user}/mailboxes/{inbox}/messages/abc"))
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("InputValidationError")));
    let other = api.user("intruder").await;
    let (s, _) = api
        .get(&format!("/users/{other}/mailboxes/{inbox}/messages/1"))
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .get(&format!(
            "/users/{other}/mailboxes/{inbox}/messages/1/message.eml"
        ))
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn message_upload_json_and_validation() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("jsonuser").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let path = format!("/users/{user}/mailboxes/{inbox}/messages");
    let raw = String::from_utf8(simple("json")).expect("utf8");
    let (s, b) = api.post(&path, json!({"raw": raw})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["message"]["id"], 1);
    assert_eq!(b["message"]["size"], raw.len());
    // Default unseen=false: stored \Seen.
    let (_, b) = api.get(&format!("{path}/1")).await;
    assert_eq!(b["seen"], true);
    let (s, b) = api
        .post(&path, json!({"raw": raw, "flags": ["\\Seen"]}))
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["details"]["flags"], "\"flags\" is not allowed");
    let (s, b) = api.post(&path, json!({})).await;
    assert_eq!(
        (s, b["details"]["raw"].as_str()),
        (400, Some("\"raw\" is required"))
    );
    let (_, b) = api.get(&format!("/users/{user}")).await;
    assert_eq!(b["limits"]["quota"]["used"], raw.len());
}

#[tokio::test]
async fn message_list_pagination_update_move_delete() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("listuser").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let trash = api.mailbox(&user, "Trash").await;
    for i in 1..=5 {
        api.upload(&user, &inbox, &simple(&format!("m{i}")), "?unseen=true")
            .await;
    }
    let list = format!("/users/{user}/mailboxes/{inbox}/messages");
    let (s, b) = api.get(&format!("{list}?limit=2")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 5);
    assert_eq!(b["page"], 1);
    assert_eq!(b["previousCursor"], false);
    assert_eq!(b["specialUse"], serde_json::Value::Null);
    let ids: Vec<u64> = b["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(ids, [5, 4]);
    let first = &b["results"][0];
    assert_eq!(first["subject"], "m5");
    assert_eq!(first["intro"], "Hello m5");
    assert_eq!(first["attachments"], false);
    assert_eq!(first["seen"], false);
    let next = b["nextCursor"].as_str().expect("next").to_string();

    let (_, b2) = api.get(&format!("{list}?limit=2&next={next}&page=2")).await;
    let ids: Vec<u64> = b2["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(ids, [3, 2]);
    assert_eq!(b2["page"], 2);
    let prev = b2["previousCursor"].as_str().expect("prev").to_string();
    let next2 = b2["nextCursor"].as_str().expect("next").to_string();
    let (_, b3) = api
        .get(&format!("{list}?limit=2&next={next2}&page=3"))
        .await;
    let ids: Vec<u64> = b3["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(ids, [1]);
    assert_eq!(b3["nextCursor"], false);
    let (_, back) = api.get(&format!("{list}?limit=2&previous={prev}")).await;
    let ids: Vec<u64> = back["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(ids, [5, 4]);
    let (_, asc) = api.get(&format!("{list}?limit=3&order=asc")).await;
    let ids: Vec<u64> = asc["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(ids, [1, 2, 3]);

    for bad in ["limit=0", "limit=251", "limit=x", "next=%%%", "order=up"] {
        let (s, b) = api.get(&format!("{list}?{bad}")).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (400, Some("InputValidationError")),
            "{bad}"
        );
    }

    // Flags.
    let (s, b) = api
        .put(&format!("{list}/2"), json!({"seen": true, "flagged": true}))
        .await;
    assert_eq!((s, b["updated"].as_u64()), (200, Some(1)), "{b}");
    let (_, b) = api.get(&format!("{list}/2")).await;
    assert_eq!(
        (b["seen"].as_bool(), b["flagged"].as_bool()),
        (Some(true), Some(true))
    );
    let (_, b) = api
        .put(
            &format!("{list}/2"),
            json!({"flagged": false, "draft": true}),
        )
        .await;
    assert_eq!(b["success"], true);
    let (_, b) = api.get(&format!("{list}/2")).await;
    assert_eq!(
        (b["flagged"].as_bool(), b["draft"].as_bool()),
        (Some(false), Some(true))
    );
    let (_, b) = api.get(&format!("{list}?unseen=true")).await;
    assert_eq!(b["total"], 4);
    let (s, b) = api.put(&format!("{list}/77"), json!({"seen": true})).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("MessageNotFound")));
    let (s, _) = api
        .put(&format!("{list}/2"), json!({"seen": "perhaps"}))
        .await;
    assert_eq!(s, 400);

    // Move.
    let (s, b) = api
        .put(&format!("{list}/3"), json!({"moveTo": trash}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["mailbox"], trash);
    assert_eq!(b["id"], json!([[3, 1]]));
    let (s, _) = api.get(&format!("{list}/3")).await;
    assert_eq!(s, 404);
    let (s, b) = api
        .get(&format!("/users/{user}/mailboxes/{trash}/messages/1"))
        .await;
    assert_eq!((s, b["subject"].as_str()), (200, Some("m3")));
    let (s, b) = api
        .put(&format!("{list}/4"), json!({"moveTo": NOBODY}))
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("NoSuchMailbox")));

    // Counters in the listing.
    let (_, b) = api
        .get(&format!("/users/{user}/mailboxes?counters=true"))
        .await;
    let inbox_row = &b["results"][0];
    assert_eq!(
        (inbox_row["total"].as_u64(), inbox_row["unseen"].as_u64()),
        (Some(4), Some(3))
    );

    // Delete.
    let (s, _) = api.delete(&format!("{list}/1")).await;
    assert_eq!(s, 200);
    let (s, b) = api.delete(&format!("{list}/1")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("MessageNotFound")));
    let (_, b) = api.get(&list).await;
    assert_eq!(b["total"], 3);

    // Quota reset recomputes from the stored messages.
    let (s, b) = api
        .post(&format!("/users/{user}/quota/reset"), json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let expected: usize = [2, 4, 5, 3]
        .iter()
        .map(|i| simple(&format!("m{i}")).len())
        .sum();
    assert_eq!(b["storageUsed"], expected);
    assert_eq!(b["previousStorageUsed"], expected);
}

#[tokio::test]
async fn authenticate_with_scopes() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("authuser").await;
    let (s, b) = api
        .post(
            "/authenticate",
            json!({"username": "authuser", "password": "secretpass"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["id"], user);
    assert_eq!(b["username"], "authuser");
    assert_eq!(b["address"], "authuser@example.com");
    assert_eq!(b["scope"], "master");
    let (s, b) = api
        .post(
            "/authenticate",
            json!({"username": "authuser@example.com", "password": "secretpass", "scope": "imap"}),
        )
        .await;
    assert_eq!((s, b["scope"].as_str()), (200, Some("imap")));
    let (s, b) = api
        .post(
            "/authenticate",
            json!({"username": "authuser", "password": "wrong"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("AuthFailed")));
    let (s, b) = api
        .post(
            "/authenticate",
            json!({"username": "authuser", "password": "secretpass", "scope": "web"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("InputValidationError")));
    api.put(
        &format!("/users/{user}"),
        json!({"disabledScopes": ["pop3"]}),
    )
    .await;
    let (s, b) = api
        .post(
            "/authenticate",
            json!({"username": "authuser", "password": "secretpass", "scope": "pop3"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("InvalidAuthScope")));
    // Password change through the API is effective.
    let (s, _) = api
        .put(&format!("/users/{user}"), json!({"password": "newsecret1"}))
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .post(
            "/authenticate",
            json!({"username": "authuser", "password": "newsecret1"}),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let api: Api = start(Kind::Sqlite).await;
    let (s, b) = api.get("/openapi.json").await;
    assert_eq!(s, 200);
    assert!(b["openapi"].as_str().unwrap_or("").starts_with("3."));
    let paths = b["paths"].as_object().expect("paths");
    let ops: usize = paths
        .values()
        .map(|p| {
            p.as_object().map_or(0, |o| {
                o.keys()
                    .filter(|k| ["get", "post", "put", "delete"].contains(&k.as_str()))
                    .count()
            })
        })
        .sum();
    assert_eq!(ops, wildduck_api::openapi::ROUTES.len());
    for (_, path, ..) in wildduck_api::openapi::ROUTES {
        assert!(paths.contains_key(*path), "{path}");
    }
    let get_message = &paths["/users/{user}/mailboxes/{mailbox}/messages/{message}"];
    assert!(
        get_message["get"].is_object()
            && get_message["put"].is_object()
            && get_message["delete"].is_object()
    );
    assert!(paths.contains_key("/users/{user}/mailboxes/{mailbox}/messages/{message}/message.eml"));
}

#[tokio::test]
async fn users_listing_with_query_tags_and_pages() {
    let api = start(Kind::Sqlite).await;
    let mut ids = Vec::new();
    for (name, tags) in [
        ("alpha", json!(["red", "blue"])),
        ("bravo", json!(["red"])),
        ("charlie", json!([])),
        ("delta", json!(["blue"])),
        ("echo.x", json!(["red", "blue"])),
    ] {
        let (s, b) = api
            .post("/users", json!({"username": name, "password": "pw123456", "tags": tags, "address": format!("{name}@example.com")}))
            .await;
        assert_eq!(s, 200, "{b}");
        ids.push(b["id"].as_str().expect("id").to_string());
    }
    let (s, b) = api.get("/users?limit=2").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 5);
    assert_eq!(b["query"], "");
    let names: Vec<&str> = b["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["alpha", "bravo"], "id order = creation order");
    assert_eq!(b["results"][0]["id"], ids[0]);
    assert_eq!(b["results"][0]["quota"]["allowed"], 1024u64 * 1024 * 1024);
    assert_eq!(b["results"][0]["hasPasswordSet"], true);
    let mut seen: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut next = b["nextCursor"].as_str().map(str::to_string);
    let mut pages = 1;
    while let Some(c) = next {
        let (_, b) = api.get(&format!("/users?limit=2&next={c}")).await;
        seen.extend(
            b["results"]
                .as_array()
                .expect("r")
                .iter()
                .filter_map(|u| u["username"].as_str())
                .map(str::to_string),
        );
        next = b["nextCursor"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["alpha", "bravo", "charlie", "delta", "echo.x"]);

    let (_, b) = api.get("/users?query=CHAR").await;
    assert_eq!(b["total"], 1);
    assert_eq!(b["results"][0]["username"], "charlie");
    assert_eq!(b["query"], "char");
    let (_, b) = api.get("/users?query=echox").await;
    assert_eq!(b["total"], 1, "unameview ignores dots");
    let (_, b) = api.get("/users?tags=blue").await;
    assert_eq!(b["total"], 3);
    let (_, b) = api.get("/users?requiredTags=red,blue").await;
    let names: Vec<&str> = b["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["alpha", "echo.x"]);
    let (s, b) = api.get("/users?limit=500").await;
    assert_eq!(
        (s, b["details"]["limit"].as_str()),
        (400, Some("\"limit\" must be less than or equal to 250"))
    );
}

#[tokio::test]
async fn update_by_uid_selector_and_resolve_user() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("rangeuser").await;
    let (s, b) = api.get("/users/resolve/rangeuser").await;
    assert_eq!((s, b["id"].as_str()), (200, Some(user.as_str())));
    let (s, b) = api.get("/users/resolve/rangeuser@example.com").await;
    assert_eq!((s, b["id"].as_str()), (200, Some(user.as_str())));
    let (s, b) = api.get("/users/resolve/nobody").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));

    let inbox = api.mailbox(&user, "INBOX").await;
    let junk = api.mailbox(&user, "Junk").await;
    for i in 1..=6 {
        api.upload(&user, &inbox, &simple(&format!("r{i}")), "?unseen=true")
            .await;
    }
    let list = format!("/users/{user}/mailboxes/{inbox}/messages");
    let (s, b) = api
        .put(&list, json!({"message": "2:4", "seen": true}))
        .await;
    assert_eq!((s, b["updated"].as_u64()), (200, Some(3)), "{b}");
    let (s, b) = api
        .put(&format!("{list}/1,6"), json!({"flagged": true}))
        .await;
    assert_eq!((s, b["updated"].as_u64()), (200, Some(2)), "{b}");
    let (_, b) = api.get(&format!("{list}?unseen=true&order=asc")).await;
    let ids: Vec<u64> = b["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(ids, [1, 5, 6]);
    let (_, b) = api.get(&format!("{list}/6")).await;
    assert_eq!(b["flagged"], true);
    let (s, b) = api
        .put(&format!("{list}/5:*"), json!({"moveTo": junk}))
        .await;
    assert_eq!((s, &b["id"]), (200, &json!([[5, 1], [6, 2]])), "{b}");
    for bad in ["0", "1:x", "a,b", "1,,2", "-1"] {
        let (s, b) = api.put(&list, json!({"message": bad, "seen": true})).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (400, Some("InputValidationError")),
            "{bad}"
        );
    }
    let (s, b) = api.put(&list, json!({"seen": true})).await;
    assert_eq!(
        (s, b["details"]["message"].as_str()),
        (400, Some("\"message\" is required"))
    );
    let (s, b) = api
        .put(&list, json!({"message": "100:200", "seen": true}))
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("MessageNotFound")));
}

#[tokio::test]
async fn clear_mailbox() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("clearuser").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let sent = api.mailbox(&user, "Sent Mail").await;
    for i in 1..=3 {
        api.upload(&user, &inbox, &simple(&format!("c{i}")), "")
            .await;
    }
    api.upload(&user, &sent, &simple("keep"), "").await;
    let (s, b) = api
        .delete(&format!("/users/{user}/mailboxes/{inbox}/messages"))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["deleted"].as_u64(), b["errors"].as_u64()),
        (Some(3), Some(0))
    );
    let (_, b) = api
        .get(&format!("/users/{user}/mailboxes/{inbox}/messages"))
        .await;
    assert_eq!(b["total"], 0);
    let (_, b) = api.get(&format!("/users/{user}")).await;
    assert_eq!(b["limits"]["quota"]["used"], simple("keep").len());
    let (s, b) = api
        .delete(&format!("/users/{user}/mailboxes/{inbox}/messages"))
        .await;
    assert_eq!((s, b["deleted"].as_u64()), (200, Some(0)));
    let other = api.user("clearother").await;
    let (s, _) = api
        .delete(&format!("/users/{other}/mailboxes/{sent}/messages"))
        .await;
    assert_eq!(s, 404);
    let (_, b) = api
        .get(&format!("/users/{user}/mailboxes/{sent}/messages"))
        .await;
    assert_eq!(b["total"], 1);
}

#[tokio::test]
async fn search_across_mailboxes() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("searcher").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let sent = api.mailbox(&user, "Sent Mail").await;
    api.upload(&user, &inbox, &simple("Hello one"), "?unseen=true")
        .await;
    api.upload(&user, &inbox, &multipart(), "?flagged=true")
        .await;
    api.upload(&user, &sent, &simple("Hello two"), "").await;
    let other = api.user("searchother").await;
    let oinbox = api.mailbox(&other, "INBOX").await;
    api.upload(&other, &oinbox, &simple("Hello other"), "")
        .await;

    let (s, b) = api
        .get(&format!("/users/{user}/search?subject=Hello"))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 2);
    let subjects: Vec<&str> = b["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["subject"].as_str())
        .collect();
    assert_eq!(
        subjects,
        ["Hello two", "Hello one"],
        "newest first, never another user's"
    );
    assert_eq!(b["results"][0]["mailbox"], sent);

    let (_, b) = api
        .get(&format!(
            "/users/{user}/search?subject=Hello&mailbox={inbox}"
        ))
        .await;
    assert_eq!(b["total"], 1);
    let (_, b) = api.get(&format!("/users/{user}/search?from=jurgen")).await;
    assert_eq!(
        (b["total"].as_u64(), b["results"][0]["id"].as_u64()),
        (Some(1), Some(2))
    );
    let (_, b) = api
        .get(&format!("/users/{user}/search?attachments=true"))
        .await;
    assert_eq!(b["total"], 1);
    let (_, b) = api.get(&format!("/users/{user}/search?unseen=true")).await;
    assert_eq!(b["results"][0]["subject"], "Hello one");
    let (_, b) = api.get(&format!("/users/{user}/search?flagged=true")).await;
    assert_eq!(b["total"], 1);
    let (_, b) = api
        .get(&format!("/users/{user}/search?to=second@example.com"))
        .await;
    assert_eq!(b["total"], 1);
    let (_, b) = api.get(&format!("/users/{user}/search?minSize=1000")).await;
    assert_eq!(b["total"], 1);
    let (_, b) = api.get(&format!("/users/{user}/search?limit=2")).await;
    assert_eq!(b["total"], 3);
    let next = b["nextCursor"].as_str().expect("next").to_string();
    let (_, b) = api
        .get(&format!("/users/{user}/search?limit=2&next={next}"))
        .await;
    assert_eq!(b["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(b["results"][0]["subject"], "Hello one");

    let (s, b) = api
        .get(&format!("/users/{user}/search?mailbox={oinbox}"))
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("NoSuchMailbox")));
    // The `q` language (more in tests/api_more.rs).
    let (s, b) = api.get(&format!("/users/{user}/search?q=hello")).await;
    assert_eq!((s, b["total"].as_u64()), (200, Some(2)));
    let (s, _) = api
        .get(&format!("/users/{user}/search?datestart=yesterday"))
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn preauth_and_token_invalidation() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("preuser").await;
    let (s, b) = api
        .post(
            "/preauth",
            json!({"username": "preuser@example.com", "scope": "imap"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["id"].as_str(), b["scope"].as_str()),
        (Some(user.as_str()), Some("imap"))
    );
    let (s, b) = api.post("/preauth", json!({"username": "nobody"})).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("AuthFailed")));
    api.put(
        &format!("/users/{user}"),
        json!({"disabledScopes": ["imap"]}),
    )
    .await;
    let (s, b) = api
        .post("/preauth", json!({"username": "preuser", "scope": "imap"}))
        .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("InvalidAuthScope")));
    api.put(&format!("/users/{user}"), json!({"disabled": true}))
        .await;
    let (s, b) = api.post("/preauth", json!({"username": "preuser"})).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("AuthFailed")));
    let (s, b) = api.post("/preauth", json!({})).await;
    assert_eq!(
        (s, b["details"]["username"].as_str()),
        (400, Some("\"username\" is required"))
    );
    assert_eq!(
        api.delete("/authenticate").await,
        (200, json!({"success": true}))
    );
}

#[tokio::test]
async fn path_parameters_are_percent_decoded() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("pctuser").await;
    let (s, b) = api.get("/addresses/resolve/pctuser%40example.com").await;
    assert_eq!((s, b["user"].as_str()), (200, Some(user.as_str())), "{b}");
    let (s, b) = api.get("/users/resolve/pctuser%40example.com").await;
    assert_eq!((s, b["id"].as_str()), (200, Some(user.as_str())), "{b}");
    let (s, b) = api
        .post(
            &format!("/users/{user}/mailboxes"),
            json!({"path": "Ünïcode/✔"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = api
        .get(&format!(
            "/users/{user}/mailboxes/resolve?path=%C3%9Cn%C3%AFcode%2F%E2%9C%94"
        ))
        .await;
    assert_eq!((s, b["name"].as_str()), (200, Some("✔")), "{b}");
}

#[tokio::test]
async fn logout_without_notifier_reports_false() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("lonely").await;
    let (s, b) = api.put(&format!("/users/{user}/logout"), json!({})).await;
    assert_eq!((s, &b), (200, &json!({"success": false})));
    let (s, _) = api
        .put(
            &format!("/users/{user}/logout"),
            json!({"reason": "x".repeat(200)}),
        )
        .await;
    assert_eq!(s, 400);
}
