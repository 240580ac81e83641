//! Conformance suite on the MongoDB backend against the real test server.
#![cfg(feature = "scale-out")]

mod conformance;

use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::mongo::MongoStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_mongodb() {
    let url = wildduck_test_support::mongodb_url().await;
    let store = MongoStore::connect(&url, &wildduck_test_support::unique_db_name())
        .await
        .expect("connect");
    let refused = store.ensure_indexes(None).await.expect("indexes");
    // Only text/hashed indexes may be refused by the test server.
    assert!(
        refused
            .iter()
            .all(|n| n.ends_with("fulltext") || n.contains("hashed") || n.ends_with("shard")),
        "{refused:?}"
    );
    let config = ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    };
    let services = Services::new(store.backend(), None, config);
    conformance::run_all(&services).await;
}

/// Round trips of the message primitives, counted by the driver's command monitor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_counts_on_mongodb() {
    use wildduck_core::model::{FlagOp, Flags, MessageId, MessageMeta, Timestamp, Uid, UidSet};
    let url = wildduck_test_support::mongodb_url().await;
    let store = MongoStore::connect(&url, &wildduck_test_support::unique_db_name())
        .await
        .expect("connect");
    let config = ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    };
    let s = Services::new(store.backend(), None, config);
    let b = s.backend();
    let u = s
        .create_user(wildduck_core::service::users::NewUser {
            username: "counter".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    let trash = s.find_mailbox(u.id, "Trash").await.expect("trash");
    let (first, modseq) = b
        .mailboxes
        .allocate(inbox.id, 100)
        .await
        .expect("alloc")
        .expect("mb");
    let metas: Vec<MessageMeta> = (0..100)
        .map(|i| {
            let id = MessageId::new();
            MessageMeta {
                id,
                root: id,
                user: u.id,
                mailbox: inbox.id,
                uid: Uid(first.0 + i),
                modseq,
                idate: Timestamp::now(),
                hdate: Timestamp::now(),
                size: 10,
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

    let before = store.command_count();
    let r = b
        .messages
        .set_flags(
            inbox.id,
            &UidSet::all(),
            &FlagOp::Add(Flags::parse(["\\Seen"]).expect("f")),
            None,
        )
        .await
        .expect("flags");
    let flag_cmds = store.command_count() - before;
    assert_eq!(r.changed.len(), 100);
    // find + modseq allocation + one multi-statement update (the service adds one journal insert).
    assert!(flag_cmds <= 3, "flag change used {flag_cmds} commands");

    let before = store.command_count();
    let (pairs, _) = b
        .messages
        .copy_messages(inbox.id, &UidSet::all(), &trash)
        .await
        .expect("copy");
    let copy_cmds = store.command_count() - before;
    assert_eq!(pairs.len(), 100);
    // find + allocation + insertMany (the driver may split a large batch; 100 small docs fit one).
    assert!(copy_cmds <= 3, "copy used {copy_cmds} commands");
    println!("commands: flag change on 100 = {flag_cmds}, copy of 100 = {copy_cmds}");

    let before = store.command_count();
    let user = s.authenticate("counter", "pw").await.expect("login");
    let login_cmds = store.command_count() - before;
    assert_eq!(user.id, u.id);
    assert!(login_cmds <= 3, "login used {login_cmds} commands");
}
