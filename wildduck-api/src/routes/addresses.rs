//! Addresses of a user: add, list, get, set main, delete; and `GET /addresses/resolve/:address`.

use axum::extract::State;
use serde_json::{Value, json};
use wildduck_core::model::{Address, AddressId, UserId};

use super::{iso_date, ok};
use crate::ApiState;
use crate::error::{ADDRESS_NF, ApiError, ApiResult, USER_NF};
use crate::params::{Params, Validator};
use crate::routes::users::load_user;

fn address_json(a: &Address, main: Option<&str>) -> Value {
    json!({
        "id": a.id.to_string(),
        "name": a.name.clone().map(Value::String).unwrap_or(Value::Bool(false)),
        "address": a.address,
        "main": main == Some(a.address.as_str()),
        "tags": a.tags,
        "created": iso_date(a.created),
    })
}

/// `POST /users/:user/addresses` → `{"success": true, "id"}`.
pub async fn create(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let address = v.str("address", 255);
    let name = v.opt_str("name", 256);
    let main = v.opt_bool("main").unwrap_or(false);
    let allow_wildcard = v.opt_bool("allowWildcard").unwrap_or(false);
    v.accept(&["tags", "metaData", "internalData"]);
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
        .add_address(user, &address.unwrap_or_default(), name, main)
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
    v.accept(&["metaData", "internalData"]);
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let list = state
        .services
        .list_addresses(user.id)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    let results: Vec<Value> = list
        .iter()
        .map(|a| address_json(a, user.address.as_deref()))
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
    let mut body = address_json(&addr, user.address.as_deref());
    if let Some(o) = body.as_object_mut() {
        o.insert("success".into(), json!(true));
    }
    Ok(ok(body))
}

/// `PUT /users/:user/addresses/:id`: only `main: true` is supported by this port so far; other
/// WildDuck fields (rename, name, tags) are refused rather than silently ignored.
pub async fn update(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let main = v.opt_bool("main");
    v.accept(&["user", "address"]);
    if main == Some(false) {
        v.reject("main", "\"main\" can only be set to true");
    }
    v.finish(true)?;
    let (user, addr) = find(&state, &p, &["main"]).await?;
    if main == Some(true) {
        state
            .services
            .set_main_address(user.id, addr.id)
            .await
            .map_err(|e| ApiError::from_core(e, ADDRESS_NF))?;
    }
    Ok(ok(json!({ "success": true })))
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
    let nf = || ApiError::not_found(ADDRESS_NF.0, ADDRESS_NF.1);
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
            .backend()
            .addresses
            .get_address(id)
            .await
            .map_err(|e| ApiError::from_core(e, ADDRESS_NF))?
            .ok_or_else(nf)?
    };
    Ok(ok(json!({
        "success": true,
        "id": found.id.to_string(),
        "address": found.address,
        "user": found.user.map(|u| u.to_string()),
        "tags": found.tags,
        "created": iso_date(found.created),
    })))
}
