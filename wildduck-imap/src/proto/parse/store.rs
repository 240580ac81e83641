//! `[UID] STORE`, `[UID] COPY`, `[UID] MOVE` and `UID EXPUNGE`.

use super::{ArgResult, Parser};
use crate::proto::command::{CommandBody, StoreAction, StoreCommand};

/// `STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] (flags) | flag…`
pub(super) fn parse_store(p: &mut Parser<'_>, uid: bool) -> ArgResult<CommandBody> {
    p.sp()?;
    let set = p.r.sequence_set()?;
    p.sp()?;
    let mut unchanged_since = None;
    if p.r.eat(b'(') {
        while !p.r.eat(b')') {
            let name = p.r.atom_upper()?;
            match name.as_str() {
                "UNCHANGEDSINCE" => {
                    p.sp()?;
                    unchanged_since = Some(p.r.number64()?);
                }
                _ => return Err(format!("Invalid modifier {name} for STORE").into()),
            }
            if p.r.peek() != Some(b')') {
                p.sp()?;
            }
        }
        p.sp()?;
    }
    let word = p.r.word().to_ascii_uppercase();
    let (action, rest) = match word.split_first() {
        Some((b'+', rest)) => (StoreAction::Add, rest),
        Some((b'-', rest)) => (StoreAction::Remove, rest),
        _ => (StoreAction::Replace, &word[..]),
    };
    let silent = match rest {
        b"FLAGS" => false,
        b"FLAGS.SILENT" => true,
        _ => {
            return Err(format!(
                "Invalid message data item {} for STORE",
                String::from_utf8_lossy(&word)
            )
            .into());
        }
    };
    p.sp()?;
    let flags = if p.r.peek() == Some(b'(') {
        let f = p.r.flag_list()?;
        p.r.end()?;
        f
    } else {
        let mut flags: Vec<wildduck_core::model::Flag> = Vec::new();
        loop {
            let f = p.r.flag()?;
            if !flags.iter().any(|g| g.same(&f)) {
                flags.push(f);
            }
            if !p.r.more()? {
                break;
            }
        }
        flags
    };
    Ok(CommandBody::Store(StoreCommand {
        uid,
        set,
        action,
        silent,
        flags,
        unchanged_since,
    }))
}

/// `COPY set mailbox` / `MOVE set mailbox`
pub(super) fn parse_copy_move(
    p: &mut Parser<'_>,
    uid: bool,
    is_move: bool,
) -> ArgResult<CommandBody> {
    p.sp()?;
    let set = p.r.sequence_set()?;
    p.sp()?;
    let mailbox = p.mailbox()?;
    p.r.end()?;
    Ok(if is_move {
        CommandBody::Move { uid, set, mailbox }
    } else {
        CommandBody::Copy { uid, set, mailbox }
    })
}

/// `UID EXPUNGE set` (RFC 4315)
pub(super) fn parse_uid_expunge(p: &mut Parser<'_>) -> ArgResult<CommandBody> {
    p.sp()?;
    let set = p.r.sequence_set()?;
    p.r.end()?;
    Ok(CommandBody::Expunge { uids: Some(set) })
}
