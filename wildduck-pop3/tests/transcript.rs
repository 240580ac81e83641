//! Scripted POP3 sessions over real TCP, on the embedded (SQLite) and the scale-out
//! (MongoDB + Redis) backends.

mod common;

use common::*;
use wildduck_core::model::{Flag, SpecialUse};
use wildduck_core::service::Services;
use wildduck_core::store::MessageFilter;
use wildduck_net::TlsMode;
use wildduck_pop3::{Pop3Config, Pop3DeleteAction};

async fn mailbox_flags(
    s: &Services,
    user: &wildduck_core::model::User,
    path: Option<&str>,
) -> Vec<(Vec<u8>, bool)> {
    let boxes = s.list_mailboxes(user.id, false).await.expect("boxes");
    let mb = match path {
        Some(p) => boxes.into_iter().find(|m| m.path == p),
        None => boxes
            .into_iter()
            .find(|m| m.special_use == Some(SpecialUse::Trash)),
    }
    .expect("mailbox");
    let metas = s
        .fetch_meta(user.id, &mb, &MessageFilter::default())
        .await
        .expect("meta");
    let mut out = Vec::new();
    for m in metas {
        let fetched = s.get_message(user.id, mb.id, m.uid).await.expect("msg");
        out.push((fetched.raw().expect("raw"), m.flags.contains(&Flag::Seen)));
    }
    out
}

async fn full_session(kind: Kind) {
    let env = env(kind).await;
    let s = &env.services;
    let msgs = fixtures();
    let user = seed(s, USER, &msgs).await;
    let server = start(s, Pop3Config::default(), TlsMode::Plain).await;
    let mut c = connect(server.addr).await;
    let greeting = c.line().await;
    assert!(
        greeting.starts_with("+OK WildDuck POP3 Server ready for requests from 127.0.0.1 "),
        "{greeting}"
    );
    assert_eq!(
        greeting.trim_end().rsplit(' ').next().map(str::len),
        Some(16)
    );

    // CAPA before login offers USER and SASL PLAIN (no STLS: the listener has no TLS).
    assert_eq!(c.cmd("CAPA").await, "+OK Capability list follows\r\n");
    let caps = String::from_utf8(c.multiline().await).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        caps,
        format!(
            "TOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nSASL PLAIN\r\nPIPELINING\r\nIMPLEMENTATION WildDuck-v{version}\r\n"
        )
    );
    // Wrong state before login.
    for cmd in [
        "STAT", "LIST", "UIDL", "RETR 1", "TOP 1 1", "DELE 1", "RSET", "NOOP",
    ] {
        assert_eq!(c.cmd(cmd).await, "-ERR Command not accepted\r\n", "{cmd}");
    }
    assert_eq!(c.cmd("PASS nouser").await, "-ERR malformed command\r\n");
    assert_eq!(c.cmd("USER").await, "-ERR USER who?\r\n");

    let sizes: Vec<usize> = msgs.iter().map(Vec::len).collect();
    let total: usize = sizes.iter().sum();
    assert_eq!(
        login(&mut c, USER).await,
        format!("+OK maildrop has 3 messages ({total} octets)\r\n")
    );
    // CAPA after login: USER and SASL PLAIN are gone.
    assert_eq!(c.cmd("CAPA").await, "+OK Capability list follows\r\n");
    let caps = String::from_utf8(c.multiline().await).unwrap();
    assert_eq!(
        caps,
        format!(
            "TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nIMPLEMENTATION WildDuck-v{version}\r\n"
        )
    );
    assert_eq!(c.cmd("USER x").await, "-ERR Command not accepted\r\n");
    assert_eq!(c.cmd("STAT").await, format!("+OK 3 {total}\r\n"));
    assert_eq!(c.cmd("LIST").await, format!("+OK 3 {total}\r\n"));
    let list = String::from_utf8(c.multiline().await).unwrap();
    assert_eq!(
        list,
        format!("1 {}\r\n2 {}\r\n3 {}\r\n", sizes[0], sizes[1], sizes[2])
    );
    assert_eq!(c.cmd("LIST 2").await, format!("+OK 2 {}\r\n", sizes[1]));

    // UIDL = message ObjectId hex, oldest first.
    let inbox = s.find_mailbox(user.id, "INBOX").await.unwrap();
    let metas = s
        .fetch_meta(user.id, &inbox, &MessageFilter::default())
        .await
        .unwrap();
    let ids: Vec<String> = metas.iter().map(|m| m.id.to_string()).collect();
    assert!(
        ids.iter()
            .all(|i| i.len() == 24 && i.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert_eq!(c.cmd("UIDL").await, "+OK\r\n");
    let uidl = String::from_utf8(c.multiline().await).unwrap();
    assert_eq!(
        uidl,
        format!("1 {}\r\n2 {}\r\n3 {}\r\n", ids[0], ids[1], ids[2])
    );
    assert_eq!(c.cmd("UIDL 3").await, format!("+OK 3 {}\r\n", ids[2]));

    // TOP: header, blank line, n body lines; dot-stuffed on the wire.
    assert_eq!(c.cmd("TOP 2 2").await, "+OK message follows\r\n");
    let raw = c.multiline_raw().await;
    let head_end = find(&msgs[1], b"\r\n\r\n").unwrap() + 4;
    let mut want = msgs[1][..head_end].to_vec();
    want.extend_from_slice(b"..leading dot\r\n...two dots\r\n");
    assert_eq!(raw, want);
    assert_eq!(c.cmd("TOP 1 0").await, "+OK message follows\r\n");
    assert_eq!(
        c.multiline().await,
        msgs[0][..find(&msgs[0], b"\r\n\r\n").unwrap() + 4].to_vec()
    );

    // RETR: byte-exact after un-stuffing (a CRLF added only where the message lacks one).
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(
            c.cmd(&format!("RETR {}", i + 1)).await,
            format!("+OK {} octets\r\n", m.len())
        );
        assert_eq!(c.multiline().await, retr_form(m), "message {}", i + 1);
    }

    // Bad numbers and arguments keep the session.
    assert_eq!(
        c.cmd("RETR 4").await,
        "-ERR no such message, only 3 messages in maildrop\r\n"
    );
    assert_eq!(
        c.cmd("LIST 99").await,
        "-ERR no such message, only 3 messages in maildrop\r\n"
    );
    for bad in [
        "RETR 0", "RETR x", "RETR", "DELE -1", "TOP 1", "TOP 1 x", "UIDL 1.0", "LIST 0",
    ] {
        assert_eq!(c.cmd(bad).await, "-ERR malformed command\r\n", "{bad}");
    }

    // DELE, twice, then RETR/LIST of the deleted message.
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted\r\n");
    assert_eq!(c.cmd("DELE 1").await, "-ERR message 1 already deleted\r\n");
    assert_eq!(c.cmd("RETR 1").await, "-ERR message 1 already deleted\r\n");
    assert_eq!(c.cmd("TOP 1 1").await, "-ERR message 1 already deleted\r\n");
    assert_eq!(c.cmd("LIST 1").await, "-ERR message 1 already deleted\r\n");
    let rest = total - sizes[0];
    assert_eq!(c.cmd("STAT").await, format!("+OK 2 {rest}\r\n"));
    // Message numbers keep their login values.
    assert_eq!(c.cmd("LIST").await, format!("+OK 2 {rest}\r\n"));
    assert_eq!(
        String::from_utf8(c.multiline().await).unwrap(),
        format!("2 {}\r\n3 {}\r\n", sizes[1], sizes[2])
    );
    assert_eq!(c.cmd("NOOP").await, "+OK\r\n");
    assert_eq!(
        c.cmd("RSET").await,
        format!("+OK maildrop has 3 messages ({total} octets)\r\n")
    );
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted\r\n");
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
    assert_eq!(c.rest().await, "");

    // UPDATE: message 1 moved to Trash and seen; 2 and 3 were retrieved, so seen in INBOX.
    let inbox_now = mailbox_flags(s, &user, Some("INBOX")).await;
    assert_eq!(
        inbox_now,
        vec![(msgs[1].clone(), true), (msgs[2].clone(), true)]
    );
    let trash = mailbox_flags(s, &user, None).await;
    assert_eq!(trash, vec![(msgs[0].clone(), true)]);

    // A second session sees the new maildrop; UIDLs of the kept messages are stable.
    let mut c = connect(server.addr).await;
    c.line().await;
    let sz = sizes[1] + sizes[2];
    assert_eq!(
        login(&mut c, USER).await,
        format!("+OK maildrop has 2 messages ({sz} octets)\r\n")
    );
    assert_eq!(c.cmd("UIDL").await, "+OK\r\n");
    assert_eq!(
        String::from_utf8(c.multiline().await).unwrap(),
        format!("1 {}\r\n2 {}\r\n", ids[1], ids[2])
    );
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_session_on_both_backends() {
    for kind in BOTH {
        full_session(kind).await;
    }
}

async fn pipelining(kind: Kind) {
    let env = env(kind).await;
    let s = &env.services;
    let msgs = fixtures();
    seed(s, USER, &msgs).await;
    let server = start(s, Pop3Config::default(), TlsMode::Plain).await;

    // The same script, once command by command and once in a single packet: same bytes back.
    let script = [
        "CAPA",
        "USER popuser",
        "PASS secretpass",
        "STAT",
        "LIST",
        "UIDL",
        "RETR 1",
        "RETR 2",
        "TOP 3 0",
        "DELE 2",
        "LIST 2",
        "NOOP",
        "RSET",
        "QUIT",
    ];
    let mut one_by_one = Vec::new();
    {
        let mut c = connect(server.addr).await;
        c.line().await;
        for cmd in script {
            c.send(&format!("{cmd}\r\n")).await;
            let first = c.line().await;
            one_by_one.extend_from_slice(first.as_bytes());
            let multi = matches!(
                cmd,
                "CAPA" | "LIST" | "UIDL" | "RETR 1" | "RETR 2" | "TOP 3 0"
            );
            if multi && first.starts_with("+OK") {
                one_by_one.extend_from_slice(&c.multiline_raw().await);
                one_by_one.extend_from_slice(b".\r\n");
            }
        }
        assert_eq!(c.rest().await, "");
    }
    let mut c = connect(server.addr).await;
    c.line().await;
    let packet: String = script.iter().map(|c| format!("{c}\r\n")).collect();
    c.send(&packet).await;
    let all = c.rest().await;
    assert_eq!(all, String::from_utf8(one_by_one).unwrap());
    assert!(all.ends_with("+OK Bye\r\n"));
    // mpop-style: commands split at odd places across packets.
    let mut c = connect(server.addr).await;
    c.line().await;
    for piece in [
        "US",
        "ER popuser\r\nPA",
        "SS secretpass\r",
        "\nSTAT\r\nQU",
        "IT\r\n",
    ] {
        c.send(piece).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let all = c.rest().await;
    let lines: Vec<&str> = all.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 4, "{all}");
    assert!(lines[2].starts_with("+OK 3 "));
    assert_eq!(lines[3], "+OK Bye\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_are_answered_in_order() {
    for kind in BOTH {
        pipelining(kind).await;
    }
}

async fn auth_variants(kind: Kind) {
    let env = env(kind).await;
    let s = &env.services;
    seed(s, USER, &fixtures()).await;
    let server = start(s, Pop3Config::default(), TlsMode::Plain).await;
    let b64 = |t: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(t)
    };
    let mut c = connect(server.addr).await;
    c.line().await;
    assert_eq!(c.cmd("AUTH").await, "+OK\r\n");
    assert_eq!(c.multiline().await, b"PLAIN\r\n");
    assert_eq!(
        c.cmd("AUTH LOGIN").await,
        "-ERR unsupported SASL mechanism\r\n"
    );
    assert_eq!(c.cmd("AUTH PLAIN !!!").await, "-ERR malformed command\r\n");
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64("a\0b"))).await,
        "-ERR malformed command\r\n"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64("\0popuser\0wrong")))
            .await,
        "-ERR [AUTH] Username and password not accepted\r\n"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64("\0nobody\0secretpass")))
            .await,
        "-ERR [AUTH] Username and password not accepted\r\n"
    );
    // Continuation form, cancelled, then completed.
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ \r\n");
    assert_eq!(c.cmd("*").await, "-ERR authentication cancelled\r\n");
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ \r\n");
    let a = c.cmd(&b64("\0popuser\0secretpass")).await;
    assert!(a.starts_with("+OK maildrop has 3 messages"), "{a}");
    assert_eq!(c.cmd("AUTH PLAIN").await, "-ERR Command not accepted\r\n");
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");

    // Initial response, by address.
    let mut c = connect(server.addr).await;
    c.line().await;
    let a = c
        .cmd(&format!(
            "AUTH PLAIN {}",
            b64("\0popuser@example.com\0secretpass")
        ))
        .await;
    assert!(a.starts_with("+OK maildrop has 3 messages"), "{a}");
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");

    // Disabled scope: refused even with the right password.
    let user = s.resolve_user(USER).await.unwrap();
    s.update_user(
        user.id,
        wildduck_core::model::UserUpdate {
            disabled_scopes: Some(vec!["pop3".into()]),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    let mut c = connect(server.addr).await;
    c.line().await;
    assert_eq!(c.cmd("USER popuser").await, "+OK send PASS\r\n");
    assert_eq!(
        c.cmd("PASS secretpass").await,
        "-ERR [AUTH] Access to requested service disabled\r\n"
    );
    s.update_user(
        user.id,
        wildduck_core::model::UserUpdate {
            disabled_scopes: Some(vec![]),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();

    // Rate limit: 12 failures, then even the right password is refused.
    for _ in 0..12 {
        c.cmd("USER popuser").await;
        assert_eq!(
            c.cmd("PASS bad").await,
            "-ERR [AUTH] Username and password not accepted\r\n"
        );
    }
    c.cmd("USER popuser").await;
    let a = c.cmd("PASS secretpass").await;
    assert!(
        a.starts_with("-ERR [AUTH] Authentication was rate limited. Try again in "),
        "{a}"
    );
    // Unknown names are limited too.
    for _ in 0..12 {
        c.cmd("USER ghost").await;
        c.cmd("PASS x").await;
    }
    c.cmd("USER ghost").await;
    assert!(c.cmd("PASS x").await.contains("rate limited"));
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_plain_scopes_and_rate_limits() {
    for kind in BOTH {
        auth_variants(kind).await;
    }
}

async fn bad_input(kind: Kind) {
    let env = env(kind).await;
    let s = &env.services;
    let msgs = fixtures();
    let user = seed(s, USER, &msgs).await;
    let server = start(s, Pop3Config::default(), TlsMode::Plain).await;

    // Unknown command: -ERR and the connection closes (WildDuck).
    let mut c = connect(server.addr).await;
    c.line().await;
    assert_eq!(c.cmd("XYZZY").await, "-ERR bad command\r\n");
    assert_eq!(c.rest().await, "");
    // Also in TRANSACTION, and APOP (not implemented).
    let mut c = connect(server.addr).await;
    c.line().await;
    login(&mut c, USER).await;
    assert_eq!(c.cmd("APOP popuser 0123").await, "-ERR bad command\r\n");
    assert_eq!(c.rest().await, "");

    // A line over the limit closes the connection.
    let mut c = connect(server.addr).await;
    c.line().await;
    c.send(&format!("USER {}\r\n", "a".repeat(5000))).await;
    assert_eq!(c.rest().await, "-ERR line too long\r\n");
    // … even without a newline.
    let mut c = connect(server.addr).await;
    c.line().await;
    c.send(&"b".repeat(5000)).await;
    assert_eq!(c.rest().await, "-ERR line too long\r\n");

    // STLS without TLS configured.
    let mut c = connect(server.addr).await;
    c.line().await;
    assert_eq!(c.cmd("STLS").await, "-ERR TLS not available\r\n");
    // Binary junk in arguments.
    c.send("USER \u{0}\u{7f}\r\n").await;
    assert_eq!(c.line().await, "+OK send PASS\r\n");
    assert_eq!(
        c.cmd("PASS \u{1}").await,
        "-ERR [AUTH] Username and password not accepted\r\n"
    );
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");

    // Dropped connection before QUIT: nothing deleted, nothing marked seen.
    let mut c = connect(server.addr).await;
    c.line().await;
    login(&mut c, USER).await;
    assert_eq!(
        c.cmd("RETR 1").await,
        format!("+OK {} octets\r\n", msgs[0].len())
    );
    c.multiline().await;
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted\r\n");
    assert_eq!(c.cmd("DELE 2").await, "+OK message 2 deleted\r\n");
    drop(c);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let inbox = mailbox_flags(s, &user, Some("INBOX")).await;
    assert_eq!(inbox.len(), 3);
    assert!(inbox.iter().all(|(_, seen)| !seen));
    assert!(mailbox_flags(s, &user, None).await.is_empty());

    // QUIT before login deletes nothing either.
    let mut c = connect(server.addr).await;
    c.line().await;
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
    assert_eq!(c.rest().await, "");

    // Shutdown: an idle session is told and closed; nothing changes.
    let mut c = connect(server.addr).await;
    c.line().await;
    login(&mut c, USER).await;
    c.cmd("DELE 3").await;
    server.shutdown.trigger();
    assert_eq!(c.rest().await, "-ERR [SYS/TEMP] Server shutting down\r\n");
    assert_eq!(mailbox_flags(s, &user, Some("INBOX")).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_changes_nothing() {
    for kind in BOTH {
        bad_input(kind).await;
    }
}

async fn delete_mode_and_window(kind: Kind) {
    let env = env(kind).await;
    let s = &env.services;
    // Five messages, a window of three: the newest three, oldest first.
    let msgs: Vec<Vec<u8>> = (1..=5)
        .map(|i| format!("Subject: m{i}\r\nMessage-ID: <w{i}@x>\r\n\r\nbody {i}\r\n").into_bytes())
        .collect();
    let user = seed(s, USER, &msgs).await;
    let config = Pop3Config {
        max_messages: 3,
        delete_action: Pop3DeleteAction::Delete,
        ..Default::default()
    };
    let server = start(s, config, TlsMode::Plain).await;
    let mut c = connect(server.addr).await;
    c.line().await;
    let total: usize = msgs[2..].iter().map(Vec::len).sum();
    assert_eq!(
        login(&mut c, USER).await,
        format!("+OK maildrop has 3 messages ({total} octets)\r\n")
    );
    assert_eq!(
        c.cmd("RETR 1").await,
        format!("+OK {} octets\r\n", msgs[2].len())
    );
    assert_eq!(c.multiline().await, msgs[2]);
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted\r\n");
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
    let inbox = mailbox_flags(s, &user, Some("INBOX")).await;
    let left: Vec<Vec<u8>> = inbox.into_iter().map(|(m, _)| m).collect();
    assert_eq!(
        left,
        vec![
            msgs[0].clone(),
            msgs[1].clone(),
            msgs[3].clone(),
            msgs[4].clone()
        ]
    );
    assert!(
        mailbox_flags(s, &user, None).await.is_empty(),
        "deleted, not trashed"
    );
    assert_eq!(
        s.get_user(user.id).await.unwrap().storage_used as usize,
        left.iter().map(Vec::len).sum::<usize>()
    );
    // WildDuck's listing floor (`pxm:<user>`): the first session listed from message 3 up, so
    // the next one does not slide back to message 2 although the window has room.
    let mut c = connect(server.addr).await;
    c.line().await;
    let total: usize = msgs[3..].iter().map(Vec::len).sum();
    assert_eq!(
        login(&mut c, USER).await,
        format!("+OK maildrop has 2 messages ({total} octets)\r\n")
    );
    assert_eq!(
        c.cmd("RETR 1").await,
        format!("+OK {} octets\r\n", msgs[3].len())
    );
    assert_eq!(c.multiline().await, msgs[3]);
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_mode_and_listing_window() {
    for kind in BOTH {
        delete_mode_and_window(kind).await;
    }
}

async fn download_limit(kind: Kind) {
    let env = env(kind).await;
    let s = &env.services;
    let msgs = fixtures();
    seed(s, USER, &msgs).await;
    let config = Pop3Config {
        max_download: msgs[0].len() as u64,
        ..Default::default()
    };
    let server = start(s, config, TlsMode::Plain).await;
    let mut c = connect(server.addr).await;
    c.line().await;
    login(&mut c, USER).await;
    assert!(c.cmd("RETR 1").await.starts_with("+OK"));
    c.multiline().await;
    let a = c.cmd("RETR 2").await;
    assert!(
        a.starts_with("-ERR [SYS/TEMP] Download was rate limited"),
        "{a}"
    );
    assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_download_limit() {
    for kind in BOTH {
        download_limit(kind).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_time_out() {
    let env = env(Kind::Sqlite).await;
    let s = &env.services;
    seed(s, USER, &fixtures()).await;
    let listener = wildduck_net::Listener::bind(wildduck_net::ListenerConfig {
        idle_timeout: std::time::Duration::from_millis(300),
        ..wildduck_net::ListenerConfig::plain("127.0.0.1:0".parse().unwrap())
    })
    .await
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = wildduck_net::Shutdown::new();
    tokio::spawn(
        wildduck_pop3::Pop3Server::new(s.clone(), Pop3Config::default())
            .serve(listener, shutdown.signal()),
    );
    let mut c = connect(addr).await;
    c.line().await;
    login(&mut c, USER).await;
    c.cmd("DELE 1").await;
    assert_eq!(c.rest().await, "-ERR Disconnected for inactivity\r\n");
    let user = s.resolve_user(USER).await.unwrap();
    let inbox = s.find_mailbox(user.id, "INBOX").await.unwrap();
    assert_eq!(
        s.mailbox_status(user.id, inbox.id).await.unwrap().messages,
        3
    );
    shutdown.trigger();
}
