//! The bundled daemon on its embedded default wakes sessions on each other's changes: an IMAP
//! client in IDLE sees the EXISTS of a message another session appended, within a second.

mod daemon_support;

use std::path::PathBuf;
use std::time::Duration;

use daemon_support::*;

/// Reads lines until one starts with `tag ` and asserts it is OK.
async fn tagged_ok<S>(r: &mut tokio::io::BufReader<S>, tag: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let l = read_line(r).await;
        assert!(!l.is_empty(), "connection closed before {tag}");
        if l.starts_with(&format!("{tag} ")) {
            assert!(l.starts_with(&format!("{tag} OK")), "{l}");
            return;
        }
    }
}

#[tokio::test]
async fn idle_session_sees_another_sessions_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(&config(dir.path(), ""));
    let cert = PathBuf::from(d.line("tls: self-signed certificate "));
    let tlsc = connector(&cert);
    let (status, body) = http(
        d.addr("http", "plain"),
        "POST",
        "/users",
        r#"{"username":"idler","password":"change-me","address":"idler@example.com"}"#,
    )
    .await;
    assert!(status.contains(" 200 "), "{status} {body}");

    let mut idler = tls(&tlsc, d.addr("imap", "TLS")).await;
    assert!(read_line(&mut idler).await.starts_with("* OK"));
    send(&mut idler, "a LOGIN idler change-me\r\n").await;
    tagged_ok(&mut idler, "a").await;
    send(&mut idler, "b SELECT INBOX\r\n").await;
    tagged_ok(&mut idler, "b").await;
    send(&mut idler, "c IDLE\r\n").await;
    assert_eq!(read_line(&mut idler).await, "+ idling\r\n");

    let mut writer = tls(&tlsc, d.addr("imap", "TLS")).await;
    assert!(read_line(&mut writer).await.starts_with("* OK"));
    send(&mut writer, "a LOGIN idler change-me\r\n").await;
    tagged_ok(&mut writer, "a").await;
    let msg = "From: a@example.com\r\nSubject: wake up\r\n\r\nhello\r\n";
    send(
        &mut writer,
        &format!("b APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()),
    )
    .await;
    tagged_ok(&mut writer, "b").await;

    let seen = tokio::time::timeout(Duration::from_secs(1), read_line(&mut idler))
        .await
        .expect("no update within 1 s of the APPEND");
    assert_eq!(seen, "* 1 EXISTS\r\n");
    send(&mut idler, "DONE\r\n").await;
    tagged_ok(&mut idler, "c").await;
}
