//! `messages`: metadata-level primitives (flags, copy, delete, counts) over WildDuck's fields.

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use futures::TryStreamExt as _;
use mongodb::{Collection, Database};

use super::{
    backend, date, get_bool, get_date, get_i64, get_oid, get_str, get_strings, get_u64, num, oid,
    strings, uid_condition, unum,
};
use crate::message::StoredMessage;
use crate::model::{
    Flag, FlagOp, Flags, Mailbox, MailboxId, MessageId, MessageMeta, ModSeq, ThreadId, Timestamp,
    Uid, UidSet, UserId,
};
use crate::store::{
    CopiedUid, FieldUpdate, FlagChange, FlagResult, FlagsRow, MessageFilter, MessageStore,
    NewMessage, UidWindow,
};
use crate::{Error, ErrorKind, Result};

/// Fields a metadata read loads (never the MIME tree or texts).
fn meta_projection() -> Document {
    doc! {
        "_id": 1, "root": 1, "user": 1, "mailbox": 1, "uid": 1, "modseq": 1, "thread": 1,
        "idate": 1, "hdate": 1, "flags": 1, "size": 1, "msgid": 1, "subject": 1, "ha": 1,
        "junk": 1, "magic": 1, "exp": 1, "rdate": 1, "mimeTree.attachmentMap": 1,
    }
}

/// WildDuck's `meta.custom` as JSON text: a string as WildDuck writes it (empty = none), or an
/// embedded document written by another tool, as relaxed extended JSON.
pub(super) fn custom_meta_data(d: &Document) -> Option<String> {
    match d.get_document("meta").ok()?.get("custom")? {
        Bson::String(s) if s.trim().is_empty() => None,
        Bson::String(s) => Some(s.clone()),
        v @ Bson::Document(_) => Some(v.clone().into_relaxed_extjson().to_string()),
        _ => None,
    }
}

/// `messages` collection.
#[derive(Debug, Clone)]
pub struct MongoMessages {
    coll: Collection<Document>,
    mailboxes: Collection<Document>,
    attachments: super::attachments::MongoAttachments,
}

impl MongoMessages {
    /// Over `db.messages` (and `db.mailboxes` for MODSEQ allocation).
    pub fn new(db: Database) -> Self {
        Self {
            coll: db.collection("messages"),
            mailboxes: db.collection("mailboxes"),
            attachments: super::attachments::MongoAttachments::new(db),
        }
    }

    /// Inserts message documents built from metadata (`flags` and its denormalised booleans,
    /// dates as BSON dates). Used by the service's append path and by tests.
    pub async fn insert_meta(&self, metas: &[MessageMeta]) -> Result<()> {
        if metas.is_empty() {
            return Ok(());
        }
        self.coll
            .insert_many(metas.iter().map(meta_doc))
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// How each blob is held (decoded or raw) is the attachment store's metadata: it may have
    /// been written by WildDuck, or kept raw where WildDuck could not re-encode it exactly. One
    /// query for all blobs of `loaded`, none when they have no attachments.
    async fn apply_encodings(&self, loaded: &mut [(MessageMeta, StoredMessage)]) -> Result<()> {
        let mut hashes: Vec<String> = loaded.iter().flat_map(|(_, m)| m.blob_hashes()).collect();
        hashes.sort();
        hashes.dedup();
        if !hashes.is_empty() {
            let encodings = self.attachments.encodings(&hashes).await?;
            for (_, m) in loaded.iter_mut() {
                super::message_doc::apply_blob_encodings(&mut m.tree, &encodings);
            }
        }
        Ok(())
    }

    async fn next_modseq(&self, mailbox: MailboxId) -> Result<ModSeq> {
        let d = self
            .mailboxes
            .find_one_and_update(
                doc! { "_id": oid(mailbox.0) },
                doc! { "$inc": { "modifyIndex": 1 } },
            )
            .projection(doc! { "modifyIndex": 1 })
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(backend)?
            .ok_or_else(|| Error::not_found("no such mailbox"))?;
        Ok(ModSeq(get_u64(&d, "modifyIndex")))
    }
}

/// The boolean fields WildDuck derives from `flags`.
fn flag_fields(flags: &Flags, d: &mut Document) {
    let deleted = flags.contains(&Flag::Deleted);
    d.insert("flags", strings(&flags.to_strings()));
    d.insert("unseen", !flags.contains(&Flag::Seen));
    d.insert("flagged", flags.contains(&Flag::Flagged));
    d.insert("undeleted", !deleted);
    d.insert("draft", flags.contains(&Flag::Draft));
    d.insert("searchable", !deleted);
}

pub(crate) fn meta_doc(m: &MessageMeta) -> Document {
    let mut d = doc! {
        "_id": oid(m.id.0),
        "root": oid(m.root.0),
        "v": "1.0",
        "user": oid(m.user.0),
        "mailbox": oid(m.mailbox.0),
        "uid": num(i64::from(m.uid.0)),
        "modseq": unum(m.modseq.0),
        "idate": date(m.idate),
        "hdate": date(m.hdate),
        "size": unum(m.size),
        "msgid": m.msgid.clone().unwrap_or_default(),
        "subject": &m.subject,
        "ha": m.has_attachments,
        "junk": m.junk,
        "magic": num(i64::from(m.magic)),
        "exp": m.rdate.is_some(),
        "rdate": m.rdate.map(|t| num(t.0)).unwrap_or(Bson::Int32(0)),
    };
    if let Some(t) = m.thread {
        d.insert("thread", oid(t.0));
    }
    if !m.blobs.is_empty() {
        let mut map = Document::new();
        for (i, h) in m.blobs.iter().enumerate() {
            if let Ok(id) = super::attachments::file_id(h) {
                map.insert(format!("ATT{:05}", i + 1), id);
            }
        }
        d.insert("mimeTree", doc! { "attachmentMap": map });
    }
    flag_fields(&m.flags, &mut d);
    d
}

pub(crate) fn meta_from(d: &Document) -> Option<MessageMeta> {
    let id = MessageId(get_oid(d, "_id")?);
    let mut blobs: Vec<String> = d
        .get_document("mimeTree")
        .ok()
        .and_then(|t| t.get_document("attachmentMap").ok())
        .map(|m| {
            m.values()
                .filter_map(|v| match v {
                    Bson::String(s) => Some(s.clone()),
                    Bson::ObjectId(o) => Some(o.to_hex()),
                    Bson::Binary(b) => Some(super::attachments::hex_encode(&b.bytes)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    blobs.sort();
    blobs.dedup();
    let rdate = get_i64(d, "rdate");
    Some(MessageMeta {
        id,
        root: get_oid(d, "root").map(MessageId).unwrap_or(id),
        user: UserId(get_oid(d, "user")?),
        mailbox: MailboxId(get_oid(d, "mailbox")?),
        uid: Uid(u32::try_from(get_u64(d, "uid")).unwrap_or(0)),
        modseq: ModSeq(get_u64(d, "modseq")),
        thread: get_oid(d, "thread").map(ThreadId),
        idate: get_date(d, "idate"),
        hdate: get_date(d, "hdate"),
        flags: Flags::from_stored(get_strings(d, "flags")),
        size: get_u64(d, "size"),
        msgid: Some(get_str(d, "msgid")).filter(|s| !s.is_empty()),
        subject: get_str(d, "subject"),
        has_attachments: get_bool(d, "ha"),
        junk: get_bool(d, "junk"),
        magic: u32::try_from(get_u64(d, "magic")).unwrap_or(0),
        rdate: (get_bool(d, "exp") && rdate > 0).then_some(Timestamp(rdate)),
        blobs,
    })
}

/// The messages of `mailbox` at `uids`.
fn uids_doc(mailbox: MailboxId, uids: &UidSet) -> Document {
    let mut q = doc! { "mailbox": oid(mailbox.0) };
    if let Some(c) = uid_condition(uids) {
        q.extend(c);
    }
    q
}

fn filter_doc(mailbox: MailboxId, f: &MessageFilter) -> Document {
    let mut q = match &f.uids {
        Some(set) => uids_doc(mailbox, set),
        None => doc! { "mailbox": oid(mailbox.0) },
    };
    if let Some(m) = f.changed_since {
        q.insert("modseq", doc! { "$gt": unum(m.0) });
    }
    if f.deleted_only {
        q.insert("undeleted", false);
    }
    q
}

#[async_trait]
impl MessageStore for MongoMessages {
    async fn find_meta(
        &self,
        mailbox: MailboxId,
        filter: &MessageFilter,
    ) -> Result<Vec<MessageMeta>> {
        let docs: Vec<Document> = self
            .coll
            .find(filter_doc(mailbox, filter))
            .projection(meta_projection())
            .sort(doc! { "uid": 1 })
            .batch_size(2500)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(meta_from).collect())
    }

    async fn find_flags(
        &self,
        mailbox: MailboxId,
        filter: &MessageFilter,
    ) -> Result<Vec<FlagsRow>> {
        // The same one query as `find_meta`, projected to three fields: less to send and decode.
        let docs: Vec<Document> = self
            .coll
            .find(filter_doc(mailbox, filter))
            .projection(doc! { "_id": 0, "uid": 1, "modseq": 1, "flags": 1 })
            .sort(doc! { "uid": 1 })
            .batch_size(2500)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs
            .iter()
            .map(|d| FlagsRow {
                uid: Uid(u32::try_from(get_u64(d, "uid")).unwrap_or(0)),
                modseq: ModSeq(get_u64(d, "modseq")),
                flags: Flags::from_stored(get_strings(d, "flags")),
            })
            .collect())
    }

    async fn list_uids(&self, mailbox: MailboxId) -> Result<Vec<Uid>> {
        let docs: Vec<Document> = self
            .coll
            .find(doc! { "mailbox": oid(mailbox.0) })
            .projection(doc! { "_id": 0, "uid": 1 })
            .sort(doc! { "uid": 1 })
            .batch_size(10_000)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs
            .iter()
            .filter_map(|d| u32::try_from(get_u64(d, "uid")).ok().map(Uid))
            .collect())
    }

    async fn uid_window(&self, mailbox: MailboxId, window: UidWindow) -> Result<Vec<Uid>> {
        // One find through the {mailbox, uid} index, sorted and limited on the server.
        let mut filter = doc! { "mailbox": oid(mailbox.0) };
        if let Some(after) = window.after {
            let op = if window.descending { "$lt" } else { "$gt" };
            filter.insert("uid", doc! { op: i64::from(after.0) });
        }
        if window.unseen_only {
            filter.insert("unseen", true);
        }
        let dir = if window.descending { -1 } else { 1 };
        let docs: Vec<Document> = self
            .coll
            .find(filter)
            .projection(doc! { "_id": 0, "uid": 1 })
            .sort(doc! { "uid": dir })
            .limit(i64::try_from(window.limit).unwrap_or(i64::MAX))
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs
            .iter()
            .filter_map(|d| u32::try_from(get_u64(d, "uid")).ok().map(Uid))
            .collect())
    }

    async fn counts(&self, mailbox: MailboxId) -> Result<(u64, u64)> {
        let docs: Vec<Document> = self
            .coll
            .find(doc! { "mailbox": oid(mailbox.0) })
            .projection(doc! { "_id": 0, "unseen": 1 })
            .batch_size(10_000)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let unseen = docs.iter().filter(|d| get_bool(d, "unseen")).count() as u64;
        Ok((docs.len() as u64, unseen))
    }

    async fn set_flags(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
        op: &FlagOp,
        unchanged_since: Option<ModSeq>,
    ) -> Result<FlagResult> {
        let filter = MessageFilter {
            uids: Some(uids.clone()),
            ..Default::default()
        };
        let mut result = FlagResult::default();
        let mut pending = self.find_meta(mailbox, &filter).await?;
        // Optimistic concurrency: each update is guarded by the MODSEQ read; rows changed in
        // between are read again and recomputed (bounded retries).
        for _attempt in 0..5 {
            let mut writes: Vec<(MessageMeta, Flags)> = Vec::new();
            for m in pending.drain(..) {
                if unchanged_since.is_some_and(|u| m.modseq > u) {
                    result.refused.push(m.uid);
                    continue;
                }
                let new = m.flags.apply(op);
                if !new.same_set(&m.flags) {
                    writes.push((m, new));
                }
            }
            if writes.is_empty() {
                break;
            }
            let modseq = match result.modseq {
                Some(m) => m,
                None => {
                    let m = self.next_modseq(mailbox).await?;
                    result.modseq = Some(m);
                    m
                }
            };
            let updates: Vec<Document> = writes
                .iter()
                .map(|(m, new)| {
                    let mut set = doc! { "modseq": unum(modseq.0) };
                    flag_fields(new, &mut set);
                    doc! {
                        "q": { "_id": oid(m.id.0), "mailbox": oid(mailbox.0), "uid": num(i64::from(m.uid.0)), "modseq": unum(m.modseq.0) },
                        "u": { "$set": set },
                    }
                })
                .collect();
            let reply = self
                .coll
                .client()
                .database(self.coll.namespace().db.as_str())
                .run_command(
                    doc! { "update": self.coll.name(), "updates": updates, "ordered": false },
                )
                .await
                .map_err(backend)?;
            let n = u64::try_from(get_i64(&reply, "n")).unwrap_or(0);
            let all = n as usize == writes.len();
            let mut lost = Vec::new();
            if !all {
                // Find out which ones applied: those now carrying our MODSEQ.
                let ids: Vec<Bson> = writes
                    .iter()
                    .map(|(m, _)| Bson::ObjectId(oid(m.id.0)))
                    .collect();
                let docs: Vec<Document> = self
                    .coll
                    .find(doc! { "_id": { "$in": ids }, "mailbox": oid(mailbox.0) })
                    .projection(meta_projection())
                    .await
                    .map_err(backend)?
                    .try_collect()
                    .await
                    .map_err(backend)?;
                let now: Vec<MessageMeta> = docs.iter().filter_map(meta_from).collect();
                for (m, new) in writes.drain(..) {
                    match now.iter().find(|x| x.id == m.id) {
                        Some(x) if x.modseq == modseq && x.flags.same_set(&new) => {
                            push_change(&mut result, &m, new, modseq)
                        }
                        Some(x) => lost.push(x.clone()),
                        None => {} // expunged meanwhile
                    }
                }
            } else {
                for (m, new) in writes.drain(..) {
                    push_change(&mut result, &m, new, modseq);
                }
            }
            if lost.is_empty() {
                break;
            }
            pending = lost;
        }
        result.changed.sort_by_key(|c| c.uid);
        result.refused.sort();
        Ok(result)
    }

    async fn copy_messages(
        &self,
        source: MailboxId,
        uids: &UidSet,
        target: &Mailbox,
    ) -> Result<(Vec<CopiedUid>, Vec<MessageMeta>)> {
        let q = uids_doc(source, uids);
        let docs: Vec<Document> = self
            .coll
            .find(q)
            .sort(doc! { "uid": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        if docs.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let n = u32::try_from(docs.len()).map_err(|_| Error::invalid("too many messages"))?;
        let alloc = self
            .mailboxes
            .find_one_and_update(
                doc! { "_id": oid(target.id.0), "user": oid(target.user.0) },
                doc! { "$inc": { "uidNext": num(i64::from(n)), "modifyIndex": 1 } },
            )
            .projection(doc! { "uidNext": 1, "modifyIndex": 1 })
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(backend)?
            .ok_or_else(|| Error::not_found("no such mailbox"))?;
        let rdate = target.expiry_from(Timestamp::now());
        let first = get_i64(&alloc, "uidNext") - i64::from(n);
        let first = u32::try_from(first).map_err(|_| Error::new(ErrorKind::Backend, "uidNext"))?;
        let modseq = get_u64(&alloc, "modifyIndex");
        let mut pairs = Vec::with_capacity(docs.len());
        let mut metas = Vec::with_capacity(docs.len());
        let mut new_docs = Vec::with_capacity(docs.len());
        for (i, d) in docs.into_iter().enumerate() {
            let Some(src) = meta_from(&d) else { continue };
            let new_uid = Uid(first + u32::try_from(i).unwrap_or(0));
            let new_id = MessageId::new();
            let mut nd = d;
            nd.insert("_id", oid(new_id.0));
            nd.insert("mailbox", oid(target.id.0));
            nd.insert("uid", num(i64::from(new_uid.0)));
            nd.insert("modseq", unum(modseq));
            nd.insert(
                "junk",
                target.special_use == Some(crate::model::SpecialUse::Junk),
            );
            nd.remove("copied");
            nd.insert("exp", rdate.is_some());
            nd.insert("rdate", rdate.map_or(Bson::Int32(0), |t| num(t.0)));
            pairs.push(CopiedUid {
                source: src.uid,
                target: new_uid,
                id: new_id,
                size: src.size,
            });
            let mut meta = src;
            meta.id = new_id;
            meta.mailbox = target.id;
            meta.uid = new_uid;
            meta.modseq = ModSeq(modseq);
            meta.rdate = rdate;
            metas.push(meta);
            new_docs.push(nd);
        }
        self.coll.insert_many(new_docs).await.map_err(backend)?;
        Ok((pairs, metas))
    }

    async fn update_fields(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
        update: &FieldUpdate,
    ) -> Result<u64> {
        let mut set = Document::new();
        match update.expires {
            Some(Some(t)) => {
                set.insert("exp", true);
                set.insert("rdate", num(t.0));
            }
            // WildDuck leaves `rdate` as it was; `exp: false` alone turns expiry off.
            Some(None) => {
                set.insert("exp", false);
            }
            None => {}
        }
        if let Some(custom) = &update.meta_data {
            set.insert("meta.custom", custom);
        }
        let q = uids_doc(mailbox, uids);
        if set.is_empty() {
            return self.coll.count_documents(q).await.map_err(backend);
        }
        let r = self
            .coll
            .update_many(q, doc! { "$set": set })
            .await
            .map_err(backend)?;
        Ok(r.matched_count)
    }

    async fn meta_data(&self, mailbox: MailboxId, uids: &UidSet) -> Result<Vec<(Uid, String)>> {
        let q = uids_doc(mailbox, uids);
        let docs: Vec<Document> = self
            .coll
            .find(q)
            .projection(doc! { "uid": 1, "meta.custom": 1 })
            .sort(doc! { "uid": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                let uid = u32::try_from(get_i64(d, "uid")).ok()?;
                Some((Uid(uid), custom_meta_data(d)?))
            })
            .collect())
    }

    async fn thread_counts(
        &self,
        user: UserId,
        threads: &[ThreadId],
    ) -> Result<Vec<(ThreadId, u64)>> {
        if threads.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Bson> = threads.iter().map(|t| Bson::ObjectId(oid(t.0))).collect();
        // WildDuck's `addThreadCountersToMessageList`: one aggregation over `user_messages_by_thread`.
        let docs: Vec<Document> = self
            .coll
            .aggregate(vec![
                doc! { "$match": { "user": oid(user.0), "thread": { "$in": ids } } },
                doc! { "$group": { "_id": "$thread", "count": { "$sum": 1 } } },
            ])
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                let t = d.get_object_id("_id").ok()?;
                let n = u64::try_from(get_i64(d, "count")).ok()?;
                Some((ThreadId(super::from_oid(&t)), n))
            })
            .collect())
    }

    async fn find_expired(&self, now: Timestamp, limit: usize) -> Result<Vec<MessageMeta>> {
        // Exclusive bound (the test server drops rows at an inclusive one): `rdate <= now`.
        let docs: Vec<Document> = self
            .coll
            .find(doc! { "exp": true, "rdate": { "$lt": num(now.0.saturating_add(1)) } })
            .projection(meta_projection())
            .sort(doc! { "rdate": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(meta_from).collect())
    }

    async fn delete_messages(&self, mailbox: MailboxId, ids: &[MessageId]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Bson> = ids.iter().map(|i| Bson::ObjectId(oid(i.0))).collect();
        let r = self
            .coll
            .delete_many(doc! { "mailbox": oid(mailbox.0), "_id": { "$in": ids } })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count)
    }

    async fn delete_mailbox_messages(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
        let metas = self.find_meta(mailbox, &MessageFilter::default()).await?;
        if !metas.is_empty() {
            self.coll
                .delete_many(doc! { "mailbox": oid(mailbox.0) })
                .await
                .map_err(backend)?;
        }
        Ok(metas)
    }

    async fn search(
        &self,
        mailbox: MailboxId,
        plan: &crate::search::SearchPlan,
    ) -> Result<Vec<(Uid, ModSeq)>> {
        super::search::search(&self.coll, mailbox, plan).await
    }

    async fn sum_sizes(&self, user: UserId) -> Result<i64> {
        let mut cur = self
            .coll
            .aggregate(vec![
                doc! { "$match": { "user": oid(user.0) } },
                doc! { "$group": { "_id": Bson::Null, "storageUsed": { "$sum": "$size" } } },
            ])
            .await
            .map_err(backend)?;
        let first = cur.try_next().await.map_err(backend)?;
        Ok(first.map(|d| get_i64(&d, "storageUsed")).unwrap_or(0))
    }

    async fn insert_messages(&self, messages: &[NewMessage]) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        self.coll
            .insert_many(messages.iter().map(|m| {
                let mut d = super::message_doc::to_document(&m.meta, &m.content);
                if let Some(custom) = &m.meta_data {
                    d.insert("meta", doc! { "custom": custom });
                }
                d
            }))
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load_messages(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
    ) -> Result<Vec<(MessageMeta, StoredMessage)>> {
        let q = uids_doc(mailbox, uids);
        let docs: Vec<Document> = self
            .coll
            .find(q)
            .sort(doc! { "uid": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(docs.len());
        for d in &docs {
            let (meta, msg) = super::message_doc::from_document(d)?;
            if meta.mailbox == mailbox && (uids.is_all() || uids.contains(meta.uid.0)) {
                out.push((meta, msg));
            }
        }
        self.apply_encodings(&mut out).await?;
        Ok(out)
    }

    async fn load_marking_seen(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Option<(MessageMeta, StoredMessage, Option<FlagChange>)>> {
        // The MODSEQ first, then one findAndModify that adds `\Seen` with it unless the message
        // has it already and returns the document: two round trips instead of read, MODSEQ,
        // guarded update. An update pipeline (MongoDB 4.2+) decides per document, so a message
        // already seen keeps its flags and MODSEQ; the MODSEQ is then spent without a change
        // (HIGHESTMODSEQ moves, no message carries it, as after an EXPUNGE).
        let modseq = self.next_modseq(mailbox).await?;
        let flags = doc! { "$ifNull": ["$flags", []] };
        let has_seen = doc! { "$in": ["\\Seen", flags.clone()] };
        let found = self
            .coll
            .find_one_and_update(
                doc! {
                    "mailbox": oid(mailbox.0),
                    "uid": num(i64::from(uid.0)),
                    // Never move a message's MODSEQ backwards past a newer concurrent change.
                    "modseq": { "$lt": unum(modseq.0) },
                },
                vec![doc! { "$set": {
                    "modseq": { "$cond": [has_seen.clone(), "$modseq", unum(modseq.0)] },
                    "flags": { "$cond": [
                        has_seen,
                        "$flags",
                        { "$concatArrays": [flags, ["\\Seen"]] },
                    ] },
                    "unseen": false,
                } }],
            )
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(backend)?;
        let Some(d) = found else {
            // Absent, or changed concurrently with a newer MODSEQ: the general path.
            let set = UidSet::range(uid.0, uid.0);
            let Some((meta, content)) = self.load_messages(mailbox, &set).await?.into_iter().next()
            else {
                return Ok(None);
            };
            if meta.flags.contains(&Flag::Seen) {
                return Ok(Some((meta, content, None)));
            }
            let seen: Flags = std::iter::once(Flag::Seen).collect();
            let r = self
                .set_flags(mailbox, &set, &FlagOp::Add(seen), None)
                .await?;
            let mut meta = meta;
            let change = r.changed.into_iter().next();
            if let Some(c) = &change {
                meta.flags = c.flags.clone();
                meta.modseq = c.modseq;
            } else {
                meta.flags.insert(Flag::Seen);
            }
            return Ok(Some((meta, content, change)));
        };
        let (meta, msg) = super::message_doc::from_document(&d)?;
        // Only this call can have written the freshly allocated MODSEQ.
        let change = (meta.modseq == modseq).then(|| FlagChange {
            id: meta.id,
            uid: meta.uid,
            flags: meta.flags.clone(),
            modseq,
            seen_changed: true,
        });
        let mut out = vec![(meta, msg)];
        self.apply_encodings(&mut out).await?;
        Ok(out.pop().map(|(meta, msg)| (meta, msg, change)))
    }
}

fn push_change(result: &mut FlagResult, m: &MessageMeta, new: Flags, modseq: ModSeq) {
    let seen_changed = m.flags.contains(&Flag::Seen) != new.contains(&Flag::Seen);
    result.changed.push(FlagChange {
        id: m.id,
        uid: m.uid,
        flags: new,
        modseq,
        seen_changed,
    });
}
