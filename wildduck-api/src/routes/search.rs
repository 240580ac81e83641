//! `GET /users/:user/search`: structured search across the user's mailboxes (or one), as a
//! paged message listing. The `q` query language is not implemented yet (400).

use axum::extract::State;
use serde_json::{Value, json};
use wildduck_core::model::{MailboxId, MessageMeta, UidSet, UserId};
use wildduck_core::search::SearchKey;
use wildduck_core::store::MessageFilter;

use super::ok;
use crate::ApiState;
use crate::error::{ApiError, ApiResult, MAILBOX_NF};
use crate::pagination::{PageRequest, paginate};
use crate::params::{Params, Validator};
use crate::routes::messages::list_item;
use crate::routes::users::load_user;

/// `GET /users/:user/search` (`mailbox`, `query`, `from`, `to`, `subject`, `minSize`,
/// `maxSize`, `attachments`, `flagged`, `unseen`, `datestart`, `dateend`, paging) → newest first.
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let mailbox = v.opt_object_id("mailbox");
    let text = v.opt_str("query", 255);
    let from = v.opt_str("from", 255);
    let to = v.opt_str("to", 255);
    let subject = v.opt_str("subject", 255);
    let min_size = v.opt_u64("minSize");
    let max_size = v.opt_u64("maxSize");
    let attachments = v.opt_bool("attachments");
    let flagged = v.opt_bool("flagged");
    let unseen = v.opt_bool("unseen");
    let datestart = v.opt_str("datestart", 64);
    let dateend = v.opt_str("dateend", 64);
    let start = datestart.as_deref().and_then(|d| {
        let t = super::messages::parse_iso(d);
        if t.is_none() {
            v.reject("datestart", "\"datestart\" must be a valid date");
        }
        t
    });
    let end = dateend.as_deref().and_then(|d| {
        let t = super::messages::parse_iso(d);
        if t.is_none() {
            v.reject("dateend", "\"dateend\" must be a valid date");
        }
        t
    });
    if p.map.contains_key("q") {
        v.reject(
            "q",
            "\"q\" (the search query language) is not supported yet",
        );
    }
    let page = PageRequest::read(&mut v);
    v.finish(false)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let s = &state.services;
    let mut keys = Vec::new();
    if let Some(t) = &text {
        keys.push(SearchKey::Text(t.clone()));
    }
    if let Some(f) = &from {
        keys.push(SearchKey::From(f.clone()));
    }
    if let Some(t) = &to {
        // WildDuck's `to` matches To and Cc.
        keys.push(SearchKey::To(t.clone()).or(SearchKey::Cc(t.clone())));
    }
    if let Some(x) = &subject {
        keys.push(SearchKey::Subject(x.clone()));
    }
    if let Some(n) = min_size {
        keys.push(SearchKey::Larger(n.saturating_sub(1)));
    }
    if let Some(n) = max_size {
        keys.push(SearchKey::Smaller(n.saturating_add(1)));
    }
    match flagged {
        Some(true) => keys.push(SearchKey::Flagged),
        Some(false) => keys.push(SearchKey::Unflagged),
        None => {}
    }
    match unseen {
        Some(true) => keys.push(SearchKey::Unseen),
        Some(false) => keys.push(SearchKey::Seen),
        None => {}
    }
    let key = if keys.is_empty() {
        SearchKey::All
    } else {
        SearchKey::and(keys)
    };
    let boxes = match mailbox {
        Some(id) => vec![
            s.get_mailbox(user.id, MailboxId(id))
                .await
                .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?,
        ],
        None => s
            .list_mailboxes(user.id, false)
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?,
    };
    let mut found: Vec<MessageMeta> = Vec::new();
    for mb in &boxes {
        let r = s
            .search(user.id, mb.id, &key)
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
        if r.uids.is_empty() {
            continue;
        }
        let mut set = UidSet::new();
        for u in &r.uids {
            set.insert(u.0);
        }
        let metas = s
            .fetch_meta(
                user.id,
                mb,
                &MessageFilter {
                    uids: Some(set),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
        found.extend(metas.into_iter().filter(|m| {
            attachments.is_none_or(|a| m.has_attachments == a)
                && start.is_none_or(|t| m.idate >= t)
                && end.is_none_or(|t| m.idate <= t)
        }));
    }
    // Newest first by message id (ids sort by creation time).
    found.sort_by_key(|m| std::cmp::Reverse(m.id.to_string()));
    let cut = paginate(
        found,
        &page,
        false,
        |m| m.id.to_string(),
        |m| json!([m.mailbox.to_string(), m.uid.0]),
    );
    let wanted: Vec<(String, u32)> = cut
        .get("results")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| Some((x.get(0)?.as_str()?.to_string(), x.get(1)?.as_u64()? as u32)))
                .collect()
        })
        .unwrap_or_default();
    let mut results = Vec::with_capacity(wanted.len());
    for (mbid, uid) in &wanted {
        let Some(mb) = boxes.iter().find(|b| &b.id.to_string() == mbid) else {
            continue;
        };
        let loaded = s
            .fetch_messages(user.id, mb, &UidSet::range(*uid, *uid))
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
        results.extend(loaded.iter().map(list_item));
    }
    let mut body = cut;
    body.insert("results".into(), Value::Array(results));
    body.insert("query".into(), json!(text.unwrap_or_default()));
    Ok(ok(Value::Object(body)))
}
