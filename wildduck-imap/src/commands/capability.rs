//! `CAPABILITY` (any state): `* CAPABILITY …` as it stands for this connection.

use crate::session::{Context, Reply};

/// Writes the capability list.
pub fn handle(ctx: &mut Context<'_>) -> Reply {
    let caps = ctx.capabilities();
    ctx.untagged(&format!("CAPABILITY {caps}"));
    Reply::ok("CAPABILITY completed")
}
