//! The archive of deleted messages (WildDuck's `lib/api/messages.js` "Archive" routes): list,
//! restore one, restore a range of deletion times.

use axum::extract::State;
use serde_json::{Value, json};
use wildduck_core::model::{MailboxId, MessageId, Timestamp, UserId};

use super::ok;
use crate::ApiState;
use crate::error::{ApiError, ApiResult, MAILBOX_NF, MESSAGE_NF, USER_NF};
use crate::pagination::{PageRequest, paginate};
use crate::params::{Params, Validator};
use crate::routes::messages::{list_item, parse_iso};
use crate::routes::users::load_user;

/// A Joi `date()`: an ISO 8601 string or milliseconds since the epoch.
fn date_field(v: &mut Validator<'_>, p: &Params, field: &'static str) -> Option<Timestamp> {
    // Strict validation must know the field.
    v.accept(&[field]);
    let present = p.map.get(field).is_some_and(|x| !x.is_null());
    if !present {
        v.reject(field, &format!("\"{field}\" is required"));
        return None;
    }
    let parsed = match p.map.get(field) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Timestamp),
        Some(Value::String(s)) => {
            let t = s.trim();
            match t.parse::<i64>() {
                Ok(n) => Some(Timestamp(n)),
                Err(_) => parse_iso(t),
            }
        }
        _ => None,
    };
    if parsed.is_none() {
        v.reject(field, &format!("\"{field}\" must be a valid date"));
    }
    parsed
}

/// `GET /users/:user/archived/messages` (`limit`, `next`, `previous`, `page`, `order` asc|desc,
/// default desc: newest first) → WildDuck's paged listing; each item's `id` is the archive
/// entry's id (a 24-hex string, as WildDuck answers it) and `mailbox` the mailbox it was
/// deleted from.
pub async fn list(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let order = v.opt_str("order", 4);
    if let Some(o) = &order
        && o != "asc"
        && o != "desc"
    {
        v.reject("order", "\"order\" must be one of [asc, desc]");
    }
    v.opt_str("includeHeaders", 1024);
    let page = PageRequest::read(&mut v);
    v.finish(false)?;
    let user = UserId(user.unwrap_or_default());
    load_user(&state, user).await?;
    let s = &state.services;
    let mut all = s
        .list_archived(user)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    let ascending = order.as_deref() == Some("asc");
    if ascending {
        all.reverse();
    }
    // Cut the page on metadata, then load content for that page only.
    let cut = paginate(
        all,
        &page,
        ascending,
        |a| a.meta.id.to_string(),
        |a| json!(a.meta.id.to_string()),
    );
    let ids: Vec<MessageId> = cut
        .get("results")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(|s| s.parse().ok())
                .map(MessageId)
                .collect()
        })
        .unwrap_or_default();
    let loaded = s
        .fetch_archived(user, &ids)
        .await
        .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
    let results: Vec<Value> = ids
        .iter()
        .filter_map(|id| loaded.iter().find(|(a, _)| a.meta.id == *id))
        .map(|(a, f)| {
            let mut item = list_item(f);
            if let Some(o) = item.as_object_mut() {
                // WildDuck lists archived messages by their stored id (`m.uid = m._id`).
                o.insert("id".into(), json!(a.meta.id.to_string()));
            }
            item
        })
        .collect();
    let mut body = cut;
    body.insert("results".into(), Value::Array(results));
    Ok(ok(Value::Object(body)))
}

/// `POST /users/:user/archived/messages/:message/restore` (`mailbox` optional) →
/// `{success, mailbox, id}` with the mailbox it went into and its new UID.
pub async fn restore_one(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let message = v.object_id("message");
    let mailbox = v.opt_object_id("mailbox");
    v.finish(true)?;
    let user = UserId(user.unwrap_or_default());
    load_user(&state, user).await?;
    let restored = state
        .services
        .restore_archived(
            user,
            MessageId(message.unwrap_or_default()),
            mailbox.map(MailboxId),
        )
        .await
        .map_err(|e| {
            let nf = if e.message().contains("mailbox") {
                MAILBOX_NF
            } else {
                MESSAGE_NF
            };
            ApiError::from_core(e, nf)
        })?;
    Ok(ok(json!({
        "success": true,
        "mailbox": restored.mailbox.to_string(),
        "id": restored.uid.0,
    })))
}

/// `POST /users/:user/archived/restore` (`start`, `end`: dates) → `{success, task}`: queues
/// WildDuck's `restore` task, which the task runner carries out.
pub async fn restore_range(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let start = date_field(&mut v, &p, "start");
    let end = date_field(&mut v, &p, "end");
    v.finish(true)?;
    let user = UserId(user.unwrap_or_default());
    load_user(&state, user).await?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::invalid_field(
            "start",
            "\"start\" must be a valid date",
        ));
    };
    let task = state
        .services
        .schedule_archive_restore(user, start, end)
        .await
        .map_err(|e| ApiError::from_core(e, USER_NF))?;
    Ok(ok(json!({
        "success": true,
        "task": task.to_string(),
    })))
}
