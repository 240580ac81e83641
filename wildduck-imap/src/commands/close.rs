//! `CLOSE` (RFC 3501 §6.4.2): silently expunges `\Deleted` messages when the mailbox is
//! read-write, then leaves the Selected state. The mailbox is closed whatever the expunge did.

use crate::session::{Context, Reply};

/// Runs CLOSE.
pub async fn handle(ctx: &mut Context<'_>) -> Reply {
    let read_only = ctx.session.selected.as_deref().is_none_or(|s| s.read_only);
    if !read_only && let Err(e) = super::expunge::expunge_selected(ctx, None).await {
        // As WildDuck: the mailbox is closed anyway; the failure is only logged.
        tracing::warn!(session = %ctx.session.id, error = %e, "expunge on CLOSE failed");
    }
    ctx.session.selected = None;
    Reply::ok("CLOSE completed")
}
