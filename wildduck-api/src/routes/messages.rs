//! Messages of a mailbox: list (paginated), get (parsed as WildDuck shapes it), raw
//! `message.eml`, decoded attachment download, update (flags, move), delete, upload.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use wildduck_core::ErrorKind;
use wildduck_core::message::envelope::EnvelopeAddress;
use wildduck_core::message::maildata::{AttachmentInfo, decode_words};
use wildduck_core::message::parsed_header::parsed_header;
use wildduck_core::message::tree::{BodyContent, MimeNode, NodeBody};
use wildduck_core::message::{StoredMessage, header as hdr};
use wildduck_core::model::{
    Flag, FlagOp, Flags, Mailbox, MailboxId, MessageMeta, ThreadId, Timestamp, Uid, UidSet, UserId,
};
use wildduck_core::service::listing::{PageCursor, PageSpec};
use wildduck_core::service::messages::{AppendRequest, FetchedMessage};
use wildduck_core::store::{FieldUpdate, MessageFilter};

use super::{iso_date, ok};
use crate::ApiState;
use crate::error::{ApiError, ApiResult, MAILBOX_NF, MESSAGE_NF};
use crate::pagination::{PageEdges, PageRequest, page_fields};
use crate::params::{Params, Validator};
use crate::routes::mailboxes::load_mailbox;
use crate::routes::users::load_user;

/// Validates `:user`, `:mailbox` (and `:message`, a UID, when `with_message`).
fn target(v: &mut Validator<'_>, with_message: bool) -> (UserId, MailboxId, Uid) {
    let user = v.object_id("user");
    let mailbox = v.object_id("mailbox");
    let uid = if with_message {
        v.opt_int("message", 1, i64::from(u32::MAX))
            .and_then(|n| u32::try_from(n).ok())
    } else {
        None
    };
    (
        UserId(user.unwrap_or_default()),
        MailboxId(mailbox.unwrap_or_default()),
        Uid(uid.unwrap_or(0)),
    )
}

/// After validation: the user and the mailbox must exist and be the user's.
async fn resolve(state: &ApiState, user: UserId, mailbox: MailboxId) -> ApiResult<Mailbox> {
    load_user(state, user).await?;
    load_mailbox(state, user, &mailbox.to_string(), None).await
}

fn addr_json(a: &EnvelopeAddress) -> Value {
    let name = a
        .name
        .as_deref()
        .map(|n| decode_words(&String::from_utf8_lossy(n)))
        .unwrap_or_default();
    let mailbox = a
        .mailbox
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let address = match a.host.as_deref() {
        Some(h) => format!("{mailbox}@{}", String::from_utf8_lossy(h)),
        None => mailbox.into_owned(),
    };
    json!({ "address": address, "name": name })
}

fn addr_list(list: &Option<Vec<EnvelopeAddress>>) -> Value {
    Value::Array(
        list.iter()
            .flatten()
            .filter(|a| !a.is_group_marker())
            .map(addr_json)
            .collect(),
    )
}

fn attachment_json(a: &AttachmentInfo, hash: Option<&str>) -> Value {
    let mut v = json!({
        "id": a.id,
        "filename": a.filename,
        "contentType": a.content_type,
        "disposition": a.disposition,
        "transferEncoding": a.transfer_encoding,
        "cid": a.cid,
        "related": a.related,
        "sizeKb": a.size_kb,
        "size": a.size,
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(h) = hash {
            o.insert("hash".into(), json!(h));
        }
        if let Some(fch) = &a.file_content_hash {
            o.insert("fileContentHash".into(), json!(fch));
        }
    }
    v
}

/// `attachment_id` → blob hash of the stored part.
fn attachment_hash<'a>(node: &'a MimeNode, id: &str) -> Option<&'a MimeNode> {
    match &node.body {
        NodeBody::Leaf(l) => match &l.content {
            BodyContent::Stored(r) if r.attachment_id == id => Some(node),
            _ => None,
        },
        NodeBody::Multipart(m) => m.parts.iter().find_map(|p| attachment_hash(&p.node, id)),
        NodeBody::Message(inner) => attachment_hash(inner, id),
    }
}

fn stored_hash(node: &MimeNode) -> Option<&str> {
    match &node.body {
        NodeBody::Leaf(l) => match &l.content {
            BodyContent::Stored(r) => Some(r.hash.as_str()),
            BodyContent::Inline(_) => None,
        },
        _ => None,
    }
}

fn content_type_json(m: &StoredMessage) -> Value {
    let Some(f) = hdr::first(&m.tree.header, "content-type") else {
        return Value::Null;
    };
    let raw = String::from_utf8_lossy(&f.unfolded()).into_owned();
    let mut parts = raw.split(';');
    let value = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let mut params = Map::new();
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            let v = v.trim().trim_matches('"');
            params.insert(k.trim().to_ascii_lowercase(), json!(v));
        }
    }
    let mut out = json!({ "value": value });
    if !params.is_empty()
        && let Some(o) = out.as_object_mut()
    {
        o.insert("params".into(), Value::Object(params));
    }
    out
}

fn references(m: &StoredMessage) -> Vec<String> {
    hdr::first(&m.tree.header, "references")
        .map(|f| {
            String::from_utf8_lossy(&f.unfolded())
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn flag_fields(o: &mut Map<String, Value>, flags: &Flags) {
    let forwarded = flags.contains(&Flag::Keyword("$Forwarded".into()));
    o.insert("seen".into(), json!(flags.contains(&Flag::Seen)));
    o.insert("deleted".into(), json!(flags.contains(&Flag::Deleted)));
    o.insert("flagged".into(), json!(flags.contains(&Flag::Flagged)));
    o.insert("draft".into(), json!(flags.contains(&Flag::Draft)));
    o.insert(
        "answered".into(),
        json!(flags.contains(&Flag::Answered) && !forwarded),
    );
    o.insert("forwarded".into(), json!(forwarded));
}

/// The fields a listing item and a full message share.
fn common_json(meta: &MessageMeta, m: &StoredMessage) -> Map<String, Value> {
    let env = &m.envelope;
    let from = env
        .from
        .iter()
        .flatten()
        .find(|a| !a.is_group_marker())
        .map(addr_json)
        .unwrap_or_else(|| json!({ "address": "", "name": "" }));
    let mut o = Map::new();
    o.insert("id".into(), json!(meta.uid.0));
    o.insert("mailbox".into(), json!(meta.mailbox.to_string()));
    o.insert("thread".into(), json!(meta.thread.map(|t| t.to_string())));
    o.insert("from".into(), from);
    o.insert("to".into(), addr_list(&env.to));
    o.insert("cc".into(), addr_list(&env.cc));
    o.insert("bcc".into(), addr_list(&env.bcc));
    o.insert("messageId".into(), json!(m.data.msgid));
    o.insert("subject".into(), json!(m.data.subject));
    o.insert("date".into(), json!(iso_date(meta.hdate)));
    o.insert("idate".into(), json!(iso_date(meta.idate)));
    o.insert("size".into(), json!(meta.size));
    flag_fields(&mut o, &meta.flags);
    o.insert("references".into(), json!(references(m)));
    o.insert("contentType".into(), content_type_json(m));
    o
}

pub(crate) fn list_item(f: &FetchedMessage) -> Value {
    let m = &f.message;
    let mut o = common_json(&f.meta, m);
    o.insert("intro".into(), json!(m.data.intro));
    o.insert("attachments".into(), json!(m.data.has_attachments));
    let list: Vec<Value> = m
        .data
        .attachments
        .iter()
        .map(|a| {
            let h = attachment_hash(&m.tree, &a.id).and_then(stored_hash);
            attachment_json(a, h)
        })
        .collect();
    o.insert("attachmentsList".into(), Value::Array(list));
    Value::Object(o)
}

/// What WildDuck's message listing and search add on request: `threadCounters` (each result
/// gets `threadMessageCount`, the user's messages in its thread, all mailboxes) and
/// `includeHeaders` (comma separated names: each result gets `headers` with those the message
/// has, shaped as WildDuck's `parsedHeader`).
#[derive(Debug, Default)]
pub(crate) struct ListExtras {
    thread_counters: bool,
    headers: Vec<String>,
}

impl ListExtras {
    pub(crate) fn read(v: &mut Validator<'_>) -> Self {
        let thread_counters = v.opt_bool("threadCounters").unwrap_or(false);
        let headers = v
            .opt_str("includeHeaders", 1024)
            .map(|s| {
                s.split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            thread_counters,
            headers,
        }
    }

    /// Adds the requested fields to `items`, the [`list_item`]s of `loaded` in the same order.
    /// Thread counters take one query for the whole page.
    pub(crate) async fn apply(
        &self,
        state: &ApiState,
        user: UserId,
        loaded: &[&FetchedMessage],
        items: &mut [Value],
    ) -> ApiResult<()> {
        let counts = if self.thread_counters {
            let threads: Vec<ThreadId> = loaded.iter().filter_map(|f| f.meta.thread).collect();
            state
                .services
                .thread_counts(user, &threads)
                .await
                .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?
        } else {
            Vec::new()
        };
        for (f, item) in loaded.iter().zip(items.iter_mut()) {
            let Some(o) = item.as_object_mut() else {
                continue;
            };
            if let Some((_, n)) = counts.iter().find(|(t, _)| Some(*t) == f.meta.thread) {
                o.insert("threadMessageCount".into(), json!(n));
            }
            if !self.headers.is_empty() {
                let mut parsed = parsed_header(&f.message.tree.header);
                let mut headers = Map::new();
                for h in &self.headers {
                    if let Some(v) = parsed.remove(h) {
                        headers.insert(h.clone(), v);
                    }
                }
                o.insert("headers".into(), Value::Object(headers));
            }
        }
        Ok(())
    }
}

/// A message's `metaData` as WildDuck's `formatMetaData` shows it: the stored object, `{}`
/// when there is none.
fn meta_data_json(meta: &[(Uid, String)], uid: Uid) -> Value {
    meta.iter()
        .find(|(u, _)| *u == uid)
        .map_or_else(|| json!({}), |(_, text)| super::forwarded::meta_json(text))
}

/// `GET /users/:user/mailboxes/:mailbox/messages` (`limit`, `next`, `previous`, `page`,
/// `order` asc|desc (default desc: newest first), `unseen`, `metaData`, `threadCounters`,
/// `includeHeaders`).
pub async fn list(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let (user, mb, _) = target(&mut v, false);
    let order = v.opt_str("order", 4);
    if let Some(o) = &order
        && o != "asc"
        && o != "desc"
    {
        v.reject("order", "\"order\" must be one of [asc, desc]");
    }
    let unseen_only = v.opt_bool("unseen").unwrap_or(false);
    let with_meta = v.opt_bool("metaData").unwrap_or(false);
    let extras = ListExtras::read(&mut v);
    let page = PageRequest::read(&mut v);
    v.finish(false)?;
    let mb = resolve(&state, user, mb).await?;
    let s = &state.services;
    // The page is cut by the store through the (mailbox, uid) index; only its messages are loaded.
    let key = |u: u32| format!("{u:010}");
    let parse_key = |k: &str| k.parse::<u32>().ok().map(Uid);
    let cursor = match (&page.next, &page.previous) {
        (Some(k), _) => parse_key(k).map(PageCursor::After),
        (None, Some(k)) => parse_key(k).map(PageCursor::Before),
        (None, None) => Some(PageCursor::First),
    }
    .ok_or_else(|| {
        let field = if page.next.is_some() {
            "next"
        } else {
            "previous"
        };
        ApiError::invalid_field(field, format!("\"{field}\" must be a valid cursor"))
    })?;
    let window = s
        .message_page(
            &mb,
            PageSpec {
                cursor,
                descending: order.as_deref() != Some("asc"),
                limit: page.limit,
                unseen_only,
            },
        )
        .await
        .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
    let (total, unseen) = s
        .message_counts(&mb)
        .await
        .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
    let mut set = UidSet::new();
    for u in &window.uids {
        set.insert(u.0);
    }
    let loaded = if set.is_empty() {
        Vec::new()
    } else {
        s.fetch_messages(user, &mb, &set)
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?
    };
    let meta: Vec<(Uid, String)> = if with_meta && !set.is_empty() {
        s.message_meta_data(user, &mb, &set)
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?
    } else {
        Vec::new()
    };
    // A message expunged between the two reads is left out, as if it had gone before.
    let page_messages: Vec<&FetchedMessage> = window
        .uids
        .iter()
        .filter_map(|u| loaded.iter().find(|f| f.meta.uid == *u))
        .collect();
    let mut results: Vec<Value> = page_messages
        .iter()
        .map(|f| {
            let mut item = list_item(f);
            if with_meta && let Some(o) = item.as_object_mut() {
                o.insert("metaData".into(), meta_data_json(&meta, f.meta.uid));
            }
            item
        })
        .collect();
    extras
        .apply(&state, user, &page_messages, &mut results)
        .await?;
    let cut = page_fields(
        if unseen_only { unseen } else { total },
        &page,
        PageEdges {
            has_previous: window.has_previous,
            has_next: window.has_next,
            first_key: window.uids.first().map(|u| key(u.0)),
            last_key: window.uids.last().map(|u| key(u.0)),
        },
        Vec::new(),
    );
    let mut body = cut;
    body.insert("results".into(), Value::Array(results));
    body.insert(
        "specialUse".into(),
        json!(mb.special_use.map(|x| x.as_str())),
    );
    Ok(ok(Value::Object(body)))
}

async fn one(
    state: &ApiState,
    p: &Params,
    extra: &[&'static str],
) -> ApiResult<(UserId, Mailbox, FetchedMessage)> {
    let mut v = Validator::new(p);
    let (user, mb, uid) = target(&mut v, true);
    v.accept(extra);
    v.finish(true)?;
    let mb = resolve(state, user, mb).await?;
    let f = state
        .services
        .get_message(user, mb.id, uid)
        .await
        .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
    Ok((user, mb, f))
}

/// `GET /users/:user/mailboxes/:mailbox/messages/:message` → the parsed message.
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let (user, mb, f) = one(&state, &p, &["markAsSeen", "replaceCidLinks", "sess", "ip"]).await?;
    let mut v = Validator::new(&p);
    let mark = v.opt_bool("markAsSeen").unwrap_or(false);
    let m = &f.message;
    let mut o = common_json(&f.meta, m);
    o.insert("user".into(), json!(user.to_string()));
    o.insert(
        "replyTo".into(),
        if m.envelope.reply_to.is_some() {
            addr_list(&m.envelope.reply_to)
        } else {
            Value::Null
        },
    );
    if let Some(r) = f.meta.rdate {
        o.insert("expires".into(), json!(iso_date(r)));
    }
    o.insert("html".into(), json!(m.data.html));
    o.insert(
        "text".into(),
        json!(format!("{}{}", m.data.text, m.data.text_footer)),
    );
    let atts: Vec<Value> = m
        .data
        .attachments
        .iter()
        .map(|a| {
            let h = attachment_hash(&m.tree, &a.id).and_then(stored_hash);
            attachment_json(a, h)
        })
        .collect();
    o.insert("attachments".into(), Value::Array(atts));
    let meta = state
        .services
        .message_meta_data(user, &mb, &UidSet::range(f.meta.uid.0, f.meta.uid.0))
        .await
        .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
    o.insert("metaData".into(), meta_data_json(&meta, f.meta.uid));
    if mark && !f.meta.flags.contains(&Flag::Seen) {
        let seen: Flags = [Flag::Seen].into_iter().collect();
        state
            .services
            .store_flags(
                user,
                &mb,
                &UidSet::range(f.meta.uid.0, f.meta.uid.0),
                &FlagOp::Add(seen),
                None,
                None,
            )
            .await
            .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
        o.insert("seen".into(), json!(true));
    }
    o.insert("success".into(), json!(true));
    Ok(ok(Value::Object(o)))
}

/// `GET …/messages/:message/message.eml` → the stored bytes exactly.
pub async fn raw(State(state): State<ApiState>, p: Params) -> ApiResult {
    let (_, _, f) = one(&state, &p, &[]).await?;
    let bytes = f.raw().map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], bytes).into_response())
}

/// `GET …/messages/:message/attachments/:attachment` → the decoded attachment.
pub async fn attachment(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let att = v.str("attachment", 100);
    if let Some(a) = &att
        && !(a.starts_with("ATT") && a.len() > 3 && a.bytes().skip(3).all(|b| b.is_ascii_digit()))
    {
        v.reject(
            "attachment",
            "\"attachment\" with value fails to match the required pattern: /^ATT\\d+$/i",
        );
    }
    v.accept(&["user", "mailbox", "message", "sendAsString"]);
    v.finish(true)?;
    let (_, _, f) = one(&state, &p, &["attachment", "sendAsString"]).await?;
    let att = att.unwrap_or_default();
    let nf = || ApiError::not_found("FileNotFound", "Attachment not found");
    let node = attachment_hash(&f.message.tree, &att).ok_or_else(nf)?;
    let NodeBody::Leaf(leaf) = &node.body else {
        return Err(nf());
    };
    let encoded = leaf
        .encoded(f.blobs())
        .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
    let decoded = match node.transfer_encoding.as_deref().map(str::trim) {
        Some("base64") => {
            wildduck_core::message::split::decode_base64_lenient(&encoded).unwrap_or_default()
        }
        Some("quoted-printable") => {
            wildduck_core::message::section::decode_quoted_printable(&encoded)
        }
        _ => encoded.into_owned(),
    };
    let ctype = f
        .message
        .data
        .attachments
        .iter()
        .find(|a| a.id == att)
        .map(|a| a.content_type.clone())
        .unwrap_or_else(|| node.content_type.clone());
    Ok(([(header::CONTENT_TYPE, ctype)], decoded).into_response())
}

/// Parses WildDuck's message selector: `5`, `1,2,3`, `3:15` or `3:*`.
pub(crate) fn parse_uid_selector(s: &str) -> Option<UidSet> {
    let num = |x: &str| {
        (!x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n > 0)
    };
    if let Some((a, b)) = s.split_once(':') {
        let a = num(a)?;
        let b = if b == "*" { u32::MAX } else { num(b)? };
        return Some(UidSet::range(a.min(b), a.max(b)));
    }
    let mut set = UidSet::new();
    for part in s.split(',') {
        set.insert(num(part)?);
    }
    Some(set)
}

/// `expires`: a date (ISO text or milliseconds) sets the expiry, `false` turns it off.
fn read_expires(p: &Params, v: &mut Validator<'_>) -> Option<Option<Timestamp>> {
    v.accept(&["expires"]);
    let bad = |v: &mut Validator<'_>| {
        v.reject("expires", "\"expires\" must be a valid date or false");
    };
    match p.map.get("expires")? {
        Value::Null => None,
        Value::Bool(false) => Some(None),
        Value::Number(n) => match n.as_i64() {
            Some(ms) => Some(Some(Timestamp(ms))),
            None => {
                bad(v);
                None
            }
        },
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => {
            let s = s.trim();
            if ["false", "no", "n", "off"].contains(&s.to_ascii_lowercase().as_str()) {
                return Some(None);
            }
            match parse_iso(s).or_else(|| s.parse::<i64>().ok().map(Timestamp)) {
                Some(t) => Some(Some(t)),
                None => {
                    bad(v);
                    None
                }
            }
        }
        _ => {
            bad(v);
            None
        }
    }
}

/// `PUT …/messages/:message` and `PUT …/messages` (`message` in the body): `seen`,
/// `flagged`, `deleted`, `draft`, `expires`, `metaData` and `moveTo` for one message or a UID
/// selector (`1,2,3`, `3:15`, `3:*`).
pub async fn update(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let (user, mb, _) = target(&mut v, false);
    let set = match v.str("message", 1024) {
        Some(sel) => match parse_uid_selector(&sel) {
            Some(set) => set,
            None => {
                v.reject(
                    "message",
                    "\"message\" with value fails to match the required pattern: /^\\d+(,\\d+)*$|^\\d+:(\\d+|\\*)$/i",
                );
                UidSet::new()
            }
        },
        None => UidSet::new(),
    };
    let move_to = v.opt_object_id("moveTo");
    let seen = v.opt_bool("seen");
    let flagged = v.opt_bool("flagged");
    let deleted = v.opt_bool("deleted");
    let draft = v.opt_bool("draft");
    let fields = FieldUpdate {
        expires: read_expires(&p, &mut v),
        meta_data: super::forwarded::read_meta(&p, &mut v, "metaData"),
    };
    v.finish(true)?;
    let mb = resolve(&state, user, mb).await?;
    let s = &state.services;
    let exists = s
        .fetch_meta(
            user,
            &mb,
            &MessageFilter {
                uids: Some(set.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
    if exists.is_empty() {
        return Err(ApiError::not_found(MESSAGE_NF.0, MESSAGE_NF.1));
    }
    let mut add = Flags::new();
    let mut remove = Flags::new();
    for (val, flag) in [
        (seen, Flag::Seen),
        (flagged, Flag::Flagged),
        (deleted, Flag::Deleted),
        (draft, Flag::Draft),
    ] {
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
    let mut updated = 0usize;
    for op in [FlagOp::Add(add), FlagOp::Remove(remove)] {
        let empty =
            matches!(&op, FlagOp::Add(f) | FlagOp::Remove(f) | FlagOp::Replace(f) if f.is_empty());
        if empty {
            continue;
        }
        let r = s
            .store_flags(user, &mb, &set, &op, None, None)
            .await
            .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
        updated = updated.max(r.changed.len());
    }
    if fields != FieldUpdate::default() {
        // Before a move, so the copies carry the new metadata (the expiry of a moved message
        // comes from its new mailbox's retention, as in WildDuck).
        let n = s
            .update_message_fields(user, &mb, &set, &fields)
            .await
            .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
        updated = updated.max(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(target) = move_to {
        let moved = s
            .move_messages(user, &mb, &set, MailboxId(target), None)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => {
                    ApiError::not_found("NoSuchMailbox", "Target mailbox does not exist")
                }
                _ => ApiError::from_core(e, MESSAGE_NF),
            })?;
        let ids: Vec<Value> = moved
            .uids
            .iter()
            .map(|c| json!([c.source.0, c.target.0]))
            .collect();
        return Ok(ok(json!({
            "success": true,
            "mailbox": target.to_string(),
            "id": ids,
        })));
    }
    Ok(ok(
        json!({ "success": true, "updated": updated.max(exists.len()) }),
    ))
}

/// `DELETE …/messages/:message` → `{"success": true}`.
pub async fn delete(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let (user, mb, uid) = target(&mut v, true);
    v.finish(true)?;
    let mb = resolve(&state, user, mb).await?;
    state
        .services
        .delete_message(user, mb.id, uid, None)
        .await
        .map_err(|e| ApiError::from_core(e, MESSAGE_NF))?;
    Ok(ok(json!({ "success": true })))
}

/// `POST …/messages`: raw RFC 822 (`Content-Type: message/rfc822` body, or `raw` in JSON) with
/// `unseen` (default false: stored `\Seen`), `flagged`, `draft`, `date`.
pub async fn upload(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let (user, mb, _) = target(&mut v, false);
    let unseen = v.opt_bool("unseen").unwrap_or(false);
    let flagged = v.opt_bool("flagged").unwrap_or(false);
    let draft = v.opt_bool("draft").unwrap_or(false);
    let date = v.opt_str("date", 64);
    let raw_field = v.opt_str("raw", wildduck_core::message::MAX_MESSAGE_SIZE);
    let idate = date.as_deref().and_then(|d| match parse_iso(d) {
        Some(t) => Some(t),
        None => {
            v.reject("date", "\"date\" must be a valid date");
            None
        }
    });
    let meta_data = super::forwarded::read_meta(&p, &mut v, "metaData");
    let replace = super::search::object_field(&mut v, &p, "replacePrevious").map(|sub| {
        super::search::nested(&mut v, "replacePrevious", &sub, |a| {
            let mailbox = a.opt_object_id("mailbox").map(MailboxId);
            let uid = a
                .opt_int("id", 1, i64::from(u32::MAX))
                .and_then(|n| u32::try_from(n).ok());
            if !sub.map.contains_key("id") {
                a.reject("id", "\"id\" is required");
            }
            (mailbox, uid)
        })
    });
    for f in ["files", "reference", "bimi"] {
        if p.map.contains_key(f) {
            v.reject(f, &format!("\"{f}\" is not supported yet"));
        }
    }
    let mut raw: Option<Vec<u8>> = raw_field
        .map(String::into_bytes)
        .or_else(|| p.raw_body.clone());
    // Without `raw`, the message is built from the structured fields (WildDuck: `raw`
    // overrides them when both are sent).
    let composed =
        (raw.is_none() && super::compose::requested(&p)).then(|| super::compose::read(&mut v, &p));
    v.accept(super::compose::FIELDS);
    if composed.is_none() && raw.as_ref().is_none_or(|r| r.is_empty()) {
        v.reject("raw", "\"raw\" is required");
    }
    v.finish(true)?;
    if let Some(c) = composed {
        let u = load_user(&state, user).await?;
        let built = c.build(&u, idate).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "ERRCOMPOSE",
                "Failed to compose the message",
            )
        })?;
        raw = Some(built);
    }
    let mb = resolve(&state, user, mb).await?;
    let mut flags = Flags::new();
    if !unseen {
        flags.insert(Flag::Seen);
    }
    if flagged {
        flags.insert(Flag::Flagged);
    }
    if draft {
        flags.insert(Flag::Draft);
    }
    let raw = raw.unwrap_or_default();
    let appended = state
        .services
        .append_with_meta_data(
            user,
            mb.id,
            AppendRequest {
                raw: &raw,
                flags,
                idate,
                session: None,
            },
            meta_data,
        )
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::TooBig => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "MessageTooLarge",
                "Message is too large",
            ),
            ErrorKind::OverQuota => ApiError::new(
                StatusCode::FORBIDDEN,
                "OverQuotaError",
                "User is over quota",
            ),
            _ => ApiError::from_core(e, MAILBOX_NF),
        })?;
    let mut body = json!({
        "success": true,
        "message": {
            "id": appended.uid.0,
            "mailbox": mb.id.to_string(),
            "size": appended.size,
        }
    });
    // WildDuck's draft workflow: the new version is stored, then the previous one deleted
    // (into the archive unless it is a draft); a failure is reported, not an error.
    if let Some((previous_mailbox, Some(uid))) = replace
        && let Some(o) = body.as_object_mut()
    {
        match state
            .services
            .delete_message(user, previous_mailbox.unwrap_or(mb.id), Uid(uid), None)
            .await
        {
            Ok(()) => {
                o.insert("previousDeleted".into(), json!(true));
            }
            Err(e) => {
                let why = match e.kind() {
                    ErrorKind::NotFound => "Message was not found".to_string(),
                    _ => e.message().to_string(),
                };
                o.insert(
                    "previousDeleteError".into(),
                    json!(format!("Failed to delete previous message. {why}")),
                );
            }
        }
    }
    Ok(ok(body))
}

/// Parses `YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z]` (UTC) as the API's date fields are sent.
pub(crate) fn parse_iso(s: &str) -> Option<Timestamp> {
    let s = s.trim().trim_end_matches('Z');
    let (d, t) = s.split_once('T').unwrap_or((s, "00:00:00"));
    let mut dp = d.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (dp.next()??, dp.next()??, dp.next()??);
    // Bounded fields keep the arithmetic below far from overflow.
    if !(0..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (hms, frac) = t.split_once('.').unwrap_or((t, "0"));
    let mut tp = hms.split(':').map(|x| x.parse::<i64>().ok());
    let h = tp.next()??;
    let mi = tp.next().unwrap_or(Some(0))?;
    let sec = tp.next().unwrap_or(Some(0))?;
    let ms: i64 = frac.get(..3.min(frac.len()))?.parse().ok()?;
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..=60).contains(&sec) || ms < 0 {
        return None;
    }
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(Timestamp(
        ((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms,
    ))
}

/// `DELETE …/messages` (clear a mailbox) → `{"success": true, "deleted", "errors"}`: the
/// messages present now are removed (`Services::clear_mailbox`), into the archive unless
/// `skipArchive`. With `async` the work is queued as a `clear-folder` task instead →
/// `{"success": true, "existing", "scheduled"}` (the task id; `existing` when one was queued).
pub async fn clear(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let (user, mb, _) = target(&mut v, false);
    let skip_archive = v.opt_bool("skipArchive").unwrap_or(false);
    let queue = v.opt_bool("async").unwrap_or(false);
    v.finish(true)?;
    let mb = resolve(&state, user, mb).await?;
    let s = &state.services;
    if queue {
        let t = s
            .schedule_clear_mailbox(user, &mb, !skip_archive)
            .await
            .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
        return Ok(ok(json!({
            "success": true,
            "existing": t.existing,
            "scheduled": t.task.to_string(),
        })));
    }
    let done = s
        .clear_mailbox(user, &mb, !skip_archive)
        .await
        .map_err(|e| ApiError::from_core(e, MAILBOX_NF))?;
    Ok(ok(json!({
        "success": true,
        "deleted": done.deleted,
        "errors": done.errors,
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_round_trip() {
        let t = super::parse_iso("2025-06-03T10:34:56.000Z");
        assert_eq!(
            t.map(super::iso_date).as_deref(),
            Some("2025-06-03T10:34:56.000Z")
        );
        assert!(super::parse_iso("2025-13-03").is_none());
        assert!(super::parse_iso("nonsense").is_none());
        assert!(super::parse_iso("999999999999999-01-01").is_none());
        assert!(super::parse_iso("2025-01-01T99:00:00").is_none());
        assert!(super::parse_iso("2025-01-01T10:-5").is_none());
    }
}
