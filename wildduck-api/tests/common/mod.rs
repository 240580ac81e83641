//! Test harness: services on either backend, the API router on a loopback port, a JSON client.
#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::Value;
use wildduck_api::{ApiConfig, ApiState, router};
use wildduck_core::service::Services;

pub use wildduck_test_support::services::Kind;

/// A running API plus whatever must live as long as it does.
pub struct Api {
    pub base: String,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub services: Services,
    task: tokio::task::JoinHandle<()>,
    _keep: wildduck_test_support::services::Env,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(kind: Kind) -> Api {
    start_with(kind, ApiConfig::default()).await
}

pub async fn start_with(kind: Kind, config: ApiConfig) -> Api {
    let env = wildduck_test_support::services::env(kind).await;
    let services = env.services.clone();
    let app = router(ApiState::new(services.clone(), config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Api {
        base: format!("http://{addr}"),
        addr,
        client: reqwest::Client::new(),
        services,
        task,
        _keep: env,
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional JSON body; returns status and parsed JSON.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(m, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PUT", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, name: &str) -> String {
        let (s, b) = self
            .post(
                "/users",
                serde_json::json!({
                    "username": name,
                    "password": "secretpass",
                    "address": format!("{name}@example.com"),
                    "name": "Test User"
                }),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["id"].as_str().expect("id").to_string()
    }

    /// The id of a user's mailbox by path.
    pub async fn mailbox(&self, user: &str, path: &str) -> String {
        let (s, b) = self.get(&format!("/users/{user}/mailboxes")).await;
        assert_eq!(s, 200, "{b}");
        b["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|m| m["path"] == path)
            .and_then(|m| m["id"].as_str())
            .expect("mailbox")
            .to_string()
    }

    /// Uploads raw bytes as `message/rfc822`; returns the new message's UID.
    /// One pass of the task runner over every task due by now (a millisecond ahead, so a task
    /// queued in this millisecond counts).
    pub async fn run_tasks(&self) -> wildduck_core::service::tasks::TaskPass {
        let now = wildduck_core::model::Timestamp::now();
        self.services
            .run_due_tasks(wildduck_core::model::Timestamp(now.0 + 1))
            .await
            .expect("task pass")
    }

    pub async fn upload(&self, user: &str, mailbox: &str, raw: &[u8], query: &str) -> u64 {
        let resp = self
            .client
            .post(self.url(&format!(
                "/users/{user}/mailboxes/{mailbox}/messages{query}"
            )))
            .header("content-type", "message/rfc822")
            .body(raw.to_vec())
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200);
        let b: Value = resp.json().await.expect("json");
        b["message"]["id"].as_u64().expect("id")
    }
}

/// The multipart message of the reference run (attachment of 1024 bytes, RFC 2047 From/Subject).
pub fn multipart() -> Vec<u8> {
    let payload: Vec<u8> = (0..1024u32).map(|i| (i * 7 % 251) as u8).collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&payload);
    let mut lines = String::new();
    for chunk in b64.as_bytes().chunks(76) {
        lines.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        lines.push_str("\r\n");
    }
    format!(
        "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jurgen@example.org>\r\n\
To: Test User <testuser@example.com>, \"Second, Person\" <second@example.com>\r\n\
Subject: =?UTF-8?B?UmVwb3J0IHdpdGggYXR0YWNobWVudCDinJQ=?=\r\n\
Date: Tue, 03 Jun 2025 12:34:56 +0200\r\n\
Message-ID: <multi-att-1@example.org>\r\n\
References: <a@example.org> <b@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer-boundary\"\r\n\
\r\n\
--outer-boundary\r\n\
Content-Type: multipart/alternative; boundary=\"inner-boundary\"\r\n\
\r\n\
--inner-boundary\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Please find the report attached. Gr=C3=BC=C3=9Fe\r\n\
--inner-boundary\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Please find the <b>report</b> attached.</p>\r\n\
--inner-boundary--\r\n\
--outer-boundary\r\n\
Content-Type: application/octet-stream; name=\"report.bin\"\r\n\
Content-Disposition: attachment; filename=\"report.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
{lines}--outer-boundary--\r\n"
    )
    .into_bytes()
}

pub fn attachment_payload() -> Vec<u8> {
    (0..1024u32).map(|i| (i * 7 % 251) as u8).collect()
}

pub fn simple(subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\nTo: testuser@example.com\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.com>\r\n\r\nHello {subject}\r\n"
    )
    .into_bytes()
}
