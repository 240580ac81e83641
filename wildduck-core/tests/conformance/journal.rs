//! Session views and the journal: entries written out of MODSEQ order (the MODSEQ is allocated
//! before the entry is journaled, so a concurrent writer's higher MODSEQ can land first) are
//! still applied, exactly once.

use wildduck_core::model::{JournalCommand, JournalEntry, MailboxId, ModSeq, Uid, UserId};
use wildduck_core::service::Services;
use wildduck_core::service::view::ViewChange;

use super::new_user;

fn entry(
    user: UserId,
    mailbox: MailboxId,
    command: JournalCommand,
    uid: u32,
    modseq: u64,
    flags: &[&str],
) -> JournalEntry {
    JournalEntry {
        user,
        mailbox,
        command: Some(command),
        uid: Some(Uid(uid)),
        modseq: ModSeq(modseq),
        flags: Some(flags.iter().map(|f| (*f).to_string()).collect()),
        ..Default::default()
    }
}

/// Runs the journal ordering checks against `s`.
pub async fn run_all(s: &Services) {
    late_entries_are_applied_once(s).await;
}

async fn late_entries_are_applied_once(s: &Services) {
    let u = s.create_user(new_user("late.journal")).await.expect("user");
    let inbox = s
        .list_mailboxes(u.id, false)
        .await
        .expect("list")
        .into_iter()
        .find(|m| m.path == "INBOX")
        .expect("inbox");
    let journal = &s.backend().journal;
    let mut view = s.open_view(u.id, inbox.id).await.expect("view");
    assert!(view.is_empty());
    let base = view.modseq.0;
    let e =
        |cmd, uid, step: u64, flags: &[&str]| entry(u.id, inbox.id, cmd, uid, base + step, flags);

    // Writer B (MODSEQ base+2, UID 2) journals before writer A (base+1, UID 1).
    journal
        .append(&[e(JournalCommand::Exists, 2, 2, &[])])
        .await
        .expect("append 2");
    let c = s.refresh_view(&mut view, None).await.expect("refresh 1");
    assert_eq!(c, vec![ViewChange::Exists(1)]);
    assert_eq!(view.modseq, ModSeq(base + 2));
    journal
        .append(&[e(JournalCommand::Exists, 1, 1, &[])])
        .await
        .expect("append 1");
    let c = s.refresh_view(&mut view, None).await.expect("refresh 2");
    assert_eq!(
        c,
        vec![ViewChange::Exists(2)],
        "the late EXISTS is announced"
    );
    assert_eq!(view.uids(), &[Uid(1), Uid(2)]);
    assert_eq!(view.modseq, ModSeq(base + 2));
    let c = s.refresh_view(&mut view, None).await.expect("refresh 3");
    assert!(c.is_empty(), "nothing twice: {c:?}");

    // A flag change (base+4) lands before an expunge (base+3).
    journal
        .append(&[e(JournalCommand::Fetch, 2, 4, &["\\Seen"])])
        .await
        .expect("append 4");
    let c = s.refresh_view(&mut view, None).await.expect("refresh 4");
    assert_eq!(
        c,
        vec![ViewChange::Fetch {
            seq: 2,
            uid: Uid(2),
            flags: vec!["\\Seen".into()],
            modseq: ModSeq(base + 4)
        }]
    );
    journal
        .append(&[e(JournalCommand::Expunge, 1, 3, &[])])
        .await
        .expect("append 3");
    let c = s.refresh_view(&mut view, None).await.expect("refresh 5");
    assert_eq!(c, vec![ViewChange::Expunge(1), ViewChange::Exists(1)]);
    assert_eq!(view.uids(), &[Uid(2)]);
    assert_eq!(view.modseq, ModSeq(base + 4));
    let c = s.refresh_view(&mut view, None).await.expect("refresh 6");
    assert!(c.is_empty(), "nothing twice: {c:?}");

    // Stale late changes: an older flag change of UID 2 and the EXISTS of a message whose
    // expunge was already applied announce nothing.
    journal
        .append(&[
            e(JournalCommand::Fetch, 2, 6, &["\\Answered"]),
            e(JournalCommand::Expunge, 3, 8, &[]),
        ])
        .await
        .expect("append 6, 8");
    let c = s.refresh_view(&mut view, None).await.expect("refresh 7");
    assert_eq!(
        c,
        vec![ViewChange::Fetch {
            seq: 1,
            uid: Uid(2),
            flags: vec!["\\Answered".into()],
            modseq: ModSeq(base + 6)
        }],
        "UID 3 was never in the view"
    );
    journal
        .append(&[
            e(JournalCommand::Fetch, 2, 5, &["\\Flagged"]),
            e(JournalCommand::Exists, 3, 7, &[]),
        ])
        .await
        .expect("append 5, 7");
    let c = s.refresh_view(&mut view, None).await.expect("refresh 8");
    assert!(c.is_empty(), "stale entries applied: {c:?}");
    assert_eq!(view.uids(), &[Uid(2)]);
    assert_eq!(view.modseq, ModSeq(base + 8));
    let c = s.refresh_view(&mut view, None).await.expect("refresh 9");
    assert!(c.is_empty(), "nothing twice: {c:?}");
    assert!(view.remembered() <= 8, "bounded: {}", view.remembered());

    // A second view opened now. The mailbox's own MODSEQ and messages never moved (these
    // entries were written directly), so what the view replays depends on how the backend finds
    // entries: with a journal position the mailbox state at opening is the truth and nothing
    // earlier is read again; with the grace window it replays everything in MODSEQ order and ends
    // in the same state as the first view.
    let positioned = journal.position().await.expect("position").is_some();
    let mut other = s.open_view(u.id, inbox.id).await.expect("view 2");
    let c = s
        .refresh_view(&mut other, None)
        .await
        .expect("refresh other");
    if positioned {
        assert!(c.is_empty(), "replayed from before the opening: {c:?}");
        assert!(other.is_empty());
        return;
    }
    assert_eq!(other.uids(), view.uids());
    assert_eq!(other.modseq, view.modseq);
    assert_eq!(
        c.last(),
        Some(&ViewChange::Fetch {
            seq: 1,
            uid: Uid(2),
            flags: vec!["\\Answered".into()],
            modseq: ModSeq(base + 6)
        })
    );
}
