//! WildDuck's `archived` collection: a full copy of the deleted `messages` document plus
//! `archived` (Date), `exp: true` and `rdate` (ms number), keyed by the message's own `_id`
//! (inventory §4.5). Written in WildDuck's order, insert into `archived` then delete from
//! `messages`, so WildDuck and this backend read each other's entries.

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongodb::{Collection, Database};

use super::attachments::MongoAttachments;
use super::messages::meta_from;
use super::{backend, date, get_bool, get_date, get_i64, num, oid};
use crate::Result;
use crate::message::StoredMessage;
use crate::model::{MailboxId, MessageId, Timestamp, UserId};
use crate::store::{ArchiveOutcome, ArchiveStore, ArchivedMessage, Backend, BlobRef};

/// Fields the listing needs (never the MIME tree beyond its attachment map, nor the texts).
fn listing_projection() -> Document {
    doc! {
        "_id": 1, "root": 1, "user": 1, "mailbox": 1, "uid": 1, "modseq": 1, "thread": 1,
        "idate": 1, "hdate": 1, "flags": 1, "size": 1, "msgid": 1, "subject": 1, "ha": 1,
        "junk": 1, "magic": 1, "rdate": 1, "archived": 1, "mimeTree.attachmentMap": 1,
    }
}

fn archived_from(d: &Document) -> Option<ArchivedMessage> {
    let mut meta = meta_from(d)?;
    meta.rdate = None;
    Some(ArchivedMessage {
        meta,
        archived: get_date(d, "archived"),
        expires: Timestamp(get_i64(d, "rdate")),
        meta_data: super::messages::custom_meta_data(d),
    })
}

fn id_list(ids: &[MessageId]) -> Vec<Bson> {
    ids.iter().map(|i| Bson::ObjectId(oid(i.0))).collect()
}

/// `archived` (and `messages` for the copy and the delete).
#[derive(Debug, Clone)]
pub struct MongoArchive {
    archived: Collection<Document>,
    messages: Collection<Document>,
    attachments: MongoAttachments,
}

impl MongoArchive {
    /// Over `db.archived` and `db.messages`.
    pub fn new(db: Database) -> Self {
        Self {
            archived: db.collection("archived"),
            messages: db.collection("messages"),
            attachments: MongoAttachments::new(db),
        }
    }

    async fn find_archived(&self, query: Document) -> Result<Vec<ArchivedMessage>> {
        let docs: Vec<Document> = self
            .archived
            .find(query)
            .projection(listing_projection())
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(archived_from).collect())
    }
}

/// Whether an unordered insert failed only on documents that exist already (code 11000).
fn only_duplicates(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind as K, WriteFailure};
    match e.kind.as_ref() {
        K::InsertMany(m) => {
            m.write_concern_error.is_none()
                && m.write_errors
                    .as_ref()
                    .is_some_and(|v| v.iter().all(|w| w.code == 11000))
        }
        K::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        _ => false,
    }
}

#[async_trait]
impl ArchiveStore for MongoArchive {
    async fn archive_and_delete(
        &self,
        mailbox: MailboxId,
        ids: &[MessageId],
        archive: &[MessageId],
        at: Timestamp,
        expires: Timestamp,
    ) -> Result<ArchiveOutcome> {
        if ids.is_empty() {
            return Ok(ArchiveOutcome::default());
        }
        let mut out = ArchiveOutcome::default();
        let wanted: Vec<MessageId> = archive
            .iter()
            .filter(|a| ids.contains(a))
            .copied()
            .collect();
        if !wanted.is_empty() {
            let docs: Vec<Document> = self
                .messages
                .find(doc! { "mailbox": oid(mailbox.0), "_id": { "$in": id_list(&wanted) } })
                .await
                .map_err(backend)?
                .try_collect()
                .await
                .map_err(backend)?;
            let mut entries = Vec::with_capacity(docs.len());
            for mut d in docs {
                // A message COPY'd elsewhere is not archived (WildDuck's `copied`), nor one of a
                // user a WildDuck instance deleted (`userDeleted`, expired by the collector).
                if get_bool(&d, "copied") || get_bool(&d, "userDeleted") {
                    continue;
                }
                let Ok(id) = d.get_object_id("_id") else {
                    continue;
                };
                out.archived.push(MessageId(super::from_oid(&id)));
                d.insert("archived", date(at));
                d.insert("exp", true);
                d.insert("rdate", num(expires.0));
                entries.push(d);
            }
            if !entries.is_empty()
                && let Err(e) = self.archived.insert_many(entries).ordered(false).await
                && !only_duplicates(&e)
            {
                // Nothing was deleted yet: the messages stay where they are.
                return Err(backend(e));
            }
        }
        let r = self
            .messages
            .delete_many(doc! { "mailbox": oid(mailbox.0), "_id": { "$in": id_list(ids) } })
            .await
            .map_err(backend)?;
        out.deleted = r.deleted_count;
        Ok(out)
    }

    async fn list_archived(&self, user: UserId) -> Result<Vec<ArchivedMessage>> {
        self.find_archived(doc! { "user": oid(user.0) }).await
    }

    async fn archived_between(
        &self,
        user: UserId,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<ArchivedMessage>> {
        // Exclusive bounds (the test server drops boundary rows of inclusive ones).
        self.find_archived(doc! {
            "user": oid(user.0),
            "archived": {
                "$gt": date(Timestamp(start.0.saturating_sub(1))),
                "$lt": date(Timestamp(end.0.saturating_add(1))),
            },
        })
        .await
    }

    async fn load_archived(
        &self,
        user: UserId,
        ids: &[MessageId],
    ) -> Result<Vec<(ArchivedMessage, StoredMessage)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let docs: Vec<Document> = self
            .archived
            .find(doc! { "user": oid(user.0), "_id": { "$in": id_list(ids) } })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(docs.len());
        let mut hashes: Vec<String> = Vec::new();
        for d in &docs {
            let Some(a) = archived_from(d) else { continue };
            let (_, content) = super::message_doc::from_document(d)?;
            hashes.extend(content.blob_hashes());
            out.push((a, content));
        }
        hashes.sort();
        hashes.dedup();
        if !hashes.is_empty() {
            let encodings = self.attachments.encodings(&hashes).await?;
            for (_, m) in &mut out {
                super::message_doc::apply_blob_encodings(&mut m.tree, &encodings);
            }
        }
        Ok(out)
    }

    async fn remove_archived(&self, user: UserId, ids: &[MessageId]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let r = self
            .archived
            .delete_many(doc! { "user": oid(user.0), "_id": { "$in": id_list(ids) } })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count)
    }

    async fn purge_expired(&self, backend: &Backend, now: Timestamp, limit: usize) -> Result<u64> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let docs: Vec<Document> = self
            .archived
            .find(doc! { "exp": true, "rdate": { "$lt": num(now.0.saturating_add(1)) } })
            .projection(listing_projection())
            .limit(limit)
            .await
            .map_err(super::backend)?
            .try_collect()
            .await
            .map_err(super::backend)?;
        let expired: Vec<ArchivedMessage> = docs.iter().filter_map(archived_from).collect();
        if expired.is_empty() {
            return Ok(0);
        }
        // Entries restored by a cut-short restore share their id with a live message, which
        // holds the references now.
        let ids: Vec<MessageId> = expired.iter().map(|a| a.meta.id).collect();
        let live: Vec<Document> = self
            .messages
            .find(doc! { "_id": { "$in": id_list(&ids) } })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(super::backend)?
            .try_collect()
            .await
            .map_err(super::backend)?;
        let live: Vec<MessageId> = live
            .iter()
            .filter_map(|d| d.get_object_id("_id").ok())
            .map(|o| MessageId(super::from_oid(&o)))
            .collect();
        let mut purged = 0u64;
        for a in &expired {
            // One by one: only the purger whose delete removed an entry releases its
            // references (another instance may purge concurrently). Delete first: a crash
            // after it leaks references, never releases them twice.
            let r = self
                .archived
                .delete_one(doc! { "_id": oid(a.meta.id.0) })
                .await
                .map_err(super::backend)?;
            if r.deleted_count == 0 {
                continue;
            }
            purged += 1;
            if live.contains(&a.meta.id) || a.meta.blobs.is_empty() {
                continue;
            }
            let refs: Vec<BlobRef> = a
                .meta
                .blobs
                .iter()
                .map(|h| BlobRef {
                    hash: h.clone(),
                    count: -1,
                    magic: -i64::from(a.meta.magic),
                })
                .collect();
            if let Err(e) = backend.attachments.update_refs(&refs).await {
                tracing::error!(error = %e, "releasing a purged archive entry's references failed");
            }
        }
        Ok(purged)
    }
}
