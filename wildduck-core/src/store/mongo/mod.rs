//! The MongoDB backend with WildDuck 1.50's layout (inventory §4.2, §4.4): same collections, field
//! names and value types, so WildDuck and this backend can share a database.
//!
//! Test-server rules kept everywhere (see `reference/wildduck-reference-run.md`): ranges use exclusive
//! bounds, counters are allocated with `ReturnDocument::After`, counter documents exist before
//! they are incremented (the mailbox holds `uidNext`/`modifyIndex`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{Bson, Document, doc};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Database, IndexModel};

use crate::bus::Locks;
use crate::model::{ObjectId, Timestamp};
use crate::store::Backend;
use crate::{Error, ErrorKind, Result};

mod archive;
mod attachments;
mod auth;
mod forwarded;
mod indexes;
mod journal;
mod mailboxes;
pub mod message_doc;
mod messages;
mod search;
mod tasks;
mod threads;
mod users;
pub use archive::MongoArchive;

pub use attachments::MongoAttachments;
pub use auth::MongoAuth;
pub use journal::MongoJournal;
pub use mailboxes::MongoMailboxes;
pub use messages::MongoMessages;
pub use tasks::MongoTasks;
pub use threads::MongoThreads;
pub use users::{MongoAddresses, MongoUsers};

/// A connected MongoDB backend.
#[derive(Debug, Clone)]
pub struct MongoStore {
    db: Database,
    commands: Arc<AtomicU64>,
    /// Commands sent, per `"<command> <collection>"` (e.g. `"find journal"`).
    by_target: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl MongoStore {
    /// Connects to `url` and uses database `db_name` for every collection (WildDuck's default
    /// when `dbs.users` and `dbs.gridfs` are not set). Counts every command sent.
    pub async fn connect(url: &str, db_name: &str) -> Result<Self> {
        let mut opts = ClientOptions::parse(url).await.map_err(backend)?;
        let commands = Arc::new(AtomicU64::new(0));
        let by_target: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let counter = commands.clone();
        let targets = by_target.clone();
        opts.command_event_handler = Some(mongodb::event::EventHandler::callback(
            move |ev: mongodb::event::command::CommandEvent| {
                if let mongodb::event::command::CommandEvent::Started(s) = ev {
                    // Handshakes and monitoring are not the use case's commands.
                    if !matches!(s.command_name.as_str(), "hello" | "isMaster" | "ismaster") {
                        counter.fetch_add(1, Ordering::Relaxed);
                        // The collection is the value of the command's own key (`{find: "journal"}`),
                        // or of `collection` for `getMore`.
                        let coll = s
                            .command
                            .get_str(&s.command_name)
                            .or_else(|_| s.command.get_str("collection"))
                            .unwrap_or("-");
                        let key = format!("{} {coll}", s.command_name);
                        if let Ok(mut m) = targets.lock() {
                            *m.entry(key).or_insert(0) += 1;
                        }
                    }
                }
            },
        ));
        let client = Client::with_options(opts).map_err(backend)?;
        Ok(Self {
            db: client.database(db_name),
            commands,
            by_target,
        })
    }

    /// Number of database commands sent so far (for benchmarks and round-trip tests).
    pub fn command_count(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Database commands sent so far, per `"<command> <collection>"` (e.g. `"find journal"`,
    /// `"findAndModify mailboxes"`), sorted by key: tells round-trip tests and benchmarks where
    /// the commands of [`MongoStore::command_count`] went. Handshakes are not counted.
    pub fn command_counts(&self) -> BTreeMap<String, u64> {
        self.by_target.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The backend bundle over this connection.
    pub fn backend(&self) -> Backend {
        Backend {
            users: Arc::new(MongoUsers::new(self.db.clone())),
            addresses: Arc::new(MongoAddresses::new(self.db.clone())),
            mailboxes: Arc::new(MongoMailboxes::new(self.db.clone())),
            messages: Arc::new(MongoMessages::new(self.db.clone())),
            attachments: Arc::new(MongoAttachments::new(self.db.clone())),
            journal: Arc::new(MongoJournal::new(self.db.clone())),
            threads: Arc::new(MongoThreads::new(self.db.clone())),
            archive: Arc::new(MongoArchive::new(self.db.clone())),
            asps: Arc::new(MongoAuth::new(self.db.clone())),
            authlog: Arc::new(MongoAuth::new(self.db.clone())),
            tasks: Arc::new(MongoTasks::new(self.db.clone())),
        }
    }

    /// Creates WildDuck's indexes idempotently, under the Redis lock `db_indexes` when `locks` is
    /// given. An index the server refuses (the test server has no `text` or `hashed` indexes, code
    /// 67) is logged once and skipped. Returns the names of the refused indexes.
    pub async fn ensure_indexes(&self, locks: Option<&dyn Locks>) -> Result<Vec<String>> {
        let guard = match locks {
            Some(l) => {
                let mut guard = None;
                for _ in 0..60 {
                    guard = l.acquire("db_indexes", Duration::from_secs(600)).await?;
                    if guard.is_some() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                if guard.is_none() {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        "index lock is held elsewhere",
                    ));
                }
                guard
            }
            None => None,
        };
        let result = self.create_indexes().await;
        if let (Some(l), Some(g)) = (locks, guard)
            && let Err(e) = l.release(g).await
        {
            tracing::warn!(error = %e, "index lock release failed");
        }
        result
    }

    async fn create_indexes(&self) -> Result<Vec<String>> {
        let mut refused = Vec::new();
        for spec in indexes::INDEXES.iter() {
            let mut opts = IndexOptions::builder().name(spec.name.to_string()).build();
            if spec.unique {
                opts.unique = Some(true);
            }
            if spec.sparse {
                opts.sparse = Some(true);
            }
            if let Some(ttl) = spec.ttl {
                opts.expire_after = Some(Duration::from_secs(ttl));
            }
            if let Some(p) = spec.partial {
                opts.partial_filter_expression = Some(p());
            }
            let model = IndexModel::builder()
                .keys((spec.keys)())
                .options(opts)
                .build();
            let coll = self.db.collection::<Document>(spec.collection);
            if let Err(e) = coll.create_index(model).await {
                let code = command_code(&e);
                tracing::warn!(index = spec.name, collection = spec.collection, ?code, error = %e,
                    "index not created");
                refused.push(format!("{}.{}", spec.collection, spec.name));
            }
        }
        Ok(refused)
    }
}

/// A backend error (details for logs only).
pub(crate) fn backend(e: mongodb::error::Error) -> Error {
    if is_duplicate(&e) {
        return Error::new(ErrorKind::AlreadyExists, "duplicate key");
    }
    Error::new(ErrorKind::Backend, format!("mongodb: {e}"))
}

fn command_code(e: &mongodb::error::Error) -> Option<i32> {
    match e.kind.as_ref() {
        mongodb::error::ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

/// Whether `e` is a unique-key violation (code 11000).
pub(crate) fn is_duplicate(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind as K, WriteFailure};
    match e.kind.as_ref() {
        K::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        K::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|v| v.iter().any(|w| w.code == 11000)),
        K::Command(c) => c.code == 11000,
        _ => e.to_string().contains("E11000"),
    }
}

pub(crate) fn oid(id: ObjectId) -> bson::oid::ObjectId {
    bson::oid::ObjectId::from_bytes(id.bytes())
}

pub(crate) fn from_oid(id: &bson::oid::ObjectId) -> ObjectId {
    ObjectId::from_bytes(id.bytes())
}

pub(crate) fn get_oid(d: &Document, key: &str) -> Option<ObjectId> {
    d.get_object_id(key).ok().map(|o| from_oid(&o))
}

/// Numbers written by Node are Int32 when they fit, else Double; accept every numeric type.
pub(crate) fn get_i64(d: &Document, key: &str) -> i64 {
    match d.get(key) {
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Double(v)) if v.is_finite() => *v as i64,
        _ => 0,
    }
}

pub(crate) fn get_u64(d: &Document, key: &str) -> u64 {
    u64::try_from(get_i64(d, key)).unwrap_or(0)
}

pub(crate) fn get_str(d: &Document, key: &str) -> String {
    d.get_str(key).map(str::to_string).unwrap_or_default()
}

pub(crate) fn get_opt_str(d: &Document, key: &str) -> Option<String> {
    d.get_str(key)
        .ok()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub(crate) fn get_bool(d: &Document, key: &str) -> bool {
    d.get_bool(key).unwrap_or(false)
}

pub(crate) fn get_strings(d: &Document, key: &str) -> Vec<String> {
    d.get_array(key)
        .map(|a| {
            a.iter()
                .filter_map(|b| b.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn get_date(d: &Document, key: &str) -> Timestamp {
    match d.get(key) {
        Some(Bson::DateTime(t)) => Timestamp(t.timestamp_millis()),
        Some(Bson::Int64(v)) => Timestamp(*v),
        Some(Bson::Double(v)) if v.is_finite() => Timestamp(*v as i64),
        _ => Timestamp(0),
    }
}

pub(crate) fn date(t: Timestamp) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(t.0))
}

/// Writes a number the way Node does: Int32 when it fits, else Int64.
pub(crate) fn num(v: i64) -> Bson {
    match i32::try_from(v) {
        Ok(small) => Bson::Int32(small),
        Err(_) => Bson::Int64(v),
    }
}

pub(crate) fn unum(v: u64) -> Bson {
    num(i64::try_from(v).unwrap_or(i64::MAX))
}

pub(crate) fn strings(v: &[String]) -> Bson {
    Bson::Array(v.iter().map(|s| Bson::String(s.clone())).collect())
}

/// An exclusive-bounds UID condition for one range (the test server drops inclusive bound rows).
pub(crate) fn uid_range(a: u32, b: u32) -> Document {
    doc! { "$gt": num(i64::from(a) - 1), "$lt": num(i64::from(b) + 1) }
}

/// The `uid` condition for a set: `None` for `1:*`.
pub(crate) fn uid_condition(set: &crate::model::UidSet) -> Option<Document> {
    if set.is_all() {
        return None;
    }
    let ranges = set.ranges();
    match ranges {
        [] => Some(doc! { "uid": { "$in": [] } }),
        [(a, b)] => Some(doc! { "uid": uid_range(*a, *b) }),
        _ if set.count() <= 1000 => {
            let list: Vec<Bson> = ranges
                .iter()
                .flat_map(|&(a, b)| (a..=b).map(|u| num(i64::from(u))))
                .collect();
            Some(doc! { "uid": { "$in": list } })
        }
        _ => Some(
            doc! { "$or": ranges.iter().map(|&(a, b)| Bson::Document(doc!{ "uid": uid_range(a, b) })).collect::<Vec<_>>() },
        ),
    }
}
