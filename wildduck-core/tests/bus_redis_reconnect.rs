//! The Redis notifier survives a lost subscription connection: subscribers are told they missed events,
//! and events published after the re-subscription arrive again. Its own test binary, so killing pub/sub
//! clients on the (per-binary) server cannot disturb other tests.
#![cfg(feature = "scale-out")]

use std::time::Duration;

use wildduck_core::bus::redis::RedisBus;
use wildduck_core::bus::{BusEvent, Notifier};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_recovers_after_connection_loss() {
    let url = wildduck_test_support::redis_url().await;
    let a = RedisBus::connect(&url).await.unwrap();
    let b = RedisBus::connect(&url).await.unwrap();
    let mut sub = b.notifier.subscribe();
    let user = wildduck_test_support::unique_object_id();

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        killed >= 2,
        "both instances' subscriptions were connected ({killed})"
    );

    let first = tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .unwrap();
    assert_eq!(first, Some(BusEvent::Missed));

    // Publish until the re-subscribed connection hears it (re-subscribing takes ~0.5 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        a.notifier.publish(&user, None).await.unwrap();
        match tokio::time::timeout(Duration::from_millis(200), sub.recv_for(&user)).await {
            Ok(Some(BusEvent::Notify(n))) => {
                assert_eq!(n.user, user);
                break;
            }
            Ok(Some(BusEvent::Missed)) | Err(_) => {}
            Ok(None) => panic!("notifier closed"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no event after reconnect"
        );
    }
}
