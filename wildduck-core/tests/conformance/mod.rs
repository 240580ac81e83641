//! The storage conformance suite: written once over the services and traits, run by every backend's
//! entry point (`store_mongo.rs` now; the embedded backend's later) with a fresh, empty backend.

mod archive;
mod authlog;
mod expiry;
mod forwarded;
mod journal;
mod listing;
mod messages;
mod pop3;
mod search;
mod seen;
mod tasks;
mod user_meta;

use wildduck_core::ErrorKind;
use wildduck_core::model::{
    Flag, FlagOp, Flags, MailboxId, MessageId, MessageMeta, ModSeq, Timestamp, Uid, UidSet,
};
use wildduck_core::service::Services;
use wildduck_core::service::users::NewUser;
use wildduck_core::store::MessageFilter;

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.to_string(),
        password: Some("secret pass".into()),
        address: Some(format!("{name}@example.com")),
        name: "Test".into(),
        ..Default::default()
    }
}

/// Runs every check against `s` (whose backend starts empty).
pub async fn run_all(s: &Services) {
    users(s).await;
    addresses(s).await;
    mailboxes(s).await;
    messages(s).await;
    messages::run_all(s).await;
    search::run_all(s).await;
    journal::run_all(s).await;
    archive::run_all(s).await;
    seen::run_all(s).await;
    forwarded::run_all(s).await;
    tasks::run_all(s).await;
    listing::run_all(s).await;
    pop3::run_all(s).await;
    authlog::run_all(s).await;
    expiry::run_all(s).await;
    user_meta::run_all(s).await;
}

async fn users(s: &Services) {
    let u = s
        .create_user(new_user("alice.smith"))
        .await
        .expect("create");
    let boxes = s.list_mailboxes(u.id, false).await.expect("list");
    let mut paths: Vec<_> = boxes.iter().map(|m| m.path.clone()).collect();
    paths.sort();
    assert_eq!(paths, ["Drafts", "INBOX", "Junk", "Sent Mail", "Trash"]);
    assert!(boxes.iter().all(|m| m.uid_next == Uid(1) && m.subscribed));
    // Duplicate username, also in its dotless form.
    for dup in ["alice.smith", "alicesmith", "ALICE.SMITH"] {
        let mut nu = new_user(dup);
        nu.address = None;
        let e = s.create_user(nu).await.expect_err("duplicate");
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{dup}");
    }
    // Duplicate address: nothing of the second user is left behind.
    let mut nu = new_user("bob");
    nu.address = Some("Alice.Smith@example.com".into());
    assert_eq!(
        s.create_user(nu).await.expect_err("dup address").kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        s.resolve_user("bob").await.expect_err("rolled back").kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.create_user(new_user("bad name"))
            .await
            .expect_err("invalid")
            .kind(),
        ErrorKind::Invalid
    );
    // Resolve by username and by address, authenticate.
    assert_eq!(
        s.resolve_user("alicesmith").await.expect("by name").id,
        u.id
    );
    assert_eq!(
        s.resolve_user("alice.smith+tag@Example.com")
            .await
            .expect("by address")
            .id,
        u.id
    );
    assert_eq!(
        s.authenticate("alice.smith", "secret pass")
            .await
            .expect("login")
            .id,
        u.id
    );
    assert_eq!(
        s.authenticate("alice.smith", "wrong")
            .await
            .expect_err("bad")
            .kind(),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        s.authenticate("nobody", "x")
            .await
            .expect_err("unknown")
            .kind(),
        ErrorKind::AuthFailed
    );
    // Update and delete.
    let upd = wildduck_core::model::UserUpdate {
        name: Some("Alice".into()),
        quota: Some(1000),
        ..Default::default()
    };
    let u2 = s
        .update_user(u.id, upd, Some("new pass".into()))
        .await
        .expect("update");
    assert_eq!((u2.name.as_str(), u2.quota), ("Alice", 1000));
    assert!(u2.auth_version > u.auth_version);
    assert!(s.authenticate("alice.smith", "new pass").await.is_ok());
    let tmp = s.create_user(new_user("temp")).await.expect("temp");
    s.delete_user(tmp.id, Default::default())
        .await
        .expect("delete");
    // The purge is a task, due now.
    s.run_due_tasks(Timestamp::now()).await.expect("purge");
    assert_eq!(
        s.get_user(tmp.id).await.expect_err("gone").kind(),
        ErrorKind::NotFound
    );
    assert!(
        s.list_mailboxes(tmp.id, false)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        s.resolve_address("temp@example.com", false)
            .await
            .expect_err("gone")
            .kind(),
        ErrorKind::NotFound
    );
}

async fn addresses(s: &Services) {
    let u = s.create_user(new_user("carol")).await.expect("create");
    let other = s.create_user(new_user("dave")).await.expect("create");
    let a = s
        .add_address(u.id, "C.Arol@Example.org", None, false)
        .await
        .expect("add");
    assert_eq!(a.addrview, "carol@example.org");
    assert_eq!(
        s.add_address(other.id, "carol@example.org", None, false)
            .await
            .expect_err("dup")
            .kind(),
        ErrorKind::AlreadyExists
    );
    let w = s
        .add_address(u.id, "*@wild.test", None, false)
        .await
        .expect("wildcard");
    let p = s
        .add_address(other.id, "sales*@wild.test", None, false)
        .await
        .expect("prefix");
    let c = s
        .add_address(other.id, "postmaster@*", None, false)
        .await
        .expect("any domain");
    assert_eq!(
        s.resolve_address("anyone@wild.test", true)
            .await
            .expect("catch-all")
            .id,
        w.id
    );
    assert_eq!(
        s.resolve_address("sales.team@wild.test", true)
            .await
            .expect("prefix")
            .id,
        p.id
    );
    assert_eq!(
        s.resolve_address("postmaster@elsewhere.test", true)
            .await
            .expect("user@*")
            .id,
        c.id
    );
    assert_eq!(
        s.resolve_address("anyone@wild.test", false)
            .await
            .expect_err("no wildcard")
            .kind(),
        ErrorKind::NotFound
    );
    let list = s.list_addresses(u.id).await.expect("list");
    assert_eq!(list.len(), 3);
    // Main address cannot be deleted; another user's address is NotFound.
    let main = list
        .iter()
        .find(|x| x.address == "carol@example.com")
        .expect("main");
    assert_eq!(
        s.delete_address(u.id, main.id)
            .await
            .expect_err("main")
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        s.delete_address(other.id, a.id)
            .await
            .expect_err("not theirs")
            .kind(),
        ErrorKind::NotFound
    );
    s.set_main_address(u.id, a.id).await.expect("set main");
    assert_eq!(
        s.get_user(u.id).await.expect("user").address.as_deref(),
        Some("c.arol@example.org")
    );
    s.delete_address(u.id, main.id)
        .await
        .expect("now deletable");
    assert_eq!(s.list_addresses(u.id).await.expect("list").len(), 2);
}

async fn mailboxes(s: &Services) {
    let u = s.create_user(new_user("erin")).await.expect("create");
    let other = s.create_user(new_user("frank")).await.expect("create");
    let m = s
        .create_mailbox(u.id, "Projects/2024")
        .await
        .expect("create");
    assert!(m.uid_validity > 1_600_000_000);
    assert_eq!(
        s.create_mailbox(u.id, "Projects/2024")
            .await
            .expect_err("dup")
            .kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        s.create_mailbox(u.id, "inbox")
            .await
            .expect_err("inbox")
            .kind(),
        ErrorKind::AlreadyExists
    );
    for bad in ["", "a//b", "/x", "x/", &"y".repeat(513)] {
        assert_eq!(
            s.create_mailbox(u.id, bad).await.expect_err("bad").kind(),
            ErrorKind::Invalid,
            "{bad:?}"
        );
    }
    // Another user's mailbox id reads as absent.
    assert_eq!(
        s.get_mailbox(other.id, m.id)
            .await
            .expect_err("theirs")
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.rename_mailbox(other.id, m.id, "Stolen")
            .await
            .expect_err("theirs")
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.delete_mailbox(other.id, m.id)
            .await
            .expect_err("theirs")
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.get_mailbox(u.id, MailboxId::new())
            .await
            .expect_err("unknown")
            .kind(),
        ErrorKind::NotFound
    );
    // Rename keeps id and uidValidity; INBOX and special-use cannot be deleted.
    let r = s
        .rename_mailbox(u.id, m.id, "Archive 2024")
        .await
        .expect("rename");
    assert_eq!(
        (r.id, r.uid_validity, r.path.as_str()),
        (m.id, m.uid_validity, "Archive 2024")
    );
    assert_eq!(
        s.rename_mailbox(u.id, m.id, "Trash")
            .await
            .expect_err("taken")
            .kind(),
        ErrorKind::AlreadyExists
    );
    let inbox = s.find_mailbox(u.id, "Inbox").await.expect("inbox");
    assert_eq!(
        s.delete_mailbox(u.id, inbox.id)
            .await
            .expect_err("inbox")
            .kind(),
        ErrorKind::Invalid
    );
    let trash = s.find_mailbox(u.id, "Trash").await.expect("trash");
    assert_eq!(
        s.delete_mailbox(u.id, trash.id)
            .await
            .expect_err("special")
            .kind(),
        ErrorKind::Invalid
    );
    s.subscribe_mailbox(u.id, m.id, false)
        .await
        .expect("unsubscribe");
    assert!(
        !s.list_mailboxes(u.id, true)
            .await
            .expect("lsub")
            .iter()
            .any(|x| x.id == m.id)
    );
    s.delete_mailbox(u.id, m.id).await.expect("delete");
    assert_eq!(
        s.get_mailbox(u.id, m.id).await.expect_err("deleted").kind(),
        ErrorKind::NotFound
    );
    let st = s.mailbox_status(u.id, inbox.id).await.expect("status");
    assert_eq!(
        (st.messages, st.uid_next, st.highest_modseq),
        (0, Uid(1), ModSeq(1))
    );
}

/// Message primitives over metadata documents (bodies come with the ingest integration).
async fn messages(s: &Services) {
    let b = s.backend();
    let u = s.create_user(new_user("grace")).await.expect("create");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let (first, modseq) = b
        .mailboxes
        .allocate(inbox.id, 5)
        .await
        .expect("alloc")
        .expect("exists");
    assert_eq!((first, modseq), (Uid(1), ModSeq(2)));
    let metas: Vec<MessageMeta> = (0..5)
        .map(|i| {
            let id = MessageId::new();
            MessageMeta {
                id,
                root: id,
                user: u.id,
                mailbox: inbox.id,
                uid: Uid(1 + i),
                modseq,
                idate: Timestamp::now(),
                hdate: Timestamp::now(),
                size: 100,
                ..Default::default()
            }
        })
        .collect();
    let content = std::sync::Arc::new(
        wildduck_core::message::ingest(b"Subject: t\r\n\r\nbody\r\n")
            .expect("ingest")
            .message,
    );
    let new: Vec<wildduck_core::store::NewMessage> = metas
        .iter()
        .map(|m| wildduck_core::store::NewMessage {
            meta_data: None,
            meta: m.clone(),
            content: content.clone(),
        })
        .collect();
    b.messages.insert_messages(&new).await.expect("insert");
    assert_eq!(
        b.messages.list_uids(inbox.id).await.expect("uids"),
        (1..=5).map(Uid).collect::<Vec<_>>()
    );
    // Inclusive range 2:4 returns its boundary rows.
    let f = MessageFilter {
        uids: Some(UidSet::range(2, 4)),
        ..Default::default()
    };
    let got: Vec<u32> = b
        .messages
        .find_meta(inbox.id, &f)
        .await
        .expect("find")
        .iter()
        .map(|m| m.uid.0)
        .collect();
    assert_eq!(got, [2, 3, 4]);
    // Flags: one MODSEQ for the batch, unchanged messages untouched, UNCHANGEDSINCE refuses.
    let seen = FlagOp::Add(Flags::parse(["\\Seen"]).expect("flags"));
    let r = b
        .messages
        .set_flags(inbox.id, &UidSet::range(1, 3), &seen, None)
        .await
        .expect("flags");
    assert_eq!(
        r.changed.iter().map(|c| c.uid.0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let m1 = r.modseq.expect("modseq");
    assert!(m1 > modseq && r.changed.iter().all(|c| c.modseq == m1 && c.seen_changed));
    let r2 = b
        .messages
        .set_flags(inbox.id, &UidSet::range(1, 5), &seen, Some(modseq))
        .await
        .expect("cond");
    assert_eq!(r2.refused, [Uid(1), Uid(2), Uid(3)]);
    assert_eq!(
        r2.changed.iter().map(|c| c.uid.0).collect::<Vec<_>>(),
        [4, 5]
    );
    let again = b
        .messages
        .set_flags(inbox.id, &UidSet::all(), &seen, None)
        .await
        .expect("noop");
    assert!(again.changed.is_empty() && again.modseq.is_none());
    let (total, unseen) = b.messages.counts(inbox.id).await.expect("counts");
    assert_eq!((total, unseen), (5, 0));
    // Copy: consecutive target UIDs, one MODSEQ, sizes reported.
    let trash = s.find_mailbox(u.id, "Trash").await.expect("trash");
    let (pairs, copies) = b
        .messages
        .copy_messages(inbox.id, &UidSet::from_ranges([(2, 2), (4, 5)]), &trash)
        .await
        .expect("copy");
    assert_eq!(
        pairs
            .iter()
            .map(|p| (p.source.0, p.target.0))
            .collect::<Vec<_>>(),
        [(2, 1), (4, 2), (5, 3)]
    );
    assert!(
        copies
            .iter()
            .all(|c| c.mailbox == trash.id && c.flags.contains(&Flag::Seen))
    );
    assert_eq!(b.messages.list_uids(trash.id).await.expect("uids").len(), 3);
    assert_eq!(b.messages.sum_sizes(u.id).await.expect("sum"), 800);
    // Delete by id stays inside the mailbox.
    let ids: Vec<MessageId> = metas.iter().take(2).map(|m| m.id).collect();
    assert_eq!(
        b.messages
            .delete_messages(trash.id, &ids)
            .await
            .expect("wrong mailbox"),
        0
    );
    assert_eq!(
        b.messages
            .delete_messages(inbox.id, &ids)
            .await
            .expect("delete"),
        2
    );
    assert_eq!(
        b.messages.list_uids(inbox.id).await.expect("uids"),
        [Uid(3), Uid(4), Uid(5)]
    );
    assert_eq!(s.recalculate_quota(u.id).await.expect("quota"), 600);
}
