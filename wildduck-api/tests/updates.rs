//! `GET /users/:user/updates` (Server-Sent Events) sees changes made through the API within a
//! second, on both backends.

mod common;

use std::time::Duration;

use common::{Api, Kind, simple, start};
use serde_json::json;

/// Reads the stream until `needle` shows up or `wait` passes; returns what was read.
async fn read_until(resp: &mut reqwest::Response, needle: &str, wait: Duration) -> String {
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

async fn scenario(api: &Api) {
    let user = api.user("sseuser").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    api.upload(&user, &inbox, &simple("before"), "?unseen=true")
        .await;
    let mut resp = api
        .client
        .get(api.url(&format!("/users/{user}/updates")))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let first = read_until(&mut resp, "idling 1", Duration::from_secs(2)).await;
    assert!(first.contains(": idling 1"), "{first}");
    assert!(!first.contains("before"), "starts at the present");

    let started = tokio::time::Instant::now();
    let (s, _) = api
        .put(
            &format!("/users/{user}/mailboxes/{inbox}/messages/1"),
            json!({"flagged": true}),
        )
        .await;
    assert_eq!(s, 200);
    let text = read_until(&mut resp, "\\\\Flagged", Duration::from_secs(1)).await;
    assert!(
        started.elapsed() <= Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(text.contains("\"command\":\"FETCH\""), "{text}");
    assert!(text.contains(&format!("\"mailbox\":\"{inbox}\"")), "{text}");
    assert!(text.contains("\"uid\":1"), "{text}");
    assert!(
        text.contains("\nid: ") || text.starts_with("id: "),
        "{text}"
    );
    assert!(
        !text.contains("modseq") && !text.contains("\"user\""),
        "{text}"
    );

    api.upload(&user, &inbox, &simple("after"), "").await;
    let text = read_until(&mut resp, "EXISTS", Duration::from_secs(1)).await;
    assert!(text.contains("\"command\":\"EXISTS\""), "{text}");

    let other = api.user("sseother").await;
    let (s, _) = api
        .get(&format!("/users/{other}/mailboxes/{inbox}/messages/1"))
        .await;
    assert_eq!(s, 404);
    let (s, b) = api.get("/users/0123456789abcdef01234567/updates").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));
}

#[tokio::test]
async fn updates_stream_sqlite() {
    scenario(&start(Kind::Sqlite).await).await;
}

#[tokio::test]
async fn updates_stream_mongo() {
    scenario(&start(Kind::Mongo).await).await;
}
