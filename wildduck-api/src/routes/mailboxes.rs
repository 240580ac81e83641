//! Mailboxes of a user: list (optionally with counters), create, get, update (rename,
//! subscribe), delete.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use wildduck_core::ErrorKind;
use wildduck_core::model::{Mailbox, MailboxId, UserId};
use wildduck_core::store::MailboxSettings;

use super::ok;
use crate::ApiState;
use crate::error::{ApiError, ApiResult, MAILBOX_NF};
use crate::params::{Params, Validator};
use crate::routes::users::load_user;

fn mailbox_json(m: &Mailbox) -> Value {
    let name = m.path.rsplit('/').next().unwrap_or(&m.path);
    let mut v = json!({
        "id": m.id.to_string(),
        "name": name,
        "path": m.path,
        "specialUse": m.special_use.map(|s| s.as_str()),
        "modifyIndex": m.modify_index.0,
        "subscribed": m.subscribed,
        "hidden": m.hidden,
        "encryptMessages": m.encrypt_messages,
    });
    if m.retention > 0
        && let Some(o) = v.as_object_mut()
    {
        o.insert("retention".into(), json!(m.retention));
    }
    v
}

/// WildDuck's listing order: INBOX, then INBOX children, then subscribed before unsubscribed,
/// then by path.
fn listing_order(a: &Mailbox, b: &Mailbox) -> std::cmp::Ordering {
    let rank = |m: &Mailbox| {
        (
            m.path != "INBOX",
            !m.path.starts_with("INBOX/"),
            !m.subscribed,
        )
    };
    rank(a).cmp(&rank(b)).then_with(|| a.path.cmp(&b.path))
}

/// `GET /users/:user/mailboxes` (`specialUse`, `showHidden`, `counters`, `sizes`).
pub async fn list(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let special_only = v.opt_bool("specialUse").unwrap_or(false);
    let show_hidden = v.opt_bool("showHidden").unwrap_or(false);
    let counters = v.opt_bool("counters").unwrap_or(false);
    let sizes = v.opt_bool("sizes").unwrap_or(false);
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let s = &state.services;
    let mut boxes = s
        .list_mailboxes(user.id, false)
        .await
        .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
    boxes.retain(|m| {
        (!special_only || m.path == "INBOX" || m.special_use.is_some())
            && (show_hidden || !m.hidden)
    });
    boxes.sort_by(listing_order);
    let mut results = Vec::with_capacity(boxes.len());
    for m in &boxes {
        let mut item = mailbox_json(m);
        if let Some(o) = item.as_object_mut() {
            if counters {
                let (total, unseen) = s
                    .message_counts(m)
                    .await
                    .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
                o.insert("total".into(), json!(total));
                o.insert("unseen".into(), json!(unseen));
            }
            if sizes {
                let metas = s
                    .fetch_meta(user.id, m, &Default::default())
                    .await
                    .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
                o.insert(
                    "size".into(),
                    json!(metas.iter().map(|x| x.size).sum::<u64>()),
                );
            }
        }
        results.push(item);
    }
    Ok(ok(json!({ "success": true, "results": results })))
}

/// `POST /users/:user/mailboxes` (`path`, `hidden`, `retention`, `encryptMessages`) →
/// `{"success": true, "id"}`.
pub async fn create(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let path = v.str("path", 128 * 128 + 127);
    if let Some(path) = &path
        && (path.contains("//") || path.ends_with('/'))
    {
        v.reject(
            "path",
            "\"path\" with value fails to match the inverted pattern",
        );
    }
    let settings = MailboxSettings {
        subscribed: None,
        hidden: v.opt_bool("hidden"),
        // WildDuck: a retention of 0 (or none) takes the user's.
        retention: v.opt_u64("retention").filter(|r| *r > 0),
        encrypt_messages: v.opt_bool("encryptMessages"),
    };
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let mb = state
        .services
        .create_mailbox_with(user.id, &path.unwrap_or_default(), settings)
        .await
        .map_err(map_mailbox_err)?;
    Ok(ok(json!({ "success": true, "id": mb.id.to_string() })))
}

fn map_mailbox_err(e: wildduck_core::Error) -> ApiError {
    match e.kind() {
        ErrorKind::AlreadyExists => ApiError::new(
            StatusCode::BAD_REQUEST,
            "MailboxExistsError",
            "Mailbox already exists",
        ),
        ErrorKind::Invalid => ApiError::new(
            StatusCode::BAD_REQUEST,
            "DisallowedMailboxMethod",
            e.message().to_string(),
        ),
        _ => ApiError::from_core(e, MAILBOX_NF),
    }
}

/// Resolves `:mailbox` (an id, or `resolve` with `?path=`) to one of the user's mailboxes.
pub(crate) async fn load_mailbox(
    state: &ApiState,
    user: UserId,
    mailbox: &str,
    path: Option<&str>,
) -> ApiResult<Mailbox> {
    let s = &state.services;
    let found = if mailbox == "resolve" {
        let path = path.ok_or_else(|| ApiError::invalid_field("path", "\"path\" is required"))?;
        s.find_mailbox(user, path).await
    } else {
        let id: MailboxId = mailbox
            .parse()
            .map_err(|_| ApiError::invalid_field("mailbox", "\"mailbox\" must be a valid id"))?;
        s.get_mailbox(user, id).await
    };
    found.map_err(|e| match e.kind() {
        ErrorKind::Invalid => ApiError::invalid_field("path", e.message().to_string()),
        _ => ApiError::from_core(e, MAILBOX_NF),
    })
}

/// Validates `:mailbox` as WildDuck's `mailboxId` or the word `resolve`.
fn mailbox_param(v: &mut Validator<'_>, p: &Params) -> Option<String> {
    let raw = p.map.get("mailbox").and_then(|m| m.as_str()).unwrap_or("");
    if raw == "resolve" {
        v.accept(&["mailbox"]);
        Some(raw.to_string())
    } else {
        v.object_id("mailbox").map(|id| id.to_string())
    }
}

/// `GET /users/:user/mailboxes/:mailbox` → mailbox info with `total` and `unseen`.
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let mailbox = mailbox_param(&mut v, &p);
    let path = v.opt_str("path", 128 * 128 + 127);
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let mb = load_mailbox(
        &state,
        user.id,
        &mailbox.unwrap_or_default(),
        path.as_deref(),
    )
    .await?;
    let (total, unseen) = state
        .services
        .message_counts(&mb)
        .await
        .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
    let mut body = mailbox_json(&mb);
    if let Some(o) = body.as_object_mut() {
        o.insert("success".into(), json!(true));
        o.insert("total".into(), json!(total));
        o.insert("unseen".into(), json!(unseen));
    }
    Ok(ok(body))
}

/// `PUT /users/:user/mailboxes/:mailbox` (`path` renames; `subscribed`, `retention`, `hidden`,
/// `encryptMessages`).
pub async fn update(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let mailbox = v.object_id("mailbox");
    let path = v.opt_str("path", 128 * 128 + 127);
    if let Some(path) = &path
        && (path.contains("//") || path.ends_with('/'))
    {
        v.reject(
            "path",
            "\"path\" with value fails to match the inverted pattern",
        );
    }
    let settings = MailboxSettings {
        subscribed: v.opt_bool("subscribed"),
        retention: v.opt_u64("retention"),
        hidden: v.opt_bool("hidden"),
        encrypt_messages: v.opt_bool("encryptMessages"),
    };
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let id = MailboxId(mailbox.unwrap_or_default());
    let s = &state.services;
    let mb = s
        .get_mailbox(user.id, id)
        .await
        .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
    if let Some(path) = path
        && path != mb.path
    {
        s.rename_mailbox(user.id, id, &path)
            .await
            .map_err(map_mailbox_err)?;
    }
    if settings != MailboxSettings::default() {
        s.update_mailbox_settings(user.id, id, &settings)
            .await
            .map_err(map_mailbox_err)?;
    }
    Ok(ok(json!({ "success": true })))
}

/// `DELETE /users/:user/mailboxes/:mailbox` (not INBOX or special-use: 400
/// `DisallowedMailboxMethod`).
pub async fn delete(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let mailbox = v.object_id("mailbox");
    v.finish(true)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    state
        .services
        .delete_mailbox(user.id, MailboxId(mailbox.unwrap_or_default()))
        .await
        .map_err(map_mailbox_err)?;
    Ok(ok(json!({ "success": true })))
}
