//! `archived`: deleted messages with their metadata columns (as `messages` has them), the encoded
//! content and the archive's times. Archiving, restoring and purging each run in one transaction
//! together with the message-side change, so a crash never loses a message or counts it twice.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::mailboxes::allocate_in;
use super::messages::{META, META_LEN, insert_allocated_in, meta_from};
use super::{SqliteStore, idb, sql};
use crate::message::StoredMessage;
use crate::model::{MailboxId, MessageId, MessageMeta, Timestamp, UserId};
use crate::store::{AppendMessage, ArchiveOutcome, ArchiveStore, ArchivedMessage, Backend};
use crate::{Error, Result};

/// Reads a row of `SELECT {META}, m.archived, m.expires … FROM archived m`.
fn archived_from(row: &Row<'_>) -> rusqlite::Result<ArchivedMessage> {
    let (_, mut meta) = meta_from(row)?;
    // The message's own retention does not survive archiving (WildDuck overwrites `rdate`).
    meta.rdate = None;
    Ok(ArchivedMessage {
        meta,
        archived: Timestamp(row.get(META_LEN)?),
        expires: Timestamp(row.get(META_LEN + 1)?),
        // The restore reads it with the content, in its own transaction.
        meta_data: None,
    })
}

fn select_archived(
    conn: &Connection,
    condition: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ArchivedMessage>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {META}, m.archived, m.expires FROM archived m WHERE {condition} ORDER BY m.id"
        ))
        .map_err(sql)?;
    let rows = stmt.query_map(args, archived_from).map_err(sql)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
}

/// Releases one reference per blob of `meta` (the archive entry's share, or the message's own
/// when it is deleted without an archive entry).
pub(super) fn release_in(conn: &Connection, meta: &MessageMeta, now: i64) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "UPDATE blobs SET refs = refs - 1, magic = magic - ?1, updated = ?2 WHERE hash = ?3",
        )
        .map_err(sql)?;
    for h in &meta.blobs {
        stmt.execute(params![i64::from(meta.magic), now, h])
            .map_err(sql)?;
    }
    Ok(())
}

/// Copies the messages `archive` (a subset of `ids`) of `mailbox` into the archive stamped `at`
/// and `expires`, then deletes every message of `ids`, inside `tx`.
pub(super) fn archive_and_delete_in(
    tx: &Connection,
    mailbox: MailboxId,
    ids: &[MessageId],
    archive: &[MessageId],
    at: Timestamp,
    expires: Timestamp,
) -> Result<ArchiveOutcome> {
    let mut out = ArchiveOutcome::default();
    // A plain row copy: the content is moved as stored, never decoded.
    let mut copy = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO archived (id, root, user, mailbox, uid, modseq, thread, \
             idate, hdate, flags, size, msgid, subject, ha, junk, magic, rdate, blobs, \
             archived, expires, data, custom) \
             SELECT m.id, m.root, m.user, m.mailbox, m.uid, m.modseq, m.thread, m.idate, \
             m.hdate, m.flags, m.size, m.msgid, m.subject, m.ha, m.junk, m.magic, m.rdate, \
             m.blobs, ?1, ?2, c.data, c.custom FROM messages m JOIN message_content c \
             ON c.rid = m.rid WHERE m.mailbox = ?3 AND m.id = ?4",
        )
        .map_err(sql)?;
    let mut present = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM archived WHERE id = ?1) \
             AND EXISTS (SELECT 1 FROM messages WHERE mailbox = ?2 AND id = ?1)",
        )
        .map_err(sql)?;
    for id in archive {
        let n = copy
            .execute(params![at.0, expires.0, idb(mailbox.0), idb(id.0)])
            .map_err(sql)?;
        let already = n == 0
            && present
                .query_row(params![idb(id.0), idb(mailbox.0)], |r| r.get::<_, bool>(0))
                .map_err(sql)?;
        if n == 1 || already {
            out.archived.push(*id);
        }
    }
    let mut delete = tx
        .prepare_cached("DELETE FROM messages WHERE mailbox = ?1 AND id = ?2")
        .map_err(sql)?;
    for id in ids {
        out.deleted += delete
            .execute(params![idb(mailbox.0), idb(id.0)])
            .map_err(sql)? as u64;
    }
    Ok(out)
}

#[async_trait]
impl ArchiveStore for SqliteStore {
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
        let ids = ids.to_vec();
        let archive: Vec<MessageId> = archive
            .iter()
            .filter(|a| ids.contains(a))
            .copied()
            .collect();
        // An expunge: not fsynced under `Synchronous::Optimized` (lost, the messages would
        // only be back in their mailbox).
        self.write_relaxed(move |tx| {
            archive_and_delete_in(tx, mailbox, &ids, &archive, at, expires)
        })
        .await
    }

    async fn list_archived(&self, user: UserId) -> Result<Vec<ArchivedMessage>> {
        self.read(move |tx| select_archived(tx, "m.user = ?1", &[&idb(user.0)]))
            .await
    }

    async fn archived_between(
        &self,
        user: UserId,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<ArchivedMessage>> {
        self.read(move |tx| {
            select_archived(
                tx,
                "m.user = ?1 AND m.archived >= ?2 AND m.archived <= ?3",
                &[&idb(user.0), &start.0, &end.0],
            )
        })
        .await
    }

    async fn load_archived(
        &self,
        user: UserId,
        ids: &[MessageId],
    ) -> Result<Vec<(ArchivedMessage, StoredMessage)>> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {META}, m.archived, m.expires, m.data FROM archived m \
                     WHERE m.user = ?1 AND m.id = ?2"
                ))
                .map_err(sql)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                let row = stmt
                    .query_row(params![idb(user.0), idb(id.0)], |r| {
                        Ok((archived_from(r)?, r.get::<_, Vec<u8>>(META_LEN + 2)?))
                    })
                    .optional()
                    .map_err(sql)?;
                if let Some((a, data)) = row {
                    let content = super::codec::decode(&data)?;
                    out.push((a, content));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn remove_archived(&self, user: UserId, ids: &[MessageId]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids = ids.to_vec();
        self.write(move |tx| {
            let mut stmt = tx
                .prepare_cached("DELETE FROM archived WHERE user = ?1 AND id = ?2")
                .map_err(sql)?;
            let mut n = 0u64;
            for id in &ids {
                n += stmt.execute(params![idb(user.0), idb(id.0)]).map_err(sql)? as u64;
            }
            Ok(n)
        })
        .await
    }

    async fn restore_archived(
        &self,
        _backend: &Backend,
        message: AppendMessage,
    ) -> Result<MessageMeta> {
        let AppendMessage {
            mut meta,
            keywords,
            journal,
            ..
        } = message;
        // Entry, message, content, quota, keywords and journal in one transaction: the
        // references pass from the entry to the message with nothing in between.
        self.write(move |tx| {
            let (data, custom): (Vec<u8>, Option<String>) = tx
                .prepare_cached("SELECT data, custom FROM archived WHERE user = ?1 AND id = ?2")
                .map_err(sql)?
                .query_row(params![idb(meta.user.0), idb(meta.id.0)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(sql)?
                .ok_or_else(|| Error::not_found("no such archived message"))?;
            let (uid, modseq) = allocate_in(tx, meta.mailbox, Some(meta.user), 1)?
                .ok_or_else(|| Error::not_found("no such mailbox"))?;
            meta.uid = uid;
            meta.modseq = modseq;
            insert_allocated_in(tx, &meta, &data, custom.as_deref(), &keywords, journal)?;
            tx.prepare_cached("DELETE FROM archived WHERE id = ?1")
                .map_err(sql)?
                .execute([idb(meta.id.0)])
                .map_err(sql)?;
            Ok(meta)
        })
        .await
    }

    async fn purge_expired(&self, _backend: &Backend, now: Timestamp, limit: usize) -> Result<u64> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Entries, their references and the rows in one transaction.
        self.write(move |tx| {
            let expired = select_archived(
                tx,
                "m.rid IN (SELECT rid FROM archived WHERE expires <= ?1 ORDER BY expires LIMIT ?2)",
                &[&now.0, &limit],
            )?;
            let mut live = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1)")
                .map_err(sql)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM archived WHERE id = ?1")
                .map_err(sql)?;
            let stamp = Timestamp::now().0;
            let mut n = 0u64;
            for a in &expired {
                let restored = live
                    .query_row([idb(a.meta.id.0)], |r| r.get::<_, bool>(0))
                    .map_err(sql)?;
                if !restored {
                    release_in(tx, &a.meta, stamp)?;
                }
                n += delete.execute([idb(a.meta.id.0)]).map_err(sql)? as u64;
            }
            Ok(n)
        })
        .await
    }
}
