//! Two `wildduck` daemons on one MongoDB + Redis behave as one system: a user created through one
//! instance's API logs in over the other's POP3 and IMAP. An unreachable Redis fails the start-up
//! naming `dbs.redis`.

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use daemon_support::*;

/// The test server's URL with `db` as the database (the URL's path).
fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let base = base.trim_end_matches('/');
    if query.is_empty() {
        format!("{base}/{db}")
    } else {
        format!("{base}/{db}?{query}")
    }
}

fn scale_out_config(dir: &Path, mongo: &str, redis: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    config(
        dir,
        &format!("[dbs]\nmongo = \"{mongo}\"\nredis = \"{redis}\"\n"),
    )
}

#[tokio::test]
async fn two_daemons_on_one_mongodb_and_redis_are_one_system() {
    let mongo = with_db(
        &wildduck_test_support::mongodb_url().await,
        &wildduck_test_support::unique_db_name(),
    );
    let redis = wildduck_test_support::redis_url().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Daemon::start(&scale_out_config(&dir.path().join("a"), &mongo, &redis));
    let b = Daemon::start(&scale_out_config(&dir.path().join("b"), &mongo, &redis));
    for d in [&a, &b] {
        let storage = d.line("storage: ");
        assert!(
            storage.starts_with("MongoDB ") && storage.contains("+ Redis"),
            "{storage}"
        );
        // On MongoDB the CLI works beside a running daemon, so the hint may name either.
        assert!(d.line("create a first user: ").contains("/users"));
    }

    let (status, body) = http(
        a.addr("http", "plain"),
        "POST",
        "/users",
        r#"{"username":"dave","password":"pass-dave","address":"dave@example.com"}"#,
    )
    .await;
    assert!(status.contains(" 200 "), "{status} {body}");

    // Logins go over TLS (the plaintext listeners offer STARTTLS/STLS and refuse plaintext logins).
    let cert = PathBuf::from(b.line("tls: self-signed certificate "));
    let tlsc = connector(&cert);
    let mut p = tls(&tlsc, b.addr("pop3", "TLS")).await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    send(&mut p, "USER dave\r\nPASS pass-dave\r\nSTAT\r\n").await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    let l = read_line(&mut p).await;
    assert!(
        l.starts_with("+OK"),
        "login on B of a user made through A: {l}"
    );
    assert_eq!(read_line(&mut p).await, "+OK 0 0\r\n");

    let mut i = tls(&tlsc, b.addr("imap", "TLS")).await;
    assert!(read_line(&mut i).await.starts_with("* OK"));
    send(&mut i, "a LOGIN dave pass-dave\r\n").await;
    let mut l = read_line(&mut i).await;
    while l.starts_with('*') {
        l = read_line(&mut i).await;
    }
    assert!(l.starts_with("a OK"), "{l}");
    drop((p, i));
    for d in [a, b] {
        d.sigterm();
        assert!(d.wait(Duration::from_secs(10)), "clean exit");
    }
}

#[tokio::test]
async fn unreachable_redis_fails_naming_dbs_redis() {
    let mongo = with_db(
        &wildduck_test_support::mongodb_url().await,
        &wildduck_test_support::unique_db_name(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = scale_out_config(dir.path(), &mongo, "redis://127.0.0.1:9/3");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("dbs.redis") && stderr.contains("redis://127.0.0.1:9/3"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening:"));
}
