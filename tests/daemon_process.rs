//! The `wildduck` binary as a child process with a temporary config: every listener answers, TLS
//! works with the generated certificate, bad configurations fail naming the key, SIGTERM closes
//! sessions with a goodbye, and `wildduck user add` creates a user the daemon then serves.

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use daemon_support::*;

#[tokio::test]
async fn every_listener_answers_and_tls_uses_the_generated_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(&config(dir.path(), ""));
    let cert = PathBuf::from(d.line("tls: self-signed certificate "));
    assert!(cert.starts_with(dir.path()), "{}", cert.display());
    assert!(d.line("storage: ").starts_with("embedded SQLite at "));
    let tlsc = connector(&cert);

    // POP3: implicit TLS and plaintext with STLS.
    let mut p = tls(&tlsc, d.addr("pop3", "TLS")).await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    let mut pp = plain(d.addr("pop3", "plain+STLS")).await;
    assert!(read_line(&mut pp).await.starts_with("+OK"));
    send(&mut pp, "CAPA\r\n").await;
    let mut caps = Vec::new();
    loop {
        let l = read_line(&mut pp).await;
        if l == ".\r\n" || l.is_empty() {
            break;
        }
        caps.push(l);
    }
    assert!(caps.iter().any(|c| c == "STLS\r\n"), "{caps:?}");

    // IMAP: implicit TLS and plaintext with STARTTLS.
    let mut i = tls(&tlsc, d.addr("imap", "TLS")).await;
    assert!(read_line(&mut i).await.starts_with("* OK"));
    send(&mut i, "a LOGIN nobody wrong-password\r\n").await;
    assert!(read_line(&mut i).await.starts_with("a NO"));
    let mut ip = plain(d.addr("imap", "plain+STARTTLS")).await;
    assert!(read_line(&mut ip).await.starts_with("* OK"));
    send(&mut ip, "a CAPABILITY\r\n").await;
    assert!(read_line(&mut ip).await.contains("STARTTLS"));

    // HTTP: health, a user through the API (the printed hint's route), metrics.
    let api = d.addr("http", "plain");
    let (status, body) = http(api, "GET", "/health", "").await;
    assert!(status.contains(" 200 "), "{status} {body}");
    assert!(body.contains("\"success\":true"), "{body}");
    let hint = d.line("create a first user: ");
    assert!(hint.contains(&format!("http://{api}/users")), "{hint}");
    let (status, body) = http(
        api,
        "POST",
        "/users",
        r#"{"username":"alice","password":"change-me","address":"alice@example.com"}"#,
    )
    .await;
    assert!(status.contains(" 200 "), "{status} {body}");

    // The new user logs in over POP3 with TLS.
    send(&mut p, "USER alice\r\n").await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    send(&mut p, "PASS change-me\r\n").await;
    let l = read_line(&mut p).await;
    assert!(l.starts_with("+OK"), "{l}");
    send(&mut p, "STAT\r\n").await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    send(&mut p, "QUIT\r\n").await;
    assert!(read_line(&mut p).await.starts_with("+OK"));

    // An IMAP session with an APPEND (LITERAL+, so no continuation round trip).
    send(&mut i, "b LOGIN alice change-me\r\n").await;
    loop {
        let l = read_line(&mut i).await;
        assert!(!l.is_empty(), "connection closed during LOGIN");
        if l.starts_with("b ") {
            assert!(l.starts_with("b OK"), "{l}");
            break;
        }
    }
    let msg = "From: a@example.com\r\nSubject: metrics\r\n\r\nhello\r\n";
    send(
        &mut i,
        &format!("c APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()),
    )
    .await;
    loop {
        let l = read_line(&mut i).await;
        assert!(!l.is_empty(), "connection closed during APPEND");
        if l.starts_with("c ") {
            assert!(l.starts_with("c OK"), "{l}");
            break;
        }
    }

    let (status, metrics) = http(api, "GET", "/metrics", "").await;
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        metrics.contains("wildduck_connections_total{protocol=\"pop3\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wildduck_connections_total{protocol=\"imap\"}"),
        "{metrics}"
    );
    // Login outcomes, told by the core's login observer.
    assert!(
        metrics.contains("wildduck_auth_total{protocol=\"pop3\",result=\"success\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wildduck_auth_total{protocol=\"imap\",result=\"failure\"} 1"),
        "{metrics}"
    );

    // Commands per protocol, name and outcome, with latency histograms.
    for series in [
        "wildduck_commands_total{protocol=\"pop3\",command=\"PASS\",outcome=\"ok\"} 1",
        "wildduck_commands_total{protocol=\"pop3\",command=\"STAT\",outcome=\"ok\"} 1",
        "wildduck_commands_total{protocol=\"imap\",command=\"LOGIN\",outcome=\"no\"} 1",
        "wildduck_commands_total{protocol=\"imap\",command=\"APPEND\",outcome=\"ok\"} 1",
        "wildduck_command_duration_seconds_bucket{protocol=\"pop3\",command=\"PASS\",le=\"+Inf\"} 1",
        "wildduck_command_duration_seconds_bucket{protocol=\"imap\",command=\"APPEND\",le=\"+Inf\"} 1",
        "wildduck_appends_total{protocol=\"imap\"} 1",
        "wildduck_api_requests_total{method=\"POST\",route=\"/users\",status=\"200\"} 1",
        "wildduck_session_duration_seconds_bucket{protocol=\"pop3\",le=\"+Inf\"}",
    ] {
        assert!(metrics.contains(series), "{series} missing in\n{metrics}");
    }
    // Bytes on the wire (TLS records included) in both directions for both protocols.
    for name in ["wildduck_bytes_received_total", "wildduck_bytes_sent_total"] {
        for protocol in ["pop3", "imap"] {
            let prefix = format!("{name}{{protocol=\"{protocol}\"}} ");
            let value: u64 = metrics
                .lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            assert!(value > 0, "{prefix} in\n{metrics}");
        }
    }
    // An APPEND moves at least the message over the wire.
    let imap_in: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wildduck_bytes_received_total{protocol=\"imap\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(imap_in > msg.len() as u64, "{imap_in}");

    // JSON logs; lines logged inside a connection carry its session span (id, protocol, peer).
    let logs = std::fs::read_to_string(&d.log).expect("logs");
    let in_session: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"name\":\"session\"") && l.contains("\"protocol\":\"pop3\""))
        .collect();
    assert!(!in_session.is_empty(), "{logs}");
    assert!(
        in_session
            .iter()
            .all(|l| l.starts_with('{') && l.contains("\"id\":\"")),
        "{in_session:?}"
    );

    drop((p, pp, i, ip));
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)), "clean exit");
}

#[tokio::test]
async fn sigterm_says_goodbye_to_open_sessions_and_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start(&config(dir.path(), ""));
    let mut pop = plain(d.addr("pop3", "plain+STLS")).await;
    assert!(read_line(&mut pop).await.starts_with("+OK"));
    let mut imap = plain(d.addr("imap", "plain+STARTTLS")).await;
    assert!(read_line(&mut imap).await.starts_with("* OK"));
    let started = Instant::now();
    d.sigterm();
    let bye = read_line(&mut pop).await;
    assert!(bye.starts_with("-ERR [SYS/TEMP]"), "POP3 goodbye: {bye:?}");
    let bye = read_line(&mut imap).await;
    assert!(bye.starts_with("* BYE"), "IMAP goodbye: {bye:?}");
    // Both sessions are closed by the server.
    assert_eq!(read_line(&mut pop).await, "");
    assert_eq!(read_line(&mut imap).await, "");
    assert!(d.wait(Duration::from_secs(10)), "clean exit");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Runs the daemon expecting a start-up failure; returns stderr.
fn fails(config: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run wildduck");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "should fail: {stderr}");
    // Never half-started: nothing was announced as listening.
    assert!(!stdout.contains("listening:"), "{stdout}");
    stderr
}

#[tokio::test]
async fn invalid_configuration_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = config(dir.path(), "");
    let text = std::fs::read_to_string(&base).expect("read");
    let variant = |name: &str, from: &str, to: &str| -> PathBuf {
        assert!(text.contains(from), "{from}");
        let p = dir.path().join(name);
        std::fs::write(&p, text.replacen(from, to, 1)).expect("write");
        p
    };

    // `check` accepts the good file without starting anything.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&base)
        .arg("check")
        .output()
        .expect("check");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "configuration OK\n");

    let e = fails(
        &variant("unknown.toml", "[pop3]\n", "[pop3]\nprot = 1\n"),
        &[],
    );
    assert!(e.contains("pop3.prot"), "{e}");

    let e = fails(
        &variant(
            "port.toml",
            "[imap]\nhost = \"127.0.0.1\"\nport = 0",
            "[imap]\nhost = \"127.0.0.1\"\nport = 70000",
        ),
        &[],
    );
    assert!(e.contains("imap.port"), "{e}");

    let e = fails(&base, &[("WILDDUCK_POP3__PORT", "\"pop\"")]);
    assert!(e.contains("pop3.port"), "{e}");

    let e = fails(&base, &[("WILDDUCK_POP3__PROT", "1")]);
    assert!(e.contains("WILDDUCK_POP3__PROT"), "{e}");

    let e = fails(
        &variant(
            "cert.toml",
            "[log]\n",
            "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n[log]\n",
        ),
        &[],
    );
    assert!(
        e.contains("tls.cert") && e.contains("/nonexistent/cert.pem"),
        "{e}"
    );

    // A port already taken: the error names the key, and no other listener was left serving.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let e = fails(
        &variant(
            "taken.toml",
            "[pop3]\nhost = \"127.0.0.1\"\nport = 0",
            &format!("[pop3]\nhost = \"127.0.0.1\"\nport = {port}"),
        ),
        &[],
    );
    assert!(e.contains("pop3.port"), "{e}");

    // Unreachable MongoDB: fails within the selection timeout, naming the URL.
    let started = Instant::now();
    let e = fails(
        &variant(
            "mongo.toml",
            "[log]\n",
            "[dbs]\nmongo = \"mongodb://127.0.0.1:9/wd\"\nredis = \"redis://127.0.0.1:9/3\"\n[log]\n",
        ),
        &[],
    );
    assert!(
        e.contains("dbs.mongo") && e.contains("mongodb://127.0.0.1:9/wd"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn user_add_cli_and_the_certificate_kept_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without the API the hint is the CLI.
    let cfg = config(dir.path(), "enabled = false");
    let d = Daemon::start(&cfg);
    let cert = PathBuf::from(d.line("tls: self-signed certificate "));
    let first = std::fs::read(&cert).expect("cert");
    assert!(d.line("create a first user").contains("user add"));
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)));

    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args([
            "user",
            "add",
            "--username",
            "bob",
            "--address",
            "bob@example.com",
        ])
        .env("WILDDUCK_USER_PASSWORD", "hunter22")
        .output()
        .expect("user add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user bob"));

    let d = Daemon::start(&cfg);
    assert_eq!(PathBuf::from(d.line("tls: self-signed certificate ")), cert);
    assert_eq!(
        std::fs::read(&cert).expect("cert"),
        first,
        "certificate kept"
    );
    let mut p = tls(&connector(&cert), d.addr("pop3", "TLS")).await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    send(&mut p, "USER bob\r\nPASS hunter22\r\n").await;
    assert!(read_line(&mut p).await.starts_with("+OK"));
    let l = read_line(&mut p).await;
    assert!(l.starts_with("+OK"), "{l}");
    // A second user add while the daemon holds the embedded database fails clearly.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args([
            "user",
            "add",
            "--username",
            "carol",
            "--password",
            "x1234567",
        ])
        .output()
        .expect("user add");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dataDir"));
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)));
}

#[tokio::test]
async fn configured_certificates_and_sni_replace_the_generated_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write_pair = |name: &str| -> (PathBuf, PathBuf) {
        let pair = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("cert");
        let cert = dir.path().join(format!("{name}.pem"));
        let key = dir.path().join(format!("{name}.key"));
        std::fs::write(&cert, pair.cert.pem()).expect("write cert");
        std::fs::write(&key, pair.signing_key.serialize_pem()).expect("write key");
        (cert, key)
    };
    let (dc, dk) = write_pair("localhost");
    let (sc, sk) = write_pair("mail.example.test");
    let cfg = config(
        dir.path(),
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n[[tls.sni]]\nservername = \"mail.example.test\"\ncert = \"{}\"\nkey = \"{}\"\n",
            dc.display(),
            dk.display(),
            sc.display(),
            sk.display()
        ),
    );
    let d = Daemon::start(&cfg);
    assert!(
        !d.lines.iter().any(|l| l.starts_with("tls: self-signed")),
        "{:?}",
        d.lines
    );
    assert!(!dir.path().join("data/tls").exists(), "nothing generated");
    // The default certificate without SNI match, the SNI one for its name, on both protocols.
    for (proto, greeting) in [("pop3", "+OK"), ("imap", "* OK")] {
        let addr = d.addr(proto, "TLS");
        let mut c = tls_named(&connector(&dc), addr, "localhost").await;
        assert!(read_line(&mut c).await.starts_with(greeting));
        let mut c = tls_named(&connector(&sc), addr, "mail.example.test").await;
        assert!(read_line(&mut c).await.starts_with(greeting));
    }
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)));
}

#[tokio::test]
async fn use_proxy_takes_the_client_address_from_the_proxy_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "");
    let text = std::fs::read_to_string(&cfg).expect("read");
    std::fs::write(
        &cfg,
        text.replacen("[pop3]\n", "[pop3]\nuseProxy = true\n", 1),
    )
    .expect("write");
    let d = Daemon::start(&cfg);
    let addr = d.addr("pop3", "plain+STLS");
    // With a PROXY v1 header (as HAProxy's send-proxy) the session is served…
    let mut c = plain(addr).await;
    send(&mut c, "PROXY TCP4 203.0.113.9 127.0.0.1 40000 995\r\n").await;
    assert!(read_line(&mut c).await.starts_with("+OK"));
    send(&mut c, "QUIT\r\n").await;
    assert!(read_line(&mut c).await.starts_with("+OK"));
    // …without one it is closed.
    let mut c = plain(addr).await;
    send(&mut c, "CAPA\r\n").await;
    assert_eq!(read_line(&mut c).await, "");
    // The session span carries the proxied client's address.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = std::fs::read_to_string(&d.log).expect("logs");
        if logs.contains("203.0.113.9:40000") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no proxied peer in logs:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)));
}

#[tokio::test]
async fn api_over_https_with_the_generated_certificate() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = tempfile::tempdir().expect("tempdir");
    // `[api] secure = true` (WildDuck's `api.secure`): HTTPS with the generated certificate.
    let d = Daemon::start(&config(dir.path(), "secure = true"));
    let cert = PathBuf::from(d.line("tls: self-signed certificate "));
    let api = d.addr("http", "TLS");
    let hint = d.line("create a first user: ");
    assert!(hint.contains(&format!("https://{api}/users")), "{hint}");
    assert!(hint.contains("--cacert "), "{hint}");
    let mut s = tls(&connector(&cert), api).await;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"success\":true"), "{answer}");
    // Plain HTTP on the same port gets no answer (the handshake fails and the socket closes).
    let mut raw = tokio::net::TcpStream::connect(api).await.expect("connect");
    raw.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), raw.read_to_end(&mut got)).await;
    assert!(
        !got.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    d.sigterm();
    assert!(d.wait(Duration::from_secs(10)), "clean exit");
}
