//! Users: create, get (with limits and quota usage), update, delete, quota reset.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use wildduck_core::model::{Timestamp, User, UserId, UserUpdate};
use wildduck_core::service::users::{NewUser, UserDeleteOptions};

use super::forwarded::{meta_json, read_meta};
use super::ok;
use crate::ApiState;
use crate::error::{ApiError, ApiResult, USER_NF};
use crate::params::{Params, Validator};

/// Fields WildDuck accepts on create/update that this port stores nowhere yet: accepted (so
/// WildDuck clients work) and ignored.
const ACCEPTED_USER_FIELDS: &[&str] = &[
    "targets",
    "spamLevel",
    "uploadSentMessages",
    "fromWhitelist",
    "pubKey",
    "encryptMessages",
    "encryptForwarded",
    "recipients",
    "forwards",
    "filters",
    "imapMaxUpload",
    "imapMaxDownload",
    "pop3MaxDownload",
    "pop3MaxMessages",
    "imapMaxConnections",
    "receivedMax",
    "featureFlags",
    "allowUnsafe",
    "requirePasswordChange",
    "mailboxes",
    "addTagsToAddress",
];

/// `POST /users` → `{"success": true, "id"}`.
pub async fn create(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let username = v.str("username", 128);
    let password = v.opt_str("password", 256);
    let hashed = v.opt_bool("hashedPassword").unwrap_or(false);
    let address = v.opt_str("address", 255);
    let name = v.opt_str("name", 256);
    let language = v.opt_str("language", 20);
    let quota = v.opt_u64("quota");
    let retention = v.opt_u64("retention");
    let tags = v.opt_str_list("tags", 128);
    let disabled_scopes = scopes(&mut v);
    let empty_address = v.opt_bool("emptyAddress").unwrap_or(false);
    let meta_data = read_meta(&p, &mut v, "metaData");
    let internal_data = read_meta(&p, &mut v, "internalData");
    v.accept(ACCEPTED_USER_FIELDS);
    v.finish(true)?;
    let username = username.unwrap_or_default();
    // WildDuck's user creation: no address with `emptyAddress`; without one, the username if it
    // is an address, else `<username>@<emailDomain or host name>`.
    let address = match (empty_address, address) {
        (true, _) => None,
        (false, Some(a)) => Some(a),
        (false, None) => state.services.default_user_address(&username).ok(),
    };
    let user = state
        .services
        .create_user(NewUser {
            username,
            password,
            hashed_password: hashed,
            address,
            name: name.unwrap_or_default(),
            language,
            quota: quota.unwrap_or(0),
            retention: retention.unwrap_or(0),
            tags: tags.unwrap_or_default(),
            meta_data,
            internal_data,
        })
        .await
        .map_err(|e| {
            ApiError::from_core(e, USER_NF)
                .exists_as("UserExistsError", "This username or address already exists")
        })?;
    if let Some(scopes) = disabled_scopes {
        let update = UserUpdate {
            disabled_scopes: Some(scopes),
            ..Default::default()
        };
        state
            .services
            .update_user(user.id, update, None)
            .await
            .map_err(|e| ApiError::from_core(e, USER_NF))?;
    }
    Ok(ok(json!({ "success": true, "id": user.id.to_string() })))
}

fn scopes(v: &mut Validator<'_>) -> Option<Vec<String>> {
    let list = v.opt_str_list("disabledScopes", 16)?;
    if let Some(bad) = list
        .iter()
        .find(|s| !matches!(s.as_str(), "imap" | "pop3" | "smtp"))
    {
        v.reject(
            "disabledScopes",
            &format!("\"disabledScopes\" must be one of [imap, pop3, smtp], got {bad:?}"),
        );
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for s in list {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Some(out)
}

/// Reads and checks `:user`, answering 404 `UserNotFound` when it does not exist.
pub(crate) async fn load_user(state: &ApiState, id: UserId) -> ApiResult<User> {
    state
        .services
        .get_user(id)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))
}

/// `GET /users/:user` → user info with `limits` (quota allowed/used and the daily limits).
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    v.finish(true)?;
    let user = load_user(&state, UserId(id.unwrap_or_default())).await?;
    Ok(ok(user_json(&state, &user)))
}

fn limit(value: Option<u64>, default: u64) -> u64 {
    value.filter(|v| *v > 0).unwrap_or(default)
}

fn user_json(state: &ApiState, u: &User) -> Value {
    let l = &u.limits;
    json!({
        "success": true,
        "id": u.id.to_string(),
        "username": u.username,
        "name": u.name,
        "address": u.address,
        "language": u.language,
        "retention": if u.retention > 0 { json!(u.retention) } else { json!(false) },
        "enabled2fa": [],
        "autoreply": false,
        "encryptMessages": false,
        "encryptForwarded": false,
        "targets": [],
        "limits": {
            "quota": { "allowed": state.services.quota_limit(u), "used": u.storage_used.max(0) },
            "recipients": { "allowed": limit(l.recipients, 2000), "used": 0, "ttl": false },
            "forwards": { "allowed": limit(l.forwards, 2000), "used": 0, "ttl": false },
            "received": { "allowed": limit(l.received_max, 60), "used": 0, "ttl": false },
            "imapUpload": { "allowed": limit(l.imap_max_upload, 10 * 1024 * 1024 * 1024), "used": 0, "ttl": false },
            "imapDownload": { "allowed": limit(l.imap_max_download, 10 * 1024 * 1024 * 1024), "used": 0, "ttl": false },
            "pop3Download": { "allowed": limit(l.pop3_max_download, 10 * 1024 * 1024 * 1024), "used": 0, "ttl": false },
            "pop3MaxMessages": { "allowed": limit(l.pop3_max_messages, 250) },
            "imapMaxConnections": { "allowed": limit(l.imap_max_connections, 15), "used": 0 },
        },
        "tags": u.tags,
        "fromWhitelist": [],
        "featureFlags": {},
        "disabledScopes": u.disabled_scopes,
        "hasPasswordSet": !u.password.is_empty(),
        "activated": u.activated,
        "disabled": u.disabled,
        "suspended": u.suspended,
        // WildDuck's `formatMetaData`: `{}` when never set. A user token's answer loses
        // `internalData` to its grant (auth::authorize).
        "metaData": u.meta_data.as_deref().map_or_else(|| json!({}), meta_json),
        "internalData": u.internal_data.as_deref().map_or_else(|| json!({}), meta_json),
    })
}

/// `PUT /users/:user` → `{"success": true}`.
pub async fn update(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let name = v.opt_str("name", 256);
    let password = v.opt_str("password", 256);
    let hashed = v.opt_bool("hashedPassword").unwrap_or(false);
    let existing = v.opt_str("existingPassword", 256);
    let address = v.opt_str("address", 255);
    let language = v.opt_str("language", 20);
    let quota = v.opt_u64("quota");
    let retention = v.opt_u64("retention");
    let tags = v.opt_str_list("tags", 128);
    let disabled_scopes = scopes(&mut v);
    let disabled = v.opt_bool("disabled");
    let suspended = v.opt_bool("suspended");
    // A user token's `internalData` never gets here: its grant hides the field (Params).
    let meta_data = read_meta(&p, &mut v, "metaData");
    let internal_data = read_meta(&p, &mut v, "internalData");
    v.accept(ACCEPTED_USER_FIELDS);
    v.accept(&["disable2fa"]);
    if hashed && password.is_some() {
        // Storing a foreign hash through update is not supported by the core yet.
        v.reject(
            "hashedPassword",
            "\"hashedPassword\" is not supported on update",
        );
    }
    v.finish(true)?;
    let id = UserId(id.unwrap_or_default());
    let user = load_user(&state, id).await?;
    if let Some(existing) = existing {
        // WildDuck checks the current password before changing it when one is given.
        if state
            .services
            .authenticate(&user.username, &existing)
            .await
            .is_err()
        {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "AuthFailed",
                "Password verification failed",
            ));
        }
    }
    let update = UserUpdate {
        name,
        password: None,
        address,
        language,
        quota,
        retention,
        tags,
        disabled_scopes,
        disabled,
        suspended,
        meta_data,
        internal_data,
    };
    state
        .services
        .update_user(id, update, password)
        .await
        .map_err(|e| {
            let mut err = ApiError::from_core(e, USER_NF);
            if err.code == "UserNotFound" && p.map.contains_key("address") {
                err = ApiError::not_found("AddressNotFound", "Invalid address");
            }
            err
        })?;
    Ok(ok(json!({ "success": true })))
}

/// An optional date parameter (ISO string or milliseconds; empty or `false` = none).
fn opt_date(v: &mut Validator<'_>, p: &Params, field: &'static str) -> Option<Timestamp> {
    let bad = |v: &mut Validator<'_>| v.reject(field, &format!("\"{field}\" must be a valid date"));
    match p.map.get(field) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::Number(n)) => {
            let t = n.as_i64().map(Timestamp);
            if t.is_none() {
                bad(v);
            }
            t
        }
        Some(Value::String(s)) => {
            let t = super::messages::parse_iso(s).or_else(|| s.parse::<i64>().ok().map(Timestamp));
            if t.is_none() {
                bad(v);
            }
            t
        }
        Some(_) => {
            bad(v);
            None
        }
    }
}

fn field(p: &Params, k: &str) -> Option<String> {
    p.map.get(k).and_then(Value::as_str).map(str::to_string)
}

/// `DELETE /users/:user` (`deleteAfter`): the account disappears now (login refused, addresses
/// released) and its data is purged by a `user-delete` task once `deleteAfter` passes (now
/// without it); until then `POST /users/:user/restore` brings it back →
/// `{"success": true, "code": "TaskScheduled", "user", "addresses": {"deleted"}, "deleteAfter",
/// "task"}`.
pub async fn delete(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let delete_after = opt_date(&mut v, &p, "deleteAfter");
    v.accept(&["deleteAfter"]);
    v.finish(true)?;
    let done = state
        .services
        .delete_user(
            UserId(id.unwrap_or_default()),
            UserDeleteOptions {
                delete_after,
                sess: field(&p, "sess"),
                ip: field(&p, "ip"),
            },
        )
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    Ok(ok(json!({
        "success": true,
        "code": "TaskScheduled",
        "user": done.user.to_string(),
        "addresses": { "deleted": done.addresses_deleted },
        "deleteAfter": super::iso_date(done.delete_after),
        "task": done.task.to_string(),
    })))
}

/// A deleted user's restore errors, with WildDuck's codes.
fn restore_error(e: wildduck_core::Error) -> ApiError {
    use wildduck_core::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => {
            ApiError::not_found("AccountNotFound", "Deleted account was not found")
        }
        ErrorKind::AlreadyExists => ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "AccountFound",
            "Account was already restored",
        ),
        ErrorKind::Conflict => ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "DeleteInProgress",
            "Deletion already in progress",
        ),
        _ => ApiError::from_core(e, USER_NF),
    }
}

/// `GET /users/:user/restore` → `{"success": true, "user", "username", "storageUsed", "tags",
/// "deleted", "recoverableAddresses", "deleteAfter"}` for a deleted user awaiting its purge
/// (`deleteAfter`, when the purge is due, is this port's addition).
pub async fn restore_info(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    v.finish(true)?;
    let info = state
        .services
        .deleted_user_info(UserId(id.unwrap_or_default()))
        .await
        .map_err(restore_error)?;
    let u = &info.snapshot.user;
    Ok(ok(json!({
        "success": true,
        "user": u.id.to_string(),
        "username": u.username,
        "storageUsed": u.storage_used.max(0),
        "tags": u.tags,
        "deleted": super::iso_date(info.snapshot.deleted),
        "recoverableAddresses": info.recoverable_addresses,
        "deleteAfter": info.delete_after.map(super::iso_date),
    })))
}

/// `POST /users/:user/restore`: cancels a pending deletion → `{"success": true, "code":
/// "TaskCancelled" (or "RequestProcessed" without a task), "user", "task", "addresses":
/// {"recovered", "main"}}`.
pub async fn restore(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    v.finish(true)?;
    let done = state
        .services
        .restore_user(
            UserId(id.unwrap_or_default()),
            field(&p, "sess"),
            field(&p, "ip"),
        )
        .await
        .map_err(restore_error)?;
    let mut addresses = json!({ "recovered": done.recovered.len() });
    if let (Some(m), Some(obj)) = (&done.main, addresses.as_object_mut()) {
        obj.insert("main".into(), json!(m));
    }
    let mut out = json!({
        "success": true,
        "code": if done.task.is_some() { "TaskCancelled" } else { "RequestProcessed" },
        "user": done.user.to_string(),
        "addresses": addresses,
    });
    if let (Some(t), Some(obj)) = (done.task, out.as_object_mut()) {
        obj.insert("task".into(), json!(t.to_string()));
    }
    Ok(ok(out))
}

/// `POST /users/:user/quota/reset` → `{"success": true, "storageUsed", "previousStorageUsed"}`.
pub async fn quota_reset(State(state): State<ApiState>, p: Params) -> Result<Response, ApiError> {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    v.finish(true)?;
    let id = UserId(id.unwrap_or_default());
    let before = load_user(&state, id).await?.storage_used;
    let now = state
        .services
        .recalculate_quota(id)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    Ok(ok(json!({
        "success": true,
        "storageUsed": now.max(0),
        "previousStorageUsed": before.max(0),
    })))
}

/// `POST /quota/reset` → `{"success": true, "task"}`: queues WildDuck's `quota` task, which
/// recomputes every user's `storageUsed` in the background.
pub async fn quota_reset_all(State(state): State<ApiState>, p: Params) -> ApiResult {
    Validator::new(&p).finish(true)?;
    let task = state
        .services
        .schedule_task(wildduck_core::service::tasks::QUOTA, None, json!({}), None)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    Ok(ok(json!({ "success": true, "task": task.to_string() })))
}

/// `POST /users/:user/password/reset` (`validAfter`): sets a temporary password (12 letters and
/// digits, usable for the master scope for 24 hours from `validAfter`, next to the account
/// password) → `{"success": true, "password", "validAfter"}`.
pub async fn password_reset(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let valid_after = match p.map.get("validAfter") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::Number(n)) => n.as_i64().map(wildduck_core::model::Timestamp),
        Some(Value::String(s)) => {
            let t = super::messages::parse_iso(s);
            if t.is_none() {
                v.reject("validAfter", "\"validAfter\" must be a valid date");
            }
            t
        }
        Some(_) => {
            v.reject("validAfter", "\"validAfter\" must be a valid date");
            None
        }
    };
    v.accept(&["validAfter"]);
    v.finish(true)?;
    let id = UserId(id.unwrap_or_default());
    load_user(&state, id).await?;
    let field = |k: &str| p.map.get(k).and_then(Value::as_str).map(str::to_string);
    let (password, valid_after) = state
        .services
        .reset_password(id, valid_after, field("sess"), field("ip"))
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    Ok(ok(json!({
        "success": true,
        "password": password,
        "validAfter": super::iso_date(valid_after),
    })))
}

/// Splits WildDuck's comma separated tag list: lower-cased, trimmed, de-duplicated across both
/// lists (a tag in `requiredTags` is not repeated in `tags`).
fn tag_list(raw: Option<String>, seen: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for t in raw.unwrap_or_default().split(',') {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !seen.contains(&t) {
            seen.push(t.clone());
            out.push(t);
        }
    }
    out
}

/// `GET /users` (`query`, `tags`, `requiredTags`, `limit`, `next`, `previous`, `page`) → paged
/// listing in id order.
pub async fn list(
    State(state): State<ApiState>,
    own_only: Option<axum::Extension<crate::auth::OwnOnly>>,
    p: Params,
) -> ApiResult {
    use wildduck_core::service::api_users::UserFilter;
    let mut v = Validator::new(&p);
    let query = v.opt_str("query", 255).map(|q| q.to_lowercase());
    let tags = v.opt_str("tags", 1024);
    let required = v.opt_str("requiredTags", 1024);
    v.opt_str("forward", 255);
    let with_meta = v.opt_bool("metaData").unwrap_or(false);
    let with_internal = v.opt_bool("internalData").unwrap_or(false);
    let page = crate::pagination::PageRequest::read(&mut v);
    v.finish(false)?;
    let mut seen = Vec::new();
    let all_tags = tag_list(required, &mut seen);
    let any_tags = tag_list(tags, &mut seen);
    let filter = UserFilter {
        query: query.clone(),
        any_tags,
        all_tags,
    };
    let mut users = state
        .services
        .list_users(&filter)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    // A user token lists only its own user (WildDuck `readOwn('userlisting')`).
    if let Some(axum::Extension(crate::auth::OwnOnly(me))) = own_only {
        users.retain(|u| u.id == me);
    }
    let mut body = crate::pagination::paginate(
        users,
        &page,
        true,
        |u| u.id.to_string(),
        |u| {
            let mut o = json!({
                "id": u.id.to_string(),
                "username": u.username,
                "name": u.name,
                "address": u.address,
                "tags": u.tags,
                "targets": [],
                "enabled2fa": [],
                "autoreply": false,
                "encryptMessages": false,
                "encryptForwarded": false,
                "quota": { "allowed": state.services.quota_limit(u), "used": u.storage_used.max(0) },
                "hasPasswordSet": !u.password.is_empty(),
                "activated": u.activated,
                "disabled": u.disabled,
                "suspended": u.suspended,
            });
            // Stored values on request only, as WildDuck's projection (user tokens never see
            // `internalData`: auth::authorize drops it from each result).
            if let Some(obj) = o.as_object_mut() {
                if let (true, Some(m)) = (with_meta, &u.meta_data) {
                    obj.insert("metaData".into(), meta_json(m));
                }
                if let (true, Some(m)) = (with_internal, &u.internal_data) {
                    obj.insert("internalData".into(), meta_json(m));
                }
            }
            o
        },
    );
    body.insert("query".into(), json!(query.unwrap_or_default()));
    Ok(ok(Value::Object(body)))
}

/// `GET /users/resolve/:username` (a username or one of the user's addresses) →
/// `{"success": true, "id"}`.
pub async fn resolve(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let username = v.str("username", 255);
    v.finish(true)?;
    let user = state
        .services
        .resolve_user(&username.unwrap_or_default())
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    Ok(ok(json!({ "success": true, "id": user.id.to_string() })))
}

/// `PUT /users/:user/logout` (`reason`): asks every IMAP session of the user (on every instance)
/// to close, by publishing WildDuck's `{command: "LOGOUT", reason}` payload on the notifier →
/// `{"success": true}`; `{"success": false}` when the services have no notifier (as WildDuck
/// answers without one).
pub async fn logout(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = v.object_id("user");
    let reason = v.opt_str("reason", 128);
    v.finish(true)?;
    let user = load_user(&state, UserId(id.unwrap_or_default())).await?;
    let Some(notifier) = state.services.notifier() else {
        return Ok(ok(json!({ "success": false })));
    };
    let payload = json!({
        "command": "LOGOUT",
        "reason": reason.unwrap_or_else(|| "Logout requested from API".into()),
    });
    notifier
        .publish(&user.id.to_string(), Some(payload))
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    Ok(ok(json!({ "success": true })))
}
