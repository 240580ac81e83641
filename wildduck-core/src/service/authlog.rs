//! The authentication log (WildDuck's `logAuthEvent`): every login attempt and account security
//! event, merged per (protocol, ip, action, result, target) into 6-hour buckets with a count,
//! kept for 30 days.

use md5::{Digest as _, Md5};

use super::Services;
use crate::model::{AUTHLOG_BUCKET_MS, AuthEvent, AuthLogFilter, ObjectId, Timestamp, UserId};
use crate::{Error, Result};

/// How long an entry is kept (WildDuck `const:authlog:time`: 30 days).
pub const AUTHLOG_TIME_MS: i64 = 30 * 24 * 3600 * 1000;

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

impl Services {
    /// Records an event for `user`; returns the id of the entry it was merged into. A store
    /// failure is logged and gives `None`: the log never blocks what it records.
    pub async fn log_auth_event(&self, user: UserId, entry: AuthLogEntry) -> Option<ObjectId> {
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
        match self
            .backend
            .authlog
            .log_event(&event, Timestamp(now.0 - AUTHLOG_BUCKET_MS))
            .await
        {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(%user, error = %e, "authlog write failed");
                None
            }
        }
    }

    /// Records an event without making the caller wait for its write: on a durable embedded
    /// store that write is a commit (an fsync), which would otherwise be most of a successful
    /// login's time. Within a tokio runtime the write runs as its own task; without one it is
    /// awaited here. A failed write is logged, as in [`Services::log_auth_event`].
    pub async fn log_auth_event_in_background(&self, user: UserId, entry: AuthLogEntry) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let services = self.clone();
            handle.spawn(async move {
                services.log_auth_event(user, entry).await;
            });
        } else {
            self.log_auth_event(user, entry).await;
        }
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
