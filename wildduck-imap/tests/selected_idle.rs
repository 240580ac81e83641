//! IDLE and untagged updates from other sessions and instances: pushed within a second while
//! idling, keepalive and maximum duration, a command instead of DONE, and no EXPUNGE during
//! FETCH/STORE/SEARCH (sequence numbers stay consistent).

mod selected_support;

use std::time::{Duration, Instant};

use selected_support::*;

const SOON: Duration = Duration::from_secs(1);

/// Reads lines until one satisfies `want`, failing after `within`.
async fn expect_line(c: &mut Client, within: Duration, want: &str) -> String {
    let start = Instant::now();
    loop {
        let left = within.saturating_sub(start.elapsed());
        match c.line_within(left).await {
            Some(l) if l.trim_end() == want => return l,
            Some(l) if l.is_empty() => panic!("connection closed waiting for {want:?}"),
            Some(_) => continue,
            None => panic!("{want:?} did not arrive within {within:?}"),
        }
    }
}

async fn start_idle(c: &mut Client) -> String {
    let tag = c.next_tag();
    c.send(format!("{tag} IDLE\r\n").as_bytes()).await;
    assert_eq!(c.line().await, "+ idling\r\n");
    tag
}

async fn end_idle(c: &mut Client, tag: &str) {
    c.send(b"DONE\r\n").await;
    let a = c.until_tagged(tag).await;
    assert!(
        a.tagged.ends_with(" OK IDLE terminated\r\n"),
        "{}",
        a.text()
    );
}

/// A IDLEs on `server_a` and sees what B does on `server_b`.
async fn push_updates(server_a: &Server, server_b: &Server, name: &str) {
    let mut a = session(server_a.addr, name, "INBOX").await;
    let mut b = session(server_b.addr, name, "INBOX").await;
    let tag = start_idle(&mut a).await;

    let msg = fixtures()[0].clone();
    let t = b.next_tag();
    b.send(format!("{t} APPEND INBOX {{{}+}}\r\n", msg.len()).as_bytes())
        .await;
    b.send(&msg).await;
    b.send(b"\r\n").await;
    let r = b.until_tagged(&t).await;
    assert!(r.tagged.contains(" OK [APPENDUID "), "{}", r.text());
    expect_line(&mut a, SOON, "* 3 EXISTS").await;

    assert!(b.run("NOOP").await.ends_with_ok());
    assert!(b.run("STORE 1 +FLAGS (\\Flagged)").await.ends_with_ok());
    expect_line(&mut a, SOON, "* 1 FETCH (FLAGS (\\Flagged) UID 1)").await;

    assert!(
        b.run("STORE 2 +FLAGS.SILENT (\\Deleted)")
            .await
            .ends_with_ok()
    );
    expect_line(&mut a, SOON, "* 2 FETCH (FLAGS (\\Deleted) UID 2)").await;
    assert!(b.run("EXPUNGE").await.ends_with_ok());
    expect_line(&mut a, SOON, "* 2 EXPUNGE").await;
    expect_line(&mut a, SOON, "* 2 EXISTS").await;

    end_idle(&mut a, &tag).await;
    // A's sequence numbers follow: message 2 is now UID 3.
    let r = a.run("FETCH 2 UID").await;
    assert_eq!(r.untagged(), vec!["2 FETCH (UID 3)"]);
}

#[tokio::test]
async fn idle_sees_other_sessions_sqlite() {
    let env = env(Kind::Sqlite).await;
    let u = user(&env.services, "idler").await;
    for raw in &fixtures()[..2] {
        append(&env.services, &u, "INBOX", raw, &[]).await;
    }
    let server = start(&env.services, config()).await;
    push_updates(&server, &server, "idler").await;
}

/// Two IMAP servers (each with its own services, MongoDB client and Redis connection) on one
/// database: changes on one reach an IDLE client on the other within a second.
#[tokio::test]
async fn idle_sees_other_instances_mongo() {
    let url = wildduck_test_support::mongodb_url().await;
    let db = wildduck_test_support::unique_db_name();
    let env1 = mongo_env(&url, &db).await;
    let env2 = mongo_env(&url, &db).await;
    let u = user(&env1.services, "crossidler").await;
    for raw in &fixtures()[..2] {
        append(&env1.services, &u, "INBOX", raw, &[]).await;
    }
    let s1 = start(&env1.services, config()).await;
    let s2 = start(&env2.services, config()).await;
    push_updates(&s1, &s2, "crossidler").await;
}

#[tokio::test]
async fn keepalive_maximum_and_command_instead_of_done() {
    let env = env(Kind::Sqlite).await;
    let u = user(&env.services, "keeper").await;
    append(&env.services, &u, "INBOX", &fixtures()[0], &[]).await;
    let mut cfg = config();
    cfg.socket_timeout = Duration::from_millis(400);
    cfg.idle_timeout = Duration::from_millis(1500);
    let server = start(&env.services, cfg).await;
    let mut c = session(server.addr, "keeper", "INBOX").await;
    let _tag = start_idle(&mut c).await;
    expect_line(&mut c, SOON, "* OK Still here").await;
    expect_line(&mut c, SOON, "* OK Still here").await;
    expect_line(&mut c, Duration::from_secs(2), "* BYE IDLE terminated").await;

    // A command instead of DONE ends IDLE and is then run.
    let server = start(&env.services, config()).await;
    let mut c = session(server.addr, "keeper", "INBOX").await;
    let tag = start_idle(&mut c).await;
    c.send(b"x1 FETCH 1 UID\r\n").await;
    let a = c.until_tagged(&tag).await;
    assert!(
        a.tagged.ends_with(" OK IDLE terminated\r\n"),
        "{}",
        a.text()
    );
    let a = c.until_tagged("x1").await;
    assert_eq!(a.text(), "* 1 FETCH (UID 1)\r\nx1 OK FETCH completed\r\n");
    // IDLE in the Authenticated state is allowed too.
    assert!(c.run("UNSELECT").await.ends_with_ok());
    let tag = start_idle(&mut c).await;
    end_idle(&mut c, &tag).await;
}

#[tokio::test]
async fn no_expunge_during_fetch_store_search() {
    let env = env(Kind::Sqlite).await;
    let u = user(&env.services, "seqkeeper").await;
    for raw in fixtures() {
        append(&env.services, &u, "INBOX", &raw, &[]).await;
    }
    let server = start(&env.services, config()).await;
    let mut a = session(server.addr, "seqkeeper", "INBOX").await;
    let mut b = session(server.addr, "seqkeeper", "INBOX").await;
    assert!(b.run("STORE 1 +FLAGS (\\Deleted)").await.ends_with_ok());
    assert!(b.run("EXPUNGE").await.ends_with_ok());
    append(&env.services, &u, "INBOX", &fixtures()[0], &[]).await;
    // Let the notifications arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // FETCH: the new message and B's flag change are announced, the expunge is not; numbers
    // are the old ones (message 1 is gone, so it has no data).
    let r = a.run("FETCH 1:* UID").await;
    assert_eq!(
        r.untagged(),
        vec![
            "2 FETCH (UID 2)",
            "3 FETCH (UID 3)",
            "4 EXISTS",
            "1 FETCH (FLAGS (\\Deleted) UID 1)"
        ],
        "{}",
        r.text()
    );
    let r = a.run("SEARCH ALL").await;
    assert!(!r.text().contains("EXPUNGE"), "{}", r.text());
    let r = a.run("STORE 2 +FLAGS (\\Seen)").await;
    assert!(!r.text().contains("EXPUNGE"), "{}", r.text());
    assert!(
        r.untagged()
            .contains(&"2 FETCH (FLAGS (\\Seen))".to_string()),
        "{}",
        r.text()
    );
    let r = a.run("STORE 1 +FLAGS (\\Seen)").await;
    assert!(
        r.tagged
            .ends_with(" NO Some of the messages no longer exist\r\n"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("EXPUNGE"), "{}", r.text());
    // NOOP may show it; afterwards numbers shift.
    let r = a.run("NOOP").await;
    assert_eq!(r.untagged(), vec!["1 EXPUNGE", "3 EXISTS"], "{}", r.text());
    let r = a.run("NOOP").await;
    assert_eq!(r.text(), r.tagged);
    let r = a.run("FETCH 1:* UID").await;
    assert_eq!(
        r.untagged(),
        vec!["1 FETCH (UID 2)", "2 FETCH (UID 3)", "3 FETCH (UID 4)"]
    );
    // UID commands may show expunges at once.
    assert!(b.run("NOOP").await.ends_with_ok());
    assert!(b.run("STORE 1 +FLAGS (\\Deleted)").await.ends_with_ok());
    assert!(b.run("EXPUNGE").await.ends_with_ok());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = a.run("UID FETCH 1:* UID").await;
    assert!(r.text().contains("* 1 EXPUNGE\r\n"), "{}", r.text());
}
