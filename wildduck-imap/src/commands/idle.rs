//! `IDLE` (RFC 2177).
//!
//! `+ idling`, then pending changes at once; while idling, changes made by other sessions and
//! instances (the notifier wakes the session, the journal says what changed) are pushed as they
//! happen: EXISTS, EXPUNGE, FETCH. Every socket timeout without traffic sends `* OK Still here`
//! instead of closing; after the configured `idle_timeout` (30 min) the server ends with `* BYE IDLE terminated`.
//! `DONE` ends IDLE; a client that sends a command instead gets its IDLE ended and the command
//! run next (WildDuck answers `BAD` and drops it).

use std::time::Duration;

use crate::proto::{FramerEvent, is_idle_done};
use crate::session::io::Input;
use crate::session::updates::{self, Allow};
use crate::session::{Context, Reply, Then};

/// Runs IDLE, ending it after the configured `idle_timeout` (WildDuck: 30 minutes).
pub async fn handle(ctx: &mut Context<'_>) -> Reply {
    let max = ctx.config().idle_timeout;
    handle_for(ctx, max).await
}

/// Runs IDLE, ending it after `max`.
pub async fn handle_for(ctx: &mut Context<'_>, max: Duration) -> Reply {
    if ctx.continuation("idling").await.is_err() {
        return Reply::ok("IDLE terminated").then(Then::Close);
    }
    let deadline = tokio::time::Instant::now() + max;
    loop {
        if updates::flush_pending(ctx, Allow::All).await {
            return Reply::ok("IDLE terminated").then(Then::Close);
        }
        if ctx.flush().await.is_err() {
            return Reply::ok("IDLE terminated").then(Then::Close);
        }
        ctx.io.shrink();
        let input = match tokio::time::timeout_at(deadline, ctx.next_input()).await {
            Ok(i) => i,
            Err(_) => {
                ctx.untagged("BYE IDLE terminated");
                return Reply::ok("IDLE terminated").then(Then::Close);
            }
        };
        match input {
            Input::Notified => {}
            Input::Timeout => ctx.untagged("OK Still here"),
            Input::Event(FramerEvent::Frame(frame)) => {
                if !is_idle_done(&frame) {
                    ctx.session.replay = Some(frame);
                }
                return Reply::ok("IDLE terminated");
            }
            Input::Event(FramerEvent::Continue) => {
                // The client started a command with a literal instead of DONE: let it send it.
                ctx.write(b"+ Go ahead\r\n");
            }
            Input::Event(_) => {
                return Reply::bad("Invalid Idle continuation");
            }
            Input::Closed => return Reply::ok("IDLE terminated").then(Then::Close),
            Input::Shutdown => {
                ctx.untagged("BYE System shutdown");
                return Reply::ok("IDLE terminated").then(Then::Close);
            }
            Input::InflateLimit => {
                ctx.untagged("BYE Too much data, closing connection");
                return Reply::ok("IDLE terminated").then(Then::Close);
            }
        }
    }
}
