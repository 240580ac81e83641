//! `GETQUOTA root` (RFC 2087): the only root is `""`; usage and limit in KiB, rounded up
//! (inventory §4.7).

use crate::session::{Context, Reply};

/// Writes `* QUOTA "" (STORAGE used limit)` for the logged-in user.
pub async fn write_quota(ctx: &mut Context<'_>) -> Result<(), Reply> {
    let Some(user) = ctx.session.user_id() else {
        return Err(Reply::bad("not allowed now"));
    };
    let services = ctx.services().clone();
    let u = services
        .get_user(user)
        .await
        .map_err(|e| crate::error::reply(&e, "GETQUOTA"))?;
    let limit = services.quota_limit(&u);
    let used = u64::try_from(u.storage_used).unwrap_or(0);
    ctx.untagged(&format!(
        "QUOTA \"\" (STORAGE {} {})",
        used.div_ceil(1024),
        limit.div_ceil(1024)
    ));
    Ok(())
}

/// Handles GETQUOTA.
pub async fn handle(ctx: &mut Context<'_>, root: &str) -> Reply {
    if !root.is_empty() {
        return Reply::no_code("NONEXISTENT", "GETQUOTA completed");
    }
    match write_quota(ctx).await {
        Ok(()) => Reply::ok("Success"),
        Err(r) => r,
    }
}
