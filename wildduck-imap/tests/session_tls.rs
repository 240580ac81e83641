//! STARTTLS (LOGINDISABLED before it, plaintext pipelined after it dropped), implicit TLS, and
//! COMPRESS=DEFLATE over real sockets.

mod session_common;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use rustls::pki_types::ServerName;
use session_common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wildduck_imap::net::TlsMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_upgrades_and_unlocks_login() {
    for kind in BOTH {
        let env = env(kind).await;
        let name = if kind == Kind::Sqlite { "tls1" } else { "tls2" };
        seed(&env.services, name).await;
        let t = tls();
        let server = start(
            &env.services,
            config(),
            TlsMode::StartTls(t.acceptor.clone()),
        )
        .await;
        let mut c = connect_greeted(server.addr).await;
        let r = c.cmd("a1", "CAPABILITY").await;
        assert!(r[0].contains(" LOGINDISABLED "), "{r:?}");
        assert!(r[0].contains(" STARTTLS"), "{r:?}");
        let r = c.cmd("a2", &format!("LOGIN {name} {PASS}")).await;
        assert_eq!(r, ["a2 BAD Run STARTTLS first\r\n"]);
        let r = c.cmd("a3", "AUTHENTICATE PLAIN AGZvbwBiYXI=").await;
        assert_eq!(r, ["a3 BAD Run STARTTLS first\r\n"]);
        // A command pipelined in plaintext after STARTTLS must be dropped.
        c.send(b"a4 STARTTLS\r\na5 NOOP\r\n").await;
        assert_eq!(c.line().await, "a4 OK Begin TLS negotiation now\r\n");
        let tcp = c.into_inner();
        let tls = t
            .connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("handshake");
        let mut c = Client::new(tls);
        let r = c.cmd("b1", "CAPABILITY").await;
        assert!(!r[0].contains("STARTTLS"), "{r:?}");
        assert!(!r[0].contains("LOGINDISABLED"), "{r:?}");
        assert_eq!(r[1], "b1 OK CAPABILITY completed\r\n");
        let r = c.cmd("b2", "STARTTLS").await;
        assert_eq!(r, ["b2 NO Connection is already secured\r\n"]);
        c.login(name).await;
        let r = c.cmd("b3", "LIST \"\" INBOX").await;
        assert_eq!(tagged(&r), "b3 OK LIST completed\r\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_starttls_allows_plaintext_login() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "plainok").await;
    let t = tls();
    let cfg = wildduck_imap::ImapConfig {
        ignore_starttls: true,
        ..config()
    };
    let server = start(&env.services, cfg, TlsMode::StartTls(t.acceptor.clone())).await;
    let mut c = connect_greeted(server.addr).await;
    let r = c.cmd("a1", "CAPABILITY").await;
    assert!(r[0].contains(" STARTTLS"), "{r:?}");
    assert!(!r[0].contains("LOGINDISABLED"), "{r:?}");
    c.login("plainok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "secure").await;
    let t = tls();
    let server = start(
        &env.services,
        config(),
        TlsMode::Implicit(t.acceptor.clone()),
    )
    .await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let tls = t
        .connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("handshake");
    let mut c = Client::new(tls);
    assert!(
        c.line()
            .await
            .starts_with("* OK WildDuck IMAP Server ready")
    );
    let r = c.cmd("a1", "CAPABILITY").await;
    assert!(!r[0].contains("STARTTLS"), "{r:?}");
    assert!(r[0].contains("AUTH=PLAIN"), "{r:?}");
    c.login("secure").await;
    // A large APPEND over TLS (several TLS records, streamed literal).
    let body = "x".repeat(100) + "\r\n";
    let msg = format!("Subject: big\r\n\r\n{}", body.repeat(3000));
    c.send(format!("a2 APPEND INBOX {{{}}}\r\n", msg.len()).as_bytes())
        .await;
    assert_eq!(c.line().await, "+ Go ahead\r\n");
    c.send(msg.as_bytes()).await;
    c.send(b"\r\n").await;
    let r = c.until_tagged("a2").await;
    assert!(r[0].contains("[APPENDUID "), "{r:?}");
    let r = c.cmd("a3", "STATUS INBOX (MESSAGES)").await;
    assert_eq!(r[0], "* STATUS \"INBOX\" (MESSAGES 1)\r\n");
}

/// A client-side raw deflate pair.
struct Z {
    c: Compress,
    d: Decompress,
}

impl Z {
    fn pack(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        self.c
            .compress_vec(data, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    }
    fn unpack(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() * 8 + 1024);
        self.d
            .decompress_vec(data, &mut out, FlushDecompress::Sync)
            .unwrap();
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compress_deflate() {
    let env = env(Kind::Sqlite).await;
    seed(&env.services, "zipper").await;
    let cfg = wildduck_imap::ImapConfig {
        enable_compression: true,
        max_inflate_bytes: 64 * 1024,
        ..config()
    };
    let server = start(&env.services, cfg, TlsMode::Plain).await;
    let mut c = connect_greeted(server.addr).await;
    let r = c.cmd("a0", "CAPABILITY").await;
    assert!(!r[0].contains("COMPRESS"), "not before login: {r:?}");
    c.login("zipper").await;
    let r = c.cmd("a1", "CAPABILITY").await;
    assert!(r[0].contains(" COMPRESS=DEFLATE "), "{r:?}");
    let r = c.cmd("a2", "COMPRESS GZIP").await;
    assert_eq!(r, ["a2 BAD [CANNOT] Unsupported compression mechanism\r\n"]);
    let r = c.cmd("a3", "COMPRESS DEFLATE").await;
    assert_eq!(r, ["a3 OK DEFLATE active\r\n"]);
    let mut tcp = c.into_inner();
    let mut z = Z {
        c: Compress::new(Compression::default(), false),
        d: Decompress::new(false),
    };
    let mut plain = Vec::new();
    async fn read_until(
        tcp: &mut tokio::net::TcpStream,
        z: &mut Z,
        plain: &mut Vec<u8>,
        tag: &str,
    ) -> String {
        loop {
            let text = String::from_utf8_lossy(plain).into_owned();
            if let Some(i) = text.find(&format!("{tag} "))
                && text[i..].contains("\r\n")
            {
                plain.clear();
                return text;
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut buf))
                .await
                .expect("answer")
                .unwrap();
            assert!(n > 0, "closed; got {text:?}");
            plain.extend(z.unpack(&buf[..n]));
        }
    }
    let packed = z.pack(b"b1 LIST \"\" \"*\"\r\n");
    tcp.write_all(&packed).await.unwrap();
    let text = read_until(&mut tcp, &mut z, &mut plain, "b1").await;
    assert!(
        text.contains("* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"),
        "{text}"
    );
    assert!(text.ends_with("b1 OK LIST completed\r\n"), "{text}");
    let packed = z.pack(b"b2 COMPRESS DEFLATE\r\n");
    tcp.write_all(&packed).await.unwrap();
    let text = read_until(&mut tcp, &mut z, &mut plain, "b2").await;
    assert_eq!(text, "b2 NO [COMPRESSIONACTIVE] DEFLATE active\r\n");
    // A command that inflates beyond the cap closes the connection.
    let bomb = format!("b3 NOOP {}", "a".repeat(200 * 1024));
    let packed = z.pack(bomb.as_bytes());
    assert!(packed.len() < 4096);
    tcp.write_all(&packed).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut rest),
    )
    .await
    .expect("closed in time");
    let text = String::from_utf8_lossy(&z.unpack(&rest)).into_owned();
    assert!(text.contains("* BYE"), "{text:?}");
}

/// As WildDuck's imap-core: a connection upgraded with STARTTLS gets its own inactivity timeout
/// (30 min by default) instead of the plain socket's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_gets_its_own_socket_timeout() {
    let env = env(Kind::Sqlite).await;
    let t = tls();
    let cfg = wildduck_imap::ImapConfig {
        socket_timeout: std::time::Duration::from_millis(300),
        starttls_socket_timeout: std::time::Duration::from_millis(1500),
        ..config()
    };
    let server = start(&env.services, cfg, TlsMode::StartTls(t.acceptor.clone())).await;
    // Plaintext: the short timeout.
    let mut plain = connect_greeted(server.addr).await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(
        plain.line().await,
        "* BYE Idle timeout, closing connection\r\n"
    );
    // Upgraded: still there after the plain timeout, closed after its own.
    let mut c = connect_greeted(server.addr).await;
    let r = c.cmd("a1", "STARTTLS").await;
    assert_eq!(r, ["a1 OK Begin TLS negotiation now\r\n"]);
    let tls = t
        .connector
        .connect(ServerName::try_from("localhost").unwrap(), c.into_inner())
        .await
        .expect("handshake");
    let mut c = Client::new(tls);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let r = c.cmd("b1", "NOOP").await;
    assert_eq!(tagged(&r), "b1 OK Nothing done\r\n");
    let started = std::time::Instant::now();
    assert_eq!(c.line().await, "* BYE Idle timeout, closing connection\r\n");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1200));
}
