//! `STORE` / `UID STORE` (RFC 3501 §6.4.6, RFC 7162 `UNCHANGEDSINCE`).
//!
//! One flag change in the core for the whole set (one new MODSEQ). Untagged `FETCH` answers go
//! out for the messages that changed: `FLAGS`, `UID` for UID STORE, `MODSEQ` when CONDSTORE is on,
//! and even for `.SILENT` when CONDSTORE is on (as WildDuck and RFC 7162 §3.2 do). Messages
//! refused by `UNCHANGEDSINCE` are reported as `OK [MODIFIED set]`; a STORE naming a message
//! expunged elsewhere but not announced yet answers `NO Some of the messages no longer exist`.

use wildduck_core::model::{FlagOp, Flags, ModSeq, UidSet};

use crate::proto::{StoreAction, StoreCommand};
use crate::response::{write_flags, write_number};
use crate::session::{Context, Reply};

/// Runs STORE / UID STORE.
pub async fn handle(ctx: &mut Context<'_>, cmd: StoreCommand) -> Reply {
    let name = if cmd.uid { "UID STORE" } else { "STORE" };
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    if cmd.unchanged_since.is_some() {
        ctx.session.condstore = true;
    }
    let condstore = ctx.session.condstore;
    let session_id = ctx.session.id.clone();
    let shared = ctx.shared;
    let Some(sel) = ctx.session.selected.as_deref_mut() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    if sel.read_only {
        return Reply::ok(format!("{name} ignored with read-only mailbox"));
    }
    let flags: Flags = cmd.flags.iter().cloned().collect();
    let op = match cmd.action {
        StoreAction::Replace => FlagOp::Replace(flags),
        StoreAction::Add => FlagOp::Add(flags),
        StoreAction::Remove => FlagOp::Remove(flags),
    };
    let requested = cmd.set.resolve(cmd.uid, sel.view.uids());
    let known: UidSet = requested
        .filter_sorted(sel.view.uids())
        .into_iter()
        .collect();
    if known.is_empty() {
        return Reply::ok(format!("{name} completed"));
    }
    let result = match shared
        .services
        .store_flags(
            user,
            &sel.mailbox,
            &known,
            &op,
            cmd.unchanged_since.map(ModSeq),
            Some(&session_id),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return crate::error::reply(&e, name),
    };
    if !cmd.silent || condstore {
        let mut buf = Vec::new();
        for c in &result.changed {
            let Some(seq) = sel.view.seq(c.uid) else {
                continue;
            };
            buf.extend_from_slice(b"* ");
            write_number(&mut buf, u64::from(seq));
            buf.extend_from_slice(b" FETCH (FLAGS ");
            write_flags(&mut buf, &c.flags);
            if cmd.uid {
                buf.extend_from_slice(b" UID ");
                write_number(&mut buf, u64::from(c.uid.0));
            }
            if condstore {
                buf.extend_from_slice(b" MODSEQ (");
                write_number(&mut buf, c.modseq.0);
                buf.push(b')');
            }
            buf.extend_from_slice(b")\r\n");
        }
        ctx.io.write(&buf);
    }
    if !result.refused.is_empty() {
        // MODIFIED lists sequence numbers for STORE and UIDs for UID STORE (RFC 7162 §3.2).
        let modified: UidSet = if cmd.uid {
            result.refused.iter().copied().collect()
        } else {
            let mut s = UidSet::new();
            for uid in &result.refused {
                if let Some(seq) = sel.view.seq(*uid) {
                    s.insert(seq);
                }
            }
            s
        };
        if !modified.is_empty() {
            return Reply::ok_code(
                format!("MODIFIED {modified}"),
                format!("Conditional {name} failed"),
            );
        }
    }
    // As WildDuck: a non-silent STORE that named a message expunged elsewhere (not announced
    // yet) says so.
    if !cmd.silent && sel.deferred_expunges.iter().any(|u| known.contains(u.0)) {
        return Reply::no("Some of the messages no longer exist");
    }
    if cmd.unchanged_since.is_some() {
        Reply::ok(format!("Conditional {name} completed"))
    } else {
        Reply::ok(format!("{name} completed"))
    }
}
