//! The bus behaviour suite on the in-process implementation (the embedded backend's bus).

mod bus_suite;

use std::sync::Arc;

use bus_suite::{Bus, Pair};
use wildduck_core::bus::local::{LocalCounters, LocalLocks, LocalNotifier};

/// In one process both "instances" share the same objects, as the embedded backend's services do.
async fn pair() -> Pair {
    let bus = Bus {
        notifier: Arc::new(LocalNotifier::new()),
        counters: Arc::new(LocalCounters::new()),
        locks: Arc::new(LocalLocks::new()),
    };
    Pair {
        a: bus.clone(),
        b: bus,
        prefix: wildduck_test_support::unique_key_prefix(),
    }
}

bus_suite!(pair());

#[tokio::test]
async fn subscription_ends_when_notifier_is_gone() {
    let notifier = LocalNotifier::new();
    let mut sub = wildduck_core::bus::Notifier::subscribe(&notifier);
    drop(notifier);
    assert_eq!(sub.recv().await, None);
}

#[tokio::test]
async fn slow_subscriber_is_told_it_missed_events() {
    use wildduck_core::bus::{BusEvent, Notifier};
    let notifier = LocalNotifier::new();
    let mut sub = notifier.subscribe();
    for _ in 0..5000 {
        notifier.publish("u", None).await.unwrap();
    }
    assert_eq!(sub.recv().await, Some(BusEvent::Missed));
    assert!(matches!(sub.recv().await, Some(BusEvent::Notify(_))));
}
