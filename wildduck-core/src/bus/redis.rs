//! Redis bus for the scale-out deployment, wire-compatible with WildDuck 1.50:
//!
//! - notifications on channel `wd_events` with payload `{"e":"<user>"[,"p":…]}`;
//! - counters as WildDuck's Lua scripts behave (`ttlcounter`, `limitedcounter` with a per-process version,
//!   `cachedcounter`) — the scripts here are our own, written to the same semantics;
//! - locks in ioredfour's layout (hash `<ns>:<id>` with field `index`, global counter `<ns>index`, release
//!   announced on `<ns>-release`), so WildDuck's lock holders and ours exclude each other.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::ConnectionManager;
use redis::{Client, Script};
use serde_json::Value;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use super::{
    BusEvent, Counters, EVENTS_CHANNEL, KeyValue, LimitedCount, LockGuard, Locks, Notification,
    Notifier, Subscription, TtlCount, split_lock_name, whole_millis, whole_seconds,
};
use crate::{Error, ErrorKind, Result};

/// How many undelivered events a slow subscriber may have before it gets [`BusEvent::Missed`].
const CHANNEL_CAPACITY: usize = 4096;

/// Wait between attempts to re-establish a lost subscription.
const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(500);

fn backend(context: &str, e: redis::RedisError) -> Error {
    Error::new(ErrorKind::Backend, format!("redis {context}: {e}"))
}

/// Opens a Redis client for `url` (`redis://host:port/db`); no connection is made yet.
pub fn client(url: &str) -> Result<Client> {
    Client::open(url).map_err(|e| backend("url", e))
}

/// A connection manager (multiplexed, reconnecting) for `client`.
///
/// Retries are few and commands time out: with Redis down, callers should get an error within about a
/// second (and degrade, e.g. skip a rate limit) rather than hang.
pub async fn connection(client: &Client) -> Result<ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_millis(500))
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    client
        .get_connection_manager_with_config(config)
        .await
        .map_err(|e| backend("connect", e))
}

/// The three bus services over one Redis server.
#[derive(Debug, Clone)]
pub struct RedisBus {
    /// Change notifications.
    pub notifier: Arc<RedisNotifier>,
    /// Counters.
    pub counters: Arc<RedisCounters>,
    /// Locks.
    pub locks: Arc<RedisLocks>,
    /// Hashes with a lifetime (API access tokens).
    pub kv: Arc<RedisKv>,
}

impl RedisBus {
    /// Connects all three services to `url`; returns once the notifier's subscription is active.
    pub async fn connect(url: &str) -> Result<Self> {
        let client = client(url)?;
        let conn = connection(&client).await?;
        let notifier = RedisNotifier::start(client, conn.clone()).await?;
        Ok(Self {
            notifier: Arc::new(notifier),
            counters: Arc::new(RedisCounters::new(conn.clone())),
            kv: Arc::new(RedisKv::new(conn.clone())),
            locks: Arc::new(RedisLocks::new(conn)),
        })
    }
}

/// [`Notifier`] over Redis pub/sub on WildDuck's `wd_events` channel.
///
/// Publishing goes through the shared connection; subscribing needs a dedicated connection, held by a
/// background task that re-subscribes after a connection loss (and tells subscribers
/// [`BusEvent::Missed`], since events published meanwhile are gone).
#[derive(Debug)]
pub struct RedisNotifier {
    conn: ConnectionManager,
    tx: broadcast::Sender<BusEvent>,
    task: JoinHandle<()>,
}

impl Drop for RedisNotifier {
    fn drop(&mut self) {
        // The task owns a clone of the sender; ending it closes every subscription.
        self.task.abort();
    }
}

impl RedisNotifier {
    /// Starts the subscriber on its own connection from `client` and publishes through `conn`. Returns
    /// once the first SUBSCRIBE is confirmed, so an event published anywhere after this returns is seen.
    pub async fn start(client: Client, conn: ConnectionManager) -> Result<Self> {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(subscriber_loop(client, tx.clone(), ready_tx));
        match ready_rx.await {
            Ok(Ok(())) => Ok(Self { conn, tx, task }),
            Ok(Err(e)) => {
                task.abort();
                Err(e)
            }
            Err(_) => {
                task.abort();
                Err(Error::new(ErrorKind::Backend, "redis subscriber ended"))
            }
        }
    }
}

async fn subscribe_once(client: &Client) -> Result<redis::aio::PubSub> {
    let mut pubsub = client
        .get_async_pubsub()
        .await
        .map_err(|e| backend("subscribe connect", e))?;
    pubsub
        .subscribe(EVENTS_CHANNEL)
        .await
        .map_err(|e| backend("subscribe", e))?;
    Ok(pubsub)
}

async fn subscriber_loop(
    client: Client,
    tx: broadcast::Sender<BusEvent>,
    ready: oneshot::Sender<Result<()>>,
) {
    let mut ready = Some(ready);
    loop {
        let pubsub = match subscribe_once(&client).await {
            Ok(p) => p,
            Err(e) => {
                if let Some(r) = ready.take() {
                    // The first attempt decides whether start() succeeds.
                    let _ = r.send(Err(e));
                    return;
                }
                tracing::warn!(error = %e, "redis notifier: re-subscribe failed");
                tokio::time::sleep(RESUBSCRIBE_DELAY).await;
                continue;
            }
        };
        match ready.take() {
            Some(r) => {
                let _ = r.send(Ok(()));
            }
            None => {
                // Reconnected: anything published while we were away is lost.
                let _ = tx.send(BusEvent::Missed);
            }
        }
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let Ok(text) = msg.get_payload::<String>() else {
                continue;
            };
            if let Some(n) = Notification::from_wire(&text) {
                // No subscriber is fine: nobody on this instance listens right now.
                let _ = tx.send(BusEvent::Notify(n));
            }
        }
        tracing::warn!("redis notifier: subscription connection lost, re-subscribing");
        let _ = tx.send(BusEvent::Missed);
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

#[async_trait]
impl Notifier for RedisNotifier {
    async fn publish(&self, user: &str, payload: Option<Value>) -> Result<()> {
        self.publish_wire(Notification {
            user: user.to_owned(),
            payload,
            origin: None,
        })
        .await
    }

    async fn publish_change(&self, user: &str, origin: Option<&str>) -> Result<()> {
        self.publish_wire(Notification {
            user: user.to_owned(),
            payload: None,
            origin: origin.map(str::to_owned),
        })
        .await
    }

    fn subscribe(&self) -> Subscription {
        Subscription::new(self.tx.subscribe())
    }
}

impl RedisNotifier {
    /// Publishes one event on WildDuck's channel.
    async fn publish_wire(&self, n: Notification) -> Result<()> {
        let wire = n.to_wire();
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(EVENTS_CHANNEL)
            .arg(wire)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|e| backend("publish", e))?;
        Ok(())
    }
}

/// WildDuck's ttlcounter semantics: refuse at or above the limit, otherwise add (may overshoot) and start
/// the window when the counter was zero. Returns {success, value, ttl}.
const TTL_COUNTER_LUA: &str = r#"
local current = tonumber(redis.call("GET", KEYS[1])) or 0
local increment = tonumber(ARGV[1]) or 0
local limit = tonumber(ARGV[2]) or 0
local window = tonumber(ARGV[3]) or 0
if current >= limit then
    return {0, current, tonumber(redis.call("TTL", KEYS[1])) or 0}
end
if increment <= 0 then
    return {1, current, tonumber(redis.call("TTL", KEYS[1])) or window}
end
local value = tonumber(redis.call("INCRBY", KEYS[1], increment))
if current == 0 then
    redis.call("EXPIRE", KEYS[1], window)
end
return {1, value, tonumber(redis.call("TTL", KEYS[1])) or 0}
"#;

/// WildDuck's limitedcounter semantics: a hash of per-entry counts plus `_version`; a caller with a newer
/// process version wipes the hash first (stale counts from dead processes). Increment 0 reads, a negative
/// increment releases (never below zero), a positive one is refused at the limit. Returns {success, value}.
const LIMITED_COUNTER_LUA: &str = r#"
local entry = ARGV[1]
local increment = tonumber(ARGV[2]) or 0
local limit = tonumber(ARGV[3]) or 0
local version = tonumber(ARGV[4]) or 0
local stored = tonumber(redis.call("HGET", KEYS[1], "_version")) or 0
if version > stored then
    redis.call("DEL", KEYS[1])
    redis.call("HSET", KEYS[1], "_version", version)
end
local current = tonumber(redis.call("HGET", KEYS[1], entry)) or 0
if increment == 0 then
    return {1, current}
end
if increment < 0 then
    if current < 1 then
        return {1, 0}
    end
    return {1, tonumber(redis.call("HINCRBY", KEYS[1], entry, increment)) or 0}
end
if current >= limit then
    return {0, current}
end
return {1, tonumber(redis.call("HINCRBY", KEYS[1], entry, increment)) or 0}
"#;

/// WildDuck's cachedcounter semantics: only an existing cache is updated (and its life extended).
const CACHED_COUNTER_LUA: &str = r#"
if redis.call("EXISTS", KEYS[1]) == 0 then
    return false
end
local sum = tonumber(redis.call("INCRBY", KEYS[1], tonumber(ARGV[1]) or 0))
redis.call("EXPIRE", KEYS[1], tonumber(ARGV[2]) or 0)
return sum
"#;

/// The version WildDuck's limitedcounter compares: this process's start time in milliseconds, shared by
/// every instance in the process (as WildDuck's module-level `clientVersion`).
fn client_version() -> i64 {
    static VERSION: OnceLock<i64> = OnceLock::new();
    *VERSION.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    })
}

/// [`Counters`] over Redis Lua scripts with WildDuck's semantics and key names.
#[derive(Clone)]
pub struct RedisCounters {
    conn: ConnectionManager,
    ttl_counter: Arc<Script>,
    limited: Arc<Script>,
    cached: Arc<Script>,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters").finish_non_exhaustive()
    }
}

impl RedisCounters {
    /// Counters over `conn` (scripts are loaded on first use, by hash, as EVALSHA with EVAL fallback).
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            conn,
            ttl_counter: Arc::new(Script::new(TTL_COUNTER_LUA)),
            limited: Arc::new(Script::new(LIMITED_COUNTER_LUA)),
            cached: Arc::new(Script::new(CACHED_COUNTER_LUA)),
        }
    }

    async fn limited(
        &self,
        key: &str,
        entry: &str,
        increment: i64,
        limit: i64,
    ) -> Result<LimitedCount> {
        let mut conn = self.conn.clone();
        let (ok, value): (i64, i64) = self
            .limited
            .key(key)
            .arg(entry)
            .arg(increment)
            .arg(limit)
            .arg(client_version())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("limitedcounter", e))?;
        Ok(LimitedCount {
            success: ok != 0,
            value,
        })
    }
}

#[async_trait]
impl Counters for RedisCounters {
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
        let mut conn = self.conn.clone();
        let (ok, value, ttl): (i64, i64, i64) = self
            .ttl_counter
            .key(key)
            .arg(increment)
            .arg(limit)
            .arg(whole_seconds(window))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("ttlcounter", e))?;
        Ok(TtlCount {
            success: ok != 0,
            value,
            ttl,
        })
    }

    async fn limited_acquire(&self, key: &str, entry: &str, limit: i64) -> Result<LimitedCount> {
        self.limited(key, entry, 1, limit).await
    }

    async fn limited_release(&self, key: &str, entry: &str) -> Result<LimitedCount> {
        self.limited(key, entry, -1, 0).await
    }

    async fn limited_get(&self, key: &str, entry: &str) -> Result<i64> {
        // A plain HGET: reading must not wipe another process's counts (the script would, on a version
        // bump).
        let mut conn = self.conn.clone();
        let v: Option<i64> = redis::cmd("HGET")
            .arg(key)
            .arg(entry)
            .query_async(&mut conn)
            .await
            .map_err(|e| backend("hget", e))?;
        Ok(v.unwrap_or(0))
    }

    async fn cached_counter(
        &self,
        key: &str,
        increment: i64,
        ttl: Duration,
    ) -> Result<Option<i64>> {
        let mut conn = self.conn.clone();
        self.cached
            .key(key)
            .arg(increment)
            .arg(whole_seconds(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("cachedcounter", e))
    }

    async fn set(&self, key: &str, value: i64, ttl: Duration) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(whole_millis(ttl))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| backend("set", e))
    }

    async fn get(&self, key: &str) -> Result<Option<i64>> {
        let mut conn = self.conn.clone();
        let v: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| backend("get", e))?;
        Ok(v.and_then(|s| s.trim().parse().ok()))
    }

    async fn clear(&self, key: &str) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(key)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|e| backend("del", e))?;
        Ok(())
    }
}

/// ioredfour-compatible acquire: refuse if the lock key exists, else take the next global index.
const LOCK_ACQUIRE_LUA: &str = r#"
if redis.call("EXISTS", KEYS[1]) == 1 then
    return {0, -1, redis.call("PTTL", KEYS[1])}
end
local index = redis.call("INCR", KEYS[2])
redis.call("HSET", KEYS[1], "index", index)
redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[1]))
return {1, index, tonumber(ARGV[1])}
"#;

/// Extend only while our index holds the lock.
const LOCK_EXTEND_LUA: &str = r#"
if tonumber(redis.call("HGET", KEYS[1], "index")) == tonumber(ARGV[1]) then
    redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[2]))
    return 1
end
return 0
"#;

/// Compare-and-delete; waiters (ioredfour's waitAcquireLock) learn of the release on `<ns>-release`.
const LOCK_RELEASE_LUA: &str = r#"
if redis.call("EXISTS", KEYS[1]) == 0 then
    return 0
end
if tonumber(redis.call("HGET", KEYS[1], "index")) == tonumber(ARGV[1]) then
    redis.call("DEL", KEYS[1])
    redis.call("PUBLISH", ARGV[2], KEYS[1])
    return 1
end
return 0
"#;

/// [`Locks`] in ioredfour's Redis layout.
#[derive(Clone)]
pub struct RedisLocks {
    conn: ConnectionManager,
    acquire: Arc<Script>,
    extend: Arc<Script>,
    release: Arc<Script>,
}

impl std::fmt::Debug for RedisLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLocks").finish_non_exhaustive()
    }
}

impl RedisLocks {
    /// Locks over `conn`.
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            conn,
            acquire: Arc::new(Script::new(LOCK_ACQUIRE_LUA)),
            extend: Arc::new(Script::new(LOCK_EXTEND_LUA)),
            release: Arc::new(Script::new(LOCK_RELEASE_LUA)),
        }
    }
}

/// The Redis key of a lock name (ioredfour: `<ns>:<id>`).
fn lock_key(name: &str) -> String {
    let (ns, id) = split_lock_name(name);
    format!("{ns}:{id}")
}

#[async_trait]
impl Locks for RedisLocks {
    async fn acquire(&self, name: &str, ttl: Duration) -> Result<Option<LockGuard>> {
        let (ns, id) = split_lock_name(name);
        let mut conn = self.conn.clone();
        let (ok, index, _ttl): (i64, i64, i64) = self
            .acquire
            .key(format!("{ns}:{id}"))
            .key(format!("{ns}index"))
            .arg(whole_millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("lock acquire", e))?;
        Ok((ok != 0).then(|| LockGuard::new(name, index)))
    }

    async fn extend(&self, guard: &LockGuard, ttl: Duration) -> Result<bool> {
        let mut conn = self.conn.clone();
        let ok: i64 = self
            .extend
            .key(lock_key(guard.name()))
            .arg(guard.token())
            .arg(whole_millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("lock extend", e))?;
        Ok(ok != 0)
    }

    async fn release(&self, guard: LockGuard) -> Result<bool> {
        let (ns, _) = split_lock_name(guard.name());
        let channel = format!("{ns}-release");
        let mut conn = self.conn.clone();
        let ok: i64 = self
            .release
            .key(lock_key(guard.name()))
            .arg(guard.token())
            .arg(channel)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| backend("lock release", e))?;
        Ok(ok != 0)
    }
}

/// [`KeyValue`] over Redis hashes (plain `HSET`/`HGETALL`/`EXPIRE`/`DEL`, as WildDuck writes its
/// `tn:token:*` records).
#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKv").finish_non_exhaustive()
    }
}

impl RedisKv {
    /// Hashes over `conn`.
    pub fn new(conn: ConnectionManager) -> Self {
        Self { conn }
    }
}

#[async_trait]
impl KeyValue for RedisKv {
    async fn hash_set(&self, key: &str, fields: &[(&str, String)], ttl: Duration) -> Result<()> {
        if fields.is_empty() {
            return self.expire(key, ttl).await.map(|_| ());
        }
        let mut conn = self.conn.clone();
        let mut hset = redis::cmd("HSET");
        hset.arg(key);
        for (k, v) in fields {
            hset.arg(*k).arg(v);
        }
        redis::pipe()
            .atomic()
            .add_command(hset)
            .ignore()
            .cmd("EXPIRE")
            .arg(key)
            .arg(whole_seconds(ttl))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| backend("hset", e))
    }

    async fn hash_get_all(&self, key: &str) -> Result<std::collections::HashMap<String, String>> {
        let mut conn = self.conn.clone();
        redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| backend("hgetall", e))
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let mut conn = self.conn.clone();
        redis::cmd("EXPIRE")
            .arg(key)
            .arg(whole_seconds(ttl))
            .query_async::<i64>(&mut conn)
            .await
            .map(|n| n > 0)
            .map_err(|e| backend("expire", e))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(key)
            .query_async::<i64>(&mut conn)
            .await
            .map(|n| n > 0)
            .map_err(|e| backend("del", e))
    }
}
