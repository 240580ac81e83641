//! POP3 over TLS: implicit TLS (995-style) with SNI, and STLS on a plaintext listener.

mod common;

use std::sync::Arc;

use common::*;
use rustls::pki_types::ServerName;
use wildduck_net::{CertResolver, TlsMode};
use wildduck_pop3::Pop3Config;

struct Tls {
    acceptor: wildduck_net::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
    sni_der: Vec<u8>,
}

fn tls() -> Tls {
    let d = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let s = rcgen::generate_simple_self_signed(vec!["pop.example.test".into()]).unwrap();
    let mut r = CertResolver::from_pem(
        d.cert.pem().as_bytes(),
        d.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    r.add_pem(
        "pop.example.test",
        s.cert.pem().as_bytes(),
        s.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(d.cert.der().clone()).unwrap();
    roots.add(s.cert.der().clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Tls {
        acceptor: r.acceptor().unwrap(),
        connector: tokio_rustls::TlsConnector::from(Arc::new(cfg)),
        sni_der: s.cert.der().to_vec(),
    }
}

async fn caps<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    c: &mut Client<S>,
) -> Vec<String> {
    assert_eq!(c.cmd("CAPA").await, "+OK Capability list follows\r\n");
    String::from_utf8(c.multiline().await)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stls_upgrades_and_unlocks_login() {
    for kind in BOTH {
        let env = env(kind).await;
        let s = &env.services;
        let msgs = fixtures();
        seed(s, USER, &msgs).await;
        let t = tls();
        let server = start(
            s,
            Pop3Config::default(),
            TlsMode::StartTls(t.acceptor.clone()),
        )
        .await;

        let mut c = connect(server.addr).await;
        c.line().await;
        let before = caps(&mut c).await;
        assert!(before.contains(&"STLS".to_string()), "{before:?}");
        assert!(!before.contains(&"USER".to_string()));
        assert!(!before.contains(&"SASL PLAIN".to_string()));
        // No plaintext logins while STLS is offered.
        assert_eq!(
            c.cmd("USER popuser").await,
            "-ERR Command is not valid in this state\r\n"
        );
        assert_eq!(
            c.cmd("AUTH PLAIN").await,
            "-ERR Command is not valid in this state\r\n"
        );
        // A command pipelined after STLS in plaintext is dropped, never executed.
        c.send("STLS\r\nCAPA\r\n").await;
        assert_eq!(c.line().await, "+OK Begin TLS negotiation\r\n");
        let tcp = c.into_inner();
        let stream = t
            .connector
            .connect(ServerName::try_from("pop.example.test").unwrap(), tcp)
            .await
            .expect("handshake");
        assert_eq!(
            stream.get_ref().1.peer_certificates().unwrap()[0].to_vec(),
            t.sni_der
        );
        let mut c = Client::new(stream);
        let after = caps(&mut c).await;
        assert!(!after.contains(&"STLS".to_string()), "{after:?}");
        assert!(after.contains(&"USER".to_string()));
        assert!(after.contains(&"SASL PLAIN".to_string()));
        assert_eq!(
            c.cmd("STLS").await,
            "-ERR Command not permitted when TLS active\r\n"
        );
        login(&mut c, USER).await;
        assert_eq!(
            c.cmd("RETR 2").await,
            format!("+OK {} octets\r\n", msgs[1].len())
        );
        assert_eq!(c.multiline().await, msgs[1]);
        assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
        assert_eq!(c.rest().await, "");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_session() {
    for kind in BOTH {
        let env = env(kind).await;
        let s = &env.services;
        let msgs = fixtures();
        let user = seed(s, USER, &msgs).await;
        let t = tls();
        let server = start(
            s,
            Pop3Config::default(),
            TlsMode::Implicit(t.acceptor.clone()),
        )
        .await;
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let stream = t
            .connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("handshake");
        let mut c = Client::new(stream);
        assert!(c.line().await.starts_with("+OK WildDuck POP3 Server ready"));
        let capa = caps(&mut c).await;
        assert!(!capa.contains(&"STLS".to_string()));
        assert!(capa.contains(&"USER".to_string()));
        use base64::Engine as _;
        let ir = base64::engine::general_purpose::STANDARD.encode("\0popuser\0secretpass");
        assert!(
            c.cmd(&format!("AUTH PLAIN {ir}"))
                .await
                .starts_with("+OK maildrop has 3")
        );
        for (i, m) in msgs.iter().enumerate() {
            c.cmd(&format!("RETR {}", i + 1)).await;
            assert_eq!(c.multiline().await, retr_form(m));
        }
        assert_eq!(c.cmd("DELE 3").await, "+OK message 3 deleted\r\n");
        assert_eq!(c.cmd("QUIT").await, "+OK Bye\r\n");
        let inbox = s.find_mailbox(user.id, "INBOX").await.unwrap();
        let st = s.mailbox_status(user.id, inbox.id).await.unwrap();
        assert_eq!((st.messages, st.unseen), (2, 0));
        // A plaintext client on the TLS port gets nothing sensible and is closed.
        let mut plain = connect(server.addr).await;
        plain.send("CAPA\r\n").await;
        assert!(!plain.rest().await.starts_with("+OK"));
    }
}
