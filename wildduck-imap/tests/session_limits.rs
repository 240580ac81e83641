//! Session limits and server pushes: the socket timeout, the SELECT flood guard, LITERAL+
//! literals above the message limit (discarded without buffering, the session goes on), and
//! the BYE a session gets when another session deletes its selected mailbox.

mod session_common;

use std::time::Duration;

use session_common::*;
use wildduck_imap::ImapConfig;
use wildduck_imap::net::TlsMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_timeout_says_bye() {
    let env = env(Kind::Sqlite).await;
    let cfg = ImapConfig {
        socket_timeout: Duration::from_millis(300),
        ..config()
    };
    let server = start(&env.services, cfg, TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    assert_eq!(c.line().await, "* BYE Idle timeout, closing connection\r\n");
    assert_eq!(c.rest().await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_selects() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "sel").await;
    let cfg = ImapConfig {
        max_selects: 3,
        ..config()
    };
    let server = start(&env.services, cfg, TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    c.login("sel").await;
    for i in 0..3 {
        let r = c.cmd(&format!("s{i}"), "EXAMINE INBOX").await;
        assert!(tagged(&r).contains("OK [READ-ONLY]"), "{r:?}");
    }
    c.send(b"s3 SELECT INBOX\r\n").await;
    assert_eq!(
        c.line().await,
        "* BYE Too many SELECT commands issued, please reconnect\r\n"
    );
    let rest = c.rest().await;
    assert!(!rest.contains("EXISTS"), "{rest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_literal_plus_append_is_discarded() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "big").await;
    let cfg = ImapConfig {
        max_message: 10_000,
        ..config()
    };
    let server = start(&env.services, cfg, TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    c.login("big").await;
    let r = c.cmd("a0", "CAPABILITY").await;
    assert!(r[0].contains(" APPENDLIMIT=10000 "), "{r:?}");
    // The client sends the data anyway (LITERAL+); none of it may be taken as commands.
    let data = "a9 LOGOUT\r\n".repeat(2000);
    c.send(format!("a1 APPEND INBOX {{{}+}}\r\n", data.len()).as_bytes())
        .await;
    c.send(data.as_bytes()).await;
    c.send(b"\r\n").await;
    assert_eq!(
        c.line().await,
        "a1 NO [TOOBIG] Message size exceeds allowed limit: attempted 22000 bytes, but maximum allowed is 10000 bytes.\r\n"
    );
    let r = c.cmd("a2", "STATUS INBOX (MESSAGES)").await;
    assert_eq!(
        r,
        [
            "* STATUS \"INBOX\" (MESSAGES 0)\r\n",
            "a2 OK STATUS completed\r\n"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_selected_mailbox_drops_its_sessions() {
    for kind in BOTH {
        let env = env(kind).await;
        let name = if kind == Kind::Sqlite {
            "drop1"
        } else {
            "drop2"
        };
        seed(&env.services, name).await;
        let server = start(&env.services, config(), TlsMode::Plain).await;
        let mut a = connect_greeted(server.addr).await;
        a.login(name).await;
        let r = a.cmd("c1", "CREATE Doomed").await;
        assert_eq!(tagged(&r), "c1 OK CREATE completed\r\n");
        let r = a.cmd("c2", "SELECT Doomed").await;
        assert!(tagged(&r).contains("OK [READ-WRITE]"), "{r:?}");
        let mut b = connect_greeted(server.addr).await;
        b.login(name).await;
        let r = b.cmd("d1", "DELETE Doomed").await;
        assert_eq!(r, ["d1 OK DELETE completed\r\n"]);
        assert_eq!(
            a.line().await,
            "* BYE Selected mailbox was deleted, have to disconnect\r\n",
            "{kind:?}"
        );
        assert_eq!(a.rest().await, "");
        // The deleting session itself stays.
        let r = b.cmd("d2", "NOOP").await;
        assert_eq!(r, ["d2 OK Nothing done\r\n"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_over_quota_and_bad_dates() {
    let env = env(Kind::Sqlite).await;
    let user = seed(&env.services, "quota").await;
    env.services
        .update_user(
            user.id,
            wildduck_core::model::UserUpdate {
                quota: Some(60),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    c.login("quota").await;
    let msg = "Subject: q\r\n\r\n".to_string() + &"z".repeat(100) + "\r\n";
    // The check is before the add (as WildDuck): the first message overshoots, the next is refused.
    let r = c
        .cmd("a1", &format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
        .await;
    assert!(tagged(&r).contains("[APPENDUID "), "{r:?}");
    let r = c
        .cmd("a2", &format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
        .await;
    assert_eq!(r, ["a2 NO [OVERQUOTA] APPEND completed\r\n"]);
    let r = c.cmd("a3", "GETQUOTAROOT INBOX").await;
    assert_eq!(r[1], "* QUOTA \"\" (STORAGE 1 1)\r\n");
    // An internal date more than a day ahead.
    let r = c
        .cmd(
            "a4",
            &format!(
                "APPEND INBOX \"01-Jan-2099 00:00:00 +0000\" {{{}+}}\r\n{msg}",
                msg.len()
            ),
        )
        .await;
    assert_eq!(r, ["a4 BAD Invalid date-time argument for APPEND\r\n"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greeting_can_carry_capabilities() {
    let env = env(Kind::Sqlite).await;
    let cfg = ImapConfig {
        greeting_capability: true,
        name: "Test IMAP".into(),
        ..config()
    };
    let server = start(&env.services, cfg, TlsMode::Plain).await;
    let mut c = connect(server.addr).await;
    let g = c.line().await;
    assert!(
        g.starts_with("* OK [CAPABILITY IMAP4rev1 APPENDLIMIT=26214400 AUTH=PLAIN "),
        "{g}"
    );
    assert!(
        g.contains("] Test IMAP ready for requests from 127.0.0.1 "),
        "{g}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_takes_the_server_down() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;
    // A panic inside a session task would only end that task: count panics to catch them.
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "junk").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    // Deterministic pseudo-random bytes, with IMAP-significant characters over-represented.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"a1 {}()[]\"\\*%+:.<>-0123456789 LOGINSELECTAPPENDFETCHBODY\r\n\x00\xff\xc3";
    for round in 0..8 {
        let mut c = connect_greeted(server.addr).await;
        if round % 2 == 1 {
            c.login("junk").await;
        }
        let mut junk = Vec::new();
        for _ in 0..4000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            junk.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        junk.extend_from_slice(b"\r\n");
        c.send(&junk).await;
        // Drain whatever comes back for a moment; the server may close after 50 BADs.
        let mut buf = [0u8; 65536];
        let _ = tokio::time::timeout(Duration::from_millis(200), c.stream.read(&mut buf)).await;
    }
    let mut c = connect_greeted(server.addr).await;
    c.login("junk").await;
    let r = c.cmd("z", "NOOP").await;
    assert_eq!(r, ["z OK Nothing done\r\n"]);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a session panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_header_sets_the_client_address() {
    use wildduck_imap::net::{Listener, ListenerConfig, Shutdown};
    let env = env(Kind::Sqlite).await;
    let listener = Listener::bind(ListenerConfig {
        proxy_protocol: true,
        ..ListenerConfig::plain("127.0.0.1:0".parse().unwrap())
    })
    .await
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let server = wildduck_imap::ImapServer::new(env.services.clone(), config());
    tokio::spawn(server.serve(listener, shutdown.signal()));
    let mut c = connect(addr).await;
    c.send(b"PROXY TCP4 203.0.113.7 127.0.0.1 51000 143\r\n")
        .await;
    let g = c.line().await;
    assert!(g.contains(" ready for requests from 203.0.113.7 "), "{g}");
    // Without a header the connection is closed.
    let mut c = connect(addr).await;
    c.send(b"a1 NOOP\r\n").await;
    assert!(!c.rest().await.contains("OK"));
    shutdown.trigger();
}
