//! The message listing's and search's `threadCounters` and `includeHeaders` on both backends:
//! counts over all of the user's mailboxes, headers in WildDuck's `parsedHeader` shape, nothing
//! added unless asked, bad values refused.

mod common;

use common::{Kind, start};
use serde_json::{Value, json};

fn item<'a>(b: &'a Value, subject: &str) -> &'a Value {
    b["results"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["subject"] == subject))
        .unwrap_or_else(|| panic!("no {subject} in {b}"))
}

async fn scenario(kind: Kind) {
    let api = start(kind).await;
    let u = api.user("extras").await;
    let inbox = api.mailbox(&u, "INBOX").await;
    let archive = api.mailbox(&u, "Sent Mail").await;
    let first = b"From: Ann <ann@example.com>\r\nTo: extras@example.com\r\nSubject: topic\r\n\
        Message-ID: <topic-1@example.com>\r\nX-Custom: one\r\nX-Custom: two\r\n\r\nfirst\r\n";
    let reply = b"From: Bob <bob@example.com>\r\nTo: ann@example.com\r\nSubject: Re: topic\r\n\
        Message-ID: <topic-2@example.com>\r\nIn-Reply-To: <topic-1@example.com>\r\n\
        References: <topic-1@example.com>\r\n\r\nreply\r\n";
    let other = b"From: Cy <cy@example.com>\r\nSubject: unrelated\r\n\
        Message-ID: <other@example.com>\r\n\r\nother\r\n";
    api.upload(&u, &inbox, first, "").await;
    api.upload(&u, &inbox, reply, "").await;
    api.upload(&u, &inbox, other, "").await;
    // The same thread in another mailbox counts too.
    api.upload(&u, &archive, first, "").await;

    let list = format!("/users/{u}/mailboxes/{inbox}/messages");
    let (s, b) = api.get(&format!("{list}?threadCounters=true")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(item(&b, "topic")["threadMessageCount"], 3, "{b}");
    assert_eq!(item(&b, "Re: topic")["threadMessageCount"], 3, "{b}");
    assert_eq!(item(&b, "unrelated")["threadMessageCount"], 1, "{b}");
    assert_eq!(item(&b, "topic")["thread"], item(&b, "Re: topic")["thread"]);

    let (s, b) = api
        .get(&format!(
            "{list}?includeHeaders=From,x-custom,%20Subject,x-absent"
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    let h = &item(&b, "topic")["headers"];
    assert_eq!(
        h,
        &json!({
            "from": [{"address": "ann@example.com", "name": "Ann"}],
            "x-custom": ["one", "two"],
            "subject": "topic",
        }),
        "{b}"
    );
    assert!(item(&b, "topic").get("threadMessageCount").is_none());

    let (_, b) = api.get(&list).await;
    let plain = item(&b, "topic");
    assert!(plain.get("headers").is_none() && plain.get("threadMessageCount").is_none());

    // Search takes both as well.
    let (s, b) = api
        .get(&format!(
            "/users/{u}/search?subject=topic&threadCounters=true&includeHeaders=message-id"
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["results"].as_array().map(Vec::len), Some(3), "{b}");
    let r = item(&b, "Re: topic");
    assert_eq!(r["threadMessageCount"], 3);
    assert_eq!(r["headers"], json!({"message-id": "<topic-2@example.com>"}));

    for bad in [
        "threadCounters=maybe",
        "includeHeaders=%7B%7D&threadCounters=2",
    ] {
        let (s, b) = api.get(&format!("{list}?{bad}")).await;
        assert_eq!(
            (s, &b["code"]),
            (400, &json!("InputValidationError")),
            "{bad}: {b}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_extras_on_sqlite() {
    scenario(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_extras_on_mongodb() {
    scenario(Kind::Mongo).await;
}
