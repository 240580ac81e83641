//! In-process bus for the embedded backend: one process owns the data, so notifications, counters and
//! locks need no external service. Semantics match the Redis backend (and WildDuck's Lua scripts), so the
//! same behaviour tests run on both.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{
    BusEvent, Counters, KeyValue, LimitedCount, LockGuard, Locks, Notification, Notifier,
    Subscription, TtlCount,
};
use crate::Result;

/// How many undelivered events a slow subscriber may have before it gets [`super::BusEvent::Missed`].
const CHANNEL_CAPACITY: usize = 4096;

/// How many mutating calls between sweeps of expired keys (expired keys are also dropped when touched).
const SWEEP_EVERY: u64 = 1024;

/// Locks a std mutex, recovering from poisoning: the maps stay consistent after every statement, so a
/// panic elsewhere while holding the lock leaves nothing half-written.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds left until `at`, rounded to nearest like Redis `TTL`.
fn secs_left(at: Instant, now: Instant) -> i64 {
    let left = at.saturating_duration_since(now);
    let rounded = (left.as_millis() + 500) / 1000;
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// In-process [`Notifier`]: a tokio broadcast channel.
#[derive(Debug, Clone)]
pub struct LocalNotifier {
    tx: broadcast::Sender<BusEvent>,
}

impl Default for LocalNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalNotifier {
    /// A notifier with no subscribers yet.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self { tx }
    }
}

#[async_trait]
impl Notifier for LocalNotifier {
    async fn publish(&self, user: &str, payload: Option<Value>) -> Result<()> {
        // No subscriber is not an error: nobody is listening for this user right now.
        let _ = self.tx.send(BusEvent::Notify(Notification {
            user: user.to_owned(),
            payload,
            origin: None,
        }));
        Ok(())
    }

    async fn publish_change(&self, user: &str, origin: Option<&str>) -> Result<()> {
        let _ = self.tx.send(BusEvent::Notify(Notification {
            user: user.to_owned(),
            payload: None,
            origin: origin.map(str::to_owned),
        }));
        Ok(())
    }

    fn subscribe(&self) -> Subscription {
        Subscription::new(self.tx.subscribe())
    }
}

#[derive(Debug)]
enum Slot {
    Int(i64),
    Hash(HashMap<String, i64>),
}

#[derive(Debug)]
struct Entry {
    slot: Slot,
    expires: Option<Instant>,
}

#[derive(Debug, Default)]
struct CounterMap {
    keys: HashMap<String, Entry>,
    ops: u64,
}

impl CounterMap {
    /// The live entry for `key`, dropping it first if it has expired.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self
            .keys
            .get(key)
            .and_then(|e| e.expires)
            .is_some_and(|at| at <= now)
        {
            self.keys.remove(key);
        }
        self.keys.get_mut(key)
    }

    fn int(&mut self, key: &str, now: Instant) -> Option<i64> {
        match self.live(key, now) {
            Some(Entry {
                slot: Slot::Int(v), ..
            }) => Some(*v),
            _ => None,
        }
    }

    /// Redis `TTL` semantics: -2 missing, -1 no expiry, else seconds left.
    fn ttl(&mut self, key: &str, now: Instant) -> i64 {
        match self.live(key, now) {
            None => -2,
            Some(Entry { expires: None, .. }) => -1,
            Some(Entry {
                expires: Some(at), ..
            }) => secs_left(*at, now),
        }
    }

    fn tick(&mut self, now: Instant) {
        self.ops = self.ops.wrapping_add(1);
        if self.ops.is_multiple_of(SWEEP_EVERY) {
            self.keys.retain(|_, e| e.expires.is_none_or(|at| at > now));
        }
    }
}

/// In-process [`KeyValue`]: hashes with an expiry in a mutex-protected map.
#[derive(Debug, Default)]
pub struct LocalKv {
    map: Mutex<KvMap>,
}

#[derive(Debug, Default)]
struct KvMap {
    entries: HashMap<String, (HashMap<String, String>, Instant)>,
    ops: u64,
}

impl KvMap {
    /// The live entry of `key`; an expired one is dropped on the way.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (HashMap<String, String>, Instant)> {
        if self.entries.get(key).is_some_and(|(_, at)| *at <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }
}

impl LocalKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl KeyValue for LocalKv {
    async fn hash_set(&self, key: &str, fields: &[(&str, String)], ttl: Duration) -> Result<()> {
        let now = Instant::now();
        let mut m = lock(&self.map);
        m.ops += 1;
        if m.ops.is_multiple_of(SWEEP_EVERY) {
            m.entries.retain(|_, (_, at)| *at > now);
        }
        let at = now + ttl;
        let entry = match m.live(key, now) {
            Some(e) => e,
            None => m
                .entries
                .entry(key.to_string())
                .or_insert_with(|| (HashMap::new(), at)),
        };
        for (k, v) in fields {
            entry.0.insert((*k).to_string(), v.clone());
        }
        entry.1 = at;
        Ok(())
    }

    async fn hash_get_all(&self, key: &str) -> Result<HashMap<String, String>> {
        let now = Instant::now();
        Ok(lock(&self.map)
            .live(key, now)
            .map(|(h, _)| h.clone())
            .unwrap_or_default())
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        Ok(match lock(&self.map).live(key, now) {
            Some(e) => {
                e.1 = now + ttl;
                true
            }
            None => false,
        })
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let now = Instant::now();
        let mut m = lock(&self.map);
        let live = m.live(key, now).is_some();
        m.entries.remove(key);
        Ok(live)
    }
}

/// In-process [`Counters`]: a mutex-protected map with expiry.
#[derive(Debug, Default)]
pub struct LocalCounters {
    map: Mutex<CounterMap>,
}

impl LocalCounters {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Counters for LocalCounters {
    async fn ttl_counter(
        &self,
        key: &str,
        increment: i64,
        limit: i64,
        window: Duration,
    ) -> Result<TtlCount> {
        if limit <= 0 {
            return Ok(TtlCount {
                success: true,
                value: 0,
                ttl: 0,
            });
        }
        let now = Instant::now();
        let mut map = lock(&self.map);
        map.tick(now);
        let current = map.int(key, now).unwrap_or(0);
        if current >= limit {
            let ttl = map.ttl(key, now);
            return Ok(TtlCount {
                success: false,
                value: current,
                ttl,
            });
        }
        if increment <= 0 {
            let ttl = map.ttl(key, now);
            return Ok(TtlCount {
                success: true,
                value: current,
                ttl,
            });
        }
        let updated = current.saturating_add(increment);
        let expires = if current == 0 {
            Some(now + window)
        } else {
            map.live(key, now).and_then(|e| e.expires)
        };
        map.keys.insert(
            key.to_owned(),
            Entry {
                slot: Slot::Int(updated),
                expires,
            },
        );
        let ttl = map.ttl(key, now);
        Ok(TtlCount {
            success: true,
            value: updated,
            ttl,
        })
    }

    async fn limited_acquire(&self, key: &str, entry: &str, limit: i64) -> Result<LimitedCount> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        map.tick(now);
        let hash = match map.live(key, now) {
            Some(Entry {
                slot: Slot::Hash(h),
                ..
            }) => h,
            _ => {
                // Absent, or a plain value under this name: Redis would answer WRONGTYPE for the latter;
                // the in-process map just starts a fresh hash.
                map.keys.insert(
                    key.to_owned(),
                    Entry {
                        slot: Slot::Hash(HashMap::new()),
                        expires: None,
                    },
                );
                match map.keys.get_mut(key) {
                    Some(Entry {
                        slot: Slot::Hash(h),
                        ..
                    }) => h,
                    _ => return Err(crate::Error::new(crate::ErrorKind::Backend, "counter map")),
                }
            }
        };
        let current = hash.get(entry).copied().unwrap_or(0);
        if current >= limit {
            return Ok(LimitedCount {
                success: false,
                value: current,
            });
        }
        let value = current.saturating_add(1);
        hash.insert(entry.to_owned(), value);
        Ok(LimitedCount {
            success: true,
            value,
        })
    }

    async fn limited_release(&self, key: &str, entry: &str) -> Result<LimitedCount> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        map.tick(now);
        if let Some(Entry {
            slot: Slot::Hash(h),
            ..
        }) = map.live(key, now)
            && let Some(v) = h.get_mut(entry)
            && *v >= 1
        {
            *v -= 1;
            return Ok(LimitedCount {
                success: true,
                value: *v,
            });
        }
        Ok(LimitedCount {
            success: true,
            value: 0,
        })
    }

    async fn limited_get(&self, key: &str, entry: &str) -> Result<i64> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        Ok(match map.live(key, now) {
            Some(Entry {
                slot: Slot::Hash(h),
                ..
            }) => h.get(entry).copied().unwrap_or(0),
            _ => 0,
        })
    }

    async fn cached_counter(
        &self,
        key: &str,
        increment: i64,
        ttl: Duration,
    ) -> Result<Option<i64>> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        map.tick(now);
        match map.live(key, now) {
            Some(e) => {
                let sum = match &e.slot {
                    Slot::Int(v) => v.saturating_add(increment),
                    // Redis INCRBY on a hash fails; treat the cache as unusable and drop it.
                    Slot::Hash(_) => {
                        map.keys.remove(key);
                        return Ok(None);
                    }
                };
                e.slot = Slot::Int(sum);
                e.expires = Some(now + ttl);
                Ok(Some(sum))
            }
            None => Ok(None),
        }
    }

    async fn set(&self, key: &str, value: i64, ttl: Duration) -> Result<()> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        map.tick(now);
        map.keys.insert(
            key.to_owned(),
            Entry {
                slot: Slot::Int(value),
                expires: Some(now + ttl),
            },
        );
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<i64>> {
        let now = Instant::now();
        Ok(lock(&self.map).int(key, now))
    }

    async fn clear(&self, key: &str) -> Result<()> {
        lock(&self.map).keys.remove(key);
        Ok(())
    }
}

/// In-process [`Locks`]: a mutex-protected map of holder tokens with expiry.
#[derive(Debug, Default)]
pub struct LocalLocks {
    held: Mutex<HashMap<String, (i64, Instant)>>,
    next_token: AtomicI64,
}

impl LocalLocks {
    /// No locks held.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Locks for LocalLocks {
    async fn acquire(&self, name: &str, ttl: Duration) -> Result<Option<LockGuard>> {
        let now = Instant::now();
        let mut held = lock(&self.held);
        if held.get(name).is_some_and(|(_, at)| *at > now) {
            return Ok(None);
        }
        if held.len() >= SWEEP_EVERY as usize {
            held.retain(|_, (_, at)| *at > now);
        }
        let token = self
            .next_token
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        held.insert(name.to_owned(), (token, now + ttl));
        Ok(Some(LockGuard::new(name, token)))
    }

    async fn extend(&self, guard: &LockGuard, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut held = lock(&self.held);
        match held.get_mut(guard.name()) {
            Some((token, at)) if *token == guard.token() && *at > now => {
                *at = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, guard: LockGuard) -> Result<bool> {
        let now = Instant::now();
        let mut held = lock(&self.held);
        match held.get(guard.name()) {
            Some((token, at)) if *token == guard.token() => {
                let live = *at > now;
                held.remove(guard.name());
                Ok(live)
            }
            _ => Ok(false),
        }
    }
}
