//! The archive routes on both backends: deletes archive, the listing pages newest first with
//! WildDuck's fields, restore one (original mailbox, `mailbox`, errors), restore a range,
//! `skipArchive`, bad input.

mod common;

use common::{Api, Kind, start};
use serde_json::{Value, json};

fn msg(subject: &str) -> Vec<u8> {
    format!(
        "From: Amy <amy@example.com>\r\nTo: arch@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.com>\r\n\r\nbody of {subject}\r\n"
    )
    .into_bytes()
}

fn ids(b: &Value) -> Vec<String> {
    b["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn subjects(b: &Value) -> Vec<String> {
    b["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["subject"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn storage(api: &Api, user: &str) -> u64 {
    let (s, b) = api.get(&format!("/users/{user}")).await;
    assert_eq!(s, 200, "{b}");
    b["limits"]["quota"]["used"].as_u64().expect("used")
}

#[tokio::test]
async fn archive_routes_sqlite() {
    archive_routes(Kind::Sqlite).await;
}

#[tokio::test]
async fn archive_routes_mongo() {
    archive_routes(Kind::Mongo).await;
}

async fn archive_routes(kind: Kind) {
    let api = start(kind).await;
    let user = api.user("arch").await;
    let other = api.user("archother").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let trash = api.mailbox(&user, "Trash").await;
    let base = format!("/users/{user}/mailboxes/{inbox}/messages");
    let mut uids = Vec::new();
    for i in 0..5 {
        uids.push(api.upload(&user, &inbox, &msg(&format!("m{i}")), "").await);
    }
    let full = storage(&api, &user).await;
    assert!(full > 0);

    // Nothing archived yet.
    let (s, b) = api.get(&format!("/users/{user}/archived/messages")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 0);
    assert_eq!(b["results"], json!([]));

    // DELETE one message at a time archives it; quota goes down.
    for uid in &uids {
        let (s, b) = api.delete(&format!("{base}/{uid}")).await;
        assert_eq!(s, 200, "{b}");
    }
    assert_eq!(storage(&api, &user).await, 0);

    // Listing: newest first, WildDuck's paging and fields; `id` is the archive entry's id.
    let (s, b) = api
        .get(&format!("/users/{user}/archived/messages?limit=2"))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(b["total"], 5);
    assert_eq!(b["page"], 1);
    assert_eq!(b["previousCursor"], false);
    assert_eq!(subjects(&b), ["m4", "m3"]);
    let item = &b["results"][0];
    assert_eq!(item["mailbox"], inbox.as_str());
    assert_eq!(item["from"]["address"], "amy@example.com");
    assert_eq!(item["messageId"], "<m4@example.com>");
    assert!(item["id"].as_str().is_some_and(|s| s.len() == 24), "{item}");
    assert!(
        item["intro"]
            .as_str()
            .is_some_and(|s| s.contains("body of m4"))
    );
    assert_eq!(
        item["seen"], true,
        "API uploads are stored \\Seen by default"
    );
    let next = b["nextCursor"].as_str().expect("next").to_string();
    let (s, b2) = api
        .get(&format!(
            "/users/{user}/archived/messages?limit=2&next={next}&page=2"
        ))
        .await;
    assert_eq!(s, 200, "{b2}");
    assert_eq!(subjects(&b2), ["m2", "m1"]);
    assert_eq!(b2["page"], 2);
    let prev = b2["previousCursor"].as_str().expect("prev").to_string();
    let (_, b3) = api
        .get(&format!(
            "/users/{user}/archived/messages?limit=2&previous={prev}"
        ))
        .await;
    assert_eq!(subjects(&b3), ["m4", "m3"]);
    let (_, asc) = api
        .get(&format!(
            "/users/{user}/archived/messages?order=asc&limit=250"
        ))
        .await;
    assert_eq!(subjects(&asc), ["m0", "m1", "m2", "m3", "m4"]);
    let archived: Vec<String> = ids(&asc);

    // Another user's archive is empty, and its entries cannot be restored by id.
    let (_, b) = api.get(&format!("/users/{other}/archived/messages")).await;
    assert_eq!(b["total"], 0);
    let m0 = archived.first().expect("m0").clone();
    let (s, b) = api
        .post(
            &format!("/users/{other}/archived/messages/{m0}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("MessageNotFound")),
        "{b}"
    );

    // Restore one into its mailbox: a new UID, visible in the listing, quota charged again.
    let (s, b) = api
        .post(
            &format!("/users/{user}/archived/messages/{m0}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(b["mailbox"], inbox.as_str());
    let new_uid = b["id"].as_u64().expect("uid");
    assert!(new_uid > *uids.last().expect("uid"));
    let (s, b) = api.get(&format!("{base}/{new_uid}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["subject"], "m0");
    assert!(storage(&api, &user).await > 0);
    let (s, b) = api
        .post(
            &format!("/users/{user}/archived/messages/{m0}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("MessageNotFound")),
        "{b}"
    );

    // Restore into another mailbox.
    let m1 = archived.get(1).expect("m1").clone();
    let (s, b) = api
        .post(
            &format!("/users/{user}/archived/messages/{m1}/restore"),
            json!({ "mailbox": trash }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["mailbox"].as_str(), b["id"].as_u64()),
        (Some(trash.as_str()), Some(1))
    );

    // Bad input.
    for (path, body) in [
        (
            format!("/users/{user}/archived/messages/123/restore"),
            json!({}),
        ),
        (
            format!("/users/{user}/archived/messages/{m1}/restore"),
            json!({ "mailbox": "nothex" }),
        ),
        (
            format!("/users/{user}/archived/messages/{m1}/restore"),
            json!({ "unknown": 1 }),
        ),
        (
            format!("/users/{user}/archived/restore"),
            json!({ "start": "yesterday", "end": "2030-01-01" }),
        ),
        (
            format!("/users/{user}/archived/restore"),
            json!({ "end": "2030-01-01" }),
        ),
    ] {
        let (s, b) = api.post(&path, body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (400, Some("InputValidationError")),
            "{path} {b}"
        );
    }
    let (s, b) = api
        .get(&format!("/users/{user}/archived/messages?limit=0"))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("InputValidationError")),
        "{b}"
    );
    let ghost = "0123456789abcdef01234567";
    let (s, b) = api.get(&format!("/users/{ghost}/archived/messages")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")), "{b}");
    let (s, b) = api
        .post(
            &format!("/users/{ghost}/archived/restore"),
            json!({ "start": "2020-01-01", "end": "2030-01-01" }),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")), "{b}");

    // Range restore: the remaining three go into "Restored (YYYY-MM-DD)".
    let (s, b) = api
        .post(
            &format!("/users/{user}/archived/restore"),
            json!({ "start": "2020-01-01T00:00:00.000Z", "end": 4_102_444_800_000_i64 }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert!(b["task"].as_str().is_some_and(|t| t.len() == 24), "{b}");
    // WildDuck's restore task: queued, then carried out by a task runner.
    let (_, b) = api.get(&format!("/users/{user}/archived/messages")).await;
    assert_eq!(b["total"], 3, "queued, not run yet: {b}");
    let pass = api.run_tasks().await;
    assert_eq!((pass.completed, pass.failed), (1, 0));
    let (_, b) = api.get(&format!("/users/{user}/archived/messages")).await;
    assert_eq!(b["total"], 0, "{b}");
    let (_, boxes) = api
        .get(&format!("/users/{user}/mailboxes?counters=true"))
        .await;
    let restored = boxes["results"]
        .as_array()
        .and_then(|a| {
            a.iter().find(|m| {
                m["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("Restored ("))
            })
        })
        .cloned()
        .expect("restored folder");
    assert_eq!(restored["total"], 3, "{restored}");

    // Clearing a mailbox with skipArchive archives nothing; without it, everything.
    let (s, b) = api
        .call(
            "DELETE",
            &format!("/users/{user}/mailboxes/{trash}/messages?skipArchive=true"),
            None,
        )
        .await;
    assert_eq!((s, b["deleted"].as_u64()), (200, Some(1)), "{b}");
    let (_, b) = api.get(&format!("/users/{user}/archived/messages")).await;
    assert_eq!(b["total"], 0, "{b}");
    let (s, b) = api.delete(&base).await;
    assert_eq!((s, b["deleted"].as_u64()), (200, Some(1)), "{b}");
    let (_, b) = api.get(&format!("/users/{user}/archived/messages")).await;
    assert_eq!(b["total"], 1, "{b}");

    // `async`: a `clear-folder` task is queued (one per mailbox) and nothing changes until it
    // runs; then the mailbox is empty, the draft is not archived, and the quota is back.
    let before = storage(&api, &user).await;
    api.upload(&user, &inbox, &msg("later"), "").await;
    api.upload(&user, &inbox, &msg("draft"), "?draft=true")
        .await;
    assert!(storage(&api, &user).await > before);
    let (s, first) = api.delete(&format!("{base}?async=true")).await;
    assert_eq!(
        (s, first["existing"].as_bool()),
        (200, Some(false)),
        "{first}"
    );
    let task = first["scheduled"].as_str().expect("task id").to_string();
    assert_eq!(task.len(), 24, "{first}");
    let (s, again) = api
        .delete(&format!("{base}?async=true&skipArchive=false"))
        .await;
    assert_eq!(
        (s, again["existing"].as_bool()),
        (200, Some(true)),
        "{again}"
    );
    assert_eq!(again["scheduled"], task.as_str());
    let (s, b) = api
        .call(
            "DELETE",
            &format!("/users/{other}/mailboxes/{inbox}/messages?async=true"),
            None,
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("NoSuchMailbox")), "{b}");
    let (_, b) = api.get(&base).await;
    assert_eq!(b["total"], 2, "queued, not run in the request: {b}");
    let pass = api.run_tasks().await;
    assert_eq!((pass.completed, pass.failed), (1, 0), "{pass:?}");
    let (_, b) = api.get(&base).await;
    assert_eq!(b["total"], 0, "{b}");
    let (_, b) = api.get(&format!("/users/{user}/archived/messages")).await;
    assert_eq!(b["total"], 2, "one more archived, the draft not: {b}");
    assert_eq!(storage(&api, &user).await, before);
    // Done and removed: a new request queues a new task.
    let (_, b) = api.delete(&format!("{base}?async=true")).await;
    assert_eq!(b["existing"], false, "{b}");
    assert_ne!(b["scheduled"], task.as_str());
}
