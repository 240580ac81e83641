//! Scripted C:/S: transcripts over real TCP for the commands that need no selected mailbox, and
//! their bad inputs. SQLite always; the core subset also on MongoDB + Redis.

mod session_common;

use session_common::*;
use wildduck_imap::net::TlsMode;

const PRE_AUTH_CAPS: &str = "* CAPABILITY IMAP4rev1 APPENDLIMIT=26214400 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN CHILDREN CONDSTORE ENABLE ID IDLE LITERAL+ MOVE NAMESPACE QUOTA SASL-IR SPECIAL-USE UIDPLUS UNSELECT UTF8=ACCEPT WITHIN XLIST\r\n";
const POST_AUTH_CAPS: &str = "* CAPABILITY IMAP4rev1 APPENDLIMIT=26214400 CHILDREN CONDSTORE ENABLE ID IDLE LITERAL+ MOVE NAMESPACE QUOTA SPECIAL-USE UIDPLUS UNSELECT UTF8=ACCEPT WITHIN XLIST\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greeting_capability_login_logout() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "alice").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let mut c = connect(server.addr).await;
    let g = c.line().await;
    assert!(
        g.starts_with("* OK WildDuck IMAP Server ready for requests from 127.0.0.1 "),
        "{g}"
    );
    let r = c.cmd("a1", "CAPABILITY").await;
    assert_eq!(r, [PRE_AUTH_CAPS, "a1 OK CAPABILITY completed\r\n"]);
    // Wrong state before login.
    let r = c.cmd("a2", "LIST \"\" \"*\"").await;
    assert_eq!(r, ["a2 BAD LIST not allowed now\r\n"]);
    let r = c.cmd("a3", "SELECT INBOX").await;
    assert_eq!(r, ["a3 BAD SELECT not allowed now\r\n"]);
    // Failed login.
    let r = c.cmd("a4", "LOGIN alice wrong").await;
    assert_eq!(r, ["a4 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"]);
    let r = c.cmd("a5", "LOGIN nobody wrong").await;
    assert_eq!(r, ["a5 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"]);
    // Success: untagged CAPABILITY before the tagged OK.
    let r = c.cmd("a6", &format!("LOGIN alice {PASS}")).await;
    assert_eq!(r, [POST_AUTH_CAPS, "a6 OK alice authenticated\r\n"]);
    let r = c.cmd("a7", "CAPABILITY").await;
    assert_eq!(r, [POST_AUTH_CAPS, "a7 OK CAPABILITY completed\r\n"]);
    let r = c.cmd("a8", "LOGIN alice x").await;
    assert_eq!(r, ["a8 BAD LOGIN not allowed now\r\n"]);
    let r = c.cmd("a9", "NOOP").await;
    assert_eq!(r, ["a9 OK Nothing done\r\n"]);
    let r = c.cmd("b1", "NAMESPACE").await;
    assert_eq!(
        r,
        [
            "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
            "b1 OK NAMESPACE completed\r\n"
        ]
    );
    let r = c
        .cmd("b2", "ID (\"name\" \"test\" \"version\" \"1\")")
        .await;
    assert!(
        r[0].starts_with("* ID (\"name\" \"WildDuck IMAP Server\" \"version\" "),
        "{r:?}"
    );
    assert!(r[0].ends_with(" \"vendor\" \"Kreata\")\r\n"), "{r:?}");
    assert_eq!(r[1], "b2 OK ID completed\r\n");
    let r = c.cmd("b3", "ID NIL").await;
    assert_eq!(r.len(), 2);
    let r = c.cmd("b4", "SETQUOTA \"\" (STORAGE 10)").await;
    assert_eq!(r, ["b4 NO [CANNOT] Permission denied.\r\n"]);
    let r = c.cmd("b5", "COMPRESS DEFLATE").await;
    assert_eq!(r, ["b5 BAD Unknown command: COMPRESS\r\n"]);
    let r = c.cmd("b6", "STARTTLS").await;
    assert_eq!(r, ["b6 BAD Unknown command: STARTTLS\r\n"]);
    c.send(b"z LOGOUT\r\n").await;
    assert_eq!(c.line().await, "* BYE Logout requested\r\n");
    let t = c.line().await;
    assert!(t.starts_with("z OK "), "{t}");
    assert_eq!(c.rest().await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_plain_with_and_without_initial_response() {
    use base64::Engine as _;
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "bob").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

    let mut c = connect_greeted(server.addr).await;
    let r = c
        .cmd("a1", &format!("AUTHENTICATE PLAIN {}", b64("\0bob\0nope")))
        .await;
    assert_eq!(r, ["a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"]);
    let r = c
        .cmd("a2", &format!("AUTHENTICATE PLAIN {}", b64("bob")))
        .await;
    assert_eq!(r, ["a2 BAD Invalid SASL argument\r\n"]);
    let r = c
        .cmd(
            "a3",
            &format!("AUTHENTICATE PLAIN {}", b64(&format!("\0bob\0{PASS}"))),
        )
        .await;
    assert_eq!(r, [POST_AUTH_CAPS, "a3 OK bob authenticated\r\n"]);

    // Continuation form, cancelled, then completed.
    let mut c = connect_greeted(server.addr).await;
    c.send(b"b1 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ \r\n");
    c.send(b"*\r\n").await;
    assert_eq!(c.line().await, "b1 BAD Authentication cancelled\r\n");
    c.send(b"b2 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ \r\n");
    c.send(format!("{}\r\n", b64(&format!("\0bob\0{PASS}"))).as_bytes())
        .await;
    assert_eq!(
        c.until_tagged("b2").await,
        [POST_AUTH_CAPS, "b2 OK bob authenticated\r\n"]
    );
    // PLAIN-CLIENTTOKEN needs a fourth field.
    let mut c = connect_greeted(server.addr).await;
    let r = c
        .cmd(
            "c1",
            &format!(
                "AUTHENTICATE PLAIN-CLIENTTOKEN {}",
                b64(&format!("\0bob\0{PASS}\0token"))
            ),
        )
        .await;
    assert_eq!(tagged(&r), "c1 OK bob authenticated\r\n");
    let mut c = connect_greeted(server.addr).await;
    let r = c.cmd("d1", "AUTHENTICATE LOGIN").await;
    assert_eq!(r, ["d1 NO Unsupported authentication mechanism\r\n"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_after_repeated_failures() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "carol").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    let mut last = Vec::new();
    for i in 0..14 {
        last = c.cmd(&format!("r{i}"), "LOGIN carol wrong").await;
    }
    assert_eq!(last, ["r13 NO Authentication was rate limited\r\n"]);
    // Even the right password is refused while limited.
    let r = c.cmd("s1", &format!("LOGIN carol {PASS}")).await;
    assert_eq!(r, ["s1 NO Authentication was rate limited\r\n"]);
}

async fn mailbox_commands(kind: Kind) {
    let env = env(kind).await;
    seed(&env.services, "dave").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    c.login("dave").await;

    let r = c.cmd("l1", "LIST \"\" \"\"").await;
    assert_eq!(
        r,
        [
            "* LIST (\\Noselect) \"/\" \"/\"\r\n",
            "l1 OK LIST completed\r\n"
        ]
    );
    let r = c.cmd("l2", "LIST \"\" \"*\"").await;
    assert_eq!(
        r,
        [
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n",
            "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"\r\n",
            "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Mail\"\r\n",
            "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\r\n",
            "l2 OK LIST completed\r\n"
        ]
    );
    // CREATE with hierarchy, UTF-7 names, errors.
    let r = c.cmd("c1", "CREATE Work/Projects").await;
    assert_eq!(r, ["c1 OK CREATE completed\r\n"]);
    let r = c.cmd("c2", "CREATE Work/Projects").await;
    assert_eq!(r, ["c2 NO [ALREADYEXISTS] CREATE completed\r\n"]);
    let r = c.cmd("c3", "CREATE Stuff/").await;
    assert_eq!(r, ["c3 OK [CANNOT] Ignoring hierarchy declaration\r\n"]);
    let r = c.cmd("c4", "CREATE a//b").await;
    assert_eq!(
        r,
        ["c4 NO [CANNOT] Adjacent hierarchy separators are not supported\r\n"]
    );
    let r = c.cmd("c5", "CREATE \"Caf&AOk-\"").await;
    assert_eq!(r, ["c5 OK CREATE completed\r\n"]);
    let r = c.cmd("c6", "CREATE \"Bad&Jjo\"").await;
    assert!(r[0].starts_with("c6 BAD "), "{r:?}");

    let r = c.cmd("l3", "LIST \"\" \"Work*\"").await;
    assert_eq!(
        r,
        [
            "* LIST (\\Noselect \\HasChildren) \"/\" \"Work\"\r\n",
            "* LIST (\\HasNoChildren) \"/\" \"Work/Projects\"\r\n",
            "l3 OK LIST completed\r\n"
        ]
    );
    let r = c.cmd("l4", "LIST \"\" \"%\"").await;
    assert!(
        r.contains(&"* LIST (\\HasNoChildren) \"/\" \"Caf&AOk-\"\r\n".to_string()),
        "{r:?}"
    );
    assert!(!r.iter().any(|l| l.contains("Work/Projects")), "{r:?}");
    let r = c.cmd("l5", "LIST (SPECIAL-USE) \"\" \"*\"").await;
    assert_eq!(r.len(), 5, "{r:?}");
    let r = c.cmd("l6", "LIST \"\" \"*\" RETURN (SPECIAL-USE)").await;
    assert!(
        r.contains(&"* LIST (\\Trash) \"/\" \"Trash\"\r\n".to_string()),
        "{r:?}"
    );
    assert!(
        r.contains(&"* LIST () \"/\" \"INBOX\"\r\n".to_string()),
        "{r:?}"
    );
    let r = c.cmd("l7", "XLIST \"\" \"*\"").await;
    assert!(
        r.contains(&"* XLIST (\\HasNoChildren \\Inbox) \"/\" \"Inbox\"\r\n".to_string()),
        "{r:?}"
    );
    assert!(
        r.contains(&"* XLIST (\\HasNoChildren \\Spam) \"/\" \"Junk\"\r\n".to_string()),
        "{r:?}"
    );
    let r = c.cmd("l8", "LIST \"Work/\" \"%\"").await;
    assert_eq!(
        r,
        [
            "* LIST (\\HasNoChildren) \"/\" \"Work/Projects\"\r\n",
            "l8 OK LIST completed\r\n"
        ]
    );
    let r = c.cmd("l9", "list \"\" inbox").await;
    assert_eq!(
        r,
        [
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n",
            "l9 OK LIST completed\r\n"
        ]
    );

    // SUBSCRIBE / UNSUBSCRIBE / LSUB.
    let r = c.cmd("s1", "UNSUBSCRIBE Trash").await;
    assert_eq!(r, ["s1 OK UNSUBSCRIBE completed\r\n"]);
    let r = c.cmd("s2", "LSUB \"\" \"T*\"").await;
    assert_eq!(r, ["s2 OK LSUB completed\r\n"]);
    let r = c.cmd("s3", "SUBSCRIBE Trash").await;
    assert_eq!(r, ["s3 OK SUBSCRIBE completed\r\n"]);
    let r = c.cmd("s4", "LSUB \"\" \"T*\"").await;
    assert_eq!(
        r,
        [
            "* LSUB (\\HasNoChildren \\Trash) \"/\" \"Trash\"\r\n",
            "s4 OK LSUB completed\r\n"
        ]
    );
    let r = c.cmd("s5", "SUBSCRIBE Nope").await;
    assert_eq!(r, ["s5 NO [NONEXISTENT] SUBSCRIBE completed\r\n"]);

    // RENAME / DELETE.
    let r = c.cmd("r1", "RENAME Work/Projects Work/Done").await;
    assert_eq!(r, ["r1 OK RENAME completed\r\n"]);
    let r = c.cmd("r2", "RENAME Nope Other").await;
    assert_eq!(r, ["r2 NO [NONEXISTENT] RENAME completed\r\n"]);
    let r = c.cmd("r3", "RENAME INBOX Other").await;
    assert_eq!(r, ["r3 NO [CANNOT] INBOX can not be renamed\r\n"]);
    let r = c.cmd("r4", "RENAME Trash Drafts").await;
    assert_eq!(r, ["r4 NO [ALREADYEXISTS] RENAME completed\r\n"]);
    let r = c.cmd("d1", "DELETE INBOX").await;
    assert_eq!(r, ["d1 NO [CANNOT] INBOX can not be deleted\r\n"]);
    let r = c.cmd("d2", "DELETE Trash").await;
    assert_eq!(
        r,
        ["d2 NO [CANNOT] Special use folders can not be deleted\r\n"]
    );
    let r = c.cmd("d3", "DELETE Work/Done").await;
    assert_eq!(r, ["d3 OK DELETE completed\r\n"]);
    let r = c.cmd("d4", "DELETE Work/Done").await;
    assert_eq!(r, ["d4 NO [NONEXISTENT] DELETE completed\r\n"]);

    // STATUS, quota.
    let r = c
        .cmd("t1", "STATUS INBOX (MESSAGES RECENT UIDNEXT UNSEEN)")
        .await;
    assert_eq!(
        r,
        [
            "* STATUS \"INBOX\" (MESSAGES 0 RECENT 0 UIDNEXT 1 UNSEEN 0)\r\n",
            "t1 OK STATUS completed\r\n"
        ]
    );
    let r = c.cmd("t2", "STATUS Nope (MESSAGES)").await;
    assert_eq!(r, ["t2 NO [NONEXISTENT] STATUS completed\r\n"]);
    let r = c.cmd("t3", "STATUS INBOX (SIZE)").await;
    assert!(r[0].starts_with("t3 BAD"), "{r:?}");
    let r = c.cmd("q1", "GETQUOTAROOT INBOX").await;
    assert_eq!(
        r,
        [
            "* QUOTAROOT \"INBOX\" \"\"\r\n",
            "* QUOTA \"\" (STORAGE 0 1048576)\r\n",
            "q1 OK Success\r\n"
        ]
    );
    let r = c.cmd("q2", "GETQUOTA \"other\"").await;
    assert_eq!(r, ["q2 NO [NONEXISTENT] GETQUOTA completed\r\n"]);

    // APPEND with a synchronising literal, flags and a date.
    let msg = "From: a@example.com\r\nSubject: hi\r\n\r\nHello\r\n";
    c.send(
        format!(
            "p1 APPEND INBOX (\\Seen $Label) \"14-Jul-2024 02:44:25 +0200\" {{{}}}\r\n",
            msg.len()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(c.line().await, "+ Go ahead\r\n");
    c.send(format!("{msg}\r\n").as_bytes()).await;
    let r = c.until_tagged("p1").await;
    assert!(r[0].starts_with("p1 OK [APPENDUID "), "{r:?}");
    assert!(r[0].ends_with(" 1] APPEND completed\r\n"), "{r:?}");
    // LITERAL+ form.
    c.send(format!("p2 APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes())
        .await;
    let r = c.until_tagged("p2").await;
    assert!(r[0].ends_with(" 2] APPEND completed\r\n"), "{r:?}");
    let r = c.cmd("p3", "APPEND Nope {2+}\r\nab").await;
    assert_eq!(r, ["p3 NO [TRYCREATE] APPEND completed\r\n"]);
    let r = c.cmd("p4", "APPEND INBOX {0+}\r\n").await;
    assert_eq!(r, ["p4 NO Empty message\r\n"]);
    let r = c
        .cmd("t4", "STATUS INBOX (MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ)")
        .await;
    assert_eq!(
        r[0],
        "* STATUS \"INBOX\" (MESSAGES 2 UIDNEXT 3 UNSEEN 1 HIGHESTMODSEQ 3)\r\n"
    );

    // SELECT / EXAMINE (CONDSTORE is on now: STATUS asked for HIGHESTMODSEQ).
    let r = c.cmd("e1", "SELECT INBOX").await;
    assert_eq!(
        r[0],
        "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $Label)\r\n"
    );
    assert_eq!(
        r[1],
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $Label \\*)] Flags permitted\r\n"
    );
    assert!(r[2].starts_with("* OK [UIDVALIDITY "), "{r:?}");
    assert_eq!(
        &r[3..],
        [
            "* 2 EXISTS\r\n",
            "* 0 RECENT\r\n",
            "* OK [HIGHESTMODSEQ 3] Highest\r\n",
            "* OK [UIDNEXT 3] Predicted next UID\r\n",
            "e1 OK [READ-WRITE] SELECT completed, CONDSTORE is now enabled\r\n",
        ]
    );
    // APPEND to the selected mailbox announces EXISTS.
    let r = c
        .cmd("p5", &format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
        .await;
    assert_eq!(r[0], "* 3 EXISTS\r\n");
    assert!(r[1].contains("APPEND completed"), "{r:?}");
    let r = c.cmd("e2", "EXAMINE Nope").await;
    assert_eq!(r, ["e2 NO [NONEXISTENT] EXAMINE completed\r\n"]);
    let r = c.cmd("e3", "EXAMINE Trash").await;
    assert_eq!(
        tagged(&r),
        "e3 OK [READ-ONLY] EXAMINE completed, CONDSTORE is now enabled\r\n"
    );
    assert!(r.contains(&"* 0 EXISTS\r\n".to_string()));
    let r = c.cmd("n1", "ENABLE CONDSTORE").await;
    assert_eq!(r, ["n1 BAD ENABLE not allowed now\r\n"]);
    let r = c.cmd("q3", "GETQUOTA \"\"").await;
    assert!(
        r[0].starts_with("* QUOTA \"\" (STORAGE 1 1048576)"),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_commands_sqlite() {
    mailbox_commands(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_commands_mongo() {
    mailbox_commands(Kind::Mongo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_and_utf8_names() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "erin").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    c.login("erin").await;
    let r = c.cmd("a1", "CREATE \"K&AOQ-se\"").await;
    assert_eq!(tagged(&r), "a1 OK CREATE completed\r\n");
    let r = c.cmd("a2", "ENABLE X-UNKNOWN").await;
    assert_eq!(r, ["* ENABLED\r\n", "a2 OK Success\r\n"]);
    let r = c.cmd("a3", "ENABLE UTF8=ACCEPT CONDSTORE").await;
    assert_eq!(
        r,
        [
            "* ENABLED UTF8=ACCEPT CONDSTORE\r\n",
            "a3 OK Extensions enabled\r\n"
        ]
    );
    let r = c.cmd("a4", "LIST \"\" \"K*\"").await;
    assert_eq!(r[0], "* LIST (\\HasNoChildren) \"/\" \"Käse\"\r\n");
    // With UTF8=ACCEPT an "&" is just a character.
    let r = c.cmd("a5", "STATUS \"Käse\" (MESSAGES)").await;
    assert_eq!(r[0], "* STATUS \"Käse\" (MESSAGES 0)\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_protocol_error_limit() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "frank").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    let r = c.cmd("a1", "FROBNICATE").await;
    assert_eq!(r, ["a1 BAD Unknown command: FROBNICATE\r\n"]);
    c.send(b"+++\r\n").await;
    assert_eq!(c.line().await, "* BAD Invalid tag\r\n");
    let r = c.cmd("a2", "LOGIN onlyone").await;
    assert!(r[0].starts_with("a2 BAD "), "{r:?}");
    // An oversized line is refused and the connection goes on.
    let long = format!("a3 NOOP {}\r\n", "x".repeat(20_000));
    c.send(long.as_bytes()).await;
    assert_eq!(c.line().await, "a3 BAD Command line too long\r\n");
    let r = c.cmd("a4", "NOOP").await;
    assert_eq!(r, ["a4 OK Nothing done\r\n"]);
    // A literal above 1 KiB outside APPEND.
    let r = c.cmd("a5", "LOGIN {5000}").await;
    assert_eq!(r, ["a5 NO Literal too large\r\n"]);
    c.login("frank").await;
    // TOOBIG before the literal is sent (synchronising): no "+".
    let r = c.cmd("a6", "APPEND INBOX {30000000}").await;
    assert_eq!(
        r,
        [
            "a6 NO [TOOBIG] Message size exceeds allowed limit: attempted 30000000 bytes, but maximum allowed is 26214400 bytes.\r\n"
        ]
    );
    let r = c.cmd("a7", "CREATE \"&Jjo-bad&\"").await;
    assert!(r[0].starts_with("a7 BAD "), "{r:?}");
    // Selected-state commands in Authenticated state.
    let r = c.cmd("a8", "FETCH 1 FLAGS").await;
    assert_eq!(r, ["a8 BAD FETCH not allowed now\r\n"]);
    // 50 BADs are tolerated (6 so far), the 51st closes.
    for i in 0..44 {
        let r = c.cmd(&format!("b{i}"), "FROB").await;
        assert!(r[0].contains("BAD"), "{r:?}");
    }
    c.send(b"last FROB\r\n").await;
    assert_eq!(c.line().await, "last BAD Unknown command: FROB\r\n");
    assert_eq!(c.line().await, "* BYE Too many protocol errors\r\n");
    assert_eq!(c.rest().await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_per_user() {
    for kind in [Kind::Sqlite, Kind::Mongo] {
        let env = env(kind).await;
        let name = format!("gina{}", wildduck_test_support::unique_db_name().len());
        seed(&env.services, &name).await;
        let cfg = wildduck_imap::ImapConfig {
            max_connections: 2,
            ..config()
        };
        let server = start(&env.services, cfg, TlsMode::Plain).await;
        let mut a = connect_greeted(server.addr).await;
        a.login(&name).await;
        let mut b = connect_greeted(server.addr).await;
        b.login(&name).await;
        let mut c = connect_greeted(server.addr).await;
        let r = c.cmd("x", &format!("LOGIN {name} {PASS}")).await;
        assert_eq!(
            r,
            ["x NO [ALERT] Too many simultaneous connections.\r\n"],
            "{kind:?}"
        );
        // Closing one frees its slot.
        a.cmd("z", "LOGOUT").await;
        drop(a);
        let mut ok = false;
        for i in 0..50 {
            let r = c
                .cmd(&format!("y{i}"), &format!("LOGIN {name} {PASS}"))
                .await;
            if tagged(&r).contains("OK") {
                ok = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(ok, "slot released on {kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_says_bye_between_commands() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "hank").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    c.login("hank").await;
    server.shutdown.trigger();
    assert_eq!(c.line().await, "* BYE System shutdown\r\n");
    assert_eq!(c.rest().await, "");
}
