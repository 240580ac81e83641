//! The listener over real sockets: implicit TLS with SNI, STARTTLS, PROXY headers, shutdown.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wildduck_net::{CertResolver, Listener, ListenerConfig, Shutdown, TlsMode, serve};

struct Certs {
    resolver: CertResolver,
    roots: rustls::RootCertStore,
    default_der: Vec<u8>,
    sni_der: Vec<u8>,
}

fn certs() -> Certs {
    let d = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let s = rcgen::generate_simple_self_signed(vec!["mail.example.test".into()]).expect("cert");
    let mut resolver = CertResolver::from_pem(
        d.cert.pem().as_bytes(),
        d.signing_key.serialize_pem().as_bytes(),
    )
    .expect("default");
    resolver
        .add_pem(
            "mail.example.test",
            s.cert.pem().as_bytes(),
            s.signing_key.serialize_pem().as_bytes(),
        )
        .expect("sni");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(d.cert.der().clone()).expect("root");
    roots.add(s.cert.der().clone()).expect("root");
    Certs {
        resolver,
        roots,
        default_der: d.cert.der().to_vec(),
        sni_der: s.cert.der().to_vec(),
    }
}

fn connector(roots: rustls::RootCertStore) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// An echo-the-id server: writes "<id> <peer> <tls> <sni>\r\n", then waits for shutdown and says bye.
async fn start(
    config: ListenerConfig,
) -> (std::net::SocketAddr, Shutdown, tokio::task::JoinHandle<()>) {
    let listener = Listener::bind(config).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let signal = shutdown.signal();
    let task = tokio::spawn(async move {
        serve(listener, signal, |mut conn| async move {
            let line = format!(
                "{} {} {} {}\r\n",
                conn.info.id,
                conn.info.peer,
                conn.stream.is_tls(),
                conn.stream.servername().unwrap_or("-")
            );
            let _ = conn.stream.write_all(line.as_bytes()).await;
            if conn.starttls.is_some() {
                let mut b = [0u8; 5];
                if conn.stream.read_exact(&mut b).await.is_ok() && &b == b"STLS\n" {
                    let _ = conn.stream.write_all(b"+OK go\r\n").await;
                    match conn.starttls().await {
                        Ok(c) => conn = c,
                        Err(_) => return,
                    }
                    let _ = conn.stream.write_all(b"secure\r\n").await;
                }
            }
            conn.shutdown.wait().await;
            let _ = conn.stream.write_all(b"bye\r\n").await;
            let _ = conn.stream.shutdown().await;
        })
        .await
        .expect("serve");
    });
    (addr, shutdown, task)
}

async fn read_line<R: AsyncReadExt + Unpin>(r: &mut R) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while r.read(&mut b).await.expect("read") == 1 {
        out.push(b[0]);
        if b[0] == b'\n' {
            break;
        }
    }
    String::from_utf8(out).expect("utf8")
}

#[tokio::test]
async fn implicit_tls_serves_the_sni_certificate_and_drains_on_shutdown() {
    let c = certs();
    let mut cfg = ListenerConfig::plain("127.0.0.1:0".parse().unwrap());
    cfg.tls = TlsMode::Implicit(c.resolver.acceptor().expect("acceptor"));
    let (addr, shutdown, task) = start(cfg).await;
    let conn = connector(c.roots);
    for (name, want) in [
        ("mail.example.test", &c.sni_der),
        ("localhost", &c.default_der),
    ] {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut tls = conn
            .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
            .await
            .expect("handshake");
        let served = tls.get_ref().1.peer_certificates().expect("certs")[0].to_vec();
        assert_eq!(&served, want, "certificate for {name}");
        let line = read_line(&mut tls).await;
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts.len(), 4, "{line}");
        assert_eq!(parts[0].len(), 16);
        assert_eq!(parts[2], "true");
        assert_eq!(parts[3], name);
        if name == "localhost" {
            // The session is waiting; shutdown makes it say goodbye and the server returns.
            shutdown.trigger();
            assert_eq!(read_line(&mut tls).await, "bye\r\n");
        }
    }
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("drained")
        .expect("join");
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn starttls_upgrades_the_stream_in_place() {
    let c = certs();
    let mut cfg = ListenerConfig::plain("127.0.0.1:0".parse().unwrap());
    cfg.tls = TlsMode::StartTls(c.resolver.acceptor().expect("acceptor"));
    let (addr, shutdown, task) = start(cfg).await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let greeting = read_line(&mut tcp).await;
    assert!(greeting.contains(" false -"), "{greeting}");
    tcp.write_all(b"STLS\n").await.expect("write");
    assert_eq!(read_line(&mut tcp).await, "+OK go\r\n");
    let mut tls = connector(c.roots)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("handshake");
    assert_eq!(read_line(&mut tls).await, "secure\r\n");
    shutdown.trigger();
    assert_eq!(read_line(&mut tls).await, "bye\r\n");
    task.await.expect("join");
}

#[tokio::test]
async fn proxy_header_sets_the_peer_and_a_bad_one_closes() {
    let mut cfg = ListenerConfig::plain("127.0.0.1:0".parse().unwrap());
    cfg.proxy_protocol = true;
    cfg.handshake_timeout = Duration::from_millis(500);
    let (addr, shutdown, task) = start(cfg).await;

    let mut ok = TcpStream::connect(addr).await.expect("connect");
    ok.write_all(b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 110\r\n")
        .await
        .expect("write");
    let line = read_line(&mut ok).await;
    assert!(line.contains(" 203.0.113.7:40000 false"), "{line}");

    let mut unknown = TcpStream::connect(addr).await.expect("connect");
    unknown
        .write_all(b"PROXY UNKNOWN\r\n")
        .await
        .expect("write");
    assert!(read_line(&mut unknown).await.contains(" 127.0.0.1:"));

    for bad in [&b"USER bob\r\n"[..], b"PROXY TCP4 1.2.3.4\r\n"] {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(bad).await.expect("write");
        let mut buf = Vec::new();
        let n = s.read_to_end(&mut buf).await.unwrap_or(0);
        assert_eq!(n, 0, "closed without a greeting");
    }
    // Silence until the handshake timeout also closes.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(3), silent.read_to_end(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");

    shutdown.trigger();
    assert_eq!(read_line(&mut ok).await, "bye\r\n");
    task.await.expect("join");
}

#[tokio::test]
async fn sessions_that_ignore_shutdown_are_aborted_after_the_drain_timeout() {
    let listener = Listener::bind(ListenerConfig {
        drain_timeout: Duration::from_millis(200),
        ..ListenerConfig::plain("127.0.0.1:0".parse().unwrap())
    })
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let task = tokio::spawn(serve(listener, shutdown.signal(), |mut conn| async move {
        let _ = conn.stream.write_all(b"hi\r\n").await;
        // Ignores the signal on purpose.
        tokio::time::sleep(Duration::from_secs(600)).await;
    }));
    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(read_line(&mut s).await, "hi\r\n");
    let started = std::time::Instant::now();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("returns")
        .expect("join")
        .expect("serve");
    assert!(started.elapsed() < Duration::from_secs(3));
    let mut buf = Vec::new();
    assert_eq!(
        s.read_to_end(&mut buf).await.unwrap_or(0),
        0,
        "aborted session closed its socket"
    );
}
