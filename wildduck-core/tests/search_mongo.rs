//! Search on MongoDB against the real test server: the search conformance checks on their own, and a
//! property test that the one-query translation and the in-memory matcher agree for random search
//! trees over random (really ingested) messages.
#![cfg(feature = "scale-out")]

#[path = "conformance/search.rs"]
mod search_conformance;

use std::sync::Arc;

use async_trait::async_trait;
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use wildduck_core::Result;
use wildduck_core::message::{StoredMessage, ingest};
use wildduck_core::model::{
    FlagOp, Flags, Mailbox, MailboxId, MessageId, MessageMeta, ModSeq, Timestamp, Uid, UidSet,
    UserId,
};
use wildduck_core::search::{SearchDate, SearchFields, SearchKey};
use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::mongo::MongoStore;
use wildduck_core::store::{CopiedUid, FlagResult, MessageFilter, MessageStore, NewMessage};

async fn services() -> Services {
    let url = wildduck_test_support::mongodb_url().await;
    let store = MongoStore::connect(&url, &wildduck_test_support::unique_db_name())
        .await
        .expect("connect");
    store.ensure_indexes(None).await.expect("indexes");
    let config = ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    };
    Services::new(store.backend(), None, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_conformance_on_mongodb() {
    search_conformance::run_all(&services().await).await;
}

/// A message store that delegates everything but `search`, so the trait's default (the in-memory
/// evaluation over `find_meta` / `load_messages`) answers searches.
#[derive(Debug)]
struct DefaultSearch(Arc<dyn MessageStore>);

#[async_trait]
impl MessageStore for DefaultSearch {
    async fn find_meta(&self, m: MailboxId, f: &MessageFilter) -> Result<Vec<MessageMeta>> {
        self.0.find_meta(m, f).await
    }
    async fn list_uids(&self, m: MailboxId) -> Result<Vec<Uid>> {
        self.0.list_uids(m).await
    }
    async fn counts(&self, m: MailboxId) -> Result<(u64, u64)> {
        self.0.counts(m).await
    }
    async fn set_flags(
        &self,
        m: MailboxId,
        u: &UidSet,
        op: &FlagOp,
        since: Option<ModSeq>,
    ) -> Result<FlagResult> {
        self.0.set_flags(m, u, op, since).await
    }
    async fn copy_messages(
        &self,
        s: MailboxId,
        u: &UidSet,
        t: &Mailbox,
    ) -> Result<(Vec<CopiedUid>, Vec<MessageMeta>)> {
        self.0.copy_messages(s, u, t).await
    }
    async fn insert_messages(&self, messages: &[NewMessage]) -> Result<()> {
        self.0.insert_messages(messages).await
    }
    async fn load_messages(
        &self,
        m: MailboxId,
        u: &UidSet,
    ) -> Result<Vec<(MessageMeta, StoredMessage)>> {
        self.0.load_messages(m, u).await
    }
    async fn update_fields(
        &self,
        m: MailboxId,
        u: &UidSet,
        f: &wildduck_core::store::FieldUpdate,
    ) -> Result<u64> {
        self.0.update_fields(m, u, f).await
    }
    async fn meta_data(&self, m: MailboxId, u: &UidSet) -> Result<Vec<(Uid, String)>> {
        self.0.meta_data(m, u).await
    }
    async fn thread_counts(
        &self,
        u: UserId,
        t: &[wildduck_core::model::ThreadId],
    ) -> Result<Vec<(wildduck_core::model::ThreadId, u64)>> {
        self.0.thread_counts(u, t).await
    }
    async fn find_expired(
        &self,
        now: wildduck_core::model::Timestamp,
        limit: usize,
    ) -> Result<Vec<MessageMeta>> {
        self.0.find_expired(now, limit).await
    }
    async fn delete_messages(&self, m: MailboxId, ids: &[MessageId]) -> Result<u64> {
        self.0.delete_messages(m, ids).await
    }
    async fn delete_mailbox_messages(&self, m: MailboxId) -> Result<Vec<MessageMeta>> {
        self.0.delete_mailbox_messages(m).await
    }
    async fn sum_sizes(&self, u: UserId) -> Result<i64> {
        self.0.sum_sizes(u).await
    }
}

/// The same checks through `MessageStore::search`'s default implementation (what a backend without
/// its own translation gets), over documents read back from MongoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_conformance_through_the_default_evaluation() {
    let s = services().await;
    let mut backend = s.backend().clone();
    backend.messages = Arc::new(DefaultSearch(backend.messages.clone()));
    let s = Services::new(backend, None, s.config().clone());
    search_conformance::run_all(&s).await;
}

/// Words the generated messages and needles are made of: regex metacharacters, non-ASCII letters in
/// both cases, and plain words, so needles often hit.
const WORDS: &[&str] = &[
    "alpha", "Beta", "GAMMA", "räk", "SMÖR", "x.y", "a+b", "(c)", "[d]", "*", "\\", "$", "^", "|",
    "?", "{2}", "жук", "ЖУК", "née", "NÉE", "q-1", "z",
];

fn words(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 1..=max).prop_map(|w| w.join(" "))
}

/// A needle: a word, a slice of a word, two words, or empty.
fn needle() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_string),
        2 => (prop::sample::select(WORDS), 0usize..4, 1usize..4).prop_map(|(w, a, n)| {
            w.chars().skip(a).take(n).collect::<String>()
        }),
        1 => (prop::sample::select(WORDS), prop::sample::select(WORDS))
            .prop_map(|(a, b)| format!("{a} {b}")),
        1 => Just(String::new()),
    ]
}

#[derive(Debug, Clone)]
struct GenMessage {
    raw: Vec<u8>,
    flags: Vec<&'static str>,
    idate_offset_min: i64,
    modseq: u64,
}

const FLAG_POOL: &[&str] = &[
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$Work",
    "$label1",
    "Junk",
];

/// 1–10 January 2024, in minutes.
const SPAN_MIN: i64 = 10 * 24 * 60;

fn base_ms() -> i64 {
    SearchDate::new(2024, 1, 1).map_or(0, |d| d.start_ms())
}

fn gen_message() -> impl Strategy<Value = GenMessage> {
    (
        (
            words(3),
            words(2),
            prop::option::of(words(2)),
            prop::option::of(words(2)),
        ),
        (
            words(4),
            prop::option::of(words(2)),
            prop::option::of(0..SPAN_MIN),
        ),
        (0usize..3, words(6)),
        prop::sample::subsequence(FLAG_POOL, 0..=4),
        (
            0..SPAN_MIN,
            1u64..40,
            prop::sample::select(&["+0000", "-0500", "+0930"][..]),
        ),
    )
        .prop_map(
            |(
                (from, to, cc, bcc),
                (subject, custom, date),
                (long, body),
                flags,
                (idate, modseq, zone),
            )| {
                let mut raw = String::new();
                raw.push_str(&format!(
                    "From: \"{from}\" <{}@example.com>\r\n",
                    from.len()
                ));
                raw.push_str(&format!("To: {to} <to@example.org>\r\n"));
                if let Some(cc) = cc {
                    raw.push_str(&format!("Cc: {cc}\r\n"));
                }
                if let Some(bcc) = bcc {
                    raw.push_str(&format!("Bcc: {bcc}\r\n"));
                }
                raw.push_str(&format!("Subject: {subject}\r\n"));
                if let Some(c) = custom {
                    // Folded, to exercise continuation lines in raw header matching.
                    raw.push_str(&format!("X-Custom: first\r\n\t{c}\r\n"));
                }
                if let Some(min) = date {
                    let t = base_ms() / 1000 + min * 60;
                    let d = SearchDate::of(Timestamp(t * 1000));
                    let secs = t.rem_euclid(86_400);
                    let month = [
                        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                        "Nov", "Dec",
                    ]
                    .get(usize::from(d.month()) - 1)
                    .copied()
                    .unwrap_or("Jan");
                    raw.push_str(&format!(
                        "Date: {} {month} {} {:02}:{:02}:00 {zone}\r\n",
                        d.day(),
                        d.year(),
                        secs / 3600,
                        (secs / 60) % 60
                    ));
                }
                raw.push_str("\r\n");
                // Long bodies push words past the 1024-character cut between text and textFooter.
                raw.push_str(&"filler ".repeat(long * 73));
                raw.push_str(&body);
                raw.push_str("\r\n");
                GenMessage {
                    raw: raw.into_bytes(),
                    flags,
                    idate_offset_min: idate,
                    modseq,
                }
            },
        )
}

fn date() -> impl Strategy<Value = SearchDate> {
    (0i64..14).prop_map(|d| SearchDate::of(Timestamp(base_ms() + (d - 2) * 24 * 3600 * 1000)))
}

fn leaf(max_uid: u32) -> impl Strategy<Value = SearchKey> {
    let s = |f: fn(String) -> SearchKey| needle().prop_map(f);
    prop_oneof![
        Just(SearchKey::All),
        (1..=max_uid, 1..=max_uid).prop_map(|(a, b)| SearchKey::Uids(UidSet::range(a, b))),
        prop::collection::vec(1..=max_uid, 0..4)
            .prop_map(|v| SearchKey::Uids(v.into_iter().map(Uid).collect())),
        prop::sample::select(vec![
            SearchKey::Answered,
            SearchKey::Unanswered,
            SearchKey::Deleted,
            SearchKey::Undeleted,
            SearchKey::Draft,
            SearchKey::Undraft,
            SearchKey::Flagged,
            SearchKey::Unflagged,
            SearchKey::Seen,
            SearchKey::Unseen,
            SearchKey::Recent,
            SearchKey::New,
            SearchKey::Old,
        ]),
        prop::sample::select(&["$work", "$LABEL1", "junk", "$Wor", "\\seen"][..]).prop_flat_map(
            |k| prop_oneof![
                Just(SearchKey::Keyword(k.to_string())),
                Just(SearchKey::Unkeyword(k.to_string()))
            ]
        ),
        s(SearchKey::From),
        s(SearchKey::To),
        s(SearchKey::Cc),
        s(SearchKey::Bcc),
        s(SearchKey::Subject),
        (
            prop::sample::select(&["X-Custom", "subject", "CC", "x-none", "bcc"][..]),
            needle()
        )
            .prop_map(|(h, v)| SearchKey::header(h, v)),
        s(SearchKey::Body),
        s(SearchKey::Text),
        date().prop_map(SearchKey::Before),
        date().prop_map(SearchKey::On),
        date().prop_map(SearchKey::Since),
        date().prop_map(SearchKey::SentBefore),
        date().prop_map(SearchKey::SentOn),
        date().prop_map(SearchKey::SentSince),
        (0u64..1200).prop_map(SearchKey::Larger),
        (0u64..1200).prop_map(SearchKey::Smaller),
        (0..SPAN_MIN).prop_map(|m| {
            let age = (Timestamp::now().0 - base_ms()) / 1000 - m * 60;
            SearchKey::Older(u64::try_from(age).unwrap_or(0))
        }),
        (0..SPAN_MIN).prop_map(|m| {
            let age = (Timestamp::now().0 - base_ms()) / 1000 - m * 60;
            SearchKey::Younger(u64::try_from(age).unwrap_or(0))
        }),
        (0u64..42).prop_map(SearchKey::modseq),
    ]
}

fn tree(max_uid: u32) -> impl Strategy<Value = SearchKey> {
    leaf(max_uid).prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(SearchKey::negate),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
            prop::collection::vec(inner, 1..=3).prop_map(SearchKey::And),
        ]
    })
}

const MESSAGES: usize = 40;
const CASES: u32 = 160;

#[test]
fn mongo_query_agrees_with_in_memory_matcher() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let generated: Vec<GenMessage> = prop::collection::vec(gen_message(), MESSAGES)
        .new_tree(&mut runner)
        .expect("messages")
        .current();

    let (s, mailbox, stored) = rt.block_on(async {
        let s = services().await;
        let user = s
            .create_user(wildduck_core::service::users::NewUser {
                username: "propsearch".into(),
                password: Some("pw".into()),
                ..Default::default()
            })
            .await
            .expect("user");
        let inbox = s.find_mailbox(user.id, "INBOX").await.expect("inbox");
        let mut stored: Vec<(MessageMeta, SearchFields)> = Vec::new();
        let mut batch = Vec::new();
        for (i, g) in generated.iter().enumerate() {
            let ing = ingest(&g.raw).expect("ingest");
            assert!(
                ing.blobs.is_empty(),
                "generated messages have no attachments"
            );
            let idate = Timestamp(base_ms() + g.idate_offset_min * 60_000 + 1234);
            let id = MessageId::new();
            let meta = MessageMeta {
                id,
                root: id,
                user: user.id,
                mailbox: inbox.id,
                uid: Uid(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                modseq: ModSeq(g.modseq),
                idate,
                hdate: ing.message.data.hdate.map_or(idate, Timestamp),
                flags: Flags::parse(g.flags.iter()).expect("flags"),
                size: ing.message.size,
                msgid: Some(ing.message.data.msgid.clone()),
                subject: ing.message.data.subject.clone(),
                magic: 1,
                ..Default::default()
            };
            stored.push((meta.clone(), SearchFields::from_stored(&ing.message)));
            batch.push(NewMessage {
                meta_data: None,
                meta,
                content: Arc::new(ing.message),
            });
        }
        s.backend()
            .messages
            .insert_messages(&batch)
            .await
            .expect("insert");
        (s, inbox, stored)
    });
    // The text/textFooter cut is exercised.
    assert!(stored.iter().any(|(_, f)| !f.text_footer.is_empty()));

    let max_uid = u32::try_from(MESSAGES + 2).unwrap_or(u32::MAX);
    let partial = std::cell::Cell::new(0u32);
    let result = runner.run(&tree(max_uid), |key| {
        let now = Timestamp::now();
        let plan = key.plan(now);
        let got: Vec<Uid> = rt
            .block_on(s.backend().messages.search(mailbox.id, &plan))
            .map_err(|e| TestCaseError::fail(format!("{key}: {e}")))?
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        let want: Vec<Uid> = stored
            .iter()
            .filter(|(m, f)| plan.matches(m, f))
            .map(|(m, _)| m.uid)
            .collect();
        prop_assert_eq!(&got, &want, "{} → {:?}", key, plan);
        if !want.is_empty() && want.len() < stored.len() {
            partial.set(partial.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generated trees are not trivially all-or-nothing.
    let partial = partial.get();
    assert!(
        partial >= CASES / 4,
        "only {partial} of {CASES} searches were selective"
    );
}
