//! `NAMESPACE` (RFC 2342): one personal namespace with `/` as delimiter, as WildDuck.

use crate::session::{Context, Reply};

/// `* NAMESPACE (("" "/")) NIL NIL`.
pub fn handle(ctx: &mut Context<'_>) -> Reply {
    ctx.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
    Reply::ok("NAMESPACE completed")
}
