//! `COPY` / `UID COPY` (RFC 3501 §6.4.7, UIDPLUS `COPYUID` of RFC 4315).
//!
//! The copy runs in bulk in the core; the answer is `OK [COPYUID uidvalidity src dst]`, or
//! `NO [TRYCREATE]` when the destination does not exist. Copying into the selected mailbox itself
//! announces the new messages at once (`* n EXISTS`): the session's own journal entries are not
//! read back.

use wildduck_core::model::{Mailbox, Uid, UidSet, UserId};
use wildduck_core::service::Services;
use wildduck_core::store::CopiedUid;

use crate::proto::SequenceSet;
use crate::session::{Context, Reply, Selected};

/// The first steps COPY and MOVE share: the UIDs of `set` the session knows (sorted) and the
/// target mailbox. `Err` is the reply to send at once: `NO [TRYCREATE]` for a missing target, or
/// `OK` when none of the messages exist (nothing to do, as WildDuck answers).
pub(crate) async fn known_and_target(
    services: &Services,
    user: UserId,
    sel: &Selected,
    (uid, set): (bool, &SequenceSet),
    mailbox: &str,
    name: &str,
) -> Result<(UidSet, Mailbox), Reply> {
    let known: UidSet = set
        .resolve(uid, sel.view.uids())
        .filter_sorted(sel.view.uids())
        .into_iter()
        .collect();
    let target = services
        .find_mailbox(user, mailbox)
        .await
        .map_err(|e| crate::error::reply_trycreate(&e, name))?;
    if known.is_empty() {
        return Err(Reply::ok(format!("{name} completed")));
    }
    Ok((known, target))
}

/// The `COPYUID` code for copied pairs (sorted by source UID, so both sets list the UIDs in
/// corresponding order).
pub fn copyuid_code(uid_validity: u32, pairs: &[CopiedUid]) -> String {
    let src: UidSet = pairs.iter().map(|p| p.source).collect();
    let dst: UidSet = pairs.iter().map(|p| p.target).collect();
    format!("COPYUID {uid_validity} {src} {dst}")
}

/// Adds UIDs the session itself created in the selected mailbox to the view and queues the new
/// `* n EXISTS`.
pub fn announce_own(ctx: &mut Context<'_>, uids: impl IntoIterator<Item = Uid>) {
    let Some(sel) = ctx.session.selected.as_deref_mut() else {
        return;
    };
    let before = sel.view.len();
    for u in uids {
        sel.view.add(u);
    }
    let after = sel.view.len();
    if after != before {
        ctx.untagged(&format!("{after} EXISTS"));
    }
}

/// Runs COPY / UID COPY.
pub async fn handle(ctx: &mut Context<'_>, uid: bool, set: &SequenceSet, mailbox: &str) -> Reply {
    let name = if uid { "UID COPY" } else { "COPY" };
    let Some(user) = ctx.session.user_id() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    let session_id = ctx.session.id.clone();
    let shared = ctx.shared;
    let services = &shared.services;
    let Some(sel) = ctx.session.selected.as_deref() else {
        return Reply::bad(format!("{name} not allowed now"));
    };
    let (known, target) =
        match known_and_target(services, user, sel, (uid, set), mailbox, name).await {
            Ok(found) => found,
            Err(reply) => return reply,
        };
    let source = sel.mailbox.clone();
    let copied = match services
        .copy_messages_to(user, &source, &known, &target, Some(&session_id))
        .await
    {
        Ok(c) => c,
        Err(e) => return crate::error::reply_trycreate(&e, name),
    };
    if copied.uids.is_empty() {
        return Reply::ok(format!("{name} completed"));
    }
    if target.id == source.id {
        announce_own(ctx, copied.uids.iter().map(|p| p.target));
    }
    Reply::ok_code(
        copyuid_code(copied.uid_validity, &copied.uids),
        format!("{name} completed"),
    )
}
