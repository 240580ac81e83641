//! `Services` on either deployment, for the protocol crates' tests: the embedded SQLite store in a
//! temporary directory, or MongoDB + Redis from this crate's servers (a fresh database per call).

use std::sync::Arc;

use wildduck_core::bus::Notifier;
use wildduck_core::bus::local::LocalNotifier;
use wildduck_core::bus::redis::RedisBus;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::mongo::MongoStore;
use wildduck_core::store::sqlite::SqliteStore;

/// Which storage deployment a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The embedded SQLite backend.
    Sqlite,
    /// MongoDB + Redis in WildDuck's layout.
    Mongo,
}

/// Both deployments, for tests that run once on each.
pub const BOTH: [Kind; 2] = [Kind::Sqlite, Kind::Mongo];

/// How the services are built.
#[derive(Debug, Clone)]
pub struct EnvOptions {
    /// The services' configuration (tests default to bcrypt cost 4, so logins stay fast).
    pub config: ServiceConfig,
    /// On SQLite, give the services the in-process notifier (IDLE and live-update tests need it;
    /// without it the services run as an embedder that polls). MongoDB always gets Redis's.
    pub sqlite_notifier: bool,
}

impl Default for EnvOptions {
    fn default() -> Self {
        Self {
            config: ServiceConfig {
                bcrypt_cost: 4,
                ..Default::default()
            },
            sqlite_notifier: false,
        }
    }
}

/// Services plus whatever must live as long as they do (the temporary directory, the store, the bus).
pub struct Env {
    /// The services under test.
    pub services: Services,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

/// Services on `kind` with [`EnvOptions::default`].
pub async fn env(kind: Kind) -> Env {
    env_with(kind, EnvOptions::default()).await
}

/// Services on `kind` as `options` say. Panics (the test fails) when a backend cannot start.
pub async fn env_with(kind: Kind, options: EnvOptions) -> Env {
    let EnvOptions {
        config,
        sqlite_notifier,
    } = options;
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = SqliteStore::open(dir.path().join("mail.db"))
                .await
                .expect("open sqlite");
            let notifier: Option<Arc<dyn Notifier>> = if sqlite_notifier {
                Some(Arc::new(LocalNotifier::new()))
            } else {
                None
            };
            let services = Services::new(store.backend(), notifier, config);
            Env {
                services,
                _keep: Box::new((dir, store)),
            }
        }
        Kind::Mongo => {
            let store = MongoStore::connect(&crate::mongodb_url().await, &crate::unique_db_name())
                .await
                .expect("connect mongo");
            store.ensure_indexes(None).await.expect("indexes");
            let bus = RedisBus::connect(&crate::redis_url().await)
                .await
                .expect("redis");
            let services = Services::new(store.backend(), Some(bus.notifier.clone()), config)
                .with_locks(bus.locks.clone())
                .with_counters(bus.counters.clone())
                .with_kv(bus.kv.clone());
            Env {
                services,
                _keep: Box::new((store, bus)),
            }
        }
    }
}

/// Appends `raw` with `flags` (e.g. `["\\Seen"]`) to `user`'s `mailbox` (by path) through the
/// services, not over a protocol: how a test puts messages in place.
pub async fn put(
    services: &Services,
    user: &wildduck_core::model::User,
    mailbox: &str,
    raw: &[u8],
    flags: &[&str],
) {
    let mb = services
        .find_mailbox(user.id, mailbox)
        .await
        .expect("mailbox");
    services
        .append(
            user.id,
            mb.id,
            wildduck_core::service::messages::AppendRequest {
                raw,
                flags: wildduck_core::model::Flags::parse(flags.iter().copied()).expect("flags"),
                ..Default::default()
            },
        )
        .await
        .expect("append");
}
