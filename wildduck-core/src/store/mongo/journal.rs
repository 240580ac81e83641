//! `journal`: WildDuck's change journal (TTL 3 h through the `journal_autoexpire` index).

use async_trait::async_trait;
use bson::{Document, doc};
use futures::TryStreamExt as _;
use mongodb::{Collection, Database};

use super::{backend, date, get_bool, get_date, get_oid, get_u64, num, oid, strings, unum};
use crate::Result;
use crate::model::{
    JournalCommand, JournalEntry, JournalId, MailboxId, MessageId, ModSeq, ThreadId, Timestamp,
    Uid, UserId,
};
use crate::store::JournalStore;

/// `journal` collection.
#[derive(Debug, Clone)]
pub struct MongoJournal {
    coll: Collection<Document>,
}

impl MongoJournal {
    /// Over `db.journal`.
    pub fn new(db: Database) -> Self {
        Self {
            coll: db.collection("journal"),
        }
    }
}

fn entry_doc(e: &JournalEntry) -> Document {
    let id = if e.id == JournalId::default() {
        JournalId::new()
    } else {
        e.id
    };
    let created = if e.created.0 == 0 {
        Timestamp::now()
    } else {
        e.created
    };
    let mut d = doc! {
        "_id": oid(id.0),
        "user": oid(e.user.0),
        "mailbox": oid(e.mailbox.0),
        "modseq": unum(e.modseq.0),
        "created": date(created),
    };
    if let Some(c) = e.command {
        d.insert("command", c.as_str());
    }
    if let Some(u) = e.uid {
        d.insert("uid", num(i64::from(u.0)));
    }
    if let Some(m) = e.message {
        d.insert("message", oid(m.0));
    }
    if let Some(f) = &e.flags {
        d.insert("flags", strings(f));
    }
    if let Some(v) = e.unseen {
        d.insert("unseen", v);
    }
    if let Some(v) = e.unseen_change {
        d.insert("unseenChange", v);
    }
    if let Some(t) = e.idate {
        d.insert("idate", date(t));
    }
    if let Some(t) = e.thread {
        d.insert("thread", oid(t.0));
    }
    if let Some(s) = &e.ignore {
        d.insert("ignore", s);
    }
    if let Some(p) = &e.path {
        d.insert("path", p);
    }
    d
}

fn entry_from(d: &Document) -> Option<JournalEntry> {
    Some(JournalEntry {
        id: JournalId(get_oid(d, "_id")?),
        user: UserId(get_oid(d, "user")?),
        mailbox: MailboxId(get_oid(d, "mailbox")?),
        command: d.get_str("command").ok().and_then(JournalCommand::parse),
        uid: d
            .contains_key("uid")
            .then(|| Uid(u32::try_from(get_u64(d, "uid")).unwrap_or(0))),
        message: get_oid(d, "message").map(MessageId),
        modseq: ModSeq(get_u64(d, "modseq")),
        flags: d
            .get_array("flags")
            .is_ok()
            .then(|| super::get_strings(d, "flags")),
        unseen: d.contains_key("unseen").then(|| get_bool(d, "unseen")),
        unseen_change: d
            .contains_key("unseenChange")
            .then(|| get_bool(d, "unseenChange")),
        idate: d.contains_key("idate").then(|| get_date(d, "idate")),
        thread: get_oid(d, "thread").map(ThreadId),
        ignore: d.get_str("ignore").ok().map(str::to_string),
        path: d.get_str("path").ok().map(str::to_string),
        created: get_date(d, "created"),
    })
}

#[async_trait]
impl JournalStore for MongoJournal {
    async fn append(&self, entries: &[JournalEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.coll
            .insert_many(entries.iter().map(entry_doc))
            .ordered(false)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn since(&self, mailbox: MailboxId, since: ModSeq) -> Result<Vec<JournalEntry>> {
        let docs: Vec<Document> = self
            .coll
            .find(doc! { "mailbox": oid(mailbox.0), "modseq": { "$gt": unum(since.0) } })
            .sort(doc! { "modseq": 1, "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(entry_from).collect())
    }

    async fn since_or_created(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
        created_from: Timestamp,
    ) -> Result<Vec<JournalEntry>> {
        // Each `$or` branch has an index of WildDuck's layout: `mailbox_1_modseq_1` and the
        // `created` TTL index (a few seconds of entries, filtered by mailbox).
        let filter = doc! { "$or": [
            { "mailbox": oid(mailbox.0), "modseq": { "$gt": unum(since.0) } },
            { "created": { "$gte": date(created_from) }, "mailbox": oid(mailbox.0) },
        ] };
        let docs: Vec<Document> = self
            .coll
            .find(filter)
            .sort(doc! { "modseq": 1, "_id": 1 })
            // One round trip even when the re-read window holds a large change (a STORE on
            // a few hundred messages), instead of the server's default first batch of 101.
            .batch_size(2500)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(entry_from).collect())
    }

    async fn prune(&self, before: Timestamp) -> Result<u64> {
        let r = self
            .coll
            .delete_many(doc! { "created": { "$lt": date(before) } })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count)
    }
}
