//! Forwarded addresses (`/addresses/forwarded`) and the domain rename (`/addresses/renameDomain`).

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use wildduck_core::ErrorKind;
use wildduck_core::model::{Address, AddressAutoreply, AddressId, Timestamp};
use wildduck_core::service::forwarded::{AutoreplyChange, ForwardedUpdate, NewForwarded};

use super::{iso_date, ok};
use crate::ApiState;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, Validator};

/// WildDuck's 404 for these routes.
const FORWARDED_NF: (&str, &str) = (
    "AddressNotFound",
    "Invalid or unknown email address identifier",
);

/// Largest `metaData` / `internalData` JSON text (WildDuck: 1 MiB), the core's limit.
const MAX_META: usize = wildduck_core::service::messages::MAX_META_DATA;

/// Joi's `email({ tlds: false })`, closely enough: one `@`, no white space, a local part of at
/// most 64 characters, a domain of at least two non-empty labels.
pub(crate) fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.chars().count() <= 64
        && !local.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.len() <= 255
        && domain.split('.').count() >= 2
        && domain.split('.').all(|l| {
            !l.is_empty() && !l.starts_with('-') && !l.ends_with('-') && !l.contains(['*', '@'])
        })
}

/// WildDuck's wildcard pattern: `*` in the local part (`*@d`, `ab*@d`, `*yz@d`) or `user@*`.
fn valid_wildcard(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if s.chars().any(char::is_whitespace) || domain.contains('@') || domain.is_empty() {
        return false;
    }
    (local.contains('*') && !domain.contains('*')) || (!local.is_empty() && domain == "*")
}

/// Joi's `uri({ scheme: [smtp, smtps, http, https] })`: the scheme, `//` and a host.
fn valid_target_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    matches!(
        scheme.to_ascii_lowercase().as_str(),
        "smtp" | "smtps" | "http" | "https"
    ) && rest
        .split(['/', '?', '#'])
        .next()
        .is_some_and(|host| !host.is_empty() && !host.chars().any(char::is_whitespace))
}

/// `targets`: an array of email addresses and URLs (Joi's per-item message otherwise).
fn read_targets(p: &Params, v: &mut Validator<'_>) -> Option<Vec<String>> {
    v.accept(&["targets"]);
    let raw = p.map.get("targets")?;
    let Value::Array(items) = raw else {
        v.reject("targets", "\"targets\" must be an array");
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ok = item
            .as_str()
            .map(str::trim)
            .filter(|s| valid_email(s) || valid_target_url(s));
        match ok {
            Some(s) => out.push(s.to_string()),
            None => {
                let f = format!("targets[{i}]");
                v.reject(
                    &f,
                    &format!("\"{f}\" does not match any of the allowed types"),
                );
                return None;
            }
        }
    }
    Some(out)
}

/// `metaData` / `internalData`: an object or the JSON text of one; stored as JSON text.
pub(crate) fn read_meta(p: &Params, v: &mut Validator<'_>, field: &'static str) -> Option<String> {
    v.accept(&[field]);
    let raw = p.map.get(field)?;
    let text = match raw {
        Value::Object(_) => raw.to_string(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(_)) => s.trim().to_string(),
            _ => {
                v.reject(field, &format!("\"{field}\" contains an invalid value"));
                return None;
            }
        },
        _ => {
            v.reject(field, &format!("\"{field}\" contains an invalid value"));
            return None;
        }
    };
    if text.len() > MAX_META {
        v.reject(
            field,
            &format!("\"{field}\" length must be less than or equal to {MAX_META} characters long"),
        );
        return None;
    }
    Some(text)
}

/// The `autoreply` object: `status` (default true), `start`/`end` (a date or `false`), `name`,
/// `subject`, `text`, `html`. A text given without html empties the html too, and the other
/// way round, as WildDuck does.
fn read_autoreply(p: &Params, v: &mut Validator<'_>) -> Option<AutoreplyChange> {
    v.accept(&["autoreply"]);
    let raw = p.map.get("autoreply")?;
    let Value::Object(o) = raw else {
        v.reject("autoreply", "\"autoreply\" must be of type object");
        return None;
    };
    let mut c = AutoreplyChange::default();
    let bad = |v: &mut Validator<'_>, k: &str, m: &str| {
        v.reject(&format!("autoreply.{k}"), &format!("\"autoreply.{k}\" {m}"));
    };
    for (k, val) in o {
        match k.as_str() {
            "status" => match val {
                Value::Bool(b) => c.status = *b,
                Value::String(s) if s.is_empty() => {}
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "y" | "on" | "1" => c.status = true,
                    "false" | "no" | "n" | "off" | "0" => c.status = false,
                    _ => bad(v, k, "must be a boolean"),
                },
                Value::Number(n) if n.as_i64() == Some(1) => c.status = true,
                Value::Number(n) if n.as_i64() == Some(0) => c.status = false,
                _ => bad(v, k, "must be a boolean"),
            },
            "start" | "end" => {
                let t = match val {
                    Value::Bool(false) => Some(None),
                    Value::String(s) if s.is_empty() => None,
                    Value::String(s) => match super::messages::parse_iso(s) {
                        Some(t) => Some(Some(t)),
                        None => {
                            bad(v, k, "must be a valid date");
                            None
                        }
                    },
                    Value::Number(n) => n.as_i64().map(|ms| Some(Timestamp(ms))),
                    _ => {
                        bad(v, k, "must be a valid date");
                        None
                    }
                };
                if k == "start" {
                    c.start = t;
                } else {
                    c.end = t;
                }
            }
            "name" | "subject" | "text" | "html" => {
                let max = match k.as_str() {
                    "name" => 128,
                    "subject" => 2 * 1024,
                    _ => 128 * 1024,
                };
                let Some(s) = val.as_str() else {
                    bad(v, k, "must be a string");
                    continue;
                };
                let s = s.trim().to_string();
                if s.chars().count() > max {
                    bad(
                        v,
                        k,
                        &format!("length must be less than or equal to {max} characters long"),
                    );
                    continue;
                }
                match k.as_str() {
                    "name" => c.name = Some(s),
                    "subject" => c.subject = Some(s),
                    "text" => c.text = Some(s),
                    _ => c.html = Some(s),
                }
            }
            _ => bad(v, k, "is not allowed"),
        }
    }
    // An emptied text empties the HTML too (and the other way round), unless both are given.
    if c.text.as_deref() == Some("") && c.html.is_none() {
        c.html = Some(String::new());
    }
    if c.html.as_deref() == Some("") && c.text.is_none() {
        c.text = Some(String::new());
    }
    Some(c)
}

/// The stored autoreply as WildDuck returns it (`{status: false}` when never set).
pub(crate) fn autoreply_json(a: &AddressAutoreply) -> Value {
    let mut o = Map::new();
    o.insert("status".into(), json!(a.status));
    let when = |t: Option<Timestamp>| t.map_or(json!(false), |t| json!(iso_date(t)));
    if a.start.is_some() || a.end.is_some() {
        o.insert("start".into(), when(a.start));
        o.insert("end".into(), when(a.end));
    }
    for (k, v) in [
        ("name", &a.name),
        ("subject", &a.subject),
        ("text", &a.text),
        ("html", &a.html),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    Value::Object(o)
}

/// WildDuck's `formatMetaData`: the stored JSON text as an object (`{}` when unreadable).
pub(crate) fn meta_json(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!({}))
}

/// The body of `GET /addresses/forwarded/:address`, or with `resolve` of a forwarded
/// `GET /addresses/resolve/:address` (an absent name is `""` there and `forwardedDisabled` is
/// left out, as WildDuck answers).
pub(crate) async fn forwarded_json(
    state: &ApiState,
    a: &Address,
    resolve: bool,
) -> ApiResult<Map<String, Value>> {
    let usage = state
        .services
        .forward_usage(a)
        .await
        .map_err(|e| ApiError::from_core(e, FORWARDED_NF))?;
    let f = a.forwarding.clone().unwrap_or_default();
    let mut o = Map::new();
    o.insert("success".into(), json!(true));
    o.insert("id".into(), json!(a.id.to_string()));
    match (&a.name, resolve) {
        (Some(n), _) => {
            o.insert("name".into(), json!(n));
        }
        (None, true) => {
            o.insert("name".into(), json!(""));
        }
        (None, false) => {}
    }
    o.insert("address".into(), json!(a.address));
    o.insert(
        "targets".into(),
        json!(
            f.targets
                .iter()
                .map(|t| t.value.clone())
                .collect::<Vec<_>>()
        ),
    );
    o.insert(
        "limits".into(),
        json!({ "forwards": {
            "allowed": usage.allowed,
            "used": usage.used,
            "ttl": usage.ttl.map_or(json!(false), |t| json!(t)),
        } }),
    );
    o.insert("autoreply".into(), autoreply_json(&f.autoreply));
    o.insert("tags".into(), json!(a.tags));
    if !resolve {
        o.insert("forwardedDisabled".into(), json!(f.disabled));
    }
    o.insert("created".into(), json!(iso_date(a.created)));
    if let Some(m) = &f.meta_data {
        o.insert("metaData".into(), meta_json(m));
    }
    if let Some(m) = &f.internal_data {
        o.insert("internalData".into(), meta_json(m));
    }
    Ok(o)
}

fn map_write_error(e: wildduck_core::Error, exists_message: &str) -> ApiError {
    match e.kind() {
        ErrorKind::Invalid if e.message().contains("special") => ApiError::new(
            StatusCode::BAD_REQUEST,
            "ChangeNotAllowed",
            "Can not change special address",
        ),
        _ => ApiError::from_core(e, FORWARDED_NF).exists_as("AddressExistsError", exists_message),
    }
}

/// `POST /addresses/forwarded` → `{"success": true, "id"}`.
pub async fn create(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let address = v.str("address", 255).map(|a| a.trim().to_string());
    let name = v.opt_str("name", 128).map(|n| n.trim().to_string());
    let targets = read_targets(&p, &mut v);
    let forwards = v.opt_u64("forwards");
    let allow_wildcard = v.opt_bool("allowWildcard").unwrap_or(false);
    let autoreply = read_autoreply(&p, &mut v);
    let tags = v.opt_str_list("tags", 128);
    let meta_data = read_meta(&p, &mut v, "metaData");
    let internal_data = read_meta(&p, &mut v, "internalData");
    if let Some(a) = &address
        && !valid_email(a)
        && !valid_wildcard(a)
    {
        v.reject(
            "address",
            "\"address\" does not match any of the allowed types",
        );
    }
    v.finish(true)?;
    let addr = state
        .services
        .create_forwarded(NewForwarded {
            address: address.unwrap_or_default(),
            name,
            targets: targets.unwrap_or_default(),
            forwards: forwards.unwrap_or(0),
            allow_wildcard,
            autoreply,
            tags,
            meta_data,
            internal_data,
        })
        .await
        .map_err(|e| map_write_error(e, "This email address already exists"))?;
    Ok(ok(json!({ "success": true, "id": addr.id.to_string() })))
}

fn read_id(v: &mut Validator<'_>, field: &'static str) -> AddressId {
    AddressId(v.object_id(field).unwrap_or_default())
}

/// `GET /addresses/forwarded/:address` → the address with its targets, forward counter
/// (`limits.forwards`), autoreply, tags and metadata.
pub async fn get(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = read_id(&mut v, "address");
    v.finish(true)?;
    let addr =
        state.services.get_forwarded(id).await.map_err(|e| {
            ApiError::from_core(e, ("AddressNotFound", "Invalid or unknown address"))
        })?;
    Ok(ok(Value::Object(
        forwarded_json(&state, &addr, false).await?,
    )))
}

/// `PUT /addresses/forwarded/:id` (`address`, `name`, `targets`, `forwards`,
/// `forwardedDisabled`, `autoreply`, `tags`, `metaData`, `internalData`) → `{"success": true}`.
pub async fn update(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    // WildDuck's path segment is `:id`; the router shares the `address` name with GET/DELETE,
    // so the path value wins the merge and a new address is read from the body itself.
    let id = read_id(&mut v, "address");
    let address = p.body_field("address");
    if let Some(a) = &address
        && a.chars().count() > 255
    {
        v.reject(
            "address",
            "\"address\" length must be less than or equal to 255 characters long",
        );
    }
    let name = v.opt_str("name", 128).map(|n| n.trim().to_string());
    let targets = read_targets(&p, &mut v);
    let forwards = v.opt_u64("forwards");
    let disabled = v.opt_bool("forwardedDisabled");
    let autoreply = read_autoreply(&p, &mut v);
    let tags = v.opt_str_list("tags", 128);
    let meta_data = read_meta(&p, &mut v, "metaData");
    let internal_data = read_meta(&p, &mut v, "internalData");
    if let Some(a) = &address
        && !valid_email(a)
        && !valid_wildcard(a)
    {
        v.reject("address", "\"address\" must be a valid email");
    }
    v.finish(true)?;
    state
        .services
        .update_forwarded(
            id,
            ForwardedUpdate {
                address,
                name,
                targets,
                forwards,
                disabled,
                autoreply,
                tags,
                meta_data,
                internal_data,
            },
        )
        .await
        .map_err(|e| map_write_error(e, "Address already exists"))?;
    Ok(ok(json!({ "success": true })))
}

/// `DELETE /addresses/forwarded/:address` → `{"success": true}`.
pub async fn delete(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let id = read_id(&mut v, "address");
    v.finish(true)?;
    state
        .services
        .delete_forwarded(id)
        .await
        .map_err(|e| ApiError::from_core(e, FORWARDED_NF))?;
    Ok(ok(json!({ "success": true })))
}

/// `PUT /addresses/renameDomain` (`oldDomain`, `newDomain`) → `{"success": true,
/// "modifiedAddresses", "modifiedUsers", "modifiedDkim", "modifiedAliases"}`. This port keeps no
/// DKIM keys and no domain aliases, so the last two are always 0.
pub async fn rename_domain(State(state): State<ApiState>, p: Params) -> ApiResult {
    let mut v = Validator::new(&p);
    let old = v.str("oldDomain", 255);
    let new = v.str("newDomain", 255);
    v.finish(true)?;
    let r = state
        .services
        .rename_domain(&old.unwrap_or_default(), &new.unwrap_or_default())
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Invalid => ApiError::invalid_field("oldDomain", e.message().to_string()),
            _ => ApiError::from_core(e, FORWARDED_NF),
        })?;
    Ok(ok(json!({
        "success": true,
        "modifiedAddresses": r.addresses,
        "modifiedUsers": r.users,
        "modifiedDkim": 0,
        "modifiedAliases": 0,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_and_target_shapes() {
        assert!(valid_email("a.b@example.com"));
        assert!(!valid_email("a@localhost"));
        assert!(!valid_email("a b@example.com"));
        assert!(valid_wildcard("*@example.com"));
        assert!(valid_wildcard("ab*@example.com"));
        assert!(valid_wildcard("user@*"));
        assert!(!valid_wildcard("user@example.com"));
        assert!(valid_target_url("smtp://mx.example.com:25"));
        assert!(valid_target_url("HTTPS://hook.example.com/x?y"));
        assert!(!valid_target_url("ftp://x.example.com"));
        assert!(!valid_target_url("http://"));
    }
}
