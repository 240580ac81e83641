//! `SUBSCRIBE` / `UNSUBSCRIBE mailbox`: flips the mailbox's `subscribed` flag (LSUB lists only
//! subscribed mailboxes); a missing mailbox is `NO [NONEXISTENT]`.

use crate::commands::find_mailbox;
use crate::session::{Context, Reply};

/// Handles SUBSCRIBE (`subscribe`) and UNSUBSCRIBE.
pub async fn handle(ctx: &mut Context<'_>, name: &str, subscribe: bool) -> Reply {
    let command = if subscribe {
        "SUBSCRIBE"
    } else {
        "UNSUBSCRIBE"
    };
    let mb = match find_mailbox(ctx, name, command).await {
        Ok(mb) => mb,
        Err(r) => return r,
    };
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad(format!("{command} not allowed now"));
    };
    match ctx
        .services()
        .subscribe_mailbox(user, mb.id, subscribe)
        .await
    {
        Ok(()) => Reply::ok(format!("{command} completed")),
        Err(e) => crate::error::reply(&e, command),
    }
}
