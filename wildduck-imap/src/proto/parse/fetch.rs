//! `[UID] FETCH sequence-set (items | macro) [(CHANGEDSINCE n)]`

use wildduck_core::message::section::{SectionKind, SectionSpec};

use super::{ArgResult, Parser};
use crate::proto::command::{CommandBody, FetchCommand, FetchItem, Partial};

pub(super) fn parse(p: &mut Parser<'_>, uid: bool) -> ArgResult<CommandBody> {
    p.sp()?;
    let set = p.r.sequence_set()?;
    p.sp()?;
    let mut items = Vec::new();
    if p.r.eat(b'(') {
        while p.r.eat(b' ') {}
        while !p.r.eat(b')') {
            if p.r.at_end() {
                return Err("Unterminated FETCH item list".into());
            }
            items.push(item(p)?);
            if p.r.peek() != Some(b')') {
                p.sp()?;
            }
        }
        if items.is_empty() {
            return Err("Empty FETCH item list".into());
        }
    } else {
        let save = p.r.rest();
        let word = p.r.word().to_ascii_uppercase();
        let expanded: &[FetchItem] = match word.as_slice() {
            b"ALL" => &[
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
                FetchItem::Envelope,
            ],
            b"FAST" => &[
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
            ],
            b"FULL" => &[
                FetchItem::Flags,
                FetchItem::InternalDate,
                FetchItem::Rfc822Size,
                FetchItem::Envelope,
                FetchItem::Body,
            ],
            _ => &[],
        };
        if expanded.is_empty() {
            // Not a macro: a single item. Re-read it from the start.
            let consumed = save.len() - p.r.rest().len();
            p.r.rewind(consumed);
            items.push(item(p)?);
        } else {
            items.extend_from_slice(expanded);
        }
    }
    let mut changed_since = None;
    if p.r.more()? {
        p.r.expect(b'(')?;
        while !p.r.eat(b')') {
            let name = p.r.atom_upper()?;
            match name.as_str() {
                "CHANGEDSINCE" => {
                    p.sp()?;
                    changed_since = Some(p.r.number64()?);
                }
                // QRESYNC is not offered (as in WildDuck).
                _ => return Err(format!("Invalid modifier {name} for FETCH").into()),
            }
            if p.r.peek() != Some(b')') {
                p.sp()?;
            }
        }
        p.r.end()?;
    }
    Ok(CommandBody::Fetch(FetchCommand {
        uid,
        set,
        items,
        changed_since,
    }))
}

fn item(p: &mut Parser<'_>) -> ArgResult<FetchItem> {
    let word = p.r.word().to_ascii_uppercase();
    let invalid = || {
        format!(
            "Invalid message data item {} for FETCH",
            String::from_utf8_lossy(&word)
        )
    };
    let simple = match word.as_slice() {
        b"FLAGS" => Some(FetchItem::Flags),
        b"UID" => Some(FetchItem::Uid),
        b"INTERNALDATE" => Some(FetchItem::InternalDate),
        b"RFC822.SIZE" => Some(FetchItem::Rfc822Size),
        b"ENVELOPE" => Some(FetchItem::Envelope),
        b"BODYSTRUCTURE" => Some(FetchItem::BodyStructure),
        b"RFC822" => Some(FetchItem::Rfc822),
        b"RFC822.HEADER" => Some(FetchItem::Rfc822Header),
        b"RFC822.TEXT" => Some(FetchItem::Rfc822Text),
        b"MODSEQ" => Some(FetchItem::ModSeq),
        b"BODY" if p.r.peek() != Some(b'[') => Some(FetchItem::Body),
        _ => None,
    };
    if let Some(item) = simple {
        if matches!(p.r.peek(), Some(b'[' | b'<')) {
            return Err(invalid().into());
        }
        return Ok(item);
    }
    let peek = match word.as_slice() {
        b"BODY" => false,
        b"BODY.PEEK" => true,
        // BINARY is not offered (as in WildDuck).
        _ => return Err(invalid().into()),
    };
    if !p.r.eat(b'[') {
        return Err(invalid().into());
    }
    let section = section(p)?;
    p.r.expect(b']')?;
    let partial = if p.r.eat(b'<') {
        let offset = p.r.number()?;
        let length = if p.r.eat(b'.') {
            let n = p.r.number()?;
            if n == 0 {
                return Err("Invalid partial range".into());
            }
            Some(n)
        } else {
            None
        };
        p.r.expect(b'>')?;
        Some(Partial { offset, length })
    } else {
        None
    };
    Ok(FetchItem::BodySection {
        section,
        partial,
        peek,
    })
}

/// `section-spec` inside the brackets (RFC 3501 §9).
pub(super) fn section(p: &mut Parser<'_>) -> ArgResult<SectionSpec> {
    let mut part = Vec::new();
    while p.r.peek().is_some_and(|b| b.is_ascii_digit()) {
        let n = p.r.number()?;
        if n == 0 {
            return Err("Invalid section part number".into());
        }
        part.push(n);
        if !p.r.eat(b'.') {
            return Ok(SectionSpec {
                part,
                kind: SectionKind::Full,
            });
        }
        if part.len() > 100 {
            return Err("Section nesting too deep".into());
        }
    }
    if p.r.peek() == Some(b']') {
        if !part.is_empty() {
            // `1.]`
            return Err("Invalid section".into());
        }
        return Ok(SectionSpec {
            part,
            kind: SectionKind::Full,
        });
    }
    let text = p.r.word().to_ascii_uppercase();
    let kind = match text.as_slice() {
        b"HEADER" => SectionKind::Header,
        b"TEXT" => SectionKind::Text,
        b"MIME" if !part.is_empty() => SectionKind::Mime,
        b"HEADER.FIELDS" => SectionKind::HeaderFields(header_list(p)?),
        b"HEADER.FIELDS.NOT" => SectionKind::HeaderFieldsNot(header_list(p)?),
        _ => return Err("Invalid section".into()),
    };
    Ok(SectionSpec { part, kind })
}

/// ` (field-name …)`: astrings, at least one.
fn header_list(p: &mut Parser<'_>) -> ArgResult<Vec<String>> {
    p.sp()?;
    p.r.expect(b'(')?;
    let mut names = Vec::new();
    while p.r.eat(b' ') {}
    while !p.r.eat(b')') {
        if p.r.at_end() {
            return Err("Unterminated header list".into());
        }
        let name = p.r.astring_utf8()?;
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
            return Err("Invalid header field name".into());
        }
        names.push(name);
        if p.r.peek() != Some(b')') {
            p.sp()?;
        }
    }
    if names.is_empty() {
        return Err("Empty header list".into());
    }
    Ok(names)
}
