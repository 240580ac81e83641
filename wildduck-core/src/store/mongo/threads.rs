//! `threads`: WildDuck's thread documents `{_id, user, ids, subject, updated}` (TTL 180 days on
//! `updated` through the `thread_autoexpire` index).

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};

use super::{backend, date, get_oid, get_str, get_strings, oid, strings};
use crate::model::{ThreadId, Timestamp, UserId};
use crate::store::ThreadStore;
use crate::{Error, ErrorKind, Result};

/// `threads` collection.
#[derive(Debug, Clone)]
pub struct MongoThreads {
    coll: Collection<Document>,
}

impl MongoThreads {
    /// Over `db.threads`.
    pub fn new(db: Database) -> Self {
        Self {
            coll: db.collection("threads"),
        }
    }

    async fn insert(&self, user: UserId, subject: &str, references: &[String]) -> Result<ThreadId> {
        let id = ThreadId::new();
        self.coll
            .insert_one(doc! {
                "_id": oid(id.0),
                "user": oid(user.0),
                "subject": subject,
                "ids": strings(references),
                "updated": date(Timestamp::now()),
            })
            .await
            .map_err(backend)?;
        Ok(id)
    }
}

#[async_trait]
impl ThreadStore for MongoThreads {
    async fn resolve_thread(
        &self,
        user: UserId,
        subject: &str,
        references: &[String],
    ) -> Result<ThreadId> {
        // No reference can match anything (WildDuck's `$in: []` misses too): a new thread.
        if references.is_empty() {
            return self.insert(user, subject, references).await;
        }
        let refs = strings(references);
        // One upsert: `$elemMatch` rather than WildDuck's plain `$in`, because a one-element `$in`
        // counts as an equality and would be copied into an upserted document as a string.
        let filter = doc! {
            "user": oid(user.0),
            "subject": subject,
            "ids": { "$elemMatch": { "$in": refs.clone() } },
        };
        let update = doc! {
            "$addToSet": { "ids": { "$each": refs } },
            "$set": { "updated": date(Timestamp::now()) },
        };
        let found = self
            .coll
            .find_one_and_update(filter.clone(), update)
            .upsert(true)
            .projection(doc! { "_id": 1 })
            .return_document(ReturnDocument::After)
            .await
            .map_err(backend)?;
        if let Some(id) = found.as_ref().and_then(|d| get_oid(d, "_id")) {
            return Ok(ThreadId(id));
        }
        // The test server can answer an upsert with no document under concurrency: the thread
        // exists by now, read it.
        let again = self
            .coll
            .find_one(filter)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        match again.as_ref().and_then(|d| get_oid(d, "_id")) {
            Some(id) => Ok(ThreadId(id)),
            None => Err(Error::new(
                ErrorKind::Backend,
                "thread upsert returned no document",
            )),
        }
    }

    async fn get_thread(
        &self,
        user: UserId,
        id: ThreadId,
    ) -> Result<Option<(String, Vec<String>)>> {
        let d = self
            .coll
            .find_one(doc! { "_id": oid(id.0), "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(d.map(|d| {
            let ids = match d.get("ids") {
                Some(Bson::Array(_)) => get_strings(&d, "ids"),
                _ => Vec::new(),
            };
            (get_str(&d, "subject"), ids)
        }))
    }
}
