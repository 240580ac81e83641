//! A subset of the HTTP API tests on the scale-out backend (MongoDB wire server + Redis), over a
//! real TCP listener with a real HTTP client.

mod common;

use common::{Kind, attachment_payload, multipart, simple, start};
use serde_json::json;

#[tokio::test]
async fn mongo_users_addresses_mailboxes() {
    let api = start(Kind::Mongo).await;
    assert_eq!(api.get("/health").await, (200, json!({"success": true})));
    let user = api.user("mongouser").await;
    let (s, b) = api.get(&format!("/users/{user}")).await;
    assert_eq!((s, b["username"].as_str()), (200, Some("mongouser")));
    let (s, b) = api
        .post(
            "/users",
            json!({"username": "mongouser", "password": "pw123456"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("UserExistsError")));

    let (s, b) = api
        .post(
            &format!("/users/{user}/addresses"),
            json!({"address": "alias@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = api.get("/addresses/resolve/alias@example.com").await;
    assert_eq!((s, b["user"].as_str()), (200, Some(user.as_str())));

    let (s, b) = api
        .post(&format!("/users/{user}/mailboxes"), json!({"path": "Work"}))
        .await;
    assert_eq!(s, 200, "{b}");
    let work = b["id"].as_str().expect("id").to_string();
    let (s, _) = api
        .put(
            &format!("/users/{user}/mailboxes/{work}"),
            json!({"path": "Work2"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, b) = api.get(&format!("/users/{user}/mailboxes/{work}")).await;
    assert_eq!(b["path"], "Work2");

    let other = api.user("mongoother").await;
    let (s, b) = api.get(&format!("/users/{other}/mailboxes/{work}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("NoSuchMailbox")));

    let (s, _) = api.delete(&format!("/users/{user}")).await;
    assert_eq!(s, 200);
    let (s, _) = api.get(&format!("/users/{user}")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn mongo_messages() {
    let api = start(Kind::Mongo).await;
    let user = api.user("mongomsg").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let trash = api.mailbox(&user, "Trash").await;
    let raw = multipart();
    let uid = api.upload(&user, &inbox, &raw, "?unseen=true").await;
    for i in 2..=4 {
        api.upload(&user, &inbox, &simple(&format!("m{i}")), "")
            .await;
    }
    let base = format!("/users/{user}/mailboxes/{inbox}/messages");
    let (s, b) = api.get(&format!("{base}/{uid}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["subject"], "Report with attachment ✔");
    assert_eq!(b["attachments"][0]["id"], "ATT00001");
    let eml = api
        .client
        .get(api.url(&format!("{base}/{uid}/message.eml")))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(eml.to_vec(), raw);
    let att = api
        .client
        .get(api.url(&format!("{base}/{uid}/attachments/ATT00001")))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(att.to_vec(), attachment_payload());

    let (_, b) = api.get(&format!("{base}?limit=3")).await;
    assert_eq!(b["total"], 4);
    let ids: Vec<u64> = b["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(ids, [4, 3, 2]);
    let next = b["nextCursor"].as_str().expect("next").to_string();
    let (_, b) = api.get(&format!("{base}?limit=3&next={next}")).await;
    let ids: Vec<u64> = b["results"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert_eq!(ids, [1]);

    let (s, b) = api
        .put(&format!("{base}/{uid}"), json!({"seen": true}))
        .await;
    assert_eq!((s, b["updated"].as_u64()), (200, Some(1)));
    let (s, b) = api
        .put(&format!("{base}/2"), json!({"moveTo": trash}))
        .await;
    assert_eq!((s, &b["id"]), (200, &json!([[2, 1]])));
    let (s, _) = api.delete(&format!("{base}/3")).await;
    assert_eq!(s, 200);
    let (_, b) = api
        .get(&format!("/users/{user}/mailboxes?counters=true"))
        .await;
    assert_eq!(b["results"][0]["total"], 2);
    assert_eq!(b["results"][0]["unseen"], 0);
    let (s, b) = api
        .post(&format!("/users/{user}/quota/reset"), json!({}))
        .await;
    assert_eq!(s, 200);
    let expected = raw.len() + simple("m2").len() + simple("m4").len();
    assert_eq!(b["storageUsed"], expected);
}

#[tokio::test]
async fn mongo_users_listing() {
    let api = start(Kind::Mongo).await;
    let a = api.user("listone").await;
    let b_id = api.user("listtwo").await;
    let (s, b) = api.get("/users?query=list&limit=1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 2);
    assert_eq!(b["results"][0]["id"], a);
    let next = b["nextCursor"].as_str().expect("next").to_string();
    let (_, b) = api
        .get(&format!("/users?query=list&limit=1&next={next}"))
        .await;
    assert_eq!(b["results"][0]["id"], b_id);
    assert_eq!(b["nextCursor"], false);
}

#[tokio::test]
async fn mongo_logout_publishes_wildducks_payload() {
    let api = start(Kind::Mongo).await;
    let user = api.user("logoutuser").await;
    let mut sub = api.services.notifier().expect("notifier").subscribe();
    let (s, b) = api
        .call(
            "PUT",
            &format!("/users/{user}/logout"),
            Some(json!({"reason": "bye now"})),
        )
        .await;
    assert_eq!((s, &b), (200, &json!({"success": true})));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut found = false;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, sub.recv()).await {
        if format!("{ev:?}").contains("LOGOUT") && format!("{ev:?}").contains("bye now") {
            found = true;
            break;
        }
    }
    assert!(found, "LOGOUT payload published");
    let (s, _) = api
        .call(
            "PUT",
            "/users/0123456789abcdef01234567/logout",
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 404);
}
