//! `STARTTLS` (any state, plaintext only): tagged OK, then the TLS handshake on the same socket
//! (SNI from the listener's resolver). Anything the client pipelined after the command is
//! discarded (it was sent in plaintext, RFC 3501 §6.2.1).

use crate::session::{Context, Reply, Then};

/// Upgrades the connection.
pub fn handle(ctx: &mut Context<'_>) -> Reply {
    if ctx.io.is_tls() {
        return Reply::no("Connection is already secured");
    }
    if ctx.session.starttls.is_none() {
        return Reply::bad("Unknown command: STARTTLS");
    }
    Reply::ok("Begin TLS negotiation now").then(Then::StartTls)
}
