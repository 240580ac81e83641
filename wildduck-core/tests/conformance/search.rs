//! Search conformance: every key family through `Services::search`, over messages stored by the
//! append use case (real ingestion, so headers and text are what a client would have uploaded).

use wildduck_core::ErrorKind;
use wildduck_core::model::{Flags, MailboxId, ModSeq, Timestamp, Uid, UidSet};
use wildduck_core::search::{SearchDate, SearchKey};
use wildduck_core::service::Services;
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;

const DAY: i64 = 24 * 3600 * 1000;

fn day(y: i32, m: u8, d: u8) -> SearchDate {
    SearchDate::new(y, m, d).expect("valid date")
}

fn m1() -> Vec<u8> {
    // Date at 21:30 −0200 is 23:30 UTC on 1 Jan: SENTON compares the UTC day (as WildDuck).
    b"From: \"Alice Example\" <alice@example.com>\r\n\
To: bob@example.com\r\n\
Bcc: secret@hidden.example\r\n\
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgQmVybGlu?=\r\n\
X-Custom: Project-Zeta\r\n\
Date: Mon, 1 Jan 2024 21:30:00 -0200\r\n\
Message-ID: <m1@example.com>\r\n\
\r\n\
Hello (world) 1+1=2 [brackets]\r\n"
        .to_vec()
}

fn m2() -> Vec<u8> {
    // A body longer than `text` (1024 characters): "boundaryword" straddles text/textFooter.
    let mut raw = b"From: carol@example.org\r\n\
To: bob@example.com\r\n\
Subject: Invoice *urgent*\r\n\
Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n\
\r\n"
        .to_vec();
    raw.extend(std::iter::repeat_n(b'a', 1020));
    raw.extend_from_slice(b" boundaryword and more text\r\n");
    raw
}

fn m3() -> Vec<u8> {
    // 00:30 +0300 on 2 Jan is 21:30 UTC on 1 Jan.
    b"From: dave@example.net\r\n\
Subject: plain one\r\n\
Date: Tue, 2 Jan 2024 00:30:00 +0300\r\n\
\r\n\
Nothing special here.\r\n"
        .to_vec()
}

fn m4() -> Vec<u8> {
    // No Date header: SENT* keys use the internal date.
    b"From: erin@example.com\r\nSubject: no date\r\n\r\nLast one.\r\n".to_vec()
}

/// Runs the search checks against `s` (fresh backend or not: it creates its own users).
pub async fn run_all(s: &Services) {
    let user = s
        .create_user(NewUser {
            username: "searcher".into(),
            password: Some("secret pass".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let other = s
        .create_user(NewUser {
            username: "searcher2".into(),
            password: Some("secret pass".into()),
            ..Default::default()
        })
        .await
        .expect("other user");
    let inbox = s.find_mailbox(user.id, "INBOX").await.expect("inbox");
    let jan = |d: i64| Timestamp(day(2024, 1, 1).start_ms() + (d - 1) * DAY);
    let msgs: [(Vec<u8>, &[&str], Timestamp); 4] = [
        (
            m1(),
            &["\\Seen", "$Work"],
            Timestamp(jan(5).0 + 12 * 3600 * 1000),
        ),
        (m2(), &["\\Flagged", "\\Answered"], jan(6)),
        (m3(), &["\\Deleted", "\\Draft"], Timestamp(jan(7).0 - 1)),
        (m4(), &[], jan(7)),
    ];
    let mut uids = Vec::new();
    let mut sizes = Vec::new();
    let mut modseqs = Vec::new();
    for (raw, flags, idate) in &msgs {
        let a = s
            .append(
                user.id,
                inbox.id,
                AppendRequest {
                    raw,
                    flags: Flags::parse(flags.iter()).expect("flags"),
                    idate: Some(*idate),
                    session: None,
                },
            )
            .await
            .expect("append");
        uids.push(a.uid);
        sizes.push(a.size);
        modseqs.push(a.modseq);
    }
    let [u1, u2, u3, u4] = [uids[0], uids[1], uids[2], uids[3]];
    let all = vec![u1, u2, u3, u4];

    let search = |key: SearchKey| {
        let s = s.clone();
        async move {
            s.search(user.id, inbox.id, &key)
                .await
                .unwrap_or_else(|e| panic!("{key}: {e}"))
        }
    };
    let check = |key: SearchKey, want: Vec<Uid>| {
        let search = &search;
        async move {
            let label = key.to_string();
            let got = search(key).await;
            assert_eq!(got.uids, want, "{label}");
            assert_eq!(got.highest_modseq, None, "{label}");
        }
    };
    let str_key = |f: fn(String) -> SearchKey, v: &str| f(v.to_string());

    // Constants and sets.
    check(SearchKey::All, all.clone()).await;
    check(SearchKey::All.negate(), vec![]).await;
    check(SearchKey::Recent, vec![]).await;
    check(SearchKey::New, vec![]).await;
    check(SearchKey::Old, all.clone()).await;
    check(SearchKey::Uids(UidSet::range(u2.0, u4.0)), vec![u2, u3, u4]).await;
    check(
        SearchKey::Uids(UidSet::range(u2.0, u4.0)).negate(),
        vec![u1],
    )
    .await;
    check(
        SearchKey::Uids(UidSet::from_ranges([(u1.0, u1.0), (u3.0, u3.0)])),
        vec![u1, u3],
    )
    .await;
    check(SearchKey::Uids(UidSet::new()), vec![]).await;
    check(
        SearchKey::Recent.with_recent(&UidSet::range(u3.0, u4.0)),
        vec![u3, u4],
    )
    .await;

    // Flags.
    check(SearchKey::Seen, vec![u1]).await;
    check(SearchKey::Unseen, vec![u2, u3, u4]).await;
    check(SearchKey::Answered, vec![u2]).await;
    check(SearchKey::Unanswered, vec![u1, u3, u4]).await;
    check(SearchKey::Flagged, vec![u2]).await;
    check(SearchKey::Unflagged, vec![u1, u3, u4]).await;
    check(SearchKey::Deleted, vec![u3]).await;
    check(SearchKey::Undeleted, vec![u1, u2, u4]).await;
    check(SearchKey::Draft, vec![u3]).await;
    check(SearchKey::Undraft, vec![u1, u2, u4]).await;
    check(str_key(SearchKey::Keyword, "$WORK"), vec![u1]).await;
    check(str_key(SearchKey::Unkeyword, "$work"), vec![u2, u3, u4]).await;
    check(str_key(SearchKey::Keyword, "$Wor"), vec![]).await;

    // Headers: indexed (decoded), and raw lines for the others.
    check(str_key(SearchKey::From, "ALICE"), vec![u1]).await;
    check(str_key(SearchKey::From, "@example.com"), vec![u1, u4]).await;
    check(str_key(SearchKey::To, "bob@"), vec![u1, u2]).await;
    check(str_key(SearchKey::Cc, ""), vec![]).await;
    check(str_key(SearchKey::Bcc, "SECRET@hidden"), vec![u1]).await;
    check(str_key(SearchKey::Bcc, ""), vec![u1]).await;
    check(str_key(SearchKey::Subject, "GRÜSSE"), vec![]).await;
    check(str_key(SearchKey::Subject, "GRÜßE aus"), vec![u1]).await;
    check(str_key(SearchKey::Subject, "*urgent*"), vec![u2]).await;
    check(str_key(SearchKey::Subject, "urgent**"), vec![]).await;
    check(SearchKey::header("X-CUSTOM", "zeta"), vec![u1]).await;
    check(SearchKey::header("x-custom", ""), vec![u1]).await;
    check(SearchKey::header("x-missing", ""), vec![]).await;
    check(SearchKey::header("Message-ID", "m1@"), vec![u1]).await;

    // Body and text, also under NOT and OR (WildDuck cannot).
    check(str_key(SearchKey::Body, "(WORLD) 1+1=2 [brack"), vec![u1]).await;
    check(str_key(SearchKey::Body, "boundaryword"), vec![u2]).await;
    check(str_key(SearchKey::Body, "alice"), vec![]).await;
    check(str_key(SearchKey::Text, "alice@example.com"), vec![u1]).await;
    check(str_key(SearchKey::Text, "project-zeta"), vec![u1]).await;
    check(str_key(SearchKey::Text, "hello").negate(), vec![u2, u3, u4]).await;
    check(
        str_key(SearchKey::Body, "boundaryword").or(str_key(SearchKey::Subject, "grüße")),
        vec![u1, u2],
    )
    .await;
    check(
        SearchKey::and([
            str_key(SearchKey::Text, "example"),
            str_key(SearchKey::Body, "special")
                .or(SearchKey::Seen)
                .negate(),
        ]),
        vec![u2, u4],
    )
    .await;

    // Internal date: the UTC day, exact at midnight on both sides.
    check(SearchKey::On(day(2024, 1, 6)), vec![u2, u3]).await;
    check(SearchKey::Before(day(2024, 1, 6)), vec![u1]).await;
    check(SearchKey::Since(day(2024, 1, 6)), vec![u2, u3, u4]).await;
    check(SearchKey::Since(day(2024, 1, 7)), vec![u4]).await;
    check(SearchKey::On(day(2024, 1, 6)).negate(), vec![u1, u4]).await;

    // Header date (UTC day), falling back to the internal date.
    check(SearchKey::SentOn(day(2024, 1, 1)), vec![u1, u3]).await;
    check(SearchKey::SentOn(day(2024, 1, 2)), vec![u2]).await;
    check(SearchKey::SentBefore(day(2024, 1, 2)), vec![u1, u3]).await;
    check(SearchKey::SentSince(day(2024, 1, 3)), vec![u4]).await;

    // Sizes.
    let s1 = sizes[0];
    check(
        SearchKey::Larger(s1),
        sizes_where(&uids, &sizes, |x| x > s1),
    )
    .await;
    check(
        SearchKey::Smaller(s1),
        sizes_where(&uids, &sizes, |x| x < s1),
    )
    .await;
    check(
        SearchKey::Smaller(s1 + 1).negate(),
        sizes_where(&uids, &sizes, |x| x > s1),
    )
    .await;

    // OLDER / YOUNGER (relative to now; the messages are from 2024).
    check(SearchKey::Older(60), all.clone()).await;
    check(SearchKey::Younger(3600), vec![]).await;
    let since_m3 = u64::try_from((Timestamp::now().0 - jan(7).0) / 1000 + 3600).unwrap_or(0);
    check(SearchKey::Younger(since_m3), vec![u3, u4]).await;

    // MODSEQ: the highest MODSEQ of the matches comes back.
    let r = search(SearchKey::ModSeq {
        entry: None,
        modseq: modseqs[2],
    })
    .await;
    assert_eq!(r.uids, vec![u3, u4]);
    assert_eq!(r.highest_modseq, Some(modseqs[3]));
    let r = search(SearchKey::and([SearchKey::modseq(1), SearchKey::Seen])).await;
    assert_eq!((r.uids, r.highest_modseq), (vec![u1], Some(modseqs[0])));
    let r = search(SearchKey::modseq(modseqs[3].0 + 1)).await;
    assert_eq!((r.uids, r.highest_modseq), (vec![], None::<ModSeq>));

    // A flag change is visible to the next search.
    let fr = s
        .store_flags(
            user.id,
            &inbox,
            &UidSet::range(u4.0, u4.0),
            &wildduck_core::model::FlagOp::Add(Flags::parse(["\\Seen"]).expect("flags")),
            None,
            None,
        )
        .await
        .expect("store");
    assert_eq!(fr.changed.len(), 1);
    check(SearchKey::Seen, vec![u1, u4]).await;

    // Too deep a tree is refused before any evaluation.
    let mut deep = SearchKey::Seen;
    for _ in 0..wildduck_core::search::MAX_SEARCH_DEPTH {
        deep = deep.negate();
    }
    let e = s
        .search(user.id, inbox.id, &deep)
        .await
        .expect_err("too deep");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    let mut ok = SearchKey::Seen;
    for _ in 1..wildduck_core::search::MAX_SEARCH_DEPTH {
        ok = ok.negate();
    }
    let expect = if wildduck_core::search::MAX_SEARCH_DEPTH % 2 == 1 {
        vec![u1, u4]
    } else {
        vec![u2, u3]
    };
    check(ok, expect).await;

    // Ownership: another user's or an unknown mailbox is NotFound.
    let e = s
        .search(other.id, inbox.id, &SearchKey::All)
        .await
        .expect_err("foreign mailbox");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = s
        .search(user.id, MailboxId::new(), &SearchKey::All)
        .await
        .expect_err("unknown mailbox");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // The other user's own (empty) INBOX finds nothing of the first user's.
    let other_inbox = s.find_mailbox(other.id, "INBOX").await.expect("inbox");
    let r = s
        .search(other.id, other_inbox.id, &SearchKey::All)
        .await
        .expect("search");
    assert!(r.uids.is_empty());
}

fn sizes_where(uids: &[Uid], sizes: &[u64], f: impl Fn(u64) -> bool) -> Vec<Uid> {
    uids.iter()
        .zip(sizes)
        .filter(|(_, s)| f(**s))
        .map(|(u, _)| *u)
        .collect()
}
