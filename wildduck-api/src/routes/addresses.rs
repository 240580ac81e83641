//! Addresses of a user: add, list, get, set main, delete; and `GET /addresses/resolve/:address`.

use axum::extract::State;
use serde_json::{Value, json};
use wildduck_core::model::{Address, AddressId, UserId};
use wildduck_core::service::addresses::{AddressUpdate, NewUserAddress};

use super::{iso_date, ok};
use crate::ApiState;
use crate::error::{ADDRESS_NF, ApiError, ApiResult, USER_NF};
use crate::pagination::{PageRequest, paginate};
use crate::params::{Params, Validator};
use crate::routes::users::load_user;

use super::forwarded::{meta_json, read_meta};

/// One of a user's addresses; `metaData` / `internalData` when stored and asked for (a user
/// token's answer loses `internalData` to its grant in auth::authorize).
fn address_json(a: &Address, main: Option<&str>, with_meta: bool, with_internal: bool) -> Value {
    let mut o = json!({
        "id": a.id.to_string(),
        "name": a.name.clone().map(Value::String).unwrap_or(Value::Bool(false)),
        "address": a.address,
        "main": main == Some(a.address.as_str()),
        "tags": a.tags,
        "created": iso_date(a.created),
    });
    if let Some(obj) = o.as_object_mut() {
        put_meta(obj, a, with_meta, with_internal);
    }
    o
}

/// Adds the stored `metaData` / `internalData` of a user's address (each when `with_*`).
fn put_meta(
    obj: &mut serde_json::Map<String, Value>,
    a: &Address,
    with_meta: bool,
    with_internal: bool,
) {
    if let (true, Some(m)) = (with_meta, &a.meta_data) {
        obj.insert("metaData".into(), meta_json(m));
    }
    if let (true, Some(m)) = (with_internal, &a.internal_data) {
        obj.insert("internalData".into(), meta_json(m));
    }
}

/// `POST /users/:user/addresses` → `{"success": true, "id"}`.
pub async fn create(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let address = v.str("address", 255);
    let name = v.opt_str("name", 256);
    let main = v.opt_bool("main").unwrap_or(false);
    let allow_wildcard = v.opt_bool("allowWildcard").unwrap_or(false);
    let tags = v.opt_str_list("tags", 1024);
    let meta_data = read_meta(&p, &mut v, "metaData");
    let internal_data = read_meta(&p, &mut v, "internalData");
    if let Some(a) = &address
        && a.contains('*')
        && !allow_wildcard
    {
        v.reject("address", "\"address\" must be a valid email");
    }
    v.finish(true)?;
    let user = UserId(user.unwrap_or_default());
    load_user(&state, user).await?;
    let addr = state
        .services
        .add_user_address(
            user,
            NewUserAddress {
                address: address.unwrap_or_default(),
                name,
                main,
                tags: tags.unwrap_or_default(),
                meta_data,
                internal_data,
            },
        )
        .await
        .map_err(|e| {
            ApiError::from_core(e, USER_NF)
                .exists_as("AddressExistsError", "This email address already exists")
        })?;
    Ok(ok(json!({ "success": true, "id": addr.id.to_string() })))
}

/// `GET /users/:user/addresses` → `{"success": true, "results": [...]}` sorted by address view.
pub async fn list(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let with_meta = v.opt_bool("metaData").unwrap_or(false);
    let with_internal = v.opt_bool("internalData").unwrap_or(false);
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let list = state
        .services
        .list_addresses(user.id)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    let results: Vec<Value> = list
        .iter()
        .map(|a| address_json(a, user.address.as_deref(), with_meta, with_internal))
        .collect();
    Ok(ok(json!({ "success": true, "results": results })))
}

async fn find(
    state: &ApiState,
    p: &Params,
    extra: &[&'static str],
) -> ApiResult<(wildduck_core::model::User, Address)> {
    let mut v = Validator::new(p);
    let user = v.object_id("user");
    let id = v.object_id("address");
    v.accept(extra);
    v.finish(true)?;
    let user = load_user(state, UserId(user.unwrap_or_default())).await?;
    let id = AddressId(id.unwrap_or_default());
    let list = state
        .services
        .list_addresses(user.id)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    let addr = list
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::not_found(ADDRESS_NF.0, ADDRESS_NF.1))?;
    Ok((user, addr))
}

/// `GET /users/:user/addresses/:address` → one address.
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let (user, addr) = find(&state, &p, &[]).await?;
    // WildDuck shows stored metadata here without being asked.
    let mut body = address_json(&addr, user.address.as_deref(), true, true);
    if let Some(o) = body.as_object_mut() {
        o.insert("success".into(), json!(true));
    }
    Ok(ok(body))
}

/// `PUT /users/:user/addresses/:id` (`address` to rename, `name`, `tags`, `main: true`) →
/// `{"success": true}`. Renaming the main address renames the user's main address too;
/// wildcard addresses cannot be renamed (400 `ChangeNotAllowed`) nor made main (400
/// `WildcardNotPermitted`); a taken address is 400 `AddressExistsError`.
pub async fn update(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let id = v.object_id("address");
    // WildDuck's path segment is `:id`; here it shares the `address` name with GET/DELETE, so
    // a new address is read from the body itself (the path value wins the merge).
    let main = v.opt_bool("main");
    let name = v.opt_str("name", 256);
    let tags = v.opt_str_list("tags", 1024);
    let meta_data = read_meta(&p, &mut v, "metaData");
    let internal_data = read_meta(&p, &mut v, "internalData");
    if main == Some(false) {
        v.reject("main", "Cannot unset main status");
    }
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let id = AddressId(id.unwrap_or_default());
    let rename = p.body_field("address");
    if let Some(r) = &rename
        && (r.chars().count() > 255 || !r.contains('@'))
    {
        return Err(ApiError::invalid_field(
            "address",
            "\"address\" must be a valid email",
        ));
    }
    state
        .services
        .update_address(
            user.id,
            id,
            AddressUpdate {
                address: rename.clone(),
                name,
                tags,
                main: main == Some(true),
                meta_data,
                internal_data,
            },
        )
        .await
        .map_err(|e| match e.kind() {
            wildduck_core::ErrorKind::Invalid if e.message().contains("special") => ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "ChangeNotAllowed",
                "Can not change special address",
            ),
            wildduck_core::ErrorKind::Invalid if e.message().contains("wildcard") => ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "WildcardNotPermitted",
                "Can not set wildcard address as default",
            ),
            wildduck_core::ErrorKind::Invalid => {
                ApiError::invalid_field("address", "\"address\" must be a valid email")
            }
            _ => ApiError::from_core(e, ADDRESS_NF)
                .exists_as("AddressExistsError", "Address already exists"),
        })?;
    Ok(ok(json!({ "success": true })))
}

/// `GET /addresses` (`query`, `tags`, `requiredTags`, paging) → WildDuck's paged listing of
/// every address: `id`, `name`, `address`, `user`, `forwarded`, `forwardedDisabled`, `tags`.
pub async fn list_all(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let query = v.opt_str("query", 255).map(|q| q.trim().to_string());
    let tags = v.opt_str_list("tags", 1024).unwrap_or_default();
    let required = v.opt_str_list("requiredTags", 1024).unwrap_or_default();
    let forward = v
        .opt_str("forward", 255)
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty());
    let with_meta = v.opt_bool("metaData").unwrap_or(false);
    let with_internal = v.opt_bool("internalData").unwrap_or(false);
    let page = PageRequest::read(&mut v);
    v.finish(false)?;
    let mut all = state
        .services
        .list_all_addresses(query.as_deref().filter(|q| !q.is_empty()), &tags, &required)
        .await
        .map_err(|e| ApiError::from_core(e, ADDRESS_NF))?;
    if let Some(f) = &forward {
        // WildDuck's `targets.value` regex: a case-sensitive substring of any target.
        all.retain(|a| {
            a.forwarding
                .as_ref()
                .is_some_and(|fw| fw.targets.iter().any(|t| t.value.contains(f.as_str())))
        });
    }
    // Newest first, by id (WildDuck's default paging order).
    all.sort_by_key(|a| std::cmp::Reverse(a.id.to_string()));
    let mut body = paginate(
        all,
        &page,
        false,
        |a| a.id.to_string(),
        |a| {
            let mut o = json!({
                "id": a.id.to_string(),
                "name": a.name.clone().map(Value::String).unwrap_or(Value::Bool(false)),
                "address": a.address,
                "forwarded": a.forwarding.is_some(),
                "forwardedDisabled": a.forwarding.as_ref().is_some_and(|f| f.disabled),
                "tags": a.tags,
            });
            if let Some(obj) = o.as_object_mut() {
                // WildDuck leaves `user` out of forwarded addresses and `targets` out of users'.
                if let Some(u) = a.user {
                    obj.insert("user".into(), json!(u.to_string()));
                }
                if let Some(f) = &a.forwarding {
                    let t: Vec<&str> = f.targets.iter().map(|t| t.value.as_str()).collect();
                    obj.insert("targets".into(), json!(t));
                    // Stored metadata on request.
                    if let (true, Some(m)) = (with_meta, &f.meta_data) {
                        obj.insert("metaData".into(), meta_json(m));
                    }
                    if let (true, Some(m)) = (with_internal, &f.internal_data) {
                        obj.insert("internalData".into(), meta_json(m));
                    }
                }
                put_meta(obj, a, with_meta, with_internal);
            }
            o
        },
    );
    body.insert("query".into(), json!(query.unwrap_or_default()));
    Ok(ok(Value::Object(body)))
}

/// `DELETE /users/:user/addresses/:address`; the main address cannot be deleted (400
/// `NotPermitted`).
pub async fn delete(State(state): State<ApiState>, p: Params) -> ApiResult {
    let (user, addr) = find(&state, &p, &[]).await?;
    if user.address.as_deref() == Some(addr.address.as_str()) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "NotPermitted",
            "Trying to delete main address. Set a new main address first",
        ));
    }
    state
        .services
        .delete_address(user.id, addr.id)
        .await
        .map_err(|e| ApiError::from_core(e, ADDRESS_NF))?;
    Ok(ok(json!({ "success": true })))
}

/// `GET /addresses/resolve/:address` (an address or an address id; `allowWildcard` enables
/// catch-all resolution) → `{"success": true, "id", "address", "user", ...}`.
pub async fn resolve(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let address = v.str("address", 255);
    let wildcard = v.opt_bool("allowWildcard").unwrap_or(false);
    v.finish(true)?;
    let address = address.unwrap_or_default();
    let found = if address.contains('@') {
        state
            .services
            .resolve_address(&address, wildcard)
            .await
            .map_err(|e| match e.kind() {
                wildduck_core::ErrorKind::Invalid => {
                    ApiError::invalid_field("address", "\"address\" must be a valid email")
                }
                _ => ApiError::from_core(e, ADDRESS_NF),
            })?
    } else {
        let id: AddressId = address.parse().map_err(|_| {
            ApiError::invalid_field("address", "\"address\" must be a valid email or id")
        })?;
        state
            .services
            .address_by_id(id)
            .await
            .map_err(|e| ApiError::from_core(e, ADDRESS_NF))?
    };
    if found.user.is_none() && found.forwarding.is_some() {
        // A forwarded address: its targets, forward counter and autoreply.
        return Ok(ok(Value::Object(
            super::forwarded::forwarded_json(&state, &found, true).await?,
        )));
    }
    let mut body = json!({
        "success": true,
        "id": found.id.to_string(),
        "address": found.address,
        "user": found.user.map(|u| u.to_string()),
        "tags": found.tags,
        "created": iso_date(found.created),
    });
    if let Some(obj) = body.as_object_mut() {
        // As WildDuck: stored metadata of a user's address, unasked.
        put_meta(obj, &found, true, true);
    }
    Ok(ok(body))
}
