//! EXPUNGE over IMAP archives the message; restoring it from the archive shows up in a session
//! that has the mailbox selected as a new EXISTS, with the same content under a new UID. On both
//! backends.

mod session_common;

use session_common::*;
use wildduck_core::service::messages::AppendRequest;
use wildduck_imap::net::TlsMode;

fn mail(subject: &str) -> Vec<u8> {
    format!("From: a@example.com\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n").into_bytes()
}

#[tokio::test]
async fn expunge_archives_and_restore_is_seen_sqlite() {
    expunge_archives_and_restore_is_seen(Kind::Sqlite).await;
}

#[tokio::test]
async fn expunge_archives_and_restore_is_seen_mongo() {
    expunge_archives_and_restore_is_seen(Kind::Mongo).await;
}

async fn expunge_archives_and_restore_is_seen(kind: Kind) {
    let env = env(kind).await;
    let s = &env.services;
    let user = seed(s, "archimap").await;
    let inbox = s.find_mailbox(user.id, "INBOX").await.expect("inbox");
    for subject in ["first", "second"] {
        let raw = mail(subject);
        s.append(
            user.id,
            inbox.id,
            AppendRequest {
                raw: &raw,
                ..Default::default()
            },
        )
        .await
        .expect("append");
    }
    let server = start(s, config(), TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    c.login("archimap").await;
    let r = c.cmd("A1", "SELECT INBOX").await;
    assert!(r.iter().any(|l| l == "* 2 EXISTS\r\n"), "{r:?}");

    let r = c.cmd("A2", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert!(tagged(&r).starts_with("A2 OK"), "{r:?}");
    let r = c.cmd("A3", "EXPUNGE").await;
    assert!(r.iter().any(|l| l == "* 1 EXPUNGE\r\n"), "{r:?}");
    assert!(tagged(&r).starts_with("A3 OK"), "{r:?}");

    let archived = s.list_archived(user.id).await.expect("archived");
    assert_eq!(archived.len(), 1);
    let entry = archived.first().expect("entry");
    assert_eq!(entry.meta.subject, "first");
    let restored = s
        .restore_archived(user.id, entry.meta.id, None)
        .await
        .expect("restore");
    assert_eq!(restored.mailbox, inbox.id);
    assert_eq!(restored.uid.0, 3, "a new UID after the two used");

    // The selected session learns about it on a following command (the change notification
    // travels through the bus, so the first NOOP may come before it: poll for up to 5 s).
    let mut seen = false;
    for i in 0..50 {
        let r = c.cmd(&format!("N{i}"), "NOOP").await;
        if r.iter().any(|l| l == "* 2 EXISTS\r\n") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the restored message never appeared as EXISTS");
    let r = c
        .cmd(
            "A5",
            "UID FETCH 3 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
        )
        .await;
    let text = r.concat();
    assert!(text.contains("UID 3"), "{text}");
    assert!(text.contains("Subject: first"), "{text}");
    assert!(text.contains("\\Deleted"), "flags are kept: {text}");
    assert!(tagged(&r).starts_with("A5 OK"), "{r:?}");
    let r = c.cmd("A6", "LOGOUT").await;
    assert!(tagged(&r).starts_with("A6 OK"), "{r:?}");
}
