//! `CHECK` (RFC 3501 §6.4.1): nothing to checkpoint (every change is stored when made); the
//! dispatcher writes pending mailbox changes before the tagged line, as for NOOP.

use crate::session::{Context, Reply};

/// Runs CHECK.
pub fn handle(_ctx: &mut Context<'_>) -> Reply {
    Reply::ok("CHECK completed")
}
