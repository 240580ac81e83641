//! The archive of deleted messages over the services: what a delete archives (not drafts, not
//! with the archive skipped, not a MOVE), quota and attachment references while archived,
//! listing, restoring one (original mailbox, a given one, INBOX when the original is gone,
//! over quota), restoring a range, purging expired entries, foreign and unknown ids.

use wildduck_core::ErrorKind;
use wildduck_core::model::{
    Flag, FlagOp, Flags, JournalCommand, MailboxId, MessageId, Timestamp, Uid, UidSet, UserUpdate,
};
use wildduck_core::service::Services;
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;

use super::messages::{mail, mail_with_attachment};

fn user(name: &str) -> NewUser {
    NewUser {
        username: name.to_string(),
        password: Some("pw".into()),
        ..Default::default()
    }
}

fn flags(f: &[&str]) -> Flags {
    Flags::parse(f).expect("flags")
}

async fn storage(s: &Services, u: wildduck_core::model::UserId) -> i64 {
    s.get_user(u).await.expect("user").storage_used
}

async fn refs(s: &Services, hash: &str) -> i64 {
    s.backend()
        .attachments
        .blob_refs(hash)
        .await
        .expect("refs")
        .map(|(c, _)| c)
        .unwrap_or(0)
}

async fn append(
    s: &Services,
    u: wildduck_core::model::UserId,
    mb: MailboxId,
    raw: &[u8],
    f: &[&str],
) -> wildduck_core::service::messages::Appended {
    s.append(
        u,
        mb,
        AppendRequest {
            raw,
            flags: flags(f),
            ..Default::default()
        },
    )
    .await
    .expect("append")
}

/// Runs every archive check against `s`.
pub async fn run_all(s: &Services) {
    archive_and_restore(s).await;
    range_restore_and_purge(s).await;
    restore_task(s).await;
    deleted_mailbox(s).await;
}

/// Deleting a mailbox archives its messages (not drafts) and releases their quota; a restore
/// puts them into INBOX, the mailbox being gone.
async fn deleted_mailbox(s: &Services) {
    let u = s.create_user(user("arch.folder")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let folder = s.create_mailbox(u.id, "Projects").await.expect("create");
    let empty = storage(s, u.id).await;
    let kept = append(s, u.id, folder.id, &mail("project", "", "p"), &[]).await;
    append(s, u.id, folder.id, &mail("draft", "", "d"), &["\\Draft"]).await;
    s.delete_mailbox(u.id, folder.id).await.expect("delete box");
    assert_eq!(storage(s, u.id).await, empty, "quota released");
    let archived = s.list_archived(u.id).await.expect("list");
    assert_eq!(archived.len(), 1, "the draft is not archived");
    assert_eq!(archived[0].meta.id, kept.id);
    let r = s
        .restore_archived(u.id, kept.id, None)
        .await
        .expect("restore");
    assert_eq!(r.mailbox, inbox.id, "the mailbox is gone: INBOX");
    assert!(s.list_archived(u.id).await.expect("list").is_empty());
}

/// The range restore as WildDuck's `restore` task through the task queue.
async fn restore_task(s: &Services) {
    let u = s.create_user(user("arch.task")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    append(s, u.id, inbox.id, &mail("queued", "", "q"), &["\\Deleted"]).await;
    // A second of margin each side: this checks the queue, not the range's edges (those are
    // range_restore_and_purge's). With edges taken right around the expunge, one run in about
    // eight on the MongoDB-wire test server left the entry archived (cause not pinned down).
    let start = Timestamp(Timestamp::now().0 - 1000);
    s.expunge(u.id, &inbox, None, None).await.expect("expunge");
    let end = Timestamp(Timestamp::now().0 + 1000);
    let task = s
        .schedule_archive_restore(u.id, start, end)
        .await
        .expect("schedule");
    let queued = s
        .backend()
        .tasks
        .get_task(task)
        .await
        .expect("get")
        .expect("queued");
    assert_eq!(queued.kind, "restore");
    assert_eq!(queued.user, Some(u.id));
    assert_eq!(s.list_archived(u.id).await.expect("list").len(), 1);
    let pass = s.run_due_tasks(Timestamp::now()).await.expect("pass");
    assert_eq!((pass.completed, pass.failed), (1, 0));
    assert!(s.list_archived(u.id).await.expect("list").is_empty());
    let restored = s
        .list_mailboxes(u.id, false)
        .await
        .expect("boxes")
        .into_iter()
        .find(|m| m.path.starts_with("Restored ("))
        .expect("restore folder");
    assert_eq!(s.message_counts(&restored).await.expect("counts").0, 1);
    assert_eq!(
        s.schedule_archive_restore(wildduck_core::model::UserId::new(), start, end)
            .await
            .expect_err("no user")
            .kind(),
        ErrorKind::NotFound
    );
}

async fn archive_and_restore(s: &Services) {
    let u = s.create_user(user("arch.one")).await.expect("user");
    let other = s.create_user(user("arch.other")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let token = format!("archive-{}", MessageId::new());
    let att = mail_with_attachment("archived att", &token);
    let hash = wildduck_core::message::ingest(&att)
        .expect("ingest")
        .blobs
        .first()
        .map(|b| b.hash.clone())
        .unwrap_or_default();
    let a1 = append(s, u.id, inbox.id, &att, &["\\Seen", "$Label1"]).await;
    let a2 = append(s, u.id, inbox.id, &mail("plain", "", "body"), &[]).await;
    let draft = append(s, u.id, inbox.id, &mail("draft", "", "d"), &["\\Draft"]).await;
    assert!(s.list_archived(u.id).await.expect("list").is_empty());
    let used = storage(s, u.id).await;

    // EXPUNGE archives 1 and 2 (not the draft): quota drops, the attachment stays referenced.
    s.store_flags(
        u.id,
        &inbox,
        &UidSet::all(),
        &FlagOp::Add(flags(&["\\Deleted"])),
        None,
        None,
    )
    .await
    .expect("flag");
    let gone = s.expunge(u.id, &inbox, None, None).await.expect("expunge");
    assert_eq!(gone.uids, [a1.uid, a2.uid, draft.uid]);
    assert_eq!(
        storage(s, u.id).await,
        used - (a1.size + a2.size + draft.size) as i64
    );
    assert_eq!(
        refs(s, &hash).await,
        1,
        "the archived copy keeps its reference"
    );
    let listed = s.list_archived(u.id).await.expect("list");
    let ids: Vec<MessageId> = listed.iter().map(|a| a.meta.id).collect();
    assert_eq!(ids, [a2.id, a1.id], "newest first, no draft");
    let first = listed.last().expect("a1");
    assert_eq!(first.meta.mailbox, inbox.id);
    assert_eq!(first.meta.uid, a1.uid);
    assert!(first.archived.0 > 0 && first.expires.0 > first.archived.0);
    let days = (first.expires.0 - first.archived.0) / 86_400_000;
    assert_eq!(days, 25, "WildDuck's const:archive:time");
    assert!(s.list_archived(other.id).await.expect("other").is_empty());
    let fetched = s.fetch_archived(u.id, &[a1.id]).await.expect("fetch");
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        fetched
            .first()
            .map(|(_, f)| f.message.data.subject.as_str()),
        Some("archived att")
    );
    assert!(
        s.fetch_archived(other.id, &[a1.id])
            .await
            .expect("foreign")
            .is_empty()
    );

    // Restore one: back into INBOX with a new UID and MODSEQ, EXISTS journaled, quota charged,
    // flags kept, gone from the archive.
    let before = s.get_mailbox(u.id, inbox.id).await.expect("mb");
    let r = s
        .restore_archived(u.id, a1.id, None)
        .await
        .expect("restore");
    assert_eq!(r.mailbox, inbox.id);
    assert_eq!(r.id, a1.id, "the id is kept, as WildDuck keeps _id");
    assert!(r.uid >= before.uid_next && r.modseq > before.modify_index);
    let j = s
        .backend()
        .journal
        .since(inbox.id, before.modify_index)
        .await
        .expect("journal");
    assert!(j.iter().any(|e| e.command == Some(JournalCommand::Exists)
        && e.uid == Some(r.uid)
        && e.message == Some(a1.id)));
    let metas = s
        .fetch_meta(u.id, &inbox, &Default::default())
        .await
        .expect("meta");
    let m = metas.iter().find(|m| m.uid == r.uid).expect("restored");
    assert!(m.flags.contains(&Flag::Seen) && m.flags.contains(&Flag::Deleted));
    assert!(m.flags.keywords().any(|k| k == "$Label1"));
    assert_eq!(storage(s, u.id).await, used - (a2.size + draft.size) as i64);
    assert_eq!(
        refs(s, &hash).await,
        1,
        "the reference passed to the message"
    );
    let got = s
        .fetch_messages(u.id, &inbox, &UidSet::range(r.uid.0, r.uid.0))
        .await
        .expect("fetch");
    assert_eq!(
        got.first().map(|f| f.raw().expect("raw")),
        Some(att.clone())
    );
    assert_eq!(
        s.restore_archived(u.id, a1.id, None)
            .await
            .expect_err("restored already")
            .kind(),
        ErrorKind::NotFound
    );

    // Unknown and foreign ids.
    for (who, id) in [(u.id, MessageId::new()), (other.id, a2.id)] {
        assert_eq!(
            s.restore_archived(who, id, None)
                .await
                .expect_err("nf")
                .kind(),
            ErrorKind::NotFound
        );
    }

    // Into a given mailbox; a mailbox that is not the user's falls back to INBOX (WildDuck's
    // put()); the API delete archives too.
    let trash = s.find_mailbox(u.id, "Trash").await.expect("trash");
    s.delete_message(u.id, inbox.id, r.uid, None)
        .await
        .expect("delete");
    assert_eq!(refs(s, &hash).await, 1);
    let r2 = s
        .restore_archived(u.id, a1.id, Some(trash.id))
        .await
        .expect("into trash");
    assert_eq!((r2.mailbox, r2.uid), (trash.id, Uid(1)));
    let foreign_inbox = s.find_mailbox(other.id, "INBOX").await.expect("inbox");
    let r3 = s
        .restore_archived(u.id, a2.id, Some(foreign_inbox.id))
        .await
        .expect("foreign target → INBOX");
    assert_eq!(r3.mailbox, inbox.id);

    // The original mailbox is gone: INBOX. Over quota: refused, the entry stays.
    let folder = s.create_mailbox(u.id, "Gone").await.expect("create");
    let g = append(s, u.id, folder.id, &mail("gone", "", "g"), &[]).await;
    s.delete_message(u.id, folder.id, g.uid, None)
        .await
        .expect("delete");
    s.delete_mailbox(u.id, folder.id).await.expect("delete box");
    s.update_user(
        u.id,
        UserUpdate {
            quota: Some(1),
            ..Default::default()
        },
        None,
    )
    .await
    .expect("quota");
    assert_eq!(
        s.restore_archived(u.id, g.id, None)
            .await
            .expect_err("over quota")
            .kind(),
        ErrorKind::OverQuota
    );
    assert_eq!(s.list_archived(u.id).await.expect("list").len(), 1);
    s.update_user(
        u.id,
        UserUpdate {
            quota: Some(1 << 30),
            ..Default::default()
        },
        None,
    )
    .await
    .expect("quota");
    let r4 = s
        .restore_archived(u.id, g.id, None)
        .await
        .expect("to inbox");
    assert_eq!(r4.mailbox, inbox.id);

    // MOVE and an expunge with the archive skipped archive nothing.
    let m = append(s, u.id, inbox.id, &mail("moved", "", "m"), &[]).await;
    s.move_messages(
        u.id,
        &inbox,
        &UidSet::range(m.uid.0, m.uid.0),
        trash.id,
        None,
    )
    .await
    .expect("move");
    let k = append(s, u.id, inbox.id, &mail("skipped", "", "k"), &["\\Deleted"]).await;
    let e = s
        .expunge_archiving(
            u.id,
            &inbox,
            Some(&UidSet::range(k.uid.0, k.uid.0)),
            None,
            false,
        )
        .await
        .expect("skip archive");
    assert_eq!(e.uids, [k.uid]);
    assert!(s.list_archived(u.id).await.expect("list").is_empty());
}

async fn range_restore_and_purge(s: &Services) {
    let u = s.create_user(user("arch.range")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let token = format!("range-{}", MessageId::new());
    let att = mail_with_attachment("range att", &token);
    let hash = wildduck_core::message::ingest(&att)
        .expect("ingest")
        .blobs
        .first()
        .map(|b| b.hash.clone())
        .unwrap_or_default();
    let a = append(s, u.id, inbox.id, &att, &["\\Deleted"]).await;
    append(s, u.id, inbox.id, &mail("b", "", "b"), &["\\Deleted"]).await;
    let start = Timestamp::now();
    s.expunge(u.id, &inbox, None, None).await.expect("expunge");
    let end = Timestamp::now();
    assert_eq!(s.list_archived(u.id).await.expect("list").len(), 2);

    // Nothing in an earlier range.
    let none = s
        .restore_archived_range(u.id, Timestamp(0), Timestamp(start.0 - 1))
        .await
        .expect("empty range");
    assert_eq!((none.restored, none.failed, none.mailbox), (0, 0, None));

    // Both into "Restored (YYYY-MM-DD)", \Deleted cleared.
    let done = s
        .restore_archived_range(u.id, start, end)
        .await
        .expect("range");
    assert_eq!((done.restored, done.failed), (2, 0));
    let target = done.mailbox.expect("target");
    let folder = s.get_mailbox(u.id, target).await.expect("folder");
    assert!(
        folder.path.starts_with("Restored (") && folder.path.ends_with(')'),
        "{}",
        folder.path
    );
    let metas = s
        .fetch_meta(u.id, &folder, &Default::default())
        .await
        .expect("meta");
    assert_eq!(metas.len(), 2);
    assert!(metas.iter().all(|m| !m.flags.contains(&Flag::Deleted)));
    assert!(s.list_archived(u.id).await.expect("list").is_empty());
    assert_eq!(
        s.restore_archived_range(wildduck_core::model::UserId::new(), start, end)
            .await
            .expect_err("no user")
            .kind(),
        ErrorKind::NotFound
    );

    // Purge: nothing before expiry, everything after, references released.
    s.store_flags(
        u.id,
        &folder,
        &UidSet::all(),
        &FlagOp::Add(flags(&["\\Deleted"])),
        None,
        None,
    )
    .await
    .expect("flag");
    s.expunge(u.id, &folder, None, None).await.expect("expunge");
    assert_eq!(refs(s, &hash).await, 1);
    let listed = s.list_archived(u.id).await.expect("list");
    assert_eq!(listed.len(), 2);
    let expires = listed.iter().map(|x| x.expires).min().expect("expires");
    s.purge_expired_archived(Timestamp(expires.0 - 1))
        .await
        .expect("purge early");
    assert_eq!(s.list_archived(u.id).await.expect("list").len(), 2);
    let n = s.purge_expired_archived(expires).await.expect("purge");
    assert!(n >= 2, "purged {n}");
    assert!(s.list_archived(u.id).await.expect("list").is_empty());
    assert_eq!(refs(s, &hash).await, 0, "references released");
    assert_eq!(
        s.restore_archived(u.id, a.id, None)
            .await
            .expect_err("purged")
            .kind(),
        ErrorKind::NotFound
    );
}
