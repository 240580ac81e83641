//! `EXPUNGE` and `UID EXPUNGE` (RFC 3501 §6.4.3, UIDPLUS RFC 4315 §2.1).
//!
//! Removes the `\Deleted` messages the client knows (all UIDs up to the highest in its view, so
//! a message it was never told about is not expunged behind its back), answers one
//! `* n EXPUNGE` per message with sequence numbers as they shift, then `* N EXISTS` when
//! something was removed (WildDuck's behaviour, kept for Apple Mail). Read-only: nothing happens.

use wildduck_core::model::{Uid, UidSet};

use crate::proto::SequenceSet;
use crate::response::write_number;
use crate::session::{Context, Reply};

/// WildDuck's flood guard: more EXPUNGE commands on one connection end it (the default of
/// [`crate::ImapConfig::max_selects`], which sets it).
pub const MAX_EXPUNGE_COMMANDS: u32 = 1000;

/// Expunges (all `\Deleted`, or only `uids`) and updates the view. Returns the untagged
/// responses to send (empty for a silent expunge or when nothing was removed).
pub async fn expunge_selected(
    ctx: &mut Context<'_>,
    uids: Option<&SequenceSet>,
) -> wildduck_core::Result<Vec<u8>> {
    let Some(user) = ctx.session.user_id() else {
        return Ok(Vec::new());
    };
    let session_id = ctx.session.id.clone();
    let shared = ctx.shared;
    let Some(sel) = ctx.session.selected.as_deref_mut() else {
        return Ok(Vec::new());
    };
    let scope: UidSet = match uids {
        Some(set) => set
            .resolve_uid(sel.view.uids())
            .filter_sorted(sel.view.uids())
            .into_iter()
            .collect(),
        None => match sel.view.uids().last() {
            Some(Uid(last)) => UidSet::range(1, *last),
            None => UidSet::new(),
        },
    };
    if scope.is_empty() {
        return Ok(Vec::new());
    }
    let removed = shared
        .services
        .expunge(user, &sel.mailbox, Some(&scope), Some(&session_id))
        .await?;
    let mut buf = Vec::new();
    let mut any = false;
    for uid in &removed.uids {
        if let Some(seq) = sel.view.remove(*uid) {
            buf.extend_from_slice(b"* ");
            write_number(&mut buf, u64::from(seq));
            buf.extend_from_slice(b" EXPUNGE\r\n");
            any = true;
        }
    }
    if any {
        buf.extend_from_slice(b"* ");
        write_number(&mut buf, u64::from(sel.view.len()));
        buf.extend_from_slice(b" EXISTS\r\n");
    }
    Ok(buf)
}

/// Runs EXPUNGE / UID EXPUNGE.
pub async fn handle(ctx: &mut Context<'_>, uids: Option<&SequenceSet>) -> Reply {
    let name = if uids.is_some() {
        "UID EXPUNGE"
    } else {
        "EXPUNGE"
    };
    if ctx.session.selected.as_deref().is_some_and(|s| s.read_only) {
        return Reply::ok(format!("{name} completed"));
    }
    ctx.session.expunge_count = ctx.session.expunge_count.saturating_add(1);
    if ctx.session.expunge_count > ctx.config().max_selects {
        ctx.session.selected = None;
        ctx.untagged(&format!(
            "BYE Too many {name} commands issued, please reconnect"
        ));
        return Reply::no(format!("{name} refused")).then(crate::session::Then::Close);
    }
    match expunge_selected(ctx, uids).await {
        Ok(buf) => {
            ctx.io.write(&buf);
            Reply::ok(format!("{name} completed"))
        }
        Err(e) => crate::error::reply(&e, name),
    }
}
