//! A real client: Debian's `mbsync` (isync) syncing the server's INBOX with a local Maildir in
//! both directions, over plain IMAP, implicit TLS and STARTTLS. Pulled messages arrive
//! byte-exact (mbsync stores Maildir files with LF line ends and adds one `X-TUID:` header line,
//! so the comparison is after undoing exactly those), a message added to the Maildir is found in
//! the store byte-exact (with CRLF, and mbsync's `X-TUID:` line), a flag set locally reaches the
//! server, and a second run changes nothing on either side.

mod clients_common;
mod session_common;

use std::path::PathBuf;
use std::time::Duration;

use clients_common::*;
use session_common::*;
use wildduck_core::model::User;
use wildduck_core::service::Services;
use wildduck_imap::net::TlsMode;

fn messages() -> Vec<Vec<u8>> {
    vec![
        b"From: Carol <carol@example.com>\r\nTo: mbuser@example.com\r\nSubject: First for mbsync\r\nDate: Wed, 04 Jun 2025 08:00:00 +0000\r\nMessage-ID: <mb-1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln.\r\n  indented line\r\n".to_vec(),
        b"From: alice@example.org\r\nTo: mbuser@example.com\r\nSubject: Report with attachment\r\nMessage-ID: <mb-2@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b1\r\nContent-Type: application/octet-stream; name=report.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n--b1--\r\n".to_vec(),
        b"From: dave@example.com\r\nTo: mbuser@example.com\r\nSubject: Third\r\nMessage-ID: <mb-3@example.com>\r\n\r\nthird body\r\n\r\n".to_vec(),
    ]
}

/// mbsync (1.4) adds one `X-TUID:` line at the end of the header of every message it propagates,
/// in both directions and even to a UIDPLUS server (its way of recognising messages it stored);
/// everything else must be as sent. Works on LF and CRLF text.
fn without_tuid(b: &[u8]) -> Vec<u8> {
    let header_end = b
        .windows(3)
        .position(|w| w == b"\n\r\n" || w.starts_with(b"\n\n"))
        .map_or(b.len(), |i| i + 1);
    let Some(start) = b
        .get(..header_end)
        .and_then(|h| h.windows(8).position(|w| w == b"\nX-TUID:"))
    else {
        panic!("no X-TUID line: {}", String::from_utf8_lossy(b));
    };
    let start = start + 1;
    let len = b
        .get(start..)
        .and_then(|r| r.iter().position(|&c| c == b'\n'))
        .map_or(0, |i| i + 1);
    let mut out = b.get(..start).unwrap_or_default().to_vec();
    out.extend_from_slice(b.get(start + len..).unwrap_or_default());
    out
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    inbox: PathBuf,
}

/// A throwaway mbsync configuration: `account` lines for the server, a Maildir in the temp dir.
fn setup(account: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(&mail).expect("maildir root");
    let inbox = mail.join("INBOX");
    let config = dir.path().join("mbsyncrc");
    let text = format!(
        "IMAPAccount test\n{account}\
         User mbuser\nPass {PASS}\n\n\
         IMAPStore remote\nAccount test\n\n\
         MaildirStore local\nPath {mail}/\nInbox {inbox}\nSubFolders Verbatim\n\n\
         Channel sync\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\n\
         Expunge None\nSync All\nSyncState *\n",
        mail = mail.display(),
        inbox = inbox.display(),
    );
    std::fs::write(&config, text).expect("write config");
    Setup { dir, config, inbox }
}

async fn mbsync(s: &Setup) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("mbsync")
            .arg("-c")
            .arg(&s.config)
            .arg("sync")
            // Keep the user's own files out of it.
            .env("HOME", s.dir.path())
            .output(),
    )
    .await
    .expect("mbsync finished in time")
    .expect("mbsync starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "mbsync: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    format!("{stdout}{stderr}")
}

async fn sync_both_ways(services: &Services, user: &User, s: &Setup) {
    let given = messages();
    // 1. Pull: the server's messages arrive, byte-exact after CRLF -> LF, the \Seen one in cur/
    //    with S in its info.
    mbsync(s).await;
    let local = maildir_files(&s.inbox);
    assert_eq!(local.len(), given.len(), "pulled: {local:?}");
    let mut got: Vec<Vec<u8>> = local.iter().map(|(_, b)| without_tuid(b)).collect();
    got.sort();
    let mut want: Vec<Vec<u8>> = given.iter().map(|m| crlf_to_lf(m)).collect();
    want.sort();
    assert!(
        got == want,
        "pulled messages differ:\n{:?}",
        got.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
    );
    let seen_local: Vec<&String> = local
        .iter()
        .filter(|(n, _)| n.rsplit_once(":2,").is_some_and(|(_, f)| f.contains('S')))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(seen_local.len(), 1, "one message was \\Seen: {local:?}");

    // 2. Push: a message written into new/ (LF line ends, as local tools do) reaches the server
    //    with CRLF, otherwise byte-exact; a flag added to a pulled file reaches the server.
    let pushed_lf = b"From: local@example.net\nTo: mbuser@example.com\nSubject: written locally\nMessage-ID: <local-1@example.net>\n\nlocal body \xe2\x9c\x93\n.\n..dots\n".to_vec();
    std::fs::write(
        s.inbox.join("new").join("1700000000.local.host"),
        &pushed_lf,
    )
    .expect("write local message");
    let (flag_name, _) = local
        .iter()
        .find(|(_, b)| b.windows(5).any(|w| w == b"Third"))
        .expect("third message pulled");
    let from = s.inbox.join(flag_name);
    let to = match flag_name.split_once(":2,") {
        Some((base, flags)) => format!("{base}:2,F{flags}"),
        None => format!("{flag_name}:2,F"),
    }
    .replacen("new/", "cur/", 1);
    std::fs::rename(&from, s.inbox.join(&to)).expect("flag locally");
    let before = stored(services, user, "INBOX").await;
    mbsync(s).await;
    let after = stored(services, user, "INBOX").await;
    assert_eq!(after.len(), before.len() + 1, "one message pushed");
    let (_, raw, _) = after.last().expect("pushed message");
    assert!(
        without_tuid(raw) == lf_to_crlf(&pushed_lf),
        "pushed message differs in the store:\n{}",
        String::from_utf8_lossy(raw)
    );
    let third = after
        .iter()
        .find(|(_, b, _)| b.windows(5).any(|w| w == b"Third"))
        .expect("third on the server");
    assert!(
        third.2.iter().any(|f| f == "\\Flagged"),
        "local F flag reached the server: {:?}",
        third.2
    );

    // 3. A second run changes nothing on either side.
    let local_before = maildir_files(&s.inbox);
    let server_before = stored(services, user, "INBOX").await;
    mbsync(s).await;
    assert_eq!(maildir_files(&s.inbox), local_before, "Maildir unchanged");
    assert_eq!(
        stored(services, user, "INBOX").await,
        server_before,
        "server unchanged"
    );
}

async fn seeded(services: &Services) -> User {
    let user = seed(services, "mbuser").await;
    for (i, raw) in messages().iter().enumerate() {
        let flags: &[&str] = if i == 0 { &["\\Seen"] } else { &[] };
        put(services, &user, "INBOX", raw, flags).await;
    }
    user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbsync_syncs_inbox_both_ways_over_plain_imap() {
    require_tool("mbsync", "isync");
    let env = env(Kind::Sqlite).await;
    let user = seeded(&env.services).await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let s = setup(&format!(
        "Host 127.0.0.1\nPort {}\nSSLType None\nAuthMechs LOGIN\n",
        server.addr.port()
    ));
    sync_both_ways(&env.services, &user, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbsync_syncs_inbox_both_ways_over_implicit_tls() {
    require_tool("mbsync", "isync");
    let env = env(Kind::Sqlite).await;
    let user = seeded(&env.services).await;
    let t = tls();
    let server = start(
        &env.services,
        config(),
        TlsMode::Implicit(t.acceptor.clone()),
    )
    .await;
    let ca_dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_dir.path().join("ca.pem");
    std::fs::write(&ca, &t.cert_pem).expect("write ca");
    let s = setup(&format!(
        "Host localhost\nPort {}\nSSLType IMAPS\nCertificateFile {}\n",
        server.addr.port(),
        ca.display()
    ));
    sync_both_ways(&env.services, &user, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbsync_syncs_inbox_both_ways_over_starttls() {
    require_tool("mbsync", "isync");
    let env = env(Kind::Sqlite).await;
    let user = seeded(&env.services).await;
    let t = tls();
    let server = start(
        &env.services,
        config(),
        TlsMode::StartTls(t.acceptor.clone()),
    )
    .await;
    let ca_dir = tempfile::tempdir().expect("tempdir");
    let ca = ca_dir.path().join("ca.pem");
    std::fs::write(&ca, &t.cert_pem).expect("write ca");
    // LOGINDISABLED before the upgrade: mbsync must upgrade before it logs in.
    let s = setup(&format!(
        "Host localhost\nPort {}\nSSLType STARTTLS\nCertificateFile {}\n",
        server.addr.port(),
        ca.display()
    ));
    sync_both_ways(&env.services, &user, &s).await;
}
