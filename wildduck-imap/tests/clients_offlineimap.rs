//! A real client: `offlineimap` (Debian's offlineimap3) syncing the server's INBOX with a local
//! Maildir in both directions over plain IMAP and implicit TLS. Pulled messages arrive
//! byte-exact (offlineimap writes Maildir files with LF line ends, so the comparison is after
//! that one conversion), a message added to the Maildir is found in the store byte-exact with
//! CRLF, and a second run changes nothing on either side.

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
        b"From: Carol <carol@example.com>\r\nTo: offuser@example.com\r\nSubject: First for offlineimap\r\nDate: Wed, 04 Jun 2025 08:00:00 +0000\r\nMessage-ID: <off-1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln.\r\n  indented line\r\n".to_vec(),
        b"From: alice@example.org\r\nTo: offuser@example.com\r\nSubject: Report with attachment\r\nMessage-ID: <off-2@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b1\r\nContent-Type: application/octet-stream; name=report.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n--b1--\r\n".to_vec(),
        b"From: dave@example.com\r\nTo: offuser@example.com\r\nSubject: Third\r\nMessage-ID: <off-3@example.com>\r\n\r\nthird body\r\n\r\n".to_vec(),
    ]
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    inbox: PathBuf,
}

/// A throwaway offlineimap configuration: `remote` lines for the server, a Maildir and the
/// metadata directory in the temp dir.
fn setup(remote: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(&mail).expect("maildir root");
    let config = dir.path().join("offlineimaprc");
    let text = format!(
        "[general]\naccounts = test\nmetadata = {meta}\n\n\
         [Account test]\nlocalrepository = local\nremoterepository = remote\n\n\
         [Repository local]\ntype = Maildir\nlocalfolders = {mail}\n\n\
         [Repository remote]\ntype = IMAP\n{remote}\
         remoteuser = offuser\nremotepass = {PASS}\n\
         folderfilter = lambda name: name == 'INBOX'\n",
        meta = dir.path().join("meta").display(),
        mail = mail.display(),
    );
    std::fs::write(&config, text).expect("write config");
    let inbox = mail.join("INBOX");
    Setup { dir, config, inbox }
}

async fn offlineimap(s: &Setup) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new("offlineimap")
            .arg("-c")
            .arg(&s.config)
            .args(["-o", "-u", "basic"])
            // Keep the user's own files out of it.
            .env("HOME", s.dir.path())
            .output(),
    )
    .await
    .expect("offlineimap finished in time")
    .expect("offlineimap starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let all = format!("{stdout}{stderr}");
    // offlineimap reports some failures only in its output.
    assert!(
        out.status.success() && !all.contains("ERROR"),
        "offlineimap: {:?}\n{all}",
        out.status
    );
    all
}

async fn sync_both_ways(services: &Services, user: &User, s: &Setup) {
    let given = messages();
    // 1. Pull: the server's messages arrive byte-exact after CRLF -> LF.
    offlineimap(s).await;
    let local = maildir_files(&s.inbox);
    assert_eq!(local.len(), given.len(), "pulled: {local:?}");
    let mut got: Vec<Vec<u8>> = local.iter().map(|(_, b)| b.clone()).collect();
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
    let seen_local = local
        .iter()
        .filter(|(n, _)| n.rsplit_once(":2,").is_some_and(|(_, f)| f.contains('S')))
        .count();
    assert_eq!(seen_local, 1, "one message was \\Seen: {local:?}");

    // 2. Push: a message written into new/ reaches the server with CRLF.
    let pushed_lf = b"From: local@example.net\nTo: offuser@example.com\nSubject: written locally\nMessage-ID: <local-2@example.net>\n\nlocal body \xe2\x9c\x93\n.\n..dots\n".to_vec();
    std::fs::write(
        s.inbox.join("new").join("1700000000.local.host"),
        &pushed_lf,
    )
    .expect("write local message");
    let before = stored(services, user, "INBOX").await;
    offlineimap(s).await;
    let after = stored(services, user, "INBOX").await;
    assert_eq!(after.len(), before.len() + 1, "one message pushed");
    let (_, raw, _) = after.last().expect("pushed message");
    assert!(
        *raw == lf_to_crlf(&pushed_lf),
        "pushed message differs in the store:\n{}",
        String::from_utf8_lossy(raw)
    );

    // 3. A second run changes nothing on either side.
    let local_before = maildir_files(&s.inbox);
    let server_before = stored(services, user, "INBOX").await;
    offlineimap(s).await;
    assert_eq!(maildir_files(&s.inbox), local_before, "Maildir unchanged");
    assert_eq!(
        stored(services, user, "INBOX").await,
        server_before,
        "server unchanged"
    );
}

async fn seeded(services: &Services) -> User {
    let user = seed(services, "offuser").await;
    for (i, raw) in messages().iter().enumerate() {
        let flags: &[&str] = if i == 0 { &["\\Seen"] } else { &[] };
        put(services, &user, "INBOX", raw, flags).await;
    }
    user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offlineimap_syncs_inbox_both_ways_over_plain_imap() {
    require_tool("offlineimap", "offlineimap3");
    let env = env(Kind::Sqlite).await;
    let user = seeded(&env.services).await;
    let server = start(&env.services, config(), TlsMode::Plain).await;
    let s = setup(&format!(
        "remotehost = 127.0.0.1\nremoteport = {}\nssl = no\nstarttls = no\n",
        server.addr.port()
    ));
    sync_both_ways(&env.services, &user, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offlineimap_syncs_inbox_both_ways_over_implicit_tls() {
    require_tool("offlineimap", "offlineimap3");
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
    // Verified against the test CA under the certificate's name.
    let s = setup(&format!(
        "remotehost = localhost\nremoteport = {}\nssl = yes\nsslcacertfile = {}\n",
        server.addr.port(),
        ca.display()
    ));
    sync_both_ways(&env.services, &user, &s).await;
}
