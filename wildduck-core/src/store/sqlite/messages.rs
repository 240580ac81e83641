//! `messages` (metadata, one row per message per mailbox) and `message_content` (the encoded
//! [`StoredMessage`], same row id). Metadata reads never touch `message_content`.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::archive::{archive_and_delete_in, release_in};
use super::attachments::put_blobs_in;
use super::journal::{append_in as journal_append_in, max_seq};
use super::mailboxes::{MAILBOX_COLUMNS, add_keywords_in, allocate_in, mailbox_from};
use super::threads::resolve_in;
use super::{SqliteStore, codec, i, id_at, idb, opt_id_at, sql, u_at};
use crate::message::StoredMessage;
use crate::model::{
    Flag, FlagOp, Flags, JournalCommand, JournalEntry, Mailbox, MailboxId, MessageId, MessageMeta,
    ModSeq, SpecialUse, ThreadId, Timestamp, Uid, UidSet, UserId,
};
use crate::store::{
    AppendMessage, Backend, CopiedUid, ExpungeOutcome, ExpungeRequest, FieldUpdate, FlagChange,
    FlagResult, FlagUpdate, FlagsRow, MessageFilter, MessageStore, NewMessage, SelectState,
    UidWindow, flags_entry, message_entry, stamp_entry,
};
use crate::{Error, ErrorKind, Result};

/// Metadata columns, in the order [`meta_from`] reads them (after `rid`).
pub(super) const META: &str = "m.rid, m.id, m.root, m.user, m.mailbox, m.uid, m.modseq, m.thread, m.idate, \
    m.hdate, m.flags, m.size, m.msgid, m.subject, m.ha, m.junk, m.magic, m.rdate, m.blobs";

/// Number of columns in [`META`].
pub(super) const META_LEN: usize = 19;

/// A UID set with at most this many ranges is read range by range through the index; a more
/// fragmented one is read as its bounding range and filtered while streaming.
const MAX_RANGE_QUERIES: usize = 64;

/// Messages larger than this are encoded on the blocking pool when appended.
const ENCODE_INLINE_SIZE: u64 = 256 * 1024;

/// Flags as stored: space-separated (no flag contains a space or control character).
fn flags_text(f: &Flags) -> String {
    f.to_strings().join(" ")
}

fn flags_from(s: &str) -> Flags {
    Flags::from_stored(s.split(' ').filter(|x| !x.is_empty()))
}

fn blobs_text(blobs: &[String]) -> Option<String> {
    let mut v: Vec<&String> = blobs.iter().collect();
    v.sort();
    v.dedup();
    (!v.is_empty()).then(|| serde_json::to_string(&v).unwrap_or_else(|_| "[]".into()))
}

pub(super) fn meta_from(row: &Row<'_>) -> rusqlite::Result<(i64, MessageMeta)> {
    let id = MessageId(id_at(row, 1)?);
    let flags: String = row.get(10)?;
    let blobs: Option<String> = row.get(18)?;
    let meta = MessageMeta {
        id,
        root: MessageId(id_at(row, 2)?),
        user: UserId(id_at(row, 3)?),
        mailbox: MailboxId(id_at(row, 4)?),
        uid: Uid(u32::try_from(u_at(row, 5)?).unwrap_or(0)),
        modseq: ModSeq(u_at(row, 6)?),
        thread: opt_id_at(row, 7)?.map(ThreadId),
        idate: Timestamp(row.get(8)?),
        hdate: Timestamp(row.get(9)?),
        flags: flags_from(&flags),
        size: u_at(row, 11)?,
        msgid: row.get::<_, Option<String>>(12)?.filter(|s| !s.is_empty()),
        subject: row.get(13)?,
        has_attachments: row.get(14)?,
        junk: row.get(15)?,
        magic: u32::try_from(u_at(row, 16)?).unwrap_or(0),
        rdate: row.get::<_, Option<i64>>(17)?.map(Timestamp),
        blobs: blobs
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or_default(),
    };
    Ok((row.get(0)?, meta))
}

/// Runs `SELECT {columns} FROM messages m WHERE mailbox = ? …` for `filter`, calling `map` on each
/// row in UID order. `uid_at` is the index of the `m.uid` column in `columns`.
fn select<T>(
    conn: &Connection,
    columns: &str,
    uid_at: usize,
    mailbox: MailboxId,
    filter: &MessageFilter,
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut sql_text = format!("SELECT {columns} FROM messages m WHERE m.mailbox = ?");
    let mut args: Vec<Value> = vec![Value::Blob(idb(mailbox.0).to_vec())];
    if let Some(since) = filter.changed_since {
        sql_text.push_str(" AND m.modseq > ?");
        args.push(Value::Integer(i(since.0)));
    }
    if filter.deleted_only {
        sql_text.push_str(" AND m.deleted = 1");
    }
    let set = filter.uids.as_ref().filter(|s| !s.is_all());
    let mut out = Vec::new();
    match set {
        None => {
            sql_text.push_str(" ORDER BY m.uid");
            let mut stmt = conn.prepare_cached(&sql_text).map_err(sql)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(args.iter()))
                .map_err(sql)?;
            while let Some(row) = rows.next().map_err(sql)? {
                out.push(map(row).map_err(sql)?);
            }
        }
        Some(set) if set.ranges().len() <= MAX_RANGE_QUERIES => {
            sql_text.push_str(" AND m.uid BETWEEN ? AND ? ORDER BY m.uid");
            let mut stmt = conn.prepare_cached(&sql_text).map_err(sql)?;
            for &(a, b) in set.ranges() {
                let mut range_args = args.clone();
                range_args.push(Value::Integer(i64::from(a)));
                range_args.push(Value::Integer(i64::from(b)));
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(range_args.iter()))
                    .map_err(sql)?;
                while let Some(row) = rows.next().map_err(sql)? {
                    out.push(map(row).map_err(sql)?);
                }
            }
        }
        Some(set) => {
            let ranges = set.ranges();
            let (Some(&(lo, _)), Some(&(_, hi))) = (ranges.first(), ranges.last()) else {
                return Ok(out);
            };
            sql_text.push_str(" AND m.uid BETWEEN ? AND ? ORDER BY m.uid");
            args.push(Value::Integer(i64::from(lo)));
            args.push(Value::Integer(i64::from(hi)));
            let mut stmt = conn.prepare_cached(&sql_text).map_err(sql)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(args.iter()))
                .map_err(sql)?;
            // Rows come in UID order and ranges are sorted: one merge walk.
            let mut r = 0;
            while let Some(row) = rows.next().map_err(sql)? {
                let uid = u32::try_from(row.get::<_, i64>(uid_at).map_err(sql)?).unwrap_or(0);
                while ranges.get(r).is_some_and(|&(_, b)| b < uid) {
                    r += 1;
                }
                if ranges.get(r).is_some_and(|&(a, b)| a <= uid && uid <= b) {
                    out.push(map(row).map_err(sql)?);
                }
            }
        }
    }
    Ok(out)
}

fn find_meta_in(
    conn: &Connection,
    mailbox: MailboxId,
    filter: &MessageFilter,
) -> Result<Vec<(i64, MessageMeta)>> {
    select(conn, META, 5, mailbox, filter, meta_from)
}

/// All UIDs of `mailbox`, sorted.
fn list_uids_in(conn: &Connection, mailbox: MailboxId) -> Result<Vec<Uid>> {
    let mut stmt = conn
        .prepare_cached("SELECT uid FROM messages WHERE mailbox = ?1 ORDER BY uid")
        .map_err(sql)?;
    let mut rows = stmt.query([idb(mailbox.0)]).map_err(sql)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        let uid: i64 = row.get(0).map_err(sql)?;
        if let Ok(u) = u32::try_from(uid) {
            out.push(Uid(u));
        }
    }
    Ok(out)
}

/// [`MessageStore::set_flags`] inside `tx`.
fn set_flags_in(
    tx: &Connection,
    mailbox: MailboxId,
    uids: &UidSet,
    op: &FlagOp,
    unchanged_since: Option<ModSeq>,
) -> Result<FlagResult> {
    let rows = select(
        tx,
        "m.rid, m.id, m.uid, m.modseq, m.flags",
        2,
        mailbox,
        &by_uids(uids),
        |r| {
            let flags: String = r.get(4)?;
            Ok((
                r.get::<_, i64>(0)?,
                MessageId(id_at(r, 1)?),
                Uid(u32::try_from(u_at(r, 2)?).unwrap_or(0)),
                ModSeq(u_at(r, 3)?),
                flags_from(&flags),
            ))
        },
    )?;
    let mut result = FlagResult::default();
    let mut writes = Vec::new();
    for (rid, id, uid, modseq, flags) in rows {
        if unchanged_since.is_some_and(|u| modseq > u) {
            result.refused.push(uid);
            continue;
        }
        let new = flags.apply(op);
        if !new.same_set(&flags) {
            let seen_changed = flags.contains(&Flag::Seen) != new.contains(&Flag::Seen);
            writes.push((rid, id, uid, new, seen_changed));
        }
    }
    if writes.is_empty() {
        return Ok(result);
    }
    let (_, modseq) =
        allocate_in(tx, mailbox, None, 0)?.ok_or_else(|| Error::not_found("no such mailbox"))?;
    let mut stmt = tx
        .prepare_cached(
            "UPDATE messages SET flags = ?1, seen = ?2, deleted = ?3, flagged = ?4, \
             draft = ?5, modseq = ?6 WHERE rid = ?7",
        )
        .map_err(sql)?;
    for (rid, id, uid, new, seen_changed) in writes {
        stmt.execute(params![
            flags_text(&new),
            new.contains(&Flag::Seen),
            new.contains(&Flag::Deleted),
            new.contains(&Flag::Flagged),
            new.contains(&Flag::Draft),
            i(modseq.0),
            rid,
        ])
        .map_err(sql)?;
        result.changed.push(FlagChange {
            id,
            uid,
            flags: new,
            modseq,
            seen_changed,
        });
    }
    result.modseq = Some(modseq);
    Ok(result)
}

fn by_uids(uids: &UidSet) -> MessageFilter {
    MessageFilter {
        uids: Some(uids.clone()),
        ..Default::default()
    }
}

pub(super) fn insert_row(conn: &Connection, m: &MessageMeta) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO messages (id, root, user, mailbox, uid, modseq, thread, idate, hdate, flags, \
         seen, deleted, flagged, draft, size, msgid, subject, ha, junk, magic, rdate, blobs) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
         ?19, ?20, ?21, ?22)",
    )
    .map_err(sql)?
    .execute(params![
        idb(m.id.0),
        idb(m.root.0),
        idb(m.user.0),
        idb(m.mailbox.0),
        i64::from(m.uid.0),
        i(m.modseq.0),
        m.thread.map(|t| idb(t.0)),
        m.idate.0,
        m.hdate.0,
        flags_text(&m.flags),
        m.flags.contains(&Flag::Seen),
        m.flags.contains(&Flag::Deleted),
        m.flags.contains(&Flag::Flagged),
        m.flags.contains(&Flag::Draft),
        i(m.size),
        m.msgid,
        m.subject,
        m.has_attachments,
        m.junk,
        i64::from(m.magic),
        m.rdate.map(|t| t.0),
        blobs_text(&m.blobs),
    ])
    .map_err(sql)?;
    Ok(conn.last_insert_rowid())
}

/// The part of storing a message after its UID and MODSEQ are allocated, shared by an append and
/// a restore from the archive: the row, its encoded content, `storageUsed`, the mailbox's
/// keywords and the journal entry, inside the caller's transaction.
pub(super) fn insert_allocated_in(
    tx: &Connection,
    meta: &MessageMeta,
    data: &[u8],
    meta_data: Option<&str>,
    keywords: &[String],
    journal: Option<JournalEntry>,
) -> Result<()> {
    let rid = insert_row(tx, meta)?;
    tx.prepare_cached("INSERT INTO message_content (rid, data, custom) VALUES (?1, ?2, ?3)")
        .map_err(sql)?
        .execute(params![rid, data, meta_data])
        .map_err(sql)?;
    tx.prepare_cached("UPDATE users SET storage_used = storage_used + ?1 WHERE id = ?2")
        .map_err(sql)?
        .execute(params![i(meta.size), idb(meta.user.0)])
        .map_err(sql)?;
    if !keywords.is_empty() {
        add_keywords_in(tx, meta.mailbox, keywords)?;
    }
    if let Some(mut entry) = journal {
        stamp_entry(&mut entry, meta);
        journal_append_in(tx, std::slice::from_ref(&entry))?;
    }
    Ok(())
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn append_message(
        &self,
        _backend: &Backend,
        message: AppendMessage,
    ) -> Result<MessageMeta> {
        let AppendMessage {
            mut meta,
            content,
            blobs,
            thread,
            keywords,
            journal,
            meta_data,
        } = message;
        // Encoded before the job is queued, so the writer thread (which every write of the
        // database waits for) only runs SQL; large ones off the reactor.
        let data = if meta.size > ENCODE_INLINE_SIZE {
            super::blocking(move || codec::encode(&content)).await?
        } else {
            codec::encode(&content)
        };
        // Every step in one savepoint of one batch transaction: one commit (shared with
        // concurrent writers) instead of one per step, and nothing partial after a crash, so
        // there is no undo path. The journal entry commits with the message, so a session never
        // sees the message without its EXISTS.
        self.write(move |tx| {
            let (uid, modseq) = allocate_in(tx, meta.mailbox, Some(meta.user), 1)?
                .ok_or_else(|| Error::not_found("no such mailbox"))?;
            meta.uid = uid;
            meta.modseq = modseq;
            if let Some(t) = &thread {
                meta.thread = Some(resolve_in(tx, meta.user, &t.subject, &t.references)?);
            }
            put_blobs_in(tx, &blobs)?;
            insert_allocated_in(tx, &meta, &data, meta_data.as_deref(), &keywords, journal)?;
            Ok(meta)
        })
        .await
    }

    async fn find_meta(
        &self,
        mailbox: MailboxId,
        filter: &MessageFilter,
    ) -> Result<Vec<MessageMeta>> {
        let filter = filter.clone();
        self.read(move |tx| {
            Ok(find_meta_in(tx, mailbox, &filter)?
                .into_iter()
                .map(|(_, m)| m)
                .collect())
        })
        .await
    }

    async fn find_flags(
        &self,
        mailbox: MailboxId,
        filter: &MessageFilter,
    ) -> Result<Vec<FlagsRow>> {
        let filter = filter.clone();
        // Three columns instead of the whole metadata row: no ids, strings or blob lists to
        // decode for each of possibly thousands of messages.
        self.read(move |tx| {
            select(tx, "m.uid, m.modseq, m.flags", 0, mailbox, &filter, |r| {
                // Borrowed from the row: no string allocated per message.
                let flags = match r.get_ref(2)? {
                    rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).unwrap_or(""),
                    _ => "",
                };
                Ok(FlagsRow {
                    uid: Uid(u32::try_from(u_at(r, 0)?).unwrap_or(0)),
                    modseq: ModSeq(u_at(r, 1)?),
                    flags: flags_from(flags),
                })
            })
        })
        .await
    }

    async fn select_state(
        &self,
        _backend: &Backend,
        user: UserId,
        path: &str,
    ) -> Result<Option<SelectState>> {
        let path = path.to_string();
        // One snapshot: position, mailbox and UIDs are consistent, in one trip to the blocking
        // pool instead of three.
        self.read(move |tx| {
            let position = max_seq(tx)?;
            let mailbox = tx
                .prepare_cached(&format!(
                    "SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE user = ?1 AND path = ?2"
                ))
                .map_err(sql)?
                .query_row(params![idb(user.0), path], mailbox_from)
                .optional()
                .map_err(sql)?;
            let Some(mailbox) = mailbox else {
                return Ok(None);
            };
            let uids = list_uids_in(tx, mailbox.id)?;
            Ok(Some(SelectState {
                position,
                mailbox,
                uids,
            }))
        })
        .await
    }

    async fn list_uids(&self, mailbox: MailboxId) -> Result<Vec<Uid>> {
        self.read(move |tx| list_uids_in(tx, mailbox)).await
    }

    async fn newest_meta(
        &self,
        mailbox: MailboxId,
        min_uid: Uid,
        limit: usize,
    ) -> Result<Vec<MessageMeta>> {
        // One query through the (mailbox, uid) key, newest first, instead of the default's two.
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {META} FROM messages m WHERE m.mailbox = ?1 AND m.uid >= ?2 \
                     ORDER BY m.uid DESC LIMIT ?3"
                ))
                .map_err(sql)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut rows = stmt
                .query(params![idb(mailbox.0), i64::from(min_uid.0), limit])
                .map_err(sql)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(sql)? {
                out.push(meta_from(row).map_err(sql)?.1);
            }
            out.reverse();
            Ok(out)
        })
        .await
    }

    async fn uid_window(&self, mailbox: MailboxId, window: UidWindow) -> Result<Vec<Uid>> {
        // One range scan of the (mailbox, uid) index, stopped at the limit.
        let (cmp, order, from) = if window.descending {
            (
                "<",
                "DESC",
                window
                    .after
                    .map_or(i64::from(u32::MAX) + 1, |u| i64::from(u.0)),
            )
        } else {
            (">", "ASC", window.after.map_or(0, |u| i64::from(u.0)))
        };
        let unseen = if window.unseen_only {
            " AND seen = 0"
        } else {
            ""
        };
        let query = format!(
            "SELECT uid FROM messages WHERE mailbox = ?1 AND uid {cmp} ?2{unseen} \
             ORDER BY uid {order} LIMIT ?3"
        );
        let limit = i64::try_from(window.limit).unwrap_or(i64::MAX);
        self.read(move |tx| {
            let mut stmt = tx.prepare_cached(&query).map_err(sql)?;
            let mut rows = stmt
                .query(params![idb(mailbox.0), from, limit])
                .map_err(sql)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(sql)? {
                let uid: i64 = row.get(0).map_err(sql)?;
                if let Ok(u) = u32::try_from(uid) {
                    out.push(Uid(u));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn counts(&self, mailbox: MailboxId) -> Result<(u64, u64)> {
        self.read(move |tx| {
            let (total, seen): (i64, i64) = tx
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(seen), 0) FROM messages WHERE mailbox = ?1",
                )
                .map_err(sql)?
                .query_row([idb(mailbox.0)], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql)?;
            let total = u64::try_from(total).unwrap_or(0);
            let seen = u64::try_from(seen).unwrap_or(0);
            Ok((total, total.saturating_sub(seen)))
        })
        .await
    }

    async fn set_flags(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
        op: &FlagOp,
        unchanged_since: Option<ModSeq>,
    ) -> Result<FlagResult> {
        let uids = uids.clone();
        let op = op.clone();
        // Read, decide and write in one IMMEDIATE transaction: no other writer can slip in, so no
        // optimistic retries are needed. A flag change is not fsynced under `Optimized`.
        self.write_relaxed(move |tx| set_flags_in(tx, mailbox, &uids, &op, unchanged_since))
            .await
    }

    async fn set_flags_journaled(
        &self,
        _backend: &Backend,
        update: FlagUpdate<'_>,
    ) -> Result<FlagResult> {
        let FlagUpdate {
            user,
            mailbox,
            unchanged_since,
            ..
        } = update;
        let uids = update.uids.clone();
        let op = update.op.clone();
        let keywords = update.keywords.to_vec();
        let session = update.session.map(str::to_owned);
        // Flags, keywords and journal in one job and one commit (not fsynced under
        // `Optimized`, as a flag change).
        self.write_relaxed(move |tx| {
            let result = set_flags_in(tx, mailbox, &uids, &op, unchanged_since)?;
            if result.changed.is_empty() {
                return Ok(result);
            }
            if !keywords.is_empty() {
                add_keywords_in(tx, mailbox, &keywords)?;
            }
            let entries: Vec<JournalEntry> = result
                .changed
                .iter()
                .map(|c| flags_entry(user, mailbox, c, session.as_deref()))
                .collect();
            journal_append_in(tx, &entries)?;
            Ok(result)
        })
        .await
    }

    async fn expunge_journaled(
        &self,
        request: ExpungeRequest<'_>,
    ) -> Result<Option<ExpungeOutcome>> {
        let ExpungeRequest {
            user,
            mailbox,
            archive,
            ..
        } = request;
        let filter = MessageFilter {
            uids: request.uids.cloned(),
            deleted_only: true,
            ..Default::default()
        };
        let session = request.session.map(str::to_owned);
        // Find, archive and delete, MODSEQ, references, quota and journal in one job and one
        // commit: nothing can change the messages between the read and the delete, and a crash
        // keeps all of it or none (an expunge is not fsynced under `Optimized`).
        self.write_relaxed(move |tx| {
            let found: Vec<MessageMeta> = find_meta_in(tx, mailbox, &filter)?
                .into_iter()
                .map(|(_, m)| m)
                .collect();
            if found.is_empty() {
                return Ok(Some(ExpungeOutcome::default()));
            }
            let ids: Vec<MessageId> = found.iter().map(|m| m.id).collect();
            let (deleted, archived) = match archive {
                Some((at, expires)) => {
                    let keep: Vec<MessageId> = found
                        .iter()
                        .filter(|m| !m.flags.contains(&Flag::Draft))
                        .map(|m| m.id)
                        .collect();
                    let out = archive_and_delete_in(tx, mailbox, &ids, &keep, at, expires)?;
                    (out.deleted, out.archived)
                }
                None => {
                    let out =
                        archive_and_delete_in(tx, mailbox, &ids, &[], Timestamp(0), Timestamp(0))?;
                    (out.deleted, out.archived)
                }
            };
            if deleted != ids.len() as u64 {
                // Read and deleted in one write transaction: cannot happen; roll back.
                return Err(Error::new(
                    ErrorKind::Backend,
                    "expunge deleted other rows than it read",
                ));
            }
            let (_, modseq) = allocate_in(tx, mailbox, None, 0)?
                .ok_or_else(|| Error::not_found("no such mailbox"))?;
            // Archived messages keep their references until the archive entry is purged.
            let now = Timestamp::now().0;
            let mut size = 0u64;
            for m in &found {
                size = size.saturating_add(m.size);
                if !archived.contains(&m.id) {
                    release_in(tx, m, now)?;
                }
            }
            tx.prepare_cached("UPDATE users SET storage_used = storage_used - ?1 WHERE id = ?2")
                .map_err(sql)?
                .execute(params![i(size), idb(user.0)])
                .map_err(sql)?;
            let entries: Vec<JournalEntry> = found
                .iter()
                .map(|m| message_entry(JournalCommand::Expunge, m, modseq, session.as_deref()))
                .collect();
            journal_append_in(tx, &entries)?;
            Ok(Some(ExpungeOutcome {
                removed: found,
                modseq: Some(modseq),
            }))
        })
        .await
    }

    async fn copy_messages(
        &self,
        source: MailboxId,
        uids: &UidSet,
        target: &Mailbox,
    ) -> Result<(Vec<CopiedUid>, Vec<MessageMeta>)> {
        let uids = uids.clone();
        let target_id = target.id;
        let target_user = target.user;
        let junk = target.special_use == Some(SpecialUse::Junk);
        let rdate = target.expiry_from(Timestamp::now());
        self.write(move |tx| {
            let found = find_meta_in(tx, source, &by_uids(&uids))?;
            if found.is_empty() {
                return Ok((Vec::new(), Vec::new()));
            }
            let n = u32::try_from(found.len()).map_err(|_| Error::invalid("too many messages"))?;
            let (first, modseq) = allocate_in(tx, target_id, Some(target_user), n)?
                .ok_or_else(|| Error::not_found("no such mailbox"))?;
            let mut copy_row = tx
                .prepare_cached(
                    "INSERT INTO messages (id, root, user, mailbox, uid, modseq, thread, idate, \
                     hdate, flags, seen, deleted, flagged, draft, size, msgid, subject, ha, junk, \
                     magic, rdate, blobs) \
                     SELECT ?1, root, user, ?2, ?3, ?4, thread, idate, hdate, flags, seen, deleted, \
                     flagged, draft, size, msgid, subject, ha, ?5, magic, ?7, blobs \
                     FROM messages WHERE rid = ?6",
                )
                .map_err(sql)?;
            let mut copy_content = tx
                .prepare_cached(
                    "INSERT INTO message_content (rid, data, custom) \
                     SELECT ?1, data, custom FROM message_content WHERE rid = ?2",
                )
                .map_err(sql)?;
            let mut pairs = Vec::with_capacity(found.len());
            let mut metas = Vec::with_capacity(found.len());
            for (k, (rid, src)) in (0u32..).zip(found) {
                let uid = Uid(first.0 + k);
                let id = MessageId::new();
                copy_row
                    .execute(params![
                        idb(id.0),
                        idb(target_id.0),
                        i64::from(uid.0),
                        i(modseq.0),
                        junk,
                        rid,
                        rdate.map(|t| t.0)
                    ])
                    .map_err(sql)?;
                copy_content
                    .execute(params![tx.last_insert_rowid(), rid])
                    .map_err(sql)?;
                pairs.push(CopiedUid {
                    source: src.uid,
                    target: uid,
                    id,
                    size: src.size,
                });
                metas.push(MessageMeta {
                    id,
                    mailbox: target_id,
                    uid,
                    modseq,
                    junk,
                    rdate,
                    ..src
                });
            }
            Ok((pairs, metas))
        })
        .await
    }

    async fn insert_messages(&self, messages: &[NewMessage]) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let messages = messages.to_vec();
        self.write(move |tx| {
            let mut content = tx
                .prepare_cached(
                    "INSERT INTO message_content (rid, data, custom) VALUES (?1, ?2, ?3)",
                )
                .map_err(sql)?;
            for m in &messages {
                let rid = insert_row(tx, &m.meta)?;
                content
                    .execute(params![rid, codec::encode(&m.content), m.meta_data])
                    .map_err(sql)?;
            }
            Ok(())
        })
        .await
    }

    async fn load_messages(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
    ) -> Result<Vec<(MessageMeta, StoredMessage)>> {
        let uids = uids.clone();
        self.read(move |tx| {
            let columns = format!(
                "{META}, (SELECT c.data FROM message_content c WHERE c.rid = m.rid) AS data"
            );
            let rows = select(tx, &columns, 5, mailbox, &by_uids(&uids), |r| {
                let (_, meta) = meta_from(r)?;
                let data: Option<Vec<u8>> = r.get(META_LEN)?;
                Ok((meta, data))
            })?;
            rows.into_iter()
                .map(|(meta, data)| {
                    let data = data.ok_or_else(|| {
                        Error::new(
                            ErrorKind::Backend,
                            format!("message {} has no stored content", meta.id),
                        )
                    })?;
                    Ok((meta, codec::decode(&data)?))
                })
                .collect()
        })
        .await
    }

    async fn update_fields(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
        update: &FieldUpdate,
    ) -> Result<u64> {
        let uids = uids.clone();
        let update = update.clone();
        self.write(move |tx| {
            let rids = select(tx, "m.rid, m.uid", 1, mailbox, &by_uids(&uids), |r| {
                r.get::<_, i64>(0)
            })?;
            if let Some(expires) = update.expires {
                let mut stmt = tx
                    .prepare_cached("UPDATE messages SET rdate = ?1 WHERE rid = ?2")
                    .map_err(sql)?;
                for rid in &rids {
                    stmt.execute(params![expires.map(|t| t.0), rid])
                        .map_err(sql)?;
                }
            }
            if let Some(custom) = &update.meta_data {
                let mut stmt = tx
                    .prepare_cached("UPDATE message_content SET custom = ?1 WHERE rid = ?2")
                    .map_err(sql)?;
                for rid in &rids {
                    stmt.execute(params![custom, rid]).map_err(sql)?;
                }
            }
            Ok(rids.len() as u64)
        })
        .await
    }

    async fn meta_data(&self, mailbox: MailboxId, uids: &UidSet) -> Result<Vec<(Uid, String)>> {
        let uids = uids.clone();
        self.read(move |tx| {
            let rows = select(
                tx,
                "m.uid, (SELECT c.custom FROM message_content c WHERE c.rid = m.rid)",
                0,
                mailbox,
                &by_uids(&uids),
                |r| {
                    Ok((
                        Uid(u32::try_from(r.get::<_, i64>(0)?).unwrap_or(0)),
                        r.get::<_, Option<String>>(1)?,
                    ))
                },
            )?;
            Ok(rows
                .into_iter()
                .filter_map(|(uid, c)| Some((uid, c.filter(|c| !c.is_empty())?)))
                .collect())
        })
        .await
    }

    async fn thread_counts(
        &self,
        user: UserId,
        threads: &[ThreadId],
    ) -> Result<Vec<(ThreadId, u64)>> {
        let threads = threads.to_vec();
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached("SELECT COUNT(*) FROM messages WHERE user = ?1 AND thread = ?2")
                .map_err(sql)?;
            let mut out = Vec::with_capacity(threads.len());
            for t in threads {
                let n: i64 = stmt
                    .query_row(params![idb(user.0), idb(t.0)], |r| r.get(0))
                    .map_err(sql)?;
                if n > 0 {
                    out.push((t, u64::try_from(n).unwrap_or(0)));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn find_expired(&self, now: Timestamp, limit: usize) -> Result<Vec<MessageMeta>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |tx| {
            // `rdate IS NOT NULL` lets the partial index `messages_expiry` serve the range.
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {META} FROM messages m WHERE m.rdate IS NOT NULL AND m.rdate <= ?1 \
                     ORDER BY m.rdate LIMIT ?2"
                ))
                .map_err(sql)?;
            let rows = stmt
                .query_map(params![now.0, limit], |r| meta_from(r).map(|(_, m)| m))
                .map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
        })
        .await
    }

    async fn delete_messages(&self, mailbox: MailboxId, ids: &[MessageId]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids = ids.to_vec();
        // Expunge (and the source side of a move, whose copy was durable): not fsynced under
        // `Optimized`; lost, the message would only come back.
        self.write_relaxed(move |tx| {
            let mut stmt = tx
                .prepare_cached("DELETE FROM messages WHERE mailbox = ?1 AND id = ?2")
                .map_err(sql)?;
            let mut n = 0u64;
            for id in &ids {
                n += stmt
                    .execute(params![idb(mailbox.0), idb(id.0)])
                    .map_err(sql)? as u64;
            }
            Ok(n)
        })
        .await
    }

    async fn delete_mailbox_messages(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
        self.write(move |tx| {
            let metas = find_meta_in(tx, mailbox, &MessageFilter::default())?;
            tx.execute("DELETE FROM messages WHERE mailbox = ?1", [idb(mailbox.0)])
                .map_err(sql)?;
            Ok(metas.into_iter().map(|(_, m)| m).collect())
        })
        .await
    }

    async fn search(
        &self,
        mailbox: MailboxId,
        plan: &crate::search::SearchPlan,
    ) -> Result<Vec<(Uid, ModSeq)>> {
        use crate::search::{SearchFields, SearchPlan};
        if *plan == SearchPlan::Nothing {
            return Ok(Vec::new());
        }
        let plan = plan.clone();
        self.read(move |tx| {
            let mut args = vec![Value::Blob(idb(mailbox.0).to_vec())];
            if let Some(cond) = super::search::exact(&plan, &mut args) {
                // Metadata only: one query, nothing decoded.
                let mut stmt = tx
                    .prepare(&format!(
                        "SELECT m.uid, m.modseq FROM messages m WHERE m.mailbox = ? AND ({cond}) \
                         ORDER BY m.uid"
                    ))
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                        Ok((
                            Uid(u32::try_from(u_at(r, 0)?).unwrap_or(0)),
                            ModSeq(u_at(r, 1)?),
                        ))
                    })
                    .map_err(sql)?;
                return rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql);
            }
            let pre = super::search::necessary(&plan, &mut args);
            let content = plan.needs_content();
            let columns = if content {
                format!("{META}, (SELECT c.data FROM message_content c WHERE c.rid = m.rid)")
            } else {
                META.to_string()
            };
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {columns} FROM messages m WHERE m.mailbox = ? AND ({pre}) ORDER BY m.uid"
                ))
                .map_err(sql)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(args.iter()))
                .map_err(sql)?;
            let empty = super::search::no_fields();
            let mut out = Vec::new();
            // One candidate at a time: content is decoded, matched and dropped.
            while let Some(row) = rows.next().map_err(sql)? {
                let (_, meta) = meta_from(row).map_err(sql)?;
                let hit = if content {
                    let data: Option<Vec<u8>> = row.get(META_LEN).map_err(sql)?;
                    let Some(data) = data else { continue };
                    let stored = codec::decode(&data)?;
                    plan.matches(&meta, &SearchFields::from_stored(&stored))
                } else {
                    plan.matches(&meta, &empty)
                };
                if hit {
                    out.push((meta.uid, meta.modseq));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn sum_sizes(&self, user: UserId) -> Result<i64> {
        self.read(move |tx| {
            tx.query_row(
                "SELECT COALESCE(SUM(size), 0) FROM messages WHERE user = ?1",
                [idb(user.0)],
                |r| r.get(0),
            )
            .map_err(sql)
        })
        .await
    }
}
