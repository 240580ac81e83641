//! `SETQUOTA` (RFC 2087): quotas are set through the API only; WildDuck always refuses.

use crate::session::{Context, Reply};

/// `NO [CANNOT] Permission denied.`
pub fn handle(_ctx: &mut Context<'_>) -> Reply {
    Reply::no_code("CANNOT", "Permission denied.")
}
