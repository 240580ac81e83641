//! The authentication log (WildDuck `GET /users/:user/authlog`, `/authlog/:event`): login
//! attempts and account security events, newest first, paged.

use axum::extract::State;
use serde_json::{Map, Value, json};
use wildduck_core::ErrorKind;
use wildduck_core::model::{AuthEvent, AuthLogFilter, UserId};

use super::users::load_user;
use super::{iso_date, ok};
use crate::ApiState;
use crate::error::{ApiError, ApiResult, USER_NF};
use crate::params::{Params, Validator};

/// An entry with WildDuck's field names (`_id` → `id`, `user` left out).
fn event_json(e: &AuthEvent) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), json!(e.id.to_string()));
    o.insert("action".into(), json!(e.action));
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    };
    put("result", &e.result);
    put("protocol", &e.protocol);
    put("source", &e.source);
    put("aname", &e.aname);
    put("sess", &e.sess);
    put("ip", &e.ip);
    put("requiredScope", &e.required_scope);
    if let Some(a) = e.asp {
        o.insert("asp".into(), json!(a.to_string()));
    }
    if let Some(t) = e.temporary {
        o.insert("temporary".into(), json!(t));
    }
    o.insert("created".into(), json!(iso_date(e.created)));
    o.insert("last".into(), json!(iso_date(e.last)));
    o.insert("events".into(), json!(e.events));
    o.insert("expires".into(), json!(iso_date(e.expires)));
    o
}

/// `GET /users/:user/authlog` (`action`, `filterip`, `limit`, `next`, `previous`, `page`) →
/// paged entries, newest first.
pub async fn list(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let action = v
        .opt_str("action", 100)
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty());
    let ip = v.opt_str("filterip", 45);
    let page = crate::pagination::PageRequest::read(&mut v);
    v.finish(true)?;
    let user = UserId(id.unwrap_or_default());
    load_user(&state, user).await?;
    let filter = AuthLogFilter {
        action: action.clone(),
        ip,
    };
    let events = state
        .services
        .list_auth_events(user, &filter)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    let mut body = crate::pagination::paginate(
        events,
        &page,
        false,
        |e| e.id.to_string(),
        |e| Value::Object(event_json(e)),
    );
    body.insert("action".into(), json!(action.unwrap_or_default()));
    Ok(ok(Value::Object(body)))
}

/// `GET /users/:user/authlog/:event` → one entry; 404 `EventNotFound`.
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let event = v.object_id("event");
    v.finish(true)?;
    let user = UserId(id.unwrap_or_default());
    load_user(&state, user).await?;
    let e = state
        .services
        .get_auth_event(user, event.unwrap_or_default())
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => ApiError::not_found("EventNotFound", "Event was not found"),
            _ => ApiError::from_core(e, USER_NF),
        })?;
    let mut o = event_json(&e);
    o.insert("success".into(), json!(true));
    Ok(ok(Value::Object(o)))
}
