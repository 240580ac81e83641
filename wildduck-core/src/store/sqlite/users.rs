//! `users` and `addresses` tables.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, i, id_at, idb, json_list, opt_id_at, parse_list, sql, u_at};
use crate::Result;
use crate::model::{
    Address, AddressId, MailboxId, TempPassword, Timestamp, Uid, UidSet, User, UserId, UserLimits,
    UserUpdate,
};
use crate::service::users::unameview;
use crate::store::{AddressStore, DeletedUser, RestoredUser, UserStore};

pub(super) const USER_COLUMNS: &str = "id, username, name, address, language, password, auth_version, quota, \
    storage_used, retention, tags, disabled_scopes, disabled, suspended, activated, \
    lim_recipients, lim_forwards, lim_imap_max_upload, lim_imap_max_download, \
    lim_pop3_max_download, lim_pop3_max_messages, lim_imap_max_connections, lim_received_max, created, \
    temp_password, meta_data, internal_data";

fn opt_limit(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    Ok(v.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0))
}

pub(super) fn user_from(row: &Row<'_>) -> rusqlite::Result<User> {
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
        meta_data: row.get(25)?,
        internal_data: row.get(26)?,
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
                     ?22, ?23, ?24, ?25, ?26, ?27, ?28)"
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
                    u.meta_data,
                    u.internal_data,
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

    async fn pop3_login_snapshot(
        &self,
        view: &str,
        default_max: u64,
    ) -> Result<Option<crate::store::pop3::Pop3Snapshot>> {
        self.pop3_snapshot(view.to_string(), default_max).await
    }

    async fn pop3_contents(
        &self,
        mailbox: MailboxId,
        uids: &UidSet,
    ) -> Result<Option<Vec<(Uid, crate::store::pop3::Pop3Content)>>> {
        self.pop3_content_read(mailbox, uids.clone())
            .await
            .map(Some)
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
            if let Some(v) = &u.meta_data {
                set("meta_data", v)?;
            }
            if let Some(v) = &u.internal_data {
                set("internal_data", v)?;
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
        // Space freed by an expunge is not fsynced under `Optimized` (nor is the expunge); the
        // crash repair recomputes the counter anyway.
        let durability = if delta < 0 {
            super::Durability::Relaxed
        } else {
            super::Durability::Durable
        };
        self.write_with(durability, move |tx| {
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

    async fn move_user_to_deleted(
        &self,
        id: UserId,
        deleted_at: Timestamp,
    ) -> Result<Option<DeletedUser>> {
        let moved = self
            .write(move |tx| {
                let key = idb(id.0);
                let Some(user_row) = row_objects(tx, "SELECT * FROM users WHERE id = ?1", key)?
                    .into_iter()
                    .next()
                else {
                    return Ok(false);
                };
                let addresses = row_objects(tx, "SELECT * FROM addresses WHERE user = ?1", key)?;
                let view = user_row
                    .get("unameview")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let main = user_row
                    .get("address")
                    .and_then(|v| v.as_str())
                    .filter(|a| !a.is_empty())
                    .map(str::to_string);
                tx.execute("DELETE FROM deleted_users WHERE id = ?1", [key])
                    .map_err(sql)?;
                tx.execute(
                    "INSERT INTO deleted_users (id, unameview, deleted_at, main_address, user_row, \
                     addresses) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        key,
                        view,
                        deleted_at.0,
                        main,
                        serde_json::Value::Object(user_row).to_string(),
                        serde_json::Value::Array(
                            addresses
                                .into_iter()
                                .map(serde_json::Value::Object)
                                .collect()
                        )
                        .to_string(),
                    ],
                )
                .map_err(sql)?;
                tx.execute("DELETE FROM users WHERE id = ?1", [key])
                    .map_err(sql)?;
                tx.execute("DELETE FROM addresses WHERE user = ?1", [key])
                    .map_err(sql)?;
                Ok(true)
            })
            .await?;
        if !moved {
            return Ok(None);
        }
        self.get_deleted_user(id).await
    }

    async fn get_deleted_user(&self, id: UserId) -> Result<Option<DeletedUser>> {
        self.read(move |tx| {
            // The snapshot's JSON read back through the same row decoders as the live tables:
            // each column is extracted from the JSON object, blobs from their hex form.
            let user_cols = USER_COLUMNS
                .split(',')
                .map(str::trim)
                .map(|c| json_col("d.user_row", c))
                .collect::<Vec<_>>()
                .join(", ");
            let user = tx
                .query_row(
                    &format!(
                        "SELECT {user_cols}, d.deleted_at, d.main_address FROM deleted_users d \
                         WHERE d.id = ?1"
                    ),
                    [idb(id.0)],
                    |row| {
                        let n = USER_COLUMNS.split(',').count();
                        Ok((
                            user_from(row)?,
                            row.get::<_, i64>(n)?,
                            row.get::<_, Option<String>>(n + 1)?,
                        ))
                    },
                )
                .optional()
                .map_err(sql)?;
            let Some((user, deleted, main_address)) = user else {
                return Ok(None);
            };
            let address_cols = ADDRESS_COLUMNS
                .split(',')
                .map(str::trim)
                .map(|c| json_col("j.value", c))
                .collect::<Vec<_>>()
                .join(", ");
            let mut st = tx
                .prepare(&format!(
                    "SELECT {address_cols} FROM deleted_users d, json_each(d.addresses) j \
                     WHERE d.id = ?1 ORDER BY j.key"
                ))
                .map_err(sql)?;
            let addresses = st
                .query_map([idb(id.0)], address_from)
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql)?;
            Ok(Some(DeletedUser {
                user,
                deleted: Timestamp(deleted),
                main_address: main_address.filter(|a| !a.is_empty()),
                addresses,
            }))
        })
        .await
    }

    async fn restore_deleted_user(&self, id: UserId) -> Result<RestoredUser> {
        self.write(move |tx| {
            let key = idb(id.0);
            let found = tx
                .query_row(
                    "SELECT user_row, addresses, main_address FROM deleted_users WHERE id = ?1",
                    [key],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(sql)?;
            let Some((user_row, addresses, wanted)) = found else {
                return Err(crate::Error::not_found("deleted account was not found"));
            };
            let mut user: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&user_row).map_err(|e| {
                    crate::Error::new(crate::ErrorKind::Backend, format!("snapshot: {e}"))
                })?;
            // The main address comes back only once its address row is in again.
            user.insert("address".into(), serde_json::Value::String(String::new()));
            insert_object(tx, "users", &user)?;
            tx.execute("DELETE FROM deleted_users WHERE id = ?1", [key])
                .map_err(sql)?;
            let addresses: Vec<serde_json::Value> =
                serde_json::from_str(&addresses).unwrap_or_default();
            let mut recovered = Vec::new();
            for a in addresses {
                let Some(a) = a.as_object() else { continue };
                match insert_object(tx, "addresses", a) {
                    Ok(()) => recovered.push(
                        a.get("address")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string(),
                    ),
                    // Taken meanwhile by someone else: that address is lost, as in WildDuck.
                    Err(e) if e.kind() == crate::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            let main = recovered
                .iter()
                .find(|a| Some(a.as_str()) == wanted.as_deref())
                .or_else(|| recovered.first())
                .cloned();
            if let Some(m) = &main {
                tx.execute(
                    "UPDATE users SET address = ?1 WHERE id = ?2",
                    params![m, key],
                )
                .map_err(sql)?;
            }
            Ok(RestoredUser { recovered, main })
        })
        .await
    }

    async fn purge_deleted_user(&self, id: UserId) -> Result<bool> {
        self.write(move |tx| {
            let key = idb(id.0);
            tx.execute("DELETE FROM thread_refs WHERE user = ?1", [key])
                .map_err(sql)?;
            tx.execute("DELETE FROM threads WHERE user = ?1", [key])
                .map_err(sql)?;
            tx.execute("DELETE FROM journal WHERE user = ?1", [key])
                .map_err(sql)?;
            tx.execute("DELETE FROM addressregister WHERE user = ?1", [key])
                .map_err(sql)?;
            let n = tx
                .execute("DELETE FROM deleted_users WHERE id = ?1", [key])
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }
}

/// The SQL reading column `col` of a row snapshot (JSON object in `src`): a blob is kept as
/// `{"hex": …}`, anything else as its JSON value.
fn json_col(src: &str, col: &str) -> String {
    format!(
        "CASE WHEN json_type({src}, '$.{col}.hex') = 'text' \
         THEN unhex(json_extract({src}, '$.{col}.hex')) ELSE json_extract({src}, '$.{col}') END"
    )
}

/// Every row `query` (one `?1` parameter) returns, as JSON objects of column name → value
/// (blobs as `{"hex": …}`), for snapshots that keep columns this code does not know.
fn row_objects(
    tx: &rusqlite::Connection,
    query: &str,
    key: [u8; 12],
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    use rusqlite::types::ValueRef;
    let mut st = tx.prepare(query).map_err(sql)?;
    let names: Vec<String> = st.column_names().iter().map(|c| c.to_string()).collect();
    let mut rows = st.query([key]).map_err(sql)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        let mut obj = serde_json::Map::new();
        for (idx, name) in names.iter().enumerate() {
            let v = match row.get_ref(idx).map_err(sql)? {
                ValueRef::Null => serde_json::Value::Null,
                ValueRef::Integer(v) => serde_json::Value::from(v),
                ValueRef::Real(v) => serde_json::Value::from(v),
                ValueRef::Text(t) => {
                    serde_json::Value::String(String::from_utf8_lossy(t).into_owned())
                }
                ValueRef::Blob(b) => serde_json::json!({ "hex": hex(b) }),
            };
            obj.insert(name.clone(), v);
        }
        out.push(obj);
    }
    Ok(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex_bytes(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

/// Inserts a row snapshot into `table`: only the keys that are columns of the table now (a
/// column dropped since is skipped; one added since takes its default).
fn insert_object(
    tx: &rusqlite::Connection,
    table: &str,
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    use rusqlite::types::Value;
    let mut st = tx
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .map_err(sql)?;
    let columns: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(sql)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql)?;
    let mut names = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    for c in &columns {
        let Some(v) = obj.get(c) else { continue };
        let value = match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Integer(i64::from(*b)),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Integer(i),
                None => Value::Real(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Value::Text(s.clone()),
            serde_json::Value::Object(o) => match o.get("hex").and_then(|h| h.as_str()) {
                Some(h) => Value::Blob(unhex_bytes(h).unwrap_or_default()),
                None => Value::Text(v.to_string()),
            },
            serde_json::Value::Array(_) => Value::Text(v.to_string()),
        };
        names.push(format!("\"{c}\""));
        values.push(value);
    }
    let marks = (1..=names.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    tx.execute(
        &format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            names.join(", ")
        ),
        rusqlite::params_from_iter(values),
    )
    .map_err(sql)?;
    Ok(())
}

const ADDRESS_COLUMNS: &str =
    "id, user, address, addrview, name, tags, created, forwarding, meta_data, internal_data";

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
        meta_data: row.get(8)?,
        internal_data: row.get(9)?,
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
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
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
                    a.meta_data,
                    a.internal_data,
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
                     forwarding = COALESCE(?6, forwarding), meta_data = COALESCE(?7, meta_data), \
                     internal_data = COALESCE(?8, internal_data) WHERE id = ?1",
                    params![
                        idb(a.id.0),
                        a.address,
                        a.addrview,
                        a.name,
                        json_list(&a.tags),
                        a.forwarding.as_ref().map(super::forwarded::forwarding_json),
                        a.meta_data,
                        a.internal_data,
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
