//! `metaData` / `internalData` of users and of users' addresses: stored as given, changed only
//! when given, refused (with nothing changed) unless the JSON text of an object of at most
//! 1 MiB, kept apart from a forwarded address's own, and brought back by a user restore.

use wildduck_core::ErrorKind;
use wildduck_core::model::{AddressId, UserUpdate};
use wildduck_core::service::Services;
use wildduck_core::service::addresses::{AddressUpdate, NewUserAddress};
use wildduck_core::service::forwarded::NewForwarded;
use wildduck_core::service::users::{NewUser, UserDeleteOptions};

use super::new_user;

pub async fn run_all(s: &Services) {
    users(s).await;
    addresses(s).await;
    restore(s).await;
}

/// Values the services refuse: not an object, not JSON, too large.
fn bad_values() -> Vec<String> {
    vec![
        "[1,2]".into(),
        "\"text\"".into(),
        "not json".into(),
        "42".into(),
        format!("{{\"a\":\"{}\"}}", "x".repeat(1024 * 1024)),
    ]
}

async fn users(s: &Services) {
    let u = s
        .create_user(NewUser {
            meta_data: Some(r#"{"plan":"gold","n":1}"#.into()),
            internal_data: Some(r#"{"crm":"c-17"}"#.into()),
            ..new_user("meta.user")
        })
        .await
        .expect("create");
    let got = s.get_user(u.id).await.expect("get");
    assert_eq!(got.meta_data.as_deref(), Some(r#"{"plan":"gold","n":1}"#));
    assert_eq!(got.internal_data.as_deref(), Some(r#"{"crm":"c-17"}"#));
    let listed = s
        .list_users(&Default::default())
        .await
        .expect("list")
        .into_iter()
        .find(|x| x.id == u.id)
        .expect("listed");
    assert_eq!(listed.meta_data, got.meta_data);
    assert_eq!(listed.internal_data, got.internal_data);

    // A user without them has none.
    let plain = s.create_user(new_user("meta.plain")).await.expect("plain");
    let plain = s.get_user(plain.id).await.expect("get plain");
    assert_eq!((plain.meta_data, plain.internal_data), (None, None));

    // Changing one leaves the other; changing something else leaves both.
    s.update_user(
        u.id,
        UserUpdate {
            meta_data: Some(r#"{"plan":"silver"}"#.into()),
            ..Default::default()
        },
        None,
    )
    .await
    .expect("update meta");
    s.update_user(
        u.id,
        UserUpdate {
            name: Some("Renamed".into()),
            ..Default::default()
        },
        None,
    )
    .await
    .expect("update name");
    let got = s.get_user(u.id).await.expect("get");
    assert_eq!(got.meta_data.as_deref(), Some(r#"{"plan":"silver"}"#));
    assert_eq!(got.internal_data.as_deref(), Some(r#"{"crm":"c-17"}"#));
    assert_eq!(got.name, "Renamed");

    // Refused values change nothing, not even the other fields of the same update.
    for bad in bad_values() {
        for (meta, internal) in [(Some(bad.clone()), None), (None, Some(bad.clone()))] {
            let e = s
                .update_user(
                    u.id,
                    UserUpdate {
                        name: Some("Not applied".into()),
                        meta_data: meta,
                        internal_data: internal,
                        ..Default::default()
                    },
                    None,
                )
                .await
                .expect_err("bad value");
            assert_eq!(e.kind(), ErrorKind::Invalid, "{:.20}", bad);
        }
        let e = s
            .create_user(NewUser {
                internal_data: Some(bad.clone()),
                ..new_user("meta.refused")
            })
            .await
            .expect_err("bad create");
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }
    assert_eq!(s.get_user(u.id).await.expect("get"), got);
    assert_eq!(
        s.resolve_user("meta.refused")
            .await
            .expect_err("never created")
            .kind(),
        ErrorKind::NotFound
    );
}

async fn addresses(s: &Services) {
    let owner = s.create_user(new_user("meta.owner")).await.expect("owner");
    let other = s.create_user(new_user("meta.other")).await.expect("other");
    let a = s
        .add_user_address(
            owner.id,
            NewUserAddress {
                address: "Alias.One@Meta.example".into(),
                name: Some("Alias".into()),
                tags: vec![" red ".into(), "RED".into(), "blue".into()],
                meta_data: Some(r#"{"source":"import"}"#.into()),
                internal_data: Some(r#"{"ticket":9}"#.into()),
                ..Default::default()
            },
        )
        .await
        .expect("add");
    assert_eq!(a.address, "alias.one@meta.example");
    assert_eq!(a.tags, ["red", "blue"]);
    // Every way of reading it back agrees.
    let by_id = s.address_by_id(a.id).await.expect("by id");
    assert_eq!(by_id, a);
    let resolved = s
        .resolve_address("aliasone+x@meta.example", false)
        .await
        .expect("resolve");
    assert_eq!(resolved, a);
    let listed = s.list_addresses(owner.id).await.expect("list");
    assert_eq!(listed.iter().find(|x| x.id == a.id), Some(&a));
    let all = s.list_all_addresses(None, &[], &[]).await.expect("all");
    assert_eq!(all.iter().find(|x| x.id == a.id), Some(&a));
    // The main address made at user creation has none.
    let main = listed
        .iter()
        .find(|x| x.address == "meta.owner@example.com")
        .expect("main");
    assert_eq!((&main.meta_data, &main.internal_data), (&None, &None));

    // Update: only what is given changes; a rename keeps the metadata.
    let updated = s
        .update_address(
            owner.id,
            a.id,
            AddressUpdate {
                internal_data: Some(r#"{"ticket":10}"#.into()),
                ..Default::default()
            },
        )
        .await
        .expect("update internal");
    assert_eq!(updated.internal_data.as_deref(), Some(r#"{"ticket":10}"#));
    s.update_address(
        owner.id,
        a.id,
        AddressUpdate {
            address: Some("alias.two@meta.example".into()),
            ..Default::default()
        },
    )
    .await
    .expect("rename");
    let got = s.address_by_id(a.id).await.expect("get");
    assert_eq!(got.address, "alias.two@meta.example");
    assert_eq!(got.meta_data.as_deref(), Some(r#"{"source":"import"}"#));
    assert_eq!(got.internal_data.as_deref(), Some(r#"{"ticket":10}"#));

    // Refused values change nothing; another user's address is not found.
    for bad in bad_values() {
        let e = s
            .update_address(
                owner.id,
                a.id,
                AddressUpdate {
                    name: Some("Not applied".into()),
                    meta_data: Some(bad.clone()),
                    ..Default::default()
                },
            )
            .await
            .expect_err("bad update");
        assert_eq!(e.kind(), ErrorKind::Invalid);
        let e = s
            .add_user_address(
                owner.id,
                NewUserAddress {
                    address: "refused@meta.example".into(),
                    internal_data: Some(bad.clone()),
                    ..Default::default()
                },
            )
            .await
            .expect_err("bad add");
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }
    assert_eq!(s.address_by_id(a.id).await.expect("unchanged"), got);
    assert_eq!(
        s.resolve_address("refused@meta.example", false)
            .await
            .expect_err("never added")
            .kind(),
        ErrorKind::NotFound
    );
    let e = s
        .update_address(
            other.id,
            a.id,
            AddressUpdate {
                meta_data: Some(r#"{"stolen":true}"#.into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("not other's");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = s
        .update_address(
            owner.id,
            AddressId::new(),
            AddressUpdate {
                meta_data: Some("{}".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("unknown");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(s.address_by_id(a.id).await.expect("unchanged"), got);

    // A forwarded address keeps its own metadata in `forwarding`, not in the address fields.
    let f = s
        .create_forwarded(NewForwarded {
            address: "fwd.meta@meta.example".into(),
            targets: vec!["away@elsewhere.example".into()],
            meta_data: Some(r#"{"fwd":1}"#.into()),
            internal_data: Some(r#"{"fwd":2}"#.into()),
            ..Default::default()
        })
        .await
        .expect("forwarded");
    let f = s.address_by_id(f.id).await.expect("get forwarded");
    assert_eq!((&f.meta_data, &f.internal_data), (&None, &None));
    let fw = f.forwarding.expect("forwarding");
    assert_eq!(fw.meta_data.as_deref(), Some(r#"{"fwd":1}"#));
    assert_eq!(fw.internal_data.as_deref(), Some(r#"{"fwd":2}"#));
}

async fn restore(s: &Services) {
    let u = s
        .create_user(NewUser {
            meta_data: Some(r#"{"kept":"user"}"#.into()),
            internal_data: Some(r#"{"kept":"internal"}"#.into()),
            ..new_user("meta.restored")
        })
        .await
        .expect("create");
    let a = s
        .add_user_address(
            u.id,
            NewUserAddress {
                address: "restored.alias@meta.example".into(),
                meta_data: Some(r#"{"kept":"address"}"#.into()),
                ..Default::default()
            },
        )
        .await
        .expect("alias");
    let far = wildduck_core::model::Timestamp(
        wildduck_core::model::Timestamp::now().0 + 24 * 3600 * 1000,
    );
    s.delete_user(
        u.id,
        UserDeleteOptions {
            delete_after: Some(far),
            ..Default::default()
        },
    )
    .await
    .expect("delete");
    let info = s.deleted_user_info(u.id).await.expect("info");
    assert_eq!(
        info.snapshot.user.meta_data.as_deref(),
        Some(r#"{"kept":"user"}"#)
    );
    s.restore_user(u.id, None, None).await.expect("restore");
    let back = s.get_user(u.id).await.expect("back");
    assert_eq!(back.meta_data.as_deref(), Some(r#"{"kept":"user"}"#));
    assert_eq!(
        back.internal_data.as_deref(),
        Some(r#"{"kept":"internal"}"#)
    );
    let alias = s.address_by_id(a.id).await.expect("alias back");
    assert_eq!(alias.meta_data.as_deref(), Some(r#"{"kept":"address"}"#));
}
