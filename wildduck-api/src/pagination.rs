//! WildDuck's cursor pagination (`limit` 1..250 default 20, `next`, `previous`, `page`; answers with
//! `total`, `page`, `previousCursor`, `nextCursor`, `results`).
//!
//! A cursor is opaque to clients: here it is base64url of the sort key of the item next to the
//! page edge (`n<key>` for "after this", `p<key>` for "before this"). WildDuck's cursors are also
//! opaque base64url strings, but of a different encoding; a cursor from one server is not valid on
//! the other (documented in docs/compatibility.md).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::params::Validator;

/// The largest `page` number taken (informational only; a bound keeps it an exact integer).
pub const MAX_PAGE: i64 = 1_000_000_000_000_000;

/// Page request read from the parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageRequest {
    /// Page size.
    pub limit: usize,
    /// Sort key strictly after which the page starts.
    pub next: Option<String>,
    /// Sort key strictly before which the page ends.
    pub previous: Option<String>,
    /// Informational page number.
    pub page: u64,
}

impl PageRequest {
    /// Reads `limit`, `next`, `previous` and `page`, recording validation failures.
    pub fn read(v: &mut Validator<'_>) -> Self {
        let limit = v.opt_int("limit", 1, 250).map(|n| n as usize).unwrap_or(20);
        let page = v
            .opt_int("page", 1, MAX_PAGE)
            .map(|n| n as u64)
            .unwrap_or(1);
        let next = v.opt_str("next", 1024);
        let previous = v.opt_str("previous", 1024);
        let mut req = Self {
            limit,
            next: None,
            previous: None,
            page,
        };
        if let Some(c) = next {
            match decode(&c, 'n') {
                Some(k) => req.next = Some(k),
                None => v.reject("next", "\"next\" must be a valid cursor"),
            }
        } else if let Some(c) = previous {
            match decode(&c, 'p') {
                Some(k) => req.previous = Some(k),
                None => v.reject("previous", "\"previous\" must be a valid cursor"),
            }
        }
        req
    }
}

fn encode(kind: char, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}{key}"))
}

fn decode(cursor: &str, kind: char) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    let s = std::str::from_utf8(&raw).ok()?;
    s.strip_prefix(kind).map(str::to_string)
}

/// Cuts one page out of `items`, which are already in listing order; `key` gives each item's
/// unique sort key, compared as a string (pad numbers to a fixed width), and the order must be by
/// that key (ascending when `ascending`). Returns the
/// response fields `total`, `page`, `previousCursor`, `nextCursor`, `results`.
pub fn paginate<T>(
    items: Vec<T>,
    req: &PageRequest,
    ascending: bool,
    key: impl Fn(&T) -> String,
    render: impl Fn(&T) -> Value,
) -> Map<String, Value> {
    let total = items.len();
    // "after k" in listing order.
    let after = |a: &str, k: &str| if ascending { a > k } else { a < k };
    let (start, end) = if let Some(k) = &req.next {
        let s = items
            .iter()
            .position(|i| after(&key(i), k))
            .unwrap_or(total);
        (s, (s + req.limit).min(total))
    } else if let Some(k) = &req.previous {
        let e = items
            .iter()
            .position(|i| !after(k, &key(i)))
            .unwrap_or(total);
        (e.saturating_sub(req.limit), e)
    } else {
        (0, req.limit.min(total))
    };
    let page_items = items.get(start..end).unwrap_or_default();
    page_fields(
        total as u64,
        req,
        PageEdges {
            has_previous: start > 0,
            has_next: end < total,
            first_key: page_items.first().map(&key),
            last_key: page_items.last().map(&key),
        },
        page_items.iter().map(render).collect(),
    )
}

/// Where a page sits: whether items exist on either side, and the sort keys at its edges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageEdges {
    /// Items exist before the page.
    pub has_previous: bool,
    /// Items exist after the page.
    pub has_next: bool,
    /// The first item's sort key.
    pub first_key: Option<String>,
    /// The last item's sort key.
    pub last_key: Option<String>,
}

/// The response fields `success`, `total`, `page`, `previousCursor`, `nextCursor` and `results` for a
/// page cut elsewhere (by the store, with a limit) — the same cursors as [`paginate`] makes.
pub fn page_fields(
    total: u64,
    req: &PageRequest,
    edges: PageEdges,
    results: Vec<Value>,
) -> Map<String, Value> {
    let previous = match &edges.first_key {
        Some(first) if edges.has_previous => json!(encode('p', first)),
        _ => json!(false),
    };
    let next = match &edges.last_key {
        Some(last) if edges.has_next => json!(encode('n', last)),
        _ => json!(false),
    };
    let page = if edges.has_previous {
        req.page.max(1)
    } else {
        1
    };
    let mut out = Map::new();
    out.insert("success".into(), json!(true));
    out.insert("total".into(), json!(total));
    out.insert("page".into(), json!(page));
    out.insert("previousCursor".into(), previous);
    out.insert("nextCursor".into(), next);
    out.insert("results".into(), Value::Array(results));
    out
}
