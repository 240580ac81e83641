//! `threads`: WildDuck's thread documents `{_id, user, ids, subject, updated}` (TTL 180 days on
//! `updated` through the `thread_autoexpire` index).

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use futures::TryStreamExt as _;
use mongodb::{Collection, Database};

use super::{backend, date, get_oid, get_str, get_strings, oid, strings};
use crate::Result;
use crate::model::{ThreadId, Timestamp, UserId};
use crate::store::ThreadStore;

/// How many threads sharing a reference are compared by subject.
const MAX_CANDIDATES: i64 = 100;

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
        // WildDuck matches `{user, ids: {$in: refs}, subject}` in one findOneAndUpdate. The test
        // server only uses the `thread` index {user, ids} when the query has no other field (with
        // `subject` it scans the collection: ~200 ms per append at 3000 threads), so the subject
        // is compared here among the threads sharing a reference, and the match is updated by id.
        let candidates: Vec<Document> = self
            .coll
            .find(doc! { "user": oid(user.0), "ids": { "$in": refs.clone() } })
            .projection(doc! { "_id": 1, "subject": 1 })
            .limit(MAX_CANDIDATES)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let Some(id) = candidates
            .iter()
            .find(|d| get_str(d, "subject") == subject)
            .and_then(|d| get_oid(d, "_id"))
        else {
            return self.insert(user, subject, references).await;
        };
        let r = self
            .coll
            .update_one(
                doc! { "_id": oid(id), "user": oid(user.0) },
                doc! {
                    "$addToSet": { "ids": { "$each": refs } },
                    "$set": { "updated": date(Timestamp::now()) },
                },
            )
            .await
            .map_err(backend)?;
        if r.matched_count == 0 {
            // Expired (TTL) between the two steps.
            return self.insert(user, subject, references).await;
        }
        Ok(ThreadId(id))
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
