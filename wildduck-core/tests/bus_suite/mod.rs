//! Behaviour of the coordination bus, written once over the trait objects and run against every
//! implementation (`bus_local.rs`, `bus_redis.rs`). Two "instances" `a` and `b`: for Redis, separate
//! connections to one server; in-process, the same objects (one process owns the data).

#![allow(dead_code)] // each test binary uses the subset its backend supports

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wildduck_core::bus::{BusEvent, Counters, Locks, Notification, Notifier, Subscription};

/// One instance's view of the bus.
#[derive(Clone)]
pub struct Bus {
    pub notifier: Arc<dyn Notifier>,
    pub counters: Arc<dyn Counters>,
    pub locks: Arc<dyn Locks>,
}

/// Two instances plus a key prefix no other test uses.
pub struct Pair {
    pub a: Bus,
    pub b: Bus,
    pub prefix: String,
}

impl Pair {
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

const WAIT: Duration = Duration::from_secs(5);

async fn next_for(sub: &mut Subscription, user: &str) -> Notification {
    match tokio::time::timeout(WAIT, sub.recv_for(user)).await {
        Ok(Some(BusEvent::Notify(n))) => n,
        other => panic!("no notification for {user}: {other:?}"),
    }
}

pub async fn publish_on_a_reaches_subscriber_on_b(p: &Pair) {
    let user = wildduck_test_support::unique_object_id();
    let mut on_b = p.b.notifier.subscribe();
    let mut on_a = p.a.notifier.subscribe();

    p.a.notifier.publish(&user, None).await.unwrap();
    let got = next_for(&mut on_b, &user).await;
    assert_eq!(
        got,
        Notification {
            user: user.clone(),
            payload: None,
            origin: None
        }
    );
    // The publishing instance's own subscribers hear it too (other sessions of the same user).
    assert_eq!(next_for(&mut on_a, &user).await.user, user);

    let payload = json!({"command": "LOGOUT", "reason": "test"});
    p.a.notifier
        .publish(&user, Some(payload.clone()))
        .await
        .unwrap();
    let got = next_for(&mut on_b, &user).await;
    assert_eq!(got.payload, Some(payload));
}

pub async fn subscriber_sees_only_what_it_filters_for(p: &Pair) {
    let alice = wildduck_test_support::unique_object_id();
    let bob = wildduck_test_support::unique_object_id();
    let mut sub = p.b.notifier.subscribe();
    p.a.notifier.publish(&bob, None).await.unwrap();
    p.a.notifier.publish(&alice, None).await.unwrap();
    // recv_for skips bob's event and returns alice's.
    assert_eq!(next_for(&mut sub, &alice).await.user, alice);
    // Nothing further for alice is pending.
    let mut pending_for_alice = 0;
    while let Some(ev) = sub.try_recv() {
        if matches!(ev, BusEvent::Notify(ref n) if n.user == alice) {
            pending_for_alice += 1;
        }
    }
    assert_eq!(pending_for_alice, 0);
}

pub async fn many_events_all_arrive_in_order(p: &Pair) {
    let user = wildduck_test_support::unique_object_id();
    let mut sub = p.b.notifier.subscribe();
    for i in 0..100 {
        p.a.notifier.publish(&user, Some(json!(i))).await.unwrap();
    }
    for i in 0..100 {
        assert_eq!(next_for(&mut sub, &user).await.payload, Some(json!(i)));
    }
}

pub async fn bursts_are_coalesced_without_losing_payloads(p: &Pair) {
    let user = wildduck_test_support::unique_object_id();
    let other = wildduck_test_support::unique_object_id();
    let mut sub = p.b.notifier.subscribe();
    for i in 0..30 {
        p.a.notifier.publish(&user, None).await.unwrap();
        p.a.notifier.publish(&other, None).await.unwrap();
        if i == 10 {
            p.a.notifier
                .publish(&user, Some(json!("first")))
                .await
                .unwrap();
        }
        if i == 20 {
            p.a.notifier
                .publish(&user, Some(json!("second")))
                .await
                .unwrap();
        }
    }
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(400), sub.recv_coalesced(&user)).await {
            Ok(Some(BusEvent::Notify(n))) => got.push(n.payload),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => break,
        }
    }
    // 30 plain events became one (or a few, on a very slow machine), both payloads arrive in order.
    let plain = got.iter().filter(|p| p.is_none()).count();
    assert!((1..=3).contains(&plain), "{got:?}");
    let payloads: Vec<_> = got.into_iter().flatten().collect();
    assert_eq!(payloads, vec![json!("first"), json!("second")]);
}

pub async fn ttl_counter_limits_and_reports(p: &Pair) {
    let key = p.key("idw:user");
    let window = Duration::from_secs(60);
    for expected in 1..=3 {
        let r = p.a.counters.ttl_counter(&key, 1, 3, window).await.unwrap();
        assert!(r.success);
        assert_eq!(r.value, expected);
        assert!(r.ttl > 0 && r.ttl <= 60, "ttl {}", r.ttl);
    }
    // At the limit: refused, nothing added, from either instance.
    let r = p.b.counters.ttl_counter(&key, 1, 3, window).await.unwrap();
    assert!(!r.success);
    assert_eq!(r.value, 3);
    assert!(r.ttl > 0 && r.ttl <= 60);
    let check =
        p.b.counters
            .ttl_counter_check(&key, 3, window)
            .await
            .unwrap();
    assert!(!check.success);
    assert_eq!(check.value, 3);
    // A higher limit lets it go on; the check alone never adds.
    let check =
        p.a.counters
            .ttl_counter_check(&key, 10, window)
            .await
            .unwrap();
    assert!(check.success);
    assert_eq!(check.value, 3);
    assert_eq!(p.b.counters.get(&key).await.unwrap(), Some(3));

    // The check is before the add: one big step may overshoot (as WildDuck's byte counters do).
    let big = p.key("iup:user");
    let r =
        p.a.counters
            .ttl_counter(&big, 5000, 1000, window)
            .await
            .unwrap();
    assert!(r.success);
    assert_eq!(r.value, 5000);
    let r =
        p.b.counters
            .ttl_counter(&big, 1, 1000, window)
            .await
            .unwrap();
    assert!(!r.success);

    // No limit configured: always allowed, nothing stored.
    let free = p.key("wdr:user");
    let r = p.a.counters.ttl_counter(&free, 7, 0, window).await.unwrap();
    assert_eq!((r.success, r.value), (true, 0));
    assert_eq!(p.a.counters.get(&free).await.unwrap(), None);

    p.a.counters.clear(&key).await.unwrap();
    assert_eq!(p.b.counters.get(&key).await.unwrap(), None);
    let r = p.b.counters.ttl_counter(&key, 1, 3, window).await.unwrap();
    assert_eq!((r.success, r.value), (true, 1));
}

pub async fn ttl_counter_window_expires(p: &Pair) {
    let key = p.key("auth_user:x");
    let window = Duration::from_secs(1);
    assert!(
        p.a.counters
            .ttl_counter(&key, 2, 2, window)
            .await
            .unwrap()
            .success
    );
    assert!(
        !p.b.counters
            .ttl_counter(&key, 1, 2, window)
            .await
            .unwrap()
            .success
    );
    // Adding within the window does not extend it.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(p.a.counters.get(&key).await.unwrap(), None);
    let r = p.b.counters.ttl_counter(&key, 1, 2, window).await.unwrap();
    assert_eq!((r.success, r.value), (true, 1));
}

pub async fn limited_counter_limits_and_releases(p: &Pair) {
    let key = p.key("lim:imap");
    let user = "user1";
    let other = "user2";
    assert!(
        p.a.counters
            .limited_acquire(&key, user, 2)
            .await
            .unwrap()
            .success
    );
    let second = p.b.counters.limited_acquire(&key, user, 2).await.unwrap();
    assert_eq!((second.success, second.value), (true, 2));
    let refused = p.a.counters.limited_acquire(&key, user, 2).await.unwrap();
    assert_eq!((refused.success, refused.value), (false, 2));
    // Entries are independent.
    assert!(
        p.a.counters
            .limited_acquire(&key, other, 2)
            .await
            .unwrap()
            .success
    );
    assert_eq!(p.b.counters.limited_get(&key, user).await.unwrap(), 2);

    // A release frees a slot for anyone.
    let released = p.b.counters.limited_release(&key, user).await.unwrap();
    assert_eq!(released.value, 1);
    assert!(
        p.a.counters
            .limited_acquire(&key, user, 2)
            .await
            .unwrap()
            .success
    );

    // Releasing more than was taken never goes below zero.
    for _ in 0..4 {
        p.a.counters.limited_release(&key, other).await.unwrap();
    }
    assert_eq!(p.a.counters.limited_get(&key, other).await.unwrap(), 0);
    assert!(
        p.a.counters
            .limited_acquire(&key, other, 1)
            .await
            .unwrap()
            .success
    );
    assert!(
        !p.a.counters
            .limited_acquire(&key, other, 1)
            .await
            .unwrap()
            .success
    );
    assert_eq!(p.a.counters.limited_get(&key, "nobody").await.unwrap(), 0);
}

pub async fn limited_counter_never_exceeds_limit_concurrently(p: &Pair) {
    let key = p.key("lim:imap");
    let limit = 5;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let counters = if i % 2 == 0 {
            p.a.counters.clone()
        } else {
            p.b.counters.clone()
        };
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            counters
                .limited_acquire(&key, "busy", limit)
                .await
                .unwrap()
                .success
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if t.await.unwrap() {
            granted += 1;
        }
    }
    assert_eq!(granted, limit);
    assert_eq!(p.a.counters.limited_get(&key, "busy").await.unwrap(), limit);
}

pub async fn cached_counter_only_updates_existing(p: &Pair) {
    let key = p.key("total:mbox");
    let ttl = Duration::from_secs(60);
    assert_eq!(
        p.a.counters.cached_counter(&key, 1, ttl).await.unwrap(),
        None
    );
    assert_eq!(p.a.counters.get(&key).await.unwrap(), None);
    p.a.counters.set(&key, 10, ttl).await.unwrap();
    assert_eq!(
        p.b.counters.cached_counter(&key, 2, ttl).await.unwrap(),
        Some(12)
    );
    assert_eq!(
        p.b.counters.cached_counter(&key, -5, ttl).await.unwrap(),
        Some(7)
    );
    assert_eq!(p.a.counters.get(&key).await.unwrap(), Some(7));
    p.b.counters.clear(&key).await.unwrap();
    assert_eq!(
        p.a.counters.cached_counter(&key, 1, ttl).await.unwrap(),
        None
    );
}

pub async fn lock_excludes_until_release(p: &Pair) {
    let name = format!("mail:mbwr:{}", p.key("mbox"));
    let ttl = Duration::from_secs(30);
    let held =
        p.a.locks
            .acquire(&name, ttl)
            .await
            .unwrap()
            .expect("first acquire");
    assert_eq!(held.name(), name);
    assert!(p.b.locks.acquire(&name, ttl).await.unwrap().is_none());
    assert!(
        p.a.locks.acquire(&name, ttl).await.unwrap().is_none(),
        "not re-entrant"
    );
    // Other names are independent.
    let other = format!("mail:mbwr:{}", p.key("other"));
    let other_guard =
        p.b.locks
            .acquire(&other, ttl)
            .await
            .unwrap()
            .expect("other lock");
    assert!(p.b.locks.release(other_guard).await.unwrap());

    assert!(p.a.locks.extend(&held, ttl).await.unwrap());
    assert!(p.a.locks.release(held).await.unwrap());
    let by_b =
        p.b.locks
            .acquire(&name, ttl)
            .await
            .unwrap()
            .expect("free after release");
    assert!(p.a.locks.acquire(&name, ttl).await.unwrap().is_none());
    assert!(p.b.locks.release(by_b).await.unwrap());
}

pub async fn lock_expires_and_stale_holder_cannot_release(p: &Pair) {
    let name = format!("wildduck:{}", p.key("gc_expired"));
    let stale =
        p.a.locks
            .acquire(&name, Duration::from_millis(300))
            .await
            .unwrap()
            .expect("lock");
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Expired: someone else may take it, and the old holder can neither extend nor release it.
    let fresh =
        p.b.locks
            .acquire(&name, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("expired");
    assert_ne!(fresh.token(), stale.token());
    assert!(
        !p.a.locks
            .extend(&stale, Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(!p.a.locks.release(stale).await.unwrap());
    assert!(
        p.a.locks
            .acquire(&name, Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    assert!(p.b.locks.release(fresh).await.unwrap());
    assert!(
        p.a.locks
            .acquire(&name, Duration::from_secs(1))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn lock_has_one_holder_under_contention(p: &Pair) {
    let name = format!("mail:{}", p.key("contended"));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let locks = if i % 2 == 0 {
            p.a.locks.clone()
        } else {
            p.b.locks.clone()
        };
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            locks.acquire(&name, Duration::from_secs(30)).await.unwrap()
        }));
    }
    let mut guards = Vec::new();
    for t in tasks {
        if let Some(g) = t.await.unwrap() {
            guards.push(g);
        }
    }
    assert_eq!(guards.len(), 1);
}

/// Runs every behaviour test above against `make()` (a fresh pair each time).
#[macro_export]
macro_rules! bus_suite {
    ($make:expr) => {
        bus_suite!(@tests $make;
            publish_on_a_reaches_subscriber_on_b,
            subscriber_sees_only_what_it_filters_for,
            many_events_all_arrive_in_order,
            bursts_are_coalesced_without_losing_payloads,
            ttl_counter_limits_and_reports,
            ttl_counter_window_expires,
            limited_counter_limits_and_releases,
            limited_counter_never_exceeds_limit_concurrently,
            cached_counter_only_updates_existing,
            lock_excludes_until_release,
            lock_expires_and_stale_holder_cannot_release,
            lock_has_one_holder_under_contention,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let pair = $make.await;
                bus_suite::$name(&pair).await;
            }
        )*
    };
}
