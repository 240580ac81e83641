//! `journal` table: the change log other sessions replay, in MODSEQ then insertion order.

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, i, id_at, idb, json_list, opt_id_at, sql, u_at};
use crate::Result;
use crate::model::{
    JournalCommand, JournalEntry, JournalId, MailboxId, MessageId, ModSeq, ThreadId, Timestamp,
    Uid, UserId,
};
use crate::store::JournalStore;

const COLUMNS: &str = "id, user, mailbox, command, uid, message, modseq, flags, unseen, \
    unseen_change, idate, thread, ignore, path, created";

fn entry_from(row: &Row<'_>) -> rusqlite::Result<JournalEntry> {
    let uid: Option<i64> = row.get(4)?;
    let flags: Option<String> = row.get(7)?;
    Ok(JournalEntry {
        id: JournalId(id_at(row, 0)?),
        user: UserId(id_at(row, 1)?),
        mailbox: MailboxId(id_at(row, 2)?),
        command: row
            .get::<_, Option<String>>(3)?
            .as_deref()
            .and_then(JournalCommand::parse),
        uid: uid.map(|u| Uid(u32::try_from(u).unwrap_or(0))),
        message: opt_id_at(row, 5)?.map(MessageId),
        modseq: ModSeq(u_at(row, 6)?),
        flags: flags.map(|f| serde_json::from_str(&f).unwrap_or_default()),
        unseen: row.get(8)?,
        unseen_change: row.get(9)?,
        idate: row.get::<_, Option<i64>>(10)?.map(Timestamp),
        thread: opt_id_at(row, 11)?.map(ThreadId),
        ignore: row.get(12)?,
        path: row.get(13)?,
        created: Timestamp(row.get(14)?),
    })
}

#[async_trait]
impl JournalStore for SqliteStore {
    async fn append(&self, entries: &[JournalEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let entries = entries.to_vec();
        // The journal informs live sessions, and none survives an OS crash: not fsynced under
        // `Optimized` (an append journals inside its own, durable, transaction).
        self.write_relaxed(move |tx| append_in(tx, &entries)).await
    }

    async fn since(&self, mailbox: MailboxId, since: ModSeq) -> Result<Vec<JournalEntry>> {
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM journal WHERE mailbox = ?1 AND modseq > ?2 \
                     ORDER BY modseq, seq"
                ))
                .map_err(sql)?;
            let rows = stmt
                .query_map(params![idb(mailbox.0), i(since.0)], entry_from)
                .map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
        })
        .await
    }

    async fn since_or_created(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
        created_from: Timestamp,
    ) -> Result<Vec<JournalEntry>> {
        self.read(move |tx| since_or_created_in(tx, mailbox, since, created_from))
            .await
    }

    async fn for_view(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
        created_from: Timestamp,
        after: Option<u64>,
    ) -> Result<(Vec<JournalEntry>, Option<u64>)> {
        self.read(move |tx| {
            // `seq` is AUTOINCREMENT and only the writer thread inserts, committing in order:
            // every row a later snapshot sees beyond this snapshot's MAX(seq) is new to it. The
            // maximum is read in the same transaction as the entries.
            let entries = match after {
                Some(after) => {
                    // `+mailbox` keeps the planner off the (mailbox, modseq) index, which
                    // yields the ORDER BY for free but walks every entry the mailbox ever had
                    // (the table is pruned only by age): the `seq` range reads only new rows,
                    // and sorting those few is cheap.
                    let mut stmt = tx
                        .prepare_cached(&format!(
                            "SELECT {COLUMNS} FROM journal WHERE seq > ?1 AND +mailbox = ?2 \
                             ORDER BY modseq, seq"
                        ))
                        .map_err(sql)?;
                    let rows = stmt
                        .query_map(params![i(after), idb(mailbox.0)], entry_from)
                        .map_err(sql)?;
                    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)?
                }
                None => since_or_created_in(tx, mailbox, since, created_from)?,
            };
            // An emptied table (pruned) keeps the old position: AUTOINCREMENT never reuses it.
            let position = max_seq(tx)?.max(after);
            Ok((entries, position))
        })
        .await
    }

    async fn position(&self) -> Result<Option<u64>> {
        self.read(max_seq).await
    }

    async fn prune(&self, before: Timestamp) -> Result<u64> {
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM journal WHERE created < ?1", [before.0])
                .map_err(sql)?;
            Ok(n as u64)
        })
        .await
    }
}

/// The highest journal `seq` committed (where a view continues from); `None` for an empty table.
pub(super) fn max_seq(tx: &Connection) -> Result<Option<u64>> {
    let top: Option<i64> = tx
        .prepare_cached("SELECT MAX(seq) FROM journal")
        .map_err(sql)?
        .query_row([], |r| r.get(0))
        .map_err(sql)?;
    Ok(top.and_then(|t| u64::try_from(t).ok()))
}

/// Entries of `mailbox` with MODSEQ above `since` or created at or after `created_from`.
fn since_or_created_in(
    tx: &Connection,
    mailbox: MailboxId,
    since: ModSeq,
    created_from: Timestamp,
) -> Result<Vec<JournalEntry>> {
    // Two indexable OR terms (mailbox+modseq, created) so SQLite can union two index ranges
    // instead of scanning the mailbox's whole journal.
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM journal \
             WHERE (mailbox = ?1 AND modseq > ?2) OR (mailbox = ?1 AND created >= ?3) \
             ORDER BY modseq, seq"
        ))
        .map_err(sql)?;
    let rows = stmt
        .query_map(
            params![idb(mailbox.0), i(since.0), created_from.0],
            entry_from,
        )
        .map_err(sql)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
}

/// Appends journal entries inside `tx` (ids assigned when default, `created` set when zero).
pub(super) fn append_in(tx: &Connection, entries: &[JournalEntry]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO journal ({COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ))
        .map_err(sql)?;
    let now = Timestamp::now();
    for e in entries {
        let id = if e.id == JournalId::default() {
            JournalId::new()
        } else {
            e.id
        };
        let created = if e.created.0 == 0 { now } else { e.created };
        stmt.execute(params![
            idb(id.0),
            idb(e.user.0),
            idb(e.mailbox.0),
            e.command.map(|c| c.as_str()),
            e.uid.map(|u| i64::from(u.0)),
            e.message.map(|m| idb(m.0)),
            i(e.modseq.0),
            e.flags.as_deref().map(json_list),
            e.unseen,
            e.unseen_change,
            e.idate.map(|t| t.0),
            e.thread.map(|t| idb(t.0)),
            e.ignore,
            e.path,
            created.0,
        ])
        .map_err(sql)?;
    }
    Ok(())
}
