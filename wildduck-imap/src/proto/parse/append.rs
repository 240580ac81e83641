//! `APPEND mailbox [flag-list] [date-time] (literal | UTF8 (literal))` — one message per command
//! (no MULTIAPPEND or CATENATE, as in WildDuck).

use super::{ArgResult, Parser};
use crate::proto::command::{AppendCommand, AppendData, CommandBody};
use crate::proto::lexer::Str;

pub(super) fn parse(p: &mut Parser<'_>) -> ArgResult<CommandBody> {
    p.sp()?;
    let mailbox = p.mailbox()?;
    p.sp()?;
    let mut flags = Vec::new();
    if p.r.peek() == Some(b'(') {
        flags = p.r.flag_list()?;
        p.sp()?;
    }
    let mut date = None;
    if p.r.peek() == Some(b'"') {
        date = Some(p.r.date_time()?);
        p.sp()?;
    }
    let mut utf8 = false;
    if p.r.peek().is_some_and(|b| b.eq_ignore_ascii_case(&b'u')) {
        let word = p.r.atom_upper()?;
        if word != "UTF8" {
            return Err("Invalid message argument for APPEND".into());
        }
        p.sp()?;
        p.r.expect(b'(')?;
        utf8 = true;
    }
    if p.r.peek() != Some(b'{') {
        return Err("Invalid message argument for APPEND".into());
    }
    let message = match p.r.string_or_streamed()? {
        Str::Bytes(b) => AppendData::Inline(b.into_owned()),
        Str::Streamed(size) => AppendData::Streamed { size },
    };
    if utf8 {
        p.r.expect(b')')?;
    }
    if p.r.more()? {
        return Err("Only one message per APPEND is supported".into());
    }
    Ok(CommandBody::Append(AppendCommand {
        mailbox,
        flags,
        date,
        utf8,
        message,
    }))
}
