//! The correspondents register: `GET /users/:user/addressregister` (autocompletion) and
//! `PUT /users/:user/addressregister/:id` (disable or rename an entry).

use axum::extract::State;
use serde_json::{Map, Value, json};
use wildduck_core::model::UserId;

use super::ok;
use crate::ApiState;
use crate::error::{ApiError, ApiResult, USER_NF};
use crate::params::{Params, Validator};

/// `GET /users/:user/addressregister?query=…&limit=…` → `{"success": true, "results": [{id,
/// name, address}]}`: enabled entries whose address contains `query` or whose name starts with
/// it, most recently seen first.
pub async fn list(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let query = v.str("query", 255).map(|q| q.trim().to_string());
    let limit = v.opt_int("limit", 1, 250);
    if let Some(q) = &query
        && q.is_empty()
    {
        v.reject("query", "\"query\" is not allowed to be empty");
    }
    v.finish(true)?;
    let limit = limit.map_or(20, |l| l as usize);
    let entries = state
        .services
        .search_address_register(
            UserId(user.unwrap_or_default()),
            &query.unwrap_or_default(),
            limit,
        )
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    let results: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut o = Map::new();
            o.insert("id".into(), json!(e.id.to_string()));
            // WildDuck 1.51 leaves `name` out when there is none.
            if let Some(n) = &e.name {
                o.insert("name".into(), json!(n));
            }
            o.insert("address".into(), json!(e.address));
            Value::Object(o)
        })
        .collect();
    Ok(ok(json!({ "success": true, "results": results })))
}

/// `PUT /users/:user/addressregister/:id` (`disabled` required, `name`) → `{"success": bool}`:
/// `false` when the entry is not the user's (as WildDuck answers).
pub async fn update(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let id = v.object_id("id");
    let disabled = v.opt_bool("disabled");
    let name = v.opt_str("name", 255);
    if disabled.is_none() && !p.map.contains_key("disabled") {
        v.reject("disabled", "\"disabled\" is required");
    }
    v.finish(true)?;
    let found = state
        .services
        .update_address_register(
            UserId(user.unwrap_or_default()),
            id.unwrap_or_default(),
            disabled.unwrap_or(false),
            name.as_deref(),
        )
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    Ok(ok(json!({ "success": found })))
}
