//! Application-specific passwords (WildDuck `lib/api/asps.js`): list, get, create, delete under
//! `/users/:user/asps`. The generated password is shown once, in the create answer.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use wildduck_core::ErrorKind;
use wildduck_core::model::{Asp, UserId};
use wildduck_core::service::asps::{ASP_SCOPES, MAX_ASPS, NewAsp};

use super::users::load_user;
use super::{iso_date, ok};
use crate::ApiState;
use crate::error::{ApiError, ApiResult, USER_NF};
use crate::params::{Params, Validator};

fn asp_not_found() -> ApiError {
    ApiError::not_found("AspNotFound", "Invalid or unknown ASP key")
}

/// WildDuck lists `*` as every scope.
fn scopes_json(a: &Asp) -> Value {
    if a.scopes.iter().any(|s| s == "*") {
        json!(ASP_SCOPES)
    } else {
        json!(a.scopes)
    }
}

fn asp_json(a: &Asp) -> serde_json::Map<String, Value> {
    let mut o = serde_json::Map::new();
    o.insert("id".into(), json!(a.id.to_string()));
    o.insert("description".into(), json!(a.description));
    o.insert("scopes".into(), scopes_json(a));
    o.insert(
        "lastUse".into(),
        json!({
            "time": a.used.map(|t| json!(iso_date(t))).unwrap_or(json!(false)),
            "event": a.auth_event.map(|e| json!(e.to_string())).unwrap_or(json!(false)),
        }),
    );
    o.insert(
        "expires".into(),
        a.expires
            .map(|t| json!(iso_date(t)))
            .unwrap_or(json!(false)),
    );
    o.insert("created".into(), json!(iso_date(a.created)));
    o
}

fn log_ip(p: &Params) -> (Option<String>, Option<String>) {
    let get = |k: &str| {
        p.map
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    (get("sess"), get("ip"))
}

/// `GET /users/:user/asps` (`showAll` includes temporary passwords) →
/// `{"success": true, "results": [{id, description, scopes, lastUse, expires, created}]}`.
pub async fn list(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let show_all = v.opt_bool("showAll").unwrap_or(false);
    v.finish(true)?;
    let user = UserId(id.unwrap_or_default());
    load_user(&state, user).await?;
    let asps = state
        .services
        .list_asps(user, show_all)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    let results: Vec<Value> = asps.iter().map(|a| Value::Object(asp_json(a))).collect();
    Ok(ok(json!({ "success": true, "results": results })))
}

/// `GET /users/:user/asps/:asp` → one password's fields as in the listing.
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let asp = v.object_id("asp");
    v.finish(true)?;
    let user = UserId(id.unwrap_or_default());
    load_user(&state, user).await?;
    let a = state
        .services
        .get_asp(user, asp.unwrap_or_default())
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => asp_not_found(),
            _ => ApiError::from_core(e, USER_NF),
        })?;
    let mut o = asp_json(&a);
    o.insert("success".into(), json!(true));
    Ok(ok(Value::Object(o)))
}

/// `POST /users/:user/asps` (`description`, `scopes`, `password`, `ttl`, `address`,
/// `generateMobileconfig`) → `{"success": true, "id", "password"}`; the password is never shown
/// again. More than 50 passwords → 403 `TooMany`.
pub async fn create(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let description = v.str("description", 255);
    let scopes = v
        .opt_str_list("scopes", 16)
        .unwrap_or_else(|| vec!["*".into()]);
    if let Some(bad) = scopes
        .iter()
        .find(|s| *s != "*" && !ASP_SCOPES.contains(&s.as_str()))
    {
        v.reject(
            "scopes",
            &format!("\"scopes\" must be one of [imap, pop3, smtp, *], got {bad:?}"),
        );
    }
    let password = v.opt_str("password", 16);
    if let Some(pw) = &password
        && !(pw.len() == 16 && pw.bytes().all(|b| b.is_ascii_lowercase()))
    {
        v.reject(
            "password",
            "\"password\" with value fails to match the required pattern: /^[a-z]{16}$/",
        );
    }
    let ttl = v
        .opt_num("ttl", 0.0, 1e12)
        .map(|n| n as u64)
        .filter(|n| *n > 0);
    if v.opt_bool("generateMobileconfig").unwrap_or(false) {
        v.reject(
            "generateMobileconfig",
            "\"generateMobileconfig\" is not supported by this server",
        );
    }
    v.accept(&["address"]);
    v.finish(true)?;
    let user = UserId(id.unwrap_or_default());
    load_user(&state, user).await?;
    let (sess, ip) = log_ip(&p);
    let (asp, plain) = state
        .services
        .create_asp(
            user,
            NewAsp {
                description: description.unwrap_or_default(),
                scopes,
                password,
                ttl,
                sess,
                ip,
            },
        )
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::OverQuota => {
                let mut err = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "TooMany",
                    "Maximum application password limit reached",
                );
                let mut d = serde_json::Map::new();
                d.insert("allowed".into(), json!(MAX_ASPS));
                err.details = Some(d);
                err
            }
            _ => ApiError::from_core(e, USER_NF),
        })?;
    Ok(ok(json!({
        "success": true,
        "id": asp.id.to_string(),
        "password": plain,
    })))
}

/// `DELETE /users/:user/asps/:asp` → `{"success": true}`.
pub async fn delete(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let asp = v.object_id("asp");
    v.finish(true)?;
    let user = UserId(id.unwrap_or_default());
    load_user(&state, user).await?;
    let (sess, ip) = log_ip(&p);
    state
        .services
        .delete_asp(user, asp.unwrap_or_default(), sess, ip)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => asp_not_found(),
            _ => ApiError::from_core(e, USER_NF),
        })?;
    Ok(ok(json!({ "success": true })))
}
