//! Forwarded addresses, domain renames and the correspondents register, over the services and the
//! `AddressStore` primitives behind them.

use std::time::Duration;

use wildduck_core::ErrorKind;
use wildduck_core::model::{
    Flags, ForwardTargetKind, ObjectId, RegisterEntry, SpecialUse, Timestamp, UserId,
};
use wildduck_core::service::Services;
use wildduck_core::service::addresses::addrview;
use wildduck_core::service::forwarded::{AutoreplyChange, ForwardedUpdate, NewForwarded};
use wildduck_core::service::messages::AppendRequest;

use super::new_user;

pub async fn run_all(s: &Services) {
    forwarded(s).await;
    rename_domain(s).await;
    register_primitives(s).await;
    register_filled_by_appends(s).await;
}

async fn forwarded(s: &Services) {
    let owner = s.create_user(new_user("fwd.owner")).await.expect("user");
    let f = s
        .create_forwarded(NewForwarded {
            address: "Team.List@Fwd-Conf.example".into(),
            name: Some("Team".into()),
            targets: vec![
                "fwd.owner@example.com".into(),
                "smtp://mx.fwd-conf.example:25".into(),
                "https://hook.fwd-conf.example/in".into(),
                "away@elsewhere.example".into(),
            ],
            forwards: 40,
            tags: Some(vec!["b".into(), "A".into(), "a".into()]),
            meta_data: Some("{\"k\":1}".into()),
            ..Default::default()
        })
        .await
        .expect("create forwarded");
    assert_eq!(f.address, "team.list@fwd-conf.example");
    assert_eq!(f.user, None);

    // Read back by id, by view and in the listing: every forwarded field survives the store.
    let got = s.get_forwarded(f.id).await.expect("get");
    assert_eq!(got, f);
    let fw = got.forwarding.clone().expect("forwarding");
    let kinds: Vec<_> = fw.targets.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [
            ForwardTargetKind::Mail,
            ForwardTargetKind::Relay,
            ForwardTargetKind::Http,
            ForwardTargetKind::Mail
        ]
    );
    // A target that is a local user's address is resolved to that user.
    assert_eq!(fw.targets.first().and_then(|t| t.user), Some(owner.id));
    assert_eq!(fw.targets.get(3).and_then(|t| t.user), None);
    assert_eq!(fw.forwards, 40);
    assert!(!fw.autoreply.status);
    assert_eq!(got.tags, ["A", "b"]);
    assert_eq!(fw.meta_data.as_deref(), Some("{\"k\":1}"));
    let resolved = s
        .resolve_address("teamlist+x@fwd-conf.example", false)
        .await
        .expect("resolve");
    assert_eq!(resolved, f);
    let all = s.list_all_addresses(None, &[], &[]).await.expect("all");
    assert!(all.iter().any(|a| a == &f));
    // Users' addresses are not forwarded ones.
    let own = s.list_addresses(owner.id).await.expect("own");
    assert!(own.iter().all(|a| a.forwarding.is_none()));
    let own_id = own.first().map(|a| a.id).expect("own address");
    assert_eq!(
        s.get_forwarded(own_id)
            .await
            .map(|_| ())
            .map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );

    // Duplicates (also of a user's address, also in dotted form), self-forwarding, `+`, and
    // wildcards without permission are refused.
    for (address, targets, kind) in [
        (
            "teamlist@fwd-conf.example",
            vec![],
            ErrorKind::AlreadyExists,
        ),
        ("f.wd.owner@example.com", vec![], ErrorKind::AlreadyExists),
        (
            "self@fwd-conf.example",
            vec!["S.elf@fwd-conf.example".to_string()],
            ErrorKind::Invalid,
        ),
        ("a+b@fwd-conf.example", vec![], ErrorKind::Invalid),
        ("*@fwd-conf.example", vec![], ErrorKind::Invalid),
    ] {
        let e = s
            .create_forwarded(NewForwarded {
                address: address.into(),
                targets,
                ..Default::default()
            })
            .await
            .expect_err(address);
        assert_eq!(e.kind(), kind, "{address}: {e}");
    }
    let catch_all = s
        .create_forwarded(NewForwarded {
            address: "*@fwd-conf.example".into(),
            targets: vec!["away@elsewhere.example".into()],
            allow_wildcard: true,
            ..Default::default()
        })
        .await
        .expect("wildcard with permission");
    let wild = s
        .resolve_address("nobody@fwd-conf.example", true)
        .await
        .expect("wildcard resolve");
    assert_eq!(wild.id, catch_all.id);

    // Updates: merge the autoreply, replace targets, keep the limit on 0, rename.
    let updated = s
        .update_forwarded(
            f.id,
            ForwardedUpdate {
                address: Some("team2@fwd-conf.example".into()),
                targets: Some(vec!["other@elsewhere.example".into()]),
                forwards: Some(0),
                disabled: Some(true),
                autoreply: Some(AutoreplyChange {
                    subject: Some("Away".into()),
                    end: Some(Some(Timestamp(1_900_000_000_000))),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    let again = s.get_forwarded(f.id).await.expect("get after update");
    assert_eq!(again, updated);
    assert_eq!(again.address, "team2@fwd-conf.example");
    let fw = again.forwarding.clone().expect("forwarding");
    assert!(fw.disabled);
    assert_eq!(fw.forwards, 40);
    assert_eq!(fw.targets.len(), 1);
    assert!(fw.autoreply.status);
    assert_eq!(fw.autoreply.subject.as_deref(), Some("Away"));
    assert_eq!(fw.autoreply.end, Some(Timestamp(1_900_000_000_000)));
    let e = s
        .resolve_address("teamlist@fwd-conf.example", false)
        .await
        .expect_err("old name is free");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // A second update of one field keeps the others (the autoreply merge).
    s.update_forwarded(
        f.id,
        ForwardedUpdate {
            autoreply: Some(AutoreplyChange {
                status: false,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .expect("update autoreply");
    let fw = s
        .get_forwarded(f.id)
        .await
        .expect("get")
        .forwarding
        .expect("forwarding");
    assert!(!fw.autoreply.status);
    assert_eq!(fw.autoreply.subject.as_deref(), Some("Away"));
    for (address, kind) in [
        ("fwd.owner@example.com", ErrorKind::AlreadyExists),
        ("x*@fwd-conf.example", ErrorKind::Invalid),
    ] {
        let e = s
            .update_forwarded(
                f.id,
                ForwardedUpdate {
                    address: Some(address.into()),
                    ..Default::default()
                },
            )
            .await
            .expect_err(address);
        assert_eq!(e.kind(), kind, "{address}");
    }

    // The forward counter starts empty.
    let usage = s.forward_usage(&again).await.expect("usage");
    assert_eq!((usage.allowed, usage.used, usage.ttl), (40, 0, None));

    // Deletes: only forwarded addresses, once.
    assert_eq!(
        s.delete_forwarded(own_id).await.map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    assert!(s.list_addresses(owner.id).await.expect("own").len() == 1);
    s.delete_forwarded(f.id).await.expect("delete");
    assert_eq!(
        s.delete_forwarded(f.id).await.map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    assert!(
        !s.backend()
            .addresses
            .delete_forwarded(f.id)
            .await
            .expect("primitive")
    );
    s.delete_forwarded(catch_all.id)
        .await
        .expect("delete wildcard");
}

async fn rename_domain(s: &Services) {
    let mut nu = new_user("dom.user");
    nu.address = Some("dom.user@old-dom.example".into());
    let u = s.create_user(nu).await.expect("user");
    s.add_address(u.id, "alias@old-dom.example", None, false)
        .await
        .expect("alias");
    let keep = s
        .add_address(u.id, "keep@old-dom.example.org", None, false)
        .await
        .expect("other domain");
    let fw = s
        .create_forwarded(NewForwarded {
            address: "fw@old-dom.example".into(),
            targets: vec!["dom.user@old-dom.example".into()],
            ..Default::default()
        })
        .await
        .expect("forwarded");
    let r = s
        .rename_domain(" OLD-dom.example ", "new-dom.example")
        .await
        .expect("rename");
    assert_eq!((r.addresses, r.users), (3, 1));
    let user = s.get_user(u.id).await.expect("user");
    assert_eq!(user.address.as_deref(), Some("dom.user@new-dom.example"));
    let moved = s
        .resolve_address("fw@new-dom.example", false)
        .await
        .expect("forwarded moved");
    assert_eq!(moved.id, fw.id);
    assert!(moved.forwarding.is_some());
    assert_eq!(
        s.resolve_address("alias@new-dom.example", false)
            .await
            .map(|a| a.user),
        Ok(Some(u.id))
    );
    // Another domain that merely ends the same way is left alone.
    assert_eq!(
        s.resolve_address("keep@old-dom.example.org", false)
            .await
            .map(|a| a.id),
        Ok(keep.id)
    );
    assert_eq!(
        s.resolve_address("alias@old-dom.example", false)
            .await
            .map_err(|e| e.kind()),
        Err(ErrorKind::NotFound)
    );
    // Nothing left under the old name: a second rename changes nothing.
    let r = s
        .rename_domain("old-dom.example", "new-dom.example")
        .await
        .expect("rename again");
    assert_eq!((r.addresses, r.users), (0, 0));
}

fn entry(address: &str, name: Option<&str>, updated: i64) -> RegisterEntry {
    RegisterEntry {
        id: ObjectId::new(),
        user: UserId::default(),
        address: address.into(),
        addrview: addrview(address),
        name: name.map(str::to_string),
        updated: Timestamp(updated),
        disabled: false,
    }
}

async fn register_primitives(s: &Services) {
    let a = s.backend().addresses.clone();
    let u = s.create_user(new_user("reg.prim")).await.expect("user");
    let other = s.create_user(new_user("reg.other")).await.expect("user");
    a.register_correspondents(
        u.id,
        &[
            entry("ann@example.org", Some("Ann Smith"), 1_000),
            entry("bob@example.org", None, 2_000),
            entry("carl@example.net", Some("annex"), 3_000),
        ],
    )
    .await
    .expect("insert");
    a.register_correspondents(other.id, &[entry("ann@example.org", None, 5_000)])
        .await
        .expect("other user");
    // Address substring (case-sensitive) or name prefix (any case), newest first.
    let found = a.search_register(u.id, "ANN", 10).await.expect("search");
    let got: Vec<_> = found.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(got, ["carl@example.net", "ann@example.org"]);
    let found = a
        .search_register(u.id, "example.org", 10)
        .await
        .expect("search");
    let got: Vec<_> = found.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(got, ["bob@example.org", "ann@example.org"]);
    assert_eq!(
        a.search_register(u.id, "example", 1)
            .await
            .expect("limit")
            .len(),
        1
    );
    assert!(
        a.search_register(u.id, "Ann Smith@", 10)
            .await
            .expect("none")
            .is_empty()
    );

    // Seen again: newer time and name, still one entry.
    a.register_correspondents(u.id, &[entry("bob@example.org", Some("Bob"), 9_000)])
        .await
        .expect("update");
    let found = a.search_register(u.id, "bob", 10).await.expect("search");
    assert_eq!(found.len(), 1);
    let bob = found.first().cloned().expect("bob");
    assert_eq!(
        (bob.name.as_deref(), bob.updated, bob.user),
        (Some("Bob"), Timestamp(9_000), u.id)
    );

    // Disabled: not listed, not revived by new mail; enabled again it is listed.
    assert!(
        !a.update_register_entry(other.id, bob.id, true, None, Timestamp(10_000))
            .await
            .expect("someone else's")
    );
    assert!(
        a.update_register_entry(u.id, bob.id, true, Some("Robert"), Timestamp(10_000))
            .await
            .expect("disable")
    );
    assert!(
        a.search_register(u.id, "bob", 10)
            .await
            .expect("s")
            .is_empty()
    );
    a.register_correspondents(u.id, &[entry("bob@example.org", Some("B"), 11_000)])
        .await
        .expect("seen while disabled");
    assert!(
        a.search_register(u.id, "bob", 10)
            .await
            .expect("s")
            .is_empty()
    );
    a.update_register_entry(u.id, bob.id, false, None, Timestamp(12_000))
        .await
        .expect("enable");
    let found = a.search_register(u.id, "bob", 10).await.expect("search");
    let got: Vec<_> = found
        .iter()
        .map(|e| (e.id, e.name.as_deref(), e.updated))
        .collect();
    assert_eq!(got, [(bob.id, Some("Robert"), Timestamp(12_000))]);

    assert_eq!(a.delete_user_register(u.id).await.expect("delete"), 3);
    assert!(
        a.search_register(u.id, "example", 10)
            .await
            .expect("s")
            .is_empty()
    );
    assert_eq!(
        a.search_register(other.id, "ann", 10)
            .await
            .expect("s")
            .len(),
        1
    );
}

/// Waits for the background register write of an append.
async fn wait_for(s: &Services, user: UserId, query: &str, n: usize) -> Vec<RegisterEntry> {
    let mut last = Vec::new();
    for _ in 0..100 {
        last = s
            .search_address_register(user, query, 50)
            .await
            .expect("search");
        if last.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    last
}

async fn register_filled_by_appends(s: &Services) {
    let u = s.create_user(new_user("reg.fill")).await.expect("user");
    let boxes = s.list_mailboxes(u.id, false).await.expect("boxes");
    let by_use = |su: Option<SpecialUse>| {
        boxes
            .iter()
            .find(|m| m.special_use == su && (su.is_some() || m.path == "INBOX"))
            .map(|m| m.id)
            .expect("mailbox")
    };
    let (inbox, sent, junk) = (
        by_use(None),
        by_use(Some(SpecialUse::Sent)),
        by_use(Some(SpecialUse::Junk)),
    );
    let put = |mb, raw: &'static str, flags: Flags| async move {
        s.append(
            u.id,
            mb,
            AppendRequest {
                raw: raw.as_bytes(),
                flags,
                ..Default::default()
            },
        )
        .await
        .expect("append");
    };
    put(
        inbox,
        "From: =?utf-8?q?J=C3=BCrgen?= <Juergen@Reg-Fill.example>\r\nTo: reg.fill@example.com\r\n\
         Subject: hi\r\n\r\nhello\r\n",
        Flags::new(),
    )
    .await;
    put(
        sent,
        "From: reg.fill@example.com\r\nTo: Bob <bob@reg-fill.example>, no-reply@reg-fill.example\r\n\
         Cc: carol@reg-fill.example\r\nBcc: dave@reg-fill.example\r\nSubject: out\r\n\r\nx\r\n",
        Flags::new(),
    )
    .await;
    put(
        junk,
        "From: spam@reg-fill.example\r\nSubject: buy\r\n\r\nx\r\n",
        Flags::new(),
    )
    .await;
    put(
        inbox,
        "From: list@reg-fill.example\r\nList-ID: <l.reg-fill.example>\r\nSubject: l\r\n\r\nx\r\n",
        Flags::new(),
    )
    .await;
    put(
        inbox,
        "From: draft@reg-fill.example\r\nSubject: d\r\n\r\nx\r\n",
        Flags::parse(["\\Draft"]).expect("flags"),
    )
    .await;
    let found = wait_for(s, u.id, "reg-fill.example", 4).await;
    let mut got: Vec<_> = found
        .iter()
        .map(|e| (e.address.as_str(), e.name.as_deref()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("bob@reg-fill.example", Some("Bob")),
            ("carol@reg-fill.example", None),
            ("dave@reg-fill.example", None),
            ("juergen@reg-fill.example", Some("Jürgen")),
        ]
    );
    let by_name = wait_for(s, u.id, "jür", 1).await;
    assert_eq!(by_name.len(), 1);
    let e = s
        .search_address_register(UserId::new(), "x", 10)
        .await
        .expect_err("unknown user");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}
