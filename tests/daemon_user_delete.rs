//! The bundled daemon runs the task queue: a user deleted through the API can no longer log in
//! over IMAP or POP3 at once, and the daemon's background loop purges it shortly after.

mod daemon_support;

use std::time::{Duration, Instant};

use daemon_support::*;

/// Reads lines until the one tagged `tag`.
async fn tagged<S: tokio::io::AsyncRead + Unpin>(
    r: &mut tokio::io::BufReader<S>,
    tag: &str,
) -> String {
    loop {
        let l = read_line(r).await;
        if l.is_empty() || l.starts_with(tag) {
            return l;
        }
    }
}

#[tokio::test]
async fn deleted_user_is_refused_and_purged_by_the_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(&config(dir.path(), ""));
    let tlsc = connector(std::path::Path::new(
        d.line("tls: self-signed certificate "),
    ));
    let api = d.addr("http", "plain");
    let (status, body) = http(
        api,
        "POST",
        "/users",
        r#"{"username":"bye","password":"secret-pw","address":"bye@example.com"}"#,
    )
    .await;
    assert!(status.contains(" 200 "), "{status} {body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let id = v["id"].as_str().expect("id").to_string();

    let mut imap = tls(&tlsc, d.addr("imap", "TLS")).await;
    assert!(read_line(&mut imap).await.starts_with("* OK"));
    send(&mut imap, "a LOGIN bye secret-pw\r\n").await;
    let l = tagged(&mut imap, "a ").await;
    assert!(l.starts_with("a OK"), "{l}");

    let (status, body) = http(api, "DELETE", &format!("/users/{id}"), "").await;
    assert!(status.contains(" 200 "), "{status} {body}");
    assert!(body.contains("\"TaskScheduled\""), "{body}");

    // Refused at once on both protocols.
    let mut imap = tls(&tlsc, d.addr("imap", "TLS")).await;
    assert!(read_line(&mut imap).await.starts_with("* OK"));
    send(&mut imap, "a LOGIN bye secret-pw\r\n").await;
    let l = tagged(&mut imap, "a ").await;
    assert!(l.starts_with("a NO"), "{l}");
    let mut pop = tls(&tlsc, d.addr("pop3", "TLS")).await;
    assert!(read_line(&mut pop).await.starts_with("+OK"));
    send(&mut pop, "USER bye\r\n").await;
    assert!(read_line(&mut pop).await.starts_with("+OK"));
    send(&mut pop, "PASS secret-pw\r\n").await;
    assert!(read_line(&mut pop).await.starts_with("-ERR"));

    // The loop (a pass every 2 s when idle) purges it: nothing is left to restore.
    let start = Instant::now();
    let mut purged = false;
    while start.elapsed() < Duration::from_secs(20) {
        let (status, body) = http(api, "GET", &format!("/users/{id}/restore"), "").await;
        if status.contains(" 404 ") {
            assert!(body.contains("AccountNotFound"), "{body}");
            purged = true;
            break;
        }
        assert!(status.contains(" 200 "), "{status} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(purged, "the daemon's task loop purged the deleted user");
    let (status, body) = http(api, "GET", &format!("/users/{id}/mailboxes"), "").await;
    assert!(status.contains(" 404 "), "{status} {body}");
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)), "daemon exits");
}
