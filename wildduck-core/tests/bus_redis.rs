//! The bus behaviour suite on Redis (two instances with their own connections to one real
//! `redis-server`, started by the test harness), plus wire compatibility with WildDuck's format.
#![cfg(feature = "scale-out")]

mod bus_suite;

use std::time::Duration;

use bus_suite::{Bus, Pair};
use futures::StreamExt;
use wildduck_core::bus::redis::RedisBus;
use wildduck_core::bus::{BusEvent, EVENTS_CHANNEL, Locks, Notification, Notifier};

async fn instance(url: &str) -> Bus {
    let bus = RedisBus::connect(url).await.unwrap();
    Bus {
        notifier: bus.notifier,
        counters: bus.counters,
        locks: bus.locks,
    }
}

async fn pair() -> Pair {
    let url = wildduck_test_support::redis_url().await;
    Pair {
        a: instance(&url).await,
        b: instance(&url).await,
        prefix: wildduck_test_support::unique_key_prefix(),
    }
}

bus_suite!(pair());

async fn raw_connection() -> redis::aio::MultiplexedConnection {
    let url = wildduck_test_support::redis_url().await;
    let client = redis::Client::open(url).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// What WildDuck's subscriber receives from us: exactly `{"e":"<id>"}` (its fast path) or with `p`.
#[tokio::test]
async fn published_payload_is_wildduck_json() {
    let url = wildduck_test_support::redis_url().await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut raw = client.get_async_pubsub().await.unwrap();
    raw.subscribe(EVENTS_CHANNEL).await.unwrap();
    let bus = RedisBus::connect(&url).await.unwrap();
    let user = wildduck_test_support::unique_object_id();
    bus.notifier.publish(&user, None).await.unwrap();
    bus.notifier
        .publish(&user, Some(serde_json::json!({"cmd": "x"})))
        .await
        .unwrap();
    let mut messages = raw.on_message();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .unwrap()
            .unwrap();
        let text: String = msg.get_payload().unwrap();
        if text.contains(&user) {
            seen.push(text);
        }
    }
    assert_eq!(seen[0], format!(r#"{{"e":"{user}"}}"#));
    assert_eq!(seen[1], format!(r#"{{"e":"{user}","p":{{"cmd":"x"}}}}"#));
}

/// What we receive from WildDuck (a raw PUBLISH in its format); garbage on the channel is ignored.
#[tokio::test]
async fn wildduck_events_reach_our_subscribers() {
    let url = wildduck_test_support::redis_url().await;
    let bus = RedisBus::connect(&url).await.unwrap();
    let mut sub = bus.notifier.subscribe();
    let mut raw = raw_connection().await;
    let user = wildduck_test_support::unique_object_id();
    for message in [
        "not json".to_owned(),
        r#"{"e":42}"#.to_owned(),
        format!(r#"{{"e":"{user}"}}"#),
        format!(r#"{{"e":"{user}","p":{{"action":"logout"}}}}"#),
    ] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(EVENTS_CHANNEL)
            .arg(message)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), sub.recv_for(&user)).await {
            Ok(Some(BusEvent::Notify(n))) => got.push(n),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        got,
        vec![
            Notification {
                user: user.clone(),
                payload: None,
                origin: None
            },
            Notification {
                user: user.clone(),
                payload: Some(serde_json::json!({"action": "logout"})),
                origin: None
            }
        ]
    );
}

/// A lock taken by WildDuck (ioredfour layout: hash `<ns>:<id>` with `index`) excludes us, and ours
/// is visible to it the same way.
#[tokio::test]
async fn locks_use_ioredfour_layout() {
    let url = wildduck_test_support::redis_url().await;
    let bus = RedisBus::connect(&url).await.unwrap();
    let mut raw = raw_connection().await;
    let id = format!("mbwr:{}", wildduck_test_support::unique_object_id());
    let key = format!("mail:{id}");

    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("index")
        .arg(99)
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(30_000)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        bus.locks
            .acquire(&key, Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    let _: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();

    let guard = bus
        .locks
        .acquire(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let index: i64 = redis::cmd("HGET")
        .arg(&key)
        .arg("index")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(index, guard.token());
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 5000, "pttl {pttl}");
    let counter: i64 = redis::cmd("GET")
        .arg("mailindex")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(counter >= guard.token());
    assert!(bus.locks.release(guard).await.unwrap());
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(exists, 0);
}

/// WildDuck's limitedcounter keeps `_version` in the hash; a process with a newer version wipes stale
/// counts (left by a crashed process), an older one does not.
#[tokio::test]
async fn limited_counter_wipes_counts_of_older_processes() {
    use wildduck_core::bus::Counters;
    let url = wildduck_test_support::redis_url().await;
    let bus = RedisBus::connect(&url).await.unwrap();
    let mut raw = raw_connection().await;
    let key = format!("{}lim:imap", wildduck_test_support::unique_key_prefix());

    // Stale state from a process that started long ago.
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("_version")
        .arg(1)
        .arg("u")
        .arg(15)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        bus.counters
            .limited_acquire(&key, "u", 15)
            .await
            .unwrap()
            .success
    );
    assert_eq!(bus.counters.limited_get(&key, "u").await.unwrap(), 1);

    // A newer process (version far in the future) has taken over: our older version keeps its counts.
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("_version")
        .arg(i64::MAX / 2)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        bus.counters
            .limited_acquire(&key, "u", 15)
            .await
            .unwrap()
            .success
    );
    assert_eq!(bus.counters.limited_get(&key, "u").await.unwrap(), 2);
}

#[tokio::test]
async fn connect_to_nothing_is_a_backend_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = RedisBus::connect(&format!("redis://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), wildduck_core::ErrorKind::Backend);
    let err = RedisBus::connect("not a url").await.unwrap_err();
    assert_eq!(err.kind(), wildduck_core::ErrorKind::Backend);
}
