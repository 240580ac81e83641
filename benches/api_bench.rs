//! HTTP API requests per second on the embedded (SQLite) backend: a page of 20 from the message
//! list, one message (parsed), and an upload of a 2 KiB raw message. Prints figures; not a test.
//!
//! Run: `cargo run --release --example api_bench -- [--messages N] [--concurrency C] [--secs S]`
//!
//! The API runs in this process on a loopback port (axum, one keep-alive connection per client
//! task); the clients are `reqwest` tasks on the same runtime, so the figure includes the client's
//! CPU on the same two cores, as a `wrk` on the same machine would.

use std::time::{Duration, Instant};

use serde_json::Value;
use wildduck::api::{ApiConfig, ApiState, router};
use wildduck::core::model::Flags;
use wildduck::core::service::messages::AppendRequest;
use wildduck::core::service::users::NewUser;
use wildduck::core::service::{ServiceConfig, Services};
use wildduck::core::store::sqlite::SqliteStore;

struct Args {
    messages: usize,
    concurrency: usize,
    secs: u64,
}

fn args() -> Args {
    let mut a = Args {
        messages: 1_000,
        concurrency: 4,
        secs: 5,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--messages" => a.messages = val.parse().unwrap_or(a.messages),
            "--concurrency" => a.concurrency = val.parse().unwrap_or(a.concurrency).max(1),
            "--secs" => a.secs = val.parse().unwrap_or(a.secs).max(1),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

/// A 2 KiB message with a text and an HTML part, so "get" has something to parse and render.
fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender {i} <sender{i}@example.com>\r\nTo: bench@example.com\r\n\
         Subject: bench message {i}\r\nMessage-ID: <api-bench-{i}@example.com>\r\n\
         Date: Mon, 1 Jan 2024 00:00:{:02} +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n",
        i % 60
    );
    for l in 0..12 {
        m.push_str(&format!(
            "line {l} of message {i}: lorem ipsum dolor sit amet\r\n"
        ));
    }
    m.push_str("--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>");
    for l in 0..12 {
        m.push_str(&format!(
            "line {l} of <b>message {i}</b>: lorem ipsum<br>\r\n"
        ));
    }
    m.push_str("</p>\r\n--b--\r\n");
    m.into_bytes()
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    List,
    Get,
    Upload,
}

struct Figures {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

async fn run(
    kind: Kind,
    base: &str,
    uids: &[u32],
    concurrency: usize,
    secs: u64,
) -> Result<Figures, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let base = base.to_string();
        let uids = uids.to_vec();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut lat = Vec::new();
            let mut n = w;
            while Instant::now() < deadline {
                let t = Instant::now();
                let resp = match kind {
                    Kind::List => client.get(format!("{base}?limit=20")).send().await,
                    Kind::Get => {
                        let uid = uids.get(n % uids.len().max(1)).copied().unwrap_or(1);
                        client.get(format!("{base}/{uid}")).send().await
                    }
                    Kind::Upload => {
                        client
                            .post(base.as_str())
                            .header("Content-Type", "message/rfc822")
                            .body(message(100_000 + n))
                            .send()
                            .await
                    }
                };
                let resp = resp.map_err(|e| format!("{kind:?}: {e}"))?;
                let status = resp.status();
                let body = resp.bytes().await.map_err(|e| format!("{kind:?}: {e}"))?;
                if !status.is_success() {
                    return Err(format!(
                        "{kind:?}: {status}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                lat.push(t.elapsed());
                n += concurrency;
            }
            Ok::<_, String>(lat)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.map_err(|e| e.to_string())??);
    }
    Ok(Figures {
        requests: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    })
}

fn report(name: &str, mut f: Figures) {
    f.latencies.sort();
    let at = |q: f64| {
        let i = ((f.latencies.len() as f64 - 1.0) * q).round() as usize;
        f.latencies.get(i).copied().unwrap_or_default()
    };
    let mean = f.latencies.iter().sum::<Duration>() / (f.latencies.len().max(1) as u32);
    println!(
        "{name:<28} {:>8.0} req/s   mean {:>6.2} ms   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} requests)",
        f.requests as f64 / f.elapsed.as_secs_f64(),
        mean.as_secs_f64() * 1e3,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        f.requests
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("mail.db")).await?;
    let services = Services::new(store.backend(), None, ServiceConfig::default());
    let user = services
        .create_user(NewUser {
            username: "bench".into(),
            password: Some("benchpass".into()),
            address: Some("bench@example.com".into()),
            ..Default::default()
        })
        .await?;
    let inbox = services.find_mailbox(user.id, "INBOX").await?;
    let seeding = Instant::now();
    for i in 0..a.messages {
        services
            .append(
                user.id,
                inbox.id,
                AppendRequest {
                    raw: &message(i),
                    flags: Flags::new(),
                    ..Default::default()
                },
            )
            .await?;
    }
    eprintln!(
        "seeded {} messages in {:.1} s",
        a.messages,
        seeding.elapsed().as_secs_f64()
    );

    let app = router(ApiState::new(services.clone(), ApiConfig::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let base = format!(
        "http://{addr}/users/{}/mailboxes/{}/messages",
        user.id, inbox.id
    );

    // The UIDs to get, from the API itself (so the run checks the listing answers).
    let first: Value = reqwest::get(format!("{base}?limit=250"))
        .await?
        .json()
        .await?;
    let uids: Vec<u32> = first["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|m| m["id"].as_u64())
                .map(|u| u as u32)
                .collect()
        })
        .unwrap_or_default();
    if uids.is_empty() && a.messages > 0 {
        return Err("the listing returned no messages".into());
    }

    println!(
        "API on SQLite, {} messages in INBOX, {} concurrent clients, {} s per figure",
        a.messages, a.concurrency, a.secs
    );
    report(
        "list (page of 20, newest)",
        run(Kind::List, &base, &uids, a.concurrency, a.secs).await?,
    );
    report(
        "get (parsed message)",
        run(Kind::Get, &base, &uids, a.concurrency, a.secs).await?,
    );
    report(
        "upload (2 KiB raw)",
        run(Kind::Upload, &base, &uids, a.concurrency, a.secs).await?,
    );
    Ok(())
}
