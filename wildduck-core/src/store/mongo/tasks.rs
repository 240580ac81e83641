//! `tasks`: WildDuck's task documents (`lib/task-handler.js`):
//! `{_id, task, locked, lockedUntil, created, status, data: {user, …}, runCount, runStart}`.
//!
//! `locked` is `false` (waiting), `true` (delayed until `lockedUntil`) or the 12 random bytes of
//! the runner that claimed it, exactly as WildDuck writes it, so a WildDuck instance and this
//! backend can share one queue. The user is written both as `data.user` (WildDuck's `add`) and as
//! a top-level `user` (what WildDuck's user delete looks an existing task up by); reads accept
//! either.

use async_trait::async_trait;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, doc};
use futures::TryStreamExt as _;
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};

use super::{backend, date, from_oid, get_date, get_i64, get_str, oid};
use crate::model::{ObjectId, Timestamp, UserId};
use crate::store::tasks::{LockToken, Task, TaskStatus, TaskStore};
use crate::{Error, ErrorKind, Result};

/// `tasks` collection.
#[derive(Debug, Clone)]
pub struct MongoTasks {
    coll: Collection<Document>,
}

impl MongoTasks {
    /// Over `db.tasks`.
    pub fn new(db: Database) -> Self {
        Self {
            coll: db.collection("tasks"),
        }
    }
}

fn token_bson(token: LockToken) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: token.to_vec(),
    })
}

/// The filter of a task not held by a runner (waiting or delayed), as WildDuck's restore checks
/// it (`status: 'delayed'`), widened to `waiting` tasks nobody claimed yet.
fn unclaimed(id: ObjectId) -> Document {
    doc! { "_id": oid(id), "status": { "$in": ["waiting", "delayed"] } }
}

fn user_of(d: &Document) -> Option<UserId> {
    d.get_document("data")
        .ok()
        .and_then(|data| data.get_object_id("user").ok())
        .or_else(|| d.get_object_id("user").ok())
        .map(|o| UserId(from_oid(&o)))
}

fn task_from(d: &Document) -> Result<Task> {
    let id = d
        .get_object_id("_id")
        .map_err(|_| Error::new(ErrorKind::Backend, "task without an ObjectId _id"))?;
    let user = user_of(d);
    // Old WildDuck tasks keep their parameters at the top level (no `data`).
    let mut data = match d.get_document("data") {
        Ok(data) => data.clone(),
        Err(_) => Document::new(),
    };
    data.remove("user");
    let locked = match d.get("locked") {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Null) | None => false,
        Some(_) => true,
    };
    Ok(Task {
        id: from_oid(&id),
        kind: get_str(d, "task"),
        user,
        data: Bson::Document(data).into_relaxed_extjson(),
        status: TaskStatus::parse(d.get_str("status").unwrap_or("waiting")),
        locked,
        locked_until: get_date(d, "lockedUntil"),
        created: get_date(d, "created"),
        run_count: u32::try_from(get_i64(d, "runCount")).unwrap_or(0),
    })
}

fn task_doc(task: &Task) -> Result<Document> {
    let mut data = match Bson::try_from(task.data.clone()) {
        Ok(Bson::Document(d)) => d,
        Ok(Bson::Null) => Document::new(),
        Ok(_) => return Err(Error::invalid("task data must be an object")),
        Err(e) => return Err(Error::invalid(format!("task data: {e}"))),
    };
    let mut d = doc! {
        "_id": oid(task.id),
        "task": task.kind.as_str(),
        "locked": task.locked,
        "lockedUntil": date(task.locked_until),
        "created": date(task.created),
        "status": task.status.as_str(),
    };
    if let Some(u) = task.user {
        data.insert("user", oid(u.0));
        d.insert("user", oid(u.0));
    }
    d.insert("data", data);
    if task.run_count > 0 {
        d.insert("runCount", i64::from(task.run_count));
    }
    Ok(d)
}

#[async_trait]
impl TaskStore for MongoTasks {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        self.coll
            .insert_one(task_doc(task)?)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn ensure_task(&self, task: &Task, same: &[&str]) -> Result<(ObjectId, bool)> {
        let new = task_doc(task)?;
        let mut filter = doc! { "task": task.kind.as_str() };
        if let Some(u) = task.user {
            filter.insert("data.user", oid(u.0));
        }
        let data = new.get_document("data").cloned().unwrap_or_default();
        for k in same {
            // A key the new task lacks matches tasks that lack it too (null matches missing).
            filter.insert(
                format!("data.{k}"),
                data.get(*k).cloned().unwrap_or(Bson::Null),
            );
        }
        // One upsert (WildDuck's `ensure`): the server inserts only when nothing matches.
        // A unique index (clear_folder_task) makes a racing second insert fail with a duplicate
        // key: then the winner's task is read back below.
        let written = match self
            .coll
            .find_one_and_update(filter.clone(), doc! { "$setOnInsert": new })
            .upsert(true)
            .return_document(ReturnDocument::After)
            .projection(doc! { "_id": 1 })
            .await
        {
            Ok(d) => d,
            Err(e) if super::is_duplicate(&e) => None,
            Err(e) => return Err(backend(e)),
        };
        let id = match written.and_then(|d| d.get_object_id("_id").ok()) {
            Some(id) => from_oid(&id),
            // Some servers answer an upsert without the document: read it back.
            None => self
                .coll
                .find_one(filter)
                .projection(doc! { "_id": 1 })
                .await
                .map_err(backend)?
                .and_then(|d| d.get_object_id("_id").ok())
                .map(|id| from_oid(&id))
                .unwrap_or(task.id),
        };
        Ok((id, id != task.id))
    }

    async fn get_task(&self, id: ObjectId) -> Result<Option<Task>> {
        match self
            .coll
            .find_one(doc! { "_id": oid(id) })
            .await
            .map_err(backend)?
        {
            Some(d) => Ok(Some(task_from(&d)?)),
            None => Ok(None),
        }
    }

    async fn find_tasks(&self, kind: &str, user: UserId) -> Result<Vec<Task>> {
        let u = oid(user.0);
        let docs: Vec<Document> = self
            .coll
            .find(doc! { "task": kind, "$or": [ { "data.user": u }, { "user": u } ] })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        docs.iter().map(task_from).collect()
    }

    async fn claim_task(
        &self,
        kinds: &[&str],
        now: Timestamp,
        lease_until: Timestamp,
        token: LockToken,
    ) -> Result<Option<Task>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        // One findAndModify: the server re-checks the filter on the document it updates, so two
        // instances racing for one task cannot both match it.
        let filter = doc! {
            "task": { "$in": kinds.iter().map(|k| Bson::String((*k).to_string())).collect::<Vec<_>>() },
            "$or": [ { "locked": false }, { "lockedUntil": { "$lt": date(now) } } ],
        };
        let update = doc! {
            "$set": {
                "locked": token_bson(token),
                "lockedUntil": date(lease_until),
                "status": "active",
                "runStart": date(now),
            },
            "$inc": { "runCount": 1 },
        };
        let found = self
            .coll
            .find_one_and_update(filter, update)
            .sort(doc! { "lockedUntil": 1 })
            .return_document(ReturnDocument::After)
            .await
            .map_err(backend)?;
        match found {
            // Only a document carrying our token is ours.
            Some(d) if d.get("locked") == Some(&token_bson(token)) => Ok(Some(task_from(&d)?)),
            Some(_) | None => Ok(None),
        }
    }

    async fn extend_task(&self, id: ObjectId, token: LockToken, until: Timestamp) -> Result<bool> {
        let r = self
            .coll
            .update_one(
                doc! { "_id": oid(id), "locked": token_bson(token) },
                doc! {
                    "$set": { "lockedUntil": date(until), "status": "processing", "extendTime": date(Timestamp::now()) },
                    "$inc": { "extendCount": 1 },
                },
            )
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn complete_task(&self, id: ObjectId, token: LockToken) -> Result<bool> {
        let r = self
            .coll
            .delete_one(doc! { "_id": oid(id), "locked": token_bson(token) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count > 0)
    }

    async fn release_task(
        &self,
        id: ObjectId,
        token: LockToken,
        retry_at: Timestamp,
    ) -> Result<bool> {
        let r = self
            .coll
            .update_one(
                doc! { "_id": oid(id), "locked": token_bson(token) },
                doc! { "$set": { "locked": true, "lockedUntil": date(retry_at), "status": "delayed" } },
            )
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn reschedule_task(&self, id: ObjectId, run_after: Timestamp) -> Result<bool> {
        let r = self
            .coll
            .update_one(
                unclaimed(id),
                doc! { "$set": { "locked": true, "lockedUntil": date(run_after), "status": "delayed" } },
            )
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn cancel_task(&self, id: ObjectId) -> Result<bool> {
        let r = self.coll.delete_one(unclaimed(id)).await.map_err(backend)?;
        Ok(r.deleted_count > 0)
    }
}
