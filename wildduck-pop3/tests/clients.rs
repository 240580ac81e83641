//! Real POP3 clients against the server: python3 poplib, curl, fetchmail (keep and delete
//! modes), mpop and getmail6. Each fetches into a local directory, byte-exact (up to the line
//! endings a client documents converting), and a second run fetches nothing new.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use wildduck_net::TlsMode;
use wildduck_pop3::Pop3Config;
use wildduck_test_support::clients::{crlf_to_lf, require_tool};

async fn run(cmd: &mut tokio::process::Command) -> (String, String) {
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .expect("client finished in time")
        .expect("client started");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{:?}\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// Files in a directory tree, sorted by content (clients name files arbitrarily).
fn files_under(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out.sort();
    out
}

fn expected(msgs: &[Vec<u8>], to_lf: bool) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            if to_lf {
                crlf_to_lf(&retr_form(m))
            } else {
                retr_form(m)
            }
        })
        .collect();
    v.sort();
    v
}

async fn inbox_and_trash(s: &wildduck_core::service::Services) -> (u64, u64, u64) {
    let user = s.resolve_user(USER).await.unwrap();
    let boxes = s.list_mailboxes(user.id, false).await.unwrap();
    let st = |p: &str| boxes.iter().find(|m| m.path == p).unwrap().id;
    let inbox = s.mailbox_status(user.id, st("INBOX")).await.unwrap();
    let trash = s.mailbox_status(user.id, st("Trash")).await.unwrap();
    (inbox.messages, inbox.unseen, trash.messages)
}

const POPLIB: &str = r#"
import os, poplib, sys
host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen = set(os.listdir(out))
p = poplib.POP3(host, port, timeout=20)
caps = p.capa()
assert 'PIPELINING' in caps and 'UIDL' in caps, caps
p.user('popuser'); p.pass_('secretpass')
new = 0
for line in p.uidl()[1]:
    num, uid = line.decode().split()
    if uid in seen:
        continue
    resp, lines, octets = p.retr(int(num))
    data = b'\r\n'.join(lines) + b'\r\n'
    with open(os.path.join(out, uid), 'wb') as f:
        f.write(data)
    new += 1
p.quit()
print(new)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_poplib() {
    require_tool("python3", "python3");
    for kind in BOTH {
        let env = env(kind).await;
        let msgs = fixtures();
        seed(&env.services, USER, &msgs).await;
        let server = start(&env.services, Pop3Config::default(), TlsMode::Plain).await;
        let dir = tempfile::tempdir().unwrap();
        let go = || {
            let mut c = tokio::process::Command::new("python3");
            c.arg("-c")
                .arg(POPLIB)
                .arg("127.0.0.1")
                .arg(server.addr.port().to_string())
                .arg(dir.path());
            c
        };
        let (first, _) = run(&mut go()).await;
        assert_eq!(first.trim(), "3");
        assert_eq!(files_under(dir.path()), expected(&msgs, false));
        let (second, _) = run(&mut go()).await;
        assert_eq!(second.trim(), "0", "second run fetches nothing new");
        // RETR marked them seen at QUIT; nothing deleted.
        assert_eq!(inbox_and_trash(&env.services).await, (3, 0, 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_pop3() {
    require_tool("curl", "curl");
    for kind in BOTH {
        let env = env(kind).await;
        let msgs = fixtures();
        seed(&env.services, USER, &msgs).await;
        let server = start(&env.services, Pop3Config::default(), TlsMode::Plain).await;
        let url = |path: &str| format!("pop3://127.0.0.1:{}/{path}", server.addr.port());
        let (list, _) = run(tokio::process::Command::new("curl").args([
            "-sS",
            "-u",
            "popuser:secretpass",
            &url(""),
        ]))
        .await;
        let want: String = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{} {}\r\n", i + 1, m.len()))
            .collect();
        assert_eq!(list, want);
        for (i, m) in msgs.iter().enumerate() {
            let out = tokio::process::Command::new("curl")
                .args([
                    "-sS",
                    "-u",
                    "popuser:secretpass",
                    &url(&(i + 1).to_string()),
                ])
                .output()
                .await
                .unwrap();
            assert!(out.status.success());
            assert_eq!(out.stdout, retr_form(m), "message {}", i + 1);
        }
        // SASL PLAIN through curl's login options.
        let out = tokio::process::Command::new("curl")
            .args([
                "-sS",
                "-u",
                "popuser:secretpass",
                "--login-options",
                "AUTH=PLAIN",
                &url("2"),
            ])
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, retr_form(&msgs[1]));
        let out = tokio::process::Command::new("curl")
            .args(["-sS", "-u", "popuser:wrong", &url("1")])
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "wrong password refused");
    }
}

fn fetchmailrc(dir: &Path, port: u16, keep: bool, out: &Path) -> PathBuf {
    let rc = dir.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no syslog\nset no bouncemail\n\
             poll 127.0.0.1 service {port} protocol pop3 uidl auth password\n\
             user popuser there with password secretpass is root here\n\
             {keep} no rewrite no stripcr no mimedecode sslproto '' \n\
             mda \"/bin/sh -c 'cat > {out}/msg.$$.$(date +%s%N)'\"\n",
            keep = if keep { "keep" } else { "no keep" },
            out = out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    rc
}

fn fetchmail(home: &Path, rc: &Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("fetchmail");
    c.env("HOME", home)
        .env("FETCHMAILHOME", home)
        .args(["--nodetach", "--invisible", "--idfile"])
        .arg(home.join("fetchids"))
        .arg("-f")
        .arg(rc);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetchmail_keep_and_delete() {
    require_tool("fetchmail", "fetchmail");
    for kind in BOTH {
        let env = env(kind).await;
        let msgs = fixtures();
        seed(&env.services, USER, &msgs).await;
        let server = start(&env.services, Pop3Config::default(), TlsMode::Plain).await;
        let home = tempfile::tempdir().unwrap();
        let out = home.path().join("out");
        std::fs::create_dir(&out).unwrap();

        // Keep mode: everything once, then nothing new (UIDL tracking); nothing deleted.
        let rc = fetchmailrc(home.path(), server.addr.port(), true, &out);
        run(&mut fetchmail(home.path(), &rc)).await;
        // `no stripcr`: fetchmail hands the MDA the exact bytes, CRLF included.
        assert_eq!(files_under(&out), expected(&msgs, false));
        run(&mut fetchmail(home.path(), &rc)).await;
        assert_eq!(files_under(&out).len(), 3, "second run fetched nothing new");
        // In keep mode fetchmail downloads with `TOP n 99999999` so the server does not mark
        // anything seen; TOP must not set \Seen.
        assert_eq!(inbox_and_trash(&env.services).await, (3, 3, 0));

        // Delete mode: a new message arrives; fetchmail fetches it and deletes what it fetched
        // (the others were fetched before and are left alone); DELE moves it to Trash.
        let extra = b"Subject: late\r\nMessage-ID: <late@x>\r\n\r\nlate\r\n".to_vec();
        let user = env.services.resolve_user(USER).await.unwrap();
        let inbox = env.services.find_mailbox(user.id, "INBOX").await.unwrap();
        env.services
            .append(
                user.id,
                inbox.id,
                wildduck_core::service::messages::AppendRequest {
                    raw: &extra,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let rc = fetchmailrc(home.path(), server.addr.port(), false, &out);
        run(&mut fetchmail(home.path(), &rc)).await;
        let mut all = msgs.clone();
        all.push(extra);
        assert_eq!(files_under(&out), expected(&all, false));
        let (inbox_n, _, trash_n) = inbox_and_trash(&env.services).await;
        assert_eq!((inbox_n, trash_n), (3, 1));
        run(&mut fetchmail(home.path(), &rc)).await;
        assert_eq!(files_under(&out).len(), 4, "nothing left to fetch");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mpop_pipelined_fetch() {
    require_tool("mpop", "mpop");
    for kind in BOTH {
        let env = env(kind).await;
        let msgs = fixtures();
        seed(&env.services, USER, &msgs).await;
        let server = start(&env.services, Pop3Config::default(), TlsMode::Plain).await;
        let home = tempfile::tempdir().unwrap();
        let maildir = home.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let rc = home.path().join("mpoprc");
        std::fs::write(
            &rc,
            format!(
                "defaults\nhost 127.0.0.1\nport {port}\ntls off\nauth user\nuser popuser\n\
                 password secretpass\nkeep on\nreceived_header off\npipelining on\n\
                 uidls_file {uidls}\ndelivery maildir {md}\naccount default\n",
                port = server.addr.port(),
                uidls = home.path().join("uidls").display(),
                md = maildir.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
        let go = || {
            let mut c = tokio::process::Command::new("mpop");
            c.env("HOME", home.path()).arg("-C").arg(&rc).arg("-q");
            c
        };
        run(&mut go()).await;
        assert_eq!(files_under(&maildir), expected(&msgs, true));
        run(&mut go()).await;
        assert_eq!(
            files_under(&maildir).len(),
            3,
            "second run fetched nothing new"
        );
        // With `keep on` nothing was deleted; mpop does not RETR twice.
        assert_eq!(inbox_and_trash(&env.services).await, (3, 0, 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getmail6_maildir() {
    require_tool("getmail", "getmail6");
    for kind in BOTH {
        let env = env(kind).await;
        let msgs = fixtures();
        seed(&env.services, USER, &msgs).await;
        let server = start(&env.services, Pop3Config::default(), TlsMode::Plain).await;
        let home = tempfile::tempdir().unwrap();
        let maildir = home.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        // getmail refuses to deliver as root: the maildir is written as `nobody`.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for d in [
            maildir.clone(),
            maildir.join("cur"),
            maildir.join("new"),
            maildir.join("tmp"),
        ] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let rc = home.path().join("getmailrc");
        std::fs::write(
            &rc,
            format!(
                "[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = {port}\n\
                 username = popuser\npassword = secretpass\n\n\
                 [destination]\ntype = Maildir\npath = {md}/\nuser = nobody\n\n\
                 [options]\nread_all = false\ndelete = false\nreceived = false\n\
                 delivered_to = false\nmessage_log_syslog = false\nverbose = 1\n",
                port = server.addr.port(),
                md = maildir.display()
            ),
        )
        .unwrap();
        let go = || {
            let mut c = tokio::process::Command::new("getmail");
            c.env("HOME", home.path())
                .arg("--getmaildir")
                .arg(home.path())
                .arg("--rcfile")
                .arg(&rc);
            c
        };
        let (o, _) = run(&mut go()).await;
        assert!(o.contains("3 messages"), "{o}");
        // getmail writes LF line endings and always prepends its own Return-Path line.
        let mut got: Vec<Vec<u8>> = files_under(&maildir)
            .into_iter()
            .map(
                |f| match f.strip_prefix(b"Return-Path: <unknown>\n".as_slice()) {
                    Some(rest) => rest.to_vec(),
                    None => f,
                },
            )
            .collect();
        got.sort();
        assert_eq!(got, expected(&msgs, true));
        let (o, _) = run(&mut go()).await;
        assert!(o.contains("0 messages"), "{o}");
        assert_eq!(
            files_under(&maildir).len(),
            3,
            "second run fetched nothing new"
        );
    }
}
