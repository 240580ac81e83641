//! `[UID] SEARCH [CHARSET astring] search-key…` with every key of RFC 3501 §6.4.4, RFC 5032
//! (`OLDER`, `YOUNGER`) and RFC 7162 (`MODSEQ`).

use wildduck_core::model::ModSeq;
use wildduck_core::search::{EntryType, ModSeqEntry, SearchKey};

use super::{ArgResult, Parser};
use crate::proto::command::{CommandBody, SearchQuery};

/// Nesting limit for `NOT`, `OR` and parentheses: deeper input is refused rather than risking the
/// stack.
const MAX_DEPTH: usize = 64;

pub(super) fn parse(p: &mut Parser<'_>, uid: bool) -> ArgResult<CommandBody> {
    p.sp()?;
    let mut charset = None;
    let mut keys = Vec::new();
    let first = key(p, 0, true)?;
    match first {
        Parsed::Charset(c) => {
            charset = Some(c);
            p.sp()?;
            keys.push(expect_key(key(p, 0, false)?)?);
        }
        Parsed::Key(k) => keys.push(k),
    }
    while p.r.more()? {
        keys.push(expect_key(key(p, 0, false)?)?);
    }
    let query = if keys.len() == 1 {
        keys.pop().unwrap_or(SearchQuery::And(Vec::new()))
    } else {
        SearchQuery::And(keys)
    };
    Ok(CommandBody::Search {
        uid,
        charset,
        query,
    })
}

enum Parsed {
    Charset(String),
    Key(SearchQuery),
}

fn expect_key(p: Parsed) -> ArgResult<SearchQuery> {
    match p {
        Parsed::Key(k) => Ok(k),
        Parsed::Charset(_) => Err("CHARSET must come first".into()),
    }
}

fn one(p: &mut Parser<'_>, depth: usize) -> ArgResult<SearchQuery> {
    expect_key(key(p, depth, false)?)
}

fn string(p: &mut Parser<'_>) -> ArgResult<String> {
    p.sp()?;
    Ok(p.r.astring_lossy()?)
}

fn key(p: &mut Parser<'_>, depth: usize, first: bool) -> ArgResult<Parsed> {
    if depth > MAX_DEPTH {
        return Err("Search criteria nested too deeply".into());
    }
    if p.r.at_sequence_set() {
        return Ok(Parsed::Key(SearchQuery::Seq(p.r.sequence_set()?)));
    }
    if p.r.eat(b'(') {
        let mut keys = Vec::new();
        while p.r.eat(b' ') {}
        while !p.r.eat(b')') {
            if p.r.at_end() {
                return Err("Unterminated search list".into());
            }
            keys.push(one(p, depth + 1)?);
            if p.r.peek() != Some(b')') {
                p.sp()?;
            }
        }
        if keys.is_empty() {
            return Err("Empty search list".into());
        }
        return Ok(Parsed::Key(SearchQuery::And(keys)));
    }
    let name = p.r.atom_upper()?;
    let k = |key: SearchKey| Ok(Parsed::Key(SearchQuery::Key(key)));
    match name.as_str() {
        "CHARSET" if first => {
            p.sp()?;
            let c = p.r.astring_utf8()?;
            Ok(Parsed::Charset(c.to_ascii_uppercase()))
        }
        "ALL" => k(SearchKey::All),
        "ANSWERED" => k(SearchKey::Answered),
        "UNANSWERED" => k(SearchKey::Unanswered),
        "DELETED" => k(SearchKey::Deleted),
        "UNDELETED" => k(SearchKey::Undeleted),
        "DRAFT" => k(SearchKey::Draft),
        "UNDRAFT" => k(SearchKey::Undraft),
        "FLAGGED" => k(SearchKey::Flagged),
        "UNFLAGGED" => k(SearchKey::Unflagged),
        "SEEN" => k(SearchKey::Seen),
        "UNSEEN" => k(SearchKey::Unseen),
        "RECENT" => k(SearchKey::Recent),
        "NEW" => k(SearchKey::New),
        "OLD" => k(SearchKey::Old),
        "KEYWORD" | "UNKEYWORD" => {
            let flag = string(p)?;
            if flag.is_empty() {
                return Err("Invalid keyword".into());
            }
            if name == "KEYWORD" {
                k(SearchKey::Keyword(flag))
            } else {
                k(SearchKey::Unkeyword(flag))
            }
        }
        "FROM" => k(SearchKey::From(string(p)?)),
        "TO" => k(SearchKey::To(string(p)?)),
        "CC" => k(SearchKey::Cc(string(p)?)),
        "BCC" => k(SearchKey::Bcc(string(p)?)),
        "SUBJECT" => k(SearchKey::Subject(string(p)?)),
        "BODY" => k(SearchKey::Body(string(p)?)),
        "TEXT" => k(SearchKey::Text(string(p)?)),
        "HEADER" => {
            let field = string(p)?;
            if field.is_empty() || field.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
                return Err("Invalid header field name".into());
            }
            let value = string(p)?;
            k(SearchKey::Header(field, value))
        }
        "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
            p.sp()?;
            let d = p.r.date()?;
            k(match name.as_str() {
                "BEFORE" => SearchKey::Before(d),
                "ON" => SearchKey::On(d),
                "SINCE" => SearchKey::Since(d),
                "SENTBEFORE" => SearchKey::SentBefore(d),
                "SENTON" => SearchKey::SentOn(d),
                _ => SearchKey::SentSince(d),
            })
        }
        "LARGER" | "SMALLER" => {
            p.sp()?;
            let n = p.r.number64()?;
            k(if name == "LARGER" {
                SearchKey::Larger(n)
            } else {
                SearchKey::Smaller(n)
            })
        }
        "OLDER" | "YOUNGER" => {
            p.sp()?;
            let n = p.r.number64()?;
            if n == 0 {
                return Err(format!("Invalid {name} interval").into());
            }
            k(if name == "OLDER" {
                SearchKey::Older(n)
            } else {
                SearchKey::Younger(n)
            })
        }
        "MODSEQ" => {
            p.sp()?;
            let mut entry = None;
            if p.r.peek() == Some(b'"') {
                let entry_name = p.r.string()?;
                p.sp()?;
                let kind = match p.r.atom_upper()?.as_str() {
                    "PRIV" => EntryType::Private,
                    "SHARED" => EntryType::Shared,
                    "ALL" => EntryType::All,
                    _ => return Err("Invalid MODSEQ entry type".into()),
                };
                p.sp()?;
                entry = Some(ModSeqEntry {
                    name: String::from_utf8_lossy(&entry_name).into_owned(),
                    kind,
                });
            }
            let modseq = ModSeq(p.r.number64()?);
            k(SearchKey::ModSeq { entry, modseq })
        }
        "UID" => {
            p.sp()?;
            Ok(Parsed::Key(SearchQuery::Uid(p.r.sequence_set()?)))
        }
        "NOT" => {
            p.sp()?;
            let inner = one(p, depth + 1)?;
            Ok(Parsed::Key(SearchQuery::Not(Box::new(inner))))
        }
        "OR" => {
            p.sp()?;
            let a = one(p, depth + 1)?;
            p.sp()?;
            let b = one(p, depth + 1)?;
            Ok(Parsed::Key(SearchQuery::Or(Box::new(a), Box::new(b))))
        }
        _ => Err(format!("Unknown search key {name}").into()),
    }
}
