//! Untagged updates of the selected mailbox (EXISTS, EXPUNGE, FETCH FLAGS) caused by other
//! sessions and instances, and the bus's session commands (`LOGOUT`, `DROP`).
//!
//! The session loop calls [`on_notified`] when the user's [`super::notify::SessionHandle`] is
//! signalled while waiting for a command; the dispatcher calls [`flush_pending`] before the
//! tagged line with the [`Allow`] of the command ([`allow_for`]); IDLE calls it whenever it is
//! woken. The journal is read only when a notification said something changed, so a quiet
//! mailbox costs no database query per command.
//!
//! RFC 3501 §7.4.1 forbids EXPUNGE while answering FETCH, STORE or SEARCH (sequence numbers
//! would shift under the client) and when no command is in progress. For those commands
//! [`Allow::NoExpunge`] applies EXISTS and FETCH entries and keeps the UIDs of expunged messages
//! in the session ([`crate::session::Selected::deferred_expunges`], the messages stay in the
//! view); the next command that may show expunges announces them first.

use wildduck_core::model::{JournalCommand, JournalEntry, ModSeq};
use wildduck_core::service::view::{MailboxView, ViewChange};

use crate::proto::CommandBody;
use crate::response::{write_flag_strings, write_number};
use crate::session::Context;

/// Which updates the current command may show; [`allow_for`] picks it for a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// Everything (NOOP, CHECK, IDLE, UID commands, COPY, …).
    All,
    /// EXISTS and FETCH only (FETCH, STORE, SEARCH).
    NoExpunge,
}

/// What a command may show before its tagged response: FETCH, STORE and SEARCH by sequence
/// number must not shift sequence numbers, so expunges wait; everything else, UID variants
/// included (RFC 3501 §7.4.1 allows EXPUNGE there), shows all.
pub fn allow_for(body: &CommandBody) -> Allow {
    match body {
        CommandBody::Fetch(f) if !f.uid => Allow::NoExpunge,
        CommandBody::Store(s) if !s.uid => Allow::NoExpunge,
        CommandBody::Search { uid: false, .. } => Allow::NoExpunge,
        _ => Allow::All,
    }
}

/// Writes the untagged responses for `changes`. FETCH updates carry `UID` and, when CONDSTORE is
/// on, `MODSEQ`.
pub fn write_changes(out: &mut Vec<u8>, changes: &[ViewChange], condstore: bool) {
    for c in changes {
        match c {
            ViewChange::Exists(n) => {
                out.extend_from_slice(b"* ");
                write_number(out, u64::from(*n));
                out.extend_from_slice(b" EXISTS\r\n");
            }
            ViewChange::Expunge(seq) => {
                out.extend_from_slice(b"* ");
                write_number(out, u64::from(*seq));
                out.extend_from_slice(b" EXPUNGE\r\n");
            }
            ViewChange::Fetch {
                seq,
                uid,
                flags,
                modseq,
            } => write_fetch_update(out, *seq, uid.0, flags, condstore.then_some(*modseq)),
        }
    }
}

/// `* seq FETCH (FLAGS (…) UID n [MODSEQ (m)])`.
pub fn write_fetch_update(
    out: &mut Vec<u8>,
    seq: u32,
    uid: u32,
    flags: &[String],
    modseq: Option<ModSeq>,
) {
    out.extend_from_slice(b"* ");
    write_number(out, u64::from(seq));
    out.extend_from_slice(b" FETCH (FLAGS ");
    write_flag_strings(out, flags);
    out.extend_from_slice(b" UID ");
    write_number(out, u64::from(uid));
    if let Some(m) = modseq {
        out.extend_from_slice(b" MODSEQ (");
        write_number(out, m.0);
        out.push(b')');
    }
    out.extend_from_slice(b")\r\n");
}

/// Handles server-pushed payload events (WildDuck's `LOGOUT` and `DROP`): queues the `* BYE` and
/// returns `true` when the connection must close.
fn handle_payloads(ctx: &mut Context<'_>) -> bool {
    let Some(user) = ctx.session.user.as_deref() else {
        return false;
    };
    for p in user.handle.take_payloads() {
        let command = p.get("command").and_then(|c| c.as_str()).unwrap_or("");
        match command {
            "LOGOUT" => {
                let reason = p
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .filter(|r| !r.is_empty() && !r.contains(['\r', '\n']))
                    .unwrap_or("Logout requested")
                    .to_string();
                ctx.untagged(&format!("BYE {reason}"));
                return true;
            }
            "DROP" => {
                let dropped = p.get("mailbox").and_then(|m| m.as_str());
                let selected = ctx
                    .session
                    .selected
                    .as_deref()
                    .is_some_and(|s| Some(s.mailbox.id.to_string().as_str()) == dropped);
                if selected {
                    ctx.untagged("BYE Selected mailbox was deleted, have to disconnect");
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Called when the session was woken between commands (not in IDLE). Handles `LOGOUT`/`DROP` at
/// once (queues `* BYE` and returns `true`: close); plain change events stay pending (the
/// handle keeps its "changed" mark) until a command may report them.
pub async fn on_notified(ctx: &mut Context<'_>) -> bool {
    handle_payloads(ctx)
}

/// Applies journal `entries` to the selected mailbox as `allow` permits and returns the changes
/// to announce, in order.
///
/// With [`Allow::NoExpunge`] an expunge of a message the client sees is not applied: its UID goes
/// to `deferred` (the message stays in the view, so sequence numbers do not move) while
/// everything else (EXISTS, FETCH) is applied. With [`Allow::All`] deferred expunges are
/// announced first (each with the sequence number at that moment), then the entries.
pub fn apply_with_deferral(
    view: &mut MailboxView,
    deferred: &mut Vec<wildduck_core::model::Uid>,
    entries: Vec<JournalEntry>,
    session: Option<&str>,
    allow: Allow,
) -> Vec<ViewChange> {
    let mut out = Vec::new();
    let highest = entries
        .iter()
        .filter(|e| e.mailbox == view.mailbox)
        .map(|e| e.modseq)
        .max();
    let entries = match allow {
        Allow::All => {
            deferred.sort_unstable();
            for uid in deferred.drain(..) {
                if let Some(seq) = view.remove(uid) {
                    out.push(ViewChange::Expunge(seq));
                }
            }
            entries
        }
        Allow::NoExpunge => entries
            .into_iter()
            .filter(|e| {
                let hold = view.is_pending(e)
                    && e.command == Some(JournalCommand::Expunge)
                    && !(session.is_some() && e.ignore.as_deref() == session);
                // Deferred even when the view does not have it yet: an EXISTS for it may be in
                // this batch.
                if hold
                    && let Some(uid) = e.uid
                    && !deferred.contains(&uid)
                {
                    deferred.push(uid);
                }
                !hold
            })
            .collect(),
    };
    let announced_expunges = !out.is_empty();
    let changes = view.apply(&entries, session);
    if let Some(h) = highest {
        // Held-back expunges are remembered in `deferred`; never read them again.
        view.modseq = view.modseq.max(h);
    }
    let ends_with_exists = changes.iter().any(|c| matches!(c, ViewChange::Exists(_)));
    out.extend(changes);
    if announced_expunges && !ends_with_exists {
        // As WildDuck: an EXPUNGE is followed by the new count.
        let pos = out
            .iter()
            .rposition(|c| matches!(c, ViewChange::Expunge(_)))
            .map_or(0, |p| p + 1);
        out.insert(pos, ViewChange::Exists(view.len()));
    }
    out
}

/// Writes the pending updates of the selected mailbox that `allow` permits (reading the journal
/// only when the notifier said something changed). Returns `true` when a pushed `LOGOUT`/`DROP`
/// means the connection must close (the `* BYE` is queued).
///
/// A journal read failure is logged and retried on the next command: the client then learns the
/// changes later.
pub async fn flush_pending(ctx: &mut Context<'_>, allow: Allow) -> bool {
    if handle_payloads(ctx) {
        return true;
    }
    let Some(user) = ctx.session.user.as_deref() else {
        return false;
    };
    let handle = user.handle.clone();
    let condstore = ctx.session.condstore;
    let session_id = ctx.session.id.clone();
    let shared = ctx.shared;
    let Some(sel) = ctx.session.selected.as_deref_mut() else {
        return false;
    };
    let has_deferred = allow == Allow::All && !sel.deferred_expunges.is_empty();
    if !handle.take_changed() && !has_deferred {
        return false;
    }
    let mut out = Vec::new();
    match shared.services.view_entries(&mut sel.view).await {
        Ok(entries) => {
            let changes = apply_with_deferral(
                &mut sel.view,
                &mut sel.deferred_expunges,
                entries,
                Some(&session_id),
                allow,
            );
            write_changes(&mut out, &changes, condstore);
        }
        Err(e) => {
            tracing::warn!(session = %session_id, error = %e, "reading mailbox changes failed");
            handle.mark_changed();
        }
    }
    ctx.write(&out);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use wildduck_core::model::{MailboxId, Uid};

    fn entry(mb: MailboxId, cmd: JournalCommand, uid: u32, modseq: u64) -> JournalEntry {
        JournalEntry {
            mailbox: mb,
            command: Some(cmd),
            uid: Some(Uid(uid)),
            modseq: ModSeq(modseq),
            flags: Some(vec!["\\Seen".into()]),
            ..Default::default()
        }
    }

    #[test]
    fn expunges_wait_for_a_command_that_may_show_them() {
        let mb = MailboxId::new();
        let mut v = MailboxView::new(mb, vec![Uid(1), Uid(2), Uid(3)], ModSeq(5));
        let entries = vec![
            entry(mb, JournalCommand::Fetch, 3, 6),
            entry(mb, JournalCommand::Expunge, 1, 7),
            entry(mb, JournalCommand::Exists, 4, 8),
        ];
        let mut deferred = Vec::new();
        let changes = apply_with_deferral(&mut v, &mut deferred, entries, None, Allow::NoExpunge);
        assert_eq!(
            changes,
            vec![
                ViewChange::Exists(4),
                ViewChange::Fetch {
                    seq: 3,
                    uid: Uid(3),
                    flags: vec!["\\Seen".into()],
                    modseq: ModSeq(6)
                }
            ]
        );
        assert_eq!(v.modseq, ModSeq(8));
        assert_eq!(v.len(), 4);
        let changes = apply_with_deferral(&mut v, &mut deferred, Vec::new(), None, Allow::All);
        assert_eq!(changes, vec![ViewChange::Expunge(1), ViewChange::Exists(3)]);
        let mut out = Vec::new();
        write_changes(&mut out, &changes, false);
        assert_eq!(out, b"* 1 EXPUNGE\r\n* 3 EXISTS\r\n");
    }

    #[test]
    fn deferred_expunges_let_exists_through() {
        let mb = MailboxId::new();
        let mut v = MailboxView::new(mb, vec![Uid(1), Uid(2), Uid(3)], ModSeq(5));
        let mut deferred = Vec::new();
        let entries = vec![
            entry(mb, JournalCommand::Expunge, 1, 7),
            entry(mb, JournalCommand::Exists, 4, 8),
        ];
        let c = apply_with_deferral(&mut v, &mut deferred, entries, None, Allow::NoExpunge);
        assert_eq!(c, vec![ViewChange::Exists(4)]);
        assert_eq!(deferred, vec![Uid(1)]);
        assert_eq!(v.modseq, ModSeq(8));
        let c = apply_with_deferral(&mut v, &mut deferred, Vec::new(), None, Allow::All);
        assert_eq!(c, vec![ViewChange::Expunge(1), ViewChange::Exists(3)]);
        assert!(deferred.is_empty());
        assert_eq!(v.uids(), &[Uid(2), Uid(3), Uid(4)]);
    }

    #[test]
    fn own_and_unknown_expunges_do_not_hold_back() {
        let mb = MailboxId::new();
        let mut v = MailboxView::new(mb, vec![Uid(1), Uid(2)], ModSeq(5));
        let mut own = entry(mb, JournalCommand::Expunge, 1, 6);
        own.ignore = Some("me".into());
        let entries = vec![
            own,
            entry(mb, JournalCommand::Expunge, 9, 7),
            entry(mb, JournalCommand::Exists, 4, 8),
        ];
        let mut deferred = Vec::new();
        let changes =
            apply_with_deferral(&mut v, &mut deferred, entries, Some("me"), Allow::NoExpunge);
        assert_eq!(changes, vec![ViewChange::Exists(3)]);
        // The unknown UID is remembered but announces nothing later.
        let changes = apply_with_deferral(&mut v, &mut deferred, Vec::new(), None, Allow::All);
        assert!(changes.is_empty(), "{changes:?}");
        let mut out = Vec::new();
        write_fetch_update(&mut out, 2, 7, &["\\Seen".into()], Some(ModSeq(9)));
        assert_eq!(out, b"* 2 FETCH (FLAGS (\\Seen) UID 7 MODSEQ (9))\r\n");
    }
}
