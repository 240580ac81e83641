//! Memory per idle session (issue 4: ≤ 4 KiB plain with LOGIN + SELECT + IDLE): the session's
//! future must not keep copies of its connection or a TLS handshake's state for its whole life.
//! The RSS figures come from `examples/idle_memory.rs`; this guards the largest part of them, the
//! size of the future a session task runs.

use std::time::Duration;

use wildduck_core::service::{ServiceConfig, Services};
use wildduck_imap::net::{ConnInfo, Connection, MeteredTcp, ShutdownSignal, Stream};
use wildduck_imap::{ImapConfig, ImapServer};

#[tokio::test]
async fn session_future_stays_small() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = wildduck_core::store::sqlite::SqliteStore::open(dir.path().join("m.db"))
        .await
        .expect("store");
    let services = Services::new(store.backend(), None, ServiceConfig::default());
    let server = ImapServer::new(services, ImapConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (tcp, peer) = listener.accept().await.expect("accept");
    let conn = Connection {
        stream: Stream::Plain(MeteredTcp::new(tcp)),
        info: ConnInfo {
            id: wildduck_imap::net::session_id(),
            peer,
            local: addr,
            proxied: false,
        },
        shutdown: ShutdownSignal::never(),
        starttls: None,
        idle_timeout: Duration::from_secs(60),
        handshake_timeout: Duration::from_secs(10),
    };
    let session = server.handle(conn);
    let size = std::mem::size_of_val(&session);
    // About 1.2 KiB now (the transport, the session state and the read wait). Before the
    // connection was held once (an `async fn` per level, each with its own copy of the 216-byte
    // `Connection`) and IDLE moved into the loop, `session::run`'s future alone was 1.9 KiB and
    // `handle`'s 2.3 KiB.
    assert!(size <= 1536, "session future is {size} bytes");
    drop(session);
    drop(client);
}
