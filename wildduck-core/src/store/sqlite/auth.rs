//! `asps` and `authlog` tables.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, i, id_at, idb, json_list, opt_id_at, parse_list, sql};
use crate::Result;
use crate::model::{Asp, AuthEvent, AuthLogFilter, ObjectId, Timestamp, UserId};
use crate::store::{AspStore, AuthLogStore};

const ASP_COLUMNS: &str = "id, user, description, scopes, password, selector, used, auth_event, \
    auth_ip, created, ttl, expires";

fn asp_from(row: &Row<'_>) -> rusqlite::Result<Asp> {
    Ok(Asp {
        id: id_at(row, 0)?,
        user: UserId(id_at(row, 1)?),
        description: row.get(2)?,
        scopes: parse_list(row.get(3)?),
        password: row.get(4)?,
        selector: row.get(5)?,
        used: row.get::<_, Option<i64>>(6)?.map(Timestamp),
        auth_event: opt_id_at(row, 7)?,
        auth_ip: row.get(8)?,
        created: Timestamp(row.get(9)?),
        ttl: row
            .get::<_, Option<i64>>(10)?
            .and_then(|v| u64::try_from(v).ok())
            .filter(|v| *v > 0),
        expires: row.get::<_, Option<i64>>(11)?.map(Timestamp),
    })
}

#[async_trait]
impl AspStore for SqliteStore {
    async fn insert_asp(&self, asp: &Asp) -> Result<()> {
        let a = asp.clone();
        self.write(move |tx| {
            // No TTL index here: the user's expired temporary passwords go when one is added.
            tx.execute(
                "DELETE FROM asps WHERE user = ?1 AND expires IS NOT NULL AND expires <= ?2",
                params![idb(a.user.0), a.created.0],
            )
            .map_err(sql)?;
            tx.execute(
                &format!(
                    "INSERT INTO asps ({ASP_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ),
                params![
                    idb(a.id),
                    idb(a.user.0),
                    a.description,
                    json_list(&a.scopes),
                    a.password,
                    a.selector,
                    a.used.map(|t| t.0),
                    a.auth_event.map(idb),
                    a.auth_ip,
                    a.created.0,
                    a.ttl.map(i),
                    a.expires.map(|t| t.0),
                ],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn list_asps(&self, user: UserId) -> Result<Vec<Asp>> {
        self.read(move |tx| {
            let mut st = tx
                .prepare_cached(&format!(
                    "SELECT {ASP_COLUMNS} FROM asps WHERE user = ?1 ORDER BY id"
                ))
                .map_err(sql)?;
            let rows = st.query_map([idb(user.0)], asp_from).map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
        })
        .await
    }

    async fn get_asp(&self, user: UserId, id: ObjectId) -> Result<Option<Asp>> {
        self.read(move |tx| {
            tx.prepare_cached(&format!(
                "SELECT {ASP_COLUMNS} FROM asps WHERE id = ?1 AND user = ?2"
            ))
            .map_err(sql)?
            .query_row(params![idb(id), idb(user.0)], asp_from)
            .optional()
            .map_err(sql)
        })
        .await
    }

    async fn delete_asp(&self, user: UserId, id: ObjectId) -> Result<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM asps WHERE id = ?1 AND user = ?2",
                    params![idb(id), idb(user.0)],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn mark_asp_used(
        &self,
        id: ObjectId,
        used: Timestamp,
        auth_event: Option<ObjectId>,
        ip: Option<String>,
        expires: Option<Timestamp>,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE asps SET used = ?2, auth_event = ?3, auth_ip = ?4, \
                 expires = COALESCE(?5, expires) WHERE id = ?1",
                params![
                    idb(id),
                    used.0,
                    auth_event.map(idb),
                    ip,
                    expires.map(|t| t.0)
                ],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn delete_user_asps(&self, user: UserId) -> Result<u64> {
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM asps WHERE user = ?1", [idb(user.0)])
                .map_err(sql)?;
            Ok(n as u64)
        })
        .await
    }
}

const EVENT_COLUMNS: &str = "id, user, action, result, protocol, source, asp, aname, temporary, \
    sess, ip, required_scope, created, last, events, key, expires";

fn event_from(row: &Row<'_>) -> rusqlite::Result<AuthEvent> {
    Ok(AuthEvent {
        id: id_at(row, 0)?,
        user: UserId(id_at(row, 1)?),
        action: row.get(2)?,
        result: row.get(3)?,
        protocol: row.get(4)?,
        source: row.get(5)?,
        asp: opt_id_at(row, 6)?,
        aname: row.get(7)?,
        temporary: row.get(8)?,
        sess: row.get(9)?,
        ip: row.get(10)?,
        required_scope: row.get(11)?,
        created: Timestamp(row.get(12)?),
        last: Timestamp(row.get(13)?),
        events: row.get(14)?,
        key: row.get(15)?,
        expires: Timestamp(row.get(16)?),
    })
}

#[async_trait]
impl AuthLogStore for SqliteStore {
    async fn log_event(&self, event: &AuthEvent, bucket_start: Timestamp) -> Result<ObjectId> {
        let e = event.clone();
        self.write(move |tx| log_one(tx, &e, bucket_start, 1)).await
    }

    async fn log_merged_events(&self, events: &[(AuthEvent, Timestamp)]) -> Result<()> {
        let events = events.to_vec();
        // One write job for the batch: one savepoint, and one commit shared with whatever else
        // the writer has queued.
        self.write(move |tx| {
            for (e, bucket_start) in &events {
                log_one(tx, e, *bucket_start, e.events.max(1))?;
            }
            Ok(())
        })
        .await
    }

    async fn list_events(&self, user: UserId, filter: &AuthLogFilter) -> Result<Vec<AuthEvent>> {
        let filter = filter.clone();
        let now = Timestamp::now();
        self.read(move |tx| {
            let mut st = tx
                .prepare_cached(&format!(
                    "SELECT {EVENT_COLUMNS} FROM authlog WHERE user = ?1 AND expires > ?2 \
                     ORDER BY id DESC"
                ))
                .map_err(sql)?;
            let rows = st
                .query_map(params![idb(user.0), now.0], event_from)
                .map_err(sql)?;
            let all = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)?;
            Ok(all.into_iter().filter(|e| filter.matches(e)).collect())
        })
        .await
    }

    async fn get_event(&self, user: UserId, id: ObjectId) -> Result<Option<AuthEvent>> {
        let now = Timestamp::now();
        self.read(move |tx| {
            tx.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM authlog WHERE id = ?1 AND user = ?2 AND expires > ?3"
            ))
            .map_err(sql)?
            .query_row(params![idb(id), idb(user.0), now.0], event_from)
            .optional()
            .map_err(sql)
        })
        .await
    }

    async fn delete_user_events(&self, user: UserId) -> Result<u64> {
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM authlog WHERE user = ?1", [idb(user.0)])
                .map_err(sql)?;
            Ok(n as u64)
        })
        .await
    }
}

/// Merges `e` into its bucket's entry (adding `n` events) or inserts it with `n` events; the
/// user's expired entries go first. Returns the entry's id.
fn log_one(
    tx: &rusqlite::Connection,
    e: &AuthEvent,
    bucket_start: Timestamp,
    n: i64,
) -> Result<ObjectId> {
    // No TTL index here: the user's expired entries go when a new one is written.
    tx.prepare_cached("DELETE FROM authlog WHERE user = ?1 AND expires <= ?2")
        .map_err(sql)?
        .execute(params![idb(e.user.0), e.created.0])
        .map_err(sql)?;
    let found: Option<Vec<u8>> = tx
        .prepare_cached(
            "SELECT id FROM authlog WHERE user = ?1 AND key = ?2 AND created >= ?3 \
             ORDER BY created DESC LIMIT 1",
        )
        .map_err(sql)?
        .query_row(params![idb(e.user.0), e.key, bucket_start.0], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    if let Some(raw) = found
        && let Ok(arr) = <[u8; 12]>::try_from(raw.as_slice())
    {
        tx.prepare_cached("UPDATE authlog SET events = events + ?3, last = ?2 WHERE id = ?1")
            .map_err(sql)?
            .execute(params![arr, e.last.0, n])
            .map_err(sql)?;
        return Ok(ObjectId::from_bytes(arr));
    }
    tx.prepare_cached(&format!(
        "INSERT INTO authlog ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
         ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?17, ?15, ?16)"
    ))
    .map_err(sql)?
    .execute(params![
        idb(e.id),
        idb(e.user.0),
        e.action,
        e.result,
        e.protocol,
        e.source,
        e.asp.map(idb),
        e.aname,
        e.temporary,
        e.sess,
        e.ip,
        e.required_scope,
        e.created.0,
        e.last.0,
        e.key,
        e.expires.0,
        n,
    ])
    .map_err(sql)?;
    Ok(e.id)
}
