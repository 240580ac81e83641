//! SQLite journal reads for session views continue from a commit-ordered position: a read returns
//! only entries committed since the previous one (no re-read of the grace window on every
//! command, nor on the first read of a newly opened view), while an entry journaled late (below a MODSEQ already applied) is still found once.
#![cfg(feature = "embedded")]

use wildduck_core::model::{JournalCommand, JournalEntry, MailboxId, ModSeq, Uid, UserId};
use wildduck_core::service::users::NewUser;
use wildduck_core::service::view::ViewChange;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::sqlite::SqliteStore;

fn exists(user: UserId, mailbox: MailboxId, uid: u32, modseq: u64) -> JournalEntry {
    JournalEntry {
        user,
        mailbox,
        command: Some(JournalCommand::Exists),
        uid: Some(Uid(uid)),
        modseq: ModSeq(modseq),
        flags: Some(Vec::new()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_reads_only_what_was_committed_since() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("mail.db"))
        .await
        .expect("open");
    let s = Services::new(
        store.backend(),
        None,
        ServiceConfig {
            bcrypt_cost: 4,
            ..Default::default()
        },
    );
    let u = s
        .create_user(NewUser {
            username: "position".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s
        .list_mailboxes(u.id, false)
        .await
        .expect("list")
        .into_iter()
        .find(|m| m.path == "INBOX")
        .expect("inbox");
    let other = s
        .list_mailboxes(u.id, false)
        .await
        .expect("list")
        .into_iter()
        .find(|m| m.path != "INBOX")
        .expect("another mailbox");
    let journal = &s.backend().journal;
    let mut view = s.open_view(u.id, inbox.id).await.expect("view");
    let base = view.modseq.0;

    journal
        .append(&[
            exists(u.id, inbox.id, 1, base + 1),
            exists(u.id, inbox.id, 3, base + 3),
            exists(u.id, other.id, 1, 1),
        ])
        .await
        .expect("append");
    let first = s.view_entries(&mut view).await.expect("read 1");
    assert_eq!(first.len(), 2, "this mailbox's entries only");
    assert_eq!(view.apply(&first, None), vec![ViewChange::Exists(2)]);

    // The grace window would return both entries again; the position returns nothing.
    let again = s.view_entries(&mut view).await.expect("read 2");
    assert!(again.is_empty(), "re-read {} applied entries", again.len());

    // A late writer journals MODSEQ base+2 after base+3 was applied: found once, applied once.
    journal
        .append(&[exists(u.id, inbox.id, 2, base + 2)])
        .await
        .expect("late append");
    let late = s.view_entries(&mut view).await.expect("read 3");
    assert_eq!(late.len(), 1);
    assert_eq!(view.apply(&late, None), vec![ViewChange::Exists(3)]);
    assert_eq!(view.uids(), &[Uid(1), Uid(2), Uid(3)]);
    assert_eq!(view.modseq, ModSeq(base + 3));
    assert!(s.view_entries(&mut view).await.expect("read 4").is_empty());

    // Pruning every row keeps the position (AUTOINCREMENT does not reuse it): later entries are
    // still found.
    journal
        .prune(wildduck_core::model::Timestamp(i64::MAX))
        .await
        .expect("prune");
    assert!(s.view_entries(&mut view).await.expect("read 5").is_empty());
    journal
        .append(&[exists(u.id, inbox.id, 4, base + 4)])
        .await
        .expect("append after prune");
    let after_prune = s.view_entries(&mut view).await.expect("read 6");
    assert_eq!(view.apply(&after_prune, None), vec![ViewChange::Exists(4)]);

    // A view opened now (a new SELECT) starts at the current position: its first read does not
    // return the entries of the last seconds that its state already reflects.
    let mut fresh = s.open_view(u.id, inbox.id).await.expect("second view");
    assert!(
        s.view_entries(&mut fresh)
            .await
            .expect("fresh read")
            .is_empty()
    );
    journal
        .append(&[exists(u.id, inbox.id, 5, base + 5)])
        .await
        .expect("append for the second view");
    assert_eq!(
        s.view_entries(&mut fresh)
            .await
            .expect("fresh read 2")
            .len(),
        1
    );
}
