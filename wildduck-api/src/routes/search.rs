//! `GET /users/:user/search` (a paged message listing across the user's mailboxes, or one) and
//! `POST /users/:user/search` (apply an action — move, `\Seen`, `\Flagged` — to every match).
//!
//! Criteria are either WildDuck's `q` language ([`super::search_query`]) or its structured
//! parameters (`mailbox`, `id`, `thread`, `query`, `from`, `to`, `subject`, `minSize`,
//! `maxSize`, `attachments`, `flagged`, `unseen`, `searchable`, `datestart`, `dateend`, `or`).
//! As in WildDuck, `q` replaces the structured parameters when both are given, and a structured
//! boolean that is false adds no condition.

use axum::extract::State;
use serde_json::{Map, Value, json};
use wildduck_core::model::{
    Flag, FlagOp, Flags, Mailbox, MailboxId, MessageMeta, ObjectId, SpecialUse, ThreadId,
    Timestamp, UidSet, UserId,
};
use wildduck_core::search::{SearchKey, SearchPlan};
use wildduck_core::store::MessageFilter;

use super::ok;
use super::search_query::{self, MailboxFacts, Query};
use crate::ApiState;
use crate::error::{ApiError, ApiResult, MAILBOX_NF};
use crate::pagination::{PageRequest, paginate};
use crate::params::{Params, Validator};
use crate::routes::messages::{ListExtras, list_item};
use crate::routes::users::load_user;

/// What to look for, read from the parameters.
struct Criteria {
    /// Only this mailbox (structured `mailbox`).
    mailbox: Option<MailboxId>,
    /// The condition tree.
    query: Query,
    /// Leave out `\Junk` and `\Trash` (`searchable`).
    skip_junk_trash: bool,
    /// Only messages without `\Deleted` (what WildDuck's `searchable` message field means; set by
    /// text conditions, `unseen` and `searchable`).
    undeleted_only: bool,
    /// Internal date bounds (`datestart`, `dateend`).
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    /// The `query` field of the answer.
    echo: String,
}

fn date(v: &mut Validator<'_>, field: &'static str) -> Option<Timestamp> {
    let d = v.opt_str(field, 64)?;
    let t = super::messages::parse_iso(&d);
    if t.is_none() {
        v.reject(field, &format!("\"{field}\" must be a valid date"));
    }
    t
}

/// Reads an object-valued field (`or`, `action`) as its own [`Params`], or records an error.
pub(crate) fn object_field(
    v: &mut Validator<'_>,
    p: &Params,
    field: &'static str,
) -> Option<Params> {
    v.accept(&[field]);
    match p.map.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(Params {
            map: o.clone(),
            ..Default::default()
        }),
        Some(Value::String(s)) if s.is_empty() => None,
        // A query string carries the object as its JSON text (Joi converts it the same way).
        Some(Value::String(s)) if s.trim_start().starts_with('{') => {
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(o)) => Some(Params {
                    map: o,
                    ..Default::default()
                }),
                _ => {
                    v.reject(field, &format!("\"{field}\" must be of type object"));
                    None
                }
            }
        }
        Some(_) => {
            v.reject(field, &format!("\"{field}\" must be of type object"));
            None
        }
    }
}

/// Checks a nested object with `check`, reporting its failures as `field.sub`.
pub(crate) fn nested<T>(
    v: &mut Validator<'_>,
    field: &str,
    sub: &Params,
    check: impl FnOnce(&mut Validator<'_>) -> T,
) -> T {
    let mut inner = Validator::new(sub);
    let out = check(&mut inner);
    if let Err(e) = inner.finish(true) {
        for (k, m) in e.details.unwrap_or_default() {
            let msg = m
                .as_str()
                .unwrap_or("invalid")
                .replace(&format!("\"{k}\""), &format!("\"{field}.{k}\""));
            v.reject(&format!("{field}.{k}"), &msg);
        }
    }
    out
}

fn read_criteria(v: &mut Validator<'_>, p: &Params) -> Criteria {
    let q = v
        .opt_str("q", 1024)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let mailbox = v.opt_object_id("mailbox").map(MailboxId);
    let id = v.opt_str("id", 1024);
    let thread = v.opt_object_id("thread").map(ThreadId);
    let text = v.opt_str("query", 255).map(|s| s.trim().to_string());
    let from = v.opt_str("from", 1024).map(|s| s.trim().to_string());
    let to = v.opt_str("to", 1024).map(|s| s.trim().to_string());
    let subject = v.opt_str("subject", 1024).map(|s| s.trim().to_string());
    let min_size = v.opt_u64("minSize");
    let max_size = v.opt_u64("maxSize");
    let attachments = v.opt_bool("attachments").unwrap_or(false);
    let flagged = v.opt_bool("flagged").unwrap_or(false);
    let unseen = v.opt_bool("unseen").unwrap_or(false);
    let searchable = v.opt_bool("searchable").unwrap_or(false);
    let start = date(v, "datestart");
    let end = date(v, "dateend");
    let or = object_field(v, p, "or").map(|sub| {
        nested(v, "or", &sub, |a| {
            (
                a.opt_str("query", 255),
                a.opt_str("from", 1024),
                a.opt_str("to", 1024),
                a.opt_str("subject", 1024),
            )
        })
    });
    let uids = id.as_deref().and_then(|s| {
        let set = super::messages::parse_uid_selector(s);
        if set.is_none() {
            v.reject(
                "id",
                "\"id\" with value fails to match the required pattern: /^\\d+(,\\d+)*$|^\\d+:(\\d+|\\*)$/i",
            );
        }
        set
    });
    if let Some(q) = q {
        let query = match search_query::parse(&q) {
            Ok(t) => t,
            Err(e) => {
                v.reject("q", &format!("\"q\" is not a valid search query: {e}"));
                Query::Ignored
            }
        };
        return Criteria {
            mailbox: None,
            undeleted_only: query.has_text(),
            query,
            skip_junk_trash: false,
            start: None,
            end: None,
            echo: q,
        };
    }
    let mut parts = Vec::new();
    let key = |k: SearchKey| Query::Key(k);
    let to_key = |t: &str| key(SearchKey::To(t.into()).or(SearchKey::Cc(t.into())));
    if let (Some(_), Some(set)) = (mailbox, uids) {
        parts.push(key(SearchKey::Uids(set)));
    }
    if let Some(t) = thread {
        parts.push(Query::Thread(t));
    }
    let has_text = text.as_deref().is_some_and(|t| !t.is_empty());
    if let Some(t) = text.as_deref().filter(|t| !t.is_empty()) {
        parts.push(key(SearchKey::Text(t.into())));
    }
    if let Some(f) = from.as_deref().filter(|t| !t.is_empty()) {
        parts.push(key(SearchKey::From(f.into())));
    }
    if let Some(t) = to.as_deref().filter(|t| !t.is_empty()) {
        parts.push(to_key(t));
    }
    if let Some(x) = subject.as_deref().filter(|t| !t.is_empty()) {
        parts.push(key(SearchKey::Subject(x.into())));
    }
    if let Some(n) = min_size.filter(|n| *n > 0) {
        parts.push(key(SearchKey::Larger(n - 1)));
    }
    if let Some(n) = max_size.filter(|n| *n > 0) {
        parts.push(key(SearchKey::Smaller(n.saturating_add(1))));
    }
    if attachments {
        parts.push(Query::HasAttachment);
    }
    if flagged {
        parts.push(key(SearchKey::Flagged));
    }
    if unseen {
        parts.push(key(SearchKey::Unseen));
    }
    let mut or_text = false;
    if let Some((oq, of, ot, os)) = or {
        let mut alts = Vec::new();
        // `or.query` only counts when `query` is absent (WildDuck's `$text` can appear once).
        if !has_text && let Some(t) = oq.filter(|t| !t.trim().is_empty()) {
            or_text = true;
            alts.push(key(SearchKey::Text(t.trim().into())));
        }
        if let Some(f) = of.filter(|t| !t.trim().is_empty()) {
            alts.push(key(SearchKey::From(f.trim().into())));
        }
        if let Some(t) = ot.filter(|t| !t.trim().is_empty()) {
            alts.push(to_key(t.trim()));
        }
        if let Some(s) = os.filter(|t| !t.trim().is_empty()) {
            alts.push(key(SearchKey::Subject(s.trim().into())));
        }
        if !alts.is_empty() {
            parts.push(Query::Or(alts));
        }
    }
    Criteria {
        mailbox,
        query: Query::And(parts),
        skip_junk_trash: searchable && mailbox.is_none(),
        undeleted_only: has_text || or_text || unseen || searchable,
        start,
        end,
        echo: text.unwrap_or_default(),
    }
}

/// The mailboxes searched and the matching messages' metadata.
async fn find(
    state: &ApiState,
    user: UserId,
    c: &Criteria,
) -> ApiResult<(Vec<Mailbox>, Vec<MessageMeta>)> {
    let s = &state.services;
    let all = s
        .list_mailboxes(user, false)
        .await
        .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
    let boxes: Vec<Mailbox> = match c.mailbox {
        Some(id) => vec![
            all.iter()
                .find(|m| m.id == id)
                .cloned()
                .ok_or_else(|| ApiError::not_found(MAILBOX_NF.0, MAILBOX_NF.1))?,
        ],
        None => all
            .iter()
            .filter(|m| {
                !(c.skip_junk_trash
                    && matches!(m.special_use, Some(SpecialUse::Junk | SpecialUse::Trash)))
            })
            .cloned()
            .collect(),
    };
    let resolved: Vec<(String, Option<MailboxId>)> = c
        .query
        .mailbox_names()
        .into_iter()
        .map(|n| (n.to_string(), search_query::resolve_in(n, &all)))
        .collect();
    let now = Timestamp::now();
    let mut found = Vec::new();
    for mb in &boxes {
        let facts = if c.query.needs_facts() {
            let metas = s
                .fetch_meta(user, mb, &MessageFilter::default())
                .await
                .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
            let mut f = MailboxFacts::default();
            for m in &metas {
                if m.has_attachments {
                    f.with_attachments.insert(m.uid.0);
                }
                if let Some(t) = m.thread {
                    f.threads.push((t, m.uid.0));
                }
            }
            f
        } else {
            MailboxFacts::default()
        };
        let mut key = c.query.lower(mb.id, &resolved, &facts);
        if c.undeleted_only {
            key = SearchKey::and([key, SearchKey::Undeleted]);
        }
        if matches!(key.plan(now), SearchPlan::Nothing) {
            continue;
        }
        let r = s
            .search(user, mb.id, &key)
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
                user,
                mb,
                &MessageFilter {
                    uids: Some(set),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
        found.extend(metas.into_iter().filter(|m| {
            c.start.is_none_or(|t| m.idate >= t) && c.end.is_none_or(|t| m.idate <= t)
        }));
    }
    Ok((boxes, found))
}

/// `GET /users/:user/search` → WildDuck's paged listing, newest first (`order` sorts by
/// internal date instead).
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let c = read_criteria(&mut v, &p);
    let extras = ListExtras::read(&mut v);
    let order = v.opt_str("order", 4);
    if let Some(o) = &order
        && o != "asc"
        && o != "desc"
    {
        v.reject("order", "\"order\" must be one of [asc, desc]");
    }
    let page = PageRequest::read(&mut v);
    v.finish(false)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let (boxes, mut found) = find(&state, user.id, &c).await?;
    let ascending = order.as_deref() == Some("asc");
    let key: fn(&MessageMeta) -> String = if order.is_some() {
        |m| format!("{:020}{}", m.idate.0.max(0), m.id)
    } else {
        |m| m.id.to_string()
    };
    found.sort_by_key(key);
    if !ascending {
        found.reverse();
    }
    let cut = paginate(found, &page, ascending, key, |m| {
        json!([m.mailbox.to_string(), m.uid.0])
    });
    let wanted: Vec<(String, u32)> = cut
        .get("results")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| Some((x.get(0)?.as_str()?.to_string(), x.get(1)?.as_u64()? as u32)))
                .collect()
        })
        .unwrap_or_default();
    let s = &state.services;
    let mut loaded = Vec::with_capacity(wanted.len());
    for (mbid, uid) in &wanted {
        let Some(mb) = boxes.iter().find(|b| &b.id.to_string() == mbid) else {
            continue;
        };
        loaded.extend(
            s.fetch_messages(user.id, mb, &UidSet::range(*uid, *uid))
                .await
                .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?,
        );
    }
    let page_messages: Vec<&_> = loaded.iter().collect();
    let mut results: Vec<Value> = loaded.iter().map(list_item).collect();
    extras
        .apply(&state, user.id, &page_messages, &mut results)
        .await?;
    let mut body = cut;
    body.insert("results".into(), Value::Array(results));
    body.insert("query".into(), json!(c.echo));
    Ok(ok(Value::Object(body)))
}

/// `POST /users/:user/search` with the criteria of `GET` and `action` (`moveTo`, `seen`,
/// `flagged`) → `{"success", "scheduled", "existing"}`. WildDuck queues a `search-apply` task;
/// here the action is applied before the answer (so it is done when the client reads it), and
/// `scheduled` is a fresh id that names this run.
pub async fn apply(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let user = v.object_id("user");
    let c = read_criteria(&mut v, &p);
    // WildDuck's schema has them here too; an action answers no listing.
    v.accept(&["includeHeaders", "threadCounters"]);
    let action = match object_field(&mut v, &p, "action") {
        Some(sub) => Some(nested(&mut v, "action", &sub, |a| {
            (
                a.opt_object_id("moveTo").map(MailboxId),
                a.opt_bool("seen"),
                a.opt_bool("flagged"),
            )
        })),
        None => {
            if !v_has(&p, "action") {
                v.reject("action", "\"action\" is required");
            }
            None
        }
    };
    v.finish(false)?;
    let user = load_user(&state, UserId(user.unwrap_or_default())).await?;
    let (move_to, seen, flagged) = action.unwrap_or((None, None, None));
    let s = &state.services;
    if let Some(target) = move_to {
        // WildDuck checks the target before touching anything.
        s.get_mailbox(user.id, target)
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
    }
    let (boxes, found) = find(&state, user.id, &c).await?;
    let mut add = Flags::new();
    let mut remove = Flags::new();
    for (val, flag) in [(seen, Flag::Seen), (flagged, Flag::Flagged)] {
        match val {
            Some(true) => {
                add.insert(flag);
            }
            Some(false) => {
                remove.insert(flag);
            }
            None => {}
        }
    }
    for mb in &boxes {
        let mut set = UidSet::new();
        for m in found.iter().filter(|m| m.mailbox == mb.id) {
            set.insert(m.uid.0);
        }
        if set.is_empty() {
            continue;
        }
        for op in [FlagOp::Add(add.clone()), FlagOp::Remove(remove.clone())] {
            if matches!(&op, FlagOp::Add(f) | FlagOp::Remove(f) if f.is_empty()) {
                continue;
            }
            s.store_flags(user.id, mb, &set, &op, None, None)
                .await
                .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
        }
        if let Some(target) = move_to
            && target != mb.id
        {
            s.move_messages(user.id, mb, &set, target, None)
                .await
                .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
        }
    }
    let mut body = Map::new();
    body.insert("success".into(), json!(true));
    body.insert("scheduled".into(), json!(ObjectId::new().to_string()));
    body.insert("existing".into(), json!(false));
    Ok(ok(Value::Object(body)))
}

/// Whether `field` was sent at all (an object field that failed its type check has an error
/// already).
fn v_has(p: &Params, field: &str) -> bool {
    p.map
        .get(field)
        .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
}
