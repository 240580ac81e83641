//! The use cases. Every invariant (username and path rules, quota, UID/MODSEQ order, journal and
//! notification after each change, ownership checks) is kept here once, over the [`Backend`] traits.

use std::sync::Arc;

use crate::bus::{Counters, KeyValue, Locks, Notifier};
use crate::model::UserId;
use crate::store::Backend;
use crate::{Error, ErrorKind};

pub mod address_register;
pub mod addresses;
pub mod api_users;
pub mod archive;
pub mod asps;
pub mod authlog;
pub mod clear_folder;
pub mod expiry;
mod fetch;
pub mod forwarded;
pub mod listing;
pub mod login;
pub mod mailboxes;
pub mod messages;
pub mod pop3;
pub mod search;
pub mod tasks;
pub mod threads;
pub mod updates;
pub mod users;
pub mod view;

/// Tunables of the services (WildDuck's defaults).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// bcrypt cost for new password hashes (WildDuck: 11).
    pub bcrypt_cost: u32,
    /// Quota for users whose `quota` is 0 (WildDuck `const:max:storage`: 1 GiB).
    pub default_quota: u64,
    /// Most mailboxes a user may have (1500).
    pub max_mailboxes: u64,
    /// The domain of the address a user created without one gets (WildDuck `emailDomain`);
    /// `None` = the host name, as WildDuck's `os.hostname()`.
    pub email_domain: Option<String>,
    /// How long deleted messages stay in the archive before they are purged (WildDuck
    /// `const:archive:time`: 25 days). Zero keeps no archive: deletes remove at once.
    pub archive_time: std::time::Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            archive_time: archive::ARCHIVE_TIME,
            bcrypt_cost: crate::auth::password::DEFAULT_BCRYPT_COST,
            default_quota: 1024 * 1024 * 1024,
            max_mailboxes: 1500,
            email_domain: None,
        }
    }
}

/// The services over one backend and one notifier. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Services {
    backend: Backend,
    notifier: Option<Arc<dyn Notifier>>,
    config: ServiceConfig,
    /// Mailbox write locks (`mbwr:<mailbox>`) shared with other instances; `None` = no locking
    /// (one process owns the data).
    locks: Option<Arc<dyn Locks>>,
    /// Rate-limit counters (`auth_user:<id>`, `pdw:<user>`, …): in-process unless replaced with
    /// shared ones through [`Services::with_counters`].
    counters: Arc<dyn Counters>,
    /// Told the outcome of every protocol login (metrics); see [`Services::with_login_observer`].
    login_observer: Option<Arc<dyn login::LoginObserver>>,
    /// Hashes with a lifetime (the API's access tokens): in-process unless replaced through
    /// [`Services::with_kv`].
    kv: Arc<dyn KeyValue>,
    /// Correspondents waiting for their address-register write.
    register: Arc<address_register::RegisterBuffer>,
    /// Login success entries waiting for their authlog write, merged meanwhile.
    authlog_queue: Arc<authlog::AuthLogQueue>,
}

impl Services {
    /// `NotFound` unless `mailbox` (a document the caller loaded) is `user`'s: every use case
    /// that takes a loaded mailbox checks this first.
    pub(crate) fn own(user: UserId, mailbox: &crate::model::Mailbox) -> crate::Result<()> {
        if mailbox.user == user {
            Ok(())
        } else {
            Err(Error::not_found("no such mailbox"))
        }
    }

    /// Services over `backend`; changes are announced through `notifier` when one is given.
    pub fn new(
        backend: Backend,
        notifier: Option<Arc<dyn Notifier>>,
        config: ServiceConfig,
    ) -> Self {
        Self {
            backend,
            notifier,
            config,
            locks: None,
            counters: Arc::new(crate::bus::local::LocalCounters::new()),
            login_observer: None,
            kv: Arc::new(crate::bus::local::LocalKv::new()),
            register: Arc::default(),
            authlog_queue: Arc::default(),
        }
    }

    /// The same services, taking WildDuck's mailbox write lock (`mbwr:<mailbox>`) through `locks`
    /// around EXPUNGE and MOVE, so instances (and WildDuck itself) never run them concurrently on
    /// one mailbox.
    pub fn with_locks(mut self, locks: Arc<dyn Locks>) -> Self {
        self.locks = Some(locks);
        self
    }

    /// The same services, counting rate limits (login failures, download bytes) in `counters`
    /// (e.g. Redis, so every instance and WildDuck share them) instead of in-process.
    pub fn with_counters(mut self, counters: Arc<dyn Counters>) -> Self {
        self.counters = counters;
        self
    }

    /// The same services, keeping short-lived records (API access tokens) in `kv` (e.g. Redis,
    /// so every instance and WildDuck share them) instead of in-process.
    pub fn with_kv(mut self, kv: Arc<dyn KeyValue>) -> Self {
        self.kv = kv;
        self
    }

    /// The short-lived record store (API access tokens).
    pub fn kv(&self) -> &Arc<dyn KeyValue> {
        &self.kv
    }

    /// The same services, telling `observer` the outcome of every [`Services::login`] (e.g. a
    /// daemon's authentication counters).
    pub fn with_login_observer(mut self, observer: Arc<dyn login::LoginObserver>) -> Self {
        self.login_observer = Some(observer);
        self
    }

    /// The change notifier, if any (protocol servers subscribe to wake their live sessions).
    pub fn notifier(&self) -> Option<&Arc<dyn Notifier>> {
        self.notifier.as_ref()
    }

    /// The rate-limit counters.
    pub fn counters(&self) -> &Arc<dyn Counters> {
        &self.counters
    }

    /// The backend (for adapters' read paths that need a primitive directly).
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// One read against the storage, for health checks: a lookup of an id that cannot exist
    /// exercises the database round trip without touching data.
    pub async fn check_storage(&self) -> crate::Result<()> {
        self.backend.users.get_user(UserId::new()).await.map(|_| ())
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Announces a change for `user`. A notifier failure is logged, not returned: the change is
    /// stored and the journal holds it; listeners catch up on their next poll.
    pub(crate) async fn notify(&self, user: UserId) {
        if let Some(n) = &self.notifier
            && let Err(e) = n.publish(&user.to_string(), None).await
        {
            tracing::warn!(%user, error = %e, "change notification failed");
        }
    }
}

pub(crate) fn already_exists(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::AlreadyExists, msg)
}
