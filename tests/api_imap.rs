//! Across protocols on one set of services (SQLite): a message uploaded through the HTTP API —
//! raw and built from structured fields — is fetched byte-exact over IMAP, and a message
//! appended over IMAP is served byte-exact by the API's `message.eml`; an expiry set through the
//! API ends in an EXPUNGE the IMAP session sees; a mailbox created hidden stays out of IMAP.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use wildduck_core::service::users::NewUser;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_imap::net::{Listener, ListenerConfig, Shutdown};
use wildduck_imap::{ImapConfig, ImapServer};

struct Imap {
    r: BufReader<TcpStream>,
    tag: u32,
}

impl Imap {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        let s = TcpStream::connect(addr).await.expect("connect");
        let mut me = Self {
            r: BufReader::new(s),
            tag: 0,
        };
        let greeting = me.line().await;
        assert!(greeting.starts_with("* OK"), "{greeting}");
        me
    }

    async fn line(&mut self) -> String {
        let mut l = String::new();
        tokio::time::timeout(Duration::from_secs(10), self.r.read_line(&mut l))
            .await
            .expect("timely")
            .expect("read");
        l
    }

    /// Sends a command; returns the untagged lines (literals inlined as raw bytes) and the
    /// tagged status line.
    async fn cmd(&mut self, c: &str) -> (Vec<u8>, String) {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.r
            .get_mut()
            .write_all(format!("{tag} {c}\r\n").as_bytes())
            .await
            .expect("write");
        self.collect(&tag).await
    }

    async fn collect(&mut self, tag: &str) -> (Vec<u8>, String) {
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            assert!(!l.is_empty(), "connection closed");
            if l.starts_with(&format!("{tag} ")) {
                return (out, l);
            }
            out.extend_from_slice(l.as_bytes());
            // A literal: `{n}\r\n` then n bytes.
            if let Some(n) = l
                .trim_end()
                .strip_suffix('}')
                .and_then(|x| x.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                let mut buf = vec![0u8; n];
                self.r.read_exact(&mut buf).await.expect("literal");
                out.extend_from_slice(&buf);
            }
        }
    }

    /// `APPEND mailbox {n}` with a synchronizing literal.
    async fn append(&mut self, mailbox: &str, msg: &[u8]) -> String {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.r
            .get_mut()
            .write_all(format!("{tag} APPEND {mailbox} {{{}}}\r\n", msg.len()).as_bytes())
            .await
            .expect("write");
        let cont = self.line().await;
        assert!(cont.starts_with('+'), "{cont}");
        self.r.get_mut().write_all(msg).await.expect("write");
        self.r.get_mut().write_all(b"\r\n").await.expect("write");
        self.collect(&tag).await.1
    }
}

/// The bytes of the first literal in `data` (a FETCH response carrying `BODY[] {n}`).
fn literal(data: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(data);
    let Some(open) = text.find("BODY[] {") else {
        panic!("no BODY[] in {text}");
    };
    let rest = &data[open + 8..];
    let close = rest.iter().position(|b| *b == b'}').expect("}");
    let n: usize = std::str::from_utf8(&rest[..close])
        .expect("digits")
        .parse()
        .expect("n");
    let start = open + 8 + close + 3;
    data[start..start + n].to_vec()
}

#[tokio::test]
async fn api_upload_is_fetched_over_imap_and_imap_append_over_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = wildduck_core::store::sqlite::SqliteStore::open(dir.path().join("mail.db"))
        .await
        .expect("sqlite");
    // A notifier, so the IMAP session learns of the API's changes as in the daemon.
    let notifier: std::sync::Arc<dyn wildduck_core::bus::Notifier> =
        std::sync::Arc::new(wildduck_core::bus::local::LocalNotifier::new());
    let services = Services::new(
        store.backend(),
        Some(notifier),
        ServiceConfig {
            bcrypt_cost: 4,
            ..Default::default()
        },
    );
    let user = services
        .create_user(NewUser {
            username: "cross".into(),
            password: Some("secretpass".into()),
            address: Some("cross@example.com".into()),
            ..Default::default()
        })
        .await
        .expect("user");

    // IMAP server.
    let listener = Listener::bind(ListenerConfig::plain("127.0.0.1:0".parse().expect("addr")))
        .await
        .expect("bind");
    let imap_addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let imap_server = ImapServer::new(services.clone(), ImapConfig::default());
    assert!(imap_server.start_notifications());
    tokio::spawn(imap_server.serve(listener, shutdown.signal()));
    // API server.
    let app = wildduck_api::router(wildduck_api::ApiState::new(
        services.clone(),
        wildduck_api::ApiConfig::default(),
    ));
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", http.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(http, app).await;
    });
    let client = reqwest::Client::new();
    let mbs: Value = client
        .get(format!("{base}/users/{}/mailboxes", user.id))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let inbox = mbs["results"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["path"] == "INBOX"))
        .and_then(|m| m["id"].as_str())
        .expect("inbox")
        .to_string();
    let messages = format!("{base}/users/{}/mailboxes/{inbox}/messages", user.id);

    // 1. Raw upload through the API, with odd but legal bytes (8-bit, folded header, no final
    //    newline) that a rebuild must keep.
    let raw = b"From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\nTo: cross@example.com\r\nSubject: cross\r\n  folded\r\nX-8bit: \xc3\xa4\xc3\xb6\r\n\r\nBody line\r\n\r\nlast line without newline".to_vec();
    let r: Value = client
        .post(&messages)
        .header("content-type", "message/rfc822")
        .body(raw.clone())
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let uid1 = r["message"]["id"].as_u64().expect("uid");

    // 2. Structured upload: the API's built bytes (from message.eml) are what IMAP returns.
    let r: Value = client
        .post(&messages)
        .json(&json!({
            "from": {"name": "Ann", "address": "ann@example.com"},
            "to": [{"address": "cross@example.com"}],
            "subject": "built ✔",
            "text": "plain",
            "html": "<p>html</p>",
            "attachments": [{"filename": "a.txt", "content": "aGVsbG8="}]
        }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let uid2 = r["message"]["id"].as_u64().expect("uid");
    let built = client
        .get(format!("{messages}/{uid2}/message.eml"))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("bytes")
        .to_vec();
    assert!(
        String::from_utf8_lossy(&built).contains("multipart/"),
        "structured upload is MIME"
    );

    let mut imap = Imap::connect(imap_addr).await;
    let (_, st) = imap.cmd("LOGIN cross secretpass").await;
    assert!(st.contains("OK"), "{st}");
    let (_, st) = imap.cmd("SELECT INBOX").await;
    assert!(st.contains("OK"), "{st}");
    let (data, st) = imap.cmd(&format!("UID FETCH {uid1} BODY.PEEK[]")).await;
    assert!(st.contains("OK"), "{st}");
    assert_eq!(literal(&data), raw, "raw API upload over IMAP");
    let (data, st) = imap.cmd(&format!("UID FETCH {uid2} BODY.PEEK[]")).await;
    assert!(st.contains("OK"), "{st}");
    assert_eq!(literal(&data), built, "structured API upload over IMAP");

    // 3. IMAP APPEND, read back through the API byte for byte.
    let appended = b"From: imap@example.com\r\nSubject: via imap\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9\r\n".to_vec();
    let st = imap.append("INBOX", &appended).await;
    assert!(st.contains("OK"), "{st}");
    let uid3 = st
        .split("APPENDUID ")
        .nth(1)
        .and_then(|x| x.split_whitespace().nth(1))
        .and_then(|x| x.trim_end_matches(']').parse::<u64>().ok())
        .expect("APPENDUID");
    let eml = client
        .get(format!("{messages}/{uid3}/message.eml"))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(
        eml.as_ref(),
        appended.as_slice(),
        "IMAP APPEND over the API"
    );
    let m: Value = client
        .get(format!("{messages}/{uid3}"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(m["subject"], "via imap");

    // 4. An expiry set through the API: the collector deletes the message and the selected
    //    IMAP session is told (it is message 1).
    let r: Value = client
        .put(format!("{messages}/{uid1}"))
        .json(&json!({"expires": "2000-01-01T00:00:00.000Z"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(r["updated"], 1, "{r}");
    let c = services
        .collect_expired(wildduck_core::model::Timestamp::now())
        .await
        .expect("collect");
    assert_eq!(c.expired, 1);
    let (data, st) = imap.cmd("NOOP").await;
    assert!(st.contains("OK"), "{st}");
    assert!(
        String::from_utf8_lossy(&data).contains("* 1 EXPUNGE"),
        "{}",
        String::from_utf8_lossy(&data)
    );

    // 5. A mailbox created hidden through the API is neither listed nor opened over IMAP.
    let r: Value = client
        .post(format!("{base}/users/{}/mailboxes", user.id))
        .json(&json!({"path": "Secret", "hidden": true, "retention": 86400000}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(r["success"], true, "{r}");
    let (data, st) = imap.cmd("LIST \"\" \"*\"").await;
    assert!(st.contains("OK"), "{st}");
    let listed = String::from_utf8_lossy(&data);
    assert!(
        listed.contains("INBOX") && !listed.contains("Secret"),
        "{listed}"
    );
    let (_, st) = imap.cmd("SELECT Secret").await;
    assert!(st.contains("NO"), "{st}");
    imap.cmd("LOGOUT").await;
    shutdown.trigger();
}
