//! `RENAME from to`: INBOX and hidden mailboxes cannot be renamed; children are not moved
//! (WildDuck's documented deviation, flat storage).

use crate::commands::find_mailbox;
use crate::session::{Context, Reply};

/// Handles RENAME.
pub async fn handle(ctx: &mut Context<'_>, from: &str, to: &str) -> Reply {
    if from.is_empty() || to.is_empty() {
        return Reply::no_code("CANNOT", "No folder name given");
    }
    if from.contains("//") || to.contains("//") {
        return Reply::no_code("CANNOT", "Adjacent hierarchy separators are not supported");
    }
    if from == "INBOX" {
        return Reply::no_code("CANNOT", "INBOX can not be renamed");
    }
    if to == "INBOX" {
        return Reply::no_code("ALREADYEXISTS", "INBOX already exists");
    }
    let mb = match find_mailbox(ctx, from, "RENAME").await {
        Ok(mb) => mb,
        Err(r) => return r,
    };
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad("RENAME not allowed now");
    };
    match ctx.services().rename_mailbox(user, mb.id, to).await {
        Ok(renamed) => {
            if let Some(sel) = ctx.session.selected.as_deref_mut()
                && sel.mailbox.id == renamed.id
            {
                sel.mailbox.path = renamed.path;
            }
            Reply::ok("RENAME completed")
        }
        Err(e) => crate::error::reply(&e, "RENAME"),
    }
}
