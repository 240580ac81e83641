//! `SEARCH` / `UID SEARCH` (RFC 3501 §6.4.4, RFC 7162 `MODSEQ`, RFC 5032 `OLDER`/`YOUNGER`).
//!
//! Sequence sets in the criteria are resolved against the session's view here; the core runs
//! the search in one query. Results are sequence numbers (or UIDs) of messages the client knows,
//! ascending, then `(MODSEQ n)` when a `MODSEQ` key was used and something matched. `CHARSET`
//! may be `UTF-8` or `US-ASCII` (a subset); anything else is `NO [BADCHARSET (UTF-8)]`.

use wildduck_core::ErrorKind;

use crate::proto::SearchQuery;
use crate::response::write_number;
use crate::session::{Context, Reply};

/// Charsets accepted in `CHARSET` (search strings are UTF-8 either way).
fn charset_ok(charset: &str) -> bool {
    ["UTF-8", "UTF8", "US-ASCII"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(charset))
}

/// Runs SEARCH / UID SEARCH.
pub async fn handle(
    ctx: &mut Context<'_>,
    uid: bool,
    charset: Option<&str>,
    query: &SearchQuery,
) -> Reply {
    let name = if uid { "UID SEARCH" } else { "SEARCH" };
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    if let Some(c) = charset
        && !charset_ok(c)
    {
        return Reply::no_code("BADCHARSET (UTF-8)", format!("{name} failed"));
    }
    let uses_modseq = query.uses_modseq();
    if uses_modseq {
        ctx.session.condstore = true;
    }
    let shared = ctx.shared;
    let Some(sel) = ctx.session.selected.as_deref() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    let key = query.resolve(sel.view.uids());
    let result = match shared.services.search(user, sel.mailbox.id, &key).await {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::Invalid => {
            return Reply::bad(format!("Invalid search criteria for {name}"));
        }
        Err(e) => return crate::error::reply(&e, name),
    };
    let mut line = Vec::with_capacity(16 + result.uids.len() * 4);
    line.extend_from_slice(b"* SEARCH");
    let mut any = false;
    for u in &result.uids {
        // Only messages the client was told about (others arrive with the next EXISTS).
        let Some(seq) = sel.view.seq(*u) else {
            continue;
        };
        line.push(b' ');
        write_number(&mut line, u64::from(if uid { u.0 } else { seq }));
        any = true;
    }
    if uses_modseq
        && any
        && let Some(m) = result.highest_modseq
    {
        line.extend_from_slice(b" (MODSEQ ");
        write_number(&mut line, m.0);
        line.push(b')');
    }
    line.extend_from_slice(b"\r\n");
    ctx.io.write(&line);
    Reply::ok(format!("{name} completed"))
}
