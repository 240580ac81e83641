//! `mailboxes` table, including the `uid_next` / `modify_index` counters.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, i, id_at, idb, json_list, parse_list, sql, u_at};
use crate::model::{Mailbox, MailboxId, ModSeq, SpecialUse, Uid, UserId};
use crate::store::{MailboxSettings, MailboxStore};
use crate::{Error, ErrorKind, Result};

pub(super) const MAILBOX_COLUMNS: &str = "id, user, path, special_use, uid_validity, uid_next, \
    modify_index, subscribed, flags, retention, hidden, encrypt_messages";

pub(super) fn mailbox_from(row: &Row<'_>) -> rusqlite::Result<Mailbox> {
    Ok(Mailbox {
        id: MailboxId(id_at(row, 0)?),
        user: UserId(id_at(row, 1)?),
        path: row.get(2)?,
        special_use: row
            .get::<_, Option<String>>(3)?
            .as_deref()
            .and_then(SpecialUse::parse),
        uid_validity: u32::try_from(u_at(row, 4)?).unwrap_or(0),
        uid_next: Uid(u32::try_from(u_at(row, 5)?).unwrap_or(u32::MAX)),
        modify_index: ModSeq(u_at(row, 6)?),
        subscribed: row.get(7)?,
        flags: parse_list(row.get(8)?),
        retention: u_at(row, 9)?,
        hidden: row.get(10)?,
        encrypt_messages: row.get(11)?,
    })
}

impl SqliteStore {
    async fn mailbox_where(
        &self,
        condition: &'static str,
        args: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<Mailbox>> {
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE {condition} ORDER BY path"
                ))
                .map_err(sql)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), mailbox_from)
                .map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
        })
        .await
    }
}

fn blob(id: crate::model::ObjectId) -> rusqlite::types::Value {
    rusqlite::types::Value::Blob(idb(id).to_vec())
}

#[async_trait]
impl MailboxStore for SqliteStore {
    async fn insert_mailboxes(&self, mailboxes: &[Mailbox]) -> Result<()> {
        if mailboxes.is_empty() {
            return Ok(());
        }
        let boxes = mailboxes.to_vec();
        // One transaction: a path clash rolls back the whole batch.
        self.write(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO mailboxes ({MAILBOX_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ))
                .map_err(sql)?;
            for m in &boxes {
                stmt.execute(params![
                    idb(m.id.0),
                    idb(m.user.0),
                    m.path,
                    m.special_use.map(|s| s.as_str()),
                    i64::from(m.uid_validity),
                    i64::from(m.uid_next.0),
                    i(m.modify_index.0),
                    m.subscribed,
                    json_list(&m.flags),
                    i(m.retention),
                    m.hidden,
                    m.encrypt_messages,
                ])
                .map_err(sql)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_mailbox(&self, user: UserId, id: MailboxId) -> Result<Option<Mailbox>> {
        Ok(self
            .mailbox_where("id = ?1 AND user = ?2", vec![blob(id.0), blob(user.0)])
            .await?
            .into_iter()
            .next())
    }

    async fn find_mailbox_by_path(&self, user: UserId, path: &str) -> Result<Option<Mailbox>> {
        Ok(self
            .mailbox_where(
                "user = ?1 AND path = ?2",
                vec![blob(user.0), rusqlite::types::Value::Text(path.to_string())],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn find_mailbox_by_special_use(
        &self,
        user: UserId,
        special_use: SpecialUse,
    ) -> Result<Option<Mailbox>> {
        Ok(self
            .mailbox_where(
                "user = ?1 AND special_use = ?2",
                vec![
                    blob(user.0),
                    rusqlite::types::Value::Text(special_use.as_str().to_string()),
                ],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn list_mailboxes(&self, user: UserId) -> Result<Vec<Mailbox>> {
        self.mailbox_where("user = ?1", vec![blob(user.0)]).await
    }

    async fn count_mailboxes(&self, user: UserId) -> Result<u64> {
        self.read(move |tx| {
            let n: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM mailboxes WHERE user = ?1",
                    [idb(user.0)],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn rename_mailbox(
        &self,
        user: UserId,
        id: MailboxId,
        path: &str,
    ) -> Result<Option<Mailbox>> {
        let path = path.to_string();
        self.write(move |tx| {
            tx.query_row(
                &format!(
                    "UPDATE mailboxes SET path = ?1 WHERE id = ?2 AND user = ?3 \
                     RETURNING {MAILBOX_COLUMNS}"
                ),
                params![path, idb(id.0), idb(user.0)],
                mailbox_from,
            )
            .optional()
            .map_err(sql)
        })
        .await
    }

    async fn set_subscribed(&self, user: UserId, id: MailboxId, subscribed: bool) -> Result<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE mailboxes SET subscribed = ?1 WHERE id = ?2 AND user = ?3",
                    params![subscribed, idb(id.0), idb(user.0)],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn update_settings(
        &self,
        user: UserId,
        id: MailboxId,
        settings: &MailboxSettings,
    ) -> Result<bool> {
        let st = *settings;
        self.write(move |tx| {
            // COALESCE keeps a setting that is not given: one statement for every combination.
            let n = tx
                .prepare_cached(
                    "UPDATE mailboxes SET subscribed = COALESCE(?1, subscribed), \
                     retention = COALESCE(?2, retention), hidden = COALESCE(?3, hidden), \
                     encrypt_messages = COALESCE(?4, encrypt_messages) \
                     WHERE id = ?5 AND user = ?6",
                )
                .map_err(sql)?
                .execute(params![
                    st.subscribed,
                    st.retention.map(i),
                    st.hidden,
                    st.encrypt_messages,
                    idb(id.0),
                    idb(user.0)
                ])
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_mailbox(&self, user: UserId, id: MailboxId) -> Result<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM mailboxes WHERE id = ?1 AND user = ?2",
                    params![idb(id.0), idb(user.0)],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_user_mailboxes(&self, user: UserId) -> Result<u64> {
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM mailboxes WHERE user = ?1", [idb(user.0)])
                .map_err(sql)?;
            Ok(n as u64)
        })
        .await
    }

    async fn allocate(&self, mailbox: MailboxId, count: u32) -> Result<Option<(Uid, ModSeq)>> {
        // A MODSEQ-only bump (expunge, the source of a move) goes with a change that is not
        // fsynced under `Optimized` either; allocating UIDs is.
        let durability = if count == 0 {
            super::Durability::Relaxed
        } else {
            super::Durability::Durable
        };
        self.write_with(durability, move |tx| allocate_in(tx, mailbox, None, count))
            .await
    }

    async fn add_keywords(&self, mailbox: MailboxId, keywords: &[String]) -> Result<()> {
        if keywords.is_empty() {
            return Ok(());
        }
        let keywords = keywords.to_vec();
        self.write(move |tx| add_keywords_in(tx, mailbox, &keywords))
            .await
    }
}

/// Reserves `count` UIDs and one MODSEQ inside `tx` (optionally only when the mailbox belongs to
/// `user`). `None` when the mailbox is absent.
pub(super) fn allocate_in(
    tx: &rusqlite::Connection,
    mailbox: MailboxId,
    user: Option<UserId>,
    count: u32,
) -> Result<Option<(Uid, ModSeq)>> {
    let row: Option<(i64, i64)> = match user {
        None => tx
            .prepare_cached(
                "UPDATE mailboxes SET uid_next = uid_next + ?1, modify_index = modify_index + 1 \
                 WHERE id = ?2 RETURNING uid_next, modify_index",
            )
            .map_err(sql)?
            .query_row(params![i64::from(count), idb(mailbox.0)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(sql)?,
        Some(u) => tx
            .prepare_cached(
                "UPDATE mailboxes SET uid_next = uid_next + ?1, modify_index = modify_index + 1 \
                 WHERE id = ?2 AND user = ?3 RETURNING uid_next, modify_index",
            )
            .map_err(sql)?
            .query_row(params![i64::from(count), idb(mailbox.0), idb(u.0)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(sql)?,
    };
    let Some((next, modseq)) = row else {
        return Ok(None);
    };
    // UIDs are 32-bit: running out fails the transaction (rolled back) instead of wrapping.
    if next - 1 > i64::from(u32::MAX) {
        return Err(Error::new(
            ErrorKind::Invalid,
            "the mailbox has run out of UIDs",
        ));
    }
    let first = u32::try_from(next - i64::from(count))
        .map_err(|_| Error::new(ErrorKind::Backend, "uid_next out of range"))?;
    Ok(Some((
        Uid(first),
        ModSeq(u64::try_from(modseq).unwrap_or(0)),
    )))
}

/// Adds keywords to the mailbox's keyword list inside `tx` (exact duplicates skipped).
pub(super) fn add_keywords_in(
    tx: &rusqlite::Connection,
    mailbox: MailboxId,
    keywords: &[String],
) -> Result<()> {
    let current: Option<Option<String>> = tx
        .prepare_cached("SELECT flags FROM mailboxes WHERE id = ?1")
        .map_err(sql)?
        .query_row([idb(mailbox.0)], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    let Some(current) = current else {
        return Ok(());
    };
    let mut flags = parse_list(current);
    let before = flags.len();
    for k in keywords {
        // `$addToSet` semantics: exact duplicates are skipped.
        if !flags.contains(k) {
            flags.push(k.clone());
        }
    }
    if flags.len() != before {
        tx.execute(
            "UPDATE mailboxes SET flags = ?1 WHERE id = ?2",
            params![json_list(&flags), idb(mailbox.0)],
        )
        .map_err(sql)?;
    }
    Ok(())
}
