//! `threads` and `thread_refs`: a thread's references are also rows of `thread_refs`, so finding
//! the thread that shares a reference is an index lookup.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, id_at, idb, json_list, parse_list, sql};
use crate::Result;
use crate::model::{ThreadId, Timestamp, UserId};
use crate::store::ThreadStore;

#[async_trait]
impl ThreadStore for SqliteStore {
    async fn resolve_thread(
        &self,
        user: UserId,
        subject: &str,
        references: &[String],
    ) -> Result<ThreadId> {
        let subject = subject.to_string();
        let references = references.to_vec();
        // Lookup, extension and creation in one transaction: two appends of one conversation
        // never create two threads.
        self.write(move |tx| resolve_in(tx, user, &subject, &references))
            .await
    }

    async fn get_thread(
        &self,
        user: UserId,
        id: ThreadId,
    ) -> Result<Option<(String, Vec<String>)>> {
        self.read(move |tx| {
            let row: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT subject, ids FROM threads WHERE id = ?1 AND user = ?2",
                    params![idb(id.0), idb(user.0)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql)?;
            Ok(row.map(|(s, ids)| (s, parse_list(ids))))
        })
        .await
    }
}

/// Finds (extending it) or creates `user`'s thread for `subject` and `references` inside `tx`.
pub(super) fn resolve_in(
    tx: &Connection,
    user: UserId,
    subject: &str,
    references: &[String],
) -> Result<ThreadId> {
    let now = Timestamp::now();
    let mut found = None;
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT thread FROM thread_refs WHERE user = ?1 AND subject = ?2 AND ref = ?3 \
                 LIMIT 1",
            )
            .map_err(sql)?;
        for r in references {
            if let Some(t) = stmt
                .query_row(params![idb(user.0), subject, r], |row| id_at(row, 0))
                .optional()
                .map_err(sql)?
            {
                found = Some(ThreadId(t));
                break;
            }
        }
    }
    let thread =
        match found {
            Some(t) => {
                let ids: Option<String> = tx
                    .prepare_cached("SELECT ids FROM threads WHERE id = ?1")
                    .map_err(sql)?
                    .query_row([idb(t.0)], |r| r.get(0))
                    .optional()
                    .map_err(sql)?;
                let mut ids = parse_list(ids);
                for r in references {
                    if !ids.contains(r) {
                        ids.push(r.clone());
                    }
                }
                tx.prepare_cached("UPDATE threads SET ids = ?1, updated = ?2 WHERE id = ?3")
                    .map_err(sql)?
                    .execute(params![json_list(&ids), now.0, idb(t.0)])
                    .map_err(sql)?;
                t
            }
            None => {
                let t = ThreadId::new();
                tx.prepare_cached(
                "INSERT INTO threads (id, user, subject, ids, updated) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql)?
            .execute(params![idb(t.0), idb(user.0), subject, json_list(references), now.0])
            .map_err(sql)?;
                t
            }
        };
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO thread_refs (user, subject, ref, thread) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql)?;
    for r in references {
        stmt.execute(params![idb(user.0), subject, r, idb(thread.0)])
            .map_err(sql)?;
    }
    Ok(thread)
}
