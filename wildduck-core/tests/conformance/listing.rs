//! Paged listings (`MessageStore::uid_window` through `Services::message_page`): the backend's
//! indexed window matches the reference semantics (`UidWindow::select` over every UID) in both
//! directions, after a cursor, with the unseen filter, with holes left by expunged messages, and a
//! walk through every page forwards and back sees each message exactly once.

use wildduck_core::model::{FlagOp, Flags, Uid, UidSet};
use wildduck_core::service::Services;
use wildduck_core::service::listing::{PageCursor, PageSpec};
use wildduck_core::service::messages::AppendRequest;
use wildduck_core::service::users::NewUser;
use wildduck_core::store::{MessageFilter, UidWindow};

use super::messages::mail;

pub async fn run_all(s: &Services) {
    let u = s
        .create_user(NewUser {
            username: "pagelister".into(),
            password: Some("pw".into()),
            ..Default::default()
        })
        .await
        .expect("user");
    let inbox = s.find_mailbox(u.id, "INBOX").await.expect("inbox");
    // 23 messages; every third seen; UIDs 5 and 6 expunged afterwards (a hole in the UID range).
    for i in 0..23u32 {
        let raw = mail(&format!("page {i}"), "", "body");
        let flags = if i % 3 == 0 { vec!["\\Seen"] } else { vec![] };
        s.append(
            u.id,
            inbox.id,
            AppendRequest {
                raw: &raw,
                flags: Flags::parse(flags).expect("flags"),
                ..Default::default()
            },
        )
        .await
        .expect("append");
    }
    let holes = UidSet::range(5, 6);
    s.store_flags(
        u.id,
        &inbox,
        &holes,
        &FlagOp::Add(Flags::parse(["\\Deleted"]).expect("flags")),
        None,
        None,
    )
    .await
    .expect("flag");
    let e = s
        .expunge(u.id, &inbox, Some(&holes), None)
        .await
        .expect("expunge");
    assert_eq!(e.uids, [Uid(5), Uid(6)]);

    let store = &s.backend().messages;
    let all = store.list_uids(inbox.id).await.expect("uids");
    assert_eq!(all.len(), 21);
    let unseen: Vec<Uid> = store
        .find_meta(inbox.id, &MessageFilter::default())
        .await
        .expect("metas")
        .into_iter()
        .filter(|m| !m.flags.contains(&wildduck_core::model::Flag::Seen))
        .map(|m| m.uid)
        .collect();
    for unseen_only in [false, true] {
        let reference = if unseen_only { &unseen } else { &all };
        for descending in [false, true] {
            for after in [
                None,
                Some(Uid(1)),
                Some(Uid(5)),
                Some(Uid(12)),
                Some(Uid(23)),
                Some(Uid(99)),
            ] {
                for limit in [1, 4, 50] {
                    let w = UidWindow {
                        after,
                        descending,
                        limit,
                        unseen_only,
                    };
                    assert_eq!(
                        store.uid_window(inbox.id, w).await.expect("window"),
                        w.select(reference),
                        "{w:?}"
                    );
                }
            }
        }
    }

    // Every page forwards, then back again: each message once, in order, edges flagged right.
    for descending in [false, true] {
        let mut want = all.clone();
        if descending {
            want.reverse();
        }
        let spec = |cursor| PageSpec {
            cursor,
            descending,
            limit: 4,
            unseen_only: false,
        };
        let mut seen = Vec::new();
        let mut pages = Vec::new();
        let mut cursor = PageCursor::First;
        loop {
            let p = s.message_page(&inbox, spec(cursor)).await.expect("page");
            assert_eq!(p.has_previous, !seen.is_empty(), "{descending} {seen:?}");
            seen.extend(p.uids.iter().copied());
            pages.push(p.uids.clone());
            if !p.has_next {
                break;
            }
            cursor = PageCursor::After(*p.uids.last().expect("a page with a next has items"));
        }
        assert_eq!(seen, want, "descending {descending}");
        assert_eq!(pages.len(), 6);
        // Back from the last page: the pages before it, in the same cuts.
        let mut back = pages.len() - 1;
        let mut first = pages[back][0];
        while back > 0 {
            let p = s
                .message_page(&inbox, spec(PageCursor::Before(first)))
                .await
                .expect("previous page");
            back -= 1;
            assert_eq!(p.uids, pages[back], "descending {descending}, page {back}");
            assert!(p.has_next);
            assert_eq!(p.has_previous, back > 0);
            first = p.uids[0];
        }
    }
    // Past the end: empty, with the rest before it.
    let p = s
        .message_page(
            &inbox,
            PageSpec {
                cursor: PageCursor::After(Uid(99)),
                descending: false,
                limit: 4,
                unseen_only: false,
            },
        )
        .await
        .expect("past the end");
    assert!(p.uids.is_empty() && p.has_previous && !p.has_next);
}
