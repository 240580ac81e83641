//! `users` and `addresses`.

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use futures::TryStreamExt as _;
use mongodb::{Collection, Database};

use super::{
    backend, date, get_bool, get_date, get_i64, get_oid, get_opt_str, get_str, get_strings,
    get_u64, oid, strings, unum,
};
use crate::Result;
use crate::model::{
    Address, AddressId, TempPassword, Timestamp, User, UserId, UserLimits, UserUpdate,
};
use crate::service::users::unameview;
use crate::store::{AddressStore, DeletedUser, RestoredUser, UserStore};

/// `users` collection.
#[derive(Debug, Clone)]
pub struct MongoUsers {
    coll: Collection<Document>,
    /// The database, for user deletion (`deletedusers`, `addresses`, `threads`, `journal`).
    db: Database,
}

impl MongoUsers {
    /// Over `db.users`.
    pub fn new(db: Database) -> Self {
        Self {
            coll: db.collection("users"),
            db,
        }
    }

    fn deleted(&self) -> Collection<Document> {
        self.db.collection("deletedusers")
    }

    fn addresses(&self) -> Collection<Document> {
        self.db.collection("addresses")
    }
}

/// A `deletedusers` document as the snapshot model.
fn deleted_from(d: &Document) -> Option<DeletedUser> {
    let user = user_from(d)?;
    let info = d.get_document("deleteInfo").ok();
    let addresses = info
        .and_then(|i| i.get_array("addresses").ok())
        .map(|a| {
            a.iter()
                .filter_map(|b| b.as_document().and_then(address_from))
                .collect()
        })
        .unwrap_or_default();
    Some(DeletedUser {
        user,
        deleted: info.map(|i| get_date(i, "deletedAt")).unwrap_or_default(),
        main_address: info.and_then(|i| get_opt_str(i, "mainAddress")),
        addresses,
    })
}

fn opt_num(d: &mut Document, key: &str, v: Option<u64>) {
    if let Some(v) = v {
        d.insert(key, unum(v));
    }
}

fn user_doc(u: &User) -> Document {
    let mut d = doc! {
        "_id": oid(u.id.0),
        "username": &u.username,
        "unameview": unameview(&u.username),
        "name": &u.name,
        "address": u.address.clone().map(Bson::String).unwrap_or(Bson::String(String::new())),
        "language": u.language.clone().map(Bson::String).unwrap_or(Bson::Null),
        "password": &u.password,
        "authVersion": super::num(u.auth_version),
        "enabled2fa": [],
        "seed": "",
        "requirePasswordChange": false,
        "storageUsed": super::num(u.storage_used),
        "quota": unum(u.quota),
        "retention": unum(u.retention),
        "tags": strings(&u.tags),
        "tagsview": strings(&u.tags.iter().map(|t| t.to_lowercase()).collect::<Vec<_>>()),
        "disabledScopes": strings(&u.disabled_scopes),
        "targets": [],
        "autoreply": false,
        "uploadSentMessages": false,
        "pubKey": "",
        "encryptMessages": false,
        "encryptForwarded": false,
        "spamLevel": 50,
        "activated": u.activated,
        "disabled": u.disabled,
        "suspended": u.suspended,
        "created": date(u.created),
    };
    let l = &u.limits;
    opt_num(&mut d, "recipients", l.recipients);
    opt_num(&mut d, "forwards", l.forwards);
    opt_num(&mut d, "imapMaxUpload", l.imap_max_upload);
    opt_num(&mut d, "imapMaxDownload", l.imap_max_download);
    opt_num(&mut d, "pop3MaxDownload", l.pop3_max_download);
    opt_num(&mut d, "pop3MaxMessages", l.pop3_max_messages);
    opt_num(&mut d, "imapMaxConnections", l.imap_max_connections);
    opt_num(&mut d, "receivedMax", l.received_max);
    put_meta(&mut d, u.meta_data.as_deref(), u.internal_data.as_deref());
    d
}

/// `metaData` / `internalData` as WildDuck stores them: JSON text strings, absent when unset.
fn put_meta(d: &mut Document, meta: Option<&str>, internal: Option<&str>) {
    if let Some(m) = meta {
        d.insert("metaData", m);
    }
    if let Some(m) = internal {
        d.insert("internalData", m);
    }
}

fn opt_u64(d: &Document, key: &str) -> Option<u64> {
    d.contains_key(key)
        .then(|| get_u64(d, key))
        .filter(|v| *v > 0)
}

fn user_from(d: &Document) -> Option<User> {
    Some(User {
        id: UserId(get_oid(d, "_id")?),
        username: get_str(d, "username"),
        name: get_str(d, "name"),
        address: get_opt_str(d, "address"),
        language: get_opt_str(d, "language"),
        password: get_str(d, "password"),
        auth_version: get_i64(d, "authVersion"),
        quota: get_u64(d, "quota"),
        storage_used: get_i64(d, "storageUsed"),
        retention: get_u64(d, "retention"),
        tags: get_strings(d, "tags"),
        disabled_scopes: get_strings(d, "disabledScopes"),
        disabled: get_bool(d, "disabled"),
        suspended: get_bool(d, "suspended"),
        activated: get_bool(d, "activated"),
        limits: UserLimits {
            recipients: opt_u64(d, "recipients"),
            forwards: opt_u64(d, "forwards"),
            imap_max_upload: opt_u64(d, "imapMaxUpload"),
            imap_max_download: opt_u64(d, "imapMaxDownload"),
            pop3_max_download: opt_u64(d, "pop3MaxDownload"),
            pop3_max_messages: opt_u64(d, "pop3MaxMessages"),
            imap_max_connections: opt_u64(d, "imapMaxConnections"),
            received_max: opt_u64(d, "receivedMax"),
        },
        created: get_date(d, "created"),
        temp_password: d.get_document("tempPassword").ok().and_then(|t| {
            Some(TempPassword {
                password: t.get_str("password").ok()?.to_string(),
                created: get_date(t, "created"),
                valid_after: get_date(t, "validAfter"),
            })
        }),
        meta_data: super::forwarded::meta_text(d, "metaData"),
        internal_data: super::forwarded::meta_text(d, "internalData"),
    })
}

#[async_trait]
impl UserStore for MongoUsers {
    async fn insert_user(&self, user: &User) -> Result<()> {
        self.coll
            .insert_one(user_doc(user))
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        let d = self
            .coll
            .find_one(doc! { "_id": oid(id.0) })
            .await
            .map_err(backend)?;
        Ok(d.as_ref().and_then(user_from))
    }

    async fn find_user_by_unameview(&self, view: &str) -> Result<Option<User>> {
        let d = self
            .coll
            .find_one(doc! { "unameview": view })
            .await
            .map_err(backend)?;
        Ok(d.as_ref().and_then(user_from))
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let docs: Vec<Document> = self
            .coll
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(user_from).collect())
    }

    async fn update_user(&self, id: UserId, u: &UserUpdate) -> Result<bool> {
        let mut set = Document::new();
        let mut inc = Document::new();
        if let Some(v) = &u.name {
            set.insert("name", v);
        }
        if let Some(v) = &u.password {
            set.insert("password", v);
            inc.insert("authVersion", 1);
        }
        if let Some(v) = &u.address {
            set.insert("address", v);
        }
        if let Some(v) = &u.language {
            set.insert("language", v);
        }
        if let Some(v) = u.quota {
            set.insert("quota", unum(v));
        }
        if let Some(v) = u.retention {
            set.insert("retention", unum(v));
        }
        if let Some(v) = &u.tags {
            set.insert("tags", strings(v));
            let view: Vec<String> = v.iter().map(|t| t.to_lowercase()).collect();
            set.insert("tagsview", strings(&view));
        }
        if let Some(v) = &u.disabled_scopes {
            set.insert("disabledScopes", strings(v));
        }
        if let Some(v) = u.disabled {
            set.insert("disabled", v);
        }
        if let Some(v) = u.suspended {
            set.insert("suspended", v);
        }
        put_meta(&mut set, u.meta_data.as_deref(), u.internal_data.as_deref());
        let mut update = Document::new();
        if !set.is_empty() {
            update.insert("$set", set);
        }
        if !inc.is_empty() {
            update.insert("$inc", inc);
        }
        let filter = doc! { "_id": oid(id.0) };
        if update.is_empty() {
            return Ok(self.coll.count_documents(filter).await.map_err(backend)? > 0);
        }
        let r = self
            .coll
            .update_one(filter, update)
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn set_temp_password(&self, id: UserId, temp: Option<&TempPassword>) -> Result<bool> {
        // WildDuck writes `tempPassword: false` when there is none.
        let value = match temp {
            Some(t) => Bson::Document(doc! {
                "validAfter": date(t.valid_after),
                "password": &t.password,
                "created": date(t.created),
            }),
            None => Bson::Boolean(false),
        };
        let r = self
            .coll
            .update_one(
                doc! { "_id": oid(id.0) },
                doc! { "$set": { "tempPassword": value } },
            )
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn bump_auth_version(&self, id: UserId) -> Result<bool> {
        let r = self
            .coll
            .update_one(
                doc! { "_id": oid(id.0) },
                doc! { "$inc": { "authVersion": 1 } },
            )
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn rehash_password(&self, id: UserId, hash: &str) -> Result<()> {
        self.coll
            .update_one(
                doc! { "_id": oid(id.0) },
                doc! { "$set": { "password": hash } },
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> Result<bool> {
        let r = self
            .coll
            .delete_one(doc! { "_id": oid(id.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count > 0)
    }

    async fn inc_storage(&self, id: UserId, delta: i64) -> Result<()> {
        if delta == 0 {
            return Ok(());
        }
        self.coll
            .update_one(
                doc! { "_id": oid(id.0) },
                doc! { "$inc": { "storageUsed": super::num(delta) } },
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn set_storage(&self, id: UserId, value: i64) -> Result<()> {
        self.coll
            .update_one(
                doc! { "_id": oid(id.0) },
                doc! { "$set": { "storageUsed": super::num(value) } },
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn move_user_to_deleted(
        &self,
        id: UserId,
        deleted_at: Timestamp,
    ) -> Result<Option<DeletedUser>> {
        let key = doc! { "_id": oid(id.0) };
        // The raw documents, so fields this crate does not model survive a restore.
        let Some(mut snapshot) = self.coll.find_one(key.clone()).await.map_err(backend)? else {
            return Ok(None);
        };
        let addresses: Vec<Document> = self
            .addresses()
            .find(doc! { "user": oid(id.0) })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let main = snapshot.get("address").cloned().unwrap_or(Bson::Null);
        snapshot.insert(
            "deleteInfo",
            doc! {
                "deletedAt": date(deleted_at),
                "mainAddress": main,
                "addresses": addresses.into_iter().map(Bson::Document).collect::<Vec<_>>(),
            },
        );
        // As WildDuck: an older snapshot of the same id goes, the new one is written before the
        // user is removed (a crash in between leaves the user as it was, deletable again).
        self.deleted()
            .delete_one(key.clone())
            .await
            .map_err(backend)?;
        self.deleted()
            .insert_one(snapshot.clone())
            .await
            .map_err(backend)?;
        self.coll.delete_one(key).await.map_err(backend)?;
        self.addresses()
            .delete_many(doc! { "user": oid(id.0) })
            .await
            .map_err(backend)?;
        Ok(deleted_from(&snapshot))
    }

    async fn get_deleted_user(&self, id: UserId) -> Result<Option<DeletedUser>> {
        Ok(self
            .deleted()
            .find_one(doc! { "_id": oid(id.0) })
            .await
            .map_err(backend)?
            .as_ref()
            .and_then(deleted_from))
    }

    async fn restore_deleted_user(&self, id: UserId) -> Result<RestoredUser> {
        let key = doc! { "_id": oid(id.0) };
        let Some(mut user) = self
            .deleted()
            .find_one(key.clone())
            .await
            .map_err(backend)?
        else {
            return Err(crate::Error::not_found("deleted account was not found"));
        };
        let info = match user.remove("deleteInfo") {
            Some(Bson::Document(d)) => d,
            _ => Document::new(),
        };
        // The main address comes back only once its address document is in again.
        user.insert("address", "");
        self.coll.insert_one(user).await.map_err(backend)?;
        if let Err(e) = self.deleted().delete_one(key.clone()).await {
            tracing::warn!(user = %id, error = %e, "restored user's snapshot not removed");
        }
        let mut out = RestoredUser::default();
        let mut recovered: Vec<String> = Vec::new();
        for a in info
            .get_array("addresses")
            .map(|a| a.as_slice())
            .unwrap_or(&[])
        {
            let Some(a) = a.as_document() else { continue };
            match self.addresses().insert_one(a.clone()).await {
                Ok(_) => recovered.push(get_str(a, "address")),
                // Taken meanwhile by someone else: that address is lost, as in WildDuck.
                Err(e) => tracing::info!(user = %id, address = %get_str(a, "address"), error = %e,
                    "address not restored"),
            }
        }
        let wanted = get_opt_str(&info, "mainAddress");
        let main = recovered
            .iter()
            .find(|a| Some(a.as_str()) == wanted.as_deref())
            .or_else(|| recovered.first())
            .cloned();
        if let Some(m) = &main {
            self.coll
                .update_one(key, doc! { "$set": { "address": m.as_str() } })
                .await
                .map_err(backend)?;
        }
        out.recovered = recovered;
        out.main = main;
        Ok(out)
    }

    async fn purge_deleted_user(&self, id: UserId) -> Result<bool> {
        let user = doc! { "user": oid(id.0) };
        for coll in ["threads", "journal", "addressregister"] {
            self.db
                .collection::<Document>(coll)
                .delete_many(user.clone())
                .await
                .map_err(backend)?;
        }
        let r = self
            .deleted()
            .delete_one(doc! { "_id": oid(id.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count > 0)
    }
}

/// `addresses` collection.
#[derive(Debug, Clone)]
pub struct MongoAddresses {
    coll: Collection<Document>,
    /// `addressregister` (the correspondents register).
    register: Collection<Document>,
}

impl MongoAddresses {
    /// Over `db.addresses`.
    pub fn new(db: Database) -> Self {
        Self {
            coll: db.collection("addresses"),
            register: db.collection("addressregister"),
        }
    }
}

fn address_doc(a: &Address) -> Document {
    let mut d = doc! {
        "_id": oid(a.id.0),
        "address": &a.address,
        "addrview": &a.addrview,
        "name": a.name.clone().unwrap_or_default(),
        "tags": strings(&a.tags),
        "tagsview": strings(&a.tags.iter().map(|t| t.to_lowercase()).collect::<Vec<_>>()),
        "created": date(a.created),
    };
    if let Some(u) = a.user {
        d.insert("user", oid(u.0));
    }
    if let Some(f) = &a.forwarding {
        super::forwarded::put_forwarding(&mut d, f);
    }
    put_meta(&mut d, a.meta_data.as_deref(), a.internal_data.as_deref());
    d
}

fn address_from(d: &Document) -> Option<Address> {
    Some(Address {
        id: AddressId(get_oid(d, "_id")?),
        user: get_oid(d, "user").map(UserId),
        address: get_str(d, "address"),
        addrview: get_str(d, "addrview"),
        name: get_opt_str(d, "name"),
        tags: get_strings(d, "tags"),
        created: get_date(d, "created"),
        forwarding: super::forwarded::forwarding_from(d),
        meta_data: None,
        internal_data: None,
    })
    .map(|mut a| {
        // One `metaData` field on the document: a forwarded address models it in `forwarding`.
        if a.forwarding.is_none() {
            a.meta_data = super::forwarded::meta_text(d, "metaData");
            a.internal_data = super::forwarded::meta_text(d, "internalData");
        }
        a
    })
}

#[async_trait]
impl AddressStore for MongoAddresses {
    async fn insert_address(&self, a: &Address) -> Result<()> {
        self.coll
            .insert_one(address_doc(a))
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_address(&self, id: AddressId) -> Result<Option<Address>> {
        let d = self
            .coll
            .find_one(doc! { "_id": oid(id.0) })
            .await
            .map_err(backend)?;
        Ok(d.as_ref().and_then(address_from))
    }

    async fn find_addresses(&self, views: &[String]) -> Result<Vec<Address>> {
        if views.is_empty() {
            return Ok(Vec::new());
        }
        let filter = match views {
            [one] => doc! { "addrview": one },
            _ => doc! { "addrview": { "$in": strings(views) } },
        };
        let docs: Vec<Document> = self
            .coll
            .find(filter)
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(address_from).collect())
    }

    async fn list_addresses(&self, user: UserId) -> Result<Vec<Address>> {
        let docs: Vec<Document> = self
            .coll
            .find(doc! { "user": oid(user.0) })
            .sort(doc! { "addrview": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(address_from).collect())
    }

    async fn delete_address(&self, user: UserId, id: AddressId) -> Result<bool> {
        let r = self
            .coll
            .delete_one(doc! { "_id": oid(id.0), "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count > 0)
    }

    async fn delete_user_addresses(&self, user: UserId) -> Result<u64> {
        let r = self
            .coll
            .delete_many(doc! { "user": oid(user.0) })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count)
    }

    async fn update_address(&self, a: &Address) -> Result<bool> {
        let mut set = doc! {
            "address": &a.address,
            "addrview": &a.addrview,
            "name": a.name.clone().unwrap_or_default(),
            "tags": strings(&a.tags),
            "tagsview": strings(&a.tags.iter().map(|t| t.to_lowercase()).collect::<Vec<_>>()),
        };
        if let Some(f) = &a.forwarding {
            super::forwarded::put_forwarding(&mut set, f);
        }
        put_meta(&mut set, a.meta_data.as_deref(), a.internal_data.as_deref());
        let r = self
            .coll
            .update_one(doc! { "_id": oid(a.id.0) }, doc! { "$set": set })
            .await
            .map_err(backend)?;
        Ok(r.matched_count > 0)
    }

    async fn list_all_addresses(&self) -> Result<Vec<Address>> {
        let docs: Vec<Document> = self
            .coll
            .find(doc! {})
            .sort(doc! { "addrview": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(docs.iter().filter_map(address_from).collect())
    }

    async fn delete_forwarded(&self, id: AddressId) -> Result<bool> {
        let r = self
            .coll
            .delete_one(doc! {
                "_id": oid(id.0),
                "user": { "$exists": false },
                "targets": { "$exists": true },
            })
            .await
            .map_err(backend)?;
        Ok(r.deleted_count > 0)
    }

    async fn register_correspondents(
        &self,
        user: UserId,
        entries: &[crate::model::RegisterEntry],
    ) -> Result<()> {
        super::forwarded::register(&self.register, user, entries).await
    }

    async fn search_register(
        &self,
        user: UserId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<crate::model::RegisterEntry>> {
        super::forwarded::search(&self.register, user, query, limit).await
    }

    async fn update_register_entry(
        &self,
        user: UserId,
        id: crate::model::ObjectId,
        disabled: bool,
        name: Option<&str>,
        now: crate::model::Timestamp,
    ) -> Result<bool> {
        super::forwarded::update_entry(&self.register, user, id, disabled, name, now).await
    }

    async fn delete_user_register(&self, user: UserId) -> Result<u64> {
        super::forwarded::delete_user(&self.register, user).await
    }
}
