//! Application-specific passwords used by protocol clients over real sockets (SQLite): a
//! password created through the HTTP API logs in over IMAP and POP3 for the scopes it has, is
//! refused for the others, and every attempt shows up in the API's authentication log.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_imap::net::{Listener, ListenerConfig, Shutdown};
use wildduck_imap::{ImapConfig, ImapServer};
use wildduck_pop3::{Pop3Config, Pop3Server};

/// Sends `line` (when not empty) and returns the next reply line.
async fn say(r: &mut BufReader<TcpStream>, line: &str) -> String {
    if !line.is_empty() {
        r.get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
    }
    let mut l = String::new();
    tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut l))
        .await
        .expect("timely")
        .expect("read");
    l
}

/// Sends an IMAP command and returns its tagged reply (untagged lines skipped).
async fn tagged(r: &mut BufReader<TcpStream>, tag: &str, line: &str) -> String {
    let mut reply = say(r, line).await;
    while !reply.starts_with(&format!("{tag} ")) {
        assert!(!reply.is_empty(), "connection closed");
        reply = say(r, "").await;
    }
    reply
}

async fn connect(addr: std::net::SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).await.expect("connect"))
}

#[tokio::test]
async fn asp_logs_in_over_imap_and_pop3_for_its_scopes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = wildduck_core::store::sqlite::SqliteStore::open(dir.path().join("mail.db"))
        .await
        .expect("sqlite");
    let services = Services::new(
        store.backend(),
        None,
        ServiceConfig {
            bcrypt_cost: 4,
            ..Default::default()
        },
    );
    let user = services
        .create_user(NewUser {
            username: "mobile".into(),
            password: Some("secretpass".into()),
            address: Some("mobile@example.com".into()),
            ..Default::default()
        })
        .await
        .expect("user");

    let shutdown = Shutdown::new();
    let imap = Listener::bind(ListenerConfig::plain("127.0.0.1:0".parse().expect("addr")))
        .await
        .expect("bind");
    let imap_addr = imap.local_addr().expect("addr");
    tokio::spawn(
        ImapServer::new(services.clone(), ImapConfig::default()).serve(imap, shutdown.signal()),
    );
    let pop3 = Listener::bind(ListenerConfig::plain("127.0.0.1:0".parse().expect("addr")))
        .await
        .expect("bind");
    let pop3_addr = pop3.local_addr().expect("addr");
    tokio::spawn(
        Pop3Server::new(services.clone(), Pop3Config::default()).serve(pop3, shutdown.signal()),
    );
    let app = wildduck_api::router(wildduck_api::ApiState::new(
        services.clone(),
        wildduck_api::ApiConfig::default(),
    ));
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!(
        "http://{}/users/{}",
        http.local_addr().expect("addr"),
        user.id
    );
    tokio::spawn(async move {
        let _ = axum::serve(http, app).await;
    });
    let client = reqwest::Client::new();
    let create = |scopes: Value| {
        let client = client.clone();
        let url = format!("{base}/asps");
        async move {
            let r: Value = client
                .post(url)
                .json(&json!({"description": "client", "scopes": scopes}))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            r["password"].as_str().expect("password").to_string()
        }
    };
    let imap_only = create(json!(["imap"])).await;
    let pop3_only = create(json!(["pop3"])).await;

    // IMAP: the imap password works, the pop3 one does not.
    let mut c = connect(imap_addr).await;
    assert!(say(&mut c, "").await.starts_with("* OK"));
    let reply = tagged(
        &mut c,
        "a1",
        &format!("a1 LOGIN mobile@example.com {pop3_only}"),
    )
    .await;
    assert!(reply.starts_with("a1 NO"), "{reply}");
    let reply = tagged(&mut c, "a2", &format!("a2 LOGIN mobile {imap_only}")).await;
    assert!(reply.starts_with("a2 OK"), "{reply}");

    // POP3: the other way round.
    let mut c = connect(pop3_addr).await;
    assert!(say(&mut c, "").await.starts_with("+OK"));
    assert!(say(&mut c, "USER mobile").await.starts_with("+OK"));
    let reply = say(&mut c, &format!("PASS {imap_only}")).await;
    assert!(reply.starts_with("-ERR"), "{reply}");
    let mut c = connect(pop3_addr).await;
    assert!(say(&mut c, "").await.starts_with("+OK"));
    assert!(say(&mut c, "USER mobile").await.starts_with("+OK"));
    let reply = say(&mut c, &format!("PASS {pop3_only}")).await;
    assert!(reply.starts_with("+OK"), "{reply}");

    // The authentication log has both protocols' successes and failures with the ASP source.
    let log: Value = client
        .get(format!("{base}/authlog?limit=100"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let seen: Vec<(String, String, String)> = log["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|e| e["action"] == "authentication")
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("protocol"), s("result"), s("source"))
        })
        .collect();
    for (protocol, result) in [
        ("IMAP", "success"),
        ("IMAP", "fail"),
        ("POP3", "success"),
        ("POP3", "fail"),
    ] {
        assert!(
            seen.iter()
                .any(|(p, r, s)| p == protocol && r == result && s == "asp"),
            "{protocol} {result} in {seen:?}"
        );
    }
    shutdown.trigger();
}
