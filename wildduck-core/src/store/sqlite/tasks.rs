//! `tasks` table: the task queue. Every change runs on the single writer thread, so a claim (pick
//! the due task, write the token) is atomic without further locking.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, id_at, idb, opt_id_at, sql};
use crate::Result;
use crate::model::{ObjectId, Timestamp, UserId};
use crate::store::tasks::{LockToken, Task, TaskStatus, TaskStore};

const COLUMNS: &str = "id, task, user, data, status, locked, locked_until, created, run_count";

fn task_from(row: &Row<'_>) -> rusqlite::Result<Task> {
    let data: String = row.get(3)?;
    let status: String = row.get(4)?;
    Ok(Task {
        id: id_at(row, 0)?,
        kind: row.get(1)?,
        user: opt_id_at(row, 2)?.map(UserId),
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        status: TaskStatus::parse(&status),
        locked: row.get(5)?,
        locked_until: Timestamp(row.get(6)?),
        created: Timestamp(row.get(7)?),
        run_count: u32::try_from(row.get::<_, i64>(8)?).unwrap_or(0),
    })
}

/// The condition of a task no runner holds.
const UNCLAIMED: &str = "status IN ('waiting', 'delayed')";

fn changed(conn: &Connection, statement: &str, p: impl rusqlite::Params) -> Result<bool> {
    Ok(conn.execute(statement, p).map_err(sql)? > 0)
}

fn insert(conn: &Connection, t: &Task) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO tasks ({COLUMNS}, lock_token) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)"
    ))
    .map_err(sql)?
    .execute(params![
        idb(t.id),
        t.kind,
        t.user.map(|u| idb(u.0)),
        t.data.to_string(),
        t.status.as_str(),
        t.locked,
        t.locked_until.0,
        t.created.0,
        i64::from(t.run_count),
    ])
    .map_err(sql)?;
    Ok(())
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        let t = task.clone();
        self.write(move |conn| insert(conn, &t)).await
    }

    async fn ensure_task(&self, task: &Task, same: &[&str]) -> Result<(ObjectId, bool)> {
        let t = task.clone();
        let same: Vec<String> = same.iter().map(|k| (*k).to_string()).collect();
        // On the single writer thread the look-up and the insert cannot interleave with
        // another request's.
        self.write(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT id, data FROM tasks WHERE task = ?1 AND user IS ?2 ORDER BY id",
                )
                .map_err(sql)?;
            let rows = st
                .query_map(params![t.kind, t.user.map(|u| idb(u.0))], |row| {
                    Ok((id_at(row, 0)?, row.get::<_, String>(1)?))
                })
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql)?;
            for (id, data) in rows {
                let data: serde_json::Value =
                    serde_json::from_str(&data).unwrap_or(serde_json::Value::Null);
                if same.iter().all(|k| data.get(k) == t.data.get(k)) {
                    return Ok((id, true));
                }
            }
            insert(conn, &t)?;
            Ok((t.id, false))
        })
        .await
    }

    async fn get_task(&self, id: ObjectId) -> Result<Option<Task>> {
        self.read(move |tx| {
            tx.prepare_cached(&format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"))
                .map_err(sql)?
                .query_row([idb(id)], task_from)
                .optional()
                .map_err(sql)
        })
        .await
    }

    async fn find_tasks(&self, kind: &str, user: UserId) -> Result<Vec<Task>> {
        let kind = kind.to_string();
        self.read(move |tx| {
            let mut st = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM tasks WHERE task = ?1 AND user = ?2 ORDER BY id"
                ))
                .map_err(sql)?;
            let rows = st
                .query_map(params![kind, idb(user.0)], task_from)
                .map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
        })
        .await
    }

    async fn claim_task(
        &self,
        kinds: &[&str],
        now: Timestamp,
        lease_until: Timestamp,
        token: LockToken,
    ) -> Result<Option<Task>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let kinds = serde_json::to_string(kinds).unwrap_or_else(|_| "[]".into());
        self.write(move |conn| {
            conn.prepare_cached(&format!(
                "UPDATE tasks SET locked = 1, lock_token = ?1, locked_until = ?2, \
                 status = 'active', run_count = run_count + 1 \
                 WHERE id = (SELECT id FROM tasks \
                     WHERE task IN (SELECT value FROM json_each(?3)) \
                       AND (locked = 0 OR locked_until < ?4) \
                     ORDER BY locked_until LIMIT 1) \
                 RETURNING {COLUMNS}"
            ))
            .map_err(sql)?
            .query_row(params![token, lease_until.0, kinds, now.0], task_from)
            .optional()
            .map_err(sql)
        })
        .await
    }

    async fn extend_task(&self, id: ObjectId, token: LockToken, until: Timestamp) -> Result<bool> {
        self.write(move |conn| {
            changed(
                conn,
                "UPDATE tasks SET locked_until = ?3, status = 'processing' \
                 WHERE id = ?1 AND lock_token = ?2",
                params![idb(id), token, until.0],
            )
        })
        .await
    }

    async fn complete_task(&self, id: ObjectId, token: LockToken) -> Result<bool> {
        self.write(move |conn| {
            changed(
                conn,
                "DELETE FROM tasks WHERE id = ?1 AND lock_token = ?2",
                params![idb(id), token],
            )
        })
        .await
    }

    async fn release_task(
        &self,
        id: ObjectId,
        token: LockToken,
        retry_at: Timestamp,
    ) -> Result<bool> {
        self.write(move |conn| {
            changed(
                conn,
                "UPDATE tasks SET locked = 1, lock_token = NULL, locked_until = ?3, \
                 status = 'delayed' WHERE id = ?1 AND lock_token = ?2",
                params![idb(id), token, retry_at.0],
            )
        })
        .await
    }

    async fn reschedule_task(&self, id: ObjectId, run_after: Timestamp) -> Result<bool> {
        self.write(move |conn| {
            changed(
                conn,
                &format!(
                    "UPDATE tasks SET locked = 1, locked_until = ?2, status = 'delayed' \
                     WHERE id = ?1 AND {UNCLAIMED}"
                ),
                params![idb(id), run_after.0],
            )
        })
        .await
    }

    async fn cancel_task(&self, id: ObjectId) -> Result<bool> {
        self.write(move |conn| {
            changed(
                conn,
                &format!("DELETE FROM tasks WHERE id = ?1 AND {UNCLAIMED}"),
                params![idb(id)],
            )
        })
        .await
    }
}
