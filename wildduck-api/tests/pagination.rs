//! Cursor pagination over in-memory lists: every item once, in order, both directions.

use serde_json::{Value, json};
use wildduck_api::pagination::{PageRequest, paginate};

fn page(items: &[u32], req: &PageRequest, asc: bool) -> (Vec<u64>, Value, Value) {
    let out = paginate(
        items.to_vec(),
        req,
        asc,
        |u| format!("{u:010}"),
        |u| json!(u),
    );
    let ids = out["results"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    (
        ids,
        out["nextCursor"].clone(),
        out["previousCursor"].clone(),
    )
}

fn decode(c: &Value, kind: char) -> Option<String> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c.as_str()?)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix(kind)
        .map(str::to_string)
}

#[test]
fn forward_and_back_cover_everything_once() {
    let items: Vec<u32> = (1..=23).rev().collect(); // newest first, like a message list
    for limit in [1usize, 2, 5, 7, 23, 250] {
        let mut req = PageRequest {
            limit,
            page: 1,
            ..Default::default()
        };
        let mut all = Vec::new();
        let mut cursors = Vec::new();
        loop {
            let (ids, next, prev) = page(&items, &req, false);
            assert!(ids.len() <= limit);
            if req.next.is_none() {
                assert_eq!(prev, json!(false));
            }
            all.extend(ids);
            cursors.push(prev);
            match decode(&next, 'n') {
                Some(k) => req.next = Some(k),
                None => {
                    assert_eq!(next, json!(false));
                    break;
                }
            }
        }
        let expected: Vec<u64> = items.iter().map(|u| u64::from(*u)).collect();
        assert_eq!(all, expected, "limit {limit}");
        // Going back from the last page returns the page before it.
        if let Some(prev) = cursors.last().and_then(|p| decode(p, 'p')) {
            let back = PageRequest {
                limit,
                previous: Some(prev),
                page: 1,
                ..Default::default()
            };
            let (ids, _, _) = page(&items, &back, false);
            let n = expected.len();
            let last_len = n - (n - 1) / limit * limit;
            let start = n - last_len - limit;
            assert_eq!(ids, expected[start..n - last_len].to_vec(), "limit {limit}");
        }
    }
}

#[test]
fn empty_list_and_ascending_order() {
    let req = PageRequest {
        limit: 20,
        page: 1,
        ..Default::default()
    };
    let (ids, next, prev) = page(&[], &req, true);
    assert!(ids.is_empty());
    assert_eq!((next, prev), (json!(false), json!(false)));
    let (ids, _, _) = page(&[1, 2, 3], &req, true);
    assert_eq!(ids, [1, 2, 3]);
    // A cursor past the end gives an empty page, not an error.
    let past = PageRequest {
        limit: 2,
        next: Some(format!("{:010}", 99)),
        page: 2,
        ..Default::default()
    };
    let (ids, next, _) = page(&[1, 2, 3], &past, true);
    assert!(ids.is_empty());
    assert_eq!(next, json!(false));
}
