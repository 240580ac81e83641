//! The forwarded-only fields of an address (the `addresses.forwarding` JSON column) and the
//! `addressregister` table.

use rusqlite::{Connection, Row, params};
use serde_json::{Map, Value, json};

use super::{SqliteStore, id_at, idb, sql};
use crate::Result;
use crate::model::{
    AddressAutoreply, ForwardTarget, ForwardTargetKind, Forwarding, ObjectId, RegisterEntry,
    Timestamp, UserId,
};

fn hex(id: ObjectId) -> String {
    id.to_string()
}

/// The JSON text of the forwarded-only fields (WildDuck's field names).
pub(super) fn forwarding_json(f: &Forwarding) -> String {
    let targets: Vec<Value> = f
        .targets
        .iter()
        .map(|t| {
            let mut o = Map::new();
            o.insert("id".into(), json!(hex(t.id)));
            o.insert("type".into(), json!(t.kind.as_str()));
            o.insert("value".into(), json!(t.value));
            if let Some(u) = t.user {
                o.insert("user".into(), json!(u.to_string()));
            }
            Value::Object(o)
        })
        .collect();
    let a = &f.autoreply;
    let mut ar = Map::new();
    ar.insert("status".into(), json!(a.status));
    ar.insert("start".into(), json!(a.start.map(|t| t.0)));
    ar.insert("end".into(), json!(a.end.map(|t| t.0)));
    for (k, v) in [
        ("name", &a.name),
        ("subject", &a.subject),
        ("text", &a.text),
        ("html", &a.html),
    ] {
        if let Some(v) = v {
            ar.insert(k.into(), json!(v));
        }
    }
    json!({
        "targets": targets,
        "forwards": f.forwards,
        "forwardedDisabled": f.disabled,
        "autoreply": ar,
        "metaData": f.meta_data,
        "internalData": f.internal_data,
    })
    .to_string()
}

fn opt_string(o: &Value, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Reads the JSON column back; `None` for NULL or unreadable text.
pub(super) fn forwarding_from_json(text: Option<String>) -> Option<Forwarding> {
    let v: Value = serde_json::from_str(&text?).ok()?;
    let targets = v
        .get("targets")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    Some(ForwardTarget {
                        id: t
                            .get("id")
                            .and_then(Value::as_str)
                            .and_then(|s| s.parse().ok())
                            .unwrap_or_default(),
                        kind: t
                            .get("type")
                            .and_then(Value::as_str)
                            .and_then(ForwardTargetKind::parse)
                            .unwrap_or_default(),
                        value: opt_string(t, "value")?,
                        user: t
                            .get("user")
                            .and_then(Value::as_str)
                            .and_then(|s| s.parse().ok()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let ar = v.get("autoreply").cloned().unwrap_or(Value::Null);
    let time = |k: &str| ar.get(k).and_then(Value::as_i64).map(Timestamp);
    Some(Forwarding {
        targets,
        forwards: v.get("forwards").and_then(Value::as_u64).unwrap_or(0),
        disabled: v
            .get("forwardedDisabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        autoreply: AddressAutoreply {
            status: ar.get("status").and_then(Value::as_bool).unwrap_or(false),
            start: time("start"),
            end: time("end"),
            name: opt_string(&ar, "name"),
            subject: opt_string(&ar, "subject"),
            text: opt_string(&ar, "text"),
            html: opt_string(&ar, "html"),
        },
        meta_data: opt_string(&v, "metaData"),
        internal_data: opt_string(&v, "internalData"),
    })
}

const ENTRY_COLUMNS: &str = "id, user, address, addrview, name, updated, disabled";

fn entry_from(row: &Row<'_>) -> rusqlite::Result<RegisterEntry> {
    Ok(RegisterEntry {
        id: id_at(row, 0)?,
        user: UserId(id_at(row, 1)?),
        address: row.get(2)?,
        addrview: row.get(3)?,
        name: row.get::<_, Option<String>>(4)?.filter(|s| !s.is_empty()),
        updated: Timestamp(row.get(5)?),
        disabled: row.get::<_, i64>(6)? != 0,
    })
}

fn register_in(conn: &Connection, user: UserId, entries: &[RegisterEntry]) -> Result<()> {
    for e in entries {
        // A disabled entry is not touched; an enabled one gets the new time (and name).
        let changed = conn
            .execute(
                "UPDATE addressregister SET updated = ?3, name = COALESCE(?4, name) \
                 WHERE user = ?1 AND addrview = ?2 AND disabled = 0",
                params![idb(user.0), e.addrview, e.updated.0, e.name],
            )
            .map_err(sql)?;
        if changed == 0 {
            conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO addressregister ({ENTRY_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)"
                ),
                params![
                    idb(e.id),
                    idb(user.0),
                    e.address,
                    e.addrview,
                    e.name,
                    e.updated.0
                ],
            )
            .map_err(sql)?;
        }
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn register_entries(
        &self,
        user: UserId,
        entries: &[RegisterEntry],
    ) -> Result<()> {
        let entries = entries.to_vec();
        // A hint for address completion, written in the background: not fsynced under
        // `Synchronous::Optimized` (it would add a fsync per 100 ms of appends).
        self.write_relaxed(move |conn| register_in(conn, user, &entries))
            .await
    }

    pub(super) async fn search_entries(
        &self,
        user: UserId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<RegisterEntry>> {
        let query = query.to_string();
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM addressregister \
                     WHERE user = ?1 AND disabled = 0 ORDER BY updated DESC, id DESC"
                ))
                .map_err(sql)?;
            let rows = stmt.query_map([idb(user.0)], entry_from).map_err(sql)?;
            let lower = query.to_lowercase();
            let mut out = Vec::new();
            for r in rows {
                let e = r.map_err(sql)?;
                let name_hit = e
                    .name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().starts_with(&lower));
                if e.address.contains(&query) || name_hit {
                    out.push(e);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    pub(super) async fn update_entry(
        &self,
        user: UserId,
        id: ObjectId,
        disabled: bool,
        name: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        let name = name.map(str::to_string);
        self.write(move |conn| {
            let n = conn
                .execute(
                    "UPDATE addressregister SET disabled = ?3, updated = ?4, \
                     name = COALESCE(?5, name) WHERE id = ?1 AND user = ?2",
                    params![idb(id), idb(user.0), i64::from(disabled), now.0, name],
                )
                .map_err(sql)?;
            Ok(n > 0)
        })
        .await
    }

    pub(super) async fn delete_entries(&self, user: UserId) -> Result<u64> {
        self.write(move |conn| {
            let n = conn
                .execute("DELETE FROM addressregister WHERE user = ?1", [idb(user.0)])
                .map_err(sql)?;
            Ok(n as u64)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_json_round_trip() {
        let f = Forwarding {
            targets: vec![ForwardTarget {
                id: ObjectId::new(),
                kind: ForwardTargetKind::Http,
                value: "https://example.com/hook".into(),
                user: Some(UserId::new()),
            }],
            forwards: 3,
            disabled: false,
            autoreply: AddressAutoreply {
                status: true,
                start: None,
                end: Some(Timestamp(5)),
                name: Some(String::new()),
                ..Default::default()
            },
            meta_data: None,
            internal_data: Some("{}".into()),
        };
        assert_eq!(forwarding_from_json(Some(forwarding_json(&f))), Some(f));
        assert_eq!(forwarding_from_json(None), None);
        assert_eq!(forwarding_from_json(Some("nonsense".into())), None);
    }
}
