//! WildDuck's `parsedHeader`: a header section as the object WildDuck keeps in
//! `mimeTree.parsedHeader` and answers in the API's `headers` (`includeHeaders`). The MongoDB
//! backend stores it; the API computes it from the stored header bytes, so both give one shape.

use serde_json::{Map, Value, json};

use super::bodystructure::parse_value_params;
use super::envelope::{EnvelopeAddress, parse_address_list};
use super::header;

/// The parsed header of `section`: lower-cased keys in header order; one value → a string with
/// folding collapsed, several → an array in header order; `content-type`/`content-disposition`
/// as `{value, type, subtype, params, hasParams}`; address fields as `[{name, address}]`
/// (groups `{name, group}`); single-valued fields keep the last value. A missing
/// `content-type` is `text/plain`, as WildDuck fills it in.
pub fn parsed_header(section: &[u8]) -> Map<String, Value> {
    let mut values: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for f in header::fields(section) {
        let key = f.lower_name().trim().to_owned();
        if key.is_empty()
            || key.len() >= 100
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
        {
            continue;
        }
        let value = f.value.trim_ascii().to_vec();
        match values.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(value),
            None => values.push((key, vec![value])),
        }
    }
    let mut out = Map::new();
    for (key, list) in values {
        let last = list.last().cloned().unwrap_or_default();
        let value = match key.as_str() {
            "content-type" | "content-disposition" => value_params(&last),
            "from" | "sender" | "reply-to" | "to" | "cc" | "bcc" => {
                let mut all = Vec::new();
                for v in &list {
                    all.extend(address_objects(&parse_address_list(v)));
                }
                Value::Array(all)
            }
            "in-reply-to"
            | "message-id"
            | "content-transfer-encoding"
            | "content-id"
            | "content-description"
            | "content-language"
            | "content-md5"
            | "content-location" => Value::String(collapse(&last)),
            _ if list.len() == 1 => Value::String(collapse(&last)),
            _ => Value::Array(
                list.iter()
                    .map(|v| Value::String(String::from_utf8_lossy(v).into_owned()))
                    .collect(),
            ),
        };
        out.insert(key, value);
    }
    if !out.contains_key("content-type") {
        out.insert("content-type".into(), value_params(b"text/plain"));
    }
    out
}

/// A value with folding collapsed to single spaces, as a UTF-8 string.
fn collapse(v: &[u8]) -> String {
    let unfolded = header::unfold(v);
    String::from_utf8_lossy(&unfolded).trim().to_owned()
}

fn value_params(v: &[u8]) -> Value {
    let unfolded = header::unfold(v);
    let value = unfolded
        .split(|&b| b == b';')
        .next()
        .map(|s| String::from_utf8_lossy(s.trim_ascii()).into_owned())
        .unwrap_or_default();
    let (kind, subtype) = match value.split_once('/') {
        Some((t, s)) => (t.to_ascii_lowercase(), s.to_owned()),
        None => (value.to_ascii_lowercase(), String::new()),
    };
    let (_, params) = parse_value_params(&unfolded);
    let mut p = Map::new();
    for (k, val) in &params {
        p.insert(
            String::from_utf8_lossy(k).to_ascii_lowercase(),
            Value::String(String::from_utf8_lossy(val).into_owned()),
        );
    }
    let mut o = json!({ "value": value, "type": kind, "subtype": subtype, "params": p });
    if !params.is_empty()
        && let Some(m) = o.as_object_mut()
    {
        m.insert("hasParams".into(), Value::Bool(true));
    }
    o
}

fn address_objects(list: &[EnvelopeAddress]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut group: Option<(String, Vec<Value>)> = None;
    let close = |out: &mut Vec<Value>, (name, members): (String, Vec<Value>)| {
        out.push(json!({ "name": name, "group": members }));
    };
    for a in list {
        if a.is_group_marker() {
            let prev = group.take();
            match a.mailbox.as_ref() {
                Some(name) => {
                    if let Some(g) = prev {
                        close(&mut out, g);
                    }
                    group = Some((String::from_utf8_lossy(name).into_owned(), Vec::new()));
                }
                None => {
                    if let Some(g) = prev {
                        close(&mut out, g);
                    }
                }
            }
            continue;
        }
        let mailbox = String::from_utf8_lossy(a.mailbox.as_deref().unwrap_or_default());
        let host = String::from_utf8_lossy(a.host.as_deref().unwrap_or_default());
        let address = if host.is_empty() {
            mailbox.into_owned()
        } else {
            format!("{mailbox}@{host}")
        };
        let name = a
            .name
            .as_deref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let entry = json!({ "address": address, "name": name });
        match group.as_mut() {
            Some((_, members)) => members.push(entry),
            None => out.push(entry),
        }
    }
    if let Some(g) = group {
        close(&mut out, g);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_as_wildduck() {
        let h = parsed_header(
            b"From: Ann <ann@example.com>\r\nTo: a@x.org, team: b@x.org;\r\n\
              X-Tag: one\r\nX-Tag: two\r\nSubject: folded\r\n  line\r\n\
              Content-Type: text/html; charset=UTF-8\r\n",
        );
        let keys: Vec<&str> = h.keys().map(String::as_str).collect();
        assert_eq!(keys, ["from", "to", "x-tag", "subject", "content-type"]);
        assert_eq!(
            h["from"],
            json!([{"address": "ann@example.com", "name": "Ann"}])
        );
        assert_eq!(
            h["to"],
            json!([{"address": "a@x.org", "name": ""},
                   {"name": "team", "group": [{"address": "b@x.org", "name": ""}]}])
        );
        assert_eq!(h["x-tag"], json!(["one", "two"]));
        // Unfolding removes the CRLF only (RFC 5322 §2.2.3).
        assert_eq!(h["subject"], "folded  line");
        assert_eq!(
            h["content-type"],
            json!({"value": "text/html", "type": "text", "subtype": "html",
                   "params": {"charset": "UTF-8"}, "hasParams": true})
        );
        assert_eq!(parsed_header(b"")["content-type"]["value"], "text/plain");
    }
}
