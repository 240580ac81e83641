//! The implicit `\Seen` of a one-message FETCH (`Services::fetch_marking_seen` over
//! `MessageStore::load_marking_seen`, which backends may do in fewer round trips): the flag is
//! set with a new MODSEQ from the mailbox, the journal has the change for other sessions, the
//! content comes back byte-exact, and a message already seen is not changed.

use wildduck_core::ErrorKind;
use wildduck_core::model::{Flag, Flags, JournalCommand, ModSeq, Uid, UidSet};
use wildduck_core::service::Services;
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::store::MessageFilter;

use super::messages::{mail, mail_with_attachment};

pub async fn run_all(s: &Services) {
    let u = s
        .create_user(NewUser {
            username: "seenreader".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let plain = mail("unseen", "", "read me");
    let attached = mail_with_attachment("with blob", "c2VlbiBibG9i");
    let read = mail("read", "", "already read");
    for (raw, flags) in [
        (&plain, &[][..]),
        (&attached, &[][..]),
        (&read, &["\\Seen"][..]),
    ] {
        s.append(
            u.id,
            inbox.id,
            AppendRequest {
                raw,
                flags: Flags::parse(flags.iter().copied()).expect("flags"),
                ..Default::default()
            },
        )
        .await
        .expect("append");
    }
    let meta = |uid: u32| stored(s, u.id, &inbox, uid);

    // Unseen: \Seen with a new MODSEQ, journaled with the session as `ignore`.
    let before = s
        .get_mailbox(u.id, inbox.id)
        .await
        .expect("mb")
        .modify_index;
    for (uid, raw) in [(1, &plain), (2, &attached)] {
        let (f, change) = s
            .fetch_marking_seen(u.id, &inbox, Uid(uid), true, Some("reader"))
            .await
            .expect("fetch")
            .expect("present");
        let c = change.expect("changed");
        assert!(c.seen_changed && c.uid == Uid(uid));
        assert!(c.modseq > before, "{:?} after {before:?}", c.modseq);
        assert!(f.meta.flags.contains(&Flag::Seen));
        assert_eq!(f.meta.modseq, c.modseq);
        assert_eq!(&f.raw().expect("raw"), raw, "uid {uid} byte-exact");
        let stored = meta(uid).await;
        assert_eq!(stored.flags.to_strings(), ["\\Seen"]);
        assert_eq!(stored.modseq, c.modseq);
        let mb = s.get_mailbox(u.id, inbox.id).await.expect("mb");
        assert!(mb.modify_index >= c.modseq);
        let entries = s
            .backend()
            .journal
            .since(inbox.id, ModSeq(c.modseq.0 - 1))
            .await
            .expect("journal");
        let e = entries
            .iter()
            .find(|e| e.uid == Some(Uid(uid)) && e.command == Some(JournalCommand::Fetch))
            .expect("journal entry");
        assert_eq!(e.modseq, c.modseq);
        assert_eq!(e.flags.as_deref(), Some(&["\\Seen".to_string()][..]));
        assert_eq!(e.unseen, Some(false));
        assert_eq!(e.ignore.as_deref(), Some("reader"));
    }

    // Already seen: unchanged, no journal entry, content as usual (also without blobs).
    let old = meta(3).await;
    let (f, change) = s
        .fetch_marking_seen(u.id, &inbox, Uid(3), false, None)
        .await
        .expect("fetch")
        .expect("present");
    assert!(change.is_none());
    assert!(f.meta.flags.contains(&Flag::Seen));
    assert_eq!(f.raw().expect("raw"), read);
    let now = meta(3).await;
    assert_eq!(
        (now.modseq, now.flags.to_strings()),
        (old.modseq, old.flags.to_strings())
    );
    let since = s
        .backend()
        .journal
        .since(inbox.id, old.modseq)
        .await
        .expect("journal");
    assert!(!since.iter().any(|e| e.uid == Some(Uid(3))), "{since:?}");

    // Absent UID; someone else's mailbox.
    assert!(
        s.fetch_marking_seen(u.id, &inbox, Uid(99), true, None)
            .await
            .expect("fetch")
            .is_none()
    );
    let other = s
        .create_user(NewUser {
            username: "seenother".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let e = s
        .fetch_marking_seen(other.id, &inbox, Uid(1), true, None)
        .await
        .expect_err("not theirs");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

async fn stored(
    s: &Services,
    user: wildduck_core::model::UserId,
    mailbox: &wildduck_core::model::Mailbox,
    uid: u32,
) -> wildduck_core::model::MessageMeta {
    s.fetch_meta(
        user,
        mailbox,
        &MessageFilter {
            uids: Some(UidSet::range(uid, uid)),
            ..Default::default()
        },
    )
    .await
    .expect("meta")
    .pop()
    .expect("message")
}
