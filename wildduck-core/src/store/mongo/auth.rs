//! `asps` and `authlog` with WildDuck's field names (inventory §4.2).

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use futures::TryStreamExt as _;
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};

use super::{
    backend, date, get_date, get_i64, get_oid, get_opt_str, get_str, get_strings, num, oid,
};
use crate::Result;
use crate::model::{Asp, AuthEvent, AuthLogFilter, ObjectId, Timestamp, UserId};
use crate::store::{AspStore, AuthLogStore};

/// `asps` and `authlog` collections (WildDuck keeps both in the users database).
#[derive(Debug, Clone)]
pub struct MongoAuth {
    asps: Collection<Document>,
    authlog: Collection<Document>,
}

impl MongoAuth {
    /// Over `db.asps` and `db.authlog`.
    pub fn new(db: Database) -> Self {
        Self {
            asps: db.collection("asps"),
            authlog: db.collection("authlog"),
        }
    }
}

/// A date, or `false` as WildDuck writes "never" (`used: false`).
fn opt_date(d: &Document, key: &str) -> Option<Timestamp> {
    matches!(d.get(key), Some(Bson::DateTime(_))).then(|| get_date(d, key))
}

fn asp_doc(a: &Asp) -> Document {
    let mut d = doc! {
        "_id": oid(a.id),
        "user": oid(a.user.0),
        "description": &a.description,
        "scopes": super::strings(&a.scopes),
        "password": &a.password,
        "selector": &a.selector,
        "used": a.used.map(date).unwrap_or(Bson::Boolean(false)),
        "authEvent": a.auth_event.map(|e| Bson::ObjectId(oid(e))).unwrap_or(Bson::Boolean(false)),
        "authIp": a.auth_ip.clone().map(Bson::String).unwrap_or(Bson::Boolean(false)),
        "created": date(a.created),
    };
    if let Some(ttl) = a.ttl {
        d.insert("ttl", super::unum(ttl));
    }
    if let Some(e) = a.expires {
        d.insert("expires", date(e));
    }
    d
}

fn asp_from(d: &Document) -> Option<Asp> {
    Some(Asp {
        id: get_oid(d, "_id")?,
        user: UserId(get_oid(d, "user")?),
        description: get_str(d, "description"),
        scopes: get_strings(d, "scopes"),
        password: get_str(d, "password"),
        selector: get_str(d, "selector"),
        used: opt_date(d, "used"),
        auth_event: get_oid(d, "authEvent"),
        auth_ip: get_opt_str(d, "authIp"),
        created: get_date(d, "created"),
        ttl: u64::try_from(get_i64(d, "ttl")).ok().filter(|v| *v > 0),
        expires: opt_date(d, "expires"),
    })
}

#[async_trait]
impl AspStore for MongoAuth {
    async fn insert_asp(&self, asp: &Asp) -> Result<()> {
        self.asps.insert_one(asp_doc(asp)).await.map_err(backend)?;
        Ok(())
    }

    async fn list_asps(&self, user: UserId) -> Result<Vec<Asp>> {
        let docs: Vec<Document> = self
            .asps
            .find(doc! { "user": oid(user.0) })
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(asp_from).collect())
    }

    async fn get_asp(&self, user: UserId, id: ObjectId) -> Result<Option<Asp>> {
        let d = self
            .asps
            .find_one(doc! { "_id": oid(id), "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(d.as_ref().and_then(asp_from))
    }

    async fn delete_asp(&self, user: UserId, id: ObjectId) -> Result<bool> {
        let r = self
            .asps
            .delete_one(doc! { "_id": oid(id), "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count > 0)
    }

    async fn mark_asp_used(
        &self,
        id: ObjectId,
        used: Timestamp,
        auth_event: Option<ObjectId>,
        ip: Option<String>,
        expires: Option<Timestamp>,
    ) -> Result<()> {
        let mut set = doc! {
            "used": date(used),
            "authEvent": auth_event.map(|e| Bson::ObjectId(oid(e))).unwrap_or(Bson::Boolean(false)),
            "authIp": ip.map(Bson::String).unwrap_or(Bson::Boolean(false)),
        };
        if let Some(e) = expires {
            set.insert("expires", date(e));
        }
        self.asps
            .update_one(doc! { "_id": oid(id) }, doc! { "$set": set })
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_user_asps(&self, user: UserId) -> Result<u64> {
        let r = self
            .asps
            .delete_many(doc! { "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count)
    }
}

fn put_opt(d: &mut Document, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        d.insert(key, v.as_str());
    }
}

/// The fields written once, when an entry is created (`$setOnInsert`).
fn event_insert_doc(e: &AuthEvent) -> Document {
    let mut d = doc! {
        "_id": oid(e.id),
        "user": oid(e.user.0),
        "action": &e.action,
        "created": date(e.created),
        "expires": date(e.expires),
        "key": Bson::Binary(bson::Binary {
            subtype: bson::spec::BinarySubtype::Generic,
            bytes: e.key.clone(),
        }),
    };
    put_opt(&mut d, "result", &e.result);
    put_opt(&mut d, "protocol", &e.protocol);
    put_opt(&mut d, "source", &e.source);
    if let Some(a) = e.asp {
        d.insert("asp", oid(a));
    }
    put_opt(&mut d, "aname", &e.aname);
    if let Some(t) = e.temporary {
        d.insert("temporary", t);
    }
    put_opt(&mut d, "sess", &e.sess);
    put_opt(&mut d, "ip", &e.ip);
    put_opt(&mut d, "requiredScope", &e.required_scope);
    d
}

fn event_from(d: &Document) -> Option<AuthEvent> {
    Some(AuthEvent {
        id: get_oid(d, "_id")?,
        user: UserId(get_oid(d, "user")?),
        action: get_str(d, "action"),
        result: get_opt_str(d, "result"),
        protocol: get_opt_str(d, "protocol"),
        source: get_opt_str(d, "source"),
        asp: get_oid(d, "asp"),
        aname: get_opt_str(d, "aname"),
        temporary: d.get_bool("temporary").ok(),
        sess: get_opt_str(d, "sess"),
        ip: get_opt_str(d, "ip"),
        required_scope: get_opt_str(d, "requiredScope"),
        created: get_date(d, "created"),
        last: get_date(d, "last"),
        events: get_i64(d, "events"),
        key: d.get_binary_generic("key").cloned().unwrap_or_default(),
        expires: get_date(d, "expires"),
    })
}

#[async_trait]
impl AuthLogStore for MongoAuth {
    async fn log_event(&self, event: &AuthEvent, bucket_start: Timestamp) -> Result<ObjectId> {
        let filter = doc! {
            "user": oid(event.user.0),
            // Exclusive bound (the test server drops boundary rows of inclusive ones).
            "created": { "$gt": date(Timestamp(bucket_start.0 - 1)) },
            "key": Bson::Binary(bson::Binary {
                subtype: bson::spec::BinarySubtype::Generic,
                bytes: event.key.clone(),
            }),
        };
        let update = doc! {
            "$setOnInsert": event_insert_doc(event),
            "$inc": { "events": num(1) },
            "$set": { "last": date(event.last) },
        };
        let written = self
            .authlog
            .find_one_and_update(filter.clone(), update)
            .upsert(true)
            .return_document(ReturnDocument::After)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        if let Some(id) = written.as_ref().and_then(|d| get_oid(d, "_id")) {
            return Ok(id);
        }
        // Some servers answer an upsert without the document: read it back.
        let found = self
            .authlog
            .find_one(filter)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        Ok(found
            .as_ref()
            .and_then(|d| get_oid(d, "_id"))
            .unwrap_or(event.id))
    }

    async fn list_events(&self, user: UserId, filter: &AuthLogFilter) -> Result<Vec<AuthEvent>> {
        let mut q = doc! { "user": oid(user.0) };
        if let Some(a) = &filter.action {
            q.insert("action", a.as_str());
        }
        if let Some(ip) = &filter.ip {
            q.insert("ip", ip.as_str());
        }
        let docs: Vec<Document> = self
            .authlog
            .find(q)
            .sort(doc! { "_id": -1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let now = Timestamp::now();
        // The TTL index removes expired entries only once a minute.
        Ok(docs
            .iter()
            .filter_map(event_from)
            .filter(|e| e.expires > now)
            .collect())
    }

    async fn get_event(&self, user: UserId, id: ObjectId) -> Result<Option<AuthEvent>> {
        let d = self
            .authlog
            .find_one(doc! { "_id": oid(id), "user": oid(user.0) })
            .await
            .map_err(backend)?;
        let now = Timestamp::now();
        Ok(d.as_ref().and_then(event_from).filter(|e| e.expires > now))
    }

    async fn delete_user_events(&self, user: UserId) -> Result<u64> {
        let r = self
            .authlog
            .delete_many(doc! { "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count)
    }
}
