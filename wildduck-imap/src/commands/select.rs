//! `SELECT` / `EXAMINE mailbox [(CONDSTORE)]`: loads the mailbox's sorted UID list (the session's
//! [`MailboxView`]) and answers as WildDuck: FLAGS, PERMANENTFLAGS, UIDVALIDITY, EXISTS, RECENT
//! (always 0), HIGHESTMODSEQ, UIDNEXT, then `OK [READ-WRITE]` or `[READ-ONLY]`. Selecting while
//! a mailbox is selected deselects it first (without expunge), also when the new one fails.

use wildduck_core::ErrorKind;
use wildduck_core::service::view::MailboxView;

use crate::session::{Context, Reply, Selected, Then};

/// The system flags, in WildDuck's order.
pub const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Draft \\Deleted \\Seen";

/// Handles SELECT and EXAMINE.
pub async fn handle(ctx: &mut Context<'_>, name: &str, read_only: bool, condstore: bool) -> Reply {
    let command = if read_only { "EXAMINE" } else { "SELECT" };
    ctx.session.selected = None;
    ctx.session.select_count = ctx.session.select_count.saturating_add(1);
    if ctx.session.select_count > ctx.config().max_selects {
        ctx.untagged(&format!(
            "BYE Too many {command} commands issued, please reconnect"
        ));
        return Reply::no(format!("{command} completed")).then(Then::Close);
    }
    if name.is_empty() {
        return Reply::no_code("NONEXISTENT", format!("{command} completed"));
    }
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad(format!("{command} not allowed now"));
    };
    // The mailbox, its UIDs and the journal position in one read.
    let (mb, view) = match ctx.services().select_mailbox(user, name).await {
        Ok((mb, _)) if mb.hidden => {
            return Reply::no_code("CANNOT", format!("{command} completed"));
        }
        Ok(found) => found,
        Err(e) if e.kind() == ErrorKind::Invalid => {
            return Reply::no_code("NONEXISTENT", format!("{command} completed"));
        }
        Err(e) => return crate::error::reply(&e, command),
    };
    if condstore {
        ctx.session.condstore = true;
    }
    // The mailbox was read before the UID list: never announce a UIDNEXT at or below a UID the
    // client is shown.
    let last = view.uids().last().map_or(0, |u| u.0);
    let uid_next = mb.uid_next.0.max(last.saturating_add(1));
    let modseq = view.modseq.0.max(mb.modify_index.0);
    write_select_responses(ctx, &mb.flags, mb.uid_validity, &view, uid_next, modseq);
    ctx.session.selected = Some(Box::new(Selected {
        mailbox: mb,
        view,
        read_only,
        deferred_expunges: Vec::new(),
    }));
    let code = if read_only { "READ-ONLY" } else { "READ-WRITE" };
    let suffix = if ctx.session.condstore {
        ", CONDSTORE is now enabled"
    } else {
        ""
    };
    Reply::ok_code(code, format!("{command} completed{suffix}"))
}

fn write_select_responses(
    ctx: &mut Context<'_>,
    keywords: &[String],
    uid_validity: u32,
    view: &MailboxView,
    uid_next: u32,
    modseq: u64,
) {
    let mut flags = String::from(SYSTEM_FLAGS);
    for k in keywords {
        flags.push(' ');
        flags.push_str(k);
    }
    ctx.untagged(&format!("FLAGS ({flags})"));
    ctx.untagged(&format!(
        "OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted"
    ));
    ctx.untagged(&format!(
        "OK [UIDVALIDITY {}] UIDs valid",
        uid_validity.max(1)
    ));
    ctx.untagged(&format!("{} EXISTS", view.len()));
    ctx.untagged("0 RECENT");
    ctx.untagged(&format!("OK [HIGHESTMODSEQ {modseq}] Highest"));
    ctx.untagged(&format!("OK [UIDNEXT {uid_next}] Predicted next UID"));
}
