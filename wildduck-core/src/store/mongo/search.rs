//! `SEARCH` on MongoDB: a [`SearchPlan`] becomes one `messages` query over WildDuck's fields,
//! projecting only `uid` and `modseq`.
//!
//! Unlike WildDuck, no `$text` index is used: every string key is a case-insensitive regular
//! expression over the escaped needle (RFC 3501 substring semantics), so `BODY`/`TEXT` work inside
//! `NOT` and `OR` and on servers without a text index. Negation is `$nor`, so any subtree can be
//! negated exactly. Ranges use exclusive bounds only (the test server drops rows equal to an
//! inclusive bound).

use std::time::Duration;

use bson::{Bson, Document, doc};
use futures::TryStreamExt as _;
use mongodb::Collection;

use super::{backend, get_u64, oid, uid_condition, unum};
use crate::Result;
use crate::model::{Flag, MailboxId, ModSeq, Uid};
use crate::search::{Condition, MsRange, SearchPlan, binary_string};

/// WildDuck's `DB_MAX_TIME_MESSAGES`.
const MAX_TIME: Duration = Duration::from_secs(120);

/// Escapes `s` for use as a literal inside a regular expression understood alike by PCRE (MongoDB)
/// and Python's `re` (the test server): metacharacters get a backslash, control characters become
/// `\xHH` (a regex may not hold a NUL byte).
pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '^' | '$' | '.' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

fn ci_regex(pattern: String) -> Document {
    doc! { "$regex": pattern, "$options": "i" }
}

fn bound(t: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(t))
}

fn date_range(field: &str, r: &MsRange) -> Document {
    let mut cond = Document::new();
    if let Some(from) = r.from {
        // `from` is inclusive: write it as an exclusive bound one millisecond lower.
        cond.insert("$gt", bound(from.saturating_sub(1)));
    }
    if let Some(until) = r.until {
        cond.insert("$lt", bound(until));
    }
    doc! { field: cond }
}

/// `$expr` matching the whole plain text: `text` and `textFooter` are one text cut in two, so the
/// needle is searched in their concatenation.
fn body_expr(needle: &str) -> Document {
    doc! {
        "$expr": {
            "$regexMatch": {
                "input": { "$concat": [
                    { "$ifNull": ["$text", ""] },
                    { "$ifNull": ["$textFooter", ""] },
                ] },
                "regex": regex_escape(needle),
                "options": "i",
            }
        }
    }
}

/// The stored boolean that mirrors a system flag, and the value it has when the flag is set.
fn flag_field(flag: &Flag) -> Option<(&'static str, bool)> {
    match flag {
        Flag::Seen => Some(("unseen", false)),
        Flag::Deleted => Some(("undeleted", false)),
        Flag::Flagged => Some(("flagged", true)),
        Flag::Draft => Some(("draft", true)),
        _ => None,
    }
}

fn raw_header_regex(name: &str) -> String {
    format!("^{}[ \\t]*:", regex_escape(name))
}

fn condition(c: &Condition) -> Document {
    match c {
        // Never `1:*` or empty in a simplified plan; an empty condition would still be right.
        Condition::Uids(set) => uid_condition(set).unwrap_or_default(),
        Condition::Flag(flag) => match flag_field(flag) {
            Some((field, set)) => doc! { field: set },
            None => doc! { "flags": flag.as_str() },
        },
        Condition::Keyword(k) => {
            doc! { "flags": ci_regex(format!("^{}$", regex_escape(k))) }
        }
        Condition::IndexedHeaderPresent(name) => doc! { "headers.key": name },
        Condition::IndexedHeader(name, needle) => doc! {
            "headers": { "$elemMatch": { "key": name, "value": ci_regex(regex_escape(needle)) } }
        },
        Condition::RawHeaderPresent(name) => {
            doc! { "mimeTree.header": ci_regex(raw_header_regex(name)) }
        }
        Condition::RawHeader(name, needle) => {
            let needle = regex_escape(&binary_string(needle.as_bytes()));
            doc! { "mimeTree.header": ci_regex(format!("{}[\\s\\S]*{needle}", raw_header_regex(name))) }
        }
        Condition::Body(needle) => body_expr(needle),
        Condition::Text(needle) => doc! {
            "$or": [
                { "headers.value": ci_regex(regex_escape(needle)) },
                { "mimeTree.header": ci_regex(regex_escape(&binary_string(needle.as_bytes()))) },
                body_expr(needle),
            ]
        },
        Condition::InternalDate(r) => date_range("idate", r),
        Condition::SentDate(r) => date_range("hdate", r),
        Condition::SizeAbove(n) => doc! { "size": { "$gt": unum(*n) } },
        Condition::SizeBelow(n) => doc! { "size": { "$lt": unum(*n) } },
        Condition::ModSeqAtLeast(m) => {
            doc! { "modseq": { "$gt": unum(m.0.saturating_sub(1)) } }
        }
    }
}

/// Translates a plan into one query document (a single top-level key, so it merges into the
/// mailbox filter). `All` is the empty document; `Nothing` is a condition no document meets.
pub(crate) fn translate(plan: &SearchPlan) -> Document {
    match plan {
        SearchPlan::All => Document::new(),
        SearchPlan::Nothing => doc! { "_id": { "$in": [] } },
        SearchPlan::Cond(c) => condition(c),
        SearchPlan::Not(inner) => match inner.as_ref() {
            // The indexed booleans say "not set" directly.
            SearchPlan::Cond(Condition::Flag(flag)) if flag_field(flag).is_some() => {
                match flag_field(flag) {
                    Some((field, set)) => doc! { field: !set },
                    None => doc! { "$nor": [condition(&Condition::Flag(flag.clone()))] },
                }
            }
            other => doc! { "$nor": [translate(other)] },
        },
        SearchPlan::And(parts) => {
            doc! { "$and": parts.iter().map(|p| Bson::Document(translate(p))).collect::<Vec<_>>() }
        }
        SearchPlan::Or(parts) => {
            doc! { "$or": parts.iter().map(|p| Bson::Document(translate(p))).collect::<Vec<_>>() }
        }
    }
}

/// The whole query for `plan` in `mailbox`; `None` when the plan matches nothing (no query needed).
pub(crate) fn query(mailbox: MailboxId, plan: &SearchPlan) -> Option<Document> {
    if *plan == SearchPlan::Nothing {
        return None;
    }
    let mut q = doc! { "mailbox": oid(mailbox.0) };
    q.extend(translate(plan));
    Some(q)
}

/// Runs the search: UIDs with their MODSEQ, sorted by UID.
pub(crate) async fn search(
    coll: &Collection<Document>,
    mailbox: MailboxId,
    plan: &SearchPlan,
) -> Result<Vec<(Uid, ModSeq)>> {
    let Some(q) = query(mailbox, plan) else {
        return Ok(Vec::new());
    };
    tracing::debug!(query = %q, "search");
    let docs: Vec<Document> = coll
        .find(q)
        .projection(doc! { "_id": 0, "uid": 1, "modseq": 1 })
        .max_time(MAX_TIME)
        .batch_size(10_000)
        .await
        .map_err(backend)?
        .try_collect()
        .await
        .map_err(backend)?;
    let mut out: Vec<(Uid, ModSeq)> = docs
        .iter()
        .filter_map(|d| {
            let uid = u32::try_from(get_u64(d, "uid")).ok().filter(|u| *u > 0)?;
            Some((Uid(uid), ModSeq(get_u64(d, "modseq"))))
        })
        .collect();
    out.sort_unstable_by_key(|(u, _)| *u);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::num;
    use super::*;
    use crate::model::{Timestamp, UidSet};
    use crate::search::SearchKey;

    #[test]
    fn escapes_metacharacters_and_controls() {
        assert_eq!(
            regex_escape("a.b*c(1+1)[x]{2}^$|?\\"),
            "a\\.b\\*c\\(1\\+1\\)\\[x\\]\\{2\\}\\^\\$\\|\\?\\\\"
        );
        assert_eq!(regex_escape("a\0b\r\n"), "a\\x00b\\x0d\\x0a");
        assert_eq!(regex_escape("räk"), "räk");
    }

    #[test]
    fn negated_flags_use_the_booleans_and_other_negations_nor() {
        let now = Timestamp(0);
        assert_eq!(
            translate(&SearchKey::Unseen.plan(now)),
            doc! { "unseen": true }
        );
        assert_eq!(
            translate(&SearchKey::Undeleted.plan(now)),
            doc! { "undeleted": true }
        );
        assert_eq!(
            translate(&SearchKey::Unanswered.plan(now)),
            doc! { "$nor": [{ "flags": "\\Answered" }] }
        );
        let q = query(
            MailboxId::default(),
            &SearchKey::Uids(UidSet::range(2, 4)).plan(now),
        )
        .unwrap_or_default();
        assert_eq!(
            q.get_document("uid").ok(),
            Some(&doc! { "$gt": num(1), "$lt": num(5) })
        );
        assert!(query(MailboxId::default(), &SearchKey::Recent.plan(now)).is_none());
    }
}
