//! `LOGOUT` (any state): `* BYE Logout requested`, then a tagged OK with one of the configured
//! quotes (WildDuck's duck quotes), then the connection closes.

use rand::Rng as _;

use crate::session::{Context, Reply, Then};

/// Says goodbye.
pub fn handle(ctx: &mut Context<'_>) -> Reply {
    ctx.untagged("BYE Logout requested");
    ctx.session.selected = None;
    let quotes = &ctx.config().quotes;
    let text = if quotes.is_empty() {
        "LOGOUT completed".to_string()
    } else {
        let i = rand::rng().random_range(0..quotes.len());
        quotes
            .get(i)
            .cloned()
            .unwrap_or_else(|| "LOGOUT completed".into())
    };
    Reply::ok(text).then(Then::Close)
}
