//! `IDLE` (RFC 2177).
//!
//! `+ idling`, then pending changes at once; while idling, changes made by other sessions and
//! instances (the notifier wakes the session, the journal says what changed) are pushed as they
//! happen: EXISTS, EXPUNGE, FETCH. Every socket timeout without traffic sends `* OK Still here`
//! instead of closing; after the configured `idle_timeout` (30 min) the server ends with `* BYE IDLE terminated`.
//! `DONE` ends IDLE; a client that sends a command instead gets its IDLE ended and the command
//! run next (WildDuck answers `BAD` and drops it).
//!
//! IDLE is not a long-running command future: [`handle`] only queues `+ idling` and returns
//! [`Then::Idle`]; the session loop then keeps an [`crate::session::Idling`] state and waits in
//! its own read slot (the one it waits in between commands), calling [`before_wait`] before each
//! wait and [`on_input`] with what the wait produced. An idling session therefore costs what a
//! session between commands costs (issue 4's memory target is for sessions in IDLE).

use crate::proto::{FramerEvent, is_idle_done};
use crate::session::io::Input;
use crate::session::updates::{self, Allow};
use crate::session::{Context, Reply, Then};

/// Starts IDLE: queues `+ idling` and tells the session loop to wait in the idling state (the
/// tagged `OK IDLE terminated` is written when IDLE ends).
pub fn handle(ctx: &mut Context<'_>) -> Reply {
    ctx.write(b"+ idling\r\n");
    Reply::ok("IDLE terminated").then(Then::Idle)
}

/// The tagged reply of an IDLE that ends with the connection.
fn terminated_and_close() -> Reply {
    Reply::ok("IDLE terminated").then(Then::Close)
}

/// Runs before every wait of an idling session: writes the pending mailbox changes, sends what
/// is queued and releases buffers. `Some(reply)` ends IDLE (a pushed `LOGOUT`/`DROP`, or the
/// client is gone).
pub async fn before_wait(ctx: &mut Context<'_>) -> Option<Reply> {
    if updates::flush_pending(ctx, Allow::All).await {
        return Some(terminated_and_close());
    }
    if ctx.flush().await.is_err() {
        return Some(terminated_and_close());
    }
    ctx.io.shrink();
    None
}

/// What one input does to an idling session. `deadline_passed`: the IDLE maximum is reached
/// (the wait is bounded by it, and ends with [`Input::Timeout`] then). `None`: keep idling;
/// `Some(reply)`: IDLE ends with this tagged reply.
pub fn on_input(ctx: &mut Context<'_>, input: Input, deadline_passed: bool) -> Option<Reply> {
    match input {
        Input::Notified => None,
        Input::Timeout if deadline_passed => {
            ctx.untagged("BYE IDLE terminated");
            Some(terminated_and_close())
        }
        Input::Timeout => {
            ctx.untagged("OK Still here");
            None
        }
        Input::Event(FramerEvent::Frame(frame)) => {
            if !is_idle_done(&frame) {
                ctx.session.replay = Some(Box::new(frame));
            }
            Some(Reply::ok("IDLE terminated"))
        }
        Input::Event(FramerEvent::Continue) => {
            // The client started a command with a literal instead of DONE: let it send it.
            ctx.write(b"+ Go ahead\r\n");
            None
        }
        Input::Event(_) => Some(Reply::bad("Invalid Idle continuation")),
        Input::Closed => Some(terminated_and_close()),
        Input::Shutdown => {
            ctx.untagged("BYE System shutdown");
            Some(terminated_and_close())
        }
        Input::InflateLimit => {
            ctx.untagged("BYE Too much data, closing connection");
            Some(terminated_and_close())
        }
    }
}
