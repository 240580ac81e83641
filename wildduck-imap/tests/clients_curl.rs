//! A real client: `curl` (libcurl's IMAP) over plain TCP, STARTTLS and implicit TLS. It lists
//! mailboxes, searches, fetches messages by UID (compared byte-exact with what the store was
//! given) and appends with `-T` (found in the store byte-exact, and fetched back by curl).

mod clients_common;
mod session_common;

use std::path::Path;
use std::time::Duration;

use clients_common::*;
use session_common::*;
use wildduck_core::model::User;
use wildduck_core::service::Services;
use wildduck_imap::net::TlsMode;

/// Messages with 8-bit text, a base64 attachment and a body without a final line break, so a
/// client that rewrites anything shows up in the comparison.
fn messages() -> Vec<Vec<u8>> {
    vec![
        b"From: Carol <carol@example.com>\r\nTo: curluser@example.com\r\nSubject: First via curl\r\nDate: Wed, 04 Jun 2025 08:00:00 +0000\r\nMessage-ID: <curl-1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln.\r\n  indented line\r\n\r\n".to_vec(),
        b"From: alice@example.org\r\nTo: curluser@example.com\r\nSubject: Report with attachment\r\nMessage-ID: <curl-2@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b1\r\nContent-Type: application/octet-stream; name=report.bin\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=report.bin\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\nOTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\r\n--b1--\r\n".to_vec(),
        b"From: dave@example.com\r\nTo: curluser@example.com\r\nSubject: Third\r\nMessage-ID: <curl-3@example.com>\r\n\r\nthird body\r\nno final line break".to_vec(),
    ]
}

/// Runs curl with a deadline; returns stdout, failing with curl's stderr when it fails.
async fn curl(args: &[&str]) -> Vec<u8> {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "30"])
            .args(args)
            .output(),
    )
    .await
    .expect("curl finished in time")
    .expect("curl starts");
    assert!(
        out.status.success(),
        "curl {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One full round of curl operations against a server; `base` is the URL up to the port and
/// `extra` the TLS options for this mode.
async fn exercise(services: &Services, user: &User, base: &str, extra: &[&str], dir: &Path) {
    let auth = format!("{}:{PASS}", user.username);
    let with = |tail: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.push("--user".into());
        v.push(auth.clone());
        v.extend(tail.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        curl(&refs).await
    };

    // The mailbox list (curl sends LIST "" * and prints the untagged answers).
    let list = String::from_utf8_lossy(&run(with(&[&format!("{base}/")])).await).into_owned();
    for want in [
        "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n",
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Mail\"\r\n",
        "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"\r\n",
    ] {
        assert!(list.contains(want), "{base}: {want:?} missing in:\n{list}");
    }

    // SEARCH through the URL query.
    let search = run(with(&[&format!("{base}/INBOX?SUBJECT%20Third")])).await;
    assert_eq!(String::from_utf8_lossy(&search), "* SEARCH 3\r\n", "{base}");

    // Every message by UID, byte-exact with what the store holds and what it was given.
    let before = stored(services, user, "INBOX").await;
    let given = messages();
    for (i, raw) in given.iter().enumerate() {
        let uid = i + 1;
        let got = run(with(&[&format!("{base}/INBOX;UID={uid}")])).await;
        assert!(
            got == *raw,
            "{base}: UID {uid} differs:\n{}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(got, before[i].1, "{base}: UID {uid} differs from the store");
    }
    // A MIME part by section: the attachment's encoded body.
    let part = run(with(&[&format!("{base}/INBOX;UID=2;SECTION=2")])).await;
    assert!(
        part.starts_with(b"AAECAwQF") && part.ends_with(b"b3Bx"),
        "{base}: section 2: {}",
        String::from_utf8_lossy(&part)
    );

    // APPEND with -T: the upload lands in the store byte-exact, with curl's \Seen.
    let upload = format!(
        "From: curl@example.net\r\nTo: {}@example.com\r\nSubject: uploaded over {base}\r\nMessage-ID: <upload@{}>\r\n\r\nbody \u{2713} line\r\n.\r\n..dots\r\n",
        user.username,
        base.len()
    )
    .into_bytes();
    let file = dir.join("upload.eml");
    std::fs::write(&file, &upload).expect("write upload");
    let file = file.to_string_lossy().into_owned();
    run(with(&["--upload-file", &file, &format!("{base}/INBOX")])).await;
    let after = stored(services, user, "INBOX").await;
    assert_eq!(
        after.len(),
        before.len() + 1,
        "{base}: one message appended"
    );
    let (_, raw, flags) = after.last().expect("appended message");
    assert!(
        *raw == upload,
        "{base}: appended bytes differ:\n{}",
        String::from_utf8_lossy(raw)
    );
    assert!(flags.iter().any(|f| f == "\\Seen"), "{base}: {flags:?}");
    // And curl fetches it back the same.
    let uid = after.len();
    let back = run(with(&[&format!("{base}/INBOX;UID={uid}")])).await;
    assert!(back == upload, "{base}: fetched-back upload differs");

    // A wrong password is refused (curl exits 67: login denied).
    let mut bad: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    bad.extend([
        "--silent".into(),
        "--user".into(),
        format!("{}:wrong", user.username),
        format!("{base}/"),
    ]);
    let status = tokio::process::Command::new("curl")
        .args(&bad)
        .output()
        .await
        .expect("curl starts")
        .status;
    assert_eq!(status.code(), Some(67), "{base}: wrong password");
}

/// Starts a fresh user with the three messages in INBOX.
async fn seeded(services: &Services, name: &str) -> User {
    let user = seed(services, name).await;
    for raw in messages() {
        put(services, &user, "INBOX", &raw, &[]).await;
    }
    user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_over_plain_imap() {
    require_tool("curl", "curl");
    let env = env(Kind::Sqlite).await;
    let user = seeded(&env.services, "curluser").await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let base = format!("imap://127.0.0.1:{}", server.addr.port());
    exercise(&env.services, &user, &base, &[], dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_over_implicit_tls_and_starttls() {
    require_tool("curl", "curl");
    let env = env(Kind::Sqlite).await;
    let t = tls();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &t.cert_pem).expect("write ca");
    let ca = ca.to_string_lossy().into_owned();

    // imaps:// verified against the test CA under the certificate's name.
    let user = seeded(&env.services, "curltls").await;
    let server = start(
        &env.services,
        config(),
        TlsMode::Implicit(t.acceptor.clone()),
    )
    .await;
    let port = server.addr.port();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let base = format!("imaps://localhost:{port}");
    exercise(
        &env.services,
        &user,
        &base,
        &["--cacert", &ca, "--resolve", &resolve],
        dir.path(),
    )
    .await;

    // imap:// upgraded with STARTTLS (required), and -k accepted in place of the CA.
    let user = seeded(&env.services, "curlstarttls").await;
    let server = start(
        &env.services,
        config(),
        TlsMode::StartTls(t.acceptor.clone()),
    )
    .await;
    let base = format!("imap://127.0.0.1:{}", server.addr.port());
    exercise(
        &env.services,
        &user,
        &base,
        &["--ssl-reqd", "--insecure"],
        dir.path(),
    )
    .await;

    // Without STARTTLS the plain listener refuses the login (LOGINDISABLED), so curl fails.
    let out = tokio::process::Command::new("curl")
        .args(["--silent", "--max-time", "30", "--user"])
        .arg(format!("curlstarttls:{PASS}"))
        .arg(format!("{base}/"))
        .output()
        .await
        .expect("curl starts");
    assert!(
        !out.status.success(),
        "login without TLS on a STARTTLS listener must fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// What curl does, made deterministic: the first command after STARTTLS is queued in rustls
/// before the handshake ends, so it leaves in the same write as the client's `Finished`. The
/// server must answer it (it used to wait for the socket while rustls held the command).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_sent_with_the_tls_finished_is_answered() {
    use std::io::{Read, Write};
    let env = env(Kind::Sqlite).await;
    let t = tls();
    let server = start(
        &env.services,
        config(),
        TlsMode::StartTls(t.acceptor.clone()),
    )
    .await;
    let addr = server.addr;
    let client_config = t.connector.config().clone();
    let answer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut tcp = std::net::TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut plain = Vec::new();
        let mut byte = [0u8; 1];
        // The greeting, then STARTTLS and its OK, read byte by byte so nothing TLS is consumed.
        let mut lines = 0;
        tcp.write_all(b"S1 STARTTLS\r\n")?;
        while lines < 2 {
            if tcp.read(&mut byte)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            plain.push(byte[0]);
            if byte[0] == b'\n' {
                lines += 1;
            }
        }
        let name =
            rustls::pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
        let mut conn =
            rustls::ClientConnection::new(client_config, name).map_err(std::io::Error::other)?;
        conn.writer().write_all(b"S2 NOOP\r\n")?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        while conn.wants_write() {
            conn.write_tls(&mut tcp)?;
        }
        let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
        let mut got = Vec::new();
        let mut chunk = [0u8; 512];
        while !got.windows(5).any(|w| w == b"S2 OK") {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&plain),
            String::from_utf8_lossy(&got)
        ))
    })
    .await
    .expect("client thread");
    let answer = answer.expect("the command pipelined with the handshake is answered");
    assert!(answer.contains("S1 OK"), "{answer}");
    assert!(answer.contains("S2 OK"), "{answer}");
}
