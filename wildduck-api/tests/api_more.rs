//! More routes of the HTTP API: the `q` search language, search-and-apply, structured upload,
//! addresses, archived messages and the SSE replay — over real HTTP, on SQLite.

mod common;

use common::{Api, Kind, multipart, simple, start};
use serde_json::{Value, json};

fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn subjects(b: &Value) -> Vec<String> {
    let mut v: Vec<String> = b["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["subject"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn q(api: &Api, user: &str, query: &str) -> Vec<String> {
    let (s, b) = api
        .get(&format!("/users/{user}/search?q={}", pct(query)))
        .await;
    assert_eq!(s, 200, "{query}: {b}");
    assert_eq!(b["query"], query);
    subjects(&b)
}

fn msg(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@example.com>\r\n\r\n{body}\r\n",
        subject.replace(' ', ".")
    )
    .into_bytes()
}

/// A user with five messages in INBOX, Sent Mail and Junk.
async fn seeded(api: &Api) -> (String, String, String, String) {
    let user = api.user("quser").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let sent = api.mailbox(&user, "Sent Mail").await;
    let junk = api.mailbox(&user, "Junk").await;
    api.upload(
        &user,
        &inbox,
        &msg(
            "Amy Namy <amy@example.com>",
            "quser@example.com",
            "dinner and movie tonight",
            "shall we go kupi",
        ),
        "?unseen=true",
    )
    .await;
    api.upload(
        &user,
        &inbox,
        &msg(
            "Bob <bob@example.com>",
            "greg@example.com",
            "weekly report",
            "numbers attached jupi",
        ),
        "?flagged=true",
    )
    .await;
    api.upload(&user, &inbox, &multipart(), "").await;
    api.upload(
        &user,
        &sent,
        &msg(
            "quser@example.com",
            "Amy Namy <amy@example.com>",
            "re: dinner",
            "yes kupi",
        ),
        "",
    )
    .await;
    api.upload(
        &user,
        &junk,
        &msg(
            "spam@spam.example",
            "quser@example.com",
            "cheap stuff",
            "buy kupi now",
        ),
        "",
    )
    .await;
    (user, inbox, sent, junk)
}

#[tokio::test]
async fn q_language_operators() {
    let api = start(Kind::Sqlite).await;
    let (user, inbox, _sent, junk) = seeded(&api).await;
    let report = "Report with attachment ✔".to_string();

    // Free text: substring of headers and body.
    assert_eq!(
        q(&api, &user, "kupi").await,
        ["cheap stuff", "dinner and movie tonight", "re: dinner"]
    );
    // Implicit AND and explicit AND.
    assert_eq!(q(&api, &user, "kupi yes").await, ["re: dinner"]);
    assert_eq!(q(&api, &user, "kupi AND yes").await, ["re: dinner"]);
    // OR, with AND binding tighter.
    assert_eq!(
        q(&api, &user, "jupi OR yes kupi").await,
        ["re: dinner", "weekly report"]
    );
    assert_eq!(q(&api, &user, "(jupi OR yes) kupi").await, ["re: dinner"]);
    // Quoted phrase.
    assert_eq!(
        q(&api, &user, "\"movie tonight\"").await,
        ["dinner and movie tonight"]
    );
    assert!(q(&api, &user, "\"tonight movie\"").await.is_empty());
    // Keywords.
    assert_eq!(
        q(&api, &user, "from:amy").await,
        ["dinner and movie tonight"]
    );
    assert_eq!(
        q(&api, &user, "from:\"Amy Namy\"").await,
        ["dinner and movie tonight"]
    );
    assert_eq!(
        q(&api, &user, "from: \"amy namy\"").await,
        ["dinner and movie tonight"]
    );
    assert_eq!(q(&api, &user, "to:greg").await, ["weekly report"]);
    assert_eq!(q(&api, &user, "to:amy").await, ["re: dinner"]);
    assert_eq!(
        q(&api, &user, "subject:dinner").await,
        ["dinner and movie tonight", "re: dinner"]
    );
    assert_eq!(q(&api, &user, "has:attachment").await, [report.as_str()]);
    // Negation.
    assert_eq!(
        q(&api, &user, "kupi -subject:dinner").await,
        ["cheap stuff"]
    );
    assert_eq!(
        q(&api, &user, "subject:dinner -yes").await,
        ["dinner and movie tonight"]
    );
    // in: by special-use name, by path, by id, Inbox in any case; unknown → nothing.
    assert_eq!(q(&api, &user, "kupi in:spam").await, ["cheap stuff"]);
    assert_eq!(q(&api, &user, "in:Junk").await, ["cheap stuff"]);
    assert_eq!(q(&api, &user, &format!("in:{junk}")).await, ["cheap stuff"]);
    assert_eq!(q(&api, &user, "in:sent").await, ["re: dinner"]);
    assert_eq!(
        q(&api, &user, "in:inbox -has:attachment").await,
        ["dinner and movie tonight", "weekly report"]
    );
    assert!(q(&api, &user, "in:nowhere").await.is_empty());
    assert_eq!(
        q(&api, &user, "in:spam OR has:attachment").await,
        [report.clone(), "cheap stuff".to_string()]
    );
    // Extension: is:
    assert_eq!(
        q(&api, &user, "is:unseen").await,
        ["dinner and movie tonight"]
    );
    assert_eq!(q(&api, &user, "is:flagged").await, ["weekly report"]);
    // thread: by the thread id of a message.
    let (_, b) = api
        .get(&format!("/users/{user}/mailboxes/{inbox}/messages/1"))
        .await;
    let thread = b["thread"].as_str().expect("thread").to_string();
    assert_eq!(
        q(&api, &user, &format!("thread:{thread}")).await,
        ["dinner and movie tonight"]
    );
    // Ignored keywords match everything (as WildDuck ignores them).
    assert_eq!(q(&api, &user, "has:pictures").await.len(), 5);
    // `q` replaces the structured filters.
    let (s, b) = api
        .get(&format!("/users/{user}/search?q=kupi&subject=nomatch"))
        .await;
    assert_eq!((s, b["total"].as_u64()), (200, Some(3)));

    // Text terms skip \Deleted messages (WildDuck's `searchable`).
    let (s, _) = api
        .put(
            &format!("/users/{user}/mailboxes/{junk}/messages/1"),
            json!({"deleted": true}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        q(&api, &user, "kupi").await,
        ["dinner and movie tonight", "re: dinner"]
    );
    assert_eq!(q(&api, &user, "in:junk").await, ["cheap stuff"]);
}

#[tokio::test]
async fn q_language_malformed_is_400() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("qbad").await;
    let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
    let long = "a ".repeat(600);
    for bad in [
        "(kupi",
        "kupi)",
        "\"kupi",
        "kupi OR",
        "AND kupi",
        "a OR OR b",
        "()",
        "is:nonsense",
        "-",
        "x\\",
        deep.as_str(),
        long.as_str(),
    ] {
        let (s, b) = api
            .get(&format!("/users/{user}/search?q={}", pct(bad)))
            .await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert_eq!(b["code"], "InputValidationError", "{bad}");
        assert!(b["details"]["q"].is_string(), "{bad}: {b}");
    }
    // Many terms joined by OR stay shallow enough for the core.
    let many = (0..100)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let (s, b) = api
        .get(&format!("/users/{user}/search?q={}", pct(&many)))
        .await;
    assert_eq!(s, 200, "{b}");
    // Blank `q` is absent.
    let (s, b) = api.get(&format!("/users/{user}/search?q=%20%20")).await;
    assert_eq!((s, b["total"].as_u64()), (200, Some(0)));
}

#[tokio::test]
async fn structured_search_parameters() {
    let api = start(Kind::Sqlite).await;
    let (user, inbox, sent, _junk) = seeded(&api).await;
    let get = |qs: String| {
        let api = &api;
        let user = user.clone();
        async move {
            let (s, b) = api.get(&format!("/users/{user}/search?{qs}")).await;
            assert_eq!(s, 200, "{qs}: {b}");
            subjects(&b)
        }
    };
    assert_eq!(
        get(format!("mailbox={inbox}&id=1,3")).await,
        ["Report with attachment ✔", "dinner and movie tonight"]
    );
    assert_eq!(
        get(format!("mailbox={inbox}&id=2:*")).await,
        ["Report with attachment ✔", "weekly report"]
    );
    // `searchable` leaves Junk and Trash out.
    assert_eq!(get("query=kupi&searchable=true".into()).await.len(), 2);
    // `or`: at least one of the terms.
    let (s, b) = api
        .post(
            &format!("/users/{user}/search"),
            json!({"action": {}, "or": "nope"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    // `or`: at least one of the terms (a JSON body on GET is merged as WildDuck merges it).
    let (s, b) = api
        .call(
            "GET",
            &format!("/users/{user}/search"),
            Some(json!({"or": {"from": "bob", "subject": "cheap"}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(subjects(&b), ["cheap stuff", "weekly report"]);
    // false booleans add nothing (WildDuck).
    assert_eq!(get("unseen=false&flagged=false".into()).await.len(), 5);
    // Ordering by internal date.
    let (_, b) = api
        .get(&format!("/users/{user}/search?order=asc&limit=1"))
        .await;
    assert_eq!(b["results"][0]["subject"], "dinner and movie tonight");
    assert!(b["nextCursor"].is_string());
    let next = b["nextCursor"].as_str().unwrap_or_default().to_string();
    let (_, b2) = api
        .get(&format!(
            "/users/{user}/search?order=asc&limit=1&next={next}"
        ))
        .await;
    assert_eq!(b2["results"][0]["subject"], "weekly report");
    let (s, _) = api
        .get(&format!("/users/{user}/search?mailbox={sent}&id=abc"))
        .await;
    assert_eq!(s, 400);
    let (s, _) = api.get(&format!("/users/{user}/search?order=up")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn search_apply_moves_and_flags() {
    let api = start(Kind::Sqlite).await;
    let (user, inbox, _sent, junk) = seeded(&api).await;
    let archive = {
        let (s, b) = api
            .post(
                &format!("/users/{user}/mailboxes"),
                json!({"path": "Archive2"}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["id"].as_str().expect("id").to_string()
    };
    // Flags only.
    let (s, b) = api
        .post(
            &format!("/users/{user}/search"),
            json!({"q": "kupi", "action": {"flagged": true, "seen": false}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(b["existing"], false);
    assert_eq!(b["scheduled"].as_str().map(str::len), Some(24));
    let (_, b) = api.get(&format!("/users/{user}/search?flagged=true")).await;
    assert_eq!(
        subjects(&b),
        [
            "cheap stuff",
            "dinner and movie tonight",
            "re: dinner",
            "weekly report"
        ]
    );
    // Move with structured criteria.
    let (s, b) = api
        .post(
            &format!("/users/{user}/search"),
            json!({"mailbox": inbox, "from": "bob", "action": {"moveTo": archive}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = api
        .get(&format!("/users/{user}/mailboxes/{archive}/messages"))
        .await;
    assert_eq!(subjects(&b), ["weekly report"]);
    let (_, b) = api
        .get(&format!("/users/{user}/mailboxes/{junk}/messages"))
        .await;
    assert_eq!(b["results"][0]["flagged"], true);

    // Validation: action required and typed; unknown target mailbox → 404.
    for (body, field) in [
        (json!({"q": "x"}), "action"),
        (json!({"q": "x", "action": 5}), "action"),
        (
            json!({"q": "x", "action": {"moveTo": "zz"}}),
            "action.moveTo",
        ),
        (
            json!({"q": "x", "action": {"seen": "maybe"}}),
            "action.seen",
        ),
        (json!({"q": "(x", "action": {"seen": true}}), "q"),
    ] {
        let (s, b) = api.post(&format!("/users/{user}/search"), body).await;
        assert_eq!(s, 400, "{b}");
        assert!(b["details"][field].is_string(), "{field}: {b}");
    }
    let (s, b) = api
        .post(
            &format!("/users/{user}/search"),
            json!({"q": "x", "action": {"moveTo": "0123456789abcdef01234567"}}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("NoSuchMailbox")));
    let (s, b) = api
        .post(
            "/users/0123456789abcdef01234567/search",
            json!({"q": "x", "action": {"seen": true}}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));
}

#[tokio::test]
async fn structured_upload_builds_the_message() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("composer").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let payload = b"binary \x00\x01\x02 payload".to_vec();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&payload);
    let (s, b) = api
        .post(
            &format!("/users/{user}/mailboxes/{inbox}/messages"),
            json!({
                "from": {"name": "Jürgen Müller", "address": "jurgen@example.org"},
                "to": [{"name": "Ann", "address": "ann@example.com"}, {"address": "bob@example.com"}],
                "cc": [{"address": "carol@example.com"}],
                "replyTo": {"address": "replies@example.org"},
                "subject": "Structured ✔ upload",
                "text": "Hello there",
                "html": "<p>Hello <b>there</b></p>",
                "headers": [{"key": "X-Custom", "value": "yes\r\nInjected: no"}],
                "attachments": [{"filename": "data.bin", "content": b64, "contentType": "application/octet-stream"}],
                "unseen": true,
                "date": "2025-06-03T10:34:56.000Z"
            }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let uid = b["message"]["id"].as_u64().expect("uid");
    let (s, m) = api
        .get(&format!("/users/{user}/mailboxes/{inbox}/messages/{uid}"))
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["subject"], "Structured ✔ upload");
    assert_eq!(m["from"]["address"], "jurgen@example.org");
    assert_eq!(m["from"]["name"], "Jürgen Müller");
    assert_eq!(m["to"][1]["address"], "bob@example.com");
    assert_eq!(m["cc"][0]["address"], "carol@example.com");
    assert_eq!(m["replyTo"][0]["address"], "replies@example.org");
    assert_eq!(m["seen"], false);
    assert!(m["text"].as_str().unwrap_or("").contains("Hello there"));
    assert!(m["html"].to_string().contains("<b>there</b>"));
    assert_eq!(m["attachments"][0]["filename"], "data.bin");
    assert_eq!(m["date"], "2025-06-03T10:34:56.000Z");
    let att = m["attachments"][0]["id"].as_str().expect("att").to_string();
    let bytes = api
        .client
        .get(api.url(&format!(
            "/users/{user}/mailboxes/{inbox}/messages/{uid}/attachments/{att}"
        )))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.as_ref(), payload.as_slice());
    let raw = api
        .client
        .get(api.url(&format!(
            "/users/{user}/mailboxes/{inbox}/messages/{uid}/message.eml"
        )))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(raw.contains("X-Custom: yes  Injected: no\r\n"), "{raw}");
    assert!(!raw.contains("\r\nInjected:"), "{raw}");
    assert!(raw.contains("Message-ID: <"), "{raw}");

    // From defaults to the user's own name and address.
    let (s, b) = api
        .post(
            &format!("/users/{user}/mailboxes/{inbox}/messages"),
            json!({"subject": "no from", "text": "x"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let uid = b["message"]["id"].as_u64().expect("uid");
    let (_, m) = api
        .get(&format!("/users/{user}/mailboxes/{inbox}/messages/{uid}"))
        .await;
    assert_eq!(m["from"]["address"], "composer@example.com");
    assert_eq!(m["seen"], true);

    // HTML only: a plain-text alternative is derived, as WildDuck does.
    let (s, b) = api
        .post(
            &format!("/users/{user}/mailboxes/{inbox}/messages"),
            json!({"subject": "html only", "html": "<p>Only <i>html</i> &amp; more</p>"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let uid = b["message"]["id"].as_u64().expect("uid");
    let (_, m) = api
        .get(&format!("/users/{user}/mailboxes/{inbox}/messages/{uid}"))
        .await;
    assert!(
        m["text"]
            .as_str()
            .unwrap_or("")
            .contains("Only html & more"),
        "{m}"
    );
    assert!(m["html"].to_string().contains("<i>html</i>"), "{m}");

    // Validation of the structured fields.
    for (body, field) in [
        (
            json!({"from": {"address": "not an address"}}),
            "from.address",
        ),
        (json!({"from": "x@example.com"}), "from"),
        (json!({"to": [{"name": "n"}]}), "to[0].address"),
        (json!({"to": "a@example.com"}), "to"),
        (
            json!({"attachments": [{"filename": "a"}]}),
            "attachments[0].content",
        ),
        (
            json!({"attachments": [{"content": "***"}]}),
            "attachments[0].content",
        ),
        (
            json!({"headers": [{"key": "Bad Key", "value": "v"}]}),
            "headers[0].key",
        ),
        (json!({"subject": 5}), "subject"),
        (json!({"files": ["0123456789abcdef01234567"]}), "files"),
    ] {
        let (s, b) = api
            .post(&format!("/users/{user}/mailboxes/{inbox}/messages"), body)
            .await;
        assert_eq!(s, 400, "{field}: {b}");
        assert!(b["details"][field].is_string(), "{field}: {b}");
    }
}

#[tokio::test]
async fn simple_messages_still_upload() {
    // The raw form still wins over structured fields.
    let api = start(Kind::Sqlite).await;
    let user = api.user("rawwins").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let raw = String::from_utf8(simple("Raw wins")).expect("utf8");
    let (s, b) = api
        .post(
            &format!("/users/{user}/mailboxes/{inbox}/messages"),
            json!({"raw": raw, "subject": "ignored"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, m) = api
        .get(&format!("/users/{user}/mailboxes/{inbox}/messages/1"))
        .await;
    assert_eq!(m["subject"], "Raw wins");
}

/// Reads an SSE stream until `needle` shows up or `wait` passes.
async fn read_until(
    resp: &mut reqwest::Response,
    needle: &str,
    wait: std::time::Duration,
) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !text.contains(needle) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, resp.chunk()).await {
            Ok(Ok(Some(c))) => text.push_str(&String::from_utf8_lossy(&c)),
            _ => break,
        }
    }
    text
}

/// The `data:` payloads of an SSE text, parsed.
fn events(text: &str) -> Vec<(Option<String>, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(x) = line.strip_prefix("id: ") {
                    id = Some(x.to_string());
                } else if let Some(x) = line.strip_prefix("data: ") {
                    data.push_str(x);
                }
            }
            serde_json::from_str(&data).ok().map(|v| (id, v))
        })
        .collect()
}

#[tokio::test]
async fn updates_replay_from_last_event_id_with_counters() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("replayer").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    api.upload(&user, &inbox, &simple("first"), "?unseen=true")
        .await;
    // The id of the newest journal entry so far: open a stream, make a change, read its id.
    let url = api.url(&format!("/users/{user}/updates"));
    let mut resp = api.client.get(&url).send().await.expect("send");
    let _ = read_until(&mut resp, "idling 1", std::time::Duration::from_secs(2)).await;
    api.upload(&user, &inbox, &simple("second"), "?unseen=true")
        .await;
    let text = read_until(&mut resp, "COUNTERS", std::time::Duration::from_secs(2)).await;
    let evs = events(&text);
    let exists = evs
        .iter()
        .find(|(_, v)| v["command"] == "EXISTS")
        .expect("EXISTS");
    let counters = evs
        .iter()
        .find(|(_, v)| v["command"] == "COUNTERS")
        .expect("COUNTERS live");
    assert_eq!(counters.1["mailbox"], inbox.as_str());
    assert_eq!(
        (counters.1["total"].as_u64(), counters.1["unseen"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(counters.0, exists.0, "COUNTERS carries the batch's last id");
    let mark = exists.0.clone().expect("id");
    drop(resp);

    // Changes while no one listens.
    let (s, _) = api
        .put(
            &format!("/users/{user}/mailboxes/{inbox}/messages/1"),
            json!({"seen": true}),
        )
        .await;
    assert_eq!(s, 200);
    api.upload(&user, &inbox, &simple("third"), "").await;

    // Replay from the header: the entries after `mark`, then COUNTERS; nothing before it.
    let mut resp = api
        .client
        .get(&url)
        .header("Last-Event-ID", &mark)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let text = read_until(&mut resp, "COUNTERS", std::time::Duration::from_secs(2)).await;
    let evs = events(&text);
    let cmds: Vec<&str> = evs
        .iter()
        .filter_map(|(_, v)| v["command"].as_str())
        .collect();
    assert_eq!(cmds, ["FETCH", "EXISTS", "COUNTERS"], "{text}");
    assert!(
        evs.iter()
            .all(|(id, _)| id.as_deref() > Some(mark.as_str()))
    );
    let c = &evs[2].1;
    assert_eq!(
        (c["total"].as_u64(), c["unseen"].as_u64()),
        (Some(3), Some(1))
    );
    // Live changes follow the replay, once each.
    let (s, _) = api
        .put(
            &format!("/users/{user}/mailboxes/{inbox}/messages/3"),
            json!({"flagged": true}),
        )
        .await;
    assert_eq!(s, 200);
    let more = read_until(&mut resp, "Flagged", std::time::Duration::from_secs(2)).await;
    let evs = events(&more);
    assert_eq!(
        evs.iter().filter(|(_, v)| v["command"] == "EXISTS").count(),
        0,
        "no replayed entry twice: {more}"
    );
    assert!(
        evs.iter()
            .any(|(_, v)| v["command"] == "FETCH" && v["uid"] == 3)
    );
    drop(resp);

    // The query parameter works too; a bad id is 400.
    let mut resp = api
        .client
        .get(format!("{url}?Last-Event-ID={mark}"))
        .send()
        .await
        .expect("send");
    let text = read_until(&mut resp, "COUNTERS", std::time::Duration::from_secs(2)).await;
    assert!(text.contains("\"command\":\"EXISTS\""), "{text}");
    let (s, b) = api
        .get(&format!("/users/{user}/updates?Last-Event-ID=nope"))
        .await;
    assert_eq!(s, 400, "{b}");
    let resp = api
        .client
        .get(&url)
        .header("Last-Event-ID", "zz")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn address_update_and_listing_all_sqlite() {
    address_update_and_listing_all(Kind::Sqlite).await;
}

#[tokio::test]
async fn address_update_and_listing_all_mongo() {
    address_update_and_listing_all(Kind::Mongo).await;
}

async fn address_update_and_listing_all(kind: Kind) {
    let api = start(kind).await;
    let user = api.user("addrupd").await;
    let other = api.user("addrother").await;
    let (s, b) = api
        .post(
            &format!("/users/{user}/addresses"),
            json!({"address": "alias@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let alias = b["id"].as_str().expect("id").to_string();
    let (_, b) = api
        .post(
            &format!("/users/{user}/addresses"),
            json!({"address": "*@wild.example", "allowWildcard": true}),
        )
        .await;
    let wild = b["id"].as_str().expect("id").to_string();
    let main_id = {
        let (_, b) = api.get(&format!("/users/{user}/addresses")).await;
        b["results"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["main"] == true))
            .and_then(|x| x["id"].as_str())
            .expect("main")
            .to_string()
    };

    // Rename, name and tags.
    let (s, b) = api
        .put(
            &format!("/users/{user}/addresses/{alias}"),
            json!({"address": "Renamed@Example.com", "name": "Alias Name", "tags": "Work, work,home"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = api.get(&format!("/users/{user}/addresses/{alias}")).await;
    assert_eq!(b["address"], "renamed@example.com");
    assert_eq!(b["name"], "Alias Name");
    assert_eq!(b["tags"], json!(["Work", "home"]));
    let (s, _) = api.get("/addresses/resolve/renamed@example.com").await;
    assert_eq!(s, 200);
    let (s, _) = api.get("/addresses/resolve/alias@example.com").await;
    assert_eq!(s, 404);

    // Renaming the main address renames the user's address.
    let (s, b) = api
        .put(
            &format!("/users/{user}/addresses/{main_id}"),
            json!({"address": "newmain@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, u) = api.get(&format!("/users/{user}")).await;
    assert_eq!(u["address"], "newmain@example.com");
    // Set main.
    let (s, _) = api
        .put(
            &format!("/users/{user}/addresses/{alias}"),
            json!({"main": true}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, u) = api.get(&format!("/users/{user}")).await;
    assert_eq!(u["address"], "renamed@example.com");

    // Errors: taken address, wildcard rules, unset main, another user's address, bad input.
    let (s, b) = api
        .put(
            &format!("/users/{user}/addresses/{alias}"),
            json!({"address": "addrother@example.com"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("AddressExistsError")),
        "{b}"
    );
    let (s, b) = api
        .put(
            &format!("/users/{user}/addresses/{wild}"),
            json!({"address": "x@wild.example"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("ChangeNotAllowed")),
        "{b}"
    );
    let (s, b) = api
        .put(
            &format!("/users/{user}/addresses/{wild}"),
            json!({"main": true}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("WildcardNotPermitted")),
        "{b}"
    );
    let (s, _) = api
        .put(
            &format!("/users/{user}/addresses/{alias}"),
            json!({"main": false}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, b) = api
        .put(
            &format!("/users/{other}/addresses/{alias}"),
            json!({"name": "steal"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("AddressNotFound")),
        "{b}"
    );
    let (s, _) = api
        .put(
            &format!("/users/{user}/addresses/{alias}"),
            json!({"address": "no-at-sign"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = api
        .put(
            &format!("/users/{user}/addresses/{alias}"),
            json!({"bogus": 1}),
        )
        .await;
    assert_eq!(s, 400);

    // GET /addresses: every address, filters and pages.
    let (s, b) = api.get("/addresses").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 4);
    let (_, b) = api.get("/addresses?query=wild.example").await;
    assert_eq!(b["total"], 1);
    assert_eq!(b["results"][0]["address"], "*@wild.example");
    assert_eq!(b["results"][0]["user"], user.as_str());
    assert_eq!(b["results"][0]["forwarded"], false);
    assert_eq!(b["query"], "wild.example");
    let (_, b) = api.get("/addresses?tags=HOME,none").await;
    assert_eq!(b["total"], 1);
    let (_, b) = api.get("/addresses?requiredTags=home,work").await;
    assert_eq!(b["total"], 1);
    let (_, b) = api.get("/addresses?requiredTags=home,other").await;
    assert_eq!(b["total"], 0);
    let (_, b) = api.get("/addresses?limit=3").await;
    assert_eq!(b["results"].as_array().map(Vec::len), Some(3));
    let next = b["nextCursor"].as_str().expect("next").to_string();
    let (_, b2) = api.get(&format!("/addresses?limit=3&next={next}")).await;
    assert_eq!(b2["results"].as_array().map(Vec::len), Some(1));
    assert_ne!(b2["results"][0]["id"], b["results"][0]["id"]);
    let (s, _) = api.get("/addresses?limit=0").await;
    assert_eq!(s, 400);
}
