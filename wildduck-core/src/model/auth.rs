//! Application-specific passwords (`asps`) and the authentication log (`authlog`), as WildDuck
//! keeps them (inventory §4.2, §6).

use super::{ObjectId, Timestamp, UserId};

/// A temporary password set by a password reset (WildDuck `tempPassword`): valid for the
/// master scope only, from `valid_after` until [`TEMP_PASSWORD_WINDOW_MS`] after `created`;
/// logging in with it asks the client to change the password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TempPassword {
    /// Password hash.
    pub password: String,
    /// When it was set.
    pub created: Timestamp,
    /// Not usable before this.
    pub valid_after: Timestamp,
}

/// How long a temporary password may be used after it was set (WildDuck `TEMP_PASS_WINDOW`).
pub const TEMP_PASSWORD_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// An application-specific password: a generated password for one client, limited to scopes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Asp {
    /// Id (`_id`).
    pub id: ObjectId,
    /// Owner.
    pub user: UserId,
    /// What the user called it.
    pub description: String,
    /// `imap`, `pop3`, `smtp` (sorted), or `["*"]` for all.
    pub scopes: Vec<String>,
    /// Password hash.
    pub password: String,
    /// One hex digit derived from the password, so a login checks only the hashes that may match.
    pub selector: String,
    /// Last successful use (`false` in WildDuck until first used).
    pub used: Option<Timestamp>,
    /// The authlog entry of the last use.
    pub auth_event: Option<ObjectId>,
    /// Client address of the last use.
    pub auth_ip: Option<String>,
    /// Creation time.
    pub created: Timestamp,
    /// Lifetime in seconds, extended on every use (`None` = permanent).
    pub ttl: Option<u64>,
    /// When a temporary password stops working.
    pub expires: Option<Timestamp>,
}

impl Asp {
    /// Whether the password may be used for `scope` (`imap`, `pop3`, `smtp`, `master`).
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == "*" || s == scope)
    }

    /// Whether a temporary password has expired at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// One entry of the authentication log. Similar events (same protocol, address, action, result
/// and target) within [`AUTHLOG_BUCKET_MS`] are merged into one entry with a count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthEvent {
    /// Id (`_id`).
    pub id: ObjectId,
    /// The user concerned.
    pub user: UserId,
    /// `authentication`, `create asp`, `delete asp`, `password change`, `reset`, …
    pub action: String,
    /// `success`, `fail`, `disabled`, `suspended`, …
    pub result: Option<String>,
    /// `IMAP`, `POP3`, `API`, …
    pub protocol: Option<String>,
    /// What was used: `master`, `asp` or `temporary`.
    pub source: Option<String>,
    /// The application-specific password used or concerned.
    pub asp: Option<ObjectId>,
    /// That password's description at the time.
    pub aname: Option<String>,
    /// Whether that password was temporary (`create asp`).
    pub temporary: Option<bool>,
    /// Session id given by the client.
    pub sess: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// The scope asked for.
    pub required_scope: Option<String>,
    /// First event of the bucket.
    pub created: Timestamp,
    /// Last event of the bucket.
    pub last: Timestamp,
    /// Number of events merged into this entry.
    pub events: i64,
    /// MD5 merge key over protocol, ip, action, result and target (16 bytes).
    pub key: Vec<u8>,
    /// When the entry is removed.
    pub expires: Timestamp,
}

/// Merge window of similar authlog events (WildDuck `AUTHLOG_BUCKET`: 6 h).
pub const AUTHLOG_BUCKET_MS: i64 = 6 * 3600 * 1000;

/// Filters of an authlog listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthLogFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this client address.
    pub ip: Option<String>,
}

impl AuthLogFilter {
    /// Whether `event` passes.
    pub fn matches(&self, event: &AuthEvent) -> bool {
        self.action.as_ref().is_none_or(|a| *a == event.action)
            && self
                .ip
                .as_ref()
                .is_none_or(|ip| event.ip.as_deref() == Some(ip.as_str()))
    }
}
