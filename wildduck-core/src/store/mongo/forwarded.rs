//! The forwarded-only fields of `addresses` documents, and the `addressregister` collection, in
//! WildDuck's layout.

use bson::{Bson, Document, doc};
use futures::TryStreamExt as _;
use mongodb::Collection;

use super::{backend, date, get_bool, get_date, get_oid, get_opt_str, get_u64, oid, unum};
use crate::Result;
use crate::model::{
    AddressAutoreply, ForwardTarget, ForwardTargetKind, Forwarding, ObjectId, RegisterEntry,
    Timestamp, UserId,
};

/// Adds `targets`, `forwards`, `forwardedDisabled`, `autoreply`, `metaData` and `internalData`
/// to an address document (or to a `$set`).
pub(super) fn put_forwarding(d: &mut Document, f: &Forwarding) {
    let targets: Vec<Bson> = f
        .targets
        .iter()
        .map(|t| {
            let mut td = doc! {
                "id": oid(t.id),
                "type": t.kind.as_str(),
                "value": &t.value,
            };
            if let Some(u) = t.user {
                td.insert("user", oid(u.0));
            }
            Bson::Document(td)
        })
        .collect();
    d.insert("targets", targets);
    d.insert("forwards", unum(f.forwards));
    d.insert("forwardedDisabled", f.disabled);
    d.insert("autoreply", autoreply_doc(&f.autoreply));
    if let Some(m) = &f.meta_data {
        d.insert("metaData", m.as_str());
    }
    if let Some(m) = &f.internal_data {
        d.insert("internalData", m.as_str());
    }
}

fn autoreply_doc(a: &AddressAutoreply) -> Document {
    let mut d = doc! { "status": a.status };
    let when = |t: Option<Timestamp>| t.map(date).unwrap_or(Bson::Boolean(false));
    // WildDuck writes only the keys it was given; `start`/`end` are dates or `false`.
    if a.start.is_some() || a.end.is_some() {
        d.insert("start", when(a.start));
        d.insert("end", when(a.end));
    }
    for (k, v) in [
        ("name", &a.name),
        ("subject", &a.subject),
        ("text", &a.text),
        ("html", &a.html),
    ] {
        if let Some(v) = v {
            d.insert(k, v.as_str());
        }
    }
    d
}

fn opt_date(d: &Document, key: &str) -> Option<Timestamp> {
    matches!(d.get(key), Some(Bson::DateTime(_))).then(|| get_date(d, key))
}

/// The forwarded-only fields of an address document: `Some` when it has `targets`.
pub(super) fn forwarding_from(d: &Document) -> Option<Forwarding> {
    let targets = d.get_array("targets").ok()?;
    let targets = targets
        .iter()
        .filter_map(|t| {
            let t = t.as_document()?;
            Some(ForwardTarget {
                id: get_oid(t, "id").unwrap_or_default(),
                kind: t
                    .get_str("type")
                    .ok()
                    .and_then(ForwardTargetKind::parse)
                    .unwrap_or_default(),
                value: t.get_str("value").ok()?.to_string(),
                user: get_oid(t, "user").map(UserId),
            })
        })
        .collect();
    let autoreply = d
        .get_document("autoreply")
        .map(|a| AddressAutoreply {
            status: get_bool(a, "status"),
            start: opt_date(a, "start"),
            end: opt_date(a, "end"),
            name: a.get_str("name").ok().map(str::to_string),
            subject: a.get_str("subject").ok().map(str::to_string),
            text: a.get_str("text").ok().map(str::to_string),
            html: a.get_str("html").ok().map(str::to_string),
        })
        .unwrap_or_default();
    Some(Forwarding {
        targets,
        forwards: get_u64(d, "forwards"),
        disabled: get_bool(d, "forwardedDisabled"),
        autoreply,
        meta_data: meta_text(d, "metaData"),
        internal_data: meta_text(d, "internalData"),
    })
}

/// WildDuck stores metadata as JSON text; a document written by other tools may hold an object.
/// A `metaData`-like field as JSON text (WildDuck stores a string; an object is accepted too).
pub(super) fn meta_text(d: &Document, key: &str) -> Option<String> {
    match d.get(key)? {
        Bson::String(s) => Some(s.clone()),
        Bson::Document(o) => {
            serde_json::to_string(&Bson::Document(o.clone()).into_relaxed_extjson()).ok()
        }
        _ => None,
    }
}

/// A string as a literal regular expression.
fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "\\^$.|?*+()[]{}/-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn entry_from(d: &Document) -> Option<RegisterEntry> {
    Some(RegisterEntry {
        id: get_oid(d, "_id")?,
        user: UserId(get_oid(d, "user")?),
        address: d.get_str("address").ok()?.to_string(),
        addrview: get_opt_str(d, "addrview").unwrap_or_default(),
        name: get_opt_str(d, "name"),
        updated: get_date(d, "updated"),
        disabled: get_bool(d, "disabled"),
    })
}

/// Upserts correspondents; a disabled entry stays as it is. (WildDuck's upsert filters on
/// `disabled: false`, which inserts a second, enabled entry beside a disabled one; here the
/// disabled one wins.)
pub(super) async fn register(
    coll: &Collection<Document>,
    user: UserId,
    entries: &[RegisterEntry],
) -> Result<()> {
    for e in entries {
        let mut set = doc! { "updated": date(e.updated) };
        if let Some(n) = &e.name {
            set.insert("name", n.as_str());
        }
        let r = coll
            .update_one(
                doc! { "user": oid(user.0), "addrview": &e.addrview, "disabled": { "$ne": true } },
                doc! { "$set": set },
            )
            .await
            .map_err(backend)?;
        if r.matched_count > 0 {
            continue;
        }
        let exists = coll
            .count_documents(doc! { "user": oid(user.0), "addrview": &e.addrview })
            .await
            .map_err(backend)?;
        if exists > 0 {
            continue;
        }
        let mut d = doc! {
            "_id": oid(e.id),
            "user": oid(user.0),
            "address": &e.address,
            "addrview": &e.addrview,
            "updated": date(e.updated),
            "disabled": false,
        };
        if let Some(n) = &e.name {
            d.insert("name", n.as_str());
        }
        coll.insert_one(d).await.map_err(backend)?;
    }
    Ok(())
}

/// Enabled entries matching `query` (address substring, or name prefix case-insensitively).
pub(super) async fn search(
    coll: &Collection<Document>,
    user: UserId,
    query: &str,
    limit: usize,
) -> Result<Vec<RegisterEntry>> {
    let q = escape_regex(query);
    let docs: Vec<Document> = coll
        .find(doc! {
            "user": oid(user.0),
            "$or": [
                { "address": { "$regex": &q, "$options": "" } },
                { "name": { "$regex": format!("^{q}"), "$options": "i" } },
            ],
            "disabled": { "$ne": true },
        })
        .sort(doc! { "updated": -1 })
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(backend)?
        .try_collect()
        .await
        .map_err(backend)?;
    Ok(docs.iter().filter_map(entry_from).collect())
}

/// Sets `disabled` (and the name) of one entry.
pub(super) async fn update_entry(
    coll: &Collection<Document>,
    user: UserId,
    id: ObjectId,
    disabled: bool,
    name: Option<&str>,
    now: Timestamp,
) -> Result<bool> {
    let mut set = doc! { "disabled": disabled, "updated": date(now) };
    if let Some(n) = name {
        set.insert("name", n);
    }
    let r = coll
        .update_one(
            doc! { "_id": oid(id), "user": oid(user.0) },
            doc! { "$set": set },
        )
        .await
        .map_err(backend)?;
    Ok(r.matched_count > 0)
}

/// Deletes a user's entries.
pub(super) async fn delete_user(coll: &Collection<Document>, user: UserId) -> Result<u64> {
    let r = coll
        .delete_many(doc! { "user": oid(user.0) })
        .await
        .map_err(backend)?;
    Ok(r.deleted_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_round_trip() {
        let f = Forwarding {
            targets: vec![
                ForwardTarget {
                    id: ObjectId::new(),
                    kind: ForwardTargetKind::Mail,
                    value: "a@example.com".into(),
                    user: Some(UserId::new()),
                },
                ForwardTarget {
                    id: ObjectId::new(),
                    kind: ForwardTargetKind::Relay,
                    value: "smtp://mx.example.com:25".into(),
                    user: None,
                },
            ],
            forwards: 7,
            disabled: true,
            autoreply: AddressAutoreply {
                status: true,
                start: Some(Timestamp(1_700_000_000_000)),
                end: None,
                subject: Some("away".into()),
                ..Default::default()
            },
            meta_data: Some("{\"a\":1}".into()),
            internal_data: None,
        };
        let mut d = Document::new();
        put_forwarding(&mut d, &f);
        assert_eq!(forwarding_from(&d), Some(f));
        assert_eq!(forwarding_from(&Document::new()), None);
        assert_eq!(escape_regex("a.b+c"), "a\\.b\\+c");
    }
}
