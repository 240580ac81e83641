//! Conformance suite on the embedded SQLite backend (the same suite the MongoDB backend runs), plus
//! the backend's own behaviours: schema versioning, the open lock, content round trips.
#![cfg(feature = "embedded")]

mod conformance;

use wildduck_core::ErrorKind;
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::sqlite::{SCHEMA_VERSION, SqliteStore};

fn config() -> ServiceConfig {
    ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("mail.db"))
        .await
        .expect("open");
    assert_eq!(store.open_report().found_version, 0);
    let services = Services::new(store.backend(), None, config());
    conformance::run_all(&services).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_data_and_schema_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mail.db");
    let user = {
        let store = SqliteStore::open(&path).await.expect("open");
        let s = Services::new(store.backend(), None, config());
        s.create_user(wildduck_core::service::users::NewUser {
            username: "keeper".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user")
    };
    let store = SqliteStore::open(&path).await.expect("reopen");
    let report = store.open_report();
    assert_eq!(report.found_version, SCHEMA_VERSION);
    assert!(!report.repaired, "a clean close needs no repair");
    let s = Services::new(store.backend(), None, config());
    assert_eq!(s.resolve_user("keeper").await.expect("kept").id, user.id);
    assert_eq!(
        s.list_mailboxes(user.id, false).await.expect("boxes").len(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_open_of_one_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mail.db");
    let _first = SqliteStore::open(&path).await.expect("open");
    let e = SqliteStore::open(&path).await.expect_err("locked");
    assert_eq!(e.kind(), ErrorKind::Conflict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mail.db");
    drop(SqliteStore::open(&path).await.expect("create"));
    // Pretend a future binary migrated the file.
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [(SCHEMA_VERSION + 1).to_string()],
        )
        .expect("bump");
    }
    let before = std::fs::read(&path).expect("read");
    let e = SqliteStore::open(&path).await.expect_err("newer");
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(
        e.message().contains("newer") && e.message().contains("upgrade"),
        "{}",
        e.message()
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "file untouched"
    );
}

/// A file of schema 6 (before message metadata and the expiry index) is migrated on open; its
/// messages stay readable and take metadata afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_6_file_is_migrated() {
    use wildduck_core::model::UidSet;
    use wildduck_core::service::messages::AppendRequest;
    use wildduck_core::store::FieldUpdate;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mail.db");
    let user = {
        let store = SqliteStore::open(&path).await.expect("open");
        let s = Services::new(store.backend(), None, config());
        let u = s
            .create_user(wildduck_core::service::users::NewUser {
                username: "old.file".into(),
                ..Default::default()
            })
            .await
            .expect("user");
        let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
        s.append(
            u.id,
            inbox.id,
            AppendRequest {
                raw: b"Subject: kept\r\n\r\nold\r\n",
                ..Default::default()
            },
        )
        .await
        .expect("append");
        u.id
    };
    // Take the file back to schema 6: what versions 7 and 8 added is removed.
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "ALTER TABLE users DROP COLUMN meta_data;
             ALTER TABLE users DROP COLUMN internal_data;
             ALTER TABLE addresses DROP COLUMN meta_data;
             ALTER TABLE addresses DROP COLUMN internal_data;
             DROP INDEX messages_expiry;
             ALTER TABLE message_content DROP COLUMN custom;
             ALTER TABLE archived DROP COLUMN custom;
             UPDATE meta SET value = '6' WHERE key = 'schema_version';",
        )
        .expect("downgrade");
    }
    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(store.open_report().found_version, 6);
    let s = Services::new(store.backend(), None, config());
    let inbox = s.find_mailbox(user, "INBOX").await.expect("inbox");
    let all = UidSet::all();
    assert!(
        s.message_meta_data(user, &inbox, &all)
            .await
            .expect("read")
            .is_empty()
    );
    let n = s
        .update_message_fields(
            user,
            &inbox,
            &all,
            &FieldUpdate {
                meta_data: Some(r#"{"migrated":true}"#.into()),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(n, 1);
    let meta = s.message_meta_data(user, &inbox, &all).await.expect("read");
    assert_eq!(meta.len(), 1);
    assert_eq!(meta[0].1, r#"{"migrated":true}"#);
    drop(s);
    drop(store);
    let store = SqliteStore::open(&path).await.expect("third open");
    assert_eq!(store.open_report().found_version, SCHEMA_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_7_file_is_migrated() {
    use wildduck_core::model::UserUpdate;
    use wildduck_core::service::addresses::AddressUpdate;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mail.db");
    let (user, address) = {
        let store = SqliteStore::open(&path).await.expect("open");
        let s = Services::new(store.backend(), None, config());
        let u = s
            .create_user(wildduck_core::service::users::NewUser {
                username: "seven".into(),
                address: Some("seven@example.com".into()),
                name: "Seven".into(),
                ..Default::default()
            })
            .await
            .expect("user");
        let a = s.list_addresses(u.id).await.expect("addresses");
        (u.id, a.first().map(|a| a.id).expect("main address"))
    };
    // Take the file back to schema 7: the columns version 8 added are removed.
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "ALTER TABLE users DROP COLUMN meta_data;
             ALTER TABLE users DROP COLUMN internal_data;
             ALTER TABLE addresses DROP COLUMN meta_data;
             ALTER TABLE addresses DROP COLUMN internal_data;
             UPDATE meta SET value = '7' WHERE key = 'schema_version';",
        )
        .expect("downgrade");
    }
    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(store.open_report().found_version, 7);
    let s = Services::new(store.backend(), None, config());
    // Old rows read as never set, and take new values.
    let u = s.get_user(user).await.expect("user");
    assert_eq!(
        (u.name.as_str(), u.meta_data, u.internal_data),
        ("Seven", None, None)
    );
    s.update_user(
        user,
        UserUpdate {
            meta_data: Some(r#"{"after":8}"#.into()),
            ..Default::default()
        },
        None,
    )
    .await
    .expect("update user");
    s.update_address(
        user,
        address,
        AddressUpdate {
            internal_data: Some(r#"{"after":8}"#.into()),
            ..Default::default()
        },
    )
    .await
    .expect("update address");
    drop(s);
    drop(store);
    let store = SqliteStore::open(&path).await.expect("third open");
    assert_eq!(store.open_report().found_version, SCHEMA_VERSION);
    let s = Services::new(store.backend(), None, config());
    let u = s.get_user(user).await.expect("user");
    assert_eq!(u.meta_data.as_deref(), Some(r#"{"after":8}"#));
    let a = s.address_by_id(address).await.expect("address");
    assert_eq!(a.internal_data.as_deref(), Some(r#"{"after":8}"#));
    assert_eq!(a.meta_data, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_round_trips_through_the_database() {
    use std::sync::Arc;
    use wildduck_core::model::{MessageId, MessageMeta, Timestamp, Uid, UidSet};
    use wildduck_core::store::NewMessage;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("mail.db"))
        .await
        .expect("open");
    let s = Services::new(store.backend(), None, config());
    let b = s.backend();
    let u = s
        .create_user(wildduck_core::service::users::NewUser {
            username: "content".into(),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let raw = b"From: a@example.com\r\nSubject: round trip\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nplain\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--x--\r\n";
    let ingested = wildduck_core::message::ingest(raw).expect("ingest");
    let (first, modseq) = b
        .mailboxes
        .allocate(inbox.id, 1)
        .await
        .expect("alloc")
        .expect("mailbox");
    let id = MessageId::new();
    let meta = MessageMeta {
        id,
        root: id,
        user: u.id,
        mailbox: inbox.id,
        uid: first,
        modseq,
        idate: Timestamp::now(),
        hdate: Timestamp::now(),
        size: ingested.message.size,
        subject: "round trip".into(),
        ..Default::default()
    };
    b.messages
        .insert_messages(&[NewMessage {
            meta_data: None,
            meta: meta.clone(),
            content: Arc::new(ingested.message.clone()),
        }])
        .await
        .expect("insert");
    let loaded = b
        .messages
        .load_messages(inbox.id, &UidSet::all())
        .await
        .expect("load");
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].0, meta);
    assert_eq!(loaded[0].1, ingested.message);
    assert_eq!(
        wildduck_core::message::rebuild::rebuild(
            &loaded[0].1.tree,
            &wildduck_core::message::NoBlobs
        )
        .expect("rebuild"),
        raw.to_vec()
    );
    // Absent UIDs are skipped.
    assert!(
        b.messages
            .load_messages(inbox.id, &UidSet::range(first.0 + 1, first.0 + 5))
            .await
            .expect("load")
            .is_empty()
    );
    assert_eq!(first, Uid(1));
}

/// The SQL translation of search plans (exact for metadata, prefilter + matcher for content)
/// agrees with the in-memory reference evaluation on mixed trees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_search_agrees_with_the_reference_matcher() {
    use wildduck_core::model::{Flags, Timestamp, UidSet};
    use wildduck_core::search::{SearchFields, SearchKey};
    use wildduck_core::service::messages::AppendRequest;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("mail.db"))
        .await
        .expect("open");
    let s = Services::new(store.backend(), None, config());
    let b = s.backend().clone();
    let u = s
        .create_user(wildduck_core::service::users::NewUser {
            username: "finder".into(),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let flag_sets: [&[&str]; 5] = [
        &[],
        &["\\Seen"],
        &["\\Answered", "$Work"],
        &["\\Deleted", "\\Flagged", "$work"],
        &["\\Draft", "\\Seen", "Other"],
    ];
    for n in 0..30u32 {
        let raw = format!(
            "From: sender{} <s{}@example.com>\r\nSubject: Topic {} Grüße\r\n\r\nbody {} {}\r\n",
            n % 4,
            n % 4,
            n % 5,
            n,
            "x".repeat((n as usize % 7) * 40)
        );
        let flags = Flags::parse(flag_sets[n as usize % 5].iter()).expect("flags");
        s.append(
            u.id,
            inbox.id,
            AppendRequest {
                raw: raw.as_bytes(),
                flags,
                idate: Some(Timestamp(1_700_000_000_000 + i64::from(n) * 86_400_000)),
                session: None,
            },
        )
        .await
        .expect("append");
    }
    let keys = vec![
        SearchKey::Seen,
        SearchKey::Keyword("$WORK".into()),
        SearchKey::Keyword("two words".into()),
        SearchKey::Unkeyword("$work".into()).or(SearchKey::Deleted),
        SearchKey::Answered.negate(),
        SearchKey::Larger(150).and_then(SearchKey::Smaller(300)),
        SearchKey::Uids(UidSet::from_ranges([(2, 4), (9, 9), (20, 40)])),
        SearchKey::Subject("grüSSe".into()),
        SearchKey::Subject("topic 3".into()).negate(),
        SearchKey::From("SENDER1".into()).or(SearchKey::Flagged),
        SearchKey::Body("body 1".into())
            .negate()
            .or(SearchKey::Seen.negate()),
        SearchKey::Text("s2@example".into()).and_then(SearchKey::Unseen),
        SearchKey::header("X-None", "").negate(),
        SearchKey::modseq(10),
    ];
    let all = b
        .messages
        .load_messages(inbox.id, &UidSet::all())
        .await
        .expect("load");
    let now = Timestamp::now();
    let mut selective = 0;
    for key in keys {
        let plan = key.plan(now);
        let want: Vec<_> = all
            .iter()
            .filter(|(m, c)| plan.matches(m, &SearchFields::from_stored(c)))
            .map(|(m, _)| (m.uid, m.modseq))
            .collect();
        let got = b.messages.search(inbox.id, &plan).await.expect("search");
        assert_eq!(got, want, "{key}");
        if !got.is_empty() && got.len() < all.len() {
            selective += 1;
        }
    }
    // The keys really discriminate (an all-or-nothing answer would hide translation errors).
    assert!(selective >= 10, "only {selective} selective keys");
}

trait AndThen {
    fn and_then(self, other: Self) -> Self;
}

impl AndThen for wildduck_core::search::SearchKey {
    fn and_then(self, other: Self) -> Self {
        Self::and([self, other])
    }
}

mod append {
    //! The one-transaction append primitive (`MessageStore::append_message` on SQLite) against
    //! the step-by-step default every other backend runs.

    use std::sync::Arc;

    use super::config;
    use wildduck_core::ErrorKind;
    use wildduck_core::model::{
        Flags, JournalCommand, JournalEntry, Mailbox, MailboxId, MessageId, MessageMeta, ModSeq,
        Timestamp, User,
    };
    use wildduck_core::service::Services;
    use wildduck_core::service::messages::AppendRequest;
    use wildduck_core::service::users::NewUser;
    use wildduck_core::store::sqlite::SqliteStore;
    use wildduck_core::store::{AppendMessage, Backend, NewBlob, ThreadLookup, append_in_steps};

    const RAW: &[u8] = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Re: one commit\r\n\
        Message-ID: <one@commit.test>\r\nIn-Reply-To: <zero@commit.test>\r\n\r\nbody\r\n";

    async fn setup(name: &str) -> (tempfile::TempDir, SqliteStore, Services, User, Mailbox) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("mail.db"))
            .await
            .expect("open");
        let s = Services::new(store.backend(), None, config());
        let u = s
            .create_user(NewUser {
                username: name.into(),
                ..Default::default()
            })
            .await
            .expect("user");
        let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
        (dir, store, s, u, inbox)
    }

    /// A hand-made append of `RAW` with one blob (`blob` as its hash) and a keyword.
    fn message(user: &User, mailbox: MailboxId, blob: &str, magic: u32) -> AppendMessage {
        let ingested = wildduck_core::message::ingest(RAW).expect("ingest");
        let id = MessageId::new();
        let meta = MessageMeta {
            id,
            root: id,
            user: user.id,
            mailbox,
            idate: Timestamp(1_700_000_000_000),
            hdate: Timestamp(1_700_000_000_000),
            flags: Flags::parse(["\\Seen", "$Label1"]).expect("flags"),
            size: ingested.message.size,
            subject: "Re: one commit".into(),
            magic,
            blobs: vec![blob.to_string()],
            ..Default::default()
        };
        AppendMessage {
            meta_data: None,
            journal: Some(JournalEntry {
                user: user.id,
                mailbox,
                command: Some(JournalCommand::Exists),
                flags: Some(meta.flags.to_strings()),
                created: Timestamp::now(),
                ..Default::default()
            }),
            meta,
            content: Arc::new(ingested.message),
            blobs: vec![NewBlob {
                hash: blob.to_string(),
                data: b"blob bytes".to_vec(),
                content_type: "application/octet-stream".into(),
                transfer_encoding: None,
                encoded_size: 10,
                decoded_line_len: None,
                magic,
            }],
            thread: Some(ThreadLookup {
                subject: "one commit".into(),
                references: vec!["ref-zero".into()],
            }),
            keywords: vec!["$Label1".into()],
        }
    }

    async fn storage(b: &Backend, user: &User) -> i64 {
        b.users
            .get_user(user.id)
            .await
            .expect("user")
            .expect("exists")
            .storage_used
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_service_append_is_one_writer_job() {
        let (_dir, store, s, u, inbox) = setup("one.job").await;
        let before = store.writer_stats();
        let a = s
            .append(
                u.id,
                inbox.id,
                AppendRequest {
                    raw: RAW,
                    flags: Flags::parse(["$Label1"]).expect("flags"),
                    ..Default::default()
                },
            )
            .await
            .expect("append");
        let after = store.writer_stats();
        // Allocation, thread, insert, quota, keywords and journal: one job, one commit.
        assert_eq!(after.jobs - before.jobs, 1);
        assert_eq!(after.batches - before.batches, 1);
        let b = s.backend();
        assert_eq!(storage(b, &u).await, a.size as i64);
        let mb = s.get_mailbox(u.id, inbox.id).await.expect("mailbox");
        assert_eq!(mb.flags, ["$Label1"]);
        assert_eq!((mb.uid_next.0, mb.modify_index), (a.uid.0 + 1, a.modseq));
        let journal = b.journal.since(inbox.id, ModSeq(0)).await.expect("journal");
        let e = journal.last().expect("an entry");
        assert_eq!(e.command, Some(JournalCommand::Exists));
        assert_eq!(
            (e.uid, e.modseq, e.message, e.thread),
            (Some(a.uid), a.modseq, Some(a.id), Some(a.thread))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_append_leaves_nothing_behind() {
        let (_dir, store, s, u, inbox) = setup("all.or.nothing").await;
        let b = store.backend();
        let first = b
            .messages
            .append_message(&b, message(&u, inbox.id, "blob-first", 7))
            .await
            .expect("first");
        let mb_before = s.get_mailbox(u.id, inbox.id).await.expect("mailbox");
        let used = storage(&b, &u).await;
        let journal = b.journal.since(inbox.id, ModSeq(0)).await.expect("j").len();

        // Fails at the insert (duplicate id), after allocation, thread and blob: all rolled back.
        let mut dup = message(&u, inbox.id, "blob-second", 9);
        dup.meta.id = first.id;
        dup.keywords = vec!["$Never".into()];
        let e = b.messages.append_message(&b, dup).await.expect_err("dup");
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        // An absent mailbox (or another user's) fails at the allocation.
        let mut lost = message(&u, MailboxId::new(), "blob-third", 9);
        lost.keywords = vec!["$Never".into()];
        let e = b.messages.append_message(&b, lost).await.expect_err("lost");
        assert_eq!(e.kind(), ErrorKind::NotFound);

        let mb_after = s.get_mailbox(u.id, inbox.id).await.expect("mailbox");
        assert_eq!(
            (mb_after.uid_next, mb_after.modify_index, &mb_after.flags),
            (mb_before.uid_next, mb_before.modify_index, &mb_before.flags),
            "the failed append took no UID, MODSEQ or keyword"
        );
        assert_eq!(storage(&b, &u).await, used);
        for h in ["blob-second", "blob-third"] {
            assert_eq!(b.attachments.blob_refs(h).await.expect("refs"), None);
        }
        assert_eq!(
            b.attachments.blob_refs("blob-first").await.expect("refs"),
            Some((1, 7))
        );
        assert_eq!(
            b.journal.since(inbox.id, ModSeq(0)).await.expect("j").len(),
            journal
        );
        let uids = b.messages.list_uids(inbox.id).await.expect("uids");
        assert_eq!(uids, [first.uid]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_transaction_writes_what_the_steps_write() {
        let (_dir, store, _s, u, inbox) = setup("same.result").await;
        let b = store.backend();
        let stepped = append_in_steps(
            b.messages.as_ref(),
            &b,
            message(&u, inbox.id, "blob-shared", 5),
        )
        .await
        .expect("steps");
        let one = b
            .messages
            .append_message(&b, message(&u, inbox.id, "blob-shared", 6))
            .await
            .expect("one transaction");
        assert_eq!(one.uid.0, stepped.uid.0 + 1);
        assert_eq!(one.modseq.0, stepped.modseq.0 + 1);
        assert!(stepped.thread.is_some());
        assert_eq!(one.thread, stepped.thread, "same subject and reference");
        assert_eq!(
            b.attachments.blob_refs("blob-shared").await.expect("refs"),
            Some((2, 11))
        );
        assert_eq!(storage(&b, &u).await, (one.size + stepped.size) as i64);
        let stored = b
            .messages
            .find_meta(inbox.id, &Default::default())
            .await
            .expect("meta");
        assert_eq!(stored, [stepped.clone(), one.clone()]);
        let journal = b.journal.since(inbox.id, ModSeq(0)).await.expect("j");
        let [x, y] = journal.as_slice() else {
            panic!("two entries, got {journal:?}");
        };
        for (e, m) in [(x, &stepped), (y, &one)] {
            assert_eq!(
                (e.uid, e.modseq, e.message, e.thread, e.flags.as_deref()),
                (
                    Some(m.uid),
                    m.modseq,
                    Some(m.id),
                    m.thread,
                    Some(&["\\Seen".to_string(), "$Label1".to_string()][..])
                )
            );
        }
        let mb = b
            .mailboxes
            .get_mailbox(u.id, inbox.id)
            .await
            .expect("mb")
            .expect("exists");
        assert_eq!(mb.flags, ["$Label1"]);
    }
}
