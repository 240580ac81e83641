//! A real client: python3's imaplib logs in, lists, creates, appends, asks STATUS, selects and
//! logs out over a real socket, as a subprocess; the Rust side checks what it reports and what
//! the store holds.

mod session_common;

use session_common::*;
use wildduck_imap::net::TlsMode;

const SCRIPT: &str = r#"
import imaplib, sys, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
M = imaplib.IMAP4(host, port)
print("caps", " ".join(sorted(M.capabilities)))
typ, data = M.login(user, pw)
print("login", typ)
typ, data = M.list()
print("list", typ, len(data))
for line in data:
    print("  ", line.decode())
print("create", M.create("Projects/2024")[0])
print("create-utf7", M.create('"Caf&AOk-"')[0])
msg = b"From: py@example.com\r\nSubject: from imaplib\r\n\r\nHello from Python\r\n"
typ, data = M.append("Projects/2024", "(\\Flagged)", imaplib.Time2Internaldate(time.time()), msg)
print("append", typ, data[0].decode())
typ, data = M.status("Projects/2024", "(MESSAGES UNSEEN UIDNEXT)")
print("status", typ, data[0].decode())
typ, data = M.select("Projects/2024")
print("select", typ, data[0].decode())
print("readonly", M.untagged_responses.get("READ-WRITE") is not None)
typ, data = M.getquotaroot("INBOX")
print("quotaroot", typ, [d if isinstance(d, str) else d.decode() for d in data[1]])
typ, data = M.lsub()
print("lsub", typ, len(data))
print("logout", M.logout()[0])
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_imaplib_session() {
    let env = env(Kind::Sqlite).await;
    let user = seed(&env.services, "pyuser").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg("127.0.0.1")
        .arg(server.addr.port().to_string())
        .arg("pyuser")
        .arg(PASS)
        .output()
        .await
        .expect("python3 runs (scripts/setup-test-deps installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "imaplib failed:\n{stdout}\n{stderr}");
    let has = |needle: &str| {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    };
    has("caps APPENDLIMIT=26214400 AUTH=PLAIN");
    has("login OK");
    has("list OK 5");
    has("(\\HasNoChildren \\Sent) \"/\" \"Sent Mail\"");
    has("create OK");
    has("create-utf7 OK");
    has("append OK [APPENDUID ");
    has("status OK \"Projects/2024\" (MESSAGES 1 UNSEEN 1 UIDNEXT 2)");
    has("select OK 1");
    has("readonly True");
    has("quotaroot OK ['\"\" (STORAGE 1 1048576)']");
    has("lsub OK 8");
    has("logout BYE");
    // The store agrees.
    let mb = env
        .services
        .find_mailbox(user.id, "Café")
        .await
        .expect("UTF-7 name decoded");
    assert_eq!(mb.path, "Café");
    let projects = env
        .services
        .find_mailbox(user.id, "Projects/2024")
        .await
        .unwrap();
    let st = env
        .services
        .mailbox_status(user.id, projects.id)
        .await
        .unwrap();
    assert_eq!(st.messages, 1);
}

const TLS_SCRIPT: &str = r#"
import imaplib, ssl, sys
port, cafile, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
if mode == "starttls":
    M = imaplib.IMAP4("localhost", port)
    print("before", "LOGINDISABLED" in M.capabilities, "STARTTLS" in M.capabilities)
    print("starttls", M.starttls(ssl_context=ctx)[0])
else:
    M = imaplib.IMAP4_SSL("localhost", port, ssl_context=ctx)
print("after", "LOGINDISABLED" in M.capabilities, "STARTTLS" in M.capabilities)
print("login", M.login("tlsuser", sys.argv[4])[0])
typ, data = M.list('""', "INBOX")
print("list", typ, data[0].decode())
print("logout", M.logout()[0])
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_imaplib_over_starttls_and_implicit_tls() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "tlsuser").await;
    let t = tls();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &t.cert_pem).unwrap();
    for (mode, tls_mode) in [
        ("starttls", TlsMode::StartTls(t.acceptor.clone())),
        ("implicit", TlsMode::Implicit(t.acceptor.clone())),
    ] {
        let server = start(&env.services, config(), tls_mode).await;
        let out = tokio::process::Command::new("python3")
            .arg("-c")
            .arg(TLS_SCRIPT)
            .arg(server.addr.port().to_string())
            .arg(&ca)
            .arg(mode)
            .arg(PASS)
            .output()
            .await
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{mode}:\n{stdout}\n{stderr}");
        if mode == "starttls" {
            assert!(stdout.contains("before True True"), "{stdout}");
            assert!(stdout.contains("starttls OK"), "{stdout}");
        }
        assert!(stdout.contains("after False False"), "{stdout}");
        assert!(stdout.contains("login OK"), "{stdout}");
        assert!(
            stdout.contains("list OK (\\HasNoChildren) \"/\" \"INBOX\""),
            "{stdout}"
        );
        assert!(stdout.contains("logout BYE"), "{stdout}");
    }
}
