//! Forwarded addresses, the domain rename, the correspondents register and the default address of
//! a new user, over HTTP, on both backends.

mod common;

use std::time::Duration;

use common::{Api, Kind, start};
use serde_json::{Value, json};
use wildduck_core::model::AddressId;

async fn forwarded_routes(api: &Api) {
    let user = api.user("fwduser").await;
    let (s, b) = api
        .post(
            "/addresses/forwarded",
            json!({
                "address": "List@Fwd.example.com",
                "name": "List",
                "targets": [
                    "fwduser@example.com",
                    "smtp://mx.example.net:25",
                    "https://hook.example.net/in",
                    "outside@example.net"
                ],
                "forwards": 50,
                "tags": ["b", "A"],
                "metaData": {"k": 1}
            }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["id"].as_str().expect("id").to_string();

    // The target that is a local user's address was resolved to the user.
    let parsed: AddressId = id.parse().expect("address id");
    let stored = api.services.get_forwarded(parsed).await.expect("stored");
    let first = stored
        .forwarding
        .as_ref()
        .and_then(|f| f.targets.first())
        .and_then(|t| t.user)
        .map(|u| u.to_string());
    assert_eq!(first.as_deref(), Some(user.as_str()));

    let (s, b) = api.get(&format!("/addresses/forwarded/{id}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["address"], "list@fwd.example.com");
    assert_eq!(b["name"], "List");
    assert_eq!(
        b["targets"],
        json!([
            "fwduser@example.com",
            "smtp://mx.example.net:25",
            "https://hook.example.net/in",
            "outside@example.net"
        ])
    );
    assert_eq!(
        b["limits"],
        json!({"forwards": {"allowed": 50, "used": 0, "ttl": false}})
    );
    assert_eq!(b["autoreply"], json!({"status": false}));
    assert_eq!(b["tags"], json!(["A", "b"]));
    assert_eq!(b["forwardedDisabled"], false);
    assert_eq!(b["metaData"], json!({"k": 1}));
    assert!(b["created"].as_str().is_some_and(|c| c.ends_with('Z')));

    // Refusals, each with WildDuck's code.
    for (body, status, code, needle) in [
        (
            json!({"address": "list@fwd.example.com", "targets": []}),
            400,
            "AddressExistsError",
            "already exists",
        ),
        (
            json!({"address": "fwd.user@example.com"}),
            400,
            "AddressExistsError",
            "already exists",
        ),
        (
            json!({"address": "me@fwd.example.com", "targets": ["M.e@fwd.example.com"]}),
            400,
            "InputValidationError",
            "Can not forward to self \"M.e@fwd.example.com\"",
        ),
        (
            json!({"address": "x@fwd.example.com", "targets": ["ftp://x.example.com"]}),
            400,
            "InputValidationError",
            "targets[0]",
        ),
        (
            json!({"address": "a+b@fwd.example.com"}),
            400,
            "InputValidationError",
            "Address can not contain +",
        ),
        (
            json!({"address": "*@fwd.example.com"}),
            400,
            "InputValidationError",
            "Address can not contain *",
        ),
        (
            json!({"address": "not an address"}),
            400,
            "InputValidationError",
            "address",
        ),
        (
            json!({"address": "y@fwd.example.com", "autoreply": {"bogus": 1}}),
            400,
            "InputValidationError",
            "autoreply.bogus",
        ),
    ] {
        let (s, b) = api.post("/addresses/forwarded", body.clone()).await;
        assert_eq!((s, b["code"].as_str()), (status, Some(code)), "{body}: {b}");
        assert!(
            b["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{b}"
        );
    }
    let (s, b) = api
        .post(
            "/addresses/forwarded",
            json!({"address": "*@catch.example.com", "allowWildcard": true,
                   "targets": ["outside@example.net"]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let catch_all = b["id"].as_str().expect("id").to_string();

    // Not forwarded / unknown ids are 404 AddressNotFound.
    let (_, list) = api.get(&format!("/users/{user}/addresses")).await;
    let own = list["results"][0]["id"].as_str().expect("own").to_string();
    for path in [
        format!("/addresses/forwarded/{own}"),
        "/addresses/forwarded/0123456789abcdef01234567".to_string(),
    ] {
        let (s, b) = api.get(&path).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (404, Some("AddressNotFound")),
            "{b}"
        );
    }

    // Resolve: a forwarded answer (no user; targets, limits, autoreply), also dotted/labelled
    // and through the wildcard.
    let (s, b) = api
        .get("/addresses/resolve/l.ist+news@fwd.example.com")
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["id"], id.as_str());
    assert_eq!(b["user"], Value::Null);
    assert_eq!(b["name"], "List");
    assert_eq!(b["targets"].as_array().map(Vec::len), Some(4));
    assert_eq!(b["limits"]["forwards"]["allowed"], 50);
    assert_eq!(b["autoreply"]["status"], false);
    assert!(b.get("forwardedDisabled").is_none(), "{b}");
    let (s, b) = api
        .get("/addresses/resolve/anyone@catch.example.com?allowWildcard=true")
        .await;
    assert_eq!(
        (s, b["id"].as_str()),
        (200, Some(catch_all.as_str())),
        "{b}"
    );
    let (s, b) = api.get("/addresses/resolve/fwduser@example.com").await;
    assert_eq!((s, b["user"].as_str()), (200, Some(user.as_str())), "{b}");
    assert!(b.get("targets").is_none(), "{b}");

    // The listing marks forwarded addresses and filters by target.
    let (s, b) = api.get("/addresses?limit=250").await;
    assert_eq!(s, 200, "{b}");
    let results = b["results"].as_array().expect("results");
    let fwd = results
        .iter()
        .find(|r| r["id"] == id.as_str())
        .expect("listed");
    assert_eq!(fwd["forwarded"], true);
    assert_eq!(fwd["forwardedDisabled"], false);
    assert_eq!(fwd["targets"].as_array().map(Vec::len), Some(4));
    assert!(fwd.get("user").is_none(), "{fwd}");
    let mine = results
        .iter()
        .find(|r| r["id"] == own.as_str())
        .expect("own");
    assert_eq!(
        (mine["forwarded"].as_bool(), mine["user"].as_str()),
        (Some(false), Some(user.as_str()))
    );
    assert!(mine.get("targets").is_none(), "{mine}");
    let (_, b) = api
        .get("/addresses?forward=hook.example&metaData=true")
        .await;
    assert_eq!(b["results"][0]["metaData"], json!({"k": 1}), "{b}");
    let ids: Vec<_> = b["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);

    // Update: rename, new targets, disable, autoreply; `forwards: 0` keeps the limit.
    let (s, b) = api
        .put(
            &format!("/addresses/forwarded/{id}"),
            json!({
                "address": "list2@fwd.example.com",
                "targets": ["other@example.net"],
                "forwardedDisabled": true,
                "forwards": 0,
                "autoreply": {"subject": "Away", "text": "gone", "end": "2030-01-02T03:04:05.000Z"},
                "tags": "x,y"
            }),
        )
        .await;
    assert_eq!((s, &b), (200, &json!({"success": true})));
    let (_, b) = api.get(&format!("/addresses/forwarded/{id}")).await;
    assert_eq!(b["address"], "list2@fwd.example.com");
    assert_eq!(b["targets"], json!(["other@example.net"]));
    assert_eq!(b["forwardedDisabled"], true);
    assert_eq!(b["limits"]["forwards"]["allowed"], 50);
    assert_eq!(
        b["autoreply"],
        json!({"status": true, "start": false, "end": "2030-01-02T03:04:05.000Z",
               "subject": "Away", "text": "gone"})
    );
    assert_eq!(b["tags"], json!(["x", "y"]));
    for (body, code) in [
        (
            json!({"address": "fwduser@example.com"}),
            "AddressExistsError",
        ),
        (json!({"address": "x*@fwd.example.com"}), "ChangeNotAllowed"),
    ] {
        let (s, b) = api.put(&format!("/addresses/forwarded/{id}"), body).await;
        assert_eq!((s, b["code"].as_str()), (400, Some(code)), "{b}");
    }
    let (s, b) = api
        .put(&format!("/addresses/forwarded/{own}"), json!({"name": "x"}))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("AddressNotFound")),
        "{b}"
    );

    // The forward counter `wdf:<id>` shows up in `limits.forwards`.
    api.services
        .counters()
        .ttl_counter(&format!("wdf:{id}"), 3, 50, Duration::from_secs(24 * 3600))
        .await
        .expect("count forwards");
    let (_, b) = api.get(&format!("/addresses/forwarded/{id}")).await;
    assert_eq!(b["limits"]["forwards"]["used"], 3);
    assert!(
        b["limits"]["forwards"]["ttl"]
            .as_u64()
            .is_some_and(|t| t > 0 && t <= 24 * 3600),
        "{b}"
    );

    // Delete: a user's address is not a forwarded one; a forwarded one goes once.
    let (s, b) = api.delete(&format!("/addresses/forwarded/{own}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AddressNotFound")));
    let (s, b) = api.delete(&format!("/addresses/forwarded/{id}")).await;
    assert_eq!((s, &b), (200, &json!({"success": true})));
    let (s, _) = api.get(&format!("/addresses/forwarded/{id}")).await;
    assert_eq!(s, 404);
    let (s, _) = api.delete(&format!("/addresses/forwarded/{id}")).await;
    assert_eq!(s, 404);
    let (s, b) = api.get("/addresses/resolve/list2@fwd.example.com").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("AddressNotFound")));
}

async fn rename_domain(api: &Api) {
    let (s, b) = api
        .post(
            "/users",
            json!({"username": "domuser", "password": "secretpass", "address": "domuser@old.example.org"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let user = b["id"].as_str().expect("id").to_string();
    let (s, _) = api
        .post(
            &format!("/users/{user}/addresses"),
            json!({"address": "alias@old.example.org"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .post(
            "/addresses/forwarded",
            json!({"address": "fw@old.example.org", "targets": ["domuser@old.example.org"]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = api
        .put(
            "/addresses/renameDomain",
            json!({"oldDomain": "OLD.example.org", "newDomain": "new.example.org"}),
        )
        .await;
    assert_eq!(
        (s, b),
        (
            200,
            json!({"success": true, "modifiedAddresses": 3, "modifiedUsers": 1,
                   "modifiedDkim": 0, "modifiedAliases": 0})
        )
    );
    let (_, b) = api.get(&format!("/users/{user}")).await;
    assert_eq!(b["address"], "domuser@new.example.org");
    let (s, b) = api.get("/addresses/resolve/fw@new.example.org").await;
    assert_eq!(
        (s, b["targets"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{b}"
    );
    let (s, _) = api.get("/addresses/resolve/alias@old.example.org").await;
    assert_eq!(s, 404);
    let (s, b) = api
        .put("/addresses/renameDomain", json!({"oldDomain": "a.example"}))
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("InputValidationError")));
}

async fn register(api: &Api) {
    let user = api.user("reguser").await;
    let (_, boxes) = api.get(&format!("/users/{user}/mailboxes")).await;
    let sent = boxes["results"]
        .as_array()
        .expect("boxes")
        .iter()
        .find(|m| m["specialUse"] == "\\Sent")
        .and_then(|m| m["id"].as_str())
        .expect("sent")
        .to_string();
    let inbox = api.mailbox(&user, "INBOX").await;
    api.upload(&user, &inbox, &common::multipart(), "").await;
    api.upload(
        &user,
        &sent,
        b"From: reguser@example.com\r\nTo: \"Bob B\" <bob@reg.example.net>, noreply@reg.example.net\r\n\
          Cc: carol@reg.example.net\r\nSubject: out\r\n\r\nhi\r\n",
        "",
    )
    .await;
    // The register is written after the append returns: poll.
    let mut found = Value::Null;
    for _ in 0..100 {
        let (s, b) = api
            .get(&format!("/users/{user}/addressregister?query=reg.example"))
            .await;
        assert_eq!(s, 200, "{b}");
        if b["results"].as_array().map(Vec::len) == Some(2) {
            found = b;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut got: Vec<(String, Value)> = found["results"]
        .as_array()
        .expect("two recipients registered")
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap_or("").to_string(),
                r["name"].clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("bob@reg.example.net".to_string(), json!("Bob B")),
            ("carol@reg.example.net".to_string(), Value::Null),
        ]
    );
    // The sender of received mail, found by name prefix in any case.
    let mut jurgen = Value::Null;
    for _ in 0..100 {
        let (_, b) = api
            .get(&format!(
                "/users/{user}/addressregister?query=j%C3%BCr&limit=5"
            ))
            .await;
        if b["results"].as_array().is_some_and(|r| !r.is_empty()) {
            jurgen = b["results"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(jurgen["address"], "jurgen@example.org");
    assert_eq!(jurgen["name"], "Jürgen Müller");
    let entry = jurgen["id"].as_str().expect("entry id").to_string();

    // Disable it: no longer listed.
    let other = api.user("regother").await;
    let (s, b) = api
        .put(
            &format!("/users/{other}/addressregister/{entry}"),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!((s, &b), (200, &json!({"success": false})));
    let (s, b) = api
        .put(
            &format!("/users/{user}/addressregister/{entry}"),
            json!({"disabled": true, "name": "J"}),
        )
        .await;
    assert_eq!((s, &b), (200, &json!({"success": true})));
    let (_, b) = api
        .get(&format!("/users/{user}/addressregister?query=jurgen"))
        .await;
    assert_eq!(b["results"], json!([]));
    let (s, b) = api
        .put(&format!("/users/{user}/addressregister/{entry}"), json!({}))
        .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("InputValidationError")));
    let (s, b) = api.get(&format!("/users/{user}/addressregister")).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("InputValidationError")));
    let (s, b) = api
        .get("/users/0123456789abcdef01234567/addressregister?query=x")
        .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("UserNotFound")));
}

async fn default_address(api: &Api) {
    // Without `address`: <username>@<emailDomain or host name>, main, resolvable.
    let (s, b) = api
        .post(
            "/users",
            json!({"username": "noaddr", "password": "secretpass"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["id"].as_str().expect("id").to_string();
    let expected = api
        .services
        .default_user_address("noaddr")
        .expect("default address");
    assert!(expected.starts_with("noaddr@"), "{expected}");
    let (_, b) = api.get(&format!("/users/{id}")).await;
    assert_eq!(b["address"], expected.as_str());
    let (_, b) = api.get(&format!("/users/{id}/addresses")).await;
    assert_eq!(b["results"].as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(b["results"][0]["main"], true);
    // A username that is an address is the address (its `+label` dropped).
    let (s, b) = api
        .post(
            "/users",
            json!({"username": "mailuser@example.net", "password": "secretpass"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = api
        .get(&format!("/users/{}", b["id"].as_str().expect("id")))
        .await;
    assert_eq!(b["address"], "mailuser@example.net");
    // `emptyAddress`: none at all, even when one is given.
    let (s, b) = api
        .post(
            "/users",
            json!({"username": "empty", "password": "secretpass",
                   "address": "empty@example.com", "emptyAddress": true}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["id"].as_str().expect("id").to_string();
    let (_, b) = api.get(&format!("/users/{id}/addresses")).await;
    assert_eq!(b["results"], json!([]));
    let (s, _) = api.get("/addresses/resolve/empty@example.com").await;
    assert_eq!(s, 404);
}

async fn all(kind: Kind) {
    let api = start(kind).await;
    forwarded_routes(&api).await;
    rename_domain(&api).await;
    register(&api).await;
    default_address(&api).await;
}

#[tokio::test]
async fn forwarded_register_and_default_address_sqlite() {
    all(Kind::Sqlite).await;
}

#[tokio::test]
async fn forwarded_register_and_default_address_mongo() {
    all(Kind::Mongo).await;
}
