//! POP3's reads: the login with its listing (`Services::pop3_login`, one store read on the
//! embedded backend), and the read-ahead (`Services::pop3_read`, content decoded only when
//! `Services::pop3_bytes` sends it) giving the stored bytes exactly, attachments included, and
//! nothing for messages gone since login or for another user's mailbox.

use wildduck_core::ErrorKind;
use wildduck_core::model::{Flag, FlagOp, Flags, Uid, UidSet};
use wildduck_core::service::Services;
use wildduck_core::service::login::{LoginRequest, Scope};
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::pop3::{POP3_MAX_DOWNLOAD, POP3_MAX_MESSAGES, Pop3Message};
use wildduck_core::service::users::NewUser;

use super::messages::{mail, mail_with_attachment};

fn login(password: &str) -> LoginRequest<'_> {
    LoginRequest {
        username: "popreader",
        password,
        scope: Scope::Pop3,
        ip: None,
        protocol: "POP3",
        session: Some("pop3-conformance"),
    }
}

pub async fn run_all(s: &Services) {
    let u = s
        .create_user(NewUser {
            username: "popreader".into(),
            password: Some("pop pass".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let raws = [
        mail("first", "", "one\r\n.dotted line\r\n"),
        mail_with_attachment("second", "cG9wIGJsb2I="),
        mail("third", "", "three"),
    ];
    for raw in &raws {
        s.append(
            u.id,
            inbox.id,
            AppendRequest {
                raw,
                flags: Flags::new(),
                ..Default::default()
            },
        )
        .await
        .expect("append");
    }

    assert_eq!(
        s.pop3_login(login("wrong"), POP3_MAX_MESSAGES)
            .await
            .expect_err("bad password")
            .kind(),
        ErrorKind::AuthFailed
    );
    let (user, listing) = s
        .pop3_login(login("pop pass"), POP3_MAX_MESSAGES)
        .await
        .expect("login");
    assert_eq!(user.id, u.id);
    assert_eq!(listing.mailbox.id, inbox.id);
    let uids: Vec<Uid> = listing.messages.iter().map(|m| m.uid).collect();
    assert_eq!(uids, [Uid(1), Uid(2), Uid(3)], "oldest first");
    let sizes: Vec<u64> = listing.messages.iter().map(|m| m.size).collect();
    let want: Vec<u64> = raws.iter().map(|r| r.len() as u64).collect();
    assert_eq!(sizes, want);
    assert!(listing.messages.iter().all(|m| !m.seen));

    // All three plus one that never existed, in an order other than the UIDs'.
    let mut asked: Vec<Pop3Message> = listing.messages.iter().rev().cloned().collect();
    let mut ghost = asked.first().cloned().expect("listed");
    ghost.uid = Uid(99);
    asked.push(ghost);
    let bodies = s
        .pop3_read(&user, &listing.mailbox, &asked, POP3_MAX_DOWNLOAD)
        .await
        .expect("read");
    assert_eq!(bodies.len(), 4);
    let mut got = Vec::new();
    for body in bodies {
        got.push(match body {
            Some(b) => Some(s.pop3_bytes(b).await.expect("bytes")),
            None => None,
        });
    }
    assert_eq!(
        got,
        [
            Some(raws[2].clone()),
            Some(raws[1].clone()),
            Some(raws[0].clone()),
            None
        ]
    );

    // The bytes API over the same read.
    let bytes = s
        .pop3_messages(
            &user,
            &listing.mailbox,
            &listing.messages,
            POP3_MAX_DOWNLOAD,
        )
        .await
        .expect("messages");
    let want: Vec<Option<Vec<u8>>> = raws.iter().cloned().map(Some).collect();
    assert_eq!(bytes, want);

    // Removed elsewhere after the login: gone from the read, the others still there.
    let first = UidSet::from_iter([Uid(1)]);
    let mut deleted = Flags::new();
    deleted.insert(Flag::Deleted);
    s.store_flags(u.id, &inbox, &first, &FlagOp::Add(deleted), None, None)
        .await
        .expect("flag");
    s.expunge(u.id, &inbox, Some(&first), None)
        .await
        .expect("expunge");
    let after = s
        .pop3_messages(
            &user,
            &listing.mailbox,
            &listing.messages,
            POP3_MAX_DOWNLOAD,
        )
        .await
        .expect("messages after expunge");
    assert_eq!(after, [None, Some(raws[1].clone()), Some(raws[2].clone())]);

    // Another user's mailbox is not found, whatever the listing says.
    let other = s
        .create_user(NewUser {
            username: "popother".into(),
            password: Some("x".into()),
            ..Default::default()
        })
        .await
        .expect("other user");
    let e = s
        .pop3_read(
            &other,
            &listing.mailbox,
            &listing.messages,
            POP3_MAX_DOWNLOAD,
        )
        .await
        .expect_err("not the owner");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}
