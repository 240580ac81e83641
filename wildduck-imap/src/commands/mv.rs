//! `MOVE` / `UID MOVE` (RFC 6851).
//!
//! The core copies and removes under the source's write lock. The client gets the `COPYUID` in
//! an untagged `OK` first (RFC 6851 §4.3: the tagged response comes after the expunges), then one
//! `* n EXPUNGE` per moved message, then `* n EXISTS` as WildDuck sends, and the tagged `OK`
//! repeating the `COPYUID` for clients that read it there.

use super::copy::{announce_own, copyuid_code, known_and_target};
use crate::proto::SequenceSet;
use crate::response::write_number;
use crate::session::{Context, Reply};

/// Runs MOVE / UID MOVE.
pub async fn handle(ctx: &mut Context<'_>, uid: bool, set: &SequenceSet, mailbox: &str) -> Reply {
    let name = if uid { "UID MOVE" } else { "MOVE" };
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    let session_id = ctx.session.id.clone();
    let shared = ctx.shared;
    let services = &shared.services;
    let Some(sel) = ctx.session.selected.as_deref() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    if sel.read_only {
        return Reply::no_code(
            "READ-ONLY",
            format!("{name} not allowed in a read-only mailbox"),
        );
    }
    let (known, target) =
        match known_and_target(services, user, sel, (uid, set), mailbox, name).await {
            Ok(found) => found,
            Err(reply) => return reply,
        };
    let source = sel.mailbox.clone();
    let moved = match services
        .move_messages(user, &source, &known, target.id, Some(&session_id))
        .await
    {
        Ok(m) => m,
        Err(e) => return crate::error::reply_trycreate(&e, name),
    };
    if moved.uids.is_empty() {
        return Reply::ok(format!("{name} completed"));
    }
    let code = copyuid_code(moved.uid_validity, &moved.uids);
    let mut buf = Vec::new();
    buf.extend_from_slice(format!("* OK [{code}] Moved\r\n").as_bytes());
    let Some(sel) = ctx.session.selected.as_deref_mut() else {
        return Reply::ok_code(code, format!("{name} completed"));
    };
    for p in &moved.uids {
        if let Some(seq) = sel.view.remove(p.source) {
            buf.extend_from_slice(b"* ");
            write_number(&mut buf, u64::from(seq));
            buf.extend_from_slice(b" EXPUNGE\r\n");
        }
    }
    let same = target.id == source.id;
    if !same {
        buf.extend_from_slice(b"* ");
        write_number(&mut buf, u64::from(sel.view.len()));
        buf.extend_from_slice(b" EXISTS\r\n");
    }
    ctx.io.write(&buf);
    if same {
        announce_own(ctx, moved.uids.iter().map(|p| p.target));
    }
    Reply::ok_code(code, format!("{name} completed"))
}
