//! Message use cases over the services: append, copy, move, expunge, flags, fetch, threads, quota,
//! bad input and injected failures. Written against the traits only, so every backend runs it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use wildduck_core::message::StoredMessage;
use wildduck_core::model::{
    Flag, FlagOp, Flags, JournalCommand, Mailbox, MailboxId, MessageId, MessageMeta, ModSeq,
    Timestamp, Uid, UidSet, User, UserId, UserUpdate,
};
use wildduck_core::service::Services;
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::store::{
    CopiedUid, FlagResult, MessageFilter, MessageStore, NewMessage, UserStore,
};
use wildduck_core::{Error, ErrorKind, Result};

fn user(name: &str) -> NewUser {
    NewUser {
        username: name.to_string(),
        password: Some("pw".into()),
        ..Default::default()
    }
}

/// A plain message.
pub fn mail(subject: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n{headers}\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A message with one attachment whose body is `token` (split out to the attachment store).
pub fn mail_with_attachment(subject: &str, token: &str) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nSubject: {subject}\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\n\
         --xx\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --xx\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\n\
         {token}\r\n--xx--\r\n"
    )
    .into_bytes()
}

fn blob_hash(raw: &[u8]) -> String {
    let ingested = wildduck_core::message::ingest(raw).expect("ingest");
    assert_eq!(ingested.blobs.len(), 1, "test message has one blob");
    ingested
        .blobs
        .first()
        .map(|b| b.hash.clone())
        .unwrap_or_default()
}

fn req(raw: &[u8]) -> AppendRequest<'_> {
    AppendRequest {
        raw,
        ..Default::default()
    }
}

fn flags(f: &[&str]) -> Flags {
    Flags::parse(f).expect("flags")
}

async fn storage(s: &Services, u: UserId) -> i64 {
    s.get_user(u).await.expect("user").storage_used
}

async fn uids(s: &Services, mb: MailboxId) -> Vec<u32> {
    s.backend()
        .messages
        .list_uids(mb)
        .await
        .expect("uids")
        .iter()
        .map(|u| u.0)
        .collect()
}

/// Runs every message check against `s`.
pub async fn run_all(s: &Services) {
    append_and_fetch(s).await;
    threads(s).await;
    flags_and_expunge(s).await;
    copy_and_move(s).await;
    bad_input(s).await;
    injected_failures(s).await;
    quota_recalculation(s).await;
}

async fn append_and_fetch(s: &Services) {
    let u = s.create_user(user("msg.append")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let raws: Vec<Vec<u8>> = (0..3)
        .map(|i| mail(&format!("hello {i}"), "", &format!("body {i}")))
        .collect();
    let mut last = ModSeq(0);
    let mut total = 0u64;
    for (i, raw) in raws.iter().enumerate() {
        let a = s
            .append(
                u.id,
                inbox.id,
                AppendRequest {
                    raw,
                    flags: flags(&["\\Seen", "$Work"]),
                    idate: Some(Timestamp(1_700_000_000_000)),
                    session: Some("sess-1"),
                },
            )
            .await
            .expect("append");
        assert_eq!(a.uid, Uid(i as u32 + 1));
        assert_eq!(a.uid_validity, inbox.uid_validity);
        assert!(a.modseq > last, "MODSEQ increases");
        assert_eq!(a.size, raw.len() as u64);
        last = a.modseq;
        total += a.size;
    }
    assert_eq!(storage(s, u.id).await, total as i64);
    let st = s.mailbox_status(u.id, inbox.id).await.expect("status");
    assert_eq!(
        (st.messages, st.uid_next, st.highest_modseq),
        (3, Uid(4), last)
    );
    // The keyword is remembered for FLAGS.
    let mb = s.get_mailbox(u.id, inbox.id).await.expect("mailbox");
    assert!(mb.flags.iter().any(|f| f == "$Work"), "{:?}", mb.flags);

    // Journal: one EXISTS per append, with the MODSEQ the message got and the session to ignore.
    let j = s
        .backend()
        .journal
        .since(inbox.id, ModSeq(1))
        .await
        .expect("journal");
    let exists: Vec<_> = j
        .iter()
        .filter(|e| e.command == Some(JournalCommand::Exists))
        .collect();
    assert_eq!(exists.len(), 3);
    for (i, e) in exists.iter().enumerate() {
        assert_eq!(e.uid, Some(Uid(i as u32 + 1)));
        assert_eq!(e.ignore.as_deref(), Some("sess-1"));
        assert_eq!(e.unseen, Some(false));
        assert!(e.message.is_some() && e.thread.is_some());
    }

    // Metadata in one call; content rebuilt byte for byte.
    let metas = s
        .fetch_meta(u.id, &inbox, &MessageFilter::default())
        .await
        .expect("meta");
    assert_eq!(metas.len(), 3);
    let m0 = metas.first().expect("first");
    assert_eq!(m0.subject, "hello 0");
    assert_eq!(m0.idate, Timestamp(1_700_000_000_000));
    assert!(m0.flags.contains(&Flag::Seen) && m0.flags.contains(&Flag::Keyword("$Work".into())));
    let fetched = s
        .fetch_messages(u.id, &inbox, &UidSet::range(1, 3))
        .await
        .expect("fetch");
    assert_eq!(fetched.len(), 3);
    for (f, raw) in fetched.iter().zip(&raws) {
        assert_eq!(&f.raw().expect("rebuild"), raw);
    }

    // Attachments: stored once, referenced per message; the bytes come back exactly.
    let token = format!("attachment-{}", MessageId::new());
    let raw = mail_with_attachment("with file", &token);
    let hash = blob_hash(&raw);
    let a1 = s.append(u.id, inbox.id, req(&raw)).await.expect("att 1");
    let a2 = s.append(u.id, inbox.id, req(&raw)).await.expect("att 2");
    let (count, magic) = s
        .backend()
        .attachments
        .blob_refs(&hash)
        .await
        .expect("refs")
        .expect("blob stored");
    assert_eq!(count, 2);
    let metas = s
        .fetch_meta(
            u.id,
            &inbox,
            &MessageFilter {
                uids: Some(UidSet::from_ranges([
                    (a1.uid.0, a1.uid.0),
                    (a2.uid.0, a2.uid.0),
                ])),
                ..Default::default()
            },
        )
        .await
        .expect("meta");
    let magic_sum: i64 = metas.iter().map(|m| i64::from(m.magic)).sum();
    assert_eq!(magic, magic_sum);
    assert!(
        metas
            .iter()
            .all(|m| m.blobs == [hash.clone()] && m.has_attachments)
    );
    let got = s.get_message(u.id, inbox.id, a2.uid).await.expect("get");
    assert_eq!(got.raw().expect("rebuild"), raw);
    assert_eq!(got.meta.id, a2.id);
}

async fn threads(s: &Services) {
    let u = s.create_user(user("msg.threads")).await.expect("user");
    let other = s.create_user(user("msg.threads2")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let other_inbox = s.find_mailbox(other.id, "INBOX").await.expect("inbox");
    let root = mail("Topic", "Message-ID: <root@x>\r\n", "start");
    let reply = mail(
        "Re: [list] Topic",
        "Message-ID: <r1@x>\r\nIn-Reply-To: <root@x>\r\n",
        "reply",
    );
    let changed = mail(
        "Something else",
        "Message-ID: <r2@x>\r\nReferences: <root@x>\r\n",
        "new subject",
    );
    let unrelated = mail("Topic", "Message-ID: <u@x>\r\n", "same subject only");
    let deeper = mail(
        "Re: Re: Topic",
        "Message-ID: <r3@x>\r\nReferences: <r1@x>\r\n",
        "via the reply's id",
    );
    let t_root = s
        .append(u.id, inbox.id, req(&root))
        .await
        .expect("a")
        .thread;
    let t_reply = s
        .append(u.id, inbox.id, req(&reply))
        .await
        .expect("a")
        .thread;
    let t_changed = s
        .append(u.id, inbox.id, req(&changed))
        .await
        .expect("a")
        .thread;
    let t_unrel = s
        .append(u.id, inbox.id, req(&unrelated))
        .await
        .expect("a")
        .thread;
    let t_deeper = s
        .append(u.id, inbox.id, req(&deeper))
        .await
        .expect("a")
        .thread;
    let t_other = s
        .append(other.id, other_inbox.id, req(&reply))
        .await
        .expect("a")
        .thread;
    assert_eq!(t_root, t_reply, "shared reference and subject");
    assert_ne!(t_root, t_changed, "a changed subject starts a new thread");
    assert_ne!(t_root, t_unrel, "a subject alone does not thread");
    assert_eq!(t_root, t_deeper, "the reply's own id joined the thread");
    assert_ne!(t_root, t_other, "threads are per user");
    let (subject, ids) = s
        .backend()
        .threads
        .get_thread(u.id, t_root)
        .await
        .expect("thread")
        .expect("exists");
    assert_eq!(subject, "Topic");
    assert_eq!(ids.len(), 3, "root, r1 and r3 ids: {ids:?}");
    assert!(
        s.backend()
            .threads
            .get_thread(other.id, t_root)
            .await
            .expect("read")
            .is_none()
    );
}

async fn flags_and_expunge(s: &Services) {
    let u = s.create_user(user("msg.flags")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let token = format!("expunge-{}", MessageId::new());
    let att = mail_with_attachment("att", &token);
    let hash = blob_hash(&att);
    let mut appended = Vec::new();
    for i in 0..5 {
        let raw = if i == 1 {
            att.clone()
        } else {
            mail(&format!("m{i}"), "", "x")
        };
        appended.push(s.append(u.id, inbox.id, req(&raw)).await.expect("append"));
    }
    let before_flags = s
        .get_mailbox(u.id, inbox.id)
        .await
        .expect("mb")
        .modify_index;

    // Add \Seen to 1:3: one MODSEQ, journal FETCH entries with the unseen change.
    let r = s
        .store_flags(
            u.id,
            &inbox,
            &UidSet::range(1, 3),
            &FlagOp::Add(flags(&["\\Seen"])),
            None,
            Some("s2"),
        )
        .await
        .expect("store");
    let m1 = r.modseq.expect("changed");
    assert!(m1 > before_flags);
    assert_eq!(
        r.changed.iter().map(|c| c.uid.0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(r.changed.iter().all(|c| c.modseq == m1 && c.seen_changed));
    let j = s
        .backend()
        .journal
        .since(inbox.id, before_flags)
        .await
        .expect("j");
    let fetches: Vec<_> = j
        .iter()
        .filter(|e| e.command == Some(JournalCommand::Fetch))
        .collect();
    assert_eq!(fetches.len(), 3);
    assert!(fetches.iter().all(|e| e.modseq == m1
        && e.unseen == Some(false)
        && e.unseen_change == Some(true)
        && e.ignore.as_deref() == Some("s2")
        && e.flags.as_deref() == Some(&["\\Seen".to_string()][..])));
    // UNCHANGEDSINCE: 1:3 changed after `before_flags` are refused, 4:5 change.
    let r = s
        .store_flags(
            u.id,
            &inbox,
            &UidSet::all(),
            &FlagOp::Add(flags(&["\\Deleted"])),
            Some(before_flags),
            None,
        )
        .await
        .expect("conditional");
    assert_eq!(r.refused, [Uid(1), Uid(2), Uid(3)]);
    assert_eq!(
        r.changed.iter().map(|c| c.uid.0).collect::<Vec<_>>(),
        [4, 5]
    );
    // Replace on 2 (with the attachment) marks it deleted too; removing a flag nobody has is a no-op.
    let r = s
        .store_flags(
            u.id,
            &inbox,
            &UidSet::range(2, 2),
            &FlagOp::Replace(flags(&["\\Deleted", "\\Flagged"])),
            None,
            None,
        )
        .await
        .expect("replace");
    assert!(r.changed.first().is_some_and(|c| c.seen_changed));
    let noop = s
        .store_flags(
            u.id,
            &inbox,
            &UidSet::all(),
            &FlagOp::Remove(flags(&["\\Draft"])),
            None,
            None,
        )
        .await
        .expect("noop");
    assert!(noop.changed.is_empty() && noop.modseq.is_none());

    // UID EXPUNGE 4 removes only 4 (5 stays flagged), EXPUNGE removes 2 and 5; 1 and 3 stay.
    let used = storage(s, u.id).await;
    let sizes: HashMap<Uid, u64> = appended.iter().map(|a| (a.uid, a.size)).collect();
    let e = s
        .expunge(u.id, &inbox, Some(&UidSet::range(3, 4)), Some("s3"))
        .await
        .expect("uid expunge");
    assert_eq!(e.uids, [Uid(4)]);
    let before_expunge = e.modseq.expect("modseq");
    let e = s.expunge(u.id, &inbox, None, None).await.expect("expunge");
    assert_eq!(e.uids, [Uid(2), Uid(5)]);
    let m_exp = e.modseq.expect("modseq");
    assert!(m_exp > before_expunge);
    assert_eq!(uids(s, inbox.id).await, [1, 3]);
    let freed: u64 = [Uid(2), Uid(4), Uid(5)]
        .iter()
        .filter_map(|u| sizes.get(u))
        .sum();
    assert_eq!(storage(s, u.id).await, used - freed as i64);
    let (count, _) = s
        .backend()
        .attachments
        .blob_refs(&hash)
        .await
        .expect("refs")
        .expect("blob kept until collected");
    // The expunged messages are archived: the archive holds the attachment's reference until
    // the entry is purged (archive behaviour itself: conformance/archive.rs).
    assert_eq!(count, 1, "the archived copy keeps its reference");
    let purged = s
        .purge_expired_archived(Timestamp(i64::MAX / 2))
        .await
        .expect("purge");
    assert!(purged >= 3, "the three expunged messages were archived");
    let (count, magic) = s
        .backend()
        .attachments
        .blob_refs(&hash)
        .await
        .expect("refs")
        .expect("blob kept until collected");
    assert_eq!((count, magic), (0, 0), "references released");
    let j = s
        .backend()
        .journal
        .since(inbox.id, before_expunge)
        .await
        .expect("j");
    let expunges: Vec<_> = j
        .iter()
        .filter(|e| e.command == Some(JournalCommand::Expunge))
        .collect();
    assert_eq!(
        expunges.iter().map(|e| e.uid).collect::<Vec<_>>(),
        [Some(Uid(2)), Some(Uid(5))]
    );
    assert!(expunges.iter().all(|e| e.modseq == m_exp));
    // Nothing left to expunge: no MODSEQ, no journal.
    let e = s.expunge(u.id, &inbox, None, None).await.expect("empty");
    assert!(e.uids.is_empty() && e.modseq.is_none());
    // The API's delete of one message, whatever its flags.
    s.delete_message(u.id, inbox.id, Uid(3), None)
        .await
        .expect("delete");
    assert_eq!(uids(s, inbox.id).await, [1]);
    assert_eq!(
        s.delete_message(u.id, inbox.id, Uid(3), None)
            .await
            .expect_err("gone")
            .kind(),
        ErrorKind::NotFound
    );
}

async fn copy_and_move(s: &Services) {
    let u = s.create_user(user("msg.copy")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let archive = s.create_mailbox(u.id, "Archive").await.expect("archive");
    let junk = s.find_mailbox(u.id, "Junk").await.expect("junk");
    let token = format!("copy-{}", MessageId::new());
    let att = mail_with_attachment("att", &token);
    let hash = blob_hash(&att);
    for i in 0..6 {
        let raw = if i == 0 {
            att.clone()
        } else {
            mail(&format!("c{i}"), "", "x")
        };
        s.append(
            u.id,
            inbox.id,
            AppendRequest {
                raw: &raw,
                flags: flags(&["$Label"]),
                ..Default::default()
            },
        )
        .await
        .expect("append");
    }
    let used = storage(s, u.id).await;

    // COPY 1:3 → Archive: COPYUID pairs, quota grows by the copied sizes, references +1.
    let c = s
        .copy_messages(u.id, &inbox, &UidSet::range(1, 3), archive.id, Some("s4"))
        .await
        .expect("copy");
    assert_eq!(c.uid_validity, archive.uid_validity);
    assert_eq!(
        c.uids
            .iter()
            .map(|p| (p.source.0, p.target.0))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 2), (3, 3)]
    );
    let copied: u64 = c.uids.iter().map(|p| p.size).sum();
    assert_eq!(storage(s, u.id).await, used + copied as i64);
    assert_eq!(
        s.backend()
            .attachments
            .blob_refs(&hash)
            .await
            .expect("r")
            .map(|r| r.0),
        Some(2)
    );
    assert_eq!(
        uids(s, inbox.id).await,
        [1, 2, 3, 4, 5, 6],
        "source untouched"
    );
    let j = s
        .backend()
        .journal
        .since(archive.id, ModSeq(0))
        .await
        .expect("j");
    let exists: Vec<_> = j
        .iter()
        .filter(|e| e.command == Some(JournalCommand::Exists))
        .collect();
    assert_eq!(exists.len(), 3);
    assert!(
        exists
            .iter()
            .all(|e| Some(e.modseq) == c.modseq && e.ignore.as_deref() == Some("s4"))
    );
    let archive_now = s.get_mailbox(u.id, archive.id).await.expect("mb");
    assert!(
        archive_now.flags.iter().any(|f| f == "$Label"),
        "keywords follow copies"
    );
    let content = s
        .fetch_messages(u.id, &archive_now, &UidSet::range(1, 1))
        .await
        .expect("fetch copy");
    assert_eq!(
        content.first().map(|f| f.raw().expect("rebuild")),
        Some(att.clone()),
        "a copy has the content"
    );

    // MOVE 4:6 → Junk: gone from the source with one EXPUNGE MODSEQ, quota unchanged.
    let used = storage(s, u.id).await;
    let src_before = s
        .get_mailbox(u.id, inbox.id)
        .await
        .expect("mb")
        .modify_index;
    let m = s
        .move_messages(u.id, &inbox, &UidSet::range(4, 6), junk.id, Some("s5"))
        .await
        .expect("move");
    assert_eq!(
        m.uids
            .iter()
            .map(|p| (p.source.0, p.target.0))
            .collect::<Vec<_>>(),
        [(4, 1), (5, 2), (6, 3)]
    );
    assert_eq!(uids(s, inbox.id).await, [1, 2, 3]);
    assert_eq!(uids(s, junk.id).await, [1, 2, 3]);
    assert_eq!(storage(s, u.id).await, used);
    let src_modseq = m.source_modseq.expect("source modseq");
    assert!(src_modseq > src_before);
    let j = s
        .backend()
        .journal
        .since(inbox.id, src_before)
        .await
        .expect("j");
    let exp: Vec<_> = j
        .iter()
        .filter(|e| e.command == Some(JournalCommand::Expunge))
        .collect();
    assert_eq!(
        exp.iter().map(|e| e.uid).collect::<Vec<_>>(),
        [Some(Uid(4)), Some(Uid(5)), Some(Uid(6))]
    );
    assert!(exp.iter().all(|e| e.modseq == src_modseq));
    let j = s
        .backend()
        .journal
        .since(junk.id, ModSeq(0))
        .await
        .expect("j");
    assert_eq!(
        j.iter()
            .filter(|e| e.command == Some(JournalCommand::Exists))
            .count(),
        3
    );
    let moved = s
        .fetch_meta(u.id, &junk, &MessageFilter::default())
        .await
        .expect("meta");
    assert!(moved.iter().all(|m| m.junk), "moved into Junk marks junk");

    // MOVE the attachment message: its references stay at 2 (one per existing copy).
    let m = s
        .move_messages(u.id, &inbox, &UidSet::range(1, 1), archive.id, None)
        .await
        .expect("move att");
    assert_eq!(m.uids.first().map(|p| p.target), Some(Uid(4)));
    assert_eq!(
        s.backend()
            .attachments
            .blob_refs(&hash)
            .await
            .expect("r")
            .map(|r| r.0),
        Some(2)
    );
    // Recalculation agrees with the incremental count after all of this.
    let kept = storage(s, u.id).await;
    assert_eq!(s.recalculate_quota(u.id).await.expect("recalc"), kept);
    // Copying or moving nothing (UIDs that do not exist) changes nothing.
    let c = s
        .copy_messages(u.id, &inbox, &UidSet::range(100, 200), archive.id, None)
        .await
        .expect("empty copy");
    assert!(c.uids.is_empty() && c.modseq.is_none());
    let m = s
        .move_messages(u.id, &inbox, &UidSet::range(100, 200), archive.id, None)
        .await
        .expect("empty move");
    assert!(m.uids.is_empty() && m.source_modseq.is_none());
}

async fn bad_input(s: &Services) {
    let u = s.create_user(user("msg.bad")).await.expect("user");
    let other = s.create_user(user("msg.bad.other")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let theirs = s.find_mailbox(other.id, "INBOX").await.expect("theirs");
    let raw = mail("x", "", "y");
    s.append(other.id, theirs.id, req(&raw))
        .await
        .expect("their mail");
    let nf = |r: Result<()>| {
        assert_eq!(r.expect_err("must fail").kind(), ErrorKind::NotFound);
    };
    nf(s.append(u.id, theirs.id, req(&raw)).await.map(|_| ()));
    nf(s.append(u.id, MailboxId::new(), req(&raw))
        .await
        .map(|_| ()));
    nf(s.append(UserId::new(), inbox.id, req(&raw))
        .await
        .map(|_| ()));
    nf(s.store_flags(
        u.id,
        &theirs,
        &UidSet::all(),
        &FlagOp::Add(flags(&["\\Seen"])),
        None,
        None,
    )
    .await
    .map(|_| ()));
    nf(s.expunge(u.id, &theirs, None, None).await.map(|_| ()));
    nf(s.fetch_messages(u.id, &theirs, &UidSet::all())
        .await
        .map(|_| ()));
    nf(s.fetch_meta(u.id, &theirs, &MessageFilter::default())
        .await
        .map(|_| ()));
    nf(s.get_message(u.id, theirs.id, Uid(1)).await.map(|_| ()));
    nf(s.get_message(u.id, inbox.id, Uid(1)).await.map(|_| ()));
    nf(
        s.copy_messages(u.id, &theirs, &UidSet::all(), inbox.id, None)
            .await
            .map(|_| ()),
    );
    nf(
        s.copy_messages(u.id, &inbox, &UidSet::all(), theirs.id, None)
            .await
            .map(|_| ()),
    );
    nf(
        s.move_messages(u.id, &inbox, &UidSet::all(), theirs.id, None)
            .await
            .map(|_| ()),
    );
    nf(s.delete_message(u.id, theirs.id, Uid(1), None).await);
    // Their message is untouched.
    assert_eq!(uids(s, theirs.id).await, [1]);
    let their_meta = s
        .fetch_meta(other.id, &theirs, &MessageFilter::default())
        .await
        .expect("meta");
    assert!(their_meta.iter().all(|m| m.flags.is_empty()));

    // Over quota: the check is WildDuck's (`storageUsed > quota`), so the message that crosses
    // the limit is stored and the next one is refused with nothing written.
    s.update_user(
        u.id,
        UserUpdate {
            quota: Some(raw.len() as u64 + 10),
            ..Default::default()
        },
        None,
    )
    .await
    .expect("quota");
    s.append(u.id, inbox.id, req(&raw)).await.expect("under");
    s.append(u.id, inbox.id, req(&raw)).await.expect("crosses");
    let used = storage(s, u.id).await;
    let mb_before = s.get_mailbox(u.id, inbox.id).await.expect("mb");
    let e = s.append(u.id, inbox.id, req(&raw)).await.expect_err("over");
    assert_eq!(e.kind(), ErrorKind::OverQuota);
    let e = s
        .copy_messages(u.id, &inbox, &UidSet::all(), inbox.id, None)
        .await
        .expect_err("over");
    assert_eq!(e.kind(), ErrorKind::OverQuota);
    assert_eq!(storage(s, u.id).await, used);
    let mb_after = s.get_mailbox(u.id, inbox.id).await.expect("mb");
    assert_eq!(
        (mb_after.uid_next, mb_after.modify_index),
        (mb_before.uid_next, mb_before.modify_index),
        "no UID or MODSEQ taken"
    );
    assert_eq!(uids(s, inbox.id).await, [1, 2]);
    // A move needs no quota (nothing grows).
    let trash = s.find_mailbox(u.id, "Trash").await.expect("trash");
    s.move_messages(u.id, &inbox, &UidSet::range(2, 2), trash.id, None)
        .await
        .expect("move over quota");
    assert_eq!(storage(s, u.id).await, used);

    // Too big: refused before anything is read or written.
    let huge = vec![b'a'; wildduck_core::message::MAX_MESSAGE_SIZE + 1];
    let e = s.append(u.id, inbox.id, req(&huge)).await.expect_err("big");
    assert_eq!(e.kind(), ErrorKind::TooBig);
    assert_eq!(storage(s, u.id).await, used);
}

/// A message store that fails `insert_messages` while `fail` is set.
#[derive(Debug)]
struct FailingInsert {
    inner: Arc<dyn MessageStore>,
    fail: AtomicBool,
}

#[async_trait]
impl MessageStore for FailingInsert {
    async fn find_meta(&self, m: MailboxId, f: &MessageFilter) -> Result<Vec<MessageMeta>> {
        self.inner.find_meta(m, f).await
    }
    async fn list_uids(&self, m: MailboxId) -> Result<Vec<Uid>> {
        self.inner.list_uids(m).await
    }
    async fn counts(&self, m: MailboxId) -> Result<(u64, u64)> {
        self.inner.counts(m).await
    }
    async fn set_flags(
        &self,
        m: MailboxId,
        u: &UidSet,
        op: &FlagOp,
        since: Option<ModSeq>,
    ) -> Result<FlagResult> {
        self.inner.set_flags(m, u, op, since).await
    }
    async fn copy_messages(
        &self,
        s: MailboxId,
        u: &UidSet,
        t: &Mailbox,
    ) -> Result<(Vec<CopiedUid>, Vec<MessageMeta>)> {
        self.inner.copy_messages(s, u, t).await
    }
    async fn insert_messages(&self, messages: &[NewMessage]) -> Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Backend, "injected insert failure"));
        }
        self.inner.insert_messages(messages).await
    }
    async fn load_messages(
        &self,
        m: MailboxId,
        u: &UidSet,
    ) -> Result<Vec<(MessageMeta, StoredMessage)>> {
        self.inner.load_messages(m, u).await
    }
    async fn update_fields(
        &self,
        m: MailboxId,
        u: &UidSet,
        f: &wildduck_core::store::FieldUpdate,
    ) -> Result<u64> {
        self.inner.update_fields(m, u, f).await
    }
    async fn meta_data(&self, m: MailboxId, u: &UidSet) -> Result<Vec<(Uid, String)>> {
        self.inner.meta_data(m, u).await
    }
    async fn thread_counts(
        &self,
        u: UserId,
        t: &[wildduck_core::model::ThreadId],
    ) -> Result<Vec<(wildduck_core::model::ThreadId, u64)>> {
        self.inner.thread_counts(u, t).await
    }
    async fn find_expired(
        &self,
        now: wildduck_core::model::Timestamp,
        limit: usize,
    ) -> Result<Vec<MessageMeta>> {
        self.inner.find_expired(now, limit).await
    }
    async fn delete_messages(&self, m: MailboxId, ids: &[MessageId]) -> Result<u64> {
        self.inner.delete_messages(m, ids).await
    }
    async fn delete_mailbox_messages(&self, m: MailboxId) -> Result<Vec<MessageMeta>> {
        self.inner.delete_mailbox_messages(m).await
    }
    async fn sum_sizes(&self, u: UserId) -> Result<i64> {
        self.inner.sum_sizes(u).await
    }
}

/// A user store whose `inc_storage` fails while `fail` is set (a failure after the insert).
#[derive(Debug)]
struct FailingStorage {
    inner: Arc<dyn UserStore>,
    fail: AtomicBool,
}

#[async_trait]
impl UserStore for FailingStorage {
    async fn insert_user(&self, user: &User) -> Result<()> {
        self.inner.insert_user(user).await
    }
    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        self.inner.get_user(id).await
    }
    async fn find_user_by_unameview(&self, v: &str) -> Result<Option<User>> {
        self.inner.find_user_by_unameview(v).await
    }
    async fn update_user(&self, id: UserId, u: &UserUpdate) -> Result<bool> {
        self.inner.update_user(id, u).await
    }
    async fn rehash_password(&self, id: UserId, hash: &str) -> Result<()> {
        self.inner.rehash_password(id, hash).await
    }
    async fn delete_user(&self, id: UserId) -> Result<bool> {
        self.inner.delete_user(id).await
    }
    async fn inc_storage(&self, id: UserId, delta: i64) -> Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Backend, "injected storage failure"));
        }
        self.inner.inc_storage(id, delta).await
    }
    async fn set_storage(&self, id: UserId, value: i64) -> Result<()> {
        self.inner.set_storage(id, value).await
    }
}

async fn injected_failures(s: &Services) {
    let mut backend = s.backend().clone();
    let msgs = Arc::new(FailingInsert {
        inner: backend.messages.clone(),
        fail: AtomicBool::new(false),
    });
    let users = Arc::new(FailingStorage {
        inner: backend.users.clone(),
        fail: AtomicBool::new(false),
    });
    backend.messages = msgs.clone();
    backend.users = users.clone();
    let f = Services::new(backend, None, s.config().clone());
    let u = f.create_user(user("msg.fail")).await.expect("user");
    let inbox = f.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let archive = f.create_mailbox(u.id, "Archive").await.expect("archive");

    // One message whose blob is shared, so a wrong undo would show in its count.
    let token = format!("fail-{}", MessageId::new());
    let att = mail_with_attachment("att", &token);
    let hash = blob_hash(&att);
    f.append(u.id, inbox.id, req(&att)).await.expect("first");
    let refs_before = f.backend().attachments.blob_refs(&hash).await.expect("r");
    let used = storage(&f, u.id).await;
    let journal_before = f
        .backend()
        .journal
        .since(inbox.id, ModSeq(0))
        .await
        .expect("j")
        .len();

    for (what, flag) in [("insert", &msgs.fail), ("storage", &users.fail)] {
        flag.store(true, Ordering::SeqCst);
        let e = f.append(u.id, inbox.id, req(&att)).await.expect_err(what);
        flag.store(false, Ordering::SeqCst);
        assert_eq!(e.kind(), ErrorKind::Backend, "{what}");
        assert_eq!(uids(&f, inbox.id).await, [1], "{what}: no message visible");
        assert_eq!(storage(&f, u.id).await, used, "{what}: no quota change");
        assert_eq!(
            f.backend().attachments.blob_refs(&hash).await.expect("r"),
            refs_before,
            "{what}: references given back"
        );
        assert_eq!(
            f.backend()
                .journal
                .since(inbox.id, ModSeq(0))
                .await
                .expect("j")
                .len(),
            journal_before,
            "{what}: nothing journaled"
        );
    }
    // A brand-new blob is released again too.
    let token2 = format!("fail-new-{}", MessageId::new());
    let att2 = mail_with_attachment("att2", &token2);
    msgs.fail.store(true, Ordering::SeqCst);
    f.append(u.id, inbox.id, req(&att2))
        .await
        .expect_err("insert");
    msgs.fail.store(false, Ordering::SeqCst);
    let r = f
        .backend()
        .attachments
        .blob_refs(&blob_hash(&att2))
        .await
        .expect("r");
    assert!(r.is_none() || r == Some((0, 0)), "{r:?}");

    // A copy whose quota step fails leaves no copy and no extra references.
    users.fail.store(true, Ordering::SeqCst);
    f.copy_messages(u.id, &inbox, &UidSet::all(), archive.id, None)
        .await
        .expect_err("copy");
    users.fail.store(false, Ordering::SeqCst);
    assert!(uids(&f, archive.id).await.is_empty());
    assert_eq!(storage(&f, u.id).await, used);
    assert_eq!(
        f.backend().attachments.blob_refs(&hash).await.expect("r"),
        refs_before
    );
    // Afterwards everything works and UIDs continue past the failed attempts (never reused).
    let a = f.append(u.id, inbox.id, req(&att)).await.expect("after");
    assert!(a.uid > Uid(1));
}

async fn quota_recalculation(s: &Services) {
    let u = s.create_user(user("msg.quota")).await.expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let mut total = 0i64;
    for i in 0..3 {
        total += s
            .append(u.id, inbox.id, req(&mail(&format!("q{i}"), "", "z")))
            .await
            .expect("append")
            .size as i64;
    }
    // Drift (e.g. a crash between steps) is repaired by recalculation.
    s.backend()
        .users
        .inc_storage(u.id, 12345)
        .await
        .expect("drift");
    assert_eq!(s.recalculate_quota(u.id).await.expect("recalc"), total);
    assert_eq!(storage(s, u.id).await, total);
}
