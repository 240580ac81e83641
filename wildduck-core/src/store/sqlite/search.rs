//! [`SearchPlan`] → SQL. Metadata conditions (UIDs, flags, keywords, dates, sizes, MODSEQ) translate
//! exactly, so a metadata-only search is one indexed query returning `(uid, modseq)`. Header and
//! text conditions keep the reference semantics of [`crate::search`] (Unicode case-insensitive
//! substrings over decoded headers, raw header lines and the plain text) by scanning the stored
//! text: SQL narrows the candidates with every metadata condition that must hold, then the
//! in-memory matcher decides on each candidate's content, streamed one row at a time.

use rusqlite::types::Value;

use crate::model::Flag;
use crate::search::{Condition, MsRange, SearchFields, SearchPlan};

/// An exact SQL translation of `p` over `messages m`, or `None` when it needs content. Parameters
/// are appended to `args` in placeholder order only when the translation succeeds.
pub(super) fn exact(p: &SearchPlan, args: &mut Vec<Value>) -> Option<String> {
    let mut local = Vec::new();
    let sql = exact_into(p, &mut local)?;
    args.extend(local);
    Some(sql)
}

fn exact_into(p: &SearchPlan, args: &mut Vec<Value>) -> Option<String> {
    Some(match p {
        SearchPlan::All => "1".into(),
        SearchPlan::Nothing => "0".into(),
        SearchPlan::Cond(c) => condition(c, args)?,
        SearchPlan::Not(inner) => format!("NOT ({})", exact_into(inner, args)?),
        SearchPlan::And(parts) => join(parts, " AND ", args)?,
        SearchPlan::Or(parts) => join(parts, " OR ", args)?,
    })
}

fn join(parts: &[SearchPlan], op: &str, args: &mut Vec<Value>) -> Option<String> {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        out.push(format!("({})", exact_into(p, args)?));
    }
    Some(out.join(op))
}

/// A condition every match of `p` satisfies (exact where possible, `1` where content decides).
pub(super) fn necessary(p: &SearchPlan, args: &mut Vec<Value>) -> String {
    if let Some(sql) = exact(p, args) {
        return sql;
    }
    match p {
        SearchPlan::And(parts) => parts
            .iter()
            .map(|x| format!("({})", necessary(x, args)))
            .collect::<Vec<_>>()
            .join(" AND "),
        SearchPlan::Or(parts) => parts
            .iter()
            .map(|x| format!("({})", necessary(x, args)))
            .collect::<Vec<_>>()
            .join(" OR "),
        // A negated content condition, or a content condition itself: anything may match.
        _ => "1".into(),
    }
}

fn range(column: &str, r: &MsRange) -> String {
    match (r.from, r.until) {
        (Some(a), Some(b)) => format!("({column} >= {a} AND {column} < {b})"),
        (Some(a), None) => format!("{column} >= {a}"),
        (None, Some(b)) => format!("{column} < {b}"),
        (None, None) => "1".into(),
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Flags are stored space-separated, ASCII only; `instr` on the padded, lower-cased list finds a
/// whole flag ignoring ASCII case — exactly what flag comparison does.
fn has_flag(args: &mut Vec<Value>, flag: &str) -> String {
    if flag.is_empty() || flag.contains(' ') {
        // No stored flag is empty or contains a space.
        return "0".into();
    }
    args.push(Value::Text(format!(" {} ", flag.to_ascii_lowercase())));
    "instr(' ' || lower(m.flags) || ' ', ?) > 0".into()
}

fn condition(c: &Condition, args: &mut Vec<Value>) -> Option<String> {
    Some(match c {
        Condition::Uids(set) => {
            let ranges: Vec<String> = set
                .ranges()
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        format!("m.uid = {a}")
                    } else {
                        format!("m.uid BETWEEN {a} AND {b}")
                    }
                })
                .collect();
            if ranges.is_empty() {
                "0".into()
            } else {
                format!("({})", ranges.join(" OR "))
            }
        }
        Condition::Flag(Flag::Seen) => "m.seen = 1".into(),
        Condition::Flag(Flag::Deleted) => "m.deleted = 1".into(),
        Condition::Flag(Flag::Flagged) => "m.flagged = 1".into(),
        Condition::Flag(Flag::Draft) => "m.draft = 1".into(),
        Condition::Flag(f) => has_flag(args, f.as_str()),
        Condition::Keyword(k) => has_flag(args, k),
        Condition::InternalDate(r) => range("m.idate", r),
        Condition::SentDate(r) => range("m.hdate", r),
        Condition::SizeAbove(n) => format!("m.size > {}", clamp(*n)),
        Condition::SizeBelow(n) => format!("m.size < {}", clamp(*n)),
        Condition::ModSeqAtLeast(m) => format!("m.modseq >= {}", clamp(m.0)),
        Condition::IndexedHeaderPresent(_)
        | Condition::IndexedHeader(..)
        | Condition::RawHeaderPresent(_)
        | Condition::RawHeader(..)
        | Condition::Body(_)
        | Condition::Text(_) => return None,
    })
}

/// The fields the matcher needs, for a message without content conditions.
pub(super) fn no_fields() -> SearchFields {
    SearchFields::default()
}
