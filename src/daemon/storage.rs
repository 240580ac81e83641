//! Storage selection: the embedded SQLite store in the data directory by default, MongoDB + Redis
//! when `[dbs] mongo` is set. Either way the daemon fails before listening if the storage cannot be
//! used.

use std::time::Duration;

use wildduck_core::service::{ServiceConfig, Services};

use super::config::{Config, ConfigError};

/// Open storage and what must stay alive as long as the services are used.
#[derive(Debug)]
pub struct Storage {
    /// The services over it.
    pub services: Services,
    /// One line for the start-up summary ("embedded SQLite at …" / "MongoDB … + Redis …").
    pub description: String,
    _keep: Keep,
}

#[derive(Debug)]
enum Keep {
    Sqlite(#[allow(dead_code)] wildduck_core::store::sqlite::SqliteStore),
    Mongo(
        #[allow(dead_code)] wildduck_core::store::mongo::MongoStore,
        #[allow(dead_code)] wildduck_core::bus::redis::RedisBus,
    ),
}

/// The SQLite file inside the data directory.
pub const SQLITE_FILE: &str = "wildduck.db";

/// Longest wait for MongoDB to answer at start-up (added to the URL unless it sets its own).
const MONGO_SELECT_TIMEOUT_MS: u64 = 5000;

fn service_config(config: &Config) -> ServiceConfig {
    let mut sc = ServiceConfig {
        bcrypt_cost: config.bcrypt_cost,
        email_domain: Some(config.email_domain.trim().to_lowercase()).filter(|d| !d.is_empty()),
        archive_time: std::time::Duration::from_millis(config.archive_time),
        ..Default::default()
    };
    if config.max_storage > 0 {
        sc.default_quota = config.max_storage.saturating_mul(1024 * 1024);
    }
    sc
}

/// Opens what the configuration selects.
pub async fn open(config: &Config) -> Result<Storage, ConfigError> {
    let sc = service_config(config);
    if config.dbs.mongo.is_empty() {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).map_err(|e| {
            ConfigError(format!(
                "config key `dataDir`: cannot create {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(SQLITE_FILE);
        use wildduck_core::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
        let synchronous = match config.dbs.sqlite_sync {
            super::config::SqliteSync::Full => Synchronous::Full,
            super::config::SqliteSync::Optimized => Synchronous::Optimized,
            super::config::SqliteSync::Normal => Synchronous::Normal,
        };
        let options = SqliteOptions {
            synchronous,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open_with(&path, options).await.map_err(|e| {
            ConfigError(format!(
                "config key `dataDir`: cannot open {} ({e}); is another daemon using it?",
                path.display()
            ))
        })?;
        // One process: the in-process bus wakes every session (IDLE, SSE) on each change and
        // serialises EXPUNGE/MOVE per mailbox, as Redis does between instances.
        let services = Services::new(
            store.backend(),
            Some(std::sync::Arc::new(
                wildduck_core::bus::local::LocalNotifier::new(),
            )),
            sc,
        )
        .with_locks(std::sync::Arc::new(
            wildduck_core::bus::local::LocalLocks::new(),
        ));
        return Ok(Storage {
            services,
            description: format!("embedded SQLite at {}", path.display()),
            _keep: Keep::Sqlite(store),
        });
    }
    let mongo_url = with_timeout(&config.dbs.mongo);
    let shown_mongo = redact(&config.dbs.mongo);
    let shown_redis = redact(&config.dbs.redis);
    let db_name = database_name(&config.dbs.mongo);
    let unreachable = |what: &str, url: &str, e: &dyn std::fmt::Display| {
        ConfigError(format!("config key `dbs.{what}`: cannot use {url}: {e}"))
    };
    let store = wildduck_core::store::mongo::MongoStore::connect(&mongo_url, &db_name)
        .await
        .map_err(|e| unreachable("mongo", &shown_mongo, &e))?;
    // The driver connects lazily: ask for something so an unreachable server fails here, naming
    // its URL, before Redis is tried.
    store
        .database()
        .list_collection_names()
        .await
        .map_err(|e| unreachable("mongo", &shown_mongo, &e))?;
    let bus = tokio::time::timeout(
        Duration::from_millis(MONGO_SELECT_TIMEOUT_MS),
        wildduck_core::bus::redis::RedisBus::connect(&config.dbs.redis),
    )
    .await
    .map_err(|_| unreachable("redis", &shown_redis, &"no answer in 5 s"))?
    .map_err(|e| unreachable("redis", &shown_redis, &e))?;
    store
        .ensure_indexes(Some(bus.locks.as_ref()))
        .await
        .map_err(|e| unreachable("mongo", &shown_mongo, &e))?;
    let services = Services::new(store.backend(), Some(bus.notifier.clone()), sc)
        .with_locks(bus.locks.clone())
        .with_counters(bus.counters.clone())
        .with_kv(bus.kv.clone());
    Ok(Storage {
        services,
        description: format!("MongoDB {shown_mongo} (database {db_name}) + Redis {shown_redis}"),
        _keep: Keep::Mongo(store, bus),
    })
}

/// The database named in the URL's path, else WildDuck's default `wildduck`.
pub fn database_name(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path = after_scheme.split_once('/').map_or("", |(_, p)| p);
    let name = path.split('?').next().unwrap_or("");
    if name.is_empty() {
        "wildduck".into()
    } else {
        name.to_string()
    }
}

/// The URL with a server-selection timeout, so an unreachable server fails start-up quickly.
fn with_timeout(url: &str) -> String {
    if url
        .to_ascii_lowercase()
        .contains("serverselectiontimeoutms")
    {
        return url.to_string();
    }
    let sep = if url.contains('?') {
        "&"
    } else if url.split_once("://").is_some_and(|(_, r)| r.contains('/')) {
        "?"
    } else {
        "/?"
    };
    format!("{url}{sep}serverSelectionTimeoutMS={MONGO_SELECT_TIMEOUT_MS}")
}

/// The URL with any password replaced, for logs and errors.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(host_end);
    match authority.rsplit_once('@') {
        Some((creds, host)) => {
            let user = creds.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            database_name("mongodb://127.0.0.1:27017/wildduck"),
            "wildduck"
        );
        assert_eq!(database_name("mongodb://h/mail?replicaSet=rs0"), "mail");
        assert_eq!(database_name("mongodb://h:1"), "wildduck");
        assert_eq!(
            with_timeout("mongodb://h:1"),
            "mongodb://h:1/?serverSelectionTimeoutMS=5000"
        );
        assert_eq!(
            with_timeout("mongodb://h:1/db?a=b"),
            "mongodb://h:1/db?a=b&serverSelectionTimeoutMS=5000"
        );
        assert_eq!(
            redact("redis://u:secret@h:6379/3"),
            "redis://u:***@h:6379/3"
        );
        assert_eq!(redact("redis://h:6379/3"), "redis://h:6379/3");
    }
}
