//! `DELETE mailbox`: INBOX, special-use and hidden mailboxes cannot be deleted (`NO [CANNOT]`).
//! The core removes the messages and journals the deletion; other sessions that have the
//! mailbox selected are told through the bus.

use crate::commands::find_mailbox;
use crate::session::{Context, Reply};

/// Handles DELETE.
pub async fn handle(ctx: &mut Context<'_>, name: &str) -> Reply {
    if name.is_empty() {
        return Reply::no_code("CANNOT", "No folder name given");
    }
    if name == "INBOX" {
        return Reply::no_code("CANNOT", "INBOX can not be deleted");
    }
    let mb = match find_mailbox(ctx, name, "DELETE").await {
        Ok(mb) => mb,
        Err(r) => return r,
    };
    if mb.special_use.is_some() {
        return Reply::no_code("CANNOT", "Special use folders can not be deleted");
    }
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad("DELETE not allowed now");
    };
    match ctx.services().delete_mailbox(user, mb.id).await {
        Ok(()) => {
            // Sessions (here or on other instances) with this mailbox selected must go.
            if let Some(n) = ctx.services().notifier() {
                let payload = serde_json::json!({"command": "DROP", "mailbox": mb.id.to_string()});
                if let Err(e) = n.publish(&user.to_string(), Some(payload)).await {
                    tracing::warn!(error = %e, "DROP notification failed");
                }
            }
            if ctx
                .session
                .selected
                .as_ref()
                .is_some_and(|s| s.mailbox.id == mb.id)
            {
                ctx.session.selected = None;
            }
            Reply::ok("DELETE completed")
        }
        Err(e) => crate::error::reply(&e, "DELETE"),
    }
}
