//! `LIST`/`LSUB`/`XLIST` (with the LIST-EXTENDED forms WildDuck accepts) and `STATUS`.

use super::{ArgResult, Parser};
use crate::proto::command::{
    CommandBody, ListCommand, ListKind, ListReturn, ListSelect, StatusItem,
};

/// `LIST [(selection)] reference pattern|(patterns) [RETURN (options)]`
pub(super) fn parse_list(p: &mut Parser<'_>, kind: ListKind) -> ArgResult<CommandBody> {
    let extended = kind != ListKind::Lsub;
    p.sp()?;
    let mut selection = Vec::new();
    if extended && p.r.peek() == Some(b'(') {
        selection = options(p, |name| match name {
            "SPECIAL-USE" => Some(ListSelect::SpecialUse),
            "SUBSCRIBED" => Some(ListSelect::Subscribed),
            "REMOTE" => Some(ListSelect::Remote),
            "RECURSIVEMATCH" => Some(ListSelect::RecursiveMatch),
            _ => None,
        })?;
        p.sp()?;
    }
    let reference_raw = p.r.astring()?;
    let reference = p.decode_name(&reference_raw)?;
    p.sp()?;
    let mut patterns = Vec::new();
    if extended && p.r.eat(b'(') {
        while p.r.eat(b' ') {}
        while !p.r.eat(b')') {
            let raw = p.r.list_mailbox()?;
            patterns.push(p.decode_name(&raw)?);
            if p.r.peek() != Some(b')') {
                p.sp()?;
            }
        }
        if patterns.is_empty() {
            return Err("Empty pattern list".into());
        }
    } else {
        let raw = p.r.list_mailbox()?;
        patterns.push(p.decode_name(&raw)?);
    }
    let mut returns = Vec::new();
    if p.r.more()? {
        let word = p.r.atom_upper()?;
        if !extended || word != "RETURN" {
            return Err(format!("Invalid argument provided for {}", list_name(kind)).into());
        }
        p.sp()?;
        returns = options(p, |name| match name {
            "SPECIAL-USE" => Some(ListReturn::SpecialUse),
            "SUBSCRIBED" => Some(ListReturn::Subscribed),
            "CHILDREN" => Some(ListReturn::Children),
            _ => None,
        })?;
        p.r.end()?;
    }
    Ok(CommandBody::List(ListCommand {
        kind,
        selection,
        reference,
        patterns,
        returns,
    }))
}

fn list_name(kind: ListKind) -> &'static str {
    match kind {
        ListKind::List => "LIST",
        ListKind::Lsub => "LSUB",
        ListKind::Xlist => "XLIST",
    }
}

/// `"(" [option *(SP option)] ")"` with known option names.
fn options<T: PartialEq>(
    p: &mut Parser<'_>,
    known: impl Fn(&str) -> Option<T>,
) -> ArgResult<Vec<T>> {
    p.r.expect(b'(')?;
    let mut out = Vec::new();
    while p.r.eat(b' ') {}
    while !p.r.eat(b')') {
        let name = p.r.atom_upper()?;
        let opt = known(&name).ok_or_else(|| format!("Unsupported LIST option {name}"))?;
        if !out.contains(&opt) {
            out.push(opt);
        }
        if p.r.peek() != Some(b')') {
            p.sp()?;
        }
    }
    Ok(out)
}

/// `STATUS mailbox (item …)`
pub(super) fn parse_status(p: &mut Parser<'_>) -> ArgResult<CommandBody> {
    p.sp()?;
    let mailbox = p.mailbox()?;
    p.sp()?;
    p.r.expect(b'(')?;
    let mut items = Vec::new();
    while p.r.eat(b' ') {}
    while !p.r.eat(b')') {
        let name = p.r.atom_upper()?;
        let item = match name.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "RECENT" => StatusItem::Recent,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            _ => return Err(format!("Invalid status element {name}").into()),
        };
        if !items.contains(&item) {
            items.push(item);
        }
        if p.r.peek() != Some(b')') {
            p.sp()?;
        }
    }
    if items.is_empty() {
        return Err("Empty status list".into());
    }
    p.r.end()?;
    Ok(CommandBody::Status { mailbox, items })
}
