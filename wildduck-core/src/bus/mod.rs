//! Coordination between instances: change notifications, counters and locks.
//!
//! Three object-safe traits, held as `Arc<dyn …>` by the services:
//!
//! - [`Notifier`] — "something changed for user X" (WildDuck's `wd_events` channel, inventory §4.8).
//! - [`Counters`] — rate-limit counters with a TTL window, the per-user connection counter, and the
//!   cached mailbox counters (WildDuck's Lua counters, inventory §4.9).
//! - [`Locks`] — named locks with a TTL, released only by their holder.
//!
//! Two implementations with the same observable semantics:
//!
//! - [`redis`] (feature `scale-out`, on by default): Redis pub/sub and Lua scripts, with WildDuck's channel,
//!   payload, key layout and script semantics, so a WildDuck 1.50 process and ours see each other's events,
//!   share rate limits and exclude each other from the same locks.
//! - [`local`]: in-process (tokio broadcast, a mutex-protected map with expiry) for the embedded backend,
//!   where one process owns the data.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::Result;

pub mod local;
#[cfg(feature = "scale-out")]
pub mod redis;

/// WildDuck's pub/sub channel for change notifications.
pub const EVENTS_CHANNEL: &str = "wd_events";

/// One change notification as it travels between instances.
///
/// On the wire (Redis) it is WildDuck's JSON: `{"e":"<userId>"}`, or `{"e":"<userId>","p":<payload>}` when
/// a payload is given; ours add `"o":"<session id>"` when the change came from a session (WildDuck
/// reads only `e` and `p`, so it ignores the field; its own events have none).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The user whose data changed (the hex ObjectId string in the MongoDB backend).
    pub user: String,
    /// WildDuck's `p`: an action for the listeners (e.g. a command for live sessions). `None` for the
    /// common "new journal entries" event.
    pub payload: Option<Value>,
    /// The session whose change this announces (the `ignore` of its journal entries): that
    /// session already told its client and need not read the journal for it. `None`: anyone's.
    pub origin: Option<String>,
}

impl Notification {
    /// Encodes WildDuck's wire form. The field order (`e` first) and the absence of whitespace matter:
    /// WildDuck's subscriber has a fast path for exactly `{"e":"<24 hex>"}`.
    pub fn to_wire(&self) -> String {
        let mut obj = serde_json::Map::new();
        obj.insert("e".to_owned(), Value::String(self.user.clone()));
        if let Some(p) = &self.payload {
            obj.insert("p".to_owned(), p.clone());
        }
        if let Some(o) = &self.origin {
            obj.insert("o".to_owned(), Value::String(o.clone()));
        }
        Value::Object(obj).to_string()
    }

    /// Decodes WildDuck's wire form; `None` for anything that is not an object with a string `e`
    /// (WildDuck ignores such messages too). A JSON `null` payload counts as no payload, because
    /// WildDuck treats a falsy `p` as a plain change event.
    pub fn from_wire(message: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(message).ok()?;
        let obj = value.as_object()?;
        let user = obj.get("e")?.as_str()?;
        if user.is_empty() {
            return None;
        }
        let payload = match obj.get("p") {
            None | Some(Value::Null) => None,
            Some(p) => Some(p.clone()),
        };
        let origin = obj
            .get("o")
            .and_then(Value::as_str)
            .filter(|o| !o.is_empty())
            .map(str::to_owned);
        Some(Self {
            user: user.to_owned(),
            payload,
            origin,
        })
    }
}

/// What a [`Subscription`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum BusEvent {
    /// A notification for one user.
    Notify(Notification),
    /// This subscriber fell behind (or the connection to the bus was re-established) and some events
    /// may have been lost: every listener should re-check its state (e.g. re-read the journal).
    Missed,
}

/// A receiver of every notification published on the bus (by this instance or any other).
///
/// Listeners that act on events (e.g. read the journal) should drain what is pending with
/// [`Subscription::try_recv`] before acting: that coalesces bursts (WildDuck debounces per user for the same
/// reason).
pub struct Subscription {
    rx: tokio::sync::broadcast::Receiver<BusEvent>,
    /// Events set aside while coalescing (see [`Subscription::recv_coalesced`]).
    stash: std::collections::VecDeque<BusEvent>,
}

/// How long a burst of plain change events is held back for coalescing (WildDuck: 100 ms) …
pub const COALESCE_QUIET: Duration = Duration::from_millis(100);
/// … but never longer than this from the first event of the burst (WildDuck: 1 s).
pub const COALESCE_MAX: Duration = Duration::from_secs(1);

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("pending", &self.rx.len())
            .finish()
    }
}

impl Subscription {
    /// Wraps a broadcast receiver; backends create subscriptions through this (and send
    /// [`BusEvent::Missed`] themselves when they lose events, e.g. on reconnecting).
    pub fn new(rx: tokio::sync::broadcast::Receiver<BusEvent>) -> Self {
        Self {
            rx,
            stash: std::collections::VecDeque::new(),
        }
    }

    /// Waits for the next event. `None` once the notifier is gone (shut down).
    pub async fn recv(&mut self) -> Option<BusEvent> {
        match self.stash.pop_front() {
            Some(ev) => Some(ev),
            None => self.recv_raw().await,
        }
    }

    /// The next event from the channel itself, bypassing the stash.
    async fn recv_raw(&mut self) -> Option<BusEvent> {
        use tokio::sync::broadcast::error::RecvError;
        match self.rx.recv().await {
            Ok(ev) => Some(ev),
            Err(RecvError::Lagged(_)) => Some(BusEvent::Missed),
            Err(RecvError::Closed) => None,
        }
    }

    /// The next event if one is already waiting, without blocking.
    pub fn try_recv(&mut self) -> Option<BusEvent> {
        use tokio::sync::broadcast::error::TryRecvError;
        if let Some(ev) = self.stash.pop_front() {
            return Some(ev);
        }
        match self.rx.try_recv() {
            Ok(ev) => Some(ev),
            Err(TryRecvError::Lagged(_)) => Some(BusEvent::Missed),
            Err(TryRecvError::Empty | TryRecvError::Closed) => None,
        }
    }

    /// Waits until an event concerns `user` (or events were missed, which may concern anyone).
    /// `None` once the notifier is gone.
    pub async fn recv_for(&mut self, user: &str) -> Option<BusEvent> {
        while let Some(ev) = self.stash.pop_front() {
            if matches!(&ev, BusEvent::Notify(n) if n.user != user) {
                continue;
            }
            return Some(ev);
        }
        self.recv_raw_for(user).await
    }

    /// [`Subscription::recv_for`] on the channel itself, bypassing the stash.
    async fn recv_raw_for(&mut self, user: &str) -> Option<BusEvent> {
        loop {
            match self.recv_raw().await? {
                BusEvent::Notify(n) if n.user != user => continue,
                ev => return Some(ev),
            }
        }
    }

    /// Like [`Subscription::recv_for`], debounced as WildDuck's subscriber does: a plain change event
    /// (no payload) is held until no further plain event for `user` arrives for [`COALESCE_QUIET`], at most
    /// [`COALESCE_MAX`], and the burst is delivered as one event. Events with a payload and
    /// [`BusEvent::Missed`] are never merged or dropped: those arriving during a burst come on the next
    /// calls, in order.
    /// A burst of changes from different sessions is delivered without an origin.
    pub async fn recv_coalesced(&mut self, user: &str) -> Option<BusEvent> {
        let mut first = self.recv_for(user).await?;
        let BusEvent::Notify(Notification { payload: None, .. }) = &first else {
            return Some(first);
        };
        let hard = tokio::time::Instant::now() + COALESCE_MAX;
        loop {
            let wait = (tokio::time::Instant::now() + COALESCE_QUIET).min(hard);
            match tokio::time::timeout_at(wait, self.recv_raw_for(user)).await {
                Ok(Some(BusEvent::Notify(Notification {
                    payload: None,
                    origin,
                    ..
                }))) => {
                    if let BusEvent::Notify(n) = &mut first
                        && n.origin != origin
                    {
                        n.origin = None;
                    }
                }
                Ok(Some(other)) => self.stash.push_back(other),
                // Closed or quiet: deliver the burst now.
                Ok(None) | Err(_) => return Some(first),
            }
        }
    }
}

/// Change notifications between sessions and instances (WildDuck's `ImapNotifier.fire` and its
/// subscriber).
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Tells every subscriber (on every instance) that something changed for `user`. With a payload,
    /// the event carries an action for the listeners (WildDuck's `p`).
    async fn publish(&self, user: &str, payload: Option<Value>) -> Result<()>;

    /// A plain change event for `user` caused by `origin` (a session id; see
    /// [`Notification::origin`]). The default drops the origin.
    async fn publish_change(&self, user: &str, origin: Option<&str>) -> Result<()> {
        let _ = origin;
        self.publish(user, None).await
    }

    /// A new receiver of every event published from now on.
    fn subscribe(&self) -> Subscription;
}

/// Result of a TTL-window counter step (WildDuck's `ttlcounter`: `{success, value, ttl}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlCount {
    /// `false` when the counter was already at or above the limit: nothing was added.
    pub success: bool,
    /// The counter value after this step (or the current value when refused or only checked).
    pub value: i64,
    /// Seconds until the window resets; `-1` if the key has no expiry, `-2` or `0` if it does not exist.
    pub ttl: i64,
}

/// Result of a limited-counter step (WildDuck's `limitedcounter`: `{success, value}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitedCount {
    /// `false` when the entry was already at the limit: nothing was added.
    pub success: bool,
    /// The entry's count after this step.
    pub value: i64,
}

/// Counters shared by all instances: rate limits, connection limits and cached mailbox counts.
///
/// Key names are WildDuck's (inventory §4.9), e.g. `idw:<user>` for IMAP download bytes, `auth_user:<id>`
/// for authentication failures, `lim:imap` for connections per user, `total:<mailbox>`.
#[async_trait]
pub trait Counters: Send + Sync + fmt::Debug {
    /// WildDuck's `ttlcounter`: if the counter is already `>= limit`, refuses (`success: false`) and changes
    /// nothing. Otherwise adds `increment` (which may overshoot the limit: the check is before the add,
    /// as in WildDuck) and starts the `window` when the counter was zero. `increment <= 0` only reads.
    /// A `limit <= 0` means "no limit configured": succeeds with value 0 and touches nothing (as
    /// WildDuck's `asyncTTLCounter` with a falsy `max`).
    async fn ttl_counter(
        &self,
        key: &str,
        increment: i64,
        limit: i64,
        window: Duration,
    ) -> Result<TtlCount>;

    /// Checks a TTL counter against `limit` without adding to it.
    async fn ttl_counter_check(&self, key: &str, limit: i64, window: Duration) -> Result<TtlCount> {
        self.ttl_counter(key, 0, limit, window).await
    }

    /// WildDuck's `limitedcounter` acquire: in the hash `key` (e.g. `lim:imap`), adds one to `entry` (e.g. the
    /// user id) unless it already is `>= limit`. Returns whether a slot was taken.
    ///
    /// As in WildDuck, each process has a version (its start time); the first call from a newer process
    /// wipes the hash, so counts leaked by a crashed process do not lock users out forever.
    async fn limited_acquire(&self, key: &str, entry: &str, limit: i64) -> Result<LimitedCount>;

    /// Gives back one slot of `entry` taken by [`Counters::limited_acquire`]; never goes below zero.
    async fn limited_release(&self, key: &str, entry: &str) -> Result<LimitedCount>;

    /// The current count of `entry` in the limited counter `key`.
    async fn limited_get(&self, key: &str, entry: &str) -> Result<i64>;

    /// WildDuck's `cachedcounter` (mailbox `total:`/`unseen:` caches): if `key` exists, adds `increment`,
    /// extends its life to `ttl` and returns the sum; if it does not exist returns `None` and creates
    /// nothing (the cache is then rebuilt from the database by whoever reads it).
    async fn cached_counter(&self, key: &str, increment: i64, ttl: Duration)
    -> Result<Option<i64>>;

    /// Sets a plain counter value with a lifetime (used to seed a cached counter after a recount).
    async fn set(&self, key: &str, value: i64, ttl: Duration) -> Result<()>;

    /// The plain value of a counter key (TTL counter or cached counter); `None` if absent or expired.
    async fn get(&self, key: &str) -> Result<Option<i64>>;

    /// Deletes a counter key of any kind (e.g. `lim:imap` at start-up, a user's counters on delete).
    async fn clear(&self, key: &str) -> Result<()>;
}

/// Small shared records with a lifetime (Redis hashes with an expiry). The API keeps its access
/// tokens here as WildDuck does (`tn:token:<sha256 of the token>`), so a token issued by one
/// instance (or by WildDuck) works on every other one.
#[async_trait]
pub trait KeyValue: Send + Sync + fmt::Debug {
    /// Writes `fields` into the hash `key` (other fields are kept) and sets its lifetime to `ttl`,
    /// in one atomic step (WildDuck: `MULTI HMSET EXPIRE`).
    async fn hash_set(&self, key: &str, fields: &[(&str, String)], ttl: Duration) -> Result<()>;
    /// Every field of the hash `key`; empty when it is absent or expired.
    async fn hash_get_all(&self, key: &str) -> Result<std::collections::HashMap<String, String>>;
    /// Sets the lifetime of `key` to `ttl` from now; `false` when it is absent.
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool>;
    /// Deletes `key`; `false` when it was absent.
    async fn delete(&self, key: &str) -> Result<bool>;
}

/// Proof of holding a lock, returned by [`Locks::acquire`]. Give it back with [`Locks::release`]; if it is
/// dropped instead, the lock expires after its TTL.
#[derive(Debug, PartialEq, Eq)]
pub struct LockGuard {
    name: String,
    token: i64,
}

impl LockGuard {
    /// Backends create guards through this: `token` must identify this holding uniquely (it is what
    /// release compares).
    pub fn new(name: impl Into<String>, token: i64) -> Self {
        Self {
            name: name.into(),
            token,
        }
    }

    /// The lock's name as given to [`Locks::acquire`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The holder's token (ioredfour's lock index in the Redis backend).
    pub fn token(&self) -> i64 {
        self.token
    }
}

/// Named locks with a TTL, shared by all instances.
///
/// A name is `<namespace>:<id>` as in WildDuck's ioredfour locks, e.g. `mail:mbwr:<mailbox>` (expunge/move),
/// `wildduck:db_indexes` (index set-up), `wildduck:gs.<hash>` (attachment upload). A name without `:`
/// lives in ioredfour's default namespace `lock`. The Redis backend uses ioredfour's key layout, so a
/// WildDuck process and ours exclude each other.
#[async_trait]
pub trait Locks: Send + Sync + fmt::Debug {
    /// Takes the lock unless someone holds it. `None` when it is held (by anyone, including this
    /// instance). The lock expires after `ttl` if not released or extended.
    async fn acquire(&self, name: &str, ttl: Duration) -> Result<Option<LockGuard>>;

    /// Pushes the expiry of a held lock to `ttl` from now. `false` if the guard no longer holds it
    /// (expired, and maybe taken by someone else).
    async fn extend(&self, guard: &LockGuard, ttl: Duration) -> Result<bool>;

    /// Releases the lock if `guard` still holds it (compare-and-delete). `true` if this released it;
    /// `false` if it had expired or belongs to a newer holder, who keeps it.
    async fn release(&self, guard: LockGuard) -> Result<bool>;
}

/// Splits a lock name into ioredfour's namespace and id (`"mail:mbwr:x"` → `("mail", "mbwr:x")`).
pub fn split_lock_name(name: &str) -> (&str, &str) {
    match name.split_once(':') {
        Some((ns, id)) if !ns.is_empty() => (ns, id),
        _ => ("lock", name),
    }
}

/// Rounds a duration to whole seconds for Redis `EXPIRE`, never below one second (zero would delete the
/// key at once, which no caller means).
pub(crate) fn whole_seconds(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() >= 500_000_000);
    i64::try_from(secs.max(1)).unwrap_or(i64::MAX)
}

/// Milliseconds for Redis `PEXPIRE`, never below one.
pub(crate) fn whole_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis().max(1)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_matches_wildduck() {
        let n = Notification {
            user: "5a1c0ee490a34c67e266931c".to_owned(),
            payload: None,
            origin: None,
        };
        let wire = n.to_wire();
        assert_eq!(wire, r#"{"e":"5a1c0ee490a34c67e266931c"}"#);
        // WildDuck's fast path expects exactly 32 characters for a bare event.
        assert_eq!(wire.len(), 32);
        assert_eq!(Notification::from_wire(&wire), Some(n));

        let with_p = Notification {
            user: "u1".to_owned(),
            payload: Some(serde_json::json!({"cmd": "logout"})),
            origin: None,
        };
        assert_eq!(with_p.to_wire(), r#"{"e":"u1","p":{"cmd":"logout"}}"#);
        assert_eq!(Notification::from_wire(&with_p.to_wire()), Some(with_p));
    }

    #[test]
    fn origin_travels_and_wildduck_events_have_none() {
        let n = Notification {
            user: "u1".to_owned(),
            payload: None,
            origin: Some("sess1".to_owned()),
        };
        assert_eq!(n.to_wire(), r#"{"e":"u1","o":"sess1"}"#);
        assert_eq!(Notification::from_wire(&n.to_wire()), Some(n));
        let wildduck = Notification::from_wire(r#"{"e":"u1"}"#).map(|n| n.origin);
        assert_eq!(wildduck, Some(None));
    }

    #[tokio::test]
    async fn a_burst_from_two_sessions_loses_its_origin() {
        let notifier = local::LocalNotifier::new();
        let mut own = notifier.subscribe();
        let mut mixed = notifier.subscribe();
        notifier.publish_change("u", Some("a")).await.unwrap();
        notifier.publish_change("u", Some("a")).await.unwrap();
        let Some(BusEvent::Notify(n)) = own.recv_coalesced("u").await else {
            panic!("no event");
        };
        assert_eq!(n.origin.as_deref(), Some("a"));
        notifier.publish_change("u", Some("b")).await.unwrap();
        // `mixed` sees a, a, b as one burst: nobody may skip it.
        let Some(BusEvent::Notify(n)) = mixed.recv_coalesced("u").await else {
            panic!("no event");
        };
        assert_eq!(n.origin, None);
    }

    #[test]
    fn bad_wire_input_is_ignored() {
        for bad in [
            "",
            "null",
            "[]",
            "{}",
            r#"{"e":1}"#,
            r#"{"e":""}"#,
            "{\"e\":",
            "\u{0}",
        ] {
            assert_eq!(Notification::from_wire(bad), None, "{bad:?}");
        }
        assert_eq!(
            Notification::from_wire(r#"{"p":null,"e":"x"}"#),
            Some(Notification {
                user: "x".to_owned(),
                payload: None,
                origin: None
            })
        );
    }

    #[test]
    fn lock_names_split_like_ioredfour() {
        assert_eq!(split_lock_name("mail:mbwr:abc"), ("mail", "mbwr:abc"));
        assert_eq!(
            split_lock_name("wildduck:db_indexes"),
            ("wildduck", "db_indexes")
        );
        assert_eq!(split_lock_name("plain"), ("lock", "plain"));
        assert_eq!(split_lock_name(":x"), ("lock", ":x"));
    }

    #[test]
    fn durations_round_sensibly() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1499)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(86400)), 86400);
        assert_eq!(whole_millis(Duration::ZERO), 1);
        assert_eq!(whole_millis(Duration::from_secs(2)), 2000);
    }
}
