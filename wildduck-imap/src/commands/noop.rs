//! `NOOP` (any state). Pending mailbox changes are written by the dispatcher before the tagged
//! line, which is what clients poll NOOP for.

use crate::session::{Context, Reply};

/// `OK Nothing done`.
pub fn handle(_ctx: &mut Context<'_>) -> Reply {
    Reply::ok("Nothing done")
}
