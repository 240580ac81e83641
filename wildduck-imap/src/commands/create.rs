//! `CREATE mailbox`: WildDuck's rules first (empty name, a trailing `/` is acknowledged and
//! ignored, `//` refused), then the core's path rules and limits.

use crate::session::{Context, Reply};

/// Handles CREATE.
pub async fn handle(ctx: &mut Context<'_>, name: &str) -> Reply {
    if name.is_empty() {
        return Reply::no_code("CANNOT", "No folder name given");
    }
    if name.ends_with('/') {
        return Reply::ok_code("CANNOT", "Ignoring hierarchy declaration");
    }
    if name.contains("//") {
        return Reply::no_code("CANNOT", "Adjacent hierarchy separators are not supported");
    }
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad("CREATE not allowed now");
    };
    match ctx.services().create_mailbox(user, name).await {
        Ok(_) => Reply::ok("CREATE completed"),
        Err(e) => crate::error::reply(&e, "CREATE"),
    }
}
