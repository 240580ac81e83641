//! `UNSELECT` (RFC 3691): leaves the Selected state without expunging.

use crate::session::{Context, Reply};

/// Runs UNSELECT.
pub fn handle(ctx: &mut Context<'_>) -> Reply {
    ctx.session.selected = None;
    Reply::ok("UNSELECT completed")
}
