//! The authentication log (WildDuck's `logAuthEvent`): every login attempt and account security
//! event, merged per (protocol, ip, action, result, target) into 6-hour buckets with a count,
//! kept for 30 days.

use std::sync::{Mutex, MutexGuard, PoisonError};

use md5::{Digest as _, Md5};

use super::Services;
use crate::model::{AUTHLOG_BUCKET_MS, AuthEvent, AuthLogFilter, ObjectId, Timestamp, UserId};
use crate::{Error, Result};

/// How long an entry is kept (WildDuck `const:authlog:time`: 30 days).
pub const AUTHLOG_TIME_MS: i64 = 30 * 24 * 3600 * 1000;

/// How long a background entry waits for others to share its write (as the address register's
/// [`super::address_register::REGISTER_DELAY`]): at hundreds of logins a second this turns one
/// commit per login into one per interval.
pub const AUTHLOG_DELAY: std::time::Duration = std::time::Duration::from_millis(20);

/// Most merged entries held for the next background write; past that an entry is written on
/// its own (nothing is dropped).
const MAX_PENDING: usize = 10_000;

/// Entries recorded with [`Services::log_auth_event_in_background`] waiting for their write.
/// One write runs at a time; entries arriving meanwhile wait for the next one, merged by user
/// and merge key as the store would merge them, so a burst of logins to one account costs one
/// write instead of one each (on SQLite each write is a commit, and every commit also empties
/// the reader connections' page caches).
#[derive(Debug, Default)]
pub(crate) struct AuthLogQueue {
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    /// Each event with the start of its merge bucket; `events` counts the merged logins.
    events: Vec<(AuthEvent, Timestamp)>,
    /// A writer task is running (it drains `events` until it finds them empty).
    writing: bool,
}

/// What to log (the `user`, times, count and key are filled in by [`Services::log_auth_event`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthLogEntry {
    /// `authentication` when empty.
    pub action: String,
    /// `success`, `fail`, `disabled`, `suspended`, …
    pub result: Option<String>,
    /// `IMAP`, `POP3`, `API`, …
    pub protocol: Option<String>,
    /// `master`, `asp` or `temporary`.
    pub source: Option<String>,
    /// The application-specific password concerned.
    pub asp: Option<ObjectId>,
    /// Its description.
    pub aname: Option<String>,
    /// Whether that password is temporary.
    pub temporary: Option<bool>,
    /// Client session id.
    pub sess: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Scope asked for.
    pub required_scope: Option<String>,
}

fn lock(m: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    // Nothing panics while holding it; a poisoned queue is still consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// WildDuck's merge key: MD5 over `protocol^ip^action^result^target` (no target in these events).
fn merge_key(e: &AuthLogEntry, action: &str) -> Vec<u8> {
    let parts = [
        e.protocol.as_deref().unwrap_or(""),
        e.ip.as_deref().unwrap_or(""),
        action,
        e.result.as_deref().unwrap_or(""),
        "",
    ];
    Md5::digest(parts.join("^").as_bytes()).to_vec()
}

/// The entry `entry` makes for `user` now, and the start of its merge bucket.
fn new_event(user: UserId, entry: AuthLogEntry) -> (AuthEvent, Timestamp) {
    let now = Timestamp::now();
    let action = if entry.action.is_empty() {
        "authentication".to_string()
    } else {
        entry.action.clone()
    };
    let event = AuthEvent {
        id: ObjectId::new(),
        user,
        key: merge_key(&entry, &action),
        action,
        result: entry.result,
        protocol: entry.protocol,
        source: entry.source,
        asp: entry.asp,
        aname: entry.aname,
        temporary: entry.temporary,
        sess: entry.sess,
        ip: entry.ip,
        required_scope: entry.required_scope,
        created: now,
        last: now,
        events: 1,
        expires: Timestamp(now.0 + AUTHLOG_TIME_MS),
    };
    (event, Timestamp(now.0 - AUTHLOG_BUCKET_MS))
}

impl Services {
    /// Records an event for `user`; returns the id of the entry it was merged into. A store
    /// failure is logged and gives `None`: the log never blocks what it records.
    pub async fn log_auth_event(&self, user: UserId, entry: AuthLogEntry) -> Option<ObjectId> {
        let (event, bucket_start) = new_event(user, entry);
        match self.backend.authlog.log_event(&event, bucket_start).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(%user, error = %e, "authlog write failed");
                None
            }
        }
    }

    /// Records an event without making the caller wait for its write: on a durable embedded
    /// store that write is a commit (an fsync), which would otherwise be most of a successful
    /// login's time. Within a tokio runtime the entry joins the [`AuthLogQueue`]: written at
    /// once when no write is under way, else with the next one, merged with entries of the same
    /// user and merge key that arrived meanwhile (their count added, `last` the latest; bucket
    /// edges are judged by the first). Without a runtime it is awaited here. A failed write is
    /// logged, as in [`Services::log_auth_event`].
    pub async fn log_auth_event_in_background(&self, user: UserId, entry: AuthLogEntry) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.log_auth_event(user, entry).await;
            return;
        };
        let (event, bucket_start) = new_event(user, entry);
        let mut alone = None;
        let start_writer = {
            let mut p = lock(&self.authlog_queue.pending);
            if let Some((merged, _)) = p
                .events
                .iter_mut()
                .find(|(e, _)| e.user == event.user && e.key == event.key)
            {
                merged.events += 1;
                merged.last = event.last;
            } else if p.events.len() < MAX_PENDING {
                p.events.push((event, bucket_start));
            } else {
                alone = Some((event, bucket_start));
            }
            alone.is_none() && !std::mem::replace(&mut p.writing, true)
        };
        let store = self.backend.authlog.clone();
        if let Some(one) = alone {
            handle.spawn(async move {
                if let Err(e) = store.log_merged_events(&[one]).await {
                    tracing::warn!(error = %e, "authlog write failed");
                }
            });
            return;
        }
        if !start_writer {
            return;
        }
        let queue = self.authlog_queue.clone();
        handle.spawn(async move {
            tokio::time::sleep(AUTHLOG_DELAY).await;
            loop {
                let batch = {
                    let mut p = lock(&queue.pending);
                    if p.events.is_empty() {
                        // Cleared under the lock: the next entry starts the next writer.
                        p.writing = false;
                        return;
                    }
                    std::mem::take(&mut p.events)
                };
                if let Err(e) = store.log_merged_events(&batch).await {
                    tracing::warn!(entries = batch.len(), error = %e, "authlog write failed");
                }
            }
        });
    }

    /// `user`'s log entries that pass `filter`, newest first; `NotFound` for an unknown user.
    pub async fn list_auth_events(
        &self,
        user: UserId,
        filter: &AuthLogFilter,
    ) -> Result<Vec<AuthEvent>> {
        self.get_user(user).await?;
        self.backend.authlog.list_events(user, filter).await
    }

    /// One of `user`'s log entries; `NotFound` for an unknown user or entry.
    pub async fn get_auth_event(&self, user: UserId, id: ObjectId) -> Result<AuthEvent> {
        self.get_user(user).await?;
        self.backend
            .authlog
            .get_event(user, id)
            .await?
            .ok_or_else(|| Error::not_found("no such event"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_key_is_md5_of_the_joined_fields() {
        let e = AuthLogEntry {
            protocol: Some("IMAP".into()),
            ip: Some("127.0.0.1".into()),
            result: Some("success".into()),
            ..Default::default()
        };
        let k = merge_key(&e, "authentication");
        assert_eq!(k.len(), 16);
        assert_eq!(
            k,
            Md5::digest(b"IMAP^127.0.0.1^authentication^success^").to_vec()
        );
        assert_ne!(k, merge_key(&e, "create asp"));
    }
}
