//! Message expiry and custom metadata over the services: `metaData` stored with an upload,
//! changed by an update, kept by copy, move, archive and restore; refused when it is not a JSON
//! object; `expires` set and turned off; copy and move taking the expiry from the target's
//! retention; and the collector deleting exactly the expired messages into the archive, with
//! quota and journal settled; mailbox settings (retention, hidden, encryptMessages) on create and
//! update.

use wildduck_core::ErrorKind;
use wildduck_core::model::{JournalCommand, Mailbox, MessageMeta, Timestamp, Uid, UidSet, UserId};
use wildduck_core::service::Services;
use wildduck_core::service::messages::{AppendRequest, MAX_META_DATA};
use wildduck_core::service::users::{JUNK_RETENTION_MS, NewUser};
use wildduck_core::store::{FieldUpdate, MailboxSettings};

use super::messages::mail;

/// Runs every expiry and metadata check against `s`.
pub async fn run_all(s: &Services) {
    meta_data(s).await;
    expiry_and_retention(s).await;
    collector(s).await;
    mailbox_settings(s).await;
}

async fn user(s: &Services, name: &str) -> (UserId, Mailbox) {
    let u = s
        .create_user(NewUser {
            username: name.to_string(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    (u.id, inbox)
}

async fn append(s: &Services, u: UserId, mb: &Mailbox, subject: &str, meta: Option<&str>) -> Uid {
    s.append_with_meta_data(
        u,
        mb.id,
        AppendRequest {
            raw: &mail(subject, "", "body"),
            ..Default::default()
        },
        meta.map(str::to_string),
    )
    .await
    .expect("append")
    .uid
}

fn one(uid: Uid) -> UidSet {
    UidSet::range(uid.0, uid.0)
}

/// The metadata of `mailbox` as parsed JSON, by UID.
async fn meta_of(s: &Services, u: UserId, mb: &Mailbox) -> Vec<(u32, serde_json::Value)> {
    s.message_meta_data(u, mb, &UidSet::all())
        .await
        .expect("meta data")
        .into_iter()
        .map(|(uid, text)| (uid.0, serde_json::from_str(&text).expect("stored JSON")))
        .collect()
}

async fn meta_at(s: &Services, u: UserId, mb: &Mailbox, uid: Uid) -> MessageMeta {
    s.fetch_meta(
        u,
        mb,
        &wildduck_core::store::MessageFilter {
            uids: Some(one(uid)),
            ..Default::default()
        },
    )
    .await
    .expect("meta")
    .into_iter()
    .next()
    .expect("message present")
}

async fn meta_data(s: &Services) {
    let (u, inbox) = user(s, "expiry.meta").await;
    let with = append(s, u, &inbox, "with", Some(r#"{"a":1}"#)).await;
    let without = append(s, u, &inbox, "without", None).await;
    assert_eq!(
        meta_of(s, u, &inbox).await,
        [(with.0, serde_json::json!({"a": 1}))]
    );

    // An update of both: the one without gets it too; flags and MODSEQ stay.
    let before = meta_at(s, u, &inbox, without).await;
    let both = UidSet::range(with.0, without.0);
    let update = FieldUpdate {
        meta_data: Some(r#"{"b":[1,2],"c":"ü"}"#.into()),
        ..Default::default()
    };
    assert_eq!(
        s.update_message_fields(u, &inbox, &both, &update)
            .await
            .expect("update"),
        2
    );
    let want = serde_json::json!({"b": [1, 2], "c": "ü"});
    assert_eq!(
        meta_of(s, u, &inbox).await,
        [(with.0, want.clone()), (without.0, want.clone())]
    );
    let after = meta_at(s, u, &inbox, without).await;
    assert_eq!((after.flags, after.modseq), (before.flags, before.modseq));

    // Not an object, not JSON, too large: refused, nothing changes.
    let huge = format!(r#"{{"x":"{}"}}"#, "y".repeat(MAX_META_DATA));
    for bad in ["[1]", "\"text\"", "{nope", huge.as_str()] {
        let e = s
            .update_message_fields(
                u,
                &inbox,
                &both,
                &FieldUpdate {
                    meta_data: Some(bad.to_string()),
                    ..Default::default()
                },
            )
            .await
            .expect_err("bad metadata");
        assert_eq!(e.kind(), ErrorKind::Invalid, "{:.20}", bad);
        let e = s
            .append_with_meta_data(
                u,
                inbox.id,
                AppendRequest {
                    raw: &mail("bad", "", "x"),
                    ..Default::default()
                },
                Some(bad.to_string()),
            )
            .await
            .expect_err("bad metadata on upload");
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }
    assert_eq!(meta_of(s, u, &inbox).await.len(), 2);
    assert_eq!(
        s.get_mailbox(u, inbox.id).await.expect("mb").uid_next,
        Uid(without.0 + 1),
        "a refused upload stores nothing"
    );

    // UIDs that are not there match nothing; another user's mailbox is not found.
    assert_eq!(
        s.update_message_fields(u, &inbox, &one(Uid(999)), &update)
            .await
            .expect("no match"),
        0
    );
    let (other, _) = user(s, "expiry.meta.other").await;
    for e in [
        s.update_message_fields(other, &inbox, &both, &update)
            .await
            .expect_err("foreign update"),
        s.message_meta_data(other, &inbox, &both)
            .await
            .expect_err("foreign read"),
    ] {
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    // Copy and move keep it.
    let trash = s.find_mailbox(u, "Trash").await.expect("trash");
    let copied = s
        .copy_messages(u, &inbox, &one(with), trash.id, None)
        .await
        .expect("copy");
    let copy_uid = copied.uids[0].target;
    let moved = s
        .move_messages(u, &trash, &one(copy_uid), inbox.id, None)
        .await
        .expect("move");
    let back = moved.uids[0].target;
    assert!(
        meta_of(s, u, &inbox)
            .await
            .contains(&(back.0, want.clone())),
        "copied and moved back with its metadata"
    );

    // The archive keeps it: expunge, then restore.
    s.store_flags(
        u,
        &inbox,
        &one(back),
        &wildduck_core::model::FlagOp::Add(
            wildduck_core::model::Flags::parse(["\\Deleted"]).expect("flags"),
        ),
        None,
        None,
    )
    .await
    .expect("delete flag");
    s.expunge(u, &inbox, Some(&one(back)), None)
        .await
        .expect("expunge");
    let entry = s
        .list_archived(u)
        .await
        .expect("archived")
        .into_iter()
        .next()
        .expect("archived entry");
    let restored = s
        .restore_archived(u, entry.meta.id, None)
        .await
        .expect("restore");
    assert!(
        meta_of(s, u, &inbox)
            .await
            .contains(&(restored.uid.0, want)),
        "restored with its metadata"
    );
}

async fn expiry_and_retention(s: &Services) {
    let (u, inbox) = user(s, "expiry.retention").await;
    let trash = s.find_mailbox(u, "Trash").await.expect("trash");
    assert_eq!(trash.retention, JUNK_RETENTION_MS);
    let uid = append(s, u, &inbox, "expiring", None).await;
    assert_eq!(meta_at(s, u, &inbox, uid).await.rdate, None, "INBOX keeps");

    let at = Timestamp(Timestamp::now().0 + 3_600_000);
    let set = FieldUpdate {
        expires: Some(Some(at)),
        ..Default::default()
    };
    s.update_message_fields(u, &inbox, &one(uid), &set)
        .await
        .expect("expires");
    assert_eq!(meta_at(s, u, &inbox, uid).await.rdate, Some(at));

    // A copy into Trash expires with Trash's retention, not the source's expiry.
    let started = Timestamp::now();
    let copied = s
        .copy_messages(u, &inbox, &one(uid), trash.id, None)
        .await
        .expect("copy");
    let in_trash = copied.uids[0].target;
    let retention = i64::try_from(JUNK_RETENTION_MS).expect("ms");
    let rdate = meta_at(s, u, &trash, in_trash)
        .await
        .rdate
        .expect("Trash retention");
    assert!(
        rdate.0 >= started.0 + retention && rdate.0 <= Timestamp::now().0 + retention,
        "copy expiry {rdate:?}"
    );
    // Moved back to INBOX (no retention): it no longer expires.
    let moved = s
        .move_messages(u, &trash, &one(in_trash), inbox.id, None)
        .await
        .expect("move");
    assert_eq!(
        meta_at(s, u, &inbox, moved.uids[0].target).await.rdate,
        None
    );

    // `expires: false` turns it off.
    s.update_message_fields(
        u,
        &inbox,
        &one(uid),
        &FieldUpdate {
            expires: Some(None),
            ..Default::default()
        },
    )
    .await
    .expect("expires off");
    assert_eq!(meta_at(s, u, &inbox, uid).await.rdate, None);
}

async fn collector(s: &Services) {
    let (u, inbox) = user(s, "expiry.collector").await;
    let (other, other_inbox) = user(s, "expiry.collector.other").await;
    let gone1 = append(s, u, &inbox, "gone one", Some(r#"{"k":1}"#)).await;
    let gone2 = append(s, u, &inbox, "gone two", None).await;
    let later = append(s, u, &inbox, "later", None).await;
    let off = append(s, u, &inbox, "turned off", None).await;
    let other_gone = append(s, other, &other_inbox, "other gone", None).await;
    let now = Timestamp::now();
    let past = FieldUpdate {
        expires: Some(Some(Timestamp(now.0 - 1000))),
        ..Default::default()
    };
    for (user, mb, uids) in [
        (u, &inbox, UidSet::range(gone1.0, gone2.0)),
        (u, &inbox, one(off)),
        (other, &other_inbox, one(other_gone)),
    ] {
        s.update_message_fields(user, mb, &uids, &past)
            .await
            .expect("expire");
    }
    let future = FieldUpdate {
        expires: Some(Some(Timestamp(now.0 + 3_600_000))),
        ..Default::default()
    };
    s.update_message_fields(u, &inbox, &one(later), &future)
        .await
        .expect("later");
    let off_update = FieldUpdate {
        expires: Some(None),
        ..Default::default()
    };
    s.update_message_fields(u, &inbox, &one(off), &off_update)
        .await
        .expect("off");

    let used = s.get_user(u).await.expect("user").storage_used;
    let mut sizes = 0i64;
    for uid in [gone1, gone2] {
        sizes += i64::try_from(meta_at(s, u, &inbox, uid).await.size).expect("size");
    }
    let modseq = s.get_mailbox(u, inbox.id).await.expect("mb").modify_index;

    let n = s.delete_expired_messages(now).await.expect("collect");
    assert!(n >= 3, "three expired messages deleted, {n}");

    let left: Vec<Uid> = s
        .fetch_meta(u, &inbox, &Default::default())
        .await
        .expect("left")
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(left, [later, off]);
    assert!(
        s.fetch_meta(other, &other_inbox, &Default::default())
            .await
            .expect("other")
            .is_empty()
    );
    assert_eq!(
        s.get_user(u).await.expect("user").storage_used,
        used - sizes,
        "quota released"
    );
    let journal = s
        .backend()
        .journal
        .since(inbox.id, modseq)
        .await
        .expect("journal");
    for uid in [gone1, gone2] {
        assert!(
            journal
                .iter()
                .any(|e| e.command == Some(JournalCommand::Expunge) && e.uid == Some(uid)),
            "EXPUNGE of {uid:?} journaled"
        );
    }
    let archived: Vec<String> = s
        .list_archived(u)
        .await
        .expect("archived")
        .iter()
        .map(|a| a.meta.subject.clone())
        .collect();
    assert!(
        archived.contains(&"gone one".to_string()) && archived.contains(&"gone two".to_string()),
        "expired messages go to the archive: {archived:?}"
    );
    // Nothing of this user is left to collect.
    s.delete_expired_messages(Timestamp::now())
        .await
        .expect("again");
    assert_eq!(
        s.fetch_meta(u, &inbox, &Default::default())
            .await
            .expect("left")
            .len(),
        2
    );
}

async fn mailbox_settings(s: &Services) {
    let (u, _) = user(s, "expiry.settings").await;
    let plain = s.create_mailbox(u, "Plain").await.expect("plain");
    assert_eq!(
        (
            plain.retention,
            plain.hidden,
            plain.encrypt_messages,
            plain.subscribed
        ),
        (0, false, false, true),
        "defaults: the user's retention (none)"
    );
    let kept = s
        .create_mailbox_with(
            u,
            "Kept",
            MailboxSettings {
                retention: Some(1000),
                hidden: Some(true),
                encrypt_messages: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let read = s.get_mailbox(u, kept.id).await.expect("read");
    assert_eq!(
        (
            read.retention,
            read.hidden,
            read.encrypt_messages,
            read.subscribed
        ),
        (1000, true, true, true)
    );
    // Hidden: not renamed, not deleted (WildDuck's DisallowedMailboxMethod).
    for e in [
        s.rename_mailbox(u, kept.id, "Moved")
            .await
            .expect_err("rename hidden"),
        s.delete_mailbox(u, kept.id)
            .await
            .expect_err("delete hidden"),
    ] {
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }

    // One update of several settings; the others stay.
    s.update_mailbox_settings(
        u,
        kept.id,
        &MailboxSettings {
            retention: Some(3_600_000),
            hidden: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("update");
    let read = s.get_mailbox(u, kept.id).await.expect("read");
    assert_eq!(
        (
            read.retention,
            read.hidden,
            read.encrypt_messages,
            read.subscribed
        ),
        (3_600_000, false, true, true)
    );
    let before = Timestamp::now();
    let uid = append(s, u, &read, "retained", None).await;
    let rdate = meta_at(s, u, &read, uid).await.rdate.expect("expiry");
    assert!(rdate.0 >= before.0 + 3_600_000 && rdate.0 <= Timestamp::now().0 + 3_600_000);
    // A new retention applies to new messages only.
    s.update_mailbox_settings(
        u,
        kept.id,
        &MailboxSettings {
            retention: Some(0),
            ..Default::default()
        },
    )
    .await
    .expect("no retention");
    assert_eq!(meta_at(s, u, &read, uid).await.rdate, Some(rdate));
    let uid2 = append(s, u, &read, "kept forever", None).await;
    assert_eq!(meta_at(s, u, &read, uid2).await.rdate, None);

    let (other, _) = user(s, "expiry.settings.other").await;
    let e = s
        .update_mailbox_settings(other, kept.id, &MailboxSettings::default())
        .await
        .expect_err("foreign");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    s.rename_mailbox(u, kept.id, "Visible")
        .await
        .expect("a visible mailbox renames");
}
