//! `mailboxes`: documents plus the `uidNext` / `modifyIndex` counters.

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use futures::TryStreamExt as _;
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};

use super::{
    backend, get_bool, get_i64, get_oid, get_str, get_strings, get_u64, num, oid, strings, unum,
};
use crate::model::{Mailbox, MailboxId, ModSeq, SpecialUse, Uid, UserId};
use crate::store::{MailboxSettings, MailboxStore};
use crate::{Error, ErrorKind, Result};

/// `mailboxes` collection.
#[derive(Debug, Clone)]
pub struct MongoMailboxes {
    coll: Collection<Document>,
}

impl MongoMailboxes {
    /// Over `db.mailboxes`.
    pub fn new(db: Database) -> Self {
        Self {
            coll: db.collection("mailboxes"),
        }
    }

    async fn find_many(&self, filter: Document) -> Result<Vec<Mailbox>> {
        let docs: Vec<Document> = self
            .coll
            .find(filter)
            .sort(doc! { "path": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(mailbox_from).collect())
    }

    async fn find_one(&self, filter: Document) -> Result<Option<Mailbox>> {
        let d = self.coll.find_one(filter).await.map_err(backend)?;
        Ok(d.as_ref().and_then(mailbox_from))
    }
}

pub(crate) fn mailbox_doc(m: &Mailbox) -> Document {
    let mut d = doc! {
        "_id": oid(m.id.0),
        "user": oid(m.user.0),
        "path": &m.path,
        "uidValidity": unum(u64::from(m.uid_validity)),
        "uidNext": unum(u64::from(m.uid_next.0)),
        "modifyIndex": unum(m.modify_index.0),
        "subscribed": m.subscribed,
        "flags": strings(&m.flags),
        "retention": unum(m.retention),
        "hidden": m.hidden,
        "encryptMessages": m.encrypt_messages,
    };
    if let Some(su) = m.special_use {
        d.insert("specialUse", su.as_str());
    }
    d
}

pub(crate) fn mailbox_from(d: &Document) -> Option<Mailbox> {
    Some(Mailbox {
        id: MailboxId(get_oid(d, "_id")?),
        user: UserId(get_oid(d, "user")?),
        path: get_str(d, "path"),
        special_use: d.get_str("specialUse").ok().and_then(SpecialUse::parse),
        uid_validity: u32::try_from(get_u64(d, "uidValidity")).unwrap_or(0),
        uid_next: Uid(u32::try_from(get_u64(d, "uidNext")).unwrap_or(u32::MAX)),
        modify_index: ModSeq(get_u64(d, "modifyIndex")),
        subscribed: get_bool(d, "subscribed"),
        flags: get_strings(d, "flags"),
        retention: get_u64(d, "retention"),
        hidden: get_bool(d, "hidden"),
        encrypt_messages: get_bool(d, "encryptMessages"),
    })
}

#[async_trait]
impl MailboxStore for MongoMailboxes {
    async fn insert_mailboxes(&self, mailboxes: &[Mailbox]) -> Result<()> {
        if mailboxes.is_empty() {
            return Ok(());
        }
        let docs: Vec<Document> = mailboxes.iter().map(mailbox_doc).collect();
        if let Err(e) = self.coll.insert_many(docs).await {
            // All or nothing: remove whatever made it in before the clash.
            let ids: Vec<Bson> = mailboxes
                .iter()
                .map(|m| Bson::ObjectId(oid(m.id.0)))
                .collect();
            if let Err(e2) = self.coll.delete_many(doc! { "_id": { "$in": ids } }).await {
                tracing::warn!(error = %e2, "cleanup after failed mailbox insert failed");
            }
            return Err(backend(e));
        }
        Ok(())
    }

    async fn get_mailbox(&self, user: UserId, id: MailboxId) -> Result<Option<Mailbox>> {
        self.find_one(doc! { "_id": oid(id.0), "user": oid(user.0) })
            .await
    }

    async fn find_mailbox_by_path(&self, user: UserId, path: &str) -> Result<Option<Mailbox>> {
        self.find_one(doc! { "user": oid(user.0), "path": path })
            .await
    }

    async fn find_mailbox_by_special_use(
        &self,
        user: UserId,
        special_use: SpecialUse,
    ) -> Result<Option<Mailbox>> {
        self.find_one(doc! { "user": oid(user.0), "specialUse": special_use.as_str() })
            .await
    }

    async fn list_mailboxes(&self, user: UserId) -> Result<Vec<Mailbox>> {
        self.find_many(doc! { "user": oid(user.0) }).await
    }

    async fn count_mailboxes(&self, user: UserId) -> Result<u64> {
        self.coll
            .count_documents(doc! { "user": oid(user.0) })
            .await
            .map_err(backend)
    }

    async fn rename_mailbox(
        &self,
        user: UserId,
        id: MailboxId,
        path: &str,
    ) -> Result<Option<Mailbox>> {
        let d = self
            .coll
            .find_one_and_update(
                doc! { "_id": oid(id.0), "user": oid(user.0) },
                doc! { "$set": { "path": path } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(backend)?;
        Ok(d.as_ref().and_then(mailbox_from))
    }

    async fn set_subscribed(&self, user: UserId, id: MailboxId, subscribed: bool) -> Result<bool> {
        let r = self
            .coll
            .update_one(
                doc! { "_id": oid(id.0), "user": oid(user.0) },
                doc! { "$set": { "subscribed": subscribed } },
            )
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn update_settings(
        &self,
        user: UserId,
        id: MailboxId,
        settings: &MailboxSettings,
    ) -> Result<bool> {
        let mut set = Document::new();
        if let Some(v) = settings.subscribed {
            set.insert("subscribed", v);
        }
        if let Some(v) = settings.retention {
            set.insert("retention", unum(v));
        }
        if let Some(v) = settings.hidden {
            set.insert("hidden", v);
        }
        if let Some(v) = settings.encrypt_messages {
            set.insert("encryptMessages", v);
        }
        let filter = doc! { "_id": oid(id.0), "user": oid(user.0) };
        if set.is_empty() {
            return Ok(self.coll.count_documents(filter).await.map_err(backend)? > 0);
        }
        let r = self
            .coll
            .update_one(filter, doc! { "$set": set })
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn delete_mailbox(&self, user: UserId, id: MailboxId) -> Result<bool> {
        let r = self
            .coll
            .delete_one(doc! { "_id": oid(id.0), "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count > 0)
    }

    async fn delete_user_mailboxes(&self, user: UserId) -> Result<u64> {
        let r = self
            .coll
            .delete_many(doc! { "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count)
    }

    async fn allocate(&self, mailbox: MailboxId, count: u32) -> Result<Option<(Uid, ModSeq)>> {
        // ReturnDocument::After: the test server hands concurrent callers stale "before" values.
        let d = self
            .coll
            .find_one_and_update(
                doc! { "_id": oid(mailbox.0) },
                doc! { "$inc": { "uidNext": num(i64::from(count)), "modifyIndex": 1 } },
            )
            .projection(doc! { "uidNext": 1, "modifyIndex": 1 })
            .return_document(ReturnDocument::After)
            .await
            .map_err(backend)?;
        let Some(d) = d else { return Ok(None) };
        let next = get_i64(&d, "uidNext");
        let first = next - i64::from(count);
        let first = u32::try_from(first)
            .map_err(|_| Error::new(ErrorKind::Backend, "uidNext out of range"))?;
        Ok(Some((Uid(first), ModSeq(get_u64(&d, "modifyIndex")))))
    }

    async fn add_keywords(&self, mailbox: MailboxId, keywords: &[String]) -> Result<()> {
        if keywords.is_empty() {
            return Ok(());
        }
        self.coll
            .update_one(
                doc! { "_id": oid(mailbox.0) },
                doc! { "$addToSet": { "flags": { "$each": strings(keywords) } } },
            )
            .await
            .map_err(backend)?;
        Ok(())
    }
}
