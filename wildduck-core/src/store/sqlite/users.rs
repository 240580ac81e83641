//! `users` and `addresses` tables.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, i, id_at, idb, json_list, opt_id_at, parse_list, sql, u_at};
use crate::Result;
use crate::model::{
    Address, AddressId, TempPassword, Timestamp, User, UserId, UserLimits, UserUpdate,
};
use crate::service::users::unameview;
use crate::store::{AddressStore, UserStore};

const USER_COLUMNS: &str = "id, username, name, address, language, password, auth_version, quota, \
    storage_used, retention, tags, disabled_scopes, disabled, suspended, activated, \
    lim_recipients, lim_forwards, lim_imap_max_upload, lim_imap_max_download, \
    lim_pop3_max_download, lim_pop3_max_messages, lim_imap_max_connections, lim_received_max, created, \
    temp_password";

fn opt_limit(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    Ok(v.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0))
}

fn user_from(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(id_at(row, 0)?),
        username: row.get(1)?,
        name: row.get(2)?,
        address: row.get::<_, Option<String>>(3)?.filter(|s| !s.is_empty()),
        language: row.get::<_, Option<String>>(4)?.filter(|s| !s.is_empty()),
        password: row.get(5)?,
        auth_version: row.get(6)?,
        quota: u_at(row, 7)?,
        storage_used: row.get(8)?,
        retention: u_at(row, 9)?,
        tags: parse_list(row.get(10)?),
        disabled_scopes: parse_list(row.get(11)?),
        disabled: row.get(12)?,
        suspended: row.get(13)?,
        activated: row.get(14)?,
        limits: UserLimits {
            recipients: opt_limit(row, 15)?,
            forwards: opt_limit(row, 16)?,
            imap_max_upload: opt_limit(row, 17)?,
            imap_max_download: opt_limit(row, 18)?,
            pop3_max_download: opt_limit(row, 19)?,
            pop3_max_messages: opt_limit(row, 20)?,
            imap_max_connections: opt_limit(row, 21)?,
            received_max: opt_limit(row, 22)?,
        },
        created: Timestamp(row.get(23)?),
        temp_password: row
            .get::<_, Option<String>>(24)?
            .and_then(|s| temp_from_json(&s)),
    })
}

fn temp_to_json(t: &TempPassword) -> String {
    serde_json::json!({
        "password": t.password,
        "created": t.created.0,
        "validAfter": t.valid_after.0,
    })
    .to_string()
}

fn temp_from_json(s: &str) -> Option<TempPassword> {
    let v: serde_json::Value = serde_json::from_str(s).ok()?;
    Some(TempPassword {
        password: v.get("password")?.as_str()?.to_string(),
        created: Timestamp(v.get("created")?.as_i64()?),
        valid_after: Timestamp(v.get("validAfter")?.as_i64()?),
    })
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User) -> Result<()> {
        let u = user.clone();
        self.write(move |tx| {
            let l = &u.limits;
            let lim = |v: Option<u64>| v.map(i);
            tx.execute(
                &format!(
                    "INSERT INTO users (unameview, {USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, \
                     ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, \
                     ?22, ?23, ?24, ?25, ?26)"
                ),
                params![
                    unameview(&u.username),
                    idb(u.id.0),
                    u.username,
                    u.name,
                    u.address,
                    u.language,
                    u.password,
                    u.auth_version,
                    i(u.quota),
                    u.storage_used,
                    i(u.retention),
                    json_list(&u.tags),
                    json_list(&u.disabled_scopes),
                    u.disabled,
                    u.suspended,
                    u.activated,
                    lim(l.recipients),
                    lim(l.forwards),
                    lim(l.imap_max_upload),
                    lim(l.imap_max_download),
                    lim(l.pop3_max_download),
                    lim(l.pop3_max_messages),
                    lim(l.imap_max_connections),
                    lim(l.received_max),
                    u.created.0,
                    u.temp_password.as_ref().map(temp_to_json),
                ],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        self.read(move |tx| {
            tx.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
                .map_err(sql)?
                .query_row([idb(id.0)], user_from)
                .optional()
                .map_err(sql)
        })
        .await
    }

    async fn find_user_by_unameview(&self, view: &str) -> Result<Option<User>> {
        let view = view.to_string();
        self.read(move |tx| {
            tx.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE unameview = ?1"
            ))
            .map_err(sql)?
            .query_row([view], user_from)
            .optional()
            .map_err(sql)
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
                .map_err(sql)?;
            let rows = stmt.query_map([], user_from).map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
        })
        .await
    }

    async fn update_user(&self, id: UserId, update: &UserUpdate) -> Result<bool> {
        let u = update.clone();
        self.write(move |tx| {
            let key = idb(id.0);
            let exists = tx
                .query_row("SELECT 1 FROM users WHERE id = ?1", [key], |_| Ok(()))
                .optional()
                .map_err(sql)?
                .is_some();
            if !exists {
                return Ok(false);
            }
            let set = |column: &str, value: &dyn rusqlite::ToSql| -> Result<()> {
                tx.execute(
                    &format!("UPDATE users SET {column} = ?1 WHERE id = ?2"),
                    params![value, key],
                )
                .map_err(sql)?;
                Ok(())
            };
            if let Some(v) = &u.name {
                set("name", v)?;
            }
            if let Some(v) = &u.password {
                set("password", v)?;
                tx.execute(
                    "UPDATE users SET auth_version = auth_version + 1 WHERE id = ?1",
                    [key],
                )
                .map_err(sql)?;
            }
            if let Some(v) = &u.address {
                set("address", v)?;
            }
            if let Some(v) = &u.language {
                set("language", v)?;
            }
            if let Some(v) = u.quota {
                set("quota", &i(v))?;
            }
            if let Some(v) = u.retention {
                set("retention", &i(v))?;
            }
            if let Some(v) = &u.tags {
                set("tags", &json_list(v))?;
            }
            if let Some(v) = &u.disabled_scopes {
                set("disabled_scopes", &json_list(v))?;
            }
            if let Some(v) = u.disabled {
                set("disabled", &v)?;
            }
            if let Some(v) = u.suspended {
                set("suspended", &v)?;
            }
            Ok(true)
        })
        .await
    }

    async fn set_temp_password(&self, id: UserId, temp: Option<&TempPassword>) -> Result<bool> {
        let value = temp.map(temp_to_json);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE users SET temp_password = ?1 WHERE id = ?2",
                    params![value, idb(id.0)],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn bump_auth_version(&self, id: UserId) -> Result<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE users SET auth_version = auth_version + 1 WHERE id = ?1",
                    [idb(id.0)],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn rehash_password(&self, id: UserId, hash: &str) -> Result<()> {
        let hash = hash.to_string();
        self.write(move |tx| {
            tx.execute(
                "UPDATE users SET password = ?1 WHERE id = ?2",
                params![hash, idb(id.0)],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn delete_user(&self, id: UserId) -> Result<bool> {
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM users WHERE id = ?1", [idb(id.0)])
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn inc_storage(&self, id: UserId, delta: i64) -> Result<()> {
        if delta == 0 {
            return Ok(());
        }
        self.write(move |tx| {
            tx.prepare_cached("UPDATE users SET storage_used = storage_used + ?1 WHERE id = ?2")
                .map_err(sql)?
                .execute(params![delta, idb(id.0)])
                .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn set_storage(&self, id: UserId, value: i64) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE users SET storage_used = ?1 WHERE id = ?2",
                params![value, idb(id.0)],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }
}

const ADDRESS_COLUMNS: &str = "id, user, address, addrview, name, tags, created, forwarding";

fn address_from(row: &Row<'_>) -> rusqlite::Result<Address> {
    Ok(Address {
        id: AddressId(id_at(row, 0)?),
        user: opt_id_at(row, 1)?.map(UserId),
        address: row.get(2)?,
        addrview: row.get(3)?,
        name: row.get::<_, Option<String>>(4)?.filter(|s| !s.is_empty()),
        tags: parse_list(row.get(5)?),
        created: Timestamp(row.get(6)?),
        forwarding: super::forwarded::forwarding_from_json(row.get(7)?),
    })
}

#[async_trait]
impl AddressStore for SqliteStore {
    async fn insert_address(&self, address: &Address) -> Result<()> {
        let a = address.clone();
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO addresses ({ADDRESS_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    idb(a.id.0),
                    a.user.map(|u| idb(u.0)),
                    a.address,
                    a.addrview,
                    a.name,
                    json_list(&a.tags),
                    a.created.0,
                    a.forwarding.as_ref().map(super::forwarded::forwarding_json),
                ],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn get_address(&self, id: AddressId) -> Result<Option<Address>> {
        self.read(move |tx| {
            tx.query_row(
                &format!("SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id = ?1"),
                [idb(id.0)],
                address_from,
            )
            .optional()
            .map_err(sql)
        })
        .await
    }

    async fn find_addresses(&self, views: &[String]) -> Result<Vec<Address>> {
        if views.is_empty() {
            return Ok(Vec::new());
        }
        let views = views.to_vec();
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE addrview = ?1"
                ))
                .map_err(sql)?;
            let mut out = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for v in &views {
                if !seen.insert(v.as_str()) {
                    continue;
                }
                if let Some(a) = stmt.query_row([v], address_from).optional().map_err(sql)? {
                    out.push(a);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn list_addresses(&self, user: UserId) -> Result<Vec<Address>> {
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE user = ?1 ORDER BY addrview"
                ))
                .map_err(sql)?;
            let rows = stmt.query_map([idb(user.0)], address_from).map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
        })
        .await
    }

    async fn delete_address(&self, user: UserId, id: AddressId) -> Result<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM addresses WHERE id = ?1 AND user = ?2",
                    params![idb(id.0), idb(user.0)],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_user_addresses(&self, user: UserId) -> Result<u64> {
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM addresses WHERE user = ?1", [idb(user.0)])
                .map_err(sql)?;
            Ok(n as u64)
        })
        .await
    }

    async fn update_address(&self, address: &Address) -> Result<bool> {
        let a = address.clone();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE addresses SET address = ?2, addrview = ?3, name = ?4, tags = ?5, \
                     forwarding = COALESCE(?6, forwarding) WHERE id = ?1",
                    params![
                        idb(a.id.0),
                        a.address,
                        a.addrview,
                        a.name,
                        json_list(&a.tags),
                        a.forwarding.as_ref().map(super::forwarded::forwarding_json),
                    ],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn list_all_addresses(&self) -> Result<Vec<Address>> {
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {ADDRESS_COLUMNS} FROM addresses ORDER BY addrview"
                ))
                .map_err(sql)?;
            let rows = stmt.query_map([], address_from).map_err(sql)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)
        })
        .await
    }

    async fn delete_forwarded(&self, id: AddressId) -> Result<bool> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM addresses WHERE id = ?1 AND user IS NULL AND forwarding IS NOT NULL",
                    [idb(id.0)],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    async fn register_correspondents(
        &self,
        user: UserId,
        entries: &[crate::model::RegisterEntry],
    ) -> Result<()> {
        self.register_entries(user, entries).await
    }

    async fn search_register(
        &self,
        user: UserId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<crate::model::RegisterEntry>> {
        self.search_entries(user, query, limit).await
    }

    async fn update_register_entry(
        &self,
        user: UserId,
        id: crate::model::ObjectId,
        disabled: bool,
        name: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        self.update_entry(user, id, disabled, name, now).await
    }

    async fn delete_user_register(&self, user: UserId) -> Result<u64> {
        self.delete_entries(user).await
    }
}
